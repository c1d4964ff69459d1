//! Applying guard-mask profiles to result sets: RowDescription picks a plan per column,
//! DataRows are re-encoded, COPY TO STDOUT rows are masked too.
//!
//! # Per column
//!
//! - A column rule (by column name, or by `schema.table.column` of the source column, resolved
//!   from the RowDescription's table OID and attribute number through the catalog) replaces
//!   every value with the rule's strategy. When the catalog cannot be reached, columns whose
//!   source stays unknown are redacted under profiles that have column rules (fail closed).
//!   The column's type is rewritten to `text` in the RowDescription the client sees, so
//!   clients decode the masked value as a string.
//! - A computed column (`reverse(ssn)`, `ssn || ''`, a `UNION` output, a CTE's expression,
//!   `to_json(c)`) has no source column for a rule to match, and a transformed value escapes
//!   the detectors. So a computed column is redacted whole (`[REDACTED]`, retyped `text`)
//!   when its expression refers to a column a rule may hide: guard-sql's `result_columns`
//!   (the columns each result column's expression refers to) against the rule and the
//!   statement's `sql.tables` (`ColumnRule::may_be_read_by`; `*` and whole-row references
//!   count as every column). Where the result columns cannot be told apart from the text (a
//!   subquery, CTE or function in `FROM`, `*`), every computed column of a statement whose
//!   `sql.columns` refer to such a column is; and every computed column of a statement that
//!   computes its rows where its text does not show (`FETCH` from a cursor declared earlier,
//!   functions the gateway does not know, `CALL`: `sql.opaque`; text it cannot parse).
//!   Several statements in one unit of responses share their flags only where they agree,
//!   else all are redacted.
//!   Plain columns keep their own plan. Not covered: what a filter reveals
//!   (`WHERE ssn LIKE '1%'` selects rows); a policy on `sql.columns` can refuse that.
//! - A name-only rule (`ssn`) matches the result column's name and its source column's own
//!   name (guard-mask's `ColumnRule::matches`), so `SELECT ssn AS x` is masked too. A rule on a table's column holds for the same
//!   column of its partitions and `INHERITS` children (`SELECT ssn FROM customers_2024`).
//! - The planner's statistics hold values sampled from every analyzed column
//!   (`pg_stats.histogram_bounds`, `most_common_vals`; `pg_statistic.stavalues*`; extended
//!   statistics): a rule cannot name them, so under column rules they are redacted, selected
//!   directly, through views or computed from.
//! - Views and materialized views: a view's column is its own source column, so the catalog
//!   lookup follows it to the table columns behind it (crate::catalog: the server's
//!   description of the view's definition for the columns it passes on, guard-sql's
//!   `result_columns` within the definition's `pg_depend` entries for those it computes,
//!   nested views up to 8 deep). A rule matching a table column a view's column passes on
//!   applies with its strategy; one matching a column the view computes from redacts it.
//!   Where the definition cannot be followed (functions or operators that are not built in,
//!   SQL run from text, nesting too deep) the view's computed columns are redacted under profiles with
//!   column rules. A statement's own computed columns are redacted when they refer to a
//!   view's column that has a rule's column behind it (by name, per result column where
//!   guard-sql tells them apart, else all of them; the relations it names are looked up by
//!   name: unqualified in every schema), or when that cannot be looked up.
//! - In text format every other column is scanned by the profile's detectors, except the
//!   built-in scalar types that hold no free text (numbers, times, booleans, uuid, bytea,
//!   network addresses, geometry: [`NOT_TEXT`]), whose masked value would no longer parse as
//!   its type; a column rule is how those are masked. So arrays, row values, enums, domains and
//!   user types are scanned too: `SELECT array_agg(email)` and `SELECT ROW(id, email)` do not
//!   get around the detectors.
//!
//! # Binary format
//!
//! In binary format a text-like value (text, varchar, char, name, json, xml, unknown) is its
//! bytes, so detectors apply to it as in text format (jsonb: after its version byte). Arrays
//! of those and `record` values (`ROW(...)`, and `record[]`) are walked element by element
//! and field by field (`guard_sql::pg::binary::map_items`), and written again with their new
//! lengths ([`mask_binary`]); a value
//! that does not have its type's layout is sent as NULL. User types (OIDs from 16384:
//! extensions, CREATE TYPE, CREATE DOMAIN) are looked up in pg_type on the catalog side
//! connection, with the types inside them: enums and string-category base types (citext) are
//! text, domains take their base type's form, composites are records, arrays are arrays. A
//! user type whose kind could not be learned is sent as NULL (fail closed); so is a value of
//! an anonymous `ROW(...)` holding a user type no column of the session's results has had yet
//! (the record's fields name their types only in the data). Other binary
//! values (numbers, times, ranges...) pass. A column-rule column in binary format has been
//! retyped to `text`, whose binary form is again its bytes, so the masked bytes are a valid
//! binary text value; when the source value was not text the strategy is applied to nothing
//! (for example `[REDACTED]`), never to the raw binary bytes. `null` strategies send NULL.
//!
//! # Errors, notices, notifications
//!
//! Server messages quote the values they are about, so `SELECT ssn::int` would read a masked
//! column through its error. Under mask profiles the detectors scan every text field of
//! ErrorResponse and NoticeResponse. Under profiles with column rules, when the statement
//! refers to a column a rule may hide (its `derived` flags are set, or through a view), the
//! message's values are redacted (PostgreSQL's message style quotes values and leaves
//! numbers bare: everything from the first double quote to the last, unless the message
//! quotes exactly one name the statement wrote, and every digit run) and the fields that
//! quote rows or statements (detail, hint, context, internal query) are dropped; when it
//! computes where its text does not show (`DO`, unknown functions that `RAISE`), the message
//! is withheld. The detail of an integrity violation (class 23: `Failing row contains (...)`
//! quotes every column of the row) is dropped under column rules whatever the statement.
//! Errors with a position into the statement come from the parser and concern the client's
//! own text: detectors only (names only, for out-of-sight statements).
//! SQLSTATE, severity and the schema/table/column/constraint name fields stay. Notification
//! payloads (`LISTEN`/`NOTIFY`: any session may send any value) are scanned by the detectors,
//! and withheld under profiles with column rules. What is recorded is what the client got.
//!
//! # COPY TO STDOUT
//!
//! Under profiles with detectors only, each CopyData of a text or CSV COPY is masked whole by
//! the detectors of every profile that applies (no extra round trip).
//!
//! COPY carries no column names, so under a profile with column rules the gateway learns the
//! columns first: right before the COPY it sends the upstream, on the same session, a hidden
//! Parse + Describe + Close of the equivalent SELECT (`guard_sql::copy::copy_select`; in the
//! simple protocol followed by its own Sync). Its RowDescription gives the plan, exactly as
//! for a SELECT (column rules by name or by `schema.table.column`); nothing of the probe
//! reaches the client. For a table copied without a column list the probe is `SELECT *`,
//! which also returns the generated columns COPY leaves out: those (by attribute number,
//! looked up on the catalog side connection) are dropped from what it learned. The COPY's
//! rows are then decoded (`guard_sql::copy::CopyDecoder`, in
//! the layout the COPY's options give), every value under a column rule replaced, every
//! other value scanned by the detectors (in COPY all values are text), and the rows that
//! changed written again in the same layout (`CopyEncoder`). Fail closed: when the probe
//! failed, when the COPY sends another number of columns than the probe described (the
//! generated columns could not be looked up), when the rows cannot be decoded or
//! the session's `client_encoding` can put ASCII bytes inside characters, the client gets an
//! ErrorResponse instead of (the rest of) the COPY, and nothing more of it is passed on.
//!
//! A binary COPY that needs masking goes the same way (probe, decode, mask, encode), since it
//! has no text to scan as a whole: a column rule can only replace values of plain text types
//! there (their binary form is the text; the client decodes every column with its own type),
//! so a rule on another type cuts the COPY off with an error naming the column; detectors
//! scan the text-like columns (jsonb after its version byte) and other types pass, as for
//! binary result columns.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use bytes::BytesMut;
use guard_mask::{Masker, Strategy};
use guard_sql::copy::{CopyDecoder, CopyEncoder, CopyItem, CopyLimits};
use guard_sql::pg::binary::{Container, map_items};
use guard_sql::pg::{
    CopyResponse, DataRow, ErrorFields, FieldDescription, NotificationResponse, PgStr,
    RowDescription,
};

