//! Allocation-free views over the repeated parts of messages (format codes, parameter values,
//! OIDs, startup parameters, name lists, error fields, field descriptions), validated once by
//! the decoder so iterating them cannot fail, and the builder for ErrorResponse and
//! NoticeResponse.

use std::fmt;

use super::common::{Out, PgStr, Reader, Res, count16, frame};
use super::{EncodeBuf, FieldDescription};

/// A list of Int16 format codes (0 text, 1 binary), as in Bind and the COPY responses.
#[derive(Clone, Copy, PartialEq, Eq, Default)]
pub struct FormatCodes<'a> {
    raw: &'a [u8],
}

impl<'a> FormatCodes<'a> {
    /// Number of codes.
    pub fn len(&self) -> usize {
        self.raw.len() / 2
    }

    /// Whether the list is empty.
    pub fn is_empty(&self) -> bool {
        self.raw.is_empty()
    }

    /// The codes in order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = i16> + 'a {
        self.raw
            .chunks_exact(2)
            .map(|c| i16::from_be_bytes([c[0], c[1]]))
    }

    /// The format of column or parameter `i` under the protocol's rule: no codes means text
    /// for all, one code applies to all, otherwise one code per item (`None` past the end).
    pub fn for_index(&self, i: usize) -> Option<i16> {
        match self.len() {
            0 => Some(0),
            1 => self.iter().next(),
            _ => self.iter().nth(i),
        }
    }

    pub(crate) fn read(r: &mut Reader<'a>, n: usize) -> Res<Self> {
        Ok(FormatCodes {
            raw: r.bytes(n * 2, "format codes run past the end")?,
        })
    }

    pub(crate) fn write(&self, out: &mut impl Out) {
        out.put_i16(self.len() as i16);
        out.put(self.raw);
    }
}

impl fmt::Debug for FormatCodes<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// A list of length-prefixed values (`Int32` length, -1 for NULL, then the bytes): DataRow
/// columns, Bind parameters, FunctionCall arguments. Iterating yields `None` for NULL.
#[derive(Clone, Copy, PartialEq, Eq, Default)]
pub struct Values<'a> {
    count: u16,
    raw: &'a [u8],
}

impl<'a> Values<'a> {
    /// Number of values.
    pub fn len(&self) -> usize {
        self.count as usize
    }

    /// Whether there are no values.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The values in order, `None` for NULL. Does not allocate.
    pub fn iter(&self) -> ValuesIter<'a> {
        ValuesIter {
            remaining: self.count,
            buf: self.raw,
        }
    }

    /// The values collected into `out` (cleared first), for random access without a fresh
    /// allocation per row.
    pub fn collect_into(&self, out: &mut Vec<Option<&'a [u8]>>) {
        out.clear();
        out.extend(self.iter());
    }

    /// The encoded values, without the count: what follows the count on the wire.
    pub fn raw(&self) -> &'a [u8] {
        self.raw
    }

    /// Reads `count` values, checking every length against the message.
    pub(crate) fn read(r: &mut Reader<'a>, count: u16) -> Res<Self> {
        let start = r.buf;
        let mut buf = r.buf;
        for _ in 0..count {
            let Some((len, rest)) = buf.split_first_chunk::<4>() else {
                return Err("value length runs past the end");
            };
            let len = i32::from_be_bytes(*len);
            buf = if len >= 0 {
                match rest.get(len as usize..) {
                    Some(rest) => rest,
                    None => return Err("value runs past the end"),
                }
            } else if len == -1 {
                rest
            } else {
                return Err("negative value length other than -1");
            };
        }
        let used = start.len() - buf.len();
        r.buf = buf;
        Ok(Values {
            count,
            raw: &start[..used],
        })
    }

    pub(crate) fn write(&self, out: &mut impl Out) {
        out.put_i16(self.count as i16);
        out.put(self.raw);
    }
}

/// Writes a count and length-prefixed values.
pub(crate) fn write_values<'v, O: Out>(
    out: &mut O,
    values: impl IntoIterator<Item = Option<&'v [u8]>>,
    what: &str,
) {
    let at = out.written();
    out.put(&[0, 0]);
    let mut n = 0usize;
    for v in values {
        match v {
            Some(v) => {
                let len = i32::try_from(v.len()).unwrap_or_else(|_| {
                    panic!("{what}: a value of {} bytes exceeds Int32", v.len())
                });
                out.put_i32(len);
                out.put(v);
            }
            None => out.put_i32(-1),
        }
        n += 1;
    }
    out.patch(at, &count16(n, what).to_be_bytes());
}

