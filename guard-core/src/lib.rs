#![doc = include_str!("../README.md")]
//!
//! ## Features
//!
#![doc = document_features::document_features!()]

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
        check::<Grant>();
        check::<GrantError>();
        check::<MemoryGrantStore>();
        check::<ResourceSelector>();
        check::<Box<dyn GrantStore>>();
        check::<Box<dyn approval::ApprovalStore>>();
    }
}
