//! Statement kinds and effects.

use std::fmt;

macro_rules! kinds {
    ($($(#[$doc:meta])* $variant:ident => $name:literal,)*) => {
        /// What kind of statement a classified statement is (`sql.statement`).
        ///
        /// The string form ([`StatementKind::as_str`]) is what policies match; the full list is
        /// [`StatementKind::ALL`] and is documented in the crate's fact table.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[non_exhaustive]
        pub enum StatementKind {
            $($(#[$doc])* $variant,)*
        }

        impl StatementKind {
            /// Every kind, in declaration order.
            pub const ALL: &'static [StatementKind] = &[$(StatementKind::$variant,)*];

            /// The name policies match, such as `delete` or `create_table`.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(StatementKind::$variant => $name,)*
                }
            }

            /// The kind with this name, if there is one.
            pub fn from_name(name: &str) -> Option<StatementKind> {
                match name {
                    $($name => Some(StatementKind::$variant),)*
                    _ => None,
                }
            }
        }
    };
}

kinds! {
    /// `SELECT`, `VALUES`, `TABLE t`.
    Select => "select",
    /// `SELECT ... INTO new_table` (creates and fills a table).
    SelectInto => "select_into",
    /// `INSERT` (MySQL: also `REPLACE`).
    Insert => "insert",
    /// `UPDATE`.
    Update => "update",
    /// `DELETE`.
    Delete => "delete",
    /// `MERGE`.
    Merge => "merge",
    /// `TRUNCATE`.
    Truncate => "truncate",
    /// `COPY` (PostgreSQL), `LOAD DATA` (MySQL).
    Copy => "copy",
    /// `CREATE TABLE`.
    CreateTable => "create_table",
    /// `CREATE TABLE ... AS`.
    CreateTableAs => "create_table_as",
    /// `CREATE MATERIALIZED VIEW`.
    CreateMaterializedView => "create_materialized_view",
    /// `REFRESH MATERIALIZED VIEW`.
    RefreshMaterializedView => "refresh_materialized_view",
    /// `CREATE VIEW`.
    CreateView => "create_view",
    /// `CREATE INDEX`.
    CreateIndex => "create_index",
    /// `CREATE SCHEMA`.
    CreateSchema => "create_schema",
    /// `CREATE SEQUENCE`.
    CreateSequence => "create_sequence",
    /// `CREATE FUNCTION`.
    CreateFunction => "create_function",
    /// `CREATE PROCEDURE`.
    CreateProcedure => "create_procedure",
    /// `CREATE TRIGGER`.
    CreateTrigger => "create_trigger",
    /// `CREATE EVENT TRIGGER`.
    CreateEventTrigger => "create_event_trigger",
    /// `CREATE RULE`.
    CreateRule => "create_rule",
    /// `CREATE EXTENSION`.
    CreateExtension => "create_extension",
    /// `CREATE DATABASE`.
    CreateDatabase => "create_database",
    /// `CREATE ROLE` / `CREATE USER` / `CREATE GROUP`.
    CreateRole => "create_role",
    /// `CREATE POLICY` (row-level security).
    CreatePolicy => "create_policy",
    /// Any other `CREATE` (type, domain, server, publication, ...).
    CreateOther => "create_other",
    /// `ALTER TABLE` (and `ALTER INDEX/VIEW/SEQUENCE` on relations).
    AlterTable => "alter_table",
    /// `ALTER ROLE` / `ALTER USER` (including `ALTER ROLE ... SET`).
    AlterRole => "alter_role",
    /// `ALTER SYSTEM`.
    AlterSystem => "alter_system",
    /// `ALTER DATABASE`.
    AlterDatabase => "alter_database",
    /// `ALTER FUNCTION` / `ALTER PROCEDURE`.
    AlterFunction => "alter_function",
    /// `ALTER DEFAULT PRIVILEGES`.
    AlterDefaultPrivileges => "alter_default_privileges",
    /// `ALTER ... OWNER TO`.
    AlterOwner => "alter_owner",
    /// Any other `ALTER`.
    AlterOther => "alter_other",
    /// `ALTER ... RENAME`.
    Rename => "rename",
    /// `DROP` of anything but a database or role.
    Drop => "drop",
    /// `DROP DATABASE`.
    DropDatabase => "drop_database",
    /// `DROP ROLE` / `DROP USER`.
    DropRole => "drop_role",
    /// `COMMENT ON`.
    Comment => "comment",
    /// `GRANT` privileges.
    Grant => "grant",
    /// `REVOKE` privileges.
    Revoke => "revoke",
    /// `GRANT role TO role`.
    GrantRole => "grant_role",
    /// `REVOKE role FROM role`.
    RevokeRole => "revoke_role",
    /// `REASSIGN OWNED` / `DROP OWNED`.
    ReassignOwned => "reassign_owned",
    /// `SECURITY LABEL`.
    SecurityLabel => "security_label",
    /// `BEGIN` / `START TRANSACTION`.
    Begin => "begin",
    /// `COMMIT` / `END`.
    Commit => "commit",
    /// `ROLLBACK` / `ABORT`.
    Rollback => "rollback",
    /// `SAVEPOINT`.
    Savepoint => "savepoint",
    /// `RELEASE SAVEPOINT`.
    ReleaseSavepoint => "release_savepoint",
    /// `ROLLBACK TO SAVEPOINT`.
    RollbackToSavepoint => "rollback_to_savepoint",
    /// `PREPARE TRANSACTION`.
    PrepareTransaction => "prepare_transaction",
    /// `COMMIT PREPARED`.
    CommitPrepared => "commit_prepared",
    /// `ROLLBACK PREPARED`.
    RollbackPrepared => "rollback_prepared",
    /// `SET TRANSACTION` / `SET SESSION CHARACTERISTICS AS TRANSACTION`.
    SetTransaction => "set_transaction",
    /// `SET` (including `SET ROLE`, `SET SESSION AUTHORIZATION`; MySQL `SET`).
    Set => "set",
    /// `RESET` (including `RESET ALL`).
    Reset => "reset",
    /// `SHOW`.
    Show => "show",
    /// `DISCARD`.
    Discard => "discard",
    /// `PREPARE name AS ...`.
    Prepare => "prepare",
    /// `EXECUTE name`.
    Execute => "execute",
    /// `DEALLOCATE`.
    Deallocate => "deallocate",
    /// `DECLARE ... CURSOR`.
    Declare => "declare",
    /// `FETCH` / `MOVE`.
    Fetch => "fetch",
    /// `CLOSE` (a cursor).
    Close => "close",
    /// `EXPLAIN` (with `ANALYZE` it also runs the statement).
    Explain => "explain",
    /// `DO` (an anonymous code block).
    Do => "do",
    /// `CALL` (a procedure).
    Call => "call",
    /// `LOCK TABLE`.
    Lock => "lock",
    /// `VACUUM`.
    Vacuum => "vacuum",
    /// `ANALYZE`.
    Analyze => "analyze",
    /// `CLUSTER`.
    Cluster => "cluster",
    /// `REINDEX`.
    Reindex => "reindex",
    /// `CHECKPOINT`.
    Checkpoint => "checkpoint",
    /// `LOAD` (a shared library).
    Load => "load",
    /// `LISTEN`.
    Listen => "listen",
    /// `UNLISTEN`.
    Unlisten => "unlisten",
    /// `NOTIFY`.
    Notify => "notify",
    /// `USE db` (MySQL).
    Use => "use",
    /// The start of a session that asks for a walsender (`replication`) or sets parameters
    /// (`options`): not a statement of the text, see [`crate::startup`].
    Startup => "startup",
    /// A statement the classifier knows no kind for.
    Other => "other",
    /// Text that did not parse.
    Unparsable => "unparsable",
}

impl fmt::Display for StatementKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a statement does, ordered from least to most consequential (`sql.effect`).
///
/// The order is what "most consequential" means for a multi-statement string
/// (`sql.effect.max`): `read < transaction < session < write < ddl < dcl < admin < unknown`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Effect {
    /// Reads data only (`SELECT`, `SHOW`, `FETCH`, plain `EXPLAIN`).
    Read,
    /// Transaction control (`BEGIN`, `COMMIT`, `SAVEPOINT`, `SET TRANSACTION`).
    Transaction,
    /// Changes session state (`SET`, `RESET`, `PREPARE`, `DISCARD`, `LISTEN`).
    Session,
    /// Changes rows (`INSERT`, `UPDATE`, `DELETE`, `MERGE`, `TRUNCATE`, `COPY FROM STDIN`), or
    /// stores a value for later statements (`nextval()`, `set_config()` of a value that is not
    /// a constant).
    Write,
    /// Changes the schema (`CREATE`, `ALTER`, `DROP`, `SELECT INTO`, `COMMENT`).
    Ddl,
    /// Changes privileges or roles (`GRANT`, `REVOKE`, `CREATE/ALTER/DROP ROLE`, default
    /// privileges, owners, row-level security and its policies, user mappings).
    Dcl,
    /// Acts on the server itself (`ALTER SYSTEM`, `LOAD`, `CREATE EXTENSION`, `VACUUM`,
    /// `CHECKPOINT`, `COPY ... PROGRAM` or server files, backend and file functions).
    Admin,
    /// Cannot be known from the text (`DO`, `CALL`, unresolved `EXECUTE`, unparsable text).
    Unknown,
}

impl Effect {
    /// Every effect, least consequential first.
    pub const ALL: &'static [Effect] = &[
        Effect::Read,
        Effect::Transaction,
        Effect::Session,
        Effect::Write,
        Effect::Ddl,
        Effect::Dcl,
        Effect::Admin,
        Effect::Unknown,
    ];

    /// The name policies match, such as `write`.
    pub fn as_str(self) -> &'static str {
        match self {
            Effect::Read => "read",
            Effect::Transaction => "transaction",
            Effect::Session => "session",
            Effect::Write => "write",
            Effect::Ddl => "ddl",
            Effect::Dcl => "dcl",
            Effect::Admin => "admin",
            Effect::Unknown => "unknown",
        }
    }
}

impl fmt::Display for Effect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_are_unique() {
        let mut seen = std::collections::HashSet::new();
        for k in StatementKind::ALL {
            assert!(seen.insert(k.as_str()), "duplicate {k}");
            assert_eq!(StatementKind::from_name(k.as_str()), Some(*k));
        }
        assert_eq!(StatementKind::from_name("nope"), None);
    }

    #[test]
    fn effects_are_ordered_by_consequence() {
        let mut sorted = Effect::ALL.to_vec();
        sorted.sort();
        assert_eq!(sorted, Effect::ALL);
        assert!(Effect::Write > Effect::Read && Effect::Unknown > Effect::Admin);
    }
}