impl fmt::Debug for Values<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.iter().map(|v| v.map(String::from_utf8_lossy)))
            .finish()
    }
}

/// Iterator over [`Values`].
#[derive(Debug, Clone)]
pub struct ValuesIter<'a> {
    remaining: u16,
    buf: &'a [u8],
}

impl<'a> Iterator for ValuesIter<'a> {
    type Item = Option<&'a [u8]>;

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        if self.remaining == 0 {
            return None;
        }
        self.remaining -= 1;
        // The decoder validated every length, so the early returns below never trigger.
        let (len, rest) = self.buf.split_first_chunk::<4>()?;
        let len = i32::from_be_bytes(*len);
        if len < 0 {
            self.buf = rest;
            return Some(None);
        }
        let (v, rest) = rest.split_at_checked(len as usize)?;
        self.buf = rest;
        Some(Some(v))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining as usize, Some(self.remaining as usize))
    }
}

impl ExactSizeIterator for ValuesIter<'_> {}

/// A list of Int32 type OIDs (Parse, ParameterDescription).
#[derive(Clone, Copy, PartialEq, Eq, Default)]
pub struct Oids<'a> {
    raw: &'a [u8],
}

impl<'a> Oids<'a> {
    /// Number of OIDs.
    pub fn len(&self) -> usize {
        self.raw.len() / 4
    }

    /// Whether the list is empty.
    pub fn is_empty(&self) -> bool {
        self.raw.is_empty()
    }

    /// The OIDs in order (0 means unspecified in Parse).
    pub fn iter(&self) -> impl ExactSizeIterator<Item = u32> + 'a {
        self.raw
            .chunks_exact(4)
            .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]))
    }

    pub(crate) fn read(r: &mut Reader<'a>, n: usize) -> Res<Self> {
        Ok(Oids {
            raw: r.bytes(n * 4, "type oids run past the end")?,
        })
    }

    pub(crate) fn write(&self, out: &mut impl Out) {
        out.put_i16(self.len() as i16);
        out.put(self.raw);
    }
}

impl fmt::Debug for Oids<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// The name/value pairs of a StartupMessage.
#[derive(Clone, Copy, PartialEq, Eq, Default)]
pub struct StartupParams<'a> {
    count: u16,
    /// The pairs, each string NUL-terminated, without the final terminator.
    raw: &'a [u8],
}

impl<'a> StartupParams<'a> {
    /// Number of pairs.
    pub fn len(&self) -> usize {
        self.count as usize
    }

    /// Whether there are no pairs.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The pairs in order.
    pub fn iter(&self) -> impl Iterator<Item = (PgStr<'a>, PgStr<'a>)> + 'a {
        let mut r = Reader::new(self.raw);
        std::iter::from_fn(move || {
            if r.buf.is_empty() {
                return None;
            }
            // Validated by the decoder: both strings are NUL-terminated.
            let k = r.cstr("").ok()?;
            let v = r.cstr("").ok()?;
            Some((k, v))
        })
    }

    /// The value of `name` (`user`, `database`, `options`, `replication`,
    /// `application_name`, `_pq_.*` ...).
    pub fn get(&self, name: &str) -> Option<PgStr<'a>> {
        self.iter().find(|(k, _)| *k == name).map(|(_, v)| v)
    }

    pub(crate) fn read(r: &mut Reader<'a>, limit: usize) -> Res<Result<Self, usize>> {
        let start = r.buf;
        let mut count = 0usize;
        loop {
            let k = r.cstr("parameter name is not nul-terminated")?;
            if k.is_empty() {
                break;
            }
            r.cstr("parameter value is not nul-terminated")?;
            count += 1;
            if count > limit || count > u16::MAX as usize {
                return Ok(Err(count));
            }
        }
        let used = start.len() - r.buf.len() - 1;
        Ok(Ok(StartupParams {
            count: count as u16,
            raw: &start[..used],
        }))
    }

    pub(crate) fn write(&self, out: &mut impl Out) {
        out.put(self.raw);
        out.put(&[0]);
    }
}

impl fmt::Debug for StartupParams<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

/// A list of strings: SASL mechanism names, or the options NegotiateProtocolVersion did not
/// recognise.
#[derive(Clone, Copy, PartialEq, Eq, Default)]
pub struct NameList<'a> {
    count: u16,
    raw: &'a [u8],
}

impl<'a> NameList<'a> {
    /// Number of names.
    pub fn len(&self) -> usize {
        self.count as usize
    }

    /// Whether the list is empty.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The names in order.
    pub fn iter(&self) -> impl Iterator<Item = PgStr<'a>> + 'a {
        let mut r = Reader::new(self.raw);
        std::iter::from_fn(move || {
            if r.buf.is_empty() {
                None
            } else {
                r.cstr("").ok()
            }
        })
    }

