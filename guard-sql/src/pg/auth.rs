//! Sans-IO authentication helpers: the client side of SCRAM-SHA-256, MD5 and cleartext (a proxy
//! logging in upstream with stored credentials), and the server side of cleartext and
//! SCRAM-SHA-256 (a proxy receiving passwords or tokens from its clients).
//!
//! Nothing here draws randomness or does IO: nonces and salts are the caller's, messages are
//! strings the caller wraps in SASLInitialResponse/SASLResponse (client side) or
//! AuthenticationSASLContinue/AuthenticationSASLFinal (server side).
//!
//! SCRAM passwords go through SASLprep (RFC 4013) exactly where PostgreSQL and libpq apply it
//! ([`saslprep_password`]): a password that is valid UTF-8 and passes SASLprep is used in its
//! prepared form, any other password as its raw bytes. Secrets made here and by PostgreSQL
//! (`CREATE ROLE ... PASSWORD`) therefore agree for non-ASCII passwords too.
//!
//! Channel binding: [`ScramClient`] speaks SCRAM-SHA-256-PLUS with `tls-server-end-point`
//! (RFC 5929) when the caller hands it the binding data of the TLS connection
//! ([`tls_server_end_point`]) and the server offers it; [`ScramServer`] accepts it likewise.
//!
//! # Example: both sides of SCRAM-SHA-256
//!
//! ```
//! use guard_sql::pg::auth::{ScramClient, ScramSecret, ScramServer};
//!
//! let secret = ScramSecret::from_password(b"pencil", b"0123456789abcdef", 4096);
//! let mut client = ScramClient::new(b"pencil", "rOprNGfwEbeRWgbNEkqO")?;
//! let mut server = ScramServer::new(secret, "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0")?;
//!
//! let server_first = server.handle_client_first(client.client_first().as_bytes())?;
//! let client_final = client.handle_server_first(server_first.as_bytes())?;
//! let server_final = server.handle_client_final(client_final.as_bytes())?;
//! client.handle_server_final(server_final.as_bytes())?;
//! # Ok::<(), guard_sql::pg::auth::AuthError>(())
//! ```

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use hmac::{Hmac, Mac};
use md5::{Digest as _, Md5};
use sha2::Sha256;

use super::Fault;

type HmacSha256 = Hmac<Sha256>;

/// The SASL mechanism name of SCRAM-SHA-256.
pub const SCRAM_SHA_256: &str = "SCRAM-SHA-256";

/// The SASL mechanism name of SCRAM-SHA-256 with channel binding (`tls-server-end-point`).
pub const SCRAM_SHA_256_PLUS: &str = "SCRAM-SHA-256-PLUS";

/// The only channel-binding type PostgreSQL implements (RFC 5929).
const TLS_SERVER_END_POINT: &str = "tls-server-end-point";

/// Applies SASLprep (RFC 4013, the stringprep profile for user names and passwords) to a
/// SCRAM password the way PostgreSQL's `pg_saslprep` is used by the server and by libpq: a
/// password that is not valid UTF-8, or that SASLprep refuses (prohibited or unassigned
/// characters, bad bidirectional text, nothing left after mapping), is used as its raw bytes.
/// ASCII passwords come back unchanged.
///
/// The SCRAM helpers here call it themselves; it is public for callers that derive keys
/// elsewhere.
///
/// ```
/// use guard_sql::pg::auth::saslprep_password;
/// // U+00AD SOFT HYPHEN maps to nothing; U+2168 ROMAN NUMERAL NINE normalises to "IX".
/// assert_eq!(&*saslprep_password("I\u{ad}X".as_bytes()), b"IX");
/// assert_eq!(&*saslprep_password("\u{2168}".as_bytes()), b"IX");
/// // Prohibited (a control character) or not UTF-8: the raw bytes.
/// assert_eq!(&*saslprep_password(b"a\x07b"), b"a\x07b");
/// assert_eq!(&*saslprep_password(b"\xff\xfe"), b"\xff\xfe");
/// ```
pub fn saslprep_password(password: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    use std::borrow::Cow;
    let Ok(text) = std::str::from_utf8(password) else {
        return Cow::Borrowed(password);
    };
    // pg_saslprep returns pure ASCII untouched (control characters included).
    if text.is_ascii() {
        return Cow::Borrowed(password);
    }
    match stringprep::saslprep(text) {
        // pg_saslprep refuses an empty result ("don't allow empty password").
        Ok(p) if p.is_empty() => Cow::Borrowed(password),
        Ok(Cow::Borrowed(_)) => Cow::Borrowed(password),
        Ok(Cow::Owned(p)) => Cow::Owned(p.into_bytes()),
        Err(_) => Cow::Borrowed(password),
    }
}

/// The hash function of a server certificate's signature algorithm, which decides the hash
/// of its `tls-server-end-point` binding (RFC 5929 section 4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CertificateHash {
    /// MD5 or SHA-1 signatures, and SHA-256 ones: the binding uses SHA-256.
    Sha256,
    /// SHA-384 signatures (e.g. `ecdsa-with-SHA384`, `sha384WithRSAEncryption`).
    Sha384,
    /// SHA-512 signatures.
    Sha512,
}

/// The `tls-server-end-point` channel-binding data of a TLS connection (RFC 5929): the hash of
/// the server's certificate (DER, as the TLS handshake delivered it), with `hash` chosen from
/// the certificate's signature algorithm. This is what libpq and PostgreSQL compute for
/// SCRAM-SHA-256-PLUS.
///
/// ```
/// use guard_sql::pg::auth::{CertificateHash, tls_server_end_point};
/// assert_eq!(tls_server_end_point(b"cert", CertificateHash::Sha256).len(), 32);
/// assert_eq!(tls_server_end_point(b"cert", CertificateHash::Sha384).len(), 48);
/// ```
pub fn tls_server_end_point(certificate_der: &[u8], hash: CertificateHash) -> Vec<u8> {
    match hash {
        CertificateHash::Sha256 => Sha256::digest(certificate_der).to_vec(),
        CertificateHash::Sha384 => sha2::Sha384::digest(certificate_der).to_vec(),
        CertificateHash::Sha512 => sha2::Sha512::digest(certificate_der).to_vec(),
    }
}

