//! One Postgres client session: startup and TLS, client authentication, upstream login, then
//! two pumps: client -> upstream (decide every statement) and upstream -> client (replace the
//! errors of refused statements, mask results).
//!
//! # How a refusal reaches the client in order
//!
//! Responses must reach the client in the order of its messages, and client and upstream must
//! agree on the transaction state. So a refused statement is not answered by the gateway
//! directly: in its place the gateway sends the upstream a statement that fails to parse
//! (`guard_denied_<session>_<n>`, a syntax error). The upstream answers it in order, with the
//! right ReadyForQuery status, and really aborts an open transaction block; in the extended
//! protocol it then discards until Sync, as for any error. The upstream -> client pump
//! recognises the error by its token and replaces it with the gateway's ErrorResponse
//! (SQLSTATE 42501, naming the rule). Nothing of the refused statement reaches the upstream.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use bytes::{Buf, BytesMut};
use guard_core::{AuthMethod, Identity};
use guard_sql::pg::auth::{SCRAM_SHA_256, ScramServer, nonce_from_bytes};
use guard_sql::pg::{
    AuthKind, Authentication, BackendDecoder, BackendKeyData, BackendMessage, Decoded,
    ErrorBuilder, FrontendDecoder, FrontendMessage, Limits, Parse, PgStr, Query, ReadyForQuery,
    Severity, TransactionStatus,
};
use tokio::io::{AsyncWriteExt, ReadHalf, WriteHalf};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch};

use crate::decide::{BindParam, Decider, Masks, Outcome};
use crate::gateway::{CancelTarget, Runtime, Shared, lock};
use crate::io::{Stream, fill};

/// Startup parameters never passed upstream as the client sent them.
const RESERVED_PARAMS: [&str; 5] = [
    "user",
    "database",
    "application_name",
    "replication",
    "options",
];

/// Serves one client connection to its end.
pub(crate) async fn serve(shared: Arc<Shared>, sock: TcpStream, peer: SocketAddr) -> Result<()> {
    // A connection that has not authenticated within `login_timeout` is dropped (as
    // PostgreSQL's authentication_timeout does): idle or slow clients cannot pile up.
    let limit = shared.listener.login_timeout;
    let login = match tokio::time::timeout(limit, login(&shared, sock)).await {
        Ok(Ok(Some(l))) => l,
        Ok(Ok(None)) => return Ok(()),
        Ok(Err(e)) => return Err(e),
        Err(_) => {
            shared
                .metrics
                .auth_failures
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            bail!("no login within {limit:?}");
        }
    };
    session(shared, login, peer).await
}

/// What the login phase hands the session: the authenticated client and what it asked for.
struct LoggedIn {
    client: Stream,
    buf: BytesMut,
    params: Vec<(String, String)>,
    database: String,
    up: Arc<crate::gateway::UpstreamRt>,
    startup_req: guard_sql::startup::StartupRequest,
    identity: Identity,
}

/// The startup packets, TLS and client authentication; `None` when the connection ended
/// there (refused, or a CancelRequest).
async fn login(shared: &Arc<Shared>, sock: TcpStream) -> Result<Option<LoggedIn>> {
    let limits = Limits::default();
    let mut dec = FrontendDecoder::new(limits);
    let mut client = Stream::Plain(sock);
    let mut buf = BytesMut::with_capacity(8192);

    // ---- startup: SSLRequest, GSSENCRequest, CancelRequest, StartupMessage
    let startup = loop {
        enum Step {
            Ssl,
            Gss,
            Cancel(i32, Vec<u8>),
            Startup(Vec<(String, String)>, u16),
            Other,
        }
        let (len, step) = match dec.decode(&buf) {
            Err(e) => {
                let _ = client.write_all(&fatal(e.sqlstate(), &e.to_string())).await;
                return Err(e.into());
            }
            Ok(Decoded::NeedMore { at_least }) => {
                if !fill(&mut client, &mut buf, at_least).await? {
                    return Ok(None);
                }
                continue;
            }
            Ok(Decoded::Message { len, msg }) => {
                let step = match msg {
                    FrontendMessage::SslRequest => Step::Ssl,
                    FrontendMessage::GssEncRequest => Step::Gss,
                    FrontendMessage::CancelRequest(c) => {
                        Step::Cancel(c.process_id, c.secret_key.to_vec())
                    }
                    FrontendMessage::Startup(s) => Step::Startup(
                        s.params
                            .iter()
                            .map(|(k, v)| {
                                (
                                    k.to_string_lossy().into_owned(),
                                    v.to_string_lossy().into_owned(),
                                )
                            })
                            .collect(),
                        s.version.minor,
                    ),
                    _ => Step::Other,
                };
                (len, step)
            }
        };
        buf.advance(len);
        match step {
            Step::Ssl => {
                let Some(acceptor) = shared.client_tls.clone() else {
                    client.write_all(b"N").await?;
                    continue;
                };
                client.write_all(b"S").await?;
                if !buf.is_empty() {
                    // Bytes sent before the handshake would be outside the encryption.
                    bail!("client sent data after SSLRequest before the TLS handshake");
                }
                let Stream::Plain(tcp) = client else {
                    bail!("a second SSLRequest")
                };
                client = Stream::ServerTls(Box::new(
                    acceptor.accept(tcp).await.context("TLS handshake")?,
                ));
            }
            Step::Gss => client.write_all(b"N").await?,
            Step::Cancel(pid, secret) => {
                handle_cancel(shared, pid, &secret).await;
                return Ok(None);
            }
            Step::Startup(params, minor) => break (params, minor),
            Step::Other => bail!("unexpected message during startup"),
        }
    };
    let (params, minor) = startup;
    let param = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };

    // Protocol 3.2 clients (PostgreSQL 18) and protocol options: negotiate down to 3.0, which
    // is what the upstream session speaks.
    let unrecognized: Vec<&str> = params
        .iter()
        .filter(|(k, _)| k.starts_with("_pq_."))
        .map(|(k, _)| k.as_str())
        .collect();
    if minor > 0 || !unrecognized.is_empty() {
        let mut out = Vec::new();
        let names: Vec<PgStr<'_>> = unrecognized
            .iter()
            .filter_map(|n| PgStr::try_new(n.as_bytes()).ok())
            .collect();
        guard_sql::pg::NegotiateProtocolVersion::encode_parts(0, &names, &mut out);
        client.write_all(&out).await?;
    }

    let Some(user) = param("user") else {
        client
            .write_all(&fatal("28000", "no user name in the startup packet"))
            .await?;
        return Ok(None);
    };
    let database = param("database").unwrap_or_else(|| user.clone());
    let rt = shared.runtime();
    let Some(up) = rt.resources.get(&database).cloned() else {
        client
            .write_all(&fatal(
                "3D000",
                &format!("guard: no resource named \"{database}\""),
            ))
            .await?;
        return Ok(None);
    };
    // `replication` and `options` are decided by the policy (after authentication), never
    // passed on blindly; what the gateway cannot read is refused here.
    let startup_req = match guard_sql::startup::StartupRequest::from_params(
        params.iter().map(|(k, v)| (k.as_str(), v.as_str())),
    ) {
        Ok(r) => r,
        Err(e) => {
            client
                .write_all(&fatal(e.sqlstate(), &format!("guard: {e}")))
                .await?;
            return Ok(None);
        }
    };

    // ---- client authentication
    let identity = match authenticate(shared, &rt, &mut client, &mut dec, &mut buf, &user).await? {
        Some(id) => id,
        None => {
            shared
                .metrics
                .auth_failures
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            return Ok(None);
        }
    };
    Ok(Some(LoggedIn {
        client,
        buf,
        params,
        database,
        up,
        startup_req,
        identity,
    }))
}

