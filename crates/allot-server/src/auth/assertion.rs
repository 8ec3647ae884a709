//! Certificate credentials: a client authenticates with a JWT it signed with the private key of a
//! certificate registered on the app (`client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer`),
//! validated as the Microsoft identity platform does: the header names the certificate by its
//! SHA-1 (`x5t`) or SHA-256 (`x5t#S256`) thumbprint and signs with RS256 or PS256; `aud` is the
//! token endpoint, `iss` and `sub` are the client id, the assertion is within its lifetime
//! (5 minutes of clock skew), and its `jti` is redeemed once.

use allot_store::records::{App, Tenant};
use aws_lc_rs::digest;
use axum::http::StatusCode;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject as _;
use serde::Deserialize;

use super::oauth::OAuthError;
use crate::state::AppState;

pub const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// Clock skew allowed on `exp` and `nbf`.
const LEEWAY_SECS: u64 = 300;

#[derive(Debug, Deserialize)]
struct Claims {
    aud: Audience,
    iss: String,
    sub: String,
    /// A NumericDate: MSAL Python sends fractional seconds.
    exp: f64,
    jti: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Audience {
    One(String),
    Many(Vec<String>),
}

fn invalid_client(code: u32, description: impl Into<String>) -> OAuthError {
    OAuthError::new(StatusCode::UNAUTHORIZED, "invalid_client", code, description)
}

/// The client id an assertion says it is from (unverified): for requests without `client_id`.
#[must_use]
pub fn claimed_client(assertion: &str) -> Option<String> {
    let payload = assertion.split('.').nth(1)?;
    let bytes = URL_SAFE_NO_PAD.decode(payload).ok()?;
    serde_json::from_slice::<serde_json::Value>(&bytes)
        .ok()?
        .get("iss")?
        .as_str()
        .map(str::to_owned)
}

/// The RSA public key (PKCS#1 DER) and the thumbprints of one PEM certificate.
struct Cert {
    sha1: Vec<u8>,
    sha256: Vec<u8>,
    rsa_public_key: Vec<u8>,
}

fn parse(pem: &str) -> Option<Cert> {
    let der = CertificateDer::from_pem_slice(pem.as_bytes()).ok()?;
    let (_, x509) = x509_parser::parse_x509_certificate(der.as_ref()).ok()?;
    Some(Cert {
        sha1: digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, der.as_ref())
            .as_ref()
            .to_vec(),
        sha256: digest::digest(&digest::SHA256, der.as_ref()).as_ref().to_vec(),
        rsa_public_key: x509.public_key().subject_public_key.data.to_vec(),
    })
}

