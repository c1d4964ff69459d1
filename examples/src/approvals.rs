//! Holding a statement for approval: open it in the guard-core store, tell the client how to
//! approve it, wait (without blocking other sessions) until it is approved, denied or expired.

use std::time::Duration;

use guard_core::approval::{ApprovalRequest, ApprovalState, ApprovalStore};
use guard_core::{Facts, Verdict};
use guard_sql::pg::{ErrorBuilder, Severity};
use tokio::sync::mpsc;

use crate::decide::{Decider, Masks, Outcome};
use crate::gateway::now_ts;

/// Approvals one identity may have waiting at once (held statements and grant requests).
pub(crate) const MAX_PENDING_PER_SUBJECT: usize = 16;

/// The longest statement text held for approval (an approver reads all of it).
const MAX_HELD_TEXT: usize = 1 << 20;

/// Why a held statement does not run: its SQLSTATE and message.
#[derive(Debug)]
pub(crate) struct NotRun {
    pub(crate) code: &'static str,
    pub(crate) message: String,
}

impl From<String> for NotRun {
    /// A refusal (42501).
    fn from(message: String) -> NotRun {
        NotRun {
            code: "42501",
            message,
        }
    }
}

/// Waits for a human. `Ok(masks)`: approved, forward with these masks. `Err`: refused, or
/// withdrawn by the client's CancelRequest (57014, as PostgreSQL answers a cancelled
/// statement; the approval is cancelled in the store, so approving it later runs nothing).
pub(crate) async fn hold(
    decider: &Decider,
    outcome: &Outcome,
    sql: &str,
    notices: &mpsc::UnboundedSender<Vec<u8>>,
) -> Result<Masks, NotRun> {
    // Cancel requests from here on withdraw the statement (one sent earlier does not).
    let mut cancels = decider.cancels.subscribe();
    let Outcome::Hold {
        rules,
        approvers,
        needed,
        timeout,
        masks,
    } = outcome
    else {
        return Err(NotRun::from(
            "guard: internal error: hold without an approval verdict".to_owned(),
        ));
    };
    let shared = &decider.shared;
    let timeout = if timeout.is_zero() {
        shared.config.approvals.timeout
    } else {
        *timeout
    };
    let timeout = timeout.min(crate::pgproxy::MAX_HOLD);
    let verdict = Verdict::Approve {
        rules: rules.clone(),
        approvers: approvers.clone(),
        needed: *needed,
        timeout,
    };
    let now = now_ts();
    if sql.len() > MAX_HELD_TEXT {
        return Err(NotRun::from(format!(
            "guard: the statement needs approval but is too long to be held ({} bytes; at most \
             {MAX_HELD_TEXT})",
            sql.len()
        )));
    }
    let subject = &decider.identity.subject;
    if shared.approvals.pending_count(subject, now) >= MAX_PENDING_PER_SUBJECT {
        return Err(NotRun::from(format!(
            "guard: the statement needs approval, but {subject} already has \
             {MAX_PENDING_PER_SUBJECT} requests waiting for one"
        )));
    }
    // Credentials (`PASSWORD '...'` and similar literals) never reach an approval summary.
    let summary = guard_record::redact_sql_credentials(sql).into_owned();
    let Some(request) = ApprovalRequest::from_verdict(
        &decider.identity,
        &decider.resource,
        &Facts::new(),
        summary,
        &verdict,
        now,
    ) else {
        return Err(NotRun::from(
            "guard: internal error: no approval request".to_owned(),
        ));
    };
    let approval = match shared.approvals.open(request, now) {
        Ok(a) => a,
        // Fail closed: no store, no approval.
        Err(e) => {
            return Err(NotRun::from(format!(
                "guard: statement needs approval but the approval store failed: {e}"
            )));
        }
    };
    let id = approval.id;
    let api = shared
        .config
        .admin
        .as_ref()
        .map(|a| format!("http://{}", a.address.get_ref()))
        .unwrap_or_else(|| "<admin api>".to_owned());
    let mut notice = Vec::new();
    ErrorBuilder::new(
        Severity::Notice,
        "01000",
        &format!(
            "guard: statement held for approval {id} (rule {}; approvers: {}); waiting up to {}s",
            rules.join(", "),
            approvers.join(", "),
            timeout.as_secs()
        ),
    )
    .hint(&format!(
        "an approver runs: guard-gateway approvals approve {id} --api {api} --token <their token>"
    ))
    .encode_notice(&mut notice);
    let _ = notices.send(notice);
    audit_event(decider, id, "approval_opened");

    let deadline = tokio::time::Instant::now() + timeout + Duration::from_millis(50);
    loop {
        let notified = shared.approval_changed.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let current = match shared.approvals.get(id) {
            Ok(a) => a,
            Err(e) => {
                return Err(NotRun::from(format!(
                    "guard: approval {id} cannot be read: {e}"
                )));
            }
        };
        match current.state_at(now_ts()) {
            ApprovalState::Approved => return Ok(masks.clone()),
            ApprovalState::Denied => {
                let by = current.decided_by.unwrap_or_default();
                let why = current.reason.map(|r| format!(": {r}")).unwrap_or_default();
                return Err(NotRun::from(format!(
                    "guard: approval {id} was denied by {by}{why}"
                )));
            }
            ApprovalState::Cancelled => {
                return Err(NotRun::from(format!("guard: approval {id} was cancelled")));
            }
            ApprovalState::Expired => {
                let _ = shared.approvals.expire(id, now_ts());
                return Err(NotRun::from(format!(
                    "guard: approval {id} timed out after {}s",
                    timeout.as_secs()
                )));
            }
            _ => {}
        }
        tokio::select! {
            () = &mut notified => {}
            () = tokio::time::sleep_until(deadline) => {
                // Loop once more: state_at reports the expiry.
            }
            Ok(()) = cancels.changed() => {
                let reason = Some("the client cancelled the statement".to_owned());
                // Approved in the meantime: the client still asked not to run it.
                let _ = shared.approvals.cancel(id, &decider.identity, reason, now_ts());
                audit_event(decider, id, "approval_withdrawn");
                return Err(NotRun {
                    code: "57014",
                    message: format!(
                        "canceling statement due to user request (guard: approval {id} withdrawn)"
                    ),
                });
            }
        }
    }
}

/// An audit line about approval `id` of the session of `decider`.
fn audit_event(decider: &Decider, id: guard_core::approval::ApprovalId, event: &str) {
    decider.shared.audit(&serde_json::json!({
        "time_us": crate::gateway::now_us(),
        "session": decider.session_id,
        "subject": decider.identity.subject,
        "resource": decider.resource.name,
        "approval": id.0,
        "event": event,
    }));
}
