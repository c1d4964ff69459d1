//! Removing credentials from statement text before it is recorded.
//!
//! A light SQL lexer (strings, escape strings, dollar quotes, quoted identifiers, comments)
//! finds the literals that carry credentials:
//!
//! - a literal after the keyword `PASSWORD` (optionally after `=` or `(`): `CREATE ROLE ...
//!   PASSWORD '...'`, `ALTER USER ... ENCRYPTED PASSWORD '...'`, `CREATE USER MAPPING ...
//!   OPTIONS (user 'u', password '...')`, MySQL `SET PASSWORD = '...'`;
//! - a literal after `IDENTIFIED [WITH plugin] BY` (MySQL);
//! - inside any literal, connection-string values whose key ends in `password`
//!   (`'host=db password=...'` in `dblink`, `CREATE SUBSCRIPTION ... CONNECTION`) and the
//!   password of a URI (`postgresql://user:...@host`);
//! - statements nested in literals (`EXECUTE 'ALTER ROLE x PASSWORD ''...'''`, function
//!   bodies in dollar quotes), recursively up to a small depth.
//!
//! A redacted value becomes `[redacted]` (a literal stays a literal: `'[redacted]'`).

use std::borrow::Cow;

/// What replaces a secret.
pub const REDACTED: &str = "[redacted]";

/// Nested literals deeper than this are not searched (a statement in a string in a function
/// body in a string ...); the outer levels are still redacted.
const MAX_DEPTH: u32 = 4;

/// Returns `sql` with every credential literal replaced by `'[redacted]'` (see the module
/// docs for what is found). Borrows when there is nothing to redact, which is the common case
/// and costs one scan.
///
/// # Examples
/// ```
/// use guard_record::redact_sql_credentials;
/// assert_eq!(
///     redact_sql_credentials("ALTER ROLE app ENCRYPTED PASSWORD 'hunter2' VALID UNTIL 'infinity'"),
///     "ALTER ROLE app ENCRYPTED PASSWORD '[redacted]' VALID UNTIL 'infinity'"
/// );
/// assert_eq!(
///     redact_sql_credentials("SELECT dblink_connect('host=db user=u password=s3cret')"),
///     "SELECT dblink_connect('host=db user=u password=[redacted]')"
/// );
/// assert!(matches!(redact_sql_credentials("SELECT 1"), std::borrow::Cow::Borrowed(_)));
/// ```
pub fn redact_sql_credentials(sql: &str) -> Cow<'_, str> {
    if !might_hold_credentials(sql) {
        return Cow::Borrowed(sql);
    }
    let (out, _) = redact(sql, 0);
    match out {
        Some(s) => Cow::Owned(s),
        None => Cow::Borrowed(sql),
    }
}

/// The 1-based numbers of parameters (`$1`, `$2`, ...) that stand where a credential literal
/// would (`ALTER ROLE x PASSWORD $1`): record those Bind values as
/// [`Param::Redacted`](crate::Param::Redacted).
///
/// # Examples
/// ```
/// assert_eq!(guard_record::credential_parameters("ALTER ROLE x PASSWORD $2"), vec![2]);
/// assert!(guard_record::credential_parameters("SELECT $1").is_empty());
/// ```
pub fn credential_parameters(sql: &str) -> Vec<usize> {
    if !might_hold_credentials(sql) {
        return Vec::new();
    }
    redact(sql, 0).1
}

fn might_hold_credentials(sql: &str) -> bool {
    let b = sql.as_bytes();
    b.windows(8).any(|w| w.eq_ignore_ascii_case(b"password"))
        || b.windows(10).any(|w| w.eq_ignore_ascii_case(b"identified"))
        || b.windows(3).any(|w| w == b"://")
}