/// Whether a [`ScramClient`] uses channel binding (libpq's `channel_binding` setting).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ChannelBindingPolicy {
    /// Never: SCRAM-SHA-256 with gs2 flag `n`.
    Disable,
    /// When the caller supplied binding data and the server offers SCRAM-SHA-256-PLUS; with
    /// data but no offer, SCRAM-SHA-256 with gs2 flag `y` (so a server that does support it
    /// detects the downgrade). libpq's default.
    #[default]
    Prefer,
    /// Always: refuse to authenticate without SCRAM-SHA-256-PLUS. The caller must also refuse
    /// every other way of logging in (cleartext, MD5, a bare AuthenticationOk), as libpq does.
    Require,
}

/// Most PBKDF2 iterations [`ScramClient`] accepts from a server by default: a hostile server
/// could otherwise make the client spin for hours. PostgreSQL's default is 4096.
pub const DEFAULT_MAX_ITERATIONS: u32 = 1_000_000;

/// An authentication exchange failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// The peer's SCRAM message does not have the expected shape.
    #[error("malformed scram message from the {peer}: expected {expected}")]
    Malformed {
        /// `"client"` or `"server"`.
        peer: &'static str,
        /// What was expected.
        expected: &'static str,
    },
    /// The client's channel-binding request cannot be honoured: a gs2 flag other than `n`,
    /// `y` and `p`, a `p` when the server has no binding data or for another binding type, or
    /// `y` when the server does support channel binding (a downgrade, RFC 5802 section 6).
    #[error("channel binding requested with gs2 flag {flag:?} cannot be honoured")]
    ChannelBinding {
        /// The gs2 header flag.
        flag: char,
    },
    /// Channel binding is required but impossible: no binding data, or the server does not
    /// offer SCRAM-SHA-256-PLUS; or the server offers no SCRAM mechanism the client can use.
    #[error("cannot authenticate with scram: {reason}")]
    MechanismUnavailable {
        /// Why.
        reason: &'static str,
    },
    /// The server's nonce does not extend the client's.
    #[error("the server nonce does not start with the client nonce")]
    NonceMismatch,
    /// The server asked for more PBKDF2 iterations than allowed.
    #[error("server asked for {iterations} pbkdf2 iterations, more than the limit of {limit}")]
    TooManyIterations {
        /// Requested iterations.
        iterations: u32,
        /// The limit.
        limit: u32,
    },
    /// The client's proof does not match the secret: wrong password.
    #[error("password authentication failed")]
    WrongPassword,
    /// The server's signature does not match: it does not know the password.
    #[error("the server signature does not match: the server does not hold the password")]
    ServerSignatureMismatch,
    /// The server ended the exchange with an error attribute.
    #[error("the server rejected the scram exchange: {message}")]
    ServerRejected {
        /// The `e=` value.
        message: String,
    },
    /// A stored secret, nonce or salt supplied by the caller is invalid.
    #[error("invalid {what}: {reason}")]
    InvalidInput {
        /// What the caller supplied.
        what: &'static str,
        /// Why it is invalid.
        reason: &'static str,
    },
    /// A step was called out of order.
    #[error("scram step called out of order: {step} in state {state}")]
    OutOfOrder {
        /// The step called.
        step: &'static str,
        /// The state the exchange was in.
        state: &'static str,
    },
}

impl AuthError {
    /// Whose fault it is.
    pub fn fault(&self) -> Fault {
        match self {
            AuthError::Malformed { peer: "client", .. }
            | AuthError::ChannelBinding { .. }
            | AuthError::WrongPassword => Fault::Client,
            AuthError::InvalidInput { .. } | AuthError::OutOfOrder { .. } => Fault::Caller,
            AuthError::MechanismUnavailable { .. } => Fault::Upstream,
            _ => Fault::Upstream,
        }
    }

    /// SQLSTATE for the client: `28P01` (invalid_password) for a wrong password, `08P01`
    /// (protocol_violation) for a malformed exchange, else `28000`
    /// (invalid_authorization_specification).
    pub fn sqlstate(&self) -> &'static str {
        match self {
            AuthError::WrongPassword => "28P01",
            AuthError::Malformed { .. } | AuthError::ChannelBinding { .. } => "08P01",
            _ => "28000",
        }
    }
}

/// The PasswordMessage body for MD5 authentication: `"md5"` followed by
/// `md5hex(md5hex(password + user) + salt)`.
///
/// ```
/// let p = guard_sql::pg::auth::md5_password("alice", b"secret", [1, 2, 3, 4]);
/// assert!(p.starts_with("md5") && p.len() == 35);
/// ```
pub fn md5_password(user: &str, password: &[u8], salt: [u8; 4]) -> String {
    let inner = md5_hex(&[password, user.as_bytes()]);
    format!("md5{}", md5_hex(&[inner.as_bytes(), &salt]))
}

/// Server side of MD5: checks a client's PasswordMessage against a stored
/// `md5` + `md5hex(password + user)` hash (`pg_authid.rolpassword`).
pub fn verify_md5(stored: &str, salt: [u8; 4], received: &[u8]) -> bool {
    let Some(inner) = stored.strip_prefix("md5") else {
        return false;
    };
    let expected = format!("md5{}", md5_hex(&[inner.as_bytes(), &salt]));
    constant_time_eq(expected.as_bytes(), received)
}

/// Server side of cleartext: compares a received password with the expected one in constant
/// time (for the length of the shorter).
pub fn verify_cleartext(expected: &[u8], received: &[u8]) -> bool {
    constant_time_eq(expected, received)
}

/// A SCRAM-SHA-256 verifier, as PostgreSQL stores it:
/// `SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>` (base64 parts).
#[derive(Clone, PartialEq, Eq)]
pub struct ScramSecret {
    iterations: u32,
    salt: Vec<u8>,
    stored_key: [u8; 32],
    server_key: [u8; 32],
}