use crate::catalog::{Lineage, Source, ViewColumn};
use crate::decide::{Derived, Masks};
use crate::gateway::Shared;

/// Type OIDs whose text is scanned by detectors (pg_type.h).
const TEXT_LIKE: [u32; 8] = [25, 1043, 1042, 19, 114, 3802, 142, 705];
/// Built-in scalar types whose values hold no free text (numbers, times, booleans, network
/// addresses, uuid, bytea...): detectors leave them alone, since a masked value would no longer
/// parse as its type; a column rule is how they are masked. Every other type is scanned in
/// text format: text-like ones, and arrays, records, enums, domains, composite and other
/// user types, whose text form can carry what the detectors look for
/// (`SELECT array_agg(email)`, `SELECT ROW(id, email)`).
const NOT_TEXT: [u32; 33] = [
    16, 17, 18, 20, 21, 23, 26, 28, 700, 701, 790, 1700, 1082, 1083, 1114, 1184, 1186, 1266, 2950,
    869, 650, 829, 774, 1560, 1562, 600, 601, 602, 603, 604, 628, 718, 3220,
];
/// The array types of the text-like types, and `record[]`: in binary format their elements
/// are walked (`mask_binary`).
const TEXT_ARRAYS: [u32; 8] = [1009, 1015, 1014, 1003, 199, 3807, 143, 2287];
/// `record` (anonymous row values, `ROW(...)`): in binary format its fields are walked.
const RECORD_OID: u32 = 2249;
/// How deep `mask_binary` follows records inside arrays inside records.
const MAX_BINARY_DEPTH: u32 = 8;
/// PostgreSQL's first OID for objects made after initdb (`FirstNormalObjectId`): types below
/// it are built in and known here; types at or above it (extensions, CREATE TYPE, CREATE
/// DOMAIN) are looked up in pg_type ([`crate::catalog::user_types`]).
pub(crate) const FIRST_USER_OID: u32 = 16384;

/// How the binary form of a type holds text, for the detectors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BinKind {
    /// The bytes are the text (text, varchar, name, enums, citext...).
    Text,
    /// A version byte, then the JSON text.
    Jsonb,
    /// An array: the element type is in the value.
    Array,
    /// A record or composite: each field's type is in the value.
    Record,
    /// Holds no text the detectors could read (numbers, times, ranges...).
    Opaque,
}

/// The kinds of the user types a plan met (with the types inside them).
pub(crate) type UserTypes = Arc<HashMap<u32, BinKind>>;

/// The kind of `type_oid`: built-in types are known; `None` for a user type `user` does not
/// hold (its kind could not be learned).
pub(crate) fn bin_kind(user: &HashMap<u32, BinKind>, type_oid: u32) -> Option<BinKind> {
    if type_oid == JSONB_OID {
        Some(BinKind::Jsonb)
    } else if TEXT_LIKE.contains(&type_oid) {
        Some(BinKind::Text)
    } else if TEXT_ARRAYS.contains(&type_oid) {
        Some(BinKind::Array)
    } else if type_oid == RECORD_OID {
        Some(BinKind::Record)
    } else if type_oid < FIRST_USER_OID {
        Some(BinKind::Opaque)
    } else {
        user.get(&type_oid).copied()
    }
}
const JSONB_OID: u32 = 3802;
const TEXT_OID: u32 = 25;
/// Types whose binary form is their text (in the client encoding): text, varchar, bpchar, name.
/// In a binary COPY a column rule can replace only values of these.
const PLAIN_TEXT: [u32; 4] = [25, 1043, 1042, 19];

