//! Messages a client sends, and the decoder that reads them.

use super::common::{Out, Reader, Res, count16, frame, untagged};
use super::error::{DecodeError, DecodeErrorKind, Sender};
use super::views::write_values;
use super::{
    Authentication, BackendMessage, CopyData, Decoded, EncodeBuf, FormatCodes, Limits, Oids, PgStr,
    StartupParams, Tag, Values,
};

/// The code of an SSLRequest packet (1234 << 16 | 5679).
pub const SSL_REQUEST_CODE: u32 = 80_877_103;
/// The code of a GSSENCRequest packet (1234 << 16 | 5680).
pub const GSSENC_REQUEST_CODE: u32 = 80_877_104;
/// The code of a CancelRequest packet (1234 << 16 | 5678).
pub const CANCEL_REQUEST_CODE: u32 = 80_877_102;

/// Longest CancelRequest/BackendKeyData secret key: 256 bytes (protocol 3.2). Protocol 3.0
/// keys are 4 bytes.
pub(crate) const MAX_SECRET_KEY_BYTES: usize = 256;

/// A message sent by the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FrontendMessage<'a> {
    /// StartupMessage (untagged): protocol version and connection parameters.
    Startup(StartupMessage<'a>),
    /// SSLRequest (untagged): the server answers one byte, `'S'` or `'N'`.
    SslRequest,
    /// GSSENCRequest (untagged): the server answers one byte, `'G'` or `'N'`.
    GssEncRequest,
    /// CancelRequest (untagged, on a new connection): cancel a running query.
    CancelRequest(CancelRequest<'a>),
    /// PasswordMessage (`'p'`): a cleartext or MD5-hashed password.
    Password(PasswordMessage<'a>),
    /// SASLInitialResponse (`'p'`): the chosen mechanism and the client-first message.
    SaslInitialResponse(SaslInitialResponse<'a>),
    /// SASLResponse (`'p'`): a later SASL message.
    SaslResponse(SaslResponse<'a>),
    /// GSSResponse (`'p'`): a GSSAPI or SSPI token.
    GssResponse(GssResponse<'a>),
    /// A `'p'` message received while the decoder did not know which authentication request
    /// it answers (see [`AuthKind`] and [`FrontendDecoder::expect_auth`]).
    PasswordLike(PasswordLike<'a>),
    /// Query (`'Q'`): a simple query, possibly several statements.
    Query(Query<'a>),
    /// Parse (`'P'`): prepare a statement.
    Parse(Parse<'a>),
    /// Bind (`'B'`): bind parameters to a prepared statement, creating a portal.
    Bind(Bind<'a>),
    /// Describe (`'D'`): describe a statement or portal.
    Describe(Describe<'a>),
    /// Execute (`'E'`): run a portal.
    Execute(Execute<'a>),
    /// Close (`'C'`): close a statement or portal.
    Close(Close<'a>),
    /// Sync (`'S'`): end of an extended-query batch.
    Sync,
    /// Flush (`'H'`): ask the server to flush its output.
    Flush,
    /// Terminate (`'X'`): the client is leaving.
    Terminate,
    /// CopyData (`'d'`): COPY FROM STDIN data.
    CopyData(CopyData<'a>),
    /// CopyDone (`'c'`): end of COPY FROM STDIN data.
    CopyDone,
    /// CopyFail (`'f'`): the client aborts COPY FROM STDIN.
    CopyFail(CopyFail<'a>),
    /// FunctionCall (`'F'`): the legacy fast-path function call.
    FunctionCall(FunctionCall<'a>),
}

impl FrontendMessage<'_> {
    /// The wire tag, [`Tag::UNTAGGED`] for startup packets.
    pub fn tag(&self) -> Tag {
        Tag(match self {
            FrontendMessage::Startup(_)
            | FrontendMessage::SslRequest
            | FrontendMessage::GssEncRequest
            | FrontendMessage::CancelRequest(_) => 0,
            FrontendMessage::Password(_)
            | FrontendMessage::SaslInitialResponse(_)
            | FrontendMessage::SaslResponse(_)
            | FrontendMessage::GssResponse(_)
            | FrontendMessage::PasswordLike(_) => b'p',
            FrontendMessage::Query(_) => b'Q',
            FrontendMessage::Parse(_) => b'P',
            FrontendMessage::Bind(_) => b'B',
            FrontendMessage::Describe(_) => b'D',
            FrontendMessage::Execute(_) => b'E',
            FrontendMessage::Close(_) => b'C',
            FrontendMessage::Sync => b'S',
            FrontendMessage::Flush => b'H',
            FrontendMessage::Terminate => b'X',
            FrontendMessage::CopyData(_) => b'd',
            FrontendMessage::CopyDone => b'c',
            FrontendMessage::CopyFail(_) => b'f',
            FrontendMessage::FunctionCall(_) => b'F',
        })
    }

    /// Writes the message: for a decoded message, exactly the bytes it was decoded from.
    pub fn encode(&self, out: &mut impl EncodeBuf) {
        match self {
            FrontendMessage::Startup(m) => m.encode(out),
            FrontendMessage::SslRequest => untagged(out, |o| o.put_u32(SSL_REQUEST_CODE)),
            FrontendMessage::GssEncRequest => untagged(out, |o| o.put_u32(GSSENC_REQUEST_CODE)),
            FrontendMessage::CancelRequest(m) => m.encode(out),
            FrontendMessage::Password(m) => m.encode(out),
            FrontendMessage::SaslInitialResponse(m) => m.encode(out),
            FrontendMessage::SaslResponse(m) => m.encode(out),
            FrontendMessage::GssResponse(m) => m.encode(out),
            FrontendMessage::PasswordLike(m) => m.encode(out),
            FrontendMessage::Query(m) => m.encode(out),
            FrontendMessage::Parse(m) => m.encode(out),
            FrontendMessage::Bind(m) => m.encode(out),
            FrontendMessage::Describe(m) => m.encode(out),
            FrontendMessage::Execute(m) => m.encode(out),
            FrontendMessage::Close(m) => m.encode(out),
            FrontendMessage::Sync => frame(out, b'S', |_| {}),
            FrontendMessage::Flush => frame(out, b'H', |_| {}),
            FrontendMessage::Terminate => frame(out, b'X', |_| {}),
            FrontendMessage::CopyData(m) => m.encode(out),
            FrontendMessage::CopyDone => frame(out, b'c', |_| {}),
            FrontendMessage::CopyFail(m) => m.encode(out),
            FrontendMessage::FunctionCall(m) => m.encode(out),
        }
    }
}

/// A protocol version as carried by StartupMessage and NegotiateProtocolVersion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ProtocolVersion {
    /// Major version (3).
    pub major: u16,
    /// Minor version (0, or 2 since PostgreSQL 18).
    pub minor: u16,
}

impl ProtocolVersion {
    /// Protocol 3.0 (PostgreSQL 7.4 to 17).
    pub const V3_0: ProtocolVersion = ProtocolVersion { major: 3, minor: 0 };
    /// Protocol 3.2 (PostgreSQL 18: variable-length cancel keys).
    pub const V3_2: ProtocolVersion = ProtocolVersion { major: 3, minor: 2 };

    /// The Int32 wire form, `major << 16 | minor`.
    pub fn code(&self) -> u32 {
        (self.major as u32) << 16 | self.minor as u32
    }
}

/// StartupMessage: the first message of a connection (after any encryption request).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StartupMessage<'a> {
    /// Requested protocol version (3.0 or 3.2; a later 3.x is passed through for the server
    /// to negotiate down).
    pub version: ProtocolVersion,
    /// Connection parameters: `user` (required), `database`, `options`, `replication`,
    /// `application_name`, any run-time parameter, and `_pq_.` protocol extensions.
    pub params: StartupParams<'a>,
}

impl<'a> StartupMessage<'a> {
    /// The `user` parameter.
    pub fn user(&self) -> Option<PgStr<'a>> {
        self.params.get("user")
    }

    /// The `database` parameter.
    pub fn database(&self) -> Option<PgStr<'a>> {
        self.params.get("database")
    }

    /// Writes the message.
    pub fn encode(&self, out: &mut impl EncodeBuf) {
        untagged(out, |o| {
            o.put_u32(self.version.code());
            self.params.write(o);
        });
    }

    /// Writes a StartupMessage from parameter pairs (the gateway logging in upstream).
    pub fn encode_params<'p>(
        version: ProtocolVersion,
        params: impl IntoIterator<Item = (PgStr<'p>, PgStr<'p>)>,
        out: &mut impl EncodeBuf,
    ) {
        untagged(out, |o| {
            o.put_u32(version.code());
            for (k, v) in params {
                o.put_cstr(k.as_bytes());
                o.put_cstr(v.as_bytes());
            }
            o.put(&[0]);
        });
    }
}

/// CancelRequest: sent on a fresh connection to cancel the query of another one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CancelRequest<'a> {
    /// The target backend's process ID (from its BackendKeyData).
    pub process_id: i32,
    /// The target's secret key: 4 bytes in protocol 3.0, up to 256 in 3.2.
    pub secret_key: &'a [u8],
}

impl CancelRequest<'_> {
    /// Writes the message.
    pub fn encode(&self, out: &mut impl EncodeBuf) {
        untagged(out, |o| {
            o.put_u32(CANCEL_REQUEST_CODE);
            o.put_i32(self.process_id);
            o.put(self.secret_key);
        });
    }
}

/// PasswordMessage: a password in cleartext or MD5-hashed form (see [`auth`](super::auth)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordMessage<'a> {
    /// The password or `md5` + hash. Never log or record it.
    pub password: PgStr<'a>,
}

impl PasswordMessage<'_> {
    /// Writes the message.
    pub fn encode(&self, out: &mut impl EncodeBuf) {
        frame(out, b'p', |o| o.put_cstr(self.password.as_bytes()));
    }
}

/// SASLInitialResponse: the mechanism the client picked and its first message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SaslInitialResponse<'a> {
    /// The mechanism, e.g. `SCRAM-SHA-256`.
    pub mechanism: PgStr<'a>,
    /// Mechanism data (`None` is sent as length -1).
    pub data: Option<&'a [u8]>,
}

impl SaslInitialResponse<'_> {
    /// Writes the message.
    pub fn encode(&self, out: &mut impl EncodeBuf) {
        frame(out, b'p', |o| {
            o.put_cstr(self.mechanism.as_bytes());
            write_opt_bytes(o, self.data);
        });
    }
}

/// SASLResponse: a later SASL message (for SCRAM, the client-final message).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SaslResponse<'a> {
    /// Mechanism data.
    pub data: &'a [u8],
}

impl SaslResponse<'_> {
    /// Writes the message.
    pub fn encode(&self, out: &mut impl EncodeBuf) {
        frame(out, b'p', |o| o.put(self.data));
    }
}

/// GSSResponse: a GSSAPI or SSPI token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GssResponse<'a> {
    /// The token.
    pub data: &'a [u8],
}

