//! PostgreSQL classification: pg_query's parse tree, walked completely.

use pg_query::NodeEnum;
use pg_query::protobuf::{
    self as pb, AExprKind, BoolExprType, BoolTestType, FuncCall, MergeMatchKind, Node,
    NullTestType, ObjectType, RangeVar, TransactionStmtKind, VariableSetKind, WithClause,
    a_const::Val,
};

use super::functions;
use super::pg_walk::{self, Visitor};
use super::statement::push_unique;
use super::{Classification, Dialect, Effect, Statement, StatementKind};

/// How deep the walker goes before it stops and reports the statement opaque. pg_query's
/// protobuf decoder already refuses trees deeper than about 100 messages, so this is a second
/// line of defence only.
const MAX_WALK_DEPTH: u32 = 400;

/// Classifies a PostgreSQL string.
pub(crate) fn classify(sql: &str) -> Classification {
    if let Some(reason) = super::depth::too_deep(sql) {
        return Classification::unparsable(Dialect::Postgres, reason);
    }
    let parsed = match pg_query::parse(sql, pg_query::ParserOptions::DEFAULT) {
        Ok(p) => p,
        Err(e) => return Classification::unparsable(Dialect::Postgres, e.to_string()),
    };
    let mut out = Classification {
        dialect: Dialect::Postgres,
        statements: Vec::with_capacity(parsed.protobuf.stmts.len()),
        error: None,
        const_sensitive: false,
    };
    for raw in &parsed.protobuf.stmts {
        let Some(node) = raw.stmt.as_ref().and_then(|n| n.node.as_ref()) else {
            continue;
        };
        let (mut st, sensitive) = classify_node(node);
        st.span = span(sql, raw.stmt_location, raw.stmt_len);
        out.const_sensitive |= sensitive;
        out.statements.push(st);
    }
    out
}

/// See [`super::plain_set`].
pub(crate) fn plain_set(sql: &str) -> Option<super::PlainSet> {
    if super::depth::too_deep(sql).is_some() {
        return None;
    }
    let parsed = pg_query::parse(sql, pg_query::ParserOptions::DEFAULT).ok()?;
    let [raw] = parsed.protobuf.stmts.as_slice() else {
        return None;
    };
    let Some(NodeEnum::VariableSetStmt(v)) = raw.stmt.as_ref().and_then(|n| n.node.as_ref()) else {
        return None;
    };
    match VariableSetKind::try_from(v.kind) {
        Ok(VariableSetKind::VarSetValue | VariableSetKind::VarSetDefault) => {}
        _ => return None,
    }
    // Constants only (a SET takes no expressions, but be sure of it).
    let constant = |a: &Node| matches!(a.node, Some(NodeEnum::AConst(_)));
    let value = match v.args.as_slice() {
        [one] => match &one.node {
            Some(NodeEnum::AConst(c)) => match &c.val {
                Some(Val::Sval(s)) => Some(s.sval.clone()),
                Some(Val::Ival(i)) => Some(i.ival.to_string()),
                Some(Val::Fval(f)) => Some(f.fval.clone()),
                Some(Val::Boolval(b)) => Some(if b.boolval { "on" } else { "off" }.to_owned()),
                _ => None,
            },
            _ => None,
        },
        _ => None,
    };
    v.args.iter().all(constant).then(|| super::PlainSet {
        name: v.name.to_ascii_lowercase(),
        local: v.is_local,
        value,
    })
}

/// A RawStmt's byte range in `sql` (`stmt_len` 0 means "to the end"), without the whitespace
/// PostgreSQL's scanner skips at either end. `None` if the parser's offsets do not fit the text.
fn span(sql: &str, location: i32, len: i32) -> Option<std::ops::Range<usize>> {
    let start = usize::try_from(location).ok()?;
    let end = match usize::try_from(len).ok()? {
        0 => sql.len(),
        n => start.checked_add(n)?,
    };
    let text = sql.get(start..end)?;
    let is_space = |c: char| matches!(c, ' ' | '\t' | '\n' | '\r' | '\x0c' | '\x0b');
    let trimmed = text.trim_start_matches(is_space);
    let start = start + (text.len() - trimmed.len());
    let end = start + trimmed.trim_end_matches(is_space).len();
    Some(start..end)
}

/// Classifies one top-level statement node; the flag says whether constants were consulted.
fn classify_node(node: &NodeEnum) -> (Statement, bool) {
    let (kind, effect) = kind_of(node);
    let mut w = Walker::new(Statement::new(kind, effect));
    w.top(node);
    w.finish();
    w.st.result_columns = result_columns(node, &w.relations);
    let sensitive = w.const_sensitive;
    (w.st, sensitive)
}

