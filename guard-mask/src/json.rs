//! JSON-aware masking (feature `json`): rules by key path, detectors over every other string.

use serde_json::Value;

use crate::Masker;
use crate::strategy::Strategy;

/// Error for [`Masker::mask_json_bytes`]: the input was not JSON (the upstream's fault; a
/// gateway answers 502 Bad Gateway, or passes the body through the text masker instead).
#[derive(Debug, thiserror::Error)]
#[error("response body is not valid JSON (upstream's fault, HTTP 502): {source}")]
pub struct JsonError {
    #[source]
    source: serde_json::Error,
}

impl Masker {
    /// Masks a JSON document in place: a value whose key path matches one of the profile's
    /// JSON rules is replaced whole (strings by the strategy's output, other values by the
    /// strategy applied to their JSON text, `null` for [`Strategy::Null`]); every other string
    /// goes through the detectors like [`Masker::mask_value`].
    pub fn mask_json(&self, doc: &mut Value) {
        let mut path: Vec<String> = Vec::new();
        self.walk(doc, &mut path);
    }

    /// Parses, masks ([`Masker::mask_json`]) and re-serializes a JSON document.
    ///
    /// # Errors
    /// [`JsonError`] when `input` is not JSON.
    pub fn mask_json_bytes(&self, input: &[u8]) -> Result<Vec<u8>, JsonError> {
        let mut v: Value = serde_json::from_slice(input).map_err(|source| JsonError { source })?;
        self.mask_json(&mut v);
        serde_json::to_vec(&v).map_err(|source| JsonError { source })
    }

    fn walk(&self, v: &mut Value, path: &mut Vec<String>) {
        if !path.is_empty()
            && let Some(rule) = self.json_rules().iter().find(|r| r.matches(path))
        {
            *v = self.whole(&rule.strategy, v);
            return;
        }
        match v {
            Value::String(s) => {
                if let std::borrow::Cow::Owned(m) = self.mask_value(s.as_bytes()) {
                    *s = String::from_utf8_lossy(&m).into_owned();
                }
            }
            Value::Array(items) => {
                for (i, item) in items.iter_mut().enumerate() {
                    path.push(i.to_string());
                    self.walk(item, path);
                    path.pop();
                }
            }
            Value::Object(map) => {
                for (k, item) in map.iter_mut() {
                    path.push(k.clone());
                    self.walk(item, path);
                    path.pop();
                }
            }
            Value::Null | Value::Bool(_) | Value::Number(_) => {}
        }
    }

    fn whole(&self, strategy: &Strategy, v: &Value) -> Value {
        if strategy.is_null() {
            return Value::Null;
        }
        let text = match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        let out = self.apply_strategy(strategy, text.as_bytes());
        Value::String(String::from_utf8_lossy(&out).into_owned())
    }
}

#[cfg(test)]
mod tests {
    use crate::{JsonRule, Masker, Strategy};

    #[test]
    fn kubernetes_secret() {
        let m = Masker::builder()
            .json_rule(JsonRule::new("data.*", Strategy::redact()))
            .build()
            .unwrap();
        let doc = br#"{"kind":"Secret","data":{"password":"aHVudGVyMg==","n":1},"metadata":{"annotations":{"owner":"alice@example.com"}}}"#;
        let out = String::from_utf8(m.mask_json_bytes(doc).unwrap()).unwrap();
        assert!(out.contains(r#""password":"[REDACTED]""#), "{out}");
        assert!(out.contains(r#""n":"[REDACTED]""#), "{out}");
        assert!(out.contains(r#""owner":"[EMAIL]""#), "{out}");
        assert!(out.contains(r#""kind":"Secret""#));
        assert!(m.mask_json_bytes(b"{nope").is_err());
    }
}
