//! The COPY data decoder: CopyData payloads in, header / rows / trailer out.

use std::fmt;

use memchr::{memchr, memchr2, memchr3};

use super::options::{CopyDirection, CopyFormat, CopyHeader, CopyOptions, CopySqlError};
use crate::pg::{Fault, Sender};

/// The binary COPY signature: `PGCOPY\n\377\r\n\0` (COPY documentation, "Binary Format").
pub const BINARY_SIGNATURE: &[u8; 11] = b"PGCOPY\n\xff\r\n\0";

/// Bounds on what a [`CopyDecoder`] buffers.
///
/// ```
/// let mut limits = guard_sql::copy::CopyLimits::default();
/// limits.max_row_bytes = 1 << 20;
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CopyLimits {
    /// Largest row (raw bytes as sent, terminator or binary framing included), and largest
    /// binary header. Default 64 MiB. PostgreSQL bounds one value at 1 GiB (`MaxAllocSize`);
    /// a row above this limit is an error, not a reason to buffer without end.
    pub max_row_bytes: usize,
    /// Most fields in one row. Default 1664, PostgreSQL's `MaxTupleAttributeNumber`.
    pub max_fields: usize,
}

impl Default for CopyLimits {
    fn default() -> Self {
        CopyLimits {
            max_row_bytes: 64 << 20,
            max_fields: 1664,
        }
    }
}

/// One unit of a COPY data stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CopyItem<'a> {
    /// The header, as sent: the binary signature, flags and header extension, or the CSV /
    /// text `HEADER` line with its newline. Pass it on unchanged.
    Header(&'a [u8]),
    /// One row.
    Row(Row<'a>),
    /// The end of data, as sent: the binary trailer (`-1` as Int16), or a `\.` line in text or
    /// CSV (which PostgreSQL reads as end of data in COPY FROM; COPY TO never sends one). Pass
    /// it on unchanged; nothing may follow it.
    Trailer(&'a [u8]),
}

/// One decoded row: its fields (NULL or the value's bytes) and its raw bytes.
#[derive(Clone, Copy)]
pub struct Row<'a> {
    raw: &'a [u8],
    values: &'a [u8],
    fields: &'a [Span],
}

impl<'a> Row<'a> {
    /// Number of fields.
    pub fn len(&self) -> usize {
        self.fields.len()
    }

    /// Whether the row has no fields (a COPY of zero columns).
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// Field `i`: `None` when out of range, `Some(None)` for NULL, `Some(Some(value))`.
    pub fn get(&self, i: usize) -> Option<Option<&'a [u8]>> {
        self.fields.get(i).map(|s| self.resolve(*s))
    }

    /// The fields in order: `None` for NULL, else the decoded value.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = Option<&'a [u8]>> + 'a {
        let (raw, values) = (self.raw, self.values);
        self.fields.iter().map(move |s| resolve(raw, values, *s))
    }

    /// The row's bytes as sent (terminating newline or binary framing included): forward
    /// these when no field changes.
    pub fn raw(&self) -> &'a [u8] {
        self.raw
    }

    fn resolve(&self, s: Span) -> Option<&'a [u8]> {
        resolve(self.raw, self.values, s)
    }
}

impl fmt::Debug for Row<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.iter().map(|v| v.map(String::from_utf8_lossy)))
            .finish()
    }
}

impl PartialEq for Row<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl Eq for Row<'_> {}