/// The kind and base effect of a statement node.
fn kind_of(node: &NodeEnum) -> (StatementKind, Effect) {
    use Effect::*;
    use StatementKind as K;
    match node {
        NodeEnum::SelectStmt(s) if s.into_clause.is_some() => (K::SelectInto, Ddl),
        NodeEnum::SelectStmt(_) => (K::Select, Read),
        NodeEnum::InsertStmt(_) => (K::Insert, Write),
        NodeEnum::UpdateStmt(_) => (K::Update, Write),
        NodeEnum::DeleteStmt(_) => (K::Delete, Write),
        NodeEnum::MergeStmt(_) => (K::Merge, Write),
        NodeEnum::TruncateStmt(_) => (K::Truncate, Write),
        NodeEnum::CopyStmt(c) => {
            let e = if c.is_program || !c.filename.is_empty() {
                Admin
            } else if c.is_from {
                Write
            } else {
                Read
            };
            (K::Copy, e)
        }
        NodeEnum::CreateStmt(_) => (K::CreateTable, Ddl),
        NodeEnum::CreateTableAsStmt(c) => {
            if c.objtype == ObjectType::ObjectMatview as i32 {
                (K::CreateMaterializedView, Ddl)
            } else if c.is_select_into {
                (K::SelectInto, Ddl)
            } else {
                (K::CreateTableAs, Ddl)
            }
        }
        NodeEnum::RefreshMatViewStmt(_) => (K::RefreshMaterializedView, Write),
        NodeEnum::ViewStmt(_) => (K::CreateView, Ddl),
        NodeEnum::IndexStmt(_) => (K::CreateIndex, Ddl),
        NodeEnum::CreateSchemaStmt(_) => (K::CreateSchema, Ddl),
        NodeEnum::CreateSeqStmt(_) => (K::CreateSequence, Ddl),
        NodeEnum::CreateFunctionStmt(f) if f.is_procedure => (K::CreateProcedure, Ddl),
        NodeEnum::CreateFunctionStmt(_) => (K::CreateFunction, Ddl),
        NodeEnum::CreateTrigStmt(_) => (K::CreateTrigger, Ddl),
        NodeEnum::CreateEventTrigStmt(_) => (K::CreateEventTrigger, Ddl),
        NodeEnum::RuleStmt(_) => (K::CreateRule, Ddl),
        NodeEnum::CreateExtensionStmt(_) => (K::CreateExtension, Admin),
        NodeEnum::CreatedbStmt(_) => (K::CreateDatabase, Ddl),
        NodeEnum::CreateRoleStmt(_) => (K::CreateRole, Dcl),
        NodeEnum::CreatePolicyStmt(_) => (K::CreatePolicy, Dcl),
        NodeEnum::CreateUserMappingStmt(_) => (K::CreateOther, Dcl),
        NodeEnum::CreateTableSpaceStmt(_)
        | NodeEnum::CreatePlangStmt(_)
        | NodeEnum::CreateSubscriptionStmt(_) => (K::CreateOther, Admin),
        NodeEnum::CreateFdwStmt(_)
        | NodeEnum::CreateForeignServerStmt(_)
        | NodeEnum::CreateForeignTableStmt(_)
        | NodeEnum::ImportForeignSchemaStmt(_)
        | NodeEnum::CreateAmStmt(_)
        | NodeEnum::DefineStmt(_)
        | NodeEnum::CreateDomainStmt(_)
        | NodeEnum::CreateOpClassStmt(_)
        | NodeEnum::CreateOpFamilyStmt(_)
        | NodeEnum::CreateStatsStmt(_)
        | NodeEnum::CompositeTypeStmt(_)
        | NodeEnum::CreateEnumStmt(_)
        | NodeEnum::CreateRangeStmt(_)
        | NodeEnum::CreateConversionStmt(_)
        | NodeEnum::CreateCastStmt(_)
        | NodeEnum::CreateTransformStmt(_)
        | NodeEnum::CreatePublicationStmt(_) => (K::CreateOther, Ddl),
        NodeEnum::AlterTableStmt(_)
        | NodeEnum::AlterTableMoveAllStmt(_)
        | NodeEnum::ReplicaIdentityStmt(_) => (K::AlterTable, Ddl),
        NodeEnum::AlterRoleStmt(_) | NodeEnum::AlterRoleSetStmt(_) => (K::AlterRole, Dcl),
        NodeEnum::AlterSystemStmt(_) => (K::AlterSystem, Admin),
        NodeEnum::AlterDatabaseStmt(_)
        | NodeEnum::AlterDatabaseSetStmt(_)
        | NodeEnum::AlterDatabaseRefreshCollStmt(_) => (K::AlterDatabase, Ddl),
        NodeEnum::AlterFunctionStmt(_) => (K::AlterFunction, Ddl),
        NodeEnum::AlterDefaultPrivilegesStmt(_) => (K::AlterDefaultPrivileges, Dcl),
        NodeEnum::AlterOwnerStmt(_) => (K::AlterOwner, Dcl),
        NodeEnum::AlterPolicyStmt(_) | NodeEnum::AlterUserMappingStmt(_) => (K::AlterOther, Dcl),
        NodeEnum::AlterExtensionStmt(_)
        | NodeEnum::AlterExtensionContentsStmt(_)
        | NodeEnum::AlterSubscriptionStmt(_)
        | NodeEnum::AlterTableSpaceOptionsStmt(_) => (K::AlterOther, Admin),
        NodeEnum::AlterCollationStmt(_)
        | NodeEnum::AlterDomainStmt(_)
        | NodeEnum::AlterFdwStmt(_)
        | NodeEnum::AlterForeignServerStmt(_)
        | NodeEnum::AlterEventTrigStmt(_)
        | NodeEnum::AlterSeqStmt(_)
        | NodeEnum::AlterOpFamilyStmt(_)
        | NodeEnum::AlterStatsStmt(_)
        | NodeEnum::AlterObjectSchemaStmt(_)
        | NodeEnum::AlterOperatorStmt(_)
        | NodeEnum::AlterTypeStmt(_)
        | NodeEnum::AlterEnumStmt(_)
        | NodeEnum::AlterTsdictionaryStmt(_)
        | NodeEnum::AlterTsconfigurationStmt(_)
        | NodeEnum::AlterPublicationStmt(_)
        | NodeEnum::AlterObjectDependsStmt(_) => (K::AlterOther, Ddl),
        NodeEnum::RenameStmt(_) => (K::Rename, Ddl),
        NodeEnum::DropStmt(_) => (K::Drop, Ddl),
        NodeEnum::DropTableSpaceStmt(_) | NodeEnum::DropSubscriptionStmt(_) => (K::Drop, Admin),
        NodeEnum::DropUserMappingStmt(_) => (K::Drop, Dcl),
        NodeEnum::DropdbStmt(_) => (K::DropDatabase, Ddl),
        NodeEnum::DropRoleStmt(_) => (K::DropRole, Dcl),
        NodeEnum::CommentStmt(_) => (K::Comment, Ddl),
        NodeEnum::GrantStmt(g) if g.is_grant => (K::Grant, Dcl),
        NodeEnum::GrantStmt(_) => (K::Revoke, Dcl),
        NodeEnum::GrantRoleStmt(g) if g.is_grant => (K::GrantRole, Dcl),
        NodeEnum::GrantRoleStmt(_) => (K::RevokeRole, Dcl),
        NodeEnum::ReassignOwnedStmt(_) | NodeEnum::DropOwnedStmt(_) => (K::ReassignOwned, Dcl),
        NodeEnum::SecLabelStmt(_) => (K::SecurityLabel, Dcl),
        NodeEnum::TransactionStmt(t) => {
            let k = match TransactionStmtKind::try_from(t.kind) {
                Ok(TransactionStmtKind::TransStmtBegin | TransactionStmtKind::TransStmtStart) => {
                    K::Begin
                }
                Ok(TransactionStmtKind::TransStmtCommit) => K::Commit,
                Ok(TransactionStmtKind::TransStmtRollback) => K::Rollback,
                Ok(TransactionStmtKind::TransStmtSavepoint) => K::Savepoint,
                Ok(TransactionStmtKind::TransStmtRelease) => K::ReleaseSavepoint,
                Ok(TransactionStmtKind::TransStmtRollbackTo) => K::RollbackToSavepoint,
                Ok(TransactionStmtKind::TransStmtPrepare) => K::PrepareTransaction,
                Ok(TransactionStmtKind::TransStmtCommitPrepared) => K::CommitPrepared,
                Ok(TransactionStmtKind::TransStmtRollbackPrepared) => K::RollbackPrepared,
                _ => K::Other,
            };
            (k, Transaction)
        }
        NodeEnum::ConstraintsSetStmt(_) => (K::SetTransaction, Transaction),
        NodeEnum::VariableSetStmt(v) => match VariableSetKind::try_from(v.kind) {
            Ok(VariableSetKind::VarSetMulti) => (K::SetTransaction, Transaction),
            Ok(VariableSetKind::VarReset | VariableSetKind::VarResetAll) => (K::Reset, Session),
            _ => (K::Set, Session),
        },
        NodeEnum::VariableShowStmt(_) => (K::Show, Read),
        NodeEnum::DiscardStmt(_) => (K::Discard, Session),
        NodeEnum::PrepareStmt(_) => (K::Prepare, Session),
        NodeEnum::ExecuteStmt(_) => (K::Execute, Unknown),
        NodeEnum::DeallocateStmt(_) => (K::Deallocate, Session),
        NodeEnum::DeclareCursorStmt(_) => (K::Declare, Read),
        NodeEnum::FetchStmt(_) => (K::Fetch, Read),
        NodeEnum::ClosePortalStmt(_) => (K::Close, Session),
        NodeEnum::ExplainStmt(_) => (K::Explain, Read),
        NodeEnum::DoStmt(_) => (K::Do, Unknown),
        NodeEnum::CallStmt(_) => (K::Call, Unknown),
        NodeEnum::LockStmt(_) => (K::Lock, Read),
        NodeEnum::VacuumStmt(v) if v.is_vacuumcmd => (K::Vacuum, Admin),
        NodeEnum::VacuumStmt(_) => (K::Analyze, Admin),
        NodeEnum::ClusterStmt(_) => (K::Cluster, Admin),
        NodeEnum::ReindexStmt(_) => (K::Reindex, Admin),
        NodeEnum::CheckPointStmt(_) => (K::Checkpoint, Admin),
        NodeEnum::LoadStmt(_) => (K::Load, Admin),
        NodeEnum::ListenStmt(_) => (K::Listen, Session),
        NodeEnum::UnlistenStmt(_) => (K::Unlisten, Session),
        NodeEnum::NotifyStmt(_) => (K::Notify, Write),
        _ => (K::Other, Unknown),
    }
}

/// Whether a node is a statement (as opposed to an expression or clause).
fn is_statement(node: &NodeEnum) -> bool {
    !matches!(kind_of(node), (StatementKind::Other, Effect::Unknown))
}

struct Walker {
    st: Statement,
    /// Whether nested statements run now (false inside PREPARE, plain EXPLAIN, view and
    /// function bodies, rule actions).
    executes: bool,
    /// Nesting of queries: table references inside are reads.
    in_query: u32,
    /// Table references outside queries in a utility statement are the statement's targets.
    utility_targets_write: bool,
    /// Names of CTEs in scope, innermost last.
    ctes: Vec<Vec<String>>,
    /// RangeVars already recorded as write targets.
    targets: Vec<*const RangeVar>,
    /// WithClauses already walked with proper scoping.
    withs_done: Vec<*const WithClause>,
    const_sensitive: bool,
    depth: u32,
    /// Names and aliases of the relations the statement names, and its one-part column
    /// references: a reference that names a relation is a whole-row reference.
    relations: Vec<String>,
    bare_refs: Vec<String>,
    /// Inside `SELECT ... FROM pg_settings WHERE name = 'x'` (not its subqueries): `x`, the
    /// setting that a bare `name` column names (`set_config(name, ...)`, as pg_dump sends).
    settings_row: Option<String>,
    /// The statement reads `pg_settings` or `pg_file_settings` other than through the one row
    /// of a setting that holds no secret (see [`secret_setting`]).
    settings_unfiltered: bool,
}

impl Walker {
    fn new(st: Statement) -> Self {
        Walker {
            st,
            executes: true,
            in_query: 0,
            utility_targets_write: true,
            ctes: Vec::new(),
            targets: Vec::new(),
            withs_done: Vec::new(),
            const_sensitive: false,
            depth: 0,
            relations: Vec::new(),
            bare_refs: Vec::new(),
            settings_row: None,
            settings_unfiltered: false,
        }
    }

    /// A column reference: its last part, or `*` (`t.*`, `*`).
    fn column_ref(&mut self, c: &pb::ColumnRef) {
        if let Some((name, one_part)) = column_ref_name(c) {
            push_unique(&mut self.st.columns, name);
            if one_part {
                push_unique(&mut self.bare_refs, name);
            }
        }
    }

    /// Column names held as plain strings (`USING (a, b)`, a `COPY` column list).
    fn column_names(&mut self, names: &[Node]) {
        for n in string_names(names) {
            push_unique(&mut self.st.columns, n);
        }
    }

