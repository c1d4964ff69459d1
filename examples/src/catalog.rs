//! Resolving a RowDescription's (table OID, attribute number) to `schema.table.column` through
//! a side connection to the upstream, with a cache shared by every session.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use bytes::Buf;
use guard_sql::pg::{BackendDecoder, BackendMessage, Decoded, Limits, PgStr, Query};
use tokio::io::AsyncWriteExt;

use crate::gateway::{Shared, lock};
use crate::io::fill;
use crate::masking::{BinKind, FIRST_USER_OID, UserTypes, bin_kind};

/// How long a learned column name is trusted: a table or column renamed upstream is seen by
/// column rules at most this long after (and at once after a reload).
pub(crate) const NAME_TTL: std::time::Duration = std::time::Duration::from_secs(30);

/// (resource, table OID, attribute number) -> the qualified name (`None`: none found), and
/// when it was learned.
type Names = HashMap<(String, u32, i16), (Option<String>, Instant)>;

/// A side connection per resource, and the names found so far.
#[derive(Default)]
pub(crate) struct CatalogCache {
    pub(crate) names: std::sync::Mutex<Names>,
    /// Per resource: the kinds of the user types met so far (and of the types inside them).
    pub(crate) types: std::sync::Mutex<HashMap<String, UserTypes>>,
    pub(crate) conns: tokio::sync::Mutex<HashMap<String, crate::upstream::Upstream>>,
    /// Counts [`CatalogCache::clear`]s: what sessions derived from the caches (their result
    /// plans, masking.rs) is trusted only under the generation it was derived in.
    generation: AtomicU64,
}

impl CatalogCache {
    /// Forgets every name and type learned (at a reload, after the new runtime is in place),
    /// and so every result plan derived from them.
    pub(crate) fn clear(&self) {
        lock(&self.names).clear();
        lock(&self.types).clear();
        self.generation.fetch_add(1, Ordering::SeqCst);
    }

    /// The current generation; read it before looking anything up for what is derived.
    pub(crate) fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }
}

/// The qualified names of some columns, and how long they hold.
pub(crate) struct Resolved {
    /// (table OID, attribute number) -> `schema.table.column`. Keys that could not be resolved
    /// (the side connection failed) are absent, as are columns no table has.
    pub(crate) names: HashMap<(u32, i16), String>,
    /// Until when every name (and every absence) in `names` may be trusted: the earliest
    /// expiry ([`NAME_TTL`]) of what they came from. `None` when a lookup failed, so absent
    /// keys are unknown rather than known to have no name.
    pub(crate) trusted_until: Option<Instant>,
}

/// The qualified names of `keys` on the upstream of `resource`. Keys that cannot be resolved
/// (the side connection failed) are absent: column rules with qualified patterns then do not
/// match them, name-only rules and detectors still apply.
pub(crate) async fn qualified_names(
    shared: &Arc<Shared>,
    resource: &str,
    keys: &[(u32, i16)],
) -> Resolved {
    let mut found = HashMap::new();
    let mut missing = Vec::new();
    let now = Instant::now();
    let mut until = now + NAME_TTL;
    {
        let names = lock(&shared.catalog.names);
        let mut key = (resource.to_owned(), 0, 0);
        for k in keys {
            (key.1, key.2) = *k;
            match names.get(&key) {
                Some((n, at)) if now.saturating_duration_since(*at) < NAME_TTL => {
                    until = until.min(*at + NAME_TTL);
                    if let Some(n) = n {
                        found.insert(*k, n.clone());
                    }
                }
                _ => missing.push(*k),
            }
        }
    }
    if missing.is_empty() {
        return Resolved {
            names: found,
            trusted_until: Some(until),
        };
    }
    match lookup(shared, resource, &missing).await {
        Ok(resolved) => {
            let mut names = lock(&shared.catalog.names);
            let now = Instant::now();
            for k in &missing {
                let n = resolved.get(k).cloned();
                if let Some(n) = &n {
                    found.insert(*k, n.clone());
                }
                names.insert((resource.to_owned(), k.0, k.1), (n, now));
            }
            Resolved {
                names: found,
                trusted_until: Some(until),
            }
        }
        Err(e) => {
            tracing::warn!(error = %format!("{e:#}"), resource, "catalog lookup failed");
            Resolved {
                names: found,
                trusted_until: None,
            }
        }
    }
}

