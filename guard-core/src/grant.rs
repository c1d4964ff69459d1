//! Just-in-time grants: temporary extra groups or enabled rules for one subject.
//!
//! A [`Grant`] adds groups to a subject, or enables rules marked `enabled_by_grant = true`, on
//! the resources its [`ResourceSelector`] picks, from `not_before` to `expires_at`. The caller
//! passes the grants to [`Request::grants`](crate::Request::grants); evaluation ignores every
//! grant that is not active at the request's `now`, belongs to someone else or selects another
//! resource, so an expired or revoked grant stops applying at the next statement.

use std::collections::BTreeMap;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use crate::glob::wildcard_match;
use crate::{Identity, Resource, Timestamp};

/// A just-in-time elevation for one subject.
///
/// # Examples
///
/// ```
/// use guard_core::{AuthMethod, Grant, Identity, Resource, ResourceSelector, Timestamp};
///
/// let mut g = Grant::new(
///     "g-1",
///     "alice",
///     Timestamp::from_unix_secs(100),
///     Timestamp::from_unix_secs(200),
/// );
/// g.groups = vec!["dba".into()];
/// g.resource = ResourceSelector::name("payments-*");
/// let alice = Identity::new("alice", AuthMethod::Password);
/// let db = Resource::new("payments-prod", "postgres");
/// assert!(g.applies_to(&alice, &db, Timestamp::from_unix_secs(150)));
/// assert!(!g.applies_to(&alice, &db, Timestamp::from_unix_secs(200))); // expired
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Grant {
    /// Unique id (chosen by whoever issues grants).
    pub id: String,
    /// The subject it elevates (exact match on [`Identity::subject`]).
    pub subject: String,
    /// Groups added to the subject while the grant is active.
    #[serde(default)]
    pub groups: Vec<String>,
    /// Ids of rules marked `enabled_by_grant` that this grant enables.
    #[serde(default)]
    pub rules: Vec<String>,
    /// The resources it covers (the default selects every resource).
    #[serde(default)]
    pub resource: ResourceSelector,
    /// First instant it applies.
    pub not_before: Timestamp,
    /// First instant it no longer applies.
    pub expires_at: Timestamp,
    /// Who approved it.
    #[serde(default)]
    pub approved_by: Vec<String>,
    /// Why it was granted.
    #[serde(default)]
    pub reason: String,
    /// When it was revoked, if it was; it stops applying from that instant.
    #[serde(default)]
    pub revoked_at: Option<Timestamp>,
}

impl Grant {
    /// A grant with no groups, no rules, every resource, no approvers and no reason.
    pub fn new(
        id: impl Into<String>,
        subject: impl Into<String>,
        not_before: Timestamp,
        expires_at: Timestamp,
    ) -> Self {
        Self {
            id: id.into(),
            subject: subject.into(),
            groups: Vec::new(),
            rules: Vec::new(),
            resource: ResourceSelector::default(),
            not_before,
            expires_at,
            approved_by: Vec::new(),
            reason: String::new(),
            revoked_at: None,
        }
    }

    /// Whether it is active at `now`: started, not expired, not revoked.
    pub fn is_active(&self, now: Timestamp) -> bool {
        self.not_before <= now
            && now < self.expires_at
            && self.revoked_at.is_none_or(|revoked| now < revoked)
    }

    /// Whether it is active at `now` for `identity` on `resource`.
    pub fn applies_to(&self, identity: &Identity, resource: &Resource, now: Timestamp) -> bool {
        self.is_active(now) && self.subject == identity.subject && self.resource.matches(resource)
    }
}

/// Which resources a [`Grant`] covers. Empty lists select everything; patterns use `*` (any
/// run of characters) and `?` (one character).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct ResourceSelector {
    /// Resource name patterns; any may match.
    #[serde(default)]
    pub names: Vec<String>,
    /// Protocols (exact); any may match.
    #[serde(default)]
    pub protocols: Vec<String>,
    /// Label patterns; all must match.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

impl ResourceSelector {
    /// Every resource.
    pub fn any() -> Self {
        Self::default()
    }

    /// Resources whose name matches `pattern`.
    pub fn name(pattern: impl Into<String>) -> Self {
        Self {
            names: vec![pattern.into()],
            ..Self::default()
        }
    }