/// Why a result could not be passed on.
#[derive(Debug, thiserror::Error)]
pub(crate) enum MaskError {
    #[error(
        "guard: a binary COPY of data that must be masked is refused; use COPY ... TO STDOUT in text or CSV format"
    )]
    BinaryCopy,
    #[error(
        "guard: column \"{column}\" is masked by a column rule, and in a binary COPY its type (OID {type_oid}) cannot hold the masked text; use COPY ... TO STDOUT in text or CSV format, or copy the column as text"
    )]
    BinaryRule { column: String, type_oid: u32 },
    #[error(
        "guard: the columns of this COPY could not be learned, and mask profile \"{profile}\" has column rules: nothing of it is sent"
    )]
    NoColumns { profile: String },
    #[error(
        "guard: this COPY sends {copied} columns where its SELECT has {described} (a table with generated columns?); name the columns: COPY table (a, b) TO STDOUT"
    )]
    ColumnCount { described: usize, copied: usize },
    #[error(
        "guard: COPY data in client_encoding {0} cannot be masked (its characters may contain ASCII bytes); SET client_encoding TO 'UTF8'"
    )]
    Encoding(String),
    #[error("guard: {0}")]
    CopyData(#[from] guard_sql::copy::CopyDataError),
    #[error("guard: the masked COPY row cannot be written: {0}")]
    CopyEncode(#[from] guard_sql::copy::CopyEncodeError),
    #[error("guard: this COPY's options cannot be read: {0}")]
    CopyOptions(#[from] guard_sql::copy::CopySqlError),
}

impl MaskError {
    /// The SQLSTATE the client gets.
    pub(crate) fn sqlstate(&self) -> &'static str {
        match self {
            MaskError::BinaryCopy | MaskError::Encoding(_) | MaskError::BinaryRule { .. } => {
                "0A000"
            }
            MaskError::NoColumns { .. } | MaskError::ColumnCount { .. } => "42501",
            MaskError::CopyData(e) => e.sqlstate(),
            MaskError::CopyEncode(e) => e.sqlstate(),
            MaskError::CopyOptions(e) => e.sqlstate(),
        }
    }
}

/// What the gateway knows of a `COPY ... TO STDOUT` masked column by column (under column
/// rules, or binary) before it runs: its layout and the SELECT that describes its columns
/// (decided in decide.rs, sent by the client -> upstream pump as a hidden Parse + Describe +
/// Close).
#[derive(Debug, Clone)]
pub(crate) struct CopySpec {
    /// The SELECT whose Describe gives the COPY's columns.
    pub(crate) select: String,
    /// The COPY's options (text, CSV or binary).
    pub(crate) options: guard_sql::copy::CopyOptions,
    /// `COPY table TO` without a column list: `select` is `SELECT *`, which also returns the
    /// generated columns the COPY leaves out.
    pub(crate) all_columns: bool,
}

impl CopySpec {
    /// The spec of a `COPY ... TO STDOUT`, or why it cannot be masked column by column.
    pub(crate) fn of(sql: &str) -> Result<CopySpec, String> {
        let select = match guard_sql::copy::copy_select(sql) {
            Ok(Some(s)) => s,
            Ok(None) => return Err("it is not a single COPY TO STDOUT".to_owned()),
            Err(e) => return Err(e.to_string()),
        };
        let options = guard_sql::copy::CopyOptions::from_sql(sql).map_err(|e| e.to_string())?;
        Ok(CopySpec {
            select: select.sql,
            options,
            all_columns: select.all_columns,
        })
    }
}

/// The answer of a COPY probe, kept until the COPY's CopyOutResponse.
struct Probed {
    spec: CopySpec,
    /// One entry per column the SELECT described (none for NoData).
    plan: Vec<Col>,
    /// Each column's name and type OID, as described.
    columns: Vec<(String, u32)>,
    /// The user types among the columns, for a binary COPY.
    types: UserTypes,
    maskers: Vec<Arc<Masker>>,
}

/// How the CopyData of the running COPY TO STDOUT are passed on.
enum CopyMode {
    Off,
    /// Every payload through the detectors (profiles without column rules).
    Whole(Vec<Arc<Masker>>),
    /// Decoded into rows, masked value by value, written again.
    Rows(Box<RowCopy>),
}

struct RowCopy {
    dec: CopyDecoder,
    enc: CopyEncoder,
    plan: Vec<Col>,
    maskers: Vec<Arc<Masker>>,
    /// A binary COPY: only the plan's Rule and Detect columns are masked (the others hold
    /// binary values); in text and CSV every value is text and goes through the detectors.
    binary: bool,
    payload: Vec<u8>,
    /// The masked values of the row at hand: (field index, new value), in field order.
    changed: Vec<(usize, Option<Vec<u8>>)>,
}

enum Col {
    Pass,
    Rule {
        masker: Arc<Masker>,
        strategy: Strategy,
        source_is_text: bool,
        binary: bool,
    },
    Detect {
        maskers: Vec<Arc<Masker>>,
        /// `None`: a text-format value, scanned whole. `Some(type)`: a binary-format value of
        /// that type, walked by [`mask_binary`].
        binary: Option<u32>,
        /// The user types met in binary columns (and inside them).
        types: UserTypes,
    },
}

/// How many result plans a session keeps.
const PLAN_CACHE_ENTRIES: usize = 16;
/// RowDescriptions longer than this are planned every time (bounds a session's cache).
const PLAN_CACHE_MAX_KEY_BYTES: usize = 4096;

/// The plan made for one RowDescription under some mask profiles.
struct CachedPlan {
    /// The RowDescription as the upstream sent it: column names, source table OIDs and
    /// attribute numbers, types and formats, everything a plan is made from.
    key: Box<[u8]>,
    /// The mask profiles the statement was decided with.
    masks: Masks,
    /// [`crate::catalog::CatalogCache::generation`] when planning began: a reload (new
    /// profiles, catalog caches cleared) ends the plan.
    generation: u64,
    /// The earliest expiry of the column sources the plan was made from: a table renamed
    /// into a rule's reach is seen as soon as it would be without the cache.
    until: std::time::Instant,
    plan: Option<Arc<[Col]>>,
    /// What the client gets instead of `key` (rule columns retyped `text`), when it differs.
    retyped: Option<Box<[u8]>>,
}

/// A session's recent result plans, most recent first. Only plans that hold while their
/// generation and column sources do are kept: not those made when a catalog lookup failed
/// (fail closed, and learned again next time), nor those that walk binary values with the
/// user types known at planning time.
#[derive(Default)]
struct PlanCache(Vec<CachedPlan>);

impl PlanCache {
    /// The plan for RowDescription `raw` under `masks`, if one is kept and still holds at
    /// `now` in `generation`. Plans that no longer hold are dropped.
    fn get(
        &mut self,
        raw: &[u8],
        masks: &Masks,
        generation: u64,
        now: std::time::Instant,
    ) -> Option<&CachedPlan> {
        self.0
            .retain(|p| p.generation == generation && now < p.until);
        let i = (self.0.iter()).position(|p| *p.key == *raw && p.masks == *masks)?;
        self.0[..=i].rotate_right(1);
        self.0.first()
    }

    fn insert(&mut self, plan: CachedPlan) {
        if plan.key.len() > PLAN_CACHE_MAX_KEY_BYTES {
            return;
        }
        self.0
            .retain(|p| !(p.key == plan.key && p.masks == plan.masks));
        self.0.truncate(PLAN_CACHE_ENTRIES - 1);
        self.0.insert(0, plan);
    }
}

/// Per-session result masking state.
pub(crate) struct ResultMasker {
    shared: Arc<Shared>,
    resource: String,
    plan: Option<Arc<[Col]>>,
    copy: CopyMode,
    probed: Option<Probed>,
    /// The plans of the session's recent RowDescriptions.
    plans: PlanCache,
}

impl ResultMasker {
    pub(crate) fn new(shared: Arc<Shared>, resource: String) -> Self {
        ResultMasker {
            shared,
            resource,
            plan: None,
            copy: CopyMode::Off,
            probed: None,
            plans: PlanCache::default(),
        }
    }

    /// Forgets the current plans (at ReadyForQuery).
    pub(crate) fn reset(&mut self) {
        self.plan = None;
        self.copy = CopyMode::Off;
        self.probed = None;
    }

    /// Whether `masks` name a profile with column rules (and masking is on): a COPY TO
    /// STDOUT then needs a probe.
    fn column_rules<'m>(&self, masks: &'m [String]) -> Option<&'m String> {
        if !self.shared.config.masking.enabled {
            return None;
        }
        let rt = self.shared.runtime();
        masks.iter().find(|m| rt.column_rule_profiles.contains(*m))
    }

    fn maskers(&self, masks: &[String]) -> Vec<Arc<Masker>> {
        if !self.shared.config.masking.enabled || masks.is_empty() {
            return Vec::new();
        }
        let rt = self.shared.runtime();
        masks
            .iter()
            .filter_map(|m| rt.maskers.get(m).cloned())
            .collect()
    }

    /// A RowDescription: decides the plan and writes what the client sees. A statement run
    /// again gets the plan made for the same RowDescription under the same profiles
    /// ([`PlanCache`]), while the column sources it came from are trusted.
    pub(crate) async fn row_description(
        &mut self,
        rd: &RowDescription<'_>,
        raw: &[u8],
        masks: &Masks,
        out: &mut BytesMut,
        emit: bool,
    ) {
        if !self.shared.config.masking.enabled || masks.is_empty() {
            self.plan = None;
            if emit {
                out.extend_from_slice(raw);
            }
            return;
        }
        // Read before anything is looked up: a reload during planning leaves the plan stale.
        let generation = self.shared.catalog.generation();
        let now = std::time::Instant::now();
        if let Some(hit) = self.plans.get(raw, masks, generation, now) {
            self.plan = hit.plan.clone();
            if emit {
                out.extend_from_slice(hit.retyped.as_deref().unwrap_or(raw));
            }
            return;
        }
        let maskers = self.maskers(masks);
        if maskers.is_empty() {
            self.plan = None;
            if emit {
                out.extend_from_slice(raw);
            }
            return;
        }
        let fields: Vec<FieldDescription<'_>> = rd.fields.iter().collect();
        let (plan, trusted_until) = self.plan_columns(&fields, &maskers, masks).await;
        let changed = fields
            .iter()
            .zip(&plan)
            .any(|(f, c)| matches!(c, Col::Rule { .. }) && f.type_oid != TEXT_OID);
        let retyped = changed.then(|| {
            let retyped = fields.iter().zip(&plan).map(|(f, c)| {
                let mut nf = *f;
                if matches!(c, Col::Rule { .. }) && f.type_oid != TEXT_OID {
                    nf.type_oid = TEXT_OID;
                    nf.type_size = -1;
                    nf.type_modifier = -1;
                }
                nf
            });
            let mut b = BytesMut::new();
            RowDescription::encode_fields(retyped, &mut b);
            b
        });
        if emit {
            out.extend_from_slice(retyped.as_deref().unwrap_or(raw));
        }
        let plan: Option<Arc<[Col]>> = if plan.iter().all(|c| matches!(c, Col::Pass)) {
            None
        } else {
            Some(plan.into())
        };
        if let Some(until) = trusted_until {
            self.plans.insert(CachedPlan {
                key: raw.into(),
                masks: masks.clone(),
                generation,
                until,
                plan: plan.clone(),
                retyped: retyped.map(|b| b.to_vec().into_boxed_slice()),
            });
        }
        self.plan = plan;
    }

    /// The plan for the columns `fields` under `maskers` (the profiles `masks` name): a column
    /// rule by name or source column, else `[REDACTED]` for a column the statement computed
    /// from what a rule may hide (`masks.derived`), else detectors for text-like columns, else nothing.
    /// A column whose rule replaces its values is to be retyped `text`. Also until when the
    /// plan holds for the same columns: `None` when it must not be kept (a catalog lookup
    /// failed, or binary values are walked with the user types known at this moment).
    async fn plan_columns(
        &self,
        fields: &[FieldDescription<'_>],
        maskers: &[Arc<Masker>],
        masks: &Masks,
    ) -> (Vec<Col>, Option<std::time::Instant>) {
        let keys: Vec<(u32, i16)> = fields
            .iter()
            .filter(|f| f.table_oid != 0 && f.column_id > 0)
            .map(|f| (f.table_oid, f.column_id))
            .collect();
        let crate::catalog::Resolved {
            names,
            trusted_until,
        } = crate::catalog::qualified_names(&self.shared, &self.resource, &keys).await;
        // Fail closed: when a profile with column rules applies and a column's source could
        // not be resolved (the catalog connection failed), a rule on `schema.table.column`
        // might have matched it: its values are redacted.
        let strict = self.column_rules(masks).is_some();
        let binary_user: Vec<u32> = fields
            .iter()
            .filter(|f| f.format == 1 && f.type_oid >= FIRST_USER_OID)
            .map(|f| f.type_oid)
            .collect();
        let types = self.user_types(&binary_user).await;
        // A computed column over a view may come from a rule's column the statement does not
        // name: when the statement refers to a view's column that passes on or computes from
        // one, its computed columns are redacted like those computed from the column itself.
        let mut trusted_until = trusted_until;
        let computed_unflagged = (fields.iter().enumerate())
            .any(|(i, f)| (f.table_oid == 0 || f.column_id <= 0) && !masks.derived.column(i));
        let over_views = if strict && computed_unflagged {
            let (covered, until) = self.views_read(maskers, masks).await;
            trusted_until = match until {
                Ok(Some(u)) => trusted_until.map(|t| t.min(u)),
                Ok(None) => trusted_until,
                Err(()) => None,
            };
            covered
        } else {
            Covered::Nothing
        };
        let mut plan = Vec::with_capacity(fields.len());
        for (i, f) in fields.iter().enumerate() {
            let name = f.name.to_string_lossy();
            let source = names.get(&(f.table_oid, f.column_id));
            let has_source = f.table_oid != 0 && f.column_id > 0;
            // Not known where the values come from: a rule on `schema.table.column` might
            // have matched the column, or the table column behind a view's column.
            let unresolved =
                strict && has_source && source.is_none_or(|s| s.lineage == Lineage::Unknown);
            // A value the statement computed (no source column) from a column a rule hides.
            let derived = !has_source && (masks.derived.column(i) || over_views.column(masks, i));
            // Values sampled from any table (planner statistics): a rule cannot name them.
            let sampled = strict && source.is_some_and(|s| s.samples());
            let rule = maskers
                .iter()
                .find_map(|m| source_rule(m, &name, source.map(|s| &**s)).map(|s| (m.clone(), s)))
                .or_else(|| {
                    (unresolved || derived || sampled)
                        .then(|| (maskers[0].clone(), Strategy::Redact { label: None }))
                });
            let text_like = TEXT_LIKE.contains(&f.type_oid);
            plan.push(match rule {
                Some((masker, strategy)) => Col::Rule {
                    masker,
                    strategy,
                    source_is_text: text_like,
                    binary: f.format == 1,
                },
                None => detect_col(maskers, &types, f.type_oid, f.format == 1),
            });
        }
        let walks_binary = (plan.iter()).any(|c| {
            matches!(
                c,
                Col::Detect {
                    binary: Some(_),
                    ..
                }
            )
        });
        (plan, trusted_until.filter(|_| !walks_binary))
    }

    /// Which columns of views (or of partitions and other inheriting tables) that the
    /// statements of `masks` refer to have values from a column a rule of `maskers` hides (or
    /// from where the catalog cannot tell: fail closed), and until when that holds
    /// (`Ok(None)`: no lookup was needed; `Err`: a lookup failed, do not keep the plan).
    async fn views_read(
        &self,
        maskers: &[Arc<Masker>],
        masks: &Masks,
    ) -> (Covered, Result<Option<std::time::Instant>, ()>) {
        // The planner's statistics themselves: every computed column (what a set-returning
        // function such as pg_mcv_list_items makes of them names no column of theirs).
        if (masks.reads.lists()).any(|(t, c)| crate::catalog::reads_sampled_values(t, c)) {
            return (Covered::All, Ok(None));
        }
        let mut relations: Vec<&str> = (masks.reads.lists())
            .flat_map(|(tables, _)| tables.iter().map(String::as_str))
            .collect();
        if relations.is_empty() {
            return (Covered::Nothing, Ok(None));
        }
        relations.sort_unstable();
        relations.dedup();
        let (views, until) =
            match crate::catalog::relations_named(&self.shared, &self.resource, &relations).await {
                Ok(v) => v,
                Err(e) => {
                    tracing::warn!(error = %format!("{e:#}"), "looking up views failed");
                    return (Covered::All, Err(()));
                }
            };
        let hides = |v: &ViewColumn| match &v.lineage {
            Lineage::Unknown => true,
            Lineage::Stored => false,
            Lineage::View { base, .. } => base.iter().any(|b| {
                crate::catalog::holds_sampled_values(b)
                    || maskers.iter().any(|m| table_column_rule(m, b).is_some())
            }),
        };
        let mut names = Vec::new();
        for (tables, columns) in masks.reads.lists() {
            for t in tables {
                let Ok(k) = relations.binary_search(&t.as_str()) else {
                    continue;
                };
                for v in views[k].iter().filter(|v| hides(v)) {
                    if columns.iter().any(|c| c == "*") {
                        return (Covered::All, Ok(Some(until)));
                    }
                    if columns.contains(&v.name) && !names.contains(&v.name) {
                        names.push(v.name.clone());
                    }
                }
            }
        }
        let covered = if names.is_empty() {
            Covered::Nothing
        } else {
            Covered::Names(names)
        };
        (covered, Ok(Some(until)))
    }

    /// How far the text of an error or notice raised by statements decided with `masks`
    /// (`positioned`: it points into the statement) can be trusted not to carry a value a
    /// rule hides (see [`Told`]).
    async fn told(&self, maskers: &[Arc<Masker>], masks: &Masks, positioned: bool) -> Told {
        if self.column_rules(masks).is_none() {
            return Told::Detect;
        }
        // A position into the statement: raised by the parser, about the client's own text
        // (names only, for a statement that computes out of sight).
        match (masks.reads.out_of_sight(), positioned) {
            (true, false) => Told::Withhold,
            (true, true) => Told::Scrub,
            (false, true) => Told::Detect,
            (false, false)
                if masks.derived != Derived::No
                    || self.views_read(maskers, masks).await.0 != Covered::Nothing =>
            {
                Told::Scrub
            }
            (false, false) => Told::Detect,
        }
    }

    /// An ErrorResponse or NoticeResponse (`tag` `E` or `N`, fields `fields`, bytes `raw`)
    /// under `masks`, written to `out` as the client gets it; returns its message as sent.
    ///
    /// Messages quote the values they are about (`invalid input syntax for type integer:
    /// "123-45-6789"`), so casting a masked column is a way to read it. Under profiles, the
    /// detectors scan every text field. When the statement refers to a column a rule hides
    /// (directly or through a view), values in the message are redacted (what PostgreSQL's
    /// message style sets in double quotes, and numbers) and the fields that quote rows or
    /// statements (detail, hint, context, internal query) are dropped; when it computes where
    /// its text does not show (`DO`, functions the gateway does not know, `RAISE` in them),
    /// the message itself is withheld. The SQLSTATE, severity and names stay.
    pub(crate) async fn told_fields(
        &mut self,
        tag: u8,
        fields: &ErrorFields<'_>,
        raw: &[u8],
        masks: &Masks,
        out: &mut BytesMut,
    ) -> String {
        let message = || {
            fields
                .message()
                .map(|m| m.to_string_lossy().into_owned())
                .unwrap_or_default()
        };
        let maskers = self.maskers(masks);
        if maskers.is_empty() {
            out.extend_from_slice(raw);
            return message();
        }
        let told = self.told(&maskers, masks, fields.get(b'P').is_some()).await;
        // The names the statements wrote (a message quoting only one of them reveals nothing).
        let named = |q: &[u8]| {
            masks.reads.lists().any(|(tables, columns)| {
                (tables.iter().chain(columns)).any(|n| n.as_bytes().eq_ignore_ascii_case(q))
            })
        };
        // An integrity violation's detail quotes the row (`Failing row contains (...)`),
        // every column of it, including those the statement did not refer to.
        let row_detail = self.column_rules(masks).is_some()
            && fields
                .code()
                .is_some_and(|c| c.as_bytes().starts_with(b"23"));
        let mut body = Vec::with_capacity(raw.len());
        let mut sent = String::new();
        for (code, value) in fields.iter() {
            let value = value.as_bytes();
            let new: Option<Cow<'_, [u8]>> = match (code, told) {
                // Severity, SQLSTATE, positions, the server's source location and the names
                // of schema, table, column, type and constraint: no values.
                (b'S' | b'V' | b'C' | b'P' | b'p' | b'F' | b'L' | b'R', _)
                | (b's' | b't' | b'c' | b'd' | b'n', _) => Some(Cow::Borrowed(value)),
                (b'D', _) if row_detail => None,
                (b'M', Told::Withhold) => Some(Cow::Borrowed(WITHHELD.as_bytes())),
                (b'M', Told::Scrub) => Some(Cow::Owned(
                    mask_chain(&maskers, &guard_sql::pg::scrub_message_values(value, named))
                        .into_owned(),
                )),
                (_, Told::Detect) => Some(mask_chain(&maskers, value)),
                _ => None,
            };
            if let Some(v) = new {
                if code == b'M' {
                    sent = String::from_utf8_lossy(&v).into_owned();
                }
                body.push(code);
                body.extend(v.iter().filter(|b| **b != 0));
                body.push(0);
            }
        }
        body.push(0);
        out.extend_from_slice(&[tag]);
        out.extend_from_slice(&(body.len() as u32 + 4).to_be_bytes());
        out.extend_from_slice(&body);
        sent
    }

    /// A NotificationResponse (`LISTEN`/`NOTIFY`; bytes `raw`) for a session whose statements
    /// are masked with `masks`: the payload is scanned by the detectors, and withheld under
    /// profiles with column rules, since any session can put any value in it.
    pub(crate) fn notification(
        &self,
        n: &NotificationResponse<'_>,
        raw: &[u8],
        masks: &Masks,
        out: &mut BytesMut,
    ) {
        let maskers = self.maskers(masks);
        if maskers.is_empty() {
            out.extend_from_slice(raw);
            return;
        }
        let payload = if self.column_rules(masks).is_some() {
            Cow::Borrowed(WITHHELD.as_bytes())
        } else {
            mask_chain(&maskers, n.payload.as_bytes())
        };
        let payload: Vec<u8> = payload.iter().copied().filter(|b| *b != 0).collect();
        NotificationResponse {
            process_id: n.process_id,
            channel: n.channel,
            payload: PgStr::try_new(&payload).unwrap_or(PgStr::EMPTY),
        }
        .encode(out);
    }

    /// The kinds of the user types `oids` (and of the types inside them); empty when there
    /// are none. When they cannot be learned, values of those types are not passed on.
    async fn user_types(&self, oids: &[u32]) -> UserTypes {
        if oids.is_empty() {
            return UserTypes::default();
        }
        match crate::catalog::user_types(&self.shared, &self.resource, oids).await {
            Ok(t) => t,
            Err(e) => {
                tracing::warn!(
                    error = %format!("{e:#}"),
                    resource = %self.resource,
                    "looking up user types failed; their binary values are sent as NULL"
                );
                UserTypes::default()
            }
        }
    }

    /// A DataRow under the current plan.
    /// With `record`, also returns the values as the client receives them (lossy text).
    ///
    /// Values are borrowed from the row; only a value that is really masked is copied, and the
    /// row is re-encoded only when one was.
    pub(crate) fn data_row(
        &mut self,
        row: &DataRow<'_>,
        raw: &[u8],
        out: &mut BytesMut,
        record: bool,
    ) -> Option<Vec<Option<String>>> {
        let Some(plan) = &self.plan else {
            out.extend_from_slice(raw);
            return record.then(|| row.values.iter().map(|v| v.map(lossy)).collect());
        };
        let mut values: Vec<Option<Cow<'_, [u8]>>> = Vec::with_capacity(plan.len());
        let mut masked = 0u64;
        for (i, v) in row.values.iter().enumerate() {
            let col = plan.get(i).unwrap_or(&Col::Pass);
            let nv = match (col, v) {
                (_, None) => None,
                (Col::Pass, Some(v)) => Some(Cow::Borrowed(v)),
                (
                    Col::Rule {
                        masker,
                        strategy,
                        source_is_text,
                        binary,
                    },
                    Some(v),
                ) => {
                    masked += 1;
                    if strategy.is_null() {
                        None
                    } else if *binary && !*source_is_text {
                        Some(Cow::Owned(masker.apply_strategy(strategy, b"")))
                    } else {
                        Some(Cow::Owned(masker.apply_strategy(strategy, v)))
                    }
                }
                (
                    Col::Detect {
                        maskers,
                        binary,
                        types,
                    },
                    Some(v),
                ) => {
                    match detect_value(maskers, types, *binary, v) {
                        Some(Cow::Borrowed(_)) => Some(Cow::Borrowed(v)),
                        Some(Cow::Owned(o)) => {
                            masked += 1;
                            Some(Cow::Owned(o))
                        }
                        // A binary value that does not have its type's layout: not passed on.
                        None => {
                            masked += 1;
                            None
                        }
                    }
                }
            };
            values.push(nv);
        }
        if masked == 0 {
            out.extend_from_slice(raw);
        } else {
            self.shared
                .metrics
                .masked_values
                .fetch_add(masked, std::sync::atomic::Ordering::Relaxed);
            DataRow::encode_values(values.iter().map(|v| v.as_deref()), out);
        }
        record.then(|| values.iter().map(|v| v.as_deref().map(lossy)).collect())
    }

    /// The answer to a COPY probe: the RowDescription of the COPY's SELECT (`None`: NoData,
    /// no columns). Kept for the COPY that follows.
    pub(crate) async fn copy_probed(
        &mut self,
        spec: CopySpec,
        masks: &Masks,
        rd: Option<&RowDescription<'_>>,
    ) {
        let maskers = self.maskers(masks);
        let mut fields: Vec<FieldDescription<'_>> =
            rd.map(|r| r.fields.iter().collect()).unwrap_or_default();
        if spec.all_columns
            && let Some(table) = fields.first().map(|f| f.table_oid).filter(|t| *t != 0)
        {
            // COPY leaves out generated columns; `SELECT *` has them. When they cannot be
            // learned, the column counts differ and the COPY is cut off (fail closed).
            match crate::catalog::generated_columns(&self.shared, &self.resource, table).await {
                Ok(generated) => fields.retain(|f| !generated.contains(&f.column_id)),
                Err(e) => tracing::warn!(
                    error = %format!("{e:#}"),
                    resource = %self.resource,
                    "looking up generated columns for a COPY failed"
                ),
            }
        }
        let plan = if maskers.is_empty() {
            Vec::new()
        } else {
            self.plan_columns(&fields, &maskers, masks).await.0
        };
        let columns: Vec<(String, u32)> = fields
            .iter()
            .map(|f| (f.name.to_string_lossy().into_owned(), f.type_oid))
            .collect();
        let types = if spec.options.format == guard_sql::copy::CopyFormat::Binary {
            let user: Vec<u32> = columns
                .iter()
                .map(|c| c.1)
                .filter(|t| *t >= FIRST_USER_OID)
                .collect();
            self.user_types(&user).await
        } else {
            UserTypes::default()
        };
        self.probed = Some(Probed {
            spec,
            plan,
            columns,
            types,
            maskers,
        });
    }

    /// CopyOutResponse: sets up row masking. `client_encoding` is the session's.
    pub(crate) fn copy_out(
        &mut self,
        c: &CopyResponse<'_>,
        masks: &[String],
        client_encoding: &str,
    ) -> Result<(), MaskError> {
        self.copy = CopyMode::Off;
        let probed = self.probed.take();
        let maskers = self.maskers(masks);
        if maskers.is_empty() {
            return Ok(());
        }
        let binary = c.format != 0;
        let rules = self.column_rules(masks);
        if !binary && rules.is_none() {
            self.copy = CopyMode::Whole(maskers);
            return Ok(());
        }
        // Column by column: what the probe learned is needed (a binary COPY has no text to
        // scan as a whole).
        let Some(mut p) = probed else {
            return Err(match rules {
                Some(profile) if !binary => MaskError::NoColumns {
                    profile: profile.clone(),
                },
                _ => MaskError::BinaryCopy,
            });
        };
        if p.plan.len() != c.column_formats.len() {
            return Err(MaskError::ColumnCount {
                described: p.plan.len(),
                copied: c.column_formats.len(),
            });
        }
        if binary {
            // Binary values are length-prefixed: no byte of a character can be taken for a
            // delimiter, so any client_encoding decodes. A rule replaces a value with text,
            // which only text types can hold; detectors scan text-like values (jsonb after its
            // version byte) and leave the others alone, as for binary result columns.
            for (col, (name, type_oid)) in p.plan.iter_mut().zip(&p.columns) {
                match col {
                    Col::Rule { .. } if !PLAIN_TEXT.contains(type_oid) => {
                        return Err(MaskError::BinaryRule {
                            column: name.clone(),
                            type_oid: *type_oid,
                        });
                    }
                    Col::Detect { maskers, .. } => {
                        let maskers = std::mem::take(maskers);
                        *col = detect_col(&maskers, &p.types, *type_oid, true);
                    }
                    _ => {}
                }
            }
        } else if guard_sql::copy::encoding_embeds_ascii(client_encoding) {
            return Err(MaskError::Encoding(client_encoding.to_owned()));
        }
        let mut dec = CopyDecoder::new(&p.spec.options, CopyLimits::default())?;
        dec.expect_fields(p.plan.len());
        let enc = CopyEncoder::new(&p.spec.options)?;
        self.copy = CopyMode::Rows(Box::new(RowCopy {
            dec,
            enc,
            plan: p.plan,
            maskers: p.maskers,
            binary,
            payload: Vec::new(),
            changed: Vec::new(),
        }));
        Ok(())
    }

    /// One CopyData of a COPY TO STDOUT: what the client gets is written to `out`.
    pub(crate) fn copy_data(
        &mut self,
        data: &[u8],
        raw: &[u8],
        out: &mut BytesMut,
    ) -> Result<(), MaskError> {
        match &mut self.copy {
            CopyMode::Off => out.extend_from_slice(raw),
            CopyMode::Whole(maskers) => match mask_chain(maskers, data) {
                Cow::Borrowed(_) => out.extend_from_slice(raw),
                Cow::Owned(o) => {
                    self.shared
                        .metrics
                        .masked_values
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    guard_sql::pg::CopyData { data: &o }.encode(out);
                }
            },
            CopyMode::Rows(r) => {
                r.dec.push(data)?;
                let masked = r.drain()?;
                self.emit_rows(masked, Some((data, raw)), out);
            }
        }
        Ok(())
    }

    /// CopyDone: the COPY is over. A row the data left unfinished is an error.
    pub(crate) fn copy_done(&mut self, out: &mut BytesMut) -> Result<(), MaskError> {
        if let CopyMode::Rows(r) = &mut self.copy {
            r.dec.finish();
            let masked = r.drain()?;
            self.emit_rows(masked, None, out);
        }
        self.copy = CopyMode::Off;
        Ok(())
    }

    /// Writes the payload the last drain built, as the original message when nothing in it
    /// changed.
    fn emit_rows(&mut self, masked: u64, original: Option<(&[u8], &[u8])>, out: &mut BytesMut) {
        let CopyMode::Rows(r) = &mut self.copy else {
            return;
        };
        if masked > 0 {
            self.shared
                .metrics
                .masked_values
                .fetch_add(masked, std::sync::atomic::Ordering::Relaxed);
        }
        match original {
            Some((data, raw)) if masked == 0 && r.payload == data => out.extend_from_slice(raw),
            _ if r.payload.is_empty() => {}
            _ => guard_sql::pg::CopyData { data: &r.payload }.encode(out),
        }
    }
}

