//! The object-storage sink: a local spool file streamed to an `object_store` by an
//! asynchronous multipart upload.

use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use guard_core::Timestamp;
use object_store::{ObjectStore, WriteMultipart, path::Path as ObjectPath};
use tokio::io::AsyncReadExt as _;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::sink::{Sink, SinkError, recording_path};

/// How an [`ObjectStoreSink`] uploads. Request retries (with exponential backoff) are the
/// store's own: configure them on the store (`object_store::RetryConfig`, for example
/// `AmazonS3Builder::with_retry`).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ObjectStoreConfig {
    /// Size of each multipart part. S3 requires at least 5 MiB for all but the last part.
    /// Default 8 MiB.
    pub part_bytes: usize,
    /// When true (the default, for strict mode), once the upload has failed every further
    /// `write` fails, so a strict recorder ends the session. When false (best-effort), writes
    /// keep going to the local spool, which stays on disk as a complete sealed recording, and
    /// the failure is reported by `finish` and [`UploadHandle::wait`].
    pub fail_fast: bool,
    /// Object key prefix (`recordings/`); the key is the prefix plus
    /// [`recording_path`].
    pub prefix: String,
}

impl Default for ObjectStoreConfig {
    fn default() -> Self {
        Self {
            part_bytes: 8 << 20,
            fail_fast: true,
            prefix: String::new(),
        }
    }
}

impl ObjectStoreConfig {
    /// The defaults: 8 MiB parts, fail fast, no prefix.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the part size (at least 5 MiB for S3).
    pub fn part_bytes(&mut self, bytes: usize) -> &mut Self {
        self.part_bytes = bytes.max(1);
        self
    }

    /// Sets whether writes fail once the upload failed.
    pub fn fail_fast(&mut self, yes: bool) -> &mut Self {
        self.fail_fast = yes;
        self
    }

    /// Sets the key prefix.
    pub fn prefix(&mut self, prefix: impl Into<String>) -> &mut Self {
        self.prefix = prefix.into();
        self
    }
}

/// Where an upload stands.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum UploadStatus {
    /// Running; `uploaded` bytes of the spool were handed to the store.
    Uploading {
        /// Bytes read from the spool and handed to the multipart upload.
        uploaded: u64,
    },
    /// Completed: the object holds exactly the spool's bytes.
    Done {
        /// Object size.
        bytes: u64,
    },
    /// Failed after the store's retries; the spool file keeps the recording.
    Failed {
        /// The store's error.
        message: String,
        /// The local spool file.
        spool: PathBuf,
    },
}

/// A [`Sink`] that spools to a local file and streams it to an object store.
///
/// `write` appends to the spool (the write-ahead point) and wakes the upload task, which
/// reads the spool from where it left off and uploads it part by part (`put_multipart`). At
/// `finish` the task uploads the rest and completes the upload. The spool file is removed
/// only after a completed upload.
///
/// Needs a tokio runtime handle for the upload task. The sink itself never blocks on the
/// network: wait for the result with [`UploadHandle::wait`].
///
/// # Examples
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use std::sync::Arc;
/// use guard_record::{ObjectStoreConfig, ObjectStoreSink};
/// let store = Arc::new(object_store::aws::AmazonS3Builder::new()
///     .with_bucket_name("recordings").with_endpoint("http://127.0.0.1:9000")
///     .with_allow_http(true).with_region("us-east-1")
///     .with_access_key_id("k").with_secret_access_key("s").build()?);
/// let (sink, upload) = ObjectStoreSink::create(store, "/var/spool/guard".as_ref(), "s-1",
///     guard_core::Timestamp::from_unix_secs(0), &ObjectStoreConfig::new(),
///     tokio::runtime::Handle::current())?;
/// // ... SessionRecorder::start(sink, ...), record, finish ...
/// let bytes = upload.wait().await?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct ObjectStoreSink {
    spool: File,
    spool_path: PathBuf,
    key: String,
    written: u64,
    fail_fast: bool,
    progress: watch::Sender<Progress>,
    status: Arc<Mutex<UploadStatus>>,
}

