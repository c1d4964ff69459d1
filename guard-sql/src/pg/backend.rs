//! Messages a server sends, and the decoder that reads them.

use super::common::{Out, Reader, count16, frame};
use super::error::{DecodeError, DecodeErrorKind, Sender};
use super::frontend::{Frame, MAX_SECRET_KEY_BYTES, frame_tagged, write_formats};
use super::views::write_values;
use super::{
    CopyData, Decoded, EncodeBuf, ErrorFields, FieldDescriptions, FormatCodes, FrontendMessage,
    Limits, NameList, Oids, PgStr, Tag, Values,
};

/// A message sent by the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum BackendMessage<'a> {
    /// The single-byte answer to SSLRequest: `'S'` (accepted: start TLS) or `'N'`.
    SslResponse {
        /// Whether the server accepted.
        accepted: bool,
    },
    /// The single-byte answer to GSSENCRequest: `'G'` (accepted) or `'N'`.
    GssEncResponse {
        /// Whether the server accepted.
        accepted: bool,
    },
    /// Authentication* (`'R'`).
    Authentication(Authentication<'a>),
    /// BackendKeyData (`'K'`): the key a CancelRequest must present.
    BackendKeyData(BackendKeyData<'a>),
    /// BindComplete (`'2'`).
    BindComplete,
    /// CloseComplete (`'3'`).
    CloseComplete,
    /// CommandComplete (`'C'`).
    CommandComplete(CommandComplete<'a>),
    /// CopyData (`'d'`): COPY TO STDOUT data (or replication stream data).
    CopyData(CopyData<'a>),
    /// CopyDone (`'c'`).
    CopyDone,
    /// CopyInResponse (`'G'`): the server is ready for COPY FROM STDIN data.
    CopyInResponse(CopyResponse<'a>),
    /// CopyOutResponse (`'H'`): COPY TO STDOUT data follows.
    CopyOutResponse(CopyResponse<'a>),
    /// CopyBothResponse (`'W'`): streaming replication in both directions.
    CopyBothResponse(CopyResponse<'a>),
    /// DataRow (`'D'`): one result row.
    DataRow(DataRow<'a>),
    /// EmptyQueryResponse (`'I'`): the query string was empty.
    EmptyQueryResponse,
    /// ErrorResponse (`'E'`).
    ErrorResponse(ErrorResponse<'a>),
    /// FunctionCallResponse (`'V'`).
    FunctionCallResponse(FunctionCallResponse<'a>),
    /// NegotiateProtocolVersion (`'v'`): the server supports an older minor version or not
    /// all requested `_pq_.` options.
    NegotiateProtocolVersion(NegotiateProtocolVersion<'a>),
    /// NoData (`'n'`): the statement returns no rows.
    NoData,
    /// NoticeResponse (`'N'`).
    NoticeResponse(NoticeResponse<'a>),
    /// NotificationResponse (`'A'`): a NOTIFY.
    NotificationResponse(NotificationResponse<'a>),
    /// ParameterDescription (`'t'`).
    ParameterDescription(ParameterDescription<'a>),
    /// ParameterStatus (`'S'`): a run-time parameter's current value.
    ParameterStatus(ParameterStatus<'a>),
    /// ParseComplete (`'1'`).
    ParseComplete,
    /// PortalSuspended (`'s'`): Execute's row limit was reached.
    PortalSuspended,
    /// ReadyForQuery (`'Z'`).
    ReadyForQuery(ReadyForQuery),
    /// RowDescription (`'T'`).
    RowDescription(RowDescription<'a>),
}

impl BackendMessage<'_> {
    /// The wire tag; [`Tag::UNTAGGED`] for the single-byte encryption answers.
    pub fn tag(&self) -> Tag {
        Tag(match self {
            BackendMessage::SslResponse { .. } | BackendMessage::GssEncResponse { .. } => 0,
            BackendMessage::Authentication(_) => b'R',
            BackendMessage::BackendKeyData(_) => b'K',
            BackendMessage::BindComplete => b'2',
            BackendMessage::CloseComplete => b'3',
            BackendMessage::CommandComplete(_) => b'C',
            BackendMessage::CopyData(_) => b'd',
            BackendMessage::CopyDone => b'c',
            BackendMessage::CopyInResponse(_) => b'G',
            BackendMessage::CopyOutResponse(_) => b'H',
            BackendMessage::CopyBothResponse(_) => b'W',
            BackendMessage::DataRow(_) => b'D',
            BackendMessage::EmptyQueryResponse => b'I',
            BackendMessage::ErrorResponse(_) => b'E',
            BackendMessage::FunctionCallResponse(_) => b'V',
            BackendMessage::NegotiateProtocolVersion(_) => b'v',
            BackendMessage::NoData => b'n',
            BackendMessage::NoticeResponse(_) => b'N',
            BackendMessage::NotificationResponse(_) => b'A',
            BackendMessage::ParameterDescription(_) => b't',
            BackendMessage::ParameterStatus(_) => b'S',
            BackendMessage::ParseComplete => b'1',
            BackendMessage::PortalSuspended => b's',
            BackendMessage::ReadyForQuery(_) => b'Z',
            BackendMessage::RowDescription(_) => b'T',
        })
    }

    /// Writes the message: for a decoded message, exactly the bytes it was decoded from.
    pub fn encode(&self, out: &mut impl EncodeBuf) {
        match self {
            BackendMessage::SslResponse { accepted } => {
                out.put(if *accepted { b"S" } else { b"N" });
            }
            BackendMessage::GssEncResponse { accepted } => {
                out.put(if *accepted { b"G" } else { b"N" });
            }
            BackendMessage::Authentication(m) => m.encode(out),
            BackendMessage::BackendKeyData(m) => m.encode(out),
            BackendMessage::BindComplete => frame(out, b'2', |_| {}),
            BackendMessage::CloseComplete => frame(out, b'3', |_| {}),
            BackendMessage::CommandComplete(m) => m.encode(out),
            BackendMessage::CopyData(m) => m.encode(out),
            BackendMessage::CopyDone => frame(out, b'c', |_| {}),
            BackendMessage::CopyInResponse(m) => m.encode(b'G', out),
            BackendMessage::CopyOutResponse(m) => m.encode(b'H', out),
            BackendMessage::CopyBothResponse(m) => m.encode(b'W', out),
            BackendMessage::DataRow(m) => m.encode(out),
            BackendMessage::EmptyQueryResponse => frame(out, b'I', |_| {}),
            BackendMessage::ErrorResponse(m) => m.encode(out),
            BackendMessage::FunctionCallResponse(m) => m.encode(out),
            BackendMessage::NegotiateProtocolVersion(m) => m.encode(out),
            BackendMessage::NoData => frame(out, b'n', |_| {}),
            BackendMessage::NoticeResponse(m) => m.encode(out),
            BackendMessage::NotificationResponse(m) => m.encode(out),
            BackendMessage::ParameterDescription(m) => m.encode(out),
            BackendMessage::ParameterStatus(m) => m.encode(out),
            BackendMessage::ParseComplete => frame(out, b'1', |_| {}),
            BackendMessage::PortalSuspended => frame(out, b's', |_| {}),
            BackendMessage::ReadyForQuery(m) => m.encode(out),
            BackendMessage::RowDescription(m) => m.encode(out),
        }
    }
}

/// An authentication request or outcome (`'R'`), by its Int32 code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Authentication<'a> {
    /// 0, AuthenticationOk.
    Ok,
    /// 2, AuthenticationKerberosV5 (no longer sent by servers).
    KerberosV5,
    /// 3, AuthenticationCleartextPassword.
    CleartextPassword,
    /// 5, AuthenticationMD5Password.
    Md5Password {
        /// The salt for [`auth::md5_password`](super::auth::md5_password).
        salt: [u8; 4],
    },
    /// 7, AuthenticationGSS.
    Gss,
    /// 8, AuthenticationGSSContinue.
    GssContinue {
        /// GSSAPI or SSPI data.
        data: &'a [u8],
    },
    /// 9, AuthenticationSSPI.
    Sspi,
    /// 10, AuthenticationSASL: the mechanisms the server offers.
    Sasl {
        /// Mechanism names, in the server's order of preference.
        mechanisms: NameList<'a>,
    },
    /// 11, AuthenticationSASLContinue.
    SaslContinue {
        /// Mechanism data (for SCRAM, the server-first message).
        data: &'a [u8],
    },
    /// 12, AuthenticationSASLFinal.
    SaslFinal {
        /// Outcome data (for SCRAM, the server-final message).
        data: &'a [u8],
    },
}

impl Authentication<'_> {
    /// The Int32 request code.
    pub fn code(&self) -> i32 {
        match self {
            Authentication::Ok => 0,
            Authentication::KerberosV5 => 2,
            Authentication::CleartextPassword => 3,
            Authentication::Md5Password { .. } => 5,
            Authentication::Gss => 7,
            Authentication::GssContinue { .. } => 8,
            Authentication::Sspi => 9,
            Authentication::Sasl { .. } => 10,
            Authentication::SaslContinue { .. } => 11,
            Authentication::SaslFinal { .. } => 12,
        }
    }

    /// Writes the message.
    pub fn encode(&self, out: &mut impl EncodeBuf) {
        frame(out, b'R', |o| {
            o.put_i32(self.code());
            match self {
                Authentication::Md5Password { salt } => o.put(salt),
                Authentication::GssContinue { data }
                | Authentication::SaslContinue { data }
                | Authentication::SaslFinal { data } => o.put(data),
                Authentication::Sasl { mechanisms } => {
                    for m in mechanisms.iter() {
                        o.put_cstr(m.as_bytes());
                    }
                    o.put(&[0]);
                }
                _ => {}
            }
        });
    }

    /// Writes an AuthenticationSASL offering `mechanisms` (e.g. `SCRAM-SHA-256`).
    pub fn encode_sasl(mechanisms: &[PgStr<'_>], out: &mut impl EncodeBuf) {
        frame(out, b'R', |o| {
            o.put_i32(10);
            for m in mechanisms {
                o.put_cstr(m.as_bytes());
            }
            o.put(&[0]);
        });
    }
}

/// BackendKeyData: the cancellation key of this session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackendKeyData<'a> {
    /// The backend's process ID.
    pub process_id: i32,
    /// The secret key: 4 bytes in protocol 3.0, up to 256 in 3.2.
    pub secret_key: &'a [u8],
}

impl BackendKeyData<'_> {
    /// Writes the message.
    pub fn encode(&self, out: &mut impl EncodeBuf) {
        frame(out, b'K', |o| {
            o.put_i32(self.process_id);
            o.put(self.secret_key);
        });
    }
}

/// CommandComplete: a statement finished.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommandComplete<'a> {
    /// The command tag, e.g. `SELECT 5`, `INSERT 0 1`, `DELETE 3`.
    pub tag: PgStr<'a>,
}

impl CommandComplete<'_> {
    /// The row count at the end of the tag, for the commands that report one.
    pub fn rows(&self) -> Option<u64> {
        let b = self.tag.as_bytes();
        let last = b.rsplit(|c| *c == b' ').next()?;
        if b.len() == last.len() {
            return None;
        }
        std::str::from_utf8(last).ok()?.parse().ok()
    }

    /// Writes the message.
    pub fn encode(&self, out: &mut impl EncodeBuf) {
        frame(out, b'C', |o| o.put_cstr(self.tag.as_bytes()));
    }
}

/// CopyInResponse, CopyOutResponse, CopyBothResponse: the COPY formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CopyResponse<'a> {
    /// Overall format: 0 textual, 1 binary.
    pub format: i8,
    /// Per-column format codes.
    pub column_formats: FormatCodes<'a>,
}

impl CopyResponse<'_> {
    fn encode(&self, tag: u8, out: &mut impl EncodeBuf) {
        frame(out, tag, |o| {
            o.put(&[self.format as u8]);
            self.column_formats.write(o);
        });
    }

    /// Writes a CopyInResponse (`tag` `b'G'`), CopyOutResponse (`b'H'`) or CopyBothResponse
    /// (`b'W'`) from parts.
    ///
    /// # Panics
    ///
    /// When `tag` is none of those, or there are more than 65 535 formats.
    pub fn encode_parts(tag: u8, format: i8, column_formats: &[i16], out: &mut impl EncodeBuf) {
        assert!(
            matches!(tag, b'G' | b'H' | b'W'),
            "not a copy response tag: {tag:#04x}"
        );
        frame(out, tag, |o| {
            o.put(&[format as u8]);
            write_formats(o, column_formats, "copy column formats");
        });
    }
}

/// DataRow: one row of a result. Iterate the columns with `values.iter()`; nothing allocates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DataRow<'a> {
    /// Column values, `None` for NULL.
    pub values: Values<'a>,
}

impl DataRow<'_> {
    /// Writes the message.
    pub fn encode(&self, out: &mut impl EncodeBuf) {
        frame(out, b'D', |o| self.values.write(o));
    }

    /// Writes a DataRow from values (the gateway re-encoding a masked row).
    ///
    /// # Panics
    ///
    /// When there are more than 65 535 values or one is larger than `i32::MAX` bytes.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut out = Vec::new();
    /// guard_sql::pg::DataRow::encode_values([Some(&b"42"[..]), None], &mut out);
    /// assert_eq!(out, b"D\0\0\0\x10\0\x02\0\0\0\x0242\xff\xff\xff\xff");
    /// ```
    pub fn encode_values<'v>(
        values: impl IntoIterator<Item = Option<&'v [u8]>>,
        out: &mut impl EncodeBuf,
    ) {
        frame(out, b'D', |o| write_values(o, values, "DataRow values"));
    }
}

/// ErrorResponse: a statement or the session failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ErrorResponse<'a> {
    /// The fields (severity, SQLSTATE, message...).
    pub fields: ErrorFields<'a>,
}

impl ErrorResponse<'_> {
    /// Writes the message. To build one, see [`ErrorBuilder`](super::ErrorBuilder).
    pub fn encode(&self, out: &mut impl EncodeBuf) {
        frame(out, b'E', |o| self.fields.write(o));
    }
}

/// NoticeResponse: a warning or informational message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NoticeResponse<'a> {
    /// The fields (severity, SQLSTATE, message...).
    pub fields: ErrorFields<'a>,
}

impl NoticeResponse<'_> {
    /// Writes the message. To build one, see [`ErrorBuilder`](super::ErrorBuilder).
    pub fn encode(&self, out: &mut impl EncodeBuf) {
        frame(out, b'N', |o| self.fields.write(o));
    }
}

