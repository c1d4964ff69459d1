//! Resolving a RowDescription's (table OID, attribute number) to `schema.table.column` through
//! a side connection to the upstream, with a cache shared by every session.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use bytes::Buf;
use guard_sql::pg::{
    BackendDecoder, BackendMessage, Decoded, Describe, FrontendMessage, Limits, Parse, PgStr,
    Query, Target,
};
use tokio::io::AsyncWriteExt;

use crate::gateway::{Shared, lock};
use crate::io::fill;
use crate::masking::{BinKind, FIRST_USER_OID, UserTypes, bin_kind};

/// How long a learned column name is trusted: a table or column renamed upstream is seen by
/// column rules at most this long after (and at once after a reload).
pub(crate) const NAME_TTL: std::time::Duration = std::time::Duration::from_secs(30);

/// (resource, table OID, attribute number) -> where the column's values come from (`None`: no
/// such column), and when it was learned.
type Names = HashMap<(String, u32, i16), (Option<Arc<Source>>, Instant)>;

/// (resource, relation name as written) -> the columns of the views it names, and when they
/// were learned.
type ViewsByName = HashMap<(String, String), (Arc<[ViewColumn]>, Instant)>;

/// Views nested deeper than this in a view's definition are not followed: their columns'
/// lineage is [`Lineage::Unknown`].
const MAX_VIEW_DEPTH: usize = 8;

/// Relation names whose views are remembered at most (statements can spell names in many
/// ways, and create relations).
const MAX_VIEW_NAMES: usize = 4096;

/// Where the values of a result column come from, as the catalog tells.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Source {
    /// `schema.relation.column` of the column itself (of the view, for a view's column).
    pub(crate) name: String,
    /// The same column in the tables the relation inherits from (the partitioned tables a
    /// partition belongs to, `INHERITS` parents), as `schema.table.column`, nearest first.
    pub(crate) inherited: Vec<String>,
    /// What the relation's column holds.
    pub(crate) lineage: Lineage,
}

/// System catalog columns that hold values sampled from any table's columns (the planner's
/// statistics: `pg_stats.histogram_bounds` lists values of every analyzed column), as
/// `schema.relation.column`; a trailing `*` matches any ending.
const SAMPLED_VALUES: &[&str] = &[
    "pg_catalog.pg_statistic.stavalues*",
    "pg_catalog.pg_statistic_ext_data.stxdmcv",
    "pg_catalog.pg_statistic_ext_data.stxdexpr",
    "pg_catalog.pg_stats.most_common_vals",
    "pg_catalog.pg_stats.most_common_elems",
    "pg_catalog.pg_stats.histogram_bounds",
    "pg_catalog.pg_stats_ext.most_common_vals",
    "pg_catalog.pg_stats_ext_exprs.most_common_vals",
    "pg_catalog.pg_stats_ext_exprs.most_common_elems",
    "pg_catalog.pg_stats_ext_exprs.histogram_bounds",
];

/// Whether the relation column `qualified` holds values sampled from other tables' columns
/// ([`SAMPLED_VALUES`]): a column rule cannot name them, so callers with column rules redact.
pub(crate) fn holds_sampled_values(qualified: &str) -> bool {
    SAMPLED_VALUES.iter().any(|p| match p.strip_suffix('*') {
        Some(prefix) => qualified.starts_with(prefix),
        None => qualified == *p,
    })
}

/// Whether a statement that reads `tables` and refers to `columns` (as guard-sql lists them)
/// reads a column of [`SAMPLED_VALUES`] straight from its relation (`pg_statistic.stavalues1`,
/// `pg_statistic_ext_data.stxdmcv`, a whole row of either): what it computes from them may be
/// any column's values.
pub(crate) fn reads_sampled_values(tables: &[String], columns: &[String]) -> bool {
    tables.iter().any(|t| {
        let (schema, rel) = match t.rsplit_once('.') {
            Some((s, r)) => (Some(s), r),
            None => (None, t.as_str()),
        };
        let relation = format!("pg_catalog.{rel}.");
        schema.is_none_or(|s| s == "pg_catalog")
            && columns.iter().any(|c| match c.as_str() {
                "*" => SAMPLED_VALUES.iter().any(|p| p.starts_with(&relation)),
                c => holds_sampled_values(&format!("{relation}{c}")),
            })
    })
}

