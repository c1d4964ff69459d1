//! Who is connecting: OIDC bearer tokens verified with guard-core, static users.

use anyhow::{Result, bail};
use guard_core::Identity;
use guard_core::oidc::{OidcConfig, TokenVerifier};

use crate::config::Config;
use crate::gateway::{Shared, now_ts};

/// Builds a verifier per configured issuer (reading its JWKS file).
pub(crate) fn load_verifiers(config: &Config) -> Result<Vec<TokenVerifier>> {
    let mut out = Vec::new();
    for o in &config.identity.oidc {
        let path = config.path(&o.jwks_file);
        let jwks = std::fs::read_to_string(&path)
            .map_err(|e| anyhow::anyhow!("reading JWKS {}: {e}", path.display()))?;
        let mut c = OidcConfig::new(o.issuer.clone(), o.audience.clone());
        c.groups_claim.clone_from(&o.groups_claim);
        c.subject_claim.clone_from(&o.subject_claim);
        let v = TokenVerifier::new(c, &jwks)
            .map_err(|e| anyhow::anyhow!("issuer {}: {e}", o.issuer))?;
        out.push(v);
    }
    Ok(out)
}

/// Verifies a bearer token against every configured issuer.
///
/// # Errors
/// No issuer accepts it (the error of the last one tried, or "no OIDC issuer configured").
pub(crate) fn verify_token(shared: &Shared, token: &str) -> Result<Identity> {
    let rt = shared.runtime();
    let now = now_ts();
    let mut last = None;
    for v in &rt.verifiers {
        match v.verify(token.trim(), now) {
            Ok(id) => return Ok(id),
            Err(e) => last = Some(e),
        }
    }
    match last {
        Some(e) => bail!("token refused: {e}"),
        None => bail!("no OIDC issuer is configured, and the user is not a static user"),
    }
}

/// Authenticates an admin API caller: a bearer token (OIDC) or HTTP Basic credentials of a
/// static user.
///
/// # Errors
/// Neither is valid.
pub(crate) fn authenticate_http(shared: &Shared, authorization: &str) -> Result<Identity> {
    if let Some(token) = authorization.strip_prefix("Bearer ") {
        return verify_token(shared, token);
    }
    if let Some(b64) = authorization.strip_prefix("Basic ") {
        use base64::Engine as _;
        let raw = base64::engine::general_purpose::STANDARD.decode(b64.trim())?;
        let raw = String::from_utf8(raw)?;
        let Some((user, password)) = raw.split_once(':') else {
            bail!("malformed Basic credentials")
        };
        let rt = shared.runtime();
        if let Some(u) = rt.users.get(user)
            && u.secret.verify_password(password.as_bytes())
        {
            return Ok(
                Identity::new(user, guard_core::AuthMethod::Password).with_groups(u.groups.clone())
            );
        }
        bail!("invalid user or password");
    }
    bail!("expected an Authorization header with a Bearer token or Basic credentials")
}
