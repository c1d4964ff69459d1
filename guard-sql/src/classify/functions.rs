//! The function catalog: dangerous functions (flagged) and known-safe built-ins.
//!
//! A called function is looked up by its last name component, lower-cased:
//!
//! - found in [`DANGEROUS`] (whatever the schema, so `pg_catalog.pg_read_file` and an extension
//!   installed in another schema both match): reported in `sql.functions.dangerous`, its
//!   categories in `sql.danger`, and its effect raises the statement's effect;
//! - found in [`SAFE`] and unqualified or qualified with `pg_catalog`: a known built-in;
//! - anything else is opaque (`sql.functions.opaque`, `sql.opaque=true`): a user-defined or
//!   unknown function whose body the classifier cannot see.
//!
//! Unqualified names are assumed to resolve to `pg_catalog`, which PostgreSQL searches first
//! unless `search_path` names it explicitly later; a gateway should therefore not let clients
//! change `search_path` freely (`sql.settings` reports it).

use super::Effect;

/// One entry of the dangerous-function catalog.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Dangerous {
    /// Unqualified, lower-case name (a trailing `*` matches any suffix).
    pub(crate) name: &'static str,
    /// Danger categories (`sql.danger`).
    pub(crate) categories: &'static [&'static str],
    /// The effect calling it has.
    pub(crate) effect: Effect,
    /// Whether what it does cannot be known from the text (it runs SQL given as a string, or
    /// on another server).
    pub(crate) opaque: bool,
}

const fn d(
    name: &'static str,
    categories: &'static [&'static str],
    effect: Effect,
    opaque: bool,
) -> Dangerous {
    Dangerous {
        name,
        categories,
        effect,
        opaque,
    }
}

use Effect::{Admin, Read, Session, Unknown, Write};

const FILE: &[&str] = &["file_access"];
const LO: &[&str] = &["large_object"];
const LO_FILE: &[&str] = &["large_object", "file_access"];
const BACKEND: &[&str] = &["backend_control"];
const SERVER: &[&str] = &["server_control"];
const REPL: &[&str] = &["replication"];
const CONFIG: &[&str] = &["config"];
const REMOTE: &[&str] = &["remote"];
const DYNAMIC: &[&str] = &["dynamic_sql"];
const DELAY: &[&str] = &["delay"];
const SEQUENCE: &[&str] = &["sequence"];
const CREDENTIAL: &[&str] = &["credential_access"];

