//! The admin API (axum) on its own listener.
//!
//! Every endpoint but `/health` needs `Authorization`: a bearer token (OIDC, verified like the
//! Postgres listener's) or HTTP Basic credentials of a static user. Operational endpoints
//! (`/metrics`, `/sessions`, `/reload`) also accept the configured `ops_token`.
//!
//! | method | path | who | what |
//! | --- | --- | --- | --- |
//! | GET | `/health` | anyone | `ok` |
//! | GET | `/metrics` | ops | Prometheus text |
//! | GET | `/approvals` | any caller | pending approvals the caller requested or may decide |
//! | POST | `/approvals/{id}/approve` | approver group member, not the requester | vote |
//! | POST | `/approvals/{id}/deny` | approver group member | deny, body `{"reason": ...}` |
//! | GET | `/grants` | any caller | the caller's grants (approvers: every grant) |
//! | POST | `/grants` | any caller | request `{"groups": [...], "for": "30m", "reason": ...}`: opens an approval; approving it starts the grant |
//! | POST | `/grants/{id}/revoke` | the grantee or an approver | revoke |
//! | GET | `/sessions` | ops | live sessions |
//! | POST | `/sessions/{id}/kill` | ops | end a session |
//! | POST | `/reload` | ops | reload policy, masks, users, credentials |

use std::future::Future;
use std::time::Duration;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use guard_core::approval::{ApprovalId, ApprovalRequest, ApprovalState, ApprovalStore};
use guard_core::{Facts, Grant, Identity, ResourceSelector, Verdict};
use serde::Deserialize;

use crate::gateway::{Gateway, lock, now_ts};

/// Serves the admin API on `listener` until `shutdown` completes.
///
/// # Errors
/// The server failed.
pub async fn serve(
    gateway: Gateway,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let app = axum::Router::new()
        .route("/health", get(|| async { "ok" }))
        .route("/metrics", get(metrics))
        .route("/approvals", get(list_approvals))
        .route("/approvals/{id}/approve", post(approve))
        .route("/approvals/{id}/deny", post(deny))
        .route("/grants", get(list_grants).post(request_grant))
        .route("/grants/{id}/revoke", post(revoke_grant))
        .route("/sessions", get(list_sessions))
        .route("/sessions/{id}/kill", post(kill_session))
        .route("/reload", post(reload))
        .with_state(gateway);
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await?;
    Ok(())
}

struct ApiError(StatusCode, String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(serde_json::json!({"error": self.1}))).into_response()
    }
}

fn status(code: u16) -> StatusCode {
    StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

fn caller(gw: &Gateway, headers: &HeaderMap) -> Result<Identity, ApiError> {
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| {
            ApiError(
                StatusCode::UNAUTHORIZED,
                "missing Authorization header".into(),
            )
        })?;
    crate::identity::authenticate_http(&gw.shared, auth)
        .map_err(|e| ApiError(StatusCode::UNAUTHORIZED, e.to_string()))
}

/// Ops endpoints: the ops token, or a member of an approver group.
fn ops(gw: &Gateway, headers: &HeaderMap) -> Result<(), ApiError> {
    let admin = gw.shared.config.admin.as_ref();
    if let Some(src) = admin.and_then(|a| a.ops_token.as_ref())
        && let Ok(token) = src.resolve(&gw.shared.config.base_dir)
        && let Some(auth) = headers.get("authorization").and_then(|v| v.to_str().ok())
        && auth
            .strip_prefix("Bearer ")
            .is_some_and(|t| constant_eq(t.trim(), token.expose()))
    {
        return Ok(());
    }
    let who = caller(gw, headers)?;
    let groups = admin
        .map(|a| a.approver_groups.as_slice())
        .unwrap_or_default();
    if groups.iter().any(|g| who.in_group(g)) {
        Ok(())
    } else {
        Err(ApiError(
            StatusCode::FORBIDDEN,
            "needs the ops token or an approver group".into(),
        ))
    }
}

