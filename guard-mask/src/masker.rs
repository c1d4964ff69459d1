//! The compiled masker, its builder, and the per-stream state.

use std::borrow::Cow;
use std::ops::Deref;
use std::sync::Arc;

use aho_corasick::{AhoCorasick, MatchKind};
use regex_automata::{PatternID, meta, util::syntax};
use regex_syntax::hir::literal::{ExtractKind, Extractor};

use crate::block::MAX_EXTRA;
use crate::catalog::{CATALOG, Trig};
use crate::engine::{
    ASSIGN_GAP, AnchoredLit, AssignKw, BACK_ANCHOR, BACK_TOTAL, C_ANCHOR, C_ASSIGN, C_AT, C_COLON,
    C_CUSTOM, C_DASH, C_DIGIT, C_PAREN, C_PLUS, Caches, Det, DigitRole, Engine, LitSet,
    MAX_CONTEXT_BYTES, ScanState, Scratch, Sink, Verify, role_bit, swar_candidates,
};
use crate::profile::{ColumnRule, CustomDetector, JsonRule, KeywordList, Profile};
use crate::strategy::{self, Strategy};
use crate::validate::Validator;
use crate::{BuildError, Finding};

/// The longest match any detector may declare, in bytes.
pub const MAX_DETECTOR_LEN: usize = 64 * 1024;

/// The longest region a stream writes out whole unless told otherwise
/// ([`MaskerBuilder::max_region`]): twice the longest detection.
pub const DEFAULT_MAX_REGION: usize = 2 * MAX_DETECTOR_LEN;

/// The smallest [`MaskerBuilder::max_region`].
pub const MIN_MAX_REGION: usize = 64;

/// A compiled, immutable masker: shared by every stream and every thread (`Send + Sync`).
///
/// Build one with [`Masker::builder`]; mask a byte stream with [`Masker::stream`], one value
/// with [`Masker::mask_value`], report findings with [`Masker::find`].
pub struct Masker {
    pub(crate) engine: Engine,
    columns: Vec<ColumnRule>,
    json: Vec<JsonRule>,
}

impl std::fmt::Debug for Masker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Masker")
            .field("detectors", &self.detector_names().collect::<Vec<_>>())
            .finish()
    }
}

/// Builds a [`Masker`] from a [`Profile`] plus the caller's key.
#[derive(Debug, Clone, Default)]
pub struct MaskerBuilder {
    profile: Profile,
    key: Vec<u8>,
    max_region: Option<usize>,
}

impl MaskerBuilder {
    /// Starts from `profile` (replacing anything set so far except the key).
    pub fn profile(&mut self, profile: Profile) -> &mut Self {
        self.profile = profile;
        self
    }

    /// Runs only these built-in detectors (custom detectors always run).
    pub fn detectors<I, S>(&mut self, names: I) -> &mut Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.profile.detectors = Some(names.into_iter().map(Into::into).collect());
        self
    }

    /// Masks detector `name` with `strategy`.
    pub fn strategy(&mut self, name: &str, strategy: Strategy) -> &mut Self {
        self.profile.strategies.insert(name.to_owned(), strategy);
        self
    }

    /// The strategy for detectors without their own.
    pub fn default_strategy(&mut self, strategy: Strategy) -> &mut Self {
        self.profile.default_strategy = strategy;
        self
    }

    /// The key for `hash` and `shape` (HMAC-SHA256). Required when any strategy uses it.
    pub fn hash_key(&mut self, key: &[u8]) -> &mut Self {
        self.key = key.to_vec();
        self
    }

    /// Adds a custom regex detector.
    pub fn custom(&mut self, detector: CustomDetector) -> &mut Self {
        self.profile.custom.push(detector);
        self
    }

    /// Adds a keyword-list detector.
    pub fn keywords(&mut self, list: KeywordList) -> &mut Self {
        self.profile.keywords.push(list);
        self
    }

    /// Adds a column rule (after the profile's own).
    pub fn column_rule(&mut self, rule: ColumnRule) -> &mut Self {
        self.profile.columns.push(rule);
        self
    }

    /// Adds a JSON rule (after the profile's own).
    pub fn json_rule(&mut self, rule: JsonRule) -> &mut Self {
        self.profile.json.push(rule);
        self
    }

    /// The longest region (overlapping detections merged) that is masked as one: a longer
    /// one is masked in pieces, cut at the multiples of `bytes` in the stream (each piece
    /// named after the detection that wins in it); findings still report it as one region.
    /// Detections that overlap one another without end (input such as
    /// `password=password=...`, or a token prefix repeated in its own alphabet) would
    /// otherwise make a stream keep the whole region in memory until it ends. Default
    /// [`DEFAULT_MAX_REGION`] unless the profile names one ([`Profile::max_region`]); this
    /// call overrides the profile. At least [`MIN_MAX_REGION`].
    pub fn max_region(&mut self, bytes: usize) -> &mut Self {
        self.max_region = Some(bytes);
        self
    }

    /// Compiles the masker.
    ///
    /// # Errors
    /// [`BuildError`] for an unknown detector name, a regex that does not compile or has no
    /// bound, a missing key for `hash`/`shape`, and similar configuration mistakes.
    pub fn build(&self) -> Result<Masker, BuildError> {
        let region = self
            .max_region
            .or(self.profile.max_region)
            .unwrap_or(DEFAULT_MAX_REGION);
        if region < MIN_MAX_REGION {
            return Err(BuildError::MaxRegion { bytes: region });
        }
        let mut m = compile(&self.profile, &self.key)?;
        m.engine.region = region;
        Ok(m)
    }
}

