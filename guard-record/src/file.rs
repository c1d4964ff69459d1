//! The file sink: one file per session under a date-based directory layout.

use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::path::{Path, PathBuf};

use guard_core::Timestamp;

use crate::sink::{Sink, SinkError, recording_path};

/// Writes a recording to `<root>/YYYY/MM/DD/<session>.jsonl` (UTC date of the session start;
/// see [`recording_path`]). The file is created new (an existing recording is never
/// overwritten) and written without user-space buffering: the recorder already batches, so
/// `write` returning means the operating system holds the bytes. `sync` is `fdatasync`.
///
/// # Examples
/// ```
/// use guard_core::Timestamp;
/// let dir = tempfile::tempdir()?;
/// let sink = guard_record::FileSink::create(dir.path(), "s-1", Timestamp::from_unix_secs(0))?;
/// assert!(sink.path().ends_with("1970/01/01/s-1.jsonl"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct FileSink {
    file: File,
    path: PathBuf,
}

impl FileSink {
    /// Creates the session's file (and its directories).
    ///
    /// # Errors
    /// [`SinkError::BadSessionId`] for an unusable id; [`SinkError::Io`] when the directory or
    /// file cannot be created, or the file already exists.
    pub fn create(root: &Path, session: &str, started_at: Timestamp) -> Result<Self, SinkError> {
        let path = root.join(recording_path(session, started_at)?);
        let io = |op, source| SinkError::Io {
            op,
            path: path.display().to_string(),
            source,
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| io("create directory", e))?;
        }
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(|e| io("create", e))?;
        Ok(Self { file, path })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn io(&self, op: &'static str, source: std::io::Error) -> SinkError {
        SinkError::Io {
            op,
            path: self.path.display().to_string(),
            source,
        }
    }
}

impl Sink for FileSink {
    fn write(&mut self, bytes: &[u8]) -> Result<(), SinkError> {
        self.file.write_all(bytes).map_err(|e| self.io("write", e))
    }

    fn sync(&mut self) -> Result<(), SinkError> {
        self.file.sync_data().map_err(|e| self.io("sync", e))
    }

    fn finish(&mut self) -> Result<(), SinkError> {
        self.file.sync_all().map_err(|e| self.io("sync", e))
    }
}