impl GssResponse<'_> {
    /// Writes the message.
    pub fn encode(&self, out: &mut impl EncodeBuf) {
        frame(out, b'p', |o| o.put(self.data));
    }
}

/// A `'p'` message whose kind the decoder was not told: the body as sent, with accessors that
/// interpret it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordLike<'a> {
    /// The message body.
    pub data: &'a [u8],
}

impl<'a> PasswordLike<'a> {
    /// Read as a PasswordMessage: `Some` when the body is one NUL-terminated string.
    pub fn to_password(&self) -> Option<PasswordMessage<'a>> {
        parse_password(self.data).ok()
    }

    /// Read as a SASLInitialResponse: `Some` when the body has that shape.
    pub fn to_sasl_initial(&self) -> Option<SaslInitialResponse<'a>> {
        parse_sasl_initial(self.data).ok()
    }

    /// Read as a SASLResponse (always possible).
    pub fn to_sasl_response(&self) -> SaslResponse<'a> {
        SaslResponse { data: self.data }
    }

    /// Writes the message.
    pub fn encode(&self, out: &mut impl EncodeBuf) {
        frame(out, b'p', |o| o.put(self.data));
    }
}

/// Query: a simple-protocol query string, possibly several statements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Query<'a> {
    /// The query text.
    pub sql: PgStr<'a>,
}

