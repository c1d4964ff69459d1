//! Hand-written matchers for the fixed-shape built-in detectors.
//!
//! Each one returns exactly what its catalog regex returns for an anchored, leftmost-first
//! search of `w[r..lim]` (the end of the match, or `None`), without the regex engine's
//! per-search set-up: on dense input the numeric detectors are tried ~100 000 times per 8 MiB
//! and most of the cost was that set-up. The tests below compare every matcher with its regex
//! on random and generated inputs.
//!
//! None of these regexes needs real backtracking: at every choice point the next byte decides
//! (a separator versus a digit, `(` versus a digit), or the only ambiguity is a greedy
//! repetition whose continuation always succeeds. Where a choice is not decided by one byte
//! (the labels of an e-mail domain, the extension words of a phone number), the comment says
//! how the regex's preference order is followed.

use std::cell::Cell;

/// A built-in detector whose regex has a hand-written equivalent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Matcher {
    /// `[0-9](?:[ -]?[0-9]){11,18}`
    Card,
    /// `[0-9]{3}-[0-9]{2}-[0-9]{4}|[0-9]{3} [0-9]{2} [0-9]{4}|[0-9]{9}`
    Ssn,
    /// The same with a leading `9`.
    Itin,
    /// `[0-9]{9}`
    Nine,
    /// `[0-9]{2}-[0-9]{7}`
    Ein,
    /// `[A-Z]{2} ?[0-9]{2} ?[0-9]{2} ?[0-9]{2} ?[A-D]`
    Nino,
    /// `[A-Z]{2}[0-9]{2}(?:[A-Z0-9]{11,30}|(?: [A-Z0-9]{4}){2,7}(?: [A-Z0-9]{1,4})?)`
    Iban,
    /// The NANP / E.164 phone regex of the catalog.
    Phone,
    /// Four dotted octets 0-255 (leftmost-first octet alternatives).
    Ipv4,
    /// `[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}`
    Ipv6,
    /// Six hex pairs joined by `:` or by `-`.
    Mac,
    /// The catalog's e-mail regex.
    Email,
    /// `-----BEGIN ... PRIVATE KEY-----` (or `... PRIVATE KEY BLOCK-----`) up to the first
    /// matching `END` line.
    Pem,
    /// Three base64url segments, the first two starting with `eyJ`.
    Jwt,
    /// One of the fixed-prefix token formats (`Token::*`).
    Token(Token),
    /// `aws_secret_access_key = <40 chars>`: the value group.
    AwsSecret,
    /// `AccountKey=<86 chars>==`: the value group.
    AzureKey,
    /// `://user:PASSWORD@`: the value group.
    UriPassword,
    /// `password = value` and its sister keywords: the value group.
    Assignment,
    /// `Authorization: Bearer <token>` (and `Basic`, `token`): the value group.
    Authorization,
    /// `CVV: 123` and its sister keys: the value group.
    CardCode,
    /// `PASSWORD '...'` / `IDENTIFIED BY '...'` in SQL text: the quoted value group.
    SqlPassword,
    /// `(?i:sig|signature|x-amz-signature|x-goog-signature)=` and the signature of a signed
    /// URL (its value group).
    UrlSignature,
    /// The password hash formats (bcrypt, Argon2, SCRAM-SHA-256, PBKDF2, crypt(3)).
    PasswordHash,
}

/// The token formats with a literal prefix and fixed character classes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Token {
    AwsKeyId,
    Github,
    Gitlab,
    Slack,
    SlackWebhook,
    Stripe,
    Google,
    Twilio,
    Sendgrid,
    Npm,
    Pypi,
    Openai,
    Anthropic,
    Huggingface,
    Shopify,
    Digitalocean,
    Vault,
    Grafana,
    Atlassian,
    Postman,
    Newrelic,
    Linear,
    Age,
    Doppler,
    Square,
    Pulumi,
    GoogleOauth,
    Perplexity,
    Bedrock,
    Planetscale,
    Heroku,
    Flyio,
    Sentry,
    Notion,
    OnePassword,
    Alibaba,
    Dynatrace,
    Brevo,
    Rubygems,
    AzureAd,
    Openshift,
    DiscordWebhook,
    TeamsWebhook,
    Terraform,
    Mapbox,
    Artifactory,
    Sonarqube,
    Sourcegraph,
    Prefect,
    Shippo,
    Scalingo,
    Infracost,
    Typeform,
    Clojars,
    Duffel,
    Easypost,
    Flutterwave,
    Frameio,
}

/// What a stream knows of the last run of a token class (`Run`) that a matcher measured
/// without an upper bound (or one as long as an assignment value's 256), in absolute offsets: the bytes `[start, end)` are all in the
/// class, and the byte at `end` is not unless `open` (the measurement stopped at its window
/// or its cap, before any such byte). A trigger inside that run reuses its end rather than
/// measuring it again: input that repeats a prefix inside one long run (`_eyJ_eyJ...` for
/// JWTs, `glpat-glpat-...`, `xoxb-xoxb-...`) made every trigger measure the run to the
/// detector's `max_len` (1.1 MiB/s for `ops_eyJops_eyJ...`, each JWT trigger reading 8 KiB).
/// Only a length is reused, never a decision, so the answers are those of a fresh
/// measurement.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct RunMemo {
    class: Option<Run>,
    start: usize,
    end: usize,
    open: bool,
}

/// The token classes whose unbounded runs the memo covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Run {
    /// `[A-Za-z0-9_-]`
    WordDash,
    /// `[A-Za-z0-9]`
    Alnum,
    /// `[A-Za-z0-9_]`
    Word,
    /// `[A-Za-z0-9-]`
    AlnumDash,
    /// `[A-Za-z0-9+/]`
    Base64,
    /// `[^\s"',;&<>]`: an unquoted assignment value (`password=...`).
    Unquoted,
}

impl Run {
    #[inline(always)]
    fn has(self, b: u8) -> bool {
        match self {
            Run::WordDash => word_dash(b),
            Run::Alnum => an(b),
            Run::Word => an(b) || b == b'_',
            Run::AlnumDash => an(b) || b == b'-',
            Run::Base64 => b64(b),
            Run::Unquoted => {
                !space(b) && !matches!(b, b'"' | b'\'' | b',' | b';' | b'&' | b'<' | b'>')
            }
        }
    }
}

/// A stream's run memo and the absolute offset of the window's first byte (`None`: measure
/// every run).
pub(crate) type Memo<'a> = Option<(&'a Cell<RunMemo>, usize)>;

/// A view of `w[..lim]` that answers `None` past the end.
#[derive(Clone, Copy)]
struct Hay<'a> {
    w: &'a [u8],
    /// Whether `lim` is the end of the whole window (where `$` matches).
    at_end: bool,
    memo: Memo<'a>,
}

impl Hay<'_> {
    /// `lit` at `p`: the position after it.
    #[inline(always)]
    fn lit(self, p: usize, lit: &[u8]) -> Option<usize> {
        let e = p + lit.len();
        (self.w.get(p..e)? == lit).then_some(e)
    }
    /// `lit` at `p` in any ASCII case (`(?i:...)`): the position after it.
    #[inline(always)]
    fn lit_ci(self, p: usize, lit: &[u8]) -> Option<usize> {
        let e = p + lit.len();
        self.w.get(p..e)?.eq_ignore_ascii_case(lit).then_some(e)
    }
    /// The first of `alts` at `p` (alternation in order; callers make sure that what follows
    /// cannot make an earlier alternative fail where a later one would succeed, or try the
    /// rest themselves).
    #[inline(always)]
    fn first_of(self, p: usize, alts: &[&[u8]]) -> Option<usize> {
        alts.iter().find_map(|a| self.lit(p, a))
    }
    /// `[f]{min,max}` at `p`, greedy, where nothing that follows can start with `f` (or
    /// nothing follows): the end, if at least `min` bytes are there. `max` is capped by the
    /// window.
    #[inline(always)]
    fn class(self, p: usize, min: usize, max: usize, f: impl Fn(u8) -> bool) -> Option<usize> {
        let n = self.run(p, max, f);
        (n >= min).then_some(p + n)
    }
    /// `[f]{min,max}` at `p` followed by a byte outside `f` that must come next: the run
    /// must end within `max`.
    #[inline(always)]
    fn class_then(self, p: usize, min: usize, max: usize, f: impl Fn(u8) -> bool) -> Option<usize> {
        let n = self.run(p, max.saturating_add(1), f);
        (min..=max).contains(&n).then_some(p + n)
    }
    #[inline(always)]
    fn at(self, p: usize) -> Option<u8> {
        self.w.get(p).copied()
    }
    #[inline(always)]
    fn is(self, p: usize, f: impl Fn(u8) -> bool) -> bool {
        self.at(p).is_some_and(f)
    }
    #[inline(always)]
    fn digit(self, p: usize) -> bool {
        self.is(p, |b| b.is_ascii_digit())
    }
    #[inline(always)]
    fn hex(self, p: usize) -> bool {
        self.is(p, |b| b.is_ascii_hexdigit())
    }
    /// `n` digits from `p`.
    #[inline(always)]
    fn digits(self, p: usize, n: usize) -> bool {
        (p..p + n).all(|i| self.digit(i))
    }
    /// `[A-Za-z0-9_-]{min,max}` at `p` (`class` with `word_dash`), through the run memo.
    #[inline(always)]
    fn class_wd(self, p: usize, min: usize, max: usize) -> Option<usize> {
        self.class_m(p, min, max, Run::WordDash)
    }
    /// `class(p, min, max, c.has)`, through the run memo.
    #[inline(always)]
    fn class_m(self, p: usize, min: usize, max: usize, c: Run) -> Option<usize> {
        let n = self.run_m(p, max, c);
        (n >= min).then_some(p + n)
    }
    /// `run(p, max, c.has)`, reusing and updating the stream's run memo.
    fn run_m(self, p: usize, max: usize, c: Run) -> usize {
        let Some((cell, base)) = self.memo else {
            return self.run(p, max, |b| c.has(b));
        };
        if p >= self.w.len() {
            return 0;
        }
        let cap = p.saturating_add(max).min(self.w.len());
        let (abs, m) = (base + p, cell.get());
        let inside = m.class == Some(c) && m.start <= abs && abs < m.end;
        if inside && !m.open {
            return (m.end - base).min(cap) - p;
        }
        // Measure on from where the memo's run is known to go (its open end) or from `p`.
        let from = if inside { (m.end - base).min(cap) } else { p };
        let z = from
            + self.w[from..cap]
                .iter()
                .position(|&b| !c.has(b))
                .unwrap_or(cap - from);
        // Inside a run known further than this window reaches, keep what is known.
        let (start, end) = if inside {
            (m.start, (base + z).max(m.end))
        } else {
            (abs, base + z)
        };
        cell.set(RunMemo {
            class: Some(c),
            start,
            end,
            open: z == cap,
        });
        z - p
    }
    /// Length of the run from `p` of bytes satisfying `f`, at most `max`.
    #[inline(always)]
    fn run(self, p: usize, max: usize, f: impl Fn(u8) -> bool) -> usize {
        let Some(s) = self.w.get(p..) else { return 0 };
        let s = &s[..s.len().min(max)];
        s.iter().position(|&b| !f(b)).unwrap_or(s.len())
    }
}

