//! Who is asking ([`Identity`]) and what they are reaching ([`Resource`]).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Who is asking: an authenticated subject, its groups, its token claims and how it was
/// authenticated.
///
/// Groups are kept sorted and free of duplicates, so matching and serialized output are
/// deterministic.
///
/// # Examples
///
/// ```
/// use guard_core::{AuthMethod, Identity};
///
/// let alice = Identity::new("alice", AuthMethod::Password).with_groups(["dba", "dev", "dba"]);
/// assert_eq!(alice.groups, ["dba", "dev"]);
/// assert!(alice.in_group("dba"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Identity {
    /// The subject: a user name, a service account, the `sub` claim of a token.
    pub subject: String,
    /// The groups the subject belongs to (sorted, no duplicates).
    pub groups: Vec<String>,
    /// The claims of the token it presented (`null` when there was none).
    #[serde(default)]
    pub claims: serde_json::Value,
    /// How the subject proved who it is.
    pub auth: AuthMethod,
}

impl Identity {
    /// An identity with no groups and no claims.
    pub fn new(subject: impl Into<String>, auth: AuthMethod) -> Self {
        Self {
            subject: subject.into(),
            groups: Vec::new(),
            claims: serde_json::Value::Null,
            auth,
        }
    }

    /// Adds groups (kept sorted, duplicates dropped).
    pub fn with_groups<I, S>(mut self, groups: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.groups.extend(groups.into_iter().map(Into::into));
        self.groups.sort();
        self.groups.dedup();
        self
    }

    /// Sets the token claims.
    pub fn with_claims(mut self, claims: serde_json::Value) -> Self {
        self.claims = claims;
        self
    }

    /// Whether the subject is in `group`.
    pub fn in_group(&self, group: &str) -> bool {
        // `groups` is sorted by construction; fall back to a scan if a caller edited the
        // public field without sorting it.
        self.groups
            .binary_search_by(|g| g.as_str().cmp(group))
            .is_ok()
            || self.groups.iter().any(|g| g == group)
    }
}

/// How an [`Identity`] was authenticated.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "method", rename_all = "snake_case")]
#[non_exhaustive]
pub enum AuthMethod {
    /// A bearer token (JWT) verified against an OIDC issuer's keys.
    Oidc {
        /// The `iss` claim of the verified token.
        issuer: String,
    },
    /// A password checked by the gateway (SCRAM, cleartext over TLS, ...).
    Password,
    /// A TLS client certificate.
    Certificate {
        /// Hex SHA-256 fingerprint of the certificate.
        fingerprint: String,
    },
    /// A static token from the gateway's configuration.
    StaticToken,
    /// No credential was checked: the configuration trusts this connection (loopback, tests).
    Trust,
}

/// What is being reached: a named database, cluster or host, its protocol and its labels.
///
/// # Examples
///
/// ```
/// use guard_core::Resource;
///
/// let db = Resource::new("payments-prod", "postgres").with_label("env", "prod");
/// assert_eq!(db.labels["env"], "prod");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Resource {
    /// The resource's name in the gateway configuration, such as `payments-prod`.
    pub name: String,
    /// The protocol spoken to it: `postgres`, `mysql`, `kubernetes`, `ssh`.
    pub protocol: String,
    /// Free-form labels such as `env=prod`, `team=payments`.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

impl Resource {
    /// A resource without labels.
    pub fn new(name: impl Into<String>, protocol: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            protocol: protocol.into(),
            labels: BTreeMap::new(),
        }
    }

    /// Adds or replaces one label.
    pub fn with_label(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.labels.insert(key.into(), value.into());
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_round_trips_through_json() {
        let id = Identity::new(
            "alice",
            AuthMethod::Oidc {
                issuer: "https://idp".into(),
            },
        )
        .with_groups(["b", "a"])
        .with_claims(serde_json::json!({"email": "a@example.com"}));
        let json = serde_json::to_string(&id).unwrap();
        assert!(json.contains(r#""method":"oidc""#), "{json}");
        let back: Identity = serde_json::from_str(&json).unwrap();
        assert_eq!(back, id);
        assert_eq!(back.groups, ["a", "b"]);
    }

    #[test]
    fn in_group_tolerates_unsorted_groups() {
        let mut id = Identity::new("bob", AuthMethod::Trust);
        id.groups = vec!["z".into(), "a".into()];
        assert!(id.in_group("a"));
        assert!(id.in_group("z"));
        assert!(!id.in_group("m"));
    }
}
