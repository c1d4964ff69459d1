//! MySQL classification through `sqlparser` (scope: kind, effect, tables, columns, functions,
//! unbounded, settings).

use std::ops::ControlFlow;

use sqlparser::ast::{
    self, Expr, FromTable, ObjectName, Statement as Ast, TableFactor, TableObject, UnaryOperator,
    Value, visit_expressions, visit_relations,
};
use sqlparser::dialect::MySqlDialect;
use sqlparser::parser::Parser;

use super::statement::push_unique;
use super::{Classification, Dialect, Effect, Statement, StatementKind as K};

/// sqlparser's own nesting limit; its recursive descent uses a lot of stack per level.
const RECURSION_LIMIT: usize = 40;

/// MySQL functions that touch files, stall the server or run other statements.
const DANGEROUS: &[(&str, &str, Effect)] = &[
    ("load_file", "file_access", Effect::Admin),
    ("sleep", "delay", Effect::Read),
    ("benchmark", "delay", Effect::Read),
    ("get_lock", "lock", Effect::Session),
    ("release_all_locks", "lock", Effect::Session),
    ("sys_exec", "program_execution", Effect::Admin),
    ("sys_eval", "program_execution", Effect::Admin),
];

/// MySQL built-ins known to have no side effects.
const SAFE: &[&str] = &[
    "abs",
    "avg",
    "ceil",
    "ceiling",
    "char_length",
    "coalesce",
    "concat",
    "concat_ws",
    "count",
    "curdate",
    "current_date",
    "current_timestamp",
    "curtime",
    "date",
    "date_add",
    "date_format",
    "date_sub",
    "datediff",
    "day",
    "floor",
    "format",
    "from_unixtime",
    "greatest",
    "group_concat",
    "hex",
    "hour",
    "if",
    "ifnull",
    "instr",
    "json_extract",
    "json_object",
    "json_array",
    "lcase",
    "least",
    "left",
    "length",
    "lower",
    "lpad",
    "ltrim",
    "max",
    "md5",
    "min",
    "minute",
    "mod",
    "month",
    "now",
    "nullif",
    "replace",
    "right",
    "round",
    "rpad",
    "rtrim",
    "sha1",
    "sha2",
    "substr",
    "substring",
    "sum",
    "trim",
    "truncate",
    "ucase",
    "unix_timestamp",
    "upper",
    "uuid",
    "year",
];

pub(crate) fn classify(sql: &str) -> Classification {
    let parsed = Parser::new(&MySqlDialect {})
        .with_recursion_limit(RECURSION_LIMIT)
        .try_with_sql(sql)
        .and_then(|mut p| p.parse_statements());
    let stmts = match parsed {
        Ok(s) => s,
        Err(e) => return Classification::unparsable(Dialect::MySql, e.to_string()),
    };
    let mut out = Classification {
        dialect: Dialect::MySql,
        statements: Vec::with_capacity(stmts.len()),
        error: None,
        // The unbounded check reads literal values.
        const_sensitive: true,
    };
    for s in &stmts {
        out.statements.push(classify_stmt(s));
    }
    out
}

