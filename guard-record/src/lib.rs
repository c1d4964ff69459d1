//! guard-record: tamper-evident session recording.
//!
//! This crate will provide the event model, the `Recorder` trait, the hash-chained JSON Lines
//! format, sinks (file, memory, object storage behind a feature), verification and replay.