/// Follows an [`ObjectStoreSink`]'s upload after the recorder is gone.
#[derive(Debug)]
pub struct UploadHandle {
    task: JoinHandle<()>,
    status: Arc<Mutex<UploadStatus>>,
    key: String,
}

#[derive(Debug, Clone, Copy, Default)]
struct Progress {
    written: u64,
    finished: bool,
}

impl ObjectStoreSink {
    /// Creates the spool file `<spool_dir>/<recording_path>` and starts the upload task on
    /// `runtime`, to the key `<prefix><recording_path>`.
    ///
    /// # Errors
    /// [`SinkError::BadSessionId`] for an unusable id; [`SinkError::Io`] when the spool file
    /// cannot be created (or exists).
    pub fn create(
        store: Arc<dyn ObjectStore>,
        spool_dir: &Path,
        session: &str,
        started_at: Timestamp,
        config: &ObjectStoreConfig,
        runtime: tokio::runtime::Handle,
    ) -> Result<(Self, UploadHandle), SinkError> {
        let rel = recording_path(session, started_at)?;
        let spool_path = spool_dir.join(&rel);
        let key = format!("{}{rel}", config.prefix);
        let io = |op, source| SinkError::Io {
            op,
            path: spool_path.display().to_string(),
            source,
        };
        if let Some(dir) = spool_path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| io("create directory", e))?;
        }
        let spool = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&spool_path)
            .map_err(|e| io("create", e))?;
        let (progress, rx) = watch::channel(Progress::default());
        let status = Arc::new(Mutex::new(UploadStatus::Uploading { uploaded: 0 }));
        let task = runtime.spawn(upload(
            store,
            ObjectPath::from(key.as_str()),
            spool_path.clone(),
            rx,
            Arc::clone(&status),
            config.part_bytes,
        ));
        let handle = UploadHandle {
            task,
            status: Arc::clone(&status),
            key: key.clone(),
        };
        Ok((
            Self {
                spool,
                spool_path,
                key,
                written: 0,
                fail_fast: config.fail_fast,
                progress,
                status,
            },
            handle,
        ))
    }

    /// The local spool file.
    pub fn spool_path(&self) -> &Path {
        &self.spool_path
    }

    /// The object key.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The upload's current status.
    pub fn status(&self) -> UploadStatus {
        lock(&self.status).clone()
    }

    fn failure(&self) -> Option<SinkError> {
        match &*lock(&self.status) {
            UploadStatus::Failed { message, .. } => Some(SinkError::Upload {
                key: self.key.clone(),
                message: message.clone(),
            }),
            _ => None,
        }
    }
}

impl Sink for ObjectStoreSink {
    fn write(&mut self, bytes: &[u8]) -> Result<(), SinkError> {
        if self.fail_fast
            && let Some(e) = self.failure()
        {
            return Err(e);
        }
        self.spool
            .write_all(bytes)
            .map_err(|source| SinkError::Io {
                op: "write",
                path: self.spool_path.display().to_string(),
                source,
            })?;
        self.written += bytes.len() as u64;
        self.progress.send_replace(Progress {
            written: self.written,
            finished: false,
        });
        Ok(())
    }

    fn sync(&mut self) -> Result<(), SinkError> {
        self.spool.sync_data().map_err(|source| SinkError::Io {
            op: "sync",
            path: self.spool_path.display().to_string(),
            source,
        })?;
        match self.failure() {
            Some(e) if self.fail_fast => Err(e),
            _ => Ok(()),
        }
    }

