//! From source text to compiled rules: parsing, schema checks, error positions.

use std::collections::HashMap;
use std::time::Duration;

use globset::GlobBuilder;
use regex::RegexBuilder;
use serde_json::Value;

use super::document::{
    ActionDoc, DefaultDoc, Document, DurationDoc, IdentityDoc, ResourceDoc, RuleDoc, TimeDoc,
};
use super::error::{BuildError, Format};
use super::rule::{Action, CmpOp, Cond, FactCheck, GlobPat, Pattern, Rule, Scalar, TimeWindow};
use crate::{FactDef, FactSchema, FactType};

/// Largest regex program a rule may compile to (bytes), so a hostile document cannot make
/// compilation or matching expensive.
const MAX_REGEX_BYTES: usize = 1 << 20;
/// Largest approval timeout: one week.
const MAX_TIMEOUT_SECS: u64 = 7 * 24 * 3600;
/// Default approval timeout: fifteen minutes.
pub(crate) const DEFAULT_TIMEOUT_SECS: u64 = 15 * 60;
/// Largest `needed` count an approve rule may ask for.
const MAX_NEEDED: u32 = 100;
/// Deepest nesting of `not` / namespace tables in a facts matcher.
const MAX_MATCHER_DEPTH: usize = 16;

/// The merged fact schemas.
pub(crate) fn merge_schemas(
    schemas: &[FactSchema],
) -> Result<HashMap<&'static str, FactDef>, BuildError> {
    let mut map: HashMap<&'static str, FactDef> = HashMap::new();
    for schema in schemas {
        for def in schema.iter() {
            match map.get(def.name) {
                Some(old) if old.ty != def.ty || old.qualified != def.qualified => {
                    return Err(BuildError::SchemaConflict {
                        fact: def.name.to_owned(),
                    });
                }
                _ => {
                    map.insert(def.name, *def);
                }
            }
        }
    }
    Ok(map)
}

/// Parses `src` in `format` into a document.
pub(crate) fn parse(src: &str, format: Format) -> Result<Document, BuildError> {
    if src.trim().is_empty() {
        return Ok(Document {
            version: None,
            default: None,
            default_message: None,
            rules: vec![],
        });
    }
    let syntax = |offset_or_lc: Pos, path: String, message: String| {
        let (line, column) = match offset_or_lc {
            Pos::Offset(o) => line_col(src, o),
            Pos::LineCol(l, c) => (l, c),
            Pos::Unknown => (1, 1),
        };
        let rule = rule_from_path(src, format, &path);
        BuildError::Syntax {
            format,
            line,
            column,
            rule,
            path,
            message,
        }
    };
    match format {
        Format::Toml => {
            let de = toml::Deserializer::new(src);
            serde_path_to_error::deserialize(de).map_err(|e| {
                let path = e.path().to_string();
                let inner = e.into_inner();
                let pos = inner.span().map_or(Pos::Unknown, |s| Pos::Offset(s.start));
                syntax(pos, path, inner.message().trim().to_owned())
            })
        }
        Format::Yaml => {
            let de = serde_yaml::Deserializer::from_str(src);
            serde_path_to_error::deserialize(de).map_err(|e| {
                let path = e.path().to_string();
                let inner = e.into_inner();
                let pos = inner
                    .location()
                    .map_or(Pos::Unknown, |l| Pos::LineCol(l.line(), l.column()));
                let mut msg = inner.to_string();
                if let Some(i) = msg.find(" at line ") {
                    msg.truncate(i);
                }
                syntax(pos, path, msg)
            })
        }
        Format::Json => {
            let mut de = serde_json::Deserializer::from_str(src);
            let doc = serde_path_to_error::deserialize(&mut de).map_err(|e| {
                let path = e.path().to_string();
                let inner = e.into_inner();
                let mut msg = inner.to_string();
                if let Some(i) = msg.find(" at line ") {
                    msg.truncate(i);
                }
                syntax(Pos::LineCol(inner.line(), inner.column()), path, msg)
            })?;
            de.end().map_err(|e| {
                syntax(
                    Pos::LineCol(e.line(), e.column()),
                    String::new(),
                    "trailing characters".into(),
                )
            })?;
            Ok(doc)
        }
    }
}

enum Pos {
    Offset(usize),
    LineCol(usize, usize),
    Unknown,
}

