//! Putting the ledger, kits and channel rules together into one explained
//! figure per listing. Both the API (`/stock/{sku}/explain`) and the stock
//! pusher use this, so what is explained is exactly what is pushed.

use serde::Serialize;

use crate::ids::ChannelId;
use crate::product::KitComponent;
use crate::stock::{Commitment, RuleStep, SkuLedger, SourceLevel, StockRules, kit_availability};
use crate::values::Sku;

/// A channel's name and stock rules, as needed to compute listing quantities.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelRules {
    /// The channel.
    pub channel_id: ChannelId,
    /// Its display name.
    pub name: String,
    /// Its stock rules.
    pub rules: StockRules,
}

/// What a SKU is, with the ledgers needed to compute its availability.
#[derive(Debug, Clone, Copy)]
pub enum Subject<'a> {
    /// A plain product and its ledger.
    Plain(&'a SkuLedger),
    /// A kit: each component with its ledger.
    Kit(&'a [(KitComponent, SkuLedger)]),
}

/// One component's part in a kit's availability.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ComponentExplanation {
    /// Component SKU.
    pub sku: Sku,
    /// Units per kit.
    pub per_kit: i64,
    /// `Σ sources` of the component.
    pub on_hand: i64,
    /// `Σ commitments` of the component.
    pub committed: i64,
    /// `on_hand − committed`.
    pub available: i64,
    /// `⌊max(available, 0) / per_kit⌋`.
    pub kits_possible: i64,
    /// The component's sources.
    pub sources: Vec<SourceLevel>,
    /// The component's commitments (including those made through kits).
    pub commitments: Vec<Commitment>,
}

/// The quantity one channel shows, and how it got there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ListingExplanation {
    /// The channel.
    pub channel_id: ChannelId,
    /// Its name.
    pub channel_name: String,
    /// Its rules as configured.
    pub rules: StockRules,
    /// The SKU's availability the rules started from.
    pub base: i64,
    /// Each rule applied, in order.
    pub steps: Vec<RuleStep>,
    /// The quantity the channel shows.
    pub quantity: i64,
}

/// The full derivation of a SKU's figures.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Explanation {
    /// The SKU explained.
    pub sku: Sku,
    /// Whether it is a kit.
    pub kit: bool,
    /// Plain products: `Σ sources`. Kits: `None` (a kit has no stock of its own).
    pub on_hand: Option<i64>,
    /// Plain products: `Σ commitments`. Kits: `None`.
    pub committed: Option<i64>,
    /// Plain: `on_hand − committed`. Kit: the number of kits the components allow.
    pub available: i64,
    /// Plain products: each source's quantity.
    pub sources: Vec<SourceLevel>,
    /// Plain products: each open commitment.
    pub commitments: Vec<Commitment>,
    /// Kits: each component's contribution.
    pub components: Vec<ComponentExplanation>,
    /// Kits: the component that limits availability.
    pub limiting_component: Option<Sku>,
    /// The quantity each channel of the store shows.
    pub listings: Vec<ListingExplanation>,
}

