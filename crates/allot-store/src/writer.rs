//! Group commit on SQLite: the write transactions of concurrent callers, applied by one writer,
//! several to a commit.
//!
//! SQLite has one writer at a time, and a commit costs about the same whether it carries one
//! change or fifty. So the writer takes every change that is waiting, runs each inside its own
//! savepoint (a change that fails is rolled back alone, exactly as if it had had its own
//! transaction), commits once, and only then answers the callers. No caller is answered before the
//! commit that holds its change, so an acknowledged change is as durable as it was with one commit
//! per change; if the commit fails, every change of the batch is answered with that failure and
//! none of them is applied.
//!
//! The writer has its own connection, which no reader uses, so its page cache stays warm: nothing
//! but the writer changes the file under it. [`crate::Db::begin`] on SQLite takes the same
//! connection under the same lock, so a transaction opened there and the writer's batches never
//! overlap.
//!
//! The writer is a task on the runtime that opened the database, so its wake-ups go to a worker
//! thread that is usually running already (on its own one-thread runtime and OS thread it served
//! 790 assignments/s in `allot bench assign` against 1,112/s here). It stops when the last handle
//! to the database is dropped.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use sqlx::SqlitePool;
use tokio::sync::{Mutex, OwnedMutexGuard, mpsc, oneshot};

use crate::db::Tx;
use crate::error::StoreError;
use crate::ledger::RulesCache;

/// The work of one change against the open transaction.
pub type Work<'t, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 't>>;

/// The most changes one commit carries: enough that a burst of 64 clients shares a few commits,
/// few enough that the first caller of a batch is not kept waiting on a long tail.
const MAX_BATCH: usize = 64;

pub struct Writer {
    /// The writer's connection (the pool holds exactly one).
    pool: SqlitePool,
    /// Held for the whole of a batch, and by every [`crate::Db::begin`] transaction.
    lock: Arc<Mutex<()>>,
    /// This node's copies of tenants' rules, handed to every transaction.
    rules: Arc<RulesCache>,
    queue: mpsc::UnboundedSender<Box<dyn Change>>,
}

impl std::fmt::Debug for Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Writer")
    }
}

impl Writer {
    pub(crate) fn start(pool: SqlitePool) -> Self {
        let lock = Arc::new(Mutex::new(()));
        let (queue, changes) = mpsc::unbounded_channel();
        let (batch_pool, batch_lock) = (pool.clone(), Arc::clone(&lock));
        let rules = Arc::<RulesCache>::default();
        tokio::spawn(run(batch_pool, batch_lock, Arc::clone(&rules), changes));
        Self {
            pool,
            lock,
            rules,
            queue,
        }
    }

    pub(crate) fn rules(&self) -> &RulesCache {
        &self.rules
    }

    /// The writer's connection with its lock, for a transaction of the caller's own.
    pub(crate) async fn begin(&self) -> Result<Tx, StoreError> {
        let guard = Arc::clone(&self.lock).lock_owned().await;
        begin(&self.pool, guard, &self.rules).await
    }

    /// Applies `work` in the next batch and answers once that batch has committed.
    pub(crate) async fn write<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: for<'t> FnOnce(&'t mut Tx) -> Work<'t, T> + Send + 'static,
    {
        let (answer, answered) = oneshot::channel();
        self.queue
            .send(Box::new(Pending { work, answer }))
            .map_err(|_| StoreError::Unapplied("the SQLite writer has stopped".into()))?;
        answered
            .await
            .map_err(|_| StoreError::Unapplied("the batch holding the change failed (a panic)".into()))?
    }

    pub(crate) async fn close(&self) {
        self.pool.close().await;
    }
}

async fn begin(
    pool: &SqlitePool,
    guard: OwnedMutexGuard<()>,
    rules: &Arc<RulesCache>,
) -> Result<Tx, StoreError> {
    Ok(Tx::Sqlite(
        pool.begin_with("BEGIN IMMEDIATE").await?,
        guard,
        Arc::clone(rules),
    ))
}

/// A change waiting for the writer, its result type erased.
trait Change: Send {
    /// Runs the change in the batch's transaction; the answer waits for the commit.
    fn apply<'t>(self: Box<Self>, tx: &'t mut Tx) -> Pin<Box<dyn Future<Output = Settled> + Send + 't>>;
    /// Answers the caller with `error` without running the change.
    fn refuse(self: Box<Self>, error: StoreError);
}