    /// After the walk: a one-part column reference that names a relation of the statement
    /// (`to_json(c) FROM customers c`) is a whole row; dangers that depend on the relations
    /// and columns of the whole statement.
    fn finish(&mut self) {
        if self.bare_refs.iter().any(|r| self.relations.contains(r)) {
            push_unique(&mut self.st.columns, "*");
        }
        let st = &self.st;
        if st
            .tables_read
            .iter()
            .chain(&st.tables_written)
            .any(|t| credential_catalog(t))
            || (st.columns.iter()).any(|c| c == "query" || c == "*")
                && st.tables_read.iter().any(|t| statement_texts(t))
            || self.settings_unfiltered
                && (st.columns.iter())
                    .any(|c| matches!(c.as_str(), "setting" | "reset_val" | "boot_val" | "*"))
        {
            self.danger("credential_access");
        }
        // Large objects' contents read or written in their catalog, as lo_get/lo_put would.
        let st = &self.st;
        if (st.tables_read.iter().chain(&st.tables_written))
            .any(|t| catalog_named(t, "pg_largeobject"))
        {
            self.danger("large_object");
        }
        // A superuser may change the system catalogs with plain DML: `UPDATE pg_proc SET
        // prosrc = ...` points a built-in's name at another C function, past every check on
        // function names.
        if self.st.tables_written.iter().any(|t| system_catalog(t)) {
            self.danger("server_control");
        }
    }

    fn raise(&mut self, e: Effect) {
        if self.executes {
            self.st.effect = self.st.effect.max(e);
        }
    }

    fn danger(&mut self, category: &'static str) {
        if !self.st.danger.contains(&category) {
            self.st.danger.push(category);
        }
    }

    /// Walks `n` with `executes` set to `executes && self.executes`.
    fn walk_with(&mut self, n: Option<&Node>, executes: bool) {
        let saved = self.executes;
        self.executes = saved && executes;
        if let Some(n) = n {
            pg_walk::node(n, self);
        }
        self.executes = saved;
    }

    /// Records a table a statement writes (its target).
    fn target(&mut self, r: Option<&RangeVar>) {
        let Some(r) = r else { return };
        self.targets.push(r as *const RangeVar);
        let name = qualified(r);
        if self.executes {
            push_unique(&mut self.st.tables_written, &name);
        } else {
            push_unique(&mut self.st.tables_read, &name);
        }
    }

    fn is_cte(&self, r: &RangeVar) -> bool {
        r.schemaname.is_empty()
            && r.catalogname.is_empty()
            && self.ctes.iter().any(|scope| scope.contains(&r.relname))
    }

    /// The top-level statement: statement-specific facts, then the walk.
    fn top(&mut self, node: &NodeEnum) {
        match node {
            NodeEnum::CopyStmt(c) => {
                // The parse tree gives `COPY t FROM ''` an empty file name, as for STDIN: a
                // cached classification of it must not answer for `COPY t FROM '/path'`,
                // which normalizes to the same text.
                self.const_sensitive = true;
                self.st.copy_target = Some(if c.is_program {
                    self.danger("program_execution");
                    "program"
                } else if !c.filename.is_empty() {
                    self.danger("file_access");
                    "file"
                } else {
                    "stdio"
                });
                self.st.copy_direction = Some(if c.is_from { "in" } else { "out" });
                if c.is_from {
                    self.target(c.relation.as_ref());
                    self.raise(Effect::Write);
                } else if let Some(r) = &c.relation {
                    push_unique(&mut self.st.tables_read, &qualified(r));
                    self.targets.push(r as *const RangeVar);
                }
                if c.relation.is_some() {
                    if c.attlist.is_empty() {
                        push_unique(&mut self.st.columns, "*");
                    }
                    self.column_names(&c.attlist);
                }
                pg_walk::children(node, self);
            }
            NodeEnum::TruncateStmt(t) => {
                self.st.unbounded = true;
                for r in &t.relations {
                    if let Some(NodeEnum::RangeVar(r)) = &r.node {
                        self.target(Some(r));
                    }
                }
            }
            NodeEnum::DropStmt(d) => {
                self.drop_targets(d);
                pg_walk::children(node, self);
            }
            NodeEnum::VariableSetStmt(v) => {
                self.variable_set(v);
                pg_walk::children(node, self);
            }
            NodeEnum::AlterSystemStmt(a) => {
                self.danger("server_control");
                if let Some(v) = &a.setstmt {
                    self.variable_set(v);
                }
            }
            NodeEnum::AlterRoleSetStmt(a) => {
                if let Some(v) = &a.setstmt {
                    self.variable_set(v);
                }
                // Settings of a role apply at its next login, not now.
                self.st.role_change = false;
            }
            NodeEnum::AlterDatabaseSetStmt(a) => {
                if let Some(v) = &a.setstmt {
                    self.variable_set(v);
                }
                self.st.role_change = false;
            }
            NodeEnum::TransactionStmt(t) => {
                self.transaction_options(&t.options);
            }
            NodeEnum::ExplainStmt(e) => {
                let analyze = self.explain_analyze(&e.options);
                let inner = e.query.as_deref().and_then(|n| n.node.as_ref());
                if analyze {
                    if let Some(inner) = inner {
                        self.nested_statement(inner);
                    }
                    self.walk_with(e.query.as_deref(), true);
                } else {
                    self.walk_with(e.query.as_deref(), false);
                }
            }
            NodeEnum::PrepareStmt(p) => {
                self.st.prepared = Some(p.name.clone());
                if let Some(body) = p.query.as_deref().and_then(|n| n.node.as_ref()) {
                    let (b, sensitive) = classify_node(body);
                    self.const_sensitive |= sensitive;
                    self.st.prepare_body = Some(Box::new(b));
                }
                self.walk_with(p.query.as_deref(), false);
            }
            NodeEnum::ExecuteStmt(e) => {
                self.st.prepared = Some(e.name.clone());
                // Resolved against the session's prepared statements (see `Session`).
                self.st.opaque = true;
                pg_walk::children(node, self);
            }
            NodeEnum::DeallocateStmt(d) => {
                self.st.prepared = Some(if d.isall {
                    "all".to_owned()
                } else {
                    d.name.clone()
                });
            }
            NodeEnum::DiscardStmt(d) => {
                if d.target == pb::DiscardMode::DiscardAll as i32 {
                    // DISCARD ALL deallocates every prepared statement too.
                    self.st.prepared = Some("all".to_owned());
                    self.st.read_write = true;
                    self.st.role_change = true;
                    push_unique(&mut self.st.settings, "all");
                }
            }
            NodeEnum::DoStmt(_) => {
                self.st.opaque = true;
                self.danger("dynamic_sql");
            }
            NodeEnum::CallStmt(c) => {
                self.st.opaque = true;
                if let Some(f) = &c.funccall {
                    self.func_call(f);
                }
            }
            NodeEnum::CreateFunctionStmt(f) => {
                self.function_language(&f.options);
                self.walk_with(f.sql_body.as_deref(), false);
                for p in &f.parameters {
                    self.walk_with(Some(p), false);
                }
            }
            NodeEnum::RuleStmt(r) => {
                self.target(r.relation.as_ref());
                let saved = self.executes;
                self.executes = false;
                pg_walk::walk_rule_stmt(r, self);
                self.executes = saved;
            }
            NodeEnum::ViewStmt(v) => {
                self.target(v.view.as_ref());
                self.walk_with(v.query.as_deref(), false);
            }
            NodeEnum::CreateTableAsStmt(c) => {
                if let Some(into) = &c.into {
                    self.target(into.rel.as_ref());
                }
                let runs = c.into.as_ref().is_none_or(|i| !i.skip_data);
                if let Some(q) = c.query.as_deref().and_then(|n| n.node.as_ref())
                    && runs
                {
                    self.nested_statement(q);
                }
                self.walk_with(c.query.as_deref(), runs);
            }
            NodeEnum::LockStmt(l) => {
                let mode = lock_mode(l.mode);
                self.st.lock_mode = Some(mode);
                let writes = l.mode >= 3;
                if writes {
                    self.raise(Effect::Write);
                }
                for r in &l.relations {
                    if let Some(NodeEnum::RangeVar(r)) = &r.node {
                        if writes {
                            self.target(Some(r));
                        } else {
                            push_unique(&mut self.st.tables_read, &qualified(r));
                        }
                    }
                }
            }
            NodeEnum::VacuumStmt(v) => {
                if v.is_vacuumcmd && self.option_enabled(&v.options, "full") {
                    self.st.lock_mode = Some("access_exclusive");
                } else {
                    self.st.lock_mode = Some("share_update_exclusive");
                }
                if !v.is_vacuumcmd {
                    self.utility_targets_write = false;
                }
                pg_walk::children(node, self);
            }
            NodeEnum::ClusterStmt(_) => {
                self.st.lock_mode = Some("access_exclusive");
                pg_walk::children(node, self);
            }
            NodeEnum::ReindexStmt(r) => {
                self.st.lock_mode = Some(if self.option_enabled(&r.params, "concurrently") {
                    "share_update_exclusive"
                } else {
                    "access_exclusive"
                });
                pg_walk::children(node, self);
            }
            NodeEnum::CheckPointStmt(_) => self.danger("server_control"),
            NodeEnum::LoadStmt(_) => self.danger("code_loading"),
            NodeEnum::CreateExtensionStmt(_) => self.danger("code_loading"),
            NodeEnum::CreatePlangStmt(_) => self.danger("code_loading"),
            NodeEnum::CreateSubscriptionStmt(_) | NodeEnum::AlterSubscriptionStmt(_) => {
                self.danger("remote");
                pg_walk::children(node, self);
            }
            NodeEnum::VariableShowStmt(v) if v.name == "all" || secret_setting(&v.name) => {
                self.danger("credential_access");
            }
            NodeEnum::DeclareCursorStmt(_) | NodeEnum::VariableShowStmt(_) => {
                self.in_query += 1;
                pg_walk::children(node, self);
                self.in_query -= 1;
            }
            NodeEnum::AlterTableStmt(a) => {
                self.node(node);
                // A new owner, or row-level security turned on or off, changes who may see
                // the rows: a privilege change, as `ALTER ... OWNER TO` of other objects is.
                for c in &a.cmds {
                    let Some(NodeEnum::AlterTableCmd(c)) = &c.node else {
                        continue;
                    };
                    use pb::AlterTableType as T;
                    match T::try_from(c.subtype) {
                        Ok(T::AtChangeOwner) => {
                            self.st.push_command(StatementKind::AlterOwner);
                            self.raise(Effect::Dcl);
                        }
                        Ok(
                            T::AtEnableRowSecurity
                            | T::AtDisableRowSecurity
                            | T::AtForceRowSecurity
                            | T::AtNoForceRowSecurity,
                        ) => self.raise(Effect::Dcl),
                        _ => {}
                    }
                }
            }
            _ => self.node(node),
        }
    }

