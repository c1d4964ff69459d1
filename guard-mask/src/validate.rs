//! Validators: the checks that regexes cannot express (checksums, number ranges, shapes).
//!
//! Each validator sees the whole trigger window and the span the detector's regex matched (or
//! its `v` group), and returns the span to mask, possibly shortened (a card number followed by
//! a year is cut back to the last group that makes a valid number), or `None`.
use crate::shapes::Matcher;

/// What a validator sees: the trigger window and the matched span inside it.
pub(crate) struct VCtx<'a> {
    pub(crate) win: &'a [u8],
    pub(crate) s: usize,
    pub(crate) e: usize,
}

impl VCtx<'_> {
    fn value(&self) -> &[u8] {
        &self.win[self.s..self.e]
    }
}

/// The validators of the built-in catalog.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Validator {
    None,
    Card,
    Ssn,
    Itin,
    Aba,
    Ein,
    Iban,
    Nino,
    Phone,
    Ipv6,
    Jwt,
    SecretValue,
    /// `SecretValue`, and an unquoted value of a line of its own runs to the line's end.
    Assigned,
    UriPassword,
    /// An Azure AD client secret stands apart from what is around it (see `token_apart`).
    AzureAd,
    /// An OpenShift token is not glued to `_` or `-` on either side (`\b` of other scanners).
    Openshift,
    /// A MAC address is not the start of a longer run of the same groups.
    Mac,
}

pub(crate) fn run(v: Validator, cx: &VCtx<'_>) -> Option<(usize, usize)> {
    let ok = |b: bool| if b { Some((cx.s, cx.e)) } else { None };
    match v {
        Validator::None => Some((cx.s, cx.e)),
        Validator::Card => card(cx),
        Validator::Ssn => nine(cx, ssn_ok, SSN_CONTEXT),
        Validator::Itin => nine(cx, itin_ok, ITIN_CONTEXT),
        Validator::Aba => ok(aba_ok(cx.value()) && nearest_context(cx.win, cx.s, ABA_CONTEXT)),
        Validator::Ein => ok(ein_ok(cx.value()) && nearest_context(cx.win, cx.s, EIN_CONTEXT)),
        Validator::Iban => iban(cx),
        Validator::Nino => ok(nino_ok(cx.value())),
        Validator::Phone => phone(cx),
        Validator::Ipv6 => ipv6(cx),
        Validator::Jwt => ok(jwt_ok(cx.value())),
        Validator::SecretValue => secret_value(cx, false),
        Validator::Assigned if shell_working_dir(cx) => None,
        Validator::Assigned => secret_value(cx, true),
        Validator::UriPassword => ok(secret_value_ok(cx.value()) && !all_digits(cx.value())),
        Validator::AzureAd => azure_ad(cx),
        Validator::Openshift => ok(token_apart(cx, b"_", b"_-")),
        Validator::Mac => ok(!mac_goes_on(cx)),
    }
}

/// The groups of a MAC address go on past it (`00:1a:2b:3c:4d:5e:6f`, `0011.2233.4455.6677`):
/// the same separator and another hex digit follow.
fn mac_goes_on(cx: &VCtx<'_>) -> bool {
    let sep = if cx.e - cx.s == 14 {
        b'.'
    } else {
        cx.win[cx.s + 2]
    };
    cx.win.get(cx.e) == Some(&sep) && cx.win.get(cx.e + 1).is_some_and(u8::is_ascii_hexdigit)
}

/// An Azure AD client secret: today's are 40 bytes (34 after `Q~`); a shorter match that
/// ends in `.` ends a sentence (`the secret is abc8Q~...xyz.`), which is left out when at
/// least 31 bytes stay after `Q~`. A 40-byte match ending in `.` is taken whole: it is a
/// secret of today's length, or one of 39 and a full stop, and masking the dot is the safe
/// reading.
fn azure_ad(cx: &VCtx<'_>) -> Option<(usize, usize)> {
    let mut e = cx.e;
    if e - cx.s < 40 && e - cx.s > 37 && cx.win[e - 1] == b'.' {
        e -= 1;
    }
    let cx = VCtx { e, ..*cx };
    token_apart(&cx, b"_~.-+/", b"_~-+/=").then_some((cx.s, cx.e))
}

/// The token `win[s..e]` is not part of a longer one: the byte before it is no letter, digit
/// or one of `before`, and the byte after it none of `after`, nor a `.` that a letter, digit
/// or one of `after` follows (a sentence's full stop may end a token). For Azure AD secrets
/// that is Microsoft's own rule (none of `A-Za-z0-9_~.+/=-` on either side: no piece of a
/// longer token or of base64), except that `=` may come before (`CLIENT_SECRET=...`).
fn token_apart(cx: &VCtx<'_>, before: &[u8], after: &[u8]) -> bool {
    let glued = |b: Option<&u8>, set: &[u8]| {
        b.is_some_and(|b| b.is_ascii_alphanumeric() || set.contains(b))
    };
    if cx.s > 0 && glued(cx.win.get(cx.s - 1), before) {
        return false;
    }
    match cx.win.get(cx.e) {
        Some(b'.') => !glued(cx.win.get(cx.e + 1), after),
        b => !glued(b, after),
    }
}

/// `PWD=/home/ci` or `OLDPWD=/srv/app` of an environment dump (`env`, `printenv`, `set`, a CI
/// log): the shell's working directory, not a password. The key is exactly `PWD` or `OLDPWD`
/// in capitals, first on its line or after a blank, a quote or a comma (a logged line, a CSV
/// field), directly before `=` (`;PWD=` is ODBC's password), and the value is an
/// absolute path (`/` and then path bytes to its end). `MYSQL_PWD=`, ODBC's `Pwd=` and a
/// value that is not a path stay secrets.
fn shell_working_dir(cx: &VCtx<'_>) -> bool {
    let (w, s) = (cx.win, cx.s);
    if s < 4 || w[s - 1] != b'=' || w.get(s) != Some(&b'/') {
        return false;
    }
    let key_end = s - 1;
    let key_start = if w[..key_end].ends_with(b"OLDPWD") {
        key_end - 6
    } else if w[..key_end].ends_with(b"PWD") {
        key_end - 3
    } else {
        return false;
    };
    let apart =
        key_start == 0 || matches!(w[key_start - 1], b'\n' | b' ' | b'\t' | b'"' | b'\'' | b',');
    apart
        && w[s..cx.e].iter().all(|&b| {
            b.is_ascii_alphanumeric() || matches!(b, b'/' | b'.' | b'_' | b'-' | b'@' | b'~')
        })
}

