//! One decision per statement: classify (guard-sql), evaluate (guard-core) with the grants
//! active now, log, count. Policy logic itself lives in guard-core; this only combines the
//! per-statement verdicts of one message the way CONTRACTS.md says.

use std::sync::Arc;
use std::time::{Duration, Instant};

use guard_core::{Decision, Facts, Identity, Request, Resource, Verdict};
use guard_sql::classify::Classification;

use crate::gateway::{Runtime, Shared, now_ts, now_us};

/// The mask profiles applied to what statements return.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Masks {
    /// The profiles, by name.
    pub(crate) profiles: Vec<String>,
    /// Which computed result columns may come from a column a rule of the profiles hides.
    pub(crate) derived: Derived,
    /// What the statements refer to, for masking.rs (the views among them, the names their
    /// errors may quote, whether they compute out of sight).
    pub(crate) reads: Reads,
}

/// The facts of the statements whose results are masked, kept when a profile with column
/// rules applies: a computed column over a view can come from a rule's column without the
/// statement naming it, which only the catalog tells, and how far an error's text is trusted
/// depends on what the statement named and whether it computes out of sight (masking.rs).
#[derive(Debug, Clone, Default)]
pub(crate) struct Reads {
    /// The facts of each statement.
    pub(crate) facts: Option<Arc<[Facts]>>,
    /// Their classification, for the columns each result column refers to (guard-sql's
    /// `result_columns`); `None` for statements of several messages taken together.
    pub(crate) class: Option<Arc<Classification>>,
}

impl Reads {
    /// `(sql.tables, sql.columns)` of each statement.
    pub(crate) fn lists(&self) -> impl Iterator<Item = (&[String], &[String])> {
        fn list<'f>(f: &'f Facts, name: &str) -> &'f [String] {
            f.get(name).and_then(|v| v.as_list()).unwrap_or(&[])
        }
        (self.facts.iter())
            .flat_map(|f| f.iter())
            .map(move |f| (list(f, "sql.tables"), list(f, "sql.columns")))
    }

    /// Whether one of the statements computes where its text does not show.
    pub(crate) fn out_of_sight(&self) -> bool {
        self.facts
            .as_ref()
            .is_some_and(|f| f.iter().any(computes_out_of_sight))
    }

    /// The columns result column `i` refers to, where that is known: one statement whose text
    /// lists its result columns one by one.
    pub(crate) fn result_column(&self, i: usize) -> Option<&[String]> {
        self.results()?.get(i).map(Vec::as_slice)
    }

    fn results(&self) -> Option<&Vec<Vec<String>>> {
        match &self.class.as_ref()?.statements[..] {
            [st] => st.result_columns.as_ref(),
            _ => None,
        }
    }

    fn and(self, other: Reads) -> Reads {
        match (self.facts, other.facts) {
            (None, facts) => Reads {
                facts,
                class: other.class,
            },
            (facts, None) => Reads {
                facts,
                class: self.class,
            },
            (Some(a), Some(b)) if Arc::ptr_eq(&a, &b) => Reads {
                facts: Some(a),
                class: self.class,
            },
            (Some(a), Some(b)) => Reads {
                facts: Some(a.iter().chain(b.iter()).cloned().collect()),
                class: None,
            },
        }
    }
}

/// Whether a statement computes its rows where its text does not show: a `FETCH` from a
/// cursor declared earlier, functions the gateway does not know, `CALL`, an `EXECUTE` that
/// could not be resolved (`sql.opaque`), text guard-sql could not parse.
fn computes_out_of_sight(f: &Facts) -> bool {
    let flag = |name| f.get(name).and_then(|v| v.as_bool()) == Some(true);
    flag("sql.opaque")
        || flag("sql.unparsable")
        || f.get("sql.statement").and_then(|v| v.as_str()) == Some("fetch")
}

/// Why the gateway cannot know what a statement does from its text (`sql.unparsable`,
/// `sql.opaque`), for the client's error message; `None` when it can.
fn opaque_reason(f: &Facts) -> Option<String> {
    let flag = |name| f.get(name).and_then(|v| v.as_bool()) == Some(true);
    if flag("sql.unparsable") {
        return Some("the statement could not be parsed".to_owned());
    }
    if !flag("sql.opaque") {
        return None;
    }
    let unknown = (f.get("sql.functions.opaque").and_then(|v| v.as_list())).unwrap_or(&[]);
    Some(match f.get("sql.statement").and_then(|v| v.as_str()) {
        Some("do") => "a DO block runs procedural code".to_owned(),
        Some("call") => "CALL runs a procedure whose body is not in the statement".to_owned(),
        _ if !unknown.is_empty() => format!(
            "the statement calls functions or operators that are not built in ({})",
            unknown.join(", ")
        ),
        Some("execute") => "EXECUTE runs a prepared statement the gateway does not know".to_owned(),
        _ => "the statement runs SQL given as a string".to_owned(),
    })
}

