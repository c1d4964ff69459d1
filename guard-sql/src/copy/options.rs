//! COPY options and the equivalent SELECT, read from a COPY statement's parse tree.

use pg_query::NodeEnum;
use pg_query::protobuf::{CopyStmt, Token};

use crate::classify::Classifier;
use crate::pg::Fault;

/// The data format of a COPY stream.
///
/// The set is complete: PostgreSQL knows these three (`src/backend/commands/copy.c`,
/// `ProcessCopyOptions`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum CopyFormat {
    /// Tab-separated lines with backslash escapes (`FORMAT text`, the default).
    #[default]
    Text,
    /// Comma-separated values with quoting (`FORMAT csv`, legacy `CSV`).
    Csv,
    /// PostgreSQL's binary COPY format (`FORMAT binary`, legacy `BINARY`).
    Binary,
}

/// Which way a COPY moves data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum CopyDirection {
    /// `COPY ... TO`: the server sends rows (CopyOutResponse, then CopyData).
    #[default]
    To,
    /// `COPY ... FROM`: the client sends rows (CopyInResponse, then CopyData).
    From,
}

/// The `HEADER` option.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum CopyHeader {
    /// No header line (the default).
    #[default]
    Absent,
    /// The first line holds the column names (text and CSV only).
    Present,
    /// `HEADER MATCH` (COPY FROM only): like `Present`, and the server checks the names.
    Match,
}

/// The `FORCE_QUOTE` option of `COPY ... TO ... (FORMAT csv)`.
///
/// PostgreSQL then quotes every non-NULL value of the named columns even when quoting is not
/// needed. Quoting never changes a decoded value, so [`CopyEncoder`](super::CopyEncoder)
/// honours only [`ForceQuote::All`]; for named columns it quotes where the value needs it, and
/// a client reads the same values either way.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum ForceQuote {
    /// No forced quoting (the default).
    #[default]
    None,
    /// `FORCE_QUOTE *`: every non-NULL value is quoted.
    All,
    /// `FORCE_QUOTE (a, b)`: the non-NULL values of these columns are quoted.
    Columns(Vec<String>),
}

/// Everything that decides the byte layout of a COPY data stream.
///
/// Read from SQL with [`CopyOptions::from_sql`], or start from [`CopyOptions::text`],
/// [`CopyOptions::csv`] or [`CopyOptions::binary`] (PostgreSQL's defaults for that format) and
/// change fields; [`CopyDecoder::new`](super::CopyDecoder::new) and
/// [`CopyEncoder::new`](super::CopyEncoder::new) check them with [`CopyOptions::validate`].
///
/// Options that do not change the layout (`FREEZE`, `ON_ERROR`, `LOG_VERBOSITY`) are accepted
/// and not kept. Options that change how COPY FROM input is turned into values
/// (`FORCE_NOT_NULL`, `FORCE_NULL`, `DEFAULT`) are refused by [`CopyOptions::from_sql`]: the
/// decoder would report values the server does not store.
///
/// # Examples
///
/// ```
/// use guard_sql::copy::{CopyFormat, CopyHeader, CopyOptions};
///
/// let o = CopyOptions::from_sql("COPY users TO STDOUT WITH (FORMAT csv, HEADER, NULL 'x')")?;
/// assert_eq!(o.format, CopyFormat::Csv);
/// assert_eq!(o.header, CopyHeader::Present);
/// assert_eq!((o.delimiter, o.quote, o.escape), (b',', b'"', b'"'));
/// assert_eq!(o.null, b"x");
///
/// let legacy = CopyOptions::from_sql("COPY users TO STDOUT CSV HEADER DELIMITER ';'")?;
/// assert_eq!((legacy.format, legacy.delimiter), (CopyFormat::Csv, b';'));
/// # Ok::<(), guard_sql::copy::CopySqlError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct CopyOptions {
    /// Text, CSV or binary.
    pub format: CopyFormat,
    /// `TO` or `FROM`.
    pub direction: CopyDirection,
    /// The field separator: tab for text, comma for CSV (unused in binary).
    pub delimiter: u8,
    /// The string that stands for NULL: `\N` for text, empty for CSV (unused in binary).
    pub null: Vec<u8>,
    /// CSV quote character, `"` by default.
    pub quote: u8,
    /// CSV escape character inside quotes; the quote character by default.
    pub escape: u8,
    /// Whether the first line is a header.
    pub header: CopyHeader,
    /// CSV forced quoting (output only).
    pub force_quote: ForceQuote,
    /// The `ENCODING` option, as written: the stream's character encoding when it is not the
    /// session's `client_encoding`. Encodings whose multibyte characters can contain ASCII
    /// bytes are refused (see [`encoding_embeds_ascii`]).
    pub encoding: Option<String>,
}

