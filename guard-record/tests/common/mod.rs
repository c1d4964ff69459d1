//! Helpers shared by the integration tests.
#![allow(dead_code, unreachable_pub)]

use guard_core::{AuthMethod, Identity, Resource, Timestamp, Verdict};
use guard_record::*;

/// The example recording's signing key (a published test key: never use it for real).
pub fn test_key() -> SigningKey {
    SigningKey::from_bytes(&[7; 32])
}

pub fn start(session: &str, protocol: Protocol) -> SessionStart {
    let resource = match protocol {
        Protocol::Ssh => Resource::new("bastion", "ssh"),
        _ => Resource::new("payments-db", "postgres").with_label("env", "prod"),
    };
    SessionStart::new(
        session,
        Timestamp::from_unix_micros(1_764_115_200_000_000),
        Identity::new(
            "alice",
            AuthMethod::Oidc {
                issuer: "https://idp.example".into(),
            },
        )
        .with_groups(["dba"]),
        resource,
        protocol,
        "gw-1",
    )
    .with_client_addr("10.0.0.7:51234")
}

/// The events of the committed example (`testdata/example.jsonl`), after its session start.
pub fn example_events() -> Vec<(u64, Event)> {
    let q = |t: &str| {
        Event::Input(Input::Query {
            text: t.into(),
            params: vec![],
        })
    };
    vec![
        (1_200, q("SELECT id, email, card FROM customers LIMIT 2")),
        (
            1_260,
            Event::Decision(DecisionEvent {
                masks: vec!["pii".into()],
                ..DecisionEvent::new(Verdict::Allow, vec!["read-prod".into()])
            }),
        ),
        (
            4_900,
            Event::Output(Output::Rows {
                columns: vec!["id".into(), "email".into(), "card".into()],
                rows: vec![
                    vec![
                        Some("1".into()),
                        Some("a***@example.com".into()),
                        Some("**** **** **** 4242".into()),
                    ],
                    vec![Some("2".into()), None, Some("**** **** **** 1881".into())],
                ],
            }),
        ),
        (
            5_000,
            Event::Output(Output::Result {
                tag: "SELECT 2".into(),
                rows: 2,
                bytes: 151,
            }),
        ),
        (
            2_000_000,
            Event::Input(Input::Query {
                text: redact_sql_credentials("ALTER ROLE app PASSWORD 'hunter2'").into_owned(),
                params: vec![],
            }),
        ),
        (
            2_000_080,
            Event::Decision(DecisionEvent {
                message: Some("role changes need an approval".into()),
                ..DecisionEvent::new(
                    Verdict::Deny {
                        rules: vec!["no-role-changes".into()],
                        message: "role changes need an approval".into(),
                    },
                    vec!["no-role-changes".into()],
                )
            }),
        ),
        (
            2_000_100,
            Event::Error(ErrorEvent {
                code: Some("42501".into()),
                message: "denied by rule no-role-changes".into(),
                fault: "policy".into(),
            }),
        ),
        (
            3_500_000,
            Event::SessionEnd(
                SessionEnd::new("client closed")
                    .with_counter("statements", 2)
                    .with_counter("denied", 1)
                    .with_counter("rows", 2),
            ),
        ),
    ]
}

/// Records `events` after `start` into memory and seals at `end_t`.
pub fn record(
    start: SessionStart,
    events: &[(u64, Event)],
    key: Option<&SigningKey>,
    end_t: u64,
) -> Vec<u8> {
    let sink = MemorySink::new();
    let mut config = RecorderConfig::new();
    config.signing_key(key.cloned());
    let mut rec = SessionRecorder::start(sink.clone(), &config, start).unwrap();
    for (t, e) in events {
        rec.record(*t, e).unwrap();
    }
    rec.finish(end_t).unwrap();
    sink.contents()
}

pub fn example_bytes() -> Vec<u8> {
    record(
        start("2f6c9a1e-example", Protocol::Postgres),
        &example_events(),
        Some(&test_key()),
        3_500_001,
    )
}

/// Splits a recording into lines, each with its newline.
pub fn lines(b: &[u8]) -> Vec<Vec<u8>> {
    b.split_inclusive(|&c| c == b'\n')
        .map(<[u8]>::to_vec)
        .collect()
}
