//! Per-connection protocol state: which classification a statement or portal runs.
//!
//! PostgreSQL keeps prepared statements per connection, in one namespace shared by SQL
//! `PREPARE` and the extended protocol's Parse, and portals (Bind) per transaction. A
//! [`Session`] mirrors that so the gateway can decide what an `EXECUTE name` or an Execute
//! message really runs. It follows the server's rules where they matter for safety:
//!
//! - a named statement that already exists is kept: the server refuses the new `PREPARE` or
//!   Parse ("already exists") and keeps running the old one, so must we;
//! - the unnamed statement is replaced at each Parse; a portal is replaced at each Bind (a
//!   failing Bind aborts the transaction, which drops the old portal anyway);
//! - `DEALLOCATE name`, `DEALLOCATE ALL`, `DISCARD ALL` and Close remove entries.
//!
//! Where the session and the server can disagree (a statement denied by policy but recorded
//! here, a `DEALLOCATE` that failed on the server), the session errs towards knowing *more*
//! than the server or nothing: an `EXECUTE` of a name the session does not know is opaque
//! with effect `unknown`, which policies deny by default. Transaction state is not tracked
//! here (the gateway reads ReadyForQuery).

use std::collections::HashMap;
use std::sync::Arc;

use crate::classify::{Classification, Classifier, StatementKind};
use crate::pg::{FrontendMessage, Target};

/// Per-connection prepared statements and portals, with their classifications.
///
/// # Examples
///
/// ```
/// use guard_sql::Session;
/// use guard_sql::classify::{Classifier, Effect, StatementKind};
///
/// let classifier = Classifier::new();
/// let mut session = Session::new();
///
/// // Simple query: PREPARE, then EXECUTE resolves to the prepared DELETE.
/// session.classify_query(&classifier, "PREPARE p AS DELETE FROM users");
/// let c = session.classify_query(&classifier, "EXECUTE p");
/// let st = &c.statements[0];
/// assert_eq!(st.kind, StatementKind::Execute);
/// assert_eq!(st.commands, [StatementKind::Execute, StatementKind::Delete]);
/// assert_eq!(st.effect, Effect::Write);
/// assert!(st.unbounded);
///
/// // Extended protocol: Parse, Bind, Execute.
/// session.on_parse(&classifier, "s1", "UPDATE t SET a = $1 WHERE id = $2");
/// session.on_bind("", "s1");
/// let c = session.on_execute("");
/// assert_eq!(c.statements[0].kind, StatementKind::Update);
/// ```
#[derive(Debug, Clone, Default)]
pub struct Session {
    prepared: HashMap<String, Arc<Classification>>,
    portals: HashMap<String, Arc<Classification>>,
    max_entries: usize,
}

impl Session {
    /// Default bound on prepared statements (and, separately, portals) a session remembers.
    pub const DEFAULT_MAX_ENTRIES: usize = 10_000;

    /// An empty session.
    pub fn new() -> Self {
        Session::with_max_entries(Self::DEFAULT_MAX_ENTRIES)
    }

    /// An empty session remembering at most `max` prepared statements and `max` portals.
    /// Beyond that new ones are not remembered, so executing them classifies as unknown.
    pub fn with_max_entries(max: usize) -> Self {
        Session {
            prepared: HashMap::new(),
            portals: HashMap::new(),
            max_entries: max,
        }
    }

    /// Classifies a simple-query string: `EXECUTE` statements are resolved to what they run,
    /// and `PREPARE`, `DEALLOCATE` and `DISCARD ALL` update the session, in statement order.
    pub fn classify_query(&mut self, classifier: &Classifier, sql: &str) -> Arc<Classification> {
        let c = classifier.classify(sql);
        self.resolve(c, true)
    }

    /// Records an extended-protocol Parse of `sql` as statement `name` (empty: the unnamed
    /// statement) and returns its classification (decide on it now, and again at Execute).
    pub fn on_parse(
        &mut self,
        classifier: &Classifier,
        name: &str,
        sql: &str,
    ) -> Arc<Classification> {
        let c = self.resolve(classifier.classify(sql), false);
        self.remember_statement(name, Arc::clone(&c));
        c
    }

    /// Records a Bind of `statement` to `portal` (empty names: the unnamed ones). Returns the
    /// classification the portal will run, or `None` when the statement is unknown (the
    /// server will refuse the Bind; the portal is forgotten).
    pub fn on_bind(&mut self, portal: &str, statement: &str) -> Option<Arc<Classification>> {
        match self.prepared.get(statement).cloned() {
            Some(c) => {
                if self.portals.len() < self.max_entries || self.portals.contains_key(portal) {
                    self.portals.insert(portal.to_owned(), Arc::clone(&c));
                } else {
                    self.portals.remove(portal);
                }
                Some(c)
            }
            None => {
                self.portals.remove(portal);
                None
            }
        }
    }

