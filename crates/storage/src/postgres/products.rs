//! Main products and kits, and a generated catalogue for load tests and
//! benchmarks (many products with stock and listings, written with a few
//! `INSERT … SELECT` statements instead of one API call per product).

use std::collections::{BTreeMap, HashMap};

use crate::journal::{DeletedProduct, EventPayload, NewEvent, ProductEvent};
use async_trait::async_trait;
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, Postgres, Row};
use switchyard_domain::ids::{AccountId, ChannelId, StoreId};
use switchyard_domain::product::{
    ComponentLookup, Customs, Dimensions, Kinds, KitComponent, ProductAttributes,
    check_becoming_kit, validate_kit,
};
use switchyard_domain::stock::ChangeRefused;
use switchyard_domain::values::{CountryCode, Currency, Money, Sku};

use super::listings::map_listings_to_new_products;
use super::pg;
use super::{
    PgStorage, append_event, fetch_in, fetch_limit, now, paginate, require_store, stored, time,
};
use crate::{
    NewProduct, Page, PageRequest, Product, ProductUpdate, Products, Result, StorageError,
};

const PRODUCT_COLUMNS: &str = "sku, title, gtin, weight_g, length_mm, width_mm, height_mm, image_url, price_amount, \
     price_currency, hs_code, origin_country, customs_description, created_at, updated_at";

fn product_from_row(r: &PgRow, components: Vec<KitComponent>) -> Result<Product> {
    let dims = match (
        r.try_get::<Option<i64>, _>("length_mm")?,
        r.try_get::<Option<i64>, _>("width_mm")?,
        r.try_get::<Option<i64>, _>("height_mm")?,
    ) {
        (Some(length_mm), Some(width_mm), Some(height_mm)) => Some(Dimensions {
            length_mm,
            width_mm,
            height_mm,
        }),
        _ => None,
    };
    let price = match (
        r.try_get::<Option<i64>, _>("price_amount")?,
        r.try_get::<Option<&str>, _>("price_currency")?,
    ) {
        (Some(amount), Some(cur)) => Some(Money {
            amount,
            currency: stored("currency", Currency::parse(cur))?,
        }),
        _ => None,
    };
    Ok(Product {
        sku: stored("sku", Sku::parse(r.try_get("sku")?))?,
        attributes: ProductAttributes {
            title: r.try_get("title")?,
            gtin: r.try_get("gtin")?,
            weight_g: r.try_get("weight_g")?,
            dimensions: dims,
            image_url: r.try_get("image_url")?,
            price,
            customs: Customs {
                hs_code: r.try_get("hs_code")?,
                origin_country: r
                    .try_get::<Option<&str>, _>("origin_country")?
                    .map(|c| stored("country", CountryCode::parse(c)))
                    .transpose()?,
                description: r.try_get("customs_description")?,
            },
        },
        components,
        created_at: time(r.try_get("created_at")?)?,
        updated_at: time(r.try_get("updated_at")?)?,
    })
}

/// Kit components of `kits` in the store, keyed by kit SKU, in kit order.
pub(crate) async fn components_of(
    conn: &mut PgConnection,
    store: &StoreId,
    kits: &[&str],
) -> Result<BTreeMap<String, Vec<KitComponent>>> {
    let mut out: BTreeMap<String, Vec<KitComponent>> = BTreeMap::new();
    let rows = fetch_in(
        conn,
        "SELECT kit_sku, component_sku, quantity FROM kit_components",
        store,
        "kit_sku",
        kits,
        "ORDER BY kit_sku, position",
    )
    .await?;
    for r in rows {
        out.entry(r.try_get("kit_sku")?)
            .or_default()
            .push(KitComponent {
                sku: stored("sku", Sku::parse(r.try_get("component_sku")?))?,
                quantity: r.try_get("quantity")?,
            });
    }
    Ok(out)
}

async fn fetch_product(conn: &mut PgConnection, store: &StoreId, sku: &Sku) -> Result<Product> {
    let r = sqlx::query(&pg(&format!(
        "SELECT {PRODUCT_COLUMNS}, is_kit FROM products WHERE store_id = ? AND sku = ?"
    )))
    .bind(store.as_str())
    .bind(sku.as_str())
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(StorageError::NotFound { entity: "product" })?;
    let is_kit: bool = r.try_get("is_kit")?;
    let components = if is_kit {
        components_of(conn, store, &[sku.as_str()])
            .await?
            .remove(sku.as_str())
            .unwrap_or_default()
    } else {
        Vec::new()
    };
    product_from_row(&r, components)
}

