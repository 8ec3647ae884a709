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
});
