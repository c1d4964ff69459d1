//! Approvals: "ask a human" as a state machine behind a store.
//!
//! When [`Policy::evaluate`](crate::Policy::evaluate) returns [`Verdict::Approve`], the
//! embedding program builds an [`ApprovalRequest`] ([`ApprovalRequest::from_verdict`]), opens
//! it in an [`ApprovalStore`], waits however it likes (the store's change sequence and
//! notifiers say when to look again), and proceeds when the approval is
//! [`ApprovalState::Approved`], refuses otherwise.
//!
//! ```text
//!             approve (distinct approvers < needed)
//!              ┌──────┐
//!              ▼      │
//! open ──► Pending ───┴── approve (count reaches needed) ──► Approved
//!              │ ├──── deny (an approver) ─────────────────► Denied
//!              │ ├──── cancel (the requester) ─────────────► Cancelled
//!              │ └──── expire (now >= expires_at) ─────────► Expired
//! ```
//!
//! Every change goes through compare-and-set on [`Approval::version`], so several gateway
//! instances sharing one store (PostgreSQL) never lose a vote.
//!
//! # Examples
//!
//! ```
//! use std::time::Duration;
//! use guard_core::approval::{ApprovalRequest, ApprovalState, ApprovalStore, MemoryApprovalStore};
//! use guard_core::{AuthMethod, Facts, Identity, Resource, Timestamp, Verdict};
//!
//! let now = Timestamp::from_unix_secs(1_000);
//! let verdict = Verdict::Approve {
//!     rules: vec!["prod-writes".into()],
//!     approvers: vec!["dba".into()],
//!     needed: 1,
//!     timeout: Duration::from_secs(600),
//! };
//! let alice = Identity::new("alice", AuthMethod::Password);
//! let request = ApprovalRequest::from_verdict(
//!     &alice,
//!     &Resource::new("db", "postgres"),
//!     &Facts::new(),
//!     "DELETE FROM users WHERE id = 7",
//!     &verdict,
//!     now,
//! )
//! .unwrap();
//! let store = MemoryApprovalStore::new();
//! let opened = store.open(request, now).unwrap();
//! let bob = Identity::new("bob", AuthMethod::Password).with_groups(["dba"]);
//! let done = store.approve(opened.id, &bob, now).unwrap();
//! assert_eq!(done.state, ApprovalState::Approved);
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

use crate::{Facts, Identity, Resource, Timestamp, Verdict};

/// How many times the provided store methods retry a compare-and-set that lost a race.
const MAX_CAS_RETRIES: usize = 16;

/// An approval's id, assigned by the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ApprovalId(pub u64);

impl fmt::Display for ApprovalId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// What a requester asks approvers to allow.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ApprovalRequest {
    /// Who asks.
    pub requester: Identity,
    /// On what.
    pub resource: Resource,
    /// The facts of the held request.
    pub facts: Facts,
    /// A human-readable summary for approvers (for example the statement, already masked).
    pub summary: String,
    /// The rules that asked for approval.
    pub rules: Vec<String>,
    /// Groups whose members may decide.
    pub approvers: Vec<String>,
    /// Distinct approvals needed.
    pub needed: u32,
    /// When it expires if still pending.
    pub expires_at: Timestamp,
}

impl ApprovalRequest {
    /// The request for a [`Verdict::Approve`], expiring `timeout` after `now`; `None` for
    /// other verdicts.
    pub fn from_verdict(
        requester: &Identity,
        resource: &Resource,
        facts: &Facts,
        summary: impl Into<String>,
        verdict: &Verdict,
        now: Timestamp,
    ) -> Option<Self> {
        match verdict {
            Verdict::Approve {
                rules,
                approvers,
                needed,
                timeout,
            } => Some(Self {
                requester: requester.clone(),
                resource: resource.clone(),
                facts: facts.clone(),
                summary: summary.into(),
                rules: rules.clone(),
                approvers: approvers.clone(),
                needed: *needed,
                expires_at: now.saturating_add(*timeout),
            }),
            _ => None,
        }
    }
}

/// Where an approval is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApprovalState {
    /// Waiting for approvers.
    Pending,
    /// Enough distinct approvers approved: proceed.
    Approved,
    /// An approver denied it: refuse.
    Denied,
    /// Nobody decided in time: refuse.
    Expired,
    /// The requester withdrew it (for example the client disconnected).
    Cancelled,
}

