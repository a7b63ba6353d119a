//! SP-API website authorization for hosted pages: Seller Central's
//! consent, and `spapi_oauth_code` exchanged with Login with Amazon.

use secrecy::{ExposeSecret, SecretString};

use super::*;

/// The operator's SP-API application (`[apps.amazon]`).
#[derive(Debug, Clone)]
pub struct AmazonApp {
    /// `amzn1.sp.solution.…`
    pub application_id: String,
    /// A draft application (`version=beta`).
    pub draft: bool,
    /// LWA client id.
    pub client_id: String,
    /// LWA client secret.
    pub client_secret: SecretString,
    /// Seller Central's consent page.
    pub consent_url: String,
    /// LWA's token endpoint.
    pub token_url: String,
    /// The SP-API endpoint.
    pub api_url: String,
    /// The marketplace the channel sells on.
    pub marketplace_id: String,
}

/// Send the seller to Seller Central's consent page with a single-use
/// state bound to this page.
pub(super) async fn authorize_amazon(
    s: &AppState,
    headers: &HeaderMap,
    account: &AccountId,
    page: &HostedPage,
) -> Result<Response, (StatusCode, String)> {
    let internal = |e: String| (StatusCode::INTERNAL_SERVER_ERROR, e);
    let Some(app) = crate::console::config(s).amazon.clone() else {
        return Err((
            StatusCode::UNPROCESSABLE_ENTITY,
            "this server has no Amazon application".into(),
        ));
    };
    let state = start_authorization(s, account, page, ChannelKind::Amazon, None, None).await?;
    let mut url = reqwest::Url::parse(&app.consent_url).map_err(|e| internal(e.to_string()))?;
    {
        let mut q = url.query_pairs_mut();
        q.append_pair("application_id", &app.application_id)
            .append_pair("state", &state)
            .append_pair(
                "redirect_uri",
                &callback_url(s, headers, ChannelKind::Amazon),
            );
        if app.draft {
            q.append_pair("version", "beta");
        }
    }
    tracing::info!(page = %page.id, "hosted page sends its client to Seller Central");
    Ok(see_other(url.as_str()))
}

/// Seller Central sends the seller back with `state`,
/// `selling_partner_id` and `spapi_oauth_code`; the code is exchanged with
/// Login with Amazon for the seller's refresh token.
pub(crate) async fn amazon_callback(
    State(s): State<AppState>,
    headers: HeaderMap,
    Query(params): Query<Vec<(String, String)>>,
) -> Response {
    let Some(app) = crate::console::config(&s).amazon.clone() else {
        return not_found().await;
    };
    let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let (taken, page) = match take_state(&s, get("state"), ChannelKind::Amazon).await {
        Ok(found) => found,
        Err(r) => return r,
    };
    let own = own_token(&s, &headers, &page).await;
    if let Some(error) = get("error") {
        let why = get("error_description").unwrap_or(error);
        return retry_page(
            own.as_deref(),
            &page,
            ChannelKind::Amazon,
            StatusCode::OK,
            why,
        );
    }
    if page.state_at(Utc::now()) != PageState::Open {
        return retry_page(
            own.as_deref(),
            &page,
            ChannelKind::Amazon,
            StatusCode::GONE,
            "this page can no longer connect a shop",
        );
    }
    let (Some(code), Some(seller)) = (get("spapi_oauth_code"), get("selling_partner_id")) else {
        return refused_callback(
            StatusCode::BAD_REQUEST,
            "The callback carries no spapi_oauth_code or selling_partner_id.",
        );
    };
    let refresh = match amazon_refresh_token(&s, &app, code).await {
        Ok(t) => t,
        Err(why) => {
            return retry_page(
                own.as_deref(),
                &page,
                ChannelKind::Amazon,
                StatusCode::BAD_GATEWAY,
                &why,
            );
        }
    };
    let creds = serde_json::json!({
        "client_id": app.client_id, "client_secret": app.client_secret.expose_secret(), "refresh_token": refresh,
        "seller_id": seller, "marketplace_id": app.marketplace_id,
    });
    match finish(
        &s,
        "",
        &taken.account_id,
        &page,
        ChannelKind::Amazon,
        &app.api_url,
        creds,
    )
    .await
    {
        Ok(r) => r,
        Err((status, why)) => retry_page(own.as_deref(), &page, ChannelKind::Amazon, status, &why),
    }
}

/// Exchange the authorization code with Login with Amazon.
async fn amazon_refresh_token(s: &AppState, app: &AmazonApp, code: &str) -> Result<String, String> {
    let body = exchange(s, "Login with Amazon", &app.token_url, |r| {
        r.form(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("client_id", app.client_id.as_str()),
            ("client_secret", app.client_secret.expose_secret()),
        ])
    })
    .await?;
    field_of(&body, "Login with Amazon", "refresh_token")
}
