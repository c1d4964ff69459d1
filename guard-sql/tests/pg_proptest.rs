//! Properties of both decoders: encoding then decoding gives the original bytes back; a stream
//! split at any byte decodes to the same messages; arbitrary bytes never panic, never claim
//! more than was given, and whatever decodes re-encodes to exactly the bytes consumed.

use guard_sql::pg::{
    AuthKind, Authentication, BackendDecoder, BackendKeyData, BackendMessage, Bind, Close,
    CommandComplete, CopyData, CopyFail, CopyResponse, DataRow, Decoded, Describe, ErrorBuilder,
    Execute, FieldDescription, FrontendDecoder, FrontendMessage, Limits, NegotiateProtocolVersion,
    NotificationResponse, ParameterDescription, ParameterStatus, Parse, PgStr, ProtocolVersion,
    Query, ReadyForQuery, RowDescription, Severity, StartupMessage, Target, TransactionStatus,
};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::Index;

fn text() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9 _$.,;()*'=-]{0,24}"
}

fn pg(s: &str) -> PgStr<'_> {
    PgStr::try_from(s).expect("strategy strings have no nul")
}

fn value() -> impl Strategy<Value = Option<Vec<u8>>> {
    proptest::option::of(vec(any::<u8>(), 0..40))
}

/// One frontend message of the normal phase, encoded.
fn frontend_msg() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        text().prop_map(|q| {
            let mut w = Vec::new();
            Query { sql: pg(&q) }.encode(&mut w);
            w
        }),
        (text(), text(), vec(any::<u32>(), 0..5)).prop_map(|(n, q, t)| {
            let mut w = Vec::new();
            Parse::encode_parts(pg(&n), pg(&q), &t, &mut w);
            w
        }),
        (
            text(),
            text(),
            vec(0i16..2, 0..4),
            vec(value(), 0..6),
            vec(0i16..2, 0..4)
        )
            .prop_map(|(p, s, pf, vals, rf)| {
                let mut w = Vec::new();
                Bind::encode_parts(
                    pg(&p),
                    pg(&s),
                    &pf,
                    vals.iter().map(|v| v.as_deref()),
                    &rf,
                    &mut w,
                );
                w
            }),
        (any::<bool>(), any::<bool>(), text()).prop_map(|(describe, stmt, n)| {
            let target = if stmt {
                Target::Statement
            } else {
                Target::Portal
            };
            let mut w = Vec::new();
            if describe {
                Describe {
                    target,
                    name: pg(&n),
                }
                .encode(&mut w);
            } else {
                Close {
                    target,
                    name: pg(&n),
                }
                .encode(&mut w);
            }
            w
        }),
        (text(), any::<i32>()).prop_map(|(p, m)| {
            let mut w = Vec::new();
            Execute {
                portal: pg(&p),
                max_rows: m,
            }
            .encode(&mut w);
            w
        }),
        prop_oneof![
            Just(FrontendMessage::Sync),
            Just(FrontendMessage::Flush),
            Just(FrontendMessage::Terminate),
            Just(FrontendMessage::CopyDone),
        ]
        .prop_map(|m| {
            let mut w = Vec::new();
            m.encode(&mut w);
            w
        }),
        vec(any::<u8>(), 0..64).prop_map(|d| {
            let mut w = Vec::new();
            CopyData { data: &d }.encode(&mut w);
            w
        }),
        text().prop_map(|m| {
            let mut w = Vec::new();
            CopyFail { message: pg(&m) }.encode(&mut w);
            w
        }),
        vec(any::<u8>(), 0..32).prop_map(|d| {
            let mut w = Vec::new();
            FrontendMessage::PasswordLike(guard_sql::pg::PasswordLike { data: &d }).encode(&mut w);
            w
        }),
    ]
}

