//! Bearer token (JWT) verification against a JWKS, and mapping of claims to an [`Identity`].
//!
//! The caller fetches the issuer's JWKS document (and refreshes it on key rotation by building
//! a new [`TokenVerifier`]); this module never does IO and never reads the clock: `now` is an
//! argument.
//!
//! What is checked, in order, each failure with its own [`TokenError`] variant: size; shape
//! (three base64url parts, JSON header and payload, no `crit` header); the algorithm (never
//! `none`, only the configured allow-list, by default RS256, ES256 and EdDSA, so HS256 "signed"
//! with a public key's bytes is refused before any key is touched); the key (by `kid`, of the
//! family the algorithm needs); the signature; `exp` (required) and `nbf` with leeway; issuer;
//! audience; then the subject and groups claims.
//!
//! Why jsonwebtoken 9: it is the most used JWT crate, its signature code is `ring` (already in
//! the workspace through rustls, so no second crypto stack), and its JWK parsing covers RSA, EC
//! and OKP keys. guard-core uses only its JWK types and its low-level `crypto::verify`; header
//! and claims parsing and every time check are done here, so its validation code (which reads
//! the system clock) never runs. Its types stay out of this API.
//!
//! # Examples
//!
//! ```
//! use guard_core::oidc::{OidcConfig, TokenError, TokenVerifier};
//! use guard_core::Timestamp;
//!
//! let jwks = r#"{"keys": [{"kty": "OKP", "crv": "Ed25519", "kid": "k1",
//!     "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}"#;
//! let verifier =
//!     TokenVerifier::new(OidcConfig::new("https://idp.example", "guard"), jwks).unwrap();
//! let err = verifier.verify("not-a-token", Timestamp::EPOCH).unwrap_err();
//! assert!(matches!(err, TokenError::Malformed { .. }));
//! ```

use std::fmt;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey};
use serde_json::Value;

use crate::{AuthMethod, Identity, Timestamp};

/// The longest token accepted, in bytes (checked before decoding). Real ID and access tokens
/// are a few KiB; 16 KiB leaves room for large group claims.
pub const MAX_TOKEN_BYTES: usize = 16 * 1024;
/// The largest JWKS document accepted, in bytes.
pub const MAX_JWKS_BYTES: usize = 1024 * 1024;
/// The most keys a JWKS may hold.
pub const MAX_JWKS_KEYS: usize = 100;

/// A signature algorithm a verifier may accept. Symmetric (HS*) algorithms and `none` do not
/// exist here on purpose.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TokenAlgorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    Rs256,
    /// ECDSA with P-256 and SHA-256.
    Es256,
    /// Ed25519.
    EdDsa,
}

impl TokenAlgorithm {
    /// The JOSE name (`RS256`, `ES256`, `EdDSA`).
    pub fn name(self) -> &'static str {
        match self {
            TokenAlgorithm::Rs256 => "RS256",
            TokenAlgorithm::Es256 => "ES256",
            TokenAlgorithm::EdDsa => "EdDSA",
        }
    }

    /// The algorithm with this JOSE name, if it is one of ours.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "RS256" => Some(TokenAlgorithm::Rs256),
            "ES256" => Some(TokenAlgorithm::Es256),
            "EdDSA" => Some(TokenAlgorithm::EdDsa),
            _ => None,
        }
    }

    fn jwt(self) -> Algorithm {
        match self {
            TokenAlgorithm::Rs256 => Algorithm::RS256,
            TokenAlgorithm::Es256 => Algorithm::ES256,
            TokenAlgorithm::EdDsa => Algorithm::EdDSA,
        }
    }
}

impl fmt::Display for TokenAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What a [`TokenVerifier`] requires of a token.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct OidcConfig {
    /// The exact `iss` expected.
    pub issuer: String,
    /// Accepted audiences: the token's `aud` must contain at least one.
    pub audiences: Vec<String>,
    /// Accepted algorithms (default: RS256, ES256, EdDSA).
    pub algorithms: Vec<TokenAlgorithm>,
    /// Clock skew tolerated on `exp` and `nbf` (default 60 s).
    pub leeway: Duration,
    /// Claim holding the groups: a top-level name, or a dotted path into nested objects such
    /// as `realm_access.roles` (default `groups`). A missing claim means no groups.
    pub groups_claim: String,
    /// Claim holding the subject (default `sub`).
    pub subject_claim: String,
}

