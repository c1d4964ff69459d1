//! The event model: what a recording holds, in guard-core's vocabulary.
//!
//! Every event is one JSON object on its own line (see `FORMAT.md`). The recorder adds the
//! envelope (`seq`, `prev`, `t`); the event contributes `type` and its own fields. Binary
//! payloads (terminal bytes, binary query parameters) are base64 ([`Bytes`]); times are integer
//! microseconds.
//!
//! There is deliberately no event or field for a client's password (PostgreSQL
//! `PasswordMessage`, SASL responses, bearer tokens): credentials cannot enter a recording
//! through this model. Statement text is passed through [`redact_sql_credentials`]
//! (crate::redact_sql_credentials) by the caller before it is recorded.

use std::collections::BTreeMap;
use std::fmt;

use base64::Engine as _;
use guard_core::{Identity, Resource, Timestamp, Verdict};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// One recorded event. The `type` member of a line names the variant in snake case.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Event {
    /// The first event of every recording.
    SessionStart(SessionStart),
    /// Something the client sent (after credential redaction and input masking).
    Input(Input),
    /// The policy decision for the preceding input.
    Decision(DecisionEvent),
    /// An approval was opened or changed state.
    Approval(ApprovalEvent),
    /// A just-in-time grant was used, expired or revoked during the session.
    Grant(GrantEvent),
    /// Something the server sent back (after masking).
    Output(Output),
    /// An error the gateway reported (to the client, or about the upstream).
    Error(ErrorEvent),
    /// The recorder reached the session's size cap; what follows is only the session end (if
    /// it fits) and the seal. Written by the recorder, never by the caller.
    SizeCap(SizeCap),
    /// The last event before the seal.
    SessionEnd(SessionEnd),
}

impl Event {
    /// The `type` member this event is written with.
    pub fn type_name(&self) -> &'static str {
        match self {
            Event::SessionStart(_) => "session_start",
            Event::Input(_) => "input",
            Event::Decision(_) => "decision",
            Event::Approval(_) => "approval",
            Event::Grant(_) => "grant",
            Event::Output(_) => "output",
            Event::Error(_) => "error",
            Event::SizeCap(_) => "size_cap",
            Event::SessionEnd(_) => "session_end",
        }
    }

    /// Whether this is client input. In strict mode the recorder hands input events to its
    /// sink before `record` returns (write-ahead: the statement is forwarded only after).
    pub fn is_input(&self) -> bool {
        matches!(self, Event::Input(_))
    }
}

/// The protocol a session speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Protocol {
    /// PostgreSQL frontend/backend protocol.
    Postgres,
    /// MySQL client/server protocol.
    Mysql,
    /// The Kubernetes API (HTTP).
    Kubernetes,
    /// SSH.
    Ssh,
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Protocol::Postgres => "postgres",
            Protocol::Mysql => "mysql",
            Protocol::Kubernetes => "kubernetes",
            Protocol::Ssh => "ssh",
        })
    }
}

/// `session_start`: who, what, from where, through which gateway.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionStart {
    /// The session id; also the recording's file name.
    pub session: String,
    /// Wall-clock start of the session (Unix microseconds). Every event's `t` is an offset
    /// from this instant, taken from a monotonic clock by the caller.
    pub started_at: Timestamp,
    /// The authenticated identity behind the session.
    pub identity: Identity,
    /// The target resource.
    pub resource: Resource,
    /// The protocol spoken.
    pub protocol: Protocol,
    /// The client's address (`ip:port`), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_addr: Option<String>,
    /// The gateway instance that served the session (host name or configured instance id).
    pub gateway: String,
}

impl SessionStart {
    /// A session start with no client address.
    pub fn new(
        session: impl Into<String>,
        started_at: Timestamp,
        identity: Identity,
        resource: Resource,
        protocol: Protocol,
        gateway: impl Into<String>,
    ) -> Self {
        Self {
            session: session.into(),
            started_at,
            identity,
            resource,
            protocol,
            client_addr: None,
            gateway: gateway.into(),
        }
    }

    /// Sets the client address.
    pub fn with_client_addr(mut self, addr: impl Into<String>) -> Self {
        self.client_addr = Some(addr.into());
        self
    }
}

