//! Allot's storage: one sqlx pool per backend (SQLite embedded, PostgreSQL for scale-out), the two
//! migration sets, and every query, written once in the SQL both engines share.

pub mod audit;
mod batch;
pub mod bulk;
pub mod check;
pub mod cloud_licensing;
pub mod cloud_views;
pub mod db;
pub mod dbid;
pub mod error;
pub mod group_licensing;
mod ledger;
pub mod records;
pub mod seed;
mod sql;
pub mod store;
#[doc(hidden)]
pub mod testkit;
pub mod writer;

pub use db::{Backend, Db};
pub use error::StoreError;
pub use store::Store;

/// The current time at the precision both backends store (microseconds), so that a record read
/// back compares equal to the one written.
#[must_use]
pub fn now() -> chrono::DateTime<chrono::Utc> {
    use chrono::{DurationRound, TimeDelta};
    let t = chrono::Utc::now();
    t.duration_trunc(TimeDelta::microseconds(1)).unwrap_or(t)
}