fn classify_stmt(s: &Ast) -> Statement {
    let (kind, effect) = kind_of(s);
    let mut st = Statement::new(kind, effect);
    let mut targets: Vec<String> = Vec::new();
    match s {
        Ast::Insert(i) => {
            if let TableObject::TableName(n) = &i.table {
                targets.push(name(n));
            }
        }
        Ast::Update(u) => {
            if let TableFactor::Table { name: n, .. } = &u.table.relation {
                targets.push(name(n));
            }
            st.unbounded = unbounded(u.selection.as_ref());
        }
        Ast::Delete(d) => {
            for t in &d.tables {
                targets.push(name(t));
            }
            if d.tables.is_empty() {
                let from = match &d.from {
                    FromTable::WithFromKeyword(f) | FromTable::WithoutKeyword(f) => f,
                };
                for t in from {
                    if let TableFactor::Table { name: n, .. } = &t.relation {
                        targets.push(name(n));
                    }
                }
            }
            st.unbounded = unbounded(d.selection.as_ref());
        }
        Ast::Truncate(t) => {
            st.unbounded = true;
            for t in &t.table_names {
                targets.push(name(&t.name));
            }
        }
        Ast::Drop {
            names, object_type, ..
        } => {
            if matches!(
                object_type,
                ast::ObjectType::Table | ast::ObjectType::View | ast::ObjectType::Index
            ) {
                targets.extend(names.iter().map(name));
            }
        }
        Ast::AlterTable(a) => targets.push(name(&a.name)),
        Ast::CreateTable(c) => targets.push(name(&c.name)),
        Ast::CreateView(v) => targets.push(name(&v.name)),
        Ast::Set(
            set @ (ast::Set::SingleAssignment { .. }
            | ast::Set::MultipleAssignments { .. }
            | ast::Set::ParenthesizedAssignments { .. }),
        ) => {
            let names: Vec<&ObjectName> = match set {
                ast::Set::SingleAssignment { variable, .. } => vec![variable],
                ast::Set::MultipleAssignments { assignments } => {
                    assignments.iter().map(|a| &a.name).collect()
                }
                ast::Set::ParenthesizedAssignments { variables, .. } => variables.iter().collect(),
                _ => Vec::new(),
            };
            for v in names {
                let n = name(v).to_ascii_lowercase();
                let n = n
                    .trim_start_matches("@@")
                    .trim_start_matches("session.")
                    .to_owned();
                if n == "transaction_read_only" || n == "tx_read_only" {
                    st.read_write = true;
                }
                push_unique(&mut st.settings, &n);
            }
        }
        Ast::Set(ast::Set::SetRole { .. } | ast::Set::SetSessionAuthorization(_)) => {
            st.role_change = true;
            push_unique(&mut st.settings, "role");
        }
        Ast::LoadData { .. } => st.danger.push("file_access"),
        Ast::Kill { .. } => st.danger.push("backend_control"),
        Ast::Execute { .. } | Ast::Call(_) => st.opaque = true,
        _ => {}
    }
    let writes_targets = matches!(effect, Effect::Write | Effect::Ddl | Effect::Dcl);
    for t in &targets {
        push_unique(&mut st.tables_written, t);
    }
    let _ = visit_relations(s, |rel| {
        let n = name(rel);
        if targets.contains(&n) {
            return ControlFlow::<()>::Continue(());
        }
        if writes_targets && !matches!(s, Ast::Insert(_) | Ast::Update(_) | Ast::Delete(_)) {
            push_unique(&mut st.tables_written, &n);
        } else {
            push_unique(&mut st.tables_read, &n);
        }
        ControlFlow::Continue(())
    });
    if selects_star(s) {
        push_unique(&mut st.columns, "*");
    }
    let _ = visit_expressions(s, |e| {
        match e {
            Expr::Identifier(id) => push_unique(&mut st.columns, &id.value.to_ascii_lowercase()),
            Expr::CompoundIdentifier(parts) => {
                if let Some(last) = parts.last() {
                    push_unique(&mut st.columns, &last.value.to_ascii_lowercase());
                }
            }
            Expr::Wildcard(_) | Expr::QualifiedWildcard(..) => push_unique(&mut st.columns, "*"),
            _ => {}
        }
        if let Expr::Function(f) = e {
            let full = name(&f.name);
            push_unique(&mut st.functions, &full);
            let last = f.name.0.last().map(|p| p.to_string()).unwrap_or_default();
            let last = last.trim_matches('`').to_ascii_lowercase();
            if let Some((n, cat, eff)) = DANGEROUS.iter().find(|(n, _, _)| *n == last) {
                push_unique(&mut st.dangerous_functions, n);
                if !st.danger.contains(cat) {
                    st.danger.push(cat);
                }
                st.effect = st.effect.max(*eff);
            } else if !SAFE.contains(&last.as_str()) {
                push_unique(&mut st.opaque_functions, &full);
                st.opaque = true;
            }
        }
        ControlFlow::<()>::Continue(())
    });
    st
}

