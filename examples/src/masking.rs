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
//! PostgreSQL sends one CopyData per row; in text and CSV format each row is masked with the
//! detectors of every profile that applies. COPY carries no column names, so column rules
//! cannot be applied to its rows: a `COPY ... TO STDOUT` whose identity gets a profile with
//! column rules is refused when it is decided (decide.rs), before anything reaches the
//! upstream, with a message pointing to `SELECT`, whose results are masked column by column.
//! A binary COPY of a result that needs masking is refused: its framing cannot be kept after
//! values change length.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use bytes::BytesMut;
use guard_mask::{Masker, Strategy};
use guard_sql::pg::{DataRow, FieldDescription, RowDescription};

use crate::gateway::Shared;

/// Type OIDs whose text is scanned by detectors (pg_type.h).
const TEXT_LIKE: [u32; 8] = [25, 1043, 1042, 19, 114, 3802, 142, 705];
const JSONB_OID: u32 = 3802;
const TEXT_OID: u32 = 25;

/// Why a result could not be passed on.
#[derive(Debug, thiserror::Error)]
pub(crate) enum MaskError {
    #[error(
        "guard: a binary COPY of data that must be masked is refused; use COPY ... TO STDOUT in text or CSV format"
    )]
    BinaryCopy,
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
    copy: Option<Vec<Arc<Masker>>>,
}

impl ResultMasker {
    pub(crate) fn new(shared: Arc<Shared>, resource: String) -> Self {
        ResultMasker {
            shared,
            resource,
            plan: None,
            copy: None,
        }
    }

    /// Forgets the current plans (at ReadyForQuery).
    pub(crate) fn reset(&mut self) {
        self.plan = None;
        self.copy = None;
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
        let keys: Vec<(u32, i16)> = fields
            .iter()
            .filter(|f| f.table_oid != 0 && f.column_id > 0)
            .map(|f| (f.table_oid, f.column_id))
            .collect();
        let names = crate::catalog::qualified_names(&self.shared, &self.resource, &keys).await;
        // Fail closed: when a profile with column rules applies and a column's source could
        // not be resolved (the catalog connection failed), a rule on `schema.table.column`
        // might have matched it: its values are redacted.
        let strict = {
            let rt = self.shared.runtime();
            masks.iter().any(|m| rt.column_rule_profiles.contains(m))
        };
        let mut plan = Vec::with_capacity(fields.len());
        let mut retyped = Vec::with_capacity(fields.len());
        let mut changed = false;
        for f in &fields {
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
            let mut nf = *f;
            let col = match rule {
                Some((masker, strategy)) => {
                    if f.type_oid != TEXT_OID {
                        nf.type_oid = TEXT_OID;
                        nf.type_size = -1;
                        nf.type_modifier = -1;
                        changed = true;
                    }
                    Col::Rule {
                        masker,
                        strategy,
                        source_is_text: text_like,
                        binary: f.format == 1,
                    }
                }
                None if text_like => Col::Detect {
                    maskers: maskers.clone(),
                    skip: usize::from(f.format == 1 && f.type_oid == JSONB_OID),
                },
                None => Col::Pass,
            };
            plan.push(col);
            retyped.push(nf);
        }
        if emit {
            if changed {
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

    /// CopyOutResponse: sets up row masking.
    pub(crate) fn copy_out(&mut self, format: i8, masks: &[String]) -> Result<(), MaskError> {
        let maskers = self.maskers(masks);
        if maskers.is_empty() {
            self.copy = None;
            return Ok(());
        }
        if format != 0 {
            return Err(MaskError::BinaryCopy);
        }
        self.copy = Some(maskers);
        Ok(())
    }

    /// One CopyData of a COPY TO STDOUT.
    pub(crate) fn copy_data(&mut self, data: &[u8], raw: &[u8], out: &mut BytesMut) {
        let Some(maskers) = &self.copy else {
            out.extend_from_slice(raw);
            return;
        };
        match mask_chain(maskers, data) {
            Cow::Borrowed(_) => out.extend_from_slice(raw),
            Cow::Owned(o) => {
                self.shared
                    .metrics
                    .masked_values
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                guard_sql::pg::CopyData { data: &o }.encode(out);
            }
        }
    }

    /// CopyDone: the COPY is over.
    pub(crate) fn copy_done(&mut self) {
        self.copy = None;
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