    /// Syncs the spool and tells the upload task to complete; does not wait for it (see
    /// [`UploadHandle::wait`]). Fails when the upload has already failed.
    fn finish(&mut self) -> Result<(), SinkError> {
        self.spool.sync_all().map_err(|source| SinkError::Io {
            op: "sync",
            path: self.spool_path.display().to_string(),
            source,
        })?;
        self.progress.send_replace(Progress {
            written: self.written,
            finished: true,
        });
        match self.failure() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

impl UploadHandle {
    /// The upload's current status.
    pub fn status(&self) -> UploadStatus {
        lock(&self.status).clone()
    }

    /// Waits for the upload to end. A sink dropped without `finish` aborts the upload.
    ///
    /// # Errors
    /// [`SinkError::Upload`] when the upload failed or was aborted; the spool file then
    /// keeps the recording (its path is in [`UploadStatus::Failed`]).
    pub async fn wait(self) -> Result<u64, SinkError> {
        let joined = self.task.await;
        let status = lock(&self.status).clone();
        match (joined, status) {
            (Ok(()), UploadStatus::Done { bytes }) => Ok(bytes),
            (Ok(()), UploadStatus::Failed { message, spool }) => Err(SinkError::Upload {
                key: self.key,
                message: format!("{message} (recording kept in {})", spool.display()),
            }),
            (Ok(()), UploadStatus::Uploading { .. }) => Err(SinkError::Upload {
                key: self.key,
                message: "upload task ended early".into(),
            }),
            (Err(e), _) => Err(SinkError::Upload {
                key: self.key,
                message: e.to_string(),
            }),
        }
    }
}

fn lock(m: &Mutex<UploadStatus>) -> std::sync::MutexGuard<'_, UploadStatus> {
    // The status is a plain value; a panic elsewhere cannot leave it half-written.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

async fn upload(
    store: Arc<dyn ObjectStore>,
    key: ObjectPath,
    spool: PathBuf,
    mut rx: watch::Receiver<Progress>,
    status: Arc<Mutex<UploadStatus>>,
    part_bytes: usize,
) {
    let result = run_upload(&store, &key, &spool, &mut rx, &status, part_bytes).await;
    let mut s = lock(&status);
    *s = match result {
        Ok(bytes) => {
            let _ = std::fs::remove_file(&spool);
            UploadStatus::Done { bytes }
        }
        Err(message) => UploadStatus::Failed { message, spool },
    };
}

async fn run_upload(
    store: &Arc<dyn ObjectStore>,
    key: &ObjectPath,
    spool: &Path,
    rx: &mut watch::Receiver<Progress>,
    status: &Mutex<UploadStatus>,
    part_bytes: usize,
) -> Result<u64, String> {
    let upload = store.put_multipart(key).await.map_err(|e| e.to_string())?;
    let mut writer = WriteMultipart::new_with_chunk_size(upload, part_bytes);
    let mut file = match tokio::fs::File::open(spool).await {
        Ok(f) => f,
        Err(e) => {
            let _ = writer.abort().await;
            return Err(format!("cannot read spool {}: {e}", spool.display()));
        }
    };
    let mut buf = vec![0u8; 256 << 10];
    let mut offset = 0u64;
    loop {
        let progress = *rx.borrow_and_update();
        while offset < progress.written {
            let want = usize::try_from(progress.written - offset)
                .unwrap_or(usize::MAX)
                .min(buf.len());
            let n = match file.read(&mut buf[..want]).await {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) => {
                    let _ = writer.abort().await;
                    return Err(format!("cannot read spool {}: {e}", spool.display()));
                }
            };
            writer.write(&buf[..n]);
            offset += n as u64;
            // One part in flight at a time: a failed part surfaces here, at once.
            if let Err(e) = writer.wait_for_capacity(1).await {
                let _ = writer.abort().await;
                return Err(e.to_string());
            }
            *lock(status) = UploadStatus::Uploading { uploaded: offset };
        }
        if progress.finished && offset >= progress.written {
            return match writer.finish().await {
                Ok(_) => Ok(offset),
                Err(e) => Err(e.to_string()),
            };
        }
        if rx.changed().await.is_err() {
            let _ = writer.abort().await;
            return Err("recording ended without finish; upload aborted".into());
        }
    }
}
