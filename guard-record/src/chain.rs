//! The hash-chained line format: envelope, genesis constant, seal.
//!
//! A line is `{"seq":N,"prev":"<hex>","t":T,"type":...}` followed by `\n`. `prev` is the
//! SHA-256 of the previous line's exact bytes without its `\n`; the first line's `prev` is
//! [`GENESIS_HEX`]. The seal line closes the chain; see `FORMAT.md`.

use ed25519_dalek::{Signer, SigningKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::event::Event;

/// The string whose SHA-256 the first line links to: `guard-record v1`.
pub const GENESIS_INPUT: &str = "guard-record v1";

/// SHA-256 of [`GENESIS_INPUT`], lowercase hex: the `prev` of every recording's first line.
pub const GENESIS_HEX: &str = "8ef69177c3d1a525621f57a57d1ea64b93851dc50f4bc930b96ac884c5928954";

/// The longest line the writer produces and the verifier accepts (16 MiB). Large results are
/// recorded as several `output` events or as a summary.
pub const MAX_LINE_BYTES: usize = 16 << 20;

/// The `type` of the seal line.
pub(crate) const SEAL_TYPE: &str = "seal";

/// Encodes lines and keeps the chain head. Pure: no IO, no clock.
#[derive(Debug, Clone)]
pub(crate) struct ChainEncoder {
    /// Sequence number of the next line.
    pub(crate) seq: u64,
    /// SHA-256 of the last line written (or the genesis hash).
    pub(crate) head: [u8; 32],
    /// Largest `t` written so far (offsets never go backwards).
    pub(crate) last_t: u64,
    /// Bytes encoded so far, newlines included.
    pub(crate) bytes: u64,
    scratch: Vec<u8>,
}

impl ChainEncoder {
    pub(crate) fn new() -> Self {
        Self {
            seq: 0,
            head: genesis(),
            last_t: 0,
            bytes: 0,
            scratch: Vec::with_capacity(256),
        }
    }

    /// Encodes `event` at offset `t` (clamped to be monotonic) into a line appended to `out`.
    /// Does not advance the chain; call [`commit`](Self::commit) with the result when the line
    /// is kept.
    pub(crate) fn encode(
        &mut self,
        t: u64,
        event: &Event,
        out: &mut Vec<u8>,
    ) -> Result<PendingLine, serde_json::Error> {
        let t = t.max(self.last_t);
        self.scratch.clear();
        serde_json::to_writer(&mut self.scratch, event)?;
        let start = out.len();
        out.extend_from_slice(b"{\"seq\":");
        push_u64(out, self.seq);
        out.extend_from_slice(b",\"prev\":\"");
        push_hex(out, &self.head);
        out.extend_from_slice(b"\",\"t\":");
        push_u64(out, t);
        out.push(b',');
        // serde_json writes an internally tagged enum as `{"type":...}`: drop its `{`.
        out.extend_from_slice(self.scratch.get(1..).unwrap_or_default());
        let hash: [u8; 32] = Sha256::digest(&out[start..]).into();
        out.push(b'\n');
        Ok(PendingLine {
            len: out.len() - start,
            hash,
            t,
        })
    }

    /// Advances the chain past a line produced by [`encode`](Self::encode).
    pub(crate) fn commit(&mut self, line: PendingLine) {
        self.seq += 1;
        self.head = line.hash;
        self.last_t = line.t;
        self.bytes += line.len as u64;
    }

    /// Appends the seal line to `out`.
    pub(crate) fn seal(
        &self,
        t: u64,
        fields: &SealFields,
        key: Option<&SigningKey>,
        out: &mut Vec<u8>,
    ) {
        let t = t.max(self.last_t);
        let start = out.len();
        out.extend_from_slice(b"{\"seq\":");
        push_u64(out, self.seq);
        out.extend_from_slice(b",\"prev\":\"");
        push_hex(out, &self.head);
        out.extend_from_slice(b"\",\"t\":");
        push_u64(out, t);
        out.extend_from_slice(b",\"type\":\"seal\",\"session\":");
        // A string always serializes.
        out.extend_from_slice(
            serde_json::to_string(&fields.session)
                .unwrap_or_else(|_| "\"\"".into())
                .as_bytes(),
        );
        out.extend_from_slice(b",\"head\":\"");
        push_hex(out, &self.head);
        out.extend_from_slice(b"\",\"events\":");
        push_u64(out, self.seq);
        out.extend_from_slice(b",\"bytes\":");
        push_u64(out, self.bytes);
        out.extend_from_slice(b",\"dropped\":");
        push_u64(out, fields.dropped);
        out.extend_from_slice(b",\"capped\":");
        out.extend_from_slice(if fields.capped { b"true" } else { b"false" });
        if let Some(key) = key {
            out.extend_from_slice(b",\"key\":\"");
            push_hex(out, key.verifying_key().as_bytes());
            out.push(b'"');
        }
        let body_end = out.len();
        let digest: [u8; 32] = Sha256::digest(&out[start..body_end]).into();
        let sig = key.map(|k| k.sign(&out[start..body_end]).to_bytes());
        out.extend_from_slice(b",\"digest\":\"");
        push_hex(out, &digest);
        out.push(b'"');
        if let Some(sig) = sig {
            out.extend_from_slice(b",\"sig\":\"");
            push_hex(out, &sig);
            out.push(b'"');
        }
        out.extend_from_slice(b"}\n");
    }
}

/// A line encoded but not yet committed to the chain.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PendingLine {
    pub(crate) len: usize,
    pub(crate) hash: [u8; 32],
    pub(crate) t: u64,
}