/// An authenticated session: the startup decision, the upstream login, then the relay.
async fn session(shared: Arc<Shared>, login: LoggedIn, peer: SocketAddr) -> Result<()> {
    let LoggedIn {
        mut client,
        buf,
        params,
        database,
        up,
        startup_req,
        identity,
    } = login;

    // Authenticated: say so now, so that what follows (a held startup's notices, an upstream
    // that cannot be reached) reaches a client that is waiting for the session to start.
    let mut auth_ok = Vec::new();
    Authentication::Ok.encode(&mut auth_ok);
    client.write_all(&auth_ok).await?;

    let Some((session_id, kill)) = shared.register_session(&identity, &database, peer) else {
        let max = shared
            .listener
            .max_sessions_per_identity
            .unwrap_or_default();
        let message = format!(
            "guard: {} already has {max} sessions open (max_sessions_per_identity)",
            identity.subject
        );
        client.write_all(&fatal("53300", &message)).await?;
        return Ok(());
    };
    let resource = up.resource.clone();
    let rec = match crate::record::Rec::start(
        &shared,
        session_id,
        &identity,
        &resource,
        &peer.to_string(),
    ) {
        Ok(r) => r,
        Err(e) => {
            shared.unregister_session(session_id);
            tracing::error!(error = %e, "cannot start the session recording");
            client.write_all(&fatal("58030", &e.to_string())).await?;
            return Ok(());
        }
    };
    let rec = Arc::new(rec);
    let mut decider = Decider::new(shared.clone(), identity, resource, session_id, rec.clone());
    let end = |reason: &str| {
        shared.unregister_session(session_id);
        rec.finish(guard_record::SessionEnd::new(reason.to_owned()));
        tracing::info!(session = session_id, reason, "session ended");
    };

    // ---- the startup decision
    let mut pass_on: Vec<(String, String)> = params
        .iter()
        .filter(|(k, _)| !RESERVED_PARAMS.contains(&k.as_str()) && !k.starts_with("_pq_."))
        .cloned()
        .collect();
    if !startup_req.is_plain() {
        if let Err(message) = decide_startup(&mut decider, &startup_req, &mut client).await {
            let _ = client.write_all(&fatal("42501", &message)).await;
            end("startup refused");
            return Ok(());
        }
        if let Some(r) = startup_req.replication {
            pass_on.push(("replication".to_owned(), r.param_value().to_owned()));
        }
        if !startup_req.settings.is_empty() {
            pass_on.push(("options".to_owned(), startup_req.encode_options()));
        }
    }

    // ---- upstream login
    let app = identity_app_name(&decider.identity.subject);
    let upstream = match crate::upstream::connect(&up, &app, &pass_on).await {
        Ok(u) => u,
        Err(e) => {
            let msg = match e.downcast_ref::<crate::upstream::UpstreamError>() {
                Some(u) => format!("guard: {u}"),
                None => format!("guard: cannot reach the upstream of \"{database}\""),
            };
            tracing::warn!(error = %format!("{e:#}"), resource = %database, "upstream login failed");
            let _ = client.write_all(&fatal("08006", &msg)).await;
            end("upstream login failed");
            return Ok(());
        }
    };
    // The gateway reads statements as a server with standard_conforming_strings on and an
    // ASCII-safe client encoding does (guard_sql::lexing): a session where the server reads
    // them otherwise (a startup parameter, a role's or database's default) is not served.
    if let Some((name, value)) = parameter_statuses(&upstream.parameter_status)
        .into_iter()
        .find(|(n, v)| !guard_sql::lexing::keeps_lexing(n, v))
    {
        let msg = lexing_refusal(&name, &value);
        let _ = client.write_all(&fatal("0A000", &msg)).await;
        end("the server would read statements differently");
        return Ok(());
    }

    // ---- the client's own cancel key, mapped to the upstream's
    let (pid, secret) = {
        let mut cancel = lock(&shared.cancel);
        let mut pid: i32;
        loop {
            pid = rand::random::<i32>() & 0x7fff_ffff;
            if pid != 0 && !cancel.contains_key(&pid) {
                break;
            }
        }
        let secret: [u8; 4] = rand::random();
        cancel.insert(
            pid,
            CancelTarget {
                secret: secret.to_vec(),
                upstream: up.clone(),
                upstream_pid: upstream.process_id,
                upstream_secret: upstream.secret_key.clone(),
                cancels: decider.cancels.clone(),
            },
        );
        (pid, secret)
    };
    let mut hello = Vec::new();
    hello.extend_from_slice(&upstream.parameter_status);
    BackendKeyData {
        process_id: pid,
        secret_key: &secret,
    }
    .encode(&mut hello);
    ReadyForQuery {
        status: TransactionStatus::Idle,
    }
    .encode(&mut hello);
    if client.write_all(&hello).await.is_err() {
        lock(&shared.cancel).remove(&pid);
        end("client left before the session started");
        return Ok(());
    }

    shared
        .metrics
        .sessions_total
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    tracing::info!(session = session_id, subject = %decider.identity.subject, resource = %database, %peer, "session started");
    let result = relay(shared.clone(), decider, client, buf, upstream, kill).await;
    shared.unregister_session(session_id);
    lock(&shared.cancel).remove(&pid);
    let reason = match &result {
        Ok(r) => r.clone(),
        Err(e) => format!("{e:#}"),
    };
    rec.finish(guard_record::SessionEnd::new(reason.clone()));
    tracing::info!(session = session_id, reason = %reason, "session ended");
    result.map(|_| ())
}

/// Decides a startup that asks for a walsender or sets parameters (`options`). `Err(message)`:
/// refused. A hold waits for approval here, before the upstream session exists; its notices
/// reach the client, which is waiting for the session to start.
async fn decide_startup(
    decider: &mut Decider,
    req: &guard_sql::startup::StartupRequest,
    client: &mut Stream,
) -> std::result::Result<(), String> {
    let summary = req.summary();
    let outcome = decider.decide(&Arc::from([req.facts()]), None, &summary, &[], "startup");
    let masks = match outcome {
        Outcome::Refuse { message } => return Err(message),
        Outcome::Go { masks } => masks,
        hold @ Outcome::Hold { .. } => {
            let (tx, mut rx) = mpsc::unbounded_channel::<Vec<u8>>();
            let wait = crate::approvals::hold(decider, &hold, &summary, &tx);
            tokio::pin!(wait);
            loop {
                tokio::select! {
                    r = &mut wait => {
                        while let Ok(notice) = rx.try_recv() {
                            let _ = client.write_all(&notice).await;
                        }
                        // No cancel key exists yet: only refusals end a held startup.
                        break r.map_err(|n| n.message)?;
                    }
                    Some(notice) = rx.recv() => {
                        if client.write_all(&notice).await.is_err() {
                            return Err("guard: the client left while its startup was held".into());
                        }
                    }
                }
            }
        }
    };
    if req.replication.is_some() && !masks.is_empty() && decider.shared.config.masking.enabled {
        return Err(format!(
            "guard: a replication connection streams data that cannot be masked, and the policy \
             asks for mask profiles ({}) for this identity",
            masks.join(", ")
        ));
    }
    Ok(())
}

