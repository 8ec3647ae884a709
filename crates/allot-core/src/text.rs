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

/// The longest value Entra stores for a directory property (characters), by its Graph name;
/// `None` for properties without a limit of their own (the body size bounds them).
#[must_use]
pub fn max_len(property: &str) -> Option<usize> {
    Some(match property {
        "displayName" | "password" | "mail" | "immutableId" => 256,
        "givenName" | "surname" | "mailNickname" | "phoneNumber" | "firstName" | "lastName" => 64,
        "jobTitle" => 128,
        "userPrincipalName" => UPN_MAX,
        "description" => 1024,
        _ => return None,
    })
}

/// A user principal name's length limit (64 characters before the `@`, 113 in all).
pub const UPN_MAX: usize = 113;
const UPN_LOCAL_MAX: usize = 64;

/// Whether `local` (the part of a UPN before the `@`) uses only what Entra allows there:
/// ASCII letters and digits and `' . - _ ! # ^ ~`, 1 to 64 of them, not starting or ending with
/// a dot. No spaces, no other Unicode (bidirectional overrides included).
#[must_use]
pub fn upn_local_part_ok(local: &str) -> bool {
    (1..=UPN_LOCAL_MAX).contains(&local.len())
        && !local.starts_with('.')
        && !local.ends_with('.')
        && local
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "'.-_!#^~".contains(c))
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

    #[test]
    fn upn_local_parts_and_lengths_follow_entra() {
        assert!(upn_local_part_ok("ann.o'neil_2-x"));
        for bad in [
            "",
            ".ann",
            "ann.",
            "an n",
            "ann\u{202e}gpj",
            "änn",
            &"a".repeat(65),
        ] {
            assert!(!upn_local_part_ok(bad), "{bad:?}");
        }
        assert_eq!(max_len("displayName"), Some(256));
        assert_eq!(max_len("usageLocation"), None);
    }
}