    /// Records a statement nested in another that runs with it.
    fn nested_statement(&mut self, n: &NodeEnum) {
        if !self.executes || !is_statement(n) {
            return;
        }
        let (kind, effect) = kind_of(n);
        self.st.push_command(kind);
        self.raise(effect);
    }

    fn select(&mut self, n: &NodeEnum, s: &pb::SelectStmt) {
        if let Some(into) = &s.into_clause {
            if self.executes {
                self.st.push_command(StatementKind::SelectInto);
                self.raise(Effect::Ddl);
            }
            self.target(into.rel.as_ref());
        }
        let outer = std::mem::replace(&mut self.settings_row, settings_row(s));
        self.query_scope(n, s.with_clause.as_ref());
        self.settings_row = outer;
    }

    /// Walks a query's children with its CTEs in scope and its table references as reads.
    fn query_scope(&mut self, n: &NodeEnum, with: Option<&WithClause>) {
        if let Some(w) = with {
            self.scoped_with(w);
            self.ctes.push(cte_names(w));
        }
        self.in_query += 1;
        pg_walk::children(n, self);
        self.in_query -= 1;
        if with.is_some() {
            self.ctes.pop();
        }
    }

    /// Walks the CTE bodies, each seeing only the CTEs it may reference.
    fn scoped_with(&mut self, w: &WithClause) {
        self.withs_done.push(w as *const WithClause);
        let names = cte_names(w);
        for (i, cte) in w.ctes.iter().enumerate() {
            let visible = if w.recursive {
                names.clone()
            } else {
                names[..i].to_vec()
            };
            self.ctes.push(visible);
            if let Some(NodeEnum::CommonTableExpr(c)) = &cte.node {
                if let Some(q) = c.ctequery.as_deref().and_then(|n| n.node.as_ref()) {
                    self.nested_statement(q);
                }
                self.in_query += 1;
                pg_walk::walk_common_table_expr(c, self);
                self.in_query -= 1;
            }
            self.ctes.pop();
        }
    }

    fn dml(&mut self, n: &NodeEnum) {
        let (kind, effect) = kind_of(n);
        if self.executes {
            self.st.push_command(kind);
            self.raise(effect);
        }
        match n {
            NodeEnum::InsertStmt(s) => {
                self.target(s.relation.as_ref());
                self.query_scope(n, s.with_clause.as_ref());
            }
            NodeEnum::UpdateStmt(s) => {
                self.target(s.relation.as_ref());
                if self.executes && self.truth(s.where_clause.as_deref()) == Truth::Always {
                    self.st.unbounded = true;
                }
                self.query_scope(n, s.with_clause.as_ref());
            }
            NodeEnum::DeleteStmt(s) => {
                self.target(s.relation.as_ref());
                if self.executes && self.truth(s.where_clause.as_deref()) == Truth::Always {
                    self.st.unbounded = true;
                }
                self.query_scope(n, s.with_clause.as_ref());
            }
            NodeEnum::MergeStmt(s) => {
                self.target(s.relation.as_ref());
                if self.executes && merge_unbounded(self, s) {
                    self.st.unbounded = true;
                }
                self.query_scope(n, s.with_clause.as_ref());
            }
            _ => pg_walk::children(n, self),
        }
    }

    fn drop_targets(&mut self, d: &pb::DropStmt) {
        let tableish = [
            ObjectType::ObjectTable,
            ObjectType::ObjectView,
            ObjectType::ObjectMatview,
            ObjectType::ObjectSequence,
            ObjectType::ObjectForeignTable,
            ObjectType::ObjectIndex,
        ];
        let on_table = [
            ObjectType::ObjectRule,
            ObjectType::ObjectTrigger,
            ObjectType::ObjectPolicy,
        ];
        let Ok(t) = ObjectType::try_from(d.remove_type) else {
            return;
        };
        for o in &d.objects {
            let Some(NodeEnum::List(l)) = &o.node else {
                continue;
            };
            let parts: Vec<&str> = l
                .items
                .iter()
                .filter_map(|i| match &i.node {
                    Some(NodeEnum::String(s)) => Some(s.sval.as_str()),
                    _ => None,
                })
                .collect();
            let name = if tableish.contains(&t) {
                parts.join(".")
            } else if on_table.contains(&t) && parts.len() >= 2 {
                parts[..parts.len() - 1].join(".")
            } else {
                continue;
            };
            push_unique(&mut self.st.tables_written, &name);
        }
    }

    fn variable_set(&mut self, v: &pb::VariableSetStmt) {
        let kind = VariableSetKind::try_from(v.kind).unwrap_or(VariableSetKind::Undefined);
        let name = v.name.to_ascii_lowercase();
        match kind {
            VariableSetKind::VarResetAll => {
                push_unique(&mut self.st.settings, "all");
                // The server default may be read-write.
                self.st.read_write = true;
            }
            VariableSetKind::VarSetMulti => {
                // SET TRANSACTION / SET SESSION CHARACTERISTICS AS TRANSACTION.
                let prefix = if name == "transaction" {
                    ""
                } else {
                    "default_"
                };
                for a in &v.args {
                    if let Some(NodeEnum::DefElem(d)) = &a.node {
                        push_unique(&mut self.st.settings, &format!("{prefix}{}", d.defname));
                        if d.defname == "transaction_read_only" && !self.read_only_value(d) {
                            self.st.read_write = true;
                        }
                    }
                }
            }
            _ => {
                push_unique(&mut self.st.settings, &name);
                if kind == VariableSetKind::VarSetValue && functions::superuser_setting(&name) {
                    self.danger("server_control");
                }
                if name == "role" || name == "session_authorization" {
                    self.st.role_change = true;
                }
                if name == "default_transaction_read_only" || name == "transaction_read_only" {
                    let stays_read_only = kind == VariableSetKind::VarSetValue
                        && v.args.len() == 1
                        && self.const_bool(&v.args[0]) == Some(true);
                    if !stays_read_only {
                        self.st.read_write = true;
                    }
                }
            }
        }
    }

    fn transaction_options(&mut self, options: &[Node]) {
        for o in options {
            if let Some(NodeEnum::DefElem(d)) = &o.node
                && d.defname == "transaction_read_only"
            {
                push_unique(&mut self.st.settings, "transaction_read_only");
                if !self.read_only_value(d) {
                    self.st.read_write = true;
                }
            }
        }
    }

    /// The boolean value of a `transaction_read_only` option (true = read only).
    fn read_only_value(&mut self, d: &pb::DefElem) -> bool {
        match d.arg.as_deref() {
            Some(n) => self.const_bool(n) == Some(true),
            None => true,
        }
    }

    /// A constant's boolean reading, the way PostgreSQL's `parse_bool` reads settings.
    fn const_bool(&mut self, n: &Node) -> Option<bool> {
        self.const_sensitive = true;
        match &n.node {
            Some(NodeEnum::AConst(c)) => match &c.val {
                Some(Val::Boolval(b)) => Some(b.boolval),
                Some(Val::Ival(i)) => Some(i.ival != 0),
                Some(Val::Sval(s)) => parse_bool(&s.sval),
                _ => None,
            },
            Some(NodeEnum::String(s)) => parse_bool(&s.sval),
            Some(NodeEnum::Integer(i)) => Some(i.ival != 0),
            Some(NodeEnum::Boolean(b)) => Some(b.boolval),
            Some(NodeEnum::TypeCast(t)) => t.arg.as_deref().and_then(|a| self.const_bool(a)),
            _ => None,
        }
    }