impl Query<'_> {
    /// Writes the message.
    pub fn encode(&self, out: &mut impl EncodeBuf) {
        frame(out, b'Q', |o| o.put_cstr(self.sql.as_bytes()));
    }
}

/// Parse: prepare `query` as statement `name` (empty: the unnamed statement).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Parse<'a> {
    /// Statement name; empty for the unnamed statement.
    pub name: PgStr<'a>,
    /// The query text (one statement).
    pub query: PgStr<'a>,
    /// Parameter type OIDs the client specifies (0: let the server infer).
    pub param_types: Oids<'a>,
}

impl Parse<'_> {
    /// Writes the message.
    pub fn encode(&self, out: &mut impl EncodeBuf) {
        frame(out, b'P', |o| {
            o.put_cstr(self.name.as_bytes());
            o.put_cstr(self.query.as_bytes());
            self.param_types.write(o);
        });
    }

    /// Writes a Parse from parts.
    ///
    /// # Panics
    ///
    /// When `param_types` has more than 65 535 entries.
    pub fn encode_parts(
        name: PgStr<'_>,
        query: PgStr<'_>,
        param_types: &[u32],
        out: &mut impl EncodeBuf,
    ) {
        frame(out, b'P', |o| {
            o.put_cstr(name.as_bytes());
            o.put_cstr(query.as_bytes());
            o.put_i16(count16(param_types.len(), "Parse parameter types"));
            for t in param_types {
                o.put_u32(*t);
            }
        });
    }
}