/// FunctionCallResponse: the result of a FunctionCall.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FunctionCallResponse<'a> {
    /// The result, `None` for NULL.
    pub value: Option<&'a [u8]>,
}

impl FunctionCallResponse<'_> {
    /// Writes the message.
    pub fn encode(&self, out: &mut impl EncodeBuf) {
        frame(out, b'V', |o| write_values_raw(o, self.value));
    }
}

fn write_values_raw(o: &mut impl Out, v: Option<&[u8]>) {
    match v {
        Some(v) => {
            o.put_i32(v.len() as i32);
            o.put(v);
        }
        None => o.put_i32(-1),
    }
}

/// NegotiateProtocolVersion: the newest minor version the server supports and the `_pq_.`
/// options it did not recognise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NegotiateProtocolVersion<'a> {
    /// Newest minor protocol version supported for the requested major version.
    pub newest_minor: i32,
    /// Protocol options from the StartupMessage the server did not recognise.
    pub unrecognized: NameList<'a>,
}

impl NegotiateProtocolVersion<'_> {
    /// Writes the message.
    pub fn encode(&self, out: &mut impl EncodeBuf) {
        frame(out, b'v', |o| {
            o.put_i32(self.newest_minor);
            o.put_i32(self.unrecognized.len() as i32);
            for n in self.unrecognized.iter() {
                o.put_cstr(n.as_bytes());
            }
        });
    }

    /// Writes the message from parts (the gateway negotiating a client down to 3.0).
    pub fn encode_parts(newest_minor: i32, unrecognized: &[PgStr<'_>], out: &mut impl EncodeBuf) {
        frame(out, b'v', |o| {
            o.put_i32(newest_minor);
            o.put_i32(i32::from(
                count16(unrecognized.len(), "unrecognized options") as u16,
            ));
            for n in unrecognized {
                o.put_cstr(n.as_bytes());
            }
        });
    }
}