/// A secret value after its keyword. The value's quotes stay (`"password": "..."` remains
/// JSON): a quoted value (`"correct horse battery staple"`) is masked between them, and an
/// opening quote that none closes is left out. With `to_line_end`, an unquoted value that a
/// blank ends runs on to the end of its line when the assignment is the line's only content
/// (see `line_value`) and its first word is not a placeholder (`password: ******** (set
/// in the vault)` is not a secret).
fn secret_value(cx: &VCtx<'_>, to_line_end: bool) -> Option<(usize, usize)> {
    let (mut s, mut e) = (cx.s, cx.e);
    if let Some(&q @ (b'"' | b'\'')) = cx.win.get(s) {
        s += 1;
        if e > s && cx.win[e - 1] == q {
            e -= 1;
            return secret_value_ok(&cx.win[s..e]).then_some((s, e));
        }
    } else if to_line_end
        && !placeholder(&cx.win[s..e])
        && let Some(le) = line_value(cx.win, s, e)
        && secret_value_ok(&cx.win[s..le])
    {
        return Some((s, le));
    }
    // A sentence's full stop is not part of an unquoted value ("password: hunter22.").
    while e > s + 1 && cx.win[e - 1] == b'.' {
        e -= 1;
    }
    secret_value_ok(&cx.win[s..e]).then_some((s, e))
}

/// Where the unquoted value `win[s..e]` ends when it is the rest of a `key: value` or
/// `key=value` line (YAML, `.env`, `.properties`, INI): `password: correct horse battery
/// staple` is one value, where in a log line (`login failed password=hunter2 user=bob`) a
/// blank ends it. The line must hold nothing before the key but blanks and a YAML list dash
/// or `export`; the key is one word (`DB_PASSWORD`, `spring.datasource.password`, quoted or
/// not); the rest of the line must not look like more fields (`=`, `key: `, quotes, braces,
/// `;`, `&`: `password=hunter2 user=bob` is a logfmt line). The value stops before ` #` (a
/// comment); one that runs on past 256 bytes is not one; trailing blanks are left out. `None` when the value does
/// not go on (a blank must end the first word, and more must follow it), or the line does
/// not qualify. Looks back at most 64 bytes before the operator: the trigger's window holds
/// more than that before it unless the input starts there, so reaching the window's start
/// means the line starts there too.
fn line_value(win: &[u8], s: usize, e: usize) -> Option<usize> {
    let blank = |b: u8| b == b' ' || b == b'\t';
    if !win.get(e).copied().is_some_and(blank) {
        return None;
    }
    // The operator, past the blanks before the value.
    let mut o = s;
    while o > 0 && blank(win[o - 1]) {
        o -= 1;
    }
    if o == 0 || !matches!(win[o - 1], b':' | b'=') {
        return None;
    }
    let op = o - 1;
    let stop = op.saturating_sub(64);
    let mut k = op;
    let back = |k: &mut usize, f: &dyn Fn(u8) -> bool| {
        let from = *k;
        while *k > stop && f(win[*k - 1]) {
            *k -= 1;
        }
        from - *k
    };
    back(&mut k, &blank);
    back(&mut k, &|b| b == b'"' || b == b'\'');
    if back(&mut k, &|b| {
        b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-')
    }) == 0
    {
        return None;
    }
    back(&mut k, &|b| b == b'"' || b == b'\'');
    back(&mut k, &blank);
    if k > 0 && win[k - 1] == b'-' || k >= 6 && &win[k - 6..k] == b"export" {
        k -= if win[k - 1] == b'-' { 1 } else { 6 };
        back(&mut k, &blank);
    }
    if k > 0 && !matches!(win[k - 1], b'\n' | b'\r') {
        return None;
    }
    let mut p = e;
    while p < win.len() && !matches!(win[p], b'\n' | b'\r') {
        // A value that long is not a passphrase, and what follows may be more fields.
        if p - s >= 256 {
            return None;
        }
        match win[p] {
            b'#' if blank(win[p - 1]) => break,
            // More fields follow (`password=hunter2 user=bob`, `pw: x {"k": 1}`): the
            // first word is the value.
            b'=' | b'"' | b'{' | b'}' | b';' | b'&' => return None,
            b':' if win
                .get(p + 1)
                .is_none_or(|&b| blank(b) || b == b'\n' || b == b'\r') =>
            {
                return None;
            }
            _ => {}
        }
        p += 1;
    }
    while blank(win[p - 1]) {
        p -= 1;
    }
    (p > e).then_some(p)
}

const SSN_CONTEXT: &[&[u8]] = &[b"ssn", b"social security", b"social_security"];
const ITIN_CONTEXT: &[&[u8]] = &[b"itin", b"taxpayer"];
const ABA_CONTEXT: &[&[u8]] = &[b"routing", b"aba", b"rtn", b"transit"];
const EIN_CONTEXT: &[&[u8]] = &[b"ein", b"employer identification", b"tax id", b"fein"];

/// Context words of all nine-digit identifiers that need one.
const NINE_CONTEXTS: [&[&[u8]]; 4] = [SSN_CONTEXT, ITIN_CONTEXT, ABA_CONTEXT, EIN_CONTEXT];

/// The nearest context word within 48 bytes before `s` is one of `own` (so "SSN: ...,
/// routing number 021000021" is a routing number, not an SSN).
fn nearest_context(win: &[u8], s: usize, own: &[&[u8]]) -> bool {
    nearest_nine_context(win, s).is_some_and(|k| NINE_CONTEXTS[k] == own)
}