impl ApprovalState {
    /// Whether no further change is possible.
    pub fn is_final(self) -> bool {
        self != ApprovalState::Pending
    }
}

impl fmt::Display for ApprovalState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ApprovalState::Pending => "pending",
            ApprovalState::Approved => "approved",
            ApprovalState::Denied => "denied",
            ApprovalState::Expired => "expired",
            ApprovalState::Cancelled => "cancelled",
        })
    }
}

/// One approver's approval.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Vote {
    /// The approver's subject.
    pub approver: String,
    /// When.
    pub at: Timestamp,
}

/// An approval as stored: the request, its state, and its history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Approval {
    /// Assigned by the store.
    pub id: ApprovalId,
    /// Increases by one with every change; updates compare-and-set on it.
    pub version: u64,
    /// What was asked.
    pub request: ApprovalRequest,
    /// Where it is.
    pub state: ApprovalState,
    /// When it was opened.
    pub created_at: Timestamp,
    /// Approvals so far, one per distinct approver, in order.
    pub votes: Vec<Vote>,
    /// Who denied or cancelled it.
    pub decided_by: Option<String>,
    /// When it reached its final state.
    pub decided_at: Option<Timestamp>,
    /// Why it was denied or cancelled, if they said.
    pub reason: Option<String>,
}

impl Approval {
    /// The state as of `now`: a pending approval past its expiry is [`ApprovalState::Expired`]
    /// even before a store sweep records it, so waiters never proceed on a stale approval.
    pub fn state_at(&self, now: Timestamp) -> ApprovalState {
        if self.state == ApprovalState::Pending && now >= self.request.expires_at {
            ApprovalState::Expired
        } else {
            self.state
        }
    }

    /// Whether `who` may decide: in an approver group and not the requester.
    ///
    /// # Errors
    ///
    /// [`ApprovalError::SelfApproval`] or [`ApprovalError::NotAnApprover`].
    pub fn check_approver(&self, who: &Identity) -> Result<(), ApprovalError> {
        if who.subject == self.request.requester.subject {
            return Err(ApprovalError::SelfApproval {
                id: self.id,
                subject: who.subject.clone(),
            });
        }
        if !self.request.approvers.iter().any(|g| who.in_group(g)) {
            return Err(ApprovalError::NotAnApprover {
                id: self.id,
                subject: who.subject.clone(),
                groups: self.request.approvers.clone(),
            });
        }
        Ok(())
    }

    fn check_pending(&self, now: Timestamp) -> Result<(), ApprovalError> {
        match self.state_at(now) {
            ApprovalState::Pending => Ok(()),
            ApprovalState::Expired => Err(ApprovalError::Expired { id: self.id }),
            state => Err(ApprovalError::AlreadyDecided { id: self.id, state }),
        }
    }

    /// This approval after `approver` approves it at `now` (the version is not changed; the
    /// store bumps it when it saves). Approved once `needed` distinct approvers agree.
    ///
    /// # Errors
    ///
    /// [`ApprovalError::Expired`], [`ApprovalError::AlreadyDecided`],
    /// [`ApprovalError::SelfApproval`], [`ApprovalError::NotAnApprover`],
    /// [`ApprovalError::AlreadyVoted`].
    pub fn approved_by(&self, approver: &Identity, now: Timestamp) -> Result<Self, ApprovalError> {
        self.check_pending(now)?;
        self.check_approver(approver)?;
        if self.votes.iter().any(|v| v.approver == approver.subject) {
            return Err(ApprovalError::AlreadyVoted {
                id: self.id,
                subject: approver.subject.clone(),
            });
        }
        let mut next = self.clone();
        next.votes.push(Vote {
            approver: approver.subject.clone(),
            at: now,
        });
        if next.votes.len() >= usize::try_from(next.request.needed).unwrap_or(usize::MAX) {
            next.state = ApprovalState::Approved;
            next.decided_at = Some(now);
        }
        Ok(next)
    }

    /// This approval after `approver` denies it at `now`.
    ///
    /// # Errors
    ///
    /// As for [`Approval::approved_by`], except that an approver who approved earlier may
    /// still deny.
    pub fn denied_by(
        &self,
        approver: &Identity,
        reason: Option<String>,
        now: Timestamp,
    ) -> Result<Self, ApprovalError> {
        self.check_pending(now)?;
        self.check_approver(approver)?;
        let mut next = self.clone();
        next.state = ApprovalState::Denied;
        next.decided_by = Some(approver.subject.clone());
        next.decided_at = Some(now);
        next.reason = reason;
        Ok(next)
    }