/// NotificationResponse: a NOTIFY from some session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotificationResponse<'a> {
    /// The notifying backend's process ID.
    pub process_id: i32,
    /// The channel.
    pub channel: PgStr<'a>,
    /// The payload.
    pub payload: PgStr<'a>,
}

impl NotificationResponse<'_> {
    /// Writes the message.
    pub fn encode(&self, out: &mut impl EncodeBuf) {
        frame(out, b'A', |o| {
            o.put_i32(self.process_id);
            o.put_cstr(self.channel.as_bytes());
            o.put_cstr(self.payload.as_bytes());
        });
    }
}

/// ParameterDescription: the parameter types of a prepared statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParameterDescription<'a> {
    /// Type OIDs, one per parameter.
    pub types: Oids<'a>,
}

impl ParameterDescription<'_> {
    /// Writes the message.
    pub fn encode(&self, out: &mut impl EncodeBuf) {
        frame(out, b't', |o| self.types.write(o));
    }

    /// Writes the message from type OIDs.
    ///
    /// # Panics
    ///
    /// When there are more than 65 535 types.
    pub fn encode_types(types: &[u32], out: &mut impl EncodeBuf) {
        frame(out, b't', |o| {
            o.put_i16(count16(types.len(), "parameter types"));
            for t in types {
                o.put_u32(*t);
            }
        });
    }
}

