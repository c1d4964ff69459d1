//! Runs every statement of PostgreSQL's own regression SQL files through the classifier.
//!
//! The files are fetched by `tests/fetch-regress.sh` (Debian's `postgresql-15` source package,
//! never committed) into `/var/tmp/guard-regress/sql` (or `$GUARD_REGRESS_DIR`);
//! `scripts/test-all` runs the script before the tests. When the files are absent this test
//! prints how to fetch them and passes without checking anything.
//!
//! Checked for every statement: no panic; cached and uncached classifications agree; text
//! pg_query parses is classified (not unparsable, unless refused as too deeply nested or
//! refused by pg_query's own protobuf decoder) and text it refuses is unparsable; the statement
//! kind agrees with pg_query's statement node type; every function pg_query's summary sees is
//! in `sql.functions`; for DML and queries every table the summary sees is in `sql.tables`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use guard_sql::classify::{Classifier, StatementKind};

fn corpus_dir() -> PathBuf {
    std::env::var_os("GUARD_REGRESS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/var/tmp/guard-regress/sql"))
}

/// The kinds a statement node type may classify as.
fn allowed(node: &str) -> Option<&'static [&'static str]> {
    Some(match node {
        "SelectStmt" => &["select", "select_into"],
        "InsertStmt" => &["insert"],
        "UpdateStmt" => &["update"],
        "DeleteStmt" => &["delete"],
        "MergeStmt" => &["merge"],
        "TruncateStmt" => &["truncate"],
        "CopyStmt" => &["copy"],
        "CreateStmt" => &["create_table"],
        "CreateTableAsStmt" => &["create_table_as", "create_materialized_view", "select_into"],
        "RefreshMatViewStmt" => &["refresh_materialized_view"],
        "ViewStmt" => &["create_view"],
        "IndexStmt" => &["create_index"],
        "CreateSchemaStmt" => &["create_schema"],
        "CreateSeqStmt" => &["create_sequence"],
        "CreateFunctionStmt" => &["create_function", "create_procedure"],
        "CreateTrigStmt" => &["create_trigger"],
        "CreateEventTrigStmt" => &["create_event_trigger"],
        "RuleStmt" => &["create_rule"],
        "CreateExtensionStmt" => &["create_extension"],
        "CreatedbStmt" => &["create_database"],
        "CreateRoleStmt" => &["create_role"],
        "CreatePolicyStmt" => &["create_policy"],
        "AlterTableStmt" | "AlterTableMoveAllStmt" | "ReplicaIdentityStmt" => &["alter_table"],
        "AlterRoleStmt" | "AlterRoleSetStmt" => &["alter_role"],
        "AlterSystemStmt" => &["alter_system"],
        "AlterDatabaseStmt" | "AlterDatabaseSetStmt" | "AlterDatabaseRefreshCollStmt" => {
            &["alter_database"]
        }
        "AlterFunctionStmt" => &["alter_function"],
        "AlterDefaultPrivilegesStmt" => &["alter_default_privileges"],
        "AlterOwnerStmt" => &["alter_owner"],
        "RenameStmt" => &["rename"],
        "DropStmt" | "DropTableSpaceStmt" | "DropSubscriptionStmt" | "DropUserMappingStmt" => {
            &["drop"]
        }
        "DropdbStmt" => &["drop_database"],
        "DropRoleStmt" => &["drop_role"],
        "CommentStmt" => &["comment"],
        "GrantStmt" => &["grant", "revoke"],
        "GrantRoleStmt" => &["grant_role", "revoke_role"],
        "ReassignOwnedStmt" | "DropOwnedStmt" => &["reassign_owned"],
        "SecLabelStmt" => &["security_label"],
        "TransactionStmt" => &[
            "begin",
            "commit",
            "rollback",
            "savepoint",
            "release_savepoint",
            "rollback_to_savepoint",
            "prepare_transaction",
            "commit_prepared",
            "rollback_prepared",
        ],
        "ConstraintsSetStmt" => &["set_transaction"],
        "VariableSetStmt" => &["set", "reset", "set_transaction"],
        "VariableShowStmt" => &["show"],
        "DiscardStmt" => &["discard"],
        "PrepareStmt" => &["prepare"],
        "ExecuteStmt" => &["execute"],
        "DeallocateStmt" => &["deallocate"],
        "DeclareCursorStmt" => &["declare"],
        "FetchStmt" => &["fetch"],
        "ClosePortalStmt" => &["close"],
        "ExplainStmt" => &["explain"],
        "DoStmt" => &["do"],
        "CallStmt" => &["call"],
        "LockStmt" => &["lock"],
        "VacuumStmt" => &["vacuum", "analyze"],
        "ClusterStmt" => &["cluster"],
        "ReindexStmt" => &["reindex"],
        "CheckPointStmt" => &["checkpoint"],
        "LoadStmt" => &["load"],
        "ListenStmt" => &["listen"],
        "UnlistenStmt" => &["unlisten"],
        "NotifyStmt" => &["notify"],
        n if n.starts_with("Create")
            || n == "DefineStmt"
            || n == "CompositeTypeStmt"
            || n == "ImportForeignSchemaStmt" =>
        {
            &["create_other"]
        }
        n if n.starts_with("Alter") => &["alter_other"],
        _ => return None,
    })
}

