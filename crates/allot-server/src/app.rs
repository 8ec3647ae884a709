//! Building and running the server: open the store, migrate, load keys, seed a fresh database,
//! bind the listener (port 0 in tests), and serve until stopped.

use std::net::SocketAddr;
use std::sync::Arc;

use allot_core::secret::hash_secret;
use allot_core::tenant_file::TenantFile;
use allot_store::Store;
use anyhow::Context as _;
use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use tokio::net::TcpListener;
use tower_http::catch_panic::CatchPanicLayer;

use crate::auth::keys;
use crate::auth::tokens::TokenService;
use crate::config::Config;
use crate::graph::error::GraphError;
use crate::graph::{self, ApiVersion};
use crate::state::AppState;
use crate::{admin, auth, context};

/// What a person needs to know after start (printed by `allot serve`).
#[derive(Debug, Clone)]
pub struct StartupInfo {
    pub base_url: String,
    /// The demo tenant was created by this start.
    pub seeded_demo: bool,
    /// The admin key, when this start generated it.
    pub new_admin_key: Option<String>,
    pub database_url: String,
    /// The HTTPS base URL, with `--tls`.
    pub https_url: Option<String>,
    /// The CA file clients trust, when Allot's own CA signed the certificate.
    pub ca_file: Option<std::path::PathBuf>,
}

pub struct Application {
    listener: TcpListener,
    https: Option<crate::serve::Listener>,
    state: AppState,
    pub info: StartupInfo,
}

impl Application {
    pub async fn build(mut config: Config) -> anyhow::Result<Self> {
        crate::tls::install_crypto();
        let url = config.effective_database_url();
        if url.starts_with("sqlite:") {
            std::fs::create_dir_all(&config.data_dir)
                .with_context(|| format!("cannot create the data directory {}", config.data_dir.display()))?;
        }
        let store = Store::connect(&url)
            .await
            .with_context(|| format!("cannot open the database {url}"))?;
        store.migrate().await.context("database migration failed")?;
        let listener = TcpListener::bind(config.listen).await.with_context(|| {
            format!(
                "cannot listen on {} (is another server running there?)",
                config.listen
            )
        })?;
        let addr = listener.local_addr()?;
        // The address actually bound (an ephemeral port resolved): links fall back to it.
        config.listen = addr;
        let (https, ca_file) = match &mut config.tls {
            None => (None, None),
            Some(t) => {
                let loaded = crate::tls::load(&t.source, &config.data_dir)?;
                let tcp = TcpListener::bind(t.listen)
                    .await
                    .with_context(|| format!("cannot listen on {} for HTTPS", t.listen))?;
                t.listen = tcp.local_addr()?;
                let listener = crate::serve::Listener {
                    tcp,
                    tls: Some(loaded.acceptor),
                };
                (Some(listener), loaded.ca_file)
            }
        };
        let https_url = config
            .tls
            .as_ref()
            .map(|t| format!("https://{}", https_host(t.listen)));
        let base_url = config
            .public_url
            .clone()
            .unwrap_or_else(|| format!("http://{addr}"));

        let issuer_base = match &config.public_url {
            Some(u) => {
                store.set_setting("issuer_base", u).await?;
                u.clone()
            }
            None => store.setting_or_init("issuer_base", &base_url).await?,
        };
        let signing = keys::load_or_create(&store).await?;
        let tokens = TokenService::new(signing, &issuer_base);
        let (admin_key_hash, new_admin_key) = admin_key(&store, &config).await?;

        if let Some(mode) = config.processing_mode {
            store.set_default_processing_mode(mode).await?;
        }
        if store.db().backend() == allot_store::Backend::Sqlite {
            // One node per SQLite file: no lease can belong to a live worker of another process.
            store.release_all_leases().await?;
        }
        let mut seeded_demo = false;
        if store.tenants().await?.is_empty() && !config.no_demo {
            store
                .apply_tenant_file(&TenantFile::demo())
                .await
                .context("seeding the demo tenant failed")?;
            seeded_demo = true;
        }
        if let Some(path) = &config.seed {
            let text =
                std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
            let file = TenantFile::parse(&text)?;
            store
                .apply_tenant_file(&file)
                .await
                .with_context(|| format!("applying {} failed", path.display()))?;
        }
        let _ = crate::ops::prometheus();
        let worker = crate::worker::Worker::new(store.clone());
        let fairness = Arc::new(crate::fairness::Fairness::new(
            config.expensive_per_caller,
            config.expensive_total,
            config.expensive_wait,
        ));
        let state = AppState {
            operations: crate::operations::Operations::new(store.clone(), Arc::clone(&worker)),
            worker,
            store,
            tokens: Arc::new(tokens),
            config: Arc::new(config),
            admin_key_hash: Arc::new(admin_key_hash),
            fairness: Arc::clone(&fairness),
            throttles: Arc::default(),
        };
        Ok(Self {
            listener,
            https,
            state,
            info: StartupInfo {
                base_url,
                seeded_demo,
                new_admin_key,
                database_url: url,
                https_url,
                ca_file,
            },
        })
    }

