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