impl Default for CopyOptions {
    fn default() -> Self {
        CopyOptions::text()
    }
}

impl CopyOptions {
    /// PostgreSQL's defaults for `FORMAT text`: tab, `\N`.
    pub fn text() -> Self {
        CopyOptions {
            format: CopyFormat::Text,
            direction: CopyDirection::To,
            delimiter: b'\t',
            null: b"\\N".to_vec(),
            quote: b'"',
            escape: b'"',
            header: CopyHeader::Absent,
            force_quote: ForceQuote::None,
            encoding: None,
        }
    }

    /// PostgreSQL's defaults for `FORMAT csv`: comma, empty NULL, `"` quote and escape.
    pub fn csv() -> Self {
        CopyOptions {
            format: CopyFormat::Csv,
            delimiter: b',',
            null: Vec::new(),
            ..CopyOptions::text()
        }
    }

    /// `FORMAT binary`.
    pub fn binary() -> Self {
        CopyOptions {
            format: CopyFormat::Binary,
            ..CopyOptions::text()
        }
    }

    /// The options of a COPY statement (either direction, any target).
    ///
    /// Both spellings are read: `WITH (FORMAT csv, HEADER true, DELIMITER ';')` and the legacy
    /// `CSV HEADER DELIMITER ';'` / `BINARY` (pg_query turns both into the same option list).
    /// Values are checked as PostgreSQL's `ProcessCopyOptions` checks them.
    ///
    /// # Errors
    ///
    /// [`CopySqlError`] when `sql` does not parse, is not exactly one COPY statement, or has an
    /// option that is unknown, repeated, invalid, or one this module does not support.
    pub fn from_sql(sql: &str) -> Result<CopyOptions, CopySqlError> {
        let stmt = parse_copy(sql)?.ok_or(CopySqlError::NotCopy)?;
        from_stmt(&stmt)
    }

    /// Checks the options as PostgreSQL does (single-byte delimiter that is not a newline,
    /// a letter, a digit, `.` or `\` in text format; NULL string without newlines or the
    /// delimiter; distinct quote and delimiter; CSV-only options only in CSV; ...).
    ///
    /// # Errors
    ///
    /// [`CopySqlError::Conflict`] naming the first rule broken.
    pub fn validate(&self) -> Result<(), CopySqlError> {
        let conflict = |m: &'static str| Err(CopySqlError::Conflict { message: m });
        let csv = self.format == CopyFormat::Csv;
        if self.format == CopyFormat::Binary {
            if self.header != CopyHeader::Absent {
                return conflict("cannot specify HEADER in BINARY mode");
            }
        } else {
            if matches!(self.delimiter, b'\n' | b'\r') {
                return conflict("COPY delimiter cannot be newline or carriage return");
            }
            if self.null.iter().any(|&b| matches!(b, b'\n' | b'\r')) {
                return conflict("COPY null representation cannot use newline or carriage return");
            }
            if !csv && b"\\.abcdefghijklmnopqrstuvwxyz0123456789".contains(&self.delimiter) {
                return conflict("COPY delimiter cannot be a letter, digit, '.' or '\\'");
            }
            if !self.delimiter.is_ascii() {
                return conflict("COPY delimiter must be a single one-byte character");
            }
            if self.null.contains(&self.delimiter) {
                return conflict("COPY delimiter must not appear in the NULL specification");
            }
        }
        if csv {
            if !self.quote.is_ascii() || !self.escape.is_ascii() {
                return conflict("COPY quote and escape must be single one-byte characters");
            }
            if self.delimiter == self.quote {
                return conflict("COPY delimiter and quote must be different");
            }
            if matches!(self.quote, b'\n' | b'\r') || matches!(self.escape, b'\n' | b'\r') {
                return conflict("COPY quote and escape cannot be newline or carriage return");
            }
            if self.null.contains(&self.quote) {
                return conflict("CSV quote character must not appear in the NULL specification");
            }
        } else if self.force_quote != ForceQuote::None {
            return conflict("COPY FORCE_QUOTE requires CSV mode");
        }
        if self.force_quote != ForceQuote::None && self.direction == CopyDirection::From {
            return conflict("COPY FORCE_QUOTE cannot be used with COPY FROM");
        }
        if self.header == CopyHeader::Match && self.direction == CopyDirection::To {
            return conflict("cannot use \"match\" with HEADER in COPY TO");
        }
        if let Some(e) = &self.encoding
            && encoding_embeds_ascii(e)
        {
            return Err(CopySqlError::Unsupported {
                option: "encoding",
                reason: "its multibyte characters may contain ASCII bytes",
            });
        }
        Ok(())
    }
}