impl RowCopy {
    /// Masks every complete item the decoder holds into `payload`; the number of values
    /// masked.
    fn drain(&mut self) -> Result<u64, MaskError> {
        self.payload.clear();
        let mut masked = 0u64;
        while let Some(item) = self.dec.next()? {
            match item {
                CopyItem::Header(b) | CopyItem::Trailer(b) => self.payload.extend_from_slice(b),
                CopyItem::Row(row) => {
                    self.changed.clear();
                    for (i, v) in row.iter().enumerate() {
                        let Some(v) = v else { continue };
                        match self.plan.get(i) {
                            Some(Col::Rule {
                                masker, strategy, ..
                            }) => self.changed.push((
                                i,
                                (!strategy.is_null()).then(|| masker.apply_strategy(strategy, v)),
                            )),
                            Some(Col::Detect {
                                maskers,
                                binary,
                                types,
                            }) if self.binary => match detect_value(maskers, types, *binary, v) {
                                Some(Cow::Borrowed(_)) => {}
                                Some(Cow::Owned(o)) => self.changed.push((i, Some(o))),
                                None => self.changed.push((i, None)),
                            },
                            _ if self.binary => {}
                            _ => {
                                if let Cow::Owned(o) = mask_chain(&self.maskers, v) {
                                    self.changed.push((i, Some(o)));
                                }
                            }
                        }
                    }
                    if self.changed.is_empty() {
                        self.payload.extend_from_slice(row.raw());
                        continue;
                    }
                    masked += self.changed.len() as u64;
                    let changed = &self.changed;
                    let mut k = 0;
                    let fields = row.iter().enumerate().map(|(i, v)| match changed.get(k) {
                        Some((j, nv)) if *j == i => {
                            k += 1;
                            nv.as_deref()
                        }
                        _ => v,
                    });
                    self.enc.encode_row(fields, &mut self.payload)?;
                }
            }
        }
        Ok(masked)
    }
}