fn constant_eq(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

async fn metrics(State(gw): State<Gateway>, headers: HeaderMap) -> Result<String, ApiError> {
    if !gw.shared.config.metrics.enabled {
        return Err(ApiError(
            StatusCode::NOT_FOUND,
            "metrics are disabled".into(),
        ));
    }
    ops(&gw, &headers)?;
    Ok(gw.metrics_text())
}

async fn list_approvals(
    State(gw): State<Gateway>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let who = caller(&gw, &headers)?;
    // A held statement's text is for those who may decide it and for its requester.
    let pending: Vec<_> = (gw.shared.approvals.pending().into_iter())
        .filter(|a| {
            a.request.requester.subject == who.subject
                || a.request.approvers.iter().any(|g| who.in_group(g))
        })
        .collect();
    Ok(Json(pending).into_response())
}

#[derive(Deserialize, Default)]
struct Reason {
    #[serde(default)]
    reason: Option<String>,
}

async fn approve(
    State(gw): State<Gateway>,
    headers: HeaderMap,
    Path(id): Path<u64>,
) -> Result<Response, ApiError> {
    let who = caller(&gw, &headers)?;
    let a = gw
        .shared
        .approvals
        .approve(ApprovalId(id), &who, now_ts())
        .map_err(|e| ApiError(status(e.http_status()), e.to_string()))?;
    gw.shared.audit(&serde_json::json!({
        "time_us": crate::gateway::now_us(), "event": "approval_vote", "approval": id,
        "approver": who.subject, "state": a.state,
    }));
    if a.state == ApprovalState::Approved {
        let grant = lock(&gw.shared.grant_requests).remove(&id);
        if let Some(mut g) = grant {
            // The grant starts when it is approved.
            let now = now_ts();
            let length = g.expires_at.duration_since(g.not_before);
            g.not_before = now;
            g.expires_at = now.saturating_add(length);
            g.approved_by = a.votes.iter().map(|v| v.approver.clone()).collect();
            gw.shared
                .grants
                .insert(g.clone())
                .map_err(|e| ApiError(status(e.http_status()), e.to_string()))?;
            gw.shared.audit(&serde_json::json!({
                "time_us": crate::gateway::now_us(), "event": "grant_started", "grant": g,
            }));
            return Ok(Json(serde_json::json!({"approval": a, "grant": g})).into_response());
        }
    }
    Ok(Json(serde_json::json!({"approval": a})).into_response())
}

async fn deny(
    State(gw): State<Gateway>,
    headers: HeaderMap,
    Path(id): Path<u64>,
    body: Option<Json<Reason>>,
) -> Result<Response, ApiError> {
    let who = caller(&gw, &headers)?;
    let reason = body.and_then(|b| b.0.reason);
    let a = gw
        .shared
        .approvals
        .deny(ApprovalId(id), &who, reason, now_ts())
        .map_err(|e| ApiError(status(e.http_status()), e.to_string()))?;
    lock(&gw.shared.grant_requests).remove(&id);
    gw.shared.audit(&serde_json::json!({
        "time_us": crate::gateway::now_us(), "event": "approval_denied", "approval": id,
        "approver": who.subject,
    }));
    Ok(Json(serde_json::json!({"approval": a})).into_response())
}

async fn list_grants(State(gw): State<Gateway>, headers: HeaderMap) -> Result<Response, ApiError> {
    let who = caller(&gw, &headers)?;
    let approver = (gw.shared.config.admin.as_ref())
        .is_some_and(|a| a.approver_groups.iter().any(|g| who.in_group(g)));
    // Approvers see every grant, anyone else their own.
    let grants: Vec<_> = gw
        .shared
        .grants
        .list()
        .map_err(|e| ApiError(status(e.http_status()), e.to_string()))?
        .into_iter()
        .filter(|g| approver || g.subject == who.subject)
        .collect();
    Ok(Json(grants).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GrantRequest {
    #[serde(default)]
    groups: Vec<String>,
    #[serde(default)]
    rules: Vec<String>,
    #[serde(rename = "for")]
    duration: String,
    reason: String,
    #[serde(default)]
    resource: Option<String>,
}

async fn request_grant(
    State(gw): State<Gateway>,
    headers: HeaderMap,
    Json(req): Json<GrantRequest>,
) -> Result<Response, ApiError> {
    let who = caller(&gw, &headers)?;
    let length: Duration = crate::config::parse_duration(&req.duration)
        .map_err(|e| ApiError(StatusCode::BAD_REQUEST, e))?;
    let longest = gw.shared.config.approvals.max_grant_duration;
    if length > longest {
        return Err(ApiError(
            StatusCode::BAD_REQUEST,
            format!(
                "grants last at most {} here ([approvals] max_grant_duration); asked for {}",
                crate::config::format_duration(longest),
                req.duration
            ),
        ));
    }
    let approvers = gw
        .shared
        .config
        .admin
        .as_ref()
        .map(|a| a.approver_groups.clone())
        .unwrap_or_default();
    if approvers.is_empty() {
        return Err(ApiError(
            StatusCode::CONFLICT,
            "no approver groups are configured".into(),
        ));
    }
    let now = now_ts();
    let max = crate::approvals::MAX_PENDING_PER_SUBJECT;
    if gw.shared.approvals.pending_count(&who.subject, now) >= max {
        return Err(ApiError(
            StatusCode::TOO_MANY_REQUESTS,
            format!(
                "{} already has {max} requests waiting for approval",
                who.subject
            ),
        ));
    }
    let selector = match &req.resource {
        Some(r) => ResourceSelector::name(r.clone()),
        None => ResourceSelector::any(),
    };
    let id = format!("g-{}", crate::pgcluster::random_token(10));
    let mut grant = Grant::new(id, who.subject.clone(), now, now.saturating_add(length));
    grant.resource = selector;
    grant.groups = req.groups.clone();
    grant.rules = req.rules.clone();
    grant.reason = req.reason.clone();
    let summary = format!(
        "grant for {}: groups [{}] rules [{}] for {} ({})",
        who.subject,
        req.groups.join(", "),
        req.rules.join(", "),
        req.duration,
        req.reason
    );
    let verdict = Verdict::Approve {
        rules: vec!["grant-request".into()],
        approvers,
        needed: 1,
        timeout: gw.shared.config.approvals.timeout,
    };
    let resource =
        guard_core::Resource::new(req.resource.clone().unwrap_or_else(|| "*".into()), "any");
    let request =
        ApprovalRequest::from_verdict(&who, &resource, &Facts::new(), summary, &verdict, now)
            .ok_or_else(|| {
                ApiError(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "no approval request".into(),
                )
            })?;
    let a = gw
        .shared
        .approvals
        .open(request, now)
        .map_err(|e| ApiError(status(e.http_status()), e.to_string()))?;
    {
        // Requests whose approval ended without starting the grant (expired, denied,
        // cancelled, or forgotten by a full store) go; an approved one is the approving
        // call's to take.
        let mut requests = lock(&gw.shared.grant_requests);
        requests.retain(|id, _| {
            (gw.shared.approvals.get(ApprovalId(*id))).is_ok_and(|a| {
                matches!(
                    a.state_at(now),
                    ApprovalState::Pending | ApprovalState::Approved
                )
            })
        });
        requests.insert(a.id.0, grant);
    }
    Ok((
        StatusCode::ACCEPTED,
        Json(serde_json::json!({"approval": a})),
    )
        .into_response())
}

async fn revoke_grant(
    State(gw): State<Gateway>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let who = caller(&gw, &headers)?;
    let g = gw
        .shared
        .grants
        .get(&id)
        .map_err(|e| ApiError(status(e.http_status()), e.to_string()))?
        .ok_or_else(|| ApiError(StatusCode::NOT_FOUND, format!("no grant {id}")))?;
    let approver = gw
        .shared
        .config
        .admin
        .as_ref()
        .is_some_and(|a| a.approver_groups.iter().any(|grp| who.in_group(grp)));
    if g.subject != who.subject && !approver {
        return Err(ApiError(
            StatusCode::FORBIDDEN,
            "only the grantee or an approver may revoke".into(),
        ));
    }
    let g = gw
        .shared
        .grants
        .revoke(&id, now_ts())
        .map_err(|e| ApiError(status(e.http_status()), e.to_string()))?;
    gw.shared.audit(&serde_json::json!({
        "time_us": crate::gateway::now_us(), "event": "grant_revoked", "grant": id, "by": who.subject,
    }));
    Ok(Json(g).into_response())
}

async fn list_sessions(
    State(gw): State<Gateway>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    ops(&gw, &headers)?;
    Ok(Json(gw.sessions()).into_response())
}

async fn kill_session(
    State(gw): State<Gateway>,
    headers: HeaderMap,
    Path(id): Path<u64>,
) -> Result<Response, ApiError> {
    ops(&gw, &headers)?;
    if gw.kill_session(id) {
        Ok(Json(serde_json::json!({"killed": id})).into_response())
    } else {
        Err(ApiError(StatusCode::NOT_FOUND, format!("no session {id}")))
    }
}

async fn reload(State(gw): State<Gateway>, headers: HeaderMap) -> Result<Response, ApiError> {
    ops(&gw, &headers)?;
    gw.reload()
        .map_err(|e| ApiError(StatusCode::UNPROCESSABLE_ENTITY, format!("{e:#}")))?;
    Ok(Json(serde_json::json!({"reloaded": true})).into_response())
}
