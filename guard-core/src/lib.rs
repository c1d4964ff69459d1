//! guard-core: the vocabulary every guard crate shares.
//!
//! This crate will hold identities, resources, facts, verdicts, the policy compiler and
//! evaluator, just-in-time grants, the approval state machine and (feature `oidc`) token
//! verification. It knows no protocol and does no IO.
//!
//! Landed so far: [`Facts`] and the fact schema types protocol crates publish.

mod facts;

pub use facts::{FactDef, FactSchema, FactType, FactValue, Facts};