/// The strategy of a column rule of `masker` for result column `name` with source `source`:
/// a rule matching the result column or its source column (`Masker::column_rule`), also as
/// the same column of a table the source's table inherits from, so a rule on a partitioned
/// table holds for its partitions; for a view's column, a rule matching a table column behind
/// it, whose strategy applies when the view passes that column on and `[REDACTED]` when the
/// view computes from it.
fn source_rule(masker: &Masker, name: &str, source: Option<&Source>) -> Option<Strategy> {
    let Some(source) = source else {
        return masker.column_rule(name, None).cloned();
    };
    let own = std::iter::once(&source.name).chain(&source.inherited);
    if let Some(s) = own
        .into_iter()
        .find_map(|q| masker.column_rule(name, Some(q)))
    {
        return Some(s.clone());
    }
    let Lineage::View { base, computed } = &source.lineage else {
        return None;
    };
    base.iter().find_map(|b| {
        let s = table_column_rule(masker, b)?;
        Some(if *computed {
            Strategy::Redact { label: None }
        } else {
            s.clone()
        })
    })
}

/// The strategy of the first column rule of `masker` for the relation column `qualified`
/// (`schema.relation.column`).
fn table_column_rule<'m>(masker: &'m Masker, qualified: &str) -> Option<&'m Strategy> {
    masker.column_rule(crate::catalog::column_of(qualified), Some(qualified))
}