    /// What an Execute of `portal` runs, without changing the session; `None` for an unknown
    /// portal.
    pub fn statement_for_execute(&self, portal: &str) -> Option<Arc<Classification>> {
        self.portals.get(portal).map(|c| self.resolve_only(c))
    }

    /// What an Execute of `portal` runs (resolved against the prepared statements as they are
    /// now), applying its `PREPARE`/`DEALLOCATE` effects. An unknown portal classifies as an
    /// opaque `execute` with effect `unknown`.
    pub fn on_execute(&mut self, portal: &str) -> Arc<Classification> {
        match self.portals.get(portal).cloned() {
            Some(c) => self.resolve(c, true),
            None => Arc::new(Classification::unknown(
                crate::classify::Dialect::Postgres,
                StatementKind::Execute,
            )),
        }
    }

    /// Records a Close of a statement or portal.
    pub fn on_close(&mut self, target: Target, name: &str) {
        match target {
            Target::Statement => {
                self.prepared.remove(name);
            }
            Target::Portal => {
                self.portals.remove(name);
            }
        }
    }

    /// Feeds one decoded frontend message. Returns the classification to decide on for
    /// `Query`, `Parse`, `Bind` (what the portal will run), `Execute` and `FunctionCall`
    /// (opaque: it calls a function by OID); `None` for messages that run nothing. Non-UTF-8
    /// SQL classifies as unparsable.
    pub fn on_message(
        &mut self,
        classifier: &Classifier,
        msg: &FrontendMessage<'_>,
    ) -> Option<Arc<Classification>> {
        match msg {
            FrontendMessage::Query(q) => Some(match q.sql.to_str() {
                Ok(sql) => self.classify_query(classifier, sql),
                Err(_) => not_utf8(classifier),
            }),
            FrontendMessage::Parse(p) => {
                let name = p.name.to_string_lossy();
                Some(match p.query.to_str() {
                    Ok(sql) => self.on_parse(classifier, &name, sql),
                    Err(_) => {
                        let c = not_utf8(classifier);
                        self.remember_statement(&name, Arc::clone(&c));
                        c
                    }
                })
            }
            FrontendMessage::Bind(b) => {
                let portal = b.portal.to_string_lossy();
                let statement = b.statement.to_string_lossy();
                Some(self.on_bind(&portal, &statement).unwrap_or_else(|| {
                    Arc::new(Classification::unknown(
                        classifier.dialect(),
                        StatementKind::Execute,
                    ))
                }))
            }
            FrontendMessage::Execute(e) => Some(self.on_execute(&e.portal.to_string_lossy())),
            FrontendMessage::Close(c) => {
                self.on_close(c.target, &c.name.to_string_lossy());
                None
            }
            FrontendMessage::FunctionCall(_) => Some(Arc::new(Classification::unknown(
                classifier.dialect(),
                StatementKind::Call,
            ))),
            _ => None,
        }
    }

    /// The classification of prepared statement `name`, if the session knows it.
    pub fn prepared(&self, name: &str) -> Option<Arc<Classification>> {
        self.prepared.get(name).cloned()
    }

    /// Forgets every prepared statement and portal (as after `DISCARD ALL`).
    pub fn reset(&mut self) {
        self.prepared.clear();
        self.portals.clear();
    }

    fn remember_statement(&mut self, name: &str, c: Arc<Classification>) {
        if name.is_empty() {
            self.prepared.insert(String::new(), c);
        } else if !self.prepared.contains_key(name) && self.prepared.len() < self.max_entries {
            self.prepared.insert(name.to_owned(), c);
        }
    }

    /// Resolves `EXECUTE`s without changing anything.
    fn resolve_only(&self, c: &Arc<Classification>) -> Arc<Classification> {
        if !needs_session(c) {
            return Arc::clone(c);
        }
        let mut out = (**c).clone();
        for st in &mut out.statements {
            if st.kind == StatementKind::Execute
                && let Some(body) = st.prepared.as_deref().and_then(|n| self.prepared.get(n))
                && let Some(b) = body.statements.first()
            {
                st.resolve_execute(b);
            }
        }
        Arc::new(out)
    }

    /// Resolves `EXECUTE`s and, when `apply`, records `PREPARE`/`DEALLOCATE`/`DISCARD ALL`,
    /// statement by statement.
    fn resolve(&mut self, c: Arc<Classification>, apply: bool) -> Arc<Classification> {
        if !needs_session(&c) {
            return c;
        }
        let mut out = (*c).clone();
        for st in &mut out.statements {
            match st.kind {
                StatementKind::Execute => {
                    if let Some(body) = st.prepared.as_deref().and_then(|n| self.prepared.get(n))
                        && let Some(b) = body.statements.first().cloned()
                    {
                        st.resolve_execute(&b);
                    }
                }
                StatementKind::Prepare if apply => {
                    if let (Some(name), Some(body)) = (st.prepared.clone(), st.prepared_body()) {
                        let body = Classification {
                            dialect: out.dialect,
                            statements: vec![body.clone()],
                            error: None,
                            const_sensitive: false,
                        };
                        self.remember_statement(&name, Arc::new(body));
                    }
                }
                StatementKind::Deallocate if apply => match st.prepared.as_deref() {
                    Some("all") => self.prepared.clear(),
                    Some(name) => {
                        self.prepared.remove(name);
                    }
                    None => {}
                },
                StatementKind::Discard if apply && st.prepared.as_deref() == Some("all") => {
                    self.reset();
                }
                _ => {}
            }
        }
        Arc::new(out)
    }
}