    /// Whether a boolean option (`FULL`, `ANALYZE`, `CONCURRENTLY`) is on.
    fn option_enabled(&mut self, options: &[Node], name: &str) -> bool {
        options.iter().any(|o| match &o.node {
            Some(NodeEnum::DefElem(d)) if d.defname == name => match d.arg.as_deref() {
                None => true,
                // Unknown values count as on: the conservative reading.
                Some(a) => self.const_bool(a) != Some(false),
            },
            _ => false,
        })
    }

    fn explain_analyze(&mut self, options: &[Node]) -> bool {
        self.option_enabled(options, "analyze")
    }

    fn function_language(&mut self, options: &[Node]) {
        for o in options {
            if let Some(NodeEnum::DefElem(d)) = &o.node
                && d.defname == "language"
                && let Some(Node {
                    node: Some(NodeEnum::String(s)),
                }) = d.arg.as_deref()
            {
                let lang = s.sval.to_ascii_lowercase();
                // C and internal functions load native code; languages ending in `u` are
                // untrusted (plpython3u, plperlu, pltclu) and reach the operating system.
                if lang == "c" || lang == "internal" || lang.ends_with('u') {
                    self.danger("code_loading");
                }
            }
        }
    }

    fn func_call(&mut self, f: &FuncCall) {
        let parts: Vec<&str> = f
            .funcname
            .iter()
            .filter_map(|n| match &n.node {
                Some(NodeEnum::String(s)) => Some(s.sval.as_str()),
                _ => None,
            })
            .collect();
        if let Some(last) = parts.last() {
            let full = parts.join(".");
            push_unique(&mut self.st.functions, &full);
            let name = last.to_ascii_lowercase();
            let schema = if parts.len() >= 2 {
                parts[parts.len() - 2]
            } else {
                ""
            };
            if name == "current_setting" && (schema.is_empty() || schema == "pg_catalog") {
                // The setting named is a constant of the statement; a computed name may be
                // any setting's.
                self.const_sensitive = true;
                let plain = (f.args.first()).and_then(constant_text);
                if plain.is_none_or(|n| secret_setting(&n.to_ascii_lowercase())) {
                    self.danger("credential_access");
                }
            }
            if let Some(d) = functions::dangerous(&name) {
                push_unique(&mut self.st.dangerous_functions, &name);
                for c in d.categories {
                    self.danger(c);
                }
                self.raise(d.effect);
                if d.opaque {
                    self.st.opaque = true;
                }
                if name == "set_config" {
                    self.set_config(&f.args);
                }
            } else if !(functions::is_safe_builtin(&name)
                && (schema.is_empty() || schema == "pg_catalog"))
            {
                push_unique(&mut self.st.opaque_functions, &full);
                self.st.opaque = true;
            }
        }
        pg_walk::walk_func_call(f, self);
    }

    /// `a op b`, `a op ANY (...)`, `a op ALL (...)`: an operator that is not built in (made
    /// with CREATE OPERATOR, or qualified with another schema than `pg_catalog`) runs a
    /// function the classifier cannot see, as an unknown function does.
    fn operator(&mut self, a: &pb::AExpr) {
        let kind = AExprKind::try_from(a.kind).unwrap_or(AExprKind::Undefined);
        if !matches!(
            kind,
            AExprKind::AexprOp | AExprKind::AexprOpAny | AExprKind::AexprOpAll
        ) {
            return;
        }
        let parts: Vec<&str> = (a.name.iter())
            .filter_map(|n| match n.node.as_ref() {
                Some(NodeEnum::String(s)) => Some(s.sval.as_str()),
                _ => None,
            })
            .collect();
        let Some((op, schema)) = parts.split_last() else {
            return;
        };
        let builtin_schema = schema
            .last()
            .is_none_or(|s| s.eq_ignore_ascii_case("pg_catalog"));
        if !(builtin_schema && functions::is_builtin_operator(op)) {
            push_unique(
                &mut self.st.opaque_functions,
                &format!("OPERATOR({})", parts.join(".")),
            );
            self.st.opaque = true;
        }
    }

    /// `set_config(name, value, is_local)`: the setting is a fact when it is a constant. A
    /// value that is not a constant (an expression over the rows read, a parameter) is kept
    /// by the server for later statements to read back (`current_setting`, `SHOW`,
    /// `pg_stat_activity`), as a write keeps it: the statement's effect is `Write`.
    fn set_config(&mut self, args: &[Node]) {
        self.const_sensitive = true;
        if !args.get(1).is_some_and(is_constant) {
            self.raise(Effect::Write);
        }
        let name = args.first().and_then(|a| match &a.node {
            Some(NodeEnum::AConst(c)) => match &c.val {
                Some(Val::Sval(s)) => Some(s.sval.to_ascii_lowercase()),
                _ => None,
            },
            Some(NodeEnum::ColumnRef(c)) if column_ref_name(c) == Some(("name", true)) => {
                self.settings_row.clone()
            }
            _ => None,
        });
        match name {
            Some(name) => {
                if functions::superuser_setting(&name) {
                    self.danger("server_control");
                }
                if name == "role" || name == "session_authorization" {
                    self.st.role_change = true;
                }
                if name == "default_transaction_read_only" || name == "transaction_read_only" {
                    let ro = args.get(1).and_then(|a| self.const_bool(a));
                    if ro != Some(true) {
                        self.st.read_write = true;
                    }
                }
                push_unique(&mut self.st.settings, &name);
            }
            None => {
                // A computed name may be anything.
                self.st.opaque = true;
                self.st.role_change = true;
                self.st.read_write = true;
            }
        }
    }

    fn range_var_ref(&mut self, r: &RangeVar) {
        if settings_view(r) {
            // Which row the filter names is a constant of the statement.
            self.const_sensitive = true;
            if (self.settings_row.as_deref()).is_none_or(secret_setting) {
                self.settings_unfiltered = true;
            }
        }
        push_unique(&mut self.relations, &r.relname);
        if let Some(a) = &r.alias {
            push_unique(&mut self.relations, &a.aliasname);
        }
        if self.targets.iter().any(|t| std::ptr::eq(*t, r)) || self.is_cte(r) {
            return;
        }
        let name = qualified(r);
        if self.in_query == 0 && self.utility_targets_write && self.executes {
            push_unique(&mut self.st.tables_written, &name);
        } else {
            push_unique(&mut self.st.tables_read, &name);
        }
    }

    /// Whether a WHERE/ON condition selects every row.
    fn truth(&mut self, n: Option<&Node>) -> Truth {
        let Some(n) = n else { return Truth::Always };
        let Some(e) = &n.node else {
            return Truth::Always;
        };
        if !references_row(e, 0) {
            // Constant for every row: all rows or none. Only a provably false or NULL value
            // selects none; anything else counts as all.
            self.const_sensitive = true;
            return match const_value(e, 0) {
                Some(Const::Bool(false) | Const::Null) => Truth::Never,
                _ => Truth::Always,
            };
        }
        match e {
            NodeEnum::BoolExpr(b) => {
                let parts: Vec<Truth> = b.args.iter().map(|a| self.truth(Some(a))).collect();
                match BoolExprType::try_from(b.boolop) {
                    Ok(BoolExprType::AndExpr) => {
                        if parts.contains(&Truth::Never) {
                            Truth::Never
                        } else if parts.iter().all(|p| *p == Truth::Always) {
                            Truth::Always
                        } else {
                            Truth::Depends
                        }
                    }
                    Ok(BoolExprType::OrExpr) => {
                        if parts.contains(&Truth::Always) {
                            Truth::Always
                        } else if parts.iter().all(|p| *p == Truth::Never) {
                            Truth::Never
                        } else {
                            Truth::Depends
                        }
                    }
                    Ok(BoolExprType::NotExpr) => match parts.first() {
                        Some(Truth::Always) => Truth::Never,
                        Some(Truth::Never) => Truth::Always,
                        _ => Truth::Depends,
                    },
                    _ => Truth::Depends,
                }
            }
            NodeEnum::AExpr(a) => {
                // `x = x`, `x >= x`, `x <= x`, `x IS NOT DISTINCT FROM x`: every row (with x
                // not null).
                let same = match (a.lexpr.as_deref(), a.rexpr.as_deref()) {
                    (Some(l), Some(r)) => same_column(l, r),
                    _ => false,
                };
                let kind = AExprKind::try_from(a.kind).unwrap_or(AExprKind::Undefined);
                let op = operator_name(&a.name);
                if same
                    && (kind == AExprKind::AexprNotDistinct
                        || (kind == AExprKind::AexprOp && matches!(op, "=" | ">=" | "<=")))
                {
                    Truth::Always
                } else {
                    Truth::Depends
                }
            }
            _ => Truth::Depends,
        }
    }
}