/// A change that ran: whether it succeeded, and how to answer its caller. A change that succeeded
/// is answered with the commit's failure, if the commit fails.
struct Settled {
    ok: bool,
    answer: Box<dyn FnOnce(Option<StoreError>) + Send>,
}

struct Pending<T, F> {
    work: F,
    answer: oneshot::Sender<Result<T, StoreError>>,
}

impl<T, F> Change for Pending<T, F>
where
    T: Send + 'static,
    F: for<'t> FnOnce(&'t mut Tx) -> Work<'t, T> + Send + 'static,
{
    fn apply<'t>(self: Box<Self>, tx: &'t mut Tx) -> Pin<Box<dyn Future<Output = Settled> + Send + 't>> {
        let Self { work, answer } = *self;
        Box::pin(async move {
            let result = work(tx).await;
            Settled {
                ok: result.is_ok(),
                answer: Box::new(move |failed| {
                    // The caller may have gone (its request was dropped); the change stands.
                    let _ = answer.send(failed.map_or(result, Err));
                }),
            }
        })
    }

    fn refuse(self: Box<Self>, error: StoreError) {
        let _ = self.answer.send(Err(error));
    }
}

async fn run(
    pool: SqlitePool,
    lock: Arc<Mutex<()>>,
    rules: Arc<RulesCache>,
    mut queue: mpsc::UnboundedReceiver<Box<dyn Change>>,
) {
    let mut waiting = Vec::with_capacity(MAX_BATCH);
    while queue.recv_many(&mut waiting, MAX_BATCH).await > 0 {
        let batch = std::mem::take(&mut waiting);
        // A panic in a change fails its batch (its callers are answered with an error, nothing of
        // it is committed) and not the writer.
        let applied = tokio::spawn(apply(pool.clone(), Arc::clone(&lock), Arc::clone(&rules), batch)).await;
        if let Err(e) = applied {
            tracing::error!(error = %e, "a batch of the SQLite writer panicked; none of it was committed");
        }
    }
}

/// One batch: a savepoint per change, one commit, then the answers.
async fn apply(pool: SqlitePool, lock: Arc<Mutex<()>>, rules: Arc<RulesCache>, batch: Vec<Box<dyn Change>>) {
    let guard = lock.lock_owned().await;
    let mut tx = match begin(&pool, guard, &rules).await {
        Ok(tx) => tx,
        Err(e) => {
            for change in batch {
                change.refuse(shared(&e));
            }
            return;
        }
    };
    // A change alone in its batch needs no savepoint: the transaction is its own, and its
    // failure rolls the transaction back.
    let alone = batch.len() == 1;
    let mut settled = Vec::with_capacity(batch.len());
    let mut broken: Option<StoreError> = None;
    for change in batch {
        if let Some(e) = &broken {
            change.refuse(shared(e));
            continue;
        }
        if !alone && let Err(e) = tx.execute_raw("SAVEPOINT change").await {
            change.refuse(shared(&e));
            broken = Some(e);
            continue;
        }
        let done = change.apply(&mut tx).await;
        let end = if done.ok {
            "RELEASE change"
        } else {
            "ROLLBACK TO change; RELEASE change"
        };
        if !alone && let Err(e) = tx.execute_raw(end).await {
            broken = Some(e);
        }
        settled.push(done);
    }
    let failed_alone = alone && settled.first().is_some_and(|d| !d.ok);
    let outcome = match broken {
        None if failed_alone => tx.rollback().await,
        None => tx.commit().await,
        Some(e) => {
            if let Err(rollback) = tx.rollback().await {
                tracing::error!(error = %rollback, "rolling back a failed batch");
            }
            Err(e)
        }
    };
    for done in settled {
        let failed = if done.ok {
            outcome.as_ref().err().map(shared)
        } else {
            None
        };
        (done.answer)(failed);
    }
}

/// The batch's failure, for each of its callers.
fn shared(e: &StoreError) -> StoreError {
    match e {
        StoreError::Busy(m) => StoreError::Busy(m.clone()),
        other => StoreError::Unapplied(other.to_string()),
    }
}