/// The plan entry of a column no rule covers: detectors where its values can carry text.
///
/// In binary format a user type whose kind is not known gets a Detect entry too: its values
/// are then not passed on (see [`mask_binary`]).
fn detect_col(maskers: &[Arc<Masker>], types: &UserTypes, type_oid: u32, binary: bool) -> Col {
    let scanned = if binary {
        bin_kind(types, type_oid) != Some(BinKind::Opaque)
    } else {
        !NOT_TEXT.contains(&type_oid)
    };
    if scanned {
        Col::Detect {
            maskers: maskers.to_vec(),
            binary: binary.then_some(type_oid),
            types: types.clone(),
        }
    } else {
        Col::Pass
    }
}

/// A value of a Detect column with the detectors applied; `None`: a binary value without its
/// type's layout (fail closed: it is not passed on).
fn detect_value<'v>(
    maskers: &[Arc<Masker>],
    types: &HashMap<u32, BinKind>,
    binary: Option<u32>,
    v: &'v [u8],
) -> Option<Cow<'v, [u8]>> {
    match binary {
        None => Some(mask_chain(maskers, v)),
        Some(type_oid) => mask_binary(maskers, types, type_oid, v, 0),
    }
}

/// A binary-format value of type `type_oid` with the detectors applied to the text inside it
/// ([`bin_kind`]): text values themselves (jsonb after its version byte), the elements of
/// arrays and the fields of records and composites, rewritten with their new lengths. Types
/// that hold no text are returned as they are. `None` (the value is not passed on): a user
/// type whose kind is unknown, bytes that do not have the type's layout, or nesting deeper
/// than [`MAX_BINARY_DEPTH`].
pub(crate) fn mask_binary<'v>(
    maskers: &[Arc<Masker>],
    types: &HashMap<u32, BinKind>,
    type_oid: u32,
    v: &'v [u8],
    depth: u32,
) -> Option<Cow<'v, [u8]>> {
    let array = match bin_kind(types, type_oid)? {
        BinKind::Jsonb => {
            let (head, body) = v.split_at(1.min(v.len()));
            return Some(match mask_chain(maskers, body) {
                Cow::Borrowed(_) => Cow::Borrowed(v),
                Cow::Owned(o) => Cow::Owned([head, &o].concat()),
            });
        }
        BinKind::Text => return Some(mask_chain(maskers, v)),
        BinKind::Opaque => return Some(Cow::Borrowed(v)),
        BinKind::Array => true,
        BinKind::Record => false,
    };
    if depth >= MAX_BINARY_DEPTH {
        return None;
    }
    let container = if array {
        Container::Array
    } else {
        Container::Record
    };
    map_items(container, v, |t, item| {
        mask_binary(maskers, types, t, item, depth + 1)
    })
}