/// Whether PostgreSQL's encoding `name` is one whose multibyte characters may contain bytes
/// below 0x80 (SJIS, BIG5, GBK, UHC, GB18030, JOHAB, SHIFT_JIS_2004, and their aliases).
///
/// PostgreSQL allows these only as client encodings and skips over such characters when it
/// writes COPY data (`encoding_embeds_ascii` in `copyto.c`); a byte-oriented decoder would
/// split them. Refuse a COPY when the session's `client_encoding` (ParameterStatus) or the
/// COPY's `ENCODING` option is one of them. Names compare as PostgreSQL compares them:
/// case-insensitively, ignoring everything but letters and digits.
///
/// # Examples
///
/// ```
/// use guard_sql::copy::encoding_embeds_ascii;
///
/// assert!(encoding_embeds_ascii("SJIS"));
/// assert!(encoding_embeds_ascii("Shift_JIS_2004"));
/// assert!(!encoding_embeds_ascii("UTF8"));
/// assert!(!encoding_embeds_ascii("LATIN1"));
/// ```
pub fn encoding_embeds_ascii(name: &str) -> bool {
    // src/common/encnames.c: the aliases of the client-only encodings.
    const NAMES: &[&str] = &[
        "big5",
        "win950",
        "windows950",
        "gb18030",
        "gbk",
        "win936",
        "windows936",
        "johab",
        "mskanji",
        "shiftjis",
        "sjis",
        "win932",
        "windows932",
        "shiftjis2004",
        "uhc",
        "win949",
        "windows949",
    ];
    let clean: String = name
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect();
    NAMES.contains(&clean.as_str())
}

/// The SELECT whose Describe yields the columns a `COPY ... TO STDOUT` emits.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct CopySelect {
    /// The SELECT (or the COPY's own query, as written).
    pub sql: String,
    /// The COPY named a table and no column list, and `sql` is `SELECT * FROM ONLY table`.
    ///
    /// COPY then leaves out generated columns (`CopyGetAttnums` in PostgreSQL 12 and later),
    /// which `SELECT *` includes: drop the described columns whose `pg_attribute.attgenerated`
    /// is not empty (the RowDescription gives each column's table OID and attnum), or refuse
    /// the COPY when the table has any.
    pub all_columns: bool,
}

