//! Reading Graph request bodies field by field: absent, null and a value are three different
//! things (PATCH writes only what was sent), and a value of the wrong type is a 400 in OData's
//! words rather than a generic parse error.

use serde_json::{Map, Value};

use super::error::{GraphError, GraphResult};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Field<T> {
    Absent,
    Null,
    Value(T),
}

impl<T> Field<T> {
    pub fn into_option(self) -> Option<T> {
        match self {
            Self::Value(v) => Some(v),
            Self::Absent | Self::Null => None,
        }
    }

    #[must_use]
    pub const fn is_absent(&self) -> bool {
        matches!(self, Self::Absent)
    }
}

fn literal(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

pub fn string(body: &Map<String, Value>, name: &str) -> GraphResult<Field<String>> {
    match body.get(name) {
        None => Ok(Field::Absent),
        Some(Value::Null) => Ok(Field::Null),
        // NUL cannot be stored by PostgreSQL and is never meaningful in a directory string;
        // longer than Entra stores is refused as Entra does.
        Some(Value::String(s))
            if !allot_core::text::storable(s)
                || allot_core::text::max_len(name).is_some_and(|max| s.chars().count() > max) =>
        {
            Err(invalid_value(name, "object"))
        }
        Some(Value::String(s)) => Ok(Field::Value(s.clone())),
        Some(other) => Err(GraphError::bad_request(format!(
            "Cannot convert the literal '{}' to the expected type 'Edm.String'.",
            literal(other)
        ))),
    }
}

pub fn boolean(body: &Map<String, Value>, name: &str) -> GraphResult<Field<bool>> {
    match body.get(name) {
        None => Ok(Field::Absent),
        Some(Value::Null) => Ok(Field::Null),
        Some(Value::Bool(b)) => Ok(Field::Value(*b)),
        Some(other) => Err(GraphError::bad_request(format!(
            "Cannot convert the literal '{}' to the expected type 'Edm.Boolean'.",
            literal(other)
        ))),
    }
}

/// Refuses properties that are not in `writable`: read-only ones by name, unknown ones as
/// undeclared. `@odata.*` annotations and `*@odata.bind` are left to the caller.
pub fn only_writable(
    body: &Map<String, Value>,
    writable: &[&str],
    known: &[&str],
    resource: &str,
) -> GraphResult<()> {
    for key in body.keys() {
        if key.starts_with("@odata.") || key.ends_with("@odata.bind") || writable.contains(&key.as_str()) {
            continue;
        }
        if known.iter().any(|k| k == key) {
            return Err(GraphError::bad_request(format!(
                "Property '{key}' is read-only and cannot be set on resource '{resource}'."
            )));
        }
        return Err(GraphError::property_not_declared(key));
    }
    Ok(())
}

pub fn invalid_value(property: &str, resource: &str) -> GraphError {
    GraphError::bad_request(format!(
        "Invalid value specified for property '{property}' of resource '{resource}'."
    ))
}

pub fn required(property: &str, resource: &str) -> GraphError {
    GraphError::bad_request(format!(
        "Property '{property}' is required when creating a '{resource}' but is missing or null."
    ))
}

/// The GUID at the end of a `directoryObjects/{id}` (or `users/{id}`, `groups/{id}`) URL.
pub fn bind_target(url: &str) -> Option<uuid::Uuid> {
    let last = url.trim_end_matches('/').rsplit('/').next()?;
    let last = last.strip_prefix("$ref").map_or(last, |_| "");
    allot_core::ids::parse_guid(last).ok()
}
