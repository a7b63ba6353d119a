//! Which stock pushes a change causes: for each listing of the SKUs it
//! touched, the target quantity (a plain product's available units, or a
//! kit's from its limiting component, then the channel's stock rules) and
//! whether it must go out.
//!
//! A target is pushed unless it equals the newest open push, or (with no
//! push open) what the channel last confirmed. An open push may be in
//! flight and land after this decision, so with one open the new target
//! always goes out and supersedes the open ones: the newest target wins.
//!
//! When the newest open push has never been tried, the new target takes
//! its place instead (the same row, retargeted), so a busy SKU keeps one
//! open push per listing rather than a row per change. A push may be in
//! flight untried: recording its result is a compare-and-set on the
//! quantity sent, so a retargeted push stays open for its new quantity.

use std::collections::{BTreeMap, BTreeSet, HashMap};

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
    /// Open (pending or failing) pushes, oldest first.
    pub open: Vec<OpenPush>,
}

/// A push not yet confirmed or superseded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenPush {
    /// Its row id.
    pub id: i64,
    /// The quantity it sends.
    pub quantity: i64,
    /// Pending and never tried: a newer target may take its place.
    pub untried: bool,
}

impl OpenPush {
    /// The open push of a listing read through an outer join: none when the
    /// listing has none (its id or quantity is null).
    #[must_use]
    pub fn from_columns(
        id: Option<i64>,
        quantity: Option<i64>,
        untried: Option<bool>,
    ) -> Option<Self> {
        let (id, quantity) = id.zip(quantity)?;
        Some(Self {
            id,
            quantity,
            untried: untried == Some(true),
        })
    }
}

/// An untried open push given a newer target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retarget {
    /// The index of the listing in the input.
    pub listing: usize,
    /// The push.
    pub id: i64,
    /// Its new quantity.
    pub quantity: i64,
}

/// What to write.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PushPlan {
    /// Open pushes a newer target replaces.
    pub supersede: Vec<i64>,
    /// Untried open pushes that take the newer target in place. A backend
    /// that finds one tried meanwhile supersedes it and pushes anew.
    pub retarget: Vec<Retarget>,
    /// New pushes: the index of the listing in the input, and its target.
    pub push: Vec<(usize, i64)>,
}

impl PushPlan {
    /// Settle the retargets once the backend has applied them: those whose
    /// push it found tried meanwhile (not in `taken`) supersede that push
    /// and push the target anew. Leaves the supersessions in id order (the
    /// order PostgreSQL locks them in) and returns how many pushes now
    /// carry a new target.
    pub fn settle_retargets(&mut self, taken: &BTreeSet<i64>) -> usize {
        for r in self.retarget.drain(..) {
            if !taken.contains(&r.id) {
                self.supersede.push(r.id);
                self.push.push((r.listing, r.quantity));
            }
        }
        self.supersede.sort_unstable();
        taken.len() + self.push.len()
    }
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
        let newest_open = l.open.last();
        if newest_open.map(|p| p.quantity) == Some(quantity)
            || (newest_open.is_none() && l.confirmed == Some(quantity))
        {
            continue;
        }
        match newest_open {
            Some(p) if p.untried => {
                let older = &l.open[..l.open.len() - 1];
                plan.supersede.extend(older.iter().map(|o| o.id));
                plan.retarget.push(Retarget {
                    listing: i,
                    id: p.id,
                    quantity,
                });
            }
            _ => {
                plan.supersede.extend(l.open.iter().map(|o| o.id));
                plan.push.push((i, quantity));
            }
        }
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
        open: &[(i64, i64, bool)],
    ) -> ListingPushState {
        ListingPushState {
            channel: channel.into(),
            listing: format!("{channel}-{sku}"),
            sku: sku.into(),
            confirmed,
            open: open
                .iter()
                .map(|&(id, quantity, untried)| OpenPush {
                    id,
                    quantity,
                    untried,
                })
                .collect(),
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
            listing("shop", "MUG", Some(3), &[]),  // 9 ≠ 3: push
            listing("amazon", "MUG", None, &[]),   // 9 − 1 → max 5
            listing("shop", "GIFT", Some(4), &[]), // min(9/2, 30/4) = 4 = confirmed: skip
            listing("shop", "COASTER", Some(1), &[(7, 30, true)]), // newest open is 30: skip
            listing("shop", "MUG", Some(9), &[(8, 2, false)]), // tried 2 ≠ 9: push, supersede 8
            listing("ebay", "MUG", None, &[]),     // channel without stock sync
        ];
        let plan = plan_pushes(&listings, &rules, &kits, available);
        assert_eq!(plan.push, [(0, 9), (1, 5), (4, 9)]);
        assert_eq!(plan.supersede, [8]);
        assert!(plan.retarget.is_empty());
    }

    #[test]
    fn an_untried_push_takes_the_newer_target_and_older_ones_are_superseded() {
        let rules = HashMap::from([("shop".to_owned(), StockRules::default())]);
        let listings = [
            // Pending, never tried: retargeted in place.
            listing("shop", "MUG", Some(9), &[(3, 7, true)]),
            // A failing push and a newer untried one: the old one goes,
            // the newest takes the target.
            listing("shop", "CUP", None, &[(4, 1, false), (5, 2, true)]),
            // Untried but older than a tried one: both superseded, a new push.
            listing("shop", "BOWL", None, &[(6, 1, true), (8, 2, false)]),
            // Untried, already the target: nothing.
            listing("shop", "JUG", None, &[(9, 4, true)]),
        ];
        let plan = plan_pushes(&listings, &rules, &BTreeMap::new(), |_| 4);
        assert_eq!(
            plan.retarget,
            [
                Retarget {
                    listing: 0,
                    id: 3,
                    quantity: 4
                },
                Retarget {
                    listing: 1,
                    id: 5,
                    quantity: 4
                }
            ]
        );
        assert_eq!(plan.supersede, [4, 6, 8]);
        assert_eq!(plan.push, [(2, 4)]);

        // Push 5 was tried meanwhile: it is superseded and the target
        // pushed anew.
        let mut settled = plan.clone();
        assert_eq!(settled.settle_retargets(&BTreeSet::from([3])), 3);
        assert!(settled.retarget.is_empty());
        assert_eq!(settled.supersede, [4, 5, 6, 8]);
        assert_eq!(settled.push, [(2, 4), (1, 4)]);
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
