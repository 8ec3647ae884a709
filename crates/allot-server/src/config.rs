//! Runtime configuration of `allot serve`, resolved from flags and `ALLOT_*` environment
//! variables by the CLI (flags win), validated once, then shared read-only.

use std::net::SocketAddr;
use std::path::PathBuf;

/// The default listen address: loopback only.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:5066";
/// The default request body limit (Graph refuses large bodies too; 1 MiB is far above any
/// licensing request).
pub const DEFAULT_MAX_BODY_BYTES: usize = 1024 * 1024;

#[derive(Debug, Clone)]
pub struct Config {
    pub data_dir: PathBuf,
    pub listen: SocketAddr,
    /// `sqlite://…` or `postgres://…`; `None` means `sqlite://<data_dir>/allot.db`.
    pub database_url: Option<String>,
    /// The externally visible base URL (for `@odata.nextLink`, token issuer, discovery). `None`
    /// derives links from the request's `Host` header.
    pub public_url: Option<String>,
    /// The admin key; `None` uses the one stored at first start.
    pub admin_key: Option<String>,
    /// Let the admin API answer clients that are not on loopback.
    pub admin_remote: bool,
    pub max_body_bytes: usize,
    /// A tenant file to apply at start (in addition to the demo tenant on a fresh database).
    pub seed: Option<PathBuf>,
    /// Do not create the demo tenant on a fresh database.
    pub no_demo: bool,
    /// Sets the server-wide default processing mode (stored in the database, so every node
    /// shares it); `None` keeps the stored one (`async` on a new database).
    pub processing_mode: Option<allot_store::group_licensing::ProcessingMode>,
    /// Serve the API without the background licensing worker (`--no-worker`).
    pub no_worker: bool,
}

impl Config {
    /// The database URL in effect.
    #[must_use]
    pub fn effective_database_url(&self) -> String {
        self.database_url
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}", self.data_dir.join("allot.db").display()))
    }

    /// Defaults for tests and embedding: an ephemeral port on loopback.
    #[must_use]
    pub fn for_data_dir(data_dir: PathBuf) -> Self {
        Self {
            data_dir,
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            database_url: None,
            public_url: None,
            admin_key: None,
            admin_remote: false,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            seed: None,
            no_demo: false,
            processing_mode: None,
            no_worker: false,
        }
    }
}