impl OidcConfig {
    /// Defaults for one issuer and one audience.
    pub fn new(issuer: impl Into<String>, audience: impl Into<String>) -> Self {
        Self {
            issuer: issuer.into(),
            audiences: vec![audience.into()],
            algorithms: vec![
                TokenAlgorithm::Rs256,
                TokenAlgorithm::Es256,
                TokenAlgorithm::EdDsa,
            ],
            leeway: Duration::from_secs(60),
            groups_claim: "groups".into(),
            subject_claim: "sub".into(),
        }
    }
}

/// Why a verifier could not be built (the operator's fault: configuration or the issuer's JWKS;
/// the gateway refuses to start or keeps its previous keys).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VerifierError {
    /// The JWKS document is larger than [`MAX_JWKS_BYTES`] or holds more than
    /// [`MAX_JWKS_KEYS`] keys.
    #[error("JWKS too large: {what} is {len}, the limit is {limit}")]
    TooLarge {
        /// `bytes` or `keys`.
        what: &'static str,
        /// What was found.
        len: usize,
        /// The limit.
        limit: usize,
    },
    /// The JWKS is not a JSON object with a `keys` array.
    #[error("malformed JWKS: {reason}")]
    Malformed {
        /// What is wrong.
        reason: String,
    },
    /// No key in the JWKS can verify any configured algorithm.
    #[error("the JWKS has no signing key for any of the algorithms {algorithms}")]
    NoUsableKeys {
        /// The configured algorithms.
        algorithms: String,
    },
    /// The configuration has no issuer, no audience or no algorithm.
    #[error("invalid token verifier configuration: {reason}")]
    Config {
        /// What is missing.
        reason: String,
    },
}

/// Why a token was refused. Always the client's fault: HTTP 401, SQLSTATE 28000.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    /// Longer than [`MAX_TOKEN_BYTES`].
    #[error("token is {len} bytes, more than the limit of {limit}")]
    TooLarge {
        /// Its length.
        len: usize,
        /// The limit.
        limit: usize,
    },
    /// Not three base64url parts with a JSON header and payload.
    #[error("malformed token: {reason}")]
    Malformed {
        /// What is wrong.
        reason: String,
    },
    /// The header says `alg: none` (an unsigned token).
    #[error("unsigned token (alg none) refused")]
    AlgorithmNone,
    /// The header names an algorithm outside the allow-list (HS256 and other symmetric
    /// algorithms always are).
    #[error("token algorithm {alg:?} is not allowed")]
    AlgorithmNotAllowed {
        /// The header's `alg`.
        alg: String,
    },
    /// No key in the JWKS has the token's `kid` (or, without `kid`, no single key fits).
    #[error("no key for kid {kid:?} in the issuer's JWKS")]
    UnknownKey {
        /// The header's `kid`.
        kid: Option<String>,
    },
    /// The key named by `kid` is not of the kind the algorithm needs, or is declared for
    /// another algorithm.
    #[error("key {kid:?} cannot verify {alg} tokens")]
    KeyMismatch {
        /// The key id.
        kid: Option<String>,
        /// The token's algorithm.
        alg: TokenAlgorithm,
    },
    /// The signature does not verify (tampered header or payload, or another key signed it).
    #[error("token signature does not verify")]
    BadSignature,
    /// `exp` (plus leeway) is not after `now`.
    #[error("token expired at {exp} (now {now})")]
    Expired {
        /// The `exp` claim, Unix seconds.
        exp: i64,
        /// The time of the check, Unix seconds.
        now: i64,
    },
    /// `nbf` (minus leeway) is after `now`.
    #[error("token not valid before {nbf} (now {now})")]
    NotYetValid {
        /// The `nbf` claim, Unix seconds.
        nbf: i64,
        /// The time of the check, Unix seconds.
        now: i64,
    },
    /// `iss` is not the configured issuer.
    #[error("token issuer {found:?} is not the expected issuer")]
    WrongIssuer {
        /// The token's `iss`.
        found: Option<String>,
    },
    /// `aud` contains none of the configured audiences.
    #[error("token audience {found:?} contains none of the expected audiences")]
    WrongAudience {
        /// The token's audiences.
        found: Vec<String>,
    },
    /// A required claim is absent or has the wrong type.
    #[error("token claim {claim:?} is missing or invalid: {reason}")]
    BadClaim {
        /// The claim.
        claim: String,
        /// What is wrong.
        reason: String,
    },
}

