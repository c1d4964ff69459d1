//! Startup parameters as facts: `replication` and `options` are decided, never passed on
//! blindly.
//!
//! A StartupMessage can do more than name a user and a database. `replication=true` (or
//! `database`) turns the backend into a walsender, which runs replication commands and
//! streams raw WAL past every statement check; `options` carries server command-line switches
//! (`-c default_transaction_read_only=off`, `-c search_path=...`, `--work_mem=1GB`) that
//! change the session before its first statement. A proxy that decides statements must decide
//! these too.
//!
//! [`StartupRequest::from_params`] reads them the way PostgreSQL does (`pg_split_opts` and
//! `process_postgres_switches` in the server): `options` is split at unescaped whitespace,
//! a backslash takes the next character literally, and each word is a switch. Only the
//! switches that set a configuration parameter are understood: `-c name=value`,
//! `-cname=value` and `--name=value` (a `-` in a name means `_`, names are case-insensitive).
//! The server's other switches (`-B`, `-S`, `-e`, `-F`, `-d`, ...) are refused with
//! [`StartupError::UnsupportedSwitch`]: they are rare, several of them touch the whole server,
//! and what is not understood is not passed on. `replication` accepts what the server
//! accepts: `database` (a logical walsender, which also runs SQL) or a boolean.
//!
//! A request with neither is plain ([`StartupRequest::is_plain`]): there is nothing to decide
//! before the first statement. Otherwise [`StartupRequest::facts`] gives the facts of a
//! pseudo-statement of kind `startup` for the policy (`sql.statement = startup`,
//! `sql.settings`, `sql.role_change`, `sql.read_write`, `sql.replication`,
//! `sql.danger = [replication]`), and [`StartupRequest::encode_options`] the canonical
//! `options` value to send upstream once allowed, so the server parses exactly what was
//! decided.
//!
//! ```
//! use guard_core::FactValue;
//! use guard_sql::startup::StartupRequest;
//!
//! let req = StartupRequest::from_params([
//!     ("user", "alice"),
//!     ("options", r"-c search_path=app\ data --Default-Transaction-Read-Only=off"),
//! ])?;
//! assert!(!req.is_plain());
//! let facts = req.facts();
//! assert_eq!(facts.get("sql.statement"), Some(&FactValue::from("startup")));
//! assert_eq!(
//!     facts.get("sql.settings"),
//!     Some(&FactValue::from(&["search_path", "default_transaction_read_only"][..]))
//! );
//! assert_eq!(facts.get("sql.read_write"), Some(&FactValue::Bool(true)));
//! assert_eq!(
//!     req.encode_options(),
//!     r"-c search_path=app\ data -c default_transaction_read_only=off"
//! );
//! # Ok::<(), guard_sql::startup::StartupError>(())
//! ```

use guard_core::Facts;

use crate::classify::{Classification, Dialect, Effect, Statement, StatementKind};

/// The most settings one `options` value may carry (the server has no such limit; a startup
/// packet is at most 10,000 bytes, so this only bounds the work of a hostile one).
pub const MAX_SETTINGS: usize = 256;

/// A walsender mode asked for with the `replication` startup parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Replication {
    /// `replication=true` (or another true boolean): a physical walsender; it runs only
    /// replication commands (`IDENTIFY_SYSTEM`, `START_REPLICATION`, `BASE_BACKUP`).
    Physical,
    /// `replication=database`: a logical walsender connected to a database; it runs
    /// replication commands and SQL.
    Logical,
}

impl Replication {
    /// The fact value (`sql.replication`): `physical` or `logical`.
    pub fn as_str(self) -> &'static str {
        match self {
            Replication::Physical => "physical",
            Replication::Logical => "logical",
        }
    }

    /// The `replication` startup parameter that asks the server for this mode.
    pub fn param_value(self) -> &'static str {
        match self {
            Replication::Physical => "true",
            Replication::Logical => "database",
        }
    }
}