/// A whole client stream: optional SSLRequest, StartupMessage, then messages.
fn frontend_stream() -> impl Strategy<Value = Vec<Vec<u8>>> {
    (
        any::<bool>(),
        vec((text(), text()), 0..4),
        any::<bool>(),
        vec(frontend_msg(), 0..12),
    )
        .prop_map(|(ssl, params, v32, msgs)| {
            let mut out = Vec::new();
            if ssl {
                let mut w = Vec::new();
                FrontendMessage::SslRequest.encode(&mut w);
                out.push(w);
            }
            let mut w = Vec::new();
            let version = if v32 {
                ProtocolVersion::V3_2
            } else {
                ProtocolVersion::V3_0
            };
            // Parameter names must be non-empty: an empty name ends the list.
            let params: Vec<(String, String)> = params
                .into_iter()
                .map(|(k, v)| (format!("k{k}"), v))
                .collect();
            StartupMessage::encode_params(
                version,
                params.iter().map(|(k, v)| (pg(k), pg(v))),
                &mut w,
            );
            out.push(w);
            out.extend(msgs);
            out
        })
}

/// One backend message, encoded.
fn backend_msg() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        vec(value(), 0..8).prop_map(|vals| {
            let mut w = Vec::new();
            DataRow::encode_values(vals.iter().map(|v| v.as_deref()), &mut w);
            w
        }),
        vec(
            (
                text(),
                any::<u32>(),
                any::<i16>(),
                any::<u32>(),
                any::<i16>(),
                any::<i32>()
            ),
            0..5
        )
        .prop_map(|cols| {
            let mut w = Vec::new();
            RowDescription::encode_fields(
                cols.iter().map(|(n, t, c, ty, sz, m)| FieldDescription {
                    name: pg(n),
                    table_oid: *t,
                    column_id: *c,
                    type_oid: *ty,
                    type_size: *sz,
                    type_modifier: *m,
                    format: 0,
                }),
                &mut w,
            );
            w
        }),
        text().prop_map(|t| {
            let mut w = Vec::new();
            CommandComplete { tag: pg(&t) }.encode(&mut w);
            w
        }),
        (text(), text(), text()).prop_map(|(c, m, h)| {
            let mut w = Vec::new();
            ErrorBuilder::new(Severity::Error, &c, &m)
                .hint(&h)
                .encode_error(&mut w);
            w
        }),
        (text(), text()).prop_map(|(c, m)| {
            let mut w = Vec::new();
            ErrorBuilder::new(Severity::Notice, &c, &m).encode_notice(&mut w);
            w
        }),
        (text(), text()).prop_map(|(n, v)| {
            let mut w = Vec::new();
            ParameterStatus {
                name: pg(&n),
                value: pg(&v),
            }
            .encode(&mut w);
            w
        }),
        (any::<i32>(), vec(any::<u8>(), 4..=256)).prop_map(|(p, k)| {
            let mut w = Vec::new();
            BackendKeyData {
                process_id: p,
                secret_key: &k,
            }
            .encode(&mut w);
            w
        }),
        prop_oneof![Just(b'I'), Just(b'T'), Just(b'E')].prop_map(|b| {
            let status = match b {
                b'I' => TransactionStatus::Idle,
                b'T' => TransactionStatus::InTransaction,
                _ => TransactionStatus::Failed,
            };
            let mut w = Vec::new();
            ReadyForQuery { status }.encode(&mut w);
            w
        }),
        prop_oneof![
            Just(BackendMessage::BindComplete),
            Just(BackendMessage::CloseComplete),
            Just(BackendMessage::ParseComplete),
            Just(BackendMessage::NoData),
            Just(BackendMessage::PortalSuspended),
            Just(BackendMessage::EmptyQueryResponse),
            Just(BackendMessage::CopyDone),
            Just(BackendMessage::Authentication(Authentication::Ok)),
            Just(BackendMessage::Authentication(
                Authentication::CleartextPassword
            )),
        ]
        .prop_map(|m| {
            let mut w = Vec::new();
            m.encode(&mut w);
            w
        }),
        vec(any::<u8>(), 0..64).prop_map(|d| {
            let mut w = Vec::new();
            BackendMessage::CopyData(CopyData { data: &d }).encode(&mut w);
            w
        }),
        vec(any::<u8>(), 0..64).prop_map(|d| {
            let mut w = Vec::new();
            Authentication::SaslContinue { data: &d }.encode(&mut w);
            w
        }),
        vec("[A-Z0-9-]{1,20}", 0..4).prop_map(|m| {
            let mut w = Vec::new();
            let names: Vec<PgStr<'_>> = m.iter().map(|s| pg(s)).collect();
            Authentication::encode_sasl(&names, &mut w);
            w
        }),
        vec(any::<u32>(), 0..6).prop_map(|t| {
            let mut w = Vec::new();
            ParameterDescription::encode_types(&t, &mut w);
            w
        }),
        (0u8..3, any::<i8>(), vec(0i16..2, 0..5)).prop_map(|(k, f, c)| {
            let mut w = Vec::new();
            CopyResponse::encode_parts([b'G', b'H', b'W'][k as usize], f, &c, &mut w);
            w
        }),
        (any::<i32>(), text(), text()).prop_map(|(p, c, d)| {
            let mut w = Vec::new();
            NotificationResponse {
                process_id: p,
                channel: pg(&c),
                payload: pg(&d),
            }
            .encode(&mut w);
            w
        }),
        (any::<i32>(), vec("_pq_\\.[a-z]{1,10}", 0..3)).prop_map(|(m, o)| {
            let mut w = Vec::new();
            let names: Vec<PgStr<'_>> = o.iter().map(|s| pg(s)).collect();
            NegotiateProtocolVersion::encode_parts(m, &names, &mut w);
            w
        }),
    ]
}

