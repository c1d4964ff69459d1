//! The [`Recorder`] trait and [`SessionRecorder`], the hash-chaining recorder over a [`Sink`].

use std::fmt;

use ed25519_dalek::SigningKey;

use crate::chain::{ChainEncoder, MAX_LINE_BYTES, SealFields};
use crate::event::{Event, SessionStart, SizeCap};
use crate::sink::{Sink, SinkError, check_session_id};

/// Receives a session's events. Implement [`record`](Recorder::record); the other methods
/// have safe defaults.
///
/// Times are offsets in microseconds from the session's wall-clock start
/// ([`SessionStart::started_at`]), taken by the caller from a monotonic clock: the recorder
/// never reads a clock.
pub trait Recorder: Send {
    /// Records one event at offset `t_us`.
    ///
    /// # Errors
    /// In strict mode, any failure to record: the caller ends the session. A best-effort
    /// recorder counts failures and returns `Ok`.
    fn record(&mut self, t_us: u64, event: &Event) -> Result<(), RecordError>;

    /// Records several events (a batch taken from a channel). The default calls
    /// [`record`](Recorder::record) for each and stops at the first error.
    ///
    /// # Errors
    /// As for `record`.
    fn record_batch(&mut self, events: &[(u64, Event)]) -> Result<(), RecordError> {
        events.iter().try_for_each(|(t, e)| self.record(*t, e))
    }

    /// Hands buffered lines to the sink. The default does nothing.
    ///
    /// # Errors
    /// As for `record`.
    fn flush(&mut self) -> Result<(), RecordError> {
        Ok(())
    }

    /// Flushes, then makes the sink durable (fsync, upload). The default calls
    /// [`flush`](Recorder::flush).
    ///
    /// # Errors
    /// As for `record`.
    fn sync(&mut self) -> Result<(), RecordError> {
        self.flush()
    }

    /// Ends the recording at offset `t_us` (writes the seal). Calling it again does nothing.
    /// The default calls [`sync`](Recorder::sync).
    ///
    /// # Errors
    /// When the seal could not be written or the sink could not finish, and (in either mode)
    /// when any earlier failure left the recording incomplete.
    fn finish(&mut self, t_us: u64) -> Result<(), RecordError> {
        let _ = t_us;
        self.sync()
    }
}

impl<R: Recorder + ?Sized> Recorder for Box<R> {
    fn record(&mut self, t_us: u64, event: &Event) -> Result<(), RecordError> {
        (**self).record(t_us, event)
    }
    fn record_batch(&mut self, events: &[(u64, Event)]) -> Result<(), RecordError> {
        (**self).record_batch(events)
    }
    fn flush(&mut self) -> Result<(), RecordError> {
        (**self).flush()
    }
    fn sync(&mut self) -> Result<(), RecordError> {
        (**self).sync()
    }
    fn finish(&mut self, t_us: u64) -> Result<(), RecordError> {
        (**self).finish(t_us)
    }
}

/// What a failure to record does to the session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Mode {
    /// Write-ahead, fail closed: an input event reaches the sink before `record` returns, and
    /// any failure is returned so the caller ends the session. The default.
    #[default]
    Strict,
    /// Failures are counted ([`RecordStats`]) and `record` returns `Ok`; the session goes on.
    /// Only `finish` reports that the recording is incomplete.
    BestEffort,
}

/// How a [`SessionRecorder`] behaves. Build with [`RecorderConfig::new`] and the setters.
#[derive(Clone)]
#[non_exhaustive]
pub struct RecorderConfig {
    /// Strict (default) or best-effort.
    pub mode: Mode,
    /// Size cap per recording in bytes, seal included; `None` for no cap. Default 4 GiB.
    pub max_bytes: Option<u64>,
    /// Buffered bytes that trigger a write to the sink. Default 64 KiB.
    pub batch_bytes: usize,
    /// The key that signs the seal; `None` writes an unsigned seal.
    pub signing_key: Option<SigningKey>,
}

impl fmt::Debug for RecorderConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecorderConfig")
            .field("mode", &self.mode)
            .field("max_bytes", &self.max_bytes)
            .field("batch_bytes", &self.batch_bytes)
            .field(
                "signing_key",
                &self.signing_key.as_ref().map(|_| "<secret>"),
            )
            .finish()
    }
}

impl Default for RecorderConfig {
    fn default() -> Self {
        Self {
            mode: Mode::Strict,
            max_bytes: Some(4 << 30),
            batch_bytes: 64 << 10,
            signing_key: None,
        }
    }
}

