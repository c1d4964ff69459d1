//! Verification: is a recording intact, complete and (optionally) signed by a trusted key?

use std::io::{BufRead, BufReader, Read};

use ed25519_dalek::{Signature, VerifyingKey};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::chain::{MAX_LINE_BYTES, SEAL_TYPE, SealLine, from_hex, genesis, to_hex};

/// What an intact, sealed recording says about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Summary {
    /// The session id (from `session_start`, equal to the seal's).
    pub session: String,
    /// Event lines before the seal.
    pub events: u64,
    /// Bytes before the seal line.
    pub bytes: u64,
    /// Events the recorder could not write (best-effort failures, size cap).
    pub dropped: u64,
    /// Whether the size cap was reached.
    pub capped: bool,
    /// The seal's offset: the session's length in microseconds.
    pub duration_us: u64,
    /// The chain head (SHA-256 of the last event line), hex.
    pub head: String,
    /// What is known about the seal's signature.
    pub signature: SignatureStatus,
}

/// The seal's signature, as far as the verifier could check it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SignatureStatus {
    /// The seal is not signed (no trusted key was given).
    Unsigned,
    /// Signed, and the signature is valid for the key named in the seal; no trusted key was
    /// given, so this proves integrity but not origin.
    ValidUntrusted {
        /// The key named in the seal.
        key: [u8; 32],
    },
    /// Signed by the trusted key the caller gave.
    Trusted,
}

/// Why a recording failed verification. Every variant names the 1-based line where the
/// problem was found. These are facts about the file (its writer's or a tamperer's fault);
/// [`VerifyError::Io`] is the reader's.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// Reading failed.
    #[error("line {line}: read failed")]
    Io {
        /// The line being read.
        line: u64,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The file ends before a seal: the recording is incomplete (the session is still
    /// running, the writer crashed, or lines were cut off).
    #[error("line {line}: recording is truncated: {lines} lines and no seal")]
    Truncated {
        /// Where the seal was expected.
        line: u64,
        /// Complete lines read.
        lines: u64,
    },
    /// The last line has no terminating newline: cut off mid-line.
    #[error("line {line}: recording is truncated mid-line (no newline at end of file)")]
    PartialLine {
        /// The incomplete line.
        line: u64,
    },
    /// A line longer than [`MAX_LINE_BYTES`](crate::MAX_LINE_BYTES).
    #[error("line {line}: longer than {limit} bytes")]
    LineTooLong {
        /// The line.
        line: u64,
        /// The limit.
        limit: usize,
    },
    /// Not a line of this format.
    #[error("line {line}: malformed: {reason}")]
    Malformed {
        /// The line.
        line: u64,
        /// What is wrong.
        reason: String,
    },
    /// `prev` is not the hash of the line before: that line or this one was changed, or lines
    /// were removed, inserted or moved here.
    #[error(
        "line {line}: hash chain broken: prev is {found}, the previous line hashes to \
         {expected} (line {line} or the one before was changed, or lines were removed, \
         inserted or reordered)"
    )]
    ChainBroken {
        /// The line whose `prev` does not match.
        line: u64,
        /// The hash `prev` should hold.
        expected: String,
        /// The hash it holds.
        found: String,
    },
    /// The sequence number is not the line's position.
    #[error("line {line}: sequence number {found}, expected {expected}")]
    Sequence {
        /// The line.
        line: u64,
        /// Its position minus one.
        expected: u64,
        /// What the line says.
        found: u64,
    },
    /// An offset smaller than the previous line's.
    #[error("line {line}: time offset {t} is before the previous line's {previous}")]
    TimeWentBack {
        /// The line.
        line: u64,
        /// Its offset.
        t: u64,
        /// The previous line's offset.
        previous: u64,
    },
    /// The seal does not match the chain or itself (replaced or edited seal).
    #[error("line {line}: seal does not match the recording: {reason}")]
    BadSeal {
        /// The seal line.
        line: u64,
        /// What does not match.
        reason: String,
    },
    /// Bytes after the seal.
    #[error("line {line}: data after the seal")]
    DataAfterSeal {
        /// The first line after the seal.
        line: u64,
    },
    /// A trusted key was given but the seal is not signed.
    #[error("line {line}: seal is not signed, but a key was given")]
    Unsigned {
        /// The seal line.
        line: u64,
    },
    /// The seal is signed by a different key than the trusted one.
    #[error("line {line}: seal is signed by key {found}, not by the trusted key")]
    WrongKey {
        /// The seal line.
        line: u64,
        /// The seal's key, hex.
        found: String,
    },
    /// The signature does not verify.
    #[error("line {line}: seal signature is invalid")]
    BadSignature {
        /// The seal line.
        line: u64,
    },
}