/// Equal when the statements refer to the same relations and columns, by result column too
/// (what a result plan made from them depends on).
impl PartialEq for Reads {
    fn eq(&self, other: &Reads) -> bool {
        let facts = match (&self.facts, &other.facts) {
            (Some(a), Some(b)) if Arc::ptr_eq(a, b) => true,
            _ => self.lists().eq(other.lists()),
        };
        let class = match (&self.class, &other.class) {
            (Some(a), Some(b)) if Arc::ptr_eq(a, b) => true,
            _ => self.results() == other.results(),
        };
        facts && class
    }
}

impl Eq for Reads {}

/// Which computed result columns (`reverse(ssn)`, a `UNION` output, a CTE's expression: they
/// carry no source column for a rule to match) are masked whole (masking.rs).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) enum Derived {
    /// None: the statements refer to no column a rule may hide.
    #[default]
    No,
    /// Those whose flag is set, by position (guard-sql's `result_columns`).
    Columns(Arc<[bool]>),
    /// Every one: the statements refer to such a column and their result columns cannot be
    /// told apart, or compute their rows where the text does not show.
    All,
}

impl Derived {
    /// Whether computed result column `i` is masked whole.
    pub(crate) fn column(&self, i: usize) -> bool {
        match self {
            Derived::No => false,
            Derived::All => true,
            // Fail closed: a result with more columns than the statement listed.
            Derived::Columns(v) => v.get(i).copied().unwrap_or(true),
        }
    }

    /// Both together (several statements in one unit of responses): per-column flags only
    /// when they agree.
    fn and(self, other: Derived) -> Derived {
        match (self, other) {
            (Derived::No, d) | (d, Derived::No) => d,
            (Derived::Columns(a), Derived::Columns(b)) if a == b => Derived::Columns(a),
            _ => Derived::All,
        }
    }
}

impl Masks {
    /// Adds `other`'s profiles (each once) and its `derived`.
    pub(crate) fn extend(&mut self, other: Masks) {
        for p in other.profiles {
            if !self.profiles.contains(&p) {
                self.profiles.push(p);
            }
        }
        self.derived = std::mem::take(&mut self.derived).and(other.derived);
        self.reads = std::mem::take(&mut self.reads).and(other.reads);
    }
}

impl std::ops::Deref for Masks {
    type Target = [String];
    fn deref(&self) -> &[String] {
        &self.profiles
    }
}

/// What to do with one client message.
#[derive(Debug, Clone)]
pub(crate) enum Outcome {
    /// Forward it; apply these mask profiles to what comes back.
    Go { masks: Masks },
    /// Refuse it with this message.
    Refuse { message: String },
    /// Ask a human first.
    Hold {
        rules: Vec<String>,
        approvers: Vec<String>,
        needed: u32,
        timeout: Duration,
        masks: Masks,
    },
}

/// Per-session decision state.
pub(crate) struct Decider {
    pub(crate) shared: Arc<Shared>,
    pub(crate) identity: Identity,
    pub(crate) resource: Resource,
    pub(crate) session_id: u64,
    /// Prepared statements and portals (guard-sql keeps this protocol state).
    pub(crate) sql: guard_sql::Session,
    /// The session's recording.
    pub(crate) rec: Arc<crate::record::Rec>,
    /// Set when a strict recording failed: the session must end.
    pub(crate) rec_failed: Option<crate::record::RecordFailed>,
    /// Set by [`Decider::decide`] for a `COPY ... TO STDOUT` under a mask profile with column
    /// rules: what the gateway must learn before the COPY runs (masking.rs).
    pub(crate) copy_spec: Option<crate::masking::CopySpec>,
    /// Set by [`Decider::decide`] for a plain `SET application_name`: the statement that goes
    /// upstream in its place (pgproxy.rs).
    pub(crate) identity_set: Option<crate::pgproxy::IdentityNameSet>,
    /// The mask profiles the last decided statement's input was recorded with (for the rows of
    /// a `COPY ... FROM STDIN` that follow it).
    pub(crate) input_maskers: Vec<Arc<guard_mask::Masker>>,
    /// Recording on: the rows of the running `COPY ... FROM STDIN` (a prefix of at most
    /// [`crate::record::MAX_RECORDED_COPY_BYTES`]).
    pub(crate) copy_in_data: Vec<u8>,
    /// Facts of recently seen classifications.
    facts_cache: FactsCache,
    /// Bumped by each of the client's CancelRequests (a held statement watches it).
    pub(crate) cancels: Arc<tokio::sync::watch::Sender<u64>>,
    /// Set (by the Back task) when the server reports reading statements otherwise than the
    /// gateway does (`guard_sql::lexing`): every statement is refused, with this message.
    pub(crate) lexing_lost: Arc<std::sync::OnceLock<String>>,
}