impl Source {
    /// Whether the column, or a column behind it, holds values sampled from other tables.
    pub(crate) fn samples(&self) -> bool {
        let behind = match &self.lineage {
            Lineage::View { base, .. } => base.as_slice(),
            _ => &[],
        };
        holds_sampled_values(&self.name) || behind.iter().any(|b| holds_sampled_values(b))
    }
}

/// The column's own name in `schema.relation.column`.
pub(crate) fn column_of(qualified: &str) -> &str {
    qualified.rsplit('.').next().unwrap_or(qualified)
}

/// What a relation's column holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Lineage {
    /// Values stored in the relation itself (a table, a foreign table).
    Stored,
    /// A column of a view or materialized view: the table columns (`schema.table.column`,
    /// followed through nested views, with the same columns of the tables those inherit
    /// from) its values come from, and whether the view computes from them (`reverse(ssn)`)
    /// rather than passing one on unchanged. (For a [`ViewColumn`] of an inheriting table:
    /// the column itself and the same column of its ancestors.)
    View {
        /// The table columns, sorted.
        base: Vec<String>,
        /// Computed rather than passed on.
        computed: bool,
    },
    /// A view's column whose definition could not be followed (nested too deeply, a lookup
    /// failed, functions whose bodies cannot be seen): callers fail closed.
    Unknown,
}

/// A side connection per resource, and the names found so far.
#[derive(Default)]
pub(crate) struct CatalogCache {
    pub(crate) names: std::sync::Mutex<Names>,
    /// Per resource: the kinds of the user types met so far (and of the types inside them).
    pub(crate) types: std::sync::Mutex<HashMap<String, UserTypes>>,
    pub(crate) conns: tokio::sync::Mutex<HashMap<String, crate::upstream::Upstream>>,
    /// (resource, a relation name as statements write it) -> the columns of the views it can
    /// name, and when they were learned.
    views: std::sync::Mutex<ViewsByName>,
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
        lock(&self.views).clear();
        self.generation.fetch_add(1, Ordering::SeqCst);
    }

    /// The current generation; read it before looking anything up for what is derived.
    pub(crate) fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }
}

/// The sources of some columns, and how long they hold.
pub(crate) struct Resolved {
    /// (table OID, attribute number) -> the source. Keys that could not be resolved (the side
    /// connection failed) are absent, as are columns no relation has.
    pub(crate) names: HashMap<(u32, i16), Arc<Source>>,
    /// Until when every name (and every absence) in `names` may be trusted: the earliest
    /// expiry ([`NAME_TTL`]) of what they came from. `None` when a lookup failed, so absent
    /// keys are unknown rather than known to have no name.
    pub(crate) trusted_until: Option<Instant>,
}