/// What `skus` are (plain products, kits with their components), read in
/// two queries so a batch does not look each of its lines up on its own.
pub(crate) async fn load_kinds(
    conn: &mut PgConnection,
    store: &StoreId,
    skus: &[&str],
) -> Result<Kinds> {
    let mut kinds = Kinds::default();
    let mut kits = Vec::new();
    for r in fetch_in(
        conn,
        "SELECT sku, is_kit FROM products",
        store,
        "sku",
        skus,
        "",
    )
    .await?
    {
        let sku: String = r.try_get("sku")?;
        if r.try_get::<bool, _>("is_kit")? {
            kits.push(sku.clone());
        }
        kinds.plain(sku);
    }
    let kits: Vec<&str> = kits.iter().map(String::as_str).collect();
    for (kit, parts) in components_of(conn, store, &kits).await? {
        kinds.kit(kit, parts);
    }
    Ok(kinds)
}

/// `Some(is_kit)` for an existing product of the store.
pub(crate) async fn product_kind(
    conn: &mut PgConnection,
    store: &StoreId,
    sku: &str,
) -> Result<Option<bool>> {
    Ok(
        sqlx::query_scalar("SELECT is_kit FROM products WHERE store_id = $1 AND sku = $2")
            .bind(store.as_str())
            .bind(sku)
            .fetch_optional(&mut *conn)
            .await?,
    )
}

/// Check `components` for kit `kit` against the store, inside the transaction.
async fn check_kit(
    conn: &mut PgConnection,
    store: &StoreId,
    kit: &Sku,
    components: &[KitComponent],
) -> Result<()> {
    let mut kinds = HashMap::new();
    for c in components {
        let kind = match product_kind(conn, store, c.sku.as_str()).await? {
            None => ComponentLookup::Missing,
            Some(false) => ComponentLookup::Plain,
            Some(true) => ComponentLookup::Kit,
        };
        kinds.insert(c.sku.clone(), kind);
    }
    validate_kit(kit, components, |s| {
        kinds.get(s).copied().unwrap_or(ComponentLookup::Missing)
    })?;
    Ok(())
}

async fn write_components(
    conn: &mut PgConnection,
    store: &StoreId,
    kit: &Sku,
    components: &[KitComponent],
) -> Result<()> {
    sqlx::query("DELETE FROM kit_components WHERE store_id = $1 AND kit_sku = $2")
        .bind(store.as_str())
        .bind(kit.as_str())
        .execute(&mut *conn)
        .await?;
    for (i, c) in components.iter().enumerate() {
        sqlx::query("INSERT INTO kit_components (store_id, kit_sku, component_sku, quantity, position) VALUES ($1, $2, $3, $4, $5)")
            .bind(store.as_str())
            .bind(kit.as_str())
            .bind(c.sku.as_str())
            .bind(c.quantity)
            .bind(i64::try_from(i).unwrap_or(i64::MAX))
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

fn bind_attributes<'q>(
    q: sqlx::query::Query<'q, Postgres, sqlx::postgres::PgArguments>,
    a: &'q ProductAttributes,
) -> sqlx::query::Query<'q, Postgres, sqlx::postgres::PgArguments> {
    q.bind(&a.title)
        .bind(&a.gtin)
        .bind(a.weight_g)
        .bind(a.dimensions.map(|d| d.length_mm))
        .bind(a.dimensions.map(|d| d.width_mm))
        .bind(a.dimensions.map(|d| d.height_mm))
        .bind(&a.image_url)
        .bind(a.price.map(|p| p.amount))
        .bind(a.price.map(|p| p.currency.as_str().to_owned()))
        .bind(&a.customs.hs_code)
        .bind(a.customs.origin_country.map(|c| c.as_str().to_owned()))
        .bind(&a.customs.description)
}