/// Bind: bind parameter values to a prepared statement, creating a portal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bind<'a> {
    /// Destination portal; empty for the unnamed portal.
    pub portal: PgStr<'a>,
    /// Source prepared statement; empty for the unnamed statement.
    pub statement: PgStr<'a>,
    /// Parameter format codes (see [`FormatCodes::for_index`]).
    pub param_formats: FormatCodes<'a>,
    /// Parameter values, `None` for NULL.
    pub params: Values<'a>,
    /// Result column format codes.
    pub result_formats: FormatCodes<'a>,
}

impl Bind<'_> {
    /// Writes the message.
    pub fn encode(&self, out: &mut impl EncodeBuf) {
        frame(out, b'B', |o| {
            o.put_cstr(self.portal.as_bytes());
            o.put_cstr(self.statement.as_bytes());
            self.param_formats.write(o);
            self.params.write(o);
            self.result_formats.write(o);
        });
    }

    /// Writes a Bind from parts.
    ///
    /// # Panics
    ///
    /// When a list has more than 65 535 entries or a value more than `i32::MAX` bytes.
    pub fn encode_parts<'v>(
        portal: PgStr<'_>,
        statement: PgStr<'_>,
        param_formats: &[i16],
        params: impl IntoIterator<Item = Option<&'v [u8]>>,
        result_formats: &[i16],
        out: &mut impl EncodeBuf,
    ) {
        frame(out, b'B', |o| {
            o.put_cstr(portal.as_bytes());
            o.put_cstr(statement.as_bytes());
            write_formats(o, param_formats, "Bind parameter formats");
            write_values(o, params, "Bind parameters");
            write_formats(o, result_formats, "Bind result formats");
        });
    }
}

/// What Describe and Close refer to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Target {
    /// A prepared statement (`'S'`).
    Statement,
    /// A portal (`'P'`).
    Portal,
}

impl Target {
    fn byte(self) -> u8 {
        match self {
            Target::Statement => b'S',
            Target::Portal => b'P',
        }
    }

    fn read(r: &mut Reader<'_>) -> Res<Self> {
        match r.u8("missing statement/portal byte")? {
            b'S' => Ok(Target::Statement),
            b'P' => Ok(Target::Portal),
            _ => Err("expected 'S' (statement) or 'P' (portal)"),
        }
    }
}

/// Describe: ask for the description of a statement or portal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Describe<'a> {
    /// Statement or portal.
    pub target: Target,
    /// Its name; empty for the unnamed one.
    pub name: PgStr<'a>,
}

impl Describe<'_> {
    /// Writes the message.
    pub fn encode(&self, out: &mut impl EncodeBuf) {
        frame(out, b'D', |o| {
            o.put(&[self.target.byte()]);
            o.put_cstr(self.name.as_bytes());
        });
    }
}

/// Close: close a statement or portal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Close<'a> {
    /// Statement or portal.
    pub target: Target,
    /// Its name; empty for the unnamed one.
    pub name: PgStr<'a>,
}

impl Close<'_> {
    /// Writes the message.
    pub fn encode(&self, out: &mut impl EncodeBuf) {
        frame(out, b'C', |o| {
            o.put(&[self.target.byte()]);
            o.put_cstr(self.name.as_bytes());
        });
    }
}

/// Execute: run a portal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Execute<'a> {
    /// The portal; empty for the unnamed portal.
    pub portal: PgStr<'a>,
    /// Most rows to return; 0 for no limit.
    pub max_rows: i32,
}

impl Execute<'_> {
    /// Writes the message.
    pub fn encode(&self, out: &mut impl EncodeBuf) {
        frame(out, b'E', |o| {
            o.put_cstr(self.portal.as_bytes());
            o.put_i32(self.max_rows);
        });
    }
}

/// CopyFail: the client aborts a COPY FROM STDIN.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CopyFail<'a> {
    /// Why.
    pub message: PgStr<'a>,
}

impl CopyFail<'_> {
    /// Writes the message.
    pub fn encode(&self, out: &mut impl EncodeBuf) {
        frame(out, b'f', |o| o.put_cstr(self.message.as_bytes()));
    }
}

/// FunctionCall: the fast-path interface (calls a function by OID, bypassing SQL).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FunctionCall<'a> {
    /// OID of the function.
    pub function: u32,
    /// Argument format codes.
    pub arg_formats: FormatCodes<'a>,
    /// Arguments, `None` for NULL.
    pub args: Values<'a>,
    /// Result format code.
    pub result_format: i16,
}