/// The columns of views a statement refers to whose values come from a column a rule hides
/// ([`ResultMasker::views_read`]).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Covered {
    /// None.
    Nothing,
    /// These, by name.
    Names(Vec<String>),
    /// Any (a whole-row reference or `*` over such a view, or a lookup failed).
    All,
}

impl Covered {
    /// Whether computed result column `i` of the statements of `masks` may come from one: it
    /// refers to one by name, or what it refers to is not known.
    fn column(&self, masks: &Masks, i: usize) -> bool {
        match self {
            Covered::Nothing => false,
            Covered::All => true,
            Covered::Names(names) => masks
                .reads
                .result_column(i)
                .is_none_or(|refs| refs.iter().any(|r| r == "*" || names.contains(r))),
        }
    }
}

/// What replaces a message or payload that may carry a value a rule hides.
pub(crate) const WITHHELD: &str =
    "[REDACTED] (guard: withheld, as the statement may have put masked values in it)";

/// How far an error's or notice's text is trusted (see [`ResultMasker::told_fields`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Told {
    /// The statement refers to no column a rule hides: the detectors scan every field.
    Detect,
    /// It refers to one: values in the message are redacted, detail and context dropped.
    Scrub,
    /// It computes where its text does not show: the message is withheld too.
    Withhold,
}

/// `value` passed through every masker in turn; borrowed when none changed it.
pub(crate) fn mask_chain<'v>(maskers: &[Arc<Masker>], value: &'v [u8]) -> Cow<'v, [u8]> {
    let mut cur = Cow::Borrowed(value);
    for m in maskers {
        if let Cow::Owned(o) = m.mask_value(&cur) {
            cur = Cow::Owned(o);
        }
    }
    cur
}

/// A value as text for the recording: UTF-8 as is, other bytes as `\x` hex.
fn lossy(v: &[u8]) -> String {
    match std::str::from_utf8(v) {
        Ok(s) => s.to_owned(),
        Err(_) => {
            use std::fmt::Write as _;
            let mut s = String::with_capacity(2 + v.len() * 2);
            s.push_str("\\x");
            for b in v {
                let _ = write!(s, "{b:02x}");
            }
            s
        }
    }
}

/// Compiled mask profiles by name.
pub(crate) type Maskers = HashMap<String, Arc<Masker>>;