impl Masker {
    /// A builder with the whole built-in catalog and `redact` for everything.
    pub fn builder() -> MaskerBuilder {
        MaskerBuilder::default()
    }

    /// New per-stream state borrowing this masker.
    pub fn stream(&self) -> MaskStream<&Masker> {
        MaskStream::new(self)
    }

    /// Masks one value (a DataRow column, a header). Returns the input unchanged, without
    /// allocating, when nothing is found.
    pub fn mask_value<'a>(&self, value: &'a [u8]) -> Cow<'a, [u8]> {
        let mut st = ScanState::default();
        self.engine
            .advance(&mut st, value, 0, true, &mut Caches::Pool);
        if st.clusters.is_empty() {
            return Cow::Borrowed(value);
        }
        let mut out = Vec::with_capacity(value.len() + 16);
        self.engine
            .drain(&mut st, value, 0, true, &mut Sink::Bytes(&mut out));
        Cow::Owned(out)
    }

    /// Masks a whole input at once (the same output a stream gives).
    pub fn mask(&self, input: &[u8]) -> Vec<u8> {
        self.mask_value(input).into_owned()
    }

    /// The regions that would be masked, in input order, already merged.
    pub fn find(&self, input: &[u8]) -> Vec<Finding> {
        let mut v = Vec::new();
        self.find_into(input, &mut v);
        v
    }

    /// Appends the regions that would be masked to `out`.
    pub fn find_into(&self, input: &[u8], out: &mut Vec<Finding>) {
        let mut st = ScanState::default();
        self.engine
            .advance(&mut st, input, 0, true, &mut Caches::Pool);
        self.engine
            .drain(&mut st, input, 0, true, &mut Sink::Findings(out));
    }

    /// The detectors that run, in declaration order.
    pub fn detector_names(&self) -> impl Iterator<Item = &str> {
        self.engine.dets.iter().map(|d| &*d.name)
    }

    /// The strategy of the first column rule matching `column` (`qualified` is
    /// `schema.table.column` when the caller knows the source), if any.
    pub fn column_rule(&self, column: &str, qualified: Option<&str>) -> Option<&Strategy> {
        self.columns
            .iter()
            .find(|r| r.matches(column, qualified))
            .map(|r| &r.strategy)
    }

    /// Whether one of the profile's column rules may mask a column that a statement over
    /// `tables` referring to `columns` computes values from ([`ColumnRule::may_be_read_by`]).
    pub fn column_rules_read_by<T: AsRef<str>, C: AsRef<str>>(
        &self,
        tables: &[T],
        columns: &[C],
    ) -> bool {
        self.columns
            .iter()
            .any(|r| r.may_be_read_by(tables, columns))
    }

    /// The JSON rules of the profile.
    pub fn json_rules(&self) -> &[JsonRule] {
        &self.json
    }

    /// Masks a whole value with `strategy` (what a column rule asks for). `Redact` without a
    /// label writes `[REDACTED]`; `Null` writes nothing (check [`Strategy::is_null`] to send
    /// SQL NULL instead).
    pub fn apply_strategy(&self, strategy: &Strategy, value: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(value.len().max(10));
        self.apply_strategy_into(strategy, value, &mut out);
        out
    }

    /// Appends the masked form of `value` under `strategy` to `out`.
    pub fn apply_strategy_into(&self, strategy: &Strategy, value: &[u8], out: &mut Vec<u8>) {
        strategy::apply(strategy, &self.engine.key, b"[REDACTED]", value, out);
    }

    /// The most bytes a stream ever holds back beyond what it has written (excluding a
    /// pending match, which is at most the longest detector's `max_len`).
    pub fn max_holdback(&self) -> usize {
        self.engine.lag + BACK_TOTAL
    }
}