/// The SELECT equivalent to a `COPY ... TO STDOUT`, for learning its columns by Describe.
///
/// - `COPY table [(cols)] TO STDOUT`: `SELECT "c1", "c2" FROM ONLY "schema"."table"` (every
///   identifier quoted as the parser folded it; `*` without a column list, see
///   [`CopySelect::all_columns`]; `ONLY` because COPY TO reads no child tables).
/// - `COPY (query) TO STDOUT`: the query's own text, sliced from `sql`.
///
/// `None` for COPY FROM, COPY TO a file or program, and statements that are not COPY.
/// The SELECT is only to be described (Parse + Describe), never executed.
///
/// # Errors
///
/// [`CopySqlError`] when `sql` does not parse or holds more than one statement.
///
/// # Examples
///
/// ```
/// use guard_sql::copy::copy_select;
///
/// let s = copy_select("COPY app.Users (id, \"E-mail\") TO STDOUT CSV")?.unwrap();
/// assert_eq!(s.sql, "SELECT \"id\", \"E-mail\" FROM ONLY \"app\".\"users\"");
/// assert!(!s.all_columns);
///
/// let s = copy_select("COPY (SELECT id FROM users WHERE id > 1) TO STDOUT")?.unwrap();
/// assert_eq!(s.sql, "SELECT id FROM users WHERE id > 1");
///
/// assert_eq!(copy_select("COPY users FROM STDIN")?, None);
/// assert_eq!(copy_select("SELECT 1")?, None);
/// # Ok::<(), guard_sql::copy::CopySqlError>(())
/// ```
pub fn copy_select(sql: &str) -> Result<Option<CopySelect>, CopySqlError> {
    let Some(stmt) = parse_copy(sql)? else {
        return Ok(None);
    };
    if stmt.is_from || stmt.is_program || !stmt.filename.is_empty() {
        return Ok(None);
    }
    if let Some(rel) = &stmt.relation {
        let mut cols = Vec::with_capacity(stmt.attlist.len());
        for n in &stmt.attlist {
            match &n.node {
                Some(NodeEnum::String(s)) => cols.push(quote_ident(&s.sval)),
                _ => {
                    return Err(CopySqlError::Unparsable {
                        reason: "COPY column list holds something other than a column name".into(),
                    });
                }
            }
        }
        let all_columns = cols.is_empty();
        let list = if all_columns {
            "*".to_string()
        } else {
            cols.join(", ")
        };
        let mut name = String::new();
        for part in [&rel.catalogname, &rel.schemaname, &rel.relname] {
            if !part.is_empty() {
                if !name.is_empty() {
                    name.push('.');
                }
                name.push_str(&quote_ident(part));
            }
        }
        return Ok(Some(CopySelect {
            sql: format!("SELECT {list} FROM ONLY {name}"),
            all_columns,
        }));
    }
    if stmt.query.is_some() {
        return Ok(Some(CopySelect {
            sql: query_text(sql)?.to_string(),
            all_columns: false,
        }));
    }
    Err(CopySqlError::Unparsable {
        reason: "COPY statement names neither a table nor a query".into(),
    })
}

/// Why a COPY statement's options or SELECT could not be worked out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CopySqlError {
    /// The SQL did not parse (or nests too deeply to parse safely).
    #[error("COPY statement did not parse: {reason}")]
    Unparsable {
        /// The parser's message.
        reason: String,
    },
    /// The SQL is not a COPY statement.
    #[error("expected a COPY statement, got another statement")]
    NotCopy,
    /// The SQL holds more than one statement.
    #[error("expected one COPY statement, got {count} statements")]
    MultipleStatements {
        /// How many statements.
        count: usize,
    },
    /// An option PostgreSQL does not know either.
    #[error("COPY option \"{name}\" not recognized")]
    UnknownOption {
        /// The option name, as parsed.
        name: String,
    },
    /// An option given twice.
    #[error("conflicting or redundant COPY option \"{name}\"")]
    Redundant {
        /// The option name.
        name: String,
    },
    /// An option whose value is not one it accepts.
    #[error("COPY option \"{option}\" expects {expected}, got {value}")]
    BadValue {
        /// The option name.
        option: &'static str,
        /// The value, as parsed (`(none)` when missing).
        value: String,
        /// What it accepts.
        expected: &'static str,
    },
    /// Options that PostgreSQL refuses together, or a value it refuses for this format.
    #[error("{message}")]
    Conflict {
        /// PostgreSQL's wording, or close to it.
        message: &'static str,
    },
    /// A valid option whose effect this module does not reproduce.
    #[error("COPY option \"{option}\" is not supported: {reason}")]
    Unsupported {
        /// The option name.
        option: &'static str,
        /// Why.
        reason: &'static str,
    },
}

