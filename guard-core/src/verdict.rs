//! What a policy decided: [`Verdict`] and the full [`Decision`] around it.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::time::duration_secs;

/// The outcome of one evaluation: let it through, refuse it, or ask a human first.
///
/// Masking is not a verdict: mask profiles ride on the [`Decision`] and apply when the request
/// is allowed (directly or after approval).
///
/// Serialized with a `verdict` tag, for example `{"verdict":"deny","rules":["no-drop"],
/// "message":"..."}`; `timeout` is serialized as whole seconds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Verdict {
    /// Let the request through.
    Allow,
    /// Refuse the request.
    Deny {
        /// Ids of the rules that denied it (empty when the policy default denied it).
        rules: Vec<String>,
        /// Why, for the person on the other end (their messages, or the default's).
        message: String,
    },
    /// Hold the request until enough approvers agree. The embedding program opens an approval
    /// (see [`crate::approval`]), waits however it likes, and proceeds or refuses.
    Approve {
        /// Ids of the rules that asked for approval.
        rules: Vec<String>,
        /// Groups whose members may approve (the union over those rules).
        approvers: Vec<String>,
        /// Distinct approvals needed (the largest over those rules).
        needed: u32,
        /// How long the approval may stay pending (the shortest over those rules).
        #[serde(with = "duration_secs")]
        timeout: Duration,
    },
}

impl Verdict {
    /// `"allow"`, `"deny"` or `"approve"`: the verdict's name in logs and recordings.
    pub fn kind(&self) -> &'static str {
        match self {
            Verdict::Allow => "allow",
            Verdict::Deny { .. } => "deny",
            Verdict::Approve { .. } => "approve",
        }
    }
}

/// The full result of [`Policy::evaluate`](crate::Policy::evaluate): the verdict, the masks
/// that apply if the request goes ahead, and the explanation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Decision {
    /// Allow, deny or approve.
    pub verdict: Verdict,
    /// Ids of the rules that produced the verdict, in document order (empty when the default
    /// decided).
    pub rules: Vec<String>,
    /// Mask profiles of every matching mask rule, in document order, without duplicates. They
    /// apply when the request goes ahead (allowed, or approved).
    pub masks: Vec<String>,
    /// Ids of every rule that matched (whatever its action), in document order.
    pub matched: Vec<String>,
    /// Ids of the grants that applied to this request (active at `now`, for this subject, on
    /// this resource), in the order given.
    pub grants: Vec<String>,
    /// Whether no deciding rule matched and the policy default decided.
    pub defaulted: bool,
    /// One human-readable sentence naming the deciding rules and their messages.
    pub explain: String,
}

impl Decision {
    /// Whether the verdict is [`Verdict::Allow`].
    pub fn is_allow(&self) -> bool {
        matches!(self.verdict, Verdict::Allow)
    }

    /// Whether the verdict is [`Verdict::Deny`].
    pub fn is_deny(&self) -> bool {
        matches!(self.verdict, Verdict::Deny { .. })
    }

    /// Whether the verdict is [`Verdict::Approve`].
    pub fn is_approve(&self) -> bool {
        matches!(self.verdict, Verdict::Approve { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdict_serializes_with_a_tag() {
        let v = Verdict::Approve {
            rules: vec!["r".into()],
            approvers: vec!["dba".into()],
            needed: 2,
            timeout: Duration::from_secs(900),
        };
        let json = serde_json::to_value(&v).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"verdict": "approve", "rules": ["r"], "approvers": ["dba"],
                "needed": 2, "timeout": 900})
        );
        let back: Verdict = serde_json::from_value(json).unwrap();
        assert_eq!(back, v);
        assert_eq!(back.kind(), "approve");
        assert_eq!(
            serde_json::to_string(&Verdict::Allow).unwrap(),
            r#"{"verdict":"allow"}"#
        );
    }
}
