//! Main products and kits.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use switchyard_domain::DomainError;
use switchyard_domain::ids::StoreId;
use switchyard_domain::product::{Customs, Dimensions, KitComponent, ProductAttributes};
use switchyard_domain::values::{CountryCode, Currency, Money, Sku};
use switchyard_storage::{NewProduct, Product, ProductUpdate};
use utoipa::ToSchema;

use crate::AppState;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{ApiJson, ApiPath, ApiQuery, Auth, PageQuery, encode_cursor};
use crate::routes::nullable;

/// Outer dimensions in millimetres.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DimensionsDto {
    /// Length, mm.
    pub length_mm: i64,
    /// Width, mm.
    pub width_mm: i64,
    /// Height, mm.
    pub height_mm: i64,
}

impl From<DimensionsDto> for Dimensions {
    fn from(d: DimensionsDto) -> Self {
        Self {
            length_mm: d.length_mm,
            width_mm: d.width_mm,
            height_mm: d.height_mm,
        }
    }
}

impl From<Dimensions> for DimensionsDto {
    fn from(d: Dimensions) -> Self {
        Self {
            length_mm: d.length_mm,
            width_mm: d.width_mm,
            height_mm: d.height_mm,
        }
    }
}

/// Money in integer minor units.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MoneyDto {
    /// Amount in minor units (e.g. cents).
    pub amount: i64,
    /// ISO 4217 code.
    pub currency: String,
}

/// Customs information.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomsDto {
    /// HS code, 6–10 digits.
    pub hs_code: Option<String>,
    /// ISO 3166-1 alpha-2 country of origin.
    pub origin_country: Option<String>,
    /// Description for customs declarations.
    pub description: Option<String>,
}

/// One component of a kit.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ComponentDto {
    /// Component SKU (an existing plain product of the store).
    pub sku: String,
    /// Units per kit, at least 1.
    pub quantity: i64,
}

/// A product. A kit has `components`; its stock comes from them.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProductOut {
    /// SKU.
    pub sku: String,
    /// Whether this is a kit.
    pub kit: bool,
    /// Title.
    pub title: String,
    /// GTIN / barcode.
    pub gtin: Option<String>,
    /// Weight, grams.
    pub weight_g: Option<i64>,
    /// Dimensions.
    pub dimensions: Option<DimensionsDto>,
    /// Image URL.
    pub image_url: Option<String>,
    /// Price.
    pub price: Option<MoneyDto>,
    /// Customs information.
    pub customs: CustomsDto,
    /// Kit components (empty for a plain product).
    pub components: Vec<ComponentDto>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

impl From<Product> for ProductOut {
    fn from(p: Product) -> Self {
        let a = p.attributes;
        Self {
            kit: !p.components.is_empty(),
            sku: p.sku.to_string(),
            title: a.title,
            gtin: a.gtin,
            weight_g: a.weight_g,
            dimensions: a.dimensions.map(DimensionsDto::from),
            image_url: a.image_url,
            price: a.price.map(|m| MoneyDto {
                amount: m.amount,
                currency: m.currency.to_string(),
            }),
            customs: CustomsDto {
                hs_code: a.customs.hs_code,
                origin_country: a.customs.origin_country.map(|c| c.to_string()),
                description: a.customs.description,
            },
            components: p
                .components
                .into_iter()
                .map(|c| ComponentDto {
                    sku: c.sku.to_string(),
                    quantity: c.quantity,
                })
                .collect(),
            created_at: p.created_at,
            updated_at: p.updated_at,
        }
    }
}

/// A page of products.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProductList {
    /// Products in SKU order.
    pub items: Vec<ProductOut>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// A product to create.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProductIn {
    /// SKU: 1–128 characters, no control characters.
    pub sku: String,
    /// Title.
    pub title: String,
    /// GTIN / barcode (a numeric GTIN-8/12/13/14 must have a valid check digit).
    pub gtin: Option<String>,
    /// Weight, grams.
    pub weight_g: Option<i64>,
    /// Dimensions.
    pub dimensions: Option<DimensionsDto>,
    /// Image URL.
    pub image_url: Option<String>,
    /// Price.
    pub price: Option<MoneyDto>,
    /// Customs information.
    pub customs: Option<CustomsDto>,
    /// Makes this a kit of these components (plain products only).
    pub components: Option<Vec<ComponentDto>>,
}

