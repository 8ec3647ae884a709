//! One rule for text on both backends: PostgreSQL cannot store the NUL character in `text`
//! (`invalid byte sequence for encoding "UTF8": 0x00`) while SQLite keeps it, so a string holding
//! one would be a 500 on one backend and a stored value on the other. No string Allot accepts may
//! hold one: every surface refuses it with its own 400 before any SQL runs (Rust strings cannot
//! hold the other text PostgreSQL refuses, lone surrogates).

use serde_json::Value;

/// Whether `s` can be stored on every backend.
#[must_use]
pub fn storable(s: &str) -> bool {
    !s.contains('\0')
}

/// The first place in a JSON document (keys included) holding text that cannot be stored: the
/// path of object keys and array indexes down to it (`["passwordProfile", "password"]`).
#[must_use]
pub fn unstorable_in(v: &Value) -> Option<Vec<String>> {
    match v {
        Value::String(s) => (!storable(s)).then(Vec::new),
        Value::Array(items) => items.iter().enumerate().find_map(|(i, x)| {
            unstorable_in(x).map(|mut p| {
                p.insert(0, i.to_string());
                p
            })
        }),
        Value::Object(m) => m.iter().find_map(|(k, x)| {
            if storable(k) {
                unstorable_in(x).map(|mut p| {
                    p.insert(0, k.clone());
                    p
                })
            } else {
                Some(vec![k.replace('\0', "\\u0000")])
            }
        }),
        Value::Null | Value::Bool(_) | Value::Number(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn nul_anywhere_is_found_with_its_path() {
        assert!(storable("Ada Lovelace – ✓"));
        assert!(!storable("a\0b"));
        assert_eq!(unstorable_in(&json!({"a": [1, "x", {"b": "ok"}]})), None);
        assert_eq!(
            unstorable_in(&json!({"a": [1, "x", {"b": "o\u{0}k"}]})),
            Some(vec!["a".into(), "2".into(), "b".into()])
        );
        assert_eq!(
            unstorable_in(&json!({"k\u{0}": 1})),
            Some(vec!["k\\u0000".into()])
        );
    }
}