/// Which list of `NINE_CONTEXTS` the nearest whole-word context word within 48 bytes before
/// `s` belongs to. One backward pass over word starts for all four lists: no two words of
/// different lists can match at the same start, so the first match found decides.
fn nearest_nine_context(win: &[u8], s: usize) -> Option<usize> {
    let from = s.saturating_sub(48);
    let hay = &win[from..s];
    let letter = |i: usize| hay.get(i).is_some_and(u8::is_ascii_alphabetic);
    let mut i = hay.len();
    while i > 0 {
        i -= 1;
        if !letter(i) || i > 0 && letter(i - 1) {
            continue;
        }
        let b = hay[i].to_ascii_lowercase();
        for (k, words) in NINE_CONTEXTS.iter().enumerate() {
            for w in *words {
                if w.first() == Some(&b)
                    && hay.len() - i >= w.len()
                    && hay[i..i + w.len()].eq_ignore_ascii_case(w)
                    && !letter(i + w.len())
                {
                    return Some(k);
                }
            }
        }
    }
    None
}

/// Whether one of `words` (lowercase) occurs, ASCII case-insensitively, in the `window` bytes
/// before `s`.
pub(crate) fn has_context<W: AsRef<[u8]>>(
    win: &[u8],
    s: usize,
    words: &[W],
    window: usize,
) -> bool {
    let from = s.saturating_sub(window);
    let hay = &win[from..s];
    // Whole words only: "aba" must not be found inside "database".
    let letter = |i: usize| hay.get(i).is_some_and(u8::is_ascii_alphabetic);
    words.iter().any(|w| {
        let w = w.as_ref();
        !w.is_empty()
            && hay.len() >= w.len()
            && hay.windows(w.len()).enumerate().any(|(i, h)| {
                h.eq_ignore_ascii_case(w) && (i == 0 || !letter(i - 1)) && !letter(i + w.len())
            })
    })
}

fn all_digits(v: &[u8]) -> bool {
    v.iter().all(u8::is_ascii_digit)
}

fn digits_of(v: &[u8], out: &mut [u8; 40]) -> usize {
    let mut n = 0;
    for &b in v {
        if b.is_ascii_digit() && n < out.len() {
            out[n] = b - b'0';
            n += 1;
        }
    }
    n
}

/// The Luhn checksum over digit values.
pub(crate) fn luhn(d: &[u8]) -> bool {
    let mut sum = 0u32;
    for (i, &x) in d.iter().rev().enumerate() {
        let mut x = u32::from(x);
        if i % 2 == 1 {
            x *= 2;
            if x > 9 {
                x -= 9;
            }
        }
        sum += x;
    }
    sum.is_multiple_of(10)
}

fn prefix_num(d: &[u8], n: usize) -> u32 {
    d.iter().take(n).fold(0u32, |a, &x| a * 10 + u32::from(x))
}

/// Issuer ranges and lengths of the card brands in the catalog.
pub(crate) fn card_brand_ok(d: &[u8]) -> bool {
    let n = d.len();
    let p1 = prefix_num(d, 1);
    let p2 = prefix_num(d, 2);
    let p3 = prefix_num(d, 3);
    let p4 = prefix_num(d, 4);
    let p6 = prefix_num(d, 6);
    // Visa
    (p1 == 4 && matches!(n, 13 | 16 | 19))
        // Mastercard
        || ((51..=55).contains(&p2) || (2221..=2720).contains(&p4)) && n == 16
        // Amex
        || (p2 == 34 || p2 == 37) && n == 15
        // Discover
        || (p4 == 6011 || (644..=649).contains(&p3) || p2 == 65 || (622126..=622925).contains(&p6))
            && (16..=19).contains(&n)
        // JCB
        || (3528..=3589).contains(&p4) && (16..=19).contains(&n)
        || (p4 == 2131 || p4 == 1800) && n == 15
        // UnionPay
        || p2 == 62 && (16..=19).contains(&n)
        // Maestro
        || (p2 == 50 || (56..=69).contains(&p2)) && (12..=19).contains(&n)
        // Diners Club
        || ((300..=305).contains(&p3) || p2 == 36 || p2 == 38 || p2 == 39) && (14..=16).contains(&n)
}

/// Words that make a 13-digit EAN-13 look-alike a card number (see `card`).
const CARD_WORDS: &[&[u8]] = &[
    b"card",
    b"cardnumber",
    b"cardno",
    b"credit",
    b"debit",
    b"visa",
    b"maestro",
    b"cc",
    b"ccnum",
    b"ccnumber",
    b"pan",
];

/// Whether a card word names the number at `s`: one of the two words right before it on its
/// line (within 32 bytes, across blanks and punctuation) is one, or has one as a part between
/// `_` or `-` (`card_number`, `cc-num`, `"Card No.": `). A card word further back, such as the
/// card field before a product code in a CSV row, does not count, nor does one behind a word
/// with a digit (another value, `81cc` of a UUID), nor a `cc` among a hex dump's bytes.
fn card_word_before(win: &[u8], s: usize) -> bool {
    let hay = &win[s.saturating_sub(32)..s];
    let word_byte = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b == b'-';
    let mut i = hay.len();
    for _ in 0..2 {
        while i > 0 && !hay[i - 1].is_ascii_alphanumeric() && hay[i - 1] != b'\n' {
            i -= 1;
        }
        if i == 0 || hay[i - 1] == b'\n' {
            return false;
        }
        let end = i;
        while i > 0 && word_byte(hay[i - 1]) {
            i -= 1;
        }
        let word = &hay[i..end];
        if word.iter().any(u8::is_ascii_digit) {
            // Another value in between (`cc=4111...,4299...`), or a word glued to digits.
            return false;
        }
        let named = word
            .split(|&b| b == b'_' || b == b'-')
            .any(|part| CARD_WORDS.iter().any(|w| part.eq_ignore_ascii_case(w)));
        if named {
            return !hex_dump_byte(hay, i, word);
        }
    }
    false
}