/// Per-stream state: owned by the caller, one per connection or response body.
///
/// ```
/// let masker = guard_mask::Masker::builder().build()?;
/// let mut s = masker.stream();
/// let mut out = Vec::new();
/// s.push(b"card 4111 1111 ", &mut out);
/// s.push(b"1111 1111 ok", &mut out);
/// s.finish(&mut out);
/// assert_eq!(out, b"card [CREDIT_CARD] ok");
/// # Ok::<(), guard_mask::BuildError>(())
/// ```
pub struct MaskStream<M: Deref<Target = Masker>> {
    masker: M,
    st: ScanState,
    buf: Vec<u8>,
    base: usize,
    scratch: Scratch,
}

impl<M: Deref<Target = Masker>> std::fmt::Debug for MaskStream<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MaskStream")
            .field("offset", &self.base)
            .field("buffered", &self.buf.len())
            .finish()
    }
}

impl<M: Deref<Target = Masker>> MaskStream<M> {
    /// New stream state over `masker` (a `&Masker` or an `Arc<Masker>`).
    pub fn new(masker: M) -> Self {
        let scratch = Scratch::new(&masker.engine);
        MaskStream {
            masker,
            st: ScanState::default(),
            buf: Vec::new(),
            base: 0,
            scratch,
        }
    }

    /// Masks `chunk`, appending to `out` everything that can no longer change.
    pub fn push(&mut self, chunk: &[u8], out: &mut Vec<u8>) {
        self.feed(chunk, false, &mut Sink::Bytes(out));
    }

    /// Ends the input: appends the rest to `out` and resets the stream for reuse.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        self.feed(&[], true, &mut Sink::Bytes(out));
        self.reset();
    }

    /// Like [`push`](Self::push) but appends findings (absolute offsets) instead of bytes.
    pub fn push_findings(&mut self, chunk: &[u8], out: &mut Vec<Finding>) {
        self.feed(chunk, false, &mut Sink::Findings(out));
    }

    /// Like [`finish`](Self::finish) for findings.
    pub fn finish_findings(&mut self, out: &mut Vec<Finding>) {
        self.feed(&[], true, &mut Sink::Findings(out));
        self.reset();
    }

    /// Forgets everything pushed so far.
    pub fn reset(&mut self) {
        self.st.pos = 0;
        self.st.emitted = 0;
        self.st.deferred.clear();
        self.st.clusters.clear();
        self.st.long_end = None;
        self.st.long_find = None;
        self.st.found.clear();
        self.st.lit_resume.clear();
        self.buf.clear();
        self.base = 0;
    }

    /// Bytes pushed but not yet written out.
    pub fn pending(&self) -> usize {
        self.base + self.buf.len() - self.st.emitted
    }

    fn feed(&mut self, chunk: &[u8], fin: bool, sink: &mut Sink<'_>) {
        let engine = &self.masker.engine;
        let keep = engine.keep_from(&self.st).max(self.base);
        if keep > self.base {
            self.buf.drain(..keep - self.base);
            self.base = keep;
        }
        self.buf.extend_from_slice(chunk);
        engine.advance(
            &mut self.st,
            &self.buf,
            self.base,
            fin,
            &mut Caches::Own(&mut self.scratch),
        );
        engine.drain(&mut self.st, &self.buf, self.base, fin, sink);
    }
}

impl MaskStream<Arc<Masker>> {
    /// New stream state owning a share of `masker`.
    pub fn shared(masker: Arc<Masker>) -> Self {
        MaskStream::new(masker)
    }
}

pub(crate) fn byte_syntax() -> syntax::Config {
    syntax::Config::new().unicode(false).utf8(false)
}

