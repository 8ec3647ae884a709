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
