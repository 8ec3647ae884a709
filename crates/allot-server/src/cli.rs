//! The `allot` command line: `serve`, `token`, `seed`, `migrate`. Every flag also reads an
//! `ALLOT_*` environment variable (the flag wins).

use std::net::SocketAddr;
use std::path::PathBuf;

use allot_core::ids::AppId;
use allot_core::tenant_file::TenantFile;
use allot_store::Store;
use allot_store::group_licensing::ProcessingMode;
use anyhow::{Context as _, bail};
use clap::{Args, Parser, Subcommand};

use crate::app::Application;
use crate::auth::keys;
use crate::auth::oauth::{granted_scopes, parse_scope};
use crate::auth::tokens::TokenService;
use crate::config::{Config, DEFAULT_LISTEN, DEFAULT_MAX_BODY_BYTES, DEFAULT_TLS_LISTEN};

/// The demo tenant's domain and app (see `crates/allot-core/data/demo-tenant.yaml`).
pub const DEMO_DOMAIN: &str = "contoso.example";
pub const DEMO_CLIENT_ID: &str = "5a1d0000-c0de-4a99-a000-00000000a001";
pub const DEMO_CLIENT_SECRET: &str = "allot-demo-secret";

#[derive(Debug, Parser)]
#[command(
    name = "allot",
    version,
    about = "A self-hosted Microsoft 365 licensing server (Graph licensing API)."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server (SQLite in the data directory by default; seeds the demo tenant on first start).
    Serve(ServeArgs),
    /// Print a bearer token (app-only by default; delegated with --user) and nothing else.
    Token(TokenArgs),
    /// Apply a tenant file (YAML or JSON) to the database; applying it twice changes nothing.
    Seed(SeedArgs),
    /// Create or upgrade the database schema.
    Migrate(DbArgs),
    /// Measure the performance budgets (see docs/benchmarks.md).
    Bench(crate::bench::BenchArgs),
    /// Verify the licensing invariants over the whole database; exits 1 with a report if one fails.
    Check(DbArgs),
}

#[derive(Debug, Clone, Args)]
pub struct DbArgs {
    /// Data directory (holds the SQLite database, allot.db, and the admin key).
    #[arg(long, env = "ALLOT_DATA_DIR", default_value = "./allot-data")]
    pub data_dir: PathBuf,
    /// Database URL (sqlite://PATH or postgres://USER@HOST/DB); overrides --data-dir's database.
    #[arg(long, env = "ALLOT_DATABASE_URL")]
    pub database_url: Option<String>,
}