fn needs_session(c: &Classification) -> bool {
    c.statements.iter().any(|s| {
        matches!(
            s.kind,
            StatementKind::Execute
                | StatementKind::Prepare
                | StatementKind::Deallocate
                | StatementKind::Discard
        )
    })
}

fn not_utf8(classifier: &Classifier) -> Arc<Classification> {
    Arc::new(Classification::unparsable(
        classifier.dialect(),
        "query text is not valid UTF-8".to_owned(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classify::Effect;

    #[test]
    fn session_is_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<Session>();
    }

    #[test]
    fn existing_name_keeps_old_body() {
        let cl = Classifier::new();
        let mut s = Session::new();
        s.classify_query(&cl, "PREPARE p AS DELETE FROM users");
        // The server refuses this PREPARE (p exists) and keeps the DELETE.
        s.classify_query(&cl, "PREPARE p AS SELECT 1");
        let c = s.classify_query(&cl, "EXECUTE p");
        assert_eq!(c.statements[0].effect, Effect::Write);
        s.classify_query(&cl, "DEALLOCATE p");
        let c = s.classify_query(&cl, "EXECUTE p");
        assert_eq!(c.statements[0].effect, Effect::Unknown);
        assert!(c.statements[0].opaque);
    }

    #[test]
    fn prepare_and_execute_in_one_string() {
        let cl = Classifier::new();
        let mut s = Session::new();
        let c = s.classify_query(&cl, "PREPARE q AS UPDATE t SET a = 1; EXECUTE q");
        assert_eq!(c.statements[1].tables_written, ["t"]);
        assert!(c.statements[1].unbounded);
        assert!(!c.statements[1].opaque);
        s.classify_query(&cl, "DISCARD ALL");
        assert!(s.prepared("q").is_none());
    }

    #[test]
    fn extended_protocol_flow() {
        let cl = Classifier::new();
        let mut s = Session::new();
        s.on_parse(&cl, "", "SELECT 1");
        s.on_parse(&cl, "", "DELETE FROM t");
        assert_eq!(
            s.on_bind("", "").unwrap().statements[0].kind,
            StatementKind::Delete
        );
        assert_eq!(s.on_execute("").statements[0].kind, StatementKind::Delete);
        assert!(s.on_bind("p", "missing").is_none());
        assert_eq!(s.on_execute("p").statements[0].effect, Effect::Unknown);
        s.on_close(Target::Statement, "");
        assert!(s.prepared("").is_none());
        // A Parse of EXECUTE resolves against SQL-level PREPAREs.
        s.classify_query(&cl, "PREPARE d AS DROP TABLE x");
        s.on_parse(&cl, "e", "EXECUTE d");
        s.on_bind("", "e");
        let c = s.on_execute("");
        assert_eq!(c.statements[0].commands, [StatementKind::Execute]);
    }

    #[test]
    fn typed_messages_drive_the_session() {
        use crate::pg::{Close, Execute, PgStr, Query};
        let cl = Classifier::new();
        let mut s = Session::new();
        let q = FrontendMessage::Query(Query {
            sql: PgStr::from_static("PREPARE p AS DELETE FROM t"),
        });
        assert_eq!(
            s.on_message(&cl, &q).unwrap().statements[0].kind,
            StatementKind::Prepare
        );
        let q = FrontendMessage::Query(Query {
            sql: PgStr::from_static("EXECUTE p"),
        });
        assert_eq!(
            s.on_message(&cl, &q).unwrap().statements[0].effect,
            Effect::Write
        );
        let close = FrontendMessage::Close(Close {
            target: Target::Statement,
            name: PgStr::from_static("p"),
        });
        assert!(s.on_message(&cl, &close).is_none());
        assert!(s.prepared("p").is_none());
        let exec = FrontendMessage::Execute(Execute {
            portal: PgStr::from_static("nope"),
            max_rows: 0,
        });
        let c = s.on_message(&cl, &exec).unwrap();
        assert!(c.statements[0].opaque);
    }

    #[test]
    fn bounded() {
        let cl = Classifier::new();
        let mut s = Session::with_max_entries(2);
        for i in 0..5 {
            s.on_parse(&cl, &format!("s{i}"), "SELECT 1");
        }
        assert!(s.prepared("s1").is_some() && s.prepared("s4").is_none());
    }
}
