//! Cache keys: the text with simple constants replaced, when that is provably safe.
//!
//! [`normalize`] replaces plain string literals (`'...'`, no prefix, no backslash) with `''`
//! and short unsigned integers with `0`, skipping over comments and quoted identifiers. It
//! gives up (returns `None`, so the caller keys on the exact text) whenever its lexing could
//! disagree with PostgreSQL's: dollar quotes or any `$` other than a `$n` parameter, `U&`
//! strings, backslashes in strings, unterminated quotes or comments, and non-ASCII bytes
//! outside strings and identifiers are all left alone.
//!
//! Two texts with the same normalized key therefore differ only in the values of literals
//! PostgreSQL also sees as literals, which cannot change the shape of the parse tree. The
//! classifier records whether a classification looked at a constant's value (`WHERE 1 = 1`,
//! `SET default_transaction_read_only = off`, `set_config('role', ...)`); such
//! classifications are cached under their exact text only.

/// A normalized key and where its replacements are, to translate byte offsets between the
/// original text and the key.
#[derive(Debug)]
pub(crate) struct Normalized {
    /// The key.
    pub(crate) text: String,
    /// For each replaced literal, in order: its end in the original text and in the key.
    /// Outside literals both texts advance together, so after a replacement an offset in one
    /// differs from the other by `orig_end - key_end`.
    edits: Vec<(usize, usize)>,
}

impl Normalized {
    /// The key offset of an original offset that is not inside a replaced literal.
    pub(crate) fn key_offset(&self, orig: usize) -> usize {
        match self.edits.iter().rev().find(|e| e.0 <= orig) {
            Some(&(o, k)) => orig - o + k,
            None => orig,
        }
    }

    /// The original offset of a key offset that is not inside a replaced literal.
    pub(crate) fn orig_offset(&self, key: usize) -> usize {
        match self.edits.iter().rev().find(|e| e.1 <= key) {
            Some(&(o, k)) => key - k + o,
            None => key,
        }
    }
}

/// The normalized key of `sql`, or `None` when only the exact text is a safe key.
pub(crate) fn normalize(sql: &str) -> Option<Normalized> {
    let b = sql.as_bytes();
    // pg_query refuses text with a NUL byte, wherever it is: keep such text exact.
    if memchr::memchr(0, b).is_some() {
        return None;
    }
    let mut out = String::with_capacity(sql.len());
    let mut edits = Vec::new();
    let mut i = 0;
    // Start of the last run copied verbatim.
    let mut copied = 0;
    while i < b.len() {
        let c = b[i];
        match c {
            b'\'' => {
                let prev = if i == 0 { b' ' } else { b[i - 1] };
                // A prefix letter (E, B, X, N, U&) or identifier glued to the quote changes
                // the lexing rules: keep it exact.
                if is_ident(prev) || prev == b'&' {
                    return None;
                }
                let end = string_end(b, i + 1)?;
                out.push_str(&sql[copied..i]);
                out.push_str("''");
                i = end;
                copied = i;
                edits.push((i, out.len()));
            }
            b'"' => {
                i = quoted_ident_end(b, i + 1)?;
            }
            b'-' if b.get(i + 1) == Some(&b'-') => {
                i = match b[i..].iter().position(|&x| x == b'\n') {
                    Some(p) => i + p + 1,
                    None => b.len(),
                };
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                i = block_comment_end(b, i + 2)?;
            }
            b'$' => {
                // Only `$1`-style parameters; anything else may be a dollar quote.
                if i > 0 && is_ident(b[i - 1]) {
                    return None;
                }
                i += 1;
                if !b.get(i).is_some_and(u8::is_ascii_digit) {
                    return None;
                }
                while b.get(i).is_some_and(u8::is_ascii_digit) {
                    i += 1;
                }
            }
            b'0'..=b'9' => {
                let start = i;
                while b.get(i).is_some_and(u8::is_ascii_digit) {
                    i += 1;
                }
                let prev = if start == 0 { b' ' } else { b[start - 1] };
                let next = b.get(i).copied().unwrap_or(b' ');
                // Part of an identifier, a float, a parameter or a 0x/1e5/1_000 form: keep.
                let plain = !is_ident(prev)
                    && prev != b'.'
                    && !is_ident(next)
                    && next != b'.'
                    && i - start <= 9;
                if plain {
                    out.push_str(&sql[copied..start]);
                    out.push('0');
                    copied = i;
                    edits.push((i, out.len()));
                }
            }
            b'\\' => return None,
            c if c >= 0x80 => {
                // Non-ASCII outside strings: only as part of an identifier, which PostgreSQL
                // allows; copy it (it is never a constant).
                i += 1;
            }
            _ => i += 1,
        }
    }
    out.push_str(&sql[copied..]);
    Some(Normalized { text: out, edits })
}