/// Loads the configured mask profiles; also returns the names of those with column rules.
pub(crate) fn load_maskers(
    config: &crate::config::Config,
) -> anyhow::Result<(Maskers, HashSet<String>)> {
    let mut out = HashMap::new();
    let mut with_columns = HashSet::new();
    for (name, path) in &config.masking.profiles {
        let p = config.path(path);
        let src = std::fs::read_to_string(&p)
            .map_err(|e| anyhow::anyhow!("reading mask profile {}: {e}", p.display()))?;
        let profile: guard_mask::Profile = toml::from_str(&src)
            .map_err(|e| anyhow::anyhow!("mask profile {}: {e}", p.display()))?;
        if !profile.columns.is_empty() {
            with_columns.insert(name.clone());
        }
        let mut b = Masker::builder();
        b.profile(profile);
        // A per-process key for hash strategies: pseudonyms are stable within one run.
        let key: [u8; 32] = rand::random();
        b.hash_key(&key);
        let m = b
            .build()
            .map_err(|e| anyhow::anyhow!("mask profile {}: {e}", p.display()))?;
        out.insert(name.clone(), Arc::new(m));
    }
    Ok((out, with_columns))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decide::Derived;

    fn cached(
        key: &[u8],
        masks: &[&str],
        generation: u64,
        until: std::time::Instant,
    ) -> CachedPlan {
        CachedPlan {
            key: key.into(),
            masks: profiles(masks),
            generation,
            until,
            plan: Some(
                vec![Col::Rule {
                    masker: emails().remove(0),
                    strategy: Strategy::Redact { label: None },
                    source_is_text: true,
                    binary: false,
                }]
                .into(),
            ),
            retyped: None,
        }
    }

    fn profiles(names: &[&str]) -> Masks {
        Masks {
            profiles: names.iter().map(|m| (*m).to_owned()).collect(),
            ..Masks::default()
        }
    }

    #[test]
    fn plans_are_kept_per_row_description_and_profiles_while_they_hold() {
        let now = std::time::Instant::now();
        let later = now + std::time::Duration::from_secs(10);
        let pii = profiles(&["pii"]);
        let mut c = PlanCache::default();
        c.insert(cached(b"rd-a", &["pii"], 3, later));
        assert!(
            c.get(b"rd-a", &pii, 3, now)
                .is_some_and(|p| p.plan.is_some())
        );
        // Another RowDescription, other profiles: planned anew.
        assert!(c.get(b"rd-b", &pii, 3, now).is_none());
        assert!(c.get(b"rd-a", &profiles(&["other"]), 3, now).is_none());
        assert!(c.get(b"rd-a", &profiles(&[]), 3, now).is_none());
        // The same profiles, but the statement computes from a rule's column: planned anew.
        let derived = Masks {
            derived: Derived::All,
            ..pii.clone()
        };
        assert!(c.get(b"rd-a", &derived, 3, now).is_none());
        // A column source it came from expired: gone.
        assert!(c.get(b"rd-a", &pii, 3, later).is_none());
        assert!(c.get(b"rd-a", &pii, 3, now).is_none());
        // A reload (another generation): gone, and gone for good.
        c.insert(cached(b"rd-a", &["pii"], 3, later));
        assert!(c.get(b"rd-a", &pii, 4, now).is_none());
        assert!(c.get(b"rd-a", &pii, 3, now).is_none());
        // Bounded: the least recently used go first; long RowDescriptions are not kept.
        for i in 0..PLAN_CACHE_ENTRIES + 1 {
            c.insert(cached(format!("rd-{i}").as_bytes(), &["pii"], 4, later));
        }
        assert_eq!(c.0.len(), PLAN_CACHE_ENTRIES);
        assert!(c.get(b"rd-0", &pii, 4, now).is_none());
        assert!(c.get(b"rd-1", &pii, 4, now).is_some());
        let long = vec![b'x'; PLAN_CACHE_MAX_KEY_BYTES + 1];
        c.insert(cached(&long, &["pii"], 4, later));
        assert!(c.get(&long, &pii, 4, now).is_none());
    }

    fn emails() -> Vec<Arc<Masker>> {
        let profile: guard_mask::Profile =
            toml::from_str("detectors = [\"email\"]\ndefault_strategy = { kind = \"redact\" }")
                .unwrap();
        let mut b = Masker::builder();
        b.profile(profile);
        vec![Arc::new(b.build().unwrap())]
    }

    /// A one-dimensional binary array (lower bound 1) of `elem` values.
    fn array(elem: u32, values: &[Option<&[u8]>]) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend_from_slice(&1i32.to_be_bytes());
        v.extend_from_slice(&i32::from(values.iter().any(Option::is_none)).to_be_bytes());
        v.extend_from_slice(&elem.to_be_bytes());
        v.extend_from_slice(&(values.len() as i32).to_be_bytes());
        v.extend_from_slice(&1i32.to_be_bytes());
        for x in values {
            match x {
                None => v.extend_from_slice(&(-1i32).to_be_bytes()),
                Some(b) => {
                    v.extend_from_slice(&(b.len() as i32).to_be_bytes());
                    v.extend_from_slice(b);
                }
            }
        }
        v
    }

    /// A binary record of (type, value) fields.
    fn record(fields: &[(u32, Option<&[u8]>)]) -> Vec<u8> {
        let mut v = (fields.len() as i32).to_be_bytes().to_vec();
        for (t, x) in fields {
            v.extend_from_slice(&t.to_be_bytes());
            match x {
                None => v.extend_from_slice(&(-1i32).to_be_bytes()),
                Some(b) => {
                    v.extend_from_slice(&(b.len() as i32).to_be_bytes());
                    v.extend_from_slice(b);
                }
            }
        }
        v
    }

    #[test]
    fn binary_arrays_and_records_are_masked_element_by_element() {
        let m = emails();
        let text_array = array(25, &[Some(b"ada@example.com"), None, Some(b"plain")]);
        let got = mask_binary(&m, &HashMap::new(), 1009, &text_array, 0).unwrap();
        assert_eq!(
            got.as_ref(),
            array(25, &[Some(b"[EMAIL]"), None, Some(b"plain")])
        );
        // jsonb elements keep their version byte.
        let jsonb_array = array(3802, &[Some(b"\x01\"bob@example.org\"")]);
        let got = mask_binary(&m, &HashMap::new(), 3807, &jsonb_array, 0).unwrap();
        assert_eq!(got.as_ref(), array(3802, &[Some(b"\x01\"[EMAIL]\"")]));
        // A record holding an int, an email and an array of text.
        let inner = array(25, &[Some(b"x@example.com")]);
        let row = record(&[
            (23, Some(&7i32.to_be_bytes())),
            (25, Some(b"ada@example.com")),
            (1009, Some(&inner)),
        ]);
        let got = mask_binary(&m, &HashMap::new(), RECORD_OID, &row, 0).unwrap();
        let inner_masked = array(25, &[Some(b"[EMAIL]")]);
        assert_eq!(
            got.as_ref(),
            record(&[
                (23, Some(&7i32.to_be_bytes())),
                (25, Some(b"[EMAIL]")),
                (1009, Some(&inner_masked)),
            ])
        );
        // Nothing to mask: the value is borrowed as it is.
        let clean = array(25, &[Some(b"plain")]);
        assert!(matches!(
            mask_binary(&m, &HashMap::new(), 1009, &clean, 0),
            Some(Cow::Borrowed(_))
        ));
        // A user type whose kind is unknown is not passed on.
        assert!(mask_binary(&m, &HashMap::new(), 70000, b"x", 0).is_none());
        // Other types pass; an empty array is fine.
        let ints = array(23, &[Some(&1i32.to_be_bytes())]);
        assert!(matches!(
            mask_binary(&m, &HashMap::new(), 1007, &ints, 0),
            Some(Cow::Borrowed(_))
        ));
        let empty = [0u8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 25];
        assert!(matches!(
            mask_binary(&m, &HashMap::new(), 1009, &empty, 0),
            Some(Cow::Borrowed(_))
        ));
    }

    #[test]
    fn malformed_binary_values_are_not_passed_on() {
        let m = emails();
        // The layout itself is checked by guard_sql::pg::binary; a value without it is not
        // passed on, nor is one that nests records deeper than the limit.
        let good = array(25, &[Some(b"ada@example.com")]);
        assert!(mask_binary(&m, &HashMap::new(), 1009, &good[..good.len() - 1], 0).is_none());
        let mut v = record(&[(25, Some(b"a"))]);
        for _ in 0..MAX_BINARY_DEPTH {
            v = record(&[(RECORD_OID, Some(&v))]);
        }
        assert!(mask_binary(&m, &HashMap::new(), RECORD_OID, &v, 0).is_none());
    }

    proptest::proptest! {
        /// Text arrays built from arbitrary strings round trip through the walker: every
        /// element comes back masked the way the masker masks it alone.
        #[test]
        fn text_arrays_mask_like_their_elements(
            items in proptest::collection::vec(
                proptest::option::of("[a-z@. ]{0,20}"), 0..6),
        ) {
            let m = emails();
            let values: Vec<Option<&[u8]>> =
                items.iter().map(|i| i.as_deref().map(str::as_bytes)).collect();
            let masked: Vec<Option<Vec<u8>>> = items
                .iter()
                .map(|i| i.as_deref().map(|s| mask_chain(&m, s.as_bytes()).into_owned()))
                .collect();
            let expected = array(
                25,
                &masked.iter().map(|v| v.as_deref()).collect::<Vec<_>>(),
            );
            let input = array(25, &values);
            let got = mask_binary(&m, &HashMap::new(), 1009, &input, 0).unwrap();
            proptest::prop_assert_eq!(got.as_ref(), &expected[..]);
        }
    }

    #[test]
    fn text_format_scans_all_but_plain_scalars() {
        let m = emails();
        for (oid, scanned) in [
            (25, true),
            (1009, true),
            (2249, true),
            (70000, true),
            (23, false),
            (1700, false),
            (1184, false),
        ] {
            assert_eq!(
                matches!(
                    detect_col(&m, &UserTypes::default(), oid, false),
                    Col::Detect { binary: None, .. }
                ),
                scanned,
                "type {oid}"
            );
        }
        for (oid, scanned) in [
            (25, true),
            (3802, true),
            (1009, true),
            (2287, true),
            (2249, true),
            (1007, false),
            // An unknown user type: planned, and its values not passed on.
            (70000, true),
        ] {
            assert_eq!(
                matches!(
                    detect_col(&m, &UserTypes::default(), oid, true),
                    Col::Detect {
                        binary: Some(_),
                        ..
                    }
                ),
                scanned,
                "type {oid}"
            );
        }
    }
}