impl Matcher {
    /// The span to verify: for a detector with a value group, that group's span in the
    /// regex's anchored leftmost-first match in `w[r..lim]`, otherwise the whole match
    /// (starting at `r`).
    pub(crate) fn find(
        self,
        w: &[u8],
        r: usize,
        lim: usize,
        memo: Memo<'_>,
    ) -> Option<(usize, usize)> {
        let lim = lim.min(w.len());
        let h = Hay {
            w: &w[..lim],
            at_end: lim == w.len(),
            memo,
        };
        match self {
            Matcher::AwsSecret => return aws_secret(h, r),
            Matcher::UrlSignature => {
                // The keywords differ before their `=` (`sig=` and `signature=` at their
                // fourth byte), so at most one matches, in any case.
                let v = [
                    &b"sig="[..],
                    b"signature=",
                    b"x-amz-signature=",
                    b"x-goog-signature=",
                ]
                .iter()
                .find_map(|k| h.lit_ci(r, k))?;
                // Base64 padding only at the end: a `=` inside would chain `sig=sig=sig=...` into
                // one value that every keyword in it scans again.
                let e = h.class(v, 16, 1024, |b| {
                    b.is_ascii_alphanumeric()
                        || matches!(b, b'%' | b'+' | b'/' | b'_' | b'~' | b'-')
                })?;
                let e = h.class(e, 0, 2, |b| b == b'=')?;
                return Some((v, e));
            }
            Matcher::AzureKey => {
                let v = h.lit(r, b"AccountKey=")?;
                let e = h.class(v, 86, 86, |b| {
                    b.is_ascii_alphanumeric() || b == b'+' || b == b'/'
                })?;
                return Some((v, h.lit(e, b"==")?));
            }
            Matcher::UriPassword => {
                let p = h.lit(r, b"://")?;
                let p =
                    h.class_then(p, 0, 128, |b| !matches!(b, b':' | b'/' | b'@') && !space(b))?;
                let v = h.lit(p, b":")?;
                // `[^\s/]{1,256}@`: the greedy run gives back to its last `@` (a password may
                // hold one: `P@ssw0rd@db`; a host never does). The `@` is part of the run.
                let n = h.run(v, 257, |b| b != b'/' && !space(b));
                let k = (1..n.min(257)).rev().find(|&k| h.at(v + k) == Some(b'@'))?;
                return Some((v, v + k));
            }
            Matcher::Assignment => return assignment(h, r),
            Matcher::Authorization => return authorization(h, r),
            Matcher::CardCode => return card_code(h, r),
            Matcher::SqlPassword => return sql_password(h, r),
            _ => {}
        }
        self.end(h, r).map(|e| (r, e))
    }

    fn end(self, h: Hay<'_>, r: usize) -> Option<usize> {
        match self {
            Matcher::Card => card(h, r),
            Matcher::Ssn => ssn(h, r, false),
            Matcher::Itin => ssn(h, r, true),
            Matcher::Nine => h.digits(r, 9).then_some(r + 9),
            Matcher::Ein => (h.digits(r, 2) && h.at(r + 2) == Some(b'-') && h.digits(r + 3, 7))
                .then_some(r + 10),
            Matcher::Nino => nino(h, r),
            Matcher::Iban => iban(h, r),
            Matcher::Phone => phone(h, r),
            Matcher::Ipv4 => ipv4(h, r),
            Matcher::Ipv6 => ipv6(h, r),
            Matcher::Mac => mac(h, r),
            Matcher::Email => email(h, r),
            Matcher::Pem => pem(h, r),
            Matcher::Jwt => {
                let p = h.lit(r, b"eyJ")?;
                let p = h.lit(h.class_wd(p, 1, usize::MAX)?, b".eyJ")?;
                let p = h.lit(h.class_wd(p, 1, usize::MAX)?, b".")?;
                h.class_wd(p, 0, usize::MAX)
            }
            Matcher::Token(t) => token(h, r, t),
            Matcher::PasswordHash => password_hash(h, r),
            Matcher::AwsSecret
            | Matcher::AzureKey
            | Matcher::UrlSignature
            | Matcher::UriPassword
            | Matcher::Assignment
            | Matcher::Authorization
            | Matcher::CardCode
            | Matcher::SqlPassword => None,
        }
    }
}

/// `\s` without Unicode.
fn space(b: u8) -> bool {
    matches!(b, b'\t' | b'\n' | 0x0b | 0x0c | b'\r' | b' ')
}

fn an(b: u8) -> bool {
    b.is_ascii_alphanumeric()
}

fn upper_digit(b: u8) -> bool {
    b.is_ascii_uppercase() || b.is_ascii_digit()
}

/// `[A-Za-z0-9_-]` (`[\w-]` without Unicode; base64url).
fn word_dash(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'-'
}

/// `(?:PASSWORD|[Pp]assword|IDENTIFIED BY|[Ii]dentified [Bb]y) (?P<v>'(?:[^'\n]|''){1,256}')`.
/// The keyword alternatives differ in their first byte or cannot both match. The quoted
/// value takes as many pieces (a byte other than a quote or a line break, or a doubled
/// quote) as it can, up to 256, and then needs a quote; where there is none, the regex gives
/// pieces back, and the only place a quote can come next is the first quote of a doubled
/// one: the last such piece that leaves at least one before it.
fn sql_password(h: Hay<'_>, r: usize) -> Option<(usize, usize)> {
    let p = match h.at(r)? {
        b'P' | b'p' => h.first_of(r, &[b"PASSWORD", b"Password", b"password"])?,
        b'I' | b'i' => h.first_of(
            r,
            &[
                b"IDENTIFIED BY",
                b"Identified By",
                b"Identified by",
                b"identified By",
                b"identified by",
            ],
        )?,
        _ => return None,
    };
    let q = h.lit(p, b" ")?;
    let mut i = h.lit(q, b"'")?;
    let mut pieces = 0;
    // Where the last doubled quote after the first piece starts.
    let mut give_back = None;
    while pieces < 256 {
        match h.at(i) {
            Some(b'\'') if h.at(i + 1) == Some(b'\'') => {
                if pieces >= 1 {
                    give_back = Some(i);
                }
                i += 2;
            }
            Some(b'\'' | b'\n') | None => break,
            Some(_) => i += 1,
        }
        pieces += 1;
    }
    if pieces >= 1 && h.at(i) == Some(b'\'') {
        return Some((q, i + 1));
    }
    give_back.map(|g| (q, g + 1))
}

/// The `password_hash` regex: eight alternatives, each starting with its own literal
/// (`$2a$`, `$argon2`, `SCRAM-SHA-256$`, `pbkdf2_sha`, `$1$`, `$5$`, `$6$`, `$y$`), so at
/// most one applies at `r`. Every repetition is of a class that excludes what follows it.
fn password_hash(h: Hay<'_>, r: usize) -> Option<usize> {
    let crypt = |b: u8| b.is_ascii_alphanumeric() || b == b'.' || b == b'/';
    let b64 = |b: u8| b.is_ascii_alphanumeric() || b == b'+' || b == b'/';
    let digit = |b: u8| b.is_ascii_digit();
    // `[f]{min,max}` then `lit`.
    let run_lit = |p: usize, min: usize, max: usize, f: &dyn Fn(u8) -> bool, lit: &[u8]| {
        h.lit(h.class_then(p, min, max, f)?, lit)
    };
    match h.at(r)? {
        b'$' => {}
        b'S' => {
            let p = h.lit(r, b"SCRAM-SHA-256$")?;
            let p = run_lit(p, 1, 10, &digit, b":")?;
            let p = h.class_then(p, 16, 88, b64)?;
            let p = h.lit(h.class(p, 0, 2, |b| b == b'=')?, b"$")?;
            let p = h.lit(h.class(p, 43, 43, b64)?, b"=:")?;
            return h.lit(h.class(p, 43, 43, b64)?, b"=");
        }
        b'p' => {
            let p = h.lit(r, b"pbkdf2_sha")?;
            let p = h.lit(h.first_of(p, &[b"256", b"1"])?, b"$")?;
            let p = run_lit(p, 1, 10, &digit, b"$")?;
            let p = run_lit(p, 1, 64, &crypt, b"$")?;
            let p = h.class(p, 27, 88, b64)?;
            return h.class(p, 0, 2, |b| b == b'=');
        }
        _ => return None,
    }
    match h.at(r + 1)? {
        b'2' => {
            if !h.is(r + 2, |b| matches!(b, b'a' | b'b' | b'x' | b'y')) {
                return None;
            }
            let p = h.lit(r + 3, b"$")?;
            // `(?:0[4-9]|[12][0-9]|3[01])`
            if !matches!(
                (h.at(p)?, h.at(p + 1)?),
                (b'0', b'4'..=b'9') | (b'1' | b'2', b'0'..=b'9') | (b'3', b'0' | b'1')
            ) {
                return None;
            }
            let p = h.lit(p + 2, b"$")?;
            h.class(p, 53, 53, crypt)
        }
        b'a' => {
            let p = h.lit(r, b"$argon2")?;
            let p = h.first_of(p, &[b"id$", b"i$", b"d$"])?;
            let p = h.lit(p, b"v=")?;
            let p = run_lit(p, 1, 3, &digit, b"$m=")?;
            let p = run_lit(p, 1, 10, &digit, b",t=")?;
            let p = run_lit(p, 1, 10, &digit, b",p=")?;
            let p = run_lit(p, 1, 3, &digit, b"$")?;
            let p = run_lit(p, 11, 88, &b64, b"$")?;
            h.class(p, 22, 88, b64)
        }
        b'1' => {
            let p = h.lit(r, b"$1$")?;
            let p = run_lit(p, 1, 8, &crypt, b"$")?;
            h.class(p, 22, 22, crypt)
        }
        c @ (b'5' | b'6') => {
            let p = h.lit(r + 2, b"$")?;
            let tail = if c == b'5' { 43 } else { 86 };
            let rest = |p: usize| h.class(run_lit(p, 1, 16, &crypt, b"$")?, tail, tail, crypt);
            // `(?:rounds=[0-9]{1,9}\$)?`: with the group first, then without.
            h.lit(p, b"rounds=")
                .and_then(|q| run_lit(q, 1, 9, &digit, b"$"))
                .and_then(rest)
                .or_else(|| rest(p))
        }
        b'y' => {
            let p = h.lit(r, b"$y$")?;
            let p = run_lit(p, 1, 64, &crypt, b"$")?;
            let p = run_lit(p, 1, 86, &crypt, b"$")?;
            h.class(p, 43, 43, crypt)
        }
        _ => None,
    }
}