    /// This approval after its requester withdraws it at `now`.
    ///
    /// # Errors
    ///
    /// [`ApprovalError::NotRequester`] for anyone else; [`ApprovalError::AlreadyDecided`] or
    /// [`ApprovalError::Expired`] when it is no longer pending.
    pub fn cancelled_by(
        &self,
        requester: &Identity,
        reason: Option<String>,
        now: Timestamp,
    ) -> Result<Self, ApprovalError> {
        if requester.subject != self.request.requester.subject {
            return Err(ApprovalError::NotRequester {
                id: self.id,
                subject: requester.subject.clone(),
            });
        }
        self.check_pending(now)?;
        let mut next = self.clone();
        next.state = ApprovalState::Cancelled;
        next.decided_by = Some(requester.subject.clone());
        next.decided_at = Some(now);
        next.reason = reason;
        Ok(next)
    }

    /// This approval marked expired, if it is pending and past its expiry at `now`.
    pub fn expired(&self, now: Timestamp) -> Option<Self> {
        (self.state == ApprovalState::Pending && now >= self.request.expires_at).then(|| {
            let mut next = self.clone();
            next.state = ApprovalState::Expired;
            next.decided_at = Some(self.request.expires_at);
            next
        })
    }
}

/// Why an approval operation was refused. Each says its HTTP status and whose fault it was.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ApprovalError {
    /// No approval has this id (caller's fault; 404).
    #[error("no approval with id {id}")]
    NotFound {
        /// The id.
        id: ApprovalId,
    },
    /// The caller is in none of the approver groups (caller's fault; 403).
    #[error("{subject:?} may not decide approval {id}: not in any of the groups {groups:?}")]
    NotAnApprover {
        /// The approval.
        id: ApprovalId,
        /// Who tried.
        subject: String,
        /// The approver groups.
        groups: Vec<String>,
    },
    /// The requester tried to decide their own request (caller's fault; 403).
    #[error("{subject:?} may not decide approval {id}: it is their own request")]
    SelfApproval {
        /// The approval.
        id: ApprovalId,
        /// The requester.
        subject: String,
    },
    /// Only the requester may cancel (caller's fault; 403).
    #[error("{subject:?} may not cancel approval {id}: only its requester may")]
    NotRequester {
        /// The approval.
        id: ApprovalId,
        /// Who tried.
        subject: String,
    },
    /// The approver approved already; approvals count distinct approvers (caller's fault; 409).
    #[error("{subject:?} already approved approval {id}")]
    AlreadyVoted {
        /// The approval.
        id: ApprovalId,
        /// The approver.
        subject: String,
    },
    /// The approval is no longer pending (caller's fault; 409).
    #[error("approval {id} is already {state}")]
    AlreadyDecided {
        /// The approval.
        id: ApprovalId,
        /// Its final state.
        state: ApprovalState,
    },
    /// The approval expired before the decision (caller's fault; 410).
    #[error("approval {id} has expired")]
    Expired {
        /// The approval.
        id: ApprovalId,
    },
    /// Someone else changed the approval since it was read (retry; 409).
    #[error("approval {id} changed concurrently: expected version {expected}, found {found}")]
    VersionConflict {
        /// The approval.
        id: ApprovalId,
        /// The version the update was based on.
        expected: u64,
        /// The version in the store.
        found: u64,
    },
    /// The request cannot be opened: no approver groups, or `needed` is zero (caller's
    /// fault; 400).
    #[error("invalid approval request: {reason}")]
    Invalid {
        /// What is wrong.
        reason: String,
    },
    /// The store could not be reached or failed (internal; 503). Callers fail closed: a held
    /// request is refused.
    #[error("approval store unavailable: {message}")]
    Unavailable {
        /// What the backend reported.
        message: String,
    },
    /// The store holds as many pending approvals (or summary bytes) as it may (503). Callers
    /// fail closed.
    #[error("the approval store is full: {reason}")]
    Full {
        /// Which limit was reached.
        reason: String,
    },
}