impl FunctionCall<'_> {
    /// Writes the message.
    pub fn encode(&self, out: &mut impl EncodeBuf) {
        frame(out, b'F', |o| {
            o.put_u32(self.function);
            self.arg_formats.write(o);
            self.args.write(o);
            o.put_i16(self.result_format);
        });
    }

    /// Writes a FunctionCall from parts.
    ///
    /// # Panics
    ///
    /// When a list has more than 65 535 entries or a value more than `i32::MAX` bytes.
    pub fn encode_parts<'v>(
        function: u32,
        arg_formats: &[i16],
        args: impl IntoIterator<Item = Option<&'v [u8]>>,
        result_format: i16,
        out: &mut impl EncodeBuf,
    ) {
        frame(out, b'F', |o| {
            o.put_u32(function);
            write_formats(o, arg_formats, "FunctionCall argument formats");
            write_values(o, args, "FunctionCall arguments");
            o.put_i16(result_format);
        });
    }
}

/// Which authentication request a `'p'` message answers.
///
/// PasswordMessage, SASLInitialResponse, SASLResponse and GSSResponse share the tag `'p'`; only
/// the preceding Authentication request tells them apart, and the frontend decoder does not see
/// it. The caller says what the server asked for, with [`FrontendDecoder::expect_auth`] (a
/// server answering the client itself) or [`FrontendDecoder::observe_backend`] (a proxy that
/// decodes both directions). Without either, `'p'` decodes as
/// [`FrontendMessage::PasswordLike`], whose accessors interpret the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AuthKind {
    /// After AuthenticationCleartextPassword or AuthenticationMD5Password: PasswordMessage.
    Password,
    /// After AuthenticationSASL: SASLInitialResponse; the decoder then expects
    /// [`AuthKind::Sasl`].
    SaslInitial,
    /// After AuthenticationSASLContinue: SASLResponse.
    Sasl,
    /// After AuthenticationGSS, AuthenticationSSPI or AuthenticationGSSContinue: GSSResponse.
    Gss,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Startup,
    Normal,
    /// After a CancelRequest the server closes the connection: nothing may follow.
    Cancelled,
}

/// Decodes what a client sends, tracking the startup and authentication phases.
///
/// The decoder's state moves on each time it returns [`Decoded::Message`]: the caller must
/// then consume those `len` bytes (forward or drop them) before the next call.
///
/// # Examples
///
/// ```
/// use guard_sql::pg::{AuthKind, Decoded, FrontendDecoder, FrontendMessage, Limits};
///
/// let mut dec = FrontendDecoder::new(Limits::default());
/// // An SSLRequest: 8 bytes, untagged.
/// let ssl = [0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f];
/// assert!(matches!(
///     dec.decode(&ssl[..5])?,
///     Decoded::NeedMore { at_least: 8 }
/// ));
/// assert!(matches!(
///     dec.decode(&ssl)?,
///     Decoded::Message { len: 8, msg: FrontendMessage::SslRequest }
/// ));
/// # Ok::<(), guard_sql::pg::DecodeError>(())
/// ```
#[derive(Debug, Clone)]
pub struct FrontendDecoder {
    limits: Limits,
    phase: Phase,
    auth: Option<AuthKind>,
    ssl_requested: bool,
    gss_requested: bool,
}

impl FrontendDecoder {
    /// A decoder at the start of a connection.
    pub fn new(limits: Limits) -> Self {
        FrontendDecoder {
            limits,
            phase: Phase::Startup,
            auth: None,
            ssl_requested: false,
            gss_requested: false,
        }
    }

    /// A decoder for a stream already past the startup packet (tagged messages only).
    pub fn new_after_startup(limits: Limits) -> Self {
        let mut d = FrontendDecoder::new(limits);
        d.phase = Phase::Normal;
        d
    }

    /// Whether the decoder still expects untagged startup packets.
    pub fn in_startup(&self) -> bool {
        self.phase == Phase::Startup
    }

    /// Says which authentication request the next `'p'` message answers (`None`: unknown,
    /// decode as [`FrontendMessage::PasswordLike`]).
    pub fn expect_auth(&mut self, kind: Option<AuthKind>) -> &mut Self {
        self.auth = kind;
        self
    }

    /// The authentication response currently expected.
    pub fn expected_auth(&self) -> Option<AuthKind> {
        self.auth
    }

    /// Learns from a message the server sent: Authentication requests set what `'p'` means.
    pub fn observe_backend(&mut self, msg: &BackendMessage<'_>) -> &mut Self {
        if let BackendMessage::Authentication(a) = msg {
            self.auth = match a {
                Authentication::CleartextPassword | Authentication::Md5Password { .. } => {
                    Some(AuthKind::Password)
                }
                Authentication::Sasl { .. } => Some(AuthKind::SaslInitial),
                Authentication::SaslContinue { .. } => Some(AuthKind::Sasl),
                Authentication::Gss | Authentication::Sspi | Authentication::GssContinue { .. } => {
                    Some(AuthKind::Gss)
                }
                _ => None,
            };
        }
        self
    }