#[async_trait]
impl Products for PgStorage {
    #[tracing::instrument(skip_all, fields(account = %account, store = %store, sku = %new.sku))]
    async fn create_product(
        &self,
        account: &AccountId,
        store: &StoreId,
        new: NewProduct,
    ) -> Result<Product> {
        let mut tx = self.pool.begin().await?;
        require_store(&mut tx, account, store).await?;
        if product_kind(&mut tx, store, new.sku.as_str())
            .await?
            .is_some()
        {
            return Err(StorageError::conflict(
                "sku_taken",
                format!(
                    "a product with SKU `{}` already exists in this store",
                    new.sku
                ),
                Some("sku".into()),
            ));
        }
        let is_kit = !new.components.is_empty();
        if is_kit {
            check_kit(&mut tx, store, &new.sku, &new.components).await?;
        }
        let now = now();
        let q = sqlx::query(
            "INSERT INTO products (store_id, sku, is_kit, created_at, updated_at, title, gtin, weight_g, length_mm, width_mm,
             height_mm, image_url, price_amount, price_currency, hs_code, origin_country, customs_description)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)",
        )
        .bind(store.as_str())
        .bind(new.sku.as_str())
        .bind(is_kit)
        .bind(now)
        .bind(now);
        bind_attributes(q, &new.attributes)
            .execute(&mut *tx)
            .await?;
        write_components(&mut tx, store, &new.sku, &new.components).await?;
        let p = fetch_product(&mut tx, store, &new.sku).await?;
        let ev = crate::products::product_event(
            "product.created",
            &p,
            crate::stock::ledger_facts(&super::stock::snapshot_entry(&mut tx, store, &p).await?),
        );
        append_event(&mut tx, account, store, &ev).await?;
        map_listings_to_new_products(
            &mut tx,
            store,
            &std::collections::BTreeSet::from([p.sku.to_string()]),
        )
        .await?;
        tx.commit().await?;
        Ok(p)
    }

    async fn get_product(
        &self,
        account: &AccountId,
        store: &StoreId,
        sku: &Sku,
    ) -> Result<Product> {
        let mut tx = self.pool.begin().await?;
        require_store(&mut tx, account, store).await?;
        fetch_product(&mut tx, store, sku).await
    }

    async fn list_products(
        &self,
        account: &AccountId,
        store: &StoreId,
        page: &PageRequest,
    ) -> Result<Page<Product>> {
        let mut tx = self.pool.begin().await?;
        require_store(&mut tx, account, store).await?;
        let rows = sqlx::query(&pg(&format!(
            "SELECT {PRODUCT_COLUMNS}, is_kit FROM products WHERE store_id = ? AND sku > ? ORDER BY sku LIMIT ?"
        )))
        .bind(store.as_str())
        .bind(page.after.as_deref().unwrap_or(""))
        .bind(fetch_limit(page))
        .fetch_all(&mut *tx)
        .await?;
        let kits: Vec<&str> = rows
            .iter()
            .filter(|r| r.try_get::<bool, _>("is_kit").unwrap_or(false))
            .filter_map(|r| r.try_get::<&str, _>("sku").ok())
            .collect();
        let mut comps = components_of(&mut tx, store, &kits).await?;
        let items = rows
            .iter()
            .map(|r| {
                let sku: &str = r.try_get("sku")?;
                product_from_row(r, comps.remove(sku).unwrap_or_default())
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(paginate(items, page, |p| p.sku.to_string()))
    }

    #[tracing::instrument(skip_all, fields(account = %account, store = %store, sku = %sku))]
    async fn update_product(
        &self,
        account: &AccountId,
        store: &StoreId,
        sku: &Sku,
        patch: ProductUpdate,
    ) -> Result<Product> {
        let mut tx = self.pool.begin().await?;
        require_store(&mut tx, account, store).await?;
        let old = fetch_product(&mut tx, store, sku).await?;
        if let Some(components) = &patch.components {
            if !components.is_empty() {
                let used_in: Option<String> =
                    sqlx::query_scalar("SELECT kit_sku FROM kit_components WHERE store_id = $1 AND component_sku = $2 LIMIT 1")
                        .bind(store.as_str())
                        .bind(sku.as_str())
                        .fetch_optional(&mut *tx)
                        .await?;
                let held: i64 = sqlx::query_scalar(
                    "SELECT (SELECT COALESCE(SUM(quantity)::bigint, 0) FROM stock_levels WHERE store_id = $1 AND sku = $2)
                          + (SELECT COUNT(*) FROM stock_commitments WHERE store_id = $1 AND sku = $2)",
                )
                .bind(store.as_str())
                .bind(sku.as_str())
                .fetch_one(&mut *tx)
                .await?;
                match check_becoming_kit(sku, used_in.as_deref(), held > 0, old.is_kit()) {
                    Ok(()) => {}
                    Err(ChangeRefused::Invalid(e)) => return Err(StorageError::Invalid(e)),
                    Err(ChangeRefused::Conflict(e)) => {
                        return Err(StorageError::conflict(e.code, e.message, e.field));
                    }
                }
                check_kit(&mut tx, store, sku, components).await?;
            }
            write_components(&mut tx, store, sku, components).await?;
            sqlx::query("UPDATE products SET is_kit = $1 WHERE store_id = $2 AND sku = $3")
                .bind(!components.is_empty())
                .bind(store.as_str())
                .bind(sku.as_str())
                .execute(&mut *tx)
                .await?;
        }
        let q = sqlx::query(
            "UPDATE products SET updated_at = $1, title = $2, gtin = $3, weight_g = $4, length_mm = $5, width_mm = $6, height_mm = $7,
             image_url = $8, price_amount = $9, price_currency = $10, hs_code = $11, origin_country = $12, customs_description = $13
             WHERE store_id = $14 AND sku = $15",
        )
        .bind(now());
        bind_attributes(q, &patch.attributes)
            .bind(store.as_str())
            .bind(sku.as_str())
            .execute(&mut *tx)
            .await?;
        let p = fetch_product(&mut tx, store, sku).await?;
        let ev = crate::products::product_event(
            "product.updated",
            &p,
            crate::stock::ledger_facts(&super::stock::snapshot_entry(&mut tx, store, &p).await?),
        );
        append_event(&mut tx, account, store, &ev).await?;
        tx.commit().await?;
        Ok(p)
    }

    #[tracing::instrument(skip(self))]
    async fn delete_product(&self, account: &AccountId, store: &StoreId, sku: &Sku) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        require_store(&mut tx, account, store).await?;
        fetch_product(&mut tx, store, sku).await?;
        let used_in: Option<String> = sqlx::query_scalar(
            "SELECT kit_sku FROM kit_components WHERE store_id = $1 AND component_sku = $2 LIMIT 1",
        )
        .bind(store.as_str())
        .bind(sku.as_str())
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(kit) = used_in {
            return Err(StorageError::conflict(
                "product_in_kit",
                format!("`{sku}` is a component of kit `{kit}`; remove it from the kit first"),
                None,
            ));
        }
        let committed: i64 =
            sqlx::query_scalar("SELECT COALESCE(SUM(quantity)::bigint, 0) FROM stock_commitments WHERE store_id = $1 AND sku = $2")
                .bind(store.as_str())
                .bind(sku.as_str())
                .fetch_one(&mut *tx)
                .await?;
        if committed > 0 {
            return Err(StorageError::conflict(
                "product_committed",
                format!("{committed} unit(s) of `{sku}` are committed to open orders"),
                None,
            ));
        }
        sqlx::query("DELETE FROM products WHERE store_id = $1 AND sku = $2")
            .bind(store.as_str())
            .bind(sku.as_str())
            .execute(&mut *tx)
            .await?;
        let ev = NewEvent::new(
            sku,
            "product.deleted",
            EventPayload::Product(ProductEvent::Deleted(DeletedProduct { sku: sku.clone() })),
        );
        append_event(&mut tx, account, store, &ev).await?;
        tx.commit().await?;
        Ok(())
    }
}

