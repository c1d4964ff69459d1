//! Recording sessions through guard-record, and credential redaction for logs.

/// `sql` with credentials (`PASSWORD '...'` and similar literals) removed, for audit lines,
/// approval summaries and recordings.
pub(crate) fn redact_sql(sql: &str) -> String {
    guard_record::redact_sql_credentials(sql).into_owned()
}