fn is_ident(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c == b'$' || c >= 0x80
}

/// Index just past the closing quote of a standard string starting at `i`.
fn string_end(b: &[u8], mut i: usize) -> Option<usize> {
    while i < b.len() {
        match b[i] {
            b'\\' => return None,
            b'\'' if b.get(i + 1) == Some(&b'\'') => i += 2,
            b'\'' => return Some(i + 1),
            _ => i += 1,
        }
    }
    None
}

fn quoted_ident_end(b: &[u8], mut i: usize) -> Option<usize> {
    while i < b.len() {
        match b[i] {
            b'"' if b.get(i + 1) == Some(&b'"') => i += 2,
            b'"' => return Some(i + 1),
            _ => i += 1,
        }
    }
    None
}

fn block_comment_end(b: &[u8], mut i: usize) -> Option<usize> {
    let mut depth = 1usize;
    while i < b.len() {
        if b[i] == b'/' && b.get(i + 1) == Some(&b'*') {
            depth += 1;
            i += 2;
        } else if b[i] == b'*' && b.get(i + 1) == Some(&b'/') {
            depth -= 1;
            i += 2;
            if depth == 0 {
                return Some(i);
            }
        } else {
            i += 1;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::normalize;

    fn norm(sql: &str) -> Option<String> {
        normalize(sql).map(|n| n.text)
    }

    #[test]
    fn offsets_translate_around_replacements() {
        let sql = "SELECT 'abc', 12345; SELECT 'x'";
        let n = normalize(sql).unwrap();
        assert_eq!(n.text, "SELECT '', 0; SELECT ''");
        for (orig, key) in [
            (0, 0),
            (7, 7),
            (12, 9),
            (14, 11),
            (19, 12),
            (20, 13),
            (31, 23),
        ] {
            assert_eq!(n.key_offset(orig), key, "{orig}");
            assert_eq!(n.orig_offset(key), orig, "{key}");
        }
    }

    #[test]
    fn replaces_plain_constants() {
        assert_eq!(
            norm("SELECT * FROM t WHERE id = 42 AND name = 'bob' LIMIT 10").as_deref(),
            Some("SELECT * FROM t WHERE id = 0 AND name = '' LIMIT 0")
        );
        assert_eq!(
            norm("SELECT 'it''s', t1.c2, $1").as_deref(),
            Some("SELECT '', t1.c2, $1")
        );
        assert_eq!(
            norm("SELECT 1.5, 1e5, 0x1f").as_deref(),
            Some("SELECT 1.5, 1e5, 0x1f")
        );
        assert_eq!(
            norm("SELECT /* 'x' /* 1 */ */ 2 -- 'y\n, \"a'b\"").as_deref(),
            Some("SELECT /* 'x' /* 1 */ */ 0 -- 'y\n, \"a'b\"")
        );
    }

    #[test]
    fn gives_up_when_lexing_could_differ() {
        for sql in [
            "SELECT E'\\''",
            "SELECT 'a\\'",
            "SELECT $$x$$",
            "SELECT $a$x$a$",
            "SELECT U&'d\\0061t'",
            "SELECT x'1f'",
            "SELECT 'unterminated",
            "SELECT /* open",
            "SELECT \"open",
            "SELECT a$1",
            "SELECT 'a\0b'",
        ] {
            assert_eq!(norm(sql), None, "{sql}");
        }
    }
}
