//! guard-sql: the PostgreSQL v3 wire protocol (sans-IO) and SQL statement classification.
//!
//! This crate will provide the `pg` module (frontend and backend decoders and encoders for
//! every message of the PostgreSQL 15-17 protocol documentation, plus sans-IO authentication
//! helpers) and the `classify` module (statement classification through `pg_query`, producing
//! guard-core `Facts` under `sql.*`). It does no IO and has no runtime.
//!
#![doc = include_str!("../FACTS.md")]

pub mod classify;
mod facts;
pub mod pg;
mod session;

pub use facts::FACTS;
pub use session::Session;