    /// Whether `name` is in the list.
    pub fn contains(&self, name: &str) -> bool {
        self.iter().any(|n| n == name)
    }

    /// Reads names up to an empty one (SASL) or `Some(n)` names (NegotiateProtocolVersion).
    /// `Ok(Err(count))` when the count exceeds `limit`.
    pub(crate) fn read(
        r: &mut Reader<'a>,
        fixed: Option<usize>,
        limit: usize,
    ) -> Res<Result<Self, usize>> {
        let start = r.buf;
        let mut count = 0usize;
        let mut terminator = 0;
        loop {
            if fixed == Some(count) {
                break;
            }
            if count > limit || count > u16::MAX as usize {
                return Ok(Err(count));
            }
            let s = r.cstr("name is not nul-terminated")?;
            if fixed.is_none() && s.is_empty() {
                terminator = 1;
                break;
            }
            if s.is_empty() {
                return Err("empty name in the list");
            }
            count += 1;
        }
        let used = start.len() - r.buf.len() - terminator;
        Ok(Ok(NameList {
            count: count as u16,
            raw: &start[..used],
        }))
    }
}

impl fmt::Debug for NameList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// The fields of an ErrorResponse or NoticeResponse: (code byte, value) pairs.
///
/// Codes are documented in "Error and Notice Message Fields": `S` localized severity, `V`
/// severity, `C` SQLSTATE, `M` message, `D` detail, `H` hint, `P` position, `p` internal
/// position, `q` internal query, `W` where, `s` schema, `t` table, `c` column, `d` data type,
/// `n` constraint, `F` file, `L` line, `R` routine.
#[derive(Clone, Copy, PartialEq, Eq, Default)]
pub struct ErrorFields<'a> {
    count: u16,
    raw: &'a [u8],
}

impl<'a> ErrorFields<'a> {
    /// Number of fields.
    pub fn len(&self) -> usize {
        self.count as usize
    }

    /// Whether there are no fields.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The fields in order.
    pub fn iter(&self) -> impl Iterator<Item = (u8, PgStr<'a>)> + 'a {
        let mut r = Reader::new(self.raw);
        std::iter::from_fn(move || {
            let code = r.u8("").ok()?;
            let v = r.cstr("").ok()?;
            Some((code, v))
        })
    }

    /// The first field with `code`.
    pub fn get(&self, code: u8) -> Option<PgStr<'a>> {
        self.iter().find(|(c, _)| *c == code).map(|(_, v)| v)
    }

    /// `V` (non-localized severity, PostgreSQL 9.6+), else `S`.
    pub fn severity(&self) -> Option<PgStr<'a>> {
        self.get(b'V').or_else(|| self.get(b'S'))
    }

    /// `C`: the SQLSTATE code.
    pub fn code(&self) -> Option<PgStr<'a>> {
        self.get(b'C')
    }

    /// `M`: the primary message.
    pub fn message(&self) -> Option<PgStr<'a>> {
        self.get(b'M')
    }

    /// `D`: the detail.
    pub fn detail(&self) -> Option<PgStr<'a>> {
        self.get(b'D')
    }

    /// `H`: the hint.
    pub fn hint(&self) -> Option<PgStr<'a>> {
        self.get(b'H')
    }

    pub(crate) fn read(r: &mut Reader<'a>, limit: usize) -> Res<Result<Self, usize>> {
        let start = r.buf;
        let mut count = 0usize;
        loop {
            let code = r.u8("field list is not terminated")?;
            if code == 0 {
                break;
            }
            r.cstr("field value is not nul-terminated")?;
            count += 1;
            if count > limit || count > u16::MAX as usize {
                return Ok(Err(count));
            }
        }
        let used = start.len() - r.buf.len() - 1;
        Ok(Ok(ErrorFields {
            count: count as u16,
            raw: &start[..used],
        }))
    }

    pub(crate) fn write(&self, out: &mut impl Out) {
        out.put(self.raw);
        out.put(&[0]);
    }
}

impl fmt::Debug for ErrorFields<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.iter().map(|(c, v)| (c as char, v)))
            .finish()
    }
}

/// The field descriptions of a RowDescription.
#[derive(Clone, Copy, PartialEq, Eq, Default)]
pub struct FieldDescriptions<'a> {
    count: u16,
    raw: &'a [u8],
}

impl<'a> FieldDescriptions<'a> {
    /// Number of columns.
    pub fn len(&self) -> usize {
        self.count as usize
    }

