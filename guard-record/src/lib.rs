#![doc = include_str!("../README.md")]
//!
//! What this crate does not do: it reads no clock (callers pass microsecond offsets from the
//! session start), opens no sockets and runs no threads. The [`FileSink`] writes files;
//! the [`ObjectStoreSink`] (feature `object-store`) is the only part that uses an async
//! runtime (tokio, for the upload task).
//!
//! Primary types:
//! - [`Event`] and its payloads ([`SessionStart`], [`Input`], [`DecisionEvent`],
//!   [`Output`], ...): the event model, in guard-core's vocabulary.
//! - [`Recorder`]: the trait a gateway feeds; [`SessionRecorder`] implements it over any
//!   [`Sink`] ([`MemorySink`], [`FileSink`], [`ObjectStoreSink`]), strict (write-ahead,
//!   fail closed) or best-effort ([`Mode`]).
//! - [`verify`] and [`Summary`] / [`VerifyError`]; [`read_events`], [`write_timeline`],
//!   [`write_cast`] (asciinema v2) for replay.
//! - [`redact_sql_credentials`] and [`credential_parameters`]: what the gateway runs on client
//!   input so that credentials never reach a recording.
//!
//! # Example
//!
//! ```
//! use guard_core::{AuthMethod, Identity, Resource, Timestamp, Verdict};
//! use guard_record::{DecisionEvent, Event, Input, MemorySink, Output, Protocol, Recorder,
//!     RecorderConfig, SessionEnd, SessionRecorder, SessionStart, redact_sql_credentials};
//!
//! let key = ed25519_dalek::SigningKey::from_bytes(&[1; 32]);
//! let mut config = RecorderConfig::new();
//! config.signing_key(Some(key.clone()));
//!
//! let start = SessionStart::new("s-42", Timestamp::from_unix_secs(1_764_115_200),
//!     Identity::new("alice", AuthMethod::Password), Resource::new("prod-db", "postgres"),
//!     Protocol::Postgres, "gw-1").with_client_addr("10.0.0.7:51234");
//! let sink = MemorySink::new();
//! let mut rec = SessionRecorder::start(sink.clone(), &config, start)?;
//!
//! let sql = redact_sql_credentials("ALTER ROLE app PASSWORD 'hunter2'");
//! rec.record(1_000, &Event::Input(Input::Query { text: sql.into_owned(), params: vec![] }))?;
//! rec.record(1_050, &Event::Decision(DecisionEvent::new(
//!     Verdict::Deny { rules: vec!["no-role-changes".into()], message: "denied".into() },
//!     vec!["no-role-changes".into()])))?;
//! rec.record(9_000, &Event::SessionEnd(SessionEnd::new("client closed")))?;
//! rec.finish(9_001)?;
//!
//! let bytes = sink.contents();
//! assert!(!String::from_utf8_lossy(&bytes).contains("hunter2"));
//! let summary = guard_record::verify(&bytes[..], Some(&key.verifying_key()))?;
//! assert_eq!((summary.events, summary.session.as_str()), (4, "s-42"));
//!
//! // Any change is detected, and the error names the line.
//! let mut tampered = bytes.clone();
//! let at = tampered.iter().position(|&b| b == b'n').unwrap();
//! tampered[at] = b'N';
//! assert!(guard_record::verify(&tampered[..], None).is_err());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Data flow
//!
//! ```text
//!  gateway hot path          bounded channel          recording task
//!  ----------------          ---------------          --------------
//!  client input --redact_sql_credentials--> Event ──┐
//!  decision  ───────────────────────────── Event ──┤──> Recorder::record / record_batch
//!  masked output ───────────────────────── Event ──┘          │
//!                                                             v
//!                         SessionRecorder: JSON line + {"seq","prev"=SHA-256(previous line),"t"}
//!                                     batch buffer (64 KiB; strict: input written at once)
//!                                                             │ Sink::write
//!                            ┌────────────────────────────────┼──────────────────────┐
//!                            v                                v                      v
//!                       MemorySink         FileSink YYYY/MM/DD/<id>.jsonl   ObjectStoreSink
//!                                                                         spool file ─> async
//!                                                                         multipart upload
//!  finish(t) ──> seal line {"head","events","bytes","digest","key","sig"(Ed25519)}
//!
//!  verify(file, key) ──> Summary | VerifyError { line, .. }
//!  read_events ──> write_timeline (text / JSON) | terminal_frames | write_cast (.cast)
//! ```
//!
//! # Features
#![doc = document_features::document_features!()]

mod chain;
mod event;
#[cfg(feature = "file")]
mod file;
mod keys;
#[cfg(feature = "object-store")]
mod object;
mod recorder;
mod redact;
mod replay;
mod sink;
mod verify;

pub use chain::{GENESIS_HEX, GENESIS_INPUT, MAX_LINE_BYTES};
pub use event::{
    ApprovalEvent, ApprovalState, Bytes, DecisionEvent, ErrorEvent, Event, GrantAction, GrantEvent,
    Input, Output, Param, Protocol, SessionEnd, SessionStart, SizeCap,
};
#[cfg(feature = "file")]
pub use file::FileSink;
pub use keys::{KeyError, format_verifying_key, parse_signing_key, parse_verifying_key};
#[cfg(feature = "object-store")]
pub use object::{ObjectStoreConfig, ObjectStoreSink, UploadHandle, UploadStatus};
pub use recorder::{Mode, RecordError, RecordStats, Recorder, RecorderConfig, SessionRecorder};
pub use redact::{REDACTED, credential_parameters, redact_sql_credentials};
pub use replay::{
    CastOptions, CastStats, Events, RecordedEvent, ReplayError, Timeline, TimelineEntry,
    read_all_events, read_events, terminal_frames, write_cast, write_timeline,
};
pub use sink::{MemorySink, Sink, SinkError, recording_path};
pub use verify::{SignatureStatus, Summary, VerifyError, verify};

/// Re-exported so callers name the same key types the seal uses.
pub use ed25519_dalek::{SigningKey, VerifyingKey};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_types_are_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<Event>();
        check::<RecorderConfig>();
        check::<SessionRecorder<MemorySink>>();
        check::<MemorySink>();
        check::<RecordError>();
        check::<SinkError>();
        check::<VerifyError>();
        check::<ReplayError>();
        check::<Summary>();
        check::<KeyError>();
        check::<TimelineEntry>();
        #[cfg(feature = "file")]
        check::<SessionRecorder<FileSink>>();
        #[cfg(feature = "object-store")]
        check::<ObjectStoreSink>();
        #[cfg(feature = "object-store")]
        check::<UploadHandle>();
    }
}