/// `word`, starting at `hay[at]`, is a byte of a hex dump rather than a word: two hex digits
/// after another such pair and a blank (`1b cc | 4048036296635`: `cc` is no card word there).
fn hex_dump_byte(hay: &[u8], at: usize, word: &[u8]) -> bool {
    let pair = |w: &[u8]| w.len() == 2 && w.iter().all(u8::is_ascii_hexdigit);
    pair(word)
        && at >= 3
        && hay[at - 1] == b' '
        && pair(&hay[at - 3..at - 1])
        && (at == 3 || !hay[at - 4].is_ascii_alphanumeric())
}

/// Thirteen ASCII digits whose last is the EAN-13 (GTIN-13) check digit of the others.
fn ean13_ok(v: &[u8]) -> bool {
    if v.len() != 13 || !all_digits(v) {
        return false;
    }
    let sum: u32 = v[..12]
        .iter()
        .enumerate()
        .map(|(i, &b)| u32::from(b - b'0') * if i % 2 == 0 { 1 } else { 3 })
        .sum();
    (10 - sum % 10) % 10 == u32::from(v[12] - b'0')
}

/// Card numbers: plain, or grouped with one kind of separator (space or dash) in groups of
/// three to six digits. Tries the longest prefix that ends at a group boundary first, so a
/// number followed by more digit groups (an expiry year, say) is still found. When none is a
/// card and the first group is a four-digit number of its own (`2024 4111 1111 1111 1111`: a
/// year, a store number), the number is read again from the second group on; the scan does
/// not start a value there (a four-digit group is how cards print their first group, see
/// `starts_after_number`), so this is the trigger that finds it.
fn card(cx: &VCtx<'_>) -> Option<(usize, usize)> {
    if let Some(end) = card_groups(cx.value()) {
        // Thirteen plain digits that are also a valid EAN-13 (a product's barcode number: the
        // prefixes 40-44, 50 and 56-69 are German, British and Chinese goods among others, and
        // one in ten passes Luhn) are a card only after a card word.
        let v = &cx.value()[..end];
        if v.len() == 13 && ean13_ok(v) && !card_word_before(cx.win, cx.s) {
            return None;
        }
        return Some((cx.s, cx.s + end));
    }
    let v = cx.value();
    if v.len() < 6 || !v[..4].iter().all(u8::is_ascii_digit) || !matches!(v[4], b' ' | b'-') {
        return None;
    }
    // The detector's match from the second group: the first attempt's match stopped at 19
    // digits, which may cut this one short.
    let w = cx.win;
    let s = cx.s + 5;
    let (_, p) = Matcher::Card.find(w, s, w.len(), None)?;
    // Of at least 14 digits: `1234 5678 9012 3456` is one number (a test card, an account),
    // not a four-digit one and a 12-digit Maestro.
    let end = card_groups(&w[s..p])?;
    let digits = w[s..s + end].iter().filter(|b| b.is_ascii_digit()).count();
    (digits >= 14).then_some((s, s + end))
}

/// `card` on one candidate: the end (in `v`) of the longest valid number `v` starts with.
fn card_groups(v: &[u8]) -> Option<usize> {
    let sep = v.iter().copied().find(|b| !b.is_ascii_digit());
    // Group ends (exclusive offsets into v), in order.
    let mut ends = [0usize; 20];
    let mut nends = 0;
    let mut group_lens = [0usize; 20];
    // The digits, and how many of them each group end closes.
    let mut d = [0u8; 40];
    let mut nd = 0;
    let mut cum = [0usize; 20];
    let mut cur = 0;
    // A separator of the other kind ends the number (`4111-1111-1111-1111 2024`: the year
    // after a space is not a group of a dashed number).
    let mut len = v.len();
    for (i, &b) in v.iter().enumerate() {
        if b.is_ascii_digit() {
            if nd < d.len() {
                d[nd] = b - b'0';
                nd += 1;
            }
            cur += 1;
        } else {
            if Some(b) != sep {
                len = i;
                break;
            }
            if cur == 0 || nends >= 20 {
                return None;
            }
            group_lens[nends] = cur;
            ends[nends] = i;
            cum[nends] = nd;
            nends += 1;
            cur = 0;
        }
    }
    if nends < 20 {
        group_lens[nends] = cur;
        ends[nends] = len;
        cum[nends] = nd;
        nends += 1;
    }
    for k in (0..nends).rev() {
        let end = ends[k];
        // The first group alone is a plain number (`378282246310005 2024`).
        if sep.is_some() && k > 0 {
            // The first group has four digits (every brand prints it so), the others 3..=6,
            // the last 1..=6.
            if group_lens[0] != 4 {
                continue;
            }
            if group_lens[1..k].iter().any(|&g| !(3..=6).contains(&g)) || group_lens[k] > 6 {
                continue;
            }
        }
        let n = cum[k];
        if (12..=19).contains(&n) && card_brand_ok(&d[..n]) && luhn(&d[..n]) {
            return Some(end);
        }
        if sep.is_none() {
            break;
        }
    }
    None
}

/// Nine-digit identifiers (SSN, ITIN): `ddd-dd-dddd`, `ddd dd dddd`, or nine plain digits
/// with a context word before them.
fn nine(cx: &VCtx<'_>, ok: fn(&[u8; 40]) -> bool, ctx: &[&[u8]]) -> Option<(usize, usize)> {
    let v = cx.value();
    let mut d = [0u8; 40];
    if digits_of(v, &mut d) != 9 {
        return None;
    }
    (ok(&d) && (v.len() != 9 || nearest_context(cx.win, cx.s, ctx))).then_some((cx.s, cx.e))
}

fn ssn_ok(d: &[u8; 40]) -> bool {
    let area = prefix_num(d, 3);
    let group = prefix_num(&d[3..], 2);
    let serial = prefix_num(&d[5..], 4);
    area != 0 && area != 666 && area < 900 && group != 0 && serial != 0
}

fn itin_ok(d: &[u8; 40]) -> bool {
    let group = prefix_num(&d[3..], 2);
    d[0] == 9 && matches!(group, 50..=65 | 70..=88 | 90..=92 | 94..=99)
}