async fn lookup(
    shared: &Arc<Shared>,
    resource: &str,
    keys: &[(u32, i16)],
) -> anyhow::Result<HashMap<(u32, i16), String>> {
    let mut sql = String::from(
        "SELECT a.attrelid::int8, a.attnum::int4, n.nspname || '.' || c.relname || '.' || a.attname \
         FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_class c ON c.oid = a.attrelid \
         JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE (a.attrelid, a.attnum) IN (",
    );
    for (i, (oid, col)) in keys.iter().enumerate() {
        if i > 0 {
            sql.push(',');
        }
        let _ = write!(sql, "({oid}::oid,{col}::int2)");
    }
    sql.push(')');
    let mut result = HashMap::new();
    for row in query(shared, resource, &sql).await? {
        if let [Some(oid), Some(col), Some(name)] = &row[..] {
            result.insert((oid.parse()?, col.parse()?), name.clone());
        }
    }
    Ok(result)
}

/// The attribute numbers of the generated columns of table `table_oid` (a `COPY table TO`
/// without a column list leaves them out).
///
/// # Errors
/// The side connection or the query failed.
pub(crate) async fn generated_columns(
    shared: &Arc<Shared>,
    resource: &str,
    table_oid: u32,
) -> anyhow::Result<std::collections::HashSet<i16>> {
    let sql = format!(
        "SELECT a.attnum::int4 FROM pg_catalog.pg_attribute a WHERE a.attrelid = {table_oid}::oid \
         AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated <> ''"
    );
    let mut found = std::collections::HashSet::new();
    for row in query(shared, resource, &sql).await? {
        if let [Some(n)] = &row[..] {
            found.insert(n.parse()?);
        }
    }
    Ok(found)
}

/// The kinds of the user types `oids` and of every type inside them (array elements, domain
/// bases, composite attributes), from pg_type; cached per resource. Returns every kind known
/// for the resource (shared, not copied).
///
/// # Errors
/// The side connection or the query failed.
pub(crate) async fn user_types(
    shared: &Arc<Shared>,
    resource: &str,
    oids: &[u32],
) -> anyhow::Result<UserTypes> {
    let missing: Vec<u32> = {
        let types = lock(&shared.catalog.types);
        let known = types.get(resource);
        oids.iter()
            .copied()
            .filter(|o| known.is_none_or(|k| !k.contains_key(o)))
            .collect()
    };
    if !missing.is_empty() {
        let list = missing
            .iter()
            .map(u32::to_string)
            .collect::<Vec<_>>()
            .join(",");
        let sql = format!(
            "WITH RECURSIVE t(oid) AS (SELECT unnest('{{{list}}}'::pg_catalog.oid[]) UNION \
             SELECT s.x FROM t JOIN pg_catalog.pg_type ty ON ty.oid = t.oid CROSS JOIN LATERAL ( \
             SELECT ty.typelem WHERE ty.typelem <> 0 \
             UNION ALL SELECT ty.typbasetype WHERE ty.typbasetype <> 0 \
             UNION ALL SELECT a.atttypid FROM pg_catalog.pg_attribute a \
             WHERE a.attrelid = ty.typrelid AND a.attnum > 0 AND NOT a.attisdropped) s(x)) \
             SELECT ty.oid::int8, ty.typtype, ty.typcategory, ty.typelem::int8, ty.typbasetype::int8 \
             FROM t JOIN pg_catalog.pg_type ty ON ty.oid = t.oid"
        );
        let mut rows: HashMap<u32, (u8, u8, u32, u32)> = HashMap::new();
        for row in query(shared, resource, &sql).await? {
            if let [
                Some(oid),
                Some(typtype),
                Some(category),
                Some(elem),
                Some(base),
            ] = &row[..]
            {
                let first = |s: &str| s.bytes().next().unwrap_or(0);
                rows.insert(
                    oid.parse()?,
                    (
                        first(typtype),
                        first(category),
                        elem.parse()?,
                        base.parse()?,
                    ),
                );
            }
        }
        let mut types = lock(&shared.catalog.types);
        let known = Arc::make_mut(types.entry(resource.to_owned()).or_default());
        for oid in rows.keys() {
            if *oid >= FIRST_USER_OID
                && let Some(k) = kind_of(&rows, *oid)
            {
                known.insert(*oid, k);
            }
        }
    }
    Ok(lock(&shared.catalog.types)
        .get(resource)
        .cloned()
        .unwrap_or_default())
}

/// The kind of a type from its pg_type row (`rows`: oid -> typtype, typcategory, typelem,
/// typbasetype), following domains to their base type; `None` when a row is missing.
fn kind_of(rows: &HashMap<u32, (u8, u8, u32, u32)>, mut oid: u32) -> Option<BinKind> {
    for _ in 0..16 {
        if oid < FIRST_USER_OID {
            return bin_kind(&HashMap::new(), oid);
        }
        let &(typtype, category, elem, base) = rows.get(&oid)?;
        match typtype {
            b'd' => oid = base,
            b'e' => return Some(BinKind::Text),
            b'c' => return Some(BinKind::Record),
            _ if category == b'A' && elem != 0 => return Some(BinKind::Array),
            b'b' if category == b'S' => return Some(BinKind::Text),
            _ => return Some(BinKind::Opaque),
        }
    }
    None
}