/// How many classifications a session keeps the facts of.
const FACTS_CACHE: usize = 8;

/// The facts of a session's recent classifications. The classifier's cache hands out the
/// same `Arc` for a repeated statement (same normalized form), or a copy with other spans when
/// its constants have another length (`WHERE aid = 7`, `WHERE aid = 1234`); either way a hit
/// skips building the fact maps again, since facts hold no spans. Holding the `Arc` keeps its
/// address from being reused.
///
/// An entry also keeps the decisions made for its facts while they can be reused: under the
/// same runtime (a reload makes a new one, with the policy it loaded), a policy without time
/// windows and no active grant for the session's identity. The policy's answer is then a
/// function of the identity and resource (fixed for a session) and the facts.
#[derive(Default)]
struct FactsCache(Vec<FactsEntry>);

struct FactsEntry {
    class: Arc<Classification>,
    facts: Arc<[Facts]>,
    decided: Option<(Arc<Runtime>, Arc<[Decision]>)>,
}

impl FactsCache {
    fn facts_of(&mut self, c: &Arc<Classification>) -> Arc<[Facts]> {
        let entries = &mut self.0;
        let hit = (entries.iter())
            .position(|e| Arc::ptr_eq(&e.class, c))
            .or_else(|| entries.iter().position(|e| e.class.same_but_spans(c)));
        if let Some(i) = hit {
            let f = entries[i].facts.clone();
            // Most recent first.
            entries[..=i].rotate_right(1);
            return f;
        }
        let f: Arc<[Facts]> = Decider::facts(c).into();
        if entries.len() == FACTS_CACHE {
            entries.pop();
        }
        entries.insert(
            0,
            FactsEntry {
                class: c.clone(),
                facts: f.clone(),
                decided: None,
            },
        );
        f
    }

    /// The decisions kept for `facts` (handed out by [`FactsCache::facts_of`]) under `rt`.
    fn decided(&self, facts: &Arc<[Facts]>, rt: &Arc<Runtime>) -> Option<Arc<[Decision]>> {
        let e = self.0.iter().find(|e| Arc::ptr_eq(&e.facts, facts))?;
        let (r, d) = e.decided.as_ref()?;
        Arc::ptr_eq(r, rt).then(|| d.clone())
    }

    /// Keeps `decisions` for `facts` under `rt` (nothing when `facts` has no entry).
    fn keep_decided(&mut self, facts: &Arc<[Facts]>, rt: &Arc<Runtime>, d: &Arc<[Decision]>) {
        if let Some(e) = self.0.iter_mut().find(|e| Arc::ptr_eq(&e.facts, facts)) {
            e.decided = Some((rt.clone(), d.clone()));
        }
    }
}

impl Decider {
    pub(crate) fn new(
        shared: Arc<Shared>,
        identity: Identity,
        resource: Resource,
        session_id: u64,
        rec: Arc<crate::record::Rec>,
    ) -> Self {
        Decider {
            shared,
            identity,
            resource,
            session_id,
            sql: guard_sql::Session::new(),
            rec,
            rec_failed: None,
            copy_spec: None,
            identity_set: None,
            input_maskers: Vec::new(),
            copy_in_data: Vec::new(),
            facts_cache: FactsCache::default(),
            cancels: Arc::new(tokio::sync::watch::Sender::new(0)),
            lexing_lost: Arc::default(),
        }
    }

    /// Whether the caller is in one of `dangerous_allow_opaque_groups`, by its own groups or
    /// those an active grant adds.
    fn may_run_opaque(&self, grants: &[guard_core::Grant], now: guard_core::Timestamp) -> bool {
        let allowed = &self.shared.config.policy.dangerous_allow_opaque_groups;
        if allowed.is_empty() {
            return false;
        }
        let granted = (grants.iter())
            .filter(|g| g.applies_to(&self.identity, &self.resource, now))
            .flat_map(|g| g.groups.iter());
        allowed.iter().any(|a| a == "*")
            || (self.identity.groups.iter().chain(granted)).any(|g| allowed.contains(g))
    }

    /// The per-statement facts of `c` (see [`Decider::facts`]), from the session's small
    /// cache when `c` is a classification seen recently.
    pub(crate) fn facts_of(&mut self, c: &Arc<Classification>) -> Arc<[Facts]> {
        self.facts_cache.facts_of(c)
    }

    /// The facts of each statement of a classification (an unparsable string yields one entry
    /// with `sql.unparsable = true`; an empty one none).
    pub(crate) fn facts(c: &Classification) -> Vec<Facts> {
        (0..c.statements.len())
            .filter_map(|i| c.statement_facts(i))
            .collect()
    }