fn compile(p: &Profile, key: &[u8]) -> Result<Masker, BuildError> {
    // Which built-ins run.
    let known = |n: &str| CATALOG.iter().any(|s| s.name == n);
    for n in p.detectors.iter().flatten().chain(&p.disable) {
        if !known(n) {
            return Err(BuildError::UnknownDetector { name: n.clone() });
        }
    }
    let enabled = |n: &str| {
        p.detectors
            .as_ref()
            .is_none_or(|d| d.iter().any(|x| x == n))
            && !p.disable.iter().any(|x| x == n)
    };
    let mut dets: Vec<Det> = Vec::new();
    let mut builtin_lits: Vec<(Vec<u8>, u16)> = Vec::new();
    let mut anchored: Vec<(Vec<u8>, u16)> = Vec::new();
    let mut assign: Vec<(Vec<u8>, u16)> = Vec::new();
    let mut e = Engine {
        dets: Vec::new(),
        region: DEFAULT_MAX_REGION,
        class: [0; 256],
        class_ahead: [0; 7],
        digit_dets: Vec::new(),
        digit_roles: 0,
        letter_digit_dets: Vec::new(),
        phone_dets: Vec::new(),
        at_dets: Vec::new(),
        colon_dets: Vec::new(),
        mac_dets: Vec::new(),
        custom_byte: Vec::new(),
        lits: Vec::new(),
        alits: Vec::new(),
        alit_by_byte: vec![Vec::new(); 256],
        alit_slot: vec![0; 256],
        alit_pairs: Vec::new(),
        alit_ids: Vec::new(),
        pair_next: vec![0; 1024],
        swar: false,
        extra: Vec::new(),
        digit_runs: false,
        kws: Vec::new(),
        kw_by_last: vec![Vec::new(); 256],
        kw_pairs: vec![0; 1024],
        lag: 0,
        key: key.to_vec(),
    };
    let strategy_for = |name: &str| {
        p.strategies
            .get(name)
            .cloned()
            .unwrap_or_else(|| p.default_strategy.clone())
    };
    for spec in CATALOG.iter().filter(|s| enabled(s.name)) {
        let idx = u16::try_from(dets.len()).map_err(|_| BuildError::TooManyDetectors)?;
        let verify = match spec.matcher {
            Some(m) => Verify::Native(m),
            None => {
                let re = meta::Builder::new()
                    .syntax(byte_syntax())
                    .configure(meta::Config::new().utf8_empty(false))
                    .build(spec.regex)
                    .map_err(|source| BuildError::Regex {
                        name: spec.name.to_owned(),
                        source: Box::new(source),
                    })?;
                let vgroup = if spec.value_group {
                    re.group_info().to_index(PatternID::ZERO, "v")
                } else {
                    None
                };
                Verify::Regex { re, vgroup }
            }
        };
        dets.push(Det {
            name: spec.name.into(),
            label: label_of(spec.name),
            priority: spec.priority,
            max_len: spec.max_len,
            verify,
            validator: spec.validator,
            context: None,
            start_boundary: spec.start_boundary,
            end_boundary: spec.end_boundary,
            unbounded: spec.unbounded,
            lead: usize::from(spec.lead),
            strategy: strategy_for(spec.name),
        });
        match spec.trig {
            Trig::Digit(shape) => e.digit_dets.push((idx, DigitRole::Shape(shape))),
            Trig::Phone => {
                e.phone_dets.push(idx);
                e.digit_dets.push((idx, DigitRole::Phone));
            }
            Trig::LetterDigit => e.letter_digit_dets.push(idx),
            Trig::At => e.at_dets.push(idx),
            Trig::Colon => e.colon_dets.push(idx),
            Trig::Mac => {
                e.colon_dets.push(idx);
                e.mac_dets.push(idx);
            }
            Trig::Lit(lits) => anchored.extend(lits.iter().map(|l| (l.as_bytes().to_vec(), idx))),
            Trig::Assign(lits) => assign.extend(lits.iter().map(|l| (l.as_bytes().to_vec(), idx))),
        }
    }
    let mut custom_first: Vec<(u8, u16)> = Vec::new();
    for c in &p.custom {
        let idx = u16::try_from(dets.len()).map_err(|_| BuildError::TooManyDetectors)?;
        let name = &c.name;
        check_name(&dets, name)?;
        if c.max_len == 0 || c.max_len > MAX_DETECTOR_LEN {
            return Err(BuildError::MaxLen {
                name: name.clone(),
                declared: c.max_len,
                needed: None,
            });
        }
        check_context(name, c.context_window)?;
        let hir = regex_syntax::ParserBuilder::new()
            .build()
            .parse(&c.regex)
            .map_err(|source| BuildError::Syntax {
                name: name.clone(),
                source: Box::new(source),
            })?;
        let props = hir.properties();
        if props.minimum_len().is_none_or(|m| m == 0) {
            return Err(BuildError::EmptyMatch { name: name.clone() });
        }
        if let Some(m) = props.maximum_len()
            && m > c.max_len
        {
            return Err(BuildError::MaxLen {
                name: name.clone(),
                declared: c.max_len,
                needed: Some(m),
            });
        }
        let re = meta::Builder::new()
            .build(&c.regex)
            .map_err(|source| BuildError::Regex {
                name: name.clone(),
                source: Box::new(source),
            })?;
        // Triggers: literal prefixes when the regex has a small set of them, otherwise the
        // set of possible first bytes.
        let seq = Extractor::new().kind(ExtractKind::Prefix).extract(&hir);
        match seq.literals() {
            Some(ls) if !ls.is_empty() && ls.len() <= 64 && ls.iter().all(|l| l.len() >= 2) => {
                builtin_lits.extend(ls.iter().map(|l| (l.as_bytes().to_vec(), idx)));
            }
            _ => {
                let mut ex = Extractor::new();
                ex.kind(ExtractKind::Prefix)
                    .limit_literal_len(1)
                    .limit_class(256)
                    .limit_total(512);
                match ex.extract(&hir).literals() {
                    Some(ls) if ls.iter().all(|l| !l.is_empty()) => {
                        custom_first.extend(ls.iter().map(|l| (l.as_bytes()[0], idx)));
                    }
                    _ => custom_first.extend((0..=255u8).map(|b| (b, idx))),
                }
            }
        }
        dets.push(Det {
            name: name.as_str().into(),
            label: label_of(name),
            priority: c.priority,
            max_len: c.max_len,
            verify: Verify::Regex { re, vgroup: None },
            validator: Validator::None,
            context: context_of(&c.context, c.context_window),
            start_boundary: false,
            end_boundary: false,
            unbounded: false,
            lead: 0,
            strategy: strategy_for(name),
        });
    }
    let mut kw_sets: Vec<(Vec<Vec<u8>>, bool, u16)> = Vec::new();
    for k in &p.keywords {
        let idx = u16::try_from(dets.len()).map_err(|_| BuildError::TooManyDetectors)?;
        check_name(&dets, &k.name)?;
        check_context(&k.name, k.context_window)?;
        let words: Vec<Vec<u8>> = k
            .words
            .iter()
            .filter(|w| !w.is_empty())
            .map(|w| w.as_bytes().to_vec())
            .collect();
        let max_len = words.iter().map(Vec::len).max().unwrap_or(0);
        if words.is_empty() || max_len > MAX_DETECTOR_LEN {
            return Err(BuildError::MaxLen {
                name: k.name.clone(),
                declared: max_len,
                needed: None,
            });
        }
        dets.push(Det {
            name: k.name.as_str().into(),
            label: label_of(&k.name),
            priority: k.priority,
            max_len,
            verify: Verify::Keyword,
            validator: Validator::None,
            context: context_of(&k.context, k.context_window),
            start_boundary: k.whole_word,
            end_boundary: k.whole_word,
            unbounded: false,
            lead: 0,
            strategy: strategy_for(&k.name),
        });
        kw_sets.push((words, k.case_insensitive, idx));
    }
    // Strategies that need a key.
    for name in p.strategies.keys() {
        if !dets.iter().any(|d| &*d.name == name.as_str()) && !known(name) {
            return Err(BuildError::UnknownDetector { name: name.clone() });
        }
    }
    if key.is_empty() {
        let needs = dets
            .iter()
            .map(|d| (&*d.name, &d.strategy))
            .chain(p.columns.iter().map(|c| (c.column.as_str(), &c.strategy)))
            .chain(p.json.iter().map(|j| (j.path.as_str(), &j.strategy)))
            .find(|(_, s)| s.needs_key());
        if let Some((name, _)) = needs {
            return Err(BuildError::MissingKey {
                name: name.to_owned(),
            });
        }
    }

    // Class table and how far ahead each class's window reaches.
    let ahead = |ids: &mut dyn Iterator<Item = u16>| {
        ids.map(|i| dets[usize::from(i)].max_len + 1)
            .max()
            .unwrap_or(0)
    };
    let set = |e: &mut Engine, bytes: &mut dyn Iterator<Item = u8>, bit: u16| {
        for b in bytes {
            e.class[usize::from(b)] |= bit;
        }
    };
    e.digit_roles = e.digit_dets.iter().fold(0, |m, &(_, r)| m | role_bit(r));
    if !e.digit_dets.is_empty() || !e.letter_digit_dets.is_empty() {
        set(&mut e, &mut (b'0'..=b'9'), C_DIGIT);
        let a = ahead(
            &mut e
                .digit_dets
                .iter()
                .map(|d| d.0)
                .chain(e.letter_digit_dets.iter().copied()),
        );
        e.class_ahead[0] = a.max(50);
    }
    if !e.phone_dets.is_empty() {
        set(&mut e, &mut [b'+'].into_iter(), C_PLUS);
        set(&mut e, &mut [b'('].into_iter(), C_PAREN);
        let a = ahead(&mut e.phone_dets.iter().copied());
        e.class_ahead[1] = a;
        e.class_ahead[2] = a;
    }
    if !e.at_dets.is_empty() {
        // `%` for `%40`, the `@` of URL-encoded text (`?email=bob%40example.com`).
        set(&mut e, &mut [b'@', b'%'].into_iter(), C_AT);
        e.class_ahead[3] = ahead(&mut e.at_dets.iter().copied());
    }
    if !e.colon_dets.is_empty() {
        set(&mut e, &mut [b':'].into_iter(), C_COLON);
        e.class_ahead[4] = ahead(&mut e.colon_dets.iter().copied());
    }
    if !e.mac_dets.is_empty() {
        set(&mut e, &mut [b'-', b'.'].into_iter(), C_DASH);
        e.class_ahead[5] = ahead(&mut e.mac_dets.iter().copied());
    }
    if !custom_first.is_empty() {
        e.custom_byte = vec![Vec::new(); 256];
        for &(b, d) in &custom_first {
            e.class[usize::from(b)] |= C_CUSTOM;
            if !e.custom_byte[usize::from(b)].contains(&d) {
                e.custom_byte[usize::from(b)].push(d);
            }
        }
        e.class_ahead[6] = ahead(&mut custom_first.iter().map(|x| x.1));
    }
    // Built-in literals: each through its anchor byte; assignment keywords through `:`/`=`.
    let reach = |ds: &[u16]| {
        ds.iter()
            .map(|&d| dets[usize::from(d)].max_len + 1)
            .max()
            .unwrap_or(0)
    };
    for (lit, d) in dedup_lits(anchored) {
        let k = anchor_offset(&lit);
        let li = u16::try_from(e.alits.len()).map_err(|_| BuildError::TooManyDetectors)?;
        e.class[usize::from(lit[k])] |= C_ANCHOR;
        e.alit_by_byte[usize::from(lit[k])].push(li);
        let a = usize::from(lit[k]);
        let mark = |set: &mut Vec<u64>, p: usize| set[p >> 6] |= 1 << (p & 63);
        for x in 0..256usize {
            if k + 1 == lit.len() || usize::from(lit[k + 1]) == x {
                mark(&mut e.pair_next, a << 8 | x);
            }
        }
        e.alits.push(AnchoredLit {
            ahead: reach(&d).max(lit.len() - k),
            before: k.checked_sub(1).map(|p| lit[p]),
            bytes: lit,
            k,
            dets: d,
        });
    }
    // The pair index: per anchor byte (a slot each) and byte before it, the literals that
    // byte allows.
    let mut slots = 0u16;
    for b in 0..256usize {
        if e.alit_by_byte[b].is_empty() {
            continue;
        }
        e.alit_slot[b] = slots;
        slots += 1;
        for x in 0..=255u8 {
            let start = e.alit_ids.len() as u32;
            for &li in &e.alit_by_byte[b] {
                if e.alits[usize::from(li)].before.is_none_or(|p| p == x) {
                    e.alit_ids.push(li);
                }
            }
            e.alit_pairs.push((start, e.alit_ids.len() as u32));
        }
    }
    // Keywords are found in any case, as their detectors' regexes take them (`X-API-Key:`
    // as `api-key`): stored in lowercase, indexed and paired under both cases of a letter.
    let assign = assign
        .into_iter()
        .map(|(k, d)| (k.to_ascii_lowercase(), d))
        .collect();
    let cases = |b: u8| [b.to_ascii_lowercase(), b.to_ascii_uppercase()];
    for (kw, d) in dedup_lits(assign) {
        debug_assert!(kw.len() + ASSIGN_GAP <= BACK_ANCHOR);
        let ki = u16::try_from(e.kws.len()).map_err(|_| BuildError::TooManyDetectors)?;
        let last = cases(kw[kw.len() - 1]);
        for l in last {
            if !e.kw_by_last[usize::from(l)].contains(&ki) {
                e.kw_by_last[usize::from(l)].push(ki);
            }
        }
        // A one-byte keyword ends after any byte.
        for x in 0..=255u8 {
            if kw.len() == 1 || kw[kw.len() - 2].eq_ignore_ascii_case(&x) {
                for l in last {
                    let p = usize::from(x) << 8 | usize::from(l);
                    e.kw_pairs[p >> 6] |= 1 << (p & 63);
                }
            }
        }
        e.kws.push(AssignKw {
            ahead: reach(&d),
            bytes: kw,
            dets: d,
        });
    }
    if !e.kws.is_empty() {
        e.class[usize::from(b':')] |= C_ASSIGN;
        e.class[usize::from(b'=')] |= C_ASSIGN;
        // `<password>...</password>`
        e.class[usize::from(b'>')] |= C_ASSIGN;
    }
    let extra: Vec<u8> = (0..=255u8)
        .filter(|&b| e.class[usize::from(b)] != 0 && !block_marks(b))
        .collect();
    e.swar = extra.len() <= MAX_EXTRA;
    if e.swar {
        e.extra = extra;
    }
    // Without digit detectors digits have no class: trimming their runs changes nothing.
    e.digit_runs = (b'0'..=b'9').all(|b| matches!(e.class[usize::from(b)], 0 | C_DIGIT));
    // Literal sets: the custom-regex prefixes (case-sensitive), then one set per
    // keyword list.
    let mut lit_groups: Vec<LitGroup> = Vec::new();
    if !builtin_lits.is_empty() {
        lit_groups.push((builtin_lits, false, false));
    }
    for (words, ci, idx) in kw_sets {
        lit_groups.push((words.into_iter().map(|w| (w, idx)).collect(), ci, true));
    }
    for (lits, ci, keyword) in lit_groups {
        let mut pats: Vec<Vec<u8>> = Vec::new();
        let mut pat_dets: Vec<Vec<u16>> = Vec::new();
        for (l, d) in lits {
            match pats.iter().position(|p| *p == l) {
                Some(i) => {
                    if !pat_dets[i].contains(&d) {
                        pat_dets[i].push(d);
                    }
                }
                None => {
                    pats.push(l);
                    pat_dets.push(vec![d]);
                }
            }
        }
        // The search is leftmost-longest: where "Secret" and "SecretAccessKey" both start, only
        // the longer is reported, so it also triggers the detectors of every literal that is a
        // prefix of it.
        let snapshot = pat_dets.clone();
        for (i, p) in pats.iter().enumerate() {
            for (j, q) in pats.iter().enumerate() {
                let prefix = q.len() < p.len()
                    && if ci {
                        p[..q.len()].eq_ignore_ascii_case(q)
                    } else {
                        p.starts_with(q)
                    };
                if i != j && prefix {
                    for &d in &snapshot[j] {
                        if !pat_dets[i].contains(&d) {
                            pat_dets[i].push(d);
                        }
                    }
                }
            }
        }
        let ac = AhoCorasick::builder()
            .match_kind(MatchKind::LeftmostLongest)
            .kind(Some(aho_corasick::AhoCorasickKind::DFA))
            .ascii_case_insensitive(ci)
            .build(&pats)
            .map_err(|source| BuildError::Literals {
                source: Box::new(source),
            })?;
        let pat_len: Vec<usize> = pats.iter().map(Vec::len).collect();
        let pat_ahead: Vec<usize> = pat_dets
            .iter()
            .zip(&pat_len)
            .map(|(ds, &l)| {
                let m = ds
                    .iter()
                    .map(|&d| dets[usize::from(d)].max_len)
                    .max()
                    .unwrap_or(0);
                if keyword { l + 1 } else { m.max(l) + 1 }
            })
            .collect();
        let max_lit = pat_len.iter().copied().max().unwrap_or(0);
        e.lits.push(LitSet {
            ac,
            pat_dets,
            pat_len,
            pat_ahead,
            max_lit,
        });
    }
    // Discovery lag: enough for every window up to 1 KiB (longer ones wait in `deferred`).
    let mut lag = e.class_ahead.iter().copied().max().unwrap_or(0);
    for l in &e.alits {
        lag = lag.max(l.bytes.len());
        if l.ahead <= 1024 {
            lag = lag.max(l.ahead);
        }
    }
    for k in &e.kws {
        if k.ahead <= 1024 {
            lag = lag.max(k.ahead);
        }
    }
    for s in &e.lits {
        lag = lag.max(s.max_lit);
        lag = lag.max(
            s.pat_ahead
                .iter()
                .copied()
                .filter(|&a| a <= 1024)
                .max()
                .unwrap_or(0),
        );
    }
    e.lag = lag.max(1);
    e.dets = dets;
    Ok(Masker {
        engine: e,
        columns: p.columns.clone(),
        json: p.json.clone(),
    })
}