/// Runs `sql` (simple protocol, catalog queries of the gateway's own) on the resource's side
/// connection, opening it when needed and dropping it after a failure; rows as text.
async fn query(
    shared: &Arc<Shared>,
    resource: &str,
    sql: &str,
) -> anyhow::Result<Vec<Vec<Option<String>>>> {
    let mut conns = shared.catalog.conns.lock().await;
    if !conns.contains_key(resource) {
        let rt = shared.runtime();
        let up = rt
            .resources
            .get(resource)
            .ok_or_else(|| anyhow::anyhow!("no resource {resource}"))?;
        let c = crate::upstream::connect(up, "guard:catalog", &[]).await?;
        conns.insert(resource.to_owned(), c);
    }
    let result = run_query(
        conns
            .get_mut(resource)
            .ok_or_else(|| anyhow::anyhow!("no connection"))?,
        sql,
    )
    .await;
    if result.is_err() {
        conns.remove(resource);
    }
    result
}

async fn run_query(
    conn: &mut crate::upstream::Upstream,
    sql: &str,
) -> anyhow::Result<Vec<Vec<Option<String>>>> {
    let mut out = Vec::new();
    Query {
        sql: PgStr::try_new(sql.as_bytes())?,
    }
    .encode(&mut out);
    conn.stream.write_all(&out).await?;
    let mut dec = BackendDecoder::new(Limits::default());
    let mut buf = std::mem::take(&mut conn.buf);
    let mut rows = Vec::new();
    let mut error = None;
    loop {
        let len = match dec.decode(&buf)? {
            Decoded::NeedMore { at_least } => {
                if !fill(&mut conn.stream, &mut buf, at_least).await? {
                    anyhow::bail!("catalog connection closed");
                }
                continue;
            }
            Decoded::Message { len, msg } => {
                match msg {
                    BackendMessage::DataRow(r) => rows.push(
                        r.values
                            .iter()
                            .map(|v| v.map(|b| String::from_utf8_lossy(b).into_owned()))
                            .collect(),
                    ),
                    BackendMessage::ErrorResponse(e) => {
                        error = Some(
                            e.fields
                                .message()
                                .map(|m| m.to_string_lossy().into_owned())
                                .unwrap_or_default(),
                        );
                    }
                    BackendMessage::ReadyForQuery(_) => {
                        buf.advance(len);
                        break;
                    }
                    _ => {}
                }
                len
            }
        };
        buf.advance(len);
    }
    conn.buf = buf;
    match error {
        Some(e) => anyhow::bail!("catalog query failed: {e}"),
        None => Ok(rows),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_follow_domains_and_fail_closed_on_missing_rows() {
        let rows: HashMap<u32, (u8, u8, u32, u32)> = [
            (20000, (b'e', b'E', 0, 0)),     // enum
            (20001, (b'd', b'S', 0, 25)),    // domain over text
            (20002, (b'd', b'A', 0, 20001)), // domain over that domain
            (20003, (b'c', b'C', 0, 0)),     // composite
            (20004, (b'b', b'A', 20003, 0)), // array of the composite
            (20005, (b'b', b'S', 0, 0)),     // citext-like base type
            (20006, (b'b', b'N', 0, 0)),     // numeric-like base type
            (20007, (b'r', b'R', 0, 0)),     // range
            (20008, (b'd', b'N', 0, 23)),    // domain over int4
            (20009, (b'd', b'S', 0, 29999)), // domain over a type without a row
        ]
        .into_iter()
        .collect();
        let k = |oid| kind_of(&rows, oid);
        assert_eq!(k(20000), Some(BinKind::Text));
        assert_eq!(k(20001), Some(BinKind::Text));
        assert_eq!(k(20002), Some(BinKind::Text));
        assert_eq!(k(20003), Some(BinKind::Record));
        assert_eq!(k(20004), Some(BinKind::Array));
        assert_eq!(k(20005), Some(BinKind::Text));
        assert_eq!(k(20006), Some(BinKind::Opaque));
        assert_eq!(k(20007), Some(BinKind::Opaque));
        assert_eq!(k(20008), Some(BinKind::Opaque));
        assert_eq!(k(20009), None);
        assert_eq!(k(29999), None);
    }
}