fn token(h: Hay<'_>, r: usize, t: Token) -> Option<usize> {
    const MAX: usize = usize::MAX;
    // Each prefix alternative ends with a byte that no other alternative has there, and the
    // class runs end the match or are followed by a byte outside their class: the first
    // alternative that matches is the only one that can.
    match t {
        Token::AwsKeyId => {
            let p = h.first_of(r, &[b"AKIA", b"ASIA", b"ABIA", b"ACCA"])?;
            h.class(p, 16, 16, upper_digit)
        }
        Token::Github => {
            if let Some(p) = h.lit(r, b"gh")
                && h.is(p, |b| matches!(b, b'p' | b'o' | b'u' | b's' | b'r'))
                && h.at(p + 1) == Some(b'_')
            {
                return h.class_m(p + 2, 36, MAX, Run::Alnum);
            }
            let p = h.lit(r, b"github_pat_")?;
            h.class_m(p, 22, MAX, Run::Word)
        }
        Token::Gitlab => {
            // The alternatives differ in their first byte.
            if let Some(p) = h.lit(r, b"GR1348941") {
                return h.class_wd(p, 20, MAX);
            }
            let p = h.lit(r, b"gl")?;
            let p = h.first_of(
                p,
                &[
                    b"pat-", b"dt-", b"rt-", b"ptt-", b"cbt-", b"ft-", b"imt-", b"agent-", b"oas-",
                    b"soat-", b"ffct-",
                ],
            )?;
            let e = h.class_wd(p, 20, MAX)?;
            // `(?:\.[0-9a-z]{9})?`: the checksum of a routable token, taken when it is there.
            Some(
                h.lit(e, b".")
                    .and_then(|p| h.class(p, 9, 9, |b| matches!(b, b'0'..=b'9' | b'a'..=b'z')))
                    .unwrap_or(e),
            )
        }
        Token::Slack => {
            if let Some(p) = h.lit(r, b"xox")
                && h.is(p, |b| {
                    matches!(b, b'a' | b'b' | b'p' | b'o' | b's' | b'r' | b'e')
                })
                && h.at(p + 1) == Some(b'-')
            {
                return h.class_m(p + 2, 10, MAX, Run::AlnumDash);
            }
            let p = h.lit(r, b"xapp-")?;
            let p = h.lit(h.class(p, 1, 1, |b| b.is_ascii_digit())?, b"-")?;
            h.class_m(p, 10, MAX, Run::AlnumDash)
        }
        Token::SlackWebhook => {
            let p = h.lit(r, b"hooks.slack.com/services/T")?;
            let p = h.lit(h.class_then(p, 6, 12, upper_digit)?, b"/B")?;
            let p = h.lit(h.class_then(p, 6, 12, upper_digit)?, b"/")?;
            h.class(p, 20, 32, an)
        }
        Token::Stripe => {
            // The alternatives differ in their first byte.
            if let Some(p) = h.lit(r, b"whsec_") {
                return h.class_m(p, 32, MAX, Run::Alnum);
            }
            let p = h.first_of(r, &[b"sk_", b"rk_"])?;
            let p = h.first_of(p, &[b"live_", b"test_"])?;
            h.class_m(p, 16, MAX, Run::Alnum)
        }
        Token::Google => h.class_wd(h.lit(r, b"AIza")?, 35, 35),
        Token::Twilio => h.class(h.lit(r, b"SK")?, 32, 32, |b| b.is_ascii_hexdigit()),
        Token::Sendgrid => {
            let p = h.lit(r, b"SG.")?;
            let p = h.lit(h.class_wd(p, 22, 22)?, b".")?;
            h.class_wd(p, 43, 43)
        }
        Token::Npm => h.class(h.lit(r, b"npm_")?, 36, 36, an),
        Token::Pypi => h.class_wd(h.lit(r, b"pypi-AgEIcHlwaS5vcmc")?, 50, MAX),
        Token::Openai => {
            let p = h.lit(r, b"sk-")?;
            let p = h.first_of(p, &[b"proj-", b"svcacct-", b"admin-"])?;
            h.class_wd(p, 20, MAX)
        }
        Token::Anthropic => {
            let p = h.lit(r, b"sk-ant-")?;
            let p = h.first_of(p, &[b"api", b"admin"])?;
            let p = h.lit(h.class(p, 2, 2, |b| b.is_ascii_digit())?, b"-")?;
            h.class_wd(p, 80, MAX)
        }
        Token::Huggingface => h.class(h.lit(r, b"hf_")?, 34, 34, |b| b.is_ascii_alphabetic()),
        Token::Shopify => {
            let p = h.lit(r, b"shp")?;
            let p = h.first_of(p, &[b"at_", b"ca_", b"pa_", b"ss_"])?;
            h.class(p, 32, 32, |b| b.is_ascii_hexdigit())
        }
        Token::Digitalocean => {
            let p = h.first_of(r, &[b"dop_v1_", b"doo_v1_", b"dor_v1_"])?;
            h.class(p, 64, 64, lower_hex)
        }
        Token::Vault => {
            let p = h.first_of(r, &[b"hvs.", b"hvb."])?;
            h.class_wd(p, 90, MAX)
        }
        Token::Grafana => {
            if let Some(p) = h.lit(r, b"glsa_") {
                let p = h.lit(h.class(p, 32, 32, an)?, b"_")?;
                return h.class(p, 8, 8, |b| b.is_ascii_hexdigit());
            }
            if let Some(p) = h.lit(r, b"glc_") {
                let p = h.class(p, 32, 400, |b| an(b) || b == b'+' || b == b'/')?;
                return h.class(p, 0, 3, |b| b == b'=');
            }
            let p = h.class(h.lit(r, b"eyJrIjoi")?, 70, 400, an)?;
            h.class(p, 0, 3, |b| b == b'=')
        }
        Token::Atlassian => h.class(h.lit(r, b"ATATT3")?, 186, 186, |b| {
            word_dash(b) || b == b'='
        }),
        Token::Postman => {
            let p = h.lit(r, b"PMAK-")?;
            let p = h.lit(h.class(p, 24, 24, |b| b.is_ascii_hexdigit())?, b"-")?;
            h.class(p, 34, 34, |b| b.is_ascii_hexdigit())
        }
        Token::Newrelic => h.class(h.lit(r, b"NRAK-")?, 27, 27, upper_digit),
        Token::Linear => h.class(h.lit(r, b"lin_api_")?, 40, 40, an),
        Token::Age => h.class(h.lit(r, b"AGE-SECRET-KEY-1")?, 58, 58, |b| {
            b"QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L".contains(&b)
        }),
        Token::Doppler => {
            let p = h.lit(r, b"dp.")?;
            let p = h.first_of(p, &[b"pt.", b"st.", b"sa.", b"ct."])?;
            h.class(p, 40, 64, an)
        }
        Token::Square => {
            let p = h.lit(r, b"sq0")?;
            let p = h.first_of(p, &[b"atp-", b"csp-"])?;
            h.class_wd(p, 22, 60)
        }
        Token::Pulumi => h.class(h.lit(r, b"pul-")?, 40, 40, lower_hex),
        Token::GoogleOauth => h.class_wd(h.lit(r, b"ya29.")?, 20, MAX),
        Token::Perplexity => h.class(h.lit(r, b"pplx-")?, 48, 48, an),
        Token::Bedrock => {
            let p = h.class(h.lit(r, b"ABSK")?, 109, 269, b64)?;
            h.class(p, 0, 2, |b| b == b'=')
        }
        Token::Planetscale => {
            let p = h.lit(r, b"pscale_")?;
            let p = h.first_of(p, &[b"tkn_", b"pw_", b"oauth_"])?;
            // `[\w=.-]{31,63}[\w=-]`: the run gives back to its last byte other than `.` (a
            // full stop after the token is not part of it).
            let n = h.run(p, 64, |b| word_dash(b) || b == b'=' || b == b'.');
            (32..=n)
                .rev()
                .find(|&k| h.at(p + k - 1) != Some(b'.'))
                .map(|k| p + k)
        }
        Token::Heroku => h.class_wd(h.lit(r, b"HRKU-AA")?, 58, 58),
        Token::Flyio => {
            if let Some(p) = h.lit(r, b"fo1_") {
                return h.class_wd(p, 43, 43);
            }
            let p = h.first_of(r, &[b"fm1a_", b"fm1r_", b"fm2_"])?;
            let p = h.class_m(p, 100, MAX, Run::Base64)?;
            h.class(p, 0, 3, |b| b == b'=')
        }
        Token::Sentry => {
            if let Some(p) = h.lit(r, b"sntryu_") {
                return h.class(p, 64, 64, lower_hex);
            }
            // The base64 run cannot hold the `=` or `_` that must follow it: no give-back.
            let p = h.class(h.lit(r, b"sntrys_eyJ")?, 10, 400, b64)?;
            let p = h.lit(h.class(p, 0, 2, |b| b == b'=')?, b"_")?;
            h.class(p, 43, 43, b64)
        }
        Token::Notion => {
            let p = h.class(h.lit(r, b"ntn_")?, 11, 11, |b| b.is_ascii_digit())?;
            h.class(p, 35, 35, an)
        }
        Token::OnePassword => {
            let p = h.class_m(h.lit(r, b"ops_eyJ")?, 250, MAX, Run::Base64)?;
            h.class(p, 0, 3, |b| b == b'=')
        }
        Token::Alibaba => h.class(h.lit(r, b"LTAI")?, 12, 20, an),
        Token::Dynatrace => {
            let p = h.lit(r, b"dt0c01.")?;
            let p = h.lit(h.class(p, 24, 24, an)?, b".")?;
            h.class(p, 64, 64, an)
        }
        Token::Brevo => {
            let p = h.first_of(r, &[b"xkeysib-", b"xsmtpsib-"])?;
            let p = h.lit(h.class(p, 64, 64, lower_hex)?, b"-")?;
            h.class(p, 16, 16, an)
        }
        Token::Rubygems => h.class(h.lit(r, b"rubygems_")?, 48, 48, lower_hex),
        Token::AzureAd => {
            let az = |b: u8| an(b) || matches!(b, b'_' | b'~' | b'.' | b'-');
            let p = h.class(r, 3, 3, az)?;
            let p = h.lit(h.class(p, 1, 1, |b| b.is_ascii_digit())?, b"Q~")?;
            h.class(p, 31, 34, az)
        }
        Token::Openshift => {
            let p = h.lit(r, b"sha256~")?;
            h.class_wd(p, 43, 43)
        }
        Token::DiscordWebhook => {
            // The alternatives differ in their eighth byte.
            let p = h.first_of(
                r,
                &[
                    b"discord.com/api/webhooks/",
                    b"discordapp.com/api/webhooks/",
                ],
            )?;
            let p = h.lit(h.class_then(p, 17, 20, |b| b.is_ascii_digit())?, b"/")?;
            h.class_wd(p, 60, 68)
        }
        Token::TeamsWebhook => {
            let guid = |b: u8| lower_hex(b) || b == b'-';
            let p = h.lit(r, b"webhook.office.com/webhookb2/")?;
            let p = h.lit(h.class_then(p, 36, 36, guid)?, b"@")?;
            let p = h.lit(h.class_then(p, 36, 36, guid)?, b"/IncomingWebhook/")?;
            let p = h.lit(h.class_then(p, 32, 32, lower_hex)?, b"/")?;
            let p = h.class(p, 36, 36, guid)?;
            // The optional `/V2...` of newer URLs, taken when it is there (greedy).
            Some(
                h.lit(p, b"/V2")
                    .and_then(|q| h.class_wd(q, 20, 80))
                    .unwrap_or(p),
            )
        }
        Token::Terraform => {
            let p = h.lit(h.class(r, 14, 14, an)?, b".atlasv1.")?;
            h.class(p, 60, 70, |b| an(b) || matches!(b, b'_' | b'=' | b'-'))
        }
        Token::Mapbox => {
            let p = h.lit(r, b"sk.eyJ")?;
            let p = h.lit(h.class_then(p, 20, 300, word_dash)?, b".")?;
            h.class_wd(p, 20, 30)
        }
        Token::Artifactory => {
            // The alternatives differ in their first byte.
            if let Some(p) = h.lit(r, b"AKCp") {
                return h.class(p, 69, 69, an);
            }
            h.class(h.lit(r, b"cmVmdGtuOjAx")?, 52, 52, an)
        }
        Token::Sonarqube => {
            let p = h.first_of(r, &[b"squ_", b"sqp_", b"sqa_"])?;
            h.class(p, 40, 40, lower_hex)
        }
        Token::Sourcegraph => {
            let hex = |b: u8| b.is_ascii_hexdigit();
            let p = h.lit(r, b"sgp_")?;
            // `(?:[a-fA-F0-9]{16}|local)_[a-fA-F0-9]{40}` first (its two heads differ in
            // their first byte), then `[a-fA-F0-9]{40}`.
            let head = h.class(p, 16, 16, hex).or_else(|| h.lit(p, b"local"));
            if let Some(e) = head
                .and_then(|q| h.lit(q, b"_"))
                .and_then(|q| h.class(q, 40, 40, hex))
            {
                return Some(e);
            }
            h.class(p, 40, 40, hex)
        }
        Token::Prefect => h.class(h.lit(r, b"pnu_")?, 36, 36, an),
        Token::Shippo => {
            let p = h.first_of(r, &[b"shippo_live_", b"shippo_test_"])?;
            h.class(p, 40, 40, |b| b.is_ascii_hexdigit())
        }
        Token::Scalingo => h.class_wd(h.lit(r, b"tk-us-")?, 48, 48),
        Token::Infracost => h.class(h.lit(r, b"ico-")?, 32, 32, an),
        Token::Typeform => h.class(h.lit(r, b"tfp_")?, 59, 59, |b| {
            word_dash(b) || b == b'.' || b == b'='
        }),
        Token::Clojars => h.class(h.lit(r, b"CLOJARS_")?, 60, 60, |b| {
            b.is_ascii_lowercase() || b.is_ascii_digit()
        }),
        Token::Duffel => {
            let p = h.first_of(r, &[b"duffel_test_", b"duffel_live_"])?;
            h.class(p, 43, 43, |b| word_dash(b) || b == b'=')
        }
        Token::Easypost => {
            let p = h.first_of(r, &[b"EZAK", b"EZTK"])?;
            h.class(p, 54, 54, an)
        }
        Token::Flutterwave => {
            let p = h.lit(r, b"FLWSECK")?;
            let p = h.lit(p, b"_TEST").unwrap_or(p);
            let p = h.lit(p, b"-")?;
            let p = h.class(
                p,
                32,
                32,
                |b| matches!(b, b'a'..=b'h' | b'A'..=b'H' | b'0'..=b'9'),
            )?;
            h.lit(p, b"-X")
        }
        Token::Frameio => h.class(h.lit(r, b"fio-u-")?, 64, 64, |b| word_dash(b) || b == b'='),
    }
}