impl RecorderConfig {
    /// The defaults: strict, 4 GiB cap, 64 KiB batches, unsigned.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the mode.
    pub fn mode(&mut self, mode: Mode) -> &mut Self {
        self.mode = mode;
        self
    }

    /// Sets the size cap (`None`: unlimited). Caps below 16 KiB are raised to 16 KiB so the
    /// marker, the session end and the seal always fit.
    pub fn max_bytes(&mut self, max: Option<u64>) -> &mut Self {
        self.max_bytes = max.map(|m| m.max(MIN_CAP_BYTES));
        self
    }

    /// Sets the batch size in bytes (0 writes every event at once).
    pub fn batch_bytes(&mut self, bytes: usize) -> &mut Self {
        self.batch_bytes = bytes;
        self
    }

    /// Sets the seal's signing key.
    pub fn signing_key(&mut self, key: Option<SigningKey>) -> &mut Self {
        self.signing_key = key;
        self
    }
}

/// Room kept below the cap for the marker and the session end.
const CAP_RESERVE_BYTES: u64 = 8 << 10;
/// Room kept below the cap for the seal (at most ~700 bytes with a 128-byte session id).
const SEAL_RESERVE_BYTES: u64 = 1 << 10;
const MIN_CAP_BYTES: u64 = 16 << 10;

/// Failure to record. In strict mode the gateway ends the session; it sends SQLSTATE
/// [`sqlstate`](RecordError::sqlstate) or HTTP [`http_status`](RecordError::http_status).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RecordError {
    /// The sink refused bytes (internal fault).
    #[error("recording sink failed")]
    Sink {
        /// The sink's error.
        #[source]
        source: SinkError,
    },
    /// The recording reached its size cap (strict mode; internal/operator fault).
    #[error("recording reached its size cap of {limit_bytes} bytes")]
    SizeCap {
        /// The cap.
        limit_bytes: u64,
    },
    /// One event would make a line longer than the format allows (caller's fault: split the
    /// output or record a summary).
    #[error("event of {len} bytes exceeds the line limit of {limit} bytes")]
    EventTooLarge {
        /// The encoded line length.
        len: usize,
        /// [`MAX_LINE_BYTES`].
        limit: usize,
    },
    /// An event could not be encoded as JSON (internal fault).
    #[error("event could not be encoded")]
    Encode {
        /// The encoder's error.
        #[source]
        source: serde_json::Error,
    },
    /// An earlier failure stopped this recorder (strict mode keeps refusing).
    #[error("recording stopped after an earlier failure: {first}")]
    Stopped {
        /// The first failure, as text.
        first: String,
    },
    /// Best-effort mode lost events; reported by `finish`.
    #[error(
        "recording incomplete: {failures} sink failures, {dropped} events dropped (first: {first})"
    )]
    Incomplete {
        /// Sink failures.
        failures: u64,
        /// Events not recorded.
        dropped: u64,
        /// The first failure, as text.
        first: String,
    },
    /// `record` after `finish` (caller's fault).
    #[error("recording already finished")]
    Finished,
}

impl RecordError {
    /// SQLSTATE for a PostgreSQL client when the session ends because of this error:
    /// 58030 (`io_error`) for sink trouble, 54000 (`program_limit_exceeded`) for caps and
    /// oversize events, XX000 otherwise.
    pub fn sqlstate(&self) -> &'static str {
        match self {
            RecordError::Sink { .. }
            | RecordError::Stopped { .. }
            | RecordError::Incomplete { .. } => "58030",
            RecordError::SizeCap { .. } | RecordError::EventTooLarge { .. } => "54000",
            RecordError::Encode { .. } | RecordError::Finished => "XX000",
        }
    }

    /// HTTP status for an HTTP client (503: the recorder, not the request, is at fault;
    /// 413 for an oversize event).
    pub fn http_status(&self) -> u16 {
        match self {
            RecordError::EventTooLarge { .. } => 413,
            RecordError::Encode { .. } | RecordError::Finished => 500,
            _ => 503,
        }
    }
}

/// Counters a [`SessionRecorder`] keeps.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RecordStats {
    /// Lines written (events, markers), seal excluded.
    pub events: u64,
    /// Bytes handed to the sink or buffered for it, seal included once written.
    pub bytes: u64,
    /// Events not recorded (best-effort after a failure, after the size cap).
    pub dropped: u64,
    /// Sink failures.
    pub failures: u64,
    /// Writes to the sink.
    pub writes: u64,
    /// Whether the size cap was reached.
    pub capped: bool,
    /// Whether the seal was written.
    pub sealed: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    Open,
    Capped,
    Failed(String),
    Finished,
}

