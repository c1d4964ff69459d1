//! Applying guard-mask profiles to result sets: RowDescription picks a plan per column,
//! DataRows are re-encoded, COPY TO STDOUT rows are masked too.
//!
//! # Per column
//!
//! - A column rule (by column name, or by `schema.table.column` of the source column, resolved
//!   from the RowDescription's table OID and attribute number through the catalog) replaces
//!   every value with the rule's strategy. When the catalog cannot be reached, columns whose
//!   source stays unknown are redacted under profiles that have column rules (fail closed). The column's type is rewritten to `text` in the
//!   RowDescription the client sees, so clients decode the masked value as a string.
//! - Other text-like columns (text, varchar, char, name, json, xml, unknown) are scanned by
//!   the profile's detectors.
//! - Other types (numbers, dates, bytea, ...) pass unchanged: detectors look for patterns in
//!   text, and a column rule is how a non-text column is masked.
//!
//! # Binary format
//!
//! In binary format a text-like value is its UTF-8 bytes, so detectors apply to it as in text
//! format (jsonb: after its version byte). A column-rule column in binary format has been
//! retyped to `text`, whose binary form is again its bytes, so the masked bytes are a valid
//! binary text value; when the source value was not text the strategy is applied to nothing
//! (for example `[REDACTED]`), never to the raw binary bytes. `null` strategies send NULL.
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
use guard_sql::pg::{CopyResponse, DataRow, FieldDescription, RowDescription};

use crate::gateway::Shared;

/// Type OIDs whose text is scanned by detectors (pg_type.h).
const TEXT_LIKE: [u32; 8] = [25, 1043, 1042, 19, 114, 3802, 142, 705];
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
        skip: usize,
    },
}

/// Per-session result masking state.
pub(crate) struct ResultMasker {
    shared: Arc<Shared>,
    resource: String,
    plan: Option<Vec<Col>>,
    copy: CopyMode,
    probed: Option<Probed>,
}

impl ResultMasker {
    pub(crate) fn new(shared: Arc<Shared>, resource: String) -> Self {
        ResultMasker {
            shared,
            resource,
            plan: None,
            copy: CopyMode::Off,
            probed: None,
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

    /// A RowDescription: decides the plan and writes what the client sees.
    pub(crate) async fn row_description(
        &mut self,
        rd: &RowDescription<'_>,
        raw: &[u8],
        masks: &[String],
        out: &mut BytesMut,
        emit: bool,
    ) {
        let maskers = self.maskers(masks);
        if maskers.is_empty() {
            self.plan = None;
            if emit {
                out.extend_from_slice(raw);
            }
            return;
        }
        let fields: Vec<FieldDescription<'_>> = rd.fields.iter().collect();
        let plan = self.plan_columns(&fields, &maskers, masks).await;
        if emit {
            let changed = fields
                .iter()
                .zip(&plan)
                .any(|(f, c)| matches!(c, Col::Rule { .. }) && f.type_oid != TEXT_OID);
            if changed {
                let retyped = fields.iter().zip(&plan).map(|(f, c)| {
                    let mut nf = *f;
                    if matches!(c, Col::Rule { .. }) && f.type_oid != TEXT_OID {
                        nf.type_oid = TEXT_OID;
                        nf.type_size = -1;
                        nf.type_modifier = -1;
                    }
                    nf
                });
                RowDescription::encode_fields(retyped, out);
            } else {
                out.extend_from_slice(raw);
            }
        }
        self.plan = if plan.iter().all(|c| matches!(c, Col::Pass)) {
            None
        } else {
            Some(plan)
        };
    }

    /// The plan for the columns `fields` under `maskers` (the profiles `masks` name): a column
    /// rule by name or source column, else detectors for text-like columns, else nothing.
    /// A column whose rule replaces its values is to be retyped `text`.
    async fn plan_columns(
        &self,
        fields: &[FieldDescription<'_>],
        maskers: &[Arc<Masker>],
        masks: &[String],
    ) -> Vec<Col> {
        let keys: Vec<(u32, i16)> = fields
            .iter()
            .filter(|f| f.table_oid != 0 && f.column_id > 0)
            .map(|f| (f.table_oid, f.column_id))
            .collect();
        let names = crate::catalog::qualified_names(&self.shared, &self.resource, &keys).await;
        // Fail closed: when a profile with column rules applies and a column's source could
        // not be resolved (the catalog connection failed), a rule on `schema.table.column`
        // might have matched it: its values are redacted.
        let strict = self.column_rules(masks).is_some();
        let mut plan = Vec::with_capacity(fields.len());
        for f in fields {
            let name = f.name.to_string_lossy();
            let qualified = names.get(&(f.table_oid, f.column_id)).map(String::as_str);
            let unresolved = strict && qualified.is_none() && f.table_oid != 0 && f.column_id > 0;
            let rule = maskers
                .iter()
                .find_map(|m| {
                    m.column_rule(&name, qualified)
                        .map(|s| (m.clone(), s.clone()))
                })
                .or_else(|| {
                    unresolved.then(|| (maskers[0].clone(), Strategy::Redact { label: None }))
                });
            let text_like = TEXT_LIKE.contains(&f.type_oid);
            plan.push(match rule {
                Some((masker, strategy)) => Col::Rule {
                    masker,
                    strategy,
                    source_is_text: text_like,
                    binary: f.format == 1,
                },
                None if text_like => Col::Detect {
                    maskers: maskers.to_vec(),
                    skip: usize::from(f.format == 1 && f.type_oid == JSONB_OID),
                },
                None => Col::Pass,
            });
        }
        plan
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
                (Col::Detect { maskers, skip }, Some(v)) => {
                    let (head, body) = v.split_at((*skip).min(v.len()));
                    match mask_chain(maskers, body) {
                        Cow::Borrowed(_) => Some(Cow::Borrowed(v)),
                        Cow::Owned(o) => {
                            masked += 1;
                            let mut nv = head.to_vec();
                            nv.extend_from_slice(&o);
                            Some(Cow::Owned(nv))
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
        masks: &[String],
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
            self.plan_columns(&fields, &maskers, masks).await
        };
        let columns = fields
            .iter()
            .map(|f| (f.name.to_string_lossy().into_owned(), f.type_oid))
            .collect();
        self.probed = Some(Probed {
            spec,
            plan,
            columns,
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
                    Col::Detect { skip, .. } => *skip = usize::from(*type_oid == JSONB_OID),
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
                            Some(Col::Detect { maskers, skip }) if self.binary => {
                                let (head, body) = v.split_at((*skip).min(v.len()));
                                if let Cow::Owned(o) = mask_chain(maskers, body) {
                                    self.changed.push((i, Some([head, &o].concat())));
                                }
                            }
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