    /// Decodes the message at the start of `buf`.
    ///
    /// # Errors
    ///
    /// [`DecodeError`] when the bytes are not a valid frontend message in the current phase,
    /// or exceed the [`Limits`]. The connection cannot continue after an error.
    pub fn decode<'b>(
        &mut self,
        buf: &'b [u8],
    ) -> Result<Decoded<FrontendMessage<'b>>, DecodeError> {
        self.decode_inner(buf)
            .map_err(|k| DecodeError::new(Sender::Frontend, k))
    }

    fn decode_inner<'b>(
        &mut self,
        buf: &'b [u8],
    ) -> Result<Decoded<FrontendMessage<'b>>, DecodeErrorKind> {
        match self.phase {
            Phase::Normal => {
                let (tag, body, total) =
                    match frame_tagged(buf, self.limits.max_frontend_message_bytes)? {
                        Frame::Whole { tag, body, total } => (tag, body, total),
                        Frame::NeedMore(at_least) => return Ok(Decoded::NeedMore { at_least }),
                    };
                let msg = parse_tagged(tag, body, self.auth, &self.limits)?;
                if tag == b'p' {
                    self.auth = match self.auth {
                        Some(AuthKind::SaslInitial) => Some(AuthKind::Sasl),
                        Some(AuthKind::Password) => None,
                        other => other,
                    };
                }
                Ok(Decoded::Message { len: total, msg })
            }
            Phase::Startup => {
                let Some(&[a, b, c, d]) = buf.first_chunk::<4>() else {
                    return Ok(Decoded::NeedMore { at_least: 4 });
                };
                let len = u32::from_be_bytes([a, b, c, d]);
                let total = check_len(Tag::UNTAGGED, len, 8, self.limits.max_startup_bytes)? - 1;
                let Some(body) = buf.get(4..total) else {
                    return Ok(Decoded::NeedMore { at_least: total });
                };
                let msg = parse_startup(body, &self.limits)?;
                match msg {
                    FrontendMessage::SslRequest if self.ssl_requested => {
                        return Err(unexpected("a second SSLRequest"));
                    }
                    FrontendMessage::GssEncRequest if self.gss_requested => {
                        return Err(unexpected("a second GSSENCRequest"));
                    }
                    FrontendMessage::SslRequest => self.ssl_requested = true,
                    FrontendMessage::GssEncRequest => self.gss_requested = true,
                    FrontendMessage::CancelRequest(_) => self.phase = Phase::Cancelled,
                    _ => self.phase = Phase::Normal,
                }
                Ok(Decoded::Message { len: total, msg })
            }
            Phase::Cancelled => {
                if buf.is_empty() {
                    Ok(Decoded::NeedMore { at_least: 1 })
                } else {
                    Err(DecodeErrorKind::Unexpected {
                        tag: Tag(buf[0]),
                        reason: "nothing may follow a CancelRequest",
                    })
                }
            }
        }
    }
}

fn unexpected(reason: &'static str) -> DecodeErrorKind {
    DecodeErrorKind::Unexpected {
        tag: Tag::UNTAGGED,
        reason,
    }
}

/// A tagged message framed at the start of a buffer, or how much more is needed.
pub(crate) enum Frame<'a> {
    /// The buffer must hold at least this many bytes (5, or the whole message).
    NeedMore(usize),
    /// A whole message: tag, body (after the length word) and size including the tag.
    Whole {
        /// The tag byte.
        tag: u8,
        /// The body.
        body: &'a [u8],
        /// Bytes the message occupies.
        total: usize,
    },
}

/// Frames the tagged message at the start of `buf` (both directions share this): reads the
/// header, checks the length word against the minimum (4) and `limit` before the body is
/// awaited, and slices the body once it is all there.
#[inline(always)]
pub(crate) fn frame_tagged(buf: &[u8], limit: usize) -> Result<Frame<'_>, DecodeErrorKind> {
    let Some(&[tag, a, b, c, d]) = buf.first_chunk::<5>() else {
        return Ok(Frame::NeedMore(5));
    };
    let total = check_len(Tag(tag), u32::from_be_bytes([a, b, c, d]), 4, limit)?;
    Ok(match buf.get(5..total) {
        Some(body) => Frame::Whole { tag, body, total },
        None => Frame::NeedMore(total),
    })
}