/// ParameterStatus: a run-time parameter's value (`server_version`, `client_encoding`...).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParameterStatus<'a> {
    /// Parameter name.
    pub name: PgStr<'a>,
    /// Current value.
    pub value: PgStr<'a>,
}

impl ParameterStatus<'_> {
    /// Writes the message.
    pub fn encode(&self, out: &mut impl EncodeBuf) {
        frame(out, b'S', |o| {
            o.put_cstr(self.name.as_bytes());
            o.put_cstr(self.value.as_bytes());
        });
    }
}

/// The transaction status carried by ReadyForQuery.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TransactionStatus {
    /// `'I'`: not in a transaction block.
    Idle,
    /// `'T'`: in a transaction block.
    InTransaction,
    /// `'E'`: in a failed transaction block (queries are rejected until it ends).
    Failed,
}

impl TransactionStatus {
    /// The wire byte.
    pub fn byte(&self) -> u8 {
        match self {
            TransactionStatus::Idle => b'I',
            TransactionStatus::InTransaction => b'T',
            TransactionStatus::Failed => b'E',
        }
    }
}

/// ReadyForQuery: the server is ready for a new query cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadyForQuery {
    /// The transaction status.
    pub status: TransactionStatus,
}

impl ReadyForQuery {
    /// Writes the message.
    pub fn encode(&self, out: &mut impl EncodeBuf) {
        frame(out, b'Z', |o| o.put(&[self.status.byte()]));
    }
}

