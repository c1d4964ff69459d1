//! The session settings under which the server reads statement text as this crate does.
//!
//! The classifier lexes as a server with `standard_conforming_strings = on` reading UTF-8.
//! Two settings make the server read the same bytes differently, and a proxy that decides on
//! what this crate reads must keep both where they agree (refuse the session or the statement
//! otherwise):
//!
//! - `standard_conforming_strings = off`: a backslash escapes a quote in every string literal.
//!   `SELECT 'a\', '; DELETE FROM t; --'` is one `SELECT` of two strings here, and a `SELECT`
//!   followed by `DELETE FROM t` on such a server.
//! - a client encoding whose multibyte characters may end with an ASCII byte (SJIS, BIG5, GBK,
//!   UHC, GB18030, JOHAB, SHIFT_JIS_2004): a `\` or `'` byte here can be half of a character
//!   there.
//!
//! Both are reported by the server (`ParameterStatus`) at login and whenever they change.
//!
//! ```
//! use guard_sql::lexing::keeps_lexing;
//! assert!(keeps_lexing("standard_conforming_strings", "on"));
//! assert!(!keeps_lexing("standard_conforming_strings", "off"));
//! assert!(keeps_lexing("client_encoding", "UTF8"));
//! assert!(keeps_lexing("client_encoding", "latin1"));
//! assert!(!keeps_lexing("client_encoding", "SJIS"));
//! assert!(!keeps_lexing("client_encoding", "windows-932"));
//! assert!(keeps_lexing("DateStyle", "ISO, MDY"));
//! ```

/// The settings that change how the server reads statement text (lower case).
pub const LEXING_SETTINGS: &[&str] = &["standard_conforming_strings", "client_encoding"];

/// Client encodings (names as PostgreSQL compares them: lower case, letters and digits only)
/// in which every byte of a multibyte character is non-ASCII, so quotes, backslashes and
/// semicolons are themselves everywhere. An allow list: a name not here (the client-only
/// SJIS, BIG5, GBK, UHC, GB18030, JOHAB, SHIFT_JIS_2004 and their aliases, or a misspelling)
/// does not keep the lexing.
const SAFE_ENCODINGS: &[&str] = &[
    "utf8",
    "unicode",
    "sqlascii",
    "latin1",
    "latin2",
    "latin3",
    "latin4",
    "latin5",
    "latin6",
    "latin7",
    "latin8",
    "latin9",
    "latin10",
    "iso88591",
    "iso88592",
    "iso88593",
    "iso88594",
    "iso88595",
    "iso88596",
    "iso88597",
    "iso88598",
    "iso88599",
    "iso885910",
    "iso885913",
    "iso885914",
    "iso885915",
    "iso885916",
    "win866",
    "win874",
    "win1250",
    "win1251",
    "win1252",
    "win1253",
    "win1254",
    "win1255",
    "win1256",
    "win1257",
    "win1258",
    "windows866",
    "windows874",
    "windows1250",
    "windows1251",
    "windows1252",
    "windows1253",
    "windows1254",
    "windows1255",
    "windows1256",
    "windows1257",
    "windows1258",
    "koi8",
    "koi8r",
    "koi8u",
    "eucjp",
    "euccn",
    "euckr",
    "euctw",
    "eucjis2004",
    "muleinternal",
];

/// Whether the session setting `name` = `value` (a `ParameterStatus`, a startup parameter, a
/// `SET`) keeps the server reading statements as this crate does. `true` for settings that
/// do not bear on it.
pub fn keeps_lexing(name: &str, value: &str) -> bool {
    if name.eq_ignore_ascii_case("standard_conforming_strings") {
        crate::startup::parse_bool(value) == Some(true)
    } else if name.eq_ignore_ascii_case("client_encoding") {
        // PostgreSQL's own comparison (`clean_encoding_name`): letters and digits only, in
        // lower case.
        let clean: String = (value.chars())
            .filter(char::is_ascii_alphanumeric)
            .map(|c| c.to_ascii_lowercase())
            .collect();
        SAFE_ENCODINGS.contains(&clean.as_str())
    } else {
        true
    }
}

