//! The console's pages are served by the binary itself (the browser test is tests/node).

use crate::e2e;
use crate::helpers::*;

e2e!(the_console_is_served_from_the_binary, |app| {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = client.get(app.url("/console")).send().await.unwrap();
    assert_eq!(r.status(), 308);
    assert_eq!(r.headers()["location"], "/console/");
    for (path, kind, marker) in [
        ("/console/", "text/html", "<title>Allot console</title>"),
        ("/console/app.js", "text/javascript", "code_challenge_method"),
        ("/console/app.css", "text/css", ".gauge"),
        ("/console/kit.js", "text/javascript", "x-allot-admin-key"),
        ("/console/emulator.js", "text/javascript", "/processing/run"),
    ] {
        let r = read(client.get(app.url(path)).send().await.unwrap()).await;
        assert_eq!(r.status, 200, "{path}");
        assert!(
            r.headers["content-type"].to_str().unwrap().starts_with(kind),
            "{path}"
        );
        assert!(
            r.headers["content-security-policy"]
                .to_str()
                .unwrap()
                .contains("default-src 'self'")
        );
        assert!(r.text.contains(marker), "{path}");
    }
    let r = client.get(app.url("/console/nothing.js")).send().await.unwrap();
    assert_eq!(r.status(), 404);
    // The sign-in looks up the tenant's console app (ids are unique across tenants).
    for (tenant, status, id) in [
        (
            "contoso.example",
            200,
            Some("5a1d0000-c0de-4a99-a000-00000000c0c0"),
        ),
        (
            "partner.example",
            200,
            Some("5a1d0000-c0de-4a99-a000-00000000c0c1"),
        ),
        ("nowhere.example", 404, None),
    ] {
        let url = app.url(&format!("/console/app?tenant={tenant}"));
        let r = read(client.get(url).send().await.unwrap()).await;
        assert_eq!(r.status.as_u16(), status, "{tenant}");
        assert_eq!(r.json()["clientId"].as_str(), id, "{tenant}");
    }
});