/// The sources of `keys` on the upstream of `resource`: qualified names, and for columns of
/// views the table columns behind them. Keys that cannot be resolved (the side connection
/// failed) are absent: callers with column rules fail closed on them.
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
                let n = resolved.get(k).cloned().map(Arc::new);
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
) -> anyhow::Result<HashMap<(u32, i16), Source>> {
    let mut sql = String::from(
        "SELECT a.attrelid::int8, a.attnum::int4, \
         n.nspname || '.' || c.relname || '.' || a.attname, c.relkind, a.attname, \
         EXISTS (SELECT 1 FROM pg_catalog.pg_inherits i WHERE i.inhrelid = c.oid) \
         FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_class c ON c.oid = a.attrelid \
         JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
         WHERE (a.attrelid, a.attnum) IN (",
    );
    sql.push_str(&column_list(keys));
    sql.push(')');
    let mut rows = Vec::new();
    for row in query(shared, resource, &sql).await? {
        if let [
            Some(oid),
            Some(col),
            Some(name),
            Some(kind),
            Some(column),
            Some(child),
        ] = &row[..]
        {
            let oid: u32 = oid.parse()?;
            rows.push((
                oid,
                col.parse::<i16>()?,
                name.clone(),
                kind.clone(),
                column.clone(),
                child == "t",
            ));
        }
    }
    let children: Vec<u32> = (rows.iter()).filter(|r| r.5).map(|r| r.0).collect();
    let parents = ancestors(shared, resource, &children).await?;
    let mut result = HashMap::new();
    let mut views = HashMap::new();
    for (oid, col, name, kind, column, _) in rows {
        let lineage = if is_view(&kind) {
            let columns = view_columns(shared, resource, oid, &mut views, 0).await;
            column_lineage(&columns, col)
        } else {
            Lineage::Stored
        };
        let inherited = (parents.get(&oid).into_iter().flatten())
            .map(|t| format!("{t}.{column}"))
            .collect();
        result.insert(
            (oid, col),
            Source {
                name,
                inherited,
                lineage,
            },
        );
    }
    Ok(result)
}

/// The tables (`schema.table`) each of `rels` inherits from, nearest first, through every
/// level of partitioning and `INHERITS`.
async fn ancestors(
    shared: &Arc<Shared>,
    resource: &str,
    rels: &[u32],
) -> anyhow::Result<HashMap<u32, Vec<String>>> {
    let mut found: HashMap<u32, Vec<String>> = HashMap::new();
    if rels.is_empty() {
        return Ok(found);
    }
    let mut rels = rels.to_vec();
    rels.sort_unstable();
    rels.dedup();
    let list = rels
        .iter()
        .map(|r| format!("{r}::oid"))
        .collect::<Vec<_>>()
        .join(",");
    let sql = format!(
        "WITH RECURSIVE up(child, parent, depth) AS (SELECT i.inhrelid, i.inhparent, 1 \
         FROM pg_catalog.pg_inherits i WHERE i.inhrelid IN ({list}) \
         UNION ALL SELECT up.child, i.inhparent, up.depth + 1 FROM up \
         JOIN pg_catalog.pg_inherits i ON i.inhrelid = up.parent WHERE up.depth < 32) \
         SELECT up.child::int8, n.nspname || '.' || c.relname FROM up \
         JOIN pg_catalog.pg_class c ON c.oid = up.parent \
         JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace ORDER BY up.child, up.depth"
    );
    for row in query(shared, resource, &sql).await? {
        if let [Some(child), Some(parent)] = &row[..] {
            found
                .entry(child.parse()?)
                .or_default()
                .push(parent.clone());
        }
    }
    Ok(found)
}

/// `(table OID, attribute number)` pairs as an SQL list of row values.
fn column_list(keys: &[(u32, i16)]) -> String {
    let mut list = String::new();
    for (i, (oid, col)) in keys.iter().enumerate() {
        if i > 0 {
            list.push(',');
        }
        let _ = write!(list, "({oid}::oid,{col}::int2)");
    }
    list
}

/// `lineage` of a view's column with the column itself (`schema.view.column`) among its
/// sources: a rule naming a view's column holds for views over it, and sampled values are
/// recognised through them.
fn with_view_column(lineage: Lineage, column: &str) -> Lineage {
    match lineage {
        Lineage::View { mut base, computed } => {
            base.push(column.to_owned());
            base.sort();
            base.dedup();
            Lineage::View { base, computed }
        }
        other => other,
    }
}

/// Whether a `pg_class.relkind` is a view or a materialized view.
fn is_view(relkind: &str) -> bool {
    matches!(relkind, "v" | "m")
}

/// The lineage of column `col` of a view whose columns are `columns`.
fn column_lineage(columns: &[Lineage], col: i16) -> Lineage {
    usize::try_from(col)
        .ok()
        .and_then(|c| columns.get(c.checked_sub(1)?))
        .cloned()
        .unwrap_or(Lineage::Unknown)
}

/// A column of a relation a view's definition depends on.
struct Dep {
    rel: u32,
    att: i16,
    /// `schema.relation.column`.
    name: String,
    /// The column's own name.
    column: String,
    /// The relation is a view or materialized view.
    view: bool,
    /// The definition refers to this column (not only to its relation).
    referenced: bool,
    /// The same column in the tables the relation inherits from.
    inherited: Vec<String>,
}

impl Dep {
    /// The column as `schema.table.column`, and as the same column of every table its table
    /// inherits from.
    fn table_columns(&self) -> impl Iterator<Item = String> + '_ {
        std::iter::once(self.name.clone()).chain(self.inherited.iter().cloned())
    }
}