/// psql meta-commands (`\set`, `\d`, `\gset` ...) are not SQL: drop those lines.
fn strip_meta(text: &str) -> String {
    text.lines()
        .filter(|l| !l.trim_start().starts_with('\\'))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn regression_corpus() {
    let dir = corpus_dir();
    let mut files: Vec<PathBuf> = match std::fs::read_dir(&dir) {
        Ok(rd) => rd
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "sql"))
            .collect(),
        Err(_) => Vec::new(),
    };
    if files.is_empty() {
        println!(
            "SKIPPED: PostgreSQL regression corpus not found in {}; fetch it with \
             guard-sql/tests/fetch-regress.sh (scripts/test-all does)",
            dir.display()
        );
        return;
    }
    files.sort();
    let classifier = Classifier::new();
    let mut errors = Vec::new();
    let mut statements = 0usize;
    let mut parsed = 0usize;
    let mut refused_deep = 0usize;
    let mut kinds: BTreeMap<&'static str, usize> = BTreeMap::new();
    for path in &files {
        let Ok(bytes) = std::fs::read(path) else {
            continue;
        };
        let text = strip_meta(&String::from_utf8_lossy(&bytes));
        let Ok(pieces) = pg_query::split_with_scanner(&text) else {
            continue;
        };
        let file = path
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default();
        for piece in pieces {
            statements += 1;
            let ours = classifier.classify_uncached(piece);
            let cached = classifier.classify(piece);
            if *cached != ours || *classifier.classify(piece) != ours {
                errors.push(format!("{file}: cached differs: {piece:.80}"));
            }
            for st in &ours.statements {
                *kinds.entry(st.kind.as_str()).or_default() += 1;
            }
            match pg_query::parse(piece, pg_query::ParserOptions::DEFAULT) {
                Ok(_) if ours.is_unparsable() => {
                    let e = ours.error.as_deref().unwrap_or("");
                    if e.contains("too deeply") {
                        refused_deep += 1;
                    } else {
                        errors.push(format!(
                            "{file}: pg_query parses, we do not ({e}): {piece:.80}"
                        ));
                    }
                }
                Ok(_) => {
                    parsed += 1;
                    check_against_summary(&file, piece, &ours, &mut errors);
                }
                Err(pg_query::Error::Decode(_)) => {
                    if !ours.is_unparsable() {
                        errors.push(format!("{file}: decode error but classified: {piece:.80}"));
                    }
                }
                Err(_) => {
                    if !ours.is_unparsable() {
                        errors.push(format!(
                            "{file}: pg_query refuses, we classify: {piece:.80}"
                        ));
                    }
                }
            }
        }
    }
    println!(
        "regression corpus: {} files, {statements} statements, {parsed} parsed and checked, \
         {refused_deep} refused as too deep; kinds: {kinds:?}",
        files.len()
    );
    assert!(
        parsed > 20_000,
        "too few statements parsed ({parsed}): is the corpus complete?"
    );
    let mut by_kind: BTreeMap<String, usize> = BTreeMap::new();
    for e in &errors {
        let key = e
            .split(':')
            .nth(1)
            .unwrap_or("")
            .chars()
            .take(40)
            .collect::<String>();
        *by_kind.entry(key).or_default() += 1;
    }
    assert!(
        errors.is_empty(),
        "{} problems {by_kind:#?}, first 60:\n{}",
        errors.len(),
        errors[..errors.len().min(60)].join("\n")
    );
}

fn check_against_summary(
    file: &str,
    piece: &str,
    ours: &guard_sql::classify::Classification,
    errors: &mut Vec<String>,
) {
    let Ok(summary) = pg_query::summary(piece, 0, -1) else {
        return;
    };
    // The summary lists nested statements too, top-level first; each piece holds one.
    if ours.statements.len() != 1 {
        errors.push(format!(
            "{file}: {} statements in one piece: {piece:.80}",
            ours.statements.len()
        ));
        return;
    }
    if let (Some(node), Some(st)) = (summary.statement_types.first(), ours.statements.first()) {
        match allowed(node) {
            Some(kinds) if kinds.contains(&st.kind.as_str()) => {}
            Some(kinds) => errors.push(format!(
                "{file}: {node} classified {} (want one of {kinds:?}): {piece:.80}",
                st.kind
            )),
            None => {
                if st.kind != StatementKind::Other {
                    errors.push(format!(
                        "{file}: unmapped {node} as {}: {piece:.80}",
                        st.kind
                    ));
                }
            }
        }
        if st.kind == StatementKind::Other {
            errors.push(format!("{file}: {node} has no kind: {piece:.80}"));
        }
    }
    let ours_functions: BTreeSet<&str> = ours
        .statements
        .iter()
        .flat_map(|s| s.functions.iter().map(String::as_str))
        .collect();
    for f in &summary.functions {
        if f.context == pg_query::protobuf::summary_result::Context::Call
            && !ours_functions.contains(f.name.as_str())
        {
            errors.push(format!("{file}: missed function {}: {piece:.80}", f.name));
        }
    }
    let dml = ours.statements.iter().all(|s| {
        matches!(
            s.kind,
            StatementKind::Select
                | StatementKind::Insert
                | StatementKind::Update
                | StatementKind::Delete
                | StatementKind::Merge
        )
    });
    if dml {
        let ours_tables: BTreeSet<String> = ours
            .statements
            .iter()
            .flat_map(|s| s.tables_read.iter().chain(&s.tables_written).cloned())
            .collect();
        for t in &summary.tables {
            if !ours_tables.contains(&t.name) {
                errors.push(format!("{file}: missed table {}: {piece:.80}", t.name));
            }
        }
    }
}
