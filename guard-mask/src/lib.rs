//! guard-mask: a streaming masker for PII and secrets.
//!
//! It finds payment cards, national identifiers, e-mail addresses, phone numbers, network
//! addresses and some twenty kinds of credentials in arbitrary bytes, and replaces them with a
//! label, a partial value, a keyed pseudonym, a same-shaped fake or nothing. It masks a byte
//! stream pushed in chunks of any size (holding back only what a match could still span), one
//! value at a time (a DataRow column), or a JSON document by key path.
//!
//! What it does not do: no IO, no threads, no clock, no runtime. It does not decode protocols
//! (the caller hands it the bytes of a column or a body) and does not decide who may see what
//! (a policy names the profile; the gateway applies it).
//!
//! Primary types: [`Masker`] (compiled, immutable, `Send + Sync`, shared by all connections),
//! [`MaskerBuilder`] and [`Profile`] (what it is built from), [`MaskStream`] (per-stream
//! state owned by the caller), [`Strategy`], [`Finding`].
//!
//! ```
//! use guard_mask::{Masker, Strategy};
//!
//! let masker = Masker::builder()
//!     .strategy("credit_card", Strategy::partial(4))
//!     .build()?;
//!
//! // A stream, chunked anywhere.
//! let mut s = masker.stream();
//! let mut out = Vec::new();
//! s.push(b"paid with 4111-1111-", &mut out);
//! s.push(b"1111-1111 by bob@example.com\n", &mut out);
//! s.finish(&mut out);
//! assert_eq!(out, b"paid with ****-****-****-1111 by [EMAIL]\n");
//!
//! // One value: borrowed back, without allocating, when nothing matches.
//! assert!(matches!(masker.mask_value(b"order 1234"), std::borrow::Cow::Borrowed(_)));
//!
//! // Findings.
//! let f = masker.find(b"ssn 123-45-6789");
//! assert_eq!((f[0].start, f[0].end, &*f[0].detector), (4, 15, "us_ssn"));
//! # Ok::<(), guard_mask::BuildError>(())
//! ```
//!
//! Data flow:
//!
//! ```text
//! chunk ─► MaskStream buffer ─► triggers ─────────────► verify in a window ─► clusters ─► out
//!                               byte-class table        anchored match        merge
//!                               (digits @ + ( : -)      (built-ins: hand-     overlaps,
//!                               anchored literals       written; custom:      winner rule,
//!                               (AKIA, ghp_, eyJ, ...)  regex-automata)       strategy
//!                                                       + validators
//!                                                       (Luhn, mod-97, ...)
//! ```
//!
//! See `DESIGN.md` in the crate for the engine, the streaming argument and the winner rule.
//!
//! # README
//!
#![doc = include_str!("../README.md")]
//!
//!
//! # Features
#![doc = document_features::document_features!()]

mod block;
mod catalog;
mod engine;
#[cfg(feature = "json")]
mod json;
mod masker;
mod profile;
mod shapes;
mod strategy;
/// The labelled corpus generator, for unit tests.
#[cfg(test)]
#[path = "../testgen/corpus.rs"]
mod testgen;
mod validate;

use std::sync::Arc;

pub use catalog::{builtin_names, builtin_regex, describe};
#[cfg(feature = "json")]
pub use json::JsonError;
pub use masker::{
    DEFAULT_MAX_REGION, MAX_DETECTOR_LEN, MIN_MAX_REGION, MaskStream, Masker, MaskerBuilder,
};
pub use profile::{ColumnRule, CustomDetector, JsonRule, KeywordList, Profile};
pub use strategy::{ParseStrategyError, Strategy};

/// One region that is (or would be) masked: byte offsets into the input, `end` exclusive.
///
/// Overlapping detections are merged into one region, named after the detector that wins:
/// the highest priority, then the longest detection, then the earliest, then the detector
/// declared first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// First byte of the region.
    pub start: usize,
    /// One past the last byte of the region.
    pub end: usize,
    /// The winning detector's name.
    pub detector: Arc<str>,
}

/// Why a profile could not be compiled. Always the configuration author's fault: a gateway
/// refuses to start (exit status 2), an admin API answers 400 Bad Request.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// A detector name that is neither built in nor defined by the profile.
    #[error("unknown detector {name:?}: expected one of the built-in catalog or a custom detector")]
    UnknownDetector {
        /// The name.
        name: String,
    },
    /// A regex that the regex engine rejects (look-arounds and backreferences are not
    /// supported: put such checks in a validator).
    #[error("detector {name:?}: regex does not compile: {source}")]
    Regex {
        /// The detector.
        name: String,
        /// The engine's error.
        #[source]
        source: Box<regex_automata::meta::BuildError>,
    },
    /// A regex with a syntax error.
    #[error("detector {name:?}: regex syntax error: {source}")]
    Syntax {
        /// The detector.
        name: String,
        /// The parser's error.
        #[source]
        source: Box<regex_syntax::Error>,
    },
    /// A regex that can match the empty string.
    #[error("detector {name:?}: regex can match the empty string")]
    EmptyMatch {
        /// The detector.
        name: String,
    },
    /// A declared maximum length that is zero, too large, or shorter than the regex's longest
    /// possible match.
    #[error("detector {name:?}: max_len {declared} is invalid (expected 1..={MAX_DETECTOR_LEN}{})",
        needed.map(|n| format!(" and at least {n}, the regex's longest match")).unwrap_or_default())]
    MaxLen {
        /// The detector.
        name: String,
        /// What the profile declared.
        declared: usize,
        /// The regex's longest possible match, when that is the problem.
        needed: Option<usize>,
    },
    /// A context window wider than the limit.
    #[error("detector {name:?}: context window {window} exceeds the limit of {limit} bytes")]
    ContextWindow {
        /// The detector.
        name: String,
        /// What the profile declared.
        window: usize,
        /// The limit.
        limit: usize,
    },
    /// A `max_region` below the smallest allowed.
    #[error("max_region {bytes} is below the minimum of {MIN_MAX_REGION} bytes")]
    MaxRegion {
        /// What was asked for.
        bytes: usize,
    },
    /// Two detectors with one name, or an empty name.
    #[error("detector name {name:?} is empty or used twice")]
    DuplicateName {
        /// The name.
        name: String,
    },
    /// A `hash` or `shape` strategy without a key from the caller.
    #[error("{name:?} uses a keyed strategy (hash or shape) but no key was given")]
    MissingKey {
        /// The detector, column or JSON rule.
        name: String,
    },
    /// The literal automaton could not be built.
    #[error("literal triggers could not be compiled: {source}")]
    Literals {
        /// aho-corasick's error.
        #[source]
        source: Box<aho_corasick::BuildError>,
    },
    /// More than 65535 detectors.
    #[error("too many detectors: at most 65535")]
    TooManyDetectors,
}

impl BuildError {
    /// The HTTP status an admin API answers with (the configuration is the caller's input).
    pub fn http_status(&self) -> u16 {
        400
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn public_types_are_send_sync() {
        assert_send_sync::<Masker>();
        assert_send_sync::<MaskerBuilder>();
        assert_send_sync::<MaskStream<&Masker>>();
        assert_send_sync::<MaskStream<Arc<Masker>>>();
        assert_send_sync::<Profile>();
        assert_send_sync::<Strategy>();
        assert_send_sync::<Finding>();
        assert_send_sync::<BuildError>();
    }

    #[test]
    fn catalog_has_thirty_types() {
        assert!(builtin_names().count() >= 30);
        let m = Masker::builder().build().unwrap();
        assert_eq!(m.detector_names().count(), builtin_names().count());
    }
}