/// Decodes a COPY data stream fed in pieces (the payloads of CopyData messages, split
/// anywhere).
///
/// PostgreSQL sends one row per CopyData, but the protocol does not promise it: a row may span
/// payloads, a payload may hold several rows, and CSV values may hold newlines inside quotes.
/// The decoder keeps the unfinished row (at most [`CopyLimits::max_row_bytes`]) and yields
/// each header, row and trailer once complete. Buffers are reused: in steady state it
/// allocates nothing.
///
/// Text format: fields split at the delimiter, backslash escapes undone (`\b \f \n \r \t \v`,
/// octal `\ooo`, hex `\xhh`, any other character stands for itself); a field whose raw text
/// equals the NULL string is NULL. CSV: quotes and escaped quotes undone; an unquoted field
/// equal to the NULL string is NULL, a quoted one never is. Binary: signature, flags (the
/// OID bit and unknown critical bits are refused), header extension, then per tuple an Int16
/// field count and per field an Int32 length (`-1` = NULL) and the bytes, and the `-1`
/// trailer. Rows end with `\n` only (what COPY TO sends); a raw carriage return outside a
/// quoted CSV value is an error, as it is in PostgreSQL's default newline mode.
///
/// All rows must have the same number of fields: the count the caller set with
/// [`CopyDecoder::expect_fields`], or else the first row's.
///
/// After an error the stream cannot be resynchronised; every later call returns it again.
///
/// # Examples
///
/// ```
/// use guard_sql::copy::{CopyDecoder, CopyEncoder, CopyItem, CopyLimits, CopyOptions};
///
/// let opts = CopyOptions::from_sql("COPY users TO STDOUT (FORMAT csv, HEADER)")?;
/// let mut dec = CopyDecoder::new(&opts, CopyLimits::default())?;
/// let enc = CopyEncoder::new(&opts)?;
/// let mut out = Vec::new();
/// // Two CopyData payloads, split in the middle of a quoted value holding a newline.
/// for payload in [&b"id,email\n1,\"ada@ex"[..], b"ample.com\nline 2\"\n2,\n"] {
///     dec.push(payload)?;
///     while let Some(item) = dec.next()? {
///         match item {
///             CopyItem::Row(row) => {
///                 let masked = row.iter().enumerate().map(|(i, v)| match (i, v) {
///                     (1, Some(_)) => Some(&b"***"[..]),
///                     _ => v,
///                 });
///                 enc.encode_row(masked, &mut out)?;
///             }
///             CopyItem::Header(raw) | CopyItem::Trailer(raw) => out.extend_from_slice(raw),
///         }
///     }
/// }
/// dec.finish();
/// assert!(dec.next()?.is_none());
/// assert_eq!(out, b"id,email\n1,***\n2,\n");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct CopyDecoder {
    format: CopyFormat,
    delimiter: u8,
    quote: u8,
    escape: u8,
    null: Vec<u8>,
    sender: Sender,
    limits: CopyLimits,
    /// A header line (text, CSV) or the binary header is still to come.
    header_pending: bool,
    expected_fields: Option<usize>,
    /// Raw bytes; `buf[start..]` is not yet decoded.
    buf: Vec<u8>,
    start: usize,
    /// Where the row-end scan resumes, relative to `start`, and its state.
    scan: usize,
    in_quote: bool,
    last_was_esc: bool,
    /// Decoded values of the current row (those that differ from their raw bytes).
    values: Vec<u8>,
    fields: Vec<Span>,
    rows: u64,
    ended: bool,
    finished: bool,
    failed: Option<CopyDataError>,
}

impl CopyDecoder {
    /// A decoder for a stream in the layout `options` describe. The direction decides whom
    /// errors blame: the server for COPY TO, the client for COPY FROM.
    ///
    /// # Errors
    ///
    /// [`CopySqlError`] when the options break one of PostgreSQL's rules
    /// ([`CopyOptions::validate`]).
    pub fn new(options: &CopyOptions, limits: CopyLimits) -> Result<CopyDecoder, CopySqlError> {
        options.validate()?;
        Ok(CopyDecoder {
            format: options.format,
            delimiter: options.delimiter,
            quote: options.quote,
            escape: options.escape,
            null: options.null.clone(),
            sender: match options.direction {
                CopyDirection::To => Sender::Backend,
                CopyDirection::From => Sender::Frontend,
            },
            limits,
            header_pending: options.format == CopyFormat::Binary
                || options.header != CopyHeader::Absent,
            expected_fields: None,
            buf: Vec::new(),
            start: 0,
            scan: 0,
            in_quote: false,
            last_was_esc: false,
            values: Vec::new(),
            fields: Vec::new(),
            rows: 0,
            ended: false,
            finished: false,
            failed: None,
        })
    }