/// Checks a length word against its minimum and the limit; returns the total message size
/// including the tag byte (callers of untagged packets subtract it).
pub(crate) fn check_len(
    tag: Tag,
    len: u32,
    min: u32,
    limit: usize,
) -> Result<usize, DecodeErrorKind> {
    if len < min {
        return Err(DecodeErrorKind::BadLength { tag, len, min });
    }
    let total = len as usize + 1;
    let counted = if tag == Tag::UNTAGGED {
        total - 1
    } else {
        total
    };
    if counted > limit {
        return Err(DecodeErrorKind::TooLarge {
            tag,
            len: counted,
            limit,
        });
    }
    Ok(total)
}

/// Parses an untagged startup packet body (after the length word).
pub(crate) fn parse_startup<'a>(
    body: &'a [u8],
    limits: &Limits,
) -> Result<FrontendMessage<'a>, DecodeErrorKind> {
    let malformed = |reason| DecodeErrorKind::Malformed {
        tag: Tag::UNTAGGED,
        reason,
    };
    let mut r = Reader::new(body);
    let code = r.u32("missing request code").map_err(malformed)?;
    match code {
        SSL_REQUEST_CODE | GSSENC_REQUEST_CODE => {
            r.end().map_err(malformed)?;
            Ok(if code == SSL_REQUEST_CODE {
                FrontendMessage::SslRequest
            } else {
                FrontendMessage::GssEncRequest
            })
        }
        CANCEL_REQUEST_CODE => {
            let process_id = r.i32("missing process id").map_err(malformed)?;
            let secret_key = r.rest();
            if secret_key.len() < 4 || secret_key.len() > MAX_SECRET_KEY_BYTES {
                return Err(malformed("cancel secret key must be 4 to 256 bytes"));
            }
            Ok(FrontendMessage::CancelRequest(CancelRequest {
                process_id,
                secret_key,
            }))
        }
        _ => {
            let version = ProtocolVersion {
                major: (code >> 16) as u16,
                minor: code as u16,
            };
            if version.major == 1234 {
                return Err(DecodeErrorKind::UnknownRequestCode { code });
            }
            if version.major != 3 {
                return Err(DecodeErrorKind::UnsupportedProtocol {
                    major: version.major,
                    minor: version.minor,
                });
            }
            let params = StartupParams::read(&mut r, limits.max_startup_params)
                .map_err(malformed)?
                .map_err(|count| DecodeErrorKind::TooMany {
                    tag: Tag::UNTAGGED,
                    what: "startup parameters",
                    count,
                    limit: limits.max_startup_params,
                })?;
            r.end().map_err(malformed)?;
            Ok(FrontendMessage::Startup(StartupMessage { version, params }))
        }
    }
}