/// `input`: what the client sent. The `kind` member names the variant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Input {
    /// A SQL statement (simple query, or an extended-protocol Execute with its Bind
    /// parameters). The text must have passed through
    /// [`redact_sql_credentials`](crate::redact_sql_credentials).
    Query {
        /// The statement text.
        text: String,
        /// Bind parameters in order; `null` is SQL NULL.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        params: Vec<Option<Param>>,
    },
    /// A Kubernetes API request line.
    K8sRequest {
        /// HTTP method.
        method: String,
        /// Request target (path and query).
        uri: String,
    },
    /// An SSH `exec` request (the command line).
    Exec {
        /// Channel number.
        channel: u32,
        /// The command line.
        command: String,
    },
    /// Rows a client sent with `COPY ... FROM STDIN`, as the CopyData payloads carried them
    /// (the statement's mask profiles applied).
    CopyData {
        /// The bytes, base64 in the file.
        data: Bytes,
    },
    /// Bytes the client typed into a terminal channel (SSH shell, Kubernetes exec).
    ChannelData {
        /// Channel number (0 for protocols with a single stream).
        channel: u32,
        /// The bytes, base64 in the file.
        data: Bytes,
    },
    /// A terminal was opened or resized.
    Resize {
        /// Channel number.
        channel: u32,
        /// Columns.
        cols: u16,
        /// Rows.
        rows: u16,
    },
}

/// One bind parameter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Param {
    /// A text-format parameter: `{"text": "..."}`.
    Text(String),
    /// A binary-format parameter: `{"binary": "<base64>"}`.
    Binary(Bytes),
    /// A parameter withheld because it carries a credential (for example the `$1` in
    /// `ALTER ROLE x PASSWORD $1`): `{"redacted": true}`.
    Redacted(bool),
}

/// `decision`: what the policy decided about the preceding input.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DecisionEvent {
    /// The verdict, as guard-core serializes it (`{"verdict": "deny", ...}`).
    pub verdict: Verdict,
    /// Ids of every rule that contributed.
    #[serde(default)]
    pub rules: Vec<String>,
    /// Mask profiles that ride on an allow.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub masks: Vec<String>,
    /// The message shown to the client on a denial, or an explanation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// False in audit-only (shadow) mode: computed and recorded, not enforced.
    pub enforced: bool,
}

impl DecisionEvent {
    /// An enforced decision with no masks and no message.
    pub fn new(verdict: Verdict, rules: Vec<String>) -> Self {
        Self {
            verdict,
            rules,
            masks: Vec::new(),
            message: None,
            enforced: true,
        }
    }
}

impl From<&guard_core::Decision> for DecisionEvent {
    fn from(d: &guard_core::Decision) -> Self {
        let message = match &d.verdict {
            Verdict::Deny { message, .. } => Some(message.clone()),
            _ => None,
        };
        Self {
            verdict: d.verdict.clone(),
            rules: d.rules.clone(),
            masks: d.masks.clone(),
            message,
            enforced: true,
        }
    }
}

/// `approval`: an approval request and its fate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApprovalEvent {
    /// The approval id in its store.
    pub id: String,
    /// The new state.
    pub state: ApprovalState,
    /// Who acted (approver subject), when someone did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
    /// A comment or reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

/// States of an approval as recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ApprovalState {
    /// Opened; the statement is held.
    Pending,
    /// Approved; the statement proceeds.
    Approved,
    /// Denied by an approver.
    Denied,
    /// Nobody decided in time.
    Expired,
    /// Withdrawn (client went away).
    Cancelled,
}

/// `grant`: a just-in-time grant seen during the session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GrantEvent {
    /// The grant id.
    pub id: String,
    /// What happened to it.
    pub action: GrantAction,
    /// Who approved the grant, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approved_by: Option<String>,
    /// When the grant ends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<Timestamp>,
}

/// What happened to a grant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum GrantAction {
    /// The grant became active for this session.
    Activated,
    /// The grant contributed to a decision.
    Used,
    /// The grant expired.
    Expired,
    /// The grant was revoked.
    Revoked,
}

/// `output`: what the server sent back, already masked. The `kind` member names the variant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Output {
    /// Result rows as the client saw them (masked), in text form.
    Rows {
        /// Column names.
        columns: Vec<String>,
        /// Rows; `null` is SQL NULL.
        rows: Vec<Vec<Option<String>>>,
    },
    /// A summary of a statement's result instead of its rows.
    Result {
        /// The command tag (`SELECT 3`, `UPDATE 1`).
        tag: String,
        /// Rows returned or affected.
        rows: u64,
        /// Bytes sent to the client for this result.
        #[serde(default)]
        bytes: u64,
    },
    /// Output of `COPY ... TO STDOUT` as the client received it (masked): the CopyData
    /// payloads, concatenated. A recorder may keep only a prefix; the `result` that follows
    /// counts every byte.
    CopyData {
        /// The bytes, base64 in the file.
        data: Bytes,
    },
    /// A Kubernetes API response summary.
    K8sResponse {
        /// HTTP status.
        status: u16,
        /// Body bytes sent to the client.
        bytes: u64,
    },
    /// Terminal output bytes (SSH shell, Kubernetes exec).
    ChannelData {
        /// Channel number.
        channel: u32,
        /// `false` for stdout, `true` for stderr (SSH extended data).
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        stderr: bool,
        /// The bytes, base64 in the file.
        data: Bytes,
    },
    /// The remote command exited.
    ExitStatus {
        /// Channel number.
        channel: u32,
        /// Exit status.
        status: u32,
    },
}

