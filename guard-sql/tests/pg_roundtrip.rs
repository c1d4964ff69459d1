//! Round trip of every message: encode, decode, compare, nothing left over; plus the phase
//! rules and limit checks of the decoders.

use guard_sql::pg::{
    AuthKind, Authentication, BackendDecoder, BackendKeyData, BackendMessage, Bind, CancelRequest,
    Close, CommandComplete, CopyData, CopyFail, CopyResponse, DataRow, DecodeErrorKind, Decoded,
    Describe, ErrorBuilder, Execute, FieldDescription, FrontendDecoder, FrontendMessage,
    FunctionCallResponse, Limits, NegotiateProtocolVersion, NotificationResponse,
    ParameterDescription, ParameterStatus, Parse, PasswordMessage, PgStr, ProtocolVersion, Query,
    ReadyForQuery, RowDescription, SaslInitialResponse, SaslResponse, Severity, StartupMessage,
    Tag, Target, TransactionStatus,
};

const fn s(v: &'static str) -> PgStr<'static> {
    PgStr::from_static(v)
}

fn enc_front(m: &FrontendMessage<'_>) -> Vec<u8> {
    let mut v = Vec::new();
    m.encode(&mut v);
    v
}

fn enc_back(m: &BackendMessage<'_>) -> Vec<u8> {
    let mut v = Vec::new();
    m.encode(&mut v);
    v
}

/// Decodes `wire` as exactly one frontend message with `dec`, checks it re-encodes to the
/// same bytes, and returns its debug form for further checks.
fn one_front<'a>(dec: &mut FrontendDecoder, wire: &'a [u8]) -> FrontendMessage<'a> {
    let before = dec.clone();
    match dec.decode(wire).unwrap() {
        Decoded::Message { len, msg } => {
            assert_eq!(len, wire.len(), "{msg:?} left bytes over");
            assert_eq!(enc_front(&msg), wire, "{msg:?} re-encodes differently");
            // Every strict prefix is NeedMore and consumes nothing.
            for cut in 0..wire.len() {
                let mut d = before.clone();
                match d.decode(&wire[..cut]) {
                    Ok(Decoded::NeedMore { at_least }) => assert!(at_least > cut),
                    other => panic!("prefix {cut} of {msg:?}: {other:?}"),
                }
            }
            msg
        }
        other => panic!("expected a message, got {other:?}"),
    }
}

fn one_back<'a>(dec: &mut BackendDecoder, wire: &'a [u8]) -> BackendMessage<'a> {
    let before = dec.clone();
    match dec.decode(wire).unwrap() {
        Decoded::Message { len, msg } => {
            assert_eq!(len, wire.len(), "{msg:?} left bytes over");
            assert_eq!(enc_back(&msg), wire, "{msg:?} re-encodes differently");
            for cut in 0..wire.len() {
                let mut d = before.clone();
                match d.decode(&wire[..cut]) {
                    Ok(Decoded::NeedMore { at_least }) => assert!(at_least > cut),
                    other => panic!("prefix {cut} of {msg:?}: {other:?}"),
                }
            }
            msg
        }
        other => panic!("expected a message, got {other:?}"),
    }
}

fn startup_wire(version: ProtocolVersion) -> Vec<u8> {
    let mut w = Vec::new();
    StartupMessage::encode_params(
        version,
        [
            (s("user"), s("alice")),
            (s("database"), s("app")),
            (s("_pq_.x"), s("")),
        ],
        &mut w,
    );
    w
}