impl ApprovalError {
    /// The HTTP status an approvals API answers with.
    pub fn http_status(&self) -> u16 {
        match self {
            ApprovalError::NotFound { .. } => 404,
            ApprovalError::NotAnApprover { .. }
            | ApprovalError::SelfApproval { .. }
            | ApprovalError::NotRequester { .. } => 403,
            ApprovalError::AlreadyVoted { .. }
            | ApprovalError::AlreadyDecided { .. }
            | ApprovalError::VersionConflict { .. } => 409,
            ApprovalError::Expired { .. } => 410,
            ApprovalError::Invalid { .. } => 400,
            ApprovalError::Unavailable { .. } | ApprovalError::Full { .. } => 503,
        }
    }
}

/// Called after every change with the approval's id and the store's new change sequence.
/// It must not block (poke a waiter, such as a `tokio::sync::Notify`, and return).
pub type Notifier = Arc<dyn Fn(ApprovalId, u64) + Send + Sync>;

/// Where approvals live, shared by every session (and, for a PostgreSQL store, every gateway
/// instance).
///
/// Implementors provide five methods: [`open`](ApprovalStore::open),
/// [`get`](ApprovalStore::get), [`replace`](ApprovalStore::replace) (compare-and-set on the
/// version), [`changed_since`](ApprovalStore::changed_since) and
/// [`subscribe`](ApprovalStore::subscribe). The state transitions are provided on top of them
/// and retry lost races.
///
/// Wake-ups: every change increases a store-wide sequence number. A waiter remembers the
/// sequence it has seen and asks [`changed_since`](ApprovalStore::changed_since) for what
/// changed after it; a [`Notifier`] registered with
/// [`subscribe`](ApprovalStore::subscribe) says when to ask (a PostgreSQL store maps this to
/// `LISTEN`/`NOTIFY`). Methods do their IO inside the call, so async callers run remote stores
/// on a blocking-capable thread.
pub trait ApprovalStore: Send + Sync {
    /// Stores a new pending approval at version 1 and returns it with its id.
    ///
    /// # Errors
    ///
    /// [`ApprovalError::Invalid`] for a request without approvers or with `needed == 0`,
    /// [`ApprovalError::Unavailable`].
    fn open(&self, request: ApprovalRequest, now: Timestamp) -> Result<Approval, ApprovalError>;

    /// The approval as stored.
    ///
    /// # Errors
    ///
    /// [`ApprovalError::NotFound`], [`ApprovalError::Unavailable`].
    fn get(&self, id: ApprovalId) -> Result<Approval, ApprovalError>;

    /// Saves `next` if the stored version is still `next.version`, storing it as
    /// `next.version + 1`, and returns what was stored.
    ///
    /// # Errors
    ///
    /// [`ApprovalError::VersionConflict`] when someone changed it first,
    /// [`ApprovalError::NotFound`], [`ApprovalError::Unavailable`].
    fn replace(&self, next: Approval) -> Result<Approval, ApprovalError>;

    /// The current change sequence and the ids changed after `sequence` (ascending, each once).
    ///
    /// # Errors
    ///
    /// [`ApprovalError::Unavailable`].
    fn changed_since(&self, sequence: u64) -> Result<(u64, Vec<ApprovalId>), ApprovalError>;

    /// Registers a callback run after every change.
    ///
    /// # Errors
    ///
    /// [`ApprovalError::Unavailable`].
    fn subscribe(&self, notifier: Notifier) -> Result<(), ApprovalError>;

    /// Records `approver`'s approval.
    ///
    /// # Errors
    ///
    /// See [`Approval::approved_by`]; [`ApprovalError::VersionConflict`] only after
    /// repeated lost races.
    fn approve(
        &self,
        id: ApprovalId,
        approver: &Identity,
        now: Timestamp,
    ) -> Result<Approval, ApprovalError> {
        update(self, id, |a| a.approved_by(approver, now))
    }

    /// Records `approver`'s denial.
    ///
    /// # Errors
    ///
    /// See [`Approval::denied_by`].
    fn deny(
        &self,
        id: ApprovalId,
        approver: &Identity,
        reason: Option<String>,
        now: Timestamp,
    ) -> Result<Approval, ApprovalError> {
        update(self, id, |a| a.denied_by(approver, reason.clone(), now))
    }

    /// Withdraws the request.
    ///
    /// # Errors
    ///
    /// See [`Approval::cancelled_by`].
    fn cancel(
        &self,
        id: ApprovalId,
        requester: &Identity,
        reason: Option<String>,
        now: Timestamp,
    ) -> Result<Approval, ApprovalError> {
        update(self, id, |a| a.cancelled_by(requester, reason.clone(), now))
    }