impl TokenError {
    /// HTTP status for an API refusing the token.
    pub fn http_status(&self) -> u16 {
        401
    }

    /// SQLSTATE for a database client refused at authentication (invalid_authorization_specification).
    pub fn sqlstate(&self) -> &'static str {
        "28000"
    }
}

/// Verifies tokens of one issuer. Immutable and `Send + Sync`; build a new one when the JWKS
/// changes.
pub struct TokenVerifier {
    config: OidcConfig,
    keys: Vec<VerifyKey>,
}

struct VerifyKey {
    kid: Option<String>,
    /// The algorithm the key can verify (from its type and curve).
    alg: TokenAlgorithm,
    key: DecodingKey,
}

impl fmt::Debug for TokenVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenVerifier")
            .field("config", &self.config)
            .field(
                "kids",
                &self
                    .keys
                    .iter()
                    .map(|k| (&k.kid, k.alg))
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl TokenVerifier {
    /// A verifier for `config` with the keys of `jwks_json` (the issuer's `jwks_uri` document).
    /// Keys that cannot verify a configured algorithm (encryption keys, symmetric keys, other
    /// curves, unknown key types) are skipped.
    ///
    /// # Errors
    ///
    /// [`VerifierError`] when the configuration is incomplete, the JWKS is too large or
    /// malformed, or no key is usable.
    pub fn new(config: OidcConfig, jwks_json: &str) -> Result<Self, VerifierError> {
        if config.issuer.is_empty() {
            return Err(VerifierError::Config {
                reason: "no issuer".into(),
            });
        }
        if config.audiences.is_empty() {
            return Err(VerifierError::Config {
                reason: "no audience".into(),
            });
        }
        if config.algorithms.is_empty() {
            return Err(VerifierError::Config {
                reason: "no algorithm".into(),
            });
        }
        if jwks_json.len() > MAX_JWKS_BYTES {
            return Err(VerifierError::TooLarge {
                what: "bytes",
                len: jwks_json.len(),
                limit: MAX_JWKS_BYTES,
            });
        }
        let doc: Value = serde_json::from_str(jwks_json).map_err(|e| VerifierError::Malformed {
            reason: e.to_string(),
        })?;
        let Some(raw_keys) = doc.get("keys").and_then(Value::as_array) else {
            return Err(VerifierError::Malformed {
                reason: "no \"keys\" array".into(),
            });
        };
        if raw_keys.len() > MAX_JWKS_KEYS {
            return Err(VerifierError::TooLarge {
                what: "keys",
                len: raw_keys.len(),
                limit: MAX_JWKS_KEYS,
            });
        }
        let mut keys = Vec::new();
        for raw in raw_keys {
            // Keys of types jsonwebtoken does not know fail to parse: skip them, as issuers
            // publish keys for other purposes too.
            let Ok(jwk) = serde_json::from_value::<Jwk>(raw.clone()) else {
                continue;
            };
            if let Some(k) = usable_key(&jwk, &config.algorithms) {
                keys.push(k);
            }
        }
        if keys.is_empty() {
            let algorithms = config
                .algorithms
                .iter()
                .map(|a| a.name())
                .collect::<Vec<_>>()
                .join(", ");
            return Err(VerifierError::NoUsableKeys { algorithms });
        }
        Ok(Self { config, keys })
    }

    /// The configuration.
    pub fn config(&self) -> &OidcConfig {
        &self.config
    }

    /// Verifies `token` at `now` and returns the identity it proves: the subject claim, the
    /// groups claim, all claims, and [`AuthMethod::Oidc`] with the issuer.
    ///
    /// # Errors
    ///
    /// A [`TokenError`] variant per reason (see the module docs for the order of checks).
    pub fn verify(&self, token: &str, now: Timestamp) -> Result<Identity, TokenError> {
        let claims = self.verify_claims(token, now)?;
        let subject = match lookup(&claims, &self.config.subject_claim) {
            Some(Value::String(s)) if !s.is_empty() => s.clone(),
            _ => {
                return Err(TokenError::BadClaim {
                    claim: self.config.subject_claim.clone(),
                    reason: "expected a non-empty string".into(),
                });
            }
        };
        let groups = match lookup(&claims, &self.config.groups_claim) {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::String(s)) => vec![s.clone()],
            Some(Value::Array(a)) => {
                let mut out = Vec::with_capacity(a.len());
                for g in a {
                    match g {
                        Value::String(s) => out.push(s.clone()),
                        _ => {
                            return Err(TokenError::BadClaim {
                                claim: self.config.groups_claim.clone(),
                                reason: "expected a list of strings".into(),
                            });
                        }
                    }
                }
                out
            }
            Some(_) => {
                return Err(TokenError::BadClaim {
                    claim: self.config.groups_claim.clone(),
                    reason: "expected a string or a list of strings".into(),
                });
            }
        };
        Ok(Identity::new(
            subject,
            AuthMethod::Oidc {
                issuer: self.config.issuer.clone(),
            },
        )
        .with_groups(groups)
        .with_claims(claims))
    }

    /// Verifies `token` at `now` and returns its claims, without mapping them to an identity.
    ///
    /// # Errors
    ///
    /// As for [`TokenVerifier::verify`], except the subject and groups checks.
    pub fn verify_claims(&self, token: &str, now: Timestamp) -> Result<Value, TokenError> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(TokenError::TooLarge {
                len: token.len(),
                limit: MAX_TOKEN_BYTES,
            });
        }
        let malformed = |reason: &str| TokenError::Malformed {
            reason: reason.to_owned(),
        };
        let mut parts = token.split('.');
        let (Some(h64), Some(p64), Some(s64), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(malformed("expected three dot-separated parts"));
        };
        let header = decode_json(h64).ok_or_else(|| malformed("header is not base64url JSON"))?;
        let Value::Object(header) = header else {
            return Err(malformed("header is not a JSON object"));
        };
        let alg_name = header
            .get("alg")
            .and_then(Value::as_str)
            .ok_or_else(|| malformed("header has no alg"))?;
        if alg_name.eq_ignore_ascii_case("none") {
            return Err(TokenError::AlgorithmNone);
        }
        let alg = TokenAlgorithm::from_name(alg_name)
            .filter(|a| self.config.algorithms.contains(a))
            .ok_or_else(|| TokenError::AlgorithmNotAllowed {
                alg: alg_name.to_owned(),
            })?;
        if header.contains_key("crit") {
            return Err(malformed("critical header extensions are not supported"));
        }
        let kid = match header.get("kid") {
            None => None,
            Some(Value::String(k)) => Some(k.clone()),
            Some(_) => return Err(malformed("kid is not a string")),
        };
        let key = self.key_for(kid.as_deref(), alg)?;
        // Signed message: the first two parts as sent (RFC 7515 section 5.2).
        let message_len = h64.len() + 1 + p64.len();
        let message = &token.as_bytes()[..message_len];
        // `key.alg == alg` was checked by key_for, so the key's family fits the algorithm
        // (jsonwebtoken panics when it does not).
        match jsonwebtoken::crypto::verify(s64, message, &key.key, alg.jwt()) {
            Ok(true) => {}
            Ok(false) | Err(_) => return Err(TokenError::BadSignature),
        }
        let claims = decode_json(p64).ok_or_else(|| malformed("payload is not base64url JSON"))?;
        if !claims.is_object() {
            return Err(malformed("payload is not a JSON object"));
        }
        self.check_claims(&claims, now)?;
        Ok(claims)
    }

    fn key_for(&self, kid: Option<&str>, alg: TokenAlgorithm) -> Result<&VerifyKey, TokenError> {
        match kid {
            Some(kid) => {
                let mut named = self.keys.iter().filter(|k| k.kid.as_deref() == Some(kid));
                let first = named.clone().next().ok_or_else(|| TokenError::UnknownKey {
                    kid: Some(kid.to_owned()),
                })?;
                named.find(|k| k.alg == alg).ok_or(TokenError::KeyMismatch {
                    kid: first.kid.clone(),
                    alg,
                })
            }
            None => {
                let mut fitting = self.keys.iter().filter(|k| k.alg == alg);
                match (fitting.next(), fitting.next()) {
                    (Some(k), None) => Ok(k),
                    _ => Err(TokenError::UnknownKey { kid: None }),
                }
            }
        }
    }

    fn check_claims(&self, claims: &Value, now: Timestamp) -> Result<(), TokenError> {
        let now_s = now.as_unix_secs();
        let leeway = i64::try_from(self.config.leeway.as_secs()).unwrap_or(i64::MAX);
        let exp = numeric_date(claims, "exp")?.ok_or_else(|| TokenError::BadClaim {
            claim: "exp".into(),
            reason: "required".into(),
        })?;
        if exp.saturating_add(leeway) <= now_s {
            return Err(TokenError::Expired { exp, now: now_s });
        }
        if let Some(nbf) = numeric_date(claims, "nbf")?
            && nbf.saturating_sub(leeway) > now_s
        {
            return Err(TokenError::NotYetValid { nbf, now: now_s });
        }
        let iss = claims.get("iss").and_then(Value::as_str);
        if iss != Some(self.config.issuer.as_str()) {
            return Err(TokenError::WrongIssuer {
                found: iss.map(str::to_owned),
            });
        }
        let found: Vec<String> = match claims.get("aud") {
            Some(Value::String(a)) => vec![a.clone()],
            Some(Value::Array(a)) => a
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect(),
            _ => Vec::new(),
        };
        if !found.iter().any(|a| self.config.audiences.contains(a)) {
            return Err(TokenError::WrongAudience { found });
        }
        Ok(())
    }
}

