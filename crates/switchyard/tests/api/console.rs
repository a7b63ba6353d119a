//! The console over real HTTP: links, sign-in, sessions, CSRF, tokens,
//! and the headers every page carries. (The browser tests drive the same
//! pages in Chromium.)

use reqwest::StatusCode;
use reqwest::header::SET_COOKIE;
use serde_json::json;
use switchyard_domain::user::Role;
use switchyard_testkit::console::{Browser, invited, invited_to, post_pairs, set_password};
use switchyard_testkit::spawn_api_only;

#[tokio::test]
async fn a_first_owner_signs_in_from_the_link_once() {
    let app = spawn_api_only().await;
    let link = invited(&app, "acme", "Owner@Example.com", Role::Owner).await;
    assert!(link.starts_with("/console/set-password?link="));
    let mut b = Browser::new(&app);

    // Not signed in: the console sends to the sign-in page.
    let home = b.get("/console").await;
    assert_eq!(home.status, StatusCode::SEE_OTHER);
    assert_eq!(home.location(), "/console/sign-in");

    // Rules first: too short, then two that differ.
    let form = b.get(&link).await;
    let secret = form.hidden("link");
    let short = b
        .post(
            "/console/set-password",
            &[
                ("link", &secret),
                ("password", "short"),
                ("confirm", "short"),
            ],
        )
        .await;
    assert_eq!(short.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        short.body.contains("at least 10 characters"),
        "{}",
        short.body
    );
    let differ = b
        .post(
            "/console/set-password",
            &[
                ("link", &secret),
                ("password", "long enough one"),
                ("confirm", "long enough two"),
            ],
        )
        .await;
    assert_eq!(differ.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(differ.body.contains("differ"));

    let done = set_password(&mut b, &link, "a long password").await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    assert_eq!(done.location(), "/console");
    let cookie = done
        .headers
        .get_all(SET_COOKIE)
        .iter()
        .map(|c| c.to_str().unwrap().to_owned())
        .find(|c| c.starts_with("sy_session="))
        .expect("a session cookie");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    assert!(
        !cookie.contains("Secure"),
        "plain http on loopback: {cookie}"
    );

    let home = b.get("/console").await;
    assert_eq!(home.status, StatusCode::OK);
    assert!(home.body.contains("owner@example.com"));
    assert!(home.body.contains("acme"));

    // The link worked once.
    let mut other = Browser::new(&app);
    let again = set_password(&mut other, &link, "another long password").await;
    assert_eq!(again.status, StatusCode::GONE);
    assert!(again.body.contains("used or has expired"));
    assert!(!other.cookies.contains_key("sy_session"));

    // Every page carries the headers.
    let csp = home
        .headers
        .get("content-security-policy")
        .unwrap()
        .to_str()
        .unwrap();
    assert!(
        csp.contains("default-src 'none'") && csp.contains("script-src 'self'"),
        "{csp}"
    );
    assert!(!home.body.contains("<script>") && !home.body.contains("style="));
    assert_eq!(home.headers.get("x-frame-options").unwrap(), "DENY");
    assert_eq!(home.headers.get("cache-control").unwrap(), "no-store");
    assert_eq!(
        b.get("/console/assets/console.css").await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_wrong_password_is_refused_and_repeated_failures_are_held() {
    let app = spawn_api_only().await;
    let link = invited(&app, "acme", "ann@example.com", Role::Owner).await;
    set_password(&mut Browser::new(&app), &link, "the right password").await;

    let mut b = Browser::new(&app);
    let form = b.get("/console/sign-in").await;
    assert_eq!(form.status, StatusCode::OK);
    let token = form.hidden("form");
    assert_eq!(b.cookies.get("sy_form"), Some(&token));

    // Without the form's token (a cross-site post): refused.
    let forged = b
        .post(
            "/console/sign-in",
            &[
                ("email", "ann@example.com"),
                ("password", "the right password"),
            ],
        )
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);

    let wrong = b
        .post(
            "/console/sign-in",
            &[
                ("email", "ann@example.com"),
                ("password", "wrong"),
                ("form", &token),
            ],
        )
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert!(wrong.body.contains("Wrong email or password."));
    // An unknown email reads the same.
    let unknown = b
        .post(
            "/console/sign-in",
            &[
                ("email", "nobody@example.com"),
                ("password", "wrong"),
                ("form", &token),
            ],
        )
        .await;
    assert_eq!(unknown.status, StatusCode::UNAUTHORIZED);
    assert!(unknown.body.contains("Wrong email or password."));

    let right = b
        .post(
            "/console/sign-in",
            &[
                ("email", " ANN@example.com "),
                ("password", "the right password"),
                ("form", &token),
            ],
        )
        .await;
    assert_eq!(right.status, StatusCode::SEE_OTHER);
    assert!(b.cookies.contains_key("sy_session"));

    // Five failures for one email hold it, even with the right password.
    let mut c = Browser::new(&app);
    let token = c.get("/console/sign-in").await.hidden("form");
    for _ in 0..5 {
        let r = c
            .post(
                "/console/sign-in",
                &[
                    ("email", "ann@example.com"),
                    ("password", "nope"),
                    ("form", &token),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    }
    let held = c
        .post(
            "/console/sign-in",
            &[
                ("email", "ann@example.com"),
                ("password", "the right password"),
                ("form", &token),
            ],
        )
        .await;
    assert_eq!(held.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(held.body.contains("Too many failed sign-ins"));
}

#[tokio::test]
async fn tokens_are_made_and_revoked_with_the_sessions_csrf_token() {
    let app = spawn_api_only().await;
    let link = invited(&app, "acme", "ann@example.com", Role::Owner).await;
    let mut b = Browser::new(&app);
    set_password(&mut b, &link, "the right password").await;

    let settings = b.get("/console/settings").await;
    assert_eq!(settings.status, StatusCode::OK);
    assert!(settings.body.contains("No API tokens yet."));
    let csrf = settings.hidden("csrf");

    // A form without the session's token is refused and changes nothing.
    let forged = b
        .post("/console/settings/tokens", &[("name", "forged")])
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    let wrong = b
        .post(
            "/console/settings/tokens",
            &[("name", "forged"), ("csrf", "x")],
        )
        .await;
    assert_eq!(wrong.status, StatusCode::FORBIDDEN);
    let empty = b
        .post(
            "/console/settings/tokens",
            &[("name", " "), ("csrf", &csrf)],
        )
        .await;
    assert_eq!(empty.status, StatusCode::UNPROCESSABLE_ENTITY);

    let made = b
        .post(
            "/console/settings/tokens",
            &[("name", "ERP <sync>"), ("csrf", &csrf)],
        )
        .await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.body);
    assert!(made.body.contains("ERP &lt;sync&gt;"), "names are escaped");
    let marker = "value=\"sy_";
    let at = made.body.find(marker).expect("the secret, shown once") + "value=\"".len();
    let secret = made.body[at..at + made.body[at..].find('"').unwrap()].to_owned();

    // The token works on the API; shown once, it is not on the next page.
    let api = |token: String| {
        let client = reqwest::Client::new();
        let url = format!("{}/v1/stores", app.address);
        async move {
            client
                .get(url)
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    assert_eq!(api(secret.clone()).await, StatusCode::OK);
    let listed = b.get("/console/settings").await;
    assert!(!listed.body.contains(&secret));
    let id_at = listed.body.find("data-token=\"").unwrap() + "data-token=\"".len();
    let id = &listed.body[id_at..id_at + listed.body[id_at..].find('"').unwrap()];

    // Another account's owner cannot revoke it.
    let other_link = invited(&app, "globex", "gus@example.com", Role::Owner).await;
    let mut g = Browser::new(&app);
    set_password(&mut g, &other_link, "gus password!").await;
    let g_csrf = g.get("/console/settings").await.hidden("csrf");
    let cross = g
        .post(
            &format!("/console/settings/tokens/{id}/revoke"),
            &[("csrf", &g_csrf)],
        )
        .await;
    assert_eq!(cross.status, StatusCode::NOT_FOUND);
    assert!(!g.get("/console/settings").await.body.contains(id));
    assert_eq!(api(secret.clone()).await, StatusCode::OK);

    let revoked = b
        .post(
            &format!("/console/settings/tokens/{id}/revoke"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(revoked.status, StatusCode::SEE_OTHER);
    assert_eq!(api(secret.clone()).await, StatusCode::UNAUTHORIZED);
    assert!(b.get("/console/settings").await.body.contains("revoked"));

    // Signing out ends the session on the server, not just the cookie.
    let session = b.cookies.get("sy_session").unwrap().clone();
    let out = b.post("/console/sign-out", &[("csrf", &csrf)]).await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    let mut replay = Browser::new(&app);
    replay.cookies.insert("sy_session".into(), session);
    assert_eq!(replay.get("/console").await.status, StatusCode::SEE_OTHER);

    // Nothing secret is stored as it was typed or sent.
    for bytes in app.stored_bytes().await {
        let text = String::from_utf8_lossy(&bytes);
        for secret in ["the right password", &csrf, &secret] {
            assert!(!text.contains(secret), "{secret} is stored");
        }
    }
}

#[tokio::test]
async fn staff_see_their_profile_but_not_tokens() {
    let app = spawn_api_only().await;
    let owner = app.tenant("acme").await;
    let store = app
        .post(&owner, "/v1/stores", &json!({ "name": "Shop" }))
        .await;
    assert_eq!(store.status, StatusCode::CREATED);
    let link = invited(&app, "acme", "sam@example.com", Role::Staff).await;
    let mut b = Browser::new(&app);
    set_password(&mut b, &link, "staff password").await;
    let settings = b.get("/console/settings").await;
    assert_eq!(settings.status, StatusCode::OK);
    assert!(settings.body.contains("staff"));
    assert!(!settings.body.contains("API tokens"));
    let csrf = settings.hidden("csrf");
    let made = b
        .post(
            "/console/settings/tokens",
            &[("name", "x"), ("csrf", &csrf)],
        )
        .await;
    assert_eq!(made.status, StatusCode::FORBIDDEN);
    assert!(b.get("/console").await.body.contains("Shop"));
}

#[test]
fn the_cli_makes_a_user_and_prints_their_link_once() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_switchyard"))
            .args(["user", "create", "--account", "acme"])
            .args(args)
            .arg("--data-dir")
            .arg(dir.path())
            .env("RUST_LOG", "off")
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (ok, link, said) = run(&["--email", "Owner@Acme.test"]);
    assert!(ok, "{said}");
    assert!(said.contains("owner user owner@acme.test"), "{said}");
    let link = link.trim();
    assert!(
        link.starts_with("http://127.0.0.1:8080/console/set-password?link=") && link.len() > 60,
        "{link}"
    );
    let (ok, _, said) = run(&["--email", "owner@acme.test", "--role", "staff"]);
    assert!(!ok);
    assert!(
        said.contains("a user with the email owner@acme.test exists"),
        "{said}"
    );
    let (ok, _, said) = run(&["--email", "x@acme.test", "--role", "admin"]);
    assert!(!ok);
    assert!(said.contains("invalid --role"), "{said}");
    let (ok, _, said) = run(&["--email", "not-an-email"]);
    assert!(!ok);
    assert!(said.contains("email has no @"), "{said}");
}

#[tokio::test]
async fn stores_are_made_renamed_and_deleted_and_staff_reach_only_their_own() {
    let app = spawn_api_only().await;
    let link = invited(&app, "acme", "ann@example.com", Role::Owner).await;
    let mut b = Browser::new(&app);
    set_password(&mut b, &link, "the right password").await;
    let home = b.get("/console").await;
    assert!(home.body.contains("No stores yet."));
    let csrf = home.hidden("csrf");

    let blank = b
        .post("/console/stores", &[("name", "  "), ("csrf", &csrf)])
        .await;
    assert_eq!(blank.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        blank.body.contains("name must not be blank"),
        "{}",
        blank.body
    );
    assert_eq!(
        b.post("/console/stores", &[("name", "EU")]).await.status,
        StatusCode::FORBIDDEN
    );
    let made = b
        .post("/console/stores", &[("name", "Acme EU"), ("csrf", &csrf)])
        .await;
    assert_eq!(made.status, StatusCode::SEE_OTHER);
    let eu_path = made.location().to_owned();
    let eu = eu_path.strip_prefix("/console/stores/").unwrap().to_owned();
    let page = b.get(&eu_path).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("Acme EU") && page.body.contains("No channels yet."));
    let us = b
        .post("/console/stores", &[("name", "Acme US"), ("csrf", &csrf)])
        .await;
    let us = us
        .location()
        .strip_prefix("/console/stores/")
        .unwrap()
        .to_owned();

    let renamed = b
        .post(
            &format!("/console/stores/{eu}/rename"),
            &[("name", "Acme Europe"), ("csrf", &csrf)],
        )
        .await;
    assert_eq!(renamed.status, StatusCode::SEE_OTHER);
    assert!(b.get(&eu_path).await.body.contains("Acme Europe"));

    // Staff limited to Europe: the US store is not there for them.
    let staff = invited_to(
        &app,
        "acme",
        "sam@example.com",
        Role::Staff,
        Some(vec![&eu]),
    )
    .await;
    let mut sam = Browser::new(&app);
    set_password(&mut sam, &staff, "staff password").await;
    let home = sam.get("/console").await;
    assert!(home.body.contains("Acme Europe") && !home.body.contains("Acme US"));
    assert!(!home.body.contains("Create store"));
    assert_eq!(sam.get(&eu_path).await.status, StatusCode::OK);
    assert_eq!(
        sam.get(&format!("/console/stores/{us}")).await.status,
        StatusCode::NOT_FOUND
    );
    let sam_csrf = home.hidden("csrf");
    let r = sam
        .post(
            &format!("/console/stores/{us}/rename"),
            &[("name", "mine"), ("csrf", &sam_csrf)],
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = sam
        .post("/console/stores", &[("name", "more"), ("csrf", &sam_csrf)])
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = sam
        .post(
            &format!("/console/stores/{eu}/delete"),
            &[("csrf", &sam_csrf)],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);

    // Another account's owner: every store id of acme is not found.
    let other = invited(&app, "globex", "gus@example.com", Role::Owner).await;
    let mut gus = Browser::new(&app);
    set_password(&mut gus, &other, "gus password!").await;
    let gus_csrf = gus.get("/console").await.hidden("csrf");
    for path in [
        format!("/console/stores/{eu}"),
        format!("/console/stores/{us}"),
    ] {
        assert_eq!(gus.get(&path).await.status, StatusCode::NOT_FOUND, "{path}");
    }
    for action in ["rename", "delete"] {
        let r = gus
            .post(
                &format!("/console/stores/{eu}/{action}"),
                &[("name", "x"), ("csrf", &gus_csrf)],
            )
            .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{action}");
    }
    assert_eq!(
        gus.get("/console/stores/not-an-id").await.status,
        StatusCode::NOT_FOUND
    );

    let deleted = b
        .post(&format!("/console/stores/{us}/delete"), &[("csrf", &csrf)])
        .await;
    assert_eq!(deleted.status, StatusCode::SEE_OTHER);
    assert!(!b.get("/console").await.body.contains("Acme US"));
    assert!(b.get("/console").await.body.contains("Acme Europe"));
}

#[tokio::test]
async fn owners_invite_users_and_make_them_new_links() {
    let app = spawn_api_only().await;
    let owner = app.tenant("acme").await;
    let eu = app
        .post(&owner, "/v1/stores", &json!({ "name": "Acme EU" }))
        .await;
    let eu = eu.body["id"].as_str().unwrap().to_owned();
    app.post(&owner, "/v1/stores", &json!({ "name": "Acme US" }))
        .await;
    let link = invited(&app, "acme", "ann@example.com", Role::Owner).await;
    let mut ann = Browser::new(&app);
    set_password(&mut ann, &link, "the right password").await;
    let csrf = ann.get("/console/settings").await.hidden("csrf");

    let invite = |email: &str, role: &str, stores: &[&str]| {
        let mut form = vec![
            ("csrf", csrf.clone()),
            ("email", email.to_owned()),
            ("role", role.to_owned()),
        ];
        form.extend(stores.iter().map(|s| ("store", (*s).to_owned())));
        form
    };

    let bad = post_pairs(
        &mut ann,
        "/console/settings/users",
        invite("not-an-email", "staff", &[]),
    )
    .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.body.contains("email has no @"));
    let taken = post_pairs(
        &mut ann,
        "/console/settings/users",
        invite("ANN@example.com", "staff", &[]),
    )
    .await;
    assert_eq!(taken.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        taken
            .body
            .contains("a user with the email ann@example.com exists"),
        "{}",
        taken.body
    );
    let limited_owner = post_pairs(
        &mut ann,
        "/console/settings/users",
        invite("o@example.com", "owner", &[&eu]),
    )
    .await;
    assert_eq!(limited_owner.status, StatusCode::UNPROCESSABLE_ENTITY);
    let made = post_pairs(
        &mut ann,
        "/console/settings/users",
        invite("sam@example.com", "staff", &[&eu]),
    )
    .await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.body);
    assert!(made.body.contains("Send this link to"));
    let sam_link = made.hidden_value("input.secret");
    assert!(made.body.contains("invited") && made.body.contains("Acme EU"));

    // Sam signs in from it and reaches the one store.
    let mut sam = Browser::new(&app);
    let path = sam_link.strip_prefix(&app.address).unwrap().to_owned();
    assert_eq!(
        set_password(&mut sam, &path, "sam's password").await.status,
        StatusCode::SEE_OTHER
    );
    let home = sam.get("/console").await;
    assert!(home.body.contains("Acme EU") && !home.body.contains("Acme US"));
    // Staff cannot invite.
    let sam_csrf = home.hidden("csrf");
    let r = sam
        .post(
            "/console/settings/users",
            &[
                ("csrf", &sam_csrf),
                ("email", "x@example.com"),
                ("role", "owner"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);

    // A new link for Sam (a reset): it sets a new password and ends Sam's session.
    let settings = ann.get("/console/settings").await;
    let row = settings.body.find("data-user=\"usr_").unwrap();
    let ids: Vec<&str> = settings.body[row..]
        .split("data-user=\"")
        .skip(1)
        .map(|r| &r[..r.find('"').unwrap()])
        .collect();
    let sam_id = ids
        .iter()
        .find(|id| {
            let at = settings.body.find(&format!("data-user=\"{id}\"")).unwrap();
            settings.body[at..]
                .split("</tr>")
                .next()
                .unwrap()
                .contains("sam@example.com")
        })
        .unwrap();
    let reset = ann
        .post(
            &format!("/console/settings/users/{sam_id}/link"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(reset.status, StatusCode::CREATED);
    let reset_link = reset.hidden_value("input.secret");
    let mut sam2 = Browser::new(&app);
    let path = reset_link.strip_prefix(&app.address).unwrap().to_owned();
    assert_eq!(
        set_password(&mut sam2, &path, "sam's new password")
            .await
            .status,
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        sam.get("/console").await.status,
        StatusCode::SEE_OTHER,
        "the old session ended"
    );

    // Another account's owner cannot make a link for Sam.
    let other = invited(&app, "globex", "gus@example.com", Role::Owner).await;
    let mut gus = Browser::new(&app);
    set_password(&mut gus, &other, "gus password!").await;
    let gus_csrf = gus.get("/console/settings").await.hidden("csrf");
    let r = gus
        .post(
            &format!("/console/settings/users/{sam_id}/link"),
            &[("csrf", &gus_csrf)],
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(
        !gus.get("/console/settings")
            .await
            .body
            .contains("sam@example.com")
    );
}

#[tokio::test]
async fn channel_forms_connect_queue_work_and_map_skus_only_for_who_reaches_the_store() {
    let app = spawn_api_only().await;
    let owner = app.tenant("acme").await;
    let eu = app
        .post(&owner, "/v1/stores", &json!({ "name": "Acme EU" }))
        .await
        .body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let us = app
        .post(&owner, "/v1/stores", &json!({ "name": "Acme US" }))
        .await
        .body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let link = invited(&app, "acme", "ann@example.com", Role::Owner).await;
    let mut b = Browser::new(&app);
    set_password(&mut b, &link, "the right password").await;
    let form = b
        .get(&format!("/console/stores/{eu}/channels/new?kind=etsy"))
        .await;
    assert_eq!(form.status, StatusCode::OK);
    for field in ["cred.keystring", "cred.refresh_token", "cred.shop_id"] {
        assert!(form.body.contains(field), "{field}");
    }
    let csrf = form.hidden("csrf");
    let connect = format!("/console/stores/{eu}/channels");

    // Etsy's shop_id is a number: a word is refused, naming the field,
    // and nothing is connected.
    let mut fields = vec![
        ("csrf", csrf.as_str()),
        ("kind", "etsy"),
        ("name", "Acme Etsy"),
        ("base_url", "http://127.0.0.1:9"),
        ("cred.keystring", "ks"),
        ("cred.refresh_token", "rt-secret"),
        ("cred.shop_id", "shop"),
    ];
    let refused = b.post(&connect, &fields).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        refused
            .body
            .contains("credentials.shop_id: must be a whole number"),
        "{}",
        refused.body
    );
    assert!(
        !refused.body.contains("rt-secret"),
        "secrets are not shown again"
    );
    let none = app.get(&owner, &format!("/v1/stores/{eu}/channels")).await;
    assert_eq!(none.body["items"], json!([]));
    // A required field left out: the connector's own list of fields.
    fields[6] = ("cred.shop_id", "");
    let missing = b.post(&connect, &fields).await;
    assert_eq!(missing.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(missing.body.contains("shop_id"), "{}", missing.body);
    fields[6] = ("cred.shop_id", "4242");
    let made = b.post(&connect, &fields).await;
    assert_eq!(made.status, StatusCode::SEE_OTHER, "{}", made.body);
    let page_path = made.location().split('?').next().unwrap().to_owned();
    let ch = page_path.rsplit('/').next().unwrap().to_owned();
    let api = app
        .get(&owner, &format!("/v1/stores/{eu}/channels/{ch}"))
        .await;
    assert_eq!(api.body["has_credentials"], true, "{}", api.body);
    assert_eq!(api.body["kind"], "etsy");
    let page = b.get(&page_path).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(!page.body.contains("rt-secret"));

    // Backfill: a window that starts in the future is refused; a past
    // one is queued.
    let backfill = format!("{page_path}/backfill");
    let later = b
        .post(&backfill, &[("csrf", &csrf), ("from", "2999-01-01T00:00")])
        .await;
    assert_eq!(later.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(later.body.contains("from must be"), "{}", later.body);
    let bad = b
        .post(&backfill, &[("csrf", &csrf), ("from", "yesterday")])
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    let queued = b
        .post(
            &backfill,
            &[
                ("csrf", &csrf),
                ("from", "2026-01-01T00:00"),
                ("to", "2026-02-01T00:00"),
            ],
        )
        .await;
    assert_eq!(queued.status, StatusCode::SEE_OTHER);
    assert!(queued.location().ends_with("?done=backfill"));
    assert!(
        b.get(queued.location())
            .await
            .body
            .contains("Backfill queued")
    );

    // SKU mappings: a bad SKU is refused; a mapping is made and removed.
    let map = format!("{page_path}/map");
    let bad = b
        .post(
            &map,
            &[("csrf", &csrf), ("channel_sku", "ETSY-1"), ("sku", "")],
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    let unknown = b
        .post(
            &map,
            &[
                ("csrf", &csrf),
                ("channel_sku", "ETSY-1"),
                ("sku", "MUG-RED"),
            ],
        )
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND, "no such product yet");
    app.product(&owner, &eu, "MUG-RED").await;
    let mapped = b
        .post(
            &map,
            &[
                ("csrf", &csrf),
                ("channel_sku", "ETSY-1"),
                ("sku", "MUG-RED"),
            ],
        )
        .await;
    assert_eq!(mapped.status, StatusCode::SEE_OTHER, "{}", mapped.body);
    let mappings = format!("/v1/stores/{eu}/channels/{ch}/sku-mappings");
    let listed = app.get(&owner, &mappings).await.body;
    assert_eq!(listed["items"][0]["channel_sku"], "ETSY-1", "{listed}");
    assert_eq!(listed["items"][0]["sku"], "MUG-RED", "{listed}");
    let gone = b
        .post(
            &format!("{page_path}/unmap"),
            &[("csrf", &csrf), ("channel_sku", "ETSY-1")],
        )
        .await;
    assert_eq!(gone.status, StatusCode::SEE_OTHER);
    assert_eq!(app.get(&owner, &mappings).await.body["items"], json!([]));
    let import = b
        .post(&format!("{page_path}/import"), &[("csrf", &csrf)])
        .await;
    assert_eq!(import.status, StatusCode::SEE_OTHER);
    assert_eq!(
        b.post(&format!("{page_path}/import"), &[]).await.status,
        StatusCode::FORBIDDEN,
        "no CSRF token"
    );

    // Every channel route of acme's channel: not found for another
    // account's owner and for staff limited to the other store.
    let other = invited(&app, "globex", "gus@example.com", Role::Owner).await;
    let mut gus = Browser::new(&app);
    set_password(&mut gus, &other, "gus password!").await;
    let staff = invited_to(
        &app,
        "acme",
        "sam@example.com",
        Role::Staff,
        Some(vec![&us]),
    )
    .await;
    let mut sam = Browser::new(&app);
    set_password(&mut sam, &staff, "staff password").await;
    for who in [&mut gus, &mut sam] {
        let csrf = who.get("/console").await.hidden("csrf");
        for path in [
            format!("/console/stores/{eu}/channels/new?kind=shopify"),
            page_path.clone(),
        ] {
            assert_eq!(who.get(&path).await.status, StatusCode::NOT_FOUND, "{path}");
        }
        for action in [
            "test",
            "import",
            "listings",
            "backfill",
            "settings",
            "credentials",
            "map",
            "unmap",
            "delete",
            "errors/1/retry",
            "errors/1/handle",
        ] {
            let r = who
                .post(
                    &format!("{page_path}/{action}"),
                    &[("csrf", &csrf), ("from", "2026-01-01T00:00"), ("name", "x")],
                )
                .await;
            assert_eq!(r.status, StatusCode::NOT_FOUND, "{action}");
        }
        let r = who
            .post(
                &connect,
                &[("csrf", &csrf), ("kind", "etsy"), ("name", "x")],
            )
            .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND);
    }
    let still = app
        .get(&owner, &format!("/v1/stores/{eu}/channels/{ch}"))
        .await;
    assert_eq!(still.body["name"], "Acme Etsy", "untouched");

    // The owner disconnects it.
    let gone = b
        .post(&format!("{page_path}/delete"), &[("csrf", &csrf)])
        .await;
    assert_eq!(gone.status, StatusCode::SEE_OTHER);
    assert_eq!(
        app.get(&owner, &format!("/v1/stores/{eu}/channels/{ch}"))
            .await
            .status,
        404
    );
}

/// The text from `marker` to the next `"`.
fn after<'a>(body: &'a str, marker: &str) -> &'a str {
    let at = body
        .find(marker)
        .unwrap_or_else(|| panic!("no {marker} in {body}"));
    let rest = &body[at + marker.len()..];
    &rest[..rest.find('"').unwrap()]
}

#[tokio::test]
async fn webhook_pages_add_an_endpoint_show_its_log_rotate_and_replay() {
    use switchyard_testkit::receiver::Receiver;
    let app = switchyard_testkit::spawn_app_with(switchyard_testkit::engine_config()).await;
    let owner = app.tenant("acme").await;
    let store = app
        .post(&owner, "/v1/stores", &json!({ "name": "Acme EU" }))
        .await
        .body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let receiver = Receiver::start().await;
    let link = invited(&app, "acme", "ann@example.com", Role::Owner).await;
    let mut b = Browser::new(&app);
    set_password(&mut b, &link, "the right password").await;
    let list = b.get(&format!("/console/stores/{store}/webhooks")).await;
    assert_eq!(list.status, StatusCode::OK);
    assert!(list.body.contains("No webhooks yet."));
    let csrf = list.hidden("csrf");
    let add = format!("/console/stores/{store}/webhooks");

    let bad = b
        .post(&add, &[("csrf", &csrf), ("url", "ftp://example.com/x")])
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.body.contains("url:"), "{}", bad.body);
    let made = b
        .post(
            &add,
            &[
                ("csrf", &csrf),
                ("url", &receiver.url),
                ("description", "ERP"),
                ("events", "order.created"),
                ("events", "fulfilment.updated"),
            ],
        )
        .await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.body);
    let secret = made.hidden_value("input.secret");
    assert!(secret.starts_with("whsec_"), "{secret}");
    let hooks = app
        .get(&owner, &format!("/v1/stores/{store}/webhooks"))
        .await
        .body;
    let id = hooks["items"][0]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        hooks["items"][0]["events"],
        json!(["order.created", "fulfilment.updated"]),
        "{hooks}"
    );
    let page = format!("/console/stores/{store}/webhooks/{id}");
    let api_secret = app
        .get(&owner, &format!("/v1/webhooks/{id}/secret"))
        .await
        .body;
    assert_eq!(api_secret["secret"], secret.as_str());

    // A test event: delivered, and the log shows the status and latency.
    let test = b.post(&format!("{page}/test"), &[("csrf", &csrf)]).await;
    assert_eq!(test.status, StatusCode::SEE_OTHER);
    receiver
        .wait_for("the test event", 20, |got| got.len() == 1)
        .await;
    switchyard_testkit::eventually("the attempt to be logged", 20, || async {
        let log = app
            .get(&owner, &format!("/v1/webhooks/{id}/messages"))
            .await
            .body;
        log["items"][0]["state"] == "succeeded"
    })
    .await;
    let shown = b.get(&page).await;
    assert!(shown.body.contains("<code>204</code>"), "{}", shown.body);
    assert!(shown.body.contains("webhook.test"), "{}", shown.body);
    assert!(shown.body.contains(" ms</td>"), "latency shown");

    // Sent again, by hand, and all since a time.
    let message = after(&shown.body, "data-message=\"").to_owned();
    let again = b
        .post(
            &format!("{page}/messages/{message}/replay"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(again.status, StatusCode::SEE_OTHER, "{}", again.body);
    receiver
        .wait_for("the message sent again", 20, |got| got.len() == 2)
        .await;
    let replayed = b
        .post(
            &format!("{page}/replay"),
            &[
                ("csrf", &csrf),
                ("since", "2026-01-01T00:00"),
                ("only_failed", "true"),
            ],
        )
        .await;
    assert_eq!(replayed.status, StatusCode::SEE_OTHER);
    let future = b
        .post(
            &format!("{page}/replay"),
            &[("csrf", &csrf), ("since", "2999-01-01T00:00")],
        )
        .await;
    assert_eq!(future.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        future.body.contains("since is in the future"),
        "{}",
        future.body
    );

    // Rotation: the new secret, and the old one beside it for a day.
    let rotated = b.post(&format!("{page}/rotate"), &[("csrf", &csrf)]).await;
    assert_eq!(rotated.status, StatusCode::OK);
    let new_secret = rotated.hidden_value("input.secret");
    assert_ne!(new_secret, secret);
    assert!(
        rotated.body.contains(&secret),
        "the previous secret is shown"
    );
    let api_secret = app
        .get(&owner, &format!("/v1/webhooks/{id}/secret"))
        .await
        .body;
    assert_eq!(api_secret["secret"], new_secret.as_str());
    let shown = b.post(&format!("{page}/secret"), &[("csrf", &csrf)]).await;
    assert_eq!(shown.hidden_value("input.secret"), new_secret);

    // Settings: every event, disabled.
    let saved = b
        .post(
            &format!("{page}/settings"),
            &[("csrf", &csrf), ("url", &receiver.url), ("description", "")],
        )
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    let now = app.get(&owner, &format!("/v1/webhooks/{id}")).await.body;
    assert_eq!(now["events"], json!([]), "{now}");
    assert_eq!(now["enabled"], false, "{now}");
    assert_eq!(now["description"], json!(null), "{now}");

    // Another account's owner reaches none of it.
    let other = invited(&app, "globex", "gus@example.com", Role::Owner).await;
    let mut gus = Browser::new(&app);
    set_password(&mut gus, &other, "gus password!").await;
    let gus_csrf = gus.get("/console").await.hidden("csrf");
    assert_eq!(gus.get(&page).await.status, StatusCode::NOT_FOUND);
    assert_eq!(
        gus.get(&format!("/console/stores/{store}/webhooks"))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    for action in [
        "test".to_owned(),
        "secret".to_owned(),
        "rotate".to_owned(),
        "delete".to_owned(),
        format!("messages/{message}/replay"),
    ] {
        let r = gus
            .post(&format!("{page}/{action}"), &[("csrf", &gus_csrf)])
            .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{action}");
        assert!(!r.body.contains("whsec_"), "{action}");
    }

    let gone = b.post(&format!("{page}/delete"), &[("csrf", &csrf)]).await;
    assert_eq!(gone.status, StatusCode::SEE_OTHER);
    assert_eq!(
        app.get(&owner, &format!("/v1/webhooks/{id}")).await.status,
        404
    );
}

#[tokio::test]
async fn an_order_page_ships_part_of_an_order_retries_a_failed_sync_and_marks_it_manual() {
    use switchyard_domain::fulfilment::SyncAction;
    use switchyard_domain::order::OrderState;
    use switchyard_storage::{NewOrder, NewOrderLine, SyncResult};

    let app = spawn_api_only().await;
    let owner = app.tenant("acme").await;
    let store = app.store(&owner, "Acme EU").await;
    for sku in ["P", "Q"] {
        app.product(&owner, &store, sku).await;
    }
    let ch = app
        .post(
            &owner,
            &format!("/v1/stores/{store}/channels"),
            &json!({ "name": "Shop", "kind": "shopify", "credentials": { "access_token": "x" } }),
        )
        .await;
    assert_eq!(ch.status, StatusCode::CREATED, "{}", ch.body);
    let acc = app.storage.ensure_account("acme").await.unwrap().id;
    let line = |sku: &str, n| NewOrderLine {
        sku: switchyard_domain::values::Sku::parse(sku).unwrap(),
        open_quantity: n,
    };
    let order = app
        .storage
        .upsert_order(
            &acc,
            &store.parse().unwrap(),
            NewOrder {
                channel_id: ch.body["id"].as_str().unwrap().parse().unwrap(),
                channel_order_id: "1001".into(),
                state: OrderState::Open,
                lines: vec![line("P", 3), line("Q", 1)],
            },
        )
        .await
        .unwrap();
    let page_path = format!("/console/orders/{}", order.id);
    let ship = format!("{page_path}/ship");
    let link = invited(&app, "acme", "ann@example.com", Role::Owner).await;
    let mut b = Browser::new(&app);
    set_password(&mut b, &link, "the right password").await;
    let page = b.get(&page_path).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body.contains("name=\"line-0\" value=\"3\""),
        "{}",
        page.body
    );
    assert!(page.body.contains("name=\"line-1\" value=\"1\""));
    let csrf = page.hidden("csrf");

    // Nothing chosen, or more than is open: refused in words, nothing shipped.
    let none = b
        .post(&ship, &[("csrf", &csrf), ("line-0", "0"), ("line-1", "0")])
        .await;
    assert_eq!(none.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        none.body.contains("choose at least one unit to ship"),
        "{}",
        none.body
    );
    let too_many = b
        .post(&ship, &[("csrf", &csrf), ("line-0", "5"), ("line-1", "0")])
        .await;
    assert!(too_many.status.is_client_error(), "{}", too_many.status);
    assert!(too_many.body.contains("role=\"alert\""));
    let listed = app
        .get(&owner, &format!("/v1/orders/{}/fulfilments", order.id))
        .await;
    assert_eq!(listed.body["items"].as_array().unwrap().len(), 0);

    // Two of the three P: the order is partly fulfilled, one P still open.
    let shipped = b
        .post(
            &ship,
            &[
                ("csrf", &csrf),
                ("line-0", "2"),
                ("line-1", "0"),
                ("tracking", "1Z999AA10123456784, 1Z999AA10123456795"),
                ("service", "Next day"),
            ],
        )
        .await;
    assert_eq!(shipped.status, StatusCode::SEE_OTHER, "{}", shipped.body);
    let api = app.get_order(&owner, order.id.as_str()).await;
    assert_eq!(api["lines"][0]["open_quantity"], 1, "{api}");
    assert_eq!(api["lines"][1]["open_quantity"], 1);
    let page = b.get(&page_path).await;
    assert!(
        page.body.contains("name=\"line-0\" value=\"1\""),
        "{}",
        page.body
    );
    assert!(!page.body.contains("Retry sync"));
    let f = &api["fulfilments"][0];
    assert_eq!(f["lines"][0]["quantity"], 2);
    assert_eq!(f["carrier"], "ups");
    assert_eq!(f["service"], "Next day");
    assert_eq!(
        f["tracking"],
        json!([{ "number": "1Z999AA10123456784" }, { "number": "1Z999AA10123456795" }])
    );
    let fid: switchyard_domain::ids::FulfilmentId = f["id"].as_str().unwrap().parse().unwrap();

    // The channel refused it: the page says why and offers a retry.
    app.storage
        .record_fulfilment_sync(
            &fid,
            SyncAction::Create,
            SyncResult::Failed {
                error: "HTTP 503 from the shop".into(),
                retry_at: chrono::Utc::now() + chrono::Duration::hours(1),
            },
        )
        .await
        .unwrap();
    let page = b.get(&page_path).await;
    assert!(page.body.contains("HTTP 503 from the shop"));
    assert!(page.body.contains("Retry sync"));
    let retry = format!("{page_path}/retry");
    let wrong = b
        .post(&retry, &[("csrf", &csrf), ("fulfilment", "ful_nothing")])
        .await;
    assert_eq!(wrong.status, StatusCode::NOT_FOUND);
    let retried = b
        .post(&retry, &[("csrf", &csrf), ("fulfilment", fid.as_str())])
        .await;
    assert_eq!(retried.status, StatusCode::SEE_OTHER);
    let api = app.get_order(&owner, order.id.as_str()).await;
    assert_eq!(api["fulfilments"][0]["sync"]["state"], "pending", "{api}");

    // Handle manually, and stop again; never without the session's token.
    let manual = format!("{page_path}/manual");
    let forged = b.post(&manual, &[("manual", "true")]).await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    assert_eq!(
        app.get_order(&owner, order.id.as_str()).await["manual"],
        false
    );
    let on = b
        .post(&manual, &[("csrf", &csrf), ("manual", "true")])
        .await;
    assert_eq!(on.status, StatusCode::SEE_OTHER);
    assert_eq!(
        app.get_order(&owner, order.id.as_str()).await["manual"],
        true
    );
    assert!(
        b.get(&page_path)
            .await
            .body
            .contains("Stop handling manually")
    );
    b.post(&manual, &[("csrf", &csrf), ("manual", "false")])
        .await;
    assert_eq!(
        app.get_order(&owner, order.id.as_str()).await["manual"],
        false
    );
}

#[tokio::test]
async fn plugin_pages_add_a_plugin_and_rules_are_saved_only_after_their_dry_run() {
    use switchyard_domain::order::OrderState;
    use switchyard_storage::{NewOrder, NewOrderLine};

    let app = spawn_api_only().await;
    let owner = app.tenant("acme").await;
    let store = app.store(&owner, "Acme EU").await;
    for sku in ["VEN-1", "P"] {
        app.product(&owner, &store, sku).await;
    }
    let ch = app
        .post(
            &owner,
            &format!("/v1/stores/{store}/channels"),
            &json!({ "name": "Shop", "kind": "shopify", "credentials": { "access_token": "x" } }),
        )
        .await;
    let acc = app.storage.ensure_account("acme").await.unwrap().id;
    for (n, sku) in [("1001", "VEN-1"), ("1002", "P")] {
        app.storage
            .upsert_order(
                &acc,
                &store.parse().unwrap(),
                NewOrder {
                    channel_id: ch.body["id"].as_str().unwrap().parse().unwrap(),
                    channel_order_id: n.into(),
                    state: OrderState::Open,
                    lines: vec![NewOrderLine {
                        sku: switchyard_domain::values::Sku::parse(sku).unwrap(),
                        open_quantity: 1,
                    }],
                },
            )
            .await
            .unwrap();
    }
    let link = invited(&app, "acme", "ann@example.com", Role::Owner).await;
    let mut b = Browser::new(&app);
    set_password(&mut b, &link, "the right password").await;
    let plugins = format!("/console/stores/{store}/plugins");
    let list = b.get(&plugins).await;
    assert_eq!(list.status, StatusCode::OK);
    assert!(list.body.contains("No plugins yet."));
    let csrf = list.hidden("csrf");

    // A URL that is not http(s) is refused in words; a good one is added
    // and its signing secret shown once.
    let bad = b
        .post(
            &plugins,
            &[
                ("csrf", &csrf),
                ("name", "Venlo"),
                ("url", "ftp://3pl.example.invalid/"),
            ],
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.body.contains("must be http or https"), "{}", bad.body);
    let made = b
        .post(
            &plugins,
            &[
                ("csrf", &csrf),
                ("name", "Warehouse Venlo"),
                ("url", "https://3pl.example.invalid/orders"),
                ("enabled", "true"),
            ],
        )
        .await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.body);
    let secret = made.hidden_value("input.secret");
    assert!(secret.starts_with("whsec_"), "{secret}");
    let api = app
        .get(&owner, &format!("/v1/stores/{store}/plugins"))
        .await;
    let plugin = api.body["items"][0]["id"].as_str().unwrap().to_owned();
    let page_path = format!("{plugins}/{plugin}");
    let page = b.get(&page_path).await;
    assert!(!page.body.contains(&secret), "shown once");
    let shown = b
        .post(&format!("{page_path}/secret"), &[("csrf", &csrf)])
        .await;
    assert_eq!(shown.hidden_value("input.secret"), secret);
    let token = b
        .post(
            &format!("{page_path}/token"),
            &[("csrf", &csrf), ("name", "venlo")],
        )
        .await;
    assert_eq!(token.status, StatusCode::CREATED);
    let token = token.hidden_value("input.secret");
    let as_plugin = switchyard_testkit::Tenant { token };
    let own = app.get(&as_plugin, &format!("/v1/plugins/{plugin}")).await;
    assert_eq!(own.status, StatusCode::OK, "the token reaches its plugin");
    let saved = b
        .post(
            &format!("{page_path}/settings"),
            &[
                ("csrf", &csrf),
                ("name", "Venlo"),
                ("url", "https://3pl.example.invalid/v2"),
            ],
        )
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER);
    let p = app.get(&owner, &format!("/v1/plugins/{plugin}")).await;
    assert_eq!(p.body["name"], "Venlo");
    assert_eq!(p.body["enabled"], false);
    assert_eq!(p.body["url"], "https://3pl.example.invalid/v2");

    // A rule is tried first: the dry run shows where each order would go,
    // and nothing is saved until "Save".
    let rules = format!("/console/stores/{store}/plugin-rules");
    let editor = b.get(&rules).await;
    assert!(editor.body.contains("New rule"));
    let row = |extra: &[(&'static str, &'static str)]| {
        let mut f = vec![
            ("csrf", csrf.clone()),
            ("r0.position", "1".to_owned()),
            ("r0.name", "venlo ships VEN".to_owned()),
            ("r0.skus_any", "VEN-*".to_owned()),
            ("r0.action", "send_to_plugin".to_owned()),
            ("r0.plugin", plugin.clone()),
            // The blank new row is ignored.
            ("r1.position", "2".to_owned()),
            ("r1.action", "send_to_plugin".to_owned()),
        ];
        f.extend(extra.iter().map(|(k, v)| (*k, (*v).to_owned())));
        f
    };
    let wrong = post_pairs(
        &mut b,
        &format!("{rules}/dry-run"),
        row(&[("r0.min_quantity", "5"), ("r0.max_quantity", "2")]),
    )
    .await;
    assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        wrong.body.contains("Rule 1 when.max_quantity"),
        "{}",
        wrong.body
    );
    assert!(
        wrong.body.contains("value=\"venlo ships VEN\""),
        "the row is kept"
    );
    assert!(!wrong.body.contains("Save these"));
    let tried = post_pairs(&mut b, &format!("{rules}/dry-run"), row(&[])).await;
    assert_eq!(tried.status, StatusCode::OK, "{}", tried.body);
    let at = tried.body.find("class=\"dry-run\"").unwrap();
    let table = &tried.body[at..at + tried.body[at..].find("</table>").unwrap()];
    assert_eq!(table.matches("<tr class=\"changed\"").count(), 1, "{table}");
    assert_eq!(table.matches("<tr").count(), 3, "a heading and two orders");
    assert!(tried.body.contains("1</strong> to Venlo"), "{}", tried.body);
    assert!(tried.body.contains("Save these 1 rule(s)"));
    let stored = app
        .get(&owner, &format!("/v1/stores/{store}/plugin-rules"))
        .await;
    assert_eq!(
        stored.body["rules"],
        json!([]),
        "nothing saved by a dry run"
    );
    let save = b
        .post(
            &rules,
            &[("csrf", &csrf), ("rules", &tried.hidden("rules"))],
        )
        .await;
    assert_eq!(save.status, StatusCode::SEE_OTHER);
    let stored = app
        .get(&owner, &format!("/v1/stores/{store}/plugin-rules"))
        .await;
    assert_eq!(stored.body["rules"][0]["name"], "venlo ships VEN");
    assert_eq!(
        stored.body["rules"][0]["when"]["skus_any"],
        json!(["VEN-*"])
    );
    assert_eq!(
        stored.body["rules"][0]["then"]["plugin_id"],
        plugin.as_str()
    );

    // A plugin a rule routes to is not deleted; without the rule it is.
    let refused = b
        .post(&format!("{page_path}/delete"), &[("csrf", &csrf)])
        .await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.body);
    let none = post_pairs(
        &mut b,
        &format!("{rules}/dry-run"),
        row(&[("r0.remove", "true")]),
    )
    .await;
    assert!(none.body.contains("Save these 0 rule(s)"), "{}", none.body);
    b.post(&rules, &[("csrf", &csrf), ("rules", &none.hidden("rules"))])
        .await;
    let gone = b
        .post(&format!("{page_path}/delete"), &[("csrf", &csrf)])
        .await;
    assert_eq!(gone.status, StatusCode::SEE_OTHER);
    assert_eq!(
        app.get(&owner, &format!("/v1/plugins/{plugin}"))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
}

/// Sign in with the form (its double-submit token first).
async fn sign_in(b: &mut Browser, email: &str, password: &str) -> StatusCode {
    let token = b.get("/console/sign-in").await.hidden("form");
    b.post(
        "/console/sign-in",
        &[("email", email), ("password", password), ("form", &token)],
    )
    .await
    .status
}

#[tokio::test]
async fn a_user_changes_their_own_password_and_their_other_sessions_end() {
    let app = spawn_api_only().await;
    let link = invited(&app, "acme", "ann@example.com", Role::Staff).await;
    let mut here = Browser::new(&app);
    set_password(&mut here, &link, "the first password").await;
    let mut phone = Browser::new(&app);
    assert_eq!(
        sign_in(&mut phone, "ann@example.com", "the first password").await,
        StatusCode::SEE_OTHER
    );
    let settings = here.get("/console/settings").await;
    assert!(settings.body.contains("Change password"));
    let csrf = settings.hidden("csrf");
    let change = |current: &'static str, new: &'static str, again: &'static str| {
        vec![
            ("csrf", csrf.clone()),
            ("current", current.to_owned()),
            ("password", new.to_owned()),
            ("confirm", again.to_owned()),
        ]
    };
    let path = "/console/settings/password";
    let wrong = post_pairs(
        &mut here,
        path,
        change("a guess", "the second password", "the second password"),
    )
    .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert!(wrong.body.contains("The current password is wrong."));
    let differ = post_pairs(
        &mut here,
        path,
        change(
            "the first password",
            "the second password",
            "the second passw0rd",
        ),
    )
    .await;
    assert_eq!(differ.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(differ.body.contains("The two new passwords differ."));
    let short = post_pairs(
        &mut here,
        path,
        change("the first password", "short", "short"),
    )
    .await;
    assert_eq!(short.status, StatusCode::UNPROCESSABLE_ENTITY);
    let forged = here
        .post(
            path,
            &[
                ("current", "the first password"),
                ("password", "the second password"),
                ("confirm", "the second password"),
            ],
        )
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    // Nothing changed so far: the phone is still signed in.
    assert_eq!(phone.get("/console").await.status, StatusCode::OK);

    let done = post_pairs(
        &mut here,
        path,
        change(
            "the first password",
            "the second password",
            "the second password",
        ),
    )
    .await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    assert!(done.body.contains("Password changed."));
    assert_eq!(
        here.get("/console").await.status,
        StatusCode::OK,
        "this session goes on"
    );
    let ended = phone.get("/console").await;
    assert_eq!(ended.status, StatusCode::SEE_OTHER);
    assert_eq!(ended.location(), "/console/sign-in");
    let mut other = Browser::new(&app);
    assert_eq!(
        sign_in(&mut other, "ann@example.com", "the first password").await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        sign_in(&mut other, "ann@example.com", "the second password").await,
        StatusCode::SEE_OTHER
    );
}

/// The link in a mail (quoted-printable soft breaks undone).
fn link_in(mail: &switchyard_testkit::smtp::Mail) -> String {
    let text = mail.data.replace("=\n", "").replace("=3D", "=");
    let at = text
        .find("http://")
        .unwrap_or_else(|| panic!("no link in {text}"));
    let link = text[at..].split_whitespace().next().unwrap().to_owned();
    let path = &link[link.find("/console/").unwrap()..];
    path.to_owned()
}

#[tokio::test]
async fn with_smtp_set_links_are_emailed_and_a_forgotten_password_is_reset_by_mail() {
    use switchyard_testkit::smtp::Sink;

    let sink = Sink::start().await;
    let app = switchyard_testkit::spawn_api_with_mail(&sink.url).await;
    let link = invited(&app, "acme", "ann@example.com", Role::Owner).await;
    let mut ann = Browser::new(&app);
    set_password(&mut ann, &link, "the right password").await;
    let csrf = ann.get("/console/settings").await.hidden("csrf");

    // An invitation goes by mail; the page says so and shows no link.
    let invite = ann
        .post(
            "/console/settings/users",
            &[
                ("csrf", &csrf),
                ("email", "sam@example.com"),
                ("role", "staff"),
            ],
        )
        .await;
    assert_eq!(invite.status, StatusCode::CREATED);
    assert!(
        invite.body.contains("A link was emailed to"),
        "{}",
        invite.body
    );
    assert!(!invite.body.contains("set-password?link="));
    let mails = sink.mails();
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].to, vec!["sam@example.com".to_owned()]);
    assert!(
        mails[0]
            .data
            .contains("Subject: You are invited to Switchyard"),
        "{}",
        mails[0].data
    );
    assert!(
        mails[0]
            .data
            .contains("From: Switchyard <switchyard@example.test>")
    );
    let mut sam = Browser::new(&app);
    let first = link_in(&mails[0]);

    // An owner's new link is mailed too, and the first one still works once.
    let users = app
        .storage
        .list_users(&app.storage.ensure_account("acme").await.unwrap().id)
        .await
        .unwrap();
    let sam_id = users
        .iter()
        .find(|u| u.email == "sam@example.com")
        .unwrap()
        .id
        .clone();
    let again = ann
        .post(
            &format!("/console/settings/users/{sam_id}/link"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(again.status, StatusCode::CREATED);
    assert_eq!(sink.mails().len(), 2);
    assert!(
        sink.mails()[1]
            .data
            .contains("Subject: Your Switchyard sign-in link")
    );
    let set = set_password(&mut sam, &first, "sam's first password").await;
    assert_eq!(set.status, StatusCode::SEE_OTHER);

    // Forgot: the same answer for a user and for nobody; a mail for the user.
    let mut later = Browser::new(&app);
    let form = later.get("/console/sign-in").await;
    assert!(form.body.contains("Forgot your password?"));
    let token = form.hidden("form");
    let nobody = later
        .post(
            "/console/forgot-password",
            &[("email", "nobody@example.com"), ("form", &token)],
        )
        .await;
    assert_eq!(nobody.status, StatusCode::OK);
    assert_eq!(sink.mails().len(), 2, "no mail for nobody");
    let forgot = later
        .post(
            "/console/forgot-password",
            &[("email", "SAM@example.com"), ("form", &token)],
        )
        .await;
    assert_eq!(forgot.status, StatusCode::OK);
    assert_eq!(forgot.body, nobody.body, "the answer tells nothing");
    let mails = sink.mails();
    assert_eq!(mails.len(), 3);
    assert!(
        mails[2]
            .data
            .contains("Subject: Reset your Switchyard password")
    );
    let reset = set_password(&mut later, &link_in(&mails[2]), "sam's second password").await;
    assert_eq!(reset.status, StatusCode::SEE_OTHER);
    assert_eq!(
        sign_in(
            &mut Browser::new(&app),
            "sam@example.com",
            "sam's second password"
        )
        .await,
        StatusCode::SEE_OTHER
    );
    let forged = later
        .post(
            "/console/forgot-password",
            &[("email", "sam@example.com"), ("form", "forged")],
        )
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);

    // The mail server says no: the owner is told, and gets the link to send.
    sink.refuse(true);
    let refused = ann
        .post(
            "/console/settings/users",
            &[
                ("csrf", &csrf),
                ("email", "kim@example.com"),
                ("role", "staff"),
            ],
        )
        .await;
    assert_eq!(refused.status, StatusCode::CREATED);
    assert!(
        refused.body.contains("It could not be emailed"),
        "{}",
        refused.body
    );
    assert!(
        refused
            .hidden_value("input.secret")
            .contains("/console/set-password?link=")
    );
    assert_eq!(sink.mails().len(), 3);
}

#[tokio::test]
async fn without_smtp_a_forgotten_password_is_for_an_owner() {
    let app = spawn_api_only().await;
    let mut b = Browser::new(&app);
    let form = b.get("/console/sign-in").await;
    assert!(form.body.contains("Ask an owner of your account"));
    assert!(!form.body.contains("forgot-password"));
    let token = form.hidden("form");
    let r = b
        .post(
            "/console/forgot-password",
            &[("email", "ann@example.com"), ("form", &token)],
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}