fn aba_ok(v: &[u8]) -> bool {
    let mut d = [0u8; 40];
    if v.len() != 9 || digits_of(v, &mut d) != 9 {
        return false;
    }
    let p = prefix_num(&d, 2);
    let prefix_ok = matches!(p, 0..=12 | 21..=32 | 61..=72 | 80);
    let w = [3u32, 7, 1, 3, 7, 1, 3, 7, 1];
    let sum: u32 = d[..9].iter().zip(w).map(|(&x, w)| u32::from(x) * w).sum();
    prefix_ok && sum.is_multiple_of(10) && d[..9].iter().any(|&x| x != 0)
}

fn ein_ok(v: &[u8]) -> bool {
    let mut d = [0u8; 40];
    if digits_of(v, &mut d) != 9 {
        return false;
    }
    // IRS campus prefixes; 00, 07-09, 17-19, 28-29, 49, 69-70, 78-79, 89, 96-97 are unused.
    !matches!(prefix_num(&d, 2), 0 | 7..=9 | 17..=19 | 28 | 29 | 49 | 69 | 70 | 78 | 79 | 89 | 96 | 97)
}

/// IBAN lengths by country (ISO 13616 registry).
const IBAN_LENGTHS: &[(&[u8; 2], usize)] = &[
    (b"AD", 24),
    (b"AE", 23),
    (b"AL", 28),
    (b"AT", 20),
    (b"AZ", 28),
    (b"BA", 20),
    (b"BE", 16),
    (b"BG", 22),
    (b"BH", 22),
    (b"BR", 29),
    (b"BY", 28),
    (b"CH", 21),
    (b"CR", 22),
    (b"CY", 28),
    (b"CZ", 24),
    (b"DE", 22),
    (b"DK", 18),
    (b"DO", 28),
    (b"EE", 20),
    (b"EG", 29),
    (b"ES", 24),
    (b"FI", 18),
    (b"FO", 18),
    (b"FR", 27),
    (b"GB", 22),
    (b"GE", 22),
    (b"GI", 23),
    (b"GL", 18),
    (b"GR", 27),
    (b"GT", 28),
    (b"HR", 21),
    (b"HU", 28),
    (b"IE", 22),
    (b"IL", 23),
    (b"IQ", 23),
    (b"IS", 26),
    (b"IT", 27),
    (b"JO", 30),
    (b"KW", 30),
    (b"KZ", 20),
    (b"LB", 28),
    (b"LC", 32),
    (b"LI", 21),
    (b"LT", 20),
    (b"LU", 20),
    (b"LV", 21),
    (b"MC", 27),
    (b"MD", 24),
    (b"ME", 22),
    (b"MK", 19),
    (b"MR", 27),
    (b"MT", 31),
    (b"MU", 30),
    (b"NL", 18),
    (b"NO", 15),
    (b"PK", 24),
    (b"PL", 28),
    (b"PS", 29),
    (b"PT", 25),
    (b"QA", 29),
    (b"RO", 24),
    (b"RS", 22),
    (b"SA", 24),
    (b"SC", 31),
    (b"SE", 24),
    (b"SI", 19),
    (b"SK", 24),
    (b"SM", 27),
    (b"ST", 25),
    (b"SV", 28),
    (b"TL", 23),
    (b"TN", 24),
    (b"TR", 26),
    (b"UA", 29),
    (b"VA", 22),
    (b"VG", 24),
    (b"XK", 20),
];

/// `IBAN_LENGTHS` indexed by the two letters (`26 * first + second`; 0 for no country).
const IBAN_LEN_BY_CODE: [u8; 676] = {
    let mut t = [0u8; 676];
    let mut i = 0;
    while i < IBAN_LENGTHS.len() {
        let (c, n) = IBAN_LENGTHS[i];
        t[(c[0] - b'A') as usize * 26 + (c[1] - b'A') as usize] = n as u8;
        i += 1;
    }
    t
};

fn iban_len(cc: &[u8]) -> Option<usize> {
    let &[a, b] = cc else { return None };
    if !(a.is_ascii_uppercase() && b.is_ascii_uppercase()) {
        return None;
    }
    match IBAN_LEN_BY_CODE[usize::from(a - b'A') * 26 + usize::from(b - b'A')] {
        0 => None,
        n => Some(usize::from(n)),
    }
}

/// mod-97 over the rearranged IBAN (ISO 7064).
pub(crate) fn iban_mod97(compact: &[u8]) -> bool {
    if compact.len() < 5 {
        return false;
    }
    let mut rem: u32 = 0;
    for &b in compact[4..].iter().chain(&compact[..4]) {
        match b {
            b'0'..=b'9' => rem = (rem * 10 + u32::from(b - b'0')) % 97,
            b'A'..=b'Z' => rem = (rem * 100 + u32::from(b - b'A' + 10)) % 97,
            _ => return false,
        }
    }
    rem == 1
}

fn iban(cx: &VCtx<'_>) -> Option<(usize, usize)> {
    let v = cx.value();
    let want = iban_len(v.get(..2)?)?;
    // Check digits 00, 01 and 99 are never issued.
    if matches!(v.get(2..4)?, b"00" | b"01" | b"99") {
        return None;
    }
    let mut compact = [0u8; 40];
    let mut n = 0;
    for (i, &b) in v.iter().enumerate() {
        if b == b' ' {
            continue;
        }
        if n == compact.len() {
            return None;
        }
        compact[n] = b;
        n += 1;
        if n == want {
            let end = i + 1;
            // Must end at a group boundary: the end of the match or before a space.
            if end == v.len() || v[end] == b' ' {
                return iban_mod97(&compact[..n]).then_some((cx.s, cx.s + end));
            }
            return None;
        }
    }
    None
}

fn nino_ok(v: &[u8]) -> bool {
    let p = [v[0], v[1]];
    let bad_first = b"DFIQUV";
    let bad_second = b"DFIOQUV";
    !bad_first.contains(&p[0])
        && !bad_second.contains(&p[1])
        && !matches!(&p, b"BG" | b"GB" | b"NK" | b"KN" | b"TN" | b"NT" | b"ZZ")
        // Spaced forms use spaces everywhere or nowhere.
        && {
            let spaces = v.iter().filter(|&&b| b == b' ').count();
            spaces == 0 || spaces == 4
        }
}