    /// Decides the statements of one message. `params` are the Bind parameters of an Execute
    /// (for the recording; empty otherwise).
    pub(crate) fn decide(
        &mut self,
        facts: &Arc<[Facts]>,
        class: Option<&Arc<Classification>>,
        sql: &str,
        params: &[Option<BindParam>],
        via: &'static str,
    ) -> Outcome {
        let started = Instant::now();
        self.copy_spec = None;
        self.identity_set = None;
        let rt = self.shared.runtime();
        let now = now_ts();
        let grants = self.shared.active_grants(&self.identity.subject, now);
        let reusable = grants.is_empty() && !rt.policy.depends_on_time();
        let kept = reusable
            .then(|| self.facts_cache.decided(facts, &rt))
            .flatten();
        let decisions: Arc<[Decision]> = match kept {
            Some(d) => d,
            None => {
                let d: Arc<[Decision]> = facts
                    .iter()
                    .map(|f| {
                        rt.policy.evaluate(
                            &Request::new(&self.identity, &self.resource, f, now)
                                .with_grants(&grants),
                        )
                    })
                    .collect();
                if reusable {
                    self.facts_cache.keep_decided(facts, &rt, &d);
                }
                d
            }
        };
        let mut outcome = combine(&decisions);
        // Fail closed (ARCHITECTURE.md): what the gateway cannot see the effect of does not run
        // on an allow alone. A hold stays a hold: a person reads the text before it runs.
        if matches!(outcome, Outcome::Go { .. })
            && let Some(why) = facts.iter().find_map(opaque_reason)
            && !self.may_run_opaque(&grants, now)
        {
            outcome = Outcome::Refuse {
                message: format!("guard: refused: {why}, so the gateway cannot tell what it does"),
            };
        }
        // Fail closed: a mask the policy asks for but the configuration lacks.
        if self.shared.config.masking.enabled
            && let Outcome::Go { masks } | Outcome::Hold { masks, .. } = &outcome
            && let Some(missing) = masks.iter().find(|m| !rt.maskers.contains_key(*m))
        {
            outcome = Outcome::Refuse {
                message: format!(
                    "guard: the policy asks for mask profile \"{missing}\", which is not configured"
                ),
            };
        }
        // application_name carries the caller's identity upstream (CONTRACTS.md): a client
        // may not overwrite it. RESET returns to the gateway's value and is fine, and a plain
        // SET is replaced by a SET of the identity's name (pgproxy.rs, for drivers that send
        // one when they connect).
        if facts.iter().any(changes_application_name) {
            self.identity_set = crate::pgproxy::identity_name_set(sql, &self.identity.subject);
            if self.identity_set.is_none() {
                outcome = Outcome::Refuse {
                    message: format!(
                        "guard: application_name carries your identity to the server \
                         (guard:{}) and cannot be changed",
                        self.identity.subject
                    ),
                };
            }
        }
        // The gateway reads statements as a server with standard_conforming_strings on and an
        // ASCII-safe client encoding does (guard_sql::lexing): a statement that would change
        // either is refused (the statements pipelined behind it would be decided on a reading
        // the server does not share), and once the server reports one changed, all are.
        if let Some(why) = self.lexing_lost.get() {
            outcome = Outcome::Refuse {
                message: why.clone(),
            };
        } else if let Some(name) = facts
            .iter()
            .find_map(|f| guard_sql::lexing::changes_lexing(f, sql))
        {
            outcome = Outcome::Refuse {
                message: format!(
                    "guard: refused: the statement changes {name}, after which the server would \
                     read statements otherwise than the gateway does (a plain SET to {} passes)",
                    if name == "client_encoding" {
                        "an encoding whose characters hold no ASCII bytes, such as UTF8,"
                    } else {
                        "on"
                    }
                ),
            };
        }
        let audit_only = self.shared.config.policy.audit_only;
        // The mask profiles applied to what this statement returns (audit-only mode forwards
        // refused statements too, with every profile any decision asked for).
        let applied: Vec<String> = match &outcome {
            Outcome::Go { masks } | Outcome::Hold { masks, .. } => masks.profiles.clone(),
            Outcome::Refuse { .. } if audit_only => union_masks(&decisions),
            Outcome::Refuse { .. } => Vec::new(),
        };
        // COPY rows carry no column names: under column rules the gateway learns the columns
        // before the COPY runs (masking.rs), and refuses a COPY whose columns or layout it
        // cannot work out rather than leak what a column rule hides. Masking is a separate
        // switch from audit-only mode: this holds in both.
        let copy_refusal = match self.copy_to_probe(&rt, &applied, facts, sql) {
            Ok(spec) => {
                self.copy_spec = spec;
                None
            }
            Err(message) => Some(message),
        };
        if let Some(message) = &copy_refusal {
            outcome = Outcome::Refuse {
                message: message.clone(),
            };
        }
        let kind = match &outcome {
            Outcome::Go { .. } => "allow",
            Outcome::Refuse { .. } => "deny",
            Outcome::Hold { .. } => "approve",
        };
        self.shared.metrics.decision(kind, started.elapsed());
        let record_input = self.rec.enabled() && (via != "parse" || kind == "deny");
        // Input is logged and recorded with credentials removed and the statement's mask
        // profiles applied (CONTRACTS.md, recording); nothing is built when neither is on.
        let maskers: Vec<Arc<guard_mask::Masker>> = if self.shared.config.masking.enabled {
            applied
                .iter()
                .filter_map(|m| rt.maskers.get(m).cloned())
                .collect()
        } else {
            Vec::new()
        };
        let logged_sql = (self.shared.audit_enabled() || record_input)
            .then(|| mask_text(&maskers, guard_record::redact_sql_credentials(sql)));
        if self.shared.audit_enabled() {
            self.shared.audit(&DecisionLine {
                time_us: now_us(),
                session: self.session_id,
                subject: &self.identity.subject,
                groups: &self.identity.groups,
                resource: &self.resource.name,
                via,
                sql: logged_sql.as_deref(),
                verdict: kind,
                enforced: !audit_only,
                decisions: &decisions,
            });
        }
        // Allowed statements are routine (the audit log has every one): the log shows them at
        // debug, so the default level does not write a line per statement.
        if kind == "allow" {
            tracing::debug!(session = self.session_id, subject = %self.identity.subject, verdict = kind, via, "decision");
        } else {
            tracing::info!(session = self.session_id, subject = %self.identity.subject, verdict = kind, via, "decision");
        }
        if record_input {
            self.copy_in_data.clear();
            self.input_maskers.clone_from(&maskers);
            // Write-ahead: the statement is in the recording before it goes upstream.
            let input = guard_record::Event::Input(guard_record::Input::Query {
                text: logged_sql.unwrap_or_default(),
                params: recorded_params(sql, params, &maskers),
            });
            let mut r = self.rec.event(&input);
            for d in decisions.iter() {
                if r.is_err() {
                    break;
                }
                let mut ev = guard_record::DecisionEvent::from(d);
                ev.enforced = !audit_only;
                r = self.rec.event(&guard_record::Event::Decision(ev));
            }
            if let Err(e) = r {
                self.rec_failed = Some(e);
                return Outcome::Refuse {
                    message: "guard: the session recording failed".to_owned(),
                };
            }
        }
        // Which computed result columns may come from a column a rule hides: those of a
        // statement that refers to one (by result column where guard-sql can tell them
        // apart), and all of a statement that computes its rows where its text does not show
        // (a FETCH from a cursor declared earlier, opaque functions, CALL, an EXECUTE that
        // could not be resolved) or that guard-sql could not parse (when a policy lets it run).
        let mut derived = Derived::No;
        let mut reads = Reads::default();
        if self.shared.config.masking.enabled
            && applied.iter().any(|m| rt.column_rule_profiles.contains(m))
        {
            reads = Reads {
                facts: Some(facts.clone()),
                class: class.cloned(),
            };
            for (i, f) in facts.iter().enumerate() {
                let list = |name| f.get(name).and_then(|v| v.as_list()).unwrap_or(&[]);
                let tables = list("sql.tables");
                let read = |columns: &[String]| {
                    (applied.iter().filter_map(|m| rt.maskers.get(m)))
                        .any(|m| m.column_rules_read_by(tables, columns))
                };
                let d = if computes_out_of_sight(f) {
                    Derived::All
                } else if !read(list("sql.columns")) {
                    Derived::No
                } else {
                    let results = class
                        .and_then(|c| c.statements.get(i))
                        .and_then(|st| st.result_columns.as_ref());
                    match results {
                        Some(r) => Derived::Columns(r.iter().map(|c| read(c)).collect()),
                        None => Derived::All,
                    }
                };
                derived = derived.and(d);
            }
        }
        if audit_only {
            return match copy_refusal {
                Some(message) => Outcome::Refuse { message },
                None => Outcome::Go {
                    masks: Masks {
                        profiles: applied,
                        derived,
                        reads,
                    },
                },
            };
        }
        if let Outcome::Go { masks } | Outcome::Hold { masks, .. } = &mut outcome {
            masks.derived = derived;
            masks.reads = reads;
        }
        outcome
    }