/// The dangerous-function catalog.
pub(crate) static DANGEROUS: &[Dangerous] = &[
    // Server file system.
    d("pg_read_file", FILE, Admin, false),
    d("pg_read_binary_file", FILE, Admin, false),
    d("pg_ls_dir", FILE, Admin, false),
    d("pg_stat_file", FILE, Admin, false),
    d("pg_ls_logdir", FILE, Admin, false),
    d("pg_ls_waldir", FILE, Admin, false),
    d("pg_ls_tmpdir", FILE, Admin, false),
    d("pg_ls_archive_statusdir", FILE, Admin, false),
    d("pg_ls_logicalsnapdir", FILE, Admin, false),
    d("pg_ls_logicalmapdir", FILE, Admin, false),
    d("pg_ls_replslotdir", FILE, Admin, false),
    d("pg_ls_summariesdir", FILE, Admin, false),
    // adminpack
    d("pg_file_write", FILE, Admin, false),
    d("pg_file_rename", FILE, Admin, false),
    d("pg_file_unlink", FILE, Admin, false),
    d("pg_file_sync", FILE, Admin, false),
    d("pg_logdir_ls", FILE, Admin, false),
    // Large objects: they bypass table privileges; import/export touch server files.
    d("lo_import", LO_FILE, Admin, false),
    d("lo_export", LO_FILE, Admin, false),
    d("lo_unlink", LO, Write, false),
    d("lo_create", LO, Write, false),
    d("lo_creat", LO, Write, false),
    d("lo_from_bytea", LO, Write, false),
    d("lo_put", LO, Write, false),
    d("lowrite", LO, Write, false),
    d("lo_truncate", LO, Write, false),
    d("lo_truncate64", LO, Write, false),
    d("lo_open", LO, Read, false),
    d("lo_get", LO, Read, false),
    d("loread", LO, Read, false),
    // Other backends.
    d("pg_terminate_backend", BACKEND, Admin, false),
    d("pg_cancel_backend", BACKEND, Admin, false),
    d("pg_log_backend_memory_contexts", BACKEND, Admin, false),
    // The server.
    d("pg_reload_conf", SERVER, Admin, false),
    d("pg_rotate_logfile", SERVER, Admin, false),
    d("pg_promote", SERVER, Admin, false),
    d("pg_switch_wal", SERVER, Admin, false),
    d("pg_create_restore_point", SERVER, Admin, false),
    d("pg_backup_start", SERVER, Admin, false),
    d("pg_backup_stop", SERVER, Admin, false),
    d("pg_start_backup", SERVER, Admin, false),
    d("pg_stop_backup", SERVER, Admin, false),
    d("pg_wal_replay_pause", SERVER, Admin, false),
    d("pg_wal_replay_resume", SERVER, Admin, false),
    d("pg_stat_reset*", SERVER, Admin, false),
    d("pg_import_system_collations", SERVER, Admin, false),
    d("binary_upgrade_*", SERVER, Admin, false),
    // Replication.
    d("pg_create_physical_replication_slot", REPL, Admin, false),
    d("pg_create_logical_replication_slot", REPL, Admin, false),
    d("pg_drop_replication_slot", REPL, Admin, false),
    d("pg_copy_physical_replication_slot", REPL, Admin, false),
    d("pg_copy_logical_replication_slot", REPL, Admin, false),
    d("pg_replication_slot_advance", REPL, Admin, false),
    d("pg_logical_slot_get_changes", REPL, Admin, false),
    d("pg_logical_slot_peek_changes", REPL, Admin, false),
    d("pg_logical_slot_get_binary_changes", REPL, Admin, false),
    d("pg_logical_slot_peek_binary_changes", REPL, Admin, false),
    d("pg_logical_emit_message", REPL, Admin, false),
    d("pg_replication_origin_*", REPL, Admin, false),
    d("pg_sync_replication_slots", REPL, Admin, false),
    // Configuration.
    d("set_config", CONFIG, Session, false),
    // Other sessions' statement texts (which quote the passwords they set), as
    // pg_stat_activity.query.
    d("pg_stat_get_activity", CREDENTIAL, Read, false),
    // Every setting's value, secret ones too (as pg_settings.setting).
    d("pg_show_all_settings", CREDENTIAL, Read, false),
    d("pg_show_all_file_settings", CREDENTIAL, Read, false),
    // Other servers.
    d("dblink*", REMOTE, Unknown, true),
    d("postgres_fdw_*", REMOTE, Admin, false),
    // SQL given as a string: tables and effects hidden from the text.
    d("query_to_xml", DYNAMIC, Unknown, true),
    d("query_to_xml_and_xmlschema", DYNAMIC, Unknown, true),
    d("query_to_xmlschema", DYNAMIC, Unknown, true),
    d("cursor_to_xml", DYNAMIC, Unknown, true),
    d("cursor_to_xmlschema", DYNAMIC, Unknown, true),
    d("table_to_xml", DYNAMIC, Unknown, true),
    d("table_to_xml_and_xmlschema", DYNAMIC, Unknown, true),
    d("table_to_xmlschema", DYNAMIC, Unknown, true),
    d("schema_to_xml", DYNAMIC, Unknown, true),
    d("schema_to_xml_and_xmlschema", DYNAMIC, Unknown, true),
    d("schema_to_xmlschema", DYNAMIC, Unknown, true),
    d("database_to_xml", DYNAMIC, Unknown, true),
    d("database_to_xml_and_xmlschema", DYNAMIC, Unknown, true),
    d("database_to_xmlschema", DYNAMIC, Unknown, true),
    d("ts_stat", DYNAMIC, Unknown, true),
    // Holding a backend.
    d("pg_sleep", DELAY, Read, false),
    d("pg_sleep_for", DELAY, Read, false),
    d("pg_sleep_until", DELAY, Read, false),
    // Sequences change state from a SELECT.
    d("nextval", SEQUENCE, Write, false),
    d("setval", SEQUENCE, Write, false),
];

/// Looks `name` (unqualified, lower-case) up in the dangerous catalog.
pub(crate) fn dangerous(name: &str) -> Option<&'static Dangerous> {
    DANGEROUS.iter().find(|e| match e.name.strip_suffix('*') {
        Some(prefix) => name.starts_with(prefix),
        None => e.name == name,
    })
}

/// Whether `name` (lower case) is a setting only a superuser may change (`pg_settings.context
/// = 'superuser'` in PostgreSQL 15, and extensions' such settings by prefix): what the server
/// logs (`log_statement`), whether triggers and foreign keys fire (`session_replication_role`),
/// libraries loaded (`session_preload_libraries`, `dynamic_library_path`), checksums and page
/// repair. Through a proxy that logs in as a superuser every caller could change them.
pub(crate) fn superuser_setting(name: &str) -> bool {
    SUPERUSER_SETTINGS.binary_search(&name).is_ok()
        || ["pgaudit.", "auto_explain.", "pg_stat_statements."]
            .iter()
            .any(|p| name.starts_with(p))
}

