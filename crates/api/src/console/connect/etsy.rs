//! Etsy's OAuth 2.0 with PKCE for hosted pages: the verifier stays here,
//! the code is exchanged with it, and the shop is found with the new token.

use super::*;

/// The operator's Etsy app (`[apps.etsy]`).
#[derive(Debug, Clone)]
pub struct EtsyApp {
    /// Keystring: the client id and `x-api-key`.
    pub keystring: String,
    /// Scopes asked for, space-separated.
    pub scopes: String,
    /// Where the owner approves (`https://www.etsy.com/oauth/connect`).
    pub connect_url: String,
    /// The Open API (`https://api.etsy.com`).
    pub api_url: String,
}

/// The PKCE challenge of a verifier: BASE64URL(SHA256(verifier)).
fn pkce_challenge(verifier: &str) -> String {
    use base64::Engine as _;
    use sha2::Digest as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(sha2::Sha256::digest(verifier.as_bytes()))
}

/// Send the client to Etsy with a single-use state and a PKCE challenge
/// whose verifier stays here.
pub(super) async fn authorize_etsy(
    s: &AppState,
    headers: &HeaderMap,
    account: &AccountId,
    page: &HostedPage,
) -> Result<Response, (StatusCode, String)> {
    let internal = |e: String| (StatusCode::INTERNAL_SERVER_ERROR, e);
    let Some(app) = crate::console::config(s).etsy.clone() else {
        return Err((
            StatusCode::UNPROCESSABLE_ENTITY,
            "this server has no Etsy app".into(),
        ));
    };
    let verifier = crate::console::auth::secret().map_err(|e| internal(e.to_string()))?;
    let state = start_authorization(
        s,
        account,
        page,
        ChannelKind::Etsy,
        None,
        Some(verifier.clone()),
    )
    .await?;
    let mut url = reqwest::Url::parse(&app.connect_url).map_err(|e| internal(e.to_string()))?;
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", &app.keystring)
        .append_pair("redirect_uri", &callback_url(s, headers, ChannelKind::Etsy))
        .append_pair("scope", &app.scopes)
        .append_pair("state", &state)
        .append_pair("code_challenge", &pkce_challenge(&verifier))
        .append_pair("code_challenge_method", "S256");
    tracing::info!(page = %page.id, "hosted page sends its client to Etsy");
    Ok(see_other(url.as_str()))
}

/// Etsy sends the client back here: the state is taken once, the code is
/// exchanged with the verifier, the shop is looked up, and the channel is
/// made with the refresh token.
pub(crate) async fn etsy_callback(
    State(s): State<AppState>,
    headers: HeaderMap,
    Query(params): Query<Vec<(String, String)>>,
) -> Response {
    let Some(app) = crate::console::config(&s).etsy.clone() else {
        return not_found().await;
    };
    let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let (taken, page) = match take_state(&s, get("state"), ChannelKind::Etsy).await {
        Ok(found) => found,
        Err(r) => return r,
    };
    let own = own_token(&s, &headers, &page).await;
    if let Some(error) = get("error") {
        let why = get("error_description").unwrap_or(error);
        return retry_page(
            own.as_deref(),
            &page,
            ChannelKind::Etsy,
            StatusCode::OK,
            why,
        );
    }
    if page.state_at(Utc::now()) != PageState::Open {
        return retry_page(
            own.as_deref(),
            &page,
            ChannelKind::Etsy,
            StatusCode::GONE,
            "this page can no longer connect a shop",
        );
    }
    let (Some(code), Some(verifier)) = (get("code"), verifier_of(&s, &taken)) else {
        return refused_callback(StatusCode::BAD_REQUEST, "The callback carries no code.");
    };
    let redirect_uri = callback_url(&s, &headers, ChannelKind::Etsy);
    let creds = match etsy_credentials(&s, &app, code, &verifier, &redirect_uri).await {
        Ok(c) => c,
        Err(why) => {
            return retry_page(
                own.as_deref(),
                &page,
                ChannelKind::Etsy,
                StatusCode::BAD_GATEWAY,
                &why,
            );
        }
    };
    match finish(
        &s,
        "",
        &taken.account_id,
        &page,
        ChannelKind::Etsy,
        &app.api_url,
        creds,
    )
    .await
    {
        Ok(r) => r,
        Err((status, why)) => retry_page(own.as_deref(), &page, ChannelKind::Etsy, status, &why),
    }
}

/// Exchange the code (with its verifier) for tokens, then find the shop
/// the token's user owns: the channel's `{keystring, refresh_token, shop_id}`.
async fn etsy_credentials(
    s: &AppState,
    app: &EtsyApp,
    code: &str,
    verifier: &str,
    redirect_uri: &str,
) -> Result<serde_json::Value, String> {
    let token_url = format!("{}/v3/public/oauth/token", app.api_url);
    let body = exchange(s, "Etsy", &token_url, |r| {
        r.header("x-api-key", &app.keystring).form(&[
            ("grant_type", "authorization_code"),
            ("client_id", app.keystring.as_str()),
            ("redirect_uri", redirect_uri),
            ("code", code),
            ("code_verifier", verifier),
        ])
    })
    .await?;
    let access = field_of(&body, "Etsy", "access_token")?;
    let refresh = field_of(&body, "Etsy", "refresh_token")?;
    let me: serde_json::Value = exchange_client()?
        .get(format!("{}/v3/application/users/me", app.api_url))
        .header("x-api-key", &app.keystring)
        .bearer_auth(&access)
        .send()
        .await
        .map_err(|e| format!("Etsy could not be reached: {e}"))?
        .json()
        .await
        .map_err(|e| format!("Etsy's answer could not be read: {e}"))?;
    let shop_id = me["shop_id"]
        .as_u64()
        .ok_or("the Etsy account has no shop: sign in as the shop's owner")?;
    Ok(
        serde_json::json!({ "keystring": app.keystring, "refresh_token": refresh, "shop_id": shop_id }),
    )
}
