//! Arbitrary token strings against a fixed JWKS never panic and never verify (nobody here
//! holds the private keys).
#![no_main]

use guard_core::Timestamp;
use guard_core::oidc::{OidcConfig, TokenVerifier};
use libfuzzer_sys::{Corpus, fuzz_target};

/// Public keys only: RSA and P-256 from RFC 7517 appendix A.1, Ed25519 from RFC 8037.
const JWKS: &str = r#"{"keys": [
  {"kty": "RSA", "kid": "rsa1", "e": "AQAB",
   "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"},
  {"kty": "EC", "crv": "P-256", "kid": "ec1",
   "x": "MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4",
   "y": "4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM"},
  {"kty": "OKP", "crv": "Ed25519", "kid": "ed1",
   "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}
]}"#;

fuzz_target!(|data: &[u8]| -> Corpus {
    let Ok(token) = std::str::from_utf8(data) else {
        return Corpus::Reject;
    };
    let verifier = TokenVerifier::new(OidcConfig::new("https://idp.example", "guard"), JWKS)
        .expect("the fixed JWKS is valid");
    let result = verifier.verify(token, Timestamp::from_unix_secs(1_700_000_000));
    assert!(
        result.is_err(),
        "a token verified without a private key: {token:?}"
    );
    Corpus::Keep
});