/// Explain `sku` given what it is and the store's channels.
#[must_use]
pub fn explain(sku: &Sku, subject: Subject<'_>, channels: &[ChannelRules]) -> Explanation {
    let mut e = match subject {
        Subject::Plain(l) => Explanation {
            sku: sku.clone(),
            kit: false,
            on_hand: Some(l.on_hand()),
            committed: Some(l.committed()),
            available: l.available(),
            sources: l.sources.clone(),
            commitments: l.commitments.clone(),
            components: Vec::new(),
            limiting_component: None,
            listings: Vec::new(),
        },
        Subject::Kit(parts) => {
            let k = kit_availability(
                &parts
                    .iter()
                    .map(|(c, l)| (c.sku.clone(), c.quantity, l.available()))
                    .collect::<Vec<_>>(),
            );
            let components = parts
                .iter()
                .zip(&k.components)
                .map(|((c, l), ca)| ComponentExplanation {
                    sku: c.sku.clone(),
                    per_kit: c.quantity,
                    on_hand: l.on_hand(),
                    committed: l.committed(),
                    available: l.available(),
                    kits_possible: ca.kits_possible,
                    sources: l.sources.clone(),
                    commitments: l.commitments.clone(),
                })
                .collect();
            Explanation {
                sku: sku.clone(),
                kit: true,
                on_hand: None,
                committed: None,
                available: k.available,
                sources: Vec::new(),
                commitments: Vec::new(),
                components,
                limiting_component: k.limiting_component,
                listings: Vec::new(),
            }
        }
    };
    e.listings = channels
        .iter()
        .map(|c| {
            let out = c.rules.apply(e.available);
            ListingExplanation {
                channel_id: c.channel_id.clone(),
                channel_name: c.name.clone(),
                rules: c.rules,
                base: out.base,
                steps: out.steps,
                quantity: out.quantity,
            }
        })
        .collect();
    e
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::OrderId;
    use crate::stock::StockSource;
    use proptest::prelude::*;

    fn ledger(sources: &[i64], commits: &[i64]) -> SkuLedger {
        SkuLedger {
            sources: sources
                .iter()
                .enumerate()
                .map(|(i, q)| SourceLevel {
                    source: if i == 0 {
                        StockSource::Api
                    } else {
                        StockSource::Plugin(format!("p{i}"))
                    },
                    location: String::new(),
                    quantity: *q,
                })
                .collect(),
            commitments: commits
                .iter()
                .map(|q| Commitment {
                    order_id: OrderId::generate(),
                    quantity: *q,
                    via_kit: None,
                })
                .collect(),
        }
    }

    proptest! {
        #[test]
        fn explanation_parts_add_up_to_the_figures_shown(
            sources in proptest::collection::vec(0i64..=1_000, 0..4),
            commits in proptest::collection::vec(1i64..=200, 0..5),
            buffer in proptest::option::of(0i64..=50),
        ) {
            let l = ledger(&sources, &commits);
            let sku = Sku::parse("A").unwrap();
            let ch = ChannelRules { channel_id: ChannelId::generate(), name: "shop".into(), rules: StockRules { buffer, ..Default::default() } };
            let e = explain(&sku, Subject::Plain(&l), std::slice::from_ref(&ch));
            let on_hand: i64 = e.sources.iter().map(|s| s.quantity).sum();
            let committed: i64 = e.commitments.iter().map(|c| c.quantity).sum();
            prop_assert_eq!(e.on_hand, Some(on_hand));
            prop_assert_eq!(e.committed, Some(committed));
            prop_assert_eq!(e.available, on_hand - committed);
            let listing = &e.listings[0];
            prop_assert_eq!(listing.base, e.available);
            prop_assert_eq!(listing.steps.last().map(|s| s.after), Some(listing.quantity));
            prop_assert!(listing.quantity >= 0);
        }

        #[test]
        fn kit_explanation_names_the_component_that_limits_it(
            parts in proptest::collection::vec((1i64..=5, 0i64..=100, 0i64..=50), 1..5),
        ) {
            let parts: Vec<(KitComponent, SkuLedger)> = parts
                .iter()
                .enumerate()
                .map(|(i, (per, on_hand, committed))| (
                    KitComponent { sku: Sku::parse(&format!("C{i}")).unwrap(), quantity: *per },
                    ledger(&[*on_hand], &[*committed]),
                ))
                .collect();
            let e = explain(&Sku::parse("KIT").unwrap(), Subject::Kit(&parts), &[]);
            let min = e.components.iter().map(|c| c.kits_possible).min().unwrap();
            prop_assert_eq!(e.available, min);
            let lim = e.components.iter().find(|c| Some(&c.sku) == e.limiting_component.as_ref()).unwrap();
            prop_assert_eq!(lim.kits_possible, min);
            for c in &e.components {
                prop_assert_eq!(c.available, c.on_hand - c.committed);
                prop_assert_eq!(c.kits_possible, c.available.max(0) / c.per_kit);
            }
        }
    }
}