    #[must_use]
    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)))
    }

    #[must_use]
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves (and runs the licensing worker) until `shutdown` completes, then finishes in-flight
    /// requests and releases the job the worker holds.
    pub async fn run_until(self, shutdown: impl Future<Output = ()> + Send + 'static) -> std::io::Result<()> {
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let worker = if self.state.config.no_worker {
            tokio::spawn(async {})
        } else {
            tokio::spawn(std::sync::Arc::clone(&self.state.worker).run(stop_rx.clone()))
        };
        let retention = tokio::spawn(keep_audit_retention(
            self.state.store.clone(),
            self.state.config.audit_retention_days,
            stop_rx.clone(),
        ));
        let bounds = crate::serve::Bounds::of(&self.state.config);
        let app = router(self.state);
        let plain = crate::serve::Listener {
            tcp: self.listener,
            tls: None,
        };
        let served = crate::serve::serve(plain, self.https, app, bounds, shutdown).await;
        let _ = stop_tx.send(true);
        let _ = tokio::time::timeout(std::time::Duration::from_secs(30), worker).await;
        retention.abort();
        served
    }

    /// Serves until Ctrl-C or SIGTERM. The signal handlers are in place when this returns its
    /// future, before it is polled: a SIGTERM right after the banner stops the server gracefully
    /// instead of killing it.
    pub fn run_until_stopped(self) -> impl Future<Output = std::io::Result<()>> {
        let stop = shutdown_signal();
        self.run_until(stop)
    }
}

/// `localhost:port` for a loopback address (the name the local certificate is issued for first),
/// else the address itself.
fn https_host(addr: SocketAddr) -> String {
    if addr.ip().is_loopback() {
        format!("localhost:{}", addr.port())
    } else {
        addr.to_string()
    }
}

async fn admin_key(store: &Store, config: &Config) -> anyhow::Result<(String, Option<String>)> {
    if let Some(k) = &config.admin_key {
        return Ok((hash_secret("allot-admin", k), None));
    }
    let fresh = format!("allot-admin-{}", uuid::Uuid::new_v4().simple());
    let fresh_hash = hash_secret("allot-admin", &fresh);
    let stored = store.setting_or_init("admin_key_hash", &fresh_hash).await?;
    if stored != fresh_hash {
        return Ok((stored, None));
    }
    if config.database_url.is_none() {
        let path = config.data_dir.join("admin-key");
        std::fs::write(&path, format!("{fresh}\n"))
            .with_context(|| format!("cannot write {}", path.display()))?;
        restrict(&path);
    }
    Ok((stored, Some(fresh)))
}

#[cfg(unix)]
pub(crate) fn restrict(path: &std::path::Path) {
    use std::os::unix::fs::PermissionsExt as _;
    let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600));
}

#[cfg(not(unix))]
pub(crate) fn restrict(_: &std::path::Path) {}

/// Purges audit records older than `days`, at start and then every ten minutes, until `stop`.
async fn keep_audit_retention(store: Store, days: u32, mut stop: tokio::sync::watch::Receiver<bool>) {
    loop {
        let before = allot_store::now() - chrono::TimeDelta::days(i64::from(days));
        match store.purge_audits(before).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(purged = n, "audit records past their retention deleted"),
            Err(e) => tracing::warn!(error = %e, "audit retention purge failed"),
        }
        tokio::select! {
            () = tokio::time::sleep(std::time::Duration::from_secs(600)) => {},
            _ = stop.changed() => return,
        }
    }
}

/// Runs only the licensing worker on `store` until Ctrl-C or SIGTERM (`allot serve --worker-only`).
pub async fn run_worker_only(store: Store) -> anyhow::Result<()> {
    store.migrate().await.context("database migration failed")?;
    if store.db().backend() == allot_store::Backend::Sqlite {
        store.release_all_leases().await?;
    }
    let worker = crate::worker::Worker::new(store);
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let task = tokio::spawn(std::sync::Arc::clone(&worker).run(stop_rx));
    shutdown_signal().await;
    let _ = stop_tx.send(true);
    let _ = tokio::time::timeout(std::time::Duration::from_secs(30), task).await;
    Ok(())
}