/// Decodes a whole frontend stream as a proxy would, the buffer first holding `wire[..at]`
/// and then everything. Returns the bytes of each message.
fn decode_front_split(wire: &[u8], at: usize) -> Vec<Vec<u8>> {
    let mut dec = FrontendDecoder::new(Limits::default());
    let mut buf: Vec<u8> = wire[..at].to_vec();
    let mut fed = at;
    let mut out = Vec::new();
    for _ in 0..10_000 {
        match dec.decode(&buf).unwrap() {
            Decoded::Message { len, msg } => {
                let mut re = Vec::new();
                msg.encode(&mut re);
                assert_eq!(re, &buf[..len]);
                out.push(buf[..len].to_vec());
                buf.drain(..len);
            }
            Decoded::NeedMore { at_least } => {
                assert!(at_least > buf.len());
                if fed == wire.len() {
                    break;
                }
                buf.extend_from_slice(&wire[fed..]);
                fed = wire.len();
            }
        }
    }
    assert!(buf.is_empty(), "bytes left: {buf:?}");
    out
}

fn decode_back_split(wire: &[u8], at: usize) -> Vec<Vec<u8>> {
    let mut dec = BackendDecoder::new(Limits::default());
    let mut buf: Vec<u8> = wire[..at].to_vec();
    let mut fed = at;
    let mut out = Vec::new();
    for _ in 0..10_000 {
        match dec.decode(&buf).unwrap() {
            Decoded::Message { len, msg } => {
                let mut re = Vec::new();
                msg.encode(&mut re);
                assert_eq!(re, &buf[..len]);
                out.push(buf[..len].to_vec());
                buf.drain(..len);
            }
            Decoded::NeedMore { at_least } => {
                assert!(at_least > buf.len());
                if fed == wire.len() {
                    break;
                }
                buf.extend_from_slice(&wire[fed..]);
                fed = wire.len();
            }
        }
    }
    assert!(buf.is_empty(), "bytes left: {buf:?}");
    out
}