/// The key as a verify key, if it can verify one of `allowed`.
fn usable_key(jwk: &Jwk, allowed: &[TokenAlgorithm]) -> Option<VerifyKey> {
    if matches!(jwk.common.public_key_use, Some(PublicKeyUse::Encryption)) {
        return None;
    }
    let alg = match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => TokenAlgorithm::Rs256,
        AlgorithmParameters::EllipticCurve(p) if p.curve == EllipticCurve::P256 => {
            TokenAlgorithm::Es256
        }
        AlgorithmParameters::OctetKeyPair(p) if p.curve == EllipticCurve::Ed25519 => {
            TokenAlgorithm::EdDsa
        }
        _ => return None,
    };
    // A key that declares its algorithm is used for that algorithm only.
    let declared_ok = match jwk.common.key_algorithm {
        None => true,
        Some(KeyAlgorithm::RS256) => alg == TokenAlgorithm::Rs256,
        Some(KeyAlgorithm::ES256) => alg == TokenAlgorithm::Es256,
        Some(KeyAlgorithm::EdDSA) => alg == TokenAlgorithm::EdDsa,
        Some(_) => false,
    };
    if !declared_ok || !allowed.contains(&alg) {
        return None;
    }
    let key = DecodingKey::from_jwk(jwk).ok()?;
    Some(VerifyKey {
        kid: jwk.common.key_id.clone(),
        alg,
        key,
    })
}

