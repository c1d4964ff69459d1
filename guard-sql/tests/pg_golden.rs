//! Golden bytes from a real PostgreSQL 15 server and real clients (psql, pgbench), captured by
//! `testdata/pg/capture.sh` (a throwaway `initdb` cluster with SCRAM-SHA-256 passwords, clients
//! connected through `testdata/pg/tee.py`, which saved each direction of each connection;
//! see `testdata/pg/README.md`). The tests decode both directions, check the message
//! sequences, re-encode every message to the exact captured bytes, and replay the captured
//! SCRAM exchange through both sides of [`guard_sql::pg::auth`]. Sessions: psql simple queries
//! (with NOTICE, error, transaction, COPY TO STDOUT), pgbench's extended protocol, psql with
//! LISTEN/NOTIFY, COPY FROM STDIN and `\lo_import` (FunctionCall), and a psql query cancelled
//! with CancelRequest.

use guard_sql::pg::auth::{ScramClient, ScramSecret, ScramServer};
use guard_sql::pg::{
    Authentication, BackendDecoder, BackendMessage, Decoded, FrontendDecoder, FrontendMessage,
    Limits, ProtocolVersion, TransactionStatus,
};

const PSQL_FRONT: &[u8] = include_bytes!("../testdata/pg/psql_simple.c0.frontend.bin");
const PSQL_BACK: &[u8] = include_bytes!("../testdata/pg/psql_simple.c0.backend.bin");
const BENCH_FRONT: &[u8] = include_bytes!("../testdata/pg/pgbench_extended.c1.frontend.bin");
const BENCH_BACK: &[u8] = include_bytes!("../testdata/pg/pgbench_extended.c1.backend.bin");
const BENCH0_FRONT: &[u8] = include_bytes!("../testdata/pg/pgbench_extended.c0.frontend.bin");
const BENCH0_BACK: &[u8] = include_bytes!("../testdata/pg/pgbench_extended.c0.backend.bin");
const MORE_FRONT: &[u8] = include_bytes!("../testdata/pg/psql_more.c0.frontend.bin");
const MORE_BACK: &[u8] = include_bytes!("../testdata/pg/psql_more.c0.backend.bin");
const CANCEL_FRONT: &[u8] = include_bytes!("../testdata/pg/psql_cancel.c0.frontend.bin");
const CANCEL_BACK: &[u8] = include_bytes!("../testdata/pg/psql_cancel.c0.backend.bin");
const CANCEL_REQ_FRONT: &[u8] = include_bytes!("../testdata/pg/psql_cancel.c1.frontend.bin");
const CANCEL_REQ_BACK: &[u8] = include_bytes!("../testdata/pg/psql_cancel.c1.backend.bin");

/// Whether the client opened with SSLRequest (libpq's default sslmode=prefer does).
fn ssl(front: &[u8]) -> bool {
    front.starts_with(&[0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f])
}

/// Decodes a whole backend stream; `ssl` when the client opened with SSLRequest.
fn backend(wire: &[u8], ssl: bool) -> Vec<BackendMessage<'_>> {
    let mut dec = BackendDecoder::new(Limits::default());
    if ssl {
        dec.expect_ssl_response();
    }
    let mut rest = wire;
    let mut out = Vec::new();
    while !rest.is_empty() {
        match dec.decode(rest).unwrap() {
            Decoded::Message { len, msg } => {
                let mut re = Vec::new();
                msg.encode(&mut re);
                assert_eq!(re, &rest[..len], "{msg:?} re-encodes differently");
                out.push(msg);
                rest = &rest[len..];
            }
            Decoded::NeedMore { .. } => panic!("truncated capture"),
        }
    }
    out
}

