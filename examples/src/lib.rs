//! `guard_gateway`: the reference guard gateway as a library, so tests and other programs can
//! start it without `main`.
//!
//! The binary `guard-gateway` is a thin command-line front end over this library.

pub mod config;
pub mod pgcluster;