/// The setting of [`LEXING_SETTINGS`] that one statement changes to a value that may not keep
/// the server reading statements as this crate does, if any. `facts` are the statement's (from
/// [`Classification::statement_facts`](crate::classify::Classification::statement_facts)) and
/// `sql` the whole text it came from.
///
/// Only one plain `SET` (the whole of `sql`) to a value that keeps the lexing, or to `DEFAULT`,
/// passes: `set_config(...)`, `SET` inside a longer text, `ALTER ROLE ... SET` and the like name
/// the setting but their value cannot be checked here. `RESET` returns to the session's login
/// value, and a startup's settings are only known from what the server reports at login: a
/// proxy checks both in the server's `ParameterStatus` (with [`keeps_lexing`]), which it must
/// watch anyway, since a function body or a role default can change either setting unseen.
///
/// ```
/// use guard_sql::classify::Classifier;
/// use guard_sql::lexing::changes_lexing;
/// let c = Classifier::new();
/// let check = |sql: &str| {
///     let k = c.classify(sql);
///     (0..k.statements.len()).find_map(|i| changes_lexing(&k.statement_facts(i)?, sql))
/// };
/// assert_eq!(check("SET standard_conforming_strings = off"), Some("standard_conforming_strings"));
/// assert_eq!(check("SET standard_conforming_strings = on"), None);
/// assert_eq!(check("SET client_encoding = 'SJIS'"), Some("client_encoding"));
/// assert_eq!(check("SET client_encoding TO DEFAULT"), None);
/// assert_eq!(check("SELECT set_config('client_encoding', 'UTF8', false)"), Some("client_encoding"));
/// assert_eq!(check("SET search_path = app"), None);
/// ```
pub fn changes_lexing(facts: &guard_core::Facts, sql: &str) -> Option<&'static str> {
    let settings = facts.get("sql.settings").and_then(|v| v.as_list())?;
    let name = (LEXING_SETTINGS.iter()).find(|n| settings.iter().any(|s| s == **n))?;
    if matches!(
        facts.get("sql.statement").and_then(|v| v.as_str()),
        Some("reset" | "startup")
    ) {
        return None;
    }
    let keeps = crate::classify::plain_set(sql).is_some_and(|p| {
        p.name == *name && p.value.as_deref().is_none_or(|v| keeps_lexing(name, v))
    });
    (!keeps).then_some(*name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn changed(sql: &str) -> Option<&'static str> {
        let c = crate::classify::Classifier::new();
        let k = c.classify(sql);
        (0..k.statements.len()).find_map(|i| changes_lexing(&k.statement_facts(i)?, sql))
    }

    #[test]
    fn statements_that_change_the_lexing() {
        let scs = Some("standard_conforming_strings");
        let enc = Some("client_encoding");
        for (sql, want) in [
            ("SET standard_conforming_strings = off", scs),
            ("SET standard_conforming_strings TO 'false'", scs),
            ("SET SESSION standard_conforming_strings = 0", scs),
            ("SET LOCAL standard_conforming_strings = off", scs),
            ("SET standard_conforming_strings = on; SELECT 1", scs),
            ("SELECT 1; SET standard_conforming_strings = off", scs),
            (
                "SELECT set_config('standard_conforming_strings', 'off', false)",
                scs,
            ),
            ("ALTER ROLE app SET standard_conforming_strings = off", scs),
            ("SET client_encoding = 'SJIS'", enc),
            ("SET NAMES 'BIG5'", enc),
            ("SET client_encoding = 'utf-8x'", enc),
            ("SET standard_conforming_strings = on", None),
            ("SET standard_conforming_strings TO DEFAULT", None),
            ("RESET standard_conforming_strings", None),
            ("RESET ALL", None),
            ("SET client_encoding = 'UTF8'", None),
            ("SET NAMES 'LATIN1'", None),
            ("SET search_path = app, public", None),
            ("SELECT 'a\\', 'b'", None),
        ] {
            assert_eq!(changed(sql), want, "{sql}");
        }
    }

    #[test]
    fn standard_strings_only_when_on() {
        for v in ["on", "ON", "true", "1", "yes", " on "] {
            assert!(keeps_lexing("standard_conforming_strings", v), "{v}");
        }
        for v in ["off", "false", "0", "no", "", "o", "maybe"] {
            assert!(!keeps_lexing("standard_conforming_strings", v), "{v}");
        }
    }

    #[test]
    fn encodings_by_allow_list() {
        for v in [
            "UTF8",
            "utf-8",
            "Unicode",
            "SQL_ASCII",
            "LATIN1",
            "WIN1252",
            "EUC_JP",
            "KOI8R",
        ] {
            assert!(keeps_lexing("client_encoding", v), "{v}");
        }
        for v in [
            "SJIS",
            "Shift_JIS",
            "mskanji",
            "WIN932",
            "BIG5",
            "win950",
            "GBK",
            "windows936",
            "UHC",
            "GB18030",
            "JOHAB",
            "SHIFT_JIS_2004",
            "",
            "nonsense",
        ] {
            assert!(!keeps_lexing("client_encoding", v), "{v}");
        }
    }
}