/// Ctrl-C or SIGTERM. The handlers are installed when this is called, not when the future is
/// first polled.
pub(crate) fn shutdown_signal() -> impl Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    let (int, term) = {
        use tokio::signal::unix::{SignalKind, signal};
        (
            signal(SignalKind::interrupt()).ok(),
            signal(SignalKind::terminate()).ok(),
        )
    };
    async move {
        #[cfg(unix)]
        {
            let wait = |s: Option<tokio::signal::unix::Signal>| async move {
                match s {
                    Some(mut s) => {
                        s.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                () = wait(int) => {},
                () = wait(term) => {},
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

/// The whole HTTP surface: every route, and the batch routes, whose inner requests go through
/// the same stack without them.
pub fn router(state: AppState) -> Router {
    let plain = stack(&state, routes(&state));
    let batch = graph::batch::routes().layer(axum::Extension(graph::batch::Dispatch(plain)));
    stack(&state, routes(&state).merge(batch))
}

/// Every route but the batch routes.
fn routes(state: &AppState) -> Router<AppState> {
    Router::new()
        .nest(
            "/v1.0",
            graph::router()
                .layer(axum::middleware::from_fn_with_state(
                    state.clone(),
                    crate::throttle::graph,
                ))
                .layer(axum::Extension(ApiVersion::V1)),
        )
        .nest(
            "/beta",
            graph::router()
                .merge(graph::cloud_licensing::router())
                .layer(axum::middleware::from_fn_with_state(
                    state.clone(),
                    crate::throttle::graph,
                ))
                .layer(axum::Extension(ApiVersion::Beta)),
        )
        .nest("/v1", crate::partner::router(state.clone()))
        .merge(auth::oauth::router())
        .merge(crate::ops::router())
        .merge(crate::console::router())
        .nest("/_allot", admin::router())
}

/// The routes with every layer: metrics, the fallback, error shapes, panics, fairness, body and
/// head limits, the request context.
fn stack(state: &AppState, routes: Router<AppState>) -> Router {
    routes
        .route_layer(axum::middleware::from_fn(crate::ops::track))
        .fallback(unknown_path)
        .layer(axum::middleware::map_response(graph_bodies_for_bare_errors))
        .layer(CatchPanicLayer::custom(|_: Box<dyn std::any::Any + Send>| {
            tracing::error!("a request handler panicked");
            GraphError::internal().into_response()
        }))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::fairness::middleware,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::serve::body_deadline,
        ))
        .layer(axum::middleware::from_fn(crate::serve::head_limits))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            context::middleware,
        ))
        .with_state(state.clone())
}

async fn unknown_path(uri: axum::http::Uri) -> GraphError {
    let segment = uri
        .path()
        .trim_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or("")
        .to_owned();
    GraphError::new(
        StatusCode::NOT_FOUND,
        "Request_ResourceNotFound",
        format!("Resource not found for the segment '{segment}'."),
    )
}

/// An error status whose body is neither JSON nor one of the sign-in pages (HTML): axum's own
/// 404/405/413/415 and rejections.
pub(crate) fn is_bare_error(resp: &Response) -> bool {
    let status = resp.status();
    let shaped = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json") || v.starts_with("text/html"));
    (status.is_client_error() || status.is_server_error()) && !shaped
}

/// axum answers a wrong method (405) and some rejections with an empty or plain-text body; give
/// them Graph's error envelope so that no response leaves in another shape.
async fn graph_bodies_for_bare_errors(resp: Response) -> Response {
    if !is_bare_error(&resp) {
        return resp;
    }
    let status = resp.status();
    let err = match status {
        StatusCode::METHOD_NOT_ALLOWED => GraphError::new(
            status,
            "Request_BadRequest",
            "Specified HTTP method is not allowed for the request uri.",
        ),
        StatusCode::PAYLOAD_TOO_LARGE => {
            GraphError::new(status, "RequestEntityTooLarge", "The request body is too large.")
        }
        StatusCode::UNSUPPORTED_MEDIA_TYPE => GraphError::new(
            status,
            "UnsupportedMediaType",
            "The content type is not supported.",
        ),
        StatusCode::NOT_FOUND => GraphError::new(status, "Request_ResourceNotFound", "Resource not found."),
        s if s.is_server_error() => GraphError::internal(),
        s => GraphError::new(s, "Request_BadRequest", "The request is not valid."),
    };
    let mut out = err.into_response();
    for name in [&context::REQUEST_ID, &context::CLIENT_REQUEST_ID] {
        if let Some(v) = resp.headers().get(name) {
            out.headers_mut().insert(name.clone(), v.clone());
        }
    }
    out
}
