//! The classification of one statement and of a whole string, and their facts.

use guard_core::Facts;

use super::{Dialect, Effect, StatementKind};

/// The classification of one statement.
///
/// Lists keep the order in which the statement names things and hold each name once. Table
/// names are reported as written (`users`, `public.users`), after the parser's case folding
/// (unquoted identifiers are lower-cased). Function names likewise (`pg_catalog.pg_read_file`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Statement {
    /// The statement's kind (`sql.statement`).
    pub kind: StatementKind,
    /// What it does (`sql.effect`), the most consequential effect of everything it runs.
    pub effect: Effect,
    /// Every command it runs: its own kind first, then nested ones that execute with it
    /// (data-modifying CTEs, the target of `EXPLAIN ANALYZE`, the body of a resolved
    /// `EXECUTE`) (`sql.commands`).
    pub commands: Vec<StatementKind>,
    /// Tables it reads (`sql.tables.read`).
    pub tables_read: Vec<String>,
    /// Tables whose rows or definition it changes (`sql.tables.write`).
    pub tables_written: Vec<String>,
    /// Columns it refers to (`sql.columns`): the last part of each column reference
    /// (`ssn` for `c.ssn`), of `USING (...)` joins and of a `COPY` column list; `*` for
    /// `SELECT *`, `t.*`, a whole-row reference (`to_json(t)`, `SELECT t FROM t`) and a
    /// `COPY` of a whole table.
    pub columns: Vec<String>,
    /// For a statement that returns rows (`SELECT`, `... RETURNING`, `COPY (query)`, a
    /// resolved `EXECUTE`) whose text lists its result columns one by one (no `*`, no CTE,
    /// subquery or function in `FROM`, no `VALUES`): per result column, in order, the columns
    /// its expression refers to, as in [`columns`](Self::columns) (`*` for a whole-row
    /// reference). `None` where that cannot be told from the text. Not a fact: it is for
    /// callers that attribute result columns (the gateway's masking of computed columns).
    pub result_columns: Option<Vec<Vec<String>>>,
    /// Functions it calls, as written (`sql.functions`).
    pub functions: Vec<String>,
    /// Called functions found in the dangerous-function catalog, unqualified
    /// (`sql.functions.dangerous`).
    pub dangerous_functions: Vec<String>,
    /// Called functions whose body the classifier cannot see, and operators that are not
    /// built in, as `OPERATOR(name)` (`sql.functions.opaque`).
    pub opaque_functions: Vec<String>,
    /// Danger categories (`sql.danger`): see the crate's fact table.
    pub danger: Vec<&'static str>,
    /// Whether what it does cannot be known from the text (`sql.opaque`).
    pub opaque: bool,
    /// Whether it changes every row of a table: `UPDATE`/`DELETE` without `WHERE` or with a
    /// constant-true one, `TRUNCATE`, `MERGE ... ON true` (`sql.unbounded`).
    pub unbounded: bool,
    /// Configuration parameters it sets or resets (`sql.settings`), lower-cased.
    pub settings: Vec<String>,
    /// Whether it changes the current role (`sql.role_change`).
    pub role_change: bool,
    /// Whether it asks for read-write mode (`sql.read_write`).
    pub read_write: bool,
    /// For `COPY`: `stdio`, `file` or `program` (`sql.copy.target`).
    pub copy_target: Option<&'static str>,
    /// For `COPY`: `in` (`FROM`: rows into a table) or `out` (`TO`: rows out of the server)
    /// (`sql.copy.direction`).
    pub copy_direction: Option<&'static str>,
    /// The table lock it takes explicitly (`LOCK`, `VACUUM FULL`, `CLUSTER`, `REINDEX`), such as
    /// `access_exclusive` (`sql.lock.mode`).
    pub lock_mode: Option<&'static str>,
    /// The prepared-statement name of `PREPARE`, `EXECUTE` or `DEALLOCATE` (`sql.prepared`);
    /// `all` for `DEALLOCATE ALL`.
    pub prepared: Option<String>,
    /// Where the statement is in the classified string, as a byte range: from its first token
    /// to just before its own `;` (or the end of the string), without trailing whitespace, as
    /// PostgreSQL 18's parser delimits statements (comments before the first token are not
    /// part of it, comments inside are). `&sql[span]` is the statement's text. `None` where it
    /// is not known: MySQL (sqlparser reports no byte offsets), unparsable text, and
    /// statements that are not in the text (a `PREPARE` body, a session's own statements).
    pub span: Option<std::ops::Range<usize>>,
    /// For `PREPARE`: the classification of its body, which `EXECUTE` runs.
    pub(crate) prepare_body: Option<Box<Statement>>,
}

