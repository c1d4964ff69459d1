//! SQL classification: what a statement does, as facts a policy can trust.
//!
//! A [`Classifier`] turns a (possibly multi-statement) SQL string into a [`Classification`]:
//! per statement its kind, effect, tables read and written, functions called, dangerous and
//! opaque functions, and flags such as `unbounded` or `role_change`; for the whole string the
//! most consequential effect. [`Classification::statement_facts`] and
//! [`Classification::facts`] render them as guard-core [`Facts`](guard_core::Facts) under
//! `sql.*` (the names are listed in [`crate::FACTS`] and the crate documentation).
//!
//! PostgreSQL text goes through `pg_query` (PostgreSQL's own parser); MySQL through
//! `sqlparser` (kind, effect, tables, functions, unbounded; see [`Dialect::MySql`]). Text that
//! does not parse is classified too: kind `unparsable`, effect `unknown`, `sql.unparsable=true`,
//! so a policy denies it unless it says otherwise.
//!
//! Classifications are cached (bounded, shared, keyed on a constant-free form of the text
//! whenever constants cannot change the facts; see DESIGN.md), so a repeated statement costs a
//! hash lookup and no parse.
//!
//! # Examples
//!
//! ```
//! use guard_sql::classify::{Classifier, Effect, StatementKind};
//! use guard_core::FactValue;
//!
//! let classifier = Classifier::new();
//! let c = classifier.classify("DELETE FROM users");
//! let st = &c.statements[0];
//! assert_eq!(st.kind, StatementKind::Delete);
//! assert_eq!(st.effect, Effect::Write);
//! assert_eq!(st.tables_written, ["users"]);
//! assert!(st.unbounded);
//!
//! let facts = c.statement_facts(0).unwrap();
//! assert_eq!(facts.get("sql.statement"), Some(&FactValue::from("delete")));
//! assert_eq!(facts.get("sql.unbounded"), Some(&FactValue::Bool(true)));
//! ```

use std::sync::Arc;

mod cache;
mod depth;
pub(crate) mod functions;
mod key;
mod kind;
mod mysql;
mod pg;
#[allow(clippy::all, unreachable_pub, dead_code)]
mod pg_walk;
mod statement;

pub use kind::{Effect, StatementKind};
pub use statement::{Classification, Statement};

use cache::{Cache, Entry};

/// A string that is exactly one `SET [SESSION | LOCAL] name {TO | =} constant[, ...]` or `SET
/// ... TO DEFAULT` (PostgreSQL), as [`plain_set`] finds it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PlainSet {
    /// The parameter, lower-cased.
    pub name: String,
    /// `SET LOCAL` (until the end of the transaction).
    pub local: bool,
    /// The value when it is one constant (`'on'`, `on`, `1` all give their text); `None` for
    /// `DEFAULT` and for lists (`search_path = a, b`).
    pub value: Option<String>,
}

/// Whether `sql` (PostgreSQL) is exactly one plain `SET` of a parameter to constants or to its
/// default, and of which: what a proxy needs to answer such a statement itself or replace it
/// (drivers send `SET application_name = '...'` when they connect). `None` for anything else:
/// several statements, `RESET`, `SET TRANSACTION`, `set_config(...)`, text that does not parse.
///
/// ```
/// use guard_sql::classify::plain_set;
/// let s = plain_set("SET application_name = 'PostgreSQL JDBC Driver'").unwrap();
/// assert_eq!((s.name.as_str(), s.local), ("application_name", false));
/// assert_eq!(s.value.as_deref(), Some("PostgreSQL JDBC Driver"));
/// assert!(plain_set("SET LOCAL Application_Name TO DEFAULT").unwrap().local);
/// assert_eq!(plain_set("SET standard_conforming_strings TO off").unwrap().value.as_deref(), Some("off"));
/// assert_eq!(plain_set("SET application_name = 'a'; SELECT 1"), None);
/// assert_eq!(plain_set("SELECT set_config('application_name', 'a', false)"), None);
/// ```
pub fn plain_set(sql: &str) -> Option<PlainSet> {
    pg::plain_set(sql)
}

/// The SQL dialect a [`Classifier`] parses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Dialect {
    /// PostgreSQL, through `pg_query` (the server's own parser, version 18 grammar). Complete:
    /// every fact in the table.
    #[default]
    Postgres,
    /// MySQL, through `sqlparser`. Reports kind, effect, tables read and written, functions
    /// (dangerous: `load_file`, `sleep`, `benchmark`), `unbounded`, `settings` for `SET`; it
    /// does not report `sql.copy.target`, `sql.lock.mode` or `sql.prepared`, and every function
    /// not in the small MySQL built-in list is opaque.
    MySql,
}