/// One column of a RowDescription.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldDescription<'a> {
    /// Column name.
    pub name: PgStr<'a>,
    /// OID of the source table, 0 when the column is not a plain table column.
    pub table_oid: u32,
    /// Attribute number of the source column, 0 when none.
    pub column_id: i16,
    /// OID of the data type.
    pub type_oid: u32,
    /// Type size (`pg_type.typlen`), negative for variable width.
    pub type_size: i16,
    /// Type modifier (`pg_attribute.atttypmod`).
    pub type_modifier: i32,
    /// Format code: 0 text, 1 binary (0 in a Describe of a statement).
    pub format: i16,
}

impl<'a> FieldDescription<'a> {
    pub(crate) fn read(r: &mut Reader<'a>) -> Result<Self, &'static str> {
        let name = r.cstr("column name is not nul-terminated")?;
        let w = r.array::<18>("field description runs past the end")?;
        Ok(FieldDescription {
            name,
            table_oid: u32::from_be_bytes([w[0], w[1], w[2], w[3]]),
            column_id: i16::from_be_bytes([w[4], w[5]]),
            type_oid: u32::from_be_bytes([w[6], w[7], w[8], w[9]]),
            type_size: i16::from_be_bytes([w[10], w[11]]),
            type_modifier: i32::from_be_bytes([w[12], w[13], w[14], w[15]]),
            format: i16::from_be_bytes([w[16], w[17]]),
        })
    }

    fn write(&self, o: &mut impl Out) {
        o.put_cstr(self.name.as_bytes());
        o.put_u32(self.table_oid);
        o.put_i16(self.column_id);
        o.put_u32(self.type_oid);
        o.put_i16(self.type_size);
        o.put_i32(self.type_modifier);
        o.put_i16(self.format);
    }
}

/// RowDescription: the columns of the rows that follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RowDescription<'a> {
    /// The columns.
    pub fields: FieldDescriptions<'a>,
}

