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