    /// Whether `resource` is selected.
    pub fn matches(&self, resource: &Resource) -> bool {
        (self.names.is_empty() || self.names.iter().any(|p| wildcard_match(p, &resource.name)))
            && (self.protocols.is_empty() || self.protocols.contains(&resource.protocol))
            && self
                .labels
                .iter()
                .all(|(k, p)| resource.labels.get(k).is_some_and(|v| wildcard_match(p, v)))
    }
}

/// Why a grant store refused an operation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum GrantError {
    /// A grant with this id exists already (caller's fault; HTTP 409).
    #[error("grant {id:?} already exists")]
    Duplicate {
        /// The id.
        id: String,
    },
    /// No grant has this id (caller's fault; HTTP 404).
    #[error("no grant with id {id:?}")]
    NotFound {
        /// The id.
        id: String,
    },
    /// The grant ends before it starts, or names neither groups nor rules (caller's fault;
    /// HTTP 400).
    #[error("invalid grant {id:?}: {reason}")]
    Invalid {
        /// The id.
        id: String,
        /// What is wrong.
        reason: String,
    },
    /// The store could not be reached or failed (internal; HTTP 503). Callers fail closed.
    #[error("grant store unavailable: {message}")]
    Unavailable {
        /// What the backend reported.
        message: String,
    },
}

impl GrantError {
    /// The HTTP status an API answers with.
    pub fn http_status(&self) -> u16 {
        match self {
            GrantError::Duplicate { .. } => 409,
            GrantError::NotFound { .. } => 404,
            GrantError::Invalid { .. } => 400,
            GrantError::Unavailable { .. } => 503,
        }
    }
}

/// Where grants live. Methods take `&self` so one store is shared (`Arc<dyn GrantStore>`) by
/// every session; a remote implementation (PostgreSQL) does its IO inside these calls, so async
/// callers run them on a blocking-capable thread.
pub trait GrantStore: Send + Sync {
    /// Stores a new grant.
    ///
    /// # Errors
    ///
    /// [`GrantError::Duplicate`] if the id exists, [`GrantError::Invalid`] if it ends before
    /// it starts or grants nothing, [`GrantError::Unavailable`] if the store failed.
    fn insert(&self, grant: Grant) -> Result<(), GrantError>;

    /// Marks a grant revoked from `at` on and returns it.
    ///
    /// # Errors
    ///
    /// [`GrantError::NotFound`], or [`GrantError::Unavailable`].
    fn revoke(&self, id: &str, at: Timestamp) -> Result<Grant, GrantError>;

    /// One grant by id.
    ///
    /// # Errors
    ///
    /// [`GrantError::Unavailable`] if the store failed.
    fn get(&self, id: &str) -> Result<Option<Grant>, GrantError>;

    /// The grants of `subject` active at `now`, ordered by id: what to pass to evaluation.
    ///
    /// # Errors
    ///
    /// [`GrantError::Unavailable`] if the store failed (fail closed: evaluate without grants
    /// or refuse).
    fn active(&self, subject: &str, now: Timestamp) -> Result<Vec<Grant>, GrantError>;

    /// Every grant, ordered by id, including expired and revoked ones.
    ///
    /// # Errors
    ///
    /// [`GrantError::Unavailable`] if the store failed.
    fn list(&self) -> Result<Vec<Grant>, GrantError>;
}

/// A [`GrantStore`] in memory (one process; lost on restart).
#[derive(Debug, Default)]
pub struct MemoryGrantStore {
    grants: Mutex<BTreeMap<String, Grant>>,
}

