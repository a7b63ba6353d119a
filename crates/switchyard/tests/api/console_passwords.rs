//! A console user's own password over real HTTP: changing it (other
//! sessions end), and links and password resets by email when `smtp_url`
//! is set (a loopback SMTP sink), or not.

use reqwest::StatusCode;
use switchyard_domain::user::Role;
use switchyard_testkit::console::{Browser, invited, post_pairs, set_password};
use switchyard_testkit::spawn_api_only;

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