    /// Requires every row to have `n` fields (the number of columns the COPY emits, known from
    /// a Describe); without it the first row sets the count. In text format with `n == 0`, an
    /// empty line is a row of no fields (PostgreSQL's output for `COPY (SELECT) TO`).
    pub fn expect_fields(&mut self, n: usize) -> &mut Self {
        self.expected_fields = Some(n);
        self
    }

    /// Appends one piece of the stream (a CopyData payload). Call [`CopyDecoder::next`] until
    /// it returns `None` before pushing again, so that only an unfinished row is kept.
    ///
    /// # Errors
    ///
    /// The earlier error, if decoding already failed; [`CopyDataErrorKind::DataAfterEnd`]
    /// after [`CopyDecoder::finish`].
    pub fn push(&mut self, data: &[u8]) -> Result<(), CopyDataError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        if self.finished && !data.is_empty() {
            return Err(self.fail(CopyDataErrorKind::DataAfterEnd { len: data.len() }));
        }
        if self.start == self.buf.len() {
            self.buf.clear();
            self.start = 0;
        } else if self.start > 0 && self.start >= self.buf.len() / 2 {
            // Amortised: the kept part is at most half of what was consumed.
            self.buf.copy_within(self.start.., 0);
            self.buf.truncate(self.buf.len() - self.start);
            self.start = 0;
        }
        self.buf.extend_from_slice(data);
        Ok(())
    }

    /// Marks the end of the stream (CopyDone). Afterwards [`CopyDecoder::next`] yields a final
    /// row that lacks its newline (PostgreSQL accepts one in COPY FROM), then `None`; it
    /// reports a stream cut inside a row, quoted value or binary tuple, and binary data without
    /// its trailer.
    pub fn finish(&mut self) {
        self.finished = true;
    }

    /// The next complete item, `None` when more input is needed (or, after
    /// [`CopyDecoder::finish`], when the stream is done).
    ///
    /// # Errors
    ///
    /// [`CopyDataError`] for malformed data or a row over the limits; it is returned again by
    /// every later call.
    #[allow(clippy::should_implement_trait)] // items borrow the decoder: not an Iterator
    pub fn next(&mut self) -> Result<Option<CopyItem<'_>>, CopyDataError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        let step = match self.format {
            CopyFormat::Binary => self.next_binary(),
            CopyFormat::Text | CopyFormat::Csv => self.next_line(),
        };
        match step {
            Ok(Some(s)) => Ok(Some(self.item(s))),
            Ok(None) => Ok(None),
            Err(kind) => Err(self.fail(kind)),
        }
    }

    /// Data rows decoded so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Whether the end of data (binary trailer or `\.` line) has been seen.
    pub fn ended(&self) -> bool {
        self.ended
    }

    fn fail(&mut self, kind: CopyDataErrorKind) -> CopyDataError {
        let e = CopyDataError {
            sender: self.sender,
            format: self.format,
            row: self.rows + 1,
            kind,
        };
        self.failed = Some(e.clone());
        e
    }

    fn item(&self, s: Step) -> CopyItem<'_> {
        let raw = &self.buf[s.start..s.end];
        match s.what {
            What::Header => CopyItem::Header(raw),
            What::Trailer => CopyItem::Trailer(raw),
            What::Row => CopyItem::Row(Row {
                raw,
                values: &self.values,
                fields: &self.fields,
            }),
        }
    }

    /// Checks whether `len` more bytes of the pending row fit the limit.
    fn check_len(&self, len: usize) -> Result<(), CopyDataErrorKind> {
        if len > self.limits.max_row_bytes {
            return Err(CopyDataErrorKind::RowTooLarge {
                len,
                limit: self.limits.max_row_bytes,
            });
        }
        Ok(())
    }

    /// Text and CSV: finds the end of the next line, then splits it.
    fn next_line(&mut self) -> Result<Option<Step>, CopyDataErrorKind> {
        let pending = self.buf.len() - self.start;
        if self.ended {
            return match pending {
                0 => Ok(None),
                len => Err(CopyDataErrorKind::DataAfterEnd { len }),
            };
        }
        let (line_len, term) = match self.find_line_end()? {
            Some(len) => (len, 1),
            None if self.finished && pending > 0 => {
                if self.in_quote {
                    return Err(CopyDataErrorKind::UnterminatedQuote);
                }
                (pending, 0)
            }
            None => {
                self.check_len(pending)?;
                return Ok(None);
            }
        };
        self.check_len(line_len + term)?;
        let start = self.start;
        let end = start + line_len + term;
        self.start = end;
        self.scan = 0;
        self.in_quote = false;
        self.last_was_esc = false;
        if self.header_pending {
            self.header_pending = false;
            return Ok(Some(Step {
                what: What::Header,
                start,
                end,
            }));
        }
        let line = start..start + line_len;
        if &self.buf[line.clone()] == b"\\." {
            self.ended = true;
            return Ok(Some(Step {
                what: What::Trailer,
                start,
                end,
            }));
        }
        self.values.clear();
        self.fields.clear();
        if self.format == CopyFormat::Csv {
            self.split_csv(line)?;
        } else if line_len == 0 && self.expected_fields == Some(0) {
            // A row of zero columns.
        } else {
            self.split_text(line)?;
        }
        let got = self.fields.len();
        match self.expected_fields {
            Some(expected) if expected != got => {
                return Err(CopyDataErrorKind::FieldCount { expected, got });
            }
            Some(_) => {}
            None => self.expected_fields = Some(got),
        }
        self.rows += 1;
        Ok(Some(Step {
            what: What::Row,
            start,
            end,
        }))
    }

    /// The length of the next line (without its `\n`), resuming the scan where the last call
    /// stopped. Follows PostgreSQL's `CopyReadLineText`: in text a backslash escapes the next
    /// byte (a newline included); in CSV quotes toggle, and an escape inside quotes protects
    /// the quote after it.
    fn find_line_end(&mut self) -> Result<Option<usize>, CopyDataErrorKind> {
        let data = &self.buf[self.start..];
        let mut i = self.scan;
        if self.format == CopyFormat::Text {
            while let Some(off) = memchr3(b'\n', b'\\', b'\r', &data[i..]) {
                let at = i + off;
                match data[at] {
                    b'\n' => {
                        self.scan = 0;
                        return Ok(Some(at));
                    }
                    b'\r' => return Err(self.carriage_return(at)),
                    _ => {
                        if at + 1 >= data.len() {
                            self.scan = at;
                            return Ok(None);
                        }
                        i = at + 2;
                    }
                }
            }
            self.scan = data.len();
            return Ok(None);
        }
        let (quote, escape) = (self.quote, self.escape);
        while i < data.len() {
            if !self.in_quote {
                let Some(off) = memchr3(b'\n', b'\r', quote, &data[i..]) else {
                    i = data.len();
                    break;
                };
                let at = i + off;
                match data[at] {
                    b'\n' => {
                        self.scan = 0;
                        return Ok(Some(at));
                    }
                    b'\r' => return Err(self.carriage_return(at)),
                    _ => {
                        self.in_quote = true;
                        self.last_was_esc = false;
                        i = at + 1;
                    }
                }
            } else if quote == escape {
                match memchr(quote, &data[i..]) {
                    Some(off) => {
                        self.in_quote = false;
                        i += off + 1;
                    }
                    None => i = data.len(),
                }
            } else {
                let c = data[i];
                if c == escape {
                    self.last_was_esc = !self.last_was_esc;
                } else {
                    if c == quote && !self.last_was_esc {
                        self.in_quote = false;
                    }
                    self.last_was_esc = false;
                }
                i += 1;
            }
        }
        self.scan = i;
        Ok(None)
    }

    /// The error for a carriage return at `at` in the pending row: the row is too large if
    /// the bytes before it already are (so that the error does not depend on how the stream
    /// was split: a split stream reports a row over the limit before the carriage return
    /// arrives).
    fn carriage_return(&self, at: usize) -> CopyDataErrorKind {
        match self.check_len(at) {
            Err(e) => e,
            Ok(()) => CopyDataErrorKind::CarriageReturn,
        }
    }

    fn push_field(&mut self, span: Span) -> Result<(), CopyDataErrorKind> {
        if self.fields.len() >= self.limits.max_fields {
            return Err(CopyDataErrorKind::TooManyFields {
                limit: self.limits.max_fields,
            });
        }
        self.fields.push(span);
        Ok(())
    }

    /// Splits a text line into fields and undoes the escapes (`CopyReadAttributesText`).
    fn split_text(&mut self, line: std::ops::Range<usize>) -> Result<(), CopyDataErrorKind> {
        let base = line.start;
        let end = line.end;
        let delim = self.delimiter;
        let mut pos = base;
        loop {
            let field_start = pos;
            let mut decoded = false;
            let value_start = self.values.len();
            let mut run = pos;
            let field_end;
            loop {
                let hay = &self.buf[pos..end];
                let Some(off) = memchr2(delim, b'\\', hay) else {
                    pos = end;
                    field_end = end;
                    break;
                };
                let at = pos + off;
                if self.buf[at] == delim {
                    pos = at + 1;
                    field_end = at;
                    break;
                }
                // A backslash: copy the plain run before it, then the escaped byte(s).
                decoded = true;
                self.values.extend_from_slice(&self.buf[run..at]);
                let mut p = at + 1;
                if p >= end {
                    // A lone backslash at the very end of the data: PostgreSQL drops it.
                    pos = end;
                    run = end;
                    field_end = end;
                    break;
                }
                let c = self.buf[p];
                p += 1;
                let byte = match c {
                    b'0'..=b'7' => {
                        let mut v = u32::from(c - b'0');
                        for _ in 0..2 {
                            match self.buf.get(p) {
                                Some(&d @ b'0'..=b'7') if p < end => {
                                    v = v * 8 + u32::from(d - b'0');
                                    p += 1;
                                }
                                _ => break,
                            }
                        }
                        (v & 0xff) as u8
                    }
                    b'x' => match self.buf.get(p).and_then(|&d| hex(d)).filter(|_| p < end) {
                        Some(h) => {
                            p += 1;
                            let mut v = h;
                            if p < end
                                && let Some(l) = hex(self.buf[p])
                            {
                                v = v * 16 + l;
                                p += 1;
                            }
                            v
                        }
                        None => b'x',
                    },
                    b'b' => 0x08,
                    b'f' => 0x0c,
                    b'n' => b'\n',
                    b'r' => b'\r',
                    b't' => b'\t',
                    b'v' => 0x0b,
                    other => other,
                };
                self.values.push(byte);
                pos = p;
                run = p;
            }
            let rel = |x: usize| x - base;
            let span = if self.buf[field_start..field_end] == self.null[..] {
                self.values.truncate(value_start);
                Span::NULL
            } else if decoded {
                self.values.extend_from_slice(&self.buf[run..field_end]);
                Span::value(value_start, self.values.len())
            } else {
                Span::raw(rel(field_start), rel(field_end))
            };
            self.push_field(span)?;
            if field_end == end {
                return Ok(());
            }
        }
    }

    /// Splits a CSV line into fields and undoes quoting (`CopyReadAttributesCSV`).
    fn split_csv(&mut self, line: std::ops::Range<usize>) -> Result<(), CopyDataErrorKind> {
        let base = line.start;
        let end = line.end;
        let (delim, quote, escape) = (self.delimiter, self.quote, self.escape);
        let mut pos = base;
        loop {
            let field_start = pos;
            let value_start = self.values.len();
            let mut saw_quote = false;
            let field_end;
            let mut run = pos;
            loop {
                // Unquoted part.
                let Some(off) = memchr2(delim, quote, &self.buf[pos..end]) else {
                    pos = end;
                    field_end = end;
                    break;
                };
                let at = pos + off;
                if self.buf[at] == delim {
                    field_end = at;
                    pos = at + 1;
                    break;
                }
                // Quoted part: copy the run before the quote, then the quoted bytes.
                saw_quote = true;
                self.values.extend_from_slice(&self.buf[run..at]);
                let mut p = at + 1;
                loop {
                    if p >= end {
                        return Err(CopyDataErrorKind::UnterminatedQuote);
                    }
                    let c = self.buf[p];
                    p += 1;
                    if c == escape && p < end && (self.buf[p] == escape || self.buf[p] == quote) {
                        self.values.push(self.buf[p]);
                        p += 1;
                        continue;
                    }
                    if c == quote {
                        break;
                    }
                    self.values.push(c);
                }
                pos = p;
                run = p;
            }
            let span = if !saw_quote && self.buf[field_start..field_end] == self.null[..] {
                Span::NULL
            } else if saw_quote {
                self.values.extend_from_slice(&self.buf[run..field_end]);
                Span::value(value_start, self.values.len())
            } else {
                Span::raw(field_start - base, field_end - base)
            };
            self.push_field(span)?;
            if field_end == end {
                return Ok(());
            }
        }
    }

    /// Binary: the header, then one tuple or the trailer.
    fn next_binary(&mut self) -> Result<Option<Step>, CopyDataErrorKind> {
        let data = &self.buf[self.start..];
        if self.ended {
            return match data.len() {
                0 => Ok(None),
                len => Err(CopyDataErrorKind::DataAfterEnd { len }),
            };
        }
        let truncated = |finished: bool, len: usize| {
            if finished {
                if len == 0 {
                    Err(CopyDataErrorKind::MissingTrailer)
                } else {
                    Err(CopyDataErrorKind::Truncated { len })
                }
            } else {
                Ok(None)
            }
        };
        if self.header_pending {
            // Signature, Int32 flags, Int32 header extension length, extension.
            let sig_len = BINARY_SIGNATURE.len().min(data.len());
            if data[..sig_len] != BINARY_SIGNATURE[..sig_len] {
                return Err(CopyDataErrorKind::BadSignature);
            }
            if data.len() < 19 {
                return match self.finished {
                    true => Err(CopyDataErrorKind::Truncated { len: data.len() }),
                    false => Ok(None),
                };
            }
            let flags = be32(&data[11..15]);
            // Bit 16: OIDs included (gone since PostgreSQL 12); bits 17-31: critical flags
            // a reader must refuse when it does not know them. Bits 0-15 may be ignored.
            if flags >> 16 != 0 {
                return Err(CopyDataErrorKind::BadFlags { flags });
            }
            let ext = i32::from_be_bytes([data[15], data[16], data[17], data[18]]);
            let ext = usize::try_from(ext).map_err(|_| CopyDataErrorKind::BadHeaderExtension {
                len: i64::from(ext),
            })?;
            let total = 19usize.saturating_add(ext);
            self.check_len(total)?;
            if data.len() < total {
                return truncated(self.finished, data.len());
            }
            self.header_pending = false;
            let start = self.start;
            self.start += total;
            return Ok(Some(Step {
                what: What::Header,
                start,
                end: start + total,
            }));
        }
        if data.len() < 2 {
            return truncated(self.finished, data.len());
        }
        let count = i16::from_be_bytes([data[0], data[1]]);
        if count == -1 {
            self.ended = true;
            let start = self.start;
            self.start += 2;
            return Ok(Some(Step {
                what: What::Trailer,
                start,
                end: start + 2,
            }));
        }
        let count = usize::try_from(count).map_err(|_| CopyDataErrorKind::BadFieldCount {
            count: i32::from(count),
        })?;
        if count > self.limits.max_fields {
            return Err(CopyDataErrorKind::TooManyFields {
                limit: self.limits.max_fields,
            });
        }
        if let Some(expected) = self.expected_fields
            && expected != count
        {
            return Err(CopyDataErrorKind::FieldCount {
                expected,
                got: count,
            });
        }
        // Walk the lengths first: nothing is copied until the tuple is complete.
        // Limits are checked against the extent the lengths announce, never against how much
        // has arrived, so the outcome does not depend on how the stream was split.
        let mut p = 2usize;
        for _ in 0..count {
            let need = p + 4;
            self.check_len(need)?;
            if data.len() < need {
                return truncated(self.finished, data.len());
            }
            let len = i32::from_be_bytes([data[p], data[p + 1], data[p + 2], data[p + 3]]);
            p = need;
            if len == -1 {
                continue;
            }
            let len = usize::try_from(len).map_err(|_| CopyDataErrorKind::BadFieldLength {
                len: i64::from(len),
            })?;
            p = p.saturating_add(len);
            self.check_len(p)?;
        }
        if data.len() < p {
            return truncated(self.finished, data.len());
        }
        self.fields.clear();
        self.values.clear();
        let mut q = 2usize;
        for _ in 0..count {
            let len = i32::from_be_bytes([data[q], data[q + 1], data[q + 2], data[q + 3]]);
            q += 4;
            if len == -1 {
                self.fields.push(Span::NULL);
            } else {
                let len = len as usize; // checked non-negative in the walk above
                self.fields.push(Span::raw(q, q + len));
                q += len;
            }
        }
        if self.expected_fields.is_none() {
            self.expected_fields = Some(count);
        }
        self.rows += 1;
        let start = self.start;
        self.start += p;
        Ok(Some(Step {
            what: What::Row,
            start,
            end: start + p,
        }))
    }
}

