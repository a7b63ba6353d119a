//! A browser without JavaScript for console tests over real HTTP: it
//! keeps cookies, follows no redirect, and reads hidden form fields.

#![allow(
    clippy::unwrap_used,
    reason = "test support: a page without the field asked for should stop the test loudly"
)]

use std::collections::HashMap;

use reqwest::StatusCode;
use reqwest::header::{HeaderMap, LOCATION, SET_COOKIE};
use switchyard_api::console::{Links, invite};
use switchyard_domain::user::Role;

use crate::TestApp;

/// A browser without JavaScript: keeps cookies, follows no redirect.
#[derive(Debug)]
pub struct Browser {
    /// The server.
    pub base: String,
    client: reqwest::Client,
    /// Cookies held, by name.
    pub cookies: HashMap<String, String>,
}

#[derive(Debug)]
pub struct Page {
    /// Status.
    pub status: StatusCode,
    /// Headers.
    pub headers: HeaderMap,
    /// The HTML.
    pub body: String,
}

impl Page {
    /// The value of the first hidden input named `name`.
    pub fn hidden(&self, name: &str) -> String {
        let marker = format!("name=\"{name}\" value=\"");
        let at = self
            .body
            .find(&marker)
            .unwrap_or_else(|| panic!("no {name} in {}", self.body));
        let rest = &self.body[at + marker.len()..];
        unescape(&rest[..rest.find('"').unwrap()])
    }

    /// The value of the first input with this class (`input.secret`).
    pub fn hidden_value(&self, css: &str) -> String {
        let class = css.split('.').nth(1).unwrap();
        let at = self
            .body
            .find(&format!("class=\"{class}\""))
            .unwrap_or_else(|| panic!("no {css} in {}", self.body));
        let rest = &self.body[at..];
        let v = rest.find("value=\"").unwrap() + "value=\"".len();
        unescape(&rest[v..v + rest[v..].find('"').unwrap()])
    }

    /// The `Location` header.
    pub fn location(&self) -> &str {
        self.headers.get(LOCATION).unwrap().to_str().unwrap()
    }
}

/// An attribute's text as a browser reads it.
fn unescape(v: &str) -> String {
    v.replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

impl Browser {
    /// A browser with no cookies for `app`.
    pub fn new(app: &TestApp) -> Self {
        Self {
            base: app.address.clone(),
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            cookies: HashMap::new(),
        }
    }

    fn keep(&mut self, headers: &HeaderMap) {
        for c in headers.get_all(SET_COOKIE) {
            let c = c.to_str().unwrap();
            let (pair, attrs) = c.split_once(';').unwrap_or((c, ""));
            let (k, v) = pair.split_once('=').unwrap();
            if v.is_empty() || attrs.contains("Max-Age=0") {
                self.cookies.remove(k);
            } else {
                self.cookies.insert(k.to_owned(), v.to_owned());
            }
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// Send a request with the cookies, keeping the ones set.
    pub async fn send(&mut self, req: reqwest::RequestBuilder) -> Page {
        let r = req
            .header("cookie", self.cookie_header())
            .send()
            .await
            .unwrap();
        let status = r.status();
        let headers = r.headers().clone();
        self.keep(&headers);
        Page {
            status,
            headers,
            body: r.text().await.unwrap(),
        }
    }

    /// GET a path.
    pub async fn get(&mut self, path: &str) -> Page {
        let req = self.client.get(format!("{}{path}", self.base));
        self.send(req).await
    }

    /// POST a form to a path.
    pub async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        let req = self.client.post(format!("{}{path}", self.base)).form(form);
        self.send(req).await
    }
}

/// A user of `account` and their set-password link (path and query).
pub async fn invited(app: &TestApp, account: &str, email: &str, role: Role) -> String {
    invited_to(app, account, email, role, None).await
}

/// [`invited`], limited to `stores`.
pub async fn invited_to(
    app: &TestApp,
    account: &str,
    email: &str,
    role: Role,
    stores: Option<Vec<&str>>,
) -> String {
    let acc = app.storage.ensure_account(account).await.unwrap();
    let config = Links::new(&app.address);
    let stores = stores.map(|s| {
        s.iter()
            .map(|id| switchyard_domain::ids::StoreId::parse(id).unwrap())
            .collect()
    });
    let (_, link) = invite(app.storage.as_ref(), &config, &acc.id, email, role, stores)
        .await
        .unwrap();
    link.strip_prefix(&app.address).unwrap().to_owned()
}

/// Set a password from the link; the browser is then signed in.
pub async fn set_password(b: &mut Browser, link: &str, password: &str) -> Page {
    let form = b.get(link).await;
    assert_eq!(form.status, StatusCode::OK);
    let secret = form.hidden("link");
    b.post(
        "/console/set-password",
        &[
            ("link", &secret),
            ("password", password),
            ("confirm", password),
        ],
    )
    .await
}

/// Post a form that may repeat a field.
pub async fn post_pairs(b: &mut Browser, path: &str, form: Vec<(&str, String)>) -> Page {
    let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    b.post(path, &pairs).await
}