impl Dialect {
    /// The name reported in `sql.dialect`.
    pub fn as_str(self) -> &'static str {
        match self {
            Dialect::Postgres => "postgres",
            Dialect::MySql => "mysql",
        }
    }
}

/// Settings of a [`Classifier`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ClassifierBuilder {
    dialect: Dialect,
    cache_entries: usize,
    max_cached_bytes: usize,
}

impl Default for ClassifierBuilder {
    fn default() -> Self {
        ClassifierBuilder {
            dialect: Dialect::Postgres,
            cache_entries: Classifier::DEFAULT_CACHE_ENTRIES,
            max_cached_bytes: Classifier::DEFAULT_MAX_CACHED_BYTES,
        }
    }
}

impl ClassifierBuilder {
    /// The dialect (default PostgreSQL).
    pub fn dialect(&mut self, dialect: Dialect) -> &mut Self {
        self.dialect = dialect;
        self
    }

    /// How many classifications the cache keeps (default
    /// [`Classifier::DEFAULT_CACHE_ENTRIES`]; 0 disables the cache).
    pub fn cache_entries(&mut self, entries: usize) -> &mut Self {
        self.cache_entries = entries;
        self
    }

    /// Strings longer than this are classified but not cached (default
    /// [`Classifier::DEFAULT_MAX_CACHED_BYTES`]), which bounds the cache's memory to about
    /// `cache_entries * max_cached_bytes` plus the classifications.
    pub fn max_cached_bytes(&mut self, bytes: usize) -> &mut Self {
        self.max_cached_bytes = bytes;
        self
    }

    /// Builds the classifier.
    pub fn build(&self) -> Classifier {
        Classifier {
            dialect: self.dialect,
            cache: Cache::new(self.cache_entries),
            max_cached_bytes: self.max_cached_bytes,
        }
    }
}

/// Classifies SQL strings; holds the shared cache. `Send + Sync`: build one and share it
/// (for example in an `Arc`) between all connections.
///
/// The parser needs stack: classify on threads with at least 1 MiB of stack (Rust's and
/// tokio's default is 2 MiB). Statements nested deeply enough to threaten that are refused as
/// unparsable before they reach the parser.
pub struct Classifier {
    dialect: Dialect,
    cache: Cache,
    max_cached_bytes: usize,
}

impl std::fmt::Debug for Classifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Classifier")
            .field("dialect", &self.dialect)
            .field("cached", &self.cache.len())
            .finish()
    }
}

impl Default for Classifier {
    fn default() -> Self {
        Classifier::new()
    }
}

impl Classifier {
    /// Default number of cached classifications.
    pub const DEFAULT_CACHE_ENTRIES: usize = 8192;
    /// Default size limit of a cached string, in bytes.
    pub const DEFAULT_MAX_CACHED_BYTES: usize = 16 * 1024;

    /// A PostgreSQL classifier with the default cache.
    pub fn new() -> Self {
        ClassifierBuilder::default().build()
    }

    /// Settings for a classifier.
    pub fn builder() -> ClassifierBuilder {
        ClassifierBuilder::default()
    }

    /// The dialect this classifier parses.
    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// Classifies `sql`, from the cache when it was seen before (exactly, or with other
    /// constants where constants cannot change the facts). Never fails: text that does not
    /// parse is classified as unparsable.
    pub fn classify(&self, sql: &str) -> Arc<Classification> {
        if sql.len() > self.max_cached_bytes {
            return Arc::new(self.classify_uncached(sql));
        }
        let norm = key::normalize(sql);
        // Texts on either side of the depth guard's short-text threshold never share a
        // normalized entry, so a literal's length cannot decide whether the guard's scan runs
        // for one text and not for another with the same key.
        let norm_tag = if sql.len() <= depth::SHORT_BYTES {
            b'N'
        } else {
            b'L'
        };
        if let Some(n) = &norm {
            match self.cache.get(norm_tag, &n.text) {
                Some(Entry::Shared(v, key_spans)) => return respan(v, &key_spans, n),
                Some(Entry::Value(v)) => return v,
                Some(Entry::ExactOnly) | None => {}
            }
        }
        if let Some(Entry::Value(v)) = self.cache.get(b'E', sql) {
            return v;
        }
        let c = Arc::new(self.classify_uncached(sql));
        match norm {
            Some(n) if !c.const_sensitive && !c.is_unparsable() => {
                let key_spans = c
                    .statements
                    .iter()
                    .map(|s| {
                        s.span
                            .clone()
                            .map(|r| n.key_offset(r.start)..n.key_offset(r.end))
                    })
                    .collect();
                self.cache
                    .insert(norm_tag, &n.text, Entry::Shared(Arc::clone(&c), key_spans));
            }
            Some(n) => {
                self.cache.insert(norm_tag, &n.text, Entry::ExactOnly);
                self.cache.insert(b'E', sql, Entry::Value(Arc::clone(&c)));
            }
            None => self.cache.insert(b'E', sql, Entry::Value(Arc::clone(&c))),
        }
        c
    }