impl Statement {
    pub(crate) fn new(kind: StatementKind, effect: Effect) -> Self {
        Statement {
            kind,
            effect,
            commands: vec![kind],
            tables_read: Vec::new(),
            tables_written: Vec::new(),
            columns: Vec::new(),
            result_columns: None,
            functions: Vec::new(),
            dangerous_functions: Vec::new(),
            opaque_functions: Vec::new(),
            danger: Vec::new(),
            opaque: false,
            unbounded: false,
            settings: Vec::new(),
            role_change: false,
            read_write: false,
            copy_target: None,
            copy_direction: None,
            lock_mode: None,
            prepared: None,
            span: None,
            prepare_body: None,
        }
    }

    /// Whether `self` and `other` differ at most in their `span`.
    fn same_but_span(&self, other: &Statement) -> bool {
        // Destructured in full, so that a new field is compared (or consciously left out).
        let Statement {
            kind,
            effect,
            commands,
            tables_read,
            tables_written,
            columns,
            result_columns,
            functions,
            dangerous_functions,
            opaque_functions,
            danger,
            opaque,
            unbounded,
            settings,
            role_change,
            read_write,
            copy_target,
            copy_direction,
            lock_mode,
            prepared,
            span: _,
            prepare_body,
        } = self;
        *kind == other.kind
            && *effect == other.effect
            && *commands == other.commands
            && *tables_read == other.tables_read
            && *tables_written == other.tables_written
            && *columns == other.columns
            && *result_columns == other.result_columns
            && *functions == other.functions
            && *dangerous_functions == other.dangerous_functions
            && *opaque_functions == other.opaque_functions
            && *danger == other.danger
            && *opaque == other.opaque
            && *unbounded == other.unbounded
            && *settings == other.settings
            && *role_change == other.role_change
            && *read_write == other.read_write
            && *copy_target == other.copy_target
            && *copy_direction == other.copy_direction
            && *lock_mode == other.lock_mode
            && *prepared == other.prepared
            && *prepare_body == other.prepare_body
    }

    /// The body a `PREPARE` statement prepares, classified as if it ran.
    pub fn prepared_body(&self) -> Option<&Statement> {
        self.prepare_body.as_deref()
    }

    /// This statement's own facts (without the whole-string facts `sql.dialect`,
    /// `sql.statements`, `sql.effect.max`, `sql.unparsable`: see
    /// [`Classification::statement_facts`]).
    pub fn facts(&self) -> Facts {
        let mut f = Facts::new();
        self.write_facts(&mut f);
        f
    }

    fn write_facts(&self, f: &mut Facts) {
        let all_tables = union(&self.tables_read, &self.tables_written);
        f.insert("sql.statement", self.kind.as_str())
            .insert("sql.effect", self.effect.as_str())
            .insert(
                "sql.commands",
                strs(self.commands.iter().map(|k| k.as_str())),
            )
            .insert("sql.tables", all_tables)
            .insert("sql.tables.read", self.tables_read.clone())
            .insert("sql.tables.write", self.tables_written.clone())
            .insert("sql.columns", self.columns.clone())
            .insert("sql.functions", self.functions.clone())
            .insert("sql.functions.dangerous", self.dangerous_functions.clone())
            .insert("sql.functions.opaque", self.opaque_functions.clone())
            .insert("sql.danger", strs(self.danger.iter().copied()))
            .insert("sql.opaque", self.opaque)
            .insert("sql.unbounded", self.unbounded)
            .insert("sql.settings", self.settings.clone())
            .insert("sql.role_change", self.role_change)
            .insert("sql.read_write", self.read_write);
        if let Some(t) = self.copy_target {
            f.insert("sql.copy.target", t);
        }
        if let Some(d) = self.copy_direction {
            f.insert("sql.copy.direction", d);
        }
        if let Some(m) = self.lock_mode {
            f.insert("sql.lock.mode", m);
        }
        if let Some(p) = &self.prepared {
            f.insert("sql.prepared", p.clone());
        }
    }