/// Merges equal literals: each literal once, with every detector it triggers.
fn dedup_lits(lits: Vec<(Vec<u8>, u16)>) -> Vec<(Vec<u8>, Vec<u16>)> {
    let mut out: Vec<(Vec<u8>, Vec<u16>)> = Vec::new();
    for (l, d) in lits {
        match out.iter_mut().find(|(x, _)| *x == l) {
            Some((_, ds)) => {
                if !ds.contains(&d) {
                    ds.push(d);
                }
            }
            None => out.push((l, vec![d])),
        }
    }
    out
}

/// Which byte of a built-in literal the scan looks for: one the block test marks anyway (any
/// other would cost an equality test per block), and of those the one least likely in ordinary
/// text (uppercase consonants, then `_ = /`, then other punctuation; never a digit, whose runs
/// the scan skips, and a lowercase letter only when nothing else exists).
pub(crate) fn anchor_offset(lit: &[u8]) -> usize {
    let cost = |b: u8| u8::from(!block_marks(b)) * 10 + rarity(b);
    // Among bytes of the same cost, the one whose byte before is the least common: the scan
    // compares the literals that the byte before an anchor allows (`pscale_tkn_` through its
    // second `_`, after `n`, rather than its first, after the `e` of every `cache_host`).
    (0..lit.len())
        .min_by_key(|&i| {
            (
                cost(lit[i]),
                i.checked_sub(1).map_or(u8::MAX, |p| commonness(lit[p])),
            )
        })
        .unwrap_or(0)
}

