//! Key files: how seal signing and verifying keys are written down.
//!
//! A public key file holds the 32-byte Ed25519 public key as 64 hex digits, as standard
//! base64 (44 characters), or as a PEM `PUBLIC KEY` block (SubjectPublicKeyInfo, what
//! `openssl pkey -pubout` writes). A signing key file holds the 32-byte seed the same ways,
//! or a PEM `PRIVATE KEY` block (PKCS #8, what `openssl genpkey -algorithm ed25519` writes).
//! Surrounding whitespace is ignored.

use base64::Engine as _;
use ed25519_dalek::{SigningKey, VerifyingKey};

use crate::chain::{from_hex, to_hex};

/// DER prefix of an Ed25519 SubjectPublicKeyInfo (RFC 8410 section 4); the key follows.
const SPKI_PREFIX: [u8; 12] = [
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];
/// DER prefix of an Ed25519 PKCS #8 v1 private key (RFC 8410 section 7); the seed follows.
const PKCS8_PREFIX: [u8; 16] = [
    0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
];

/// A key file could not be read as a key (the operator's fault).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// Not hex, base64 or PEM of the right length.
    #[error("expected {what} as 64 hex digits, base64 of 32 bytes, or PEM; found {found}")]
    Format {
        /// Which key was expected.
        what: &'static str,
        /// A description of what was found (never the key material).
        found: String,
    },
    /// 32 bytes that are not a valid Ed25519 public key.
    #[error("not a valid Ed25519 public key")]
    InvalidPoint,
}

/// Parses a public key file (see the module docs for the formats).
///
/// # Errors
/// [`KeyError`] when the text is none of the formats.
///
/// # Examples
/// ```
/// let sk = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
/// let text = guard_record::format_verifying_key(&sk.verifying_key());
/// assert_eq!(guard_record::parse_verifying_key(&text)?, sk.verifying_key());
/// # Ok::<(), guard_record::KeyError>(())
/// ```
pub fn parse_verifying_key(text: &str) -> Result<VerifyingKey, KeyError> {
    let raw = decode(text, "PUBLIC KEY", &SPKI_PREFIX, "an Ed25519 public key")?;
    VerifyingKey::from_bytes(&raw).map_err(|_| KeyError::InvalidPoint)
}

/// Parses a signing key file (see the module docs for the formats).
///
/// # Errors
/// [`KeyError`] when the text is none of the formats.
pub fn parse_signing_key(text: &str) -> Result<SigningKey, KeyError> {
    let raw = decode(text, "PRIVATE KEY", &PKCS8_PREFIX, "an Ed25519 private key")?;
    Ok(SigningKey::from_bytes(&raw))
}

/// Writes a public key in the hex form (64 lowercase hex digits and a newline).
pub fn format_verifying_key(key: &VerifyingKey) -> String {
    let mut s = to_hex(key.as_bytes());
    s.push('\n');
    s
}

fn decode(
    text: &str,
    label: &str,
    der_prefix: &[u8],
    what: &'static str,
) -> Result<[u8; 32], KeyError> {
    let text = text.trim();
    let format_err = |found: &str| KeyError::Format {
        what,
        found: found.to_owned(),
    };
    if let Some(rest) = text.strip_prefix(&format!("-----BEGIN {label}-----")) {
        let body = rest
            .strip_suffix(&format!("-----END {label}-----"))
            .ok_or_else(|| format_err("a PEM block without its END line"))?;
        let b64: String = body.split_whitespace().collect();
        let der = base64::engine::general_purpose::STANDARD
            .decode(b64.as_bytes())
            .map_err(|_| format_err("PEM with invalid base64"))?;
        return der
            .strip_prefix(der_prefix)
            .and_then(|k| <[u8; 32]>::try_from(k).ok())
            .ok_or_else(|| format_err("PEM that is not an Ed25519 key"));
    }
    if text.starts_with("-----BEGIN") {
        return Err(format_err("a PEM block with another label"));
    }
    if let Some(k) = from_hex::<32>(&text.to_ascii_lowercase()) {
        return Ok(k);
    }
    if let Ok(v) = base64::engine::general_purpose::STANDARD.decode(text.as_bytes())
        && let Ok(k) = <[u8; 32]>::try_from(v.as_slice())
    {
        return Ok(k);
    }
    Err(format_err(&format!(
        "{} characters of something else",
        text.len()
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_formats_parse() {
        let sk = SigningKey::from_bytes(&[9; 32]);
        let vk = sk.verifying_key();
        let hex = format_verifying_key(&vk);
        assert_eq!(parse_verifying_key(&hex).unwrap(), vk);
        assert_eq!(parse_verifying_key(&hex.to_uppercase()).unwrap(), vk);
        let b64 = base64::engine::general_purpose::STANDARD.encode(vk.as_bytes());
        assert_eq!(parse_verifying_key(&b64).unwrap(), vk);
        let der = [&SPKI_PREFIX[..], vk.as_bytes()].concat();
        let pem = format!(
            "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
            base64::engine::general_purpose::STANDARD.encode(der)
        );
        assert_eq!(parse_verifying_key(&pem).unwrap(), vk);
        let der = [&PKCS8_PREFIX[..], &[9; 32]].concat();
        let pem = format!(
            "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
            base64::engine::general_purpose::STANDARD.encode(der)
        );
        assert_eq!(parse_signing_key(&pem).unwrap().verifying_key(), vk);
        assert_eq!(
            parse_signing_key(&"09".repeat(32)).unwrap().verifying_key(),
            vk
        );
        assert!(parse_verifying_key("abc").is_err());
        assert!(parse_verifying_key(&pem).is_err());
        let err = parse_signing_key(&"zz".repeat(32)).unwrap_err().to_string();
        assert!(!err.contains("zz"), "{err}");
    }
}