impl ScramSecret {
    /// Parses a stored secret.
    ///
    /// # Errors
    ///
    /// [`AuthError::InvalidInput`] when the string is not in that format.
    pub fn parse(s: &str) -> Result<Self, AuthError> {
        let bad = |reason| AuthError::InvalidInput {
            what: "scram secret",
            reason,
        };
        let rest = s
            .strip_prefix("SCRAM-SHA-256$")
            .ok_or(bad("missing SCRAM-SHA-256$ prefix"))?;
        let (params, keys) = rest
            .split_once('$')
            .ok_or(bad("missing '$' before the keys"))?;
        let (iter, salt) = params
            .split_once(':')
            .ok_or(bad("missing ':' after iterations"))?;
        let (stored, server) = keys
            .split_once(':')
            .ok_or(bad("missing ':' between keys"))?;
        let iterations: u32 = iter
            .parse()
            .map_err(|_| bad("iterations is not a number"))?;
        if iterations == 0 {
            return Err(bad("iterations must be positive"));
        }
        let salt = B64.decode(salt).map_err(|_| bad("salt is not base64"))?;
        let key = |k: &str| -> Result<[u8; 32], AuthError> {
            B64.decode(k)
                .ok()
                .and_then(|v| <[u8; 32]>::try_from(v).ok())
                .ok_or(bad("a key is not 32 bytes of base64"))
        };
        Ok(ScramSecret {
            iterations,
            salt,
            stored_key: key(stored)?,
            server_key: key(server)?,
        })
    }

    /// Derives the secret from a password, a salt and an iteration count (the caller draws
    /// the salt: 16 random bytes, as PostgreSQL does).
    ///
    /// The password goes through [`saslprep_password`] first, as PostgreSQL's does.
    pub fn from_password(password: &[u8], salt: &[u8], iterations: u32) -> Self {
        let salted = salted_password(&saslprep_password(password), salt, iterations);
        let client_key = hmac(&salted, b"Client Key");
        ScramSecret {
            iterations,
            salt: salt.to_vec(),
            stored_key: sha256(&client_key),
            server_key: hmac(&salted, b"Server Key"),
        }
    }

    /// Whether a cleartext password matches this secret (a client that sent a cleartext
    /// password, checked against a stored SCRAM secret, after [`saslprep_password`]). Costs
    /// one PBKDF2 run.
    pub fn verify_password(&self, password: &[u8]) -> bool {
        let salted = salted_password(&saslprep_password(password), &self.salt, self.iterations);
        let stored = sha256(&hmac(&salted, b"Client Key"));
        constant_time_eq(&stored, &self.stored_key)
    }

    /// PBKDF2 iterations.
    pub fn iterations(&self) -> u32 {
        self.iterations
    }

    /// The salt.
    pub fn salt(&self) -> &[u8] {
        &self.salt
    }
}

impl fmt::Display for ScramSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "SCRAM-SHA-256${}:{}${}:{}",
            self.iterations,
            B64.encode(&self.salt),
            B64.encode(self.stored_key),
            B64.encode(self.server_key)
        )
    }
}

impl fmt::Debug for ScramSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The keys let anyone impersonate the server; keep them out of logs.
        f.debug_struct("ScramSecret")
            .field("iterations", &self.iterations)
            .field("salt", &B64.encode(&self.salt))
            .finish_non_exhaustive()
    }
}

#[derive(Clone)]
enum ClientState {
    Initial,
    SentFinal { server_signature: [u8; 32] },
    Done,
}

/// The client side of SCRAM-SHA-256 and SCRAM-SHA-256-PLUS (RFC 5802, RFC 7677, channel
/// binding `tls-server-end-point` of RFC 5929).
///
/// Over TLS, hand the connection's binding data to
/// [`set_channel_binding`](ScramClient::set_channel_binding) and let
/// [`select_mechanism`](ScramClient::select_mechanism) pick from the mechanisms of
/// AuthenticationSASL (without either, the client uses [`SCRAM_SHA_256`] with gs2 flag `n`,
/// or `y` after [`set_channel_binding_supported`](ScramClient::set_channel_binding_supported)).
/// Send [`client_first`](ScramClient::client_first) as the data of a SASLInitialResponse with
/// that mechanism, pass the AuthenticationSASLContinue data to
/// [`handle_server_first`](ScramClient::handle_server_first), send what it returns as a
/// SASLResponse, and check the AuthenticationSASLFinal data with
/// [`handle_server_final`](ScramClient::handle_server_final).
#[derive(Clone)]
pub struct ScramClient {
    password: Vec<u8>,
    nonce: String,
    first_bare: String,
    /// The gs2 header: `n,,`, `y,,` or `p=tls-server-end-point,,`.
    gs2: &'static str,
    /// `tls-server-end-point` data of the connection, if the caller has it.
    binding: Option<Vec<u8>>,
    policy: ChannelBindingPolicy,
    max_iterations: u32,
    state: ClientState,
}

impl fmt::Debug for ScramClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScramClient")
            .field("nonce", &self.nonce)
            .finish_non_exhaustive()
    }
}

impl ScramClient {
    /// A client with an empty SCRAM user name, as libpq sends (PostgreSQL takes the user from
    /// the StartupMessage). `nonce` must be printable ASCII without `,`: e.g. 18 random bytes
    /// in base64 ([`nonce_from_bytes`]).
    ///
    /// # Errors
    ///
    /// [`AuthError::InvalidInput`] for an empty or invalid nonce.
    pub fn new(password: &[u8], nonce: &str) -> Result<Self, AuthError> {
        ScramClient::with_user("", password, nonce)
    }

    /// A client with a SCRAM user name (`,` and `=` are escaped as RFC 5802 requires).
    ///
    /// # Errors
    ///
    /// [`AuthError::InvalidInput`] for an empty or invalid nonce.
    pub fn with_user(user: &str, password: &[u8], nonce: &str) -> Result<Self, AuthError> {
        check_nonce(nonce)?;
        let user = user.replace('=', "=3D").replace(',', "=2C");
        Ok(ScramClient {
            password: saslprep_password(password).into_owned(),
            nonce: nonce.to_owned(),
            first_bare: format!("n={user},r={nonce}"),
            gs2: "n,,",
            binding: None,
            policy: ChannelBindingPolicy::Prefer,
            max_iterations: DEFAULT_MAX_ITERATIONS,
            state: ClientState::Initial,
        })
    }