/// Finds the id of the rule a serde path (`rule[3].facts`) points into, by re-reading the
/// document leniently.
fn rule_from_path(src: &str, format: Format, path: &str) -> Option<String> {
    let rest = path
        .strip_prefix("rule[")
        .or_else(|| path.strip_prefix("rules["))?;
    let index: usize = rest.split(']').next()?.parse().ok()?;
    let value: Value = match format {
        Format::Toml => toml::from_str(src).ok()?,
        Format::Yaml => serde_yaml::from_str(src).ok()?,
        Format::Json => serde_json::from_str(src).ok()?,
    };
    let rules = value.get("rule").or_else(|| value.get("rules"))?;
    rules.get(index)?.get("id")?.as_str().map(str::to_owned)
}

/// 1-based line and column (in characters) of byte `offset`.
pub(crate) fn line_col(src: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(src.len());
    while !src.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &src[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}

/// Byte offset of `token` in `src` at or after `from`, as a whole word (not inside a longer
/// name).
fn find_token(src: &str, token: &str, from: usize) -> Option<usize> {
    if token.is_empty() {
        return None;
    }
    let is_word = |c: char| c.is_alphanumeric() || c == '_' || c == '-' || c == '.';
    let mut start = from.min(src.len());
    while !src.is_char_boundary(start) {
        start -= 1;
    }
    while let Some(i) = src[start..].find(token) {
        let at = start + i;
        let end = at + token.len();
        let ok_before = src[..at].chars().next_back().is_none_or(|c| !is_word(c));
        let ok_after = src[end..].chars().next().is_none_or(|c| !is_word(c));
        if ok_before && ok_after {
            return Some(at);
        }
        start = at + token.len().max(1);
        while !src.is_char_boundary(start) {
            start += 1;
        }
    }
    None
}

/// Where a rule is in the source: the byte offset of the `occurrence`-th (0-based) whole-word
/// appearance of its id.
struct RuleLoc<'a> {
    src: &'a str,
    id: &'a str,
    offset: usize,
}

impl<'a> RuleLoc<'a> {
    fn new(src: &'a str, id: &'a str, occurrence: usize) -> Self {
        let mut offset = 0;
        let mut from = 0;
        for _ in 0..=occurrence {
            match find_token(src, id, from) {
                Some(at) => {
                    offset = at;
                    from = at + id.len().max(1);
                }
                None => break,
            }
        }
        RuleLoc { src, id, offset }
    }

    fn at(&self) -> (usize, usize) {
        line_col(self.src, self.offset)
    }

    /// Position of `needle` (or its last dotted part) after the rule's id, else of the id.
    fn near(&self, needle: &str) -> (usize, usize) {
        let found = find_token(self.src, needle, self.offset).or_else(|| {
            needle
                .rsplit('.')
                .next()
                .and_then(|last| find_token(self.src, last, self.offset))
        });
        line_col(self.src, found.unwrap_or(self.offset))
    }

    fn invalid(&self, message: impl Into<String>) -> BuildError {
        let (line, column) = self.at();
        BuildError::InvalidRule {
            rule: self.id.to_owned(),
            line,
            column,
            message: message.into(),
        }
    }

    fn invalid_near(&self, needle: &str, message: impl Into<String>) -> BuildError {
        let (line, column) = self.near(needle);
        BuildError::InvalidRule {
            rule: self.id.to_owned(),
            line,
            column,
            message: message.into(),
        }
    }

    fn bad_pattern(&self, pattern: &str, message: String) -> BuildError {
        let (line, column) = self.near(pattern);
        BuildError::BadPattern {
            rule: self.id.to_owned(),
            pattern: pattern.to_owned(),
            line,
            column,
            message,
        }
    }

    fn mismatch(&self, fact: &str, message: String) -> BuildError {
        let (line, column) = self.near(fact);
        BuildError::TypeMismatch {
            rule: self.id.to_owned(),
            fact: fact.to_owned(),
            line,
            column,
            message,
        }
    }
}

/// The compiled form of a document's top level.
pub(crate) struct Compiled {
    pub(crate) rules: Vec<Rule>,
    pub(crate) default_allow: Option<bool>,
    pub(crate) default_message: Option<String>,
}