/// The lineage of every column of view `view`, in order (`views` remembers the views followed
/// during one lookup). Empty when the definition could not be followed: every column is then
/// [`Lineage::Unknown`].
fn view_columns<'a>(
    shared: &'a Arc<Shared>,
    resource: &'a str,
    view: u32,
    views: &'a mut HashMap<u32, Arc<[Lineage]>>,
    depth: usize,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = Arc<[Lineage]>> + Send + 'a>> {
    Box::pin(async move {
        if let Some(known) = views.get(&view) {
            return known.clone();
        }
        let columns: Arc<[Lineage]> = if depth >= MAX_VIEW_DEPTH {
            Arc::from([])
        } else {
            match follow_view(shared, resource, view, views, depth).await {
                Ok(c) => c.into(),
                Err(e) => {
                    let error = format!("{e:#}");
                    tracing::warn!(
                        error,
                        resource,
                        view,
                        "following a view's definition failed"
                    );
                    Arc::from([])
                }
            }
        };
        views.insert(view, columns.clone());
        columns
    })
}

/// Reads a view's definition: which relation column each of its columns passes on (the
/// server's own RowDescription of the definition, as for any query), and for the columns it
/// computes, the columns their expressions refer to (guard-sql's `result_columns`) among the
/// columns the definition depends on (`pg_depend`); nested views are followed.
async fn follow_view(
    shared: &Arc<Shared>,
    resource: &str,
    view: u32,
    views: &mut HashMap<u32, Arc<[Lineage]>>,
    depth: usize,
) -> anyhow::Result<Vec<Lineage>> {
    // The definition, and whether it calls functions or operators that are not built in (the
    // server records no dependency on built-in objects): their bodies may read any column.
    let row = query(
        shared,
        resource,
        &format!(
            "SELECT pg_catalog.pg_get_viewdef({view}::oid), EXISTS (SELECT 1 \
             FROM pg_catalog.pg_rewrite r JOIN pg_catalog.pg_depend d ON d.objid = r.oid \
             AND d.classid = 'pg_catalog.pg_rewrite'::pg_catalog.regclass \
             AND d.refclassid IN ('pg_catalog.pg_proc'::pg_catalog.regclass, \
             'pg_catalog.pg_operator'::pg_catalog.regclass) WHERE r.ev_class = {view}::oid)"
        ),
    )
    .await?
    .into_iter()
    .next();
    let (def, user_functions) = match row.as_deref() {
        Some([Some(def), Some(user)]) => (def.clone(), user != "f"),
        _ => anyhow::bail!("no definition for view {view}"),
    };
    // Every column of every relation the definition's rewrite rule depends on, and whether the
    // rule refers to the column itself.
    let sql = format!(
        "SELECT c.oid::int8, a.attnum::int4, n.nspname || '.' || c.relname || '.' || a.attname, \
         a.attname, c.relkind, EXISTS (SELECT 1 FROM pg_catalog.pg_depend e \
         WHERE e.classid = d.classid AND e.objid = r.oid AND e.refobjid = c.oid \
         AND e.refobjsubid = a.attnum), \
         EXISTS (SELECT 1 FROM pg_catalog.pg_inherits i WHERE i.inhrelid = c.oid) \
         FROM pg_catalog.pg_rewrite r JOIN pg_catalog.pg_depend d ON d.objid = r.oid \
         AND d.classid = 'pg_catalog.pg_rewrite'::pg_catalog.regclass \
         AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass \
         JOIN pg_catalog.pg_class c ON c.oid = d.refobjid \
         JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
         JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 \
         AND NOT a.attisdropped WHERE r.ev_class = {view}::oid AND c.oid <> {view}::oid \
         GROUP BY 1, 2, 3, 4, 5, 6, 7"
    );
    let mut deps: Vec<Dep> = Vec::new();
    let mut children = Vec::new();
    for row in query(shared, resource, &sql).await? {
        if let [
            Some(rel),
            Some(att),
            Some(name),
            Some(column),
            Some(kind),
            Some(referenced),
            Some(child),
        ] = &row[..]
        {
            deps.push(Dep {
                rel: rel.parse()?,
                att: att.parse()?,
                name: name.clone(),
                column: column.clone(),
                view: is_view(kind),
                referenced: referenced == "t",
                inherited: Vec::new(),
            });
            if child == "t" {
                children.push(deps[deps.len() - 1].rel);
            }
        }
    }
    // The same columns in the tables those inherit from: rules on them hold for these.
    let parents = ancestors(shared, resource, &children).await?;
    for d in &mut deps {
        d.inherited = (parents.get(&d.rel).into_iter().flatten())
            .map(|t| format!("{t}.{}", d.column))
            .collect();
    }
    let origins = describe(shared, resource, &def).await?;
    // Columns of pinned system catalogs (pg_authid behind pg_roles): the server records no
    // dependency on those, so they are named here.
    let pinned: Vec<(u32, i16)> = (origins.iter().copied())
        .filter(|&(rel, att)| {
            rel != 0 && att > 0 && !deps.iter().any(|d| d.rel == rel && d.att == att)
        })
        .collect();
    if !pinned.is_empty() {
        let list = column_list(&pinned);
        let sql = format!(
            "SELECT a.attrelid::int8, a.attnum::int4, \
             n.nspname || '.' || c.relname || '.' || a.attname, a.attname \
             FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_class c ON c.oid = a.attrelid \
             JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
             WHERE c.relkind NOT IN ('v', 'm') AND (a.attrelid, a.attnum) IN ({list})"
        );
        for row in query(shared, resource, &sql).await? {
            if let [Some(rel), Some(att), Some(name), Some(column)] = &row[..] {
                deps.push(Dep {
                    rel: rel.parse()?,
                    att: att.parse()?,
                    name: name.clone(),
                    column: column.clone(),
                    view: false,
                    referenced: true,
                    inherited: Vec::new(),
                });
            }
        }
    }
    let class = shared.classifier.classify(&def);
    let statement = class.statements.first();
    // Values computed where the definition does not show: functions whose bodies cannot be
    // seen, built-ins that run SQL passed as text or on other servers.
    let opaque = user_functions
        || class.error.is_some()
        || class.statements.len() != 1
        || statement.is_none_or(|s| {
            s.danger
                .iter()
                .any(|d| matches!(*d, "dynamic_sql" | "remote"))
        });
    let results = statement.and_then(|s| s.result_columns.as_ref());
    let mut columns = Vec::with_capacity(origins.len());
    for (k, &(rel, att)) in origins.iter().enumerate() {
        let lineage = if rel != 0 && att > 0 {
            match deps.iter().find(|d| d.rel == rel && d.att == att) {
                None => Lineage::Unknown,
                Some(d) if d.view => {
                    let inner = view_columns(shared, resource, d.rel, views, depth + 1).await;
                    with_view_column(column_lineage(&inner, d.att), &d.name)
                }
                Some(d) => Lineage::View {
                    base: d.table_columns().collect(),
                    computed: false,
                },
            }
        } else if opaque {
            Lineage::Unknown
        } else {
            // The columns the expression refers to, by name; all columns of every relation
            // for a whole-row reference or when the text does not tell the columns apart.
            let refs = results
                .and_then(|r| r.get(k))
                .filter(|r| !r.iter().any(|c| c == "*"));
            let mut base = Vec::new();
            let mut unknown = false;
            for d in deps
                .iter()
                .filter(|d| refs.is_none_or(|r| d.referenced && r.contains(&d.column)))
            {
                if d.view {
                    let inner = view_columns(shared, resource, d.rel, views, depth + 1).await;
                    match with_view_column(column_lineage(&inner, d.att), &d.name) {
                        Lineage::View { base: b, .. } => base.extend(b),
                        Lineage::Stored => base.extend(d.table_columns()),
                        Lineage::Unknown => unknown = true,
                    }
                } else {
                    base.extend(d.table_columns());
                }
            }
            if unknown {
                Lineage::Unknown
            } else {
                base.sort();
                base.dedup();
                Lineage::View {
                    base,
                    computed: true,
                }
            }
        };
        columns.push(lineage);
    }
    Ok(columns)
}

