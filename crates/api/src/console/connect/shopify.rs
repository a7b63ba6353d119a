//! Shopify's authorization code grant for hosted pages: the shop's
//! consent, the callback's `hmac`, shop and single-use state checked, and
//! the code exchanged for the shop's offline token.

use secrecy::{ExposeSecret, SecretString};

use super::*;

/// The operator's Shopify app (`[apps.shopify]`).
#[derive(Debug, Clone)]
pub struct ShopifyApp {
    /// Client id (API key).
    pub client_id: String,
    /// Client secret (API secret key): checks the callback's `hmac`, and
    /// signs the shop's webhooks.
    pub client_secret: SecretString,
    /// Scopes asked for, comma-separated.
    pub scopes: String,
    /// Where a shop is reached; `{shop}` is its `myshopify.com` domain.
    pub shop_url: String,
}

impl ShopifyApp {
    fn shop_base(&self, shop: &str) -> String {
        self.shop_url
            .replace("{shop}", shop)
            .trim_end_matches('/')
            .to_owned()
    }
}

/// A Shopify shop domain (`name.myshopify.com`), from what the client
/// typed (`name` alone, or the domain), if it is one.
fn shop_domain(typed: &str) -> Option<String> {
    let t = typed.trim().to_ascii_lowercase();
    let t = t
        .trim_start_matches("https://")
        .trim_start_matches("http://")
        .trim_end_matches('/');
    let domain = if t.ends_with(".myshopify.com") {
        t.to_owned()
    } else {
        format!("{t}.myshopify.com")
    };
    let name = domain.strip_suffix(".myshopify.com")?;
    let ok = !name.is_empty()
        && name.len() <= 60
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        && !name.starts_with('-');
    ok.then_some(domain)
}

/// Send the client to Shopify to approve the app for their shop, with a
/// single-use state bound to this page and shop.
pub(super) async fn authorize_shopify(
    s: &AppState,
    headers: &HeaderMap,
    account: &AccountId,
    page: &HostedPage,
    typed: &str,
) -> Result<Response, (StatusCode, String)> {
    let unprocessable = |m: &str| (StatusCode::UNPROCESSABLE_ENTITY, m.to_owned());
    let Some(app) = crate::console::config(s).shopify.clone() else {
        return Err(unprocessable("this server has no Shopify app"));
    };
    let shop = shop_domain(typed).ok_or_else(|| {
        unprocessable("that is not a Shopify shop: give its name, as in name.myshopify.com")
    })?;
    let state = start_authorization(
        s,
        account,
        page,
        ChannelKind::Shopify,
        Some(shop.clone()),
        None,
    )
    .await?;
    let callback = format!(
        "{}/connect/callback/shopify",
        crate::console::config(s).links(headers).base
    );
    let mut url = reqwest::Url::parse(&format!("{}/admin/oauth/authorize", app.shop_base(&shop)))
        .map_err(|e| unprocessable(&format!("the shop address cannot be used: {e}")))?;
    url.query_pairs_mut()
        .append_pair("client_id", &app.client_id)
        .append_pair("scope", &app.scopes)
        .append_pair("redirect_uri", &callback)
        .append_pair("state", &state);
    tracing::info!(page = %page.id, %shop, "hosted page sends its client to Shopify");
    Ok(see_other(url.as_str()))
}

/// Whether Shopify signed this callback: the hex HMAC-SHA256, keyed with
/// the app's secret, of every other parameter sorted and joined.
fn shopify_signed(secret: &str, params: &[(String, String)]) -> bool {
    use hmac::Mac as _;
    let Some(given) = params.iter().find(|(k, _)| k == "hmac").map(|(_, v)| v) else {
        return false;
    };
    let Some(given) = (0..given.len())
        .step_by(2)
        .map(|i| {
            given
                .get(i..i + 2)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        })
        .collect::<Option<Vec<u8>>>()
    else {
        return false;
    };
    let mut rest: Vec<&(String, String)> = params.iter().filter(|(k, _)| k != "hmac").collect();
    rest.sort();
    let message = rest
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&");
    let Ok(mut mac) = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()) else {
        return false;
    };
    mac.update(message.as_bytes());
    mac.verify_slice(&given).is_ok()
}

