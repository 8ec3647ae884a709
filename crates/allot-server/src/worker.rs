//! The licensing worker: claims jobs from the database queue under a lease and runs them step by
//! step (one transaction per chunk of members). Any node may run it; a job whose node died is
//! taken over when its lease runs out. Requests in `sync` mode run the same code inline.

use std::sync::Arc;
use std::time::Duration;

use allot_core::ids::TenantId;
use allot_store::group_licensing::{Job, ProcessingMode};
use allot_store::{Store, StoreError};
use tokio::sync::{Notify, watch};

/// How long a claimed job stays ours without a step (each step renews it).
pub const LEASE: Duration = Duration::from_secs(10);
/// How often an idle worker looks for jobs it was not told about (other nodes, expired leases).
const IDLE_POLL: Duration = Duration::from_millis(250);

pub struct Worker {
    store: Store,
    /// This process's lease owner name.
    pub node: String,
    notify: Notify,
    /// Fault injection: a pause after every step (`ALLOT_FANOUT_STEP_DELAY_MS`), so tests can
    /// kill a node in the middle of a fan-out.
    step_delay: Option<Duration>,
}

impl Worker {
    #[must_use]
    pub fn new(store: Store) -> Arc<Self> {
        let step_delay = std::env::var("ALLOT_FANOUT_STEP_DELAY_MS")
            .ok()
            .and_then(|v| v.parse::<u64>().ok())
            .filter(|ms| *ms > 0)
            .map(Duration::from_millis);
        Arc::new(Self {
            store,
            node: format!("allot-{}", uuid::Uuid::new_v4().simple()),
            notify: Notify::new(),
            step_delay,
        })
    }

    /// Wakes the background loop (work was just enqueued on this node).
    pub fn wake(&self) {
        self.notify.notify_one();
    }

    fn lease_micros() -> i64 {
        i64::try_from(LEASE.as_micros()).unwrap_or(10_000_000)
    }

    /// Runs a claimed job to its end. Returns early when `stop` says so (the job is released) or
    /// when the lease was lost to another worker.
    /// In the background (`stop` given), a job that still has steps yields to other tenants'
    /// waiting jobs after each step (`Store::yield_job_if_others_wait`), so one tenant's long
    /// fan-out cannot hold back another tenant's work.
    async fn run_job(
        &self,
        mut job: Job,
        stop: Option<&watch::Receiver<bool>>,
        default_mode: ProcessingMode,
    ) -> Result<(), StoreError> {
        tracing::debug!(job = %job.id, kind = ?job.kind, "job claimed");
        loop {
            if stop.is_some_and(|s| *s.borrow()) {
                self.store.release_job(&job).await?;
                return Ok(());
            }
            let started = std::time::Instant::now();
            let step = self.store.run_job_step(&mut job, Self::lease_micros()).await;
            if let Ok(r) = &step {
                metrics::counter!("allot_fanout_members_total").increment(r.members as u64);
                tracing::debug!(job = %job.id, members = r.members, micros = started.elapsed().as_micros(), "step");
            }
            match step {
                Ok(r) if r.done => {
                    tracing::debug!(job = %job.id, "job done");
                    return Ok(());
                }
                Ok(_) => {
                    if let Some(d) = self.step_delay {
                        tokio::time::sleep(d).await;
                    }
                    if stop.is_some() && self.store.yield_job_if_others_wait(&job, default_mode).await? {
                        tracing::debug!(job = %job.id, "job yields to another tenant's work");
                        return Ok(());
                    }
                }
                Err(StoreError::NotFound) => {
                    tracing::warn!(job = %job.id, "lease lost; another worker has the job");
                    return Ok(());
                }
                Err(e) => {
                    let _ = self.store.release_job(&job).await;
                    return Err(e);
                }
            }
        }
    }

    /// Runs every claimable job (of `tenant`, or all; `include_manual` also runs jobs of tenants
    /// in manual mode). Returns how many jobs ran.
    pub async fn drain(&self, tenant: Option<TenantId>, include_manual: bool) -> Result<usize, StoreError> {
        let default = self.store.default_processing_mode().await?;
        let mut n = 0;
        while let Some(job) = self
            .store
            .claim_job(&self.node, Self::lease_micros(), default, tenant, include_manual)
            .await?
        {
            self.run_job(job, None, default).await?;
            n += 1;
        }
        Ok(n)
    }

    /// Runs the tenant's jobs and waits until none is left, including those another worker holds
    /// (`sync` mode: the response is sent after the fan-out completes).
    pub async fn settle(&self, tenant: TenantId) -> Result<(), StoreError> {
        loop {
            self.drain(Some(tenant), true).await?;
            if self.store.pending_jobs(Some(tenant)).await? == 0 {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// What a write in `tenant` does next: wait for its work (`sync`), wake the worker (`async`),
    /// or nothing (`manual`).
    pub(crate) async fn after_write(&self, tenant: TenantId) -> Result<(), StoreError> {
        match self.store.processing_mode(tenant).await? {
            ProcessingMode::Sync => self.settle(tenant).await,
            ProcessingMode::Async => {
                self.wake();
                Ok(())
            }
            ProcessingMode::Manual => Ok(()),
        }
    }

    /// The background loop, until `stop` turns true; a job in progress is released on the way out.
    pub async fn run(self: Arc<Self>, mut stop: watch::Receiver<bool>) {
        loop {
            if *stop.borrow() {
                return;
            }
            let default = match self.store.default_processing_mode().await {
                Ok(m) => m,
                Err(e) => {
                    tracing::error!(error = %e, "worker cannot read the processing mode");
                    ProcessingMode::Async
                }
            };
            match self
                .store
                .claim_job(&self.node, Self::lease_micros(), default, None, false)
                .await
            {
                Ok(Some(job)) => {
                    if let Err(e) = self.run_job(job, Some(&stop), default).await {
                        tracing::error!(error = %e, "licensing job failed; it will be retried");
                        tokio::time::sleep(IDLE_POLL).await;
                    }
                    continue;
                }
                Ok(None) => {}
                Err(e) => {
                    tracing::error!(error = %e, "worker cannot claim jobs");
                }
            }
            tokio::select! {
                () = self.notify.notified() => {},
                () = tokio::time::sleep(IDLE_POLL) => {},
                _ = stop.changed() => {},
            }
        }
    }
}
