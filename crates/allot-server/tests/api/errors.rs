//! Wire-level errors: unknown paths and methods, bodies that are not JSON or too large, and the
//! request ids on every response.

use reqwest::Method;
use serde_json::json;

use crate::e2e;
use crate::helpers::*;

e2e!(unknown_paths_and_methods_get_graphs_envelope, |app| {
    let msg = app
        .get("/v1.0/nothingHere")
        .await
        .graph_error(404, "Request_ResourceNotFound");
    assert_eq!(msg, "Resource not found for the segment 'nothingHere'.");
    app.get("/v2.0/users")
        .await
        .graph_error(404, "Request_ResourceNotFound");
    app.get("/v1.0/users/x/notARelationship")
        .await
        .graph_error(404, "Request_ResourceNotFound");
    let r = app
        .send(Method::PUT, "/v1.0/users", Some(&app.token), Some(json!({})))
        .await;
    assert_eq!(
        r.graph_error(405, "Request_BadRequest"),
        "Specified HTTP method is not allowed for the request uri."
    );
    app.send(Method::DELETE, "/v1.0/subscribedSkus", Some(&app.token), None)
        .await
        .graph_error(405, "Request_BadRequest");
    app.send(Method::GET, "/v1.0/users/x/assignLicense", Some(&app.token), None)
        .await
        .graph_error(405, "Request_BadRequest");
});

e2e!(bodies_that_are_not_json_are_refused, |app| {
    let url = app.url("/v1.0/users");
    let r = read(
        app.client
            .post(&url)
            .bearer_auth(&app.token)
            .header("content-type", "text/plain")
            .body("hi")
            .send()
            .await
            .unwrap(),
    )
    .await;
    r.graph_error(415, "UnsupportedMediaType");
    let r = read(
        app.client
            .post(&url)
            .bearer_auth(&app.token)
            .body("{}")
            .send()
            .await
            .unwrap(),
    )
    .await;
    r.graph_error(415, "UnsupportedMediaType");
    for bad in ["{", "[1,2]", "\"x\"", "{\"a\":}", ""] {
        let r = read(
            app.client
                .post(&url)
                .bearer_auth(&app.token)
                .header("content-type", "application/json")
                .body(bad)
                .send()
                .await
                .unwrap(),
        )
        .await;
        let msg = r.graph_error(400, "BadRequest");
        assert!(
            msg.starts_with("Unable to read JSON request payload."),
            "{bad}: {msg}"
        );
    }
    // The test server's limit is 64 KiB; a body just over it fits the socket buffers, so the client
    // always finishes sending before the 413 arrives.
    let huge = format!("{{\"displayName\":\"{}\"}}", "x".repeat(65 * 1024));
    let r = read(
        app.client
            .post(&url)
            .bearer_auth(&app.token)
            .header("content-type", "application/json")
            .body(huge)
            .send()
            .await
            .unwrap(),
    )
    .await;
    r.graph_error(413, "RequestEntityTooLarge");
    let r = read(
        app.client
            .post(app.url("/v1.0/users/adelev@contoso.example/assignLicense"))
            .bearer_auth(&app.token)
            .header("content-type", "application/json; charset=utf-8")
            .body("{\"addLicenses\":[],\"removeLicenses\":[\"not-a-guid\"]}")
            .send()
            .await
            .unwrap(),
    )
    .await;
    r.graph_error(400, "Request_BadRequest");
});

