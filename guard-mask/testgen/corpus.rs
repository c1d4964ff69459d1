//! A deterministic generator of a labelled synthetic corpus for guard-mask.
//!
//! Shared by `tests/accuracy.rs`, `examples/gen_corpus.rs` and the `mask_stream` bench
//! (included with `#[path]`). No network, no dependencies: a splitmix64 generator seeded by the
//! caller. Records come in realistic shapes (prose, JSON log lines, CSV rows, psql table rows,
//! config snippets); every sensitive value carries a label (byte span + detector) and look-alikes
//! (Luhn-failing numbers, order ids, UUIDs, timestamps, git SHAs, ZIP codes, prices, invalid SSN
//! areas, versions, placeholders) carry none.

#![allow(dead_code, unreachable_pub, missing_docs)]

/// One labelled region: bytes `start..end` of the corpus should be masked by `detector`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Label {
    pub start: usize,
    pub end: usize,
    pub detector: &'static str,
}

/// splitmix64.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }
    pub fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len() as u64) as usize]
    }
    pub fn s(&mut self, xs: &[&'static str]) -> &'static str {
        xs[self.below(xs.len() as u64) as usize]
    }
    pub fn digits_in(&mut self, lo: u64, hi: u64) -> String {
        let n = self.range(lo, hi) as usize;
        self.digits(n)
    }
    pub fn set_in(&mut self, set: &[u8], lo: u64, hi: u64) -> String {
        let n = self.range(lo, hi) as usize;
        self.chars(set, n)
    }
    pub fn chance(&mut self, pct: u64) -> bool {
        self.below(100) < pct
    }
    pub fn digits(&mut self, n: usize) -> String {
        (0..n)
            .map(|_| char::from(b'0' + self.below(10) as u8))
            .collect()
    }
    pub fn chars(&mut self, set: &[u8], n: usize) -> String {
        (0..n).map(|_| char::from(*self.pick(set))).collect()
    }
}

const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const UPPER_DIGIT: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
const B64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const B64URL: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
const HEX: &[u8] = b"0123456789abcdef";
const LETTERS: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
const PW: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789!#%^*_-";

const FIRST: &[&str] = &[
    "alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy", "mallory",
    "oscar", "peggy", "trent", "victor", "walter", "zoe", "li", "sofia", "mateo",
];
const LAST: &[&str] = &[
    "smith", "jones", "garcia", "miller", "davis", "martinez", "lopez", "wilson", "anderson",
    "thomas", "taylor", "moore", "jackson", "martin", "lee", "nguyen", "kim", "patel", "okafor",
    "schmidt",
];
const WORDS: &[&str] = &[
    "the",
    "order",
    "was",
    "shipped",
    "to",
    "customer",
    "after",
    "payment",
    "cleared",
    "and",
    "support",
    "ticket",
    "closed",
    "by",
    "agent",
    "on",
    "request",
    "from",
    "billing",
    "team",
    "with",
    "notes",
    "about",
    "refund",
    "status",
    "pending",
    "review",
    "account",
    "updated",
    "profile",
    "settings",
    "invoice",
    "sent",
    "renewal",
    "due",
    "next",
    "month",
    "service",
    "restarted",
    "deploy",
    "finished",
    "queue",
    "drained",
    "cache",
    "warmed",
];
const DOMAINS: &[&str] = &[
    "example.com",
    "mail.example.co.uk",
    "corp.example.org",
    "example.io",
    "eu.example.de",
    "students.example.edu",
];

/// A piece of text, optionally with one labelled span inside it.
pub struct Item {
    pub text: String,
    pub label: Option<(usize, usize, &'static str)>,
}

fn whole(text: String, det: &'static str) -> Item {
    let n = text.len();
    Item {
        text,
        label: Some((0, n, det)),
    }
}

fn framed(pre: &str, value: &str, post: &str, det: &'static str) -> Item {
    let text = format!("{pre}{value}{post}");
    Item {
        label: Some((pre.len(), pre.len() + value.len(), det)),
        text,
    }
}

fn plain(text: String) -> Item {
    Item { text, label: None }
}

fn luhn_digit(body: &[u8]) -> u8 {
    // Check digit for body (digit values), so that body+check passes Luhn.
    let mut sum = 0u32;
    for (i, &x) in body.iter().rev().enumerate() {
        let mut x = u32::from(x);
        if i % 2 == 0 {
            x *= 2;
            if x > 9 {
                x -= 9;
            }
        }
        sum += x;
    }
    ((10 - sum % 10) % 10) as u8
}

/// The EAN-13 check digit for the first twelve digits (values).
fn ean13_digit(body: &[u8]) -> u8 {
    let sum: u32 = body
        .iter()
        .enumerate()
        .map(|(i, &x)| u32::from(x) * if i % 2 == 0 { 1 } else { 3 })
        .sum();
    ((10 - sum % 10) % 10) as u8
}

/// A valid card number (digits only) of a random brand, and its grouping.
fn card_digits(r: &mut Rng) -> (Vec<u8>, &'static [usize]) {
    let (prefix, len, groups): (&str, usize, &'static [usize]) = match r.below(11) {
        0 => ("4", 16, &[4, 4, 4, 4]),
        1 => ("4", 13, &[13]),
        2 => ("4", 19, &[4, 4, 4, 4, 3]),
        3 => (
            r.s(&["51", "52", "53", "54", "55", "2221", "2500", "2720"]),
            16,
            &[4, 4, 4, 4],
        ),
        4 => (r.s(&["34", "37"]), 15, &[4, 6, 5]),
        5 => (r.s(&["6011", "644", "65"]), 16, &[4, 4, 4, 4]),
        6 => ("35", 16, &[4, 4, 4, 4]),
        7 => (r.s(&["2131", "1800"]), 15, &[4, 6, 5]),
        8 => (
            r.s(&["5018", "5020", "6304", "6759"]),
            *r.pick(&[12, 16, 19]),
            &[4, 4, 4, 4, 3],
        ),
        9 => ("62", *r.pick(&[16, 19]), &[4, 4, 4, 4, 3]),
        _ => (r.s(&["300", "305", "36", "38"]), 14, &[4, 6, 4]),
    };
    let mut d: Vec<u8> = prefix.bytes().map(|b| b - b'0').collect();
    if prefix == "35" {
        d.extend([2 + r.below(6) as u8, 2 + r.below(7) as u8]); // 3522..3589 -> keep in range
        if d[2] == 2 && d[3] < 8 {
            d[3] = 8;
        }
    }
    while d.len() < len - 1 {
        d.push(r.below(10) as u8);
    }
    let c = luhn_digit(&d);
    d.push(c);
    (d, groups)
}

fn group(d: &[u8], groups: &[usize], sep: &str) -> String {
    let s: String = d.iter().map(|&x| char::from(b'0' + x)).collect();
    if sep.is_empty() || groups.iter().sum::<usize>() < d.len() {
        return s;
    }
    let mut out = String::new();
    let mut i = 0;
    for (k, &g) in groups.iter().enumerate() {
        if i >= s.len() {
            break;
        }
        if k > 0 {
            out.push_str(sep);
        }
        let e = (i + g).min(s.len());
        out.push_str(&s[i..e]);
        i = e;
    }
    out
}

fn card(r: &mut Rng) -> Item {
    let (d, groups) = card_digits(r);
    let sep = if groups.len() == 1 {
        ""
    } else {
        r.s(&["", " ", "-"])
    };
    let v = group(&d, groups, sep);
    // Thirteen digits that are also an EAN-13 are a card only after a card word (the
    // validator): one in ten Visa numbers of that length.
    let ean = d.len() == 13 && ean13_digit(&d[..12]) == d[12];
    match if ean { r.below(2) * 3 } else { r.below(4) } {
        0 => framed("card ", &v, "", "credit_card"),
        1 => framed("", &v, "", "credit_card"),
        // A fixed-width record: a number, a space, the card. A grouped card after a number of
        // four digits is read as one sequence with it (see the engine's
        // `starts_after_number`) and found by dropping that number (the card validator),
        // when the number is not itself the start of a card (a year) and the card has at
        // least 14 digits.
        2 => {
            let lead = if sep.is_empty() {
                r.digits_in(4, 6)
            } else if d.len() >= 14 && r.below(2) == 0 {
                r.range(1990, 2030).to_string()
            } else {
                r.digits_in(5, 6)
            };
            framed(&format!("{lead} "), &v, "", "credit_card")
        }
        _ => framed("cc=", &v, "", "credit_card"),
    }
}

fn ssn_parts(r: &mut Rng) -> (u64, u64, u64) {
    let mut area = r.range(1, 899);
    if area == 666 {
        area = 665;
    }
    (area, r.range(1, 99), r.range(1, 9999))
}

fn ssn(r: &mut Rng) -> Item {
    let (a, g, s) = ssn_parts(r);
    match r.below(4) {
        0 => framed("SSN ", &format!("{a:03}-{g:02}-{s:04}"), "", "us_ssn"),
        1 => framed("", &format!("{a:03}-{g:02}-{s:04}"), "", "us_ssn"),
        2 => framed("ssn: ", &format!("{a:03} {g:02} {s:04}"), "", "us_ssn"),
        _ => framed(
            "social security number ",
            &format!("{a:03}{g:02}{s:04}"),
            "",
            "us_ssn",
        ),
    }
}

fn itin(r: &mut Rng) -> Item {
    let g = *r.pick(&[50, 57, 65, 70, 78, 88, 90, 92, 94, 99]);
    let v = format!("9{}-{g:02}-{}", r.digits(2), r.digits(4));
    framed(r.s(&["ITIN ", "itin: ", ""]), &v, "", "us_itin")
}

fn aba(r: &mut Rng) -> Item {
    loop {
        let p = *r.pick(&[1u64, 2, 3, 5, 9, 11, 21, 26, 31, 61, 67, 71, 80]);
        let mut d: Vec<u32> = format!("{p:02}{}", r.digits(6))
            .bytes()
            .map(|b| u32::from(b - b'0'))
            .collect();
        let w = [3, 7, 1, 3, 7, 1, 3, 7];
        let s: u32 = d.iter().zip(w).map(|(x, w)| x * w).sum();
        d.push((10 - s % 10) % 10);
        let v: String = d.iter().map(|&x| char::from(b'0' + x as u8)).collect();
        if v.bytes().any(|b| b != b'0') {
            return framed(
                r.s(&["routing number ", "ABA ", "RTN: "]),
                &v,
                "",
                "us_routing_number",
            );
        }
    }
}

fn ein(r: &mut Rng) -> Item {
    let p = *r.pick(&[10u64, 12, 20, 27, 30, 46, 51, 65, 82, 94]);
    framed(
        r.s(&["EIN ", "tax id: ", "FEIN "]),
        &format!("{p:02}-{}", r.digits(7)),
        "",
        "us_ein",
    )
}

fn nino(r: &mut Rng) -> Item {
    let a = *r.pick(b"ABCEHJKLMPRSWY");
    let b = *r.pick(b"ABCEHJLMPRSWY");
    let sfx = *r.pick(&['A', 'B', 'C', 'D']);
    let d = r.digits(6);
    let (a, b) = (char::from(a), char::from(b));
    let v = if r.chance(50) {
        format!("{a}{b}{d}{sfx}")
    } else {
        format!("{a}{b} {} {} {} {sfx}", &d[..2], &d[2..4], &d[4..])
    };
    framed(r.s(&["NINO ", "NI number: ", ""]), &v, "", "uk_nino")
}

fn mod97(s: &str) -> u32 {
    let mut rem = 0u32;
    for b in s.bytes() {
        if b.is_ascii_digit() {
            rem = (rem * 10 + u32::from(b - b'0')) % 97;
        } else {
            rem = (rem * 100 + u32::from(b - b'A' + 10)) % 97;
        }
    }
    rem
}

fn iban(r: &mut Rng) -> Item {
    let (cc, bban) = match r.below(6) {
        0 => ("DE", r.digits(18)),
        1 => (
            "GB",
            format!(
                "{}{}",
                r.chars(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ", 4),
                r.digits(14)
            ),
        ),
        2 => ("FR", r.digits(23)),
        3 => (
            "NL",
            format!(
                "{}{}",
                r.chars(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ", 4),
                r.digits(10)
            ),
        ),
        4 => ("ES", r.digits(20)),
        _ => (
            "IT",
            format!(
                "{}{}",
                r.chars(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ", 1),
                r.digits(22)
            ),
        ),
    };
    let check = 98 - mod97(&format!("{bban}{cc}00"));
    let compact = format!("{cc}{check:02}{bban}");
    let v = if r.chance(50) {
        compact
    } else {
        compact
            .as_bytes()
            .chunks(4)
            .map(|c| std::str::from_utf8(c).unwrap_or(""))
            .collect::<Vec<_>>()
            .join(" ")
    };
    framed(r.s(&["IBAN ", "iban: ", ""]), &v, "", "iban")
}

fn email(r: &mut Rng) -> Item {
    let f = *r.pick(FIRST);
    let l = *r.pick(LAST);
    let local = match r.below(5) {
        0 => format!("{f}.{l}"),
        1 => format!("{f}{}", r.digits(2)),
        2 => format!("{f}.{l}+{}", r.s(&["news", "billing", "test"])),
        3 => format!("{}{l}", &f[..1]),
        _ => format!("{f}_{l}"),
    };
    whole(format!("{local}@{}", r.pick(DOMAINS)), "email")
}

fn nanp(r: &mut Rng) -> (String, String, String) {
    let mut area = format!("{}{}", r.range(2, 9), r.digits(2));
    if &area[1..] == "11" {
        area.replace_range(2..3, "0");
    }
    (
        area,
        format!("{}{}", r.range(2, 9), r.digits(2)),
        r.digits(4),
    )
}

fn phone(r: &mut Rng) -> Item {
    let (a, e, x) = nanp(r);
    let v = match r.below(10) {
        9 => format!("001-{a}-{e}-{x}{}", r.s(&["", " x12", "x4401"])),
        0 => format!("({a}) {e}-{x}"),
        1 => format!("{a}-{e}-{x}"),
        2 => format!("{a}.{e}.{x}"),
        3 => format!("+1 {a} {e} {x}"),
        4 => format!("+1-{a}-{e}-{x}"),
        5 => format!("{a}-{e}-{x} ext. {}", r.range(1, 9999)),
        6 => format!("+1{a}{e}{x}"),
        7 => match r.below(5) {
            0 => format!("+44 20 {} {}", r.digits(4), r.digits(4)),
            1 => format!("+44(0)20 {} {}", r.digits(4), r.digits(4)),
            2 => format!("+44118 {} {}", r.digits(3), r.digits(4)),
            3 => format!(
                "+33 (0)1 {} {} {} {}",
                r.digits(2),
                r.digits(2),
                r.digits(2),
                r.digits(2)
            ),
            _ => format!("+61.2.{}.{}", r.digits(4), r.digits(4)),
        },
        _ => match r.below(4) {
            0 => format!("+49 30 {}", r.digits(7)),
            1 => format!("+39 02{}", r.digits(8)),
            // A French number in five pairs.
            _ => {
                let sep = r.s(&[" ", ".", "-"]);
                let mut v = format!("0{}", r.range(1, 9));
                for _ in 0..4 {
                    v.push_str(sep);
                    v.push_str(&r.digits(2));
                }
                v
            }
        },
    };
    let pre = r.s(&["call ", "tel ", "phone: ", ""]);
    framed(pre, &v, "", "phone")
}

fn ipv4(r: &mut Rng) -> Item {
    whole(
        format!(
            "{}.{}.{}.{}",
            r.range(1, 223),
            r.below(256),
            r.below(256),
            r.range(1, 254)
        ),
        "ipv4",
    )
}

fn ipv6(r: &mut Rng) -> Item {
    let g = |r: &mut Rng| format!("{:x}", r.range(1, 0xffff));
    let v = match r.below(3) {
        0 => (0..8).map(|_| g(r)).collect::<Vec<_>>().join(":"),
        1 => format!("2001:db8:{}::{}", g(r), g(r)),
        _ => format!("fe80::{}:{}:{}", g(r), g(r), g(r)),
    };
    whole(v, "ipv6")
}

fn mac(r: &mut Rng) -> Item {
    if r.chance(20) {
        // Cisco's form, as `show mac address-table` prints it.
        let v: Vec<String> = (0..3)
            .map(|_| format!("{:04x}", r.below(0x10000)))
            .collect();
        return whole(v.join("."), "mac_address");
    }
    let sep = if r.chance(70) { ":" } else { "-" };
    let v: Vec<String> = (0..6).map(|_| format!("{:02x}", r.below(256))).collect();
    let mut v = v.join(sep);
    if r.chance(40) {
        v = v.to_uppercase();
    }
    whole(v, "mac_address")
}

fn b64url_encode(data: &[u8]) -> String {
    let mut out = String::new();
    for c in data.chunks(3) {
        let n = c.len();
        let v = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for k in 0..=n {
            out.push(char::from(B64URL[((v >> (18 - 6 * k)) & 63) as usize]));
        }
    }
    out
}

/// A password hash as applications and servers store it.
fn password_hash(r: &mut Rng) -> Item {
    const CRYPT: &[u8] = b"./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let h = match r.below(6) {
        0 => format!(
            "$2{}${:02}${}",
            r.s(&["a", "b", "y"]),
            r.range(4, 14),
            r.chars(CRYPT, 53)
        ),
        1 => format!(
            "$argon2id$v=19$m={},t={},p={}${}${}",
            r.s(&["65536", "19456", "47104"]),
            r.range(1, 4),
            r.range(1, 4),
            r.chars(B64, 22),
            r.chars(B64, 43)
        ),
        2 => format!(
            "SCRAM-SHA-256$4096:{}==${}=:{}=",
            r.chars(B64, 22),
            r.chars(B64, 43),
            r.chars(B64, 43)
        ),
        3 => format!(
            "pbkdf2_sha256${}${}${}=",
            r.s(&["600000", "870000", "260000"]),
            r.chars(ALNUM, 22),
            r.chars(B64, 43)
        ),
        4 => {
            let (id, n) = if r.below(2) == 0 {
                ("5", 43)
            } else {
                ("6", 86)
            };
            format!("${id}${}${}", r.chars(CRYPT, 16), r.chars(CRYPT, n))
        }
        _ => format!("$y$j9T${}${}", r.chars(CRYPT, 22), r.chars(CRYPT, 43)),
    };
    let (pre, post) = match r.below(4) {
        0 => ("\"password_digest\": \"", "\""),
        1 => ("encrypted_password=", ""),
        2 => ("rolpassword | ", ""),
        _ => ("root:", ":19000:0:99999:7:::"),
    };
    framed(pre, &h, post, "password_hash")
}

/// A password in SQL text (a statement log, a migration script).
fn sql_password(r: &mut Rng) -> Item {
    let pw = r.set_in(PW, 8, 24);
    let user = r.pick(FIRST);
    let (pre, post) = match r.below(3) {
        0 => (format!("ALTER ROLE {user} PASSWORD '"), "';"),
        1 => (format!("CREATE USER '{user}'@'%' IDENTIFIED BY '"), "';"),
        _ => (format!("CREATE ROLE {user} LOGIN password '"), "'"),
    };
    framed(&pre, &pw, post, "sql_password")
}

fn secret(r: &mut Rng) -> Item {
    match r.below(30) {
        29 => ci_secret(r),
        22 => password_hash(r),
        25 => sql_password(r),
        26 => saas_token(r),
        27 => cloud_token(r),
        28 => signed_url(r),
        0 => whole(
            format!("AKIA{}", r.chars(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16)),
            "aws_access_key_id",
        ),
        1 => framed(
            r.s(&[
                "aws_secret_access_key = ",
                "AWS_SECRET_ACCESS_KEY=",
                "\"SecretAccessKey\": \"",
            ]),
            &r.chars(B64, 40),
            "",
            "aws_secret_key",
        ),
        2 => whole(
            format!(
                "{}_{}",
                r.s(&["ghp", "gho", "ghu", "ghs", "ghr"]),
                r.chars(ALNUM, 36)
            ),
            "github_token",
        ),
        3 => whole(
            format!("github_pat_{}_{}", r.chars(ALNUM, 22), r.chars(ALNUM, 59)),
            "github_token",
        ),
        4 => whole(format!("glpat-{}", r.chars(ALNUM, 20)), "gitlab_token"),
        5 => whole(
            format!(
                "xoxb-{}-{}-{}",
                r.digits(11),
                r.digits(12),
                r.chars(ALNUM, 24)
            ),
            "slack_token",
        ),
        6 => framed(
            "https://",
            &format!(
                "hooks.slack.com/services/T{}/B{}/{}",
                r.chars(UPPER_DIGIT, 8),
                r.chars(UPPER_DIGIT, 10),
                r.chars(ALNUM, 24)
            ),
            "",
            "slack_webhook",
        ),
        7 => whole(
            if r.chance(25) {
                format!("whsec_{}", r.chars(ALNUM, 32))
            } else {
                format!(
                    "{}_{}",
                    r.s(&["sk_live", "rk_live", "sk_test"]),
                    r.chars(ALNUM, 24)
                )
            },
            "stripe_key",
        ),
        8 => whole(format!("AIza{}", r.chars(B64URL, 35)), "google_api_key"),
        9 => whole(format!("SK{}", r.chars(HEX, 32)), "twilio_api_key"),
        10 => whole(
            format!("SG.{}.{}", r.chars(B64URL, 22), r.chars(B64URL, 43)),
            "sendgrid_api_key",
        ),
        11 => whole(format!("npm_{}", r.chars(ALNUM, 36)), "npm_token"),
        12 => whole(
            format!("pypi-AgEIcHlwaS5vcmc{}", r.chars(B64URL, 70)),
            "pypi_token",
        ),
        13 => whole(format!("sk-proj-{}", r.chars(ALNUM, 48)), "openai_api_key"),
        14 => whole(
            format!("sk-ant-api03-{}", r.chars(ALNUM, 95)),
            "anthropic_api_key",
        ),
        15 => whole(format!("hf_{}", r.chars(LETTERS, 34)), "huggingface_token"),
        16 => whole(format!("shpat_{}", r.chars(HEX, 32)), "shopify_token"),
        17 => whole(format!("dop_v1_{}", r.chars(HEX, 64)), "digitalocean_token"),
        18 => framed(
            "DefaultEndpointsProtocol=https;AccountName=acme;AccountKey=",
            &format!("{}==", r.chars(B64, 86)),
            ";EndpointSuffix=core.windows.net",
            "azure_storage_key",
        ),
        19 => {
            let payload = format!(
                "{{\"sub\":\"{}\",\"name\":\"{}\",\"iat\":{}}}",
                r.digits(6),
                r.pick(FIRST),
                1_700_000_000 + r.below(10_000_000)
            );
            let jwt = format!(
                "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.{}.{}",
                b64url_encode(payload.as_bytes()),
                r.chars(B64URL, 43)
            );
            match r.below(3) {
                0 => framed(
                    "Authorization: Basic ",
                    &format!("{}=", r.chars(B64, 27)),
                    "",
                    "http_authorization",
                ),
                1 => framed(
                    r.s(&[
                        "Authorization: Bearer ",
                        "authorization: token ",
                        "Proxy-Authorization: Bearer ",
                    ]),
                    &r.chars(B64URL, 32),
                    "",
                    "http_authorization",
                ),
                _ => framed("Authorization: Bearer ", &jwt, "", "jwt"),
            }
        }
        20 => {
            let kind = r.s(&[
                "RSA PRIVATE KEY",
                "PRIVATE KEY",
                "EC PRIVATE KEY",
                "OPENSSH PRIVATE KEY",
            ]);
            let lines: Vec<String> = (0..r.range(3, 12)).map(|_| r.chars(B64, 64)).collect();
            whole(
                format!(
                    "-----BEGIN {kind}-----\n{}\n-----END {kind}-----",
                    lines.join("\n")
                ),
                "pem_private_key",
            )
        }
        21 => {
            let scheme = r.s(&[
                "postgres",
                "postgresql",
                "mysql",
                "redis",
                "amqp",
                "mongodb",
            ]);
            let mut pw = r.set_in(PW, 8, 20);
            if r.chance(20) {
                // Unencoded, as hand-written connection strings have it (`P@ssw0rd`).
                pw.insert(r.range(1, 6) as usize, '@');
            }
            framed(
                &format!("{scheme}://{}:", r.pick(FIRST)),
                &pw,
                &format!("@db-{}:5432/app", r.pick(LAST)),
                "uri_password",
            )
        }
        _ => {
            let pw = r.set_in(PW, 8, 24);
            let (pre, post) = match r.below(7) {
                0 => ("password=", ""),
                1 => ("\"password\": \"", "\""),
                2 => ("DB_PASSWORD: ", ""),
                3 => ("api_key = \"", "\""),
                4 => ("client_secret: ", ""),
                5 => ("<password>", "</password>"),
                _ => ("access_token=", "&"),
            };
            framed(pre, &pw, post, "password_assignment")
        }
    }
}

/// Tokens of the SaaS formats added after the first catalog (Vault, Grafana, Atlassian, ...).
fn saas_token(r: &mut Rng) -> Item {
    const AGE: &[u8] = b"QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L";
    let (t, det) = match r.below(10) {
        0 => (
            format!("{}{}", r.s(&["hvs.", "hvb."]), r.chars(B64URL, 95)),
            "vault_token",
        ),
        1 => (
            if r.chance(50) {
                format!("glsa_{}_{}", r.chars(ALNUM, 32), r.chars(HEX, 8))
            } else {
                format!("glc_{}==", r.chars(B64, 60))
            },
            "grafana_token",
        ),
        2 => (
            format!("ATATT3{}", r.chars(B64URL, 186)),
            "atlassian_api_token",
        ),
        3 => (
            format!("PMAK-{}-{}", r.chars(HEX, 24), r.chars(HEX, 34)),
            "postman_api_key",
        ),
        4 => (
            format!("NRAK-{}", r.chars(UPPER_DIGIT, 27)),
            "newrelic_api_key",
        ),
        5 => (format!("lin_api_{}", r.chars(ALNUM, 40)), "linear_api_key"),
        6 => (
            format!("AGE-SECRET-KEY-1{}", r.chars(AGE, 58)),
            "age_secret_key",
        ),
        7 => (
            format!(
                "dp.{}.{}",
                r.s(&["pt", "st", "sa", "ct"]),
                r.chars(ALNUM, 43)
            ),
            "doppler_token",
        ),
        8 => (
            format!("{}{}", r.s(&["sq0atp-", "sq0csp-"]), r.chars(B64URL, 43)),
            "square_token",
        ),
        _ => (format!("pul-{}", r.chars(HEX, 40)), "pulumi_token"),
    };
    whole(t, det)
}

/// A signed URL (Azure SAS, S3, GCS, CloudFront): its signature is the credential.
fn signed_url(r: &mut Rng) -> Item {
    const CF: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789~_-";
    let (pre, sig, post) = match r.below(4) {
        0 => {
            // Base64, URL-encoded.
            let b64 = r.chars(B64, 43);
            let enc = b64.replace('+', "%2B").replace('/', "%2F");
            (
                "https://acct.blob.core.windows.net/c/f.txt?sv=2022-11-02&se=2026-12-09T00%3A00%3A00Z&sr=b&sp=r&sig=".to_owned(),
                format!("{enc}%3D"),
                "",
            )
        }
        1 => (
            "https://b.s3.amazonaws.com/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Date=20261208T000000Z&X-Amz-Expires=3600&X-Amz-SignedHeaders=host&X-Amz-Signature=".to_owned(),
            r.chars(HEX, 64),
            "",
        ),
        2 => (
            "https://storage.googleapis.com/b/o?X-Goog-Algorithm=GOOG4-RSA-SHA256&X-Goog-Expires=900&X-Goog-Signature=".to_owned(),
            r.chars(HEX, 512),
            "",
        ),
        _ => (
            format!("https://d{}.cloudfront.net/a.jpg?Expires=1700000000&Signature=", r.chars(HEX, 13)),
            r.chars(CF, 172),
            "&Key-Pair-Id=K2JCJMDEHXQW5F",
        ),
    };
    framed(&pre, &sig, post, "url_signature")
}

/// Webhook URLs and tokens that CI logs and environment dumps show: Discord and Teams
/// webhooks, Terraform Cloud, Mapbox, Artifactory, SonarQube, Sourcegraph and other
/// developer-tool credentials.
fn ci_secret(r: &mut Rng) -> Item {
    const LOWER_DIGIT: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    match r.below(20) {
        5 => whole(
            format!("{}{}", r.s(&["squ_", "sqp_", "sqa_"]), r.chars(HEX, 40)),
            "sonarqube_token",
        ),
        6 => whole(
            match r.below(3) {
                0 => format!("sgp_{}_{}", r.chars(HEX, 16), r.chars(HEX, 40)),
                1 => format!("sgp_local_{}", r.chars(HEX, 40)),
                _ => format!("sgp_{}", r.chars(HEX, 40)),
            },
            "sourcegraph_token",
        ),
        7 => whole(format!("pnu_{}", r.chars(ALNUM, 36)), "prefect_api_key"),
        8 => whole(
            format!("shippo_{}_{}", r.s(&["live", "test"]), r.chars(HEX, 40)),
            "shippo_api_key",
        ),
        9 => whole(
            format!("tk-us-{}", r.chars(B64URL, 48)),
            "scalingo_api_token",
        ),
        10 => whole(format!("ico-{}", r.chars(ALNUM, 32)), "infracost_api_key"),
        11 => whole(
            format!(
                "tfp_{}{}",
                r.chars(
                    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.=-",
                    58
                ),
                r.chars(ALNUM, 1)
            ),
            "typeform_api_key",
        ),
        12 => whole(
            format!("CLOJARS_{}", r.chars(LOWER_DIGIT, 60)),
            "clojars_token",
        ),
        13 => whole(
            format!(
                "duffel_{}_{}{}",
                r.s(&["test", "live"]),
                r.chars(B64URL, 42),
                r.chars(ALNUM, 1)
            ),
            "duffel_api_key",
        ),
        14 => whole(
            format!("{}{}", r.s(&["EZAK", "EZTK"]), r.chars(ALNUM, 54)),
            "easypost_api_key",
        ),
        15 => whole(
            format!("FLWSECK{}-{}-X", r.s(&["_TEST", ""]), r.chars(HEX, 32)),
            "flutterwave_secret_key",
        ),
        16 => whole(
            format!("fio-u-{}{}", r.chars(B64URL, 63), r.chars(ALNUM, 1)),
            "frameio_token",
        ),
        17 => whole(
            format!("xoxe-1-{}", r.chars(UPPER_DIGIT, 146)),
            "slack_token",
        ),
        18 => whole(format!("GR1348941{}", r.chars(B64URL, 20)), "gitlab_token"),
        19 => whole(
            format!("eyJrIjoi{}{}", r.chars(ALNUM, 88), r.s(&["", "=", "=="])),
            "grafana_token",
        ),
        0 => framed(
            "https://",
            &format!(
                "discord{}.com/api/webhooks/{}/{}",
                r.s(&["", "app"]),
                r.digits_in(17, 20),
                r.set_in(B64URL, 60, 68)
            ),
            "",
            "discord_webhook",
        ),
        1 => {
            let guid = |r: &mut Rng| {
                format!(
                    "{}-{}-{}-{}-{}",
                    r.chars(HEX, 8),
                    r.chars(HEX, 4),
                    r.chars(HEX, 4),
                    r.chars(HEX, 4),
                    r.chars(HEX, 12)
                )
            };
            let v2 = if r.chance(50) {
                format!("/V2{}", r.set_in(B64URL, 20, 80))
            } else {
                String::new()
            };
            framed(
                &format!("https://{}.", r.s(&["contoso", "acme", "example"])),
                &format!(
                    "webhook.office.com/webhookb2/{}@{}/IncomingWebhook/{}/{}{v2}",
                    guid(r),
                    guid(r),
                    r.chars(HEX, 32),
                    guid(r)
                ),
                "",
                "teams_webhook",
            )
        }
        2 => whole(
            format!(
                "{}.atlasv1.{}",
                r.chars(ALNUM, 14),
                r.set_in(
                    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_=-",
                    59,
                    69
                ) + &r.chars(ALNUM, 1)
            ),
            "terraform_cloud_token",
        ),
        3 => whole(
            format!(
                "sk.eyJ{}.{}",
                r.set_in(B64URL, 20, 200),
                r.set_in(B64URL, 20, 30)
            ),
            "mapbox_secret_token",
        ),
        _ => whole(
            if r.chance(50) {
                format!("AKCp{}", r.chars(ALNUM, 69))
            } else {
                format!("cmVmdGtuOjAx{}", r.chars(ALNUM, 52))
            },
            "artifactory_token",
        ),
    }
}

/// More token formats: cloud, AI and package-registry credentials.
fn cloud_token(r: &mut Rng) -> Item {
    const LOWER_DIGIT: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let (t, det) = match r.below(16) {
        0 => (
            format!("ya29.{}", r.set_in(B64URL, 60, 220)),
            "google_oauth_token",
        ),
        1 => (format!("pplx-{}", r.chars(ALNUM, 48)), "perplexity_api_key"),
        2 => (
            format!("ABSK{}{}", r.set_in(B64, 109, 200), r.s(&["", "=", "=="])),
            "aws_bedrock_api_key",
        ),
        3 => (
            format!(
                "pscale_{}_{}",
                r.s(&["tkn", "pw", "oauth"]),
                r.set_in(ALNUM, 32, 64)
            ),
            "planetscale_token",
        ),
        4 => (format!("HRKU-AA{}", r.chars(B64URL, 58)), "heroku_api_key"),
        5 => (
            if r.chance(50) {
                format!("fo1_{}", r.chars(B64URL, 43))
            } else {
                format!(
                    "{}{}{}",
                    r.s(&["fm2_", "fm1a_", "fm1r_"]),
                    r.set_in(B64, 100, 400),
                    r.s(&["", "=", "=="])
                )
            },
            "flyio_token",
        ),
        6 => (
            if r.chance(50) {
                format!("sntryu_{}", r.chars(HEX, 64))
            } else {
                format!(
                    "sntrys_eyJ{}{}_{}",
                    r.set_in(B64, 60, 200),
                    r.s(&["", "=", "=="]),
                    r.chars(B64, 43)
                )
            },
            "sentry_token",
        ),
        7 => (
            format!("ntn_{}{}", r.digits(11), r.chars(ALNUM, 35)),
            "notion_token",
        ),
        8 => (
            format!(
                "ops_eyJ{}{}",
                r.set_in(B64, 250, 900),
                r.s(&["", "=", "=="])
            ),
            "onepassword_token",
        ),
        9 => (
            format!("LTAI{}", r.set_in(ALNUM, 12, 20)),
            "alibaba_access_key_id",
        ),
        10 => (
            format!("dt0c01.{}.{}", r.chars(UPPER_DIGIT, 24), r.chars(ALNUM, 64)),
            "dynatrace_token",
        ),
        11 => (
            format!(
                "{}-{}-{}",
                r.s(&["xkeysib", "xsmtpsib"]),
                r.chars(HEX, 64),
                r.chars(ALNUM, 16)
            ),
            "brevo_api_key",
        ),
        12 => (format!("rubygems_{}", r.chars(HEX, 48)), "rubygems_api_key"),
        // Entra ID secrets: a head of three, a digit, `Q~` and 31-34 more (34 today: 40
        // bytes), ending in a letter or digit. Not 33: before a sentence's full stop that is
        // a 40-byte secret ending in `.` (see the validator).
        13 => {
            const AZ: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_~.-";
            let tail = if r.chance(75) {
                34
            } else {
                r.range(31, 32) as usize
            };
            (
                format!(
                    "{}{}Q~{}{}",
                    r.chars(AZ, 3),
                    r.digits(1),
                    r.chars(AZ, tail - 1),
                    r.chars(ALNUM, 1)
                ),
                "azure_ad_client_secret",
            )
        }
        14 => (format!("sha256~{}", r.chars(B64URL, 43)), "openshift_token"),
        // A routable GitLab token ends in `.` and a checksum.
        _ => (
            format!(
                "{}{}.{}",
                r.s(&["glpat-", "glrt-t1_", "gldt-"]),
                r.set_in(B64URL, 27, 60),
                r.chars(LOWER_DIGIT, 9)
            ),
            "gitlab_token",
        ),
    };
    whole(t, det)
}

/// A look-alike: must not be masked.
fn lookalike(r: &mut Rng) -> Item {
    let t = match r.below(25) {
        // A `~` that is no token: a home path, a Debian version.
        23 => r
            .s(&[
                "~/.kube/config",
                "1:14.0-55.7~deb12u1",
                "2.9.4+dfsg-1.1~bpo12+1",
                "cd ~user/Q~",
            ])
            .to_owned(),
        // An environment dump's working directory.
        24 => format!(
            "{}=/home/{}/work/{}",
            r.s(&["PWD", "OLDPWD"]),
            r.pick(FIRST),
            r.digits(3)
        ),
        // A hex dump row whose bytes include five decimal pairs from `0[1-9]`: no French
        // phone number.
        22 => {
            const HEXD: &[u8] = b"0123456789abcdef";
            let mut row = format!("{:08x} ", r.below(1 << 20) * 16);
            row.push_str(&format!(" 0{}", r.range(1, 9)));
            for _ in 0..4 {
                row.push_str(&format!(" {}", r.digits(2)));
            }
            for _ in 0..3 {
                row.push_str(&format!(" {}", r.chars(HEXD, 2)));
            }
            row
        }
        // A product's EAN-13 barcode number that passes Luhn too, with a Visa or Maestro
        // prefix (German, British, Chinese goods).
        21 => loop {
            let mut d: Vec<u8> = r
                .s(&["40", "42", "50", "56", "69"])
                .bytes()
                .map(|b| b - b'0')
                .collect();
            while d.len() < 12 {
                d.push(r.below(10) as u8);
            }
            d.push(ean13_digit(&d));
            if luhn_digit(&d[..12]) == d[12] {
                break d.iter().map(|&x| char::from(b'0' + x)).collect();
            }
        },
        // A hash scheme's name or prefix, not a hash.
        20 => r
            .s(&[
                "costs $2 billion",
                "$5 per seat",
                "SCRAM-SHA-256 auth",
                "pbkdf2_sha256 default",
                "$argon2id$v=19 params",
                "$2b$12$ prefix",
                "$6$rounds=5000$ salt",
            ])
            .to_owned(),
        0 => {
            let (mut d, _) = card_digits(r);
            let last = d.len() - 1;
            d[last] = (d[last] + 1 + r.below(9) as u8) % 10;
            d.iter().map(|&x| char::from(b'0' + x)).collect()
        }
        1 => format!("ORD-{}-{}", r.range(2019, 2025), r.digits(6)),
        2 => format!("order #{}", r.digits(8)),
        3 => format!(
            "{}-{}-4{}-a{}-{}",
            r.chars(HEX, 8),
            r.chars(HEX, 4),
            r.chars(HEX, 3),
            r.chars(HEX, 3),
            r.chars(HEX, 12)
        ),
        4 => format!(
            "2024-{:02}-{:02}T{:02}:{:02}:{:02}.{}Z",
            r.range(1, 12),
            r.range(1, 28),
            r.below(24),
            r.below(60),
            r.below(60),
            r.digits(3)
        ),
        5 => format!("{}", 1_600_000_000_000u64 + r.below(100_000_000_000)),
        6 => r.chars(HEX, 40),
        7 => format!("{}-{}", r.digits(5), r.digits(4)),
        8 => format!("${},{}.{}", r.range(1, 99), r.digits(3), r.digits(2)),
        // Invalid SSN areas; 9xx only with groups no ITIN uses.
        9 => format!(
            "{}-{:02}-{}",
            r.s(&["666", "000", "900", "987"]),
            r.range(1, 49),
            r.digits(4)
        ),
        10 => format!("v{}.{}.{}", r.below(10), r.below(30), r.below(100)),
        11 => format!(
            "{} {:02}:{:02}:{:02}",
            "2024-03-09",
            r.below(24),
            r.below(60),
            r.below(60)
        ),
        12 => format!("{}-{}-{}", r.range(100, 199), r.digits(3), r.digits(4)),
        13 if r.chance(25) => format!(
            "ALTER ROLE {} PASSWORD {}",
            r.pick(FIRST),
            r.s(&["NULL", "'********'", "'${APP_PASSWORD}'"])
        ),
        13 => format!(
            "password: {}",
            r.s(&[
                "********",
                "${DB_PASSWORD}",
                "<redacted>",
                "{{ .Values.pw }}"
            ])
        ),
        14 => format!("build {}", r.digits_in(6, 8)),
        15 => format!("sha256:{}", r.chars(HEX, 64)),
        16 => format!(
            "DE00 0{} {} {} {} {}",
            r.digits(3),
            r.digits(4),
            r.digits(4),
            r.digits(4),
            r.digits(2)
        ),
        17 => format!("{} ms", r.range(1, 99999)),
        18 => format!("port {}", r.range(1024, 65535)),
        _ => format!("{}.{}", r.digits(4), r.digits(2)),
    };
    plain(t)
}

/// A card security code after its key.
fn card_code(r: &mut Rng) -> Item {
    let (pre, post) = match r.below(4) {
        0 => ("CVV: ", ""),
        1 => ("cvv2=", ""),
        2 => ("\"cvc\": \"", "\""),
        _ => ("Security Code: ", ""),
    };
    let n = if r.below(4) == 0 { 4 } else { 3 };
    framed(pre, &r.digits(n), post, "card_security_code")
}

fn sensitive(r: &mut Rng) -> Item {
    match r.below(15) {
        14 => card_code(r),
        0 | 1 => card(r),
        2 => ssn(r),
        3 => match r.below(3) {
            0 => itin(r),
            1 => aba(r),
            _ => ein(r),
        },
        4 => nino(r),
        5 => iban(r),
        6 => email(r),
        7 => phone(r),
        8 => match r.below(3) {
            0 => ipv4(r),
            1 => ipv6(r),
            _ => mac(r),
        },
        _ => secret(r),
    }
}

fn slot(r: &mut Rng) -> Item {
    match r.below(10) {
        0..=3 => sensitive(r),
        4..=6 => lookalike(r),
        _ => plain(words(r, 1, 3)),
    }
}

fn words(r: &mut Rng, lo: u64, hi: u64) -> String {
    (0..r.range(lo, hi))
        .map(|_| *r.pick(WORDS))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Appends text and labels.
pub struct Corpus {
    pub data: Vec<u8>,
    pub labels: Vec<Label>,
}

impl Corpus {
    fn text(&mut self, s: &str) {
        self.data.extend_from_slice(s.as_bytes());
    }
    fn item(&mut self, it: Item) {
        if let Some((s, e, d)) = it.label {
            let base = self.data.len();
            self.labels.push(Label {
                start: base + s,
                end: base + e,
                detector: d,
            });
        }
        self.text(&it.text);
    }
}

/// A `key: value` line of a config file whose value is a passphrase of several words (masked
/// to the line's end, before a comment), or a placeholder followed by a remark (not masked).
fn passphrase_line(r: &mut Rng) -> Item {
    let key = r.s(&[
        "password",
        "DB_PASSWORD",
        "  passphrase",
        "export APP_PASSWORD",
        "- secret",
        "spring.datasource.password",
    ]);
    let op = r.s(&[": ", "=", " = "]);
    let pre = format!("{key}{op}");
    if r.chance(20) {
        return plain(format!(
            "{pre}{} {}",
            r.s(&["********", "${DB_PASSWORD}", "null", "<redacted>"]),
            words(r, 2, 4)
        ));
    }
    // The first word may be shorter than the four bytes a one-word value needs.
    let phrase = format!(
        "{} {}",
        r.s(&["my", "correct", "Tr0ub4dor", "it"]),
        words(r, 2, 4)
    );
    let post = if r.chance(30) {
        "  # rotated yearly"
    } else {
        ""
    };
    framed(&pre, &phrase, post, "password_assignment")
}

/// Generates at least `target` bytes (whole records) from `seed`.
pub fn generate(seed: u64, target: usize) -> Corpus {
    let mut r = Rng::new(seed);
    let mut c = Corpus {
        data: Vec::with_capacity(target + 4096),
        labels: Vec::new(),
    };
    let mut id = 1000u64;
    while c.data.len() < target {
        id += 1;
        match r.below(6) {
            0 => {
                // prose
                let w = words(&mut r, 3, 8);
                c.text(&format!("{} {} wrote: ", r.pick(FIRST), r.pick(LAST)));
                c.text(&w);
                c.text(" ");
                let it = slot(&mut r);
                c.item(it);
                c.text(", ");
                c.text(&words(&mut r, 2, 6));
                c.text(" ");
                let it = slot(&mut r);
                c.item(it);
                c.text(".\n");
            }
            1 => {
                // JSON log line
                c.text(&format!("{{\"ts\":\"2024-05-{:02}T{:02}:{:02}:{:02}.{}Z\",\"level\":\"{}\",\"req\":{id},\"msg\":\"", r.range(1, 28), r.below(24), r.below(60), r.below(60), r.digits(3), r.s(&["info", "warn", "error"])));
                c.text(&words(&mut r, 2, 5));
                c.text(" ");
                let it = slot(&mut r);
                c.item(it);
                c.text("\",\"field\":\"");
                let it = slot(&mut r);
                c.item(it);
                c.text(&format!("\",\"latency_ms\":{}}}\n", r.range(1, 5000)));
            }
            2 => {
                // CSV row
                c.text(&format!("{id},{} {},", r.pick(FIRST), r.pick(LAST)));
                let it = slot(&mut r);
                c.item(it);
                c.text(",");
                let it = slot(&mut r);
                c.item(it);
                c.text(&format!(",{}\n", r.s(&["active", "closed", "pending"])));
            }
            3 => {
                // psql table row
                c.text(&format!(" {id:>6} | {:<8} | ", r.pick(FIRST)));
                let it = slot(&mut r);
                c.item(it);
                c.text(" | ");
                let it = slot(&mut r);
                c.item(it);
                c.text(" |\n");
            }
            4 => {
                // config snippet
                c.text(&format!(
                    "# {}\n{}_host: {}\n",
                    words(&mut r, 2, 4),
                    r.s(&["db", "cache", "api"]),
                    r.s(&["db-primary", "localhost", "cache-1"])
                ));
                let it = if r.chance(10) {
                    passphrase_line(&mut r)
                } else {
                    slot(&mut r)
                };
                c.item(it);
                c.text("\n");
            }
            _ => {
                // a line of look-alikes and plain words only
                let it = lookalike(&mut r);
                c.item(it);
                c.text(" ");
                c.text(&words(&mut r, 2, 6));
                c.text(" ");
                let it = lookalike(&mut r);
                c.item(it);
                c.text("\n");
            }
        }
    }
    c
}

/// Generates at least `target` bytes of low-density text from `seed`: the same record shapes,
/// but most records carry only plain words, numbers that are no PII (ids, timestamps,
/// latencies) and, now and then, a look-alike; about one record in `every` carries a sensitive
/// value. This is what most logs and result sets look like; `generate` is the dense worst case.
pub fn generate_sparse(seed: u64, target: usize, every: u64) -> Corpus {
    let mut r = Rng::new(seed);
    let mut c = Corpus {
        data: Vec::with_capacity(target + 4096),
        labels: Vec::new(),
    };
    let mut id = 1000u64;
    while c.data.len() < target {
        id += 1;
        let filler = |r: &mut Rng| -> Item {
            if r.chance(3) {
                lookalike(r)
            } else {
                plain(words(r, 1, 4))
            }
        };
        let it = if r.below(every.max(1)) == 0 {
            sensitive(&mut r)
        } else {
            filler(&mut r)
        };
        match r.below(4) {
            0 => {
                let w = words(&mut r, 6, 16);
                c.text(&format!("{} {} wrote: {w} ", r.pick(FIRST), r.pick(LAST)));
                c.item(it);
                c.text(", ");
                c.text(&words(&mut r, 4, 12));
                c.text(".\n");
            }
            1 => {
                c.text(&format!("{{\"ts\":\"2024-05-{:02}T{:02}:{:02}:{:02}.{}Z\",\"level\":\"{}\",\"req\":{id},\"msg\":\"", r.range(1, 28), r.below(24), r.below(60), r.below(60), r.digits(3), r.s(&["info", "warn", "error"])));
                c.text(&words(&mut r, 3, 10));
                c.text(" ");
                c.item(it);
                c.text(&format!(
                    "\",\"service\":\"{}\",\"latency_ms\":{}}}\n",
                    r.s(&["billing", "orders", "auth", "search"]),
                    r.range(1, 5000)
                ));
            }
            2 => {
                c.text(&format!(
                    " {id:>6} | {:<8} | {:<10} | ",
                    r.pick(FIRST),
                    r.pick(LAST)
                ));
                c.item(it);
                c.text(&format!(" | {} |\n", r.s(&["active", "closed", "pending"])));
            }
            _ => {
                c.text(&format!(
                    "# {}\n{}_host: {}\n{}_timeout: {}\n",
                    words(&mut r, 3, 8),
                    r.s(&["db", "cache", "api"]),
                    r.s(&["db-primary", "localhost", "cache-1"]),
                    r.s(&["read", "write", "idle"]),
                    r.range(1, 600)
                ));
                c.item(it);
                c.text("\n");
            }
        }
    }
    c
}