/// Malformed COPY data, or data over the [`CopyLimits`].
///
/// The stream cannot be resynchronised afterwards: end the COPY (the gateway answers the
/// client with an ErrorResponse carrying [`CopyDataError::sqlstate`] and drops or resets the
/// upstream session).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid COPY {format} data from the {sender} at row {row}: {kind}")]
pub struct CopyDataError {
    sender: Sender,
    format: CopyFormat,
    row: u64,
    kind: CopyDataErrorKind,
}

impl CopyDataError {
    /// What was wrong.
    pub fn kind(&self) -> &CopyDataErrorKind {
        &self.kind
    }

    /// Which side sent the data.
    pub fn sender(&self) -> Sender {
        self.sender
    }

    /// The 1-based number of the data row being decoded (header and trailer not counted).
    pub fn row(&self) -> u64 {
        self.row
    }

    /// `54000` (program_limit_exceeded) for limits, `22P04` (bad_copy_file_format) else.
    pub fn sqlstate(&self) -> &'static str {
        match self.kind {
            CopyDataErrorKind::RowTooLarge { .. } | CopyDataErrorKind::TooManyFields { .. } => {
                "54000"
            }
            _ => "22P04",
        }
    }

    /// Whose fault: the server's for COPY TO data, the client's for COPY FROM data.
    pub fn fault(&self) -> Fault {
        match self.sender {
            Sender::Backend => Fault::Upstream,
            Sender::Frontend => Fault::Client,
        }
    }
}