/// One configuration parameter set by a startup switch.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Setting {
    /// The parameter's name, lower-cased, `-` turned into `_` (as the server does).
    pub name: String,
    /// Its value, unescaped.
    pub value: String,
}

/// Why a startup request cannot be understood. Each maps to the SQLSTATE the server would use
/// ([`StartupError::sqlstate`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StartupError {
    /// `replication` is neither `database` nor a boolean.
    #[error("invalid value for parameter \"replication\": \"{0}\"")]
    Replication(String),
    /// A switch in `options` that sets no configuration parameter (`-B`, `-e`, ...), or a word
    /// that is no switch at all.
    #[error(
        "startup option \"{0}\" is not supported through the gateway; only -c name=value and \
         --name=value are"
    )]
    UnsupportedSwitch(String),
    /// `-c name` or `--name` without `=value`, or `-c` at the end.
    #[error("startup option \"{0}\" requires a value (-c name=value)")]
    MissingValue(String),
    /// An empty parameter name (`-c =x`).
    #[error("startup option \"{0}\" has an empty parameter name")]
    EmptyName(String),
    /// More than [`MAX_SETTINGS`] settings.
    #[error("too many startup options (at most {MAX_SETTINGS})")]
    TooMany,
}

impl StartupError {
    /// The SQLSTATE of the FATAL error that refuses the connection: `22023`
    /// (invalid_parameter_value) for `replication`, `0A000` (feature_not_supported) for a
    /// switch the gateway does not pass on, `42601` (syntax_error) for a malformed one,
    /// `54000` (program_limit_exceeded) for too many.
    pub fn sqlstate(&self) -> &'static str {
        match self {
            StartupError::Replication(_) => "22023",
            StartupError::UnsupportedSwitch(_) => "0A000",
            StartupError::MissingValue(_) | StartupError::EmptyName(_) => "42601",
            StartupError::TooMany => "54000",
        }
    }
}

/// What a StartupMessage asks for beyond user and database.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StartupRequest {
    /// The walsender mode asked for, if any.
    pub replication: Option<Replication>,
    /// The settings of the `options` parameter, in order (a name may repeat; the last wins
    /// on the server).
    pub settings: Vec<Setting>,
    /// The other parameters, which the server applies as settings too (`role=x` as `-c
    /// role=x` would), but for the routine ones clients send at every connect
    /// ([`ROUTINE_PARAMETERS`]) and the protocol's own (`user`, `database`, `_pq_.*`).
    pub parameters: Vec<Setting>,
}

/// Startup parameters clients send at every connect that change nothing a policy decides:
/// the application's name, the client encoding (a proxy checks what the server reports, see
/// [`crate::lexing`]), date and interval styles, time zone, float digits. Compared in lower
/// case.
pub const ROUTINE_PARAMETERS: &[&str] = &[
    "application_name",
    "client_encoding",
    "datestyle",
    "extra_float_digits",
    "intervalstyle",
    "timezone",
];

impl StartupRequest {
    /// Reads the parameters of a StartupMessage: `replication`, `options`, and the others as
    /// settings ([`StartupRequest::parameters`]).
    pub fn from_params<'a>(
        params: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Self, StartupError> {
        let mut req = StartupRequest::default();
        for (name, value) in params {
            match name {
                "replication" => req.replication = parse_replication(value)?,
                "options" => req.settings = parse_options(value)?,
                "user" | "database" => {}
                _ if name.starts_with("_pq_.") => {}
                _ => {
                    let name = name.to_ascii_lowercase().replace('-', "_");
                    if !ROUTINE_PARAMETERS.contains(&name.as_str()) {
                        if req.parameters.len() >= MAX_SETTINGS {
                            return Err(StartupError::TooMany);
                        }
                        req.parameters.push(Setting {
                            name,
                            value: value.to_owned(),
                        });
                    }
                }
            }
        }
        Ok(req)
    }