fn decode_json(part: &str) -> Option<Value> {
    let bytes = URL_SAFE_NO_PAD.decode(part).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// A NumericDate claim (RFC 7519 section 2) as whole seconds, if present.
fn numeric_date(claims: &Value, name: &str) -> Result<Option<i64>, TokenError> {
    match claims.get(name) {
        None => Ok(None),
        Some(Value::Number(n)) => match n.as_i64() {
            Some(i) => Ok(Some(i)),
            // Fractional dates are allowed; truncation toward zero errs on the early side
            // for exp by less than a second.
            None => n
                .as_f64()
                .filter(|f| f.is_finite())
                .map(|f| Some(f as i64))
                .ok_or_else(|| TokenError::BadClaim {
                    claim: name.into(),
                    reason: "not a number".into(),
                }),
        },
        Some(_) => Err(TokenError::BadClaim {
            claim: name.into(),
            reason: "not a number".into(),
        }),
    }
}

/// A claim by top-level name, or else by dotted path into nested objects.
fn lookup<'a>(claims: &'a Value, path: &str) -> Option<&'a Value> {
    if let Some(v) = claims.get(path) {
        return Some(v);
    }
    let mut cur = claims;
    for part in path.split('.') {
        cur = cur.get(part)?;
    }
    Some(cur)
}

#[cfg(test)]
mod tests {
    use std::sync::OnceLock;