/// What exactly was wrong with COPY data.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CopyDataErrorKind {
    /// A row (or binary header) longer than [`CopyLimits::max_row_bytes`].
    #[error("row of at least {len} bytes exceeds the limit of {limit}")]
    RowTooLarge {
        /// Bytes seen so far (or announced).
        len: usize,
        /// The limit.
        limit: usize,
    },
    /// More fields than [`CopyLimits::max_fields`].
    #[error("row has more than {limit} fields")]
    TooManyFields {
        /// The limit.
        limit: usize,
    },
    /// A row whose field count differs from the expected one.
    #[error("expected {expected} fields, got {got}")]
    FieldCount {
        /// Expected count.
        expected: usize,
        /// Count in this row.
        got: usize,
    },
    /// A carriage return outside a quoted CSV value (rows end with `\n`, and data carries
    /// `\r` escaped or quoted).
    #[error("expected newline-terminated rows, got an unescaped carriage return")]
    CarriageReturn,
    /// A CSV quoted value that does not end before the line (or the stream) does.
    #[error("unterminated CSV quoted field")]
    UnterminatedQuote,
    /// Binary data that does not start with `PGCOPY\n\377\r\n\0`.
    #[error("expected the binary COPY signature")]
    BadSignature,
    /// Binary header flags with the OID bit or an unknown critical bit set.
    #[error("binary COPY header flags {flags:#010x} have unknown critical bits set")]
    BadFlags {
        /// The flags word.
        flags: u32,
    },
    /// A negative binary header extension length.
    #[error("binary COPY header extension length {len} is invalid")]
    BadHeaderExtension {
        /// The length as sent.
        len: i64,
    },
    /// A binary tuple field count below -1.
    #[error("binary COPY field count {count} is negative")]
    BadFieldCount {
        /// The count as sent.
        count: i32,
    },
    /// A binary field length below -1.
    #[error("binary COPY field length {len} is below -1")]
    BadFieldLength {
        /// The length as sent.
        len: i64,
    },
    /// Bytes after the end of data (trailer, `\.` line, or [`CopyDecoder::finish`]).
    #[error("{len} bytes after the end of COPY data")]
    DataAfterEnd {
        /// How many.
        len: usize,
    },
    /// The stream ended inside a binary header or tuple.
    #[error("COPY data ends inside a row ({len} bytes pending)")]
    Truncated {
        /// Bytes of the unfinished row.
        len: usize,
    },
    /// Binary data ended without its trailer.
    #[error("binary COPY data ends without its trailer")]
    MissingTrailer,
}