/// The recorder: encodes events into the hash chain, batches lines, writes them to a
/// [`Sink`], enforces the size cap and writes the (optionally signed) seal.
///
/// Dropping it without [`finish`](Recorder::finish) flushes what it buffered but writes no
/// seal: the recording then verifies as truncated.
///
/// # Examples
/// ```
/// use guard_core::{AuthMethod, Identity, Resource, Timestamp};
/// use guard_record::{Event, Input, MemorySink, Protocol, Recorder, RecorderConfig,
///     SessionRecorder, SessionStart};
///
/// let sink = MemorySink::new();
/// let start = SessionStart::new("s-1", Timestamp::from_unix_secs(1_764_115_200),
///     Identity::new("alice", AuthMethod::Password), Resource::new("db", "postgres"),
///     Protocol::Postgres, "gw-1");
/// let mut rec = SessionRecorder::start(sink.clone(), &RecorderConfig::new(), start)?;
/// rec.record(120, &Event::Input(Input::Query { text: "SELECT 1".into(), params: vec![] }))?;
/// rec.finish(300)?;
/// let summary = guard_record::verify(&sink.contents()[..], None)?;
/// assert_eq!(summary.events, 2);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct SessionRecorder<S: Sink> {
    sink: S,
    chain: ChainEncoder,
    buf: Vec<u8>,
    mode: Mode,
    max_bytes: Option<u64>,
    batch_bytes: usize,
    key: Option<SigningKey>,
    session: String,
    state: State,
    stats: RecordStats,
}

impl<S: Sink> fmt::Debug for SessionRecorder<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionRecorder")
            .field("session", &self.session)
            .field("mode", &self.mode)
            .field("state", &self.state)
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl<S: Sink> SessionRecorder<S> {
    /// Starts a recording: writes `start` as line 0 at offset 0 and hands it to the sink at
    /// once (so a session that cannot be recorded fails before it begins).
    ///
    /// # Errors
    /// [`RecordError::Sink`] when the session id is unusable
    /// ([`SinkError::BadSessionId`]) or the sink refuses the first line, in either mode.
    pub fn start(
        sink: S,
        config: &RecorderConfig,
        start: SessionStart,
    ) -> Result<Self, RecordError> {
        check_session_id(&start.session).map_err(|source| RecordError::Sink { source })?;
        let mut rec = Self {
            sink,
            chain: ChainEncoder::new(),
            buf: Vec::with_capacity(config.batch_bytes.min(1 << 20) + 4096),
            mode: config.mode,
            max_bytes: config.max_bytes,
            batch_bytes: config.batch_bytes,
            key: config.signing_key.clone(),
            session: start.session.clone(),
            state: State::Open,
            stats: RecordStats::default(),
        };
        rec.append(0, &Event::SessionStart(start))?;
        rec.write_buffer()
            .map_err(|source| RecordError::Sink { source })?;
        Ok(rec)
    }

    /// Counters so far.
    pub fn stats(&self) -> RecordStats {
        self.stats
    }

    /// The session id.
    pub fn session(&self) -> &str {
        &self.session
    }

    /// The sink.
    pub fn sink(&self) -> &S {
        &self.sink
    }

    /// The sink, mutably (for example to poll an upload).
    pub fn sink_mut(&mut self) -> &mut S {
        &mut self.sink
    }

    /// Encodes `event` into the buffer and advances the chain, honouring the cap.
    fn append(&mut self, t: u64, event: &Event) -> Result<(), RecordError> {
        let start = self.buf.len();
        let line = match self.chain.encode(t, event, &mut self.buf) {
            Ok(line) => line,
            Err(source) => {
                self.buf.truncate(start);
                return Err(RecordError::Encode { source });
            }
        };
        if line.len > MAX_LINE_BYTES {
            self.buf.truncate(start);
            return Err(RecordError::EventTooLarge {
                len: line.len,
                limit: MAX_LINE_BYTES,
            });
        }
        if let Some(cap) = self.max_bytes {
            let after = self.chain.bytes + line.len as u64;
            let room = match (&self.state, event) {
                (State::Open, Event::SizeCap(_)) | (State::Capped, Event::SessionEnd(_)) => {
                    cap.saturating_sub(SEAL_RESERVE_BYTES)
                }
                (State::Open, _) => cap.saturating_sub(CAP_RESERVE_BYTES),
                _ => 0,
            };
            if after > room {
                self.buf.truncate(start);
                return Err(RecordError::SizeCap { limit_bytes: cap });
            }
        }
        self.chain.commit(line);
        self.stats.events += 1;
        self.stats.bytes += line.len as u64;
        Ok(())
    }

    fn write_buffer(&mut self) -> Result<(), SinkError> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let r = self.sink.write(&self.buf);
        self.stats.writes += 1;
        self.buf.clear();
        r
    }

    /// Records a sink failure; returns what `record` should return.
    fn fail(&mut self, err: SinkError) -> Result<(), RecordError> {
        self.stats.failures += 1;
        self.state = State::Failed(err.to_string());
        match self.mode {
            Mode::Strict => Err(RecordError::Sink { source: err }),
            Mode::BestEffort => Ok(()),
        }
    }

    fn flush_inner(&mut self) -> Result<(), RecordError> {
        if matches!(self.state, State::Failed(_) | State::Finished) {
            return Ok(());
        }
        match self.write_buffer() {
            Ok(()) => Ok(()),
            Err(e) => self.fail(e),
        }
    }

    /// Writes the size-cap marker and moves to the capped state.
    fn cap_reached(&mut self, t: u64, limit_bytes: u64) -> Result<(), RecordError> {
        let marker = Event::SizeCap(SizeCap {
            limit_bytes,
            written_bytes: self.chain.bytes,
        });
        // The reserve below the cap always holds the marker (about 100 bytes).
        let marked = self.append(t, &marker);
        self.state = State::Capped;
        self.stats.capped = true;
        marked?;
        self.flush_inner()
    }

    fn refuse_or_drop(&mut self, err: RecordError) -> Result<(), RecordError> {
        self.stats.dropped += 1;
        match self.mode {
            Mode::Strict => Err(err),
            Mode::BestEffort => Ok(()),
        }
    }
}

