//! A hostile-input corpus over the three surfaces: well over a thousand distinct requests made
//! of injection strings, broken GUIDs, Unicode oddities, control characters, absurd numbers and
//! depths, in every query option, path key and body field a client controls. Every answer is
//! below 500 and in its surface's envelope, and the server and its data are intact afterwards.

use std::collections::BTreeSet;

use reqwest::Method;
use serde_json::{Value, json};

use crate::e2e;
use crate::helpers::*;

/// The hostile values everything below is built from.
fn values() -> Vec<String> {
    let mut v: Vec<String> = [
        "'",
        "''",
        "\"",
        "' or 1=1--",
        "'; DROP TABLE users;--",
        "1; DELETE FROM license_assignments",
        "%00",
        "\u{0}",
        "\u{202e}",
        "\u{feff}",
        "\u{fffd}",
        "💩",
        "é",
        "\\",
        "\\u0000",
        "\r\n",
        "\t",
        "(",
        ")",
        "((((",
        "))))",
        ",",
        ";",
        ":",
        "/",
        "$",
        "$count",
        "@",
        "*",
        "%",
        "%%",
        "%zz",
        "&",
        "=",
        "?",
        "#",
        "null",
        "true",
        "-1",
        "0",
        "1e309",
        "9223372036854775808",
        "-9223372036854775809",
        "NaN",
        "Infinity",
        "00000000-0000-0000-0000-000000000000",
        "6fd2c87f-b296-42f0-b197-1e91e994b90",
        "6fd2c87f-b296-42f0-b197-1e91e994b900x",
        "{6fd2c87f-b296-42f0-b197-1e91e994b900}",
        "6FD2C87FB29642F0B1971E91E994B900",
        "2024-02-30",
        "T25:61Z",
        "displayName eq",
        "eq eq eq",
        "not not not",
        "any(",
        "x:x/",
        "/any(x:x/skuId eq ",
        "startswith(",
        "<script>",
        "${jndi:x}",
        "../../etc/passwd",
        "..%2f..%2f",
        "%2e%2e%2f",
        " ",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    v.push("(".repeat(5_000));
    v.push(format!("id in ({})", vec!["'a'"; 3_000].join(",")));
    v.push("x".repeat(20_000));
    v.push(format!("displayName eq '{}'", "é".repeat(3_000)));
    v
}

fn enc(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// One request of the corpus: method, path, token, body, extra headers.
type Hostile = (
    Method,
    String,
    String,
    Option<Value>,
    Vec<(&'static str, &'static str)>,
);

/// Below 500, and an error (if it is one) in the surface's own body.
fn in_envelope(path: &str, r: &Resp) {
    let status = r.status.as_u16();
    assert!(status < 500, "{path}: {status} {}", r.text);
    if status < 400 || r.text.is_empty() && (status == 204 || status == 304) {
        return;
    }
    let v: Value = serde_json::from_str(&r.text)
        .unwrap_or_else(|e| panic!("{path}: {status} not JSON ({e}): {}", r.text));
    if path.starts_with("/v1/") {
        assert_eq!(v["source"], "PartnerFD", "{path}: {}", r.text);
        assert!(v["code"].is_number(), "{path}: {}", r.text);
    } else {
        assert!(v["error"]["code"].is_string(), "{path}: {}", r.text);
        assert!(v["error"]["message"].is_string(), "{path}: {}", r.text);
    }
}

e2e!(a_thousand_hostile_inputs_get_answers_in_their_envelopes, |app| {
    let pc = crate::partner::pc_token(&app).await;
    let graph = app.token.clone();
    let customer = format!("/v1/customers/{DEMO_TENANT}");
    let group = app.get("/v1.0/groups?$top=1").await.ok()["value"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut requests: Vec<Hostile> = Vec::new();
    let eventual = vec![("ConsistencyLevel", "eventual")];
    for v in values() {
        let e = enc(&v);
        for option in [
            "$filter",
            "$search",
            "$select",
            "$expand",
            "$orderby",
            "$top",
            "$skiptoken",
            "$count",
        ] {
            for collection in ["/v1.0/users", "/v1.0/groups"] {
                requests.push((
                    Method::GET,
                    format!("{collection}?{option}={e}"),
                    graph.clone(),
                    None,
                    eventual.clone(),
                ));
            }
        }
        requests.push((
            Method::GET,
            format!("/v1.0/groups/{group}/members?$filter={e}&$count=true"),
            graph.clone(),
            None,
            eventual.clone(),
        ));
        requests.push((
            Method::GET,
            format!("/v1.0/users/{e}"),
            graph.clone(),
            None,
            vec![],
        ));
        requests.push((
            Method::GET,
            format!("/v1.0/users/{e}/licenseDetails"),
            graph.clone(),
            None,
            vec![],
        ));
        requests.push((
            Method::GET,
            format!("/beta/admin/cloudLicensing/allotments?$filter={e}"),
            graph.clone(),
            None,
            vec![],
        ));
        requests.push((
            Method::GET,
            format!("/beta/admin/cloudLicensing/assignments?$expand={e}"),
            graph.clone(),
            None,
            vec![],
        ));
        requests.push((
            Method::GET,
            format!("/beta/users/{e}/cloudLicensing/usageRights"),
            graph.clone(),
            None,
            vec![],
        ));
        requests.push((
            Method::POST,
            "/v1.0/users/yukit@contoso.example/assignLicense".into(),
            graph.clone(),
            Some(json!({"addLicenses": [{"skuId": v, "disabledPlans": [v]}], "removeLicenses": []})),
            vec![],
        ));
        requests.push((
            Method::POST,
            "/v1.0/users".into(),
            graph.clone(),
            Some(
                json!({"accountEnabled": true, "displayName": v, "mailNickname": v,
                        "userPrincipalName": format!("{v}@contoso.example"),
                        "passwordProfile": {"password": v}}),
            ),
            vec![],
        ));
        requests.push((
            Method::PATCH,
            "/v1.0/users/yukit@contoso.example".into(),
            graph.clone(),
            Some(json!({"usageLocation": v})),
            vec![],
        ));
        requests.push((
            Method::POST,
            "/beta/admin/cloudLicensing/assignments".into(),
            graph.clone(),
            Some(json!({"allotment@odata.bind": v, "assignedTo@odata.bind": v})),
            vec![],
        ));
        requests.push((
            Method::GET,
            format!("{customer}/users?filter={e}"),
            pc.clone(),
            None,
            vec![],
        ));
        requests.push((
            Method::GET,
            format!("{customer}/users?size={e}"),
            pc.clone(),
            None,
            vec![],
        ));
        requests.push((
            Method::GET,
            format!("{customer}/users/{e}/licenses"),
            pc.clone(),
            None,
            vec![],
        ));
        requests.push((
            Method::GET,
            format!("/v1/customers/{e}/subscribedskus"),
            pc.clone(),
            None,
            vec![],
        ));
        requests.push((
            Method::POST,
            format!("{customer}/users/yukit@contoso.example/licenseupdates"),
            pc.clone(),
            Some(json!({"LicensesToAssign": [{"SkuId": v, "ExcludedPlans": [v]}]})),
            vec![],
        ));
        requests.push((
            Method::POST,
            format!("{customer}/users"),
            pc.clone(),
            Some(json!({"userPrincipalName": v, "displayName": v, "passwordProfile": {"password": v}})),
            vec![],
        ));
    }
    let distinct: BTreeSet<String> = requests
        .iter()
        .map(|(m, p, _, b, _)| {
            format!(
                "{m} {p} {}",
                b.as_ref().map(ToString::to_string).unwrap_or_default()
            )
        })
        .collect();
    assert!(distinct.len() >= 1_000, "{} distinct inputs", distinct.len());
    for (method, path, token, body, headers) in &requests {
        let r = app
            .send_with(method.clone(), path, Some(token), body.clone(), headers)
            .await;
        in_envelope(path, &r);
    }
    // Bodies that are not JSON at all, on every write of the three surfaces.
    let writes = [
        ("/v1.0/users", graph.as_str()),
        ("/v1.0/users/yukit@contoso.example/assignLicense", graph.as_str()),
        ("/beta/admin/cloudLicensing/assignments", graph.as_str()),
        (&*format!("{customer}/users"), pc.as_str()),
    ];
    for raw in [
        "{",
        "[]",
        "\"x\"",
        "{\"a\":}",
        "{\"a\": 1e999}",
        &"[".repeat(10_000),
        "\u{feff}{}",
        "null",
    ] {
        for (path, token) in &writes {
            let r = read(
                app.client
                    .post(app.url(path))
                    .bearer_auth(token)
                    .header("Content-Type", "application/json")
                    .body(raw.to_owned())
                    .send()
                    .await
                    .unwrap(),
            )
            .await;
            in_envelope(path, &r);
        }
    }
    eprintln!(
        "hostile corpus: {} distinct requests, every answer below 500 in its envelope",
        distinct.len()
    );
    // Alive, and nothing was written by the refused requests beyond what was allowed.
    assert_eq!(app.get("/v1.0/subscribedSkus").await.status, 200);
    let report = app.state.store.check().await.unwrap();
    assert!(report.problems.is_empty(), "{:?}", report.problems);
});