/// `SELECT name FROM pg_settings WHERE context = 'superuser' ORDER BY 1` on PostgreSQL 15.
static SUPERUSER_SETTINGS: &[&str] = &[
    "allow_in_place_tablespaces",
    "allow_system_table_mods",
    "backtrace_functions",
    "commit_delay",
    "compute_query_id",
    "deadlock_timeout",
    "debug_discard_caches",
    "dynamic_library_path",
    "extension_destdir",
    "ignore_checksum_failure",
    "jit_dump_bitcode",
    "lc_messages",
    "lo_compat_privileges",
    "log_duration",
    "log_error_verbosity",
    "log_executor_stats",
    "log_lock_waits",
    "log_min_duration_sample",
    "log_min_duration_statement",
    "log_min_error_statement",
    "log_min_messages",
    "log_parameter_max_length",
    "log_parser_stats",
    "log_planner_stats",
    "log_replication_commands",
    "log_statement",
    "log_statement_sample_rate",
    "log_statement_stats",
    "log_temp_files",
    "log_transaction_sample_rate",
    "max_stack_depth",
    "session_preload_libraries",
    "session_replication_role",
    "temp_file_limit",
    "track_activities",
    "track_counts",
    "track_functions",
    "track_io_timing",
    "track_wal_io_timing",
    "update_process_title",
    "wal_compression",
    "wal_consistency_checking",
    "wal_init_zero",
    "wal_recycle",
    "zero_damaged_pages",
];

/// Whether `name` (unqualified) is the name of a built-in operator. An operator whose name is
/// not one was made with CREATE OPERATOR: its function may do anything.
pub(crate) fn is_builtin_operator(name: &str) -> bool {
    BUILTIN_OPERATORS.binary_search(&name).is_ok()
}

/// The names of PostgreSQL's built-in operators (`pg_operator` rows below the first user
/// OID, PostgreSQL 15). Sorted (checked by a test) for binary search.
pub(crate) static BUILTIN_OPERATORS: &[&str] = &[
    "!!", "!~", "!~*", "!~~", "!~~*", "#", "##", "#-", "#>", "#>>", "%", "&", "&&", "&<", "&<|",
    "&>", "*", "*<", "*<=", "*<>", "*=", "*>", "*>=", "+", "-", "->", "->>", "-|-", "/", "<",
    "<->", "<<", "<<=", "<<|", "<=", "<>", "<@", "<^", "=", ">", ">=", ">>", ">>=", ">^", "?",
    "?#", "?&", "?-", "?-|", "?|", "?||", "@", "@-@", "@>", "@?", "@@", "@@@", "^", "^@", "|",
    "|&>", "|/", "|>>", "||", "||/", "~", "~*", "~<=~", "~<~", "~=", "~>=~", "~>~", "~~", "~~*",
];

/// Whether `name` (unqualified, lower-case) is a known built-in without side effects: one of
/// [`SAFE`], or a `pg_catalog` function all of whose overloads PostgreSQL 15 declares
/// immutable or stable (such a function cannot change the database).
pub(crate) fn is_safe_builtin(name: &str) -> bool {
    SAFE.binary_search(&name).is_ok() || PURE.binary_search_by(|p| (*p).cmp(name)).is_ok()
}

/// Every `pg_catalog` function name of PostgreSQL 15 whose overloads are all immutable or
/// stable, sorted, one per line; generated with
/// `SELECT proname FROM pg_proc WHERE pronamespace = 'pg_catalog'::regnamespace AND prokind IN
/// ('f', 'a', 'w') GROUP BY proname HAVING bool_and(provolatile IN ('i', 's')) ORDER BY
/// proname COLLATE "C"`. The dangerous catalog is consulted first: the few stable functions
/// that run SQL given as a string (`table_to_xml`, ...) stay opaque.
static PURE_TEXT: &str = include_str!("pg15_pure_functions.txt");

/// [`PURE_TEXT`] as a sorted slice (built on first use).
static PURE: std::sync::LazyLock<Vec<&'static str>> =
    std::sync::LazyLock::new(|| PURE_TEXT.lines().filter(|l| !l.is_empty()).collect());