impl CopySqlError {
    /// The SQLSTATE to answer the client with when the COPY is refused for this reason.
    pub fn sqlstate(&self) -> &'static str {
        match self {
            CopySqlError::Unparsable { .. }
            | CopySqlError::UnknownOption { .. }
            | CopySqlError::Redundant { .. } => "42601",
            CopySqlError::BadValue { .. } => "22023",
            CopySqlError::NotCopy | CopySqlError::MultipleStatements { .. } => "42601",
            CopySqlError::Conflict { .. } | CopySqlError::Unsupported { .. } => "0A000",
        }
    }

    /// Whose fault it is: the client's statement (or, for `NotCopy` and
    /// `MultipleStatements`, the caller's choice of statement to ask about).
    pub fn fault(&self) -> Fault {
        match self {
            CopySqlError::NotCopy | CopySqlError::MultipleStatements { .. } => Fault::Caller,
            _ => Fault::Client,
        }
    }
}

/// Parses `sql` into its one statement; `None` when that statement is not COPY.
fn parse_copy(sql: &str) -> Result<Option<CopyStmt>, CopySqlError> {
    // The classifier refuses text nested deeply enough to overflow pg_query's C stack, and
    // anything that does not parse; only then is it parsed here.
    let c = Classifier::builder()
        .cache_entries(0)
        .build()
        .classify_uncached(sql);
    if let Some(reason) = c.error {
        return Err(CopySqlError::Unparsable { reason });
    }
    let parsed = pg_query::parse(sql, pg_query::ParserOptions::DEFAULT).map_err(|e| {
        CopySqlError::Unparsable {
            reason: e.to_string(),
        }
    })?;
    let mut stmts = parsed.protobuf.stmts;
    if stmts.len() != 1 {
        return Err(CopySqlError::MultipleStatements { count: stmts.len() });
    }
    match stmts.pop().and_then(|s| s.stmt).and_then(|n| n.node) {
        Some(NodeEnum::CopyStmt(c)) => Ok(Some(*c)),
        _ => Ok(None),
    }
}

/// The text between the parentheses of `COPY ( query ) TO ...`.
fn query_text(sql: &str) -> Result<&str, CopySqlError> {
    let bad = || CopySqlError::Unparsable {
        reason: "could not find the query of COPY (query)".into(),
    };
    let scan = pg_query::scan(sql).map_err(|e| CopySqlError::Unparsable {
        reason: e.to_string(),
    })?;
    let mut toks = scan.tokens.iter().filter(|t| {
        !matches!(
            Token::try_from(t.token),
            Ok(Token::SqlComment | Token::CComment)
        )
    });
    match toks.next().map(|t| Token::try_from(t.token)) {
        Some(Ok(Token::Copy)) => {}
        _ => return Err(bad()),
    }
    let open = toks.next().ok_or_else(bad)?;
    if Token::try_from(open.token) != Ok(Token::Ascii40) {
        return Err(bad());
    }
    let mut depth = 1usize;
    for t in toks {
        match Token::try_from(t.token) {
            Ok(Token::Ascii40) => depth += 1,
            Ok(Token::Ascii41) => {
                depth -= 1;
                if depth == 0 {
                    let start = usize::try_from(open.end).map_err(|_| bad())?;
                    let end = usize::try_from(t.start).map_err(|_| bad())?;
                    return sql.get(start..end).map(str::trim).ok_or_else(bad);
                }
            }
            _ => {}
        }
    }
    Err(bad())
}

/// An identifier in double quotes, inner quotes doubled.
fn quote_ident(name: &str) -> String {
    let mut s = String::with_capacity(name.len() + 2);
    s.push('"');
    for c in name.chars() {
        if c == '"' {
            s.push('"');
        }
        s.push(c);
    }
    s.push('"');
    s
}

