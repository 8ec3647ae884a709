//! Certificate credentials at the token endpoint: client assertions signed with a certificate's
//! key, and each way Entra refuses one.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::Method;
use serde_json::{Value, json};

use crate::e2e;
use crate::helpers::*;

const T: &str = "5a1d0000-c0de-4c0e-a000-0000000000a5";
const APP: &str = "5a1d0000-c0de-4a99-a000-0000000000a5";
const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// An RSA key and a self-signed certificate for it (what `openssl req -x509` makes).
struct Credential {
    pem: String,
    key_pem: String,
    der: Vec<u8>,
}

fn credential(name: &str) -> Credential {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256).expect("RSA key");
    let cert = rcgen::CertificateParams::new(vec![name.to_owned()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    Credential {
        pem: cert.pem(),
        key_pem: key.serialize_pem(),
        der: cert.der().to_vec(),
    }
}

fn thumbprint(der: &[u8], sha256: bool) -> String {
    let alg = if sha256 {
        &aws_lc_rs::digest::SHA256
    } else {
        &aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY
    };
    URL_SAFE_NO_PAD.encode(aws_lc_rs::digest::digest(alg, der).as_ref())
}

/// A client assertion: `claims` signed by `signer`'s key, naming `named`'s certificate.
fn assertion(
    signer: &Credential,
    named: &Credential,
    alg: Algorithm,
    sha256: bool,
    claims: &Value,
) -> String {
    let mut header = Header::new(alg);
    if sha256 {
        header.x5t_s256 = Some(thumbprint(&named.der, true));
    } else {
        header.x5t = Some(thumbprint(&named.der, false));
    }
    let key = EncodingKey::from_rsa_pem(signer.key_pem.as_bytes()).expect("key");
    jsonwebtoken::encode(&header, claims, &key).expect("sign")
}

fn claims(app: &TestApp, exp_offset: i64) -> Value {
    let now = chrono::Utc::now().timestamp();
    json!({
        "aud": app.url(&format!("/{T}/oauth2/v2.0/token")),
        "iss": APP,
        "sub": APP,
        "jti": uuid::Uuid::new_v4().to_string(),
        "nbf": now - 60,
        "iat": now - 60,
        "exp": now + exp_offset,
    })
}

async fn redeem(app: &TestApp, assertion: &str) -> Resp {
    app.token_request(
        T,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", APP),
            ("client_assertion_type", JWT_BEARER),
            ("client_assertion", assertion),
            ("scope", "https://graph.microsoft.com/.default"),
        ],
    )
    .await
}

#[track_caller]
fn refused(r: &Resp, code: u64) {
    assert_eq!(r.status, 401, "{}", r.text);
    let v = r.json();
    assert_eq!(v["error"], "invalid_client", "{}", r.text);
    assert_eq!(v["error_codes"], json!([code]), "{}", r.text);
    assert!(
        v["error_description"]
            .as_str()
            .unwrap()
            .starts_with(&format!("AADSTS{code}: ")),
        "{}",
        r.text
    );
}

e2e!(certificate_credentials_are_validated_as_entra_does, |app| {
    let held = credential("allot-app");
    let other = credential("someone-else");
    let tenant = json!({"tenants": [{
        "displayName": "Cert Co", "defaultDomain": "cert.example", "id": T,
        "subscriptions": [{"sku": "ENTERPRISEPACK", "enabled": 5}],
        "apps": [{"clientId": APP, "displayName": "Cert app", "clientSecret": "unused-secret",
                  "applicationPermissions": ["Organization.Read.All"], "certificates": [held.pem]}],
    }]});
    let r = app
        .admin(Method::POST, "/_allot/tenants", Some(tenant.to_string()))
        .await;
    assert_eq!(r.status, 201, "{}", r.text);

    // RS256 with x5t, and PS256 with x5t#S256: tokens that read Graph.
    for (alg, sha256) in [(Algorithm::RS256, false), (Algorithm::PS256, true)] {
        let a = assertion(&held, &held, alg, sha256, &claims(&app, 600));
        let token = redeem(&app, &a).await.ok()["access_token"]
            .as_str()
            .unwrap()
            .to_owned();
        assert_eq!(claims_of(&token)["appid"], APP);
        let r = app
            .send(Method::GET, "/v1.0/subscribedSkus", Some(&token), None)
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
    }
    // The same assertion twice: its jti is spent.
    let a = assertion(&held, &held, Algorithm::RS256, false, &claims(&app, 600));
    assert_eq!(redeem(&app, &a).await.status, 200);
    refused(&redeem(&app, &a).await, 50013);
    // Expired (beyond the five minutes of skew).
    refused(
        &redeem(
            &app,
            &assertion(&held, &held, Algorithm::RS256, false, &claims(&app, -3600)),
        )
        .await,
        700_024,
    );
    // For another audience.
    let mut c = claims(&app, 600);
    c["aud"] = json!("https://login.microsoftonline.com/another-tenant/oauth2/v2.0/token");
    refused(
        &redeem(&app, &assertion(&held, &held, Algorithm::RS256, false, &c)).await,
        50013,
    );
    // Entra's own token endpoint for this tenant is an accepted audience.
    let mut c = claims(&app, 600);
    c["aud"] = json!(format!("https://login.microsoftonline.com/{T}/oauth2/v2.0/token"));
    assert_eq!(
        redeem(&app, &assertion(&held, &held, Algorithm::RS256, false, &c))
            .await
            .status,
        200
    );
    // A certificate the app does not hold.
    refused(
        &redeem(
            &app,
            &assertion(&other, &other, Algorithm::RS256, false, &claims(&app, 600)),
        )
        .await,
        700_027,
    );
    // The held certificate's thumbprint, another key's signature.
    refused(
        &redeem(
            &app,
            &assertion(&other, &held, Algorithm::RS256, false, &claims(&app, 600)),
        )
        .await,
        700_027,
    );
    // Issued by another client.
    let mut c = claims(&app, 600);
    c["iss"] = json!(DEMO_APP);
    c["sub"] = json!(DEMO_APP);
    refused(
        &redeem(&app, &assertion(&held, &held, Algorithm::RS256, false, &c)).await,
        700_021,
    );
    // Garbage.
    refused(&redeem(&app, "not.a.jwt").await, 50027);
});

fn claims_of(token: &str) -> Value {
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}