impl DbArgs {
    fn url(&self) -> String {
        self.database_url
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}", self.data_dir.join("allot.db").display()))
    }

    async fn open(&self) -> anyhow::Result<Store> {
        if self.database_url.is_none() {
            std::fs::create_dir_all(&self.data_dir)
                .with_context(|| format!("cannot create the data directory {}", self.data_dir.display()))?;
        }
        let store = Store::connect(&self.url())
            .await
            .with_context(|| format!("cannot open {}", self.url()))?;
        store.migrate().await.context("database migration failed")?;
        Ok(store)
    }
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub db: DbArgs,
    /// Address to listen on.
    #[arg(long, env = "ALLOT_LISTEN", default_value = DEFAULT_LISTEN)]
    pub listen: SocketAddr,
    /// A tenant file to apply at start.
    #[arg(long, env = "ALLOT_SEED")]
    pub seed: Option<PathBuf>,
    /// Externally visible base URL (links, token issuer); default: derived from each request's
    /// Host when it is the listen address, a loopback name or an --allowed-host.
    #[arg(long, env = "ALLOT_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// A Host (name, or name:port) links may be built on without --public-url; repeatable, or
    /// comma-separated in the environment variable.
    #[arg(long = "allowed-host", env = "ALLOT_ALLOWED_HOSTS", value_delimiter = ',')]
    pub allowed_hosts: Vec<String>,
    /// Admin API key; default: generated at first start, printed once and kept in DATA_DIR/admin-key.
    #[arg(long, env = "ALLOT_ADMIN_KEY", hide_env_values = true)]
    pub admin_key: Option<String>,
    /// Let the admin API answer non-loopback clients.
    #[arg(long, env = "ALLOT_ADMIN_REMOTE")]
    pub admin_remote: bool,
    /// Largest request body accepted, in bytes.
    #[arg(long, env = "ALLOT_MAX_BODY_BYTES", default_value_t = DEFAULT_MAX_BODY_BYTES)]
    pub max_body_bytes: usize,
    /// Do not create the demo tenant on a fresh database.
    #[arg(long, env = "ALLOT_NO_DEMO")]
    pub no_demo: bool,
    /// Default licensing processing mode for every tenant without its own: async, sync or manual.
    #[arg(long, env = "ALLOT_PROCESSING_MODE", value_parser = parse_mode)]
    pub processing_mode: Option<ProcessingMode>,
    /// Serve the API without the background licensing worker (other nodes run it).
    #[arg(long, env = "ALLOT_NO_WORKER", conflicts_with = "worker_only")]
    pub no_worker: bool,
    /// Seconds a client has to send a request head (also the idle limit of a kept-alive
    /// connection).
    #[arg(long, env = "ALLOT_HEADER_TIMEOUT", default_value_t = crate::config::DEFAULT_HEADER_READ_TIMEOUT.as_secs())]
    pub header_timeout: u64,
    /// Seconds a client has to send a request body (else 408).
    #[arg(long, env = "ALLOT_BODY_TIMEOUT", default_value_t = crate::config::DEFAULT_BODY_READ_TIMEOUT.as_secs())]
    pub body_timeout: u64,
    /// Connections served at once; one more is answered 503 and closed.
    #[arg(long, env = "ALLOT_MAX_CONNECTIONS", default_value_t = crate::config::DEFAULT_MAX_CONNECTIONS)]
    pub max_connections: usize,
    /// Expensive requests ($filter, $search, $count, large pages) one caller runs at once.
    #[arg(long, env = "ALLOT_EXPENSIVE_PER_CALLER", default_value_t = crate::config::DEFAULT_EXPENSIVE_PER_CALLER)]
    pub expensive_per_caller: usize,
    /// Expensive requests all callers run at once.
    #[arg(long, env = "ALLOT_EXPENSIVE_TOTAL", default_value_t = crate::config::DEFAULT_EXPENSIVE_TOTAL)]
    pub expensive_total: usize,
    /// Seconds an expensive request waits for its turn before a 429 with Retry-After.
    #[arg(long, env = "ALLOT_EXPENSIVE_WAIT", default_value_t = crate::config::DEFAULT_EXPENSIVE_WAIT.as_secs())]
    pub expensive_wait: u64,
    /// Days audit records are kept (`auditLogs/directoryAudits`); older ones are purged.
    #[arg(long, env = "ALLOT_AUDIT_RETENTION_DAYS", default_value_t = crate::config::DEFAULT_AUDIT_RETENTION_DAYS)]
    pub audit_retention_days: u32,
    /// Seconds a shutdown (SIGTERM, Ctrl-C) waits for requests in flight.
    #[arg(long, env = "ALLOT_SHUTDOWN_TIMEOUT", default_value_t = crate::config::DEFAULT_SHUTDOWN_TIMEOUT.as_secs())]
    pub shutdown_timeout: u64,
    /// Also serve HTTPS (on --tls-listen), with a certificate from Allot's own CA in
    /// DATA_DIR/tls unless --tls-cert and --tls-key name yours.
    #[arg(long, env = "ALLOT_TLS")]
    pub tls: bool,
    /// Address of the HTTPS listener.
    #[arg(long, env = "ALLOT_TLS_LISTEN", default_value = DEFAULT_TLS_LISTEN)]
    pub tls_listen: SocketAddr,
    /// A PEM certificate chain to serve HTTPS with (implies --tls; needs --tls-key).
    #[arg(long, env = "ALLOT_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert.
    #[arg(long, env = "ALLOT_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Zero-change mode: the local certificate also names graph.microsoft.com,
    /// login.microsoftonline.com and api.partnercenter.microsoft.com, and links are built on
    /// those names, so code that cannot change its URLs runs once they resolve to Allot (a hosts
    /// entry, a container's DNS) and the CA is trusted (implies --tls).
    #[arg(long, env = "ALLOT_TLS_MICROSOFT_HOSTS")]
    pub tls_microsoft_hosts: bool,
    /// Run only the licensing worker: no HTTP listener.
    #[arg(long, env = "ALLOT_WORKER_ONLY")]
    pub worker_only: bool,
}

fn parse_mode(s: &str) -> Result<ProcessingMode, String> {
    ProcessingMode::parse(s).ok_or_else(|| format!("'{s}' is not async, sync or manual"))
}

