//! `GET /v1/account` and API tokens.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use switchyard_domain::ids::{StoreId, TokenId};
use switchyard_domain::values::check_text;
use switchyard_storage::TokenRecord;
use utoipa::ToSchema;

use crate::AppState;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{ApiJson, ApiPath, ApiQuery, Auth, PageQuery, encode_cursor};
use crate::tokens;

/// The caller's account.
#[derive(Debug, Serialize, ToSchema)]
pub struct AccountOut {
    /// Account id.
    pub id: String,
    /// Account name.
    pub name: String,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// The token used for this request.
    pub token_id: String,
    /// The store the token is limited to, if any.
    pub token_store_id: Option<String>,
}

/// Who am I.
#[utoipa::path(get, path = "/v1/account", tag = "account",
    responses((status = 200, body = AccountOut), (status = 401, body = ErrorBody)))]
pub async fn get_account(
    State(s): State<AppState>,
    auth: Auth,
) -> Result<Json<AccountOut>, ApiError> {
    let a = s.storage.get_account(&auth.account_id).await?;
    Ok(Json(AccountOut {
        id: a.id.to_string(),
        name: a.name,
        created_at: a.created_at,
        token_id: auth.token_id.to_string(),
        token_store_id: auth.store_scope.map(|s| s.to_string()),
    }))
}

/// An API token, without its secret.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenOut {
    /// Token id.
    pub id: String,
    /// Label.
    pub name: String,
    /// The first characters of the token, to recognise it.
    pub prefix: String,
    /// The store it is limited to, if any.
    pub store_id: Option<String>,
    /// The plugin whose routes it is limited to, if any.
    pub plugin_id: Option<String>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last use (updated at most once a minute).
    pub last_used_at: Option<DateTime<Utc>>,
    /// Revocation time.
    pub revoked_at: Option<DateTime<Utc>>,
}

impl From<TokenRecord> for TokenOut {
    fn from(t: TokenRecord) -> Self {
        Self {
            id: t.id.to_string(),
            name: t.name,
            prefix: t.prefix,
            store_id: t.store_id.map(|s| s.to_string()),
            plugin_id: t.plugin_id.map(|p| p.to_string()),
            created_at: t.created_at,
            last_used_at: t.last_used_at,
            revoked_at: t.revoked_at,
        }
    }
}

/// A page of tokens.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenList {
    /// Tokens.
    pub items: Vec<TokenOut>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// A new token.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenIn {
    /// Label, e.g. `ci` or `warehouse-sync`.
    #[schema(value_type = crate::text::Text100)]
    pub name: String,
    /// Limit the token to one store.
    #[schema(value_type = Option<String>)]
    pub store_id: Option<StoreId>,
}

/// A newly created token: `token` is shown this once and never again.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedTokenOut {
    /// The secret. Store it now; only its hash is kept.
    pub token: String,
    /// The token's record.
    #[serde(flatten)]
    pub record: TokenOut,
}

/// List the account's tokens (never their secrets).
#[utoipa::path(get, path = "/v1/tokens", tag = "account", params(PageQuery),
    responses((status = 200, body = TokenList), (status = 403, body = ErrorBody)))]
pub async fn list_tokens(
    State(s): State<AppState>,
    auth: Auth,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> Result<Json<TokenList>, ApiError> {
    auth.require_account_wide("manage tokens")?;
    let page = q.to_request(|k| TokenId::parse(k).is_ok())?;
    let p = s.storage.list_tokens(&auth.account_id, &page).await?;
    Ok(Json(TokenList {
        items: p.items.into_iter().map(TokenOut::from).collect(),
        next_cursor: p.next.as_deref().map(encode_cursor),
    }))
}

/// Create a token. The secret is in the response, once.
#[utoipa::path(post, path = "/v1/tokens", tag = "account", request_body = TokenIn,
    responses((status = 201, body = CreatedTokenOut), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody, description = "`store_id` names no store of this account"), (status = 422, body = ErrorBody)))]
pub async fn create_token(
    State(s): State<AppState>,
    auth: Auth,
    ApiJson(body): ApiJson<TokenIn>,
) -> Result<(StatusCode, Json<CreatedTokenOut>), ApiError> {
    auth.require_account_wide("manage tokens")?;
    check_text("name", &body.name, 100)?;
    let (secret, rec) = tokens::issue(
        s.storage.as_ref(),
        auth.account_id.clone(),
        tokens::Scope {
            store: body.store_id,
            plugin: None,
        },
        body.name,
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedTokenOut {
            token: secret.expose_secret().to_owned(),
            record: rec.into(),
        }),
    ))
}

/// Revoke a token. It stops working at once.
#[utoipa::path(delete, path = "/v1/tokens/{token_id}", tag = "account",
    params(("token_id" = String, Path, description = "Token id")),
    responses((status = 200, body = TokenOut), (status = 404, body = ErrorBody)))]
pub async fn revoke_token(
    State(s): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<TokenId>,
) -> Result<Json<TokenOut>, ApiError> {
    auth.require_account_wide("manage tokens")?;
    Ok(Json(
        s.storage.revoke_token(&auth.account_id, &id).await?.into(),
    ))
}