fn kind_of(s: &Ast) -> (K, Effect) {
    use Effect::*;
    match s {
        Ast::Query(_) => (K::Select, Read),
        Ast::Insert(_) => (K::Insert, Write),
        Ast::Update(_) => (K::Update, Write),
        Ast::Delete(_) => (K::Delete, Write),
        Ast::Merge { .. } => (K::Merge, Write),
        Ast::Truncate(_) => (K::Truncate, Write),
        Ast::LoadData { .. } => (K::Copy, Admin),
        Ast::CreateTable(c) if c.query.is_some() => (K::CreateTableAs, Ddl),
        Ast::CreateTable(_) => (K::CreateTable, Ddl),
        Ast::CreateView(_) => (K::CreateView, Ddl),
        Ast::CreateIndex(_) => (K::CreateIndex, Ddl),
        Ast::CreateSchema { .. } | Ast::CreateDatabase { .. } => (K::CreateDatabase, Ddl),
        Ast::CreateFunction(_) => (K::CreateFunction, Ddl),
        Ast::CreateProcedure { .. } => (K::CreateProcedure, Ddl),
        Ast::CreateTrigger { .. } => (K::CreateTrigger, Ddl),
        Ast::CreateRole { .. } => (K::CreateRole, Dcl),
        Ast::CreateSequence { .. } | Ast::CreateType { .. } => (K::CreateOther, Ddl),
        Ast::AlterTable(_) => (K::AlterTable, Ddl),
        Ast::AlterRole { .. } => (K::AlterRole, Dcl),
        Ast::AlterIndex { .. } | Ast::AlterView { .. } => (K::AlterOther, Ddl),
        Ast::RenameTable(_) => (K::Rename, Ddl),
        Ast::Drop {
            object_type: ast::ObjectType::Role,
            ..
        } => (K::DropRole, Dcl),
        Ast::Drop {
            object_type: ast::ObjectType::Database,
            ..
        } => (K::DropDatabase, Ddl),
        Ast::Drop { .. }
        | Ast::DropFunction { .. }
        | Ast::DropProcedure { .. }
        | Ast::DropTrigger { .. } => (K::Drop, Ddl),
        Ast::Grant { .. } => (K::Grant, Dcl),
        Ast::Revoke { .. } => (K::Revoke, Dcl),
        Ast::StartTransaction { .. } => (K::Begin, Transaction),
        Ast::Commit { .. } => (K::Commit, Transaction),
        Ast::Rollback {
            savepoint: Some(_), ..
        } => (K::RollbackToSavepoint, Transaction),
        Ast::Rollback { .. } => (K::Rollback, Transaction),
        Ast::Savepoint { .. } => (K::Savepoint, Transaction),
        Ast::ReleaseSavepoint { .. } => (K::ReleaseSavepoint, Transaction),
        Ast::Set(ast::Set::SetTransaction { .. }) => (K::SetTransaction, Transaction),
        Ast::Set(_) => (K::Set, Session),
        Ast::ShowVariable { .. }
        | Ast::ShowVariables { .. }
        | Ast::ShowStatus { .. }
        | Ast::ShowCreate { .. }
        | Ast::ShowColumns { .. }
        | Ast::ShowDatabases { .. }
        | Ast::ShowSchemas { .. }
        | Ast::ShowTables { .. }
        | Ast::ShowViews { .. }
        | Ast::ShowFunctions { .. }
        | Ast::ShowCollation { .. }
        | Ast::ExplainTable { .. } => (K::Show, Read),
        Ast::Use(_) => (K::Use, Session),
        Ast::Prepare { .. } => (K::Prepare, Session),
        Ast::Execute { .. } => (K::Execute, Unknown),
        Ast::Deallocate { .. } => (K::Deallocate, Session),
        Ast::Explain {
            analyze: true,
            statement,
            ..
        } => (K::Explain, kind_of(statement).1.max(Read)),
        Ast::Explain { .. } => (K::Explain, Read),
        Ast::Call(_) => (K::Call, Unknown),
        Ast::LockTables { .. } => (K::Lock, Write),
        Ast::UnlockTables => (K::Lock, Session),
        Ast::Kill { .. } | Ast::Flush { .. } => (K::Other, Admin),
        Ast::Analyze { .. } => (K::Analyze, Admin),
        Ast::OptimizeTable { .. } => (K::Vacuum, Admin),
        _ => (K::Other, Unknown),
    }
}

/// Whether a query of the statement selects `*` or `t.*`.
fn selects_star(s: &Ast) -> bool {
    struct Stars;
    impl ast::Visitor for Stars {
        type Break = ();
        fn pre_visit_query(&mut self, q: &ast::Query) -> ControlFlow<()> {
            if set_selects_star(&q.body) {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        }
    }
    fn set_selects_star(s: &ast::SetExpr) -> bool {
        match s {
            ast::SetExpr::Select(sel) => sel.projection.iter().any(|i| {
                matches!(
                    i,
                    ast::SelectItem::Wildcard(_) | ast::SelectItem::QualifiedWildcard(..)
                )
            }),
            ast::SetExpr::SetOperation { left, right, .. } => {
                set_selects_star(left) || set_selects_star(right)
            }
            _ => false,
        }
    }
    ast::Visit::visit(s, &mut Stars).is_break()
}

fn name(n: &ObjectName) -> String {
    n.to_string()
}

/// No WHERE, or one that names no column and is not literally false, zero or NULL.
fn unbounded(selection: Option<&Expr>) -> bool {
    let Some(e) = selection else { return true };
    let mut names_column = false;
    let _ = visit_expressions(e, |x| {
        if matches!(x, Expr::Identifier(_) | Expr::CompoundIdentifier(_)) {
            names_column = true;
            return ControlFlow::Break(());
        }
        ControlFlow::Continue(())
    });
    if names_column {
        return false;
    }
    !is_false(e)
}

fn is_false(e: &Expr) -> bool {
    match e {
        Expr::Value(v) if matches!(v.value, Value::Boolean(false) | Value::Null) => true,
        Expr::Value(v) => {
            matches!(&v.value, Value::Number(n, _) if n.parse::<f64>().is_ok_and(|x| x == 0.0))
        }
        Expr::Nested(inner) => is_false(inner),
        Expr::UnaryOp {
            op: UnaryOperator::Not,
            expr,
        } => {
            matches!(expr.as_ref(), Expr::Value(v) if v.value == Value::Boolean(true))
        }
        _ => false,
    }
}