/// Compiles a parsed document against the schemas.
pub(crate) fn compile(
    src: &str,
    doc: Document,
    schema: &HashMap<&'static str, FactDef>,
) -> Result<Compiled, BuildError> {
    if let Some(v) = doc.version
        && v != 1
    {
        return Err(BuildError::UnsupportedVersion { version: v });
    }
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut rules = Vec::with_capacity(doc.rules.len());
    for rd in doc.rules {
        let count = seen.entry(rd.id.clone()).or_insert(0);
        let loc = RuleLoc::new(src, &rd.id, *count);
        if *count > 0 {
            let (line, column) = loc.at();
            return Err(BuildError::DuplicateId {
                rule: rd.id.clone(),
                line,
                column,
            });
        }
        *count += 1;
        rules.push(compile_rule(&loc, &rd, schema)?);
    }
    Ok(Compiled {
        rules,
        default_allow: doc.default.map(|d| matches!(d, DefaultDoc::Allow)),
        default_message: doc.default_message,
    })
}

fn compile_rule(
    loc: &RuleLoc<'_>,
    rd: &RuleDoc,
    schema: &HashMap<&'static str, FactDef>,
) -> Result<Rule, BuildError> {
    if rd.id.is_empty()
        || !rd
            .id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':'))
    {
        return Err(loc.invalid("a rule id is letters, digits, '-', '_', '.' or ':'"));
    }
    let is_approve = rd.action == ActionDoc::Approve;
    if !is_approve && (rd.approvers.is_some() || rd.needed.is_some() || rd.timeout.is_some()) {
        return Err(loc.invalid("approvers, needed and timeout belong to approve rules only"));
    }
    if rd.action != ActionDoc::Mask && rd.profile.is_some() {
        return Err(loc.invalid_near("profile", "profile belongs to mask rules only"));
    }
    if rd.action == ActionDoc::Mask && rd.message.is_some() {
        return Err(loc.invalid_near(
            "message",
            "mask rules never decide, so they take no message",
        ));
    }
    let action = match rd.action {
        ActionDoc::Allow => Action::Allow,
        ActionDoc::Deny => Action::Deny,
        ActionDoc::Mask => match &rd.profile {
            Some(p) if !p.is_empty() => Action::Mask { profile: p.clone() },
            _ => return Err(loc.invalid("a mask rule needs a profile")),
        },
        ActionDoc::Approve => {
            let approvers = rd.approvers.clone().unwrap_or_default();
            if approvers.is_empty() || approvers.iter().any(String::is_empty) {
                return Err(loc.invalid("an approve rule needs approvers (group names)"));
            }
            let needed = rd.needed.unwrap_or(1);
            if needed == 0 || needed > MAX_NEEDED {
                return Err(loc.invalid_near(
                    "needed",
                    format!("needed must be between 1 and {MAX_NEEDED}, found {needed}"),
                ));
            }
            let timeout = match &rd.timeout {
                None => Duration::from_secs(DEFAULT_TIMEOUT_SECS),
                Some(t) => parse_duration(t).map_err(|m| loc.invalid_near("timeout", m))?,
            };
            Action::Approve {
                approvers,
                needed,
                timeout,
            }
        }
    };

    let mut rule = Rule {
        id: rd.id.clone(),
        description: rd.description.clone(),
        action,
        message: rd.message.clone(),
        enabled_by_grant: rd.enabled_by_grant,
        subjects: vec![],
        groups_any: vec![],
        groups_all: vec![],
        names: vec![],
        protocols: vec![],
        labels: vec![],
        facts: vec![],
        time: None,
    };
    if let Some(IdentityDoc {
        subject,
        groups_any,
        groups_all,
    }) = &rd.identity
    {
        if let Some(s) = subject {
            rule.subjects = globs(loc, &s_vec(s))?;
        }
        rule.groups_any = groups_any.clone();
        rule.groups_all = groups_all.clone();
    }
    if let Some(ResourceDoc {
        name,
        protocol,
        labels,
    }) = &rd.resource
    {
        if let Some(n) = name {
            rule.names = globs(loc, &s_vec(n))?;
        }
        if let Some(p) = protocol {
            rule.protocols = s_vec(p);
        }
        for (k, v) in labels {
            rule.labels.push((k.clone(), globs(loc, &s_vec(v))?));
        }
    }
    if let Some(t) = &rd.time {
        rule.time = Some(compile_time(loc, t)?);
    }
    if let Some(facts) = &rd.facts {
        compile_facts(loc, facts, "", schema, &mut rule.facts, 0)?;
    }
    Ok(rule)
}

fn s_vec(v: &super::document::OneOrMany) -> Vec<String> {
    match v {
        super::document::OneOrMany::One(s) => vec![s.clone()],
        super::document::OneOrMany::Many(m) => m.clone(),
    }
}