/// `[A-Za-z0-9+/]`: base64 without its padding.
fn b64(b: u8) -> bool {
    an(b) || b == b'+' || b == b'/'
}

fn lower_hex(b: u8) -> bool {
    matches!(b, b'a'..=b'f' | b'0'..=b'9')
}

/// `-----BEGIN[A-Z ]{0,30}PRIVATE KEY(?: BLOCK)?-----` at `at` (`BLOCK`: PGP armor): the
/// end. `[A-Z ]` covers `PRIVATE KEY BLOCK` but not `-`, so the only split that can work puts
/// the tail and `-----` at the end of the `[A-Z ]` run, and at most one tail ends it.
fn pem_line(h: Hay<'_>, at: usize, word: &[u8]) -> Option<usize> {
    let p = h.lit(at, word)?;
    let n = h.run(p, 48, |b| b.is_ascii_uppercase() || b == b' ');
    for tail in [&b"PRIVATE KEY"[..], b"PRIVATE KEY BLOCK"] {
        if (tail.len()..=30 + tail.len()).contains(&n) && h.lit(p + n - tail.len(), tail).is_some()
        {
            return h.lit(p + n, b"-----");
        }
    }
    None
}

fn pem(h: Hay<'_>, r: usize) -> Option<usize> {
    let body = pem_line(h, r, b"-----BEGIN")?;
    // `.*?`: the first `END` line after the header ends the match.
    let mut from = body;
    while let Some(i) = memchr::memmem::find(h.w.get(from..)?, b"-----END") {
        if let Some(e) = pem_line(h, from + i, b"-----END") {
            return Some(e);
        }
        from += i + 1;
    }
    None
}

/// `(?i:aws_?secret_?access_?key|secretaccesskey)["']?\s{0,3}[:=]\s{0,3}["']?`
/// `(?P<v>[A-Za-z0-9/+]{40})(?:[^A-Za-z0-9/+=]|$)`
fn aws_secret(h: Hay<'_>, r: usize) -> Option<(usize, usize)> {
    let opt = |p: usize, c: u8| {
        if h.at(p).is_some_and(|b| b.eq_ignore_ascii_case(&c)) {
            p + 1
        } else {
            p
        }
    };
    // `_?` before a letter: the byte decides.
    let kw = h
        .lit_ci(r, b"aws")
        .map(|p| opt(p, b'_'))
        .and_then(|p| h.lit_ci(p, b"secret"))
        .map(|p| opt(p, b'_'))
        .and_then(|p| h.lit_ci(p, b"access"))
        .map(|p| opt(p, b'_'))
        .and_then(|p| h.lit_ci(p, b"key"))
        .or_else(|| h.lit_ci(r, b"secretaccesskey"))?;
    let p = quote_opt(h, kw);
    let p = h.class_then(p, 0, 3, space)?;
    if !matches!(h.at(p), Some(b':' | b'=')) {
        return None;
    }
    let p = h.class_then(p + 1, 0, 3, space)?;
    let v = quote_opt(h, p);
    let key = |b: u8| an(b) || b == b'/' || b == b'+';
    let e = h.class(v, 40, 40, key)?;
    match h.at(e) {
        Some(b) if !(key(b) || b == b'=') => Some((v, e)),
        None if h.at_end => Some((v, e)),
        _ => None,
    }
}

/// `["']?`: a quote is never what follows it in these regexes (blanks, an operator, or a
/// value class without quotes), so the byte decides.
fn quote_opt(h: Hay<'_>, p: usize) -> usize {
    if matches!(h.at(p), Some(b'"' | b'\'')) {
        p + 1
    } else {
        p
    }
}

/// `"(?:[^"\\\n]|\\.){1,256}"` or the same with `'` at `p`: the end after the closing quote.
/// Inside, a backslash takes the next byte (not a newline) whatever it is; any other byte but
/// the quote and a newline stands for itself, so the first unescaped quote decides.
fn quoted(h: Hay<'_>, p: usize) -> Option<usize> {
    let q = h.at(p).filter(|&b| b == b'"' || b == b'\'')?;
    let mut i = p + 1;
    let mut n = 0;
    while n < 256 {
        match h.at(i)? {
            b'\n' => return None,
            b if b == q => break,
            b'\\' => {
                if h.at(i + 1)? == b'\n' {
                    return None;
                }
                i += 2;
            }
            _ => i += 1,
        }
        n += 1;
    }
    (n >= 1 && h.at(i) == Some(q)).then_some(i + 1)
}

/// `(?i:password|passwd|passphrase|pwd|secret[_-]?key|secret|private[_-]?key|api[_-]?key|token)`
/// `["']?\s{0,3}(?::|=|=>)`
/// `[ \t]{0,3}(?P<v>"(?:[^"\\\n]|\\.){1,256}"|'(?:[^'\\\n]|\\.){1,256}'|["']?[^\s"',;&<>]{1,256})`
/// (the validator takes the quotes off).
fn assignment(h: Hay<'_>, r: usize) -> Option<(usize, usize)> {
    let us = |p: usize| {
        if matches!(h.at(p), Some(b'_' | b'-')) {
            p + 1
        } else {
            p
        }
    };
    // The keywords differ before any of them ends, except `secret` and `secret_key`, after
    // which the next byte decides (`_`, `-`, `k` against a quote, a blank or the operator):
    // at most one keyword leads to a match here, and taking the first that is present is
    // what the regex's alternation does.
    let kw = h
        .lit_ci(r, b"password")
        .or_else(|| h.lit_ci(r, b"passwd"))
        .or_else(|| h.lit_ci(r, b"passphrase"))
        .or_else(|| h.lit_ci(r, b"pwd"))
        .or_else(|| h.lit_ci(r, b"secret").and_then(|p| h.lit_ci(us(p), b"key")))
        .or_else(|| h.lit_ci(r, b"secret"))
        .or_else(|| {
            h.lit_ci(r, b"private")
                .and_then(|p| h.lit_ci(us(p), b"key"))
        })
        .or_else(|| h.lit_ci(r, b"api").and_then(|p| h.lit_ci(us(p), b"key")))
        .or_else(|| h.lit_ci(r, b"token"))?;
    let q = quote_opt(h, kw);
    let p = h.class_then(q, 0, 3, space)?;
    // The value is on the operator's line: `PASSWORD=` with nothing after it is empty, and
    // the next line is not its value.
    let value = |p: usize| {
        let p = h.class_then(p, 0, 3, |b| b == b' ' || b == b'\t')?;
        if let Some(e) = quoted(h, p) {
            return Some((p, e));
        }
        let e = h.class_m(quote_opt(h, p), 1, 256, Run::Unquoted)?;
        Some((p, e))
    };
    // An XML element or attribute-named element (`<password>`, `name="db.password">`): the
    // `>` right after the keyword (and its quote). Blanks or an operator there are the other
    // branch, so the two never compete.
    if h.at(q) == Some(b'>') {
        return value(q + 1);
    }
    match h.at(p)? {
        b':' => value(p + 1),
        // `=` comes before `=>`; after `=`, a `>` cannot start the value, so `=>` is tried
        // when the rest fails.
        b'=' => value(p + 1).or_else(|| {
            if h.at(p + 1) == Some(b'>') {
                value(p + 2)
            } else {
                None
            }
        }),
        _ => None,
    }
}

/// `(?i:authorization)["']?\s{0,3}[:=]\s{0,3}["']?(?i:bearer|basic|token)\s{1,3}`
/// `(?P<v>[A-Za-z0-9._~+/=-]{8,960})` (a longer token is masked for its first 960 bytes; a JWT,
/// however long, is also found whole by `jwt`)
fn authorization(h: Hay<'_>, r: usize) -> Option<(usize, usize)> {
    let p = quote_opt(h, h.lit_ci(r, b"authorization")?);
    let p = h.class_then(p, 0, 3, space)?;
    if !matches!(h.at(p)?, b':' | b'=') {
        return None;
    }
    let p = quote_opt(h, h.class_then(p + 1, 0, 3, space)?);
    // The schemes differ before any of them ends: at most one matches.
    let p = h
        .lit_ci(p, b"bearer")
        .or_else(|| h.lit_ci(p, b"basic"))
        .or_else(|| h.lit_ci(p, b"token"))?;
    let v = h.class_then(p, 1, 3, space)?;
    let e = h.class(v, 8, 960, |b| {
        b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'~' | b'+' | b'/' | b'=' | b'-')
    })?;
    Some((v, e))
}

/// `(?i:cvv2?|cvc2?|security[ _]?code)["']?\s{0,3}[:=][ \t]{0,3}["']?`
/// `(?P<v>[0-9]{3,4})(?:[^0-9A-Za-z]|$)`
fn card_code(h: Hay<'_>, r: usize) -> Option<(usize, usize)> {
    // Each optional byte (`2`, `[ _]`) is one the rest cannot start with: the byte decides.
    let opt = |p: usize, f: fn(u8) -> bool| if h.is(p, f) { p + 1 } else { p };
    let kw = (h.lit_ci(r, b"cvv").or_else(|| h.lit_ci(r, b"cvc")))
        .map(|p| opt(p, |b| b == b'2'))
        .or_else(|| {
            h.lit_ci(
                opt(h.lit_ci(r, b"security")?, |b| b == b' ' || b == b'_'),
                b"code",
            )
        })?;
    let p = h.class_then(quote_opt(h, kw), 0, 3, space)?;
    if !matches!(h.at(p)?, b':' | b'=') {
        return None;
    }
    let v = quote_opt(h, h.class_then(p + 1, 0, 3, |b| b == b' ' || b == b'\t')?);
    let n = h.run(v, 5, |b| b.is_ascii_digit());
    if !(3..=4).contains(&n) {
        return None;
    }
    match h.at(v + n) {
        Some(b) if !b.is_ascii_alphanumeric() => Some((v, v + n)),
        None if h.at_end => Some((v, v + n)),
        _ => None,
    }
}

fn card(h: Hay<'_>, r: usize) -> Option<usize> {
    if !h.digit(r) {
        return None;
    }
    // Each repetition is a digit, or a separator and a digit; a separator is never a digit,
    // so the byte decides, and the greedy count is the longest run up to 18.
    let mut p = r + 1;
    let mut k = 0;
    while k < 18 {
        if h.digit(p) {
            p += 1;
        } else if matches!(h.at(p), Some(b' ' | b'-')) && h.digit(p + 1) {
            p += 2;
        } else {
            break;
        }
        k += 1;
    }
    (k >= 11).then_some(p)
}

