//! Where encoded lines go: the [`Sink`] trait and the in-memory sink.

use std::sync::{Arc, Mutex, PoisonError};

use guard_core::Timestamp;

/// A destination for a recording's bytes. Sinks do the IO; the recorder hands them whole
/// lines in batches.
///
/// `write` returning `Ok` means the sink's local spool accepted the bytes (for a file: the
/// operating system has them); that is the write-ahead point of strict mode. `sync` makes
/// them durable; it is called only when the caller asks (`Recorder::sync`) and at the end.
pub trait Sink: Send {
    /// Appends `bytes` (one or more complete lines).
    ///
    /// # Errors
    /// When the bytes could not be accepted; the recorder stops writing to this sink.
    fn write(&mut self, bytes: &[u8]) -> Result<(), SinkError>;

    /// Makes everything written so far durable. The default does nothing.
    ///
    /// # Errors
    /// When durability could not be reached (fsync failed, upload failed).
    fn sync(&mut self) -> Result<(), SinkError> {
        Ok(())
    }

    /// Called once, after the seal line was written. The default calls [`sync`](Sink::sync).
    ///
    /// # Errors
    /// As for `sync`; for an object store, when the upload could not be completed.
    fn finish(&mut self) -> Result<(), SinkError> {
        self.sync()
    }
}

impl<S: Sink + ?Sized> Sink for Box<S> {
    fn write(&mut self, bytes: &[u8]) -> Result<(), SinkError> {
        (**self).write(bytes)
    }
    fn sync(&mut self) -> Result<(), SinkError> {
        (**self).sync()
    }
    fn finish(&mut self) -> Result<(), SinkError> {
        (**self).finish()
    }
}

/// A sink failed. Always the gateway's (internal) fault, never the client's: the session
/// ends with SQLSTATE 58030 (`io_error`) or HTTP 503 in strict mode.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SinkError {
    /// A local file operation failed.
    #[error("recording {op} of {path} failed")]
    Io {
        /// What was attempted (`create`, `write`, `sync`, `read`).
        op: &'static str,
        /// The file.
        path: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The object store refused or could not be reached (after retries).
    #[error("recording upload of {key} failed: {message}")]
    Upload {
        /// The object key.
        key: String,
        /// The store's error.
        message: String,
    },
    /// The sink was told to fail (memory sink test switch).
    #[error("memory sink refused a write: its limit of {limit} bytes was reached")]
    Refused {
        /// The configured limit.
        limit: usize,
    },
    /// A session id that cannot be used as a file or object name.
    #[error(
        "session id {session:?} is not 1-128 characters of [A-Za-z0-9._-] (not starting with '.')"
    )]
    BadSessionId {
        /// The id as given.
        session: String,
    },
}

impl SinkError {
    /// SQLSTATE a PostgreSQL gateway sends when it ends a session because of this error.
    pub fn sqlstate(&self) -> &'static str {
        "58030"
    }

    /// HTTP status an HTTP gateway answers with.
    pub fn http_status(&self) -> u16 {
        503
    }
}

/// An in-memory sink for tests and for callers that ship bytes themselves. Clones share one
/// buffer, so a test can keep a clone and read what the recorder wrote.
#[derive(Debug, Clone, Default)]
pub struct MemorySink {
    inner: Arc<Mutex<MemoryInner>>,
}

#[derive(Debug, Default)]
struct MemoryInner {
    bytes: Vec<u8>,
    fail_after: Option<usize>,
    syncs: u64,
    finished: bool,
}

impl MemorySink {
    /// An empty sink.
    pub fn new() -> Self {
        Self::default()
    }

    /// Makes every write fail once the buffer would exceed `limit` bytes (to exercise failure
    /// handling). The failing write stores nothing.
    pub fn fail_after(&self, limit: usize) -> &Self {
        self.lock().fail_after = Some(limit);
        self
    }

    /// A copy of everything written so far.
    pub fn contents(&self) -> Vec<u8> {
        self.lock().bytes.clone()
    }

    /// How many times `sync` (or `finish`) was called.
    pub fn syncs(&self) -> u64 {
        self.lock().syncs
    }

    /// Whether `finish` was called.
    pub fn is_finished(&self) -> bool {
        self.lock().finished
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, MemoryInner> {
        // A panic while holding the lock leaves plain bytes behind, still usable.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Sink for MemorySink {
    fn write(&mut self, bytes: &[u8]) -> Result<(), SinkError> {
        let mut inner = self.lock();
        if let Some(limit) = inner.fail_after
            && inner.bytes.len() + bytes.len() > limit
        {
            return Err(SinkError::Refused { limit });
        }
        inner.bytes.extend_from_slice(bytes);
        Ok(())
    }

    fn sync(&mut self) -> Result<(), SinkError> {
        self.lock().syncs += 1;
        Ok(())
    }

    fn finish(&mut self) -> Result<(), SinkError> {
        let mut inner = self.lock();
        inner.syncs += 1;
        inner.finished = true;
        Ok(())
    }
}

/// Checks that a session id is usable as a file and object name.
pub(crate) fn check_session_id(session: &str) -> Result<(), SinkError> {
    let ok = !session.is_empty()
        && session.len() <= 128
        && !session.starts_with('.')
        && session
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(SinkError::BadSessionId {
            session: session.to_owned(),
        })
    }
}

/// The relative path of a session's recording: `YYYY/MM/DD/<session>.jsonl` (UTC date of the
/// session's start). File and object-store sinks share it.
///
/// # Errors
/// [`SinkError::BadSessionId`] when `session` is not 1-128 characters of `[A-Za-z0-9._-]`
/// or starts with a dot.
///
/// # Examples
/// ```
/// use guard_core::Timestamp;
/// let p = guard_record::recording_path("s-1", Timestamp::from_unix_secs(1_764_115_200)).unwrap();
/// assert_eq!(p, "2025/11/26/s-1.jsonl");
/// ```
pub fn recording_path(session: &str, started_at: Timestamp) -> Result<String, SinkError> {
    check_session_id(session)?;
    let days = started_at.as_unix_secs().div_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    Ok(format!("{y:04}/{m:02}/{d:02}/{session}.jsonl"))
}

/// Howard Hinnant's `civil_from_days`: days since 1970-01-01 to (year, month, day).
pub(crate) fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(civil_from_days(20_418), (2025, 11, 26));
        assert_eq!(
            recording_path("a", Timestamp::from_unix_micros(951_782_400_000_000 - 1)).unwrap(),
            "2000/02/28/a.jsonl"
        );
    }

    #[test]
    fn session_ids() {
        for ok in ["a", "s-1.2_3", &"x".repeat(128)] {
            check_session_id(ok).unwrap();
        }
        for bad in ["", ".hidden", "a/b", "..", "a b", &"x".repeat(129), "é"] {
            assert!(check_session_id(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn memory_sink_shares_and_fails_on_request() {
        let mut s = MemorySink::new();
        let view = s.clone();
        s.write(b"abc").unwrap();
        view.fail_after(4);
        assert!(matches!(
            s.write(b"de"),
            Err(SinkError::Refused { limit: 4 })
        ));
        s.write(b"d").unwrap();
        assert_eq!(view.contents(), b"abcd");
        s.finish().unwrap();
        assert!(view.is_finished());
    }
}