/// Changes to a product; `null` clears an optional attribute, `components: []`
/// turns a kit into a plain product.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProductPatchIn {
    /// New title.
    #[serde(default, deserialize_with = "super::not_null")]
    #[schema(nullable = false)]
    pub title: Option<String>,
    /// New GTIN, or `null`.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub gtin: Option<Option<String>>,
    /// New weight, or `null`.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<i64>)]
    pub weight_g: Option<Option<i64>>,
    /// New dimensions, or `null`.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<DimensionsDto>)]
    pub dimensions: Option<Option<DimensionsDto>>,
    /// New image URL, or `null`.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub image_url: Option<Option<String>>,
    /// New price, or `null`.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<MoneyDto>)]
    pub price: Option<Option<MoneyDto>>,
    /// New customs information (replaces it whole), or `null`.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<CustomsDto>)]
    pub customs: Option<Option<CustomsDto>>,
    /// New kit components; `[]` makes it a plain product.
    #[serde(default, deserialize_with = "super::not_null")]
    #[schema(nullable = false)]
    pub components: Option<Vec<ComponentDto>>,
}

/// Parse a SKU from the path: malformed SKUs are 400.
pub(crate) fn path_sku(raw: &str) -> Result<Sku, ApiError> {
    Sku::parse(raw).map_err(|e| ApiError::field(StatusCode::BAD_REQUEST, e.code, "sku", e.message))
}

fn money(m: MoneyDto) -> Result<Money, DomainError> {
    Ok(Money {
        amount: m.amount,
        currency: Currency::parse(&m.currency).map_err(|e| e.under("price"))?,
    })
}

fn customs(c: CustomsDto) -> Result<Customs, DomainError> {
    Ok(Customs {
        hs_code: c.hs_code,
        origin_country: c
            .origin_country
            .as_deref()
            .map(|s| {
                CountryCode::parse(s).map_err(|e| DomainError {
                    field: Some("customs.origin_country".into()),
                    ..e
                })
            })
            .transpose()?,
        description: c.description,
    })
}

fn components(cs: Vec<ComponentDto>) -> Result<Vec<KitComponent>, DomainError> {
    cs.into_iter()
        .enumerate()
        .map(|(i, c)| {
            Ok(KitComponent {
                sku: Sku::parse(&c.sku).map_err(|e| e.under(&format!("components[{i}]")))?,
                quantity: c.quantity,
            })
        })
        .collect()
}

/// List products in SKU order.
#[utoipa::path(get, path = "/v1/stores/{store_id}/products", tag = "products",
    params(("store_id" = String, Path, description = "Store id"), PageQuery),
    responses((status = 200, body = ProductList), (status = 404, body = ErrorBody)))]