impl<S: Sink> Recorder for SessionRecorder<S> {
    fn record(&mut self, t_us: u64, event: &Event) -> Result<(), RecordError> {
        match &self.state {
            State::Finished => return Err(RecordError::Finished),
            State::Failed(first) => {
                let err = RecordError::Stopped {
                    first: first.clone(),
                };
                return self.refuse_or_drop(err);
            }
            State::Capped if !matches!(event, Event::SessionEnd(_)) => {
                let err = RecordError::SizeCap {
                    limit_bytes: self.max_bytes.unwrap_or(0),
                };
                return self.refuse_or_drop(err);
            }
            State::Capped | State::Open => {}
        }
        match self.append(t_us, event) {
            Ok(()) => {}
            Err(RecordError::SizeCap { limit_bytes }) if self.state == State::Open => {
                self.cap_reached(t_us, limit_bytes)?;
                return self.refuse_or_drop(RecordError::SizeCap { limit_bytes });
            }
            Err(e) => return self.refuse_or_drop(e),
        }
        let write_ahead = self.mode == Mode::Strict && event.is_input();
        if write_ahead || self.buf.len() >= self.batch_bytes {
            self.flush_inner()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), RecordError> {
        self.flush_inner()
    }

    fn sync(&mut self) -> Result<(), RecordError> {
        self.flush_inner()?;
        if matches!(self.state, State::Open | State::Capped)
            && let Err(e) = self.sink.sync()
        {
            return self.fail(e);
        }
        Ok(())
    }

    fn finish(&mut self, t_us: u64) -> Result<(), RecordError> {
        match std::mem::replace(&mut self.state, State::Finished) {
            State::Finished => return Ok(()),
            State::Failed(first) => {
                self.state = State::Failed(first.clone());
                let _ = self.sink.finish();
                self.state = State::Finished;
                return Err(RecordError::Incomplete {
                    failures: self.stats.failures,
                    dropped: self.stats.dropped,
                    first,
                });
            }
            State::Open | State::Capped => {}
        }
        let fields = SealFields {
            session: self.session.clone(),
            dropped: self.stats.dropped,
            capped: self.stats.capped,
        };
        let before = self.buf.len();
        self.chain
            .seal(t_us, &fields, self.key.as_ref(), &mut self.buf);
        self.stats.bytes += (self.buf.len() - before) as u64;
        let written = self.write_buffer().and_then(|()| self.sink.finish());
        if let Err(source) = written {
            self.stats.failures += 1;
            return Err(RecordError::Sink { source });
        }
        self.stats.sealed = true;
        Ok(())
    }
}

impl<S: Sink> Drop for SessionRecorder<S> {
    fn drop(&mut self) {
        // Keep what was recorded; without a seal it verifies as truncated.
        if matches!(self.state, State::Open | State::Capped) {
            let _ = self.write_buffer();
        }
    }
}