/// Runs a decoder over arbitrary bytes, checking the invariants.
fn chew_front(mut dec: FrontendDecoder, data: &[u8]) {
    let mut rest = data;
    for _ in 0..data.len() + 1 {
        match dec.decode(rest) {
            Ok(Decoded::Message { len, msg }) => {
                assert!(len > 0 && len <= rest.len());
                let mut re = Vec::new();
                msg.encode(&mut re);
                assert_eq!(re, &rest[..len], "{msg:?}");
                rest = &rest[len..];
            }
            Ok(Decoded::NeedMore { at_least }) => {
                assert!(at_least > rest.len());
                return;
            }
            Err(e) => {
                let _ = (e.to_string(), e.sqlstate(), e.fault());
                return;
            }
        }
    }
}

fn chew_back(mut dec: BackendDecoder, data: &[u8]) {
    let mut rest = data;
    for _ in 0..data.len() + 1 {
        match dec.decode(rest) {
            Ok(Decoded::Message { len, msg }) => {
                assert!(len > 0 && len <= rest.len());
                let mut re = Vec::new();
                msg.encode(&mut re);
                assert_eq!(re, &rest[..len], "{msg:?}");
                rest = &rest[len..];
            }
            Ok(Decoded::NeedMore { at_least }) => {
                assert!(at_least > rest.len());
                return;
            }
            Err(e) => {
                let _ = (e.to_string(), e.sqlstate(), e.fault());
                return;
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn frontend_round_trip_and_split(msgs in frontend_stream(), cut in any::<Index>()) {
        let wire: Vec<u8> = msgs.concat();
        let whole = decode_front_split(&wire, wire.len());
        prop_assert_eq!(&whole, &msgs);
        let at = cut.index(wire.len() + 1);
        prop_assert_eq!(decode_front_split(&wire, at), msgs);
    }

    #[test]
    fn backend_round_trip_and_split(msgs in vec(backend_msg(), 0..16), cut in any::<Index>()) {
        let wire: Vec<u8> = msgs.concat();
        let whole = decode_back_split(&wire, wire.len());
        prop_assert_eq!(&whole, &msgs);
        let at = cut.index(wire.len() + 1);
        prop_assert_eq!(decode_back_split(&wire, at), msgs);
    }

    #[test]
    fn arbitrary_bytes_frontend(data in vec(any::<u8>(), 0..256), hint in 0u8..6) {
        let limits = Limits::default();
        chew_front(FrontendDecoder::new(limits.clone()), &data);
        let mut dec = FrontendDecoder::new_after_startup(limits);
        dec.expect_auth(match hint {
            0 => Some(AuthKind::Password),
            1 => Some(AuthKind::SaslInitial),
            2 => Some(AuthKind::Sasl),
            3 => Some(AuthKind::Gss),
            _ => None,
        });
        chew_front(dec, &data);
    }

    #[test]
    fn arbitrary_bytes_backend(data in vec(any::<u8>(), 0..256), ssl in any::<bool>()) {
        chew_back(BackendDecoder::new(Limits::default()), &data);
        let mut dec = BackendDecoder::new(Limits::default());
        if ssl { dec.expect_ssl_response(); } else { dec.expect_gssenc_response(); }
        chew_back(dec, &data);
    }

    /// Arbitrary bytes behind a valid header reach the body parsers more often.
    #[test]
    fn arbitrary_bodies(tag in any::<u8>(), body in vec(any::<u8>(), 0..128)) {
        let mut w = vec![tag];
        w.extend_from_slice(&((body.len() + 4) as u32).to_be_bytes());
        w.extend_from_slice(&body);
        chew_back(BackendDecoder::new(Limits::default()), &w);
        chew_front(FrontendDecoder::new_after_startup(Limits::default()), &w);
        let mut s = ((body.len() + 4) as u32).to_be_bytes().to_vec();
        s.extend_from_slice(&body);
        chew_front(FrontendDecoder::new(Limits::default()), &s);
    }
}