#[test]
fn startup_packets() {
    for version in [ProtocolVersion::V3_0, ProtocolVersion::V3_2] {
        let mut dec = FrontendDecoder::new(Limits::default());
        let w = startup_wire(version);
        let FrontendMessage::Startup(m) = one_front(&mut dec, &w) else {
            panic!()
        };
        assert_eq!(m.version, version);
        assert_eq!(m.user().unwrap(), "alice");
        assert_eq!(m.database().unwrap(), "app");
        assert_eq!(m.params.get("_pq_.x").unwrap(), "");
        assert_eq!(m.params.len(), 3);
        assert!(!dec.in_startup());
        // The same message built from the typed form.
        let again = enc_front(&FrontendMessage::Startup(m));
        assert_eq!(again, w);
    }

    let mut dec = FrontendDecoder::new(Limits::default());
    let ssl = enc_front(&FrontendMessage::SslRequest);
    assert_eq!(ssl, [0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f]);
    assert_eq!(one_front(&mut dec, &ssl), FrontendMessage::SslRequest);
    let gss = enc_front(&FrontendMessage::GssEncRequest);
    assert_eq!(one_front(&mut dec, &gss), FrontendMessage::GssEncRequest);
    assert!(dec.in_startup());
    // A second SSLRequest breaks the protocol.
    let e = dec.decode(&ssl).unwrap_err();
    assert!(
        matches!(e.kind(), DecodeErrorKind::Unexpected { .. }),
        "{e}"
    );

    for key in [&[1u8, 2, 3, 4][..], &[7u8; 32][..], &[9u8; 256][..]] {
        let mut dec = FrontendDecoder::new(Limits::default());
        let m = FrontendMessage::CancelRequest(CancelRequest {
            process_id: 4242,
            secret_key: key,
        });
        let w = enc_front(&m);
        assert_eq!(one_front(&mut dec, &w), m);
        // Nothing may follow a CancelRequest.
        assert!(dec.decode(b"Q").is_err());
    }
    let mut dec = FrontendDecoder::new(Limits::default());
    let w = enc_front(&FrontendMessage::CancelRequest(CancelRequest {
        process_id: 1,
        secret_key: &[0; 257],
    }));
    assert!(matches!(
        dec.decode(&w).unwrap_err().kind(),
        DecodeErrorKind::Malformed { .. }
    ));
}

#[test]
fn startup_errors() {
    let mut dec = FrontendDecoder::new(Limits::default());
    let mut w = startup_wire(ProtocolVersion { major: 2, minor: 0 });
    let e = dec.decode(&w).unwrap_err();
    assert_eq!(e.sqlstate(), "0A000");
    w[4..8].copy_from_slice(&(1234u32 << 16 | 9999).to_be_bytes());
    let e = FrontendDecoder::new(Limits::default())
        .decode(&w)
        .unwrap_err();
    assert!(matches!(
        e.kind(),
        DecodeErrorKind::UnknownRequestCode { .. }
    ));
    // Length below the minimum, and above the startup limit (checked before any body).
    let e = FrontendDecoder::new(Limits::default())
        .decode(&[0, 0, 0, 7])
        .unwrap_err();
    assert!(matches!(
        e.kind(),
        DecodeErrorKind::BadLength { min: 8, .. }
    ));
    let e = FrontendDecoder::new(Limits::default())
        .decode(&[0, 0, 0x30, 0])
        .unwrap_err();
    assert!(matches!(
        e.kind(),
        DecodeErrorKind::TooLarge { limit: 10_000, .. }
    ));
    // Too many parameters.
    let mut limits = Limits::default();
    limits.max_startup_params = 2;
    let e = FrontendDecoder::new(limits)
        .decode(&startup_wire(ProtocolVersion::V3_0))
        .unwrap_err();
    assert!(matches!(
        e.kind(),
        DecodeErrorKind::TooMany {
            count: 3,
            limit: 2,
            ..
        }
    ));
}