    /// Sends the gs2 flag `y` ("client supports channel binding but thinks the server does
    /// not"), as libpq does over TLS when the server offers no `-PLUS` mechanism.
    pub fn set_channel_binding_supported(&mut self, yes: bool) -> &mut Self {
        self.gs2 = if yes { "y,," } else { "n,," };
        self
    }

    /// Gives the client the connection's `tls-server-end-point` binding data (see
    /// [`tls_server_end_point`]; `None` on a connection without TLS) and says when to use it.
    /// Takes effect in [`select_mechanism`](ScramClient::select_mechanism).
    pub fn set_channel_binding(
        &mut self,
        tls_server_end_point: Option<&[u8]>,
        policy: ChannelBindingPolicy,
    ) -> &mut Self {
        self.binding = tls_server_end_point.map(<[u8]>::to_vec);
        self.policy = policy;
        self
    }

    /// Chooses the mechanism to answer AuthenticationSASL with, from the server's list, and
    /// fixes the gs2 header accordingly: [`SCRAM_SHA_256_PLUS`] (flag `p`) when the policy
    /// allows, binding data was given and the server offers it; else [`SCRAM_SHA_256`] with
    /// flag `y` when binding data was given (or
    /// [`set_channel_binding_supported`](ScramClient::set_channel_binding_supported) said so)
    /// and `n` otherwise.
    ///
    /// # Errors
    ///
    /// [`AuthError::MechanismUnavailable`] when the policy is
    /// [`Require`](ChannelBindingPolicy::Require) and there is no binding data or no
    /// SCRAM-SHA-256-PLUS offer (a downgrade is refused), or when the server offers neither
    /// mechanism; [`AuthError::OutOfOrder`] after the exchange started.
    pub fn select_mechanism<'a>(
        &mut self,
        offered: impl IntoIterator<Item = &'a str>,
    ) -> Result<&'static str, AuthError> {
        if !matches!(self.state, ClientState::Initial) {
            return Err(self.out_of_order("select_mechanism"));
        }
        let (mut plain, mut plus) = (false, false);
        for m in offered {
            plain |= m == SCRAM_SHA_256;
            plus |= m == SCRAM_SHA_256_PLUS;
        }
        let unavailable = |reason| Err(AuthError::MechanismUnavailable { reason });
        match self.policy {
            ChannelBindingPolicy::Require => {
                if self.binding.is_none() {
                    return unavailable(
                        "channel binding is required but there is no binding data (no TLS?)",
                    );
                }
                if !plus {
                    return unavailable(
                        "channel binding is required but the server does not offer SCRAM-SHA-256-PLUS",
                    );
                }
                self.gs2 = "p=tls-server-end-point,,";
                Ok(SCRAM_SHA_256_PLUS)
            }
            ChannelBindingPolicy::Prefer if self.binding.is_some() && plus => {
                self.gs2 = "p=tls-server-end-point,,";
                Ok(SCRAM_SHA_256_PLUS)
            }
            policy => {
                if !plain {
                    return unavailable("the server offers no SCRAM mechanism this client can use");
                }
                if policy == ChannelBindingPolicy::Disable {
                    self.gs2 = "n,,";
                } else if self.binding.is_some() {
                    self.gs2 = "y,,";
                }
                Ok(SCRAM_SHA_256)
            }
        }
    }

    /// Changes the PBKDF2 iteration ceiling ([`DEFAULT_MAX_ITERATIONS`]).
    pub fn set_max_iterations(&mut self, limit: u32) -> &mut Self {
        self.max_iterations = limit;
        self
    }

    /// The client-first message.
    pub fn client_first(&self) -> String {
        format!("{}{}", self.gs2, self.first_bare)
    }

    /// Takes the server-first message and returns the client-final message.
    ///
    /// # Errors
    ///
    /// [`AuthError`] when the message is malformed, the nonce does not extend ours, the
    /// iteration count is over the limit, or the step is out of order.
    pub fn handle_server_first(&mut self, msg: &[u8]) -> Result<String, AuthError> {
        if !matches!(self.state, ClientState::Initial) {
            return Err(self.out_of_order("handle_server_first"));
        }
        let bad = |expected| AuthError::Malformed {
            peer: "server",
            expected,
        };
        let text = std::str::from_utf8(msg).map_err(|_| bad("utf-8 server-first message"))?;
        let mut parts = text.split(',');
        let nonce = attr(parts.next(), 'r').ok_or(bad("r=<nonce>"))?;
        let salt = attr(parts.next(), 's').ok_or(bad("s=<salt>"))?;
        let iter = attr(parts.next(), 'i').ok_or(bad("i=<iterations>"))?;
        if !nonce.starts_with(&self.nonce) || nonce.len() == self.nonce.len() {
            return Err(AuthError::NonceMismatch);
        }
        let salt = B64.decode(salt).map_err(|_| bad("base64 salt"))?;
        let iterations: u32 = iter.parse().map_err(|_| bad("numeric iteration count"))?;
        if iterations == 0 {
            return Err(bad("a positive iteration count"));
        }
        if iterations > self.max_iterations {
            return Err(AuthError::TooManyIterations {
                iterations,
                limit: self.max_iterations,
            });
        }
        // c= is the gs2 header, followed by the binding data when the flag is `p`.
        let mut cbind = self.gs2.as_bytes().to_vec();
        if self.gs2.starts_with("p=") {
            cbind.extend_from_slice(self.binding.as_deref().unwrap_or_default());
        }
        let without_proof = format!("c={},r={nonce}", B64.encode(cbind));
        let auth_message = format!("{},{text},{without_proof}", self.first_bare);
        let salted = salted_password(&self.password, &salt, iterations);
        let client_key = hmac(&salted, b"Client Key");
        let stored_key = sha256(&client_key);
        let signature = hmac(&stored_key, auth_message.as_bytes());
        let mut proof = client_key;
        for (p, s) in proof.iter_mut().zip(signature) {
            *p ^= s;
        }
        let server_key = hmac(&salted, b"Server Key");
        self.state = ClientState::SentFinal {
            server_signature: hmac(&server_key, auth_message.as_bytes()),
        };
        Ok(format!("{without_proof},p={}", B64.encode(proof)))
    }

    /// Checks the server-final message.
    ///
    /// # Errors
    ///
    /// [`AuthError::ServerRejected`] for `e=...`, [`AuthError::ServerSignatureMismatch`] when
    /// the server does not prove it knows the password, or a malformed/out-of-order error.
    pub fn handle_server_final(&mut self, msg: &[u8]) -> Result<(), AuthError> {
        let ClientState::SentFinal { server_signature } = &self.state else {
            return Err(self.out_of_order("handle_server_final"));
        };
        let bad = |expected| AuthError::Malformed {
            peer: "server",
            expected,
        };
        let text = std::str::from_utf8(msg).map_err(|_| bad("utf-8 server-final message"))?;
        let first = text.split(',').next();
        if let Some(e) = attr(first, 'e') {
            return Err(AuthError::ServerRejected {
                message: e.to_owned(),
            });
        }
        let v = attr(first, 'v').ok_or(bad("v=<signature>"))?;
        let v = B64.decode(v).map_err(|_| bad("base64 signature"))?;
        if !constant_time_eq(&v, server_signature) {
            return Err(AuthError::ServerSignatureMismatch);
        }
        self.state = ClientState::Done;
        Ok(())
    }

    fn out_of_order(&self, step: &'static str) -> AuthError {
        let state = match self.state {
            ClientState::Initial => "initial",
            ClientState::SentFinal { .. } => "sent-final",
            ClientState::Done => "done",
        };
        AuthError::OutOfOrder { step, state }
    }
}