    /// Marks `id` expired if it is pending and past its expiry; returns it as stored.
    ///
    /// # Errors
    ///
    /// [`ApprovalError::NotFound`], [`ApprovalError::Unavailable`].
    fn expire(&self, id: ApprovalId, now: Timestamp) -> Result<Approval, ApprovalError> {
        for _ in 0..MAX_CAS_RETRIES {
            let current = self.get(id)?;
            let Some(next) = current.expired(now) else {
                return Ok(current);
            };
            match self.replace(next) {
                Err(ApprovalError::VersionConflict { .. }) => continue,
                other => return other,
            }
        }
        self.get(id)
    }
}

fn update<S: ApprovalStore + ?Sized>(
    store: &S,
    id: ApprovalId,
    f: impl Fn(&Approval) -> Result<Approval, ApprovalError>,
) -> Result<Approval, ApprovalError> {
    let mut last = None;
    for _ in 0..MAX_CAS_RETRIES {
        let current = store.get(id)?;
        let next = f(&current)?;
        match store.replace(next) {
            Err(e @ ApprovalError::VersionConflict { .. }) => last = Some(e),
            other => return other,
        }
    }
    Err(last.unwrap_or(ApprovalError::Unavailable {
        message: "too many conflicts".into(),
    }))
}

/// An [`ApprovalStore`] in memory (one process; lost on restart). Notifiers run after the
/// lock is released.
pub struct MemoryApprovalStore {
    inner: Mutex<Inner>,
    notifiers: Mutex<Vec<Notifier>>,
    max_approvals: usize,
    max_bytes: usize,
}

/// How many approvals a [`MemoryApprovalStore`] keeps by default.
pub const DEFAULT_MAX_APPROVALS: usize = 10_000;

/// How many bytes of summaries a [`MemoryApprovalStore`] keeps by default.
pub const DEFAULT_MAX_SUMMARY_BYTES: usize = 64 << 20;

#[derive(Default)]
struct Inner {
    next_id: u64,
    sequence: u64,
    /// Each approval with the sequence of its last change.
    approvals: BTreeMap<ApprovalId, (Approval, u64)>,
    /// The summaries' bytes, over `approvals`.
    bytes: usize,
}

impl Default for MemoryApprovalStore {
    fn default() -> Self {
        Self::with_limits(DEFAULT_MAX_APPROVALS, DEFAULT_MAX_SUMMARY_BYTES)
    }
}

impl fmt::Debug for MemoryApprovalStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inner = self.lock();
        f.debug_struct("MemoryApprovalStore")
            .field("approvals", &inner.approvals.len())
            .field("sequence", &inner.sequence)
            .finish_non_exhaustive()
    }
}

impl MemoryApprovalStore {
    /// An empty store with the default limits ([`DEFAULT_MAX_APPROVALS`],
    /// [`DEFAULT_MAX_SUMMARY_BYTES`]).
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty store that keeps at most `max_approvals` approvals whose summaries add up to
    /// at most `max_bytes`. Opening one past either limit first forgets the oldest approvals
    /// that are over (decided, or pending past their expiry); when only live ones are left,
    /// [`ApprovalStore::open`] fails with [`ApprovalError::Full`].
    pub fn with_limits(max_approvals: usize, max_bytes: usize) -> Self {
        MemoryApprovalStore {
            inner: Mutex::new(Inner::default()),
            notifiers: Mutex::new(Vec::new()),
            max_approvals,
            max_bytes,
        }
    }

    /// Pending approvals, ordered by id (including those past expiry not yet swept).
    pub fn pending(&self) -> Vec<Approval> {
        self.lock()
            .approvals
            .values()
            .filter(|(a, _)| a.state == ApprovalState::Pending)
            .map(|(a, _)| a.clone())
            .collect()
    }