#[derive(Debug, Args)]
pub struct TokenArgs {
    #[command(flatten)]
    pub db: DbArgs,
    /// Tenant id or domain.
    #[arg(long, default_value = DEMO_DOMAIN)]
    pub tenant: String,
    /// Client id of the app (default: the tenant's demo app, else its first app).
    #[arg(long, conflicts_with = "user")]
    pub app: Option<String>,
    /// Mint a delegated token for this user principal name (through the tenant's first app).
    #[arg(long)]
    pub user: Option<String>,
    /// OAuth v2 scope; picks the audience.
    #[arg(long, default_value = "https://graph.microsoft.com/.default")]
    pub scope: String,
}

#[derive(Debug, Args)]
pub struct SeedArgs {
    /// The tenant file (YAML or JSON).
    pub file: PathBuf,
    #[command(flatten)]
    pub db: DbArgs,
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    crate::tls::install_crypto();
    match cli.command {
        Command::Serve(a) => serve(a).await,
        Command::Token(a) => token(a).await,
        Command::Seed(a) => seed(a).await,
        Command::Bench(a) => crate::bench::run(a).await,
        Command::Check(a) => check(a).await,
        Command::Migrate(a) => {
            a.open().await?;
            println!("database is up to date: {}", a.url());
            Ok(())
        }
    }
}

async fn serve(a: ServeArgs) -> anyhow::Result<()> {
    if a.worker_only {
        let store = a.db.open().await?;
        println!(
            "Allot worker running on {} (no HTTP listener). Press Ctrl-C to stop.",
            a.db.url()
        );
        return crate::app::run_worker_only(store).await;
    }
    let public_url = a.public_url.map(|u| u.trim_end_matches('/').to_owned());
    let mut allowed_hosts = a.allowed_hosts;
    if a.tls_microsoft_hosts {
        allowed_hosts.extend(crate::tls::MICROSOFT_HOSTS.iter().map(|h| (*h).to_owned()));
    }
    let config = Config {
        data_dir: a.db.data_dir.clone(),
        listen: a.listen,
        database_url: a.db.database_url.clone(),
        public_url: public_url.clone(),
        allowed_hosts: allowed_hosts.clone(),
        admin_key: a.admin_key,
        admin_remote: a.admin_remote,
        max_body_bytes: a.max_body_bytes,
        seed: a.seed,
        no_demo: a.no_demo,
        processing_mode: a.processing_mode,
        no_worker: a.no_worker,
        header_read_timeout: std::time::Duration::from_secs(a.header_timeout.max(1)),
        body_read_timeout: std::time::Duration::from_secs(a.body_timeout.max(1)),
        max_connections: a.max_connections.max(1),
        shutdown_timeout: std::time::Duration::from_secs(a.shutdown_timeout),
        expensive_per_caller: a.expensive_per_caller.max(1),
        expensive_total: a.expensive_total.max(1),
        expensive_wait: std::time::Duration::from_secs(a.expensive_wait.max(1)),
        audit_retention_days: a.audit_retention_days.max(1),
        tls: tls_settings(
            &a.tls_cert,
            &a.tls_key,
            a.tls || a.tls_microsoft_hosts,
            a.tls_listen,
            &public_url,
            &allowed_hosts,
        ),
    };
    let app = Application::build(config).await?;
    let info = app.info.clone();
    let store = app.state().store.clone();
    // Ctrl-C and SIGTERM are handled from here on, before the banner says the server is up.
    let serving = app.run_until_stopped();
    let base = &info.base_url;
    println!("Allot is listening on {base}");
    println!("  Graph v1.0:  {base}/v1.0");
    println!("  Graph beta:  {base}/beta");
    if let Some(https) = &info.https_url {
        println!(
            "  HTTPS:       {https}  (Graph at {https}/v1.0, tokens at {https}/<tenant>/oauth2/v2.0/token)"
        );
    }
    if let Some(ca) = &info.ca_file {
        let ca = ca.display();
        println!("  CA file:     {ca}");
        println!("    trust it:  Python  SSL_CERT_FILE={ca} REQUESTS_CA_BUNDLE={ca}");
        println!("               Node    NODE_EXTRA_CA_CERTS={ca}");
    }
    println!("  database:    {}", info.database_url);
    if let Ok(Some(t)) = store.tenant_by_domain(DEMO_DOMAIN).await {
        println!();
        println!("Demo tenant {} ({})", t.default_domain, t.id);
        println!("  token URL:      {base}/{}/oauth2/v2.0/token", t.id);
        println!("  client id:      {DEMO_CLIENT_ID}");
        println!("  client secret:  {DEMO_CLIENT_SECRET}");
        println!("  get a token:    allot token   (or: cargo run -q -p allot-server -- token)");
        println!(
            "  or with curl:   curl -s {base}/{}/oauth2/v2.0/token -d grant_type=client_credentials -d client_id={DEMO_CLIENT_ID} -d client_secret={DEMO_CLIENT_SECRET} -d scope=https://graph.microsoft.com/.default",
            t.id
        );
        println!("  then:           curl -s -H \"Authorization: Bearer $TOKEN\" {base}/v1.0/subscribedSkus");
    }
    if let Some(k) = &info.new_admin_key {
        println!();
        println!("Admin key (shown once; also in the data directory's admin-key file): {k}");
    }
    println!();
    println!("Press Ctrl-C to stop.");
    serving.await?;
    Ok(())
}

