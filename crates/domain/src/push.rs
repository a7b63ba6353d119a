//! Which stock pushes a change causes: for each listing of the SKUs it
//! touched, the target quantity (a plain product's available units, or a
//! kit's from its limiting component, then the channel's stock rules) and
//! whether it must go out.
//!
//! A target is pushed unless it equals the newest open push, or (with no
//! push open) what the channel last confirmed. An open push may be in
//! flight and land after this decision, so with one open the new target
//! always goes out and supersedes the open ones: the newest target wins.

use std::collections::{BTreeMap, HashMap};

use crate::product::KitComponent;
use crate::stock::{StockRules, kit_availability};

/// A listing whose target is recomputed, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListingPushState {
    /// Its channel.
    pub channel: String,
    /// The channel's listing id.
    pub listing: String,
    /// The main product SKU it shows.
    pub sku: String,
    /// What the channel last confirmed.
    pub confirmed: Option<i64>,
    /// Open (pending or failing) pushes, oldest first: `(id, quantity)`.
    pub open: Vec<(i64, i64)>,
}

/// What to write.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PushPlan {
    /// Open pushes a newer target replaces.
    pub supersede: Vec<i64>,
    /// New pushes: the index of the listing in the input, and its target.
    pub push: Vec<(usize, i64)>,
}

/// Plan the pushes of `listings`. `rules` holds the stock rules of the
/// channels that sync stock (a listing of another channel gets nothing);
/// `kits` the components of the listed SKUs that are kits; `available`
/// gives a plain SKU's available units (on hand − committed).
#[must_use]
pub fn plan_pushes(
    listings: &[ListingPushState],
    rules: &HashMap<String, StockRules>,
    kits: &BTreeMap<String, Vec<KitComponent>>,
    available: impl Fn(&str) -> i64,
) -> PushPlan {
    let mut plan = PushPlan::default();
    for (i, l) in listings.iter().enumerate() {
        let Some(rules) = rules.get(&l.channel) else {
            continue;
        };
        let base = match kits.get(l.sku.as_str()) {
            Some(parts) => {
                let parts: Vec<_> = parts
                    .iter()
                    .map(|c| (c.sku.clone(), c.quantity, available(c.sku.as_str())))
                    .collect();
                kit_availability(&parts).available
            }
            None => available(&l.sku),
        };
        let quantity = rules.apply(base).quantity;
        let newest_open = l.open.last().map(|(_, q)| *q);
        if newest_open == Some(quantity) || (newest_open.is_none() && l.confirmed == Some(quantity))
        {
            continue;
        }
        plan.supersede.extend(l.open.iter().map(|(id, _)| *id));
        plan.push.push((i, quantity));
    }
    plan
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::values::Sku;

    fn listing(
        channel: &str,
        sku: &str,
        confirmed: Option<i64>,
        open: &[(i64, i64)],
    ) -> ListingPushState {
        ListingPushState {
            channel: channel.into(),
            listing: format!("{channel}-{sku}"),
            sku: sku.into(),
            confirmed,
            open: open.to_vec(),
        }
    }

    #[test]
    fn targets_follow_availability_kits_and_rules_and_skip_what_is_known() {
        let rules = HashMap::from([
            ("shop".to_owned(), StockRules::default()),
            (
                "amazon".to_owned(),
                StockRules {
                    buffer: Some(1),
                    maximum: Some(5),
                    ..StockRules::default()
                },
            ),
        ]);
        let kits = BTreeMap::from([(
            "GIFT".to_owned(),
            vec![
                KitComponent {
                    sku: Sku::parse("MUG").unwrap(),
                    quantity: 2,
                },
                KitComponent {
                    sku: Sku::parse("COASTER").unwrap(),
                    quantity: 4,
                },
            ],
        )]);
        let available = |s: &str| match s {
            "MUG" => 9,
            "COASTER" => 30,
            _ => 0,
        };
        let listings = [
            listing("shop", "MUG", Some(3), &[]),            // 9 ≠ 3: push
            listing("amazon", "MUG", None, &[]),             // 9 − 1 → max 5
            listing("shop", "GIFT", Some(4), &[]),           // min(9/2, 30/4) = 4 = confirmed: skip
            listing("shop", "COASTER", Some(1), &[(7, 30)]), // newest open is 30: skip
            listing("shop", "MUG", Some(9), &[(8, 2)]),      // open 2 ≠ 9: push, supersede 8
            listing("ebay", "MUG", None, &[]),               // channel without stock sync
        ];
        let plan = plan_pushes(&listings, &rules, &kits, available);
        assert_eq!(plan.push, [(0, 9), (1, 5), (4, 9)]);
        assert_eq!(plan.supersede, [8]);
    }

    #[test]
    fn a_target_is_never_negative() {
        let rules = HashMap::from([("shop".to_owned(), StockRules::default())]);
        let plan = plan_pushes(
            &[listing("shop", "MUG", None, &[])],
            &rules,
            &BTreeMap::new(),
            |_| -3,
        );
        assert_eq!(plan.push, [(0, 0)]);
    }
}