    /// How many approvals `subject` has requested that are still pending at `now` (without
    /// copying any).
    pub fn pending_count(&self, subject: &str, now: Timestamp) -> usize {
        (self.lock().approvals.values())
            .filter(|(a, _)| a.request.requester.subject == subject)
            .filter(|(a, _)| a.state_at(now) == ApprovalState::Pending)
            .count()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // Every update under the lock is a single insert, so a poisoned lock still guards
        // consistent data.
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn notify(&self, id: ApprovalId, sequence: u64) {
        let notifiers: Vec<Notifier> = self
            .notifiers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        for n in notifiers {
            n(id, sequence);
        }
    }
}

impl ApprovalStore for MemoryApprovalStore {
    fn open(&self, request: ApprovalRequest, now: Timestamp) -> Result<Approval, ApprovalError> {
        if request.approvers.is_empty() {
            return Err(ApprovalError::Invalid {
                reason: "no approver groups".into(),
            });
        }
        if request.needed == 0 {
            return Err(ApprovalError::Invalid {
                reason: "needed must be at least 1".into(),
            });
        }
        let size = request.summary.len();
        if size > self.max_bytes {
            return Err(ApprovalError::Full {
                reason: format!(
                    "a summary of {size} bytes is more than the {} kept",
                    self.max_bytes
                ),
            });
        }
        let (approval, sequence) = {
            let mut inner = self.lock();
            while inner.approvals.len() >= self.max_approvals || inner.bytes + size > self.max_bytes
            {
                // The oldest approval that is over; ids grow with time.
                let over = (inner.approvals.iter())
                    .find(|(_, (a, _))| a.state_at(now) != ApprovalState::Pending)
                    .map(|(id, _)| *id);
                let Some(id) = over else {
                    return Err(ApprovalError::Full {
                        reason: format!(
                            "{} approvals pending ({} bytes of summaries); at most {} and {}",
                            inner.approvals.len(),
                            inner.bytes,
                            self.max_approvals,
                            self.max_bytes
                        ),
                    });
                };
                if let Some((a, _)) = inner.approvals.remove(&id) {
                    inner.bytes -= a.request.summary.len();
                }
            }
            inner.bytes += size;
            inner.next_id += 1;
            inner.sequence += 1;
            let approval = Approval {
                id: ApprovalId(inner.next_id),
                version: 1,
                request,
                state: ApprovalState::Pending,
                created_at: now,
                votes: Vec::new(),
                decided_by: None,
                decided_at: None,
                reason: None,
            };
            let seq = inner.sequence;
            inner.approvals.insert(approval.id, (approval.clone(), seq));
            (approval, seq)
        };
        self.notify(approval.id, sequence);
        Ok(approval)
    }

    fn get(&self, id: ApprovalId) -> Result<Approval, ApprovalError> {
        self.lock()
            .approvals
            .get(&id)
            .map(|(a, _)| a.clone())
            .ok_or(ApprovalError::NotFound { id })
    }

    fn replace(&self, mut next: Approval) -> Result<Approval, ApprovalError> {
        let id = next.id;
        let sequence = {
            let mut guard = self.lock();
            let inner = &mut *guard;
            let (current, changed) = inner
                .approvals
                .get_mut(&id)
                .ok_or(ApprovalError::NotFound { id })?;
            if current.version != next.version {
                return Err(ApprovalError::VersionConflict {
                    id,
                    expected: next.version,
                    found: current.version,
                });
            }
            inner.sequence += 1;
            next.version += 1;
            inner.bytes = inner.bytes - current.request.summary.len() + next.request.summary.len();
            *current = next.clone();
            *changed = inner.sequence;
            inner.sequence
        };
        self.notify(id, sequence);
        Ok(next)
    }

    fn changed_since(&self, sequence: u64) -> Result<(u64, Vec<ApprovalId>), ApprovalError> {
        let inner = self.lock();
        let ids = inner
            .approvals
            .iter()
            .filter(|(_, (_, s))| *s > sequence)
            .map(|(id, _)| *id)
            .collect();
        Ok((inner.sequence, ids))
    }