/// Redacts one level; returns the new text (None if unchanged) and credential parameters.
fn redact(sql: &str, depth: u32) -> (Option<String>, Vec<usize>) {
    let b = sql.as_bytes();
    let mut out: Option<String> = None;
    let mut copied = 0; // bytes of `sql` already copied into `out`
    let mut params = Vec::new();
    let mut armed = false; // the next literal is a credential
    let mut identified = false; // IDENTIFIED seen in this statement
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let start = i;
        // Each arm advances `i` past one token.
        match c {
            b' ' | b'\t' | b'\n' | b'\r' | b'\x0c' => {
                i += 1;
                continue; // whitespace keeps `armed`
            }
            b'-' if b.get(i + 1) == Some(&b'-') => {
                i = memchr::memchr(b'\n', &b[i..]).map_or(b.len(), |n| i + n + 1);
                continue;
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                i = skip_block_comment(b, i);
                continue;
            }
            b'\'' => {
                i = skip_quoted(b, i, b'\'', false);
                let lit = Literal {
                    start,
                    end: i,
                    content: (start + 1, i.saturating_sub(1)),
                    kind: LitKind::Plain,
                };
                handle_literal(sql, &lit, armed, depth, &mut out, &mut copied);
                armed = false;
                continue;
            }
            b'"' => {
                i = skip_quoted(b, i, b'"', false);
                armed = false;
                continue;
            }
            b'$' => {
                if let Some(tag_end) = dollar_tag(b, i) {
                    let tag = &b[i..tag_end];
                    let body_start = tag_end;
                    let close = find(b, body_start, tag);
                    let (content_end, end) = match close {
                        Some(p) => (p, p + tag.len()),
                        None => (b.len(), b.len()),
                    };
                    let lit = Literal {
                        start,
                        end,
                        content: (body_start, content_end),
                        kind: LitKind::Dollar,
                    };
                    handle_literal(sql, &lit, armed, depth, &mut out, &mut copied);
                    armed = false;
                    i = end;
                    continue;
                }
                let digits = b[i + 1..].iter().take_while(|d| d.is_ascii_digit()).count();
                if digits > 0 {
                    if armed && let Ok(n) = sql[i + 1..i + 1 + digits].parse::<usize>() {
                        params.push(n);
                    }
                    i += 1 + digits;
                    armed = false;
                    continue;
                }
                i += 1;
                armed = false;
                continue;
            }
            c if c.is_ascii_alphabetic() || c == b'_' || c >= 0x80 => {
                i += 1;
                while i < b.len()
                    && (b[i].is_ascii_alphanumeric()
                        || b[i] == b'_'
                        || b[i] == b'$'
                        || b[i] >= 0x80)
                {
                    i += 1;
                }
                let word = &b[start..i];
                // E'...' escape string.
                if word.eq_ignore_ascii_case(b"e") && b.get(i) == Some(&b'\'') {
                    let q = i;
                    i = skip_quoted(b, q, b'\'', true);
                    let lit = Literal {
                        start,
                        end: i,
                        content: (q + 1, i.saturating_sub(1)),
                        kind: LitKind::Escape,
                    };
                    handle_literal(sql, &lit, armed, depth, &mut out, &mut copied);
                    armed = false;
                    continue;
                }
                if word.eq_ignore_ascii_case(b"password") {
                    armed = true;
                } else if word.eq_ignore_ascii_case(b"identified") {
                    identified = true;
                    armed = false;
                } else {
                    armed = identified && word.eq_ignore_ascii_case(b"by");
                }
                continue;
            }
            b'=' | b'(' => {
                i += 1;
                continue; // `PASSWORD = '...'`, `PASSWORD('...')` keep `armed`
            }
            b';' => {
                identified = false;
                armed = false;
                i += 1;
            }
            _ => {
                armed = false;
                i += 1;
            }
        }
    }
    if let Some(o) = out.as_mut() {
        o.push_str(&sql[copied..]);
    }
    (out, params)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum LitKind {
    /// `'...'` with `''`.
    Plain,
    /// `E'...'` with `''` and backslash escapes.
    Escape,
    /// `$tag$...$tag$`.
    Dollar,
}

struct Literal {
    start: usize,
    end: usize,
    content: (usize, usize),
    kind: LitKind,
}

fn handle_literal(
    sql: &str,
    lit: &Literal,
    armed: bool,
    depth: u32,
    out: &mut Option<String>,
    copied: &mut usize,
) {
    let replacement = if armed {
        Some(format!("'{REDACTED}'"))
    } else {
        let (cs, ce) = lit.content;
        let Some(raw) = sql.get(cs..ce) else { return };
        let content = unescape(raw, lit.kind);
        let mut changed = false;
        let mut text = content.into_owned();
        if let Some(t) = redact_conninfo(&text) {
            text = t;
            changed = true;
        }
        if depth < MAX_DEPTH
            && might_hold_credentials(&text)
            && let (Some(t), _) = redact(&text, depth + 1)
        {
            text = t;
            changed = true;
        }
        if !changed {
            return;
        }
        Some(match lit.kind {
            LitKind::Plain => format!("'{}'", text.replace('\'', "''")),
            LitKind::Escape => {
                format!("E'{}'", text.replace('\\', "\\\\").replace('\'', "''"))
            }
            LitKind::Dollar => {
                let tag = &sql[lit.start..cs];
                // Redaction only replaces text with `[redacted]`, so the tag cannot appear
                // unless it was there; fall back to a plain literal if it does.
                if text.contains(tag) {
                    format!("'{}'", text.replace('\'', "''"))
                } else {
                    format!("{tag}{text}{tag}")
                }
            }
        })
    };
    if let Some(r) = replacement {
        let o = out.get_or_insert_with(|| String::with_capacity(sql.len()));
        o.push_str(&sql[*copied..lit.start]);
        o.push_str(&r);
        *copied = lit.end;
    }
}

fn unescape(raw: &str, kind: LitKind) -> Cow<'_, str> {
    match kind {
        LitKind::Dollar => Cow::Borrowed(raw),
        LitKind::Plain => {
            if raw.contains("''") {
                Cow::Owned(raw.replace("''", "'"))
            } else {
                Cow::Borrowed(raw)
            }
        }
        LitKind::Escape => {
            if !raw.contains('\\') && !raw.contains("''") {
                return Cow::Borrowed(raw);
            }
            let mut s = String::with_capacity(raw.len());
            let mut it = raw.chars().peekable();
            while let Some(c) = it.next() {
                match c {
                    '\\' => {
                        if let Some(n) = it.next() {
                            s.push(n);
                        }
                    }
                    '\'' if it.peek() == Some(&'\'') => {
                        it.next();
                        s.push('\'');
                    }
                    c => s.push(c),
                }
            }
            Cow::Owned(s)
        }
    }
}

