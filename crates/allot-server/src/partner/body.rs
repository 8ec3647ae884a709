//! Reading Partner Center request bodies: property names match case-insensitively (the .NET SDK
//! sends PascalCase, others camelCase), and null, an empty array and an absent property all mean
//! "not supplied" (spec §4).

use axum::extract::{FromRequest, Request};
use serde_json::{Map, Value};

use super::error::PcError;
use crate::state::AppState;

/// A JSON object body (`application/json`).
#[derive(Debug, Clone)]
pub struct PcJson(pub Map<String, Value>);

impl FromRequest<AppState> for PcJson {
    type Rejection = PcError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        // JSON only (the SDKs send `application/json`, with or without a charset).
        let content_type = req
            .headers()
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let mime = content_type.split(';').next().unwrap_or("").trim();
        if !mime.eq_ignore_ascii_case("application/json") {
            return Err(PcError::new(
                axum::http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
                800_002,
                format!("The content type '{content_type}' is not supported: send application/json."),
            ));
        }
        let limit = state.config.max_body_bytes;
        let bytes = axum::body::to_bytes(req.into_body(), limit).await.map_err(|_| {
            PcError::new(
                axum::http::StatusCode::PAYLOAD_TOO_LARGE,
                800_002,
                format!("The request body exceeds the limit of {limit} bytes."),
            )
        })?;
        match serde_json::from_slice::<Value>(&bytes) {
            // Names match in any case, so one name twice is ambiguous: refused, not guessed.
            Ok(v) if let Some(k) = twice_named(&v) => Err(PcError::bad_input(format!(
                "The property '{k}' is given twice (property names are case-insensitive)."
            ))),
            // Text no backend can store is refused before anything reads the body.
            Ok(v) if let Some(path) = allot_core::text::unstorable_in(&v) => {
                Err(PcError::bad_input(format!(
                    "The property '{}' cannot contain the NUL character.",
                    path.join(".")
                )))
            }
            Ok(Value::Object(map)) => Ok(Self(map)),
            Ok(_) => Err(PcError::bad_input("The request body must be a JSON object.")),
            Err(e) => Err(PcError::bad_input(format!(
                "The request body is not valid JSON: {e}."
            ))),
        }
    }
}

/// Entra's length limit of a Partner Center property (any case of its name).
fn max_len(name: &str) -> Option<usize> {
    [
        "displayName",
        "password",
        "firstName",
        "lastName",
        "userPrincipalName",
        "immutableId",
        "phoneNumber",
    ]
    .into_iter()
    .find(|p| p.eq_ignore_ascii_case(name))
    .and_then(allot_core::text::max_len)
}

/// The first object key (at any depth) that another key of the same object repeats up to ASCII
/// case: `{"displayName": …, "DisplayName": …}` names one property twice.
fn twice_named(v: &Value) -> Option<String> {
    match v {
        Value::Object(m) => {
            let keys: Vec<&String> = m.keys().collect();
            keys.iter()
                .enumerate()
                .find(|(i, k)| keys[i + 1..].iter().any(|o| o.eq_ignore_ascii_case(k)))
                .map(|(_, k)| (*k).clone())
                .or_else(|| m.values().find_map(twice_named))
        }
        Value::Array(a) => a.iter().find_map(twice_named),
        _ => None,
    }
}

/// The value of property `name` (any case), unless it is null or an empty array.
#[must_use]
pub fn get<'a>(obj: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    obj.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
        .filter(|v| match v {
            Value::Null => false,
            Value::Array(a) => !a.is_empty(),
            _ => true,
        })
}

/// A string property; a value of another type is invalid input.
pub fn string(obj: &Map<String, Value>, name: &str) -> Result<Option<String>, PcError> {
    match get(obj, name) {
        None => Ok(None),
        Some(Value::String(s)) if !allot_core::text::storable(s) => Err(PcError::bad_input(format!(
            "The property '{name}' cannot contain the NUL character."
        ))),
        Some(Value::String(s)) if max_len(name).is_some_and(|max| s.chars().count() > max) => {
            Err(PcError::bad_input(format!(
                "The property '{name}' is longer than {} characters.",
                max_len(name).unwrap_or_default()
            )))
        }
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(PcError::bad_input(format!(
            "The property '{name}' must be a string."
        ))),
    }
}

/// A boolean property; a value of another type (`"yes"`, `1`) is invalid input.
pub fn boolean(obj: &Map<String, Value>, name: &str) -> Result<Option<bool>, PcError> {
    match get(obj, name) {
        None => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(_) => Err(PcError::bad_input(format!(
            "The property '{name}' must be true or false."
        ))),
    }
}

/// An object property.
pub fn object<'a>(
    obj: &'a Map<String, Value>,
    name: &str,
) -> Result<Option<&'a Map<String, Value>>, PcError> {
    match get(obj, name) {
        None => Ok(None),
        Some(Value::Object(m)) => Ok(Some(m)),
        Some(_) => Err(PcError::bad_input(format!(
            "The property '{name}' must be an object."
        ))),
    }
}

/// An array property (empty when not supplied).
pub fn array<'a>(obj: &'a Map<String, Value>, name: &str) -> Result<&'a [Value], PcError> {
    match get(obj, name) {
        None => Ok(&[]),
        Some(Value::Array(a)) => Ok(a),
        Some(_) => Err(PcError::bad_input(format!(
            "The property '{name}' must be an array."
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names_match_in_any_case_and_nulls_and_empty_arrays_are_absent() {
        let v = json!({"LicensesToAssign": [{"SkuId": "x"}], "LicensesToRemove": null, "ExcludedPlans": []});
        let m = v.as_object().unwrap();
        assert_eq!(array(m, "licensesToAssign").unwrap().len(), 1);
        assert!(get(m, "licensestoremove").is_none());
        assert!(array(m, "excludedPlans").unwrap().is_empty());
        assert!(string(m, "LicensesToAssign").is_err());
    }
}
