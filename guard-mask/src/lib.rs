//! guard-mask: a streaming masker for PII and secrets.
//!
//! This crate will provide a compiled, shareable `Masker` (detectors with validators, masking
//! strategies, profiles) and per-stream state that masks pushed chunks with bounded hold-back.
//! It depends on no other guard crate and does no IO.