    /// Recording on: keeps the payload of a client's CopyData (a prefix of the COPY's rows).
    pub(crate) fn copy_in_data(&mut self, data: &[u8]) {
        if self.rec.enabled() {
            let room =
                crate::record::MAX_RECORDED_COPY_BYTES.saturating_sub(self.copy_in_data.len());
            self.copy_in_data
                .extend_from_slice(&data[..data.len().min(room)]);
        }
    }

    /// Recording on: records the rows of the COPY FROM STDIN that ends now (before its CopyDone
    /// goes upstream, so in strict mode a COPY whose rows cannot be recorded never commits),
    /// masked with its statement's profiles.
    pub(crate) fn copy_in_end(&mut self) {
        if !self.rec.enabled() || self.rec_failed.is_some() || self.copy_in_data.is_empty() {
            return;
        }
        let data = std::mem::take(&mut self.copy_in_data);
        let data = crate::masking::mask_chain(&self.input_maskers, &data).into_owned();
        let ev = guard_record::Event::Input(guard_record::Input::CopyData {
            data: guard_record::Bytes(data),
        });
        if let Err(e) = self.rec.event(&ev) {
            self.rec_failed = Some(e);
        }
    }

    /// For a `COPY ... TO STDOUT` (`facts` hold one) under mask profiles (`masks`, masking
    /// on): what the gateway must learn before it runs, when its rows are to be masked column
    /// by column (a profile has column rules, or the COPY is binary), or `Err(refusal)` when
    /// column rules apply and that cannot be worked out. `Ok(None)` otherwise: a text COPY
    /// under detectors only is masked as a whole, and a binary COPY whose options could not
    /// be read is cut off when it starts (fail closed).
    fn copy_to_probe(
        &self,
        rt: &crate::gateway::Runtime,
        masks: &[String],
        facts: &[Facts],
        sql: &str,
    ) -> Result<Option<crate::masking::CopySpec>, String> {
        if !self.shared.config.masking.enabled
            || masks.is_empty()
            || !facts.iter().any(|f| is_client_copy(f, "out"))
        {
            return Ok(None);
        }
        let spec = crate::masking::CopySpec::of(sql);
        let Some(profile) = masks.iter().find(|m| rt.column_rule_profiles.contains(*m)) else {
            return Ok(spec
                .ok()
                .filter(|s| s.options.format == guard_sql::copy::CopyFormat::Binary));
        };
        spec.map(Some).map_err(|why| {
            format!(
                "guard: this COPY TO STDOUT is refused under mask profile \"{profile}\", whose \
                 column rules need the COPY's columns: {why}. A single COPY TO STDOUT is masked \
                 column by column, and so is SELECT"
            )
        })
    }
}