impl VerifyError {
    /// The 1-based line where the problem was found.
    pub fn line(&self) -> u64 {
        match self {
            VerifyError::Io { line, .. }
            | VerifyError::Truncated { line, .. }
            | VerifyError::PartialLine { line }
            | VerifyError::LineTooLong { line, .. }
            | VerifyError::Malformed { line, .. }
            | VerifyError::ChainBroken { line, .. }
            | VerifyError::Sequence { line, .. }
            | VerifyError::TimeWentBack { line, .. }
            | VerifyError::BadSeal { line, .. }
            | VerifyError::DataAfterSeal { line }
            | VerifyError::Unsigned { line }
            | VerifyError::WrongKey { line, .. }
            | VerifyError::BadSignature { line } => *line,
        }
    }

    /// Whether the recording is merely incomplete (no seal), as opposed to altered.
    pub fn is_truncation(&self) -> bool {
        matches!(
            self,
            VerifyError::Truncated { .. } | VerifyError::PartialLine { .. }
        )
    }

    /// Exit status `guard-gateway verify` uses: 3 for a truncation, 2 for a read error,
    /// 1 for everything else (altered, malformed, signature).
    pub fn exit_code(&self) -> i32 {
        match self {
            VerifyError::Io { .. } => 2,
            e if e.is_truncation() => 3,
            _ => 1,
        }
    }
}

/// Verifies a recording read from `reader`, streaming (memory stays bounded by the longest
/// line). With `key`, the seal must be signed by that key.
///
/// # Errors
/// The first problem found, naming its line: see [`VerifyError`].
///
/// # Examples
/// ```
/// let file = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/example.jsonl"))?;
/// let summary = guard_record::verify(&file[..], None)?;
/// assert_eq!(summary.session, "2f6c9a1e-example");
/// let mut bad = file.clone();
/// bad[200] ^= 1;
/// assert!(guard_record::verify(&bad[..], None).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn verify<R: Read>(reader: R, key: Option<&VerifyingKey>) -> Result<Summary, VerifyError> {
    let mut reader = BufReader::with_capacity(256 << 10, reader);
    let mut line_buf = Vec::new();
    let mut prev = genesis();
    let mut last_t = 0u64;
    let mut bytes = 0u64;
    let mut lineno = 0u64;
    let mut session: Option<String> = None;
    let mut sealed: Option<Summary> = None;
    loop {
        lineno += 1;
        let read = read_line(&mut reader, &mut line_buf, MAX_LINE_BYTES).map_err(|source| {
            VerifyError::Io {
                line: lineno,
                source,
            }
        })?;
        let complete = match read {
            LineRead::Eof => break,
            LineRead::TooLong => {
                return Err(VerifyError::LineTooLong {
                    line: lineno,
                    limit: MAX_LINE_BYTES,
                });
            }
            LineRead::Line { complete } => complete,
        };
        if sealed.is_some() {
            return Err(VerifyError::DataAfterSeal { line: lineno });
        }
        if !complete {
            return Err(VerifyError::PartialLine { line: lineno });
        }
        let line = &line_buf[..line_buf.len() - 1];
        let header: Header<'_> =
            serde_json::from_slice(line).map_err(|e| VerifyError::Malformed {
                line: lineno,
                reason: e.to_string(),
            })?;
        let expected_prev = to_hex(&prev);
        if header.prev != expected_prev {
            return Err(VerifyError::ChainBroken {
                line: lineno,
                expected: expected_prev,
                found: header.prev.to_owned(),
            });
        }
        if header.seq != lineno - 1 {
            return Err(VerifyError::Sequence {
                line: lineno,
                expected: lineno - 1,
                found: header.seq,
            });
        }
        if header.t < last_t {
            return Err(VerifyError::TimeWentBack {
                line: lineno,
                t: header.t,
                previous: last_t,
            });
        }
        last_t = header.t;
        if lineno == 1 {
            if header.ty != "session_start" {
                return Err(VerifyError::Malformed {
                    line: 1,
                    reason: format!("first line is {:?}, expected session_start", header.ty),
                });
            }
            session = Some(header.session.ok_or_else(|| VerifyError::Malformed {
                line: 1,
                reason: "session_start has no session id".into(),
            })?);
        } else if header.ty == "session_start" {
            return Err(VerifyError::Malformed {
                line: lineno,
                reason: "a second session_start".into(),
            });
        }
        if header.ty == SEAL_TYPE {
            let summary = check_seal(line, lineno, bytes, session.as_deref().unwrap_or(""), key)?;
            sealed = Some(summary);
        }
        prev = Sha256::digest(line).into();
        bytes += line_buf.len() as u64;
    }
    match sealed {
        Some(summary) => Ok(summary),
        None => Err(VerifyError::Truncated {
            line: lineno,
            lines: lineno - 1,
        }),
    }
}