/// A French number as the phone matcher takes it: `0[1-9]` and four more pairs, one separator.
fn five_pairs(v: &[u8]) -> bool {
    v.len() == 14
        && v[0] == b'0'
        && matches!(v[1], b'1'..=b'9')
        && matches!(v[2], b' ' | b'.' | b'-')
        && (0..14).all(|i| {
            if i % 3 == 2 {
                v[i] == v[2]
            } else {
                v[i].is_ascii_digit()
            }
        })
}

/// Five pairs of digits (`06 12 34 56 78`) that are not part of a longer row of pairs: a
/// hex dump (`01 23 45 67 89 ab`) or a list of small numbers has one before or after them.
fn pairs_alone(cx: &VCtx<'_>) -> bool {
    let (w, s, e) = (cx.win, cx.s, cx.e);
    let sep = w[s + 2];
    let hex = |i: usize| {
        w.get(i..i + 2)
            .filter(|p| p.iter().all(u8::is_ascii_hexdigit))
    };
    // Before them, a pair with a digit (`de 06 ...` is French for "of"); after them, any.
    let before =
        s >= 3 && w[s - 1] == sep && hex(s - 3).is_some_and(|p| p.iter().any(u8::is_ascii_digit));
    let after = w.get(e) == Some(&sep) && hex(e + 1).is_some();
    !before && !after
}

/// Dot-separated groups of three after the first (`+12.345.678`): an amount with thousands
/// separators, not a number to dial.
fn thousands(v: &[u8]) -> bool {
    let mut groups = v.split(|&b| b == b'.');
    groups.next();
    v.contains(&b'.') && groups.all(|g| g.len() == 3 && all_digits(g))
}

/// Phone numbers: `phone_ok` on the match; one after a `+` whose groups run past what a
/// number can hold (`+44 20 7946 0958 2024`: a year after it) is cut back to the last group
/// that keeps it one.
fn phone(cx: &VCtx<'_>) -> Option<(usize, usize)> {
    let v = cx.value();
    if five_pairs(v) {
        return pairs_alone(cx).then_some((cx.s, cx.e));
    }
    if phone_ok(v) {
        return Some((cx.s, cx.e));
    }
    if v.first() != Some(&b'+') {
        return None;
    }
    let mut e = v.len();
    while let Some(k) = v[..e]
        .iter()
        .rposition(|&b| matches!(b, b' ' | b'.' | b'-'))
    {
        e = k;
        if phone_ok(&v[..e]) {
            return Some((cx.s, cx.s + e));
        }
    }
    None
}

fn phone_ok(v: &[u8]) -> bool {
    // The main number ends where an extension starts.
    let main_end = v
        .iter()
        .position(|&b| b == b'x' || b == b'e')
        .unwrap_or(v.len());
    let main = &v[..main_end];
    let mut d = [0u8; 40];
    let n = digits_of(main, &mut d);
    if five_pairs(main) {
        return true;
    }
    let intl = main.first() == Some(&b'+') && main.get(1) != Some(&b'1');
    if intl {
        // The trunk prefix `(0)` is not dialled from abroad: not a digit of the number.
        let n = n - usize::from(main.windows(3).any(|w| w == b"(0)"));
        return (8..=15).contains(&n) && d[0] != 0 && !thousands(main);
    }
    // NANP: optional country code 1 (or 001, dialled from abroad), then NPA-NXX-XXXX with N
    // in 2..=9.
    let d = match n {
        10 => &d[..10],
        11 if d[0] == 1 => &d[1..11],
        13 if d[..3] == [0, 0, 1] => &d[3..13],
        _ => return false,
    };
    d[0] >= 2 && d[3] >= 2 && !(d[1] == 1 && d[2] == 1)
}

fn ipv6(cx: &VCtx<'_>) -> Option<(usize, usize)> {
    let mut e = cx.e;
    // A trailing colon is punctuation ("addr fe80::1: unreachable"), except in "::".
    for _ in 0..2 {
        let v = &cx.win[cx.s..e];
        let hex = v.iter().filter(|b| b.is_ascii_hexdigit()).count();
        // Without `::` an address has all eight groups, so seven colons (the regex admits no
        // dotted IPv4 tail): anything else cannot parse, and times such as `11:24:27`, the
        // usual colon candidates, are turned away before the parser runs.
        let colons = v.iter().filter(|&&b| b == b':').count();
        let compressed = v.windows(2).any(|w| w == b"::");
        if hex >= 5
            && (compressed || colons == 7)
            && let Ok(s) = std::str::from_utf8(v)
            && s.parse::<std::net::Ipv6Addr>().is_ok()
        {
            return Some((cx.s, e));
        }
        if e > cx.s + 2 && cx.win[e - 1] == b':' && cx.win[e - 2] != b':' {
            e -= 1;
        } else {
            break;
        }
    }
    None
}

fn b64url_val(b: u8) -> Option<u8> {
    match b {
        b'A'..=b'Z' => Some(b - b'A'),
        b'a'..=b'z' => Some(b - b'a' + 26),
        b'0'..=b'9' => Some(b - b'0' + 52),
        b'-' | b'+' => Some(62),
        b'_' | b'/' => Some(63),
        _ => None,
    }
}

/// Decodes up to 96 bytes of unpadded base64url into `out`, returning the count.
pub(crate) fn b64url_prefix(src: &[u8], out: &mut [u8; 96]) -> usize {
    let mut n = 0;
    let mut acc = 0u32;
    let mut bits = 0;
    for &b in src {
        let Some(v) = b64url_val(b) else { break };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            if n == out.len() {
                break;
            }
            out[n] = (acc >> bits) as u8;
            n += 1;
        }
    }
    n
}

fn jwt_ok(v: &[u8]) -> bool {
    let header = v.split(|&b| b == b'.').next().unwrap_or(v);
    let mut buf = [0u8; 96];
    let n = b64url_prefix(header, &mut buf);
    let h = &buf[..n];
    h.starts_with(b"{") && h.windows(5).any(|w| w == b"\"alg\"" || w == b"\"typ\"")
}