    pub(crate) fn push_command(&mut self, k: StatementKind) {
        if !self.commands.contains(&k) {
            self.commands.push(k);
        }
    }

    /// Resolves an `EXECUTE` against the prepared body it runs.
    pub(crate) fn resolve_execute(&mut self, body: &Statement) {
        // What the parameters call (dangerous functions) still counts; the unknown effect of
        // an unresolved EXECUTE no longer does.
        self.effect = body.effect;
        for name in &self.dangerous_functions {
            if let Some(d) = super::functions::dangerous(name) {
                self.effect = self.effect.max(d.effect);
            }
        }
        self.opaque = !self.opaque_functions.is_empty();
        self.absorb(body);
        self.result_columns.clone_from(&body.result_columns);
    }

    /// Folds everything `other` runs into `self` (used for `EXECUTE` resolution).
    pub(crate) fn absorb(&mut self, other: &Statement) {
        self.effect = self.effect.max(other.effect);
        for k in &other.commands {
            self.push_command(*k);
        }
        push_all(&mut self.tables_read, &other.tables_read);
        push_all(&mut self.tables_written, &other.tables_written);
        push_all(&mut self.columns, &other.columns);
        push_all(&mut self.functions, &other.functions);
        push_all(&mut self.dangerous_functions, &other.dangerous_functions);
        push_all(&mut self.opaque_functions, &other.opaque_functions);
        push_all(&mut self.settings, &other.settings);
        for d in &other.danger {
            if !self.danger.contains(d) {
                self.danger.push(d);
            }
        }
        self.opaque |= other.opaque;
        self.unbounded |= other.unbounded;
        self.role_change |= other.role_change;
        self.read_write |= other.read_write;
        self.copy_target = self.copy_target.or(other.copy_target);
        self.copy_direction = self.copy_direction.or(other.copy_direction);
        self.lock_mode = self.lock_mode.or(other.lock_mode);
    }
}

/// The classification of a whole (possibly multi-statement) string.
///
/// A string that does not parse yields one statement of kind [`StatementKind::Unparsable`]
/// with effect [`Effect::Unknown`] and `sql.unparsable=true`, so a policy denies it unless it
/// says otherwise.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Classification {
    /// The dialect the string was classified in.
    pub dialect: Dialect,
    /// The statements, in order. Never empty: an empty string yields no statements only when
    /// it holds nothing but whitespace and comments (then [`Classification::is_empty`]).
    pub statements: Vec<Statement>,
    /// Why the string did not parse, if it did not.
    pub error: Option<String>,
    /// Whether the facts depended on the value of a constant (cache keying, see DESIGN.md).
    pub(crate) const_sensitive: bool,
}

impl Classification {
    pub(crate) fn unparsable(dialect: Dialect, error: String) -> Self {
        let mut st = Statement::new(StatementKind::Unparsable, Effect::Unknown);
        st.opaque = true;
        Classification {
            dialect,
            statements: vec![st],
            error: Some(error),
            const_sensitive: false,
        }
    }

    /// A classification for something that cannot be known (an `Execute` of a portal the
    /// session does not know, a fast-path `FunctionCall`): `kind` with effect `unknown` and
    /// `sql.opaque=true`.
    pub(crate) fn unknown(dialect: Dialect, kind: StatementKind) -> Self {
        let mut st = Statement::new(kind, Effect::Unknown);
        st.opaque = true;
        Classification {
            dialect,
            statements: vec![st],
            error: None,
            const_sensitive: false,
        }
    }

    /// Whether the string did not parse (`sql.unparsable`).
    pub fn is_unparsable(&self) -> bool {
        self.error.is_some()
    }

    /// Whether the string held no statement at all (only whitespace, comments, semicolons).
    pub fn is_empty(&self) -> bool {
        self.statements.is_empty()
    }

    /// The most consequential effect of any statement (`sql.effect.max`); `read` when empty.
    pub fn effect(&self) -> Effect {
        self.statements
            .iter()
            .map(|s| s.effect)
            .max()
            .unwrap_or(Effect::Read)
    }