fn ssn(h: Hay<'_>, r: usize, itin: bool) -> Option<usize> {
    if !h.digits(r, 3) || itin && h.at(r) != Some(b'9') {
        return None;
    }
    // The three alternatives differ at the fourth byte.
    match h.at(r + 3)? {
        s @ (b'-' | b' ') => {
            (h.digits(r + 4, 2) && h.at(r + 6) == Some(s) && h.digits(r + 7, 4)).then_some(r + 11)
        }
        _ => h.digits(r + 3, 6).then_some(r + 9),
    }
}

fn nino(h: Hay<'_>, r: usize) -> Option<usize> {
    let up = |b: u8| b.is_ascii_uppercase();
    if !(h.is(r, up) && h.is(r + 1, up)) {
        return None;
    }
    // ` ?` before a digit or a letter: a space is neither, so the byte decides.
    let mut p = r + 2;
    for _ in 0..3 {
        if h.at(p) == Some(b' ') {
            p += 1;
        }
        if !h.digits(p, 2) {
            return None;
        }
        p += 2;
    }
    if h.at(p) == Some(b' ') {
        p += 1;
    }
    h.is(p, |b| matches!(b, b'A'..=b'D')).then_some(p + 1)
}

fn iban(h: Hay<'_>, r: usize) -> Option<usize> {
    let up = |b: u8| b.is_ascii_uppercase();
    let an = |b: u8| b.is_ascii_uppercase() || b.is_ascii_digit();
    if !(h.is(r, up) && h.is(r + 1, up) && h.digits(r + 2, 2)) {
        return None;
    }
    let p = r + 4;
    if h.at(p) != Some(b' ') {
        // First alternative (the second starts with a space).
        let n = h.run(p, 30, an);
        return (n >= 11).then_some(p + n);
    }
    // Groups of four, greedy (what follows them is optional, so the most groups win), then
    // an optional shorter group, greedy.
    let mut p = p;
    let mut k = 0;
    while k < 7 && h.at(p) == Some(b' ') && h.run(p + 1, 4, an) == 4 {
        p += 5;
        k += 1;
    }
    if k < 2 {
        return None;
    }
    if h.at(p) == Some(b' ') {
        let n = h.run(p + 1, 4, an);
        if n >= 1 {
            p += 1 + n;
        }
    }
    Some(p)
}

fn phone(h: Hay<'_>, r: usize) -> Option<usize> {
    phone_nanp(h, r)
        .or_else(|| phone_intl(h, r))
        .or_else(|| phone_pairs(h, r))
}

/// `0[1-9](?: [0-9]{2}){4}|0[1-9](?:\.[0-9]{2}){4}|0[1-9](?:-[0-9]{2}){4}`: a French number,
/// five pairs of digits with one kind of separator between them.
fn phone_pairs(h: Hay<'_>, r: usize) -> Option<usize> {
    if !(h.at(r) == Some(b'0') && h.is(r + 1, |b| matches!(b, b'1'..=b'9'))) {
        return None;
    }
    let sep = h.at(r + 2).filter(|&b| matches!(b, b' ' | b'.' | b'-'))?;
    (0..4)
        .all(|k| {
            let p = r + 2 + 3 * k;
            h.at(p) == Some(sep) && h.digits(p + 1, 2)
        })
        .then_some(r + 14)
}

/// `[-. ]`
fn sep3(b: u8) -> bool {
    matches!(b, b'-' | b'.' | b' ')
}

/// `(?:\+1[-. ]?|1[-. ]|001[-. ])?(?:\([0-9]{3}\) ?|[0-9]{3}[-. ])[0-9]{3}[-. ][0-9]{4}` and
/// the optional extension.
fn phone_nanp(h: Hay<'_>, r: usize) -> Option<usize> {
    // The prefix: where `+1` or `1` and a separator match, the form without them cannot (the
    // core starts with `(` or three digits), and `+1` followed by a separator cannot go on
    // without taking it. So the bytes decide. `001` and a separator can also start the core
    // (`001-555-0132`): where the prefixed form fails, the regex tries that.
    let mut p = r;
    if h.at(p) == Some(b'+') {
        if h.at(p + 1) != Some(b'1') {
            return None;
        }
        p += 2;
        if h.is(p, sep3) {
            p += 1;
        }
    } else if h.at(p) == Some(b'1') && h.is(p + 1, sep3) {
        p += 2;
    } else if h.lit(p, b"001").is_some()
        && h.is(p + 3, sep3)
        && let Some(e) = phone_core(h, p + 4)
    {
        return Some(e);
    }
    phone_core(h, p)
}

/// `(?:\([0-9]{3}\) ?|[0-9]{3}[-. ])[0-9]{3}[-. ][0-9]{4}` and the optional extension.
fn phone_core(h: Hay<'_>, mut p: usize) -> Option<usize> {
    if h.at(p) == Some(b'(') {
        if !(h.digits(p + 1, 3) && h.at(p + 4) == Some(b')')) {
            return None;
        }
        p += 5;
        if h.at(p) == Some(b' ') {
            p += 1;
        }
    } else {
        if !(h.digits(p, 3) && h.is(p + 3, sep3)) {
            return None;
        }
        p += 4;
    }
    if !(h.digits(p, 3) && h.is(p + 3, sep3) && h.digits(p + 4, 4)) {
        return None;
    }
    p += 8;
    Some(phone_ext(h, p).unwrap_or(p))
}

/// `(?: ?(?:x|ext\.?|extension) ?[0-9]{1,6})?` at `p`: the end when present.
fn phone_ext(h: Hay<'_>, mut p: usize) -> Option<usize> {
    // A space is never the start of a keyword: the byte decides whether ` ?` takes it.
    if h.at(p) == Some(b' ') {
        p += 1;
    }
    // ` ?[0-9]{1,6}` after the keyword.
    let tail = |q: usize| {
        let q = if h.at(q) == Some(b' ') { q + 1 } else { q };
        let n = h.run(q, 6, |b| b.is_ascii_digit());
        (n >= 1).then_some(q + n)
    };
    if h.at(p) == Some(b'x') {
        return tail(p + 1);
    }
    let ext = h.at(p) == Some(b'e') && h.at(p + 1) == Some(b'x') && h.at(p + 2) == Some(b't');
    if !ext {
        return None;
    }
    // `ext\.?` comes before `extension`; `.` is preferred, and without it the tail would
    // have to start at the `.`, which it cannot.
    if h.at(p + 3) == Some(b'.') {
        if let Some(e) = tail(p + 4) {
            return Some(e);
        }
    } else if let Some(e) = tail(p + 3) {
        return Some(e);
    }
    let word = b"extension";
    if (0..word.len()).all(|i| h.at(p + i) == Some(word[i])) {
        return tail(p + word.len());
    }
    None
}

/// `\+[1-9][0-9]{0,14}(?: ?\(0\) ?[0-9]{1,12})?(?:[ .-][0-9]{1,12}){0,5}`: E.164, plain or
/// grouped (`+44 20 7946 0958`, `+44118 496 0833`, `+61.2.9876.5432`), with the trunk prefix
/// written in (`+44(0)20 7946 0958`, `+33 (0)1 23 45 67 89`).
fn phone_intl(h: Hay<'_>, r: usize) -> Option<usize> {
    if !(h.at(r) == Some(b'+') && h.is(r + 1, |b| matches!(b, b'1'..=b'9'))) {
        return None;
    }
    let digits = |p: usize, max: usize| h.run(p, max, |b| b.is_ascii_digit());
    // Each digit run is followed by a separator, `(` or the end: taking fewer digits than a
    // run holds only leaves a digit where one of those must be, so runs are taken whole up
    // to their bound (or the match ends inside one).
    let mut p = r + 2 + digits(r + 2, 14);
    // ` ?\(0\) ?[0-9]{1,12}`, taken when all of it is there; each ` ?` gives its blank back
    // only where the next byte then fails anyway.
    let mut q = p;
    if h.at(q) == Some(b' ') {
        q += 1;
    }
    if h.lit(q, b"(0)").is_some() {
        q += 3;
        if h.at(q) == Some(b' ') {
            q += 1;
        }
        let n = digits(q, 12);
        if n >= 1 {
            p = q + n;
        }
    }
    let mut k = 0;
    while k < 5 && matches!(h.at(p), Some(b' ' | b'.' | b'-')) && h.digit(p + 1) {
        p += 1 + digits(p + 1, 12);
        k += 1;
    }
    Some(p)
}

/// `25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9]` at `p`, leftmost-first: the candidate
/// lengths in the regex's preference order (at most two differ: a three-digit form, then the
/// two- or one-digit form).
fn octet_lens(h: Hay<'_>, p: usize) -> [usize; 2] {
    let d = |i: usize| h.at(p + i).filter(u8::is_ascii_digit);
    let (Some(a), b, c) = (d(0), d(1), d(2)) else {
        return [0, 0];
    };
    let three = match (a, b, c) {
        (b'2', Some(b'5'), Some(b'0'..=b'5'))
        | (b'2', Some(b'0'..=b'4'), Some(_))
        | (b'1', Some(_), Some(_)) => 3,
        _ => 0,
    };
    // `[1-9]?` prefers to take a byte; without it, one digit.
    let short = if a != b'0' && b.is_some() { 2 } else { 1 };
    [three, short]
}

fn ipv4(h: Hay<'_>, r: usize) -> Option<usize> {
    // The first three octets must be followed by `.`; a regex engine tries the octet forms in
    // order and keeps the first that a `.` follows (the `[1-9]?` form also backs off to one
    // digit). No later choice can undo an octet, since the `.` fixes where it ends.
    let mut p = r;
    for _ in 0..3 {
        let [three, short] = octet_lens(h, p);
        let ok = |n: usize| n > 0 && h.at(p + n) == Some(b'.');
        let n = if ok(three) {
            three
        } else if ok(short) {
            short
        } else if short == 2 && ok(1) {
            1
        } else {
            return None;
        };
        p += n + 1;
    }
    let [three, short] = octet_lens(h, p);
    match (three, short) {
        (0, 0) => None,
        (0, s) => Some(p + s),
        (t, _) => Some(p + t),
    }
}

fn ipv6(h: Hay<'_>, r: usize) -> Option<usize> {
    // `{0,4}` hex before each `:`: a longer run leaves a hex digit where `:` must be, so only
    // the whole run (at most four) can go on. The last group may stop inside a run.
    let first = h.run(r, 5, |b| b.is_ascii_hexdigit());
    if first > 4 {
        return None;
    }
    let mut p = r + first;
    let mut k = 0;
    while k < 7 && h.at(p) == Some(b':') {
        let n = h.run(p + 1, 4, |b| b.is_ascii_hexdigit());
        p += 1 + n;
        k += 1;
        if n == 4 && h.hex(p) {
            break;
        }
    }
    (k >= 2).then_some(p)
}

fn mac(h: Hay<'_>, r: usize) -> Option<usize> {
    if !(h.hex(r) && h.hex(r + 1)) {
        return None;
    }
    let sep = h.at(r + 2)?;
    if !matches!(sep, b':' | b'-') {
        // Cisco's `0011.22aa.bbcc`: its third byte is a hex digit where the others have
        // their separator.
        return (0..3)
            .all(|g| {
                let q = r + 5 * g;
                (q..q + 4).all(|k| h.hex(k)) && (g == 2 || h.at(q + 4) == Some(b'.'))
            })
            .then_some(r + 14);
    }
    (0..5)
        .all(|g| {
            let q = r + 2 + 3 * g;
            h.at(q) == Some(sep) && h.hex(q + 1) && h.hex(q + 2)
        })
        .then_some(r + 17)
}

