//! The few SQL fragments that differ between the engines. Sets of values travel as one JSON
//! parameter expanded by the database (`json_each` on SQLite, `jsonb_array_elements` on
//! PostgreSQL): sqlx's SQLite driver resolves `$N` names with a linear scan per parameter, so a
//! statement with a thousand parameters costs a million string compares, and a JSON array does
//! not.

use chrono::{DateTime, SecondsFormat, Utc};
use uuid::Uuid;

use crate::db::Backend;

/// A subquery yielding the ids in the JSON array bound at `$n`.
pub(crate) fn ids_in(backend: Backend, n: usize) -> String {
    match backend {
        Backend::Sqlite => format!("(SELECT value FROM json_each(${n}))"),
        Backend::Postgres => format!("(SELECT CAST(jsonb_array_elements_text(CAST(${n} AS jsonb)) AS uuid))"),
    }
}

/// The JSON array of `ids` for [`ids_in`].
pub(crate) fn ids_json(ids: impl IntoIterator<Item = Uuid>) -> String {
    let list: Vec<String> = ids.into_iter().map(|u| u.hyphenated().to_string()).collect();
    serde_json::to_string(&list).unwrap_or_else(|_| "[]".to_owned())
}

/// `FROM` clause over the JSON array of objects bound at `$n`, and the expression reading field
/// `key` of one element as `ty` (`uuid`, `text`, `bigint`, `boolean`, `timestamptz`).
pub(crate) fn json_rows(backend: Backend, n: usize) -> String {
    match backend {
        Backend::Sqlite => format!("json_each(${n})"),
        Backend::Postgres => format!("jsonb_array_elements(CAST(${n} AS jsonb)) AS value"),
    }
}

pub(crate) fn json_field(backend: Backend, key: &str, ty: &str) -> String {
    match backend {
        Backend::Sqlite => format!("json_extract(value, '$.{key}')"),
        Backend::Postgres => match ty {
            "text" => format!("(value->>'{key}')"),
            other => format!("CAST(value->>'{key}' AS {other})"),
        },
    }
}

/// A timestamp in the text form sqlx writes to SQLite (and PostgreSQL parses).
pub(crate) fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, false)
}

/// `FROM` clause over the JSON array of scalars bound at `$n` (read with [`json_value`]).
pub(crate) fn json_scalars(backend: Backend, n: usize) -> String {
    match backend {
        Backend::Sqlite => format!("json_each(${n})"),
        Backend::Postgres => format!("jsonb_array_elements_text(CAST(${n} AS jsonb)) AS value"),
    }
}

/// One element of [`json_scalars`] as `ty`.
pub(crate) fn json_value(backend: Backend, ty: &str) -> String {
    match backend {
        Backend::Sqlite => "value".to_owned(),
        Backend::Postgres => format!("CAST(value AS {ty})"),
    }
}

/// Parameter `$n` (bound as text) as `ty`.
pub(crate) fn cast_param(backend: Backend, n: usize, ty: &str) -> String {
    match backend {
        Backend::Sqlite => format!("${n}"),
        Backend::Postgres => format!("CAST(${n} AS {ty})"),
    }
}
