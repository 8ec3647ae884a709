//! HTTPS: the server certificate Allot presents and the local certificate authority that signs it.
//!
//! With `--tls` and no certificate of its own, Allot keeps a certificate authority in
//! `DATA_DIR/tls/ca.pem` (its key in `ca-key.pem`, created at first start) and issues itself, at
//! every start, a server certificate for `localhost`, `127.0.0.1`, `::1`, the `--public-url` host
//! and each `--allowed-host` (`server.pem`, `server-key.pem`). Clients trust `ca.pem`
//! (`SSL_CERT_FILE`/`REQUESTS_CA_BUNDLE` for Python, `NODE_EXTRA_CA_CERTS` for Node). Nodes that
//! share one CA (the same `tls` directory copied to each data directory) are trusted through the one
//! CA file; `--tls-cert`/`--tls-key` serve a certificate of your own instead. Keys and signatures
//! are rcgen's and rustls's (aws-lc-rs), never hand-made.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context as _, bail};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;

/// Makes aws-lc-rs the process's TLS crypto (what rustls and the HTTP client use); idempotent.
/// `main`, `Application::build` and the tests' clients call it before any TLS is set up.
pub fn install_crypto() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    });
}

/// Microsoft's host names that zero-change mode answers for: Graph, the identity platform and
/// Partner Center. One router serves them all (their paths do not overlap: `/v1.0` and `/beta`,
/// `/{tenant}/oauth2/…` and `/common/discovery/…`, `/v1`).
pub const MICROSOFT_HOSTS: &[&str] = &[
    "graph.microsoft.com",
    "login.microsoftonline.com",
    "api.partnercenter.microsoft.com",
];

/// Where the certificate comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// Allot's own CA in the data directory signs a certificate for these names.
    Local { names: Vec<String> },
    /// A certificate chain and key of your own (PEM files).
    Files { cert: PathBuf, key: PathBuf },
}

/// The acceptor for the HTTPS listener, and the CA file clients should trust (local CA only).
pub struct Tls {
    pub acceptor: TlsAcceptor,
    pub ca_file: Option<PathBuf>,
}

/// The names the local certificate covers: loopback, and the hosts links may be built on.
#[must_use]
pub fn local_names(public_url: Option<&str>, allowed_hosts: &[String]) -> Vec<String> {
    let mut names: Vec<String> = ["localhost", "127.0.0.1", "::1"]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    let host_of = |h: &str| -> String {
        let h = h.trim();
        let h = h.split_once("://").map_or(h, |(_, rest)| rest);
        let h = h.split(['/', '?']).next().unwrap_or_default();
        match h.strip_prefix('[').and_then(|r| r.split_once(']')) {
            Some((ip6, _)) => ip6.to_owned(),
            None => h.rsplit_once(':').map_or(h, |(n, _)| n).to_owned(),
        }
    };
    for h in public_url
        .into_iter()
        .chain(allowed_hosts.iter().map(String::as_str))
    {
        let name = host_of(h).to_ascii_lowercase();
        if !name.is_empty() && !names.contains(&name) {
            names.push(name);
        }
    }
    names
}

/// Loads (or creates) the certificate and builds the acceptor.
pub fn load(source: &Source, data_dir: &Path) -> anyhow::Result<Tls> {
    let (chain, key, ca_file) = match source {
        Source::Files { cert, key } => {
            let chain = CertificateDer::pem_file_iter(cert)
                .with_context(|| format!("cannot read the certificate {}", cert.display()))?
                .collect::<Result<Vec<_>, _>>()
                .with_context(|| format!("{} is not a PEM certificate chain", cert.display()))?;
            if chain.is_empty() {
                bail!("{} holds no certificate", cert.display());
            }
            let key = PrivateKeyDer::from_pem_file(key)
                .with_context(|| format!("cannot read a PEM private key from {}", key.display()))?;
            (chain, key, None)
        }
        Source::Local { names } => {
            let (chain, key, ca) = local(&data_dir.join("tls"), names)?;
            (chain, key, Some(ca))
        }
    };
    let mut config =
        rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
            .with_safe_default_protocol_versions()
            .context("TLS protocol versions")?
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .context("the certificate and key do not fit together")?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Tls {
        acceptor: TlsAcceptor::from(Arc::new(config)),
        ca_file,
    })
}