    /// Whether nothing needs deciding: no walsender mode, no settings, no parameters beyond
    /// the routine ones.
    pub fn is_plain(&self) -> bool {
        self.replication.is_none() && self.settings.is_empty() && self.parameters.is_empty()
    }

    /// The pseudo-statement a policy decides: kind `startup`, effect `admin` for a replication
    /// connection and `session` otherwise, with the settings, role change, read-write and
    /// danger flags computed as for the equivalent `SET` statements.
    pub fn statement(&self) -> Statement {
        let effect = if self.replication.is_some() {
            Effect::Admin
        } else {
            Effect::Session
        };
        let mut st = Statement::new(StatementKind::Startup, effect);
        for s in self.settings.iter().chain(&self.parameters) {
            if !st.settings.contains(&s.name) {
                st.settings.push(s.name.clone());
            }
            if crate::classify::functions::superuser_setting(&s.name)
                && !st.danger.contains(&"server_control")
            {
                st.danger.push("server_control");
            }
            match s.name.as_str() {
                "role" | "session_authorization" => st.role_change = true,
                "default_transaction_read_only" | "transaction_read_only"
                    if parse_bool(&s.value) != Some(true) =>
                {
                    st.read_write = true;
                }
                _ => {}
            }
        }
        if self.replication.is_some() {
            st.danger.push("replication");
        }
        st
    }

    /// The facts a policy evaluates for this startup: those of [`StartupRequest::statement`]
    /// with the whole-string facts (`sql.dialect = postgres`, `sql.statements = 1`, ...) and,
    /// for a walsender, `sql.replication` (`physical` or `logical`).
    pub fn facts(&self) -> Facts {
        let c = Classification {
            dialect: Dialect::Postgres,
            statements: vec![self.statement()],
            error: None,
            const_sensitive: false,
        };
        // One statement was just put in: index 0 exists.
        let mut f = c.statement_facts(0).unwrap_or_default();
        if let Some(r) = self.replication {
            f.insert("sql.replication", r.as_str());
        }
        f
    }

    /// The `options` value that sets exactly [`StartupRequest::settings`]: `-c name=value`
    /// words with whitespace and backslashes escaped. Empty when there are no settings.
    pub fn encode_options(&self) -> String {
        let mut out = String::new();
        for s in &self.settings {
            if !out.is_empty() {
                out.push(' ');
            }
            out.push_str("-c ");
            escape_into(&s.name, &mut out);
            out.push('=');
            escape_into(&s.value, &mut out);
        }
        out
    }

    /// A one-line human summary for audit logs and recordings, such as
    /// `startup replication=logical options: -c search_path=app`.
    pub fn summary(&self) -> String {
        let mut s = String::from("startup");
        if let Some(r) = self.replication {
            s.push_str(" replication=");
            s.push_str(r.as_str());
        }
        if !self.settings.is_empty() {
            s.push_str(" options: ");
            s.push_str(&self.encode_options());
        }
        for p in &self.parameters {
            s.push(' ');
            s.push_str(&p.name);
            s.push('=');
            s.push_str(&p.value);
        }
        s
    }
}

/// The server's reading of `replication`: `database`, else a boolean.
fn parse_replication(value: &str) -> Result<Option<Replication>, StartupError> {
    if value == "database" {
        return Ok(Some(Replication::Logical));
    }
    match parse_bool(value) {
        Some(true) => Ok(Some(Replication::Physical)),
        Some(false) => Ok(None),
        None => Err(StartupError::Replication(value.to_owned())),
    }
}