/// The audit line of one decision (fields in the order of the line).
#[derive(serde::Serialize)]
struct DecisionLine<'a> {
    time_us: i64,
    session: u64,
    subject: &'a str,
    groups: &'a [String],
    resource: &'a str,
    via: &'a str,
    sql: Option<&'a str>,
    verdict: &'a str,
    enforced: bool,
    decisions: &'a [Decision],
}

/// One Bind parameter as the client sent it.
#[derive(Debug, Clone)]
pub(crate) enum BindParam {
    /// Text format.
    Text(bytes::Bytes),
    /// Binary format.
    Binary(bytes::Bytes),
}

/// Whether a statement's facts say it is a COPY between the server and the client in
/// `direction` (`in`: `COPY ... FROM STDIN`, `out`: `COPY ... TO STDOUT`).
pub(crate) fn is_client_copy(f: &Facts, direction: &str) -> bool {
    f.get("sql.copy.direction").and_then(|v| v.as_str()) == Some(direction)
        && f.get("sql.copy.target").and_then(|v| v.as_str()) == Some("stdio")
}

/// Whether a statement's facts say it sets `application_name` (not a RESET, which goes back to
/// the value the gateway gave the session).
fn changes_application_name(f: &Facts) -> bool {
    let sets = f
        .get("sql.settings")
        .and_then(|v| v.as_list())
        .is_some_and(|l| l.iter().any(|s| s == "application_name"));
    sets && f.get("sql.statement").and_then(|v| v.as_str()) != Some("reset")
}

/// `text` with the mask profiles applied (the text itself when none applies or nothing
/// matched).
fn mask_text(maskers: &[Arc<guard_mask::Masker>], text: std::borrow::Cow<'_, str>) -> String {
    let masked = match crate::masking::mask_chain(maskers, text.as_bytes()) {
        std::borrow::Cow::Borrowed(_) => None,
        std::borrow::Cow::Owned(v) => Some(String::from_utf8_lossy(&v).into_owned()),
    };
    masked.unwrap_or_else(|| text.into_owned())
}