/// A column of a view, a materialized view or an inheriting table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ViewColumn {
    /// Its name.
    pub(crate) name: String,
    /// Where its values come from.
    pub(crate) lineage: Lineage,
}

/// For each of `relations`, as statements write them (`v` in any schema, `s.v`): the columns
/// of every view, materialized view and inheriting table (partition, `INHERITS` child) it can
/// name on the upstream of `resource` (none when it names a plain table), with where their
/// values come from; and until when they may all be trusted ([`NAME_TTL`], as names). Names
/// not cached are looked up together, in one query.
///
/// # Errors
/// The side connection or a query failed, or a name cannot be put in a query.
pub(crate) async fn relations_named(
    shared: &Arc<Shared>,
    resource: &str,
    relations: &[&str],
) -> anyhow::Result<(Vec<Arc<[ViewColumn]>>, Instant)> {
    let now = Instant::now();
    let mut until = now + NAME_TTL;
    let mut found: Vec<Option<Arc<[ViewColumn]>>> = vec![None; relations.len()];
    {
        let cache = lock(&shared.catalog.views);
        let mut key = (resource.to_owned(), String::new());
        for (i, r) in relations.iter().enumerate() {
            (*r).clone_into(&mut key.1);
            if let Some((columns, at)) = cache.get(&key)
                && now.saturating_duration_since(*at) < NAME_TTL
            {
                until = until.min(*at + NAME_TTL);
                found[i] = Some(columns.clone());
            }
        }
    }
    // `db.s.t`: the schema is the part before the table.
    let split = |r: &'_ str| match r.rsplit_once('.') {
        Some((rest, name)) => (
            Some(rest.rsplit('.').next().unwrap_or(rest).to_owned()),
            name.to_owned(),
        ),
        None => (None, r.to_owned()),
    };
    let missing: Vec<(usize, Option<String>, String)> = (relations.iter().enumerate())
        .filter(|(i, _)| found[*i].is_none())
        .map(|(i, r)| {
            let (schema, name) = split(r);
            (i, schema, name)
        })
        .collect();
    if !missing.is_empty() {
        let mut names: Vec<&str> = missing.iter().map(|m| m.2.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        let list = (names.iter())
            .map(|n| literal(n))
            .collect::<anyhow::Result<Vec<_>>>()?
            .join(",");
        let sql = format!(
            "SELECT c.oid::int8, a.attnum::int4, a.attname, c.relkind, \
             n.nspname || '.' || c.relname || '.' || a.attname, c.relname, n.nspname \
             FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
             JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 \
             AND NOT a.attisdropped WHERE (c.relkind IN ('v', 'm') OR EXISTS \
             (SELECT 1 FROM pg_catalog.pg_inherits i WHERE i.inhrelid = c.oid)) \
             AND c.relname IN ({list}) ORDER BY 1, 2"
        );
        let rows = query(shared, resource, &sql).await?;
        let children: Vec<u32> = (rows.iter())
            .filter_map(|r| match &r[..] {
                [Some(oid), _, _, Some(kind), ..] if !is_view(kind) => oid.parse().ok(),
                _ => None,
            })
            .collect();
        let parents = ancestors(shared, resource, &children).await?;
        // (relation, schema, column) of every row.
        let mut columns = Vec::new();
        let mut views = HashMap::new();
        for row in rows {
            if let [
                Some(oid),
                Some(att),
                Some(column),
                Some(kind),
                Some(qualified),
                Some(rel),
                Some(schema),
            ] = &row[..]
            {
                let oid: u32 = oid.parse()?;
                let lineage = if is_view(kind) {
                    let lineage = view_columns(shared, resource, oid, &mut views, 0).await;
                    with_view_column(column_lineage(&lineage, att.parse()?), qualified)
                } else {
                    // A table that inherits: its column is also its ancestors' column.
                    let inherited = parents.get(&oid).into_iter().flatten();
                    Lineage::View {
                        base: std::iter::once(qualified.clone())
                            .chain(inherited.map(|t| format!("{t}.{column}")))
                            .collect(),
                        computed: false,
                    }
                };
                let c = ViewColumn {
                    name: column.clone(),
                    lineage,
                };
                columns.push((rel.clone(), schema.clone(), c));
            }
        }
        let at = Instant::now();
        until = until.min(at + NAME_TTL);
        let mut cache = lock(&shared.catalog.views);
        if cache.len() + missing.len() >= MAX_VIEW_NAMES {
            cache.retain(|_, (_, t)| at.saturating_duration_since(*t) < NAME_TTL);
            if cache.len() + missing.len() >= MAX_VIEW_NAMES {
                cache.clear();
            }
        }
        for (i, schema, name) in missing {
            let mine: Arc<[ViewColumn]> = (columns.iter())
                .filter(|(r, s, _)| *r == name && schema.as_ref().is_none_or(|want| want == s))
                .map(|(_, _, c)| c.clone())
                .collect();
            cache.insert(
                (resource.to_owned(), relations[i].to_owned()),
                (mine.clone(), at),
            );
            found[i] = Some(mine);
        }
    }
    Ok((
        found.into_iter().map(Option::unwrap_or_default).collect(),
        until,
    ))
}