/// Authenticates the client. `Ok(None)`: refused (the client was told).
async fn authenticate(
    shared: &Arc<Shared>,
    rt: &Runtime,
    client: &mut Stream,
    dec: &mut FrontendDecoder,
    buf: &mut BytesMut,
    user: &str,
) -> Result<Option<Identity>> {
    if let Some(su) = rt.users.get(user) {
        // SCRAM-SHA-256 against the stored secret: the password never crosses the wire, so
        // this is safe without TLS too.
        let mut out = Vec::new();
        Authentication::encode_sasl(&[PgStr::from_static(SCRAM_SHA_256)], &mut out);
        client.write_all(&out).await?;
        dec.expect_auth(Some(AuthKind::SaslInitial));
        let nonce: [u8; 18] = rand::random();
        let mut server = ScramServer::new(su.secret.clone(), &nonce_from_bytes(&nonce))
            .context("SCRAM server set-up")?;
        let first = read_auth(client, dec, buf).await?;
        let reply = match first {
            AuthMsg::SaslInitial(mech, data) if mech == SCRAM_SHA_256 => {
                server.handle_client_first(&data)
            }
            _ => {
                client
                    .write_all(&fatal(
                        "28000",
                        "expected a SCRAM-SHA-256 SASLInitialResponse",
                    ))
                    .await?;
                return Ok(None);
            }
        };
        let Ok(server_first) = reply else {
            client.write_all(&auth_failed(user)).await?;
            return Ok(None);
        };
        let mut out = Vec::new();
        Authentication::SaslContinue {
            data: server_first.as_bytes(),
        }
        .encode(&mut out);
        client.write_all(&out).await?;
        let AuthMsg::Sasl(data) = read_auth(client, dec, buf).await? else {
            client
                .write_all(&fatal("28000", "expected a SASLResponse"))
                .await?;
            return Ok(None);
        };
        let Ok(server_final) = server.handle_client_final(&data) else {
            client.write_all(&auth_failed(user)).await?;
            return Ok(None);
        };
        let mut out = Vec::new();
        Authentication::SaslFinal {
            data: server_final.as_bytes(),
        }
        .encode(&mut out);
        client.write_all(&out).await?;
        return Ok(Some(
            Identity::new(user, AuthMethod::Password).with_groups(su.groups.clone()),
        ));
    }

    // A bearer token (OIDC JWT) as the password: only over TLS unless explicitly allowed.
    if !client.is_tls() && !shared.listener.dangerous_allow_plaintext_auth {
        client
            .write_all(&fatal(
                "28000",
                "guard: connect with TLS (sslmode=require) to send a token; plaintext password \
                 authentication is refused",
            ))
            .await?;
        return Ok(None);
    }
    let mut out = Vec::new();
    Authentication::CleartextPassword.encode(&mut out);
    client.write_all(&out).await?;
    dec.expect_auth(Some(AuthKind::Password));
    let AuthMsg::Password(token) = read_auth(client, dec, buf).await? else {
        client
            .write_all(&fatal("28000", "expected a PasswordMessage"))
            .await?;
        return Ok(None);
    };
    // Verifying may block on a JWKS fetch (a token naming an unknown key id): off the session
    // thread, whose other sessions keep running meanwhile.
    let verifying = shared.clone();
    let verified = match tokio::task::spawn_blocking(move || {
        crate::identity::verify_token(&verifying, &token)
    })
    .await
    {
        Ok(v) => v,
        Err(e) => Err(anyhow::anyhow!("token verification failed: {e}")),
    };
    match verified {
        Ok(id) => Ok(Some(id)),
        Err(e) => {
            tracing::info!(user, error = %e, "token refused");
            client.write_all(&auth_failed(user)).await?;
            Ok(None)
        }
    }
}

enum AuthMsg {
    SaslInitial(String, Vec<u8>),
    Sasl(Vec<u8>),
    Password(String),
    Other,
}

async fn read_auth(
    client: &mut Stream,
    dec: &mut FrontendDecoder,
    buf: &mut BytesMut,
) -> Result<AuthMsg> {
    loop {
        let (len, m) = match dec.decode(buf)? {
            Decoded::NeedMore { at_least } => {
                if !fill(client, buf, at_least).await? {
                    bail!("client closed the connection during authentication");
                }
                continue;
            }
            Decoded::Message { len, msg } => {
                let m = match msg {
                    FrontendMessage::SaslInitialResponse(s) => AuthMsg::SaslInitial(
                        s.mechanism.to_string_lossy().into_owned(),
                        s.data.unwrap_or_default().to_vec(),
                    ),
                    FrontendMessage::SaslResponse(s) => AuthMsg::Sasl(s.data.to_vec()),
                    FrontendMessage::Password(p) => {
                        AuthMsg::Password(p.password.to_string_lossy().into_owned())
                    }
                    _ => AuthMsg::Other,
                };
                (len, m)
            }
        };
        buf.advance(len);
        return Ok(m);
    }
}