#[test]
fn every_frontend_message() {
    let simple = [
        FrontendMessage::Query(Query {
            sql: s("SELECT 1; DELETE FROM users"),
        }),
        FrontendMessage::Describe(Describe {
            target: Target::Statement,
            name: s("s1"),
        }),
        FrontendMessage::Describe(Describe {
            target: Target::Portal,
            name: PgStr::EMPTY,
        }),
        FrontendMessage::Close(Close {
            target: Target::Portal,
            name: s("p"),
        }),
        FrontendMessage::Close(Close {
            target: Target::Statement,
            name: s(""),
        }),
        FrontendMessage::Execute(Execute {
            portal: s("p"),
            max_rows: 100,
        }),
        FrontendMessage::Sync,
        FrontendMessage::Flush,
        FrontendMessage::Terminate,
        FrontendMessage::CopyData(CopyData { data: b"1\tone\n" }),
        FrontendMessage::CopyDone,
        FrontendMessage::CopyFail(CopyFail {
            message: s("aborted"),
        }),
    ];
    for m in simple {
        let mut dec = FrontendDecoder::new_after_startup(Limits::default());
        let w = enc_front(&m);
        assert_eq!(one_front(&mut dec, &w), m);
        assert_eq!(w[0], m.tag().0);
    }

    // Parse, Bind and FunctionCall carry lists: build them from parts.
    let mut w = Vec::new();
    Parse::encode_parts(s("s1"), s("SELECT $1::int, $2"), &[23, 0], &mut w);
    let mut dec = FrontendDecoder::new_after_startup(Limits::default());
    let FrontendMessage::Parse(p) = one_front(&mut dec, &w) else {
        panic!()
    };
    assert_eq!(p.name, "s1");
    assert_eq!(p.query, "SELECT $1::int, $2");
    assert_eq!(p.param_types.iter().collect::<Vec<_>>(), [23, 0]);

    let mut w = Vec::new();
    Bind::encode_parts(
        s("portal"),
        s("s1"),
        &[1],
        [Some(&[0, 0, 0, 7][..]), None, Some(&b""[..])],
        &[0, 1],
        &mut w,
    );
    let FrontendMessage::Bind(b) = one_front(&mut dec, &w) else {
        panic!()
    };
    assert_eq!(b.portal, "portal");
    assert_eq!(b.statement, "s1");
    assert_eq!(b.param_formats.iter().collect::<Vec<_>>(), [1]);
    assert_eq!(b.param_formats.for_index(2), Some(1));
    assert_eq!(
        b.params.iter().collect::<Vec<_>>(),
        [Some(&[0, 0, 0, 7][..]), None, Some(&b""[..])]
    );
    assert_eq!(b.result_formats.iter().collect::<Vec<_>>(), [0, 1]);

    // FunctionCall has no builder: write it by hand.
    let mut w = vec![b'F', 0, 0, 0, 0];
    w.extend_from_slice(&1598u32.to_be_bytes());
    w.extend_from_slice(&[
        0, 1, 0, 1, 0, 2, 0, 0, 0, 2, b'h', b'i', 0xff, 0xff, 0xff, 0xff,
    ]);
    w.extend_from_slice(&[0, 1]);
    let n = (w.len() - 1) as u32;
    w[1..5].copy_from_slice(&n.to_be_bytes());
    let mut built = Vec::new();
    guard_sql::pg::FunctionCall::encode_parts(1598, &[1], [Some(&b"hi"[..]), None], 1, &mut built);
    assert_eq!(built, w);
    let FrontendMessage::FunctionCall(f) = one_front(&mut dec, &w) else {
        panic!()
    };
    assert_eq!(f.function, 1598);
    assert_eq!(f.args.iter().collect::<Vec<_>>(), [Some(&b"hi"[..]), None]);
    assert_eq!(f.result_format, 1);
}

#[test]
fn password_family() {
    let pw = FrontendMessage::Password(PasswordMessage {
        password: s("md5abc"),
    });
    let init = FrontendMessage::SaslInitialResponse(SaslInitialResponse {
        mechanism: s("SCRAM-SHA-256"),
        data: Some(b"n,,n=,r=abc"),
    });
    let init_none = FrontendMessage::SaslInitialResponse(SaslInitialResponse {
        mechanism: s("X"),
        data: None,
    });
    let resp = FrontendMessage::SaslResponse(SaslResponse {
        data: b"c=biws,r=abc,p=xyz",
    });
    let gss = FrontendMessage::GssResponse(guard_sql::pg::GssResponse { data: b"\x01\x02" });

    // Told what the server asked for, the decoder types the message.
    for (kind, m) in [
        (AuthKind::Password, pw),
        (AuthKind::SaslInitial, init),
        (AuthKind::SaslInitial, init_none),
        (AuthKind::Sasl, resp),
        (AuthKind::Gss, gss),
    ] {
        let mut dec = FrontendDecoder::new_after_startup(Limits::default());
        dec.expect_auth(Some(kind));
        let w = enc_front(&m);
        assert_eq!(one_front(&mut dec, &w), m);
    }

    // SASLInitialResponse is followed by SASLResponse without being told again.
    let mut dec = FrontendDecoder::new_after_startup(Limits::default());
    dec.expect_auth(Some(AuthKind::SaslInitial));
    let (a, b) = (enc_front(&init), enc_front(&resp));
    assert_eq!(one_front(&mut dec, &a), init);
    assert_eq!(one_front(&mut dec, &b), resp);

    // Learning from the backend stream.
    let mut dec = FrontendDecoder::new_after_startup(Limits::default());
    dec.observe_backend(&BackendMessage::Authentication(
        Authentication::CleartextPassword,
    ));
    assert_eq!(dec.expected_auth(), Some(AuthKind::Password));

    // Not told: a PasswordLike whose accessors interpret the body.
    let mut dec = FrontendDecoder::new_after_startup(Limits::default());
    let pw_wire = enc_front(&pw);
    let FrontendMessage::PasswordLike(p) = one_front(&mut dec, &pw_wire) else {
        panic!()
    };
    assert_eq!(p.to_password().unwrap().password, "md5abc");
    let FrontendMessage::PasswordLike(p) = one_front(&mut dec, &a) else {
        panic!()
    };
    let i = p.to_sasl_initial().unwrap();
    assert_eq!(i.mechanism, "SCRAM-SHA-256");
    assert!(p.to_password().is_none());
}

