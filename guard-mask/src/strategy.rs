//! Masking strategies: what replaces a detected value.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

/// What replaces a detected (or rule-selected) value.
///
/// Deserializes (feature `serde`) from a table with a `kind` field, for example
/// `{ kind = "partial", keep_last = 4 }`, or from its `FromStr` form (`"partial:4"`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Deserialize, serde::Serialize))]
#[cfg_attr(
    feature = "serde",
    serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)
)]
#[non_exhaustive]
pub enum Strategy {
    /// Replace with a label: `[CREDIT_CARD]` (the detector's name upper-cased) unless `label`
    /// is given (written inside the brackets).
    Redact {
        /// The label; `None` uses the detector's name, or `REDACTED` for column and JSON rules.
        #[cfg_attr(feature = "serde", serde(default))]
        label: Option<String>,
    },
    /// Keep the last `keep_last` letters and digits, replace the other letters and digits with
    /// `*`; separators stay (`**** **** **** 1111`).
    Partial {
        /// How many trailing letters and digits stay visible.
        #[cfg_attr(feature = "serde", serde(default = "default_keep"))]
        keep_last: usize,
    },
    /// HMAC-SHA256 of the value under the masker's key, as `length` lowercase hex characters
    /// (1..=64). The same value always gives the same pseudonym under one key, so joins and
    /// counts still work.
    Hash {
        /// Hex characters kept from the digest.
        #[cfg_attr(feature = "serde", serde(default = "default_hash_len"))]
        length: usize,
    },
    /// Format-preserving: digits become digits, lowercase letters lowercase letters, uppercase
    /// letters uppercase letters; every other byte and the length stay. Deterministic under
    /// the masker's key.
    Shape,
    /// Remove the value. In a column rule the caller sends SQL NULL (see
    /// [`Strategy::is_null`]); in JSON the value becomes `null`; in a text stream nothing is
    /// written.
    Null,
    /// Replace with the empty string (in JSON: `""`).
    Empty,
}

#[cfg(feature = "serde")]
fn default_keep() -> usize {
    4
}
#[cfg(feature = "serde")]
fn default_hash_len() -> usize {
    16
}

impl Default for Strategy {
    fn default() -> Self {
        Strategy::Redact { label: None }
    }
}

impl Strategy {
    /// `Redact` with the detector's label.
    pub fn redact() -> Self {
        Strategy::Redact { label: None }
    }

    /// `Partial` keeping the last `keep_last` letters and digits.
    pub fn partial(keep_last: usize) -> Self {
        Strategy::Partial { keep_last }
    }

    /// `Hash` with `length` hex characters.
    pub fn hash(length: usize) -> Self {
        Strategy::Hash { length }
    }

    /// Whether a column rule with this strategy replaces the value with SQL NULL.
    pub fn is_null(&self) -> bool {
        matches!(self, Strategy::Null)
    }

    /// Whether applying this strategy needs the masker's key.
    pub fn needs_key(&self) -> bool {
        matches!(self, Strategy::Hash { .. } | Strategy::Shape)
    }
}

/// Error for a strategy written as text (`--strategy partial:4`).
#[derive(Debug, thiserror::Error)]
#[error(
    "unknown strategy {text:?}: expected redact[:LABEL], partial[:N], hash[:LEN], shape, null or empty (caller's input, exit status 2)"
)]
pub struct ParseStrategyError {
    text: String,
}

impl std::str::FromStr for Strategy {
    type Err = ParseStrategyError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || ParseStrategyError { text: s.to_owned() };
        let (kind, arg) = match s.split_once(':') {
            Some((k, a)) => (k, Some(a)),
            None => (s, None),
        };
        let num = |d: usize| -> Result<usize, ParseStrategyError> {
            arg.map_or(Ok(d), |a| a.parse().map_err(|_| err()))
        };
        Ok(match kind {
            "redact" => Strategy::Redact {
                label: arg.map(str::to_owned),
            },
            "partial" => Strategy::Partial { keep_last: num(4)? },
            "hash" => Strategy::Hash {
                length: num(16)?.clamp(1, 64),
            },
            "shape" if arg.is_none() => Strategy::Shape,
            "null" if arg.is_none() => Strategy::Null,
            "empty" if arg.is_none() => Strategy::Empty,
            _ => return Err(err()),
        })
    }
}