/// Shopify sends the client back here: the signature, the shop and the
/// single-use state are checked, the code is exchanged for the shop's
/// token, and the channel is made as for a form.
pub(crate) async fn shopify_callback(
    State(s): State<AppState>,
    headers: HeaderMap,
    Query(params): Query<Vec<(String, String)>>,
) -> Response {
    let Some(app) = crate::console::config(&s).shopify.clone() else {
        return not_found().await;
    };
    let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let Some(state) = get("state") else {
        return refused_callback(StatusCode::BAD_REQUEST, "The callback carries no state.");
    };
    let denied = get("error");
    if denied.is_none() && !shopify_signed(app.client_secret.expose_secret(), &params) {
        return refused_callback(
            StatusCode::BAD_REQUEST,
            "The callback's signature (hmac) is wrong: it did not come from Shopify.",
        );
    }
    let taken = match s
        .storage
        .take_oauth_state(&crate::tokens::hash(state), Utc::now())
        .await
    {
        Ok(Some(t)) if t.kind == ChannelKind::Shopify => t,
        Ok(_) => {
            return refused_callback(
                StatusCode::BAD_REQUEST,
                "This authorization is unknown, was already used or has expired. Open your page again and start over.",
            );
        }
        Err(e) => return failed(&e),
    };
    let page = match s
        .storage
        .get_hosted_page(&taken.account_id, &taken.page_id)
        .await
    {
        Ok(p) => p,
        Err(e) => return failed(&e),
    };
    let own = own_token(&s, &headers, &page).await;
    let token_less = |status: StatusCode, message: &str| {
        // The client goes back to the page's Shopify form, which can start over.
        retry_page(own.as_deref(), &page, ChannelKind::Shopify, status, message)
    };
    if let Some(error) = denied {
        let why = get("error_description").unwrap_or(error);
        return token_less(StatusCode::OK, why);
    }
    let shop = get("shop").and_then(shop_domain);
    if shop.is_none() || shop != taken.shop {
        return refused_callback(
            StatusCode::BAD_REQUEST,
            "The callback names another shop than the one the authorization was started for.",
        );
    }
    let shop = shop.unwrap_or_default();
    if page.state_at(Utc::now()) != PageState::Open {
        return retry_page(
            own.as_deref(),
            &page,
            ChannelKind::Shopify,
            StatusCode::GONE,
            "This page can no longer connect a shop.",
        );
    }
    let Some(code) = get("code") else {
        return refused_callback(StatusCode::BAD_REQUEST, "The callback carries no code.");
    };
    let base = app.shop_base(&shop);
    let token = match exchange_shopify_code(&s, &app, &base, code).await {
        Ok(t) => t,
        Err(why) => return token_less(StatusCode::BAD_GATEWAY, &why),
    };
    let creds = serde_json::json!({ "access_token": token, "api_secret_key": app.client_secret.expose_secret() });
    match finish(
        &s,
        "",
        &taken.account_id,
        &page,
        ChannelKind::Shopify,
        &base,
        creds,
    )
    .await
    {
        Ok(r) => r,
        Err((status, why)) => token_less(status, &why),
    }
}

/// Exchange the code at the shop for its offline access token.
async fn exchange_shopify_code(
    s: &AppState,
    app: &ShopifyApp,
    base: &str,
    code: &str,
) -> Result<String, String> {
    let url = format!("{base}/admin/oauth/access_token");
    let body = exchange(s, "the shop", &url, |r| {
        r.json(&serde_json::json!({
            "client_id": app.client_id, "client_secret": app.client_secret.expose_secret(), "code": code,
        }))
    })
    .await?;
    field_of(&body, "the shop", "access_token")
}