/// What the recorder knows at seal time besides the chain.
#[derive(Debug, Clone, Default)]
pub(crate) struct SealFields {
    pub(crate) session: String,
    pub(crate) dropped: u64,
    pub(crate) capped: bool,
}

/// The seal line as parsed by the verifier.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct SealLine {
    pub(crate) seq: u64,
    pub(crate) prev: String,
    pub(crate) t: u64,
    pub(crate) session: String,
    pub(crate) head: String,
    pub(crate) events: u64,
    pub(crate) bytes: u64,
    pub(crate) dropped: u64,
    pub(crate) capped: bool,
    #[serde(default)]
    pub(crate) key: Option<String>,
    pub(crate) digest: String,
    #[serde(default)]
    pub(crate) sig: Option<String>,
}

pub(crate) fn genesis() -> [u8; 32] {
    Sha256::digest(GENESIS_INPUT.as_bytes()).into()
}

const HEX: &[u8; 16] = b"0123456789abcdef";

pub(crate) fn push_hex(out: &mut Vec<u8>, bytes: &[u8]) {
    for b in bytes {
        out.push(HEX[usize::from(b >> 4)]);
        out.push(HEX[usize::from(b & 0xf)]);
    }
}

pub(crate) fn to_hex(bytes: &[u8]) -> String {
    let mut v = Vec::with_capacity(bytes.len() * 2);
    push_hex(&mut v, bytes);
    // Only ASCII hex digits were pushed.
    String::from_utf8(v).unwrap_or_default()
}

/// Decodes lowercase hex into exactly `N` bytes; uppercase is refused so that every value has
/// one spelling.
pub(crate) fn from_hex<const N: usize>(s: &str) -> Option<[u8; N]> {
    let b = s.as_bytes();
    if b.len() != N * 2 {
        return None;
    }
    let mut out = [0u8; N];
    for (i, pair) in b.chunks_exact(2).enumerate() {
        out[i] = (nibble(pair[0])? << 4) | nibble(pair[1])?;
    }
    Some(out)
}

fn nibble(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    }
}

fn push_u64(out: &mut Vec<u8>, mut v: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    out.extend_from_slice(&buf[i..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn genesis_constant_is_the_hash_of_its_input() {
        assert_eq!(to_hex(&genesis()), GENESIS_HEX);
    }

    #[test]
    fn hex_round_trip_and_strictness() {
        let b = [0u8, 1, 0xab, 0xff];
        assert_eq!(to_hex(&b), "0001abff");
        assert_eq!(from_hex::<4>("0001abff"), Some(b));
        assert_eq!(from_hex::<4>("0001ABFF"), None);
        assert_eq!(from_hex::<4>("0001abf"), None);
        let mut v = Vec::new();
        push_u64(&mut v, 0);
        push_u64(&mut v, u64::MAX);
        assert_eq!(v, b"018446744073709551615");
    }
}
