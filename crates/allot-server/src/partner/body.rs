//! Reading Partner Center request bodies: property names match case-insensitively (the .NET SDK
//! sends PascalCase, others camelCase), and null, an empty array and an absent property all mean
//! "not supplied" (spec §4).

use axum::extract::{FromRequest, Request};
use serde_json::{Map, Value};

use super::error::PcError;
use crate::state::AppState;

/// A JSON object body (any content type: clients differ in what they send).
#[derive(Debug, Clone)]
pub struct PcJson(pub Map<String, Value>);

impl FromRequest<AppState> for PcJson {
    type Rejection = PcError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let limit = state.config.max_body_bytes;
        let bytes = axum::body::to_bytes(req.into_body(), limit).await.map_err(|_| {
            PcError::new(
                axum::http::StatusCode::PAYLOAD_TOO_LARGE,
                800_002,
                format!("The request body exceeds the limit of {limit} bytes."),
            )
        })?;
        match serde_json::from_slice::<Value>(&bytes) {
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
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(PcError::bad_input(format!(
            "The property '{name}' must be a string."
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