impl RowDescription<'_> {
    /// Writes the message.
    pub fn encode(&self, out: &mut impl EncodeBuf) {
        frame(out, b'T', |o| self.fields.write(o));
    }

    /// Writes a RowDescription from column descriptions.
    ///
    /// # Panics
    ///
    /// When there are more than 65 535 columns.
    pub fn encode_fields<'f>(
        fields: impl IntoIterator<Item = FieldDescription<'f>>,
        out: &mut impl EncodeBuf,
    ) {
        frame(out, b'T', |o| {
            let at = o.written();
            o.put(&[0, 0]);
            let mut n = 0usize;
            for f in fields {
                f.write(o);
                n += 1;
            }
            o.patch(at, &count16(n, "RowDescription fields").to_be_bytes());
        });
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    Ssl,
    GssEnc,
}

/// Decodes what a server sends.
///
/// The only state is whether the single-byte answer to an SSLRequest or GSSENCRequest comes
/// next: the decoder cannot tell that from the bytes (`'S'` and `'N'` are also message tags),
/// so the caller says so with [`BackendDecoder::expect_ssl_response`],
/// [`BackendDecoder::expect_gssenc_response`] or [`BackendDecoder::observe_frontend`].
#[derive(Debug, Clone)]
pub struct BackendDecoder {
    limits: Limits,
    expect: Option<Expect>,
}

impl BackendDecoder {
    /// A decoder for a server's stream.
    pub fn new(limits: Limits) -> Self {
        BackendDecoder {
            limits,
            expect: None,
        }
    }

    /// The next byte answers an SSLRequest.
    pub fn expect_ssl_response(&mut self) -> &mut Self {
        self.expect = Some(Expect::Ssl);
        self
    }

    /// The next byte answers a GSSENCRequest.
    pub fn expect_gssenc_response(&mut self) -> &mut Self {
        self.expect = Some(Expect::GssEnc);
        self
    }

    /// Learns from a message the client sent: an SSLRequest or GSSENCRequest means a
    /// single-byte answer comes next.
    pub fn observe_frontend(&mut self, msg: &FrontendMessage<'_>) -> &mut Self {
        match msg {
            FrontendMessage::SslRequest => self.expect_ssl_response(),
            FrontendMessage::GssEncRequest => self.expect_gssenc_response(),
            _ => self,
        }
    }