/// Redacts `...password=VALUE` (keys ending in `password`, libpq conninfo and URI query
/// syntax) and `scheme://user:PASSWORD@host` inside a literal's content.
fn redact_conninfo(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut cuts: Vec<(usize, usize)> = Vec::new();
    let lower = s.to_ascii_lowercase();
    let mut from = 0;
    while let Some(p) = lower[from..].find("password") {
        let key_end = from + p + 8;
        from = key_end;
        let mut j = key_end;
        while j < b.len() && b[j].is_ascii_whitespace() {
            j += 1;
        }
        if b.get(j) != Some(&b'=') {
            continue;
        }
        j += 1;
        while j < b.len() && b[j].is_ascii_whitespace() {
            j += 1;
        }
        let (vs, ve) = if b.get(j) == Some(&b'\'') {
            // conninfo quoting: '...' with backslash escapes.
            let mut k = j + 1;
            while k < b.len() && b[k] != b'\'' {
                k += if b[k] == b'\\' { 2 } else { 1 };
            }
            (j + 1, k.min(b.len()))
        } else {
            let k = b[j..]
                .iter()
                .position(|c| c.is_ascii_whitespace() || *c == b'&')
                .map_or(b.len(), |n| j + n);
            (j, k)
        };
        if ve > vs {
            cuts.push((vs, ve));
        }
        from = ve.max(from);
    }
    let mut from = 0;
    while let Some(p) = s[from..].find("://") {
        let auth_start = from + p + 3;
        from = auth_start;
        let auth_end = b[auth_start..]
            .iter()
            .position(|c| matches!(c, b'/' | b'?' | b'#' | b' ' | b'\''))
            .map_or(b.len(), |n| auth_start + n);
        let Some(at) = s[auth_start..auth_end].rfind('@') else {
            continue;
        };
        let userinfo = &s[auth_start..auth_start + at];
        if let Some(colon) = userinfo.find(':') {
            let (vs, ve) = (auth_start + colon + 1, auth_start + at);
            if ve > vs {
                cuts.push((vs, ve));
            }
        }
    }
    if cuts.is_empty() {
        return None;
    }
    cuts.sort_unstable();
    let mut out = String::with_capacity(s.len());
    let mut last = 0;
    for (vs, ve) in cuts {
        if vs < last {
            continue;
        }
        out.push_str(&s[last..vs]);
        out.push_str(REDACTED);
        last = ve;
    }
    out.push_str(&s[last..]);
    Some(out)
}

fn skip_block_comment(b: &[u8], mut i: usize) -> usize {
    let mut depth = 0u32;
    while i < b.len() {
        if b[i] == b'/' && b.get(i + 1) == Some(&b'*') {
            depth += 1;
            i += 2;
        } else if b[i] == b'*' && b.get(i + 1) == Some(&b'/') {
            depth -= 1;
            i += 2;
            if depth == 0 {
                return i;
            }
        } else {
            i += 1;
        }
    }
    b.len()
}

/// Skips a quoted token starting at the quote `b[i]`; doubled quotes escape, and with
/// `backslash` so does `\`. Returns the index after the closing quote (or the end).
fn skip_quoted(b: &[u8], i: usize, q: u8, backslash: bool) -> usize {
    let mut j = i + 1;
    while j < b.len() {
        if backslash && b[j] == b'\\' {
            j += 2;
            continue;
        }
        if b[j] == q {
            if b.get(j + 1) == Some(&q) {
                j += 2;
                continue;
            }
            return j + 1;
        }
        j += 1;
    }
    b.len()
}

/// If `b[i..]` starts a dollar-quote tag (`$$` or `$tag$`), the index after it.
fn dollar_tag(b: &[u8], i: usize) -> Option<usize> {
    let mut j = i + 1;
    if let Some(&c) = b.get(j)
        && (c.is_ascii_alphabetic() || c == b'_' || c >= 0x80)
    {
        while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'_' || b[j] >= 0x80) {
            j += 1;
        }
    }
    (b.get(j) == Some(&b'$')).then_some(j + 1)
}

fn find(hay: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    memchr::memmem::find(hay.get(from..)?, needle).map(|p| p + from)
}

#[cfg(test)]
mod tests {
    //! The behaviour table is `testdata/redact.toml` (tests/redact.rs).
    use super::*;

    #[test]
    fn never_panics_on_odd_input() {
        for s in [
            "$",
            "$$",
            "$a",
            "E",
            "E'",
            "'",
            "/*",
            "--",
            "password=",
            "a://",
            "://@",
            "e'\\",
            "é'password=x",
        ] {
            let _ = redact_sql_credentials(s);
            let _ = credential_parameters(s);
        }
    }
}