fn email(h: Hay<'_>, r: usize) -> Option<usize> {
    // Accented Latin letters (U+00C0 to U+024F: UTF-8 lead bytes C3-C9, then a continuation
    // byte) count as letters of the local part (`josé.garcía@`), byte by byte as in the regex.
    let first =
        |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'%' | b'+' | b'-' | 0xC3..=0xC9);
    let local = |b: u8| first(b) || matches!(b, b'.' | 0x80..=0xBF);
    if !h.is(r, first) {
        return None;
    }
    // The local part is greedy and cannot contain `@`, but can contain `%40`: the regex tries
    // the longest local part first (where an `@` can follow: the end of the run), then shorter
    // ones, each followed by `@` or `%40` and a domain; the first that completes wins.
    let n = h.run(r + 1, 63, local);
    for q in (r + 1..=r + 1 + n).rev() {
        let p = match h.at(q) {
            Some(b'@') => q + 1,
            Some(b'%') if h.at(q + 1) == Some(b'4') && h.at(q + 2) == Some(b'0') => q + 3,
            _ => continue,
        };
        if let Some(e) = email_domain(h, p) {
            return Some(e);
        }
    }
    None
}

/// `(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,24}` at `p`: the end.
fn email_domain(h: Hay<'_>, mut p: usize) -> Option<usize> {
    // Labels end at a `.` and cannot contain one, so each label is a whole dot-terminated
    // segment: 1-63 bytes of `[A-Za-z0-9-]`, alphanumeric at both ends. `+` is greedy: the
    // most labels after which a 2-24 letter top-level domain follows wins.
    let alpha = |b: u8| b.is_ascii_alphabetic();
    let mut best = None;
    loop {
        let n = h.run(p, 64, |b| b.is_ascii_alphanumeric() || b == b'-');
        let label_ok = (1..=63).contains(&n)
            && h.at(p + n) == Some(b'.')
            && h.is(p, |b| b.is_ascii_alphanumeric())
            && h.is(p + n - 1, |b| b.is_ascii_alphanumeric());
        if !label_ok {
            break;
        }
        p += n + 1;
        let t = h.run(p, 24, alpha);
        if t >= 2 {
            best = Some(p + t);
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::{Matcher, Token};
    use crate::catalog::CATALOG;
    use crate::testgen as corpus;
    use proptest::prelude::*;
    use regex_automata::{Anchored, Input, PatternID, meta};

    fn regex_of(name: &str) -> meta::Regex {
        let spec = CATALOG.iter().find(|s| s.name == name).expect("known");
        meta::Builder::new()
            .syntax(
                regex_automata::util::syntax::Config::new()
                    .unicode(false)
                    .utf8(false),
            )
            .configure(meta::Config::new().utf8_empty(false))
            .build(spec.regex)
            .expect("compiles")
    }

    const ALL: &[(&str, Matcher)] = &[
        ("credit_card", Matcher::Card),
        ("us_ssn", Matcher::Ssn),
        ("us_itin", Matcher::Itin),
        ("us_routing_number", Matcher::Nine),
        ("us_ein", Matcher::Ein),
        ("uk_nino", Matcher::Nino),
        ("iban", Matcher::Iban),
        ("phone", Matcher::Phone),
        ("ipv4", Matcher::Ipv4),
        ("ipv6", Matcher::Ipv6),
        ("mac_address", Matcher::Mac),
        ("email", Matcher::Email),
        ("pem_private_key", Matcher::Pem),
        ("jwt", Matcher::Jwt),
        ("aws_access_key_id", Matcher::Token(Token::AwsKeyId)),
        ("aws_secret_key", Matcher::AwsSecret),
        ("github_token", Matcher::Token(Token::Github)),
        ("gitlab_token", Matcher::Token(Token::Gitlab)),
        ("slack_token", Matcher::Token(Token::Slack)),
        ("slack_webhook", Matcher::Token(Token::SlackWebhook)),
        ("stripe_key", Matcher::Token(Token::Stripe)),
        ("google_api_key", Matcher::Token(Token::Google)),
        ("twilio_api_key", Matcher::Token(Token::Twilio)),
        ("sendgrid_api_key", Matcher::Token(Token::Sendgrid)),
        ("npm_token", Matcher::Token(Token::Npm)),
        ("pypi_token", Matcher::Token(Token::Pypi)),
        ("openai_api_key", Matcher::Token(Token::Openai)),
        ("anthropic_api_key", Matcher::Token(Token::Anthropic)),
        ("huggingface_token", Matcher::Token(Token::Huggingface)),
        ("shopify_token", Matcher::Token(Token::Shopify)),
        ("digitalocean_token", Matcher::Token(Token::Digitalocean)),
        ("vault_token", Matcher::Token(Token::Vault)),
        ("grafana_token", Matcher::Token(Token::Grafana)),
        ("atlassian_api_token", Matcher::Token(Token::Atlassian)),
        ("postman_api_key", Matcher::Token(Token::Postman)),
        ("newrelic_api_key", Matcher::Token(Token::Newrelic)),
        ("linear_api_key", Matcher::Token(Token::Linear)),
        ("age_secret_key", Matcher::Token(Token::Age)),
        ("doppler_token", Matcher::Token(Token::Doppler)),
        ("square_token", Matcher::Token(Token::Square)),
        ("pulumi_token", Matcher::Token(Token::Pulumi)),
        ("google_oauth_token", Matcher::Token(Token::GoogleOauth)),
        ("perplexity_api_key", Matcher::Token(Token::Perplexity)),
        ("aws_bedrock_api_key", Matcher::Token(Token::Bedrock)),
        ("planetscale_token", Matcher::Token(Token::Planetscale)),
        ("heroku_api_key", Matcher::Token(Token::Heroku)),
        ("flyio_token", Matcher::Token(Token::Flyio)),
        ("sentry_token", Matcher::Token(Token::Sentry)),
        ("notion_token", Matcher::Token(Token::Notion)),
        ("onepassword_token", Matcher::Token(Token::OnePassword)),
        ("alibaba_access_key_id", Matcher::Token(Token::Alibaba)),
        ("dynatrace_token", Matcher::Token(Token::Dynatrace)),
        ("brevo_api_key", Matcher::Token(Token::Brevo)),
        ("rubygems_api_key", Matcher::Token(Token::Rubygems)),
        ("azure_ad_client_secret", Matcher::Token(Token::AzureAd)),
        ("openshift_token", Matcher::Token(Token::Openshift)),
        ("discord_webhook", Matcher::Token(Token::DiscordWebhook)),
        ("teams_webhook", Matcher::Token(Token::TeamsWebhook)),
        ("terraform_cloud_token", Matcher::Token(Token::Terraform)),
        ("mapbox_secret_token", Matcher::Token(Token::Mapbox)),
        ("artifactory_token", Matcher::Token(Token::Artifactory)),
        ("sonarqube_token", Matcher::Token(Token::Sonarqube)),
        ("sourcegraph_token", Matcher::Token(Token::Sourcegraph)),
        ("prefect_api_key", Matcher::Token(Token::Prefect)),
        ("shippo_api_key", Matcher::Token(Token::Shippo)),
        ("scalingo_api_token", Matcher::Token(Token::Scalingo)),
        ("infracost_api_key", Matcher::Token(Token::Infracost)),
        ("typeform_api_key", Matcher::Token(Token::Typeform)),
        ("clojars_token", Matcher::Token(Token::Clojars)),
        ("duffel_api_key", Matcher::Token(Token::Duffel)),
        ("easypost_api_key", Matcher::Token(Token::Easypost)),
        ("flutterwave_secret_key", Matcher::Token(Token::Flutterwave)),
        ("frameio_token", Matcher::Token(Token::Frameio)),
        ("url_signature", Matcher::UrlSignature),
        ("azure_storage_key", Matcher::AzureKey),
        ("uri_password", Matcher::UriPassword),
        ("password_assignment", Matcher::Assignment),
        ("http_authorization", Matcher::Authorization),
        ("card_security_code", Matcher::CardCode),
        ("sql_password", Matcher::SqlPassword),
        ("password_hash", Matcher::PasswordHash),
    ];

    /// The catalog marks exactly these detectors as matched by hand.
    #[test]
    fn catalog_uses_these_matchers() {
        for s in CATALOG {
            let want = ALL.iter().find(|(n, _)| *n == s.name).map(|&(_, m)| m);
            assert_eq!(s.matcher, want, "{}", s.name);
        }
    }

    fn check(res: &[(meta::Regex, Matcher)], w: &[u8], r: usize, lim: usize) {
        for (re, m) in res {
            let inp = Input::new(w).range(r..lim).anchored(Anchored::Yes);
            let want = match re.group_info().to_index(PatternID::ZERO, "v") {
                None => re.search(&inp).map(|m| (m.start(), m.end())),
                Some(g) => {
                    let mut caps = re.create_captures();
                    re.search_captures(&inp, &mut caps);
                    caps.get_group(g).map(|s| (s.start, s.end))
                }
            };
            assert_eq!(
                m.find(w, r, lim, None),
                want,
                "{m:?} on {:?} from {r} to {lim}",
                String::from_utf8_lossy(w)
            );
        }
    }

    fn compiled() -> Vec<(meta::Regex, Matcher)> {
        ALL.iter().map(|&(n, m)| (regex_of(n), m)).collect()
    }

    /// Bytes that matter to some matcher, weighted towards digits and separators.
    fn alphabet() -> impl Strategy<Value = u8> {
        prop_oneof![
            6 => proptest::sample::select(b"0123456789".to_vec()),
            3 => proptest::sample::select(b" -.:@()+x=/\"'>\n".to_vec()),
            2 => proptest::sample::select(b"ABCDEFGHZabcdefmnotisxz_%".to_vec()),
            1 => any::<u8>(),
        ]
    }

    /// Pieces of real values, so long valid shapes occur often.
    fn piece() -> impl Strategy<Value = Vec<u8>> {
        let samples: Vec<&'static [u8]> = vec![
            b"4111 1111 1111 1111",
            b"4111-1111-1111-1111",
            b"378282246310005",
            b"123-45-6789",
            b"912 70 1234",
            b"021000021",
            b"12-3456789",
            b"AB 12 34 56 C",
            b"AB123456D",
            b"DE89 3704 0044 0532 0130 00",
            b"GB82WEST12345698765432",
            b"+1 (415) 555-0132 ext. 12",
            b"1-800-555-0199 x 7",
            b"001-415-555-0132x4401",
            b"001 (415) 555-0132",
            b"001-555-0132",
            b"001.415.555.01",
            b"415.555.0132 extension 5",
            b"+14155550132",
            b"+44 20 7946 0958",
            b"06 12 34 56 78",
            b"01.23.45.67.89",
            b"07-12-34-56-78 9",
            b"06 12.34 56 78",
            b"00 12 34 56 78",
            b"06 12 34 567",
            b"+44(0)20 7946 0958",
            b"+33 (0)1 23 45 67 89",
            b"+49 (0) 30 1234567",
            b"+49(0) x",
            b"+44 (0)",
            b"+44118 496 0833",
            b"+61.2.9876.5432",
            b"+39 02123456789012345",
            b"+4412345678901234567",
            b"+33-1-23-45-67-89",
            b"+1 4155550132",
            b"+44 2079460958 1",
            b"+1 415555013299",
            b"192.168.0.1",
            b"255.255.255.255",
            b"256.1.1.1",
            b"10.0.0.09",
            b"2001:db8::8a2e:370:7334",
            b"fe80::1:",
            b"::ffff:192.0.2.1",
            b"a3:0c:ad:7c:29:84",
            b"99-19-E3-E0-18-E8",
            b"0011.22aa.BBcc",
            b"0011.22aa.BBc",
            b"0011.22aa:BBcc",
            b"00:1.22aa.bbcc",
            b"trent17@example.com",
            "jos\u{e9}.garc\u{ed}a@example.es".as_bytes(),
            "\u{4e2d}\u{e9}.\u{142}@x.pl".as_bytes(),
            b"\xc3@x.io",
            b"a.b+c@mail.example.co.uk.",
            b"x@a-.b",
            b"x@b.c-d.ef",
            b"bob%40example.com",
            b"a%40b.c%40d.com@x",
            b"a%40b.com@y.org",
            b"%40%40a.bc",
            b"q%4x@z.io",
            b"-----BEGIN EC PRIVATE KEY-----\nMHcCAQEE\n-----END EC PRIVATE KEY-----",
            b"-----BEGIN PRIVATE KEY-----",
            b"-----END RSA PRIVATE KEY-----",
            b"-----END PRIVATE KEY--",
            b"-----BEGIN PGP PRIVATE KEY BLOCK-----\n\nlQOYBF0\n=abcd\n-----END PGP PRIVATE KEY BLOCK-----",
            b"-----BEGIN ABCDEFGHIJKLMNOPQRSTUVWXYZABCD PRIVATE KEY BLOCK-----",
            b"-----END PRIVATE KEY BLOCKS-----",
            b"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.abc",
            b"eyJa.eyJ.",
            b"AKIAIOSFODNN7EXAMPLE",
            b"aws_secret_access_key = \"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\"",
            b"SecretAccessKey:wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKE=",
            b"ghp_0123456789abcdefghijABCDEFGHIJ012345",
            b"github_pat_0123456789_abcdefghijkl",
            b"glpat-0123456789abcdefghij",
            b"glptt-0123456789-bcdefghij",
            b"xoxb-0123456789-abc",
            b"xapp-1-A0123456789",
            b"hooks.slack.com/services/T0123456/B0123456/abcdefghij0123456789",
            b"sk_live_0123456789abcdef",
            b"whsec_0123456789abcdefghijABCDEFGHIJ0123",
            b"whsec_0123456789abcdefghij",
            b"hvs.CAESIJ0123456789abcdefghijABCDEFGHIJ0123456789abcdefghijABCDEFGHIJ0123456789abcdefghij-_xyz",
            b"hvb.AAAAAQ012345",
            b"glsa_0123456789abcdefghijABCDEFGHIJ01_0a1b2c3d",
            b"glc_eyJvIjoiMTIzNDU2Nzg5MCIsIm4iOiJzdGFjay0xMjM0NTY=",
            b"glc_abc",
            b"ATATT3xFfGF0123456789abcdefghij=-_",
            b"PMAK-0123456789abcdef01234567-0123456789abcdef0123456789abcdef01",
            b"NRAK-0123456789ABCDEFGHIJKLMNOPQ",
            b"lin_api_0123456789abcdefghijABCDEFGHIJ0123456789",
            b"AGE-SECRET-KEY-1QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7LQPZRY9X8GF2TVDW0S3JN54KHCE6MUA",
            b"dp.st.prd.0123456789",
            b"dp.pt.0123456789abcdefghijABCDEFGHIJ0123456789abc",
            b"sq0csp-0123456789abcdefghij_-ABCDEFGHIJ0123456789abc",
            b"sq0atp-0123456789",
            b"pul-0123456789abcdef0123456789abcdef01234567",
            b"glpat-0123456789abcdefghij_-ABCDEF.01a2b3c4d",
            b"glpat-0123456789abcdefghij_-ABCDEF.01a2b3c",
            b"glagent-0123456789abcdefghij0123456789abcdefghij0123456789",
            b"ya29.a0AfH6SMB0123456789abcdefghij_-XYZ",
            b"ya29.short",
            b"pplx-0123456789abcdefghij0123456789abcdefghij01234567",
            b"ABSKQmVkcm9ja0FQSUtleS0xMjM0NTY3ODkwMTIzNDU2Nzg5MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTIzNDU2Nzg5MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTIzNDU2Nzg5MA==",
            b"pscale_pw_0123456789abcdefghij0123456789_=.-ABC",
            b"pscale_oauth_0123",
            b"pscale_tkn_0123456789abcdefghij0123456789ab.",
            b"pscale_tkn_0123456789abcdefghij0123456789.....",
            b"pscale_tkn_0123456789abcdefghij01.",
            b"HRKU-AA0123456789abcdefghij0123456789abcdefghij0123456789abcdefgh",
            b"fo1_0123456789abcdefghij0123456789abcdefghij012",
            b"fm2_lJPECAAAAAAAAMUBxBB0123456789abcdefghij0123456789abcdefghij0123456789abcdefghij0123456789abcdefghij0123456789+/==",
            b"sntryu_0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
            b"sntrys_eyJpYXQiOjE3MDAwMDAwMDAuMCwidXJsIjoiaHR0cHM6Ly9zZW50cnkuaW8ifQ==_0123456789abcdefghij0123456789abcdefghij+/A",
            b"sntrys_eyJpYXQiOjE3MDAw===_0123456789abcdefghij0123456789abcdefghij+/A",
            b"ntn_01234567890abcdefghij0123456789abcdefghij012345",
            b"ntn_0123456789abcdefghij",
            b"ops_eyJzaWduSW5BZGRyZXNzIjoibXkuMXBhc3N3b3JkLmNvbSIsInVzZXJBdXRoIjp7Im1ldGhvZCI6IlNSUGctNDA5NiIsImFsZyI6IlBCRVMyZy1IUzI1NiIsIml0ZXJhdGlvbnMiOjY1MDAwMCwic2FsdCI6IjAxMjM0NTY3ODlhYmNkZWYwMTIzNDU2Nzg5YWJjZGVmIn0sImVtYWlsIjoiYWJjZGVmZ2hpamtsbW5vcEAxcGFzc3dvcmRzZXJ2aWNlYWNjb3VudHMuY29tIn0=",
            b"LTAI5tABCDEFGHIJ01234567",
            b"LTAI0123456789ab",
            b"dt0c01.ABCDEFGHIJKLMNOPQRSTUVWX.0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
            b"xkeysib-0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef-ABCDEFGH01234567",
            b"xsmtpsib-0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef-ABCDEFGH0123456",
            b"rubygems_0123456789abcdef0123456789abcdef0123456789abcdef",
            b"xY_8Q~0123456789abcdefghij.~-_ABCDEFGH",
            b"a.-7Q~0123456789abcdefghij.~-_ABCDEFGHIJ_-~.",
            b"abc8Q~0123456789",
            b"ab8Q~0123456789abcdefghij.~-_ABCDEFGH",
            b"sha256~0123456789abcdefghij_-ABCDEFGHIJ0123456",
            b"sha256~0123456789abcdefghij_-ABCDEFGHIJ01234567",
            b"sha256~0123456789",
            b"discord.com/api/webhooks/123456789012345678/0123456789abcdefghij0123456789abcdefghij0123456789abcdefghij_-ABCDEF",
            b"discordapp.com/api/webhooks/12345678901234567890/0123456789abcdefghij0123456789abcdefghij0123456789abcdefghij",
            b"discord.com/api/webhooks/123456789012345678901/0123456789abcdefghij0123456789abcdefghij0123456789abcdefghij",
            b"webhook.office.com/webhookb2/0123abcd-0123-4567-89ab-0123456789ab@89abcdef-0123-4567-89ab-0123456789ab/IncomingWebhook/0123456789abcdef0123456789abcdef/fedcba98-7654-3210-fedc-ba9876543210",
            b"webhook.office.com/webhookb2/0123abcd-0123-4567-89ab-0123456789ab@89abcdef-0123-4567-89ab-0123456789ab/IncomingWebhook/0123456789abcdef0123456789abcdef/fedcba98-7654-3210-fedc-ba9876543210/V2AbCdEfGhIj0123456789_-xyz",
            b"webhook.office.com/webhookb2/0123abcd-0123-4567-89ab-0123456789ab@89abcdef-0123-4567-89ab-0123456789ab/IncomingWebhook/0123456789abcdef0123456789abcdef/fedcba98-7654-3210-fedc-ba9876543210/V2short",
            b"AbCdEfGhIj0123.atlasv1.0123456789abcdefghij0123456789abcdefghij0123456789abcdefghij_=-",
            b"AbCdEfGhIj012.atlasv1.0123456789abcdefghij0123456789abcdefghij0123456789abcdefghij",
            b"sk.eyJ1IjoiZXhhbXBsZSIsImEiOiJjbGV4YW1wbGUifQ.AbCdEfGhIj0123456789_-",
            b"sk.eyJ1IjoiZXhhbXBsZSIsImEiOiJjbGV4YW1wbGUifQ.short",
            b"AKCp0123456789abcdefghij0123456789abcdefghij0123456789abcdefghij012345678",
            b"cmVmdGtuOjAx0123456789abcdefghij0123456789abcdefghij0123456789ab",
            b"AKCp0123",
            b"xoxe-1-ABCDEFGHIJ0123456789",
            b"GR13489410123456789abcdefghij_-",
            b"GR1348941012345",
            b"eyJrIjoiT0123456789abcdefghij0123456789abcdefghij0123456789abcdefghij0123456789ab==",
            b"eyJrIjoiT0123",
            b"squ_0123456789abcdef0123456789abcdef01234567",
            b"sqa_0123456789abcdef0123456789abcdef0123456",
            b"sgp_0123456789abcdef_0123456789abcdef0123456789abcdef01234567",
            b"sgp_local_0123456789ABCDEF0123456789abcdef01234567",
            b"sgp_0123456789abcdef0123456789abcdef01234567",
            b"sgp_0123456789abcdef_0123",
            b"pnu_0123456789abcdefghijABCDEFGHIJ012345",
            b"shippo_live_0123456789abcdef0123456789ABCDEF01234567",
            b"shippo_test_0123",
            b"tk-us-0123456789abcdefghij_-ABCDEFGHIJ0123456789abcdefgh",
            b"ico-0123456789abcdefghijABCDEFGHIJ01",
            b"tfp_0123456789abcdefghij_-.=ABCDEFGHIJ0123456789abcdefghijABCDEFGHI",
            b"CLOJARS_0123456789abcdefghij0123456789abcdefghij0123456789abcdefghij",
            b"duffel_test_0123456789abcdefghij_-=ABCDEFGHIJ01234567",
            b"EZAK0123456789abcdefghij0123456789abcdefghij0123456789abcdefgh",
            b"FLWSECK_TEST-0123456789abcdefABCDEFGH01234567-X",
            b"FLWSECK-0123456789abcdef0123456789abcdef-X",
            b"FLWSECK_TEST0123456789abcdef0123456789abcdef-X",
            b"fio-u-0123456789abcdefghij_-=ABCDEFGHIJ0123456789abcdefghij0123456789ab",
            b"rk_test_0123456789abcdeX",
            b"AIzaSyA0123456789abcdefghij_-ABCDEFGH",
            b"SK0123456789abcdef0123456789ABCDEF",
            b"SG.0123456789abcdefghij_-.0123456789abcdefghij0123456789abcdefghij_-X",
            b"npm_0123456789abcdefghij0123456789abcdef",
            b"pypi-AgEIcHlwaS5vcmc0123456789abcdefghij0123456789abcdefghij0123456789",
            b"sk-proj-0123456789abcdefghij",
            b"sk-ant-api03-0123456789abcdefghij0123456789abcdefghij0123456789abcdefghij0123456789ab",
            b"hf_abcdefghijABCDEFGHIJabcdefghijABCD",
            b"shpat_0123456789abcdef0123456789ABCDEF",
            b"dop_v1_0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
            b"AccountKey=0123456789abcdefghij0123456789abcdefghij0123456789abcdefghij0123456789abcdef==",
            b"sig=AbCdEfGh0123456789%2BabcdEFGH%2Fijkl%3D&se=1",
            b"X-Amz-Signature=0123456789abcdef0123456789abcdef",
            b"Signature=Nql641NHEUkUaXQHZINK1FZ~SYeUSoBJMxjdgqrzIdzV2gyEXPDNv0pYdWJkflDKJ3xIu7lbwRpSkG98NBlgPi4ZJpRRnVX4kXAJK6tdNx6FucDB7OVqzcxkxHsGFd8VCG1BkC-Afh9~lOCMIYHIaiOB6~5jt9w2EOwi6sIIqrg_&Key-Pair-Id=K2JCJMDEHXQW5F",
            b"signature=short",
            b"x-goog-signature=0123456789abcdef0123456789abcdef 1",
            b"postgres://user:s3cr:et@db",
            b"postgres://app:P@ssw0rd@db.example.com:5432/x",
            b"mysql://u:a@b@c@d/e",
            b"https://a:@b",
            b"password=hunter22",
            b"Passwd  => 'x1y2z3'",
            b"api_key: \"abc;def\"",
            b"password: \"correct horse battery staple\"",
            b"secret='it\\'s a \"secret\"'",
            b"\"password\": \"pa\\\"ss wo\\\\rd\"",
            b"token=\"abc\\\n\"",
            b"auth_token = ${TOKEN}",
            b"X-Api-Key: 9f8e7d6c5b4a3928",
            b"x-auth-token=abcd",
            b"Authorization: Bearer abc123opaqueTokenValue987",
            b"\"authorization\":\"Basic dXNlcjpwYXNz\"",
            b"AUTHORIZATION =  token   ghp_0123",
            b"redis://:pw123456@cache",
            b"secret=>",
            b"PASSWORD 'md5''s3cr''et'",
            b"identified By 'a''b\nc'",
            b"Password '''",
            b"IDENTIFIED BY 'x'''",
            b"password ''",
            b"$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW",
            b"$2y$04$",
            b"$2a$31$abc",
            b"$argon2id$v=19$m=65536,t=3,p=4$c29tZXNhbHQ$RdescudvJCsgt3ub+b+dWRWJTmaaJObG",
            b"$argon2i$v=1$m=1,t=1,p=1$",
            b"SCRAM-SHA-256$4096:c2FsdHNhbHRzYWx0c2FsdA==$",
            b"SCRAM-SHA-256$4096:c2FsdHNhbHRzYWx0c2FsdA==$qwertyuiopasdfghjklzxcvbnmQWERTYUIOPASDFGHJ=:",
            b"pbkdf2_sha256$600000$saltsalt$0123456789abcdefghijABCDEFG=",
            b"pbkdf2_sha1$1$s$",
            b"$1$saltsalt$qwertyuiopasdfghjklzxc",
            b"$5$rounds=5000$saltstring$",
            b"$5$rounds=5000$",
            b"$6$saltsalt$",
            b"$y$j9T$salt$",
            b"SCRAM-SHA-256$4096:c2FsdHNhbHRzYWx0c2FsdA==$qwertyuiopasdfghjklzxcvbnmQWERTYUIOPASDFGHJ=:qwertyuiopasdfghjklzxcvbnmQWERTYUIOPASDFGHJ=",
            b"$5$rounds=5000$saltstring$qwertyuiopasdfghjklzxcvbnmQWERTYUIOPASDFGHJ",
            b"$6$salt$qwertyuiopasdfghjklzxcvbnmQWERTYUIOPASDFGHJqwertyuiopasdfghjklzxcvbnmQWERTYUIOPASDFGH",
            b"$y$j9T$salt$qwertyuiopasdfghjklzxcvbnmQWERTYUIOPASDFGHJ",
            b"qwertyuiopasdfghjklzxcvbnmQWERTYUIOPASDFGHJ",
        ];
        prop_oneof![
            3 => proptest::sample::select(samples).prop_map(<[u8]>::to_vec),
            4 => proptest::collection::vec(alphabet(), 0..24),
            1 => proptest::sample::select(
                vec![&b"-----"[..], b"-----END", b"eyJ", b" PRIVATE KEY", b"=>", b"==", b"://", b"password", b"\t  ", b"Authorization", b"Bearer ", b"-Key"]
            ).prop_map(<[u8]>::to_vec),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3000))]

        #[test]
        fn matchers_equal_their_regexes(
            parts in proptest::collection::vec(piece(), 1..5),
            r_frac in 0.0f64..1.0,
            cut in 0usize..80,
        ) {
            thread_local! {
                static RES: Vec<(meta::Regex, Matcher)> = compiled();
            }
            let w: Vec<u8> = parts.concat();
            let r = ((w.len() as f64) * r_frac) as usize;
            // Every piece's start, and every start from r on a few bytes, with the window end
            // at the input's end and cut short.
            let mut starts: Vec<usize> = parts
                .iter()
                .scan(0, |at, p| {
                    let s = *at;
                    *at += p.len();
                    Some(s)
                })
                .collect();
            starts.extend(r..(r + 4).min(w.len()));
            RES.with(|res| {
                for &s in &starts {
                    check(res, &w, s, w.len());
                    check(res, &w, s, (s + cut).min(w.len()));
                }
            });
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(400))]

        /// The run memo only saves measuring: matchers sharing one across triggers, in any
        /// order and over windows that start and end elsewhere in the same input (as a
        /// stream's do), answer as fresh ones. Repeated pieces make long runs.
        #[test]
        fn the_run_memo_changes_no_answer(
            parts in proptest::collection::vec(piece(), 1..6),
            reps in 1usize..5,
            triggers in proptest::collection::vec(
                (any::<proptest::sample::Index>(), 0usize..40, 0usize..400),
                1..24,
            ),
        ) {
            let one = parts.concat();
            let w: Vec<u8> = one.repeat(reps);
            prop_assume!(!w.is_empty());
            // Triggers where pieces start (where matchers get past their prefixes and
            // measure runs), in every repetition.
            let starts: Vec<usize> = (0..reps)
                .flat_map(|k| {
                    parts.iter().scan(k * one.len(), |at, p| {
                        let s = *at;
                        *at += p.len();
                        Some(s)
                    })
                })
                .filter(|&s| s < w.len())
                .collect();
            let memo = super::Cell::new(super::RunMemo::default());
            for (at, back, ahead) in triggers {
                let t = starts[at.index(starts.len())];
                let ws = t.saturating_sub(back);
                let win = &w[ws..(t + ahead).min(w.len())];
                let r = t - ws;
                for &(name, m) in ALL {
                    for lim in [win.len(), (r + ahead / 2).min(win.len())] {
                        prop_assert_eq!(
                            m.find(win, r, lim, Some((&memo, ws))),
                            m.find(win, r, lim, None),
                            "{} at {} in {:?}",
                            name,
                            t,
                            String::from_utf8_lossy(&w)
                        );
                    }
                }
            }
        }
    }

    /// Assignments and Authorization headers at their edges: quoted values of one unit, 256
    /// and 257 units, escapes (of the quote, of a backslash, of a newline, at the end), a
    /// newline inside, no closing quote, the other quote inside; dashed keywords; schemes,
    /// blanks and token lengths around their limits.
    #[test]
    fn assignment_edges_equal_the_regex() {
        let res = vec![
            (regex_of("password_assignment"), Matcher::Assignment),
            (regex_of("http_authorization"), Matcher::Authorization),
            (regex_of("card_security_code"), Matcher::CardCode),
        ];
        let long = |n: usize, q: &str| format!("password: {q}{}{q} tail", "a".repeat(n));
        let mut inputs: Vec<String> = [
            r#"password: "a""#,
            r#"password: "" x"#,
            r#"password:"ab cd" x"#,
            r#"secret = 'it\'s' x"#,
            r#"secret = 'a"b c' x"#,
            r#"token="ab\"#,
            r#"token="ab\\" x"#,
            r#"api_key => "x y\" z""#,
            "password: \"a\\\nb\"",
            "password: \"a\nb\"",
            r#"password: "open quote"#,
            r#"password: 'it"s' x"#,
            "X-Api-Key: 9f8e7d6c5b4a3928",
            "<password>s3cretXYZ</password> <Password>abc</Password> <token></token>",
            r#"<property name="db.password">s3cret pw</property> password >abcdef password> abcdefg"#,
            "password'>abcdefgh token=>abcdefgh secret >= abcdefgh",
            "secret_key=abcdefgh secretkey: abcdefgh secret-key = abcdefgh secret_kex=abcdefgh",
            "SECRET: abcdefgh secret_: abcdefgh",
            "private_key=MIIEvQIBADANBgkqhkiG9w0BAQEFAASC privatekey=x",
            "GITHUB_TOKEN=abcdefghijklmnop1234 Pwd=Secret123; passphrase: 'a b c d'",
            "api--key=abcdefgh",
            "Auth-Token = 'abc def'",
            "Authorization: Bearer abcdefg",
            "Authorization: Bearer abcdefgh",
            "authorization:bearer    abcdefgh",
            "AUTHORIZATION = 'Basic dXNlcjpwYXNz=='",
            "Authorization: Digest username=x",
            "Authorization:    Bearer abcdefgh",
            "Authorization\": \"token ghp_abcdefgh\"",
            "Authorization: Bearer $TOKEN_VALUE",
            "Authorization: Bearerabcdefghij",
            "password=\nnext_line_value",
            "CVV: 123 cvv2=1234, CVC:12345 cvc 123 Security Code: '987' security_code=12a",
            "cvv=123",
            "securitycode:  \t456;SECURITY_CODE=\n789",
            "password=\r\n\"quoted\"",
            "password = \t value1234",
            "password:\t\t\t\tvalue1234",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
        for n in [255, 256, 257] {
            inputs.push(long(n, "\""));
            inputs.push(long(n, "'"));
        }
        for n in [959, 960, 961] {
            inputs.push(format!("Authorization: Basic {}=", "a".repeat(n)));
        }
        for w in &inputs {
            let w = w.as_bytes();
            // Every window end, or for the long ones those near either end; every start.
            let n = w.len();
            for lim in (0..=n).filter(|&l| n < 300 || l < 48 || l + 8 >= n) {
                check(&res, w, 0, lim);
            }
            for r in 1..n {
                check(&res, w, r, n);
            }
        }
    }

    /// PEM and PGP header lines at their limits: a type of 0, 30 and 31 bytes before the tail,
    /// each tail, a tail that goes on.
    #[test]
    fn pem_edges_equal_the_regex() {
        let res = vec![(regex_of("pem_private_key"), Matcher::Pem)];
        for pre in [
            String::new(),
            " ".to_owned(),
            "A".repeat(30),
            "A".repeat(31),
        ] {
            for tail in [
                "PRIVATE KEY",
                "PRIVATE KEY BLOCK",
                "PRIVATE KEY BLOCKS",
                "PRIVATE KEYS",
            ] {
                let line = |w: &str| format!("-----{w}{pre}{tail}-----");
                let w = format!("{}\nabc\n{}\n", line("BEGIN"), line("END"));
                let w = w.as_bytes();
                for lim in 0..=w.len() {
                    check(&res, w, 0, lim);
                }
            }
        }
    }

    /// Every start in the generated corpora (all shapes and look-alikes the accuracy test
    /// uses).
    #[test]
    fn matchers_equal_their_regexes_on_the_corpus() {
        let res = compiled();
        for data in [
            corpus::generate(7, 96 << 10).data,
            corpus::generate_sparse(8, 64 << 10, 5).data,
        ] {
            for r in 0..data.len() {
                check(&res, &data, r, (r + 48).min(data.len()));
                if r % 7 == 0 || data[r] == b'-' {
                    check(&res, &data, r, data.len().min(r + 16384));
                }
            }
        }
    }
}