#[test]
fn frontend_errors() {
    let mut dec = FrontendDecoder::new_after_startup(Limits::default());
    let e = dec.decode(b"Z\0\0\0\x04").unwrap_err();
    assert!(matches!(
        e.kind(),
        DecodeErrorKind::UnknownTag { tag: Tag(b'Z'), .. }
    ));
    assert_eq!(e.sqlstate(), "08P01");
    // Trailing bytes after Sync.
    let e = dec.decode(b"S\0\0\0\x05x").unwrap_err();
    assert!(matches!(e.kind(), DecodeErrorKind::Malformed { .. }), "{e}");
    // Query without NUL.
    assert!(dec.decode(b"Q\0\0\0\x05x").is_err());
    // Length word below 4.
    assert!(matches!(
        dec.decode(b"Q\0\0\0\x03").unwrap_err().kind(),
        DecodeErrorKind::BadLength { .. }
    ));
    // Oversized message refused from its header alone.
    let mut limits = Limits::default();
    limits.max_frontend_message_bytes = 100;
    let e = FrontendDecoder::new_after_startup(limits)
        .decode(b"Q\0\0\x10\0")
        .unwrap_err();
    assert!(matches!(
        e.kind(),
        DecodeErrorKind::TooLarge {
            len: 4097,
            limit: 100,
            ..
        }
    ));
    // Bind with a parameter count above the limit, refused before reading values.
    let mut limits = Limits::default();
    limits.max_params = 1;
    let mut w = Vec::new();
    Bind::encode_parts(s(""), s(""), &[], [None, None], &[], &mut w);
    let e = FrontendDecoder::new_after_startup(limits)
        .decode(&w)
        .unwrap_err();
    assert!(matches!(
        e.kind(),
        DecodeErrorKind::TooMany {
            count: 2,
            limit: 1,
            ..
        }
    ));
    // A value length past the end.
    let w = b"B\0\0\0\x12\0\0\0\0\0\x01\0\0\0\x09ab\0\0";
    assert!(
        FrontendDecoder::new_after_startup(Limits::default())
            .decode(w)
            .is_err()
    );
}

