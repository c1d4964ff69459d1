//! The published schema of every `sql.*` fact (see the table in the crate documentation).

use guard_core::{FactDef, FactSchema, FactType};

/// Every fact guard-sql produces, with its type and meaning. Hand it to the policy compiler so
/// it can refuse rules that name unknown facts. The crate documentation's fact table lists the
/// same facts (a test keeps them equal).
pub static FACTS: FactSchema = &[
    FactDef::new(
        "sql.dialect",
        FactType::Str,
        "The dialect the text was classified in: postgres or mysql.",
    ),
    FactDef::new(
        "sql.statement",
        FactType::Str,
        "The statement's kind, such as select, delete, create_table or unparsable.",
    ),
    FactDef::new(
        "sql.effect",
        FactType::Str,
        "What the statement does: read, transaction, session, write, ddl, dcl, admin or unknown.",
    ),
    FactDef::new(
        "sql.effect.max",
        FactType::Str,
        "The most consequential effect of any statement in the whole string.",
    ),
    FactDef::new(
        "sql.statements",
        FactType::Int,
        "How many statements the whole string holds.",
    ),
    FactDef::new(
        "sql.commands",
        FactType::List,
        "Every command kind the statement runs: its own, then nested ones (data-modifying CTEs, \
         EXPLAIN ANALYZE targets, the body of a resolved EXECUTE).",
    ),
    FactDef::names(
        "sql.tables",
        FactType::List,
        "Tables read or written, as written.",
    ),
    FactDef::names(
        "sql.tables.read",
        FactType::List,
        "Tables the statement reads, as written.",
    ),
    FactDef::names(
        "sql.tables.write",
        FactType::List,
        "Tables whose rows or definition the statement changes, as written.",
    ),
    FactDef::names(
        "sql.columns",
        FactType::List,
        "Columns the statement refers to: the last part of each reference (ssn for c.ssn); * \
         for SELECT *, t.*, a whole-row reference (to_json(t)) and a COPY of a whole table.",
    ),
    FactDef::names(
        "sql.functions",
        FactType::List,
        "Functions the statement calls, as written.",
    ),
    FactDef::names(
        "sql.functions.dangerous",
        FactType::List,
        "Called functions in the dangerous-function catalog, unqualified (pg_read_file, dblink).",
    ),
    FactDef::names(
        "sql.functions.opaque",
        FactType::List,
        "Called functions whose body the classifier cannot see (not known built-ins), and \
         operators that are not built in, as OPERATOR(name).",
    ),
    FactDef::new(
        "sql.danger",
        FactType::List,
        "Danger categories: file_access, large_object, backend_control, server_control, \
         replication, config, remote, dynamic_sql, delay, sequence, program_execution, \
         code_loading, lock, credential_access (password verifiers, user mappings, \
         subscriptions, other sessions' statement texts, settings that may hold credentials).",
    ),
    FactDef::new(
        "sql.opaque",
        FactType::Bool,
        "Whether what the statement does cannot be known from its text (DO, CALL, unresolved \
         EXECUTE, opaque functions or operators, SQL passed as a string).",
    ),
    FactDef::new(
        "sql.unbounded",
        FactType::Bool,
        "Whether it changes every row of a table: UPDATE or DELETE without WHERE or with a \
         constant-true one, TRUNCATE, MERGE on a constant-true condition.",
    ),
    FactDef::new(
        "sql.unparsable",
        FactType::Bool,
        "Whether the whole string failed to parse.",
    ),
    FactDef::new(
        "sql.settings",
        FactType::List,
        "Configuration parameters the statement sets or resets, lower-cased (all for RESET ALL).",
    ),
    FactDef::new(
        "sql.role_change",
        FactType::Bool,
        "Whether it changes the current role (SET ROLE, SET SESSION AUTHORIZATION, their RESET, \
         set_config of role).",
    ),
    FactDef::new(
        "sql.read_write",
        FactType::Bool,
        "Whether it asks for read-write mode (SET TRANSACTION READ WRITE, BEGIN READ WRITE, \
         default_transaction_read_only off or reset, RESET ALL).",
    ),
    FactDef::new(
        "sql.copy.target",
        FactType::Str,
        "For COPY only: stdio, file (a server file) or program (a server shell command).",
    ),
    FactDef::new(
        "sql.copy.direction",
        FactType::Str,
        "For COPY only: in (COPY FROM, rows into a table) or out (COPY TO, rows out of the server).",
    ),
    FactDef::new(
        "sql.lock.mode",
        FactType::Str,
        "The table lock taken explicitly (LOCK, VACUUM, CLUSTER, REINDEX), such as \
         access_exclusive.",
    ),
    FactDef::new(
        "sql.prepared",
        FactType::Str,
        "The prepared-statement name of PREPARE, EXECUTE or DEALLOCATE (all for DEALLOCATE ALL).",
    ),
    FactDef::new(
        "sql.replication",
        FactType::Str,
        "For a startup only: the walsender mode asked for, physical or logical.",
    ),
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classify::Classifier;

    #[test]
    fn names_are_unique_and_namespaced() {
        let mut seen = std::collections::HashSet::new();
        for f in FACTS {
            assert!(f.name.starts_with("sql."), "{}", f.name);
            assert!(seen.insert(f.name), "duplicate {}", f.name);
            assert!(!f.doc.is_empty());
        }
    }

    /// Every fact a classification produces is declared, with the declared type.
    #[test]
    fn produced_facts_match_the_schema() {
        let c = Classifier::new();
        for sql in [
            "DELETE FROM users",
            "COPY t TO PROGRAM 'x'",
            "LOCK t",
            "PREPARE p AS SELECT 1",
            "not sql",
            "",
            "SELECT 1; SELECT 2",
        ] {
            let cl = c.classify(sql);
            let mut all = vec![cl.facts()];
            all.extend((0..cl.statements.len()).filter_map(|i| cl.statement_facts(i)));
            for facts in all {
                for (name, value) in facts.iter() {
                    let def = FACTS.iter().find(|d| d.name == name);
                    let def = def
                        .unwrap_or_else(|| panic!("{name} produced for {sql:?} but not declared"));
                    assert_eq!(def.ty, value.ty(), "{name}");
                }
            }
        }
    }

    /// The table in FACTS.md (rendered in the crate documentation) lists exactly `FACTS`.
    #[test]
    fn documented_table_matches_schema() {
        let doc = include_str!("../FACTS.md");
        let mut rows = Vec::new();
        for line in doc.lines() {
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            if cells.len() >= 4 && cells[1].starts_with("`sql.") {
                rows.push((cells[1].trim_matches('`').to_owned(), cells[2].to_owned()));
            }
        }
        let declared: Vec<(String, String)> = FACTS
            .iter()
            .map(|f| (f.name.to_owned(), type_name(f.ty).to_owned()))
            .collect();
        assert_eq!(rows, declared);
    }

    /// The statement-kind list in FACTS.md is exactly `StatementKind::ALL`, in order.
    #[test]
    fn documented_kinds_match() {
        let doc = include_str!("../FACTS.md");
        let list = &doc[doc.find("Statement kinds").expect("kinds paragraph")..];
        let documented: Vec<&str> = list
            .split('`')
            .skip(1)
            .step_by(2)
            .filter(|w| !w.starts_with("sql."))
            .collect();
        let kinds: Vec<&str> = crate::classify::StatementKind::ALL
            .iter()
            .map(|k| k.as_str())
            .collect();
        assert_eq!(documented, kinds);
    }

    fn type_name(t: FactType) -> &'static str {
        match t {
            FactType::Str => "string",
            FactType::List => "list",
            FactType::Bool => "bool",
            FactType::Int => "int",
        }
    }
}