    /// Classifies `sql` without looking at or filling the cache.
    pub fn classify_uncached(&self, sql: &str) -> Classification {
        match self.dialect {
            Dialect::Postgres => pg::classify(sql),
            Dialect::MySql => mysql::classify(sql),
        }
    }

    /// How many entries the cache holds.
    pub fn cached(&self) -> usize {
        self.cache.len()
    }

    /// Empties the cache.
    pub fn clear_cache(&self) {
        self.cache.clear();
    }
}

/// A classification found under a normalized key, with spans for the text at hand: the cached
/// one when its spans already fit (same literal lengths), else a copy with this text's spans.
fn respan(
    v: Arc<Classification>,
    key_spans: &[Option<std::ops::Range<usize>>],
    n: &key::Normalized,
) -> Arc<Classification> {
    let here = |s: &Option<std::ops::Range<usize>>| {
        s.clone()
            .map(|r| n.orig_offset(r.start)..n.orig_offset(r.end))
    };
    let fits = v
        .statements
        .iter()
        .zip(key_spans)
        .all(|(st, k)| st.span == here(k));
    if fits {
        return v;
    }
    let mut c = Classification::clone(&v);
    for (st, k) in c.statements.iter_mut().zip(key_spans) {
        st.span = here(k);
    }
    Arc::new(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_types_are_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<Classifier>();
        check::<Classification>();
        check::<Statement>();
        check::<StatementKind>();
        check::<Effect>();
        check::<Dialect>();
        check::<ClassifierBuilder>();
    }

    #[test]
    fn cache_never_mixes_constants_that_matter() {
        let c = Classifier::new();
        for _ in 0..2 {
            assert!(!c.classify("DELETE FROM t WHERE 1 = 0").statements[0].unbounded);
            assert!(c.classify("DELETE FROM t WHERE 1 = 1").statements[0].unbounded);
            assert!(
                !c.classify("SET default_transaction_read_only = 'on'")
                    .statements[0]
                    .read_write
            );
            assert!(
                c.classify("SET default_transaction_read_only = 'off'")
                    .statements[0]
                    .read_write
            );
            assert!(
                c.classify("SELECT set_config('role', 'x', false)")
                    .statements[0]
                    .role_change
            );
            assert!(
                !c.classify("SELECT set_config('work_mem', 'x', false)")
                    .statements[0]
                    .role_change
            );
            // A constant value changes the session; a value computed from what the statement
            // reads (or a parameter) is kept for later statements to read back: a write.
            for (sql, effect) in [
                (
                    "SELECT set_config('work_mem', '64MB', false)",
                    Effect::Session,
                ),
                (
                    "SELECT set_config('work_mem', '64MB'::text, true)",
                    Effect::Session,
                ),
                (
                    "SELECT set_config('x.y', translate(ssn, '0123', 'abcd'), false) FROM customers",
                    Effect::Write,
                ),
                ("SELECT set_config('x.y', $1, false)", Effect::Write),
                (
                    "SELECT set_config('application_name', (SELECT email FROM customers LIMIT 1), false)",
                    Effect::Write,
                ),
            ] {
                assert_eq!(c.classify(sql).statements[0].effect, effect, "{sql}");
            }
            // Which setting is read is a constant of the text: the cache must not answer for
            // a secret one with what it found for a plain one.
            for (plain, secret) in [
                (
                    "SELECT current_setting('work_mem')",
                    "SELECT current_setting('primary_conninfo')",
                ),
                (
                    "SELECT setting FROM pg_settings WHERE name = 'work_mem'",
                    "SELECT setting FROM pg_settings WHERE name = 'primary_conninfo'",
                ),
            ] {
                assert!(c.classify(plain).statements[0].danger.is_empty(), "{plain}");
                assert_eq!(
                    c.classify(secret).statements[0].danger,
                    ["credential_access"],
                    "{secret}"
                );
            }
            // pg_dump sets a setting that may not exist through its pg_settings row: the
            // setting named is a fact, as with a constant name.
            let st = &c
                .classify(
                    "SELECT set_config(name, 'view, foreign-table', false) FROM pg_settings \
                     WHERE name = 'restrict_nonsystem_relation_kind'",
                )
                .statements[0];
            assert!(!st.role_change && !st.opaque && !st.read_write, "{st:?}");
            assert_eq!(st.effect, Effect::Session);
            assert_eq!(st.settings, ["restrict_nonsystem_relation_kind"]);
            // Anything else with a computed name may set anything.
            for sql in [
                "SELECT set_config(name, 'x', false) FROM pg_settings WHERE name = 'role'",
                "SELECT set_config(name, 'x', false) FROM pg_settings",
                "SELECT set_config(name, 'x', false) FROM pg_settings WHERE name <> 'work_mem'",
                "SELECT set_config(name, 'x', false) FROM pg_settings s WHERE name = 'work_mem'",
                "SELECT set_config(name, 'x', false) FROM other WHERE name = 'work_mem'",
                "SELECT (SELECT set_config(name, 'x', false) FROM t) FROM pg_settings \
                 WHERE name = 'work_mem'",
            ] {
                assert!(c.classify(sql).statements[0].role_change, "{sql}");
            }
            // `''` parses like STDIN; a file name normalizes to the same text (found by the
            // sql_classify fuzz target).
            for sql in [
                "COPY t FROM ''",
                "COPY t FROM '/etc/passwd'",
                "COPY t TO '/tmp/x'",
            ] {
                assert_eq!(*c.classify(sql), c.classify_uncached(sql), "{sql}");
            }
            assert_eq!(
                c.classify("COPY t FROM '/etc/passwd'").statements[0].copy_target,
                Some("file")
            );
        }
    }

    #[test]
    fn spans_of_multi_statement_strings() {
        let sql = "/* héllo */ SELECT 'ü' ; -- ß;\n  UPDATE t SET a = 'ß;' WHERE id = 1 ;\n\
                   DELETE FROM \"tä;\" WHERE b = 'x'\n";
        let c = Classifier::new();
        let cl = c.classify_uncached(sql);
        let texts: Vec<&str> = cl
            .statements
            .iter()
            .map(|s| &sql[s.span.clone().unwrap()])
            .collect();
        assert_eq!(
            texts,
            [
                "SELECT 'ü'",
                "UPDATE t SET a = 'ß;' WHERE id = 1",
                "DELETE FROM \"tä;\" WHERE b = 'x'",
            ]
        );
        // Empty statements are not statements; a trailing `;` is not part of the last one.
        // A comment inside a statement, even before its `;`, is part of it.
        let sql = "SELECT 1 /* one */;;\tSELECT 2;  ";
        let cl = c.classify_uncached(sql);
        let texts: Vec<&str> = cl
            .statements
            .iter()
            .map(|s| &sql[s.span.clone().unwrap()])
            .collect();
        assert_eq!(texts, ["SELECT 1 /* one */", "SELECT 2"]);
        // Unparsable text and MySQL: no spans.
        assert_eq!(c.classify_uncached("SELEC 1").statements[0].span, None);
        let my = Classifier::builder().dialect(Dialect::MySql).build();
        assert_eq!(my.classify("SELECT 1; SELECT 2").statements[1].span, None);
    }

    #[test]
    fn cached_spans_follow_the_text() {
        let c = Classifier::new();
        let first = "SELECT 1 FROM t WHERE a = 'x'; DELETE FROM t WHERE id = 7";
        let a = c.classify(first);
        for other in [
            "SELECT 1000 FROM t WHERE a = 'longer'; DELETE FROM t WHERE id = 123456",
            "SELECT 2 FROM t WHERE a = ''; DELETE FROM t WHERE id = 8",
            first,
        ] {
            let b = c.classify(other);
            assert_eq!(*b, c.classify_uncached(other), "{other}");
            assert_eq!(
                &other[b.statements[1].span.clone().unwrap()][..16],
                "DELETE FROM t WH"
            );
            // Same literal lengths: the very same cached classification.
            assert_eq!(Arc::ptr_eq(&a, &b), other.len() == first.len(), "{other}");
        }
    }

    #[test]
    fn cache_shares_constant_free_forms() {
        let c = Classifier::new();
        let a = c.classify("SELECT * FROM t WHERE id = 1");
        let b = c.classify("SELECT * FROM t WHERE id = 2");
        assert!(Arc::ptr_eq(&a, &b));
        assert_eq!(*a, c.classify_uncached("SELECT * FROM t WHERE id = 2"));
    }
}