impl PgStorage {
    /// Add `count` plain products `{prefix}{n:07}` (n = 1…count) to
    /// `store`, each with `quantity` units from the `api` source and one
    /// listing `{prefix}{n:07}` (listing id = SKU) on each of `channels`,
    /// confirmed at `quantity` so nothing is pushed until stock changes.
    /// The listing ids mean nothing to a real channel: the products are
    /// ballast that makes the tables as large as a big merchant's.
    pub async fn generate_catalogue(
        &self,
        store: &StoreId,
        channels: &[ChannelId],
        prefix: &str,
        count: u64,
        quantity: i64,
    ) -> Result<()> {
        let now = now();
        let count = i64::try_from(count).unwrap_or(i64::MAX);
        let mut tx = self.pool.begin().await?;
        // One set-based statement per table; the SKU of number i is
        // prefix || i padded to seven digits.
        sqlx::query(
            "INSERT INTO products (store_id, sku, title, created_at, updated_at)
             SELECT $2, $3 || lpad(i::text, 7, '0'), 'Generated ' || lpad(i::text, 7, '0'), $4, $4
             FROM generate_series(1::bigint, $1) AS i",
        )
        .bind(count)
        .bind(store.as_str())
        .bind(prefix)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO stock_levels (store_id, sku, source, location, quantity, updated_at)
             SELECT $2, $3 || lpad(i::text, 7, '0'), 'api', '', $4, $5
             FROM generate_series(1::bigint, $1) AS i",
        )
        .bind(count)
        .bind(store.as_str())
        .bind(prefix)
        .bind(quantity)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        for ch in channels {
            sqlx::query(
                "INSERT INTO listings (channel_id, listing_id, store_id, channel_sku, sku, title,
                     channel_quantity, confirmed_quantity, confirmed_at, created_at, updated_at)
                 SELECT $2, $3 || lpad(i::text, 7, '0'), $4, $3 || lpad(i::text, 7, '0'),
                     $3 || lpad(i::text, 7, '0'), 'Generated ' || lpad(i::text, 7, '0'), $5, $5, $6, $6, $6
                 FROM generate_series(1::bigint, $1) AS i",
            )
            .bind(count)
            .bind(ch.as_str())
            .bind(prefix)
            .bind(store.as_str())
            .bind(quantity)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        // A million rows loaded at once: refresh the planner's statistics
        // now, as autovacuum would shortly, so the figures measured next
        // are those of a settled database.
        sqlx::query("ANALYZE products, stock_levels, listings")
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
