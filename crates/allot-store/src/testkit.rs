//! Fresh databases for tests on either backend: a temporary SQLite file, or a new schema in the
//! PostgreSQL database named by `ALLOT_TEST_PG_URL`. PostgreSQL tests skip when that variable is
//! unset, unless `ALLOT_REQUIRE_PG=1`, when they fail instead (CI sets both).

use std::path::PathBuf;

use sqlx::Connection;

use crate::db::Backend;
use crate::error::StoreError;
use crate::store::Store;

pub struct TestDb {
    pub url: String,
    pub store: Store,
    cleanup: Cleanup,
}

enum Cleanup {
    Dir(PathBuf),
    Schema { admin_url: String, schema: String },
}

/// The PostgreSQL URL for tests, or `None` to skip them (panics when they are required).
#[must_use]
pub fn pg_url() -> Option<String> {
    match std::env::var("ALLOT_TEST_PG_URL") {
        Ok(u) if !u.is_empty() => Some(u),
        _ => {
            assert!(
                std::env::var("ALLOT_REQUIRE_PG").as_deref() != Ok("1"),
                "ALLOT_REQUIRE_PG=1 but ALLOT_TEST_PG_URL is not set: the PostgreSQL tests would not run"
            );
            None
        }
    }
}

impl TestDb {
    /// A migrated, empty database; `None` when the backend is PostgreSQL and it is not configured.
    pub async fn fresh(backend: Backend) -> Result<Option<Self>, StoreError> {
        let id = uuid::Uuid::new_v4().simple().to_string();
        let (url, cleanup) = match backend {
            Backend::Sqlite => {
                let dir = std::env::temp_dir().join(format!("allot-test-{id}"));
                std::fs::create_dir_all(&dir).map_err(|e| StoreError::Config(e.to_string()))?;
                (
                    format!("sqlite://{}", dir.join("allot.db").display()),
                    Cleanup::Dir(dir),
                )
            }
            Backend::Postgres => {
                let Some(admin_url) = pg_url() else {
                    return Ok(None);
                };
                let schema = format!("t_{id}");
                let mut conn = sqlx::PgConnection::connect(&admin_url).await?;
                sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
                    .execute(&mut conn)
                    .await?;
                conn.close().await?;
                let sep = if admin_url.contains('?') { '&' } else { '?' };
                (
                    format!("{admin_url}{sep}options=-c%20search_path%3D{schema}"),
                    Cleanup::Schema { admin_url, schema },
                )
            }
        };
        let store = Store::connect(&url).await?;
        store.migrate().await?;
        Ok(Some(Self { url, store, cleanup }))
    }
}

impl TestDb {
    /// Runs raw SQL on the test database (tests corrupt rows with it to prove `allot check`).
    pub async fn execute(&self, sql: &str) -> Result<u64, StoreError> {
        Ok(crate::on_db!(self.store.db(), |p| sqlx::query(
            sqlx::AssertSqlSafe(sql.to_owned())
        )
        .execute(p)
        .await
        .map(|r| r.rows_affected()))?)
    }

    /// The first column of every row of a query, as text (`CAST(… AS TEXT)` it in the query).
    pub async fn strings(&self, sql: &str) -> Result<Vec<String>, StoreError> {
        Ok(crate::on_db!(self.store.db(), |p| {
            sqlx::query_scalar::<_, String>(sqlx::AssertSqlSafe(sql.to_owned()))
                .fetch_all(p)
                .await
        })?)
    }

    /// `(job id, lease owner)` of every job.
    pub async fn job_leases(&self) -> Result<Vec<(String, Option<String>)>, StoreError> {
        Ok(crate::on_db!(self.store.db(), |p| sqlx::query_as::<
            _,
            (String, Option<String>),
        >(
            "SELECT CAST(id AS TEXT), lease_owner FROM jobs"
        )
        .fetch_all(p)
        .await)?)
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        match &self.cleanup {
            Cleanup::Dir(dir) => {
                let _ = std::fs::remove_dir_all(dir);
            }
            Cleanup::Schema { admin_url, schema } => {
                let (admin_url, schema) = (admin_url.clone(), schema.clone());
                // Dropping the schema needs async I/O; do it on a thread of its own so that Drop works
                // inside and outside a runtime.
                let _ = std::thread::spawn(move || {
                    let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() else {
                        return;
                    };
                    // The pool is not closed first: its connections may live on a runtime that
                    // is blocked in this very drop. Idle connections hold no locks on the schema.
                    rt.block_on(async move {
                        if let Ok(mut conn) = sqlx::PgConnection::connect(&admin_url).await {
                            let sql = format!("DROP SCHEMA IF EXISTS {schema} CASCADE");
                            let _ = sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&mut conn).await;
                            let _ = conn.close().await;
                        }
                    });
                })
                .join();
            }
        }
    }
}

/// Declares one async test body twice: `NAME_sqlite` and `NAME_postgres`, each on a fresh database.
#[macro_export]
macro_rules! dual_backend_test {
    ($name:ident, |$db:ident| $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            async fn run($db: $crate::testkit::TestDb) $body

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let db = $crate::testkit::TestDb::fresh($crate::Backend::Sqlite).await.expect("sqlite test database");
                run(db.expect("sqlite is always available")).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                match $crate::testkit::TestDb::fresh($crate::Backend::Postgres).await.expect("postgres test database") {
                    Some(db) => run(db).await,
                    None => eprintln!("skipped: ALLOT_TEST_PG_URL is not set"),
                }
            }
        }
    };
}

/// Who the changes of store tests are by (the audit log's initiator).
pub const TEST_ACTOR: crate::audit::Actor = crate::audit::Actor {
    user: None,
    app: None,
    surface: "store tests",
};