    use jsonwebtoken::{EncodingKey, Header};
    use ring::signature::{
        ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair as _,
    };
    use rsa::pkcs1::{EncodeRsaPrivateKey as _, EncodeRsaPublicKey as _};
    use rsa::traits::PublicKeyParts as _;
    use serde_json::json;

    use super::*;

    const ISS: &str = "https://idp.example";
    const AUD: &str = "guard";
    const NOW: i64 = 1_700_000_000;

    struct Keys {
        rsa: EncodingKey,
        rsa_public_der: Vec<u8>,
        ec: EncodingKey,
        ed: EncodingKey,
        jwks: String,
    }

    fn b64(bytes: &[u8]) -> String {
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// Keys generated once per test run (RSA generation is slow in debug builds).
    fn keys() -> &'static Keys {
        static KEYS: OnceLock<Keys> = OnceLock::new();
        KEYS.get_or_init(|| {
            let rsa = rsa::RsaPrivateKey::new(&mut rand::thread_rng(), 2048).unwrap();
            let rsa_der = rsa.to_pkcs1_der().unwrap();
            let public = rsa.to_public_key();
            let rng = ring::rand::SystemRandom::new();
            let ec_pkcs8 =
                EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
            let ec_pair =
                EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, ec_pkcs8.as_ref(), &rng)
                    .unwrap();
            let point = ec_pair.public_key().as_ref();
            let ed_pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng).unwrap();
            let ed_pair = Ed25519KeyPair::from_pkcs8(ed_pkcs8.as_ref()).unwrap();
            let jwks = json!({"keys": [
                {"kty": "RSA", "kid": "rsa1", "use": "sig", "alg": "RS256",
                 "n": b64(&public.n().to_bytes_be()), "e": b64(&public.e().to_bytes_be())},
                {"kty": "EC", "crv": "P-256", "kid": "ec1",
                 "x": b64(&point[1..33]), "y": b64(&point[33..65])},
                {"kty": "OKP", "crv": "Ed25519", "kid": "ed1",
                 "x": b64(ed_pair.public_key().as_ref())},
                {"kty": "oct", "kid": "hmac1", "k": b64(b"secret")},
                {"kty": "XYZ", "kid": "future-key-type"},
            ]});
            Keys {
                rsa: EncodingKey::from_rsa_der(rsa_der.as_bytes()),
                rsa_public_der: public.to_pkcs1_der().unwrap().as_bytes().to_vec(),
                ec: EncodingKey::from_ec_der(ec_pkcs8.as_ref()),
                ed: EncodingKey::from_ed_der(ed_pkcs8.as_ref()),
                jwks: jwks.to_string(),
            }
        })
    }

    fn verifier() -> TokenVerifier {
        let mut c = OidcConfig::new(ISS, AUD);
        c.groups_claim = "realm_access.roles".into();
        TokenVerifier::new(c, &keys().jwks).unwrap()
    }

    fn claims() -> Value {
        json!({"iss": ISS, "aud": [AUD, "other"], "sub": "alice", "exp": NOW + 300,
               "nbf": NOW - 10, "realm_access": {"roles": ["dba", "dev"]}})
    }

    fn sign(alg: Algorithm, kid: &str, claims: &Value) -> String {
        let mut h = Header::new(alg);
        h.kid = Some(kid.into());
        let key = match alg {
            Algorithm::RS256 => &keys().rsa,
            Algorithm::ES256 => &keys().ec,
            _ => &keys().ed,
        };
        jsonwebtoken::encode(&h, claims, key).unwrap()
    }

    fn check(token: &str) -> Result<Identity, TokenError> {
        verifier().verify(token, Timestamp::from_unix_secs(NOW))
    }

    #[test]
    fn valid_tokens_of_each_algorithm() {
        for (alg, kid) in [
            (Algorithm::RS256, "rsa1"),
            (Algorithm::ES256, "ec1"),
            (Algorithm::EdDSA, "ed1"),
        ] {
            let id = check(&sign(alg, kid, &claims())).unwrap();
            assert_eq!(id.subject, "alice");
            assert_eq!(id.groups, ["dba", "dev"]);
            assert_eq!(id.auth, AuthMethod::Oidc { issuer: ISS.into() });
            assert_eq!(id.claims["sub"], "alice");
        }
        // Without a kid, the single key that fits the algorithm is used.
        let mut h = Header::new(Algorithm::EdDSA);
        h.kid = None;
        let t = jsonwebtoken::encode(&h, &claims(), &keys().ed).unwrap();
        assert!(check(&t).is_ok());
        // A plain string audience and a top-level groups claim.
        let mut c = claims();
        c["aud"] = json!(AUD);
        c["groups"] = json!("ops");
        let v = TokenVerifier::new(OidcConfig::new(ISS, AUD), &keys().jwks).unwrap();
        let id = v.verify(
            &sign(Algorithm::ES256, "ec1", &c),
            Timestamp::from_unix_secs(NOW),
        );
        assert_eq!(id.unwrap().groups, ["ops"]);
    }

    #[test]
    fn expired_and_not_yet_valid() {
        let mut c = claims();
        c["exp"] = json!(NOW - 61);
        assert_eq!(
            check(&sign(Algorithm::RS256, "rsa1", &c)),
            Err(TokenError::Expired {
                exp: NOW - 61,
                now: NOW
            })
        );
        c["exp"] = json!(NOW - 59); // within the 60 s leeway
        assert!(check(&sign(Algorithm::RS256, "rsa1", &c)).is_ok());
        let mut c = claims();
        c["nbf"] = json!(NOW + 61);
        assert_eq!(
            check(&sign(Algorithm::ES256, "ec1", &c)),
            Err(TokenError::NotYetValid {
                nbf: NOW + 61,
                now: NOW
            })
        );
        let mut c = claims();
        c.as_object_mut().unwrap().remove("exp");
        assert!(matches!(
            check(&sign(Algorithm::EdDSA, "ed1", &c)),
            Err(TokenError::BadClaim { claim, .. }) if claim == "exp"
        ));
    }

    #[test]
    fn wrong_issuer_and_audience() {
        let mut c = claims();
        c["iss"] = json!("https://evil.example");
        assert_eq!(
            check(&sign(Algorithm::RS256, "rsa1", &c)),
            Err(TokenError::WrongIssuer {
                found: Some("https://evil.example".into())
            })
        );
        let mut c = claims();
        c["aud"] = json!(["someone-else"]);
        assert_eq!(
            check(&sign(Algorithm::RS256, "rsa1", &c)),
            Err(TokenError::WrongAudience {
                found: vec!["someone-else".into()]
            })
        );
    }

    #[test]
    fn alg_none_is_refused() {
        let h = b64(br#"{"alg":"none","typ":"JWT"}"#);
        let p = b64(claims().to_string().as_bytes());
        assert_eq!(check(&format!("{h}.{p}.")), Err(TokenError::AlgorithmNone));
        let h = b64(br#"{"alg":"NONE"}"#);
        assert_eq!(check(&format!("{h}.{p}.")), Err(TokenError::AlgorithmNone));
    }

    #[test]
    fn hs256_signed_with_the_public_key_is_refused() {
        let mut h = Header::new(Algorithm::HS256);
        h.kid = Some("rsa1".into());
        let key = EncodingKey::from_secret(&keys().rsa_public_der);
        let t = jsonwebtoken::encode(&h, &claims(), &key).unwrap();
        assert_eq!(
            check(&t),
            Err(TokenError::AlgorithmNotAllowed {
                alg: "HS256".into()
            })
        );
        // Even when the JWKS publishes a symmetric key, HS256 stays refused.
        let mut h = Header::new(Algorithm::HS256);
        h.kid = Some("hmac1".into());
        let t = jsonwebtoken::encode(&h, &claims(), &EncodingKey::from_secret(b"secret")).unwrap();
        assert_eq!(
            check(&t),
            Err(TokenError::AlgorithmNotAllowed {
                alg: "HS256".into()
            })
        );
    }

    #[test]
    fn unknown_kid_and_key_mismatch() {
        assert_eq!(
            check(&sign(Algorithm::RS256, "rotated-away", &claims())),
            Err(TokenError::UnknownKey {
                kid: Some("rotated-away".into())
            })
        );
        // An ES256 header naming the RSA key: refused before the signature code sees it.
        let t = sign(Algorithm::ES256, "ec1", &claims());
        let (_, rest) = t.split_once('.').unwrap();
        let h = b64(br#"{"alg":"ES256","kid":"rsa1"}"#);
        assert_eq!(
            check(&format!("{h}.{rest}")),
            Err(TokenError::KeyMismatch {
                kid: Some("rsa1".into()),
                alg: TokenAlgorithm::Es256
            })
        );
        let h = b64(br#"{"alg":"EdDSA","kid":"rsa1"}"#);
        assert!(matches!(
            check(&format!("{h}.{rest}")),
            Err(TokenError::KeyMismatch { .. })
        ));
    }

    #[test]
    fn tampered_payload_is_refused() {
        let t = sign(Algorithm::RS256, "rsa1", &claims());
        let parts: Vec<&str> = t.split('.').collect();
        let mut c = claims();
        c["sub"] = json!("admin");
        let forged = format!(
            "{}.{}.{}",
            parts[0],
            b64(c.to_string().as_bytes()),
            parts[2]
        );
        assert_eq!(check(&forged), Err(TokenError::BadSignature));
        // Another key's signature under this kid.
        let other = sign(Algorithm::ES256, "ec1", &claims());
        let sig = other.rsplit('.').next().unwrap();
        let t2 = sign(Algorithm::ES256, "ec1", &c);
        let (msg, _) = t2.rsplit_once('.').unwrap();
        assert_eq!(
            check(&format!("{msg}.{sig}")),
            Err(TokenError::BadSignature)
        );
    }

    #[test]
    fn malformed_and_oversized_tokens() {
        for bad in ["", "a.b", "a.b.c.d", "!!!.x.y", "e30.e30.", "bnVsbA.e30.x"] {
            assert!(
                matches!(check(bad), Err(TokenError::Malformed { .. })),
                "{bad}"
            );
        }
        let big = "a".repeat(MAX_TOKEN_BYTES + 1);
        assert!(matches!(check(&big), Err(TokenError::TooLarge { .. })));
        let h = b64(br#"{"alg":"RS256","kid":"rsa1","crit":["exp"]}"#);
        assert!(matches!(
            check(&format!("{h}.e30.x")),
            Err(TokenError::Malformed { .. })
        ));
        let e = check("").unwrap_err();
        assert_eq!((e.http_status(), e.sqlstate()), (401, "28000"));
    }

    #[test]
    fn verifier_setup_errors() {
        let c = OidcConfig::new(ISS, AUD);
        assert!(matches!(
            TokenVerifier::new(c.clone(), "{"),
            Err(VerifierError::Malformed { .. })
        ));
        assert!(matches!(
            TokenVerifier::new(c.clone(), r#"{"keys": []}"#),
            Err(VerifierError::NoUsableKeys { .. })
        ));
        assert!(matches!(
            TokenVerifier::new(c.clone(), r#"{"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}"#),
            Err(VerifierError::NoUsableKeys { .. })
        ));
        let mut only_rsa = c.clone();
        only_rsa.algorithms = vec![TokenAlgorithm::Rs256];
        let v = TokenVerifier::new(only_rsa, &keys().jwks).unwrap();
        let t = sign(Algorithm::EdDSA, "ed1", &claims());
        assert_eq!(
            v.verify(&t, Timestamp::from_unix_secs(NOW)),
            Err(TokenError::AlgorithmNotAllowed {
                alg: "EdDSA".into()
            })
        );
        let mut no_aud = c;
        no_aud.audiences.clear();
        assert!(matches!(
            TokenVerifier::new(no_aud, &keys().jwks),
            Err(VerifierError::Config { .. })
        ));
    }

    #[test]
    fn bad_subject_or_groups_claims() {
        let mut c = claims();
        c["realm_access"]["roles"] = json!([1, 2]);
        assert!(matches!(
            check(&sign(Algorithm::RS256, "rsa1", &c)),
            Err(TokenError::BadClaim { .. })
        ));
        let mut c = claims();
        c.as_object_mut().unwrap().remove("sub");
        assert!(matches!(
            check(&sign(Algorithm::RS256, "rsa1", &c)),
            Err(TokenError::BadClaim { claim, .. }) if claim == "sub"
        ));
    }

    #[test]
    fn oidc_types_are_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<TokenVerifier>();
        check::<OidcConfig>();
        check::<TokenError>();
        check::<VerifierError>();
    }
}