fn glob(loc: &RuleLoc<'_>, p: &str) -> Result<Pattern, BuildError> {
    GlobBuilder::new(p)
        .literal_separator(false)
        .build()
        .map(|g| Pattern::new(p, g.compile_matcher()))
        .map_err(|e| loc.bad_pattern(p, e.kind().to_string()))
}

fn globs(loc: &RuleLoc<'_>, ps: &[String]) -> Result<Vec<Pattern>, BuildError> {
    ps.iter().map(|p| glob(loc, p)).collect()
}

const OPERATORS: &[&str] = &[
    "equals",
    "in",
    "glob",
    "regex",
    "exists",
    "gt",
    "ge",
    "lt",
    "le",
    "contains_any",
    "contains_all",
    "not",
];

fn compile_facts(
    loc: &RuleLoc<'_>,
    map: &serde_json::Map<String, Value>,
    prefix: &str,
    schema: &HashMap<&'static str, FactDef>,
    out: &mut Vec<FactCheck>,
    depth: usize,
) -> Result<(), BuildError> {
    if depth > MAX_MATCHER_DEPTH {
        return Err(loc.invalid("facts are nested too deeply"));
    }
    for (key, value) in map {
        let name = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}.{key}")
        };
        if let Some(def) = schema.get(name.as_str()) {
            let cond = compile_cond(loc, def, value, 0)?;
            out.push(FactCheck { def: *def, cond });
            continue;
        }
        // An unquoted dotted TOML key (`sql.statement = "x"`) or a nested YAML map arrives as
        // a table of the namespace: flatten it, as long as it is not a matcher table.
        if let Value::Object(inner) = value
            && !inner.keys().any(|k| OPERATORS.contains(&k.as_str()))
        {
            compile_facts(loc, inner, &name, schema, out, depth + 1)?;
            continue;
        }
        let (line, column) = loc.near(&name);
        return Err(BuildError::UnknownFact {
            rule: loc.id.to_owned(),
            fact: name,
            line,
            column,
        });
    }
    Ok(())
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a table",
    }
}

fn scalar(loc: &RuleLoc<'_>, def: &FactDef, v: &Value) -> Result<Scalar, BuildError> {
    let fits = match (def.ty, v) {
        (FactType::Str | FactType::List, Value::String(s)) => Some(Scalar::Str(s.clone())),
        (FactType::Bool, Value::Bool(b)) => Some(Scalar::Bool(*b)),
        (FactType::Int, Value::Number(n)) => n.as_i64().map(Scalar::Int),
        _ => None,
    };
    fits.ok_or_else(|| {
        let want = match def.ty {
            FactType::Str | FactType::List => "a string",
            FactType::Bool => "a boolean",
            FactType::Int => "an integer",
        };
        loc.mismatch(
            def.name,
            format!(
                "is {} so it compares with {want}, found {}",
                def.ty,
                type_name(v)
            ),
        )
    })
}

fn strings(
    loc: &RuleLoc<'_>,
    def: &FactDef,
    op: &str,
    v: &Value,
) -> Result<Vec<String>, BuildError> {
    let bad = || {
        loc.mismatch(
            def.name,
            format!("{op} takes a list of strings, found {}", type_name(v)),
        )
    };
    match v {
        Value::String(s) => Ok(vec![s.clone()]),
        Value::Array(a) => a
            .iter()
            .map(|x| x.as_str().map(str::to_owned).ok_or_else(bad))
            .collect(),
        _ => Err(bad()),
    }
}

