//! Logging in to an upstream PostgreSQL with the gateway's stored credentials.

use anyhow::{Context, Result, anyhow, bail};
use bytes::{Buf, BytesMut};
use guard_sql::pg::auth::{ScramClient, md5_password, nonce_from_bytes};
use guard_sql::pg::{
    Authentication, BackendDecoder, BackendMessage, Decoded, Limits, PasswordMessage, PgStr,
    ProtocolVersion, SaslInitialResponse, SaslResponse, StartupMessage,
};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use crate::gateway::UpstreamRt;
use crate::io::{Stream, fill};

/// A logged-in upstream connection, ready for queries.
pub(crate) struct Upstream {
    pub(crate) stream: Stream,
    /// Bytes read past the first ReadyForQuery (normally none).
    pub(crate) buf: BytesMut,
    /// ParameterStatus messages, as received (relayed to the client).
    pub(crate) parameter_status: Vec<u8>,
    pub(crate) process_id: i32,
    pub(crate) secret_key: Vec<u8>,
}

/// An upstream refused the login or failed: the message is safe to show the client (it never
/// contains the stored credentials).
#[derive(Debug, thiserror::Error)]
#[error("upstream {what}")]
pub(crate) struct UpstreamError {
    pub(crate) what: String,
}

/// Opens a TCP (and, when configured, TLS) connection to the upstream, or, when its host is
/// a directory (an absolute path, as in libpq), a connection to the server's Unix-domain socket
/// `<dir>/.s.PGSQL.<port>` in it.
pub(crate) async fn open(up: &UpstreamRt) -> Result<Stream> {
    if let Some(path) = socket_path(&up.host, up.port) {
        // `check` refuses TLS settings for a socket directory; PostgreSQL has no TLS there.
        let s = tokio::net::UnixStream::connect(&path)
            .await
            .with_context(|| format!("connecting to upstream socket {}", path.display()))?;
        return Ok(Stream::Unix(s));
    }
    let tcp = TcpStream::connect((up.host.as_str(), up.port))
        .await
        .with_context(|| format!("connecting to upstream {}:{}", up.host, up.port))?;
    let _ = tcp.set_nodelay(true);
    let Some(tls) = &up.tls else {
        return Ok(Stream::Plain(tcp));
    };
    let mut tcp = tcp;
    let mut ssl = Vec::new();
    guard_sql::pg::FrontendMessage::SslRequest.encode(&mut ssl);
    tcp.write_all(&ssl).await?;
    let mut dec = BackendDecoder::new(Limits::default());
    dec.expect_ssl_response();
    let mut buf = BytesMut::new();
    let mut s = Stream::Plain(tcp);
    loop {
        match dec.decode(&buf)? {
            Decoded::NeedMore { at_least } => {
                if !fill(&mut s, &mut buf, at_least).await? {
                    bail!(UpstreamError {
                        what: "closed the connection during TLS negotiation".into()
                    });
                }
            }
            Decoded::Message {
                msg: BackendMessage::SslResponse { accepted: true },
                len,
            } => {
                if buf.len() != len {
                    bail!(UpstreamError {
                        what: "sent data before the TLS handshake".into()
                    });
                }
                break;
            }
            Decoded::Message { .. } => {
                bail!(UpstreamError {
                    what: "refused TLS".into()
                });
            }
        }
    }
    let Stream::Plain(tcp) = s else {
        unreachable!("constructed as plain above")
    };
    let name = crate::tls::server_name(&up.host)?;
    let conn = tokio_rustls::TlsConnector::from(tls.clone())
        .connect(name, tcp)
        .await
        .map_err(|e| UpstreamError {
            what: format!("TLS handshake failed: {e}"),
        })?;
    Ok(Stream::ClientTls(Box::new(conn)))
}

/// The Unix-domain socket of a PostgreSQL server whose `host` is a socket directory (an
/// absolute path); `None` for a host name or address.
pub(crate) fn socket_path(host: &str, port: u16) -> Option<std::path::PathBuf> {
    host.starts_with('/')
        .then(|| std::path::Path::new(host).join(format!(".s.PGSQL.{port}")))
}