impl Visitor for Walker {
    fn node(&mut self, n: &NodeEnum) {
        self.depth += 1;
        if self.depth > MAX_WALK_DEPTH {
            self.st.opaque = true;
            self.depth -= 1;
            return;
        }
        match n {
            NodeEnum::SelectStmt(s) => self.select(n, s),
            NodeEnum::InsertStmt(_)
            | NodeEnum::UpdateStmt(_)
            | NodeEnum::DeleteStmt(_)
            | NodeEnum::MergeStmt(_) => self.dml(n),
            NodeEnum::RangeVar(r) => self.range_var_ref(r),
            NodeEnum::FuncCall(f) => self.func_call(f),
            NodeEnum::AExpr(a) => {
                self.operator(a);
                pg_walk::children(n, self);
            }
            NodeEnum::ColumnRef(c) => self.column_ref(c),
            NodeEnum::JoinExpr(j) => {
                self.column_names(&j.using_clause);
                pg_walk::children(n, self);
            }
            _ => {
                if is_statement(n) {
                    // A statement nested in a utility statement (CREATE SCHEMA elements, rule
                    // actions): its kind and effect count when it runs.
                    self.nested_statement(n);
                }
                pg_walk::children(n, self);
            }
        }
        self.depth -= 1;
    }

    fn range_var(&mut self, r: &RangeVar) {
        self.range_var_ref(r);
    }

    fn with_clause(&mut self, w: &WithClause) {
        if !self.withs_done.iter().any(|d| std::ptr::eq(*d, w)) {
            self.scoped_with(w);
        }
    }

    fn func_call(&mut self, f: &FuncCall) {
        Walker::func_call(self, f);
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Truth {
    Always,
    Never,
    Depends,
}

fn merge_unbounded(w: &mut Walker, s: &pb::MergeStmt) -> bool {
    let mut modifies_matched = false;
    let mut by_source = false;
    for c in &s.merge_when_clauses {
        if let Some(NodeEnum::MergeWhenClause(c)) = &c.node {
            let modifies = c.command_type == pb::CmdType::CmdUpdate as i32
                || c.command_type == pb::CmdType::CmdDelete as i32;
            match MergeMatchKind::try_from(c.match_kind) {
                Ok(MergeMatchKind::MergeWhenMatched) => modifies_matched |= modifies,
                Ok(MergeMatchKind::MergeWhenNotMatchedBySource) => by_source |= modifies,
                _ => {}
            }
        }
    }
    // NOT MATCHED BY SOURCE changes the target rows the join did not select: potentially all.
    by_source || (modifies_matched && w.truth(s.join_condition.as_deref()) == Truth::Always)
}

fn cte_names(w: &WithClause) -> Vec<String> {
    w.ctes
        .iter()
        .filter_map(|c| match &c.node {
            Some(NodeEnum::CommonTableExpr(c)) => Some(c.ctename.clone()),
            _ => None,
        })
        .collect()
}

/// The catalogs (and views over them) that hold credentials: password verifiers
/// (`pg_authid.rolpassword`, `pg_shadow.passwd`), user mappings' options (`password` for a
/// foreign server) and subscriptions' connection strings.
const CREDENTIAL_CATALOGS: &[&str] = &[
    "pg_authid",
    "pg_shadow",
    "pg_user_mapping",
    "pg_user_mappings",
    "pg_subscription",
];

/// `x` when `s` is `SELECT ... FROM pg_settings WHERE name = 'x'` (`pg_settings` alone, maybe
/// qualified with `pg_catalog`, without an alias; the filter exactly that): the one row it
/// can see is setting `x`'s.
fn settings_row(s: &pb::SelectStmt) -> Option<String> {
    let [from] = s.from_clause.as_slice() else {
        return None;
    };
    let Some(NodeEnum::RangeVar(r)) = &from.node else {
        return None;
    };
    if r.relname != "pg_settings" || !settings_view(r) || r.alias.is_some() {
        return None;
    }
    let Some(NodeEnum::AExpr(a)) = s.where_clause.as_deref().and_then(|w| w.node.as_ref()) else {
        return None;
    };
    if AExprKind::try_from(a.kind) != Ok(AExprKind::AexprOp)
        || a.name.len() != 1
        || operator_name(&a.name) != "="
    {
        return None;
    }
    let lexpr = a.lexpr.as_deref().and_then(|n| n.node.as_ref());
    let rexpr = a.rexpr.as_deref().and_then(|n| n.node.as_ref());
    let (col, lit) = match (lexpr, rexpr) {
        (Some(NodeEnum::ColumnRef(c)), Some(NodeEnum::AConst(v)))
        | (Some(NodeEnum::AConst(v)), Some(NodeEnum::ColumnRef(c))) => (c, v),
        _ => return None,
    };
    match (column_ref_name(col), &lit.val) {
        (Some(("name", true)), Some(Val::Sval(v))) => Some(v.sval.to_ascii_lowercase()),
        _ => None,
    }
}

/// Settings whose values may hold credentials: the replication connection string of a
/// standby, the commands that may carry object-store keys or a key passphrase. PostgreSQL shows
/// them only to superusers and `pg_read_all_settings`, which a gateway's upstream user often is.
const SECRET_SETTINGS: &[&str] = &[
    "primary_conninfo",
    "ssl_passphrase_command",
    "archive_command",
    "restore_command",
    "archive_cleanup_command",
    "recovery_end_command",
];

fn secret_setting(name: &str) -> bool {
    SECRET_SETTINGS.contains(&name)
}

/// `pg_settings` or `pg_file_settings` (unqualified or in `pg_catalog`).
fn settings_view(r: &RangeVar) -> bool {
    matches!(r.relname.as_str(), "pg_settings" | "pg_file_settings")
        && (r.schemaname.is_empty() || r.schemaname == "pg_catalog")
        && r.catalogname.is_empty()
}

/// The text of a string constant (maybe cast).
fn constant_text(n: &Node) -> Option<&str> {
    match &n.node {
        Some(NodeEnum::AConst(c)) => match &c.val {
            Some(Val::Sval(s)) => Some(&s.sval),
            _ => None,
        },
        Some(NodeEnum::TypeCast(t)) => t.arg.as_deref().and_then(constant_text),
        _ => None,
    }
}

/// Whether `n` is a constant written in the statement (a literal, maybe cast): not a column,
/// an expression or a parameter.
fn is_constant(n: &Node) -> bool {
    match &n.node {
        Some(NodeEnum::AConst(_)) => true,
        Some(NodeEnum::TypeCast(t)) => t.arg.as_deref().is_some_and(is_constant),
        _ => false,
    }
}

/// Whether `name` (as written) is a view of other sessions' statement texts, whose `query`
/// column quotes what they ran: the passwords of `ALTER ROLE ... PASSWORD`, `CREATE USER
/// MAPPING`, `dblink_connect(...)`. `pg_stat_activity` unqualified or in `pg_catalog`;
/// pg_stat_statements (an extension: in any schema).
fn statement_texts(name: &str) -> bool {
    name.rsplit('.').next() == Some("pg_stat_statements") || catalog_named(name, "pg_stat_activity")
}

/// Whether `name` (as written: `pg_authid`, `pg_catalog.pg_shadow`) is one of
/// [`CREDENTIAL_CATALOGS`] (see [`catalog_named`]).
fn credential_catalog(name: &str) -> bool {
    CREDENTIAL_CATALOGS.iter().any(|c| catalog_named(name, c))
}

/// Whether `name` (as written) may be a system catalog: in `pg_catalog` or `pg_toast`, or
/// unqualified with the `pg_` prefix the catalogs use (the catalog schema comes first in the
/// search path unless it is set otherwise; a user table of such a name counts too).
fn system_catalog(name: &str) -> bool {
    match name.rsplit_once('.') {
        Some((schema, _)) => {
            let schema = schema.rsplit('.').next().unwrap_or(schema);
            schema == "pg_catalog" || schema == "pg_toast"
        }
        None => name.starts_with("pg_"),
    }
}

/// Whether `name` (as written) is the system catalog `catalog`: unqualified (the catalog
/// schema comes first in the search path unless it is set otherwise, which the text does not
/// show) or in `pg_catalog`.
fn catalog_named(name: &str, catalog: &str) -> bool {
    let (schema, rel) = match name.rsplit_once('.') {
        Some((schema, rel)) => (Some(schema), rel),
        None => (None, name),
    };
    rel == catalog && schema.is_none_or(|s| s == "pg_catalog" || s.ends_with(".pg_catalog"))
}

/// A relation name as written: `catalog.schema.name`, `schema.name` or `name`.
fn qualified(r: &RangeVar) -> String {
    let mut s = String::with_capacity(r.relname.len() + r.schemaname.len() + 1);
    if !r.catalogname.is_empty() {
        s.push_str(&r.catalogname);
        s.push('.');
    }
    if !r.schemaname.is_empty() {
        s.push_str(&r.schemaname);
        s.push('.');
    }
    s.push_str(&r.relname);
    s
}

fn lock_mode(mode: i32) -> &'static str {
    match mode {
        1 => "access_share",
        2 => "row_share",
        3 => "row_exclusive",
        4 => "share_update_exclusive",
        5 => "share",
        6 => "share_row_exclusive",
        7 => "exclusive",
        _ => "access_exclusive",
    }
}

fn operator_name(name: &[Node]) -> &str {
    match name.last().and_then(|n| n.node.as_ref()) {
        Some(NodeEnum::String(s)) => &s.sval,
        _ => "",
    }
}

/// What a column reference names: its last part and whether it has only that one (`c`
/// may be a whole row), or `*` for `t.*` and `*`.
fn column_ref_name(c: &pb::ColumnRef) -> Option<(&str, bool)> {
    match c.fields.last().and_then(|f| f.node.as_ref()) {
        Some(NodeEnum::String(s)) => Some((&s.sval, c.fields.len() == 1)),
        Some(NodeEnum::AStar(_)) => Some(("*", false)),
        _ => None,
    }
}

/// The strings of a list of `String` nodes (`USING (a, b)`, a `COPY` column list).
fn string_names(nodes: &[Node]) -> impl Iterator<Item = &str> {
    nodes.iter().filter_map(|n| match &n.node {
        Some(NodeEnum::String(s)) => Some(s.sval.as_str()),
        _ => None,
    })
}

/// Per result column of a row-returning statement, the columns its expression refers to
/// (see `Statement::result_columns`). `relations`: the statement's relation names and
/// aliases (a one-part reference to one of them is a whole row, `*`).
fn result_columns(node: &NodeEnum, relations: &[String]) -> Option<Vec<Vec<String>>> {
    match node {
        NodeEnum::SelectStmt(s) => select_results(s, relations, 0),
        NodeEnum::InsertStmt(i) if i.with_clause.is_none() => {
            targets_results(returning(&i.returning_clause), relations)
        }
        NodeEnum::UpdateStmt(u) if u.with_clause.is_none() && from_is_tables(&u.from_clause) => {
            targets_results(returning(&u.returning_clause), relations)
        }
        NodeEnum::DeleteStmt(d) if d.with_clause.is_none() && from_is_tables(&d.using_clause) => {
            targets_results(returning(&d.returning_clause), relations)
        }
        NodeEnum::CopyStmt(c) => result_columns(c.query.as_ref()?.node.as_ref()?, relations),
        _ => None,
    }
}

fn returning(r: &Option<pb::ReturningClause>) -> &[Node] {
    r.as_ref().map_or(&[], |r| &r.exprs)
}

fn select_results(
    s: &pb::SelectStmt,
    relations: &[String],
    depth: u32,
) -> Option<Vec<Vec<String>>> {
    if depth > MAX_WALK_DEPTH
        || s.with_clause.is_some()
        || s.into_clause.is_some()
        || !s.values_lists.is_empty()
    {
        return None;
    }
    match pb::SetOperation::try_from(s.op).ok()? {
        pb::SetOperation::SetopNone => {
            if !from_is_tables(&s.from_clause) {
                return None;
            }
            targets_results(&s.target_list, relations)
        }
        _ => {
            let l = select_results(s.larg.as_deref()?, relations, depth + 1)?;
            let r = select_results(s.rarg.as_deref()?, relations, depth + 1)?;
            if l.len() != r.len() {
                return None;
            }
            Some(
                l.into_iter()
                    .zip(r)
                    .map(|(mut a, b)| {
                        for c in b {
                            push_unique(&mut a, &c);
                        }
                        a
                    })
                    .collect(),
            )
        }
    }
}

/// Whether every `FROM` item is a table (or a join of tables): no subquery, function, CTE
/// (the caller refuses statements with CTEs) or table sample.
fn from_is_tables(items: &[Node]) -> bool {
    fn table(n: &Node) -> bool {
        match &n.node {
            Some(NodeEnum::RangeVar(_)) => true,
            Some(NodeEnum::JoinExpr(j)) => {
                j.larg.as_deref().is_some_and(table) && j.rarg.as_deref().is_some_and(table)
            }
            _ => false,
        }
    }
    items.iter().all(table)
}

/// The columns each target refers to; `None` if one expands to several columns (`*`, `t.*`,
/// `(x).*`).
fn targets_results(targets: &[Node], relations: &[String]) -> Option<Vec<Vec<String>>> {
    let mut out = Vec::with_capacity(targets.len());
    for t in targets {
        let Some(NodeEnum::ResTarget(rt)) = &t.node else {
            return None;
        };
        let val = rt.val.as_deref()?.node.as_ref()?;
        let expands = match val {
            NodeEnum::ColumnRef(c) => {
                matches!(
                    c.fields.last().and_then(|f| f.node.as_ref()),
                    Some(NodeEnum::AStar(_))
                )
            }
            NodeEnum::AIndirection(i) => matches!(
                i.indirection.last().and_then(|f| f.node.as_ref()),
                Some(NodeEnum::AStar(_))
            ),
            _ => false,
        };
        if expands {
            return None;
        }
        out.push(expression_columns(val, relations));
    }
    Some(out)
}

/// The columns an expression refers to, inside subqueries too (`*` for `t.*` and whole rows).
fn expression_columns(n: &NodeEnum, relations: &[String]) -> Vec<String> {
    struct Refs<'a> {
        relations: &'a [String],
        found: Vec<String>,
        depth: u32,
    }
    impl Visitor for Refs<'_> {
        fn node(&mut self, n: &NodeEnum) {
            if self.depth > MAX_WALK_DEPTH {
                push_unique(&mut self.found, "*");
                return;
            }
            if let NodeEnum::ColumnRef(c) = n {
                if let Some((name, one_part)) = column_ref_name(c) {
                    push_unique(&mut self.found, name);
                    if one_part && self.relations.iter().any(|r| r == name) {
                        push_unique(&mut self.found, "*");
                    }
                }
                return;
            }
            if let NodeEnum::JoinExpr(j) = n {
                for u in string_names(&j.using_clause) {
                    push_unique(&mut self.found, u);
                }
            }
            self.depth += 1;
            pg_walk::children(n, self);
            self.depth -= 1;
        }
    }
    let mut r = Refs {
        relations,
        found: Vec::new(),
        depth: 0,
    };
    r.node(n);
    r.found
}