fn compile_cond(
    loc: &RuleLoc<'_>,
    def: &FactDef,
    v: &Value,
    depth: usize,
) -> Result<Cond, BuildError> {
    if depth > MAX_MATCHER_DEPTH {
        return Err(loc.invalid_near(def.name, "matchers are nested too deeply"));
    }
    let table = match v {
        Value::Object(t) => t,
        Value::Array(_) => {
            return Err(loc.mismatch(
                def.name,
                "a bare list is ambiguous: write in = [...], contains_any = [...] or \
                 contains_all = [...]"
                    .into(),
            ));
        }
        _ => return Ok(Cond::Equals(scalar(loc, def, v)?)),
    };
    if table.is_empty() {
        return Err(loc.invalid_near(def.name, "an empty matcher table matches nothing useful"));
    }
    let text = matches!(def.ty, FactType::Str | FactType::List);
    let mut conds = Vec::with_capacity(table.len());
    for (op, arg) in table {
        let cond = match op.as_str() {
            "equals" => Cond::Equals(scalar(loc, def, arg)?),
            "in" => match arg {
                Value::Array(a) => Cond::In(
                    a.iter()
                        .map(|x| scalar(loc, def, x))
                        .collect::<Result<_, _>>()?,
                ),
                _ => {
                    return Err(loc.mismatch(
                        def.name,
                        format!("in takes a list, found {}", type_name(arg)),
                    ));
                }
            },
            "glob" | "regex" if !text => {
                return Err(loc.mismatch(
                    def.name,
                    format!("{op} needs a string or list fact, this one is {}", def.ty),
                ));
            }
            "glob" => {
                let pats = strings(loc, def, op, arg)?;
                let mut out = Vec::with_capacity(pats.len());
                for p in &pats {
                    out.push(GlobPat {
                        matcher: glob(loc, p)?,
                        qualified: p.contains('.'),
                    });
                }
                Cond::Glob(out)
            }
            "regex" => {
                let Value::String(p) = arg else {
                    return Err(loc.mismatch(
                        def.name,
                        format!("regex takes a string, found {}", type_name(arg)),
                    ));
                };
                let re = RegexBuilder::new(p)
                    .size_limit(MAX_REGEX_BYTES)
                    .dfa_size_limit(MAX_REGEX_BYTES)
                    .build()
                    .map_err(|e| loc.bad_pattern(p, e.to_string()))?;
                Cond::Regex(re)
            }
            "exists" => match arg {
                Value::Bool(b) => Cond::Exists(*b),
                _ => {
                    return Err(loc.mismatch(
                        def.name,
                        format!("exists takes a boolean, found {}", type_name(arg)),
                    ));
                }
            },
            "gt" | "ge" | "lt" | "le" => {
                if !matches!(def.ty, FactType::Int | FactType::List) {
                    return Err(loc.mismatch(
                        def.name,
                        format!(
                            "{op} needs an integer (or list length) fact, this one is {}",
                            def.ty
                        ),
                    ));
                }
                let Some(n) = arg.as_i64() else {
                    return Err(loc.mismatch(
                        def.name,
                        format!("{op} takes an integer, found {}", type_name(arg)),
                    ));
                };
                let cmp = match op.as_str() {
                    "gt" => CmpOp::Gt,
                    "ge" => CmpOp::Ge,
                    "lt" => CmpOp::Lt,
                    _ => CmpOp::Le,
                };
                Cond::Cmp(cmp, n)
            }
            "contains_any" | "contains_all" => {
                if def.ty != FactType::List {
                    return Err(loc.mismatch(
                        def.name,
                        format!("{op} needs a list fact, this one is {} (use in)", def.ty),
                    ));
                }
                let names = strings(loc, def, op, arg)?;
                if op == "contains_any" {
                    Cond::ContainsAny(names)
                } else {
                    Cond::ContainsAll(names)
                }
            }
            "not" => Cond::Not(Box::new(compile_cond(loc, def, arg, depth + 1)?)),
            other => {
                return Err(loc.invalid_near(
                    other,
                    format!(
                        "unknown matcher {other:?} on fact {:?}; expected one of {}",
                        def.name,
                        OPERATORS.join(", ")
                    ),
                ));
            }
        };
        conds.push(cond);
    }
    Ok(if conds.len() == 1 {
        conds.remove(0)
    } else {
        Cond::All(conds)
    })
}

fn parse_duration(d: &DurationDoc) -> Result<Duration, String> {
    let secs = match d {
        DurationDoc::Secs(s) => *s,
        DurationDoc::Text(t) => {
            let t = t.trim();
            let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
            let (num, unit) = t.split_at(split);
            let n: u64 = num
                .parse()
                .map_err(|_| format!("bad duration {t:?}, expected e.g. 90s, 15m, 2h, 1d"))?;
            let mult = match unit.trim() {
                "" | "s" => 1,
                "m" => 60,
                "h" => 3600,
                "d" => 86_400,
                _ => {
                    return Err(format!(
                        "bad duration {t:?}, expected e.g. 90s, 15m, 2h, 1d"
                    ));
                }
            };
            n.saturating_mul(mult)
        }
    };
    if secs == 0 || secs > MAX_TIMEOUT_SECS {
        return Err(format!(
            "timeout must be between 1 second and 7 days, found {secs} seconds"
        ));
    }
    Ok(Duration::from_secs(secs))
}