#[test]
fn every_backend_message() {
    let mut fields = Vec::new();
    ErrorBuilder::new(Severity::Error, "42501", "denied")
        .detail("d")
        .hint("h")
        .position(7)
        .encode_error(&mut fields);
    let simple: Vec<BackendMessage<'_>> = vec![
        BackendMessage::Authentication(Authentication::Ok),
        BackendMessage::Authentication(Authentication::KerberosV5),
        BackendMessage::Authentication(Authentication::CleartextPassword),
        BackendMessage::Authentication(Authentication::Md5Password { salt: [1, 2, 3, 4] }),
        BackendMessage::Authentication(Authentication::Gss),
        BackendMessage::Authentication(Authentication::GssContinue { data: b"tok" }),
        BackendMessage::Authentication(Authentication::Sspi),
        BackendMessage::Authentication(Authentication::SaslContinue {
            data: b"r=a,s=b,i=1",
        }),
        BackendMessage::Authentication(Authentication::SaslFinal { data: b"v=x" }),
        BackendMessage::BackendKeyData(BackendKeyData {
            process_id: 77,
            secret_key: &[1; 4],
        }),
        BackendMessage::BackendKeyData(BackendKeyData {
            process_id: 77,
            secret_key: &[2; 256],
        }),
        BackendMessage::BindComplete,
        BackendMessage::CloseComplete,
        BackendMessage::CommandComplete(CommandComplete { tag: s("DELETE 3") }),
        BackendMessage::CopyData(CopyData { data: b"x\n" }),
        BackendMessage::CopyDone,
        BackendMessage::EmptyQueryResponse,
        BackendMessage::FunctionCallResponse(FunctionCallResponse { value: Some(b"42") }),
        BackendMessage::FunctionCallResponse(FunctionCallResponse { value: None }),
        BackendMessage::NoData,
        BackendMessage::NotificationResponse(NotificationResponse {
            process_id: 5,
            channel: s("jobs"),
            payload: s("{\"id\":1}"),
        }),
        BackendMessage::ParameterStatus(ParameterStatus {
            name: s("server_version"),
            value: s("15.8"),
        }),
        BackendMessage::ParseComplete,
        BackendMessage::PortalSuspended,
        BackendMessage::ReadyForQuery(ReadyForQuery {
            status: TransactionStatus::Idle,
        }),
        BackendMessage::ReadyForQuery(ReadyForQuery {
            status: TransactionStatus::InTransaction,
        }),
        BackendMessage::ReadyForQuery(ReadyForQuery {
            status: TransactionStatus::Failed,
        }),
    ];
    for m in &simple {
        let mut dec = BackendDecoder::new(Limits::default());
        let w = enc_back(m);
        assert_eq!(one_back(&mut dec, &w), *m);
        assert_eq!(w[0], m.tag().0);
    }
    let mut dec = BackendDecoder::new(Limits::default());
    let BackendMessage::ErrorResponse(e) = one_back(&mut dec, &fields) else {
        panic!()
    };
    assert_eq!(e.fields.severity().unwrap(), "ERROR");
    assert_eq!(e.fields.code().unwrap(), "42501");
    assert_eq!(e.fields.message().unwrap(), "denied");
    assert_eq!(e.fields.detail().unwrap(), "d");
    assert_eq!(e.fields.hint().unwrap(), "h");
    assert_eq!(e.fields.get(b'P').unwrap(), "7");
    let mut w = Vec::new();
    ErrorBuilder::new(Severity::Warning, "01000", "careful\0").encode_notice(&mut w);
    let BackendMessage::NoticeResponse(n) = one_back(&mut dec, &w) else {
        panic!()
    };
    assert_eq!(n.fields.message().unwrap(), "careful");
    assert_eq!(n.fields.len(), 4);

    let mut w = Vec::new();
    Authentication::encode_sasl(&[s("SCRAM-SHA-256-PLUS"), s("SCRAM-SHA-256")], &mut w);
    let BackendMessage::Authentication(Authentication::Sasl { mechanisms }) =
        one_back(&mut dec, &w)
    else {
        panic!()
    };
    assert_eq!(
        mechanisms.iter().collect::<Vec<_>>(),
        ["SCRAM-SHA-256-PLUS", "SCRAM-SHA-256"]
    );
    assert!(mechanisms.contains("SCRAM-SHA-256"));

    for tag in [b'G', b'H', b'W'] {
        let mut w = Vec::new();
        CopyResponse::encode_parts(tag, 1, &[1, 1, 0], &mut w);
        let m = one_back(&mut dec, &w);
        let c = match m {
            BackendMessage::CopyInResponse(c)
            | BackendMessage::CopyOutResponse(c)
            | BackendMessage::CopyBothResponse(c) => c,
            _ => panic!("{m:?}"),
        };
        assert_eq!(m.tag(), Tag(tag));
        assert_eq!(c.format, 1);
        assert_eq!(c.column_formats.iter().collect::<Vec<_>>(), [1, 1, 0]);
    }

    let mut w = Vec::new();
    DataRow::encode_values(
        [
            Some(&b"1"[..]),
            None,
            Some(&b""[..]),
            Some(&b"long value"[..]),
        ],
        &mut w,
    );
    let BackendMessage::DataRow(d) = one_back(&mut dec, &w) else {
        panic!()
    };
    let mut cols = Vec::new();
    d.values.collect_into(&mut cols);
    assert_eq!(
        cols,
        [
            Some(&b"1"[..]),
            None,
            Some(&b""[..]),
            Some(&b"long value"[..])
        ]
    );
    assert_eq!(d.values.iter().len(), 4);

    let mut w = Vec::new();
    DataRow::encode_values([], &mut w);
    assert_eq!(w, b"D\0\0\0\x06\0\0");
    assert!(matches!(one_back(&mut dec, &w), BackendMessage::DataRow(d) if d.values.is_empty()));

    let mut w = Vec::new();
    NegotiateProtocolVersion::encode_parts(0, &[s("_pq_.compression")], &mut w);
    let BackendMessage::NegotiateProtocolVersion(n) = one_back(&mut dec, &w) else {
        panic!()
    };
    assert_eq!(n.newest_minor, 0);
    assert_eq!(
        n.unrecognized.iter().collect::<Vec<_>>(),
        ["_pq_.compression"]
    );

    let mut w = Vec::new();
    ParameterDescription::encode_types(&[23, 25], &mut w);
    let BackendMessage::ParameterDescription(p) = one_back(&mut dec, &w) else {
        panic!()
    };
    assert_eq!(p.types.iter().collect::<Vec<_>>(), [23, 25]);

    let cols = [
        FieldDescription {
            name: s("id"),
            table_oid: 16384,
            column_id: 1,
            type_oid: 23,
            type_size: 4,
            type_modifier: -1,
            format: 0,
        },
        FieldDescription {
            name: s("?column?"),
            table_oid: 0,
            column_id: 0,
            type_oid: 25,
            type_size: -1,
            type_modifier: -1,
            format: 1,
        },
    ];
    let mut w = Vec::new();
    RowDescription::encode_fields(cols, &mut w);
    let BackendMessage::RowDescription(r) = one_back(&mut dec, &w) else {
        panic!()
    };
    assert_eq!(r.fields.iter().collect::<Vec<_>>(), cols);
}

