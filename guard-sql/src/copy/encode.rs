//! The COPY row encoder: fields in, bytes in the stream's own layout out.

use super::decode::BINARY_SIGNATURE;
use super::options::{CopyFormat, CopyOptions, CopySqlError, ForceQuote};
use crate::pg::Fault;

/// Writes rows in a COPY stream's layout, as PostgreSQL's `copyto.c` writes them.
///
/// - Text: backslash, the delimiter, and `\b \f \n \r \t \v` are escaped with a backslash
///   (`CopyAttributeOutText`); NULL is the NULL string. Where PostgreSQL would write a value
///   that reads back as NULL (it equals a custom NULL string such as `x`), the encoder writes
///   its first byte as an octal escape instead, so a masked value never turns into NULL.
/// - CSV: a value is quoted when it contains the delimiter, the quote, `\r` or `\n`, equals
///   the NULL string (so the empty string is `""` by default), or is `\.` alone in a one-field
///   row; inside quotes the quote and escape characters are preceded by the escape
///   (`CopyAttributeOutCSV`). `FORCE_QUOTE *` quotes every non-NULL value; `FORCE_QUOTE` with a
///   column list is not reproduced (values are quoted where needed, which reads the same).
/// - Binary: Int16 field count, then per field an Int32 length (`-1` for NULL) and the bytes.
///
/// Values may be longer or shorter than the ones decoded. Rows end with `\n`.
///
/// # Examples
///
/// ```
/// use guard_sql::copy::{CopyEncoder, CopyOptions};
///
/// let mut out = Vec::new();
/// let text = CopyEncoder::new(&CopyOptions::text())?;
/// text.encode_row([Some(&b"a\tb\\c"[..]), None, Some(b"")], &mut out)?;
/// assert_eq!(out, b"a\\tb\\\\c\t\\N\t\n");
///
/// out.clear();
/// let csv = CopyEncoder::new(&CopyOptions::csv())?;
/// csv.encode_row([Some(&b"say \"hi\""[..]), None, Some(b""), Some(b"x,y")], &mut out)?;
/// assert_eq!(out, b"\"say \"\"hi\"\"\",,\"\",\"x,y\"\n");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct CopyEncoder {
    format: CopyFormat,
    delimiter: u8,
    quote: u8,
    escape: u8,
    null: Vec<u8>,
    force_quote_all: bool,
}

impl CopyEncoder {
    /// An encoder for the layout `options` describe.
    ///
    /// # Errors
    ///
    /// [`CopySqlError`] when the options break one of PostgreSQL's rules
    /// ([`CopyOptions::validate`]).
    pub fn new(options: &CopyOptions) -> Result<CopyEncoder, CopySqlError> {
        options.validate()?;
        Ok(CopyEncoder {
            format: options.format,
            delimiter: options.delimiter,
            quote: options.quote,
            escape: options.escape,
            null: options.null.clone(),
            force_quote_all: options.force_quote == ForceQuote::All,
        })
    }

    /// Appends one row to `out`.
    ///
    /// # Errors
    ///
    /// [`CopyEncodeError`] when the row cannot be written: in binary, more than 32 767 fields
    /// or a value of 2 GiB or more; in text with an empty NULL string, an empty value (which
    /// would read back as NULL, and no escape can spell it otherwise). `out` is then left
    /// as it was.
    pub fn encode_row<'v, I>(&self, fields: I, out: &mut Vec<u8>) -> Result<(), CopyEncodeError>
    where
        I: IntoIterator<Item = Option<&'v [u8]>>,
    {
        let mark = out.len();
        let r = match self.format {
            CopyFormat::Binary => self.binary_row(fields, out),
            CopyFormat::Text => self.text_row(fields, out),
            CopyFormat::Csv => self.csv_row(fields, out),
        };
        if r.is_err() {
            out.truncate(mark);
        }
        r
    }

    /// Appends a header: the binary signature with zero flags and no extension, or a text/CSV
    /// header line of `names` (PostgreSQL writes the column names as values).
    ///
    /// # Errors
    ///
    /// As [`CopyEncoder::encode_row`].
    pub fn encode_header<'v, I>(&self, names: I, out: &mut Vec<u8>) -> Result<(), CopyEncodeError>
    where
        I: IntoIterator<Item = &'v [u8]>,
    {
        match self.format {
            CopyFormat::Binary => {
                out.extend_from_slice(BINARY_SIGNATURE);
                out.extend_from_slice(&[0; 8]);
                Ok(())
            }
            CopyFormat::Csv => self.encode_row(names.into_iter().map(Some), out),
            CopyFormat::Text => {
                // `CopyAttributeOutText` on each name: no NULL string to avoid in a header.
                for (i, name) in names.into_iter().enumerate() {
                    if i > 0 {
                        out.push(self.delimiter);
                    }
                    self.text_value(name, out);
                }
                out.push(b'\n');
                Ok(())
            }
        }
    }

    /// Appends the end of data: the binary trailer (`-1` as Int16); nothing for text and CSV
    /// (COPY TO sends no end marker).
    pub fn encode_trailer(&self, out: &mut Vec<u8>) {
        if self.format == CopyFormat::Binary {
            out.extend_from_slice(&(-1i16).to_be_bytes());
        }
    }