impl fmt::Display for CopyFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CopyFormat::Text => "text",
            CopyFormat::Csv => "csv",
            CopyFormat::Binary => "binary",
        })
    }
}

/// Where a field's value is: NULL, in the row's raw bytes, or in the decoded-values buffer.
#[derive(Debug, Clone, Copy)]
struct Span {
    kind: u8,
    start: usize,
    end: usize,
}

impl Span {
    const NULL: Span = Span {
        kind: 0,
        start: 0,
        end: 0,
    };

    fn raw(start: usize, end: usize) -> Span {
        Span {
            kind: 1,
            start,
            end,
        }
    }

    fn value(start: usize, end: usize) -> Span {
        Span {
            kind: 2,
            start,
            end,
        }
    }
}

fn resolve<'a>(raw: &'a [u8], values: &'a [u8], s: Span) -> Option<&'a [u8]> {
    match s.kind {
        0 => None,
        1 => Some(&raw[s.start..s.end]),
        _ => Some(&values[s.start..s.end]),
    }
}

#[derive(Debug, Clone, Copy)]
enum What {
    Header,
    Row,
    Trailer,
}

/// An item found in `buf[start..end]`.
struct Step {
    what: What,
    start: usize,
    end: usize,
}

fn be32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

fn hex(d: u8) -> Option<u8> {
    match d {
        b'0'..=b'9' => Some(d - b'0'),
        b'a'..=b'f' => Some(d - b'a' + 10),
        b'A'..=b'F' => Some(d - b'A' + 10),
        _ => None,
    }
}