/// `error`: an error reported during the session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorEvent {
    /// Wire code: SQLSTATE, HTTP status or SSH exit status, as text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// Human-readable message.
    pub message: String,
    /// Whose fault: `client`, `upstream`, `policy` or `internal`.
    pub fault: String,
}

/// `size_cap`: the marker written when a recording reaches its size cap.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SizeCap {
    /// The configured cap in bytes.
    pub limit_bytes: u64,
    /// Bytes written before this marker.
    pub written_bytes: u64,
}

/// `session_end`: why and with which totals the session ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionEnd {
    /// Why the session ended (`client closed`, `denied`, `recording failed`, ...).
    pub reason: String,
    /// Totals the gateway kept (statements, denied, rows, bytes_in, bytes_out, ...).
    #[serde(default)]
    pub counters: BTreeMap<String, u64>,
}

impl SessionEnd {
    /// A session end with no counters.
    pub fn new(reason: impl Into<String>) -> Self {
        Self {
            reason: reason.into(),
            counters: BTreeMap::new(),
        }
    }

    /// Adds one counter.
    pub fn with_counter(mut self, name: impl Into<String>, value: u64) -> Self {
        self.counters.insert(name.into(), value);
        self
    }
}

/// Binary data, written as standard base64 (RFC 4648, with padding).
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub struct Bytes(pub Vec<u8>);

impl fmt::Debug for Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Bytes({:?})", String::from_utf8_lossy(&self.0))
    }
}

impl From<Vec<u8>> for Bytes {
    fn from(v: Vec<u8>) -> Self {
        Bytes(v)
    }
}

impl From<&[u8]> for Bytes {
    fn from(v: &[u8]) -> Self {
        Bytes(v.to_vec())
    }
}

impl Serialize for Bytes {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(&self.0))
    }
}

impl<'de> Deserialize<'de> for Bytes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        base64::engine::general_purpose::STANDARD
            .decode(s.as_bytes())
            .map(Bytes)
            .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use guard_core::AuthMethod;

    pub(crate) fn sample_start() -> SessionStart {
        SessionStart::new(
            "s1",
            Timestamp::from_unix_micros(1_764_000_000_000_000),
            Identity::new("alice", AuthMethod::Password),
            Resource::new("prod-db", "postgres"),
            Protocol::Postgres,
            "gw-1",
        )
        .with_client_addr("127.0.0.1:5000")
    }

    #[test]
    fn events_round_trip_with_type_and_kind_tags() {
        let events = vec![
            Event::SessionStart(sample_start()),
            Event::Input(Input::Query {
                text: "SELECT $1".into(),
                params: vec![
                    Some(Param::Text("1".into())),
                    None,
                    Some(Param::Binary(Bytes(vec![0, 255]))),
                    Some(Param::Redacted(true)),
                ],
            }),
            Event::Decision(DecisionEvent::new(
                Verdict::Deny {
                    rules: vec!["r1".into()],
                    message: "no".into(),
                },
                vec!["r1".into()],
            )),
            Event::Output(Output::ChannelData {
                channel: 0,
                stderr: false,
                data: Bytes(b"\x1b[1mhi".to_vec()),
            }),
            Event::SessionEnd(SessionEnd::new("client closed").with_counter("statements", 3)),
            Event::Input(Input::CopyData {
                data: Bytes(b"1\ta\n".to_vec()),
            }),
            Event::Output(Output::CopyData {
                data: Bytes(b"1\t[EMAIL]\n".to_vec()),
            }),
        ];
        for e in &events {
            let json = serde_json::to_string(e).unwrap();
            assert!(
                json.starts_with(&format!(r#"{{"type":"{}""#, e.type_name())),
                "{json}"
            );
            let back: Event = serde_json::from_str(&json).unwrap();
            assert_eq!(&back, e);
        }
        let json = serde_json::to_string(&events[3]).unwrap();
        assert!(json.contains(r#""data":"G1sxbWhp""#), "{json}");
        let json = serde_json::to_string(&events[1]).unwrap();
        assert!(json.contains(r#"[{"text":"1"},null,{"binary":"AP8="},{"redacted":true}]"#));
        let json = serde_json::to_string(&events[5]).unwrap();
        assert_eq!(
            json,
            r#"{"type":"input","kind":"copy_data","data":"MQlhCg=="}"#
        );
        let json = serde_json::to_string(&events[6]).unwrap();
        assert!(
            json.starts_with(r#"{"type":"output","kind":"copy_data","data":""#),
            "{json}"
        );
    }
}