/// PostgreSQL's `parse_bool`: `true`/`false`, `yes`/`no`, `on`/`off`, `1`/`0`, any unique
/// prefix of those words, case-insensitive, surrounding whitespace ignored.
pub fn parse_bool(value: &str) -> Option<bool> {
    let v = value.trim_matches(|c: char| c.is_ascii_whitespace());
    if v.is_empty() {
        return None;
    }
    let lower = v.to_ascii_lowercase();
    let prefix_of = |word: &str| word.starts_with(lower.as_str());
    match lower.as_bytes()[0] {
        b't' if prefix_of("true") => Some(true),
        b'f' if prefix_of("false") => Some(false),
        b'y' if prefix_of("yes") => Some(true),
        b'n' if prefix_of("no") => Some(false),
        // "o" alone is ambiguous between on and off; the server wants two letters.
        b'o' if lower.len() >= 2 && prefix_of("on") => Some(true),
        b'o' if lower.len() >= 2 && prefix_of("off") => Some(false),
        b'1' if lower.len() == 1 => Some(true),
        b'0' if lower.len() == 1 => Some(false),
        _ => None,
    }
}

/// Splits an `options` value into words as the server's `pg_split_opts` does: words end at
/// unescaped ASCII whitespace (the C locale's `isspace`), `\x` stands for `x`.
pub fn split_options(options: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut chars = options.chars().peekable();
    loop {
        while chars.next_if(|c| is_c_space(*c)).is_some() {}
        if chars.peek().is_none() {
            return words;
        }
        let mut word = String::new();
        let mut escaped = false;
        while let Some(&c) = chars.peek() {
            if is_c_space(c) && !escaped {
                break;
            }
            chars.next();
            if !escaped && c == '\\' {
                escaped = true;
            } else {
                escaped = false;
                word.push(c);
            }
        }
        words.push(word);
    }
}

/// Parses an `options` value into the settings it makes; refuses every switch that is not a
/// setting (see the module docs).
pub fn parse_options(options: &str) -> Result<Vec<Setting>, StartupError> {
    let words = split_options(options);
    let mut settings = Vec::new();
    let mut i = 0;
    while i < words.len() {
        let word = &words[i];
        i += 1;
        let (assignment, shown) = if let Some(long) = word.strip_prefix("--") {
            (long.to_owned(), word.clone())
        } else if let Some(rest) = word.strip_prefix("-c") {
            if rest.is_empty() {
                // getopt: the value is the next word.
                let Some(next) = words.get(i) else {
                    return Err(StartupError::MissingValue(word.clone()));
                };
                i += 1;
                (next.clone(), format!("-c {next}"))
            } else {
                (rest.to_owned(), word.clone())
            }
        } else {
            return Err(StartupError::UnsupportedSwitch(word.clone()));
        };
        let Some((name, value)) = assignment.split_once('=') else {
            return Err(StartupError::MissingValue(shown));
        };
        if name.is_empty() {
            return Err(StartupError::EmptyName(shown));
        }
        if settings.len() == MAX_SETTINGS {
            return Err(StartupError::TooMany);
        }
        settings.push(Setting {
            name: name.replace('-', "_").to_lowercase(),
            value: value.to_owned(),
        });
    }
    Ok(settings)
}

fn is_c_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\x0b' | '\x0c' | '\r')
}