/// Decodes a whole frontend stream, telling the decoder what each `'p'` answers from the
/// authentication requests of the backend stream, as a proxy seeing both directions would.
fn frontend<'a>(wire: &'a [u8], back: &[BackendMessage<'_>]) -> Vec<FrontendMessage<'a>> {
    let mut auth = back.iter().filter(|m| {
        matches!(
            m,
            BackendMessage::Authentication(
                Authentication::Sasl { .. }
                    | Authentication::SaslContinue { .. }
                    | Authentication::CleartextPassword
                    | Authentication::Md5Password { .. }
            )
        )
    });
    let mut dec = FrontendDecoder::new(Limits::default());
    let mut rest = wire;
    let mut out = Vec::new();
    while !rest.is_empty() {
        if rest[0] == b'p' && !dec.in_startup() {
            dec.observe_backend(
                auth.next()
                    .expect("a 'p' answers an authentication request"),
            );
        }
        match dec.decode(rest).unwrap() {
            Decoded::Message { len, msg } => {
                let mut re = Vec::new();
                msg.encode(&mut re);
                assert_eq!(re, &rest[..len], "{msg:?} re-encodes differently");
                out.push(msg);
                rest = &rest[len..];
            }
            Decoded::NeedMore { .. } => panic!("truncated capture"),
        }
    }
    out
}

fn tags_back(msgs: &[BackendMessage<'_>]) -> String {
    msgs.iter()
        .map(|m| {
            if m.tag().0 == 0 {
                '-'
            } else {
                m.tag().0 as char
            }
        })
        .collect()
}

fn tags_front(msgs: &[FrontendMessage<'_>]) -> String {
    msgs.iter()
        .map(|m| {
            if m.tag().0 == 0 {
                '-'
            } else {
                m.tag().0 as char
            }
        })
        .collect()
}

#[test]
fn psql_session_backend() {
    let back = backend(PSQL_BACK, ssl(PSQL_FRONT));
    let tags = tags_back(&back);
    // 'N' to SSLRequest, SASL, SASLContinue, SASLFinal, Ok, ParameterStatus..., key, ready.
    assert!(tags.starts_with("-RRRRS"), "{tags}");
    assert_eq!(back[0], BackendMessage::SslResponse { accepted: false });
    let BackendMessage::Authentication(Authentication::Sasl { mechanisms }) = back[1] else {
        panic!("{:?}", back[1])
    };
    assert_eq!(mechanisms.iter().collect::<Vec<_>>(), ["SCRAM-SHA-256"]);
    assert!(matches!(
        back[4],
        BackendMessage::Authentication(Authentication::Ok)
    ));
    let statuses: Vec<_> = back
        .iter()
        .filter_map(|m| match m {
            BackendMessage::ParameterStatus(p) => Some(p.name.to_str().unwrap()),
            _ => None,
        })
        .collect();
    for p in [
        "server_version",
        "client_encoding",
        "application_name",
        "integer_datetimes",
    ] {
        assert!(statuses.contains(&p), "{statuses:?}");
    }
    let key = back.iter().find_map(|m| match m {
        BackendMessage::BackendKeyData(k) => Some(*k),
        _ => None,
    });
    assert_eq!(key.expect("BackendKeyData").secret_key.len(), 4);

    // The SELECT: RowDescription with the table's OID and column numbers, then two rows.
    let (i, rd) = back
        .iter()
        .enumerate()
        .find_map(|(i, m)| match m {
            BackendMessage::RowDescription(r) => Some((i, *r)),
            _ => None,
        })
        .expect("RowDescription");
    let cols: Vec<_> = rd.fields.iter().collect();
    assert_eq!(
        cols.iter()
            .map(|c| c.name.to_str().unwrap())
            .collect::<Vec<_>>(),
        ["id", "name", "email"]
    );
    assert!(
        cols.iter()
            .all(|c| c.table_oid >= 16384 && c.table_oid == cols[0].table_oid)
    );
    assert_eq!(
        cols.iter().map(|c| c.column_id).collect::<Vec<_>>(),
        [1, 2, 3]
    );
    assert_eq!(
        cols.iter().map(|c| c.type_oid).collect::<Vec<_>>(),
        [23, 25, 25]
    );
    let rows: Vec<Vec<Option<&[u8]>>> = back[i + 1..i + 3]
        .iter()
        .map(|m| match m {
            BackendMessage::DataRow(d) => d.values.iter().collect(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        rows,
        [
            vec![
                Some(&b"1"[..]),
                Some(&b"ada"[..]),
                Some(&b"ada@example.com"[..])
            ],
            vec![Some(&b"2"[..]), Some(&b"bob"[..]), None],
        ]
    );
    let BackendMessage::CommandComplete(c) = back[i + 3] else {
        panic!("{:?}", back[i + 3])
    };
    assert_eq!(c.tag, "SELECT 2");
    assert_eq!(c.rows(), Some(2));

    // The NOTICE for DROP TABLE IF EXISTS and the error for the missing table.
    let notice = back.iter().find_map(|m| match m {
        BackendMessage::NoticeResponse(n) => Some(*n),
        _ => None,
    });
    assert_eq!(
        notice.expect("NoticeResponse").fields.code().unwrap(),
        "00000"
    );
    let error = back.iter().find_map(|m| match m {
        BackendMessage::ErrorResponse(e) => Some(*e),
        _ => None,
    });
    let error = error.expect("ErrorResponse").fields;
    assert_eq!(error.code().unwrap(), "42P01");
    assert_eq!(error.severity().unwrap(), "ERROR");
    assert!(
        error
            .message()
            .unwrap()
            .to_str()
            .unwrap()
            .contains("missing_table")
    );

    // The transaction shows in ReadyForQuery, COPY TO STDOUT in CopyOutResponse.
    let ready: Vec<_> = back
        .iter()
        .filter_map(|m| match m {
            BackendMessage::ReadyForQuery(r) => Some(r.status),
            _ => None,
        })
        .collect();
    assert!(
        ready.contains(&TransactionStatus::InTransaction),
        "{ready:?}"
    );
    assert_eq!(ready.last(), Some(&TransactionStatus::Idle));
    assert!(tags.contains("HddcC"), "{tags}");
}

#[test]
fn psql_session_frontend() {
    let back = backend(PSQL_BACK, ssl(PSQL_FRONT));
    let front = frontend(PSQL_FRONT, &back);
    let tags = tags_front(&front);
    assert!(tags.starts_with("--pp"), "{tags}");
    assert!(tags.ends_with('X'), "{tags}");
    assert_eq!(front[0], FrontendMessage::SslRequest);
    let FrontendMessage::Startup(s) = front[1] else {
        panic!("{:?}", front[1])
    };
    assert_eq!(s.version, ProtocolVersion::V3_0);
    assert_eq!(s.user().unwrap(), "alice");
    assert_eq!(s.database().unwrap(), "app");
    assert_eq!(s.params.get("application_name").unwrap(), "golden");
    assert!(matches!(front[2], FrontendMessage::SaslInitialResponse(_)));
    assert!(matches!(front[3], FrontendMessage::SaslResponse(_)));
    let queries: Vec<_> = front
        .iter()
        .filter_map(|m| match m {
            FrontendMessage::Query(q) => Some(q.sql.to_str().unwrap()),
            _ => None,
        })
        .collect();
    assert_eq!(queries.len(), 9, "{queries:?}");
    assert!(queries[2].starts_with("SELECT id, name, email FROM users"));
    assert_eq!(queries[8], "COPY users TO STDOUT;");
}

/// The captured SCRAM exchange (libpq against PostgreSQL 15) replayed through our client
/// and server: both must produce byte-identical messages.
#[test]
fn captured_scram_exchange_replays() {
    let back = backend(PSQL_BACK, ssl(PSQL_FRONT));
    let front = frontend(PSQL_FRONT, &back);
    let FrontendMessage::SaslInitialResponse(init) = front[2] else {
        panic!()
    };
    assert_eq!(init.mechanism, "SCRAM-SHA-256");
    let client_first = std::str::from_utf8(init.data.unwrap()).unwrap();
    let FrontendMessage::SaslResponse(fin) = front[3] else {
        panic!()
    };
    let client_final = std::str::from_utf8(fin.data).unwrap();
    let BackendMessage::Authentication(Authentication::SaslContinue { data }) = back[2] else {
        panic!()
    };
    let server_first = std::str::from_utf8(data).unwrap();
    let BackendMessage::Authentication(Authentication::SaslFinal { data }) = back[3] else {
        panic!()
    };
    let server_final = std::str::from_utf8(data).unwrap();

    let client_nonce = client_first
        .strip_prefix("n,,n=,r=")
        .expect("libpq's client-first");
    let mut client = ScramClient::new(b"alice-pw", client_nonce).unwrap();
    assert_eq!(client.client_first(), client_first);
    assert_eq!(
        client.handle_server_first(server_first.as_bytes()).unwrap(),
        client_final
    );
    client.handle_server_final(server_final.as_bytes()).unwrap();

    // Server side: rebuild the stored secret from the password and the captured salt.
    let mut parts = server_first.split(',');
    let nonce = parts.next().unwrap().strip_prefix("r=").unwrap();
    let salt = parts.next().unwrap().strip_prefix("s=").unwrap();
    let iterations: u32 = parts
        .next()
        .unwrap()
        .strip_prefix("i=")
        .unwrap()
        .parse()
        .unwrap();
    let salt_bytes = {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD
            .decode(salt)
            .unwrap()
    };
    let secret = ScramSecret::from_password(b"alice-pw", &salt_bytes, iterations);
    let mut server = ScramServer::new(secret, &nonce[client_nonce.len()..]).unwrap();
    assert_eq!(
        server.handle_client_first(client_first.as_bytes()).unwrap(),
        server_first
    );
    assert_eq!(
        server.handle_client_final(client_final.as_bytes()).unwrap(),
        server_final
    );
}

#[test]
fn pgbench_extended_protocol() {
    let back = backend(BENCH_BACK, ssl(BENCH_FRONT));
    let front = frontend(BENCH_FRONT, &back);
    let tags = tags_front(&front);
    // Startup, SCRAM, then per transaction Parse, Bind, Describe, Execute, Sync.
    assert!(tags.starts_with("--pp"), "{tags}");
    assert!(tags.contains("PBDES"), "{tags}");
    let parse = front.iter().find_map(|m| match m {
        FrontendMessage::Parse(p) => Some(*p),
        _ => None,
    });
    let parse = parse.expect("Parse");
    assert_eq!(parse.query, "SELECT id, name FROM users WHERE id = $1;");
    let bind = front.iter().find_map(|m| match m {
        FrontendMessage::Bind(b) => Some(*b),
        _ => None,
    });
    let bind = bind.expect("Bind");
    assert_eq!(bind.params.iter().collect::<Vec<_>>(), [Some(&b"1"[..])]);

    let btags = tags_back(&back);
    // ParseComplete, BindComplete, RowDescription, DataRow, CommandComplete, ReadyForQuery.
    assert!(btags.contains("12TDCZ"), "{btags}");
    let row = back.iter().find_map(|m| match m {
        BackendMessage::DataRow(d) => Some(*d),
        _ => None,
    });
    assert_eq!(
        row.expect("DataRow").values.iter().collect::<Vec<_>>(),
        [Some(&b"1"[..]), Some(&b"ada"[..])]
    );

    // pgbench's first connection only logs in and checks the server.
    let back0 = backend(BENCH0_BACK, ssl(BENCH0_FRONT));
    let front0 = frontend(BENCH0_FRONT, &back0);
    assert!(tags_front(&front0).starts_with("--pp"));
    assert!(tags_back(&back0).starts_with("-RRRR"));
}

/// Every split point of a captured stream decodes to the same messages.
#[test]
fn captured_streams_split_anywhere() {
    for (wire, ssl) in [
        (PSQL_BACK, ssl(PSQL_FRONT)),
        (BENCH_BACK, ssl(BENCH_FRONT)),
        (MORE_BACK, ssl(MORE_FRONT)),
        (CANCEL_BACK, ssl(CANCEL_FRONT)),
    ] {
        let whole = backend(wire, ssl).len();
        for at in 0..=wire.len() {
            let mut dec = BackendDecoder::new(Limits::default());
            if ssl {
                dec.expect_ssl_response();
            }
            let mut buf = wire[..at].to_vec();
            let mut fed = at;
            let mut n = 0;
            for _ in 0..whole * 2 + 2 {
                match dec.decode(&buf).unwrap() {
                    Decoded::Message { len, .. } => {
                        buf.drain(..len);
                        n += 1;
                    }
                    Decoded::NeedMore { .. } if fed < wire.len() => {
                        buf.extend_from_slice(&wire[fed..]);
                        fed = wire.len();
                    }
                    Decoded::NeedMore { .. } => break,
                }
            }
            assert_eq!(n, whole, "split at {at}");
        }
    }
}

/// SCRAM secrets PostgreSQL 15 made for non-ASCII passwords (`CREATE ROLE ... PASSWORD`,
/// captured by `capture.sh scram_secrets`): the server applies SASLprep, so a secret we derive
/// from the same password must be identical, and passwords SASLprep maps to the same string
/// must verify against it. Lines: password bytes in hex, a tab, the secret.
#[test]
fn scram_secrets_from_postgresql_apply_saslprep() {
    let text = include_str!("../testdata/pg/scram_secrets.txt");
    let unhex = |h: &str| -> Vec<u8> {
        (0..h.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&h[i..i + 2], 16).unwrap())
            .collect()
    };
    let mut seen = 0;
    for line in text.lines() {
        let (hex, stored) = line.split_once('\t').unwrap();
        let password = unhex(hex);
        let secret = ScramSecret::parse(stored).unwrap();
        let ours = ScramSecret::from_password(&password, secret.salt(), secret.iterations());
        assert_eq!(ours, secret, "{:?}", String::from_utf8_lossy(&password));
        assert!(secret.verify_password(&password));
        // What SASLprep maps each password to (RFC 4013 section 3 and NFKC), or itself when
        // SASLprep refuses it (PostgreSQL then hashes the raw bytes).
        let (equivalent, prepped): (&str, bool) = match password.as_slice() {
            b"I\xc2\xadX" => ("IX", true),   // soft hyphen maps to nothing
            b"\xe2\x85\xa8" => ("IX", true), // U+2168 ROMAN NUMERAL NINE, NFKC
            b"na\xc3\xafve" => ("na\u{ef}ve", false), // already normal
            b"a\x07b" => ("a\x07b", false),  // ASCII: used as is
            b"\xd8\xa71" => ("\u{627}1", false), // bidi rule fails: raw bytes
            b"cafe\xcc\x81" => ("caf\u{e9}", true), // e + combining acute, NFKC composes
            other => panic!("unexpected password {other:?}"),
        };
        assert!(
            secret.verify_password(equivalent.as_bytes()),
            "{equivalent:?} should verify"
        );
        let client_sees = guard_sql::pg::auth::saslprep_password(&password);
        assert_eq!(&*client_sees, equivalent.as_bytes());
        assert_eq!(prepped, *client_sees != *password);
        // Both sides of the exchange with the PostgreSQL-made secret.
        let mut client = ScramClient::new(&password, "cnonce").unwrap();
        let mut server = ScramServer::new(secret.clone(), "snonce").unwrap();
        let sf = server
            .handle_client_first(client.client_first().as_bytes())
            .unwrap();
        let cf = client.handle_server_first(sf.as_bytes()).unwrap();
        let fin = server.handle_client_final(cf.as_bytes()).unwrap();
        client.handle_server_final(fin.as_bytes()).unwrap();
        seen += 1;
    }
    assert_eq!(seen, 6);
}

/// `psql_more.c0`: LISTEN/NOTIFY, COPY FROM STDIN and `\lo_import` (libpq's large-object
/// functions go through the fast-path FunctionCall protocol).
#[test]
fn psql_notify_copy_in_and_function_calls() {
    let back = backend(MORE_BACK, ssl(MORE_FRONT));
    let front = frontend(MORE_FRONT, &back);
    let pid = back
        .iter()
        .find_map(|m| match m {
            BackendMessage::BackendKeyData(k) => Some(k.process_id),
            _ => None,
        })
        .expect("BackendKeyData");

    // NOTIFY on a channel the session listens on: the notification arrives after the
    // command's CommandComplete, before ReadyForQuery, from our own backend.
    let i = back
        .iter()
        .position(|m| matches!(m, BackendMessage::NotificationResponse(_)))
        .expect("NotificationResponse");
    let BackendMessage::NotificationResponse(n) = back[i] else {
        unreachable!()
    };
    assert_eq!(n.process_id, pid);
    assert_eq!(n.channel, "events");
    assert_eq!(n.payload, "hello");
    assert!(matches!(&back[i - 1], BackendMessage::CommandComplete(c) if c.tag == "NOTIFY"));
    assert!(matches!(back[i + 1], BackendMessage::ReadyForQuery(_)));

    // COPY FROM STDIN: CopyInResponse (text, two columns), the client's CopyData and CopyDone,
    // then CommandComplete "COPY 2".
    let i = back
        .iter()
        .position(|m| matches!(m, BackendMessage::CopyInResponse(_)))
        .expect("CopyInResponse");
    let BackendMessage::CopyInResponse(c) = back[i] else {
        unreachable!()
    };
    assert_eq!(c.format, 0);
    assert_eq!(c.column_formats.iter().collect::<Vec<_>>(), [0, 0]);
    assert!(matches!(&back[i + 1], BackendMessage::CommandComplete(c) if c.tag == "COPY 2"));
    let q = front
        .iter()
        .position(|m| matches!(m, FrontendMessage::Query(q) if q.sql == "COPY t FROM STDIN;"))
        .expect("the COPY query");
    let FrontendMessage::CopyData(d) = front[q + 1] else {
        panic!("{:?}", front[q + 1])
    };
    // psql 15 sends the rows and its end-of-data line as they are in the script.
    assert_eq!(d.data, b"1\tada\n2\tbob\n\\.\n");
    assert_eq!(front[q + 2], FrontendMessage::CopyDone);

    // \lo_import: lo_creat, lo_open, lowrite, lo_close by OID, binary arguments and results,
    // each answered by FunctionCallResponse and ReadyForQuery in the transaction.
    let calls: Vec<_> = front
        .iter()
        .filter_map(|m| match m {
            FrontendMessage::FunctionCall(f) => Some(*f),
            _ => None,
        })
        .collect();
    assert_eq!(
        calls.iter().map(|f| f.function).collect::<Vec<_>>(),
        [957, 952, 955, 953]
    );
    for f in &calls {
        assert_eq!(f.result_format, 1);
        assert!(f.arg_formats.iter().all(|c| c == 1));
    }
    let write: Vec<_> = calls[2].args.iter().collect();
    assert_eq!(write[1], Some(&b"large object payload\n"[..]));
    let results: Vec<_> = back
        .iter()
        .enumerate()
        .filter_map(|(i, m)| match m {
            BackendMessage::FunctionCallResponse(r) => Some((i, r.value)),
            _ => None,
        })
        .collect();
    assert_eq!(results.len(), 4);
    for (i, value) in &results {
        assert_eq!(value.map(<[u8]>::len), Some(4), "int4 results");
        assert!(matches!(
            back[i + 1],
            BackendMessage::ReadyForQuery(r) if r.status == TransactionStatus::InTransaction
        ));
    }
    // lowrite returns the number of bytes written.
    assert_eq!(results[2].1, Some(&21i32.to_be_bytes()[..]));
    // lo_open's first argument is the OID lo_creat returned.
    assert_eq!(calls[1].args.iter().next().unwrap(), results[0].1);
}

/// `psql_cancel`: psql interrupted during `pg_sleep`; libpq opens a second connection (c1)
/// carrying only a CancelRequest with the first connection's BackendKeyData, the server closes
/// it without a word, and the first connection (c0) gets ErrorResponse 57014.
#[test]
fn psql_cancel_request() {
    let back = backend(CANCEL_BACK, ssl(CANCEL_FRONT));
    let key = back
        .iter()
        .find_map(|m| match m {
            BackendMessage::BackendKeyData(k) => Some(*k),
            _ => None,
        })
        .expect("BackendKeyData");
    let error = back
        .iter()
        .find_map(|m| match m {
            BackendMessage::ErrorResponse(e) => Some(e.fields),
            _ => None,
        })
        .expect("ErrorResponse");
    assert_eq!(error.code().unwrap(), "57014");

    assert_eq!(CANCEL_REQ_FRONT.len(), 16);
    assert!(CANCEL_REQ_BACK.is_empty());
    let mut dec = FrontendDecoder::new(Limits::default());
    let Decoded::Message { len, msg } = dec.decode(CANCEL_REQ_FRONT).unwrap() else {
        panic!("a whole CancelRequest")
    };
    assert_eq!(len, 16);
    let FrontendMessage::CancelRequest(c) = msg else {
        panic!("{msg:?}")
    };
    assert_eq!(c.process_id, key.process_id);
    assert_eq!(c.secret_key, key.secret_key);
    let mut re = Vec::new();
    msg.encode(&mut re);
    assert_eq!(re, CANCEL_REQ_FRONT);
    // Nothing may follow a CancelRequest on its connection.
    assert!(dec.decode(b"Q\0\0\0\x05\0").is_err());
}