/// The HTTPS settings of `allot serve`: `--tls-cert`/`--tls-key` (which imply `--tls`), else
/// Allot's own CA for the loopback names, the public URL's host and the allowed hosts.
fn tls_settings(
    cert: &Option<PathBuf>,
    key: &Option<PathBuf>,
    tls: bool,
    listen: SocketAddr,
    public_url: &Option<String>,
    allowed_hosts: &[String],
) -> Option<crate::config::TlsSettings> {
    let source = match (cert, key) {
        (Some(cert), Some(key)) => crate::tls::Source::Files {
            cert: cert.clone(),
            key: key.clone(),
        },
        _ if tls => crate::tls::Source::Local {
            names: crate::tls::local_names(public_url.as_deref(), allowed_hosts),
        },
        _ => return None,
    };
    Some(crate::config::TlsSettings { listen, source })
}

async fn token(a: TokenArgs) -> anyhow::Result<()> {
    let store = a.db.open().await?;
    let Some(tenant) = store.find_tenant(&a.tenant).await? else {
        bail!("no tenant '{}' in {}", a.tenant, a.db.url())
    };
    let apps = store.apps(tenant.id).await?;
    let app = match &a.app {
        Some(id) => {
            let id = AppId::parse(id).map_err(|e| anyhow::anyhow!("--app: {e}"))?;
            apps.into_iter()
                .find(|x| x.client_id == id)
                .with_context(|| format!("no app {id} in tenant {}", tenant.default_domain))?
        }
        None => {
            let demo = AppId::parse(DEMO_CLIENT_ID)?;
            let first = apps.first().cloned();
            apps.into_iter()
                .find(|x| x.client_id == demo)
                .or(first)
                .with_context(|| format!("tenant {} has no app", tenant.default_domain))?
        }
    };
    let issuer_base = store
        .setting("issuer_base")
        .await?
        .context("the database has no issuer yet: start `allot serve` on it once")?;
    let tokens = TokenService::new(keys::load_or_create(&store).await?, &issuer_base);
    let scope = parse_scope(&a.scope).map_err(|e| anyhow::anyhow!("--scope: {}", e.description))?;
    let token = match &a.user {
        None => {
            if !scope.default {
                bail!("an app-only token needs a /.default scope (got '{}')", a.scope);
            }
            tokens.mint_app(&app, &scope.audience, false)?
        }
        Some(upn) => {
            let user = store
                .user_by_upn(tenant.id, upn)
                .await?
                .with_context(|| format!("no user {upn} in {}", tenant.default_domain))?;
            let scopes = granted_scopes(&app, &scope).map_err(|e| anyhow::anyhow!("{}", e.description))?;
            tokens.mint_user(&app, &user, &scopes, &scope.audience, false)?
        }
    };
    println!("{token}");
    Ok(())
}

async fn seed(a: SeedArgs) -> anyhow::Result<()> {
    let text =
        std::fs::read_to_string(&a.file).with_context(|| format!("cannot read {}", a.file.display()))?;
    let file = TenantFile::parse(&text)?;
    let store = a.db.open().await?;
    let report = store.apply_tenant_file(&file).await?;
    println!(
        "applied {}: {} created, {} updated, {} unchanged",
        a.file.display(),
        report.created,
        report.updated,
        report.unchanged
    );
    Ok(())
}

async fn check(a: DbArgs) -> anyhow::Result<()> {
    let store = a.open().await?;
    let r = store.check().await?;
    println!(
        "checked {}: {} tenants, {} users, {} license assignments",
        a.url(),
        r.tenants,
        r.users,
        r.assignments
    );
    for w in &r.warnings {
        println!("warning: {w}");
    }
    for p in &r.problems {
        println!("PROBLEM: {p}");
    }
    if r.ok() {
        println!("all invariants hold");
        Ok(())
    } else {
        bail!("{} invariant(s) broken", r.problems.len())
    }
}