/// Rejects values that are obviously not secrets: placeholders, templates, masks.
fn secret_value_ok(v: &[u8]) -> bool {
    v.len() >= 4 && !placeholder(v)
}

/// A stand-in rather than a secret: `null`, `********`, `${VAR}`, `<redacted>`, a function
/// call.
fn placeholder(v: &[u8]) -> bool {
    let Some(&first) = v.first() else {
        return true;
    };
    let lower_is = |w: &[u8]| v.eq_ignore_ascii_case(w);
    if lower_is(b"null")
        || lower_is(b"none")
        || lower_is(b"true")
        || lower_is(b"false")
        || lower_is(b"undefined")
        || lower_is(b"redacted")
        || lower_is(b"[redacted]")
    {
        return true;
    }
    if v.starts_with(b"${")
        || v.starts_with(b"{{")
        || v.starts_with(b"%(")
        || v.starts_with(b"<")
        || v.starts_with(b"$(")
    {
        return true;
    }
    if matches!(first, b'*' | b'x' | b'X' | b'.' | b'#') && v.iter().all(|&b| b == first) {
        return true;
    }
    // A function call (`password=get_password()`).
    v.ends_with(b")") && v.contains(&b'(')
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// The colon-count shortcut in `ipv6` only turns away what the parser rejects.
        #[test]
        fn ipv6_shortcut_keeps_every_address(
            groups in proptest::collection::vec("[0-9a-fA-F]{0,4}", 1..10),
        ) {
            let v = groups.join(":");
            if v.parse::<std::net::Ipv6Addr>().is_ok() {
                let colons = v.bytes().filter(|&b| b == b':').count();
                prop_assert!(v.contains("::") || colons == 7, "{v}");
            }
        }

        /// The same through the validator: whatever the parser accepts (with five hex digits
        /// or more) is accepted.
        #[test]
        fn ipv6_accepts_what_parses(
            addr in any::<[u16; 8]>(),
            zeros in 0usize..8,
            from in 0usize..8,
        ) {
            let mut a = addr;
            for x in a.iter_mut().skip(from).take(zeros) {
                *x = 0;
            }
            let text = std::net::Ipv6Addr::from(a).to_string();
            let hex = text.bytes().filter(u8::is_ascii_hexdigit).count();
            if hex >= 5 && !text.contains('.') {
                prop_assert_eq!(ipv6(&cx(text.as_bytes())), Some((0, text.len())));
            }
        }
    }

    fn cx(v: &[u8]) -> VCtx<'_> {
        VCtx {
            win: v,
            s: 0,
            e: v.len(),
        }
    }

    #[test]
    fn ean13_look_alikes_need_a_card_word() {
        assert!(ean13_ok(b"4006381333931"));
        assert!(!ean13_ok(b"4222222222222"));
        // Luhn-valid EAN-13s with a Visa and two Maestro prefixes.
        for ean in ["4299845054125", "6931297003006", "5650653498409"] {
            let plain = format!("gtin {ean} qty 3");
            assert!(
                card(&VCtx {
                    win: plain.as_bytes(),
                    s: 5,
                    e: 18
                })
                .is_none(),
                "{ean}"
            );
            for (pre, named) in [
                ("card ", true),
                ("\"card_number\": \"", true),
                ("Card No. ", true),
                ("cc=", true),
                ("x,cc=4111111111111111,", false),
                ("card\n", false),
                ("81cc-", false),
            ] {
                let line = format!("{pre}{ean} exp");
                let s = pre.len();
                let got = card(&VCtx {
                    win: line.as_bytes(),
                    s,
                    e: s + 13,
                })
                .is_some();
                assert_eq!(got, named, "{line}");
            }
        }
        // The Visa test number is no EAN-13: masked without a card word.
        assert!(card(&cx(b"4222222222222")).is_some());
    }

    #[test]
    fn luhn_and_brands() {
        for good in [
            &b"4111111111111111"[..],
            b"5555555555554444",
            b"378282246310005",
            b"6011111111111117",
            b"3530111333300000",
            b"2223003122003222",
            b"36227206271667",
            b"6200000000000005",
            b"4111 1111 1111 1111",
            b"3782-822463-10005",
        ] {
            assert!(
                card(&cx(good)).is_some(),
                "{}",
                String::from_utf8_lossy(good)
            );
        }
        for bad in [
            &b"4111111111111112"[..],
            b"1234567812345678",
            b"4111 1111 1111 11 11",
            b"4111-1111 1111-1111",
            b"9111111111111111",
        ] {
            assert!(card(&cx(bad)).is_none(), "{}", String::from_utf8_lossy(bad));
        }
        // A trailing group is cut off.
        assert_eq!(card(&cx(b"4111 1111 1111 1111 2024")), Some((0, 19)));
        // A lone four-digit number before the card is left out, and the card is read past
        // where the first match (19 digits) stopped.
        assert_eq!(card(&cx(b"2024 4111 1111 1111 1111")), Some((5, 24)));
        assert_eq!(card(&cx(b"0042-5555-5555-5555-4444")), Some((5, 24)));
        assert_eq!(card(&cx(b"2024 3782 822463 10005 12")), Some((5, 22)));
        // Only one group is dropped, and only a four-digit one.
        assert_eq!(card(&cx(b"2024 1999 4111 1111 1111 1111")), None);
        assert_eq!(card(&cx(b"20245 4111 1111 1111 1111")), None);
        assert_eq!(card(&cx(b"2024 4111 1111 1111 1112")), None);
        assert_eq!(card(&cx(b"1234 5678 9012 3456")), None);
        assert_eq!(card(&cx(b"1234 5678 9012 3456 7898")), Some((5, 24)));
    }

    /// `line_value` on `text`, the value's first word starting after `key`.
    fn line_end(text: &str, key: &str, word: &str) -> Option<String> {
        let w = text.as_bytes();
        let s = text.find(key).expect("key") + key.len();
        let e = s + word.len();
        assert_eq!(&text[s..e], word);
        line_value(w, s, e).map(|p| text[s..p].to_owned())
    }

    #[test]
    fn line_values() {
        let some = |v: &str| Some(v.to_owned());
        assert_eq!(
            line_end("password: a b c", "password: ", "a"),
            some("a b c")
        );
        assert_eq!(
            line_end("x\r\n\tpwd =  a b \r\n", "pwd =  ", "a"),
            some("a b")
        );
        assert_eq!(line_end("k\n- secret: a b", "secret: ", "a"), some("a b"));
        assert_eq!(line_end("k\nexport  PW=a b\nz", "PW=", "a"), some("a b"));
        assert_eq!(
            line_end("\"password\": a b", "\"password\": ", "a"),
            some("a b")
        );
        // A comment, nothing more, more fields, an operator other than `:` or `=`.
        assert_eq!(line_end("password: a # b", "password: ", "a"), None);
        assert_eq!(line_end("password: a   ", "password: ", "a"), None);
        assert_eq!(line_end("password: a b=c", "password: ", "a"), None);
        assert_eq!(line_end("password: a b: c", "password: ", "a"), None);
        assert_eq!(
            line_end("password: a b:c", "password: ", "a"),
            some("a b:c")
        );
        assert_eq!(line_end("password> a b", "password> ", "a"), None);
        // Not the line's only assignment or key.
        assert_eq!(line_end("the password: a b", "password: ", "a"), None);
        assert_eq!(line_end("x exported PW=a b", "PW=", "a"), None);
        assert_eq!(line_end("user=x password=a b", "password=", "a"), None);
        // At most 256 bytes, or the first word alone.
        let long = format!("pw: a {}", "b".repeat(254));
        assert_eq!(line_end(&long, "pw: ", "a").map(|v| v.len()), Some(256));
        let long = format!("pw: a {}", "b".repeat(255));
        assert_eq!(line_end(&long, "pw: ", "a"), None);
        // The key is at most 64 bytes before the operator, or the line is not looked at.
        let key = "k".repeat(70);
        assert_eq!(line_end(&format!("{key}: a b"), ": ", "a"), None);
    }

    #[test]
    fn ssn_rules() {
        assert!(nine(&cx(b"123-45-6789"), ssn_ok, SSN_CONTEXT).is_some());
        for bad in [
            &b"000-12-3456"[..],
            b"666-12-3456",
            b"912-12-3456",
            b"123-00-4567",
            b"123-45-0000",
            b"123456789",
        ] {
            assert!(nine(&cx(bad), ssn_ok, SSN_CONTEXT).is_none());
        }
        let w = b"SSN: 123456789";
        assert!(
            nine(
                &VCtx {
                    win: w,
                    s: 5,
                    e: 14
                },
                ssn_ok,
                SSN_CONTEXT
            )
            .is_some()
        );
        assert!(nine(&cx(b"912-70-1234"), itin_ok, ITIN_CONTEXT).is_some());
    }

    #[test]
    fn iban_length_table() {
        for &(c, n) in IBAN_LENGTHS {
            assert_eq!(iban_len(c), Some(n));
        }
        assert_eq!(iban_len(b"ZZ"), None);
        assert_eq!(iban_len(b"de"), None);
        assert_eq!(iban_len(b"D"), None);
    }

    #[test]
    fn aba_iban_nino() {
        assert!(aba_ok(b"021000021"));
        assert!(!aba_ok(b"021000022"));
        assert!(iban(&cx(b"DE89370400440532013000")).is_some());
        assert!(iban(&cx(b"DE89 3704 0044 0532 0130 00")).is_some());
        assert!(iban(&cx(b"GB82 WEST 1234 5698 7654 32")).is_some());
        assert!(iban(&cx(b"DE89370400440532013001")).is_none());
        assert!(nino_ok(b"AB123456C"));
        assert!(!nino_ok(b"GB123456C"));
    }

    #[test]
    fn phones_ipv6_jwt() {
        assert!(phone_ok(b"(415) 555-0132"));
        assert!(phone_ok(b"+1 415 555 0132 ext. 12"));
        assert!(phone_ok(b"+44 20 7946 0958"));
        assert!(phone_ok(b"001-415-555-0132x77"));
        assert!(phone_ok(b"06 12 34 56 78"));
        assert!(phone_ok(b"01.23.45.67.89"));
        assert!(!phone_ok(b"00 12 34 56 78"));
        for (line, found) in [
            (&b"tel 06 12 34 56 78."[..], true),
            (b"0010  01 23 45 67 89 ab cd", false),
            (b"55 01 23 45 67 89", false),
            (b"de 06 12 34 56 78", true),
        ] {
            let s = line
                .windows(2)
                .position(|p| p == b"06" || p == b"01")
                .unwrap();
            let cx = VCtx {
                win: line,
                s,
                e: s + 14,
            };
            assert_eq!(
                phone(&cx).is_some(),
                found,
                "{}",
                String::from_utf8_lossy(line)
            );
        }
        assert!(phone_ok(b"+44(0)20 7946 0958"));
        assert!(phone_ok(b"+44118 496 0833"));
        assert!(phone_ok(b"+61.2.9876.5432"));
        assert!(!phone_ok(b"+12.345.678"));
        assert!(!phone_ok(b"+44(0)1234"));
        let year = b"+44 20 7946 0958 2024";
        assert_eq!(
            phone(&VCtx {
                win: year,
                s: 0,
                e: year.len()
            }),
            Some((0, 16))
        );
        assert!(!phone_ok(b"002-415-555-0132"));
        assert!(!phone_ok(b"123-456-7890"));
        assert!(ipv6(&cx(b"2001:db8::8a2e:370:7334")).is_some());
        assert!(ipv6(&cx(b"10:23:45")).is_none());
        assert!(jwt_ok(b"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.abc"));
        assert!(!secret_value_ok(b"********"));
        assert!(!secret_value_ok(b"${DB_PASSWORD}"));
        assert!(secret_value_ok(b"hunter22"));
    }
}
