//! eBay's consent for the operator's RuName, for hosted pages: the code
//! is exchanged with Basic client auth for the seller's refresh token.

use secrecy::{ExposeSecret, SecretString};

use super::*;

/// The operator's eBay app (`[apps.ebay]`).
#[derive(Debug, Clone)]
pub struct EbayApp {
    /// App ID.
    pub client_id: String,
    /// Cert ID.
    pub client_secret: SecretString,
    /// The RuName whose accept URL is `/connect/callback/ebay`.
    pub runame: String,
    /// Scopes, space-separated.
    pub scopes: String,
    /// Where the seller consents.
    pub auth_url: String,
    /// The APIs' address.
    pub api_url: String,
}

/// Send the client to eBay's consent for the app's RuName, with a
/// single-use state bound to this page.
pub(super) async fn authorize_ebay(
    s: &AppState,
    account: &AccountId,
    page: &HostedPage,
) -> Result<Response, (StatusCode, String)> {
    let internal = |e: String| (StatusCode::INTERNAL_SERVER_ERROR, e);
    let Some(app) = crate::console::config(s).ebay.clone() else {
        return Err((
            StatusCode::UNPROCESSABLE_ENTITY,
            "this server has no eBay app".into(),
        ));
    };
    let state = start_authorization(s, account, page, ChannelKind::Ebay, None, None).await?;
    let mut url = reqwest::Url::parse(&app.auth_url).map_err(|e| internal(e.to_string()))?;
    url.query_pairs_mut()
        .append_pair("client_id", &app.client_id)
        .append_pair("redirect_uri", &app.runame)
        .append_pair("response_type", "code")
        .append_pair("scope", &app.scopes)
        .append_pair("state", &state);
    tracing::info!(page = %page.id, "hosted page sends its client to eBay");
    Ok(see_other(url.as_str()))
}

/// eBay sends the seller to the RuName's accept URL (here) with `state`
/// and `code`, or to its decline URL (here with `declined=1`).
pub(crate) async fn ebay_callback(
    State(s): State<AppState>,
    headers: HeaderMap,
    Query(params): Query<Vec<(String, String)>>,
) -> Response {
    let Some(app) = crate::console::config(&s).ebay.clone() else {
        return not_found().await;
    };
    let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let (taken, page) = match take_state(&s, get("state"), ChannelKind::Ebay).await {
        Ok(found) => found,
        Err(r) => return r,
    };
    let own = own_token(&s, &headers, &page).await;
    if get("declined").is_some() || get("error").is_some() {
        return retry_page(
            own.as_deref(),
            &page,
            ChannelKind::Ebay,
            StatusCode::OK,
            "you disagreed to grant access",
        );
    }
    if page.state_at(Utc::now()) != PageState::Open {
        return retry_page(
            own.as_deref(),
            &page,
            ChannelKind::Ebay,
            StatusCode::GONE,
            "this page can no longer connect a shop",
        );
    }
    let Some(code) = get("code") else {
        return refused_callback(StatusCode::BAD_REQUEST, "The callback carries no code.");
    };
    let refresh = match ebay_refresh_token(&s, &app, code).await {
        Ok(t) => t,
        Err(why) => {
            return retry_page(
                own.as_deref(),
                &page,
                ChannelKind::Ebay,
                StatusCode::BAD_GATEWAY,
                &why,
            );
        }
    };
    let creds = serde_json::json!({
        "client_id": app.client_id, "client_secret": app.client_secret.expose_secret(), "refresh_token": refresh,
    });
    match finish(
        &s,
        "",
        &taken.account_id,
        &page,
        ChannelKind::Ebay,
        &app.api_url,
        creds,
    )
    .await
    {
        Ok(r) => r,
        Err((status, why)) => retry_page(own.as_deref(), &page, ChannelKind::Ebay, status, &why),
    }
}

/// Exchange the code for the seller's refresh token.
async fn ebay_refresh_token(s: &AppState, app: &EbayApp, code: &str) -> Result<String, String> {
    let url = format!("{}/identity/v1/oauth2/token", app.api_url);
    let body = exchange(s, "eBay", &url, |r| {
        r.basic_auth(&app.client_id, Some(app.client_secret.expose_secret()))
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", app.runame.as_str()),
            ])
    })
    .await?;
    field_of(&body, "eBay", "refresh_token")
}