/// The value of a DefElem argument as PostgreSQL's `defGetString` sees it.
enum Arg {
    Missing,
    Str(String),
    Bool(bool),
    Int(i32),
    Star,
    List(Vec<String>),
}

impl Arg {
    fn of(node: Option<&NodeEnum>) -> Arg {
        match node {
            None => Arg::Missing,
            Some(NodeEnum::String(s)) => Arg::Str(s.sval.clone()),
            Some(NodeEnum::Boolean(b)) => Arg::Bool(b.boolval),
            Some(NodeEnum::Integer(i)) => Arg::Int(i.ival),
            Some(NodeEnum::Float(f)) => Arg::Str(f.fval.clone()),
            Some(NodeEnum::AStar(_)) => Arg::Star,
            Some(NodeEnum::List(l)) => Arg::List(
                l.items
                    .iter()
                    .map(|n| match &n.node {
                        Some(NodeEnum::String(s)) => s.sval.clone(),
                        _ => String::new(),
                    })
                    .collect(),
            ),
            Some(_) => Arg::List(Vec::new()),
        }
    }

    fn shown(&self) -> String {
        match self {
            Arg::Missing => "(none)".into(),
            Arg::Str(s) => format!("{s:?}"),
            Arg::Bool(b) => b.to_string(),
            Arg::Int(i) => i.to_string(),
            Arg::Star => "*".into(),
            Arg::List(l) => format!("({})", l.join(", ")),
        }
    }

    /// `defGetString`: a string, a number or a boolean as text.
    fn string(&self, option: &'static str) -> Result<String, CopySqlError> {
        match self {
            Arg::Str(s) => Ok(s.clone()),
            Arg::Int(i) => Ok(i.to_string()),
            Arg::Bool(b) => Ok(if *b { "true" } else { "false" }.into()),
            _ => Err(self.bad(option, "a string")),
        }
    }

    /// `defGetBoolean` (and `defGetCopyHeaderChoice` when `allow_match`).
    fn header(&self, option: &'static str, allow_match: bool) -> Result<CopyHeader, CopySqlError> {
        let yes = |b: bool| {
            if b {
                CopyHeader::Present
            } else {
                CopyHeader::Absent
            }
        };
        match self {
            Arg::Missing => Ok(CopyHeader::Present),
            Arg::Bool(b) => Ok(yes(*b)),
            Arg::Int(0) => Ok(CopyHeader::Absent),
            Arg::Int(1) => Ok(CopyHeader::Present),
            Arg::Str(s) => match s.to_ascii_lowercase().as_str() {
                "true" | "on" => Ok(CopyHeader::Present),
                "false" | "off" => Ok(CopyHeader::Absent),
                "match" if allow_match => Ok(CopyHeader::Match),
                _ => Err(self.bad(option, "a Boolean value")),
            },
            _ => Err(self.bad(option, "a Boolean value")),
        }
    }

    fn byte(&self, option: &'static str) -> Result<u8, CopySqlError> {
        match self.string(option)?.as_bytes() {
            [b] if b.is_ascii() => Ok(*b),
            _ => Err(self.bad(option, "a single one-byte character")),
        }
    }

    fn bad(&self, option: &'static str, expected: &'static str) -> CopySqlError {
        CopySqlError::BadValue {
            option,
            value: self.shown(),
            expected,
        }
    }
}