/// Bind parameters for the recording: credentials withheld (`ALTER ROLE x PASSWORD $1`), the
/// others masked with the statement's profiles, like its results (binary ones base64 in the
/// file).
fn recorded_params(
    sql: &str,
    params: &[Option<BindParam>],
    maskers: &[Arc<guard_mask::Masker>],
) -> Vec<Option<guard_record::Param>> {
    if params.is_empty() {
        return Vec::new();
    }
    let secret = guard_record::credential_parameters(sql);
    params
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let p = p.as_ref()?;
            if secret.contains(&(i + 1)) {
                return Some(guard_record::Param::Redacted(true));
            }
            Some(match p {
                BindParam::Text(v) => guard_record::Param::Text(
                    String::from_utf8_lossy(&crate::masking::mask_chain(maskers, v)).into_owned(),
                ),
                // A binary text-like value is its UTF-8 bytes: detectors apply as to text
                // (as for binary result columns); other binary values pass unchanged.
                BindParam::Binary(v) => guard_record::Param::Binary(guard_record::Bytes(
                    crate::masking::mask_chain(maskers, v).into_owned(),
                )),
            })
        })
        .collect()
}

fn union_masks(decisions: &[Decision]) -> Vec<String> {
    let mut masks: Vec<String> = Vec::new();
    for d in decisions {
        for m in &d.masks {
            if !masks.contains(m) {
                masks.push(m.clone());
            }
        }
    }
    masks
}

