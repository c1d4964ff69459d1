//! guard-sql: the PostgreSQL v3 wire protocol (sans-IO) and SQL statement classification.
//!
//! The `pg` module holds frontend and backend decoders and encoders for every message of the
//! PostgreSQL 15-17 protocol documentation, plus sans-IO authentication helpers; the
//! `classify` module classifies statements through `pg_query`, producing guard-core `Facts`
//! under `sql.*`. It does no IO and has no runtime.
//!
//! A proxy that decides on what this crate reads must keep the server reading statement text
//! the same way: [`lexing`] names the two settings that change it (`standard_conforming_strings`
//! off, a client encoding with ASCII trail bytes) and which values keep it.
//!
//! # Wire codec (`pg`)
//!
//! [`pg::FrontendDecoder`] and [`pg::BackendDecoder`] turn the bytes of either direction into
//! typed messages ([`pg::FrontendMessage`], [`pg::BackendMessage`]) that borrow from the
//! caller's buffer; every message has an encoder that reproduces its bytes exactly, and
//! builders exist for what a proxy writes itself ([`pg::ErrorBuilder`],
//! [`pg::DataRow::encode_values`], ...). [`pg::auth`] holds sans-IO SCRAM-SHA-256, MD5 and
//! cleartext helpers for both sides. The codec owns no socket, runtime, clock or RNG.
//!
//! ```text
//! client bytes --> pg::FrontendDecoder --> Query / Parse / Bind / Execute ... --> classify
//!                                                    | buf[..len] forwarded untouched
//! server bytes --> pg::BackendDecoder  --> RowDescription / DataRow ...  --> mask values
//!                                                    | DataRow::encode_values re-encodes
//! ```
//!
//! ```
//! use guard_sql::pg::{BackendDecoder, BackendMessage, DataRow, Decoded, Limits};
//!
//! // A DataRow arrives from the server; mask its second column and re-encode it.
//! let mut wire = Vec::new();
//! DataRow::encode_values([Some(&b"1"[..]), Some(&b"ada@example.com"[..])], &mut wire);
//!
//! let mut dec = BackendDecoder::new(Limits::default());
//! let mut out = Vec::new();
//! if let Decoded::Message { len, msg: BackendMessage::DataRow(row) } = dec.decode(&wire)? {
//!     let masked = row.values.iter().enumerate();
//!     let masked = masked.map(|(i, v)| if i == 1 { Some(&b"***"[..]) } else { v });
//!     DataRow::encode_values(masked, &mut out);
//!     assert_eq!(len, wire.len());
//! }
//! assert_eq!(out, b"D\0\0\0\x12\0\x02\0\0\0\x011\0\0\0\x03***");
//! # Ok::<(), guard_sql::pg::DecodeError>(())
//! ```
//!
//! Details and the decoding contract: the [`pg`] module docs and `DESIGN.md` ("Wire codec").
//!
//! ## Features
#![doc = document_features::document_features!()]
//!
//! # Classification (`classify`)
//!
//! A [`classify::Classifier`] (shared, `Send + Sync`, with a bounded cache) turns a SQL
//! string into a [`classify::Classification`]: per statement its kind, effect, tables read and
//! written, functions called (dangerous and opaque ones flagged) and flags such as `unbounded`,
//! `role_change` and `read_write`; text that does not parse is itself a classification
//! (`sql.unparsable`). PostgreSQL goes through `pg_query`, the server's own parser; MySQL
//! through `sqlparser`. A per-connection [`Session`] resolves `EXECUTE` and extended-protocol
//! Execute to what they run. The classifier does not see what triggers, rules, operators or
//! the bodies of user-defined functions do; it reports those as opaque where it can.
//!
//! ```text
//! Query / Parse / Bind / Execute --> Session --> Classifier (cache | pg_query + walker)
//!                                                  --> Classification --> sql.* Facts --> policy
//! ```
//!
//! ```
//! use guard_core::FactValue;
//! use guard_sql::Session;
//! use guard_sql::classify::Classifier;
//!
//! let classifier = Classifier::new(); // share it between connections
//! let mut session = Session::new(); // one per connection
//! let c = session.classify_query(&classifier, "COMMIT; DELETE FROM users");
//! let facts = c.statement_facts(1).unwrap();
//! assert_eq!(facts.get("sql.statement"), Some(&FactValue::from("delete")));
//! assert_eq!(facts.get("sql.unbounded"), Some(&FactValue::Bool(true)));
//! assert_eq!(facts.get("sql.effect.max"), Some(&FactValue::from("write")));
//! ```
//!
#![doc = include_str!("../FACTS.md")]

pub mod classify;
pub mod copy;
mod facts;
pub mod lexing;
pub mod pg;
mod session;
pub mod startup;

pub use facts::FACTS;
pub use session::Session;
