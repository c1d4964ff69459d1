//! A throwaway token issuer for the demo and the tests: an Ed25519 key, its JWKS, and signed
//! JWTs (EdDSA). Production deployments use their identity provider instead.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use ed25519_dalek::{Signer as _, SigningKey};

/// An issuer with one signing key.
pub struct DemoIssuer {
    key: SigningKey,
    /// The `iss` claim.
    pub issuer: String,
    /// The `aud` claim.
    pub audience: String,
    kid: String,
}

impl std::fmt::Debug for DemoIssuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DemoIssuer")
            .field("issuer", &self.issuer)
            .finish_non_exhaustive()
    }
}

impl DemoIssuer {
    /// A fresh random key.
    pub fn generate(issuer: &str, audience: &str) -> Self {
        let key = SigningKey::generate(&mut rand::rngs::OsRng);
        DemoIssuer {
            key,
            issuer: issuer.to_owned(),
            audience: audience.to_owned(),
            kid: crate::pgcluster::random_token(8),
        }
    }

    /// The JWKS document holding the public key.
    pub fn jwks(&self) -> String {
        let x = B64.encode(self.key.verifying_key().as_bytes());
        serde_json::json!({"keys": [{
            "kty": "OKP", "crv": "Ed25519", "alg": "EdDSA", "use": "sig", "kid": self.kid, "x": x
        }]})
        .to_string()
    }

    /// A token for `subject` in `groups`, valid for `ttl` from now.
    pub fn mint(&self, subject: &str, groups: &[&str], ttl: Duration) -> String {
        let now = crate::gateway::now_us() / 1_000_000;
        let exp = now + i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX / 2);
        self.mint_claims(subject, groups, now - 5, exp)
    }

    /// A token with explicit `iat` and `exp` (seconds since the epoch), for tests of expiry.
    pub fn mint_claims(&self, subject: &str, groups: &[&str], iat: i64, exp: i64) -> String {
        let header = serde_json::json!({"alg": "EdDSA", "typ": "JWT", "kid": self.kid});
        let claims = serde_json::json!({
            "iss": self.issuer, "aud": self.audience, "sub": subject, "groups": groups,
            "iat": iat, "nbf": iat, "exp": exp,
        });
        let signing_input = format!(
            "{}.{}",
            B64.encode(header.to_string().as_bytes()),
            B64.encode(claims.to_string().as_bytes())
        );
        let sig = self.key.sign(signing_input.as_bytes());
        format!("{signing_input}.{}", B64.encode(sig.to_bytes()))
    }
}