/// The options of a parsed COPY statement, as `ProcessCopyOptions` (PostgreSQL 15-17) reads
/// them.
fn from_stmt(stmt: &CopyStmt) -> Result<CopyOptions, CopySqlError> {
    let direction = if stmt.is_from {
        CopyDirection::From
    } else {
        CopyDirection::To
    };
    let mut seen: Vec<&'static str> = Vec::new();
    let mut format = None;
    let mut delimiter = None;
    let mut null = None;
    let mut quote = None;
    let mut escape = None;
    let mut header = CopyHeader::Absent;
    let mut force_quote = ForceQuote::None;
    let mut encoding = None;
    for node in &stmt.options {
        let Some(NodeEnum::DefElem(d)) = &node.node else {
            return Err(CopySqlError::Unparsable {
                reason: "COPY option list holds something other than an option".into(),
            });
        };
        let arg = Arg::of(d.arg.as_ref().and_then(|a| a.node.as_ref()));
        let name: &'static str = match d.defname.as_str() {
            "format" => "format",
            "freeze" => "freeze",
            "delimiter" => "delimiter",
            "null" => "null",
            "header" => "header",
            "quote" => "quote",
            "escape" => "escape",
            "force_quote" => "force_quote",
            "force_not_null" => "force_not_null",
            "force_null" => "force_null",
            "convert_selectively" => "convert_selectively",
            "encoding" => "encoding",
            "on_error" => "on_error",
            "log_verbosity" => "log_verbosity",
            "default" => "default",
            other => {
                return Err(CopySqlError::UnknownOption { name: other.into() });
            }
        };
        if seen.contains(&name) {
            return Err(CopySqlError::Redundant { name: name.into() });
        }
        seen.push(name);
        match name {
            "format" => {
                format = Some(match arg.string(name)?.as_str() {
                    "text" => CopyFormat::Text,
                    "csv" => CopyFormat::Csv,
                    "binary" => CopyFormat::Binary,
                    _ => return Err(arg.bad(name, "text, csv or binary")),
                });
            }
            "freeze" => {
                arg.header(name, false)?;
            }
            "delimiter" => delimiter = Some(arg.byte(name)?),
            "null" => null = Some(arg.string(name)?.into_bytes()),
            "header" => header = arg.header(name, true)?,
            "quote" => quote = Some(arg.byte(name)?),
            "escape" => escape = Some(arg.byte(name)?),
            "force_quote" => {
                force_quote = match arg {
                    Arg::Star => ForceQuote::All,
                    Arg::List(cols) if !cols.iter().any(String::is_empty) => {
                        ForceQuote::Columns(cols)
                    }
                    _ => return Err(arg.bad(name, "a list of column names or *")),
                }
            }
            "encoding" => encoding = Some(arg.string(name)?),
            "on_error" => match arg.string(name)?.to_ascii_lowercase().as_str() {
                "stop" | "ignore" => {}
                _ => return Err(arg.bad(name, "stop or ignore")),
            },
            "log_verbosity" => match arg.string(name)?.as_str() {
                "default" | "verbose" | "silent" => {}
                _ => return Err(arg.bad(name, "default, verbose or silent")),
            },
            _ => {
                return Err(CopySqlError::Unsupported {
                    option: name,
                    reason: "it changes which input values the server stores as NULL or \
                             default, which a row decoder cannot report",
                });
            }
        }
    }
    let format = format.unwrap_or_default();
    let defaults = match format {
        CopyFormat::Csv => CopyOptions::csv(),
        CopyFormat::Text => CopyOptions::text(),
        CopyFormat::Binary => CopyOptions::binary(),
    };
    if format == CopyFormat::Binary {
        if delimiter.is_some() {
            return Err(CopySqlError::Conflict {
                message: "cannot specify DELIMITER in BINARY mode",
            });
        }
        if null.is_some() {
            return Err(CopySqlError::Conflict {
                message: "cannot specify NULL in BINARY mode",
            });
        }
    }
    if format != CopyFormat::Csv {
        if quote.is_some() {
            return Err(CopySqlError::Conflict {
                message: "COPY QUOTE requires CSV mode",
            });
        }
        if escape.is_some() {
            return Err(CopySqlError::Conflict {
                message: "COPY ESCAPE requires CSV mode",
            });
        }
    }
    let quote = quote.unwrap_or(defaults.quote);
    let opts = CopyOptions {
        format,
        direction,
        delimiter: delimiter.unwrap_or(defaults.delimiter),
        null: null.unwrap_or(defaults.null),
        quote,
        escape: escape.unwrap_or(quote),
        header,
        force_quote,
        encoding,
    };
    opts.validate()?;
    Ok(opts)
}