async fn handle_cancel(shared: &Shared, pid: i32, secret: &[u8]) {
    let target = lock(&shared.cancel).get(&pid).cloned();
    let Some(t) = target else { return };
    if !constant_time_eq(&t.secret, secret) {
        return;
    }
    // A statement held for approval is withdrawn; one running upstream is cancelled there.
    t.cancels.send_modify(|n| *n = n.wrapping_add(1));
    if let Err(e) = crate::upstream::cancel(&t.upstream, t.upstream_pid, &t.upstream_secret).await {
        tracing::warn!(error = %format!("{e:#}"), "forwarding a cancel request failed");
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// How much a client may send while one of its statements is held for approval (read and
/// kept, to notice when it leaves); past this the gateway stops reading until the hold ends.
const HOLD_READ_AHEAD: usize = 1 << 20;

/// The `application_name` a session of `subject` has upstream (CONTRACTS.md).
pub(crate) fn identity_app_name(subject: &str) -> String {
    format!("guard:{subject}")
}

/// The statement that replaces `sql` when it is a plain `SET [LOCAL] application_name ...`
/// (drivers send one when they connect: JDBC's `SET application_name = 'PostgreSQL JDBC
/// Driver'`): the same SET of the identity's name, so the client gets the answer it expects
/// (`SET`, a ParameterStatus) and the name upstream keeps saying who is behind the session.
/// Any other way of setting it is refused (decide.rs).
pub(crate) fn identity_name_set(sql: &str, subject: &str) -> Option<IdentityNameSet> {
    let set = guard_sql::classify::plain_set(sql).filter(|s| s.name == "application_name")?;
    // An escape string reads the same whatever standard_conforming_strings says.
    let name = identity_app_name(subject)
        .replace('\\', "\\\\")
        .replace('\'', "\\'");
    let scope = if set.local { "LOCAL " } else { "" };
    let text = format!("SET {scope}application_name = E'{name}'");
    // A subject with a NUL byte cannot be sent; the client's SET is refused instead.
    PgStr::try_new(text.as_bytes()).ok()?;
    Some(IdentityNameSet(text))
}

/// A statement from [`identity_name_set`].
pub(crate) struct IdentityNameSet(String);

impl IdentityNameSet {
    fn as_pg(&self) -> PgStr<'_> {
        PgStr::try_new(self.0.as_bytes()).unwrap_or(PgStr::EMPTY)
    }
}

/// A FATAL ErrorResponse.
pub(crate) fn fatal(code: &str, message: &str) -> Vec<u8> {
    let mut out = Vec::new();
    ErrorBuilder::new(Severity::Fatal, code, message).encode_error(&mut out);
    out
}

fn auth_failed(user: &str) -> Vec<u8> {
    fatal(
        "28P01",
        &format!("password authentication failed for user \"{user}\""),
    )
}

// ------------------------------------------------------------------------------------------
// The relay

/// Responses expected from the upstream up to one ReadyForQuery: the unit of ordering.
#[derive(Default)]
struct Unit {
    /// Mask profiles of the statements of this unit.
    masks: Masks,
    /// Tokens of injected failing statements and the errors that replace theirs.
    denials: Vec<(String, Vec<u8>)>,
    /// One entry per Describe sent upstream, in order: `true` when the gateway added it (to
    /// learn a portal's result formats for masking), so its answer is not shown.
    describes: VecDeque<bool>,
    /// When the unit's first message arrived (for the statement latency histogram).
    started: Option<std::time::Instant>,
    /// The unit is a COPY probe of the simple protocol (Parse, Describe, Close and Sync of
    /// the gateway's own): nothing of it reaches the client but notices.
    hidden: bool,
    /// Parse messages sent upstream in this unit, the gateway's included.
    parses: u32,
    /// COPY probes in this unit: the ordinal of their Parse among `parses`, and what they
    /// are for. Their answers (ParseComplete, ParameterDescription, RowDescription or
    /// NoData, CloseComplete) are not shown.
    probes: VecDeque<(u32, Probe)>,
}

/// A hidden Parse + Describe + Close of the SELECT equivalent to a `COPY ... TO STDOUT` under
/// column rules, sent right before the COPY (masking.rs).
struct Probe {
    spec: crate::masking::CopySpec,
    masks: Masks,
}

/// Where the upstream -> client pump is in the answer to a COPY probe.
enum Probing {
    Idle,
    /// ParseComplete seen: ParameterDescription and RowDescription (or NoData) follow.
    Describe(Probe),
    /// Described: CloseComplete follows.
    Close,
}

#[derive(Default)]
struct Pipe {
    units: VecDeque<Unit>,
    open: bool,
}

impl Pipe {
    fn current(&mut self) -> &mut Unit {
        if !self.open || self.units.is_empty() {
            self.units.push_back(Unit {
                started: Some(std::time::Instant::now()),
                ..Unit::default()
            });
            self.open = true;
        }
        // Just ensured non-empty.
        self.units.back_mut().expect("a unit was pushed above")
    }
    fn close(&mut self) {
        self.open = false;
    }
}

async fn relay(
    shared: Arc<Shared>,
    decider: Decider,
    client: Stream,
    client_buf: BytesMut,
    upstream: crate::upstream::Upstream,
    mut kill: watch::Receiver<bool>,
) -> Result<String> {
    let (cr, cw) = tokio::io::split(client);
    let (ur, uw) = tokio::io::split(upstream.stream);
    let pipe = Arc::new(Mutex::new(Pipe::default()));
    let (notice_tx, notice_rx) = mpsc::unbounded_channel::<Vec<u8>>();
    let session_id = decider.session_id;
    let resource_name = decider.resource.name.clone();
    let rec = decider.rec.clone();
    let lexing_lost = decider.lexing_lost.clone();
    let front = Front {
        decider,
        pipe: pipe.clone(),
        notices: notice_tx,
        stmt_sql: HashMap::new(),
        portal_sql: HashMap::new(),
        portal_params: HashMap::new(),
        discarding: false,
        denied: 0,
        describe_portal: None,
        copy_in: false,
        inject: BytesMut::new(),
        probes_sent: 0,
        replacement: None,
    };
    let back = Back {
        shared: shared.clone(),
        resource: resource_name,
        pipe,
        rec,
        client_encoding: client_encoding(&upstream.parameter_status),
        lexing_lost,
    };
    let mut f = tokio::spawn(front.run(cr, client_buf, uw));
    let mut b = tokio::spawn(back.run(ur, upstream.buf, cw, notice_rx));
    let res = tokio::select! {
        r = &mut f => { b.abort(); r }
        r = &mut b => { f.abort(); r }
        _ = kill.wait_for(|k| *k) => {
            tracing::info!(session = session_id, "session killed");
            f.abort(); b.abort();
            return Ok("killed by an operator".to_owned());
        }
    };
    match res {
        Ok(r) => r,
        Err(e) if e.is_cancelled() => Ok("cancelled".to_owned()),
        Err(e) => Err(anyhow::anyhow!("session task failed: {e}")),
    }
}

/// Client -> upstream.
struct Front {
    decider: Decider,
    pipe: Arc<Mutex<Pipe>>,
    notices: mpsc::UnboundedSender<Vec<u8>>,
    /// Statement name -> its text (for audit lines and approval summaries at Execute).
    stmt_sql: HashMap<String, String>,
    /// Portal name -> statement name.
    portal_sql: HashMap<String, String>,
    /// Portal name -> its Bind parameters (kept only when recording, for the input event).
    portal_params: HashMap<String, Vec<Option<BindParam>>>,
    /// After a refusal in the extended protocol: drop messages until Sync.
    discarding: bool,
    denied: u64,
    /// Set by an Execute whose results are masked: send a Describe of this portal first, so
    /// the result formats are known.
    describe_portal: Option<String>,
    /// An Execute of `COPY ... FROM STDIN` went upstream: until CopyDone or CopyFail the
    /// server ignores Sync.
    copy_in: bool,
    /// Messages of the gateway's to send upstream before the client's message at hand (a
    /// COPY probe).
    inject: BytesMut,
    probes_sent: u64,
    /// What goes upstream instead of the client's message at hand, if anything: a plain `SET
    /// application_name` becomes a SET of the identity's name (see `identity_name_set`).
    replacement: Option<Vec<u8>>,
}

enum Act {
    Forward,
    Drop,
    Refuse {
        message: String,
        extended: bool,
    },
    Hold {
        outcome: Outcome,
        sql: String,
        extended: bool,
        copy: Option<Box<crate::masking::CopySpec>>,
    },
    ForwardThenEnd,
}

impl Front {
    async fn run(
        mut self,
        mut cr: ReadHalf<Stream>,
        mut buf: BytesMut,
        mut uw: WriteHalf<Stream>,
    ) -> Result<String> {
        let mut dec = FrontendDecoder::new_after_startup(Limits::default());
        let mut out = BytesMut::with_capacity(16 * 1024);
        loop {
            let (len, act) = match dec.decode(&buf) {
                Err(e) => {
                    let _ = self.notices.send(fatal(e.sqlstate(), &e.to_string()));
                    return Err(e.into());
                }
                Ok(Decoded::NeedMore { at_least }) => {
                    if !out.is_empty() {
                        uw.write_all(&out).await?;
                        out.clear();
                    }
                    if !fill(&mut cr, &mut buf, at_least).await? {
                        return Ok("client closed the connection".to_owned());
                    }
                    continue;
                }
                Ok(Decoded::Message { len, msg }) => (len, self.on_message(&msg)),
            };
            if let Some(e) = self.decider.rec_failed.take() {
                // Fail closed: nothing more is forwarded unrecorded.
                let _ = self.notices.send(fatal("58030", &e.to_string()));
                tokio::time::sleep(Duration::from_millis(100)).await;
                return Err(e.into());
            }
            if let Some(portal) = self.describe_portal.take() {
                let p = PgStr::try_new(portal.as_bytes()).unwrap_or(PgStr::EMPTY);
                guard_sql::pg::Describe {
                    target: guard_sql::pg::Target::Portal,
                    name: p,
                }
                .encode(&mut out);
                lock(&self.pipe).current().describes.push_back(true);
            }
            if !self.inject.is_empty() {
                out.extend_from_slice(&self.inject);
                self.inject.clear();
            }
            match act {
                Act::Forward => match self.replacement.take() {
                    Some(m) => out.extend_from_slice(&m),
                    None => out.extend_from_slice(&buf[..len]),
                },
                Act::Drop => {}
                Act::ForwardThenEnd => {
                    out.extend_from_slice(&buf[..len]);
                    uw.write_all(&out).await?;
                    return Ok("client terminated the session".to_owned());
                }
                Act::Refuse { message, extended } => {
                    self.inject_denial(&message, extended, &mut out)
                }
                Act::Hold {
                    outcome,
                    sql,
                    extended,
                    copy,
                } => {
                    // Everything before the held statement goes out first.
                    if !out.is_empty() {
                        uw.write_all(&out).await?;
                        out.clear();
                    }
                    // Meanwhile the client may go on sending (pipelined messages, kept for
                    // after the hold, up to HOLD_READ_AHEAD bytes); if it leaves, the
                    // statement is withdrawn as by a CancelRequest.
                    let (held, left) = {
                        let wait =
                            crate::approvals::hold(&self.decider, &outcome, &sql, &self.notices);
                        tokio::pin!(wait);
                        let mut left = false;
                        loop {
                            tokio::select! {
                                r = &mut wait => break (r, left),
                                n = fill(&mut cr, &mut buf, 0),
                                    if !left && buf.len() < HOLD_READ_AHEAD =>
                                {
                                    if !matches!(n, Ok(true)) {
                                        left = true;
                                        self.decider.cancels.send_modify(|n| *n = n.wrapping_add(1));
                                    }
                                }
                            }
                        }
                    };
                    if left {
                        return Ok(
                            "client closed the connection while a statement was held".to_owned()
                        );
                    }
                    match held {
                        Ok(masks) => {
                            let probed = match copy {
                                Some(spec) => self.probe(*spec, &masks, extended),
                                None => Ok(()),
                            };
                            match probed {
                                Ok(()) => {
                                    out.extend_from_slice(&self.inject);
                                    self.inject.clear();
                                    lock(&self.pipe).current().masks.extend(masks);
                                    match self.replacement.take() {
                                        Some(m) => out.extend_from_slice(&m),
                                        None => out.extend_from_slice(&buf[..len]),
                                    }
                                    if !extended {
                                        lock(&self.pipe).close();
                                    }
                                }
                                Err(message) => self.inject_denial(&message, extended, &mut out),
                            }
                        }
                        Err(not_run) => {
                            self.inject_error(not_run.code, &not_run.message, extended, &mut out)
                        }
                    }
                }
            }
            buf.advance(len);
        }
    }

    /// Sends the upstream a statement that fails to parse in place of a refused one, and
    /// remembers the error that replaces its answer.
    fn inject_denial(&mut self, message: &str, extended: bool, out: &mut BytesMut) {
        self.inject_error("42501", message, extended, out);
    }

    /// [`Front::inject_denial`] with another SQLSTATE (a refusal's hint goes with 42501 only).
    fn inject_error(&mut self, code: &str, message: &str, extended: bool, out: &mut BytesMut) {
        self.denied += 1;
        let token = format!("guard_denied_{}_{}", self.decider.session_id, self.denied);
        let mut err = Vec::new();
        let mut e = ErrorBuilder::new(Severity::Error, code, message);
        if code == "42501" {
            e.hint("ask an approver, or request a grant: guard-gateway grants request --help");
        }
        e.encode_error(&mut err);
        let t = PgStr::try_new(token.as_bytes()).unwrap_or(PgStr::EMPTY);
        {
            let mut pipe = lock(&self.pipe);
            pipe.current().denials.push((token.clone(), err));
            if extended {
                // A named statement, so the client's unnamed statement is left alone.
                pipe.current().parses += 1;
                Parse::encode_parts(t, t, &[], out);
                self.discarding = true;
            } else {
                Query { sql: t }.encode(out);
                pipe.close();
            }
        }
    }

    /// Queues a COPY probe in `self.inject`: a Parse + Describe + Close of the COPY's SELECT
    /// under a name of the gateway's, answered before the COPY (masking.rs). In the simple
    /// protocol it has a Sync and a unit of its own. `Err(refusal)` when it cannot be sent.
    fn probe(
        &mut self,
        spec: crate::masking::CopySpec,
        masks: &Masks,
        extended: bool,
    ) -> std::result::Result<(), String> {
        let Ok(select) = PgStr::try_new(spec.select.as_bytes()) else {
            return Err("guard: the COPY's query holds a NUL byte".to_owned());
        };
        let name = format!(
            "guard_copy_{}_{}",
            self.decider.session_id,
            self.probes_sent + 1
        );
        let n = PgStr::try_new(name.as_bytes()).unwrap_or(PgStr::EMPTY);
        let mut msgs = BytesMut::new();
        Parse::encode_parts(n, select, &[], &mut msgs);
        guard_sql::pg::Describe {
            target: guard_sql::pg::Target::Statement,
            name: n,
        }
        .encode(&mut msgs);
        guard_sql::pg::Close {
            target: guard_sql::pg::Target::Statement,
            name: n,
        }
        .encode(&mut msgs);
        if !extended {
            FrontendMessage::Sync.encode(&mut msgs);
        }
        let probe = Probe {
            spec,
            masks: masks.clone(),
        };
        {
            let mut pipe = lock(&self.pipe);
            if extended {
                let unit = pipe.current();
                unit.probes.push_back((unit.parses, probe));
                unit.parses += 1;
            } else {
                if pipe.open && !pipe.units.is_empty() {
                    // A Sync of the gateway's would end the client's unsynchronized batch.
                    return Err("guard: a COPY TO STDOUT under column rules cannot follow \
                                extended-protocol messages without a Sync"
                        .to_owned());
                }
                let mut unit = Unit {
                    hidden: true,
                    parses: 1,
                    ..Unit::default()
                };
                unit.probes.push_back((0, probe));
                pipe.units.push_back(unit);
                pipe.close();
            }
        }
        self.probes_sent += 1;
        self.inject.extend_from_slice(&msgs);
        Ok(())
    }

    fn on_message(&mut self, msg: &FrontendMessage<'_>) -> Act {
        self.replacement = None;
        match msg {
            // PostgreSQL ignores Sync (and Flush) in copy-in mode: no ReadyForQuery answers it.
            FrontendMessage::Sync if self.copy_in => Act::Forward,
            FrontendMessage::CopyDone | FrontendMessage::CopyFail(_) => {
                self.decider.copy_in_end();
                self.copy_in = false;
                lock(&self.pipe).current();
                Act::Forward
            }
            FrontendMessage::Sync => {
                self.discarding = false;
                lock(&self.pipe).current();
                lock(&self.pipe).close();
                Act::Forward
            }
            _ if self.discarding => match msg {
                FrontendMessage::Terminate => Act::ForwardThenEnd,
                _ => Act::Drop,
            },
            FrontendMessage::CopyData(d) => {
                self.decider.copy_in_data(d.data);
                lock(&self.pipe).current();
                Act::Forward
            }
            FrontendMessage::Query(q) => {
                let sql = q.sql.to_string_lossy().into_owned();
                let c = self
                    .decider
                    .sql
                    .on_message(&self.decider.shared.classifier, msg);
                let facts = match &c {
                    Some(c) => self.decider.facts_of(c),
                    None => Arc::from(Vec::new()),
                };
                let outcome = self.decider.decide(&facts, c.as_ref(), &sql, &[], "query");
                let copy = self.decider.copy_spec.take();
                if let Some(set) = self.decider.identity_set.take() {
                    let mut m = Vec::new();
                    Query { sql: set.as_pg() }.encode(&mut m);
                    self.replacement = Some(m);
                }
                self.act(outcome, sql, false, copy)
            }
            FrontendMessage::Parse(p) => {
                let sql = p.query.to_string_lossy().into_owned();
                self.stmt_sql
                    .insert(p.name.to_string_lossy().into_owned(), sql.clone());
                let c = self
                    .decider
                    .sql
                    .on_message(&self.decider.shared.classifier, msg);
                let facts = match &c {
                    Some(c) => self.decider.facts_of(c),
                    None => Arc::from(Vec::new()),
                };
                let outcome = self.decider.decide(&facts, c.as_ref(), &sql, &[], "parse");
                if let Some(set) = self.decider.identity_set.take() {
                    let mut m = Vec::new();
                    Parse {
                        name: p.name,
                        query: set.as_pg(),
                        param_types: p.param_types,
                    }
                    .encode(&mut m);
                    self.replacement = Some(m);
                }
                match outcome {
                    // Approval is asked for at Execute, when the statement would run.
                    Outcome::Go { masks } | Outcome::Hold { masks, .. } => {
                        let mut pipe = lock(&self.pipe);
                        let unit = pipe.current();
                        unit.masks.extend(masks);
                        unit.parses += 1;
                        Act::Forward
                    }
                    Outcome::Refuse { message } => Act::Refuse {
                        message,
                        extended: true,
                    },
                }
            }
            FrontendMessage::Bind(b) => {
                let stmt = b.statement.to_string_lossy().into_owned();
                let portal = b.portal.to_string_lossy().into_owned();
                if self.decider.rec.enabled() {
                    let params = b
                        .params
                        .iter()
                        .enumerate()
                        .map(|(i, v)| {
                            let v = bytes::Bytes::copy_from_slice(v?);
                            Some(match b.param_formats.for_index(i) {
                                Some(1) => BindParam::Binary(v),
                                _ => BindParam::Text(v),
                            })
                        })
                        .collect();
                    self.portal_params.insert(portal.clone(), params);
                }
                self.portal_sql.insert(portal, stmt);
                let _ = self
                    .decider
                    .sql
                    .on_message(&self.decider.shared.classifier, msg);
                lock(&self.pipe).current();
                Act::Forward
            }
            FrontendMessage::Execute(e) => {
                let portal = e.portal.to_string_lossy().into_owned();
                let c = self
                    .decider
                    .sql
                    .on_message(&self.decider.shared.classifier, msg);
                let facts = match &c {
                    Some(c) => self.decider.facts_of(c),
                    None => Arc::from(Vec::new()),
                };
                let sql = self
                    .portal_sql
                    .get(&portal)
                    .and_then(|s| self.stmt_sql.get(s))
                    .cloned()
                    .unwrap_or_default();
                let params = self.portal_params.remove(&portal).unwrap_or_default();
                // Decided again: grants may have expired or been revoked since Parse.
                let outcome = self
                    .decider
                    .decide(&facts, c.as_ref(), &sql, &params, "execute");
                let masked = match &outcome {
                    Outcome::Go { masks } | Outcome::Hold { masks, .. } => !masks.is_empty(),
                    Outcome::Refuse { .. } => false,
                };
                if masked && self.decider.shared.config.masking.enabled {
                    self.describe_portal = Some(portal);
                }
                if matches!(outcome, Outcome::Go { .. })
                    && facts.iter().any(|f| crate::decide::is_client_copy(f, "in"))
                {
                    self.copy_in = true;
                }
                let copy = self.decider.copy_spec.take();
                self.act(outcome, sql, true, copy)
            }
            FrontendMessage::Describe(_) => {
                lock(&self.pipe).current().describes.push_back(false);
                Act::Forward
            }
            FrontendMessage::Close(c) => {
                if c.target == guard_sql::pg::Target::Portal {
                    let name = c.name.to_string_lossy();
                    self.portal_params.remove(name.as_ref());
                    self.portal_sql.remove(name.as_ref());
                }
                let _ = self
                    .decider
                    .sql
                    .on_message(&self.decider.shared.classifier, msg);
                lock(&self.pipe).current();
                Act::Forward
            }
            FrontendMessage::FunctionCall(_) => Act::Refuse {
                message:
                    "guard: the fastpath FunctionCall message is refused (its effect cannot be \
                          classified); call the function in a statement"
                        .to_owned(),
                extended: false,
            },
            FrontendMessage::Terminate => Act::ForwardThenEnd,
            _ => {
                lock(&self.pipe).current();
                Act::Forward
            }
        }
    }

    fn act(
        &mut self,
        outcome: Outcome,
        sql: String,
        extended: bool,
        copy: Option<crate::masking::CopySpec>,
    ) -> Act {
        match outcome {
            Outcome::Go { masks } => {
                if let Some(spec) = copy
                    && let Err(message) = self.probe(spec, &masks, extended)
                {
                    return Act::Refuse { message, extended };
                }
                let mut pipe = lock(&self.pipe);
                pipe.current().masks.extend(masks);
                if !extended {
                    pipe.close();
                }
                Act::Forward
            }
            Outcome::Refuse { message } => Act::Refuse { message, extended },
            hold @ Outcome::Hold { .. } => Act::Hold {
                outcome: hold,
                sql,
                extended,
                copy: copy.map(Box::new),
            },
        }
    }
}

/// Upstream -> client.
struct Back {
    shared: Arc<Shared>,
    resource: String,
    pipe: Arc<Mutex<Pipe>>,
    rec: Arc<crate::record::Rec>,
    /// The session's `client_encoding` (ParameterStatus), which COPY data is written in.
    client_encoding: String,
    /// Shared with the Decider: why statements are refused since the server reported reading
    /// them otherwise than the gateway.
    lexing_lost: Arc<std::sync::OnceLock<String>>,
}

impl Back {
    async fn run(
        mut self,
        mut ur: ReadHalf<Stream>,
        mut buf: BytesMut,
        mut cw: WriteHalf<Stream>,
        mut notices: mpsc::UnboundedReceiver<Vec<u8>>,
    ) -> Result<String> {
        let mut dec = BackendDecoder::new(Limits::default());
        let recording = self.rec.enabled();
        let mut rec_cols: Vec<String> = Vec::new();
        let mut rec_rows: Vec<Vec<Option<String>>> = Vec::new();
        let mut rec_bytes = 0u64;
        // COPY TO STDOUT output as the client got it (a prefix), and whether a COPY is running.
        let mut rec_copy: Vec<u8> = Vec::new();
        let mut rec_copying = false;
        let mut out = BytesMut::with_capacity(16 * 1024);
        let mut masking =
            crate::masking::ResultMasker::new(self.shared.clone(), self.resource.clone());
        // ParseCompletes seen in the current unit (to find a COPY probe's among them).
        let mut parse_completes = 0u32;
        let mut probing = Probing::Idle;
        // The gateway ended the running COPY TO STDOUT with an error of its own: the rest of
        // it (CopyData, CopyDone, CommandComplete or the upstream's error) is dropped.
        let mut copy_failed = false;
        // The masks of the last unit answered: for notices and notifications between units.
        let mut last_masks = Masks::default();
        loop {
            let len = match dec.decode(&buf) {
                Err(e) => {
                    let _ = cw
                        .write_all(&fatal("08P01", &format!("guard: upstream: {e}")))
                        .await;
                    return Err(e.into());
                }
                Ok(Decoded::NeedMore { at_least }) => {
                    if !out.is_empty() {
                        cw.write_all(&out).await?;
                        out.clear();
                    }
                    tokio::select! {
                        n = fill(&mut ur, &mut buf, at_least) => {
                            if !n? {
                                let _ = cw.write_all(&fatal(
                                    "08006",
                                    "guard: the upstream server closed the connection",
                                )).await;
                                return Ok("upstream closed the connection".to_owned());
                            }
                        }
                        Some(n) = notices.recv() => {
                            cw.write_all(&n).await?;
                        }
                    }
                    continue;
                }
                Ok(Decoded::Message { len, msg }) => {
                    match &msg {
                        BackendMessage::ErrorResponse(_)
                            if copy_failed
                                || lock(&self.pipe).units.front().is_some_and(|u| u.hidden) =>
                        {
                            // The probe of a simple-protocol COPY failed (the COPY then fails
                            // on its own, or is refused for want of columns), or the upstream
                            // ended a COPY the gateway had already ended for the client.
                            copy_failed = false;
                            probing = Probing::Idle;
                        }
                        BackendMessage::ErrorResponse(e) => {
                            let text = e.fields.message().map(|m| m.to_string_lossy().into_owned());
                            let replaced = text.and_then(|t| {
                                let mut pipe = lock(&self.pipe);
                                let unit = pipe.units.front_mut()?;
                                let i = unit
                                    .denials
                                    .iter()
                                    .position(|(tok, _)| t.contains(tok.as_str()))?;
                                Some(unit.denials.remove(i).1)
                            });
                            let message = match &replaced {
                                Some(err) => {
                                    out.extend_from_slice(err);
                                    String::new()
                                }
                                None => {
                                    let masks = self.told_masks(&last_masks);
                                    masking
                                        .told_fields(b'E', &e.fields, &buf[..len], &masks, &mut out)
                                        .await
                                }
                            };
                            if recording {
                                // A COPY the server ended: what the client got of it first.
                                self.record_copy(&mut rec_copying, &mut rec_copy)?;
                                let code =
                                    e.fields.code().map(|c| c.to_string_lossy().into_owned());
                                let ev = guard_record::ErrorEvent {
                                    code: if replaced.is_some() {
                                        Some("42501".into())
                                    } else {
                                        code
                                    },
                                    message: if replaced.is_some() {
                                        "refused by policy".into()
                                    } else {
                                        message
                                    },
                                    fault: if replaced.is_some() {
                                        "policy"
                                    } else {
                                        "upstream"
                                    }
                                    .into(),
                                };
                                self.record(guard_record::Event::Error(ev))?;
                            }
                        }
                        BackendMessage::NoticeResponse(n) => {
                            let masks = self.told_masks(&last_masks);
                            masking
                                .told_fields(b'N', &n.fields, &buf[..len], &masks, &mut out)
                                .await;
                        }
                        BackendMessage::NotificationResponse(n) => {
                            let masks = self.told_masks(&last_masks);
                            masking.notification(n, &buf[..len], &masks, &mut out);
                        }
                        BackendMessage::ReadyForQuery(_) => {
                            let unit = lock(&self.pipe).units.pop_front();
                            parse_completes = 0;
                            probing = Probing::Idle;
                            copy_failed = false;
                            rec_copying = false;
                            rec_copy.clear();
                            // A probe's own unit: its answer is kept for the COPY that follows.
                            if !unit.as_ref().is_some_and(|u| u.hidden) {
                                if let Some(u) = unit {
                                    if let Some(started) = u.started {
                                        self.shared.metrics.statement.observe(started.elapsed());
                                    }
                                    last_masks = u.masks;
                                }
                                masking.reset();
                                out.extend_from_slice(&buf[..len]);
                            }
                        }
                        BackendMessage::ParseComplete => {
                            let probe = {
                                let mut pipe = lock(&self.pipe);
                                pipe.units.front_mut().and_then(|u| {
                                    let at = u.probes.front().map(|p| p.0)?;
                                    (at == parse_completes)
                                        .then(|| u.probes.pop_front().map(|p| p.1))
                                        .flatten()
                                })
                            };
                            parse_completes += 1;
                            match probe {
                                Some(p) => probing = Probing::Describe(p),
                                None => out.extend_from_slice(&buf[..len]),
                            }
                        }
                        BackendMessage::ParameterDescription(_)
                            if matches!(probing, Probing::Describe(_)) => {}
                        BackendMessage::RowDescription(_) | BackendMessage::NoData
                            if matches!(probing, Probing::Describe(_)) =>
                        {
                            if let Probing::Describe(p) =
                                std::mem::replace(&mut probing, Probing::Close)
                            {
                                let rd = match &msg {
                                    BackendMessage::RowDescription(rd) => Some(rd),
                                    _ => None,
                                };
                                masking.copy_probed(p.spec, &p.masks, rd).await;
                            }
                        }
                        BackendMessage::CloseComplete if matches!(probing, Probing::Close) => {
                            probing = Probing::Idle;
                        }
                        BackendMessage::ParameterStatus(p) => {
                            if p.name.as_bytes() == b"client_encoding" {
                                self.client_encoding = p.value.to_string_lossy().into_owned();
                            }
                            // Statements are refused from now on if the server reads them
                            // differently (decide.rs refuses what sets this; a backstop).
                            let (name, value) =
                                (p.name.to_string_lossy(), p.value.to_string_lossy());
                            if !guard_sql::lexing::keeps_lexing(&name, &value) {
                                let why = lexing_refusal(&name, &value);
                                let _ = self.lexing_lost.set(format!("{why}; start a new session"));
                            }
                            out.extend_from_slice(&buf[..len]);
                        }
                        BackendMessage::RowDescription(_) | BackendMessage::NoData => {
                            let (masks, hidden) = {
                                let mut pipe = lock(&self.pipe);
                                match pipe.units.front_mut() {
                                    Some(u) => {
                                        (u.masks.clone(), u.describes.pop_front().unwrap_or(false))
                                    }
                                    None => (Masks::default(), false),
                                }
                            };
                            if let BackendMessage::RowDescription(rd) = &msg {
                                if recording {
                                    rec_cols = rd
                                        .fields
                                        .iter()
                                        .map(|f| f.name.to_string_lossy().into_owned())
                                        .collect();
                                    rec_rows.clear();
                                    rec_bytes = 0;
                                }
                                masking
                                    .row_description(rd, &buf[..len], &masks, &mut out, !hidden)
                                    .await;
                            } else if !hidden {
                                out.extend_from_slice(&buf[..len]);
                            }
                        }
                        BackendMessage::CopyOutResponse(c) => {
                            let masks = {
                                let pipe = lock(&self.pipe);
                                pipe.units
                                    .front()
                                    .map(|u| u.masks.clone())
                                    .unwrap_or_default()
                            };
                            match masking.copy_out(c, &masks, &self.client_encoding) {
                                Ok(()) => {
                                    rec_copying = recording;
                                    rec_copy.clear();
                                    rec_bytes = 0;
                                    out.extend_from_slice(&buf[..len]);
                                }
                                Err(e) => {
                                    copy_failed = true;
                                    self.cut_copy(&e, &mut out, &mut rec_copying, &mut rec_copy)?;
                                }
                            }
                        }
                        BackendMessage::DataRow(row) => {
                            let keep =
                                recording && rec_rows.len() < crate::record::MAX_RECORDED_ROWS;
                            rec_bytes += len as u64;
                            if let Some(values) = masking.data_row(row, &buf[..len], &mut out, keep)
                            {
                                rec_rows.push(values);
                            }
                        }
                        BackendMessage::CopyData(_)
                        | BackendMessage::CopyDone
                        | BackendMessage::CommandComplete(_)
                            if copy_failed =>
                        {
                            if matches!(msg, BackendMessage::CommandComplete(_)) {
                                copy_failed = false;
                            }
                        }
                        BackendMessage::CommandComplete(cc) if recording => {
                            self.record_copy(&mut rec_copying, &mut rec_copy)?;
                            if !rec_cols.is_empty() {
                                let rows = std::mem::take(&mut rec_rows);
                                let columns = std::mem::take(&mut rec_cols);
                                self.record(guard_record::Event::Output(
                                    guard_record::Output::Rows { columns, rows },
                                ))?;
                            }
                            self.record(guard_record::Event::Output(
                                guard_record::Output::Result {
                                    tag: cc.tag.to_string_lossy().into_owned(),
                                    rows: cc.rows().unwrap_or(0),
                                    bytes: std::mem::take(&mut rec_bytes),
                                },
                            ))?;
                            out.extend_from_slice(&buf[..len]);
                        }
                        BackendMessage::CopyData(d) => {
                            let at = out.len();
                            match masking.copy_data(d.data, &buf[..len], &mut out) {
                                Ok(()) if rec_copying => {
                                    rec_bytes += keep_copy_data(&out[at..], &mut rec_copy);
                                }
                                Ok(()) => {}
                                Err(e) => {
                                    copy_failed = true;
                                    self.cut_copy(&e, &mut out, &mut rec_copying, &mut rec_copy)?;
                                }
                            }
                        }
                        BackendMessage::CopyDone => {
                            let at = out.len();
                            match masking.copy_done(&mut out) {
                                Ok(()) => {
                                    if rec_copying {
                                        rec_bytes += keep_copy_data(&out[at..], &mut rec_copy);
                                    }
                                    out.extend_from_slice(&buf[..len]);
                                }
                                Err(e) => {
                                    copy_failed = true;
                                    self.cut_copy(&e, &mut out, &mut rec_copying, &mut rec_copy)?;
                                }
                            }
                        }
                        _ => out.extend_from_slice(&buf[..len]),
                    }
                    len
                }
            };
            buf.advance(len);
            if out.len() > 64 * 1024 {
                cw.write_all(&out).await?;
                out.clear();
            }
        }
    }
}

/// Appends the payloads of the CopyData messages in `msgs` (complete messages, as written for
/// the client) to `kept`, up to [`crate::record::MAX_RECORDED_COPY_BYTES`]; returns the
/// payload bytes seen.
fn keep_copy_data(msgs: &[u8], kept: &mut Vec<u8>) -> u64 {
    let mut dec = BackendDecoder::new(Limits::default());
    let mut rest = msgs;
    let mut seen = 0u64;
    while let Ok(Decoded::Message { len, msg }) = dec.decode(rest) {
        if let BackendMessage::CopyData(d) = msg {
            seen += d.data.len() as u64;
            let room = crate::record::MAX_RECORDED_COPY_BYTES.saturating_sub(kept.len());
            kept.extend_from_slice(&d.data[..d.data.len().min(room)]);
        }
        rest = &rest[len..];
    }
    seen
}

/// The ParameterStatus messages of the upstream login, as `(name, value)`.
fn parameter_statuses(parameter_status: &[u8]) -> Vec<(String, String)> {
    let mut dec = BackendDecoder::new(Limits::default());
    let mut rest = parameter_status;
    let mut out = Vec::new();
    while let Ok(Decoded::Message { len, msg }) = dec.decode(rest) {
        if let BackendMessage::ParameterStatus(p) = msg {
            out.push((
                p.name.to_string_lossy().into_owned(),
                p.value.to_string_lossy().into_owned(),
            ));
        }
        rest = &rest[len..];
    }
    out
}

/// The `client_encoding` among the ParameterStatus messages of the upstream login (`UTF8`
/// when absent, as the gateway's upstream sessions ask for nothing else).
fn client_encoding(parameter_status: &[u8]) -> String {
    (parameter_statuses(parameter_status).into_iter())
        .find_map(|(n, v)| (n == "client_encoding").then_some(v))
        .unwrap_or_else(|| "UTF8".to_owned())
}

/// Why a session whose server reads statements with `name = value` is not served (see
/// `guard_sql::lexing`).
fn lexing_refusal(name: &str, value: &str) -> String {
    format!(
        "guard: the server reads statements with {name} = {value}, and the gateway reads them \
         as with {}: it cannot decide on what it would not read as the server does",
        if name == "client_encoding" {
            "an encoding whose characters hold no ASCII bytes (UTF8, LATIN1...)"
        } else {
            "standard_conforming_strings = on"
        }
    )
}

impl Back {
    /// The masks for an error, notice or notification: those of the statement being answered,
    /// else of the last one answered.
    fn told_masks(&self, last: &Masks) -> Masks {
        let pipe = lock(&self.pipe);
        pipe.units
            .front()
            .map_or_else(|| last.clone(), |u| u.masks.clone())
    }

    fn record(&self, event: guard_record::Event) -> Result<()> {
        self.rec.event(&event).map_err(anyhow::Error::from)
    }

    /// Recording a COPY TO STDOUT (`copying`): records the output kept of it and stops.
    fn record_copy(&self, copying: &mut bool, kept: &mut Vec<u8>) -> Result<()> {
        if std::mem::take(copying) {
            let data = guard_record::Bytes(std::mem::take(kept));
            self.record(guard_record::Event::Output(
                guard_record::Output::CopyData { data },
            ))?;
        }
        Ok(())
    }

    /// Ends a COPY TO STDOUT for the client with the gateway's error (the client leaves
    /// copy-out mode on an ErrorResponse; the caller drops the rest of the COPY), and records
    /// what the client got of it and the error.
    fn cut_copy(
        &self,
        e: &crate::masking::MaskError,
        out: &mut BytesMut,
        copying: &mut bool,
        kept: &mut Vec<u8>,
    ) -> Result<()> {
        tracing::warn!(error = %e, "a COPY TO STDOUT was cut off");
        ErrorBuilder::new(Severity::Error, e.sqlstate(), &e.to_string()).encode_error(out);
        if self.rec.enabled() {
            self.record_copy(copying, kept)?;
            self.record(guard_record::Event::Error(guard_record::ErrorEvent {
                code: Some(e.sqlstate().to_owned()),
                message: e.to_string(),
                fault: "policy".to_owned(),
            }))?;
        }
        Ok(())
    }
}

/// How long a held statement may wait at most, whatever the policy says.
pub(crate) const MAX_HOLD: Duration = Duration::from_secs(24 * 3600);

#[cfg(test)]
mod tests {
    use super::identity_name_set;

    #[test]
    fn a_plain_set_of_application_name_becomes_the_identitys() {
        let set = |sql: &str, subject: &str| identity_name_set(sql, subject).map(|s| s.0);
        assert_eq!(
            set("SET application_name = 'PostgreSQL JDBC Driver'", "alice").as_deref(),
            Some("SET application_name = E'guard:alice'")
        );
        assert_eq!(
            set("set local APPLICATION_NAME to default", "alice").as_deref(),
            Some("SET LOCAL application_name = E'guard:alice'")
        );
        // Quotes and backslashes in a subject stay inside the literal, whatever
        // standard_conforming_strings is.
        let s = set("SET application_name = 'x'", r"o'brien\'; DROP TABLE t; --").unwrap();
        assert_eq!(
            s,
            r"SET application_name = E'guard:o\'brien\\\'; DROP TABLE t; --'"
        );
        assert!(guard_sql::classify::plain_set(&s).is_some());
        // Anything else is left to the refusal.
        assert!(set("SET application_name = 'x'; SELECT 1", "alice").is_none());
        assert!(set("SELECT set_config('application_name', 'x', false)", "alice").is_none());
        assert!(set("SET search_path = public", "alice").is_none());
        assert!(set("SET application_name = 'x'", "nul\0").is_none());
    }
}