/// Whether both nodes name the same column (ignoring where they were written).
fn same_column(l: &Node, r: &Node) -> bool {
    match (&l.node, &r.node) {
        (Some(NodeEnum::ColumnRef(a)), Some(NodeEnum::ColumnRef(b))) => a.fields == b.fields,
        _ => false,
    }
}

/// Whether an expression can differ from row to row: it names a column (anywhere, also in a
/// subquery) or a cursor position. Parameters are constants for one execution. Too-deep
/// expressions count as row-dependent (the safe answer is made by the caller's defaults).
fn references_row(n: &NodeEnum, depth: u32) -> bool {
    struct Finder {
        found: bool,
        depth: u32,
    }
    impl Visitor for Finder {
        fn node(&mut self, n: &NodeEnum) {
            if self.found {
                return;
            }
            if matches!(n, NodeEnum::ColumnRef(_) | NodeEnum::CurrentOfExpr(_))
                || self.depth > MAX_WALK_DEPTH
            {
                self.found = true;
                return;
            }
            self.depth += 1;
            pg_walk::children(n, self);
            self.depth -= 1;
        }
    }
    let mut f = Finder {
        found: false,
        depth,
    };
    f.node(n);
    f.found
}

#[derive(Debug, Clone, PartialEq)]
enum Const {
    Bool(bool),
    Int(i64),
    Num(f64),
    Str(String),
    Null,
}