/// `s` as an SQL string literal (standard conforming: quotes doubled). Refuses backslashes
/// and NULs, which a server without `standard_conforming_strings` would read otherwise.
fn literal(s: &str) -> anyhow::Result<String> {
    if s.contains(['\\', '\0']) {
        anyhow::bail!("a relation name the catalog lookup does not quote: {s:?}");
    }
    Ok(format!("'{}'", s.replace('\'', "''")))
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

/// What the side connection answered to one request.
#[derive(Default)]
struct Reply {
    /// DataRows, as text.
    rows: Vec<Vec<Option<String>>>,
    /// The (table OID, attribute number) of each field of the last RowDescription.
    fields: Vec<(u32, i16)>,
}

/// Runs `sql` (simple protocol, catalog queries of the gateway's own) on the resource's side
/// connection; rows as text.
async fn query(
    shared: &Arc<Shared>,
    resource: &str,
    sql: &str,
) -> anyhow::Result<Vec<Vec<Option<String>>>> {
    let mut out = Vec::new();
    Query {
        sql: PgStr::try_new(sql.as_bytes())?,
    }
    .encode(&mut out);
    Ok(exchange(shared, resource, &out).await?.rows)
}

/// The source (table OID, attribute number) of each result column of query `sql`, as the
/// server describes it without running it (Parse and Describe of the unnamed statement).
async fn describe(
    shared: &Arc<Shared>,
    resource: &str,
    sql: &str,
) -> anyhow::Result<Vec<(u32, i16)>> {
    let mut out = Vec::new();
    Parse::encode_parts(PgStr::EMPTY, PgStr::try_new(sql.as_bytes())?, &[], &mut out);
    Describe {
        target: Target::Statement,
        name: PgStr::EMPTY,
    }
    .encode(&mut out);
    FrontendMessage::Sync.encode(&mut out);
    Ok(exchange(shared, resource, &out).await?.fields)
}

/// Sends `request` (ending in a Query or a Sync) on the resource's side connection, opening it
/// when needed and dropping it after a failure, and reads up to ReadyForQuery.
async fn exchange(shared: &Arc<Shared>, resource: &str, request: &[u8]) -> anyhow::Result<Reply> {
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
    let result = run(
        conns
            .get_mut(resource)
            .ok_or_else(|| anyhow::anyhow!("no connection"))?,
        request,
    )
    .await;
    if result.is_err() {
        conns.remove(resource);
    }
    result
}

async fn run(conn: &mut crate::upstream::Upstream, request: &[u8]) -> anyhow::Result<Reply> {
    conn.stream.write_all(request).await?;
    let mut dec = BackendDecoder::new(Limits::default());
    let mut buf = std::mem::take(&mut conn.buf);
    let mut reply = Reply::default();
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
                    BackendMessage::DataRow(r) => reply.rows.push(
                        r.values
                            .iter()
                            .map(|v| v.map(|b| String::from_utf8_lossy(b).into_owned()))
                            .collect(),
                    ),
                    BackendMessage::RowDescription(rd) => {
                        reply.fields = rd
                            .fields
                            .iter()
                            .map(|f| (f.table_oid, f.column_id))
                            .collect();
                    }
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
        None => Ok(reply),
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