/// Parses a tagged message body.
pub(crate) fn parse_tagged<'a>(
    tag: u8,
    body: &'a [u8],
    auth: Option<AuthKind>,
    limits: &Limits,
) -> Result<FrontendMessage<'a>, DecodeErrorKind> {
    let t = Tag(tag);
    let malformed = |reason| DecodeErrorKind::Malformed { tag: t, reason };
    let too_many = |what, count, limit| DecodeErrorKind::TooMany {
        tag: t,
        what,
        count,
        limit,
    };
    let mut r = Reader::new(body);
    let empty = |r: &Reader<'_>, m| r.end().map(|_| m).map_err(malformed);
    let msg = match tag {
        b'Q' => FrontendMessage::Query(Query {
            sql: r.cstr("query is not nul-terminated").map_err(malformed)?,
        }),
        b'P' => {
            let name = r
                .cstr("statement name is not nul-terminated")
                .map_err(malformed)?;
            let query = r.cstr("query is not nul-terminated").map_err(malformed)?;
            let n = r.u16("missing parameter type count").map_err(malformed)? as usize;
            if n > limits.max_params {
                return Err(too_many("parameter types", n, limits.max_params));
            }
            let param_types = Oids::read(&mut r, n).map_err(malformed)?;
            FrontendMessage::Parse(Parse {
                name,
                query,
                param_types,
            })
        }
        b'B' => {
            let portal = r
                .cstr("portal name is not nul-terminated")
                .map_err(malformed)?;
            let statement = r
                .cstr("statement name is not nul-terminated")
                .map_err(malformed)?;
            let n = r.u16("missing parameter format count").map_err(malformed)? as usize;
            if n > limits.max_params {
                return Err(too_many("parameter formats", n, limits.max_params));
            }
            let param_formats = FormatCodes::read(&mut r, n).map_err(malformed)?;
            let n = r.u16("missing parameter count").map_err(malformed)?;
            if n as usize > limits.max_params {
                return Err(too_many("parameters", n as usize, limits.max_params));
            }
            let params = Values::read(&mut r, n).map_err(malformed)?;
            let n = r.u16("missing result format count").map_err(malformed)? as usize;
            if n > limits.max_columns {
                return Err(too_many("result formats", n, limits.max_columns));
            }
            let result_formats = FormatCodes::read(&mut r, n).map_err(malformed)?;
            FrontendMessage::Bind(Bind {
                portal,
                statement,
                param_formats,
                params,
                result_formats,
            })
        }
        b'D' | b'C' => {
            let target = Target::read(&mut r).map_err(malformed)?;
            let name = r.cstr("name is not nul-terminated").map_err(malformed)?;
            if tag == b'D' {
                FrontendMessage::Describe(Describe { target, name })
            } else {
                FrontendMessage::Close(Close { target, name })
            }
        }
        b'E' => {
            let portal = r
                .cstr("portal name is not nul-terminated")
                .map_err(malformed)?;
            let max_rows = r.i32("missing row limit").map_err(malformed)?;
            FrontendMessage::Execute(Execute { portal, max_rows })
        }
        b'S' => return empty(&r, FrontendMessage::Sync),
        b'H' => return empty(&r, FrontendMessage::Flush),
        b'X' => return empty(&r, FrontendMessage::Terminate),
        b'c' => return empty(&r, FrontendMessage::CopyDone),
        b'd' => return Ok(FrontendMessage::CopyData(CopyData { data: body })),
        b'f' => FrontendMessage::CopyFail(CopyFail {
            message: r.cstr("message is not nul-terminated").map_err(malformed)?,
        }),
        b'F' => {
            let function = r.u32("missing function oid").map_err(malformed)?;
            let n = r.u16("missing argument format count").map_err(malformed)? as usize;
            if n > limits.max_params {
                return Err(too_many("argument formats", n, limits.max_params));
            }
            let arg_formats = FormatCodes::read(&mut r, n).map_err(malformed)?;
            let n = r.u16("missing argument count").map_err(malformed)?;
            if n as usize > limits.max_params {
                return Err(too_many("arguments", n as usize, limits.max_params));
            }
            let args = Values::read(&mut r, n).map_err(malformed)?;
            let result_format = r.i16("missing result format").map_err(malformed)?;
            FrontendMessage::FunctionCall(FunctionCall {
                function,
                arg_formats,
                args,
                result_format,
            })
        }
        b'p' => {
            return match auth {
                None => Ok(FrontendMessage::PasswordLike(PasswordLike { data: body })),
                Some(AuthKind::Password) => parse_password(body)
                    .map(FrontendMessage::Password)
                    .map_err(malformed),
                Some(AuthKind::SaslInitial) => parse_sasl_initial(body)
                    .map(FrontendMessage::SaslInitialResponse)
                    .map_err(malformed),
                Some(AuthKind::Sasl) => {
                    Ok(FrontendMessage::SaslResponse(SaslResponse { data: body }))
                }
                Some(AuthKind::Gss) => Ok(FrontendMessage::GssResponse(GssResponse { data: body })),
            };
        }
        _ => {
            return Err(DecodeErrorKind::UnknownTag {
                tag: t,
                phase: "normal",
            });
        }
    };
    r.end().map_err(malformed)?;
    Ok(msg)
}

fn parse_password(body: &[u8]) -> Res<PasswordMessage<'_>> {
    let mut r = Reader::new(body);
    let password = r.cstr("password is not nul-terminated")?;
    r.end()?;
    Ok(PasswordMessage { password })
}

fn parse_sasl_initial(body: &[u8]) -> Res<SaslInitialResponse<'_>> {
    let mut r = Reader::new(body);
    let mechanism = r.cstr("mechanism is not nul-terminated")?;
    let len = r.i32("missing data length")?;
    let data = match len {
        -1 => None,
        n if n >= 0 => Some(r.bytes(n as usize, "data runs past the end")?),
        _ => return Err("negative data length other than -1"),
    };
    r.end()?;
    Ok(SaslInitialResponse { mechanism, data })
}

fn write_opt_bytes(o: &mut impl Out, data: Option<&[u8]>) {
    match data {
        Some(d) => {
            o.put_i32(i32::try_from(d.len()).unwrap_or(i32::MAX));
            o.put(d);
        }
        None => o.put_i32(-1),
    }
}

pub(crate) fn write_formats(o: &mut impl Out, formats: &[i16], what: &str) {
    o.put_i16(count16(formats.len(), what));
    for f in formats {
        o.put_i16(*f);
    }
}