    /// Whether `self` and `other` are the same classification but for their statements'
    /// [`spans`](Statement::span), which facts do not include: a caller that keeps facts per
    /// classification can reuse them for a text that differs from an earlier one only in the
    /// length of its constants (`... WHERE id = 7` and `... WHERE id = 1234`), which
    /// [`Classifier::classify`](super::Classifier::classify) answers from one cached entry with
    /// the spans of each text.
    ///
    /// # Examples
    /// ```
    /// use guard_sql::classify::Classifier;
    ///
    /// let c = Classifier::new();
    /// let a = c.classify("SELECT name FROM users WHERE id = 7");
    /// let b = c.classify("SELECT name FROM users WHERE id = 1234");
    /// assert_ne!(a.statements[0].span, b.statements[0].span);
    /// assert!(a.same_but_spans(&b));
    /// assert_eq!(a.statement_facts(0), b.statement_facts(0));
    /// assert!(!a.same_but_spans(&c.classify("SELECT name FROM orders WHERE id = 7")));
    /// ```
    pub fn same_but_spans(&self, other: &Classification) -> bool {
        // Destructured in full, so that a new field is compared (or consciously left out).
        let Classification {
            dialect,
            statements,
            error,
            const_sensitive,
        } = self;
        *dialect == other.dialect
            && *error == other.error
            && *const_sensitive == other.const_sensitive
            && statements.len() == other.statements.len()
            && statements
                .iter()
                .zip(&other.statements)
                .all(|(a, b)| a.same_but_span(b))
    }

    /// The facts of statement `index` plus the whole-string facts (`sql.dialect`,
    /// `sql.statements`, `sql.effect.max`, `sql.unparsable`): what a policy evaluates for one
    /// statement. `None` when `index` is out of range.
    pub fn statement_facts(&self, index: usize) -> Option<Facts> {
        let st = self.statements.get(index)?;
        let mut f = Facts::new();
        st.write_facts(&mut f);
        self.write_string_facts(&mut f);
        Some(f)
    }

    /// The facts of the whole string: lists are the union over all statements, booleans are
    /// true when any statement's is, `sql.effect` and `sql.statement` are those of the most
    /// consequential statement (the first such), and the whole-string facts are added. For a
    /// single statement this equals `statement_facts(0)`.
    pub fn facts(&self) -> Facts {
        let mut f = Facts::new();
        let mut top: Option<&Statement> = None;
        for st in &self.statements {
            if top.is_none_or(|t| st.effect > t.effect) {
                top = Some(st);
            }
        }
        let Some(top) = top else {
            let empty = Statement::new(StatementKind::Other, Effect::Read);
            empty.write_facts(&mut f);
            f.insert("sql.commands", Vec::<String>::new());
            self.write_string_facts(&mut f);
            return f;
        };
        let mut merged = top.clone();
        merged.commands.clear();
        merged.prepared = None;
        for st in &self.statements {
            merged.absorb(st);
            if merged.prepared.is_none() {
                merged.prepared.clone_from(&st.prepared);
            }
        }
        merged.effect = top.effect;
        merged.write_facts(&mut f);
        self.write_string_facts(&mut f);
        f
    }

    fn write_string_facts(&self, f: &mut Facts) {
        f.insert("sql.dialect", self.dialect.as_str())
            .insert(
                "sql.statements",
                i64::try_from(self.statements.len()).unwrap_or(i64::MAX),
            )
            .insert("sql.effect.max", self.effect().as_str())
            .insert("sql.unparsable", self.is_unparsable());
    }
}

fn strs<'a>(it: impl Iterator<Item = &'a str>) -> Vec<String> {
    it.map(str::to_owned).collect()
}

fn union(a: &[String], b: &[String]) -> Vec<String> {
    let mut out = a.to_vec();
    push_all(&mut out, b);
    out
}

pub(crate) fn push_all(dst: &mut Vec<String>, src: &[String]) {
    for s in src {
        push_unique(dst, s);
    }
}

pub(crate) fn push_unique(dst: &mut Vec<String>, s: &str) {
    if !dst.iter().any(|d| d == s) {
        dst.push(s.to_owned());
    }
}