/// How common a byte is before an anchor byte, as `anchor_offset` breaks ties (lower is
/// rarer): letters by their frequency in English text, digits as the common letters, other
/// bytes rarest. No byte before (the anchor is the literal's first byte) counts as the most
/// common of all: every anchor byte then compares the literal.
fn commonness(b: u8) -> u8 {
    const BY_FREQUENCY: &[u8] = b"zqjxkvbpygfwmucldrhsnioate";
    if b.is_ascii_digit() {
        return 20;
    }
    BY_FREQUENCY
        .iter()
        .position(|&x| x == b.to_ascii_lowercase())
        .map_or(0, |r| r as u8 + 1)
}

/// Whether the block test marks byte `b` by itself (no extra equality test).
fn block_marks(b: u8) -> bool {
    swar_candidates(u64::from(b)) & 0x80 != 0
}

/// How common a byte is in ordinary text, as `anchor_offset` ranks it (lower is rarer).
fn rarity(b: u8) -> u8 {
    match b {
        b'A' | b'E' | b'I' | b'O' | b'U' | b'T' | b'S' => 2,
        b'A'..=b'Z' => 1,
        b'_' | b'=' | b'/' => 3,
        b'-' | b'.' | b':' => 4,
        b'a'..=b'z' | b' ' => 8,
        b'0'..=b'9' => 9,
        _ => 3,
    }
}