    /// Decodes the message at the start of `buf`.
    ///
    /// # Errors
    ///
    /// [`DecodeError`] when the bytes are not a valid backend message, or exceed the
    /// [`Limits`]. The connection cannot continue after an error.
    pub fn decode<'b>(
        &mut self,
        buf: &'b [u8],
    ) -> Result<Decoded<BackendMessage<'b>>, DecodeError> {
        self.decode_inner(buf)
            .map_err(|k| DecodeError::new(Sender::Backend, k))
    }

    #[inline]
    fn decode_inner<'b>(
        &mut self,
        buf: &'b [u8],
    ) -> Result<Decoded<BackendMessage<'b>>, DecodeErrorKind> {
        if let Some(expect) = self.expect {
            let Some(&b) = buf.first() else {
                return Ok(Decoded::NeedMore { at_least: 1 });
            };
            let msg = match (expect, b) {
                (Expect::Ssl, b'S') => BackendMessage::SslResponse { accepted: true },
                (Expect::Ssl, b'N') => BackendMessage::SslResponse { accepted: false },
                (Expect::GssEnc, b'G') => BackendMessage::GssEncResponse { accepted: true },
                (Expect::GssEnc, b'N') => BackendMessage::GssEncResponse { accepted: false },
                // A server that does not support the request answers with an ErrorResponse.
                (_, b'E') => return self.decode_tagged(buf),
                _ => {
                    return Err(DecodeErrorKind::Unexpected {
                        tag: Tag(b),
                        reason: "expected the single-byte answer to an encryption request",
                    });
                }
            };
            self.expect = None;
            return Ok(Decoded::Message { len: 1, msg });
        }
        self.decode_tagged(buf)
    }

    #[inline]
    fn decode_tagged<'b>(
        &mut self,
        buf: &'b [u8],
    ) -> Result<Decoded<BackendMessage<'b>>, DecodeErrorKind> {
        let (tag, body, total) = match frame_tagged(buf, self.limits.max_backend_message_bytes)? {
            Frame::Whole { tag, body, total } => (tag, body, total),
            Frame::NeedMore(at_least) => return Ok(Decoded::NeedMore { at_least }),
        };
        let msg = parse_backend(tag, body, &self.limits)?;
        self.expect = None;
        Ok(Decoded::Message { len: total, msg })
    }
}

