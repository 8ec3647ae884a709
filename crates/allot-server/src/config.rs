//! Runtime configuration of `allot serve`, resolved from flags and `ALLOT_*` environment
//! variables by the CLI (flags win), validated once, then shared read-only.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// The default listen address: loopback only.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:5066";
/// The HTTPS listener of `--tls`: the next port.
pub const DEFAULT_TLS_LISTEN: &str = "127.0.0.1:5067";
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
    /// derives links from the request's `Host` header when that host is allowed (see
    /// [`Config::link_base`]).
    pub public_url: Option<String>,
    /// Further `Host` values links may be built on without `--public-url` (`name` for any port,
    /// `name:port` for one), besides the listen address and the loopback names.
    pub allowed_hosts: Vec<String>,
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
    /// A request head must arrive within this (also how long a kept-alive connection may idle).
    pub header_read_timeout: Duration,
    /// A request body must arrive within this (else 408).
    pub body_read_timeout: Duration,
    /// Connections served at once; one more is answered 503 and closed.
    pub max_connections: usize,
    /// How long a shutdown waits for requests in flight before closing what is left.
    pub shutdown_timeout: Duration,
    /// Expensive requests (filters, searches, counts, large pages) one caller runs at once.
    pub expensive_per_caller: usize,
    /// Expensive requests all callers run at once.
    pub expensive_total: usize,
    /// How long an expensive request waits for its turn before a 429.
    pub expensive_wait: Duration,
    /// Days audit records are kept.
    pub audit_retention_days: u32,
    /// An HTTPS listener beside the HTTP one (`--tls`).
    pub tls: Option<TlsSettings>,
}

/// The HTTPS listener: where, and which certificate.
#[derive(Debug, Clone)]
pub struct TlsSettings {
    pub listen: SocketAddr,
    pub source: crate::tls::Source,
}

/// Which listener a request came in on (a request extension the connection loop sets).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    Http,
    Https,
}

pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
pub const DEFAULT_BODY_READ_TIMEOUT: Duration = Duration::from_secs(30);
/// Well under the usual 1,024 open-file limit, which the database and files share.
pub const DEFAULT_MAX_CONNECTIONS: usize = 512;
pub const DEFAULT_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(5);
pub const DEFAULT_EXPENSIVE_PER_CALLER: usize = 2;
/// Half of SQLite's eight pooled connections: cheap reads always find one free.
pub const DEFAULT_EXPENSIVE_TOTAL: usize = 4;
pub const DEFAULT_EXPENSIVE_WAIT: Duration = Duration::from_secs(10);
/// Entra keeps directory audit records 30 days (with a P1 or P2 licence).
pub const DEFAULT_AUDIT_RETENTION_DAYS: u32 = 30;

impl Config {
    /// The database URL in effect.
    #[must_use]
    pub fn effective_database_url(&self) -> String {
        self.database_url
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}", self.data_dir.join("allot.db").display()))
    }

    /// The base of the links of a request that came with `host` (its `Host` header): the
    /// configured public URL; else the `Host` when it names the listen address, a loopback name
    /// (`localhost`, `127.0.0.1`, `[::1]`, any port) or an allowed host; else the listen address.
    /// A `Host` an attacker chose never becomes the base of a link a client follows with its
    /// token.
    #[must_use]
    pub fn link_base(&self, host: Option<&str>, scheme: Scheme) -> String {
        if let Some(u) = &self.public_url {
            return u.clone();
        }
        let (name, listen) = match (scheme, &self.tls) {
            (Scheme::Https, Some(t)) => ("https", t.listen),
            _ => ("http", self.listen),
        };
        match host.filter(|h| self.host_allowed(h)) {
            Some(h) => format!("{name}://{h}"),
            None => format!("{name}://{listen}"),
        }
    }

    fn host_allowed(&self, host: &str) -> bool {
        let host = host.trim();
        if host.is_empty()
            || !host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-._:[]".contains(c))
        {
            return false;
        }
        let name = match host.rsplit_once(':') {
            Some((n, port)) if !n.ends_with(':') && port.chars().all(|c| c.is_ascii_digit()) => n,
            _ => host,
        };
        host.eq_ignore_ascii_case(&self.listen.to_string())
            || self
                .tls
                .as_ref()
                .is_some_and(|t| host.eq_ignore_ascii_case(&t.listen.to_string()))
            || ["localhost", "127.0.0.1", "[::1]"]
                .iter()
                .any(|l| name.eq_ignore_ascii_case(l))
            || self.allowed_hosts.iter().any(|a| {
                let a = a.trim();
                a.eq_ignore_ascii_case(host) || (!a.contains(':') && a.eq_ignore_ascii_case(name))
            })
    }

    /// Defaults for tests and embedding: an ephemeral port on loopback.
    #[must_use]
    pub fn for_data_dir(data_dir: PathBuf) -> Self {
        Self {
            data_dir,
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            database_url: None,
            public_url: None,
            allowed_hosts: Vec::new(),
            admin_key: None,
            admin_remote: false,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            seed: None,
            no_demo: false,
            processing_mode: None,
            no_worker: false,
            header_read_timeout: DEFAULT_HEADER_READ_TIMEOUT,
            body_read_timeout: DEFAULT_BODY_READ_TIMEOUT,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            shutdown_timeout: DEFAULT_SHUTDOWN_TIMEOUT,
            expensive_per_caller: DEFAULT_EXPENSIVE_PER_CALLER,
            expensive_total: DEFAULT_EXPENSIVE_TOTAL,
            expensive_wait: DEFAULT_EXPENSIVE_WAIT,
            audit_retention_days: DEFAULT_AUDIT_RETENTION_DAYS,
            tls: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(public: Option<&str>, allowed: &[&str]) -> Config {
        let mut c = Config::for_data_dir(PathBuf::from("/tmp/x"));
        c.listen = SocketAddr::from(([10, 0, 0, 5], 5066));
        c.public_url = public.map(str::to_owned);
        c.allowed_hosts = allowed.iter().map(|s| (*s).to_owned()).collect();
        c
    }

    #[test]
    fn links_are_built_on_allowed_hosts_only() {
        let c = config(None, &["allot.internal", "gw.example:8443"]);
        for (host, base) in [
            (Some("10.0.0.5:5066"), "http://10.0.0.5:5066"),
            (Some("localhost:5066"), "http://localhost:5066"),
            (Some("LOCALHOST:9000"), "http://LOCALHOST:9000"),
            (Some("127.0.0.1"), "http://127.0.0.1"),
            (Some("[::1]:5066"), "http://[::1]:5066"),
            (Some("allot.internal:80"), "http://allot.internal:80"),
            (Some("gw.example:8443"), "http://gw.example:8443"),
            // Anything else falls back to the listen address.
            (Some("gw.example:9999"), "http://10.0.0.5:5066"),
            (Some("evil.example"), "http://10.0.0.5:5066"),
            (Some("localhost.evil.example"), "http://10.0.0.5:5066"),
            (Some("localhost@evil.example"), "http://10.0.0.5:5066"),
            (Some("localhost/evil"), "http://10.0.0.5:5066"),
            (Some(""), "http://10.0.0.5:5066"),
            (None, "http://10.0.0.5:5066"),
        ] {
            assert_eq!(c.link_base(host, Scheme::Http), base, "{host:?}");
        }
        let p = config(Some("https://allot.example"), &[]);
        assert_eq!(
            p.link_base(Some("localhost:5066"), Scheme::Http),
            "https://allot.example"
        );
    }
}