    fn subscribe(&self, notifier: Notifier) -> Result<(), ApprovalError> {
        self.notifiers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(notifier);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::time::Duration;

    use super::*;
    use crate::AuthMethod;

    fn t(s: i64) -> Timestamp {
        Timestamp::from_unix_secs(s)
    }

    fn person(name: &str, groups: &[&str]) -> Identity {
        Identity::new(name, AuthMethod::Password).with_groups(groups.iter().copied())
    }

    fn request(needed: u32) -> ApprovalRequest {
        let verdict = Verdict::Approve {
            rules: vec!["r".into()],
            approvers: vec!["dba".into(), "sec".into()],
            needed,
            timeout: Duration::from_secs(100),
        };
        let alice = person("alice", &["dba"]);
        ApprovalRequest::from_verdict(
            &alice,
            &Resource::new("db", "postgres"),
            &Facts::new(),
            "DELETE",
            &verdict,
            t(0),
        )
        .unwrap()
    }

    #[test]
    fn from_verdict_only_for_approve() {
        let id = person("a", &[]);
        let r = Resource::new("db", "postgres");
        assert!(
            ApprovalRequest::from_verdict(&id, &r, &Facts::new(), "", &Verdict::Allow, t(0))
                .is_none()
        );
        assert_eq!(request(1).expires_at, t(100));
    }

    #[test]
    fn distinct_approvers_are_counted() {
        let s = MemoryApprovalStore::new();
        let a = s.open(request(2), t(0)).unwrap();
        assert_eq!(
            (a.id, a.version, a.state),
            (ApprovalId(1), 1, ApprovalState::Pending)
        );
        let bob = person("bob", &["dba"]);
        let a = s.approve(a.id, &bob, t(1)).unwrap();
        assert_eq!((a.version, a.state), (2, ApprovalState::Pending));
        assert_eq!(
            s.approve(a.id, &bob, t(2)),
            Err(ApprovalError::AlreadyVoted {
                id: a.id,
                subject: "bob".into()
            })
        );
        let carol = person("carol", &["sec"]);
        let a = s.approve(a.id, &carol, t(3)).unwrap();
        assert_eq!((a.version, a.state), (3, ApprovalState::Approved));
        assert_eq!(a.decided_at, Some(t(3)));
        let dave = person("dave", &["dba"]);
        let e = s.approve(a.id, &dave, t(4)).unwrap_err();
        assert_eq!(
            e,
            ApprovalError::AlreadyDecided {
                id: a.id,
                state: ApprovalState::Approved
            }
        );
        assert_eq!(e.http_status(), 409);
    }

    #[test]
    fn self_approval_and_outsiders_are_refused() {
        let s = MemoryApprovalStore::new();
        let a = s.open(request(1), t(0)).unwrap();
        let alice = person("alice", &["dba"]);
        assert!(matches!(
            s.approve(a.id, &alice, t(1)),
            Err(ApprovalError::SelfApproval { .. })
        ));
        assert!(matches!(
            s.deny(a.id, &alice, None, t(1)),
            Err(ApprovalError::SelfApproval { .. })
        ));
        let eve = person("eve", &["dev"]);
        let e = s.approve(a.id, &eve, t(1)).unwrap_err();
        assert!(matches!(e, ApprovalError::NotAnApprover { .. }));
        assert_eq!(e.http_status(), 403);
        assert_eq!(s.get(a.id).unwrap().version, 1, "refusals change nothing");
    }

    #[test]
    fn a_full_store_forgets_what_is_over_and_refuses_when_all_is_live() {
        // request(): summary "DELETE" (6 bytes), expires at t(100).
        let s = MemoryApprovalStore::with_limits(2, 1000);
        let bob = person("bob", &["dba"]);
        let a = s.open(request(1), t(0)).unwrap();
        let b = s.open(request(1), t(0)).unwrap();
        // Two live approvals: a third is refused, nothing is forgotten.
        let e = s.open(request(1), t(1)).unwrap_err();
        assert!(matches!(e, ApprovalError::Full { .. }), "{e}");
        assert_eq!(e.http_status(), 503);
        assert_eq!(s.get(a.id).unwrap().state, ApprovalState::Pending);
        assert_eq!(s.pending_count("alice", t(1)), 2);
        assert_eq!(s.pending_count("alice", t(100)), 0);
        assert_eq!(s.pending_count("bob", t(1)), 0);
        // Once one is decided, the oldest decided one makes room.
        s.deny(b.id, &bob, None, t(2)).unwrap();
        let c = s.open(request(1), t(3)).unwrap();
        assert_eq!(s.get(b.id), Err(ApprovalError::NotFound { id: b.id }));
        assert_eq!(s.get(a.id).unwrap().state, ApprovalState::Pending);
        // A pending approval past its expiry is over too, swept or not.
        let d = s.open(request(1), t(100)).unwrap();
        assert_eq!(s.get(a.id), Err(ApprovalError::NotFound { id: a.id }));
        // (Only as much as needed: the next oldest stays.)
        assert!(s.get(c.id).is_ok() && s.get(d.id).is_ok());

        // By bytes: summaries of 6 bytes under a limit of 13 leave room for two.
        let s = MemoryApprovalStore::with_limits(100, 13);
        let a = s.open(request(1), t(0)).unwrap();
        s.open(request(1), t(0)).unwrap();
        assert!(matches!(
            s.open(request(1), t(0)),
            Err(ApprovalError::Full { .. })
        ));
        s.deny(a.id, &bob, None, t(1)).unwrap();
        s.open(request(1), t(2)).unwrap();
        let mut big = request(1);
        big.summary = "x".repeat(14);
        assert!(matches!(s.open(big, t(2)), Err(ApprovalError::Full { .. })));
    }

    #[test]
    fn deny_cancel_expire() {
        let s = MemoryApprovalStore::new();
        let bob = person("bob", &["dba"]);
        let alice = person("alice", &[]);
        let a = s.open(request(2), t(0)).unwrap();
        let a = s.deny(a.id, &bob, Some("not now".into()), t(5)).unwrap();
        assert_eq!(a.state, ApprovalState::Denied);
        assert_eq!(a.decided_by.as_deref(), Some("bob"));

        let b = s.open(request(1), t(0)).unwrap();
        assert!(matches!(
            s.cancel(b.id, &bob, None, t(1)),
            Err(ApprovalError::NotRequester { .. })
        ));
        assert_eq!(
            s.cancel(b.id, &alice, None, t(1)).unwrap().state,
            ApprovalState::Cancelled
        );

        let c = s.open(request(1), t(0)).unwrap();
        assert_eq!(c.state_at(t(99)), ApprovalState::Pending);
        assert_eq!(c.state_at(t(100)), ApprovalState::Expired);
        assert_eq!(
            s.approve(c.id, &bob, t(100)),
            Err(ApprovalError::Expired { id: c.id })
        );
        assert_eq!(s.pending().len(), 1);
        assert_eq!(s.expire(c.id, t(99)).unwrap().state, ApprovalState::Pending);
        let c = s.expire(c.id, t(100)).unwrap();
        assert_eq!(
            (c.state, c.decided_at),
            (ApprovalState::Expired, Some(t(100)))
        );
        assert!(s.pending().is_empty());
        assert_eq!(
            s.get(ApprovalId(42)),
            Err(ApprovalError::NotFound { id: ApprovalId(42) })
        );
    }

    #[test]
    fn compare_and_set_and_wake_ups() {
        let s = MemoryApprovalStore::new();
        let seen = Arc::new(AtomicU64::new(0));
        let seen2 = Arc::clone(&seen);
        s.subscribe(Arc::new(move |_, seq| seen2.store(seq, Ordering::SeqCst)))
            .unwrap();
        let a = s.open(request(2), t(0)).unwrap();
        let b = s.open(request(2), t(0)).unwrap();
        assert_eq!(seen.load(Ordering::SeqCst), 2);
        let (seq, ids) = s.changed_since(0).unwrap();
        assert_eq!((seq, ids), (2, vec![a.id, b.id]));

        // Two writers read version 1; the second loses.
        let bob = person("bob", &["dba"]);
        let carol = person("carol", &["dba"]);
        let v1 = s.get(a.id).unwrap();
        s.replace(v1.approved_by(&bob, t(1)).unwrap()).unwrap();
        let lost = s
            .replace(v1.approved_by(&carol, t(1)).unwrap())
            .unwrap_err();
        assert_eq!(
            lost,
            ApprovalError::VersionConflict {
                id: a.id,
                expected: 1,
                found: 2
            }
        );
        // The provided method re-reads and keeps both votes.
        let a2 = s.approve(a.id, &carol, t(2)).unwrap();
        assert_eq!(a2.votes.len(), 2);
        assert_eq!(a2.state, ApprovalState::Approved);

        let (seq2, ids) = s.changed_since(seq).unwrap();
        assert_eq!(ids, vec![a.id]);
        assert_eq!(seen.load(Ordering::SeqCst), seq2);
        assert_eq!(s.changed_since(seq2).unwrap().1, vec![]);
    }

    #[test]
    fn approval_types_are_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<Approval>();
        check::<ApprovalRequest>();
        check::<ApprovalError>();
        check::<MemoryApprovalStore>();
        check::<Notifier>();
    }
}
