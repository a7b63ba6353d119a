//! Main products and kits.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use switchyard_domain::ids::{AccountId, StoreId};
use switchyard_domain::product::{KitComponent, ProductAttributes};
use switchyard_domain::values::Sku;

use crate::{Page, PageRequest, Result};

/// Main products and kits.
#[async_trait]
pub trait Products: Send + Sync {
    /// Create a product (or kit). Kit components must exist and be plain.
    async fn create_product(
        &self,
        account: &AccountId,
        store: &StoreId,
        new: NewProduct,
    ) -> Result<Product>;
    /// One product by SKU.
    async fn get_product(&self, account: &AccountId, store: &StoreId, sku: &Sku)
    -> Result<Product>;
    /// The store's products ordered by SKU.
    async fn list_products(
        &self,
        account: &AccountId,
        store: &StoreId,
        page: &PageRequest,
    ) -> Result<Page<Product>>;
    /// Replace a product's attributes and, when given, its kit components.
    async fn update_product(
        &self,
        account: &AccountId,
        store: &StoreId,
        sku: &Sku,
        patch: ProductUpdate,
    ) -> Result<Product>;
    /// Delete a product; refused while it is a kit component or holds stock.
    async fn delete_product(&self, account: &AccountId, store: &StoreId, sku: &Sku) -> Result<()>;
}

/// A main product (a kit when `components` is not empty).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Product {
    /// SKU, unique in the store.
    pub sku: Sku,
    /// Descriptive attributes.
    #[serde(flatten)]
    pub attributes: ProductAttributes,
    /// Kit components, in the order given; empty for a plain product.
    pub components: Vec<KitComponent>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

impl Product {
    /// Whether the product is a kit.
    #[must_use]
    pub fn is_kit(&self) -> bool {
        !self.components.is_empty()
    }
}

/// A product to create (attributes validated by the caller; kit components
/// are checked against the store by storage).
#[derive(Debug, Clone)]
pub struct NewProduct {
    /// SKU.
    pub sku: Sku,
    /// Attributes.
    pub attributes: ProductAttributes,
    /// Kit components; empty for a plain product.
    pub components: Vec<KitComponent>,
}

/// A product's new state: attributes are replaced whole; components only when
/// given (an empty list turns a kit into a plain product).
#[derive(Debug, Clone)]
pub struct ProductUpdate {
    /// New attributes.
    pub attributes: ProductAttributes,
    /// New components, when they change.
    pub components: Option<Vec<KitComponent>>,
}

/// The journal event of a product made or changed through the API: the
/// product as the API shows it, whether it is a kit, and its stock facts at
/// that moment ([`crate::stock::ledger_facts`]).
pub(crate) fn product_event(
    event_type: &'static str,
    p: &Product,
    ledger: crate::LedgerFacts,
) -> crate::journal::NewEvent {
    crate::journal::NewEvent::new(
        &p.sku,
        event_type,
        crate::EventPayload::Product(crate::ProductEvent::Product(crate::ProductState {
            product: p.clone(),
            kit: p.is_kit(),
            ledger: Some(ledger),
            from_channel: None,
        })),
    )
}