/// Checks `assertion` as `app`'s credential at `tenant`'s token endpoint (`tenant_key` is the path
/// segment the client used).
pub async fn verify(
    state: &AppState,
    app: &App,
    tenant: &Tenant,
    tenant_key: &str,
    assertion: &str,
) -> Result<(), OAuthError> {
    let malformed = || invalid_client(50027, "JWT token is invalid or malformed.");
    let header = jsonwebtoken::decode_header(assertion).map_err(|_| malformed())?;
    if !matches!(header.alg, Algorithm::RS256 | Algorithm::PS256) {
        return Err(invalid_client(
            700_027,
            format!(
                "Client assertion contains an invalid signature. [Reason - The algorithm '{:?}' is not supported; use RS256 or PS256.]",
                header.alg
            ),
        ));
    }
    let (thumb, sha256) = match (&header.x5t, &header.x5t_s256) {
        (_, Some(t)) => (t.clone(), true),
        (Some(t), None) => (t.clone(), false),
        (None, None) => {
            return Err(invalid_client(
                700_027,
                "Client assertion contains an invalid signature. [Reason - The key was not found: the header has neither 'x5t' nor 'x5t#S256'.]",
            ));
        }
    };
    let wanted = URL_SAFE_NO_PAD
        .decode(thumb.trim_end_matches('='))
        .unwrap_or_default();
    let shown: String = wanted.iter().map(|b| format!("{b:02X}")).collect();
    let cert = app
        .certificates
        .iter()
        .filter_map(|pem| parse(pem))
        .find(|c| if sha256 { c.sha256 == wanted } else { c.sha1 == wanted })
        .ok_or_else(|| {
            invalid_client(
                700_027,
                format!(
                    "Client assertion contains an invalid signature. [Reason - The key was not found., Thumbprint of key used by client: '{shown}', Please visit the Azure Portal, Graph Explorer or directly use MS Graph to see configured keys for app Id '{}'.]",
                    app.client_id
                ),
            )
        })?;
    let mut validation = Validation::new(header.alg);
    validation.leeway = LEEWAY_SECS;
    validation.validate_aud = false;
    validation.validate_nbf = true;
    validation.set_required_spec_claims(&["exp", "aud", "iss", "sub"]);
    let claims = jsonwebtoken::decode::<Claims>(assertion, &DecodingKey::from_rsa_der(&cert.rsa_public_key), &validation)
        .map_err(|e| match e.kind() {
            jsonwebtoken::errors::ErrorKind::ExpiredSignature | jsonwebtoken::errors::ErrorKind::ImmatureSignature => {
                invalid_client(
                    700_024,
                    format!(
                        "Client assertion is not within its valid time range. Current time: {}.",
                        chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
                    ),
                )
            }
            jsonwebtoken::errors::ErrorKind::InvalidSignature => invalid_client(
                700_027,
                "Client assertion contains an invalid signature. [Reason - The provided signature value did not match the expected signature value.]",
            ),
            _ => malformed(),
        })?
        .claims;
    let client = app.client_id.to_string();
    if !claims.iss.eq_ignore_ascii_case(&client) || !claims.sub.eq_ignore_ascii_case(&client) {
        return Err(invalid_client(
            700_021,
            "Client assertion application identifier doesn't match 'client_id' parameter.",
        ));
    }
    let audiences = match claims.aud {
        Audience::One(a) => vec![a],
        Audience::Many(a) => a,
    };
    let accepted = accepted_audiences(tenant, tenant_key);
    if !audiences.iter().any(|a| {
        let a = a.trim_end_matches('/');
        accepted.iter().any(|x| x.eq_ignore_ascii_case(a))
    }) {
        return Err(invalid_client(
            50013,
            format!(
                "Assertion audience claim does not match the required value. The audience in the assertion was '{}' and the expected audience is '{}'.",
                audiences.join(","),
                accepted.first().map_or("", String::as_str)
            ),
        ));
    }
    let Some(jti) = claims.jti.filter(|j| !j.is_empty() && j.len() <= 256) else {
        return Err(invalid_client(
            50027,
            "JWT token is invalid or malformed: the client assertion has no 'jti'.",
        ));
    };
    #[allow(clippy::cast_possible_truncation)] // seconds since 1970 fit an i64 for any real date
    let exp = claims.exp.ceil() as i64;
    let expires = chrono::DateTime::from_timestamp(exp, 0).unwrap_or_else(chrono::Utc::now)
        + chrono::Duration::seconds(i64::try_from(LEEWAY_SECS).unwrap_or(300));
    if !state.store.redeem_assertion(app.client_id, &jti, expires).await? {
        return Err(invalid_client(
            50013,
            "Assertion failed validation: its 'jti' has already been used; a client assertion can be redeemed once.",
        ));
    }
    Ok(())
}

/// The token endpoint URLs an assertion may be addressed to: on the host the client used and on
/// Entra's, by tenant id, domain or the path segment used, v2.0 and v1.
fn accepted_audiences(tenant: &Tenant, tenant_key: &str) -> Vec<String> {
    let base = crate::graph::base_url();
    let mut out = Vec::new();
    for host in [base.as_str(), "https://login.microsoftonline.com"] {
        for seg in [
            tenant.id.to_string(),
            tenant.default_domain.clone(),
            tenant_key.to_owned(),
        ] {
            out.push(format!("{host}/{seg}/oauth2/v2.0/token"));
            out.push(format!("{host}/{seg}/oauth2/token"));
        }
    }
    out
}
