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

/// The change mark a write stamps on the rows it changes, for delta queries (migration 0011):
/// SQLite's current change epoch, PostgreSQL's transaction id.
pub(crate) const fn change_mark(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => "(SELECT mark FROM change_counter)",
        Backend::Postgres => "CAST(CAST(pg_current_xact_id() AS text) AS BIGINT)",
    }
}

/// The statement starting a delta round: its watermark, the least mark anything committed after
/// it can carry, and the marks of the writers still running (committed later, so not seen yet).
/// SQLite moves the change epoch on (a write, serialized with every other: nothing is running);
/// PostgreSQL reads its snapshot (`xmax` and the in-progress transaction ids).
pub(crate) const fn change_watermark(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => "UPDATE change_counter SET mark = mark + 1 RETURNING mark, ''",
        Backend::Postgres => {
            "SELECT CAST(CAST(pg_snapshot_xmax(s) AS text) AS BIGINT), \
             COALESCE((SELECT string_agg(CAST(x AS text), ',') FROM pg_snapshot_xip(s) AS x), '') \
             FROM (SELECT pg_current_snapshot() AS s) AS snap"
        }
    }
}

/// The OData dialect of `backend`.
pub(crate) const fn dialect(backend: Backend) -> allot_odata::schema::Dialect {
    match backend {
        Backend::Sqlite => allot_odata::schema::Dialect::Sqlite,
        Backend::Postgres => allot_odata::schema::Dialect::Postgres,
    }
}

/// ` AND (<filter>)` for a validated OData condition, its parameters numbered from `$first`
/// (empty when there is no filter), and the number of the next free parameter.
pub(crate) fn odata_where(
    backend: Backend,
    filter: Option<&allot_odata::validate::Cond>,
    first: usize,
) -> (String, Vec<allot_odata::validate::Param>, usize) {
    match filter {
        None => (String::new(), Vec::new(), first),
        Some(c) => {
            let f = allot_odata::sql::to_sql(c, dialect(backend), first);
            let next = first + f.params.len();
            (format!(" AND ({})", f.sql), f.params, next)
        }
    }
}

/// Binds OData parameters to a query in order: UUIDs as [`crate::dbid::DbId`] (TEXT on SQLite,
/// `uuid` on PostgreSQL), the rest as themselves.
#[macro_export]
macro_rules! bind_odata {
    ($q:expr, $params:expr) => {{
        let mut q = $q;
        for p in $params {
            q = match p {
                allot_odata::validate::Param::Uuid(u) => q.bind($crate::dbid::DbId(*u)),
                allot_odata::validate::Param::Text(s) => q.bind(s.clone()),
                allot_odata::validate::Param::Int(i) => q.bind(*i),
                allot_odata::validate::Param::Bool(b) => q.bind(*b),
                allot_odata::validate::Param::DateTime(t) => q.bind(*t),
            };
        }
        q
    }};
}

/// The SKU ids a users `$filter` requires a user to hold: `assignedLicenses/any(x: x/skuId eq …)`
/// (or `in (…)`) as the whole filter or one side of an `and`. A page of such a filter can be
/// driven from the license index when few users hold them.
pub(crate) fn required_skus(c: &allot_odata::validate::Cond) -> Option<Vec<Uuid>> {
    use allot_odata::validate::Cond;
    match c {
        Cond::And(a, b) => required_skus(a).or_else(|| required_skus(b)),
        other => other.any_guid_in(&allot_odata::schema::USER_ASSIGNED_LICENSES),
    }
}