/// Literals with their detector, case-insensitive?, keyword list?
type LitGroup = (Vec<(Vec<u8>, u16)>, bool, bool);

fn check_name(dets: &[Det], name: &str) -> Result<(), BuildError> {
    if name.is_empty() || dets.iter().any(|d| &*d.name == name) {
        return Err(BuildError::DuplicateName {
            name: name.to_owned(),
        });
    }
    Ok(())
}

fn check_context(name: &str, window: usize) -> Result<(), BuildError> {
    if window > MAX_CONTEXT_BYTES {
        return Err(BuildError::ContextWindow {
            name: name.to_owned(),
            window,
            limit: MAX_CONTEXT_BYTES,
        });
    }
    Ok(())
}

fn context_of(words: &[String], window: usize) -> Option<(Vec<Vec<u8>>, usize)> {
    let w: Vec<Vec<u8>> = words
        .iter()
        .filter(|w| !w.is_empty())
        .map(|w| w.to_ascii_lowercase().into_bytes())
        .collect();
    (!w.is_empty()).then_some((w, window))
}

fn label_of(name: &str) -> Vec<u8> {
    let mut l = Vec::with_capacity(name.len() + 2);
    l.push(b'[');
    l.extend(name.bytes().map(|b| b.to_ascii_uppercase()));
    l.push(b']');
    l
}

#[cfg(test)]
mod tests {
    use super::Masker;

    /// Every built-in literal is found through a byte the block test marks anyway: the default
    /// catalog adds no equality test per block (and leaves the custom detectors all eight).
    #[test]
    fn default_catalog_needs_no_extra_block_bytes() {
        let m = Masker::builder().build().expect("default catalog compiles");
        assert!(m.engine.swar);
        let extra: Vec<char> = m.engine.extra.iter().map(|&b| char::from(b)).collect();
        assert!(extra.is_empty(), "extra block bytes: {extra:?}");
    }

    /// The anchor is the rarest byte the block test marks; of equal ones, the one after the
    /// least common byte, and never the first byte when another is as rare.
    #[test]
    fn anchor_bytes() {
        use super::anchor_offset;
        for (lit, want) in [
            (&b"ghp_"[..], 3),
            (b"AKIA", 1),
            (b"pscale_tkn_", 10),
            (b"sk_live_", 2),
            (b"$2b$", 3),
            (b"eyJ", 2),
            (b"://", 1),
            (b"-----BEGIN", 5),
        ] {
            assert_eq!(anchor_offset(lit), want, "{}", String::from_utf8_lossy(lit));
        }
    }
}