pub async fn list_products(
    State(s): State<AppState>,
    auth: Auth,
    ApiPath(store): ApiPath<StoreId>,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> Result<Json<ProductList>, ApiError> {
    auth.check_store(&store)?;
    let page = q.to_request(|k| Sku::parse(k).is_ok())?;
    let p = s
        .storage
        .list_products(&auth.account_id, &store, &page)
        .await?;
    Ok(Json(ProductList {
        items: p.items.into_iter().map(ProductOut::from).collect(),
        next_cursor: p.next.as_deref().map(encode_cursor),
    }))
}

/// Create a product or kit. Kit components must exist and be plain products.
#[utoipa::path(post, path = "/v1/stores/{store_id}/products", tag = "products", request_body = ProductIn,
    params(("store_id" = String, Path, description = "Store id")),
    responses((status = 201, body = ProductOut), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn create_product(
    State(s): State<AppState>,
    auth: Auth,
    ApiPath(store): ApiPath<StoreId>,
    ApiJson(body): ApiJson<ProductIn>,
) -> Result<(StatusCode, Json<ProductOut>), ApiError> {
    auth.check_store(&store)?;
    let sku = Sku::parse(&body.sku)?;
    if matches!(sku.as_str(), "." | "..") {
        // No ordinary client can address `/products/.` or `/products/..`:
        // the path is normalised away before it is sent.
        return Err(ApiError::field(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_sku",
            "sku",
            "a SKU of `.` or `..` cannot be addressed in a URL (…/products/{sku}); choose another",
        ));
    }
    let attributes = ProductAttributes {
        title: body.title,
        gtin: body.gtin,
        weight_g: body.weight_g,
        dimensions: body.dimensions.map(Dimensions::from),
        image_url: body.image_url,
        price: body.price.map(money).transpose()?,
        customs: body.customs.map(customs).transpose()?.unwrap_or_default(),
    };
    attributes.validate()?;
    let components = components(body.components.unwrap_or_default())?;
    let p = s
        .storage
        .create_product(
            &auth.account_id,
            &store,
            NewProduct {
                sku,
                attributes,
                components,
            },
        )
        .await?;
    Ok((StatusCode::CREATED, Json(p.into())))
}

/// Get a product.
#[utoipa::path(get, path = "/v1/stores/{store_id}/products/{sku}", tag = "products",
    params(("store_id" = String, Path, description = "Store id"), ("sku" = String, Path, description = "SKU, URL-encoded")),
    responses((status = 200, body = ProductOut), (status = 404, body = ErrorBody)))]
pub async fn get_product(
    State(s): State<AppState>,
    auth: Auth,
    ApiPath((store, sku)): ApiPath<(StoreId, String)>,
) -> Result<Json<ProductOut>, ApiError> {
    auth.check_store(&store)?;
    let sku = path_sku(&sku)?;
    Ok(Json(
        s.storage
            .get_product(&auth.account_id, &store, &sku)
            .await?
            .into(),
    ))
}

/// Change a product's attributes or kit components.
#[utoipa::path(patch, path = "/v1/stores/{store_id}/products/{sku}", tag = "products", request_body = ProductPatchIn,
    params(("store_id" = String, Path, description = "Store id"), ("sku" = String, Path, description = "SKU, URL-encoded")),
    responses((status = 200, body = ProductOut), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn update_product(
    State(s): State<AppState>,
    auth: Auth,
    ApiPath((store, sku)): ApiPath<(StoreId, String)>,
    ApiJson(body): ApiJson<ProductPatchIn>,
) -> Result<Json<ProductOut>, ApiError> {
    auth.check_store(&store)?;
    let sku = path_sku(&sku)?;
    let old = s
        .storage
        .get_product(&auth.account_id, &store, &sku)
        .await?;
    let mut a = old.attributes;
    if let Some(t) = body.title {
        a.title = t;
    }
    if let Some(g) = body.gtin {
        a.gtin = g;
    }
    if let Some(w) = body.weight_g {
        a.weight_g = w;
    }
    if let Some(d) = body.dimensions {
        a.dimensions = d.map(Dimensions::from);
    }
    if let Some(u) = body.image_url {
        a.image_url = u;
    }
    if let Some(p) = body.price {
        a.price = p.map(money).transpose()?;
    }
    if let Some(c) = body.customs {
        a.customs = c.map(customs).transpose()?.unwrap_or_default();
    }
    a.validate()?;
    let components = body.components.map(components).transpose()?;
    let p = s
        .storage
        .update_product(
            &auth.account_id,
            &store,
            &sku,
            ProductUpdate {
                attributes: a,
                components,
            },
        )
        .await?;
    Ok(Json(p.into()))
}

/// Delete a product. Refused while it is a kit component or committed to orders.
#[utoipa::path(delete, path = "/v1/stores/{store_id}/products/{sku}", tag = "products",
    params(("store_id" = String, Path, description = "Store id"), ("sku" = String, Path, description = "SKU, URL-encoded")),
    responses((status = 204), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn delete_product(
    State(s): State<AppState>,
    auth: Auth,
    ApiPath((store, sku)): ApiPath<(StoreId, String)>,
) -> Result<StatusCode, ApiError> {
    auth.check_store(&store)?;
    let sku = path_sku(&sku)?;
    s.storage
        .delete_product(&auth.account_id, &store, &sku)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