fn escape_into(s: &str, out: &mut String) {
    for c in s.chars() {
        if c == '\\' || is_c_space(c) {
            out.push('\\');
        }
        out.push(c);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use guard_core::FactValue;
    use proptest::prelude::*;

    fn settings(options: &str) -> Vec<(String, String)> {
        parse_options(options)
            .unwrap()
            .into_iter()
            .map(|s| (s.name, s.value))
            .collect()
    }

    fn pair(n: &str, v: &str) -> (String, String) {
        (n.to_owned(), v.to_owned())
    }

    #[test]
    fn every_setting_switch_form() {
        assert_eq!(
            settings("-c search_path=a -cwork_mem=1MB --statement-timeout=5s"),
            vec![
                pair("search_path", "a"),
                pair("work_mem", "1MB"),
                pair("statement_timeout", "5s")
            ]
        );
        // Names are case-insensitive on the server; values are kept as given.
        assert_eq!(
            settings("  -c   DateStyle=ISO,\\ MDY\t"),
            vec![pair("datestyle", "ISO, MDY")]
        );
        // A value may contain '='; only the first splits.
        assert_eq!(settings("-c a.b=x=y"), vec![pair("a.b", "x=y")]);
        assert_eq!(settings(""), Vec::new());
        assert_eq!(settings(" \t\n "), Vec::new());
    }

    #[test]
    fn backslash_escapes_like_pg_split_opts() {
        assert_eq!(
            split_options(r"a\ b c\\d e\"),
            vec!["a b".to_owned(), r"c\d".to_owned(), "e".to_owned()]
        );
        assert_eq!(split_options(r"\\\ x"), vec![r"\ x".to_owned()]);
    }

    #[test]
    fn refusals_name_the_switch() {
        assert_eq!(
            parse_options("-B 100"),
            Err(StartupError::UnsupportedSwitch("-B".into()))
        );
        assert_eq!(
            parse_options("-c a=1 -e"),
            Err(StartupError::UnsupportedSwitch("-e".into()))
        );
        assert_eq!(
            parse_options("search_path=x"),
            Err(StartupError::UnsupportedSwitch("search_path=x".into()))
        );
        assert_eq!(
            parse_options("-c"),
            Err(StartupError::MissingValue("-c".into()))
        );
        assert_eq!(
            parse_options("-c work_mem"),
            Err(StartupError::MissingValue("-c work_mem".into()))
        );
        assert_eq!(
            parse_options("--work_mem"),
            Err(StartupError::MissingValue("--work_mem".into()))
        );
        assert_eq!(
            parse_options("-c =1"),
            Err(StartupError::EmptyName("-c =1".into()))
        );
        let many = "-c a=1 ".repeat(MAX_SETTINGS + 1);
        assert_eq!(parse_options(&many), Err(StartupError::TooMany));
        assert_eq!(parse_options("-Z").unwrap_err().sqlstate(), "0A000");
        assert_eq!(parse_options("-c x").unwrap_err().sqlstate(), "42601");
    }

    #[test]
    fn replication_values_as_the_server_reads_them() {
        let r = |v: &str| StartupRequest::from_params([("replication", v)]).map(|r| r.replication);
        assert_eq!(r("database"), Ok(Some(Replication::Logical)));
        for v in ["true", "on", "yes", "1", "t", "TRUE", " y "] {
            assert_eq!(r(v), Ok(Some(Replication::Physical)), "{v}");
        }
        for v in ["false", "off", "no", "0", "f", "of"] {
            assert_eq!(r(v), Ok(None), "{v}");
        }
        for v in ["Database", "o", "", "2", "maybe", "database "] {
            assert_eq!(r(v), Err(StartupError::Replication(v.to_owned())), "{v}");
        }
        assert_eq!(StartupError::Replication("x".into()).sqlstate(), "22023");
    }

    #[test]
    fn plain_startups_need_no_decision() {
        let req = StartupRequest::from_params([
            ("user", "a"),
            ("database", "d"),
            ("replication", "off"),
            ("options", "  "),
            ("application_name", "psql"),
        ])
        .unwrap();
        assert!(req.is_plain());
    }

    #[test]
    fn facts_of_a_startup() {
        let req = StartupRequest::from_params([
            ("replication", "database"),
            (
                "options",
                "-c role=admin -c default_transaction_read_only=on -c role=x",
            ),
        ])
        .unwrap();
        let f = req.facts();
        assert_eq!(f.get("sql.statement"), Some(&FactValue::from("startup")));
        assert_eq!(f.get("sql.effect"), Some(&FactValue::from("admin")));
        assert_eq!(f.get("sql.effect.max"), Some(&FactValue::from("admin")));
        assert_eq!(f.get("sql.replication"), Some(&FactValue::from("logical")));
        assert_eq!(
            f.get("sql.danger"),
            Some(&FactValue::from(&["replication"][..]))
        );
        assert_eq!(
            f.get("sql.settings"),
            Some(&FactValue::from(
                &["role", "default_transaction_read_only"][..]
            ))
        );
        assert_eq!(f.get("sql.role_change"), Some(&FactValue::Bool(true)));
        // Read-only set on: not a read-write request.
        assert_eq!(f.get("sql.read_write"), Some(&FactValue::Bool(false)));
        assert_eq!(f.get("sql.dialect"), Some(&FactValue::from("postgres")));
        assert_eq!(
            f.get("sql.tables"),
            Some(&FactValue::from(Vec::<String>::new()))
        );

        let f = StartupRequest::from_params([("options", "-c transaction_read_only=nonsense")])
            .unwrap()
            .facts();
        // Not provably read-only: read-write, as for SET.
        assert_eq!(f.get("sql.read_write"), Some(&FactValue::Bool(true)));
        assert_eq!(f.get("sql.effect"), Some(&FactValue::from("session")));
        assert_eq!(f.get("sql.replication"), None);
    }

    #[test]
    fn every_fact_is_in_the_schema() {
        let req =
            StartupRequest::from_params([("replication", "1"), ("options", "-c a=b")]).unwrap();
        for (name, value) in req.facts().iter() {
            let def = crate::FACTS
                .iter()
                .find(|d| d.name == name)
                .unwrap_or_else(|| panic!("{name} is not in FACTS"));
            assert_eq!(def.ty, value.ty(), "{name}");
        }
    }

    #[test]
    fn other_parameters_are_settings() {
        // What clients send at every connect needs no decision.
        let routine = StartupRequest::from_params([
            ("user", "a"),
            ("database", "d"),
            ("client_encoding", "UTF8"),
            ("DateStyle", "ISO, MDY"),
            ("TimeZone", "UTC"),
            ("extra_float_digits", "3"),
            ("_pq_.some_extension", "x"),
        ])
        .unwrap();
        assert!(routine.is_plain(), "{routine:?}");
        // A parameter the server applies as a setting is decided like `-c name=value`.
        let req = StartupRequest::from_params([
            ("user", "a"),
            ("role", "postgres"),
            ("session_replication_role", "replica"),
        ])
        .unwrap();
        assert!(!req.is_plain());
        let st = req.statement();
        assert!(st.role_change);
        assert_eq!(st.settings, ["role", "session_replication_role"]);
        assert_eq!(st.danger, ["server_control"]);
        assert_eq!(
            req.summary(),
            "startup role=postgres session_replication_role=replica"
        );
    }

    #[test]
    fn summary_for_audit() {
        let req = StartupRequest::from_params([
            ("replication", "database"),
            ("options", "-c search_path=a"),
        ])
        .unwrap();
        assert_eq!(
            req.summary(),
            "startup replication=logical options: -c search_path=a"
        );
    }

    proptest! {
        /// What `encode_options` writes, the server (and we) read back as the same settings.
        #[test]
        fn encode_then_parse_round_trips(
            raw in proptest::collection::vec(
                ("[a-zA-Z_][a-zA-Z0-9_.]{0,12}", "[ -~\t\n\\\\é]{0,16}"),
                0..8,
            )
        ) {
            let settings: Vec<Setting> = raw
                .iter()
                .map(|(n, v)| Setting { name: n.to_lowercase(), value: v.clone() })
                .collect();
            let req = StartupRequest { replication: None, settings: settings.clone(), parameters: Vec::new() };
            let encoded = req.encode_options();
            prop_assert_eq!(parse_options(&encoded).unwrap(), settings);
        }

        /// Arbitrary text never panics, and what parses re-encodes to the same settings.
        #[test]
        fn arbitrary_options_never_panic(s in "\\PC{0,64}") {
            if let Ok(settings) = parse_options(&s) {
                let req = StartupRequest { replication: None, settings: settings.clone(), parameters: Vec::new() };
                prop_assert_eq!(parse_options(&req.encode_options()).unwrap(), settings);
            }
        }
    }
}