/// Parses a tagged backend message body.
#[inline]
pub(crate) fn parse_backend<'a>(
    tag: u8,
    body: &'a [u8],
    limits: &Limits,
) -> Result<BackendMessage<'a>, DecodeErrorKind> {
    let t = Tag(tag);
    let malformed = |reason| DecodeErrorKind::Malformed { tag: t, reason };
    let too_many = |what, count, limit| DecodeErrorKind::TooMany {
        tag: t,
        what,
        count,
        limit,
    };
    let mut r = Reader::new(body);
    let msg = match tag {
        b'D' => {
            let n = r.u16("missing column count").map_err(malformed)?;
            if n as usize > limits.max_columns {
                return Err(too_many("columns", n as usize, limits.max_columns));
            }
            BackendMessage::DataRow(DataRow {
                values: Values::read(&mut r, n).map_err(malformed)?,
            })
        }
        b'R' => BackendMessage::Authentication(parse_auth(&mut r, limits)?),
        b'K' => {
            let process_id = r.i32("missing process id").map_err(malformed)?;
            let secret_key = r.rest();
            if secret_key.len() < 4 || secret_key.len() > MAX_SECRET_KEY_BYTES {
                return Err(malformed("secret key must be 4 to 256 bytes"));
            }
            BackendMessage::BackendKeyData(BackendKeyData {
                process_id,
                secret_key,
            })
        }
        b'2' => BackendMessage::BindComplete,
        b'3' => BackendMessage::CloseComplete,
        b'C' => BackendMessage::CommandComplete(CommandComplete {
            tag: r
                .cstr("command tag is not nul-terminated")
                .map_err(malformed)?,
        }),
        b'd' => return Ok(BackendMessage::CopyData(CopyData { data: body })),
        b'c' => BackendMessage::CopyDone,
        b'G' | b'H' | b'W' => {
            let format = r.u8("missing overall format").map_err(malformed)? as i8;
            let n = r.u16("missing column format count").map_err(malformed)? as usize;
            if n > limits.max_columns {
                return Err(too_many("column formats", n, limits.max_columns));
            }
            let column_formats = FormatCodes::read(&mut r, n).map_err(malformed)?;
            let c = CopyResponse {
                format,
                column_formats,
            };
            match tag {
                b'G' => BackendMessage::CopyInResponse(c),
                b'H' => BackendMessage::CopyOutResponse(c),
                _ => BackendMessage::CopyBothResponse(c),
            }
        }
        b'I' => BackendMessage::EmptyQueryResponse,
        b'E' | b'N' => {
            let fields = ErrorFields::read(&mut r, limits.max_fields)
                .map_err(malformed)?
                .map_err(|n| too_many("fields", n, limits.max_fields))?;
            if tag == b'E' {
                BackendMessage::ErrorResponse(ErrorResponse { fields })
            } else {
                BackendMessage::NoticeResponse(NoticeResponse { fields })
            }
        }
        b'V' => {
            let len = r.i32("missing result length").map_err(malformed)?;
            let value = match len {
                -1 => None,
                n if n >= 0 => Some(
                    r.bytes(n as usize, "result runs past the end")
                        .map_err(malformed)?,
                ),
                _ => return Err(malformed("negative result length other than -1")),
            };
            BackendMessage::FunctionCallResponse(FunctionCallResponse { value })
        }
        b'v' => {
            let newest_minor = r.i32("missing minor version").map_err(malformed)?;
            let n = r.i32("missing option count").map_err(malformed)?;
            if n < 0 {
                return Err(malformed("negative option count"));
            }
            if n as usize > limits.max_fields {
                return Err(too_many("options", n as usize, limits.max_fields));
            }
            let unrecognized = NameList::read(&mut r, Some(n as usize), limits.max_fields)
                .map_err(malformed)?
                .map_err(|n| too_many("options", n, limits.max_fields))?;
            BackendMessage::NegotiateProtocolVersion(NegotiateProtocolVersion {
                newest_minor,
                unrecognized,
            })
        }
        b'n' => BackendMessage::NoData,
        b'A' => BackendMessage::NotificationResponse(NotificationResponse {
            process_id: r.i32("missing process id").map_err(malformed)?,
            channel: r.cstr("channel is not nul-terminated").map_err(malformed)?,
            payload: r.cstr("payload is not nul-terminated").map_err(malformed)?,
        }),
        b't' => {
            let n = r.u16("missing parameter count").map_err(malformed)? as usize;
            if n > limits.max_params {
                return Err(too_many("parameters", n, limits.max_params));
            }
            BackendMessage::ParameterDescription(ParameterDescription {
                types: Oids::read(&mut r, n).map_err(malformed)?,
            })
        }
        b'S' => BackendMessage::ParameterStatus(ParameterStatus {
            name: r.cstr("name is not nul-terminated").map_err(malformed)?,
            value: r.cstr("value is not nul-terminated").map_err(malformed)?,
        }),
        b'1' => BackendMessage::ParseComplete,
        b's' => BackendMessage::PortalSuspended,
        b'Z' => {
            let status = match r.u8("missing transaction status").map_err(malformed)? {
                b'I' => TransactionStatus::Idle,
                b'T' => TransactionStatus::InTransaction,
                b'E' => TransactionStatus::Failed,
                _ => return Err(malformed("transaction status must be 'I', 'T' or 'E'")),
            };
            BackendMessage::ReadyForQuery(ReadyForQuery { status })
        }
        b'T' => {
            let n = r.u16("missing field count").map_err(malformed)?;
            if n as usize > limits.max_columns {
                return Err(too_many("fields", n as usize, limits.max_columns));
            }
            BackendMessage::RowDescription(RowDescription {
                fields: FieldDescriptions::read(&mut r, n).map_err(malformed)?,
            })
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

fn parse_auth<'a>(
    r: &mut Reader<'a>,
    limits: &Limits,
) -> Result<Authentication<'a>, DecodeErrorKind> {
    let t = Tag(b'R');
    let malformed = |reason| DecodeErrorKind::Malformed { tag: t, reason };
    let code = r.i32("missing authentication code").map_err(malformed)?;
    Ok(match code {
        0 => Authentication::Ok,
        2 => Authentication::KerberosV5,
        3 => Authentication::CleartextPassword,
        5 => Authentication::Md5Password {
            salt: r.array("missing salt").map_err(malformed)?,
        },
        7 => Authentication::Gss,
        8 => Authentication::GssContinue { data: r.rest() },
        9 => Authentication::Sspi,
        10 => {
            let mechanisms = NameList::read(r, None, limits.max_fields)
                .map_err(malformed)?
                .map_err(|count| DecodeErrorKind::TooMany {
                    tag: t,
                    what: "sasl mechanisms",
                    count,
                    limit: limits.max_fields,
                })?;
            Authentication::Sasl { mechanisms }
        }
        11 => Authentication::SaslContinue { data: r.rest() },
        12 => Authentication::SaslFinal { data: r.rest() },
        code => return Err(DecodeErrorKind::UnknownAuthentication { code }),
    })
}
