//! The scanning engine shared by streams, `find` and `mask_value`.
//!
//! See DESIGN.md for the why. In short: triggers (a byte-class table and aho-corasick literal
//! sets) name candidate positions; each trigger is verified inside a window of the input that
//! is a pure function of the trigger's position (`[t - BACK_TOTAL, t + ahead)`, clipped to the
//! input), so the set of detections does not depend on how the input was chunked. Detections
//! are merged into clusters (overlapping detections become one region, the winner names it).

use std::cell::Cell;

use aho_corasick::AhoCorasick;
use regex_automata::{Anchored, Input, meta, util::captures::Captures};

use crate::block::{BLOCK, classify, classify_extra};
use crate::shapes::{Matcher, Memo, RunMemo};
use crate::strategy::{self, Strategy};
use crate::validate::{self, VCtx, Validator};
use crate::{Finding, catalog::Shape};

/// How far before a trigger a detection may start (e-mail local parts are at most 64 bytes).
pub(crate) const BACK_ANCHOR: usize = 64;
/// The widest context window a detector may declare.
pub(crate) const MAX_CONTEXT_BYTES: usize = 256;
/// Bytes kept before the earliest undecided trigger.
pub(crate) const BACK_TOTAL: usize = BACK_ANCHOR + MAX_CONTEXT_BYTES + 8;

pub(crate) const C_DIGIT: u16 = 1;
pub(crate) const C_PLUS: u16 = 2;
pub(crate) const C_PAREN: u16 = 4;
pub(crate) const C_AT: u16 = 8;
pub(crate) const C_COLON: u16 = 16;
pub(crate) const C_DASH: u16 = 32;
pub(crate) const C_CUSTOM: u16 = 64;
/// The anchor byte of a built-in literal (checked in place during discovery).
pub(crate) const C_ANCHOR: u16 = 128;
/// `:` or `=` after an assignment keyword (checked by looking back during discovery).
pub(crate) const C_ASSIGN: u16 = 256;

pub(crate) enum Verify {
    /// A custom regex (a built-in one only if it had no hand-written matcher).
    Regex {
        re: meta::Regex,
        vgroup: Option<usize>,
    },
    /// A built-in detector's hand-written equivalent of its regex: it answers the value
    /// group's span when there is one, the whole match otherwise. Its regex is not compiled.
    Native(Matcher),
    Keyword,
}

pub(crate) struct Det {
    pub(crate) name: std::sync::Arc<str>,
    pub(crate) label: Vec<u8>,
    pub(crate) priority: u8,
    pub(crate) max_len: usize,
    pub(crate) verify: Verify,
    pub(crate) validator: Validator,
    pub(crate) context: Option<(Vec<Vec<u8>>, usize)>,
    pub(crate) start_boundary: bool,
    pub(crate) end_boundary: bool,
    /// A match of `max_len` bytes was cut there: no end-boundary test (`Spec::unbounded`).
    pub(crate) unbounded: bool,
    /// Bytes of the match before its anchored literal (`Spec::lead`).
    pub(crate) lead: usize,
    pub(crate) strategy: Strategy,
}

/// A built-in literal, found through one of its bytes (the rarest, see
/// `masker::anchor_offset`) and then compared in place.
pub(crate) struct AnchoredLit {
    pub(crate) bytes: Vec<u8>,
    /// Where the anchor byte sits inside the literal.
    pub(crate) k: usize,
    /// The literal's byte before the anchor, if any: compared first, since most anchor
    /// bytes that pass the pair filter belong to none of their several literals.
    pub(crate) before: Option<u8>,
    pub(crate) dets: Vec<u16>,
    /// Window reach after the anchor byte.
    pub(crate) ahead: usize,
}

/// An assignment keyword (`password`, `aws_secret_access_key`...), found from the `:`/`=`
/// that follows it.
pub(crate) struct AssignKw {
    pub(crate) bytes: Vec<u8>,
    pub(crate) dets: Vec<u16>,
    pub(crate) ahead: usize,
}

/// The most bytes an assignment keyword may end before its operator (a quote and three
/// blanks): with the longest keyword this stays well under `BACK_ANCHOR`.
pub(crate) const ASSIGN_GAP: usize = 4;

/// A set of literals searched with one aho-corasick automaton (overlapping, so every
/// occurrence is a trigger whatever the chunking).
pub(crate) struct LitSet {
    pub(crate) ac: AhoCorasick,
    pub(crate) pat_dets: Vec<Vec<u16>>,
    pub(crate) pat_len: Vec<usize>,
    pub(crate) pat_ahead: Vec<usize>,
    pub(crate) max_lit: usize,
}