#[test]
fn encryption_answers() {
    for (front, byte, msg) in [
        (
            FrontendMessage::SslRequest,
            b'S',
            BackendMessage::SslResponse { accepted: true },
        ),
        (
            FrontendMessage::SslRequest,
            b'N',
            BackendMessage::SslResponse { accepted: false },
        ),
        (
            FrontendMessage::GssEncRequest,
            b'G',
            BackendMessage::GssEncResponse { accepted: true },
        ),
        (
            FrontendMessage::GssEncRequest,
            b'N',
            BackendMessage::GssEncResponse { accepted: false },
        ),
    ] {
        let mut dec = BackendDecoder::new(Limits::default());
        dec.observe_frontend(&front);
        assert_eq!(one_back(&mut dec, &[byte]), msg);
        // Afterwards 'S' is a ParameterStatus tag again.
        assert!(matches!(
            dec.decode(b"S\0\0\0\x04").unwrap_err().kind(),
            DecodeErrorKind::Malformed { .. }
        ));
    }
    // An old server answering with an ErrorResponse.
    let mut w = Vec::new();
    ErrorBuilder::new(Severity::Fatal, "08P01", "unsupported").encode_error(&mut w);
    let mut dec = BackendDecoder::new(Limits::default());
    dec.expect_ssl_response();
    assert!(matches!(
        one_back(&mut dec, &w),
        BackendMessage::ErrorResponse(_)
    ));
    let mut dec = BackendDecoder::new(Limits::default());
    dec.expect_gssenc_response();
    assert!(dec.decode(b"S").is_err());
}

#[test]
fn backend_errors() {
    let mut dec = BackendDecoder::new(Limits::default());
    let e = dec.decode(b"R\0\0\0\x08\0\0\0\x63").unwrap_err();
    assert!(matches!(
        e.kind(),
        DecodeErrorKind::UnknownAuthentication { code: 99 }
    ));
    assert_eq!(e.fault(), guard_sql::pg::Fault::Upstream);
    assert!(dec.decode(b"Z\0\0\0\x05X").is_err());
    assert!(dec.decode(b"K\0\0\0\x0a\0\0\0\x01\0\0").is_err());
    let mut limits = Limits::default();
    limits.max_columns = 1;
    let mut w = Vec::new();
    DataRow::encode_values([None, None], &mut w);
    let e = BackendDecoder::new(limits).decode(&w).unwrap_err();
    assert!(matches!(
        e.kind(),
        DecodeErrorKind::TooMany { count: 2, .. }
    ));
    // DataRow whose value length runs past the message.
    assert!(
        BackendDecoder::new(Limits::default())
            .decode(b"D\0\0\0\x0a\0\x01\0\0\0\x05")
            .is_err()
    );
    // A negative length other than -1.
    assert!(
        BackendDecoder::new(Limits::default())
            .decode(b"D\0\0\0\x0a\0\x01\xff\xff\xff\xfe")
            .is_err()
    );
}

#[test]
fn command_complete_rows() {
    for (tag, rows) in [
        ("SELECT 5", Some(5)),
        ("INSERT 0 12", Some(12)),
        ("CREATE TABLE", None),
        ("BEGIN", None),
    ] {
        let c = CommandComplete {
            tag: PgStr::try_from(tag).unwrap(),
        };
        assert_eq!(c.rows(), rows, "{tag}");
    }
}

#[test]
fn bytesmut_output() {
    let mut b = bytes::BytesMut::new();
    ReadyForQuery {
        status: TransactionStatus::Idle,
    }
    .encode(&mut b);
    assert_eq!(&b[..], b"Z\0\0\0\x05I");
}