/// Evaluates a row-independent expression when it is simple enough; `None` when unknown.
fn const_value(n: &NodeEnum, depth: u32) -> Option<Const> {
    if depth > 64 {
        return None;
    }
    let sub = |n: Option<&Node>| {
        n.and_then(|n| n.node.as_ref())
            .and_then(|e| const_value(e, depth + 1))
    };
    match n {
        NodeEnum::AConst(c) => {
            if c.isnull {
                return Some(Const::Null);
            }
            match &c.val {
                Some(Val::Boolval(b)) => Some(Const::Bool(b.boolval)),
                Some(Val::Ival(i)) => Some(Const::Int(i64::from(i.ival))),
                Some(Val::Fval(f)) => f.fval.parse::<f64>().ok().map(Const::Num),
                Some(Val::Sval(s)) => Some(Const::Str(s.sval.clone())),
                _ => None,
            }
        }
        NodeEnum::TypeCast(t) => {
            let v = sub(t.arg.as_deref())?;
            let ty = t
                .type_name
                .as_ref()
                .map(|tn| operator_name(&tn.names).to_ascii_lowercase())
                .unwrap_or_default();
            match (ty.as_str(), v) {
                ("bool" | "boolean", Const::Str(s)) => parse_bool(&s).map(Const::Bool),
                ("bool" | "boolean", Const::Int(i)) => Some(Const::Bool(i != 0)),
                ("bool" | "boolean", v @ (Const::Bool(_) | Const::Null)) => Some(v),
                ("int2" | "int4" | "int8" | "integer" | "bigint" | "smallint", Const::Str(s)) => {
                    s.trim().parse::<i64>().ok().map(Const::Int)
                }
                ("text" | "varchar" | "bpchar", v @ Const::Str(_)) => Some(v),
                (_, Const::Null) => Some(Const::Null),
                _ => None,
            }
        }
        NodeEnum::BoolExpr(b) => {
            let vals: Vec<Option<bool>> = b
                .args
                .iter()
                .map(|a| match sub(Some(a)) {
                    Some(Const::Bool(v)) => Some(v),
                    Some(Const::Str(s)) => parse_bool(&s),
                    _ => None,
                })
                .collect();
            match BoolExprType::try_from(b.boolop) {
                Ok(BoolExprType::AndExpr) => {
                    if vals.contains(&Some(false)) {
                        Some(Const::Bool(false))
                    } else if vals.iter().all(|v| *v == Some(true)) {
                        Some(Const::Bool(true))
                    } else {
                        None
                    }
                }
                Ok(BoolExprType::OrExpr) => {
                    if vals.contains(&Some(true)) {
                        Some(Const::Bool(true))
                    } else if vals.iter().all(|v| *v == Some(false)) {
                        Some(Const::Bool(false))
                    } else {
                        None
                    }
                }
                Ok(BoolExprType::NotExpr) => {
                    vals.first().copied().flatten().map(|v| Const::Bool(!v))
                }
                _ => None,
            }
        }
        NodeEnum::AExpr(a) if a.kind == AExprKind::AexprOp as i32 => {
            let l = sub(a.lexpr.as_deref())?;
            let r = sub(a.rexpr.as_deref())?;
            compare(operator_name(&a.name), &l, &r)
        }
        NodeEnum::NullTest(t) => {
            let v = sub(t.arg.as_deref())?;
            let is_null = v == Const::Null;
            match NullTestType::try_from(t.nulltesttype) {
                Ok(NullTestType::IsNull) => Some(Const::Bool(is_null)),
                Ok(NullTestType::IsNotNull) => Some(Const::Bool(!is_null)),
                _ => None,
            }
        }
        NodeEnum::BooleanTest(t) => {
            let v = match sub(t.arg.as_deref())? {
                Const::Bool(b) => Some(b),
                Const::Null => None,
                Const::Str(s) => Some(parse_bool(&s)?),
                _ => return None,
            };
            let r = match BoolTestType::try_from(t.booltesttype).ok()? {
                BoolTestType::IsTrue => v == Some(true),
                BoolTestType::IsNotTrue => v != Some(true),
                BoolTestType::IsFalse => v == Some(false),
                BoolTestType::IsNotFalse => v != Some(false),
                BoolTestType::IsUnknown => v.is_none(),
                BoolTestType::IsNotUnknown => v.is_some(),
                BoolTestType::Undefined => return None,
            };
            Some(Const::Bool(r))
        }
        _ => None,
    }
}

fn compare(op: &str, l: &Const, r: &Const) -> Option<Const> {
    use std::cmp::Ordering;
    if matches!(l, Const::Null) || matches!(r, Const::Null) {
        return Some(Const::Null);
    }
    let ord = match (l, r) {
        (Const::Int(a), Const::Int(b)) => a.cmp(b),
        (Const::Int(_) | Const::Num(_), Const::Int(_) | Const::Num(_)) => {
            num(l)?.partial_cmp(&num(r)?)?
        }
        (Const::Bool(a), Const::Bool(b)) => a.cmp(b),
        // Strings: only equality is collation-independent.
        (Const::Str(a), Const::Str(b)) if matches!(op, "=" | "<>" | "!=") => {
            if a == b {
                Ordering::Equal
            } else {
                Ordering::Less
            }
        }
        // A string literal compared with a number is read as a number.
        (Const::Str(s), Const::Int(_) | Const::Num(_)) => {
            s.trim().parse::<f64>().ok()?.partial_cmp(&num(r)?)?
        }
        (Const::Int(_) | Const::Num(_), Const::Str(s)) => {
            num(l)?.partial_cmp(&s.trim().parse::<f64>().ok()?)?
        }
        (Const::Bool(a), Const::Str(s)) => a.cmp(&parse_bool(s)?),
        (Const::Str(s), Const::Bool(b)) => parse_bool(s)?.cmp(b),
        _ => return None,
    };
    let v = match op {
        "=" => ord == Ordering::Equal,
        "<>" | "!=" => ord != Ordering::Equal,
        "<" => ord == Ordering::Less,
        ">" => ord == Ordering::Greater,
        "<=" => ord != Ordering::Greater,
        ">=" => ord != Ordering::Less,
        _ => return None,
    };
    Some(Const::Bool(v))
}

fn num(c: &Const) -> Option<f64> {
    match c {
        #[allow(clippy::cast_precision_loss)]
        Const::Int(i) => Some(*i as f64),
        Const::Num(n) => Some(*n),
        _ => None,
    }
}

/// PostgreSQL's `parse_bool`: any unique prefix of true/false/yes/no, on/off, 1/0.
pub(crate) fn parse_bool(s: &str) -> Option<bool> {
    let s = s.trim().to_ascii_lowercase();
    if s.is_empty() {
        return None;
    }
    let prefix_of = |word: &str| word.starts_with(s.as_str());
    match s.as_str() {
        "1" => Some(true),
        "0" => Some(false),
        "on" => Some(true),
        "of" | "off" => Some(false),
        _ if prefix_of("true") || prefix_of("yes") => Some(true),
        _ if prefix_of("false") || prefix_of("no") => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `result_columns` of the only statement of `sql`, each column's names joined by `,`.
    fn results(sql: &str) -> Option<Vec<String>> {
        let c = classify(sql);
        assert_eq!(c.statements.len(), 1, "{sql}");
        let r = c.statements[0].result_columns.clone()?;
        Some(r.into_iter().map(|cols| cols.join(",")).collect())
    }

    #[test]
    fn result_columns_follow_each_target() {
        let r = |sql| results(sql).unwrap_or_else(|| panic!("{sql}: None"));
        assert_eq!(
            r(
                "SELECT id, reverse(c.ssn) AS r, length(name), 1, count(*) FROM customers c \
               WHERE ssn IS NULL"
            ),
            ["id", "ssn", "name", "", ""]
        );
        assert_eq!(
            r(
                "SELECT (SELECT max(ssn) FROM customers), to_json(c), row_to_json(c.*) \
               FROM customers c JOIN orders o USING (id)"
            ),
            ["ssn", "c,*", "*"]
        );
        assert_eq!(
            r("SELECT ssn, 'x' FROM customers UNION ALL SELECT 'y', name FROM people"),
            ["ssn", "name"]
        );
        assert_eq!(
            r("UPDATE customers SET name = 'x' WHERE id = 1 RETURNING id, reverse(ssn)"),
            ["id", "ssn"]
        );
        assert_eq!(
            r("DELETE FROM customers WHERE id = 1"),
            Vec::<String>::new()
        );
        assert_eq!(
            r("COPY (SELECT id, upper(ssn) FROM customers) TO STDOUT"),
            ["id", "ssn"]
        );
        assert_eq!(
            r("SELECT lag(name) OVER (ORDER BY ssn) FROM customers"),
            ["name,ssn"]
        );
        // Cannot be told apart from the text: None.
        for sql in [
            "SELECT * FROM customers",
            "SELECT c.*, 1 FROM customers c",
            "SELECT (c).* FROM (SELECT customers AS c FROM customers) s",
            "WITH x AS (SELECT reverse(ssn) r FROM customers) SELECT r FROM x",
            "SELECT r FROM (SELECT reverse(ssn) r FROM customers) s",
            "SELECT f FROM some_function() f",
            "SELECT a FROM customers, LATERAL (SELECT ssn AS a) l",
            "SELECT x FROM customers TABLESAMPLE SYSTEM (10)",
            "VALUES (1, 2)",
            "SELECT 1 UNION SELECT * FROM customers",
            "UPDATE customers SET name = 'x' FROM (SELECT 1) s WHERE id = 1 RETURNING name",
            "INSERT INTO t SELECT 1 RETURNING *",
            "EXPLAIN SELECT ssn FROM customers",
            "SET search_path = public",
        ] {
            assert_eq!(results(sql), None, "{sql}");
        }
    }

    #[test]
    fn parse_bool_follows_postgres() {
        for (s, v) in [
            ("t", Some(true)),
            ("TRUE", Some(true)),
            (" yes ", Some(true)),
            ("on", Some(true)),
            ("1", Some(true)),
            ("f", Some(false)),
            ("off", Some(false)),
            ("n", Some(false)),
            ("o", None),
            ("maybe", None),
            ("", None),
        ] {
            assert_eq!(parse_bool(s), v, "{s:?}");
        }
    }

    #[test]
    fn walker_matches_pg_query_version() {
        // The workspace's lock file says which pg_query is built; the walker must come from
        // the same version's protobuf.rs.
        let lock = concat!(env!("CARGO_MANIFEST_DIR"), "/../Cargo.lock");
        let lock = std::fs::read_to_string(lock).expect("the workspace Cargo.lock");
        let built = lock
            .split("[[package]]")
            .find(|p| p.contains("\nname = \"pg_query\"\n"))
            .and_then(|p| p.split("\nversion = \"").nth(1))
            .and_then(|v| v.split('"').next())
            .expect("pg_query in Cargo.lock");
        assert_eq!(
            pg_walk::GENERATED_FOR,
            built,
            "regenerate pg_walk.rs with gen_pg_walk.py"
        );
    }
}
