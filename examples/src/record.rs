//! Recording sessions through guard-record (file sink, hash-chained JSONL), and credential
//! redaction for logs.
//!
//! What is recorded, per session: the start (identity, resource, client address); every
//! statement's text after credential redaction, before it is forwarded (write-ahead in strict
//! mode); every decision; approvals; result tags and rows exactly as the client received them
//! (so already masked; at most [`MAX_RECORDED_ROWS`] rows per result, the total is in the
//! result event); errors; the end with its reason and counters. PasswordMessage and SASL
//! exchanges are never recorded: the recorder only sees what the relay hands it after login.

use std::sync::Mutex;
use std::time::Instant;

use guard_core::{Identity, Resource};
use guard_record::{
    Event, FileSink, Mode, Protocol, Recorder, RecorderConfig, SessionEnd, SessionRecorder,
    SessionStart,
};

use crate::gateway::{Shared, lock, now_ts};

/// Rows recorded per result set; the rest are counted, not stored.
pub(crate) const MAX_RECORDED_ROWS: usize = 1000;

/// Bytes of `COPY` data recorded per COPY (each direction); the rest are counted, not stored.
pub(crate) const MAX_RECORDED_COPY_BYTES: usize = 1 << 20;

/// One session's recording (or none when recording is off).
pub(crate) struct Rec {
    inner: Option<Mutex<SessionRecorder<FileSink>>>,
    started: Instant,
    strict: bool,
}

/// Recording failed in strict mode: the session must end.
#[derive(Debug, thiserror::Error)]
#[error("guard: the session recording failed, so the session ends: {0}")]
pub(crate) struct RecordFailed(pub(crate) String);

impl Rec {
    /// Starts recording a session (a no-op recorder when recording is not configured).
    pub(crate) fn start(
        shared: &Shared,
        session_id: u64,
        identity: &Identity,
        resource: &Resource,
        peer: &str,
    ) -> Result<Rec, RecordFailed> {
        let Some(cfg) = &shared.config.recording else {
            return Ok(Rec {
                inner: None,
                started: Instant::now(),
                strict: false,
            });
        };
        let dir = shared.config.path(&cfg.dir);
        let now = now_ts();
        let session = format!("{}-{session_id}", shared.instance);
        let sink =
            FileSink::create(&dir, &session, now).map_err(|e| RecordFailed(e.to_string()))?;
        let mut rc = RecorderConfig::new();
        rc.mode(if cfg.strict {
            Mode::Strict
        } else {
            Mode::BestEffort
        });
        // Batch output events; inputs are written ahead regardless in strict mode.
        rc.batch_bytes(64 * 1024);
        let start = SessionStart::new(
            session,
            now,
            identity.clone(),
            resource.clone(),
            Protocol::Postgres,
            format!("guard-gateway {}", env!("CARGO_PKG_VERSION")),
        )
        .with_client_addr(peer);
        let rec =
            SessionRecorder::start(sink, &rc, start).map_err(|e| RecordFailed(e.to_string()))?;
        Ok(Rec {
            inner: Some(Mutex::new(rec)),
            started: Instant::now(),
            strict: cfg.strict,
        })
    }

    /// Whether anything is recorded.
    pub(crate) fn enabled(&self) -> bool {
        self.inner.is_some()
    }

    fn t_us(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_micros()).unwrap_or(u64::MAX)
    }

    /// Records one event. `Err` only in strict mode.
    pub(crate) fn event(&self, event: &Event) -> Result<(), RecordFailed> {
        let Some(inner) = &self.inner else {
            return Ok(());
        };
        let t = self.t_us();
        let r = lock(inner).record(t, event);
        match r {
            Ok(()) => Ok(()),
            Err(e) if self.strict => Err(RecordFailed(e.to_string())),
            Err(e) => {
                tracing::warn!(error = %e, "recording event failed (best effort)");
                Ok(())
            }
        }
    }

    /// Writes the end and the seal.
    pub(crate) fn finish(&self, end: SessionEnd) {
        let Some(inner) = &self.inner else { return };
        let t = self.t_us();
        let mut r = lock(inner);
        if let Err(e) = r.record(t, &Event::SessionEnd(end)) {
            tracing::error!(error = %e, "recording the session end failed");
        }
        if let Err(e) = r.finish(t) {
            tracing::error!(error = %e, "sealing the recording failed");
        }
    }
}
