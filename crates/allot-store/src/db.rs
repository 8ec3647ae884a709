//! The database handle: one concrete sqlx pool per backend behind [`Db`], chosen from the URL.
//!
//! SQL is written once in the subset both engines share (`$N` placeholders, `ON CONFLICT`,
//! `RETURNING`); [`on_db!`] and [`on_tx!`] expand a query once per backend.

use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{PgPool, Postgres, Sqlite, SqlitePool, Transaction};

use crate::error::StoreError;
use crate::ledger::RulesCache;
use crate::writer::{Work, Writer};

/// Which engine a [`Db`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Debug, Clone)]
pub enum Db {
    /// The readers' pool, and the one writer ([`crate::writer`]) with its own connection.
    Sqlite(SqlitePool, Arc<Writer>),
    /// The pool, and this node's copies of tenants' rules ([`crate::ledger::RulesCache`]).
    Postgres(PgPool, Arc<RulesCache>),
}

/// Runs `$body` with `$pool` bound to the concrete pool of whichever backend `$db` is.
#[macro_export]
macro_rules! on_db {
    ($db:expr, |$pool:ident| $body:expr) => {
        match $db {
            $crate::db::Db::Sqlite($pool, _) => $body,
            $crate::db::Db::Postgres($pool, _) => $body,
        }
    };
}

/// Runs `$body` with `$conn` bound to the transaction's connection.
#[macro_export]
macro_rules! on_tx {
    ($tx:expr, |$conn:ident| $body:expr) => {
        match $tx {
            $crate::db::Tx::Sqlite(t, ..) => {
                let $conn = &mut **t;
                $body
            }
            $crate::db::Tx::Postgres(t, _) => {
                let $conn = &mut **t;
                $body
            }
        }
    };
}

/// A write transaction. On SQLite it starts with `BEGIN IMMEDIATE`, so the write lock is taken up
/// front and a deferred upgrade can never fail with `SQLITE_BUSY` halfway through.
pub enum Tx {
    /// The guard serialises this process's SQLite writers in Allot itself, so they queue on an
    /// async mutex instead of in SQLite's busy handler, which sleeps in steps of up to 100 ms.
    Sqlite(
        Transaction<'static, Sqlite>,
        tokio::sync::OwnedMutexGuard<()>,
        Arc<RulesCache>,
    ),
    Postgres(Transaction<'static, Postgres>, Arc<RulesCache>),
}

impl Tx {
    #[must_use]
    pub const fn backend(&self) -> Backend {
        match self {
            Self::Sqlite(..) => Backend::Sqlite,
            Self::Postgres(..) => Backend::Postgres,
        }
    }

    /// This node's copies of tenants' rules.
    pub(crate) fn rules(&self) -> &RulesCache {
        match self {
            Self::Sqlite(_, _, r) | Self::Postgres(_, r) => r,
        }
    }

    pub async fn commit(self) -> Result<(), StoreError> {
        match self {
            Self::Sqlite(t, ..) => t.commit().await?,
            Self::Postgres(t, _) => t.commit().await?,
        }
        Ok(())
    }

    pub async fn rollback(self) -> Result<(), StoreError> {
        match self {
            Self::Sqlite(t, ..) => t.rollback().await?,
            Self::Postgres(t, _) => t.rollback().await?,
        }
        Ok(())
    }

