//! `guard_gateway`: the reference guard gateway as a library, so tests and other programs can
//! start it without `main`.
//!
//! The binary `guard-gateway` is a thin command-line front end over this library.
//!
//! ```text
//! psql / agent ──TLS──► pgproxy (startup, auth) ──► upstream::connect (stored credentials)
//!                         │ Front: decode ─► decide (guard-sql classify, guard-core policy,
//!                         │        grants, approvals) ─► forward or inject a refusal
//!                         │ Back:  decode ─► replace refusals, mask rows (guard-mask) ─► client
//!                         └─► audit log, recording (guard-record), metrics, admin API
//! ```

pub mod config;
pub mod gateway;
pub mod io;
pub mod pgcluster;
pub mod tls;

mod approvals;
mod catalog;
mod decide;
mod identity;
mod masking;
mod metrics;
mod pgproxy;
mod record;
mod upstream;
mod workers;

pub use gateway::{Gateway, build_gateway, run};
pub mod admin;
pub mod cli;
pub mod demo;
pub mod jwt;