    fn binary_row<'v, I>(&self, fields: I, out: &mut Vec<u8>) -> Result<(), CopyEncodeError>
    where
        I: IntoIterator<Item = Option<&'v [u8]>>,
    {
        let at = out.len();
        out.extend_from_slice(&[0, 0]);
        let mut count = 0usize;
        for f in fields {
            count += 1;
            match f {
                None => out.extend_from_slice(&(-1i32).to_be_bytes()),
                Some(v) => {
                    let len = i32::try_from(v.len())
                        .map_err(|_| CopyEncodeError::ValueTooLong { len: v.len() })?;
                    out.extend_from_slice(&len.to_be_bytes());
                    out.extend_from_slice(v);
                }
            }
        }
        let n = i16::try_from(count).map_err(|_| CopyEncodeError::TooManyFields { count })?;
        out[at..at + 2].copy_from_slice(&n.to_be_bytes());
        Ok(())
    }

    fn text_row<'v, I>(&self, fields: I, out: &mut Vec<u8>) -> Result<(), CopyEncodeError>
    where
        I: IntoIterator<Item = Option<&'v [u8]>>,
    {
        for (i, f) in fields.into_iter().enumerate() {
            if i > 0 {
                out.push(self.delimiter);
            }
            let Some(v) = f else {
                out.extend_from_slice(&self.null);
                continue;
            };
            let at = out.len();
            self.text_value(v, out);
            if out[at..] == self.null[..] {
                // PostgreSQL would write this value as the NULL string. Spell its first byte
                // as an octal escape: the raw text then differs from the NULL string and
                // still decodes to the same value (plain encoding never writes `\<digit>`).
                let Some((&first, rest)) = v.split_first() else {
                    return Err(CopyEncodeError::EmptyIsNull);
                };
                out.truncate(at);
                out.extend_from_slice(&[
                    b'\\',
                    b'0' + (first >> 6),
                    b'0' + ((first >> 3) & 7),
                    b'0' + (first & 7),
                ]);
                self.text_value(rest, out);
            }
        }
        out.push(b'\n');
        Ok(())
    }

    /// `CopyAttributeOutText`: escapes what the reader would take as syntax.
    fn text_value(&self, v: &[u8], out: &mut Vec<u8>) {
        let mut run = 0;
        for (i, &c) in v.iter().enumerate() {
            let esc = match c {
                0x08 => b'b',
                0x0c => b'f',
                b'\n' => b'n',
                b'\r' => b'r',
                b'\t' => b't',
                0x0b => b'v',
                b'\\' => b'\\',
                c if c == self.delimiter => c,
                _ => continue,
            };
            out.extend_from_slice(&v[run..i]);
            out.push(b'\\');
            out.push(esc);
            run = i + 1;
        }
        out.extend_from_slice(&v[run..]);
    }

    fn csv_row<'v, I>(&self, fields: I, out: &mut Vec<u8>) -> Result<(), CopyEncodeError>
    where
        I: IntoIterator<Item = Option<&'v [u8]>>,
    {
        let row_start = out.len();
        let mut count = 0usize;
        let mut lone_end_marker = false;
        for f in fields {
            if count > 0 {
                out.push(self.delimiter);
            }
            count += 1;
            let Some(v) = f else {
                out.extend_from_slice(&self.null);
                continue;
            };
            lone_end_marker = v == b"\\.";
            let needs_quote = self.force_quote_all
                || v == &self.null[..]
                || v.iter()
                    .any(|&c| c == self.delimiter || c == self.quote || c == b'\n' || c == b'\r');
            if needs_quote {
                self.csv_quoted(v, out);
            } else {
                out.extend_from_slice(v);
            }
        }
        if count == 1 && lone_end_marker && out[row_start..] == b"\\."[..] {
            // `\.` alone on a line would read as the end of data.
            out.truncate(row_start);
            self.csv_quoted(b"\\.", out);
        }
        out.push(b'\n');
        Ok(())
    }

    fn csv_quoted(&self, v: &[u8], out: &mut Vec<u8>) {
        out.push(self.quote);
        let mut run = 0;
        for (i, &c) in v.iter().enumerate() {
            if c == self.quote || c == self.escape {
                out.extend_from_slice(&v[run..i]);
                out.push(self.escape);
                run = i;
            }
        }
        out.extend_from_slice(&v[run..]);
        out.push(self.quote);
    }
}

/// A row the encoder cannot write in the stream's layout (the caller's values are at fault).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CopyEncodeError {
    /// A binary value of 2 GiB or more (its length is an Int32).
    #[error("binary COPY value of {len} bytes exceeds the Int32 length limit")]
    ValueTooLong {
        /// The value's length.
        len: usize,
    },
    /// A binary row of more than 32 767 fields (the count is an Int16).
    #[error("binary COPY row of {count} fields exceeds the Int16 count limit")]
    TooManyFields {
        /// The row's field count.
        count: usize,
    },
    /// An empty value in text format whose NULL string is empty: it would read as NULL.
    #[error("an empty value cannot be written in text COPY data whose NULL string is empty")]
    EmptyIsNull,
}

impl CopyEncodeError {
    /// `54000` (program_limit_exceeded).
    pub fn sqlstate(&self) -> &'static str {
        "54000"
    }

    /// The caller supplied the values.
    pub fn fault(&self) -> Fault {
        Fault::Caller
    }
}
