//! Backend decoder on arbitrary bytes: never panics, never claims more than it was given,
//! re-encoding a decoded message gives exactly the bytes it consumed, and splitting the input
//! anywhere yields the same messages.
#![no_main]

use guard_sql::pg::{BackendDecoder, Decoded, Limits};
use libfuzzer_sys::{Corpus, fuzz_target};

fuzz_target!(|data: &[u8]| -> Corpus {
    if data.len() < 2 || data.len() > 64 * 1024 {
        return Corpus::Reject;
    }
    // First byte: initial state; second: where to split the rest.
    let (cfg, split, data) = (data[0], data[1] as usize, &data[2..]);
    let make = || {
        let mut dec = BackendDecoder::new(Limits::default());
        match cfg % 3 {
            0 => {}
            1 => {
                dec.expect_ssl_response();
            }
            _ => {
                dec.expect_gssenc_response();
            }
        }
        dec
    };
    let whole = run(make(), data, data.len());
    let split = run(make(), data, split.min(data.len()));
    assert_eq!(whole, split, "splitting the input changed the messages");
    Corpus::Keep
});

/// Decodes as a proxy would: the buffer first holds `data[..at]`, then everything. Returns the
/// byte lengths of the decoded messages and whether decoding ended in an error.
fn run(mut dec: BackendDecoder, data: &[u8], at: usize) -> (Vec<usize>, bool) {
    let mut buf = data[..at].to_vec();
    let mut fed = at;
    let mut lens = Vec::new();
    loop {
        match dec.decode(&buf) {
            Ok(Decoded::Message { len, msg }) => {
                assert!(len > 0 && len <= buf.len());
                let mut re = Vec::new();
                msg.encode(&mut re);
                assert_eq!(re, &buf[..len], "re-encoding {msg:?}");
                lens.push(len);
                buf.drain(..len);
            }
            Ok(Decoded::NeedMore { at_least }) => {
                assert!(at_least > buf.len());
                if fed == data.len() {
                    return (lens, false);
                }
                buf.extend_from_slice(&data[fed..]);
                fed = data.len();
            }
            Err(e) => {
                let _ = (e.to_string(), e.sqlstate(), e.fault());
                // Errors are decided from bytes present in a prefix too (a header, or a whole
                // message), so the split run must fail at the same message.
                return (lens, true);
            }
        }
    }
}