/// Writes the replacement of `value` under `strategy` to `out`.
///
/// `label` is the bracketed default label (`[CREDIT_CARD]`).
pub(crate) fn apply(
    strategy: &Strategy,
    key: &[u8],
    label: &[u8],
    value: &[u8],
    out: &mut Vec<u8>,
) {
    match strategy {
        Strategy::Redact { label: Some(l) } => {
            out.push(b'[');
            out.extend_from_slice(l.as_bytes());
            out.push(b']');
        }
        Strategy::Redact { label: None } => out.extend_from_slice(label),
        Strategy::Partial { keep_last } => {
            let alnum = value.iter().filter(|b| b.is_ascii_alphanumeric()).count();
            let mut hide = alnum.saturating_sub(*keep_last);
            for &b in value {
                if b.is_ascii_alphanumeric() && hide > 0 {
                    out.push(b'*');
                    hide -= 1;
                } else {
                    out.push(b);
                }
            }
        }
        Strategy::Hash { length } => {
            let d = hmac(key, b"guard-mask hash\0", value);
            let n = (*length).clamp(1, 64);
            const HEX: &[u8; 16] = b"0123456789abcdef";
            for i in 0..n {
                let byte = d[i / 2];
                let nib = if i % 2 == 0 { byte >> 4 } else { byte & 0xf };
                out.push(HEX[usize::from(nib)]);
            }
        }
        Strategy::Shape => {
            let mut block = hmac(key, b"guard-mask shape\0", value);
            let mut used = 0;
            for &b in value {
                let kind = if b.is_ascii_digit() {
                    (b'0', 10)
                } else if b.is_ascii_lowercase() {
                    (b'a', 26)
                } else if b.is_ascii_uppercase() {
                    (b'A', 26)
                } else {
                    out.push(b);
                    continue;
                };
                if used == block.len() {
                    block = Sha256::digest(block).into();
                    used = 0;
                }
                let r = block[used];
                used += 1;
                out.push(kind.0 + r % kind.1);
            }
        }
        Strategy::Null | Strategy::Empty => {}
    }
}

fn hmac(key: &[u8], domain: &[u8], value: &[u8]) -> [u8; 32] {
    // new_from_slice accepts keys of any length for HMAC, so this cannot fail.
    let mut m = <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!());
    m.update(domain);
    m.update(value);
    m.finalize().into_bytes().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(s: &Strategy, v: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        apply(s, b"key", b"[X]", v, &mut out);
        out
    }

    #[test]
    fn strategies() {
        assert_eq!(run(&Strategy::redact(), b"abc"), b"[X]");
        assert_eq!(run(&"redact:CARD".parse().unwrap(), b"abc"), b"[CARD]");
        assert_eq!(
            run(&Strategy::partial(4), b"4111 1111 1111 1234"),
            b"**** **** **** 1234"
        );
        let h1 = run(&Strategy::hash(12), b"alice@example.com");
        assert_eq!(h1.len(), 12);
        assert_eq!(h1, run(&Strategy::hash(12), b"alice@example.com"));
        assert_ne!(h1, run(&Strategy::hash(12), b"bob@example.com"));
        let s = run(&Strategy::Shape, b"Ab-12 x");
        assert_eq!(s.len(), 7);
        assert!(s[0].is_ascii_uppercase() && s[1].is_ascii_lowercase() && s[2] == b'-');
        assert!(s[3].is_ascii_digit() && s[4].is_ascii_digit() && s[5] == b' ');
        assert_eq!(s, run(&Strategy::Shape, b"Ab-12 x"));
        assert!(run(&Strategy::Null, b"x").is_empty());
        assert!("bogus".parse::<Strategy>().is_err());
    }
}