/// The envelope every line has.
#[derive(Deserialize)]
struct Header<'a> {
    seq: u64,
    #[serde(borrow)]
    prev: &'a str,
    t: u64,
    #[serde(rename = "type", borrow)]
    ty: &'a str,
    #[serde(default)]
    session: Option<String>,
}

fn check_seal(
    line: &[u8],
    lineno: u64,
    bytes_before: u64,
    session: &str,
    trusted: Option<&VerifyingKey>,
) -> Result<Summary, VerifyError> {
    let bad = |reason: String| VerifyError::BadSeal {
        line: lineno,
        reason,
    };
    let seal: SealLine = serde_json::from_slice(line).map_err(|e| bad(e.to_string()))?;
    // The digest member is the last but for the signature; strings cannot contain an
    // unescaped `"`, so this is the structural occurrence.
    let marker = b",\"digest\":\"";
    let pos = line
        .windows(marker.len())
        .rposition(|w| w == marker)
        .ok_or_else(|| bad("no digest".into()))?;
    let body = &line[..pos];
    let mut suffix = format!(",\"digest\":\"{}\"", seal.digest);
    if let Some(sig) = &seal.sig {
        suffix.push_str(&format!(",\"sig\":\"{sig}\""));
    }
    suffix.push('}');
    if &line[pos..] != suffix.as_bytes() {
        return Err(bad(
            "digest and sig must be the last members, in that order".into(),
        ));
    }
    if from_hex::<32>(&seal.digest) != Some(Sha256::digest(body).into()) {
        return Err(bad("digest does not match the seal's contents".into()));
    }
    if seal.head != seal.prev {
        return Err(bad(format!(
            "head {} is not the chain head {}",
            seal.head, seal.prev
        )));
    }
    if seal.events != seal.seq {
        return Err(bad(format!(
            "says {} events, the chain has {}",
            seal.events, seal.seq
        )));
    }
    if seal.bytes != bytes_before {
        return Err(bad(format!(
            "says {} bytes, the chain has {bytes_before}",
            seal.bytes
        )));
    }
    if seal.session != session {
        return Err(bad(format!(
            "session {:?} is not this recording's {session:?}",
            seal.session
        )));
    }
    let signature = match (&seal.key, &seal.sig) {
        (None, None) => SignatureStatus::Unsigned,
        (Some(k), Some(s)) => {
            let key_bytes =
                from_hex::<32>(k).ok_or_else(|| bad("key is not 64 hex digits".into()))?;
            let vk = VerifyingKey::from_bytes(&key_bytes)
                .map_err(|_| bad("key is not a valid Ed25519 public key".into()))?;
            let sig = from_hex::<64>(s).ok_or_else(|| bad("sig is not 128 hex digits".into()))?;
            vk.verify_strict(body, &Signature::from_bytes(&sig))
                .map_err(|_| VerifyError::BadSignature { line: lineno })?;
            SignatureStatus::ValidUntrusted { key: key_bytes }
        }
        (Some(_), None) => return Err(bad("key without sig".into())),
        (None, Some(_)) => return Err(bad("sig without key".into())),
    };
    let signature = match (trusted, signature) {
        (None, s) => s,
        (Some(_), SignatureStatus::Unsigned) => return Err(VerifyError::Unsigned { line: lineno }),
        (Some(t), SignatureStatus::ValidUntrusted { key }) if t.as_bytes() == &key => {
            SignatureStatus::Trusted
        }
        (Some(_), SignatureStatus::ValidUntrusted { key }) => {
            return Err(VerifyError::WrongKey {
                line: lineno,
                found: to_hex(&key),
            });
        }
        (Some(_), SignatureStatus::Trusted) => SignatureStatus::Trusted,
    };
    Ok(Summary {
        session: seal.session,
        events: seal.events,
        bytes: seal.bytes,
        dropped: seal.dropped,
        capped: seal.capped,
        duration_us: seal.t,
        head: seal.head,
        signature,
    })
}

pub(crate) enum LineRead {
    Eof,
    TooLong,
    Line { complete: bool },
}

/// Reads one line (with its `\n`, if any) into `buf`, refusing lines over `limit` bytes
/// before buffering them.
pub(crate) fn read_line<R: BufRead>(
    reader: &mut R,
    buf: &mut Vec<u8>,
    limit: usize,
) -> std::io::Result<LineRead> {
    buf.clear();
    loop {
        let available = match reader.fill_buf() {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if available.is_empty() {
            return Ok(if buf.is_empty() {
                LineRead::Eof
            } else {
                LineRead::Line { complete: false }
            });
        }
        let (take, done) = match memchr::memchr(b'\n', available) {
            Some(i) => (i + 1, true),
            None => (available.len(), false),
        };
        if buf.len() + take > limit + 1 {
            return Ok(LineRead::TooLong);
        }
        buf.extend_from_slice(&available[..take]);
        reader.consume(take);
        if done {
            return Ok(LineRead::Line { complete: true });
        }
    }
}
