use std::sync::Arc;

use switchyard_domain::ids::ChannelId;
use switchyard_domain::product::KitComponent;
use switchyard_domain::stock::StockRules;
use switchyard_storage::{
    ChannelPatch, NewChannel, NewProduct, PageRequest, ProductUpdate, Storage, StorageError,
};

use crate::{account_and_store, attrs, kit, product, sku};

fn code(e: StorageError) -> &'static str {
    match e {
        StorageError::Invalid(d) => d.code,
        StorageError::Conflict { code, .. } => code,
        other => panic!("unexpected error {other:?}"),
    }
}

pub async fn duplicate_skus_conflict(s: Arc<dyn Storage>) {
    let (a, st) = account_and_store(&*s, "alice").await;
    product(&*s, &a, &st, "A").await;
    let e = s
        .create_product(
            &a,
            &st,
            NewProduct {
                sku: sku("A"),
                attributes: attrs("again"),
                components: vec![],
            },
        )
        .await
        .unwrap_err();
    assert_eq!(code(e), "sku_taken");
    // The same SKU in another store is fine.
    let (b, st2) = account_and_store(&*s, "bob").await;
    product(&*s, &b, &st2, "A").await;
}

pub async fn kits_need_existing_plain_components(s: Arc<dyn Storage>) {
    let (a, st) = account_and_store(&*s, "alice").await;
    product(&*s, &a, &st, "A").await;
    product(&*s, &a, &st, "B").await;
    kit(&*s, &a, &st, "K", &[("A", 2), ("B", 1)]).await;
    let k = s.get_product(&a, &st, &sku("K")).await.unwrap();
    assert_eq!(
        k.components,
        vec![
            KitComponent {
                sku: sku("A"),
                quantity: 2
            },
            KitComponent {
                sku: sku("B"),
                quantity: 1
            }
        ]
    );
    let before = crate::journal_len(&*s, &a, &st).await;
    let mk = |parts: Vec<(&str, i64)>| NewProduct {
        sku: sku("K2"),
        attributes: attrs("k2"),
        components: parts
            .into_iter()
            .map(|(c, q)| KitComponent {
                sku: sku(c),
                quantity: q,
            })
            .collect(),
    };
    assert_eq!(
        code(
            s.create_product(&a, &st, mk(vec![("K", 1)]))
                .await
                .unwrap_err()
        ),
        "kit_of_kits"
    );
    assert_eq!(
        code(
            s.create_product(&a, &st, mk(vec![("NOPE", 1)]))
                .await
                .unwrap_err()
        ),
        "component_not_found"
    );
    assert_eq!(
        code(
            s.create_product(&a, &st, mk(vec![("K2", 1)]))
                .await
                .unwrap_err()
        ),
        "kit_cycle"
    );
    assert!(matches!(
        s.get_product(&a, &st, &sku("K2")).await,
        Err(StorageError::NotFound { .. })
    ));
    assert_eq!(
        crate::journal_len(&*s, &a, &st).await,
        before,
        "failed creates write nothing"
    );
}

pub async fn kit_components_cannot_become_kits_or_be_deleted(s: Arc<dyn Storage>) {
    let (a, st) = account_and_store(&*s, "alice").await;
    product(&*s, &a, &st, "A").await;
    product(&*s, &a, &st, "B").await;
    kit(&*s, &a, &st, "K", &[("A", 1)]).await;
    let e = s
        .update_product(
            &a,
            &st,
            &sku("A"),
            ProductUpdate {
                attributes: attrs("A"),
                components: Some(vec![KitComponent {
                    sku: sku("B"),
                    quantity: 1,
                }]),
            },
        )
        .await
        .unwrap_err();
    assert_eq!(code(e), "kit_of_kits");
    assert_eq!(
        code(s.delete_product(&a, &st, &sku("A")).await.unwrap_err()),
        "product_in_kit"
    );
    // Turning the kit back into a plain product frees A.
    s.update_product(
        &a,
        &st,
        &sku("K"),
        ProductUpdate {
            attributes: attrs("K"),
            components: Some(vec![]),
        },
    )
    .await
    .unwrap();
    assert!(!s.get_product(&a, &st, &sku("K")).await.unwrap().is_kit());
    s.delete_product(&a, &st, &sku("A")).await.unwrap();
}

pub async fn products_page_in_sku_order(s: Arc<dyn Storage>) {
    let (a, st) = account_and_store(&*s, "alice").await;
    for c in ["C", "A", "E", "B", "D"] {
        product(&*s, &a, &st, c).await;
    }
    kit(&*s, &a, &st, "F", &[("A", 1)]).await;
    let mut seen = Vec::new();
    let mut after = None;
    for _ in 0..10 {
        let p = s
            .list_products(
                &a,
                &st,
                &PageRequest {
                    after: after.clone(),
                    limit: 2,
                },
            )
            .await
            .unwrap();
        seen.extend(
            p.items
                .iter()
                .map(|x| (x.sku.to_string(), x.components.len())),
        );
        after = p.next;
        if after.is_none() {
            break;
        }
    }
    let skus: Vec<&str> = seen.iter().map(|(s, _)| s.as_str()).collect();
    assert_eq!(skus, ["A", "B", "C", "D", "E", "F"]);
    assert_eq!(seen[5].1, 1, "kit components come with the page");
}

pub async fn channel_credentials_are_kept_and_stock_rules_round_trip(s: Arc<dyn Storage>) {
    let (a, st) = account_and_store(&*s, "alice").await;
    let rules = StockRules {
        buffer: Some(2),
        maximum: Some(50),
        ..Default::default()
    };
    let id = ChannelId::generate();
    let ch = s
        .create_channel(
            &a,
            &st,
            NewChannel {
                id: id.clone(),
                name: "Woo".into(),
                kind: switchyard_domain::channel::ChannelKind::Woocommerce,
                base_url: Some("https://shop.example".into()),
                credentials: Some(vec![1, 2, 3]),
                stock_rules: rules,
                settings: Default::default(),
                hosted_page: None,
            },
        )
        .await
        .unwrap();
    assert!(ch.has_credentials);
    assert_eq!(ch.stock_rules, rules);
    assert_eq!(
        s.channel_credentials(&a, &st, &id).await.unwrap(),
        Some(vec![1, 2, 3])
    );
    let (b, st_b) = account_and_store(&*s, "bob").await;
    assert!(s.channel_credentials(&b, &st_b, &id).await.is_err());
    let ch = s
        .update_channel(
            &a,
            &st,
            &id,
            ChannelPatch {
                credentials: Some(None),
                stock_rules: Some(StockRules::default()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(!ch.has_credentials);
    assert_eq!(ch.stock_rules, StockRules::default());
    assert_eq!(ch.base_url.as_deref(), Some("https://shop.example"));
    s.delete_channel(&a, &st, &id).await.unwrap();
    assert!(s.get_channel(&a, &st, &id).await.is_err());
}
