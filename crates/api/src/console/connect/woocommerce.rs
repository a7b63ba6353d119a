//! WooCommerce's Application Authentication Endpoint for hosted pages:
//! the store POSTs the API keys to the callback (taken once by the
//! `user_id` state), then sends the client back.

use secrecy::{ExposeSecret, SecretString};

use super::*;

/// Send the client to their store's `/wc-auth/v1/authorize`, with a
/// single-use state (as `user_id`) bound to this page and store.
pub(super) async fn authorize_woocommerce(
    s: &AppState,
    headers: &HeaderMap,
    account: &AccountId,
    page: &HostedPage,
    typed: &str,
) -> Result<Response, (StatusCode, String)> {
    let store = typed.trim().trim_end_matches('/').to_owned();
    check_destination(s, "store", &store).map_err(|e| (e.status(), e.to_string()))?;
    let state = start_authorization(
        s,
        account,
        page,
        ChannelKind::Woocommerce,
        Some(store.clone()),
        None,
    )
    .await?;
    let base = crate::console::config(s).links(headers).base;
    let mut url = reqwest::Url::parse(&format!("{store}/wc-auth/v1/authorize")).map_err(|e| {
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("the store address cannot be used: {e}"),
        )
    })?;
    url.query_pairs_mut()
        .append_pair("app_name", &page.branding.name)
        .append_pair("scope", "read_write")
        .append_pair("user_id", &state)
        .append_pair("return_url", &format!("{base}/connect/return/woocommerce"))
        .append_pair(
            "callback_url",
            &format!("{base}/connect/callback/woocommerce"),
        );
    tracing::info!(page = %page.id, %store, "hosted page sends its client to WooCommerce");
    Ok(see_other(url.as_str()))
}

/// The keys a store POSTs to the callback.
#[derive(Debug, serde::Deserialize)]
pub(crate) struct WooKeys {
    #[serde(default)]
    user_id: serde_json::Value,
    #[serde(default)]
    consumer_key: String,
    #[serde(default)]
    consumer_secret: SecretString,
}

/// The store POSTs the keys here (server to server) before it sends the
/// client back: the state (`user_id`) is taken once, the keys are checked
/// with the store, and the channel is made.
pub(crate) async fn woocommerce_callback(
    State(s): State<AppState>,
    axum::Json(keys): axum::Json<WooKeys>,
) -> Response {
    let refuse = |status: StatusCode, why: &str| {
        tracing::warn!(%why, "WooCommerce key callback refused");
        (status, axum::Json(serde_json::json!({ "error": why }))).into_response()
    };
    let state = match &keys.user_id {
        serde_json::Value::String(v) => v.clone(),
        other => other.to_string(),
    };
    let taken = match s
        .storage
        .take_oauth_state(&crate::tokens::hash(&state), Utc::now())
        .await
    {
        Ok(Some(t)) if t.kind == ChannelKind::Woocommerce => t,
        Ok(_) => return refuse(StatusCode::BAD_REQUEST, "unknown, used or expired user_id"),
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
    if page.state_at(Utc::now()) != PageState::Open {
        return refuse(StatusCode::GONE, "the page can no longer connect a store");
    }
    let store = taken.shop.clone().unwrap_or_default();
    let creds = serde_json::json!({
        "consumer_key": keys.consumer_key,
        "consumer_secret": keys.consumer_secret.expose_secret(),
    });
    match try_connection(
        &s,
        ChannelKind::Woocommerce,
        Some(&store),
        creds.to_string().as_bytes(),
    )
    .await
    {
        Ok(t) if t.ok => {}
        Ok(t) => return refuse(StatusCode::UNPROCESSABLE_ENTITY, &t.message),
        Err(e) => return refuse(e.status(), &e.to_string()),
    }
    match finish(
        &s,
        "",
        &taken.account_id,
        &page,
        ChannelKind::Woocommerce,
        &store,
        creds,
    )
    .await
    {
        Ok(_) => (
            StatusCode::OK,
            axum::Json(serde_json::json!({ "ok": true })),
        )
            .into_response(),
        Err((status, why)) => refuse(status, &why),
    }
}

#[derive(Debug, serde::Deserialize)]
pub(crate) struct WooReturn {
    #[serde(default)]
    success: String,
    #[serde(default)]
    user_id: String,
}

/// The store sends the client back here: on to the provider when the keys
/// arrived and the channel is made, or told what happened.
pub(crate) async fn woocommerce_return(
    State(s): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<WooReturn>,
) -> Response {
    let hash = crate::tokens::hash(&q.user_id);
    let found = match s.storage.find_oauth_state(&hash).await {
        Ok(Some(t)) if t.kind == ChannelKind::Woocommerce => t,
        Ok(_) => {
            return refused_callback(
                StatusCode::BAD_REQUEST,
                "This authorization is unknown. Open your page again and start over.",
            );
        }
        Err(e) => return failed(&e),
    };
    let page = match s
        .storage
        .get_hosted_page(&found.account_id, &found.page_id)
        .await
    {
        Ok(p) => p,
        Err(e) => return failed(&e),
    };
    let own = own_token(&s, &headers, &page).await;
    if q.success != "1" {
        // Denied: the state is spent so it cannot be used later.
        if let Err(e) = s.storage.take_oauth_state(&hash, Utc::now()).await {
            return failed(&e);
        }
        return retry_page(
            own.as_deref(),
            &page,
            ChannelKind::Woocommerce,
            StatusCode::OK,
            "the store's owner denied access",
        );
    }
    match (&page.channel_id, page.redirect_url.as_deref()) {
        (Some(ch), Some(r)) if page.state_at(Utc::now()) == PageState::Completed => {
            match back_to(r, &page, ch.as_str()) {
                Some(to) => see_other(&to),
                None => retry_page(
                    own.as_deref(),
                    &page,
                    ChannelKind::Woocommerce,
                    StatusCode::OK,
                    "connected",
                ),
            }
        }
        (Some(_), None) if page.state_at(Utc::now()) == PageState::Completed => layout(
            "",
            &page.branding,
            StatusCode::OK,
            "Connected",
            html! { p.created { "Your WooCommerce store is connected to " (page.branding.name) ". You can close this page." } },
        ),
        _ => retry_page(
            own.as_deref(),
            &page,
            ChannelKind::Woocommerce,
            StatusCode::BAD_GATEWAY,
            "the store did not send working API keys",
        ),
    }
}