#[derive(Clone)]
enum ServerState {
    Initial,
    SentFirst {
        client_first_bare: String,
        server_first: String,
        nonce: String,
        gs2: String,
    },
    Done,
}

/// The server side of SCRAM-SHA-256 and, when given the connection's binding data
/// ([`set_channel_binding`](ScramServer::set_channel_binding)), SCRAM-SHA-256-PLUS (RFC 5802,
/// RFC 7677, RFC 5929 `tls-server-end-point`).
///
/// Offer [`SCRAM_SHA_256`] in AuthenticationSASL (and [`SCRAM_SHA_256_PLUS`] first when the
/// connection is TLS and binding data was set); pass the SASLInitialResponse data to
/// [`handle_client_first`](ScramServer::handle_client_first) and send the result in
/// AuthenticationSASLContinue; pass the SASLResponse data to
/// [`handle_client_final`](ScramServer::handle_client_final) and, on success, send the result in
/// AuthenticationSASLFinal followed by AuthenticationOk.
#[derive(Clone)]
pub struct ScramServer {
    secret: ScramSecret,
    server_nonce: String,
    binding: Option<Vec<u8>>,
    state: ServerState,
}

impl fmt::Debug for ScramServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScramServer")
            .field("secret", &self.secret)
            .finish_non_exhaustive()
    }
}

impl ScramServer {
    /// A server checking clients against `secret`; `server_nonce` is the caller's random part
    /// (printable ASCII without `,`).
    ///
    /// # Errors
    ///
    /// [`AuthError::InvalidInput`] for an empty or invalid nonce.
    pub fn new(secret: ScramSecret, server_nonce: &str) -> Result<Self, AuthError> {
        check_nonce(server_nonce)?;
        Ok(ScramServer {
            secret,
            server_nonce: server_nonce.to_owned(),
            binding: None,
            state: ServerState::Initial,
        })
    }

    /// Sets this TLS connection's `tls-server-end-point` data (the hash of the certificate this
    /// server presented, see [`tls_server_end_point`]): the server then accepts
    /// SCRAM-SHA-256-PLUS, checks the client's binding against it, and refuses gs2 flag `y`
    /// (the client thinks the server cannot bind: a downgrade). Offer
    /// [`SCRAM_SHA_256_PLUS`] only when this is set.
    pub fn set_channel_binding(&mut self, tls_server_end_point: Option<&[u8]>) -> &mut Self {
        self.binding = tls_server_end_point.map(<[u8]>::to_vec);
        self
    }

    /// Takes the client-first message and returns the server-first message.
    ///
    /// # Errors
    ///
    /// [`AuthError`] when the message is malformed, asks for channel binding this server
    /// cannot honour, or the step is out of order.
    pub fn handle_client_first(&mut self, msg: &[u8]) -> Result<String, AuthError> {
        if !matches!(self.state, ServerState::Initial) {
            return Err(self.out_of_order("handle_client_first"));
        }
        let bad = |expected| AuthError::Malformed {
            peer: "client",
            expected,
        };
        let text = std::str::from_utf8(msg).map_err(|_| bad("utf-8 client-first message"))?;
        let flag = text.chars().next().ok_or(bad("a gs2 header"))?;
        // gs2-header = ("n" / "y" / "p=" cb-name) "," [authzid] ","
        let mut it = text.splitn(3, ',');
        let cbflag = it.next().unwrap_or_default();
        let authzid = it.next().ok_or(bad("a gs2 header"))?;
        let bare = it.next().ok_or(bad("client-first-message-bare"))?;
        let bindable = self.binding.is_some();
        match cbflag {
            "n" => {}
            // The client could bind but believes we cannot: if we can, someone removed
            // SCRAM-SHA-256-PLUS from our offer.
            "y" if !bindable => {}
            "y" => return Err(AuthError::ChannelBinding { flag }),
            c if bindable && c.strip_prefix("p=") == Some(TLS_SERVER_END_POINT) => {}
            _ if flag != 'n' && flag != 'y' => return Err(AuthError::ChannelBinding { flag }),
            _ => return Err(bad("a gs2 header")),
        }
        let gs2 = format!("{cbflag},{authzid},");
        let mut parts = bare.split(',');
        let first = parts.next();
        if first.is_some_and(|p| p.starts_with("m=")) {
            return Err(bad("no mandatory extensions"));
        }
        attr(first, 'n').ok_or(bad("n=<user>"))?;
        let client_nonce = attr(parts.next(), 'r').ok_or(bad("r=<nonce>"))?;
        if client_nonce.is_empty() || !client_nonce.bytes().all(|b| (0x21..=0x7e).contains(&b)) {
            return Err(bad("a printable nonce"));
        }
        let nonce = format!("{client_nonce}{}", self.server_nonce);
        let server_first = format!(
            "r={nonce},s={},i={}",
            B64.encode(&self.secret.salt),
            self.secret.iterations
        );
        self.state = ServerState::SentFirst {
            client_first_bare: bare.to_owned(),
            server_first: server_first.clone(),
            nonce,
            gs2,
        };
        Ok(server_first)
    }

