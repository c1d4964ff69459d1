//! A fixed decoding workload for instruction-count comparisons of the wire decoders:
//! `valgrind --tool=callgrind target/release/examples/profile_decode ROWS`.

use guard_sql::pg::{BackendDecoder, BackendMessage, Decoded, FrontendDecoder, Limits};

fn main() {
    let rows: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(10_000);
    // Backend: DataRows of three columns of mixed widths.
    let mut back = Vec::new();
    for i in 0..rows {
        let vals: [&[u8]; 3] = [b"42", &b"some text value of medium size"[..(i % 30)], b"x"];
        let body_len = 2 + vals.iter().map(|v| 4 + v.len()).sum::<usize>();
        back.push(b'D');
        back.extend_from_slice(&((body_len + 4) as u32).to_be_bytes());
        back.extend_from_slice(&3u16.to_be_bytes());
        for v in vals {
            back.extend_from_slice(&(v.len() as i32).to_be_bytes());
            back.extend_from_slice(v);
        }
    }
    // Frontend: Sync messages after the startup phase is skipped by a StartupMessage.
    let mut front = Vec::new();
    let startup = b"\0\0\0\x17\0\x03\0\0user\0alice\0\0\0";
    front.extend_from_slice(&startup[..]);
    let fix = (front.len() as u32).to_be_bytes();
    front[..4].copy_from_slice(&fix);
    for _ in 0..rows {
        front.extend_from_slice(b"Q\0\0\0\x0dSELECT 1\0");
        front.extend_from_slice(b"S\0\0\0\x04");
    }
    let mut n = 0usize;
    let mut dec = BackendDecoder::new(Limits::default());
    let mut rest = &back[..];
    while let Ok(Decoded::Message { len, msg }) = dec.decode(rest) {
        if let BackendMessage::DataRow(d) = msg {
            n += d.values.iter().count();
        }
        rest = &rest[len..];
    }
    let mut dec = FrontendDecoder::new(Limits::default());
    let mut rest = &front[..];
    while let Ok(Decoded::Message { len, .. }) = dec.decode(rest) {
        n += 1;
        rest = &rest[len..];
    }
    println!("{n}");
}