pub(crate) struct Engine {
    pub(crate) dets: Vec<Det>,
    /// The longest region written out whole (`MaskerBuilder::max_region`).
    pub(crate) region: usize,
    pub(crate) class: [u16; 256],
    pub(crate) class_ahead: [usize; 7],
    pub(crate) digit_dets: Vec<(u16, DigitRole)>,
    /// The union of `digit_dets`' role bits (`role_bit`).
    pub(crate) digit_roles: u8,
    pub(crate) letter_digit_dets: Vec<u16>,
    pub(crate) phone_dets: Vec<u16>,
    pub(crate) at_dets: Vec<u16>,
    pub(crate) colon_dets: Vec<u16>,
    pub(crate) mac_dets: Vec<u16>,
    pub(crate) custom_byte: Vec<Vec<u16>>,
    pub(crate) lits: Vec<LitSet>,
    pub(crate) alits: Vec<AnchoredLit>,
    /// Per byte value: the anchored literals whose anchor it is.
    pub(crate) alit_by_byte: Vec<Vec<u16>>,
    /// Per anchor byte value: its slot in `alit_pairs` (meaningful where `C_ANCHOR` is set).
    pub(crate) alit_slot: Vec<u16>,
    /// Per `slot * 256 + byte before the anchor`: the range of `alit_ids` holding the
    /// literals that byte allows (its own byte before the anchor, or the anchor first).
    pub(crate) alit_pairs: Vec<(u32, u32)>,
    pub(crate) alit_ids: Vec<u16>,
    /// A bit set over byte pairs `(anchor, after)` that some anchored literal allows (65536
    /// bits).
    pub(crate) pair_next: Vec<u64>,
    /// Every byte with a class is one the block test marks: one `swar_candidates` marks or
    /// one of `extra` (false with more custom first bytes outside that set than
    /// `block::MAX_EXTRA`: the scan then goes byte by byte).
    pub(crate) swar: bool,
    /// Custom first bytes outside `swar_candidates`' set (at most `block::MAX_EXTRA`).
    pub(crate) extra: Vec<u8>,
    /// Every digit's class is exactly `C_DIGIT` (or none): the block scan then marks only the
    /// first digit of each run (the rest of a run can trigger nothing) and never steps over
    /// runs.
    pub(crate) digit_runs: bool,
    pub(crate) kws: Vec<AssignKw>,
    /// Per byte value: the assignment keywords ending with it.
    pub(crate) kw_by_last: Vec<Vec<u16>>,
    /// A bit set over byte pairs `(second last, last)` that some assignment keyword ends with
    /// (65536 bits): most `:` and `=` of JSON and config text follow a name that no keyword
    /// ends like (`"name":`, `"type":`), and are turned away before any comparison.
    pub(crate) kw_pairs: Vec<u64>,
    /// Discovery runs this far behind the end of the buffered input.
    pub(crate) lag: usize,
    pub(crate) key: Vec<u8>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DigitRole {
    Shape(Shape),
    Phone,
}

#[derive(Debug, Clone, Copy)]
pub(crate) enum Src {
    Class(u16),
    Lit {
        set: u16,
        pat: u32,
    },
    /// Anchored literal `.0`; the trigger is its anchor byte.
    ALit(u16),
    /// Assignment keyword `kw` starting `back` bytes before the trigger (its operator).
    Assign {
        kw: u16,
        back: u16,
    },
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Trigger {
    pub(crate) t: usize,
    pub(crate) src: Src,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Cluster {
    pub(crate) s: usize,
    pub(crate) e: usize,
    det: u16,
    det_s: usize,
    det_len: usize,
    /// The cluster starts at a piece boundary (a multiple of `Engine::region`) that a
    /// detection crosses: it continues the region of the cluster ending there.
    cont: bool,
}

/// Per-scan mutable state (owned by a stream, or on the stack for one-shot calls).
#[derive(Default)]
pub(crate) struct ScanState {
    /// Next position the discovery scans look at.
    pub(crate) pos: usize,
    /// Bytes before this have been written out (or reported).
    pub(crate) emitted: usize,
    pub(crate) deferred: Vec<Trigger>,
    pub(crate) clusters: Vec<Cluster>,
    /// Detections of the current `advance`, merged into `clusters` in start order at its end
    /// (the two scans report out of order; inserting in order keeps merging O(1) each).
    pub(crate) found: Vec<(usize, usize, u16)>,
    /// Per literal set: where its next search starts (see `discover`).
    pub(crate) lit_resume: Vec<usize>,
    /// The digit token the scan loop just measured for the trigger it is firing (never set
    /// while deferred triggers fire).
    tok: Option<(Token, u8)>,
    /// Where the last piece written out of a region longer than `Engine::region` ended: a
    /// cluster continuing there belongs to that region (see `drain`).
    pub(crate) long_end: Option<usize>,
    /// Reporting findings, a region longer than `Engine::region` whose pieces are partly
    /// written: its start and the winning cluster so far.
    pub(crate) long_find: Option<(usize, Cluster)>,
    /// The last unbounded token run a matcher measured (`shapes::RunMemo`).
    pub(crate) run_memo: RunMemo,
}

/// Regex caches: owned by a stream, or the regexes' internal pools for `&self` calls.
pub(crate) enum Caches<'a> {
    Pool,
    Own(&'a mut Scratch),
}

/// A stream's regex caches, one per regex detector.
pub(crate) struct Scratch {
    caches: Vec<Option<meta::Cache>>,
    caps: Vec<Option<Captures>>,
}

/// Where drained clusters go.
pub(crate) enum Sink<'o> {
    Bytes(&'o mut Vec<u8>),
    Findings(&'o mut Vec<Finding>),
}

#[inline]
fn alnum(b: u8) -> bool {
    b.is_ascii_alphanumeric()
}

#[inline]
fn upper(b: u8) -> bool {
    b.is_ascii_uppercase()
}

/// A byte of an e-mail local part (as the `email` regex has it: ASCII, or the UTF-8 bytes of
/// an accented Latin letter, lead bytes C3-C9 and continuation bytes).
fn local_part(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(b, b'.' | b'_' | b'%' | b'+' | b'-' | 0x80..=0xBF | 0xC3..=0xC9)
}

/// `lit` occurs in `buf` at `at` (a plain loop: the literals are short, a `memcmp` call costs
/// more than the comparison).
#[inline]
fn eq_at(buf: &[u8], at: usize, lit: &[u8]) -> bool {
    match buf.get(at..at + lit.len()) {
        Some(h) => h.iter().zip(lit).all(|(a, b)| a == b),
        None => false,
    }
}

/// The cheap checks `fire` makes first for the punctuation classes, done in the scan loop.
/// They look at no more than four bytes before and one after `i` (always kept and always
/// inside the trigger's window), so they do not depend on chunking.
#[inline(always)]
fn class_worth(bit: u16, buf: &[u8], i: usize) -> bool {
    let next = buf.get(i + 1).copied().unwrap_or(0);
    match bit {
        C_PLUS | C_PAREN => (i == 0 || !alnum(buf[i - 1])) && next.is_ascii_digit(),
        // `%` stands for `@` only as `%40`.
        C_AT if buf[i] == b'%' => {
            next == b'4'
                && buf.get(i + 2) == Some(&b'0')
                && buf.get(i + 3).is_some_and(|&b| alnum(b))
        }
        C_AT => alnum(next),
        // The next byte first: it turns away most `:` and `-` of text (`"ts":"`, `key: v`,
        // `a - b`) before any look-back.
        C_COLON => {
            if !(next.is_ascii_hexdigit() || next == b':') {
                return false;
            }
            // IPv6 and MAC both need a second colon within the next five bytes.
            let mut k = i + 1;
            while k < i + 5 && buf.get(k).is_some_and(u8::is_ascii_hexdigit) {
                k += 1;
            }
            if buf.get(k) != Some(&b':') {
                return false;
            }
            let mut h = 0;
            while h < 4 && i > h && buf[i - h - 1].is_ascii_hexdigit() {
                h += 1;
            }
            hex_lead_ok(buf, i - h)
        }
        // A MAC's dash follows exactly two hex digits and comes before a third.
        C_DASH if buf[i] == b'-' => {
            next.is_ascii_hexdigit()
                && i >= 2
                && buf[i - 1].is_ascii_hexdigit()
                && buf[i - 2].is_ascii_hexdigit()
                && hex_lead_ok(buf, i - 2)
        }
        C_DASH => cisco_mac_worth(buf, i),
        _ => true,
    }
}

/// The dot at `i` may be the first of a MAC address in Cisco's form (`0011.22aa.bbcc`): four
/// hex digits not glued to a larger token before it, a hex digit after it and the next dot
/// five bytes on (not the dot of a price, `1500.00`). Out of line: inline, the same checks
/// cost 3.2% more instructions on the low-density corpus than no dot trigger at all, out of
/// line 1.9% (the loop's layout, not the dots: 16 MiB of that corpus hold 70,971).
#[inline(never)]
fn cisco_mac_worth(buf: &[u8], i: usize) -> bool {
    i >= 4
        && buf.get(i + 5) == Some(&b'.')
        && buf.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
        && buf[i - 4..i].iter().all(u8::is_ascii_hexdigit)
        && hex_lead_ok(buf, i - 4)
}

/// The digit run at `i` comes after one space and another digit run, the lead: whether it
/// starts a value of its own rather than continuing a digit-group sequence (`4111 1111 ...`,
/// `DE89 3704 ...`, `123 45 6789`), which the trigger where that sequence starts covers. It
/// does when the lead ends a token of other separators (`10.0.0.1 10.0.0.2`, `2024-01-15
/// 4111 ...`, `555-0132 4111 ...`, `10:23:45 4111 ...`), and when the lead is a number of one
/// to three digits standing alone (`qty 3 4111 1111 1111 1111`, `room 101 555-123-4567`): no
/// value has a group that short ahead of this run's. A lead of exactly four digits standing
/// alone (`2024 4111 1111 1111 1111`) may be the first group of the same value (cards print
/// four digits first; the card validator tries the sequence without it); one of five or more
/// standing alone cannot be (`00042 4111 1111 1111 1111` in a fixed-width record: no grouped
/// value starts with such a group), so the run starts a value. A lead glued to a letter (`DE89 3704`, `v3 4111`) or after a space and a
/// digit is part of a sequence (`3782 822463 10005`); one after another separator and a digit
/// stands alone (`cache-1\n22600 6011 ...`). A run
/// of seven or more digits starts a value whatever its lead (`1500 4111111111111111`,
/// fixed-width records): only an E.164 subscriber number has a later group that long
/// (`+49 1512 3456789`), and that value starts at its `+`, a trigger of its own. Looks back
/// at most 27 bytes and on at most seven (inside every window of a digit trigger).
#[inline]
fn starts_after_number(buf: &[u8], i: usize) -> bool {
    debug_assert!(i >= 2 && buf[i - 1] == b' ' && buf[i - 2].is_ascii_digit());
    if buf
        .get(i..i + 7)
        .is_some_and(|r| r.iter().all(u8::is_ascii_digit))
    {
        return true;
    }
    let mut j = i - 1;
    while i - 1 - j <= 24 && j > 0 && buf[j - 1].is_ascii_digit() {
        j -= 1;
    }
    let lead = i - 1 - j;
    if lead > 24 {
        return false;
    }
    if j == 0 {
        return lead != 4;
    }
    let c = buf[j - 1];
    if alnum(c) {
        return false;
    }
    if j >= 2 && buf[j - 2].is_ascii_digit() {
        match c {
            b'.' | b'-' | b'/' | b':' | b',' => return true,
            b' ' => return false,
            // A line break, a tab, `|`...: the lead stands alone (`cache-1\n22600 6011 ...`).
            _ => {}
        }
    }
    lead != 4
}

/// `w[c]` is the colon after the user name of a URI (`scheme://user:`), so what follows up to
/// an `@` is a password (`uri_password`), not the local part of an e-mail address: masking
/// `pass@db.example.com` as one would hide the host too. The user name is what `uri_password`
/// allows (`[^:/@\s]{0,128}`: `redis://:pw@host` has none); the window holds `BACK_TOTAL`
/// bytes before the `@`, more than the 64 of a local part, a colon, the user name and `://`.
fn uri_user_before(w: &[u8], c: usize) -> bool {
    let mut u = c;
    while c - u < 128
        && u > 0
        && !matches!(
            w[u - 1],
            b':' | b'/' | b'@' | b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c
        )
    {
        u -= 1;
    }
    u >= 3 && w[u - 3..u] == *b"://"
}

/// `w[a]`, the byte before an e-mail local part, is the colon after a URI's user name or a
/// byte of its password (`scheme://user:P@ss@host`, `scheme://u:pa:ss@host`): `uri_password`
/// runs to the last `@` before the host, so the local part is password, not an address.
/// Looks back over the password (no blank or `/`, at most 256 bytes, and only as far as the
/// window goes: a pure function of the window, whatever the chunking) for that colon.
fn in_uri_password(w: &[u8], a: usize) -> bool {
    let mut c = a;
    loop {
        if w[c] == b':' && uri_user_before(w, c) {
            return true;
        }
        if c == 0
            || a - c >= 256
            || matches!(w[c - 1], b'/' | b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
        {
            return false;
        }
        c -= 1;
    }
}

/// The hex group of an IPv6 address or a MAC starting at `s` is not glued to a larger token
/// (an alphanumeric, which also means no further hex digit, or `:` `.` `-` before it).
#[inline(always)]
fn hex_lead_ok(buf: &[u8], s: usize) -> bool {
    s == 0 || !(alnum(buf[s - 1]) || matches!(buf[s - 1], b':' | b'.' | b'-'))
}

const LO: u64 = 0x0101_0101_0101_0101;
const HI: u64 = 0x8080_8080_8080_8080;

/// Marks (high bit of each byte) the bytes of `x` in `$ % & ' ( ) * + , - . / 0-9 : ; < = > ?`,
/// in `@ A-K`, `_` or `~`: every byte the built-in catalog triggers on (`$` of password hashes,
/// `%` of `%40`, `~` of Azure AD and OpenShift tokens), plus a few that the class table then
/// turns away (`&`, `'`, `>` and `?` are rare enough that one range test for `0x24..=0x4b` is
/// cheaper than more). Never a non-ASCII byte:
/// no built-in triggers on one, and text in other scripts would otherwise mark nearly every
/// byte (a custom first byte there is one of the block test's extra bytes). Exact per byte (no
/// carries cross bytes), safe code only.
#[inline(always)]
pub(crate) fn swar_candidates(x: u64) -> u64 {
    let v = x & !HI;
    // High bit of v + (0x80 - lo) is set exactly when the byte is >= lo (v <= 0x7f).
    let ge = |lo: u64| v + LO * (0x80 - lo);
    let gt = |hi: u64| v + LO * (0x7f - hi);
    let punct_digits_upper = ge(0x24) & !gt(0x4b);
    // A byte of `v ^ c` is zero exactly where `v` holds `c`; adding 0x7f sets the high bit
    // of every other byte (no carries: both are <= 0x7f).
    let is = |c: u64| !((v ^ (LO * c)) + LO * 0x7f);
    (punct_digits_upper | is(0x5f) | is(0x7e)) & !x & HI
}

/// Marks (high bit of each byte) the ASCII digits of `x`. Exact per byte, like
/// `swar_candidates`.
#[inline(always)]
pub(crate) fn swar_digits(x: u64) -> u64 {
    let v = x & !HI;
    (v + LO * (0x80 - 0x30)) & !(v + LO * (0x7f - 0x39)) & !x & HI
}

/// The length of the digit run at `i`, counted up to 9 (one word-wide test when eight
/// bytes are there).
#[inline(always)]
fn digits_upto9(buf: &[u8], i: usize) -> usize {
    if let Some(w) = buf.get(i..i + 8) {
        let x = u64::from_le_bytes([w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]]);
        let nd = !swar_digits(x) & HI;
        if nd != 0 {
            return (nd.trailing_zeros() / 8) as usize;
        }
        return 8 + usize::from(buf.get(i + 8).is_some_and(u8::is_ascii_digit));
    }
    let mut j = i;
    while j - i < 9 && buf.get(j).is_some_and(u8::is_ascii_digit) {
        j += 1;
    }
    j - i
}

/// The byte after a match must not continue it.
fn end_ok(w: &[u8], e: usize) -> bool {
    let Some(&b) = w.get(e) else { return true };
    if alnum(b) {
        return false;
    }
    !((b == b'-' || b == b'.') && w.get(e + 1).is_some_and(u8::is_ascii_digit))
}

impl Scratch {
    pub(crate) fn new(engine: &Engine) -> Scratch {
        let mut caches = Vec::with_capacity(engine.dets.len());
        let mut caps = Vec::with_capacity(engine.dets.len());
        for d in &engine.dets {
            match &d.verify {
                Verify::Regex { re, vgroup } => {
                    caches.push(Some(re.create_cache()));
                    caps.push(vgroup.map(|_| re.create_captures()));
                }
                Verify::Native(_) | Verify::Keyword => {
                    caches.push(None);
                    caps.push(None);
                }
            }
        }
        Scratch { caches, caps }
    }
}

impl Caches<'_> {
    fn search(&mut self, d: usize, re: &meta::Regex, inp: &Input<'_>) -> Option<(usize, usize)> {
        let m = match self {
            Caches::Pool => re.search(inp),
            Caches::Own(s) => match s.caches.get_mut(d).and_then(Option::as_mut) {
                Some(c) => re.search_with(c, inp),
                None => re.search(inp),
            },
        }?;
        Some((m.start(), m.end()))
    }

    fn group(
        &mut self,
        d: usize,
        re: &meta::Regex,
        inp: &Input<'_>,
        g: usize,
    ) -> Option<(usize, usize)> {
        let span = match self {
            Caches::Own(s) => {
                let (Some(Some(cache)), Some(Some(caps))) =
                    (s.caches.get_mut(d), s.caps.get_mut(d))
                else {
                    return None;
                };
                re.search_captures_with(cache, inp, caps);
                caps.get_group(g)
            }
            Caches::Pool => {
                let mut caps = re.create_captures();
                re.search_captures(inp, &mut caps);
                caps.get_group(g)
            }
        }?;
        Some((span.start, span.end))
    }
}

impl Engine {
    #[inline]
    fn ahead(&self, src: Src) -> usize {
        match src {
            Src::Class(bit) => self.class_ahead[bit.trailing_zeros() as usize],
            Src::Lit { set, pat } => self.lits[usize::from(set)].pat_ahead[pat as usize],
            Src::ALit(i) => self.alits[usize::from(i)].ahead,
            Src::Assign { kw, .. } => self.kws[usize::from(kw)].ahead,
        }
    }

    /// Runs discovery and verification as far as the buffered input allows.
    ///
    /// `buf` holds the input from absolute offset `base`; `fin` says it is the end of input.
    pub(crate) fn advance(
        &self,
        st: &mut ScanState,
        buf: &[u8],
        base: usize,
        fin: bool,
        caches: &mut Caches<'_>,
    ) {
        self.discover(st, buf, base, fin, caches);
        if !st.found.is_empty() {
            // By span only: `insert` gives the same clusters in any order (the union of what
            // overlaps, named by `better`), and detections of one span by two detectors (a
            // JWT after `Authorization: Bearer`, found from the `:` and from `eyJ`) come in
            // trigger order, so this stays the already-sorted pass it usually is.
            st.found.sort_unstable_by_key(|&(s, e, _)| (s, e));
            for &(s, e, d) in &st.found {
                insert_detection(&mut st.clusters, s, e, d, &self.dets, self.region);
            }
            st.found.clear();
        }
    }

    fn discover(
        &self,
        st: &mut ScanState,
        buf: &[u8],
        base: usize,
        fin: bool,
        caches: &mut Caches<'_>,
    ) {
        let end = base + buf.len();
        let mut i = 0;
        while i < st.deferred.len() {
            let tr = st.deferred[i];
            if fin || tr.t + self.ahead(tr.src) <= end {
                st.deferred.swap_remove(i);
                self.fire(tr, st, buf, base, caches);
            } else {
                i += 1;
            }
        }
        let lim = if fin {
            end
        } else {
            end.saturating_sub(self.lag)
        };
        if lim <= st.pos {
            return;
        }
        self.scan_classes(st, buf, base, lim, fin, caches);
        if st.lit_resume.len() != self.lits.len() {
            st.lit_resume.resize(self.lits.len(), 0);
        }
        for (set_idx, set) in self.lits.iter().enumerate() {
            // Leftmost-longest, non-overlapping (so the packed prefilter applies). A round
            // resumes at max(lim, end of the last accepted match): exactly where a search over
            // the whole input would be, so chunking cannot change which literals are found.
            let from = st.pos.max(st.lit_resume[set_idx]);
            let to = (lim + set.max_lit).min(end);
            let mut resume = lim;
            if from < to {
                let inp = aho_corasick::Input::new(&buf[..to - base]).span(from - base..to - base);
                for m in set.ac.find_iter(inp) {
                    let t = base + m.start();
                    if t >= lim {
                        break;
                    }
                    resume = resume.max(base + m.end());
                    // Set and pattern indices are bounded by u16/u32 at build time.
                    let src = Src::Lit {
                        set: set_idx as u16,
                        pat: m.pattern().as_u32(),
                    };
                    self.fire_or_defer(Trigger { t, src }, st, buf, base, fin, caches);
                }
            }
            st.lit_resume[set_idx] = resume.max(st.lit_resume[set_idx]);
        }
        st.pos = lim;
    }

    fn scan_classes(
        &self,
        st: &mut ScanState,
        buf: &[u8],
        base: usize,
        lim: usize,
        fin: bool,
        caches: &mut Caches<'_>,
    ) {
        let tbl = &self.class;
        let stop = lim - base;
        let hay = &buf[..stop];
        let mut i = st.pos - base;
        if self.swar {
            i = if self.digit_runs {
                self.scan_blocks::<true>(st, buf, base, stop, fin, caches, i)
            } else {
                self.scan_blocks::<false>(st, buf, base, stop, fin, caches, i)
            };
        }
        while i < stop {
            let b = hay[i];
            let c = tbl[usize::from(b)];
            i = if c == 0 {
                i + 1
            } else {
                self.step(st, buf, base, stop, fin, caches, i, b, c)
            };
        }
    }

    /// The block scan from `i` to `stop` (see `scan_classes`); returns where it ended.
    /// `TRIM` is `digit_runs`: two copies of the loop, so the common one carries no
    /// run-skipping checks.
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    fn scan_blocks<const TRIM: bool>(
        &self,
        st: &mut ScanState,
        buf: &[u8],
        base: usize,
        stop: usize,
        fin: bool,
        caches: &mut Caches<'_>,
        mut i: usize,
    ) -> usize {
        let tbl = &self.class;
        let hay = &buf[..stop];
        // 64 bytes at a time: the block test (`block::classify`, plus the custom first
        // bytes outside its set, `extra`) marks the bytes that may trigger (a superset of
        // the class table) and the digits, then only the marked bytes are looked at.
        // When every digit is exactly `C_DIGIT` (`digit_runs`), every digit whose previous
        // byte is a digit is unmarked (`step` would skip it): `prev` carries the last
        // byte's digit bit into the next block; before the first byte of the buffer it is
        // set unless the input starts there, as `step`'s `run_start` has it. Otherwise
        // `step` looks at each run start and steps over the run, and the scan goes on
        // after it. The last partial block is copied into zeros (never marked unless zero
        // is an extra byte, and those bits lie past `stop` and are cleared).
        let mut prev: u64 = if i > 0 {
            u64::from(buf[i - 1].is_ascii_digit())
        } else {
            u64::from(base > 0)
        };
        let mut tail = [0u8; BLOCK];
        while i < stop {
            let blk = i;
            let (w, valid) = match hay[i..].first_chunk::<BLOCK>() {
                Some(w) => {
                    i += BLOCK;
                    (w, !0u64)
                }
                None => {
                    let n = stop - i;
                    tail[..n].copy_from_slice(&hay[i..]);
                    i = stop;
                    (&tail, (1u64 << n) - 1)
                }
            };
            let (mut cand, d) = classify(w);
            if !self.extra.is_empty() {
                cand |= classify_extra(w, &self.extra);
            }
            let mut m = if TRIM {
                cand & !(d & (d << 1 | prev))
            } else {
                cand
            } & valid;
            prev = d >> 63;
            while m != 0 {
                let j = blk + m.trailing_zeros() as usize;
                m &= m - 1;
                let b = hay[j];
                let c = tbl[usize::from(b)];
                if TRIM && c == C_DIGIT {
                    // The start of a digit run (the mask above): nothing to skip.
                    self.digit_trigger(st, buf, base, fin, caches, j);
                } else if c != 0 {
                    let next = self.step(st, buf, base, stop, fin, caches, j, b, c);
                    if !TRIM && next > j + 1 {
                        // A digit run was stepped over (only without `TRIM`).
                        if next >= blk + BLOCK {
                            i = next;
                            break;
                        }
                        m &= !0u64 << (next - blk);
                    }
                }
            }
        }
        i
    }

    /// Handles trigger byte `b` (classes `c`) at `i`; returns where the scan goes on.
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    fn step(
        &self,
        st: &mut ScanState,
        buf: &[u8],
        base: usize,
        stop: usize,
        fin: bool,
        caches: &mut Caches<'_>,
        mut i: usize,
        b: u8,
        c: u16,
    ) -> usize {
        let t = base + i;
        if c & C_DIGIT != 0 {
            let run_start = i == 0 && base == 0 || i > 0 && !buf[i - 1].is_ascii_digit();
            if run_start {
                self.digit_trigger(st, buf, base, fin, caches, i);
            }
            if c & C_CUSTOM == 0 {
                i += 1;
                while i < stop && buf[i].is_ascii_digit() {
                    i += 1;
                }
                return i;
            }
        }
        const PUNCT: u16 = C_PLUS | C_PAREN | C_AT | C_COLON | C_DASH | C_CUSTOM;
        let mut bits = c & PUNCT;
        while bits != 0 {
            let bit = bits & bits.wrapping_neg();
            bits &= bits - 1;
            {
                if class_worth(bit, buf, i) {
                    self.fire_or_defer(
                        Trigger {
                            t,
                            src: Src::Class(bit),
                        },
                        st,
                        buf,
                        base,
                        fin,
                        caches,
                    );
                }
            }
        }
        if c & C_ANCHOR != 0 {
            let lits = self.anchor_candidates(buf, i, b);
            if !lits.is_empty() {
                self.anchored_literals(st, buf, base, fin, caches, i, lits);
            }
        }
        if c & C_ASSIGN != 0 {
            let mut j = i;
            while i - j < 3
                && j > 0
                && matches!(buf[j - 1], b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
            {
                j -= 1;
            }
            if j > 0 && matches!(buf[j - 1], b'"' | b'\'') {
                j -= 1;
            }
            let pair_ok = |j: usize| {
                let p = usize::from(buf[j - 2]) << 8 | usize::from(buf[j - 1]);
                self.kw_pairs[p >> 6] >> (p & 63) & 1 != 0
            };
            if j == 1 || j >= 2 && pair_ok(j) {
                for &kw in &self.kw_by_last[usize::from(buf[j - 1])] {
                    let k = &self.kws[usize::from(kw)].bytes;
                    if j >= k.len() && buf[j - k.len()..j].eq_ignore_ascii_case(k) {
                        // The gap is at most ASSIGN_GAP and keywords are short (checked at
                        // build time), so `back` fits.
                        let back = (i - (j - k.len())) as u16;
                        self.fire_or_defer(
                            Trigger {
                                t,
                                src: Src::Assign { kw, back },
                            },
                            st,
                            buf,
                            base,
                            fin,
                            caches,
                        );
                    }
                }
            }
        }
        i + 1
    }

    /// Compares the literals `lits` anchored at `i` (those its neighbours allow) in place
    /// and fires those that are there. Out of line: it runs for a few percent of the marked
    /// bytes, and kept inline it cost the scan loop registers.
    #[inline(never)]
    #[allow(clippy::too_many_arguments)]
    fn anchored_literals(
        &self,
        st: &mut ScanState,
        buf: &[u8],
        base: usize,
        fin: bool,
        caches: &mut Caches<'_>,
        i: usize,
        lits: &[u16],
    ) {
        for &li in lits {
            let l = &self.alits[usize::from(li)];
            // Discovery lags by at least the longest literal, and the buffer keeps
            // BACK_TOTAL bytes before `st.pos`: the comparison sees the same bytes
            // however the input was chunked. The byte before the anchor first (the pair
            // index already matched it; this guards the start of the input).
            if i >= l.k && l.before.is_none_or(|p| buf[i - 1] == p) && eq_at(buf, i - l.k, &l.bytes)
            {
                self.fire_or_defer(
                    Trigger {
                        t: base + i,
                        src: Src::ALit(li),
                    },
                    st,
                    buf,
                    base,
                    fin,
                    caches,
                );
            }
        }
    }

    /// The digit trigger at `i`, the first digit of a run: fired when `digit_worth` lets it.
    #[inline(always)]
    fn digit_trigger(
        &self,
        st: &mut ScanState,
        buf: &[u8],
        base: usize,
        fin: bool,
        caches: &mut Caches<'_>,
        i: usize,
    ) {
        let mut tok = None;
        if self.digit_worth(buf, i, &mut tok) {
            // `fire` reuses the token when it runs now (see `digit_worth`).
            st.tok = tok;
            self.fire_or_defer(
                Trigger {
                    t: base + i,
                    src: Src::Class(C_DIGIT),
                },
                st,
                buf,
                base,
                fin,
                caches,
            );
            st.tok = None;
        }
    }

    /// The literals anchored at byte `b` at `i` that the bytes beside it allow: the byte
    /// before picks a short list out of the (often many) literals sharing the anchor (`_`
    /// anchors nineteen, `-` fifteen), and a bit set over `(anchor, after)` pairs turns away
    /// most of the rest without comparing any.
    #[inline(always)]
    fn anchor_candidates(&self, buf: &[u8], i: usize, b: u8) -> &[u16] {
        if let Some(&n) = buf.get(i + 1) {
            let p = usize::from(b) << 8 | usize::from(n);
            if self.pair_next[p >> 6] >> (p & 63) & 1 == 0 {
                return &[];
            }
        }
        if i == 0 {
            return &self.alit_by_byte[usize::from(b)];
        }
        let slot = usize::from(self.alit_slot[usize::from(b)]);
        let (s, e) = self.alit_pairs[slot << 8 | usize::from(buf[i - 1])];
        &self.alit_ids[s as usize..e as usize]
    }

    /// The cheap half of the digit trigger's checks in `fire`, done in the scan loop so that
    /// digit runs glued to a larger token cost no call. Looks back no further than
    /// `buf[i - 27..i]`, which the stream always keeps, so the answer does not depend on
    /// chunking.
    #[inline(always)]
    fn digit_worth(&self, buf: &[u8], i: usize, tok_out: &mut Option<(Token, u8)>) -> bool {
        if i == 0 {
            return true;
        }
        let p = buf[i - 1];
        // Two uppercase letters (and maybe a space) before the run: IBAN and NINO look there.
        let ld = !self.letter_digit_dets.is_empty();
        if alnum(p) {
            // Glued to a larger token, unless it is that lead.
            return ld && i >= 2 && upper(p) && upper(buf[i - 2]) && (i == 2 || !alnum(buf[i - 3]));
        }
        if p == b' ' {
            if ld
                && i >= 3
                && upper(buf[i - 2])
                && upper(buf[i - 3])
                && (i == 3 || !alnum(buf[i - 4]))
            {
                return true;
            }
            if i >= 2 && buf[i - 2].is_ascii_digit() && !starts_after_number(buf, i) {
                return false;
            }
        } else if matches!(p, b'-' | b'.' | b'/' | b'_') && i >= 2 && alnum(buf[i - 2]) {
            return false;
        }
        // Every digit shape needs nine digits in one group or a second group (`Token`): a
        // shorter run that no separator and digit follow is nothing (`req":1234,`).
        let j = i + digits_upto9(buf, i);
        if j - i < 9
            && !(matches!(buf.get(j), Some(b' ' | b'-' | b'.'))
                && buf.get(j + 1).is_some_and(u8::is_ascii_digit))
        {
            return false;
        }
        // The token's shape must suit one detector. `Token::scan` reads at most 48 bytes on,
        // inside the trigger's window (which reaches at least 50), so when the trigger fires
        // now (its window complete, or the input ending) this is the token `fire` would scan.
        let tok = Token::scan(buf, i);
        let roles = tok.roles();
        *tok_out = Some((tok, roles));
        roles & self.digit_roles != 0
    }

    fn fire_or_defer(
        &self,
        tr: Trigger,
        st: &mut ScanState,
        buf: &[u8],
        base: usize,
        fin: bool,
        caches: &mut Caches<'_>,
    ) {
        if fin || tr.t + self.ahead(tr.src) <= base + buf.len() {
            self.fire(tr, st, buf, base, caches);
        } else {
            st.deferred.push(tr);
        }
    }

    /// Verifies one trigger inside its window and records what it finds.
    fn fire(
        &self,
        tr: Trigger,
        st: &mut ScanState,
        buf: &[u8],
        base: usize,
        caches: &mut Caches<'_>,
    ) {
        let end = base + buf.len();
        // The stream keeps BACK_TOTAL bytes before every undecided trigger, so `ws >= base`
        // unless the input starts later than that (then both are 0-based clips).
        let ws = tr.t.saturating_sub(BACK_TOTAL).max(base);
        let we = (tr.t + self.ahead(tr.src)).min(end);
        let w = &buf[ws - base..we - base];
        let r = tr.t - ws;
        // The matchers share the stream's run memo (`shapes::RunMemo`).
        let memo = Some((Cell::from_mut(&mut st.run_memo), ws));
        let found = |d: u16, s: usize, e: usize, out: &mut Vec<(usize, usize, u16)>| {
            out.push((ws + s, ws + e, d));
        };
        match tr.src {
            Src::Lit { set, pat } => {
                let set = &self.lits[usize::from(set)];
                let len = set.pat_len[pat as usize];
                for &d in &set.pat_dets[pat as usize] {
                    if let Some((s, e)) = self.attempt(d, w, r, len, caches, memo) {
                        found(d, s, e, &mut st.found);
                    }
                }
            }
            Src::ALit(li) => {
                let l = &self.alits[usize::from(li)];
                for &d in &l.dets {
                    // The match starts `lead` bytes before the literal (a token's head).
                    let Some(a) = r.checked_sub(l.k + self.dets[usize::from(d)].lead) else {
                        continue;
                    };
                    if let Some((s, e)) = self.attempt(d, w, a, l.bytes.len(), caches, memo) {
                        found(d, s, e, &mut st.found);
                    }
                }
            }
            Src::Assign { kw, back } => {
                let back = usize::from(back);
                if r < back {
                    return;
                }
                for &d in &self.kws[usize::from(kw)].dets {
                    if let Some((s, e)) = self.attempt(d, w, r - back, 0, caches, memo) {
                        found(d, s, e, &mut st.found);
                    }
                }
            }
            Src::Class(C_DIGIT) => {
                if !self.letter_digit_dets.is_empty() {
                    let lead = |k: usize| {
                        r >= k
                            && upper(w[r - k + 1])
                            && upper(w[r - k])
                            && (r == k || !alnum(w[r - k - 1]))
                    };
                    if r >= 2 && lead(2) {
                        for &d in &self.letter_digit_dets {
                            if let Some((s, e)) = self.attempt(d, w, r - 2, 0, caches, memo) {
                                found(d, s, e, &mut st.found);
                            }
                        }
                    }
                    if r >= 3
                        && w[r - 1] == b' '
                        && upper(w[r - 2])
                        && upper(w[r - 3])
                        && (r == 3 || !alnum(w[r - 4]))
                    {
                        for &d in &self.letter_digit_dets {
                            if let Some((s, e)) = self.attempt(d, w, r - 3, 0, caches, memo) {
                                found(d, s, e, &mut st.found);
                            }
                        }
                    }
                }
                if r > 0 {
                    let p = w[r - 1];
                    // Part of a larger token (`ORD-4111...`, `v1.2`), or the next group of a
                    // digit-group sequence (`DE00 0410 6365 ...`): not a start (but see
                    // `starts_after_number`: `qty 3 4111 ...`, `10.0.0.1 10.0.0.2`).
                    if alnum(p)
                        || matches!(p, b'-' | b'.' | b'/' | b'_') && r >= 2 && alnum(w[r - 2])
                        || p == b' '
                            && r >= 2
                            && w[r - 2].is_ascii_digit()
                            && !starts_after_number(w, r)
                    {
                        return;
                    }
                }
                let (_, roles) = st.tok.take().unwrap_or_else(|| {
                    let tok = Token::scan(w, r);
                    (tok, tok.roles())
                });
                for &(d, role) in &self.digit_dets {
                    if roles & role_bit(role) != 0
                        && let Some((s, e)) = self.attempt(d, w, r, 0, caches, memo)
                    {
                        found(d, s, e, &mut st.found);
                    }
                }
            }
            Src::Class(C_PLUS | C_PAREN) => {
                if (r == 0 || !alnum(w[r - 1])) && w.get(r + 1).is_some_and(u8::is_ascii_digit) {
                    for &d in &self.phone_dets {
                        if let Some((s, e)) = self.attempt(d, w, r, 0, caches, memo) {
                            found(d, s, e, &mut st.found);
                        }
                    }
                }
            }
            Src::Class(C_AT) => {
                let after = if w[r] == b'%' { r + 3 } else { r + 1 };
                if w[r] == b'%' && w.get(r + 1..r + 3) != Some(b"40")
                    || !w.get(after).copied().is_some_and(alnum)
                {
                    return;
                }
                let mut j = r;
                while j > 0 && r - j < 64 && local_part(w[j - 1]) {
                    j -= 1;
                }
                if j > 0 && local_part(w[j - 1]) {
                    return; // longer than 64 bytes: not a local part
                }
                // Not from the middle of a character (`中zhang@`: the continuation bytes of a
                // letter outside Latin come before `zhang`), nor from a dot.
                while j < r && matches!(w[j], b'.' | 0x80..=0xBF) {
                    j += 1;
                }
                if j == r || j > 0 && matches!(w[j - 1], b':' | b'@') && in_uri_password(w, j - 1) {
                    return;
                }
                for &d in &self.at_dets {
                    if let Some((s, e)) = self.attempt(d, w, j, 0, caches, memo) {
                        found(d, s, e, &mut st.found);
                    }
                }
            }
            Src::Class(bit @ (C_COLON | C_DASH)) => {
                let mut h = 0;
                while h < 4 && r > h && w[r - h - 1].is_ascii_hexdigit() {
                    h += 1;
                }
                let s = r - h;
                if s > 0 && (alnum(w[s - 1]) || matches!(w[s - 1], b':' | b'.' | b'-')) {
                    return;
                }
                let next = w.get(r + 1).copied().unwrap_or(0);
                if bit == C_COLON && (next.is_ascii_hexdigit() || next == b':') {
                    for &d in &self.colon_dets {
                        if let Some((s, e)) = self.attempt(d, w, s, 0, caches, memo) {
                            found(d, s, e, &mut st.found);
                        }
                    }
                } else if bit == C_DASH
                    && h == if w[r] == b'.' { 4 } else { 2 }
                    && next.is_ascii_hexdigit()
                {
                    for &d in &self.mac_dets {
                        if let Some((s, e)) = self.attempt(d, w, s, 0, caches, memo) {
                            found(d, s, e, &mut st.found);
                        }
                    }
                }
            }
            Src::Class(C_CUSTOM) => {
                for &d in &self.custom_byte[usize::from(w[r])] {
                    if let Some((s, e)) = self.attempt(d, w, r, 0, caches, memo) {
                        found(d, s, e, &mut st.found);
                    }
                }
            }
            Src::Class(_) => {}
        }
    }

    /// Tries detector `d` anchored at `r` in window `w`; returns the span to mask.
    #[inline(always)]
    fn attempt(
        &self,
        d: u16,
        w: &[u8],
        r: usize,
        kw_len: usize,
        caches: &mut Caches<'_>,
        memo: Memo<'_>,
    ) -> Option<(usize, usize)> {
        let det = &self.dets[usize::from(d)];
        if det.start_boundary && r > 0 && alnum(w[r - 1]) {
            return None;
        }
        let span_end = (r + det.max_len).min(w.len());
        let (ms, me) = match &det.verify {
            Verify::Native(m) => m.find(w, r, span_end, memo)?,
            Verify::Regex { re, vgroup } => {
                let inp = Input::new(w).range(r..span_end).anchored(Anchored::Yes);
                match vgroup {
                    None => caches.search(usize::from(d), re, &inp)?,
                    Some(g) => caches.group(usize::from(d), re, &inp, *g)?,
                }
            }
            Verify::Keyword => (r, (r + kw_len).min(w.len())),
        };
        if me <= ms {
            return None;
        }
        let (s, e) = validate::run(
            det.validator,
            &VCtx {
                win: w,
                s: ms,
                e: me,
            },
        )?;
        if det.end_boundary && !(det.unbounded && e == r + det.max_len) && !end_ok(w, e) {
            return None;
        }
        if let Some((words, n)) = &det.context
            && !validate::has_context(w, s, words, *n)
        {
            return None;
        }
        Some((s, e))
    }

    /// Writes out (or reports) everything that can no longer change.
    pub(crate) fn drain(
        &self,
        st: &mut ScanState,
        buf: &[u8],
        base: usize,
        fin: bool,
        sink: &mut Sink<'_>,
    ) {
        let end = base + buf.len();
        let frontier = if fin {
            end
        } else {
            let min_t = st
                .deferred
                .iter()
                .map(|t| t.t)
                .min()
                .unwrap_or(st.pos)
                .min(st.pos);
            min_t.saturating_sub(BACK_ANCHOR)
        };
        // Regions are written out whole, except one longer than `region` (detections that
        // overlap one another without end: `password=password=...`): it is masked piece by
        // piece, each piece named after its own winner, so that the stream keeps no more of
        // it than a piece. Pieces end at multiples of `region` (clusters never cross one), so
        // the cut does not depend on chunking. Findings need no bytes: such a region is still
        // reported whole (its start and winner so far are kept until its last piece).
        let mut k = 0;
        let n = st.clusters.len();
        let findings = matches!(sink, Sink::Findings(_));
        let mut write = |st: &mut ScanState, s: usize, e: usize, det: u16| {
            let det = &self.dets[usize::from(det)];
            match sink {
                Sink::Bytes(out) => {
                    out.extend_from_slice(&buf[st.emitted - base..s - base]);
                    strategy::apply(
                        &det.strategy,
                        &self.key,
                        &det.label,
                        &buf[s - base..e - base],
                        out,
                    );
                }
                Sink::Findings(out) => out.push(Finding {
                    start: s,
                    end: e,
                    detector: det.name.clone(),
                }),
            }
            st.emitted = e;
        };
        'regions: while k < n {
            let first = &st.clusters[k];
            let continues = first.cont && st.long_end == Some(first.s);
            let mut j = k + 1;
            while j < n && st.clusters[j].cont && st.clusters[j].s == st.clusters[j - 1].e {
                j += 1;
            }
            let (s, e) = (first.s, st.clusters[j - 1].e);
            if !continues && e - s <= self.region {
                // No later detection can reach a region that ends before the frontier.
                if e > frontier {
                    break;
                }
                let mut w = k;
                for x in k + 1..j {
                    if better(&st.clusters[x], &st.clusters[w], &self.dets) {
                        w = x;
                    }
                }
                let det = st.clusters[w].det;
                write(st, s, e, det);
                st.long_end = None;
                k = j;
                continue;
            }
            for x in k..j {
                let c = st.clusters[x];
                if c.e > frontier {
                    k = x;
                    break 'regions;
                }
                if findings {
                    st.long_find = Some(match st.long_find {
                        Some((s0, w)) if better(&c, &w, &self.dets) => (s0, c),
                        Some(found) => found,
                        None => (c.s, c),
                    });
                    st.emitted = c.e;
                } else {
                    write(st, c.s, c.e, c.det);
                }
                st.long_end = Some(c.e);
            }
            // Its last piece is written: no later detection can reach it.
            if let Some((s0, w)) = st.long_find.take() {
                write(st, s0, st.clusters[j - 1].e, w.det);
            }
            k = j;
        }
        st.clusters.drain(..k);
        let upto = st.clusters.first().map_or(frontier, |c| c.s.min(frontier));
        if upto > st.emitted {
            if let Sink::Bytes(out) = sink {
                out.extend_from_slice(&buf[st.emitted - base..upto - base]);
            }
            st.emitted = upto;
        }
    }

    /// The first absolute offset a stream must still keep.
    pub(crate) fn keep_from(&self, st: &ScanState) -> usize {
        let min_t = st
            .deferred
            .iter()
            .map(|t| t.t)
            .min()
            .unwrap_or(st.pos)
            .min(st.pos);
        st.emitted.min(min_t.saturating_sub(BACK_TOTAL))
    }
}

/// Inserts a detection: its parts between multiples of `region` (most detections have one),
/// each merged with the clusters it overlaps.
fn insert_detection(
    clusters: &mut Vec<Cluster>,
    s: usize,
    e: usize,
    d: u16,
    dets: &[Det],
    region: usize,
) {
    let mut a = s;
    while a < e {
        let b = e.min((a / region + 1) * region);
        let part = Cluster {
            s: a,
            e: b,
            det: d,
            det_s: s,
            det_len: e - s,
            cont: a > s,
        };
        insert(clusters, part, dets);
        a = b;
    }
}

/// Inserts one part of a detection (within one piece), merging it with every cluster it
/// overlaps (all of them in the same piece).
fn insert(clusters: &mut Vec<Cluster>, new: Cluster, dets: &[Det]) {
    let (s, e) = (new.s, new.e);
    let mut i = clusters.len();
    while i > 0 && clusters[i - 1].e > s {
        i -= 1;
    }
    let mut j = i;
    while j < clusters.len() && clusters[j].s < e {
        j += 1;
    }
    if i == j {
        clusters.insert(i, new);
        return;
    }
    let mut m = new;
    for c in &clusters[i..j] {
        m.s = m.s.min(c.s);
        m.e = m.e.max(c.e);
        // Only a cluster that starts at the piece's start can carry `cont`.
        m.cont |= c.cont;
        if better(c, &m, dets) {
            m.det = c.det;
            m.det_s = c.det_s;
            m.det_len = c.det_len;
        }
    }
    clusters[i] = m;
    clusters.drain(i + 1..j);
}

/// The winner rule: higher priority, then the longer detection, then the earlier one, then
/// the detector declared first.
fn better(a: &Cluster, b: &Cluster, dets: &[Det]) -> bool {
    let pa = dets[usize::from(a.det)].priority;
    let pb = dets[usize::from(b.det)].priority;
    (
        pa,
        a.det_len,
        std::cmp::Reverse(a.det_s),
        std::cmp::Reverse(a.det),
    ) > (
        pb,
        b.det_len,
        std::cmp::Reverse(b.det_s),
        std::cmp::Reverse(b.det),
    )
}

/// One bit per digit role (see `Token::roles`).
#[inline]
pub(crate) fn role_bit(role: DigitRole) -> u8 {
    match role {
        DigitRole::Shape(Shape::Card) => 1,
        DigitRole::Shape(Shape::Nine) => 2,
        DigitRole::Shape(Shape::Ipv4) => 4,
        DigitRole::Phone => 8,
    }
}

/// The shape of a digit token: digit groups joined by single separators.
#[derive(Clone, Copy)]
struct Token {
    /// Digits seen at the end of each group (cumulative).
    cum: [u8; 8],
    /// The separator after each group.
    sep: [u8; 8],
    groups: usize,
    /// Digits before the first dot between groups (all of them when there is none).
    before_dot: u8,
}

impl Token {
    fn scan(w: &[u8], r: usize) -> Token {
        let mut t = Token {
            cum: [0; 8],
            sep: [0; 8],
            groups: 0,
            before_dot: u8::MAX,
        };
        let mut i = r;
        let mut n: u8 = 0;
        let stop = (r + 48).min(w.len());
        while t.groups < 8 {
            while i < stop && w[i].is_ascii_digit() {
                n += 1;
                i += 1;
            }
            t.cum[t.groups] = n;
            let sep = if i + 1 < stop
                && matches!(w[i], b' ' | b'-' | b'.')
                && w[i + 1].is_ascii_digit()
            {
                w[i]
            } else {
                0
            };
            t.sep[t.groups] = sep;
            t.groups += 1;
            if sep == b'.' {
                t.before_dot = t.before_dot.min(n);
            }
            if sep == 0 {
                break;
            }
            i += 1;
        }
        t
    }

    /// `plausible` for every role at once (bits as `role_bit`).
    fn roles(&self) -> u8 {
        [
            DigitRole::Shape(Shape::Card),
            DigitRole::Shape(Shape::Nine),
            DigitRole::Shape(Shape::Ipv4),
            DigitRole::Phone,
        ]
        .into_iter()
        .fold(0, |m, r| {
            if self.plausible(r) {
                m | role_bit(r)
            } else {
                m
            }
        })
    }

    fn plausible(&self, role: DigitRole) -> bool {
        let g = self.groups;
        let total = self.cum[g - 1];
        match role {
            // A card never has a dot between groups: a dot ends it (`4111 1111 1111 1111
            // 1.5`), so the digits before the first one count.
            DigitRole::Shape(Shape::Card) => self.before_dot.min(total) >= 12,
            DigitRole::Shape(Shape::Nine) => {
                self.cum[..g.min(3)].contains(&9) && self.sep[..g.min(3)].iter().all(|&s| s != b'.')
            }
            DigitRole::Shape(Shape::Ipv4) => g >= 4 && self.sep[..3].iter().all(|&s| s == b'.'),
            // Ten digits, with `1` eleven, with `001` thirteen.
            DigitRole::Phone => {
                g >= 3
                    && self.cum[..g.min(5)]
                        .iter()
                        .any(|&c| c == 10 || c == 11 || c == 13 && self.cum[0] == 3)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Cluster, digits_upto9, insert_detection, swar_candidates, swar_digits};

    /// Detections are cut at multiples of the region size; a cluster that starts at one keeps
    /// saying that a detection crosses it, whatever merges into it and in whatever order.
    #[test]
    fn clusters_never_cross_a_piece_boundary() {
        let m = crate::Masker::builder().build().unwrap();
        let dets = &m.engine.dets;
        let spans = |c: &[Cluster]| -> Vec<(usize, usize, bool)> {
            c.iter().map(|c| (c.s, c.e, c.cont)).collect()
        };
        for order in [[0, 1, 2], [2, 1, 0], [1, 2, 0]] {
            let found = [(60, 70, 0u16), (66, 80, 1), (150, 200, 2)];
            let mut cl = Vec::new();
            for i in order {
                let (s, e, d) = found[i];
                insert_detection(&mut cl, s, e, d, dets, 64);
            }
            assert_eq!(
                spans(&cl),
                [
                    (60, 64, false),
                    (64, 80, true),
                    (150, 192, false),
                    (192, 200, true)
                ],
                "{order:?}"
            );
        }
    }

    #[test]
    fn digits_upto9_counts_the_run() {
        for s in [
            &b"1234567890123"[..],
            b"12345678",
            b"123456789",
            b"1234 5678901",
            b"",
            b"x1",
        ] {
            for i in 0..=s.len() {
                let mut want = 0;
                while want < 9 && s.get(i + want).is_some_and(u8::is_ascii_digit) {
                    want += 1;
                }
                assert_eq!(
                    digits_upto9(s, i),
                    want,
                    "{:?} at {i}",
                    String::from_utf8_lossy(s)
                );
            }
        }
    }

    #[test]
    fn swar_marks_exactly_its_set() {
        let want = |b: u8| (0x24..=0x4b).contains(&b) || b == b'_' || b == b'~';
        for b in 0..=255u8 {
            for pos in 0..8 {
                // Put the byte among neighbours that could disturb a sloppy carry.
                for fill in [0u8, 0x25, 0x27, 0x3e, 0x5f, 0x7f, 0xff] {
                    let mut w = [fill; 8];
                    w[pos] = b;
                    let m = swar_candidates(u64::from_le_bytes(w));
                    assert_eq!(m >> (pos * 8) & 0x80 != 0, want(b), "byte {b:#x} at {pos}");
                }
            }
        }
    }

    #[test]
    fn swar_digits_marks_exactly_digits() {
        for b in 0..=255u8 {
            for pos in 0..8 {
                for fill in [0u8, b'/', b':', b'0', b'9', 0xb0, 0xff] {
                    let mut w = [fill; 8];
                    w[pos] = b;
                    let m = swar_digits(u64::from_le_bytes(w));
                    for (k, &x) in w.iter().enumerate() {
                        assert_eq!(m >> (k * 8) & 0xff, u64::from(x.is_ascii_digit()) << 7);
                    }
                }
            }
        }
    }
}