/// Connects and logs in as the resource's stored user. `params` are the client's startup
/// parameters to pass on (user, database, replication and options already removed).
pub(crate) async fn connect(
    up: &UpstreamRt,
    application_name: &str,
    params: &[(String, String)],
) -> Result<Upstream> {
    let mut stream = open(up).await?;
    let mut startup = Vec::new();
    let mut pairs: Vec<(&str, &str)> = vec![
        ("user", up.user.as_str()),
        ("database", up.database.as_str()),
        ("application_name", application_name),
    ];
    for (k, v) in params {
        pairs.push((k, v));
    }
    let pairs: Vec<(PgStr<'_>, PgStr<'_>)> = pairs
        .iter()
        .map(|(k, v)| Ok((PgStr::try_new(k.as_bytes())?, PgStr::try_new(v.as_bytes())?)))
        .collect::<Result<_, guard_sql::pg::InteriorNulError>>()
        .map_err(|_| anyhow!("a startup parameter contains a NUL byte"))?;
    StartupMessage::encode_params(ProtocolVersion::V3_0, pairs, &mut startup);
    stream.write_all(&startup).await?;

    let mut dec = BackendDecoder::new(Limits::default());
    let mut buf = BytesMut::with_capacity(4096);
    let mut scram: Option<ScramClient> = None;
    let mut parameter_status = Vec::new();
    let mut key: Option<(i32, Vec<u8>)> = None;
    let password = || {
        up.password
            .as_ref()
            .map(|p| p.expose().as_bytes())
            .ok_or_else(|| UpstreamError {
                what: "asked for a password but none is configured".into(),
            })
    };
    loop {
        let (len, reply): (usize, Option<Vec<u8>>) = match dec.decode(&buf)? {
            Decoded::NeedMore { at_least } => {
                if !fill(&mut stream, &mut buf, at_least).await? {
                    bail!(UpstreamError {
                        what: "closed the connection during login".into()
                    });
                }
                continue;
            }
            Decoded::Message { len, msg } => {
                let mut out = Vec::new();
                match msg {
                    BackendMessage::Authentication(a) => match a {
                        Authentication::Ok => {}
                        Authentication::CleartextPassword => {
                            let pw = PgStr::try_new(password()?)
                                .map_err(|_| anyhow!("the stored password contains a NUL byte"))?;
                            PasswordMessage { password: pw }.encode(&mut out);
                        }
                        Authentication::Md5Password { salt } => {
                            let hashed = md5_password(&up.user, password()?, salt);
                            let pw = PgStr::try_new(hashed.as_bytes())
                                .map_err(|_| anyhow!("md5 hash with a NUL byte"))?;
                            PasswordMessage { password: pw }.encode(&mut out);
                        }
                        Authentication::Sasl { mechanisms } => {
                            if !mechanisms.contains(guard_sql::pg::auth::SCRAM_SHA_256) {
                                bail!(UpstreamError {
                                    what: "offers no SASL mechanism the gateway supports".into()
                                });
                            }
                            let nonce: [u8; 18] = rand::random();
                            let client = ScramClient::new(password()?, &nonce_from_bytes(&nonce))
                                .map_err(|e| UpstreamError {
                                what: format!("SCRAM: {e}"),
                            })?;
                            let first = client.client_first();
                            SaslInitialResponse {
                                mechanism: PgStr::from_static(guard_sql::pg::auth::SCRAM_SHA_256),
                                data: Some(first.as_bytes()),
                            }
                            .encode(&mut out);
                            scram = Some(client);
                        }
                        Authentication::SaslContinue { data } => {
                            let c = scram.as_mut().context("SASLContinue before SASL")?;
                            let fin = c.handle_server_first(data).map_err(|e| UpstreamError {
                                what: format!("SCRAM: {e}"),
                            })?;
                            SaslResponse {
                                data: fin.as_bytes(),
                            }
                            .encode(&mut out);
                        }
                        Authentication::SaslFinal { data } => {
                            let c = scram.as_mut().context("SASLFinal before SASL")?;
                            c.handle_server_final(data).map_err(|e| UpstreamError {
                                what: format!("SCRAM: {e}"),
                            })?;
                        }
                        other => bail!(UpstreamError {
                            what: format!(
                                "asked for unsupported authentication (code {})",
                                other.code()
                            )
                        }),
                    },
                    BackendMessage::ParameterStatus(p) => p.encode(&mut parameter_status),
                    BackendMessage::BackendKeyData(k) => {
                        key = Some((k.process_id, k.secret_key.to_vec()));
                    }
                    BackendMessage::NoticeResponse(_)
                    | BackendMessage::NegotiateProtocolVersion(_) => {}
                    BackendMessage::ErrorResponse(e) => {
                        let m = e.fields.message().map(|m| m.to_string_lossy().into_owned());
                        let code = e.fields.code().map(|m| m.to_string_lossy().into_owned());
                        bail!(UpstreamError {
                            what: format!(
                                "refused the login: {} ({})",
                                m.unwrap_or_default(),
                                code.unwrap_or_default()
                            )
                        });
                    }
                    BackendMessage::ReadyForQuery(_) => {
                        let (process_id, secret_key) = key.take().unwrap_or((0, Vec::new()));
                        buf.advance(len);
                        return Ok(Upstream {
                            stream,
                            buf,
                            parameter_status,
                            process_id,
                            secret_key,
                        });
                    }
                    other => bail!(UpstreamError {
                        what: format!(
                            "sent an unexpected message during login (tag {:?})",
                            other.tag()
                        )
                    }),
                }
                (len, (!out.is_empty()).then_some(out))
            }
        };
        buf.advance(len);
        if let Some(out) = reply {
            stream.write_all(&out).await?;
        }
    }
}

/// Sends a CancelRequest for (`pid`, `secret`) to the upstream.
pub(crate) async fn cancel(up: &UpstreamRt, pid: i32, secret: &[u8]) -> Result<()> {
    let mut s = open(up).await?;
    let mut out = Vec::new();
    guard_sql::pg::CancelRequest {
        process_id: pid,
        secret_key: secret,
    }
    .encode(&mut out);
    s.write_all(&out).await?;
    s.flush().await?;
    // The server closes the connection without answering.
    let mut b = BytesMut::new();
    let _ = tokio::time::timeout(std::time::Duration::from_secs(5), fill(&mut s, &mut b, 1)).await;
    Ok(())
}