impl MemoryGrantStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Grant>> {
        // A panic while holding the lock cannot leave the map half-updated (every update is
        // one insert), so a poisoned lock is safe to keep using.
        self.grants
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl GrantStore for MemoryGrantStore {
    fn insert(&self, grant: Grant) -> Result<(), GrantError> {
        if grant.expires_at <= grant.not_before {
            return Err(GrantError::Invalid {
                id: grant.id,
                reason: "expires_at must be after not_before".into(),
            });
        }
        if grant.groups.is_empty() && grant.rules.is_empty() {
            return Err(GrantError::Invalid {
                id: grant.id,
                reason: "a grant must add groups or enable rules".into(),
            });
        }
        let mut map = self.lock();
        if map.contains_key(&grant.id) {
            return Err(GrantError::Duplicate { id: grant.id });
        }
        map.insert(grant.id.clone(), grant);
        Ok(())
    }

    fn revoke(&self, id: &str, at: Timestamp) -> Result<Grant, GrantError> {
        let mut map = self.lock();
        let g = map
            .get_mut(id)
            .ok_or_else(|| GrantError::NotFound { id: id.to_owned() })?;
        g.revoked_at = Some(g.revoked_at.map_or(at, |earlier| earlier.min(at)));
        Ok(g.clone())
    }

    fn get(&self, id: &str) -> Result<Option<Grant>, GrantError> {
        Ok(self.lock().get(id).cloned())
    }

    fn active(&self, subject: &str, now: Timestamp) -> Result<Vec<Grant>, GrantError> {
        Ok(self
            .lock()
            .values()
            .filter(|g| g.subject == subject && g.is_active(now))
            .cloned()
            .collect())
    }

    fn list(&self) -> Result<Vec<Grant>, GrantError> {
        Ok(self.lock().values().cloned().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::AuthMethod;

    fn t(s: i64) -> Timestamp {
        Timestamp::from_unix_secs(s)
    }

    fn grant(id: &str) -> Grant {
        let mut g = Grant::new(id, "alice", t(10), t(20));
        g.groups = vec!["dba".into()];
        g
    }

    #[test]
    fn activity_window_and_revocation() {
        let mut g = grant("g");
        assert!(!g.is_active(t(9)));
        assert!(g.is_active(t(10)));
        assert!(g.is_active(t(19)));
        assert!(!g.is_active(t(20)));
        g.revoked_at = Some(t(15));
        assert!(g.is_active(t(14)));
        assert!(!g.is_active(t(15)));
    }

    #[test]
    fn applies_only_to_its_subject_and_resources() {
        let mut g = grant("g");
        g.resource = ResourceSelector {
            names: vec!["pay*".into()],
            protocols: vec!["postgres".into()],
            labels: [("env".to_owned(), "pr?d".to_owned())].into(),
        };
        let alice = Identity::new("alice", AuthMethod::Trust);
        let bob = Identity::new("bob", AuthMethod::Trust);
        let db = Resource::new("payments", "postgres").with_label("env", "prod");
        assert!(g.applies_to(&alice, &db, t(12)));
        assert!(!g.applies_to(&bob, &db, t(12)));
        assert!(!g.applies_to(&alice, &Resource::new("payments", "postgres"), t(12)));
        assert!(!g.applies_to(&alice, &Resource::new("payments", "ssh"), t(12)));
        assert!(!g.applies_to(&alice, &db.clone().with_label("env", "dev"), t(12)));
    }

    #[test]
    fn memory_store() {
        let s = MemoryGrantStore::new();
        s.insert(grant("a")).unwrap();
        assert_eq!(
            s.insert(grant("a")),
            Err(GrantError::Duplicate { id: "a".into() })
        );
        let bad = Grant::new("b", "alice", t(20), t(10));
        assert!(matches!(s.insert(bad), Err(GrantError::Invalid { .. })));
        let empty = Grant::new("c", "alice", t(10), t(20));
        assert!(matches!(s.insert(empty), Err(GrantError::Invalid { .. })));
        assert_eq!(s.active("alice", t(12)).unwrap().len(), 1);
        assert_eq!(s.active("bob", t(12)).unwrap().len(), 0);
        assert_eq!(s.active("alice", t(25)).unwrap().len(), 0);
        let r = s.revoke("a", t(13)).unwrap();
        assert_eq!(r.revoked_at, Some(t(13)));
        assert_eq!(s.active("alice", t(12)).unwrap().len(), 1);
        assert_eq!(s.active("alice", t(13)).unwrap().len(), 0);
        assert_eq!(s.revoke("zz", t(1)).unwrap_err().http_status(), 404);
        assert_eq!(s.list().unwrap().len(), 1);
        assert!(s.get("a").unwrap().is_some());
    }
}