    /// Runs fixed statements (savepoints) in the transaction.
    pub(crate) async fn execute_raw(&mut self, sql: &'static str) -> Result<(), StoreError> {
        on_tx!(self, |c| sqlx::raw_sql(sql).execute(c).await.map(|_| ()))?;
        Ok(())
    }
}

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

impl Db {
    /// Connects to `sqlite://PATH` (created if missing) or `postgres://…`. Any other scheme is
    /// refused, so a mistyped URL never silently creates an empty database somewhere.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        if let Some(rest) = url.strip_prefix("sqlite:") {
            let path = rest.trim_start_matches("//");
            if path.is_empty() || path == ":memory:" {
                return Err(StoreError::Config(
                    "sqlite needs a file path (sqlite://PATH)".into(),
                ));
            }
            Self::open_sqlite(Path::new(path)).await
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let opts = PgConnectOptions::from_str(url).map_err(|e| StoreError::Config(e.to_string()))?;
            let pool = PgPoolOptions::new()
                .max_connections(16)
                .acquire_timeout(Duration::from_secs(30))
                .connect_with(opts)
                .await?;
            Ok(Self::Postgres(pool, Arc::default()))
        } else {
            Err(StoreError::Config(format!(
                "unsupported database URL '{url}': use sqlite://PATH or postgres://USER@HOST/DB"
            )))
        }
    }

    /// Opens (creating if needed) the SQLite file at `path` with WAL, a 5 s busy timeout and
    /// `synchronous = NORMAL`: in WAL mode an acknowledged write survives a crash of the process
    /// (`kill -9`); only a power loss can take the last commits (see docs/adr/0002-sqlite-durability.md).
    pub async fn open_sqlite(path: &Path) -> Result<Self, StoreError> {
        let opts = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(5))
            .foreign_keys(true)
            // Large tenants: a 64 MiB page cache per connection and memory-mapped reads keep
            // random index inserts (UUID keys) from turning into a read syscall each.
            .pragma("cache_size", "-65536")
            .pragma("mmap_size", "1073741824")
            // Statement journals of multi-row writes stay in memory; checkpoints run every
            // 16,000 pages (64 MiB) of WAL rather than every 1,000, so a fan-out does not write
            // the same index pages back after every chunk.
            .pragma("temp_store", "memory")
            .pragma("wal_autocheckpoint", "16000");
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(opts.clone())
            .await?;
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(opts)
            .await?;
        Ok(Self::Sqlite(pool, Arc::new(Writer::start(writer))))
    }

    #[must_use]
    pub const fn backend(&self) -> Backend {
        match self {
            Self::Sqlite(..) => Backend::Sqlite,
            Self::Postgres(..) => Backend::Postgres,
        }
    }

    /// This node's copies of tenants' rules.
    pub(crate) fn rules(&self) -> &RulesCache {
        match self {
            Self::Sqlite(_, writer) => writer.rules(),
            Self::Postgres(_, rules) => rules,
        }
    }

    /// Applies the migrations of this backend that have not run yet.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        match self {
            Self::Sqlite(p, _) => SQLITE_MIGRATIONS.run(p).await,
            Self::Postgres(p, _) => POSTGRES_MIGRATIONS.run(p).await,
        }
        .map_err(|e| StoreError::Migration(e.to_string()))
    }

    /// The versions each backend's migration set declares (they must be identical).
    #[must_use]
    pub fn migration_versions(backend: Backend) -> Vec<i64> {
        let m = match backend {
            Backend::Sqlite => &SQLITE_MIGRATIONS,
            Backend::Postgres => &POSTGRES_MIGRATIONS,
        };
        m.iter().map(|m| m.version).collect()
    }

    pub async fn begin(&self) -> Result<Tx, StoreError> {
        Ok(match self {
            Self::Sqlite(_, writer) => writer.begin().await?,
            Self::Postgres(p, rules) => Tx::Postgres(p.begin().await?, Arc::clone(rules)),
        })
    }

    /// Runs `work` in a write transaction and commits it; `work`'s error rolls it back.
    ///
    /// On SQLite the change goes to the one writer, which applies concurrent changes several to a
    /// commit, each in its own savepoint ([`crate::writer`]); the answer comes after that commit.
    /// On PostgreSQL each change is a transaction of its own, retried from the start on a
    /// serialization failure or deadlock, so `work` may run more than once there.
    pub async fn write<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: for<'t> Fn(&'t mut Tx) -> Work<'t, T> + Send + Sync + 'static,
    {
        match self {
            Self::Sqlite(_, writer) => writer.write(work).await,
            Self::Postgres(..) => {
                crate::store::retry(|| async {
                    let mut tx = self.begin().await?;
                    let value = work(&mut tx).await?;
                    tx.commit().await?;
                    Ok(value)
                })
                .await
            }
        }
    }

    pub async fn close(&self) {
        match self {
            Self::Sqlite(p, writer) => {
                p.close().await;
                writer.close().await;
            }
            Self::Postgres(p, _) => p.close().await,
        }
    }
}