fn compile_time(loc: &RuleLoc<'_>, t: &TimeDoc) -> Result<TimeWindow, BuildError> {
    let mut days = 0u8;
    for d in &t.days {
        let bits: u8 = match d.to_ascii_lowercase().as_str() {
            "mon" | "monday" => 1,
            "tue" | "tuesday" => 1 << 1,
            "wed" | "wednesday" => 1 << 2,
            "thu" | "thursday" => 1 << 3,
            "fri" | "friday" => 1 << 4,
            "sat" | "saturday" => 1 << 5,
            "sun" | "sunday" => 1 << 6,
            "weekdays" => 0x1f,
            "weekend" => 0x60,
            _ => {
                return Err(loc.invalid_near(
                    d,
                    format!("unknown day {d:?}, expected mon..sun, weekdays or weekend"),
                ));
            }
        };
        days |= bits;
    }
    if t.days.is_empty() {
        days = 0x7f;
    }
    let minutes = match &t.hours {
        None => None,
        Some(h) => Some(parse_hours(h).ok_or_else(|| {
            loc.invalid_near(
                h,
                format!("bad hours {h:?}, expected HH:MM-HH:MM such as 09:00-17:30"),
            )
        })?),
    };
    let offset_secs = match &t.utc_offset {
        None => 0,
        Some(o) => parse_offset(o).ok_or_else(|| {
            loc.invalid_near(
                o,
                format!("bad utc_offset {o:?}, expected +HH:MM or -HH:MM"),
            )
        })?,
    };
    Ok(TimeWindow {
        days,
        minutes,
        offset_secs,
    })
}

fn parse_hhmm(s: &str) -> Option<u32> {
    let (h, m) = s.trim().split_once(':')?;
    let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
    if m >= 60 || h > 24 || (h == 24 && m != 0) {
        return None;
    }
    Some(h * 60 + m)
}

fn parse_hours(s: &str) -> Option<(u32, u32)> {
    let (a, b) = s.split_once('-')?;
    let (a, b) = (parse_hhmm(a)?, parse_hhmm(b)?);
    (a != b && a < 24 * 60).then_some((a, b))
}

fn parse_offset(s: &str) -> Option<i64> {
    let s = s.trim();
    if s.eq_ignore_ascii_case("z") || s.eq_ignore_ascii_case("utc") {
        return Some(0);
    }
    let (sign, rest) = match s.as_bytes().first()? {
        b'+' => (1, &s[1..]),
        b'-' => (-1, &s[1..]),
        _ => return None,
    };
    let (h, m) = rest.split_once(':')?;
    let (h, m): (i64, i64) = (h.parse().ok()?, m.parse().ok()?);
    if h > 14 || m >= 60 {
        return None;
    }
    Some(sign * (h * 3600 + m * 60))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_hours_offsets() {
        assert_eq!(
            parse_duration(&DurationDoc::Text("15m".into())),
            Ok(Duration::from_secs(900))
        );
        assert_eq!(
            parse_duration(&DurationDoc::Secs(30)),
            Ok(Duration::from_secs(30))
        );
        assert!(parse_duration(&DurationDoc::Text("15x".into())).is_err());
        assert!(parse_duration(&DurationDoc::Secs(0)).is_err());
        assert!(parse_duration(&DurationDoc::Text("8d".into())).is_err());
        assert_eq!(parse_hours("09:00-17:30"), Some((540, 1050)));
        assert_eq!(parse_hours("22:00-24:00"), Some((1320, 1440)));
        assert_eq!(parse_hours("22:00-06:00"), Some((1320, 360)));
        assert_eq!(parse_hours("24:00-06:00"), None);
        assert_eq!(parse_hours("9-17"), None);
        assert_eq!(parse_offset("+02:00"), Some(7200));
        assert_eq!(parse_offset("-05:30"), Some(-19800));
        assert_eq!(parse_offset("Z"), Some(0));
        assert_eq!(parse_offset("02:00"), None);
    }

    #[test]
    fn positions() {
        let src = "a\nbé c\n";
        assert_eq!(line_col(src, 0), (1, 1));
        assert_eq!(line_col(src, 2), (2, 1));
        assert_eq!(line_col(src, 6), (2, 4));
        assert_eq!(find_token("x users_old users", "users", 0), Some(12));
        assert_eq!(find_token("id = \"r1\"", "r1", 0), Some(6));
    }
}