/// The local CA (created once) and a fresh server certificate it signs for `names`.
fn local(
    dir: &Path,
    names: &[String],
) -> anyhow::Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>, PathBuf)> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let (ca_file, ca_key_file) = (dir.join("ca.pem"), dir.join("ca-key.pem"));
    let (ca_pem, ca_key) = if ca_file.exists() && ca_key_file.exists() {
        let key = KeyPair::from_pem(&read(&ca_key_file)?).context("ca-key.pem is not a private key")?;
        (read(&ca_file)?, key)
    } else {
        let key = KeyPair::generate().context("generating the CA key")?;
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(DnType::CommonName, "Allot local certificate authority");
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        params.not_before = rcgen::date_time_ymd(2025, 1, 1);
        params.not_after = rcgen::date_time_ymd(2045, 1, 1);
        let cert = params.self_signed(&key).context("signing the CA certificate")?;
        write(&ca_key_file, &key.serialize_pem(), true)?;
        write(&ca_file, &cert.pem(), false)?;
        (cert.pem(), key)
    };
    let issuer = Issuer::from_ca_cert_pem(&ca_pem, ca_key).context("ca.pem is not a CA certificate")?;
    let key = KeyPair::generate().context("generating the server key")?;
    let mut params =
        CertificateParams::new(names.to_vec()).context("a host name the certificate cannot hold")?;
    params.distinguished_name.push(
        DnType::CommonName,
        names.first().map_or("localhost", String::as_str),
    );
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.not_before = rcgen::date_time_ymd(2025, 1, 1);
    params.not_after = rcgen::date_time_ymd(2045, 1, 1);
    let cert = params
        .signed_by(&key, &issuer)
        .context("signing the server certificate")?;
    write(
        &dir.join("server.pem"),
        &format!("{}{}", cert.pem(), ca_pem),
        false,
    )?;
    write(&dir.join("server-key.pem"), &key.serialize_pem(), true)?;
    let ca_der = CertificateDer::from_pem_slice(ca_pem.as_bytes()).context("ca.pem")?;
    let key_der = PrivateKeyDer::from_pem_slice(key.serialize_pem().as_bytes()).context("server key")?;
    Ok((vec![cert.der().clone(), ca_der], key_der, ca_file))
}

fn read(path: &Path) -> anyhow::Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
}

fn write(path: &Path, text: &str, secret: bool) -> anyhow::Result<()> {
    std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))?;
    if secret {
        crate::app::restrict(path);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_names_cover_loopback_and_the_public_host() {
        let n = local_names(
            Some("https://allot.example:8443/base"),
            &["node2:5067".to_owned(), "LOCALHOST".to_owned()],
        );
        assert_eq!(n, ["localhost", "127.0.0.1", "::1", "allot.example", "node2"]);
        assert_eq!(local_names(Some("http://[fd00::1]:80"), &[])[3], "fd00::1");
    }

    #[test]
    fn the_ca_is_kept_and_the_server_certificate_reissued() {
        let dir = std::env::temp_dir().join(format!("allot-tls-{}", uuid::Uuid::new_v4()));
        let names = local_names(None, &[]);
        let first = load(&Source::Local { names: names.clone() }, &dir).unwrap();
        let ca = std::fs::read_to_string(first.ca_file.as_ref().unwrap()).unwrap();
        let _second = load(&Source::Local { names }, &dir).unwrap();
        assert_eq!(
            std::fs::read_to_string(dir.join("tls/ca.pem")).unwrap(),
            ca,
            "the CA survives restarts"
        );
        let own = load(
            &Source::Files {
                cert: dir.join("tls/server.pem"),
                key: dir.join("tls/server-key.pem"),
            },
            &dir,
        )
        .unwrap();
        assert!(own.ca_file.is_none());
        assert!(
            load(
                &Source::Files {
                    cert: dir.join("nope.pem"),
                    key: dir.join("nope.pem")
                },
                &dir
            )
            .is_err()
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