    /// Takes the client-final message, verifies the proof and returns the server-final
    /// message.
    ///
    /// # Errors
    ///
    /// [`AuthError::WrongPassword`] when the proof does not match, or a malformed/out-of-order
    /// error.
    pub fn handle_client_final(&mut self, msg: &[u8]) -> Result<String, AuthError> {
        let ServerState::SentFirst {
            client_first_bare,
            server_first,
            nonce,
            gs2,
        } = &self.state
        else {
            return Err(self.out_of_order("handle_client_final"));
        };
        let bad = |expected| AuthError::Malformed {
            peer: "client",
            expected,
        };
        let text = std::str::from_utf8(msg).map_err(|_| bad("utf-8 client-final message"))?;
        let (without_proof, proof) = text.rsplit_once(",p=").ok_or(bad("p=<proof>"))?;
        let mut parts = without_proof.split(',');
        let binding = attr(parts.next(), 'c').ok_or(bad("c=<channel binding>"))?;
        let mut expected = gs2.as_bytes().to_vec();
        if gs2.starts_with("p=") {
            expected.extend_from_slice(self.binding.as_deref().unwrap_or_default());
        }
        let received = B64.decode(binding).ok();
        if !received.is_some_and(|r| constant_time_eq(&r, &expected)) {
            if gs2.starts_with("p=") {
                self.state = ServerState::Done;
                return Err(AuthError::ChannelBinding { flag: 'p' });
            }
            return Err(bad("channel binding data equal to the gs2 header"));
        }
        if attr(parts.next(), 'r') != Some(nonce.as_str()) {
            return Err(AuthError::Malformed {
                peer: "client",
                expected: "the combined nonce",
            });
        }
        let proof = B64.decode(proof).map_err(|_| bad("base64 proof"))?;
        let proof = <[u8; 32]>::try_from(proof).map_err(|_| bad("a 32-byte proof"))?;
        let auth_message = format!("{client_first_bare},{server_first},{without_proof}");
        let signature = hmac(&self.secret.stored_key, auth_message.as_bytes());
        let mut client_key = proof;
        for (k, s) in client_key.iter_mut().zip(signature) {
            *k ^= s;
        }
        if !constant_time_eq(&sha256(&client_key), &self.secret.stored_key) {
            self.state = ServerState::Done;
            return Err(AuthError::WrongPassword);
        }
        let server_signature = hmac(&self.secret.server_key, auth_message.as_bytes());
        self.state = ServerState::Done;
        Ok(format!("v={}", B64.encode(server_signature)))
    }

    fn out_of_order(&self, step: &'static str) -> AuthError {
        let state = match self.state {
            ServerState::Initial => "initial",
            ServerState::SentFirst { .. } => "sent-first",
            ServerState::Done => "done",
        };
        AuthError::OutOfOrder { step, state }
    }
}

/// A SCRAM nonce from random bytes the caller drew (18 bytes, as libpq and PostgreSQL use):
/// their base64.
pub fn nonce_from_bytes(random: &[u8]) -> String {
    B64.encode(random)
}

fn check_nonce(nonce: &str) -> Result<(), AuthError> {
    if nonce.is_empty()
        || !nonce
            .bytes()
            .all(|b| (0x21..=0x7e).contains(&b) && b != b',')
    {
        return Err(AuthError::InvalidInput {
            what: "nonce",
            reason: "must be non-empty printable ascii without ','",
        });
    }
    Ok(())
}

/// The value of attribute `name` in `part` (`"r=abc"` -> `"abc"`).
fn attr(part: Option<&str>, name: char) -> Option<&str> {
    let p = part?;
    let mut c = p.chars();
    (c.next()? == name && c.next()? == '=').then(|| &p[2..])
}

fn salted_password(password: &[u8], salt: &[u8], iterations: u32) -> [u8; 32] {
    let mut out = [0u8; 32];
    pbkdf2::pbkdf2_hmac::<Sha256>(password, salt, iterations, &mut out);
    out
}

fn hmac(key: &[u8], data: &[u8]) -> [u8; 32] {
    // HMAC accepts keys of any length, so new_from_slice cannot fail.
    let mut m = <HmacSha256 as Mac>::new_from_slice(key).expect("hmac takes any key length");
    m.update(data);
    m.finalize().into_bytes().into()
}

