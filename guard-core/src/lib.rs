//! guard-core: the vocabulary every guard crate shares.
//!
//! This crate will hold identities, resources, facts, verdicts, the policy compiler and
//! evaluator, just-in-time grants, the approval state machine and (feature `oidc`) token
//! verification. It knows no protocol and does no IO.
//!
//! Landed so far: [`Identity`], [`Resource`], [`Facts`] and the fact schema types protocol
//! crates publish, [`Verdict`] and [`Decision`], [`Timestamp`].

pub mod approval;
mod facts;
mod glob;
pub mod grant;
mod identity;
#[cfg(feature = "oidc")]
pub mod oidc;
mod policy;
mod time;
mod verdict;

pub use facts::{FactDef, FactSchema, FactType, FactValue, Facts};
pub use grant::{Grant, GrantError, GrantStore, MemoryGrantStore, ResourceSelector};
pub use identity::{AuthMethod, Identity, Resource};
pub use policy::{
    BuildError, DefaultAction, Format, MAX_POLICY_BYTES, Policy, PolicyBuilder, Request, RuleInfo,
};
pub use time::Timestamp;
pub use verdict::{Decision, Verdict};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_types_are_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<Identity>();
        check::<AuthMethod>();
        check::<Resource>();
        check::<Verdict>();
        check::<Decision>();
        check::<Timestamp>();
    }
}