/// Deny beats approve beats allow; masks are the union.
fn combine(decisions: &[Decision]) -> Outcome {
    for d in decisions {
        if let Verdict::Deny { rules, message } = &d.verdict {
            let who = if rules.is_empty() {
                "the default policy".to_owned()
            } else {
                format!("rule {}", rules.join(", "))
            };
            return Outcome::Refuse {
                message: format!("guard: denied by {who}: {message}"),
            };
        }
    }
    let masks = union_masks(decisions);
    let mut hold: Option<Outcome> = None;
    for d in decisions {
        if let Verdict::Approve {
            rules,
            approvers,
            needed,
            timeout,
        } = &d.verdict
        {
            match &mut hold {
                None => {
                    hold = Some(Outcome::Hold {
                        rules: rules.clone(),
                        approvers: approvers.clone(),
                        needed: *needed,
                        timeout: *timeout,
                        masks: Masks {
                            profiles: masks.clone(),
                            ..Masks::default()
                        },
                    });
                }
                Some(Outcome::Hold {
                    rules: r,
                    approvers: a,
                    needed: n,
                    timeout: t,
                    ..
                }) => {
                    r.extend(rules.iter().cloned());
                    a.extend(approvers.iter().cloned());
                    *n = (*n).max(*needed);
                    *t = (*t).min(*timeout);
                }
                Some(_) => {}
            }
        }
    }
    hold.unwrap_or(Outcome::Go {
        masks: Masks {
            profiles: masks,
            ..Masks::default()
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_columns_agree_or_become_all() {
        let cols = |v: &[bool]| Derived::Columns(v.into());
        assert!(!Derived::No.column(0));
        assert!(Derived::All.column(7));
        let d = cols(&[false, true]);
        assert!(!d.column(0) && d.column(1));
        assert!(
            d.column(2),
            "a column the statement did not list: fail closed"
        );
        assert_eq!(Derived::No.and(d.clone()), d);
        assert_eq!(d.clone().and(Derived::No), d);
        assert_eq!(d.clone().and(d.clone()), d);
        assert_eq!(d.clone().and(cols(&[true, false])), Derived::All);
        assert_eq!(d.clone().and(Derived::All), Derived::All);
        let mut m = Masks {
            profiles: vec!["pii".to_owned()],
            ..Masks::default()
        };
        m.extend(Masks {
            profiles: vec!["pii".to_owned(), "other".to_owned()],
            derived: d.clone(),
            ..Masks::default()
        });
        assert_eq!(m.profiles, ["pii", "other"]);
        assert_eq!(m.derived, d);
    }

    fn reads(statements: &[(&[&str], &[&str], &str)]) -> Reads {
        let to = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        Reads {
            facts: Some(
                statements
                    .iter()
                    .map(|(tables, columns, kind)| {
                        let mut f = Facts::new();
                        f.insert("sql.tables", to(tables))
                            .insert("sql.columns", to(columns))
                            .insert("sql.statement", *kind);
                        f
                    })
                    .collect(),
            ),
            class: None,
        }
    }

    #[test]
    fn reads_compare_by_tables_and_columns_and_add_up() {
        let a = reads(&[(&["cv"], &["note"], "select")]);
        // Other facts than the relations and columns do not matter to a result plan.
        assert_eq!(a, reads(&[(&["cv"], &["note"], "explain")]));
        assert_ne!(a, reads(&[(&["customers"], &["note"], "select")]));
        assert_ne!(a, reads(&[(&["cv"], &["name"], "select")]));
        assert_ne!(a, Reads::default());
        assert_eq!(Reads::default(), Reads::default());
        let b = reads(&[(&["t"], &["*"], "select")]);
        let both = a.clone().and(b.clone());
        assert_eq!(
            both.lists().collect::<Vec<_>>(),
            [
                (&["cv".to_owned()][..], &["note".to_owned()][..]),
                (&["t".to_owned()][..], &["*".to_owned()][..])
            ]
        );
        assert_eq!(a.clone().and(Reads::default()), a);
        assert_eq!(Reads::default().and(b.clone()), b);
        assert_eq!(a.clone().and(a.clone()), a, "the same statements once");
        assert!(!both.out_of_sight());
        let fetch = reads(&[(&[], &[], "fetch")]);
        assert!(fetch.out_of_sight() && a.clone().and(fetch).out_of_sight());
        let mut opaque = Facts::new();
        opaque.insert("sql.opaque", true);
        assert!(
            Reads {
                facts: Some(Arc::from([opaque])),
                class: None
            }
            .out_of_sight()
        );
        assert!(!Reads::default().out_of_sight());
        // By result column: what guard-sql tells of one statement.
        let classifier = guard_sql::classify::Classifier::new();
        let with = |sql: &str| Reads {
            facts: None,
            class: Some(classifier.classify(sql)),
        };
        let r = with("SELECT upper(name), reverse(note) FROM cv");
        assert_eq!(r.result_column(1), Some(&["note".to_owned()][..]));
        assert_eq!(r.result_column(2), None);
        assert_eq!(with("SELECT * FROM cv").result_column(0), None);
        assert_eq!(with("SELECT 1; SELECT note FROM cv").result_column(0), None);
        assert_eq!(r, with("SELECT upper(name), reverse(note) FROM cv"));
        assert_ne!(r, with("SELECT upper(note), reverse(name) FROM cv"));
        assert_eq!(r.clone().and(reads(&[(&["t"], &[], "select")])).class, None);
    }

    fn runtime() -> Arc<Runtime> {
        Arc::new(Runtime {
            policy: Arc::new(
                guard_core::Policy::builder()
                    .build("default = \"allow\"")
                    .unwrap(),
            ),
            resources: Default::default(),
            users: Default::default(),
            issuers: Vec::new(),
            maskers: Default::default(),
            column_rule_profiles: Default::default(),
        })
    }

    #[test]
    fn decisions_are_kept_per_facts_and_runtime() {
        let classifier = guard_sql::classify::Classifier::new();
        let mut cache = FactsCache::default();
        let a = cache.facts_of(&classifier.classify("SELECT 1"));
        let b = cache.facts_of(&classifier.classify("DELETE FROM t"));
        let (rt, reloaded) = (runtime(), runtime());
        assert!(cache.decided(&a, &rt).is_none());
        let d: Arc<[Decision]> = Arc::from(Vec::new());
        cache.keep_decided(&a, &rt, &d);
        assert!(cache.decided(&a, &rt).is_some_and(|k| Arc::ptr_eq(&k, &d)));
        // Another statement's facts, or the same facts after a reload: decided again.
        assert!(cache.decided(&b, &rt).is_none());
        assert!(cache.decided(&a, &reloaded).is_none());
        // Facts the cache did not hand out (or no longer holds) are not kept.
        let stray: Arc<[Facts]> = Arc::from(Vec::new());
        cache.keep_decided(&stray, &rt, &d);
        assert!(cache.decided(&stray, &rt).is_none());
    }

    #[test]
    fn facts_are_reused_across_constant_lengths_and_never_across_statements() {
        let classifier = guard_sql::classify::Classifier::new();
        let mut cache = FactsCache::default();
        let a = classifier.classify("SELECT abalance FROM pgbench_accounts WHERE aid = 7");
        let b = classifier.classify("SELECT abalance FROM pgbench_accounts WHERE aid = 123456");
        let fa = cache.facts_of(&a);
        let fb = cache.facts_of(&b);
        assert!(Arc::ptr_eq(&fa, &fb), "the facts were built again");
        assert_eq!(&fb[..], &Decider::facts(&b)[..]);
        for sql in [
            "SELECT abalance FROM other_table WHERE aid = 7",
            "DELETE FROM pgbench_accounts WHERE aid = 7",
            "DELETE FROM pgbench_accounts",
            "SELECT abalance FROM pgbench_accounts WHERE aid = 7; SELECT 1",
            "SELECT pg_read_file('/etc/passwd') FROM pgbench_accounts WHERE aid = 7",
        ] {
            let c = classifier.classify(sql);
            let f = cache.facts_of(&c);
            assert!(
                !Arc::ptr_eq(&f, &fa),
                "{sql}: got the facts of another statement"
            );
            assert_eq!(&f[..], &Decider::facts(&c)[..], "{sql}");
        }
    }
}