/// Built-in `pg_catalog` functions known to have no side effects beyond their result, among
/// them volatile ones that only read (`random`, `now`, `currval`, `pg_lock_status`). Sorted
/// (checked by a test) for binary search.
pub(crate) static SAFE: &[&str] = &[
    "abbrev",
    "abs",
    "acos",
    "age",
    "array_agg",
    "array_append",
    "array_cat",
    "array_dims",
    "array_fill",
    "array_length",
    "array_lower",
    "array_ndims",
    "array_position",
    "array_positions",
    "array_prepend",
    "array_remove",
    "array_replace",
    "array_to_json",
    "array_to_string",
    "array_upper",
    "ascii",
    "asin",
    "atan",
    "atan2",
    "avg",
    "bit_and",
    "bit_length",
    "bit_or",
    "bool_and",
    "bool_or",
    "btrim",
    "cardinality",
    "cbrt",
    "ceil",
    "ceiling",
    "char_length",
    "character_length",
    "chr",
    "clock_timestamp",
    "coalesce",
    "col_description",
    "concat",
    "concat_ws",
    "convert",
    "convert_from",
    "convert_to",
    "corr",
    "cos",
    "count",
    "covar_pop",
    "covar_samp",
    "cume_dist",
    "current_database",
    "current_query",
    "current_schema",
    "current_schemas",
    "current_setting",
    "current_user",
    "currval",
    "date_bin",
    "date_part",
    "date_trunc",
    "decode",
    "degrees",
    "dense_rank",
    "div",
    "encode",
    "every",
    "exp",
    "extract",
    "first_value",
    "floor",
    "format",
    "format_type",
    "gen_random_uuid",
    "generate_series",
    "generate_subscripts",
    "get_bit",
    "get_byte",
    "greatest",
    "has_column_privilege",
    "has_database_privilege",
    "has_function_privilege",
    "has_schema_privilege",
    "has_sequence_privilege",
    "has_table_privilege",
    "hashtext",
    "inet_client_addr",
    "inet_server_addr",
    "initcap",
    "isfinite",
    "json_agg",
    "json_array_elements",
    "json_array_elements_text",
    "json_array_length",
    "json_build_array",
    "json_build_object",
    "json_each",
    "json_each_text",
    "json_extract_path",
    "json_extract_path_text",
    "json_object",
    "json_object_agg",
    "json_object_keys",
    "json_populate_record",
    "json_populate_recordset",
    "json_strip_nulls",
    "json_to_record",
    "json_to_recordset",
    "json_typeof",
    "jsonb_agg",
    "jsonb_array_elements",
    "jsonb_array_elements_text",
    "jsonb_array_length",
    "jsonb_build_array",
    "jsonb_build_object",
    "jsonb_each",
    "jsonb_each_text",
    "jsonb_extract_path",
    "jsonb_extract_path_text",
    "jsonb_insert",
    "jsonb_object",
    "jsonb_object_agg",
    "jsonb_object_keys",
    "jsonb_path_exists",
    "jsonb_path_match",
    "jsonb_path_query",
    "jsonb_path_query_array",
    "jsonb_path_query_first",
    "jsonb_populate_record",
    "jsonb_populate_recordset",
    "jsonb_pretty",
    "jsonb_set",
    "jsonb_strip_nulls",
    "jsonb_to_record",
    "jsonb_to_recordset",
    "jsonb_typeof",
    "justify_days",
    "justify_hours",
    "justify_interval",
    "lag",
    "last_value",
    "lastval",
    "lead",
    "least",
    "left",
    "length",
    "like_escape",
    "ln",
    "localtime",
    "localtimestamp",
    "log",
    "log10",
    "lower",
    "lpad",
    "ltrim",
    "make_date",
    "make_interval",
    "make_time",
    "make_timestamp",
    "make_timestamptz",
    "max",
    "md5",
    "min",
    "mod",
    "mode",
    "normalize",
    "now",
    "nth_value",
    "ntile",
    "nullif",
    "num_nonnulls",
    "num_nulls",
    "obj_description",
    "octet_length",
    "overlay",
    "percent_rank",
    "percentile_cont",
    "percentile_disc",
    "pg_backend_pid",
    "pg_blocking_pids",
    "pg_collation_is_visible",
    "pg_column_size",
    "pg_conversion_is_visible",
    "pg_current_wal_lsn",
    "pg_database_size",
    "pg_encoding_to_char",
    "pg_function_is_visible",
    "pg_get_constraintdef",
    "pg_get_expr",
    "pg_get_function_arguments",
    "pg_get_function_identity_arguments",
    "pg_get_function_result",
    "pg_get_functiondef",
    "pg_get_indexdef",
    "pg_get_partition_constraintdef",
    "pg_get_partkeydef",
    "pg_get_ruledef",
    "pg_get_serial_sequence",
    "pg_get_statisticsobjdef",
    "pg_get_statisticsobjdef_columns",
    "pg_get_triggerdef",
    "pg_get_userbyid",
    "pg_get_viewdef",
    "pg_has_role",
    "pg_indexes_size",
    "pg_is_in_recovery",
    "pg_lock_status",
    "pg_opclass_is_visible",
    "pg_operator_is_visible",
    "pg_partition_ancestors",
    "pg_partition_root",
    "pg_partition_tree",
    "pg_postmaster_start_time",
    "pg_relation_is_publishable",
    "pg_relation_size",
    "pg_safe_snapshot_blocking_pids",
    "pg_size_bytes",
    "pg_size_pretty",
    "pg_table_is_visible",
    "pg_table_size",
    "pg_total_relation_size",
    "pg_type_is_visible",
    "pg_typeof",
    "pi",
    "position",
    "power",
    "quote_ident",
    "quote_literal",
    "quote_nullable",
    "radians",
    "random",
    "rank",
    "regexp_count",
    "regexp_instr",
    "regexp_like",
    "regexp_match",
    "regexp_matches",
    "regexp_replace",
    "regexp_split_to_array",
    "regexp_split_to_table",
    "regexp_substr",
    "repeat",
    "replace",
    "reverse",
    "right",
    "round",
    "row_number",
    "row_to_json",
    "rpad",
    "rtrim",
    "session_user",
    "sha224",
    "sha256",
    "sha384",
    "sha512",
    "shobj_description",
    "sign",
    "similar_escape",
    "similar_to_escape",
    "sin",
    "split_part",
    "sqrt",
    "starts_with",
    "statement_timestamp",
    "stddev",
    "stddev_pop",
    "stddev_samp",
    "string_agg",
    "string_to_array",
    "string_to_table",
    "strpos",
    "substr",
    "substring",
    "sum",
    "tan",
    "timeofday",
    "timezone",
    "to_char",
    "to_date",
    "to_hex",
    "to_json",
    "to_jsonb",
    "to_number",
    "to_regclass",
    "to_regnamespace",
    "to_regoper",
    "to_regproc",
    "to_regprocedure",
    "to_regrole",
    "to_regtype",
    "to_timestamp",
    "to_tsquery",
    "to_tsvector",
    "transaction_timestamp",
    "translate",
    "trim",
    "trim_scale",
    "trunc",
    "unnest",
    "upper",
    "var_pop",
    "var_samp",
    "variance",
    "version",
    "width_bucket",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn safe_list_is_sorted_and_disjoint_from_dangerous() {
        assert!(
            SAFE.windows(2).all(|w| w[0] < w[1]),
            "SAFE must be sorted and unique"
        );
        assert!(
            BUILTIN_OPERATORS.windows(2).all(|w| w[0] < w[1]),
            "BUILTIN_OPERATORS must be sorted and unique"
        );
        assert!(is_builtin_operator("->>") && is_builtin_operator("@>"));
        assert!(!is_builtin_operator("###") && !is_builtin_operator("!="));
        for s in SAFE {
            assert!(dangerous(s).is_none(), "{s} is both safe and dangerous");
        }
    }

    #[test]
    fn prefixes_match() {
        assert_eq!(dangerous("dblink_exec").map(|e| e.name), Some("dblink*"));
        assert_eq!(
            dangerous("pg_stat_reset_shared").map(|e| e.name),
            Some("pg_stat_reset*")
        );
        assert!(dangerous("pg_read_file").is_some());
        assert!(dangerous("lower").is_none());
        assert!(is_safe_builtin("lower") && !is_safe_builtin("my_func"));
        assert!(
            PURE.windows(2).all(|w| w[0] < w[1]),
            "the list must be sorted and unique"
        );
        assert!(SUPERUSER_SETTINGS.windows(2).all(|w| w[0] < w[1]));
        assert!(superuser_setting("session_replication_role"));
        assert!(superuser_setting("pgaudit.log"));
        assert!(!superuser_setting("work_mem"));
        assert!(PURE.len() > 2000);
        // Immutable or stable in every overload: known; volatile ones are not.
        for f in [
            "masklen",
            "host",
            "pg_get_indexdef",
            "array_to_json",
            "date_part",
        ] {
            assert!(is_safe_builtin(f), "{f}");
        }
        for f in [
            "nextval",
            "pg_advisory_lock",
            "pg_notify",
            "txid_status",
            "lo_import",
        ] {
            assert!(!PURE.contains(&f), "{f}");
        }
    }
}