    /// Whether there are no columns.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The columns in order.
    pub fn iter(&self) -> impl Iterator<Item = FieldDescription<'a>> + 'a {
        let mut r = Reader::new(self.raw);
        // Validated by the decoder: every description is complete.
        (0..self.count).map_while(move |_| FieldDescription::read(&mut r).ok())
    }

    pub(crate) fn read(r: &mut Reader<'a>, count: u16) -> Res<Self> {
        let start = r.buf;
        for _ in 0..count {
            FieldDescription::read(r)?;
        }
        let used = start.len() - r.buf.len();
        Ok(FieldDescriptions {
            count,
            raw: &start[..used],
        })
    }

    pub(crate) fn write(&self, out: &mut impl Out) {
        out.put_i16(self.count as i16);
        out.put(self.raw);
    }
}

impl fmt::Debug for FieldDescriptions<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// The severity of an error or notice (field `S` and `V`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Severity {
    /// `ERROR`: the statement failed, the session continues.
    Error,
    /// `FATAL`: the session ends.
    Fatal,
    /// `PANIC`: every session ends.
    Panic,
    /// `WARNING` (notices).
    Warning,
    /// `NOTICE` (notices).
    Notice,
    /// `DEBUG` (notices).
    Debug,
    /// `INFO` (notices).
    Info,
    /// `LOG` (notices).
    Log,
}

impl Severity {
    /// The wire spelling.
    pub fn as_str(&self) -> &'static str {
        match self {
            Severity::Error => "ERROR",
            Severity::Fatal => "FATAL",
            Severity::Panic => "PANIC",
            Severity::Warning => "WARNING",
            Severity::Notice => "NOTICE",
            Severity::Debug => "DEBUG",
            Severity::Info => "INFO",
            Severity::Log => "LOG",
        }
    }
}

/// Builds the fields of an ErrorResponse or NoticeResponse.
///
/// NUL bytes in values are dropped (a protocol string cannot hold one).
///
/// ```
/// use guard_sql::pg::{BackendDecoder, BackendMessage, Decoded, ErrorBuilder, Limits, Severity};
///
/// let mut wire = Vec::new();
/// ErrorBuilder::new(Severity::Error, "42501", "statement denied by rule no-deletes")
///     .hint("ask for a grant")
///     .encode_error(&mut wire);
/// let mut dec = BackendDecoder::new(Limits::default());
/// let Decoded::Message { msg: BackendMessage::ErrorResponse(e), .. } = dec.decode(&wire)? else {
///     panic!("expected an ErrorResponse");
/// };
/// assert_eq!(e.fields.code().unwrap(), "42501");
/// assert_eq!(e.fields.hint().unwrap(), "ask for a grant");
/// # Ok::<(), guard_sql::pg::DecodeError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorBuilder {
    fields: Vec<(u8, String)>,
}

impl ErrorBuilder {
    /// Severity (`S` and `V`), SQLSTATE (`C`) and message (`M`).
    pub fn new(severity: Severity, code: &str, message: &str) -> Self {
        let mut b = ErrorBuilder {
            fields: Vec::with_capacity(6),
        };
        b.field(b'S', severity.as_str());
        b.field(b'V', severity.as_str());
        b.field(b'C', code);
        b.field(b'M', message);
        b
    }

    /// Adds `D`, the detail.
    pub fn detail(&mut self, detail: &str) -> &mut Self {
        self.field(b'D', detail)
    }

    /// Adds `H`, the hint.
    pub fn hint(&mut self, hint: &str) -> &mut Self {
        self.field(b'H', hint)
    }

    /// Adds `P`, the 1-based character position in the query string.
    pub fn position(&mut self, position: u32) -> &mut Self {
        self.field(b'P', &position.to_string())
    }

    /// Adds any field. A zero code is ignored (it would end the list).
    pub fn field(&mut self, code: u8, value: &str) -> &mut Self {
        if code != 0 {
            self.fields.push((code, value.replace('\0', "")));
        }
        self
    }

    /// Writes an ErrorResponse (`'E'`).
    pub fn encode_error(&self, out: &mut impl EncodeBuf) {
        self.encode(b'E', out);
    }

    /// Writes a NoticeResponse (`'N'`).
    pub fn encode_notice(&self, out: &mut impl EncodeBuf) {
        self.encode(b'N', out);
    }

    fn encode(&self, tag: u8, out: &mut impl EncodeBuf) {
        frame(out, tag, |o| {
            for (c, v) in &self.fields {
                o.put(&[*c]);
                o.put_cstr(v.as_bytes());
            }
            o.put(&[0]);
        });
    }
}