e2e!(every_response_carries_request_ids, |app| {
    let r = app.get("/v1.0/users?$top=1").await;
    let rid = r.headers.get("request-id").unwrap().to_str().unwrap().to_owned();
    assert!(uuid::Uuid::parse_str(&rid).is_ok());
    assert_eq!(
        r.headers.get("client-request-id").unwrap().to_str().unwrap(),
        rid,
        "echoes request-id when the client sent none"
    );
    assert!(
        r.headers
            .get("content-type")
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let r = read(
        app.client
            .get(app.url("/v1.0/users/ghost@contoso.example"))
            .bearer_auth(&app.token)
            .header("client-request-id", "my-correlation-1")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(r.headers.get("client-request-id").unwrap(), "my-correlation-1");
    let v = r.json();
    assert_eq!(v["error"]["innerError"]["client-request-id"], "my-correlation-1");
    assert_eq!(
        v["error"]["innerError"]["request-id"],
        r.headers.get("request-id").unwrap().to_str().unwrap()
    );
});

e2e!(hostile_input_never_breaks_the_envelope, |app| {
    let long = "a".repeat(10_000);
    let weird = [
        format!("/v1.0/users/{long}"),
        "/v1.0/users/%00%01".to_owned(),
        "/v1.0/users/'%20or%201=1--".to_owned(),
        "/v1.0/groups/%27%3B%20DROP%20TABLE%20users%3B--".to_owned(),
        format!("/v1.0/users?$select={}", "id,".repeat(5000)),
        "/v1.0/users?$top=99999999999999999999999".to_owned(),
        "/v1.0/users?$top=-1".to_owned(),
        "/v1.0/subscribedSkus/%F0%9F%92%A9".to_owned(),
    ];
    for path in weird {
        let r = app.get(&path).await;
        assert!(r.status.is_client_error(), "{path}: {} {}", r.status, r.text);
        let v = r.json();
        assert!(v["error"]["code"].is_string(), "{path}: {}", r.text);
    }
    // The users table is intact.
    assert_eq!(
        app.collect_all("/v1.0/users?$top=999", &app.token).await.0.len(),
        29
    );
});

// The NUL character, in every place a client can put text, is the surface's 400 on both
// backends (PostgreSQL cannot store or compare it; before, several of these were its 500).
e2e!(nul_is_refused_everywhere_with_the_surfaces_400, |app| {
    let app = &app;
    let enc = |s: &str| -> String { form_urlencoded::byte_serialize(s.as_bytes()).collect() };
    // Graph: $filter and $search literals, a body, a path key.
    let r = app
        .get(&format!("/v1.0/users?$filter={}", enc("displayName eq 'a\0b'")))
        .await;
    let msg = r.graph_error(400, "Request_BadRequest");
    assert!(msg.contains("NUL"), "{msg}");
    let r = app
        .send_with(
            Method::GET,
            &format!("/v1.0/users?$search={}&$count=true", enc("\"displayName:a\0\"")),
            Some(&app.token),
            None,
            &[("ConsistencyLevel", "eventual")],
        )
        .await;
    r.graph_error(400, "Request_BadRequest");
    let r = app
        .post(
            "/v1.0/groups",
            json!({"displayName": "G\u{0}", "mailEnabled": false, "mailNickname": "g", "securityEnabled": true}),
        )
        .await;
    r.graph_error(400, "Request_BadRequest");
    app.get(&format!("/v1.0/users/{}", enc("a\0b@contoso.example")))
        .await
        .graph_error(404, "Request_ResourceNotFound");

    // Partner Center: create and update fields, the users filter, a forged continuation token.
    let pc = crate::partner::pc_token(app).await;
    let pc_call = |method: Method,
                   path: String,
                   body: Option<serde_json::Value>,
                   headers: Vec<(&'static str, String)>| {
        let pc = pc.clone();
        async move {
            let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
            app.as_caller(pc).send(method, &path, body, &headers).await
        }
    };
    let users = format!("/v1/customers/{DEMO_TENANT}/users");
    let pc_400 = |r: Resp| {
        assert_eq!(r.status, 400, "{}", r.text);
        assert_eq!(r.json()["code"], 800_002, "{}", r.text);
    };
    pc_400(
        pc_call(
            Method::POST,
            users.clone(),
            Some(json!({"userPrincipalName": "nul@contoso.example", "displayName": "N\u{0}", "passwordProfile": {"password": "Pa55w0rd!"}})),
            vec![],
        )
        .await,
    );
    pc_400(
        pc_call(
            Method::PATCH,
            format!("{users}/yukit@contoso.example"),
            Some(json!({"firstName": "Y\u{0}"})),
            vec![],
        )
        .await,
    );
    let filter = enc(r#"{"Field":"DisplayName","Value":"a"#) + "%00" + &enc(r#"","Operator":"starts_with"}"#);
    pc_400(pc_call(Method::GET, format!("{users}?filter={filter}"), None, vec![]).await);
    use base64::Engine as _;
    let forged = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(
        br#"{"f":{"field":"DisplayName","op":"equals","value":"a\u0000"},"s":"DisplayName","d":false,"n":5}"#,
    );
    pc_400(
        pc_call(
            Method::GET,
            format!("{users}?seekOperation=Next"),
            None,
            vec![("MS-ContinuationToken", forged)],
        )
        .await,
    );
    let r = pc_call(
        Method::GET,
        format!("{users}/{}", enc("a\0b@contoso.example")),
        None,
        vec![],
    )
    .await;
    assert_eq!(r.status, 404, "{}", r.text);

    // A tenant file through the admin API.
    let r = app
        .admin(
            Method::POST,
            "/_allot/tenants",
            Some("tenants:\n  - displayName: \"Nul\\0Corp\"\n    defaultDomain: nul.example\n".to_owned()),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert!(r.text.contains("NUL"), "{}", r.text);
    // Nothing was written, and the server answers as before.
    assert_eq!(app.get("/v1.0/users?$top=1").await.status, 200);
});

// What a lenient server would have taken: oversized names and passwords, a UPN with a
// bidirectional override, a boolean of another type, a Partner Center body sent as text/plain,
// and one property named twice in different case. Each is the surface's 400 (or 415).
e2e!(lenient_input_is_refused_in_the_surfaces_shape, |app| {
    let user = |name: &str, upn: &str, password: &str| {
        json!({
            "accountEnabled": true, "displayName": name, "mailNickname": "x",
            "userPrincipalName": upn,
            "passwordProfile": {"forceChangePasswordNextSignIn": false, "password": password},
        })
    };
    // Far over Entra's limits, within the test server's 64 KB body limit.
    let long = "x".repeat(10 * 1024);
    for body in [
        user(&long, "long1@contoso.example", DEMO_PASSWORD),
        user("Ok", "long2@contoso.example", &long),
        user("Ok", "rtl\u{202e}lmth.exe@contoso.example", DEMO_PASSWORD),
        user("Ok", "a b@contoso.example", DEMO_PASSWORD),
        json!({"accountEnabled": "yes", "displayName": "B", "mailNickname": "b",
               "userPrincipalName": "b@contoso.example",
               "passwordProfile": {"password": DEMO_PASSWORD}}),
        json!({"accountEnabled": true, "displayName": "B", "mailNickname": "b",
               "userPrincipalName": "b@contoso.example",
               "passwordProfile": {"password": DEMO_PASSWORD, "forceChangePasswordNextSignIn": "yes"}}),
    ] {
        app.post("/v1.0/users", body)
            .await
            .graph_error(400, "Request_BadRequest");
    }
    // 256 characters is Entra's limit, and still fine.
    let r = app
        .post(
            "/v1.0/users",
            user(&"n".repeat(256), "fits@contoso.example", DEMO_PASSWORD),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);

    let pc = crate::partner::pc_token(&app).await;
    let users = format!("/v1/customers/{DEMO_TENANT}/users");
    let pc_user = |name: &str| {
        json!({"userPrincipalName": "pcx@contoso.example", "displayName": name,
               "passwordProfile": {"password": "Pa55w0rd!"}})
    };
    let r = app
        .send_with(
            Method::POST,
            &users,
            Some(&pc),
            None,
            &[("Content-Type", "text/plain")],
        )
        .await;
    assert_eq!(r.status, 415, "{}", r.text);
    assert_eq!(r.json()["source"], "PartnerFD");
    for body in [
        pc_user(&"p".repeat(300)),
        json!({"userPrincipalName": "pcy@contoso.example", "displayName": "A", "DisplayName": "B",
               "passwordProfile": {"password": "Pa55w0rd!"}}),
        json!({"userPrincipalName": "pc\u{202e}z@contoso.example", "displayName": "Z",
               "passwordProfile": {"password": "Pa55w0rd!"}}),
        json!({"userPrincipalName": "pcw@contoso.example", "displayName": "W",
               "passwordProfile": {"password": "Pa55w0rd!", "forceChangePassword": 1}}),
    ] {
        let r = app.as_caller(pc.clone()).post(&users, body).await;
        assert_eq!(r.status, 400, "{}", r.text);
        assert_eq!(r.json()["code"], 800_002, "{}", r.text);
    }
});

/// A request written by hand on a socket (clients refuse to send such heads): the status and the
/// body of the answer.
async fn raw(app: &TestApp, target: &str, extra_header: &str) -> (u16, serde_json::Value) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let addr = app.base.trim_start_matches("http://").to_owned();
    let mut s = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let head = format!(
        "GET {target} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {}\r\n{extra_header}Connection: close\r\n\r\n",
        app.token
    );
    // The server may answer and close before the whole head is sent.
    let _ = s.write_all(head.as_bytes()).await;
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out).await;
    let text = String::from_utf8_lossy(&out).into_owned();
    let status = text[9..12].parse().unwrap();
    let body = text.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    (
        status,
        serde_json::from_str(body).unwrap_or(serde_json::Value::Null),
    )
}

e2e!(
    oversized_request_lines_and_headers_get_each_surfaces_envelope,
    |app| {
        // A 62 KB request line: 414 in Graph's envelope.
        let (status, v) = raw(
            &app,
            &format!("/v1.0/users?$filter={}", "x".repeat(62 * 1024)),
            "",
        )
        .await;
        assert_eq!(status, 414);
        assert_eq!(v["error"]["code"], "RequestUriTooLong", "{v}");
        assert!(v["error"]["innerError"]["request-id"].is_string(), "{v}");
        // Partner Center answers in its own shape.
        let (status, v) = raw(&app, &format!("/v1/customers?filter={}", "y".repeat(63_000)), "").await;
        assert_eq!((status, v["code"].clone()), (414, json!(800_002)), "{v}");
        // A 1 MB request line, past the HTTP layer's own URI limit: the same envelope, in both
        // surfaces.
        let (status, v) = raw(
            &app,
            &format!("/v1.0/users?$filter={}", "x".repeat(1024 * 1024)),
            "",
        )
        .await;
        assert_eq!(status, 414);
        assert_eq!(v["error"]["code"], "RequestUriTooLong", "{v}");
        assert_eq!(
            v["error"]["innerError"]["request-id"].as_str().map(str::len),
            Some(36),
            "{v}"
        );
        let (status, v) = raw(&app, &format!("/v1/customers?filter={}", "y".repeat(200_000)), "").await;
        assert_eq!((status, v["code"].clone()), (414, json!(800_002)), "{v}");
        // A head that is not HTTP: 400 with Graph's envelope, not an empty body.
        let (status, v) = raw(&app, "/v1.0/subscribedSkus", "Not A Header Line\r\n").await;
        assert_eq!(status, 400);
        assert_eq!(v["error"]["code"], "BadRequest", "{v}");
        // 100 KB of headers: 431.
        let (status, v) = raw(
            &app,
            "/v1.0/subscribedSkus",
            &format!("X-Filler: {}\r\n", "z".repeat(100 * 1024)),
        )
        .await;
        assert_eq!(status, 431);
        assert_eq!(v["error"]["code"], "RequestHeaderFieldsTooLarge", "{v}");
        // Under the limits, a long URL is served.
        let (status, v) = raw(
            &app,
            &format!(
                "/v1.0/users?$filter=displayName%20eq%20%27{}%27",
                "a".repeat(3_000)
            ),
            "",
        )
        .await;
        assert_eq!((status, v["value"].clone()), (200, json!([])), "{v}");
    }
);