fn sha256(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

fn md5_hex(parts: &[&[u8]]) -> String {
    let mut h = Md5::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = (a.len() != b.len()) as u8;
    for (x, y) in a.iter().zip(b) {
        diff |= x ^ y;
    }
    diff == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 7677 section 3: user "user", password "pencil".
    #[test]
    fn rfc7677_test_vector() {
        let mut c = ScramClient::with_user("user", b"pencil", "rOprNGfwEbeRWgbNEkqO").unwrap();
        assert_eq!(c.client_first(), "n,,n=user,r=rOprNGfwEbeRWgbNEkqO");
        let server_first = "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,\
                            s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
        let fin = c.handle_server_first(server_first.as_bytes()).unwrap();
        assert_eq!(
            fin,
            "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,\
             p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
        );
        c.handle_server_final(b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=")
            .unwrap();
    }

    #[test]
    fn rfc7677_server_side() {
        let salt = B64.decode("W22ZaJ0SNY7soEsUEjb6gQ==").unwrap();
        let secret = ScramSecret::from_password(b"pencil", &salt, 4096);
        let mut s = ScramServer::new(secret, "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0").unwrap();
        let first = s
            .handle_client_first(b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO")
            .unwrap();
        assert_eq!(
            first,
            "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
        );
        let fin = s
            .handle_client_final(
                b"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,\
                  p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
            )
            .unwrap();
        assert_eq!(fin, "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=");
    }

    #[test]
    fn client_against_server_and_wrong_password() {
        let secret = ScramSecret::from_password(b"right", b"saltsaltsaltsalt", 16);
        for (pw, ok) in [(&b"right"[..], true), (&b"wrong"[..], false)] {
            let mut c = ScramClient::new(pw, "abc").unwrap();
            let mut s = ScramServer::new(secret.clone(), "def").unwrap();
            let sf = s.handle_client_first(c.client_first().as_bytes()).unwrap();
            let cf = c.handle_server_first(sf.as_bytes()).unwrap();
            let r = s.handle_client_final(cf.as_bytes());
            if ok {
                c.handle_server_final(r.unwrap().as_bytes()).unwrap();
            } else {
                let e = r.unwrap_err();
                assert_eq!(e, AuthError::WrongPassword);
                assert_eq!(e.sqlstate(), "28P01");
                assert_eq!(e.fault(), Fault::Client);
            }
        }
    }

    #[test]
    fn secret_round_trips_and_verifies_cleartext() {
        let s = ScramSecret::from_password(b"secret", b"0123456789abcdef", 4096);
        let text = s.to_string();
        let parsed = ScramSecret::parse(&text).unwrap();
        assert_eq!(parsed, s);
        assert!(parsed.verify_password(b"secret"));
        assert!(!parsed.verify_password(b"Secret"));
        assert!(!format!("{parsed:?}").contains(&B64.encode(s.stored_key)));
        assert!(ScramSecret::parse("md5abc").is_err());
        assert!(ScramSecret::parse("SCRAM-SHA-256$0:AAAA$AAAA:AAAA").is_err());
    }

    #[test]
    fn server_rejects_bad_input() {
        let secret = ScramSecret::from_password(b"x", b"s", 1);
        let mut s = ScramServer::new(secret.clone(), "n").unwrap();
        assert!(matches!(
            s.handle_client_first(b"p=tls-server-end-point,,n=,r=a"),
            Err(AuthError::ChannelBinding { flag: 'p' })
        ));
        let mut s = ScramServer::new(secret.clone(), "n").unwrap();
        assert!(s.handle_client_first(b"n,,n=,r=").is_err());
        assert!(s.handle_client_final(b"c=biws,r=x,p=AAAA").is_err());
        let mut s = ScramServer::new(secret, "n").unwrap();
        s.handle_client_first(b"n,,n=,r=abc").unwrap();
        let e = s.handle_client_final(b"c=biws,r=abcX,p=AAAA").unwrap_err();
        assert!(matches!(e, AuthError::Malformed { peer: "client", .. }));
    }

    #[test]
    fn client_rejects_bad_server() {
        let mut c = ScramClient::new(b"pw", "abc").unwrap();
        assert_eq!(
            c.handle_server_first(b"r=xyz,s=AAAA,i=1"),
            Err(AuthError::NonceMismatch)
        );
        let mut c = ScramClient::new(b"pw", "abc").unwrap();
        assert_eq!(
            c.handle_server_first(b"r=abcd,s=AAAA,i=4000000000"),
            Err(AuthError::TooManyIterations {
                iterations: 4_000_000_000,
                limit: 1_000_000
            })
        );
        let mut c = ScramClient::new(b"pw", "abc").unwrap();
        c.handle_server_first(b"r=abcd,s=AAAA,i=1").unwrap();
        assert_eq!(
            c.handle_server_final(b"e=invalid-proof"),
            Err(AuthError::ServerRejected {
                message: "invalid-proof".into()
            })
        );
        let mut c = ScramClient::new(b"pw", "abc").unwrap();
        c.handle_server_first(b"r=abcd,s=AAAA,i=1").unwrap();
        assert_eq!(
            c.handle_server_final(b"v=AAAA"),
            Err(AuthError::ServerSignatureMismatch)
        );
        assert!(ScramClient::new(b"pw", "a,b").is_err());
        assert!(matches!(
            ScramClient::new(b"pw", "a")
                .unwrap()
                .handle_server_final(b"v=x"),
            Err(AuthError::OutOfOrder { .. })
        ));
    }

    #[test]
    fn md5_matches_reference() {
        // Expected values from Python's hashlib, an independent MD5:
        // "md5" + md5(md5("secretalice").hexdigest() + b"\x01\x02\x03\x04").hexdigest()
        let stored = "md54a0a68b43b6cd5cf266fa02f196e2371";
        let sent = md5_password("alice", b"secret", [1, 2, 3, 4]);
        assert_eq!(sent, "md598a0412b9c31436fc53776e863350083");
        assert!(verify_md5(stored, [1, 2, 3, 4], sent.as_bytes()));
        assert!(!verify_md5(stored, [1, 2, 3, 5], sent.as_bytes()));
        assert!(verify_cleartext(b"tok", b"tok"));
        assert!(!verify_cleartext(b"tok", b"tok2"));
    }

    #[test]
    fn saslprep_rfc4013_examples() {
        // RFC 4013 section 3; errors there mean "use the raw bytes" here, as PostgreSQL does.
        let cases: &[(&str, &str)] = &[
            ("I\u{ad}X", "IX"),           // SOFT HYPHEN mapped to nothing
            ("user", "user"),             // no transformation
            ("USER", "USER"),             // case preserved
            ("\u{aa}", "a"),              // output is NFKC, input in ISO 8859-1
            ("\u{2168}", "IX"),           // output is NFKC, will match 1st example
            ("\u{7}", "\u{7}"),           // error: prohibited character
            ("\u{627}1", "\u{627}1"),     // error: bidirectional check
            ("a\u{2003}b", "a b"),        // non-ASCII space mapped to space
            ("\u{ad}", "\u{ad}"),         // nothing left: PostgreSQL keeps the raw bytes
            ("a\u{e000}b", "a\u{e000}b"), // private use: prohibited
        ];
        for (input, want) in cases {
            assert_eq!(
                &*saslprep_password(input.as_bytes()),
                want.as_bytes(),
                "{input:?}"
            );
        }
        assert_eq!(&*saslprep_password(b"\xc3\x28"), b"\xc3\x28");
    }

    /// Runs a whole exchange; the client picks from `offered`.
    fn exchange(
        client: &mut ScramClient,
        server: &mut ScramServer,
        offered: &[&str],
    ) -> Result<&'static str, AuthError> {
        let mech = client.select_mechanism(offered.iter().copied())?;
        let sf = server.handle_client_first(client.client_first().as_bytes())?;
        let cf = client.handle_server_first(sf.as_bytes())?;
        let fin = server.handle_client_final(cf.as_bytes())?;
        client.handle_server_final(fin.as_bytes())?;
        Ok(mech)
    }

    const BOTH: &[&str] = &[SCRAM_SHA_256_PLUS, SCRAM_SHA_256];

    #[test]
    fn channel_binding_known_answer() {
        // Expected messages computed independently with Python's hashlib/hmac (PBKDF2-SHA-256,
        // RFC 5802 formulas) for RFC 7677's nonces and salt and the SHA-256 of a stand-in
        // certificate (RFC 5929 tls-server-end-point).
        let cb = tls_server_end_point(b"a certificate, as DER bytes", CertificateHash::Sha256);
        let mut c = ScramClient::new(b"pencil", "rOprNGfwEbeRWgbNEkqO").unwrap();
        c.set_channel_binding(Some(&cb), ChannelBindingPolicy::Prefer);
        assert_eq!(
            c.select_mechanism(BOTH.iter().copied()),
            Ok(SCRAM_SHA_256_PLUS)
        );
        assert_eq!(
            c.client_first(),
            "p=tls-server-end-point,,n=,r=rOprNGfwEbeRWgbNEkqO"
        );
        let server_first = "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,\
                            s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
        let fin = c.handle_server_first(server_first.as_bytes()).unwrap();
        assert_eq!(
            fin,
            "c=cD10bHMtc2VydmVyLWVuZC1wb2ludCwsUewZ9RIHmOc/p4CMf0mr1UgZRL0lRf+2aMCz+Zp4jGs=,\
             r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,\
             p=XbxbV4VY5bs4EZnA/x+IJWzuCrAdBRfvPKVW2RTX+70="
        );
        c.handle_server_final(b"v=gV1uLIvH7bnl65gJUwDWx4aJMQstgxt6roY4FkGUSII=")
            .unwrap();
    }

    #[test]
    fn channel_binding_between_client_and_server() {
        let secret = ScramSecret::from_password(b"pw", b"salt", 4096);
        let cert = tls_server_end_point(b"server cert", CertificateHash::Sha384);
        let other = tls_server_end_point(b"a man in the middle", CertificateHash::Sha384);
        let client = |data: Option<&[u8]>, policy| {
            let mut c = ScramClient::new(b"pw", "cnonce").unwrap();
            c.set_channel_binding(data, policy);
            c
        };
        let server = |data: Option<&[u8]>| {
            let mut s = ScramServer::new(secret.clone(), "snonce").unwrap();
            s.set_channel_binding(data);
            s
        };
        use ChannelBindingPolicy::*;
        // Both sides bind to the same certificate.
        for policy in [Prefer, Require] {
            let (mut c, mut s) = (client(Some(&cert), policy), server(Some(&cert)));
            assert_eq!(exchange(&mut c, &mut s, BOTH), Ok(SCRAM_SHA_256_PLUS));
        }
        // A relay presenting another certificate: the server refuses the binding.
        let (mut c, mut s) = (client(Some(&other), Require), server(Some(&cert)));
        assert_eq!(
            exchange(&mut c, &mut s, BOTH),
            Err(AuthError::ChannelBinding { flag: 'p' })
        );
        // PLUS stripped from the offer: Prefer falls back with `y`, which a binding-capable
        // server recognises as a downgrade; Require refuses before sending anything.
        let (mut c, mut s) = (client(Some(&cert), Prefer), server(Some(&cert)));
        assert_eq!(
            exchange(&mut c, &mut s, &[SCRAM_SHA_256]),
            Err(AuthError::ChannelBinding { flag: 'y' })
        );
        assert!(c.client_first().starts_with("y,,"));
        let mut c = client(Some(&cert), Require);
        assert!(matches!(
            c.select_mechanism([SCRAM_SHA_256]),
            Err(AuthError::MechanismUnavailable { .. })
        ));
        // Require without binding data (no TLS): refused even when PLUS is offered.
        let mut c = client(None, Require);
        assert!(matches!(
            c.select_mechanism(BOTH.iter().copied()),
            Err(AuthError::MechanismUnavailable { .. })
        ));
        // A server without TLS: `y` is fine, plain SCRAM works.
        let (mut c, mut s) = (client(Some(&cert), Prefer), server(None));
        assert_eq!(
            exchange(&mut c, &mut s, &[SCRAM_SHA_256]),
            Ok(SCRAM_SHA_256)
        );
        // No data, or Disable: `n`, even when PLUS is offered.
        for (data, policy) in [(None, Prefer), (Some(&cert[..]), Disable)] {
            let (mut c, mut s) = (client(data, policy), server(Some(&cert)));
            assert_eq!(exchange(&mut c, &mut s, BOTH), Ok(SCRAM_SHA_256));
            assert!(c.client_first().starts_with("n,,"));
        }
        // A PLUS-only offer without data, and a server asked for PLUS without data.
        let mut c = client(None, Prefer);
        assert!(matches!(
            c.select_mechanism([SCRAM_SHA_256_PLUS]),
            Err(AuthError::MechanismUnavailable { .. })
        ));
        let mut s = server(None);
        assert_eq!(
            s.handle_client_first(b"p=tls-server-end-point,,n=,r=abc"),
            Err(AuthError::ChannelBinding { flag: 'p' })
        );
        let mut s = server(Some(&cert));
        assert_eq!(
            s.handle_client_first(b"p=tls-unique,,n=,r=abc"),
            Err(AuthError::ChannelBinding { flag: 'p' })
        );
    }
}
