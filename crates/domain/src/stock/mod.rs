//! The stock ledger's maths: sources, commitments, availability, kits and the
//! per-channel stock rules, each step recorded so any figure can be explained.
//!
//! For a plain SKU: `on_hand = Σ sources`, `committed = Σ open commitments`,
//! `available = on_hand − committed` (may be negative when oversold). A kit's
//! availability is `min over components ⌊max(available(c), 0) / qty(c)⌋`.
//! A listing's quantity is that base figure run through the channel's
//! [`StockRules`], in the order documented on [`StockRules::apply`]; it is never
//! negative.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::DomainError;
use crate::ids::OrderId;
use crate::values::{MAX_QUANTITY, Sku};

mod change;

pub use change::{ChangeRefused, LevelMove, StockChange, StockOp, api_level_moves, plan_change};

/// Where an on-hand quantity comes from. Sources are kept apart; their sum is
/// the on-hand total.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum StockSource {
    /// Set by the merchant through the API (`"api"`).
    Api,
    /// Reported by a 3PL plugin (`"plugin:<id>"`).
    Plugin(String),
}

impl StockSource {
    /// Parse `"api"` or `"plugin:<id>"` (id: 1–64 of `[a-z0-9_-]`).
    pub fn parse(s: &str) -> Result<Self, DomainError> {
        if s == "api" {
            return Ok(Self::Api);
        }
        if let Some(id) = s.strip_prefix("plugin:")
            && !id.is_empty()
            && id.len() <= 64
            && id
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
        {
            return Ok(Self::Plugin(id.to_owned()));
        }
        Err(DomainError::invalid(
            "invalid_source",
            "source",
            format!("`{s}` is not a stock source (`api` or `plugin:<id>`)"),
        ))
    }
}

impl fmt::Display for StockSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Api => f.write_str("api"),
            Self::Plugin(id) => write!(f, "plugin:{id}"),
        }
    }
}

impl fmt::Debug for StockSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl Serialize for StockSource {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for StockSource {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// Check a location / warehouse name: at most 64 characters, no control
/// characters. The empty string means "no particular location".
pub fn check_location(field: &str, loc: &str) -> Result<(), DomainError> {
    if loc.chars().count() > 64 || loc.chars().any(char::is_control) || loc.trim() != loc {
        return Err(DomainError::invalid(
            "invalid_location",
            field,
            "location must be at most 64 characters, without control characters or surrounding spaces",
        ));
    }
    Ok(())
}

/// The quantity one source holds of a SKU, optionally at a named location.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SourceLevel {
    /// The source.
    pub source: StockSource,
    /// Location / warehouse; empty when not given.
    pub location: String,
    /// Units on hand at this source and location, `0..=MAX_QUANTITY`.
    pub quantity: i64,
}

/// Units reserved by one open order line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Commitment {
    /// The order holding the units.
    pub order_id: OrderId,
    /// Units reserved.
    pub quantity: i64,
    /// When the order line was for a kit, the kit SKU it was expanded from.
    pub via_kit: Option<Sku>,
}

/// Everything the ledger knows about one plain SKU.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SkuLedger {
    /// On-hand quantity per source and location.
    pub sources: Vec<SourceLevel>,
    /// Open commitments.
    pub commitments: Vec<Commitment>,
}

impl SkuLedger {
    /// `Σ sources`.
    #[must_use]
    pub fn on_hand(&self) -> i64 {
        self.sources.iter().map(|s| s.quantity).sum()
    }

    /// `Σ commitments`.
    #[must_use]
    pub fn committed(&self) -> i64 {
        self.commitments.iter().map(|c| c.quantity).sum()
    }

    /// `on_hand − committed`; negative when oversold.
    #[must_use]
    pub fn available(&self) -> i64 {
        self.on_hand() - self.committed()
    }
}

/// How many kits one component allows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ComponentAvailability {
    /// Component SKU.
    pub sku: Sku,
    /// Units of it per kit.
    pub per_kit: i64,
    /// Its availability (may be negative).
    pub available: i64,
    /// `⌊max(available, 0) / per_kit⌋`.
    pub kits_possible: i64,
}

/// A kit's availability and what limits it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KitAvailability {
    /// `min` of `kits_possible` over components (0 for a kit with none).
    pub available: i64,
    /// The component with the fewest kits possible (first one on ties).
    pub limiting_component: Option<Sku>,
    /// Each component's contribution, in kit order.
    pub components: Vec<ComponentAvailability>,
}

/// A SKU an order committed that the stock on hand does not cover.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Shortfall {
    /// The SKU.
    pub sku: String,
    /// Units on hand.
    pub on_hand: i64,
    /// Units committed to open orders.
    pub committed: i64,
    /// `on_hand − committed`, below zero.
    pub available: i64,
}

/// Which of the SKUs an order just committed are short: available below
/// zero after its commitment. An order with any is oversold. `totals`
/// gives a SKU's `(on_hand, committed)`; a SKU without totals is not
/// short.
#[must_use]
pub fn shortfalls<'a>(
    committed: impl IntoIterator<Item = &'a String>,
    totals: impl Fn(&str) -> Option<(i64, i64)>,
) -> Vec<Shortfall> {
    committed
        .into_iter()
        .filter_map(|sku| {
            let (on_hand, committed) = totals(sku)?;
            let available = on_hand - committed;
            (available < 0).then(|| Shortfall {
                sku: sku.clone(),
                on_hand,
                committed,
                available,
            })
        })
        .collect()
}

/// Compute a kit's availability from `(component, units per kit, available)`.
#[must_use]
pub fn kit_availability(components: &[(Sku, i64, i64)]) -> KitAvailability {
    let components: Vec<ComponentAvailability> = components
        .iter()
        .map(|(sku, per_kit, available)| ComponentAvailability {
            sku: sku.clone(),
            per_kit: *per_kit,
            available: *available,
            kits_possible: if *per_kit > 0 {
                (*available).max(0) / per_kit
            } else {
                0
            },
        })
        .collect();
    let limiting = components
        .iter()
        .enumerate()
        .min_by_key(|(i, c)| (c.kits_possible, *i))
        .map(|(_, c)| c);
    KitAvailability {
        available: limiting.map_or(0, |c| c.kits_possible),
        limiting_component: limiting.map(|c| c.sku.clone()),
        components,
    }
}

/// A channel's rules turning availability into the quantity a listing shows,
/// as offered by Linnworks, Sellbrite and Shopify Marketplace Connect.
/// Every rule is optional; none set means "show what is available".
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StockRules {
    /// Always show exactly this quantity (e.g. made-to-order); the other rules
    /// are then skipped.
    pub fixed: Option<i64>,
    /// Show 0 when the base availability is at or below this threshold.
    pub zero_at_or_below: Option<i64>,
    /// Hold back this many units.
    pub buffer: Option<i64>,
    /// Show only this percentage (1–100) of what remains, rounded down.
    pub percentage: Option<i64>,
    /// Never show more than this.
    pub maximum: Option<i64>,
}

/// The name of a rule in an explanation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleName {
    /// [`StockRules::fixed`].
    Fixed,
    /// [`StockRules::zero_at_or_below`].
    ZeroAtOrBelow,
    /// [`StockRules::buffer`].
    Buffer,
    /// [`StockRules::percentage`].
    Percentage,
    /// [`StockRules::maximum`].
    Maximum,
    /// The final floor at zero.
    NeverNegative,
}

impl RuleName {
    /// The documented order in which rules apply.
    pub const ORDER: [RuleName; 6] = [
        RuleName::Fixed,
        RuleName::ZeroAtOrBelow,
        RuleName::Buffer,
        RuleName::Percentage,
        RuleName::Maximum,
        RuleName::NeverNegative,
    ];
}

/// One applied rule: its parameter and the figure before and after.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuleStep {
    /// Which rule.
    pub rule: RuleName,
    /// The rule's setting (0 for `never_negative`).
    pub parameter: i64,
    /// Quantity before the rule.
    pub before: i64,
    /// Quantity after the rule.
    pub after: i64,
    /// Why the figure changed (or did not).
    pub note: String,
}

/// The result of running [`StockRules`] over a base availability.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RulesOutcome {
    /// The starting figure.
    pub base: i64,
    /// Every rule that was set, in application order, plus `never_negative`.
    pub steps: Vec<RuleStep>,
    /// The quantity to show; never negative.
    pub quantity: i64,
}

impl StockRules {
    /// Validate the settings; the error names the bad field.
    pub fn validate(&self) -> Result<(), DomainError> {
        let check = |name: &str, v: Option<i64>, lo: i64, hi: i64| -> Result<(), DomainError> {
            match v {
                Some(x) if !(lo..=hi).contains(&x) => Err(DomainError::invalid(
                    "invalid_stock_rule",
                    format!("stock_rules.{name}"),
                    format!("{name} must be between {lo} and {hi} (got {x})"),
                )),
                _ => Ok(()),
            }
        };
        check("fixed", self.fixed, 0, MAX_QUANTITY)?;
        check("zero_at_or_below", self.zero_at_or_below, 0, MAX_QUANTITY)?;
        check("buffer", self.buffer, 0, MAX_QUANTITY)?;
        check("percentage", self.percentage, 1, 100)?;
        check("maximum", self.maximum, 0, MAX_QUANTITY)?;
        Ok(())
    }

    /// Apply the rules to `base`, in this order:
    ///
    /// 1. `fixed`: if set, the result is that figure and nothing else applies;
    /// 2. `zero_at_or_below`: if `base ≤ threshold`, the result is 0;
    /// 3. `buffer`: subtract it;
    /// 4. `percentage`: keep `⌊x · p / 100⌋` of what is left (of 0 if negative);
    /// 5. `maximum`: cap;
    /// 6. never negative: floor at 0.
    #[must_use]
    pub fn apply(&self, base: i64) -> RulesOutcome {
        let mut steps = Vec::new();
        let mut x = base;
        let mut step = |rule, parameter, before: i64, after: i64, note: String| {
            steps.push(RuleStep {
                rule,
                parameter,
                before,
                after,
                note,
            });
            after
        };
        if let Some(f) = self.fixed {
            x = step(
                RuleName::Fixed,
                f,
                x,
                f,
                format!("fixed quantity {f} shown regardless of stock; other rules skipped"),
            );
            return RulesOutcome {
                base,
                steps,
                quantity: x.max(0),
            };
        }
        if let Some(t) = self.zero_at_or_below {
            if x <= t {
                step(
                    RuleName::ZeroAtOrBelow,
                    t,
                    x,
                    0,
                    format!("{x} is at or below {t}, so 0 is shown"),
                );
                return RulesOutcome {
                    base,
                    steps,
                    quantity: 0,
                };
            }
            x = step(
                RuleName::ZeroAtOrBelow,
                t,
                x,
                x,
                format!("{x} is above {t}; unchanged"),
            );
        }
        if let Some(b) = self.buffer {
            let after = x.saturating_sub(b);
            x = step(RuleName::Buffer, b, x, after, format!("{b} held back"));
        }
        if let Some(p) = self.percentage {
            let after = x.max(0).saturating_mul(p) / 100;
            x = step(
                RuleName::Percentage,
                p,
                x,
                after,
                format!("{p}% of {}, rounded down", x.max(0)),
            );
        }
        if let Some(m) = self.maximum {
            let after = x.min(m);
            let note = if after < x {
                format!("capped at {m}")
            } else {
                format!("within the maximum of {m}")
            };
            x = step(RuleName::Maximum, m, x, after, note);
        }
        let after = x.max(0);
        let note = if after != x {
            "negative figure shown as 0".to_owned()
        } else {
            "not negative; unchanged".to_owned()
        };
        x = step(RuleName::NeverNegative, 0, x, after, note);
        RulesOutcome {
            base,
            steps,
            quantity: x,
        }
    }
}

/// Whether an order in `state` holds commitments at all (so storage need
/// not read its lines when it does not).
#[must_use]
pub fn holds_commitments(state: crate::order::OrderState) -> bool {
    state.commits_stock()
}

/// The commitments an order in `state` holds for its `lines`
/// (`(line_no, sku, open units)`): `(line_no, plain sku, units, via kit)`,
/// kits as their components; none unless the state commits stock, none for
/// lines with nothing open or SKUs that are no product.
#[must_use]
pub fn plan_commitments<'a>(
    state: crate::order::OrderState,
    lines: &'a [(i64, String, i64)],
    kinds: &'a crate::product::Kinds,
) -> Vec<(i64, &'a str, i64, Option<&'a str>)> {
    if !holds_commitments(state) {
        return Vec::new();
    }
    lines
        .iter()
        .filter(|l| l.2 > 0)
        .flat_map(|(n, sku, open)| {
            kinds
                .commits(sku, *open)
                .into_iter()
                .map(move |(part, qty, via)| (*n, part, qty, via))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_order_is_short_where_its_commitments_outrun_the_stock() {
        let skus = ["A".to_owned(), "B".to_owned(), "GONE".to_owned()];
        let totals = |s: &str| match s {
            "A" => Some((3, 4)),
            "B" => Some((5, 5)),
            _ => None,
        };
        assert_eq!(
            shortfalls(&skus, totals),
            [Shortfall {
                sku: "A".into(),
                on_hand: 3,
                committed: 4,
                available: -1
            }]
        );
        assert!(shortfalls(&skus[1..], totals).is_empty());
    }
    use proptest::prelude::*;

    fn sku(s: &str) -> Sku {
        Sku::parse(s).unwrap()
    }

    #[test]
    fn sources_parse_and_print() {
        assert_eq!(StockSource::parse("api").unwrap(), StockSource::Api);
        assert_eq!(
            StockSource::parse("plugin:wh-1").unwrap().to_string(),
            "plugin:wh-1"
        );
        assert!(StockSource::parse("plugin:").is_err());
        assert!(StockSource::parse("API").is_err());
        assert!(StockSource::parse("plugin:Bad Id").is_err());
    }

    #[test]
    fn ledger_sums_sources_and_commitments() {
        let l = SkuLedger {
            sources: vec![
                SourceLevel {
                    source: StockSource::Api,
                    location: String::new(),
                    quantity: 7,
                },
                SourceLevel {
                    source: StockSource::Plugin("3pl".into()),
                    location: "A".into(),
                    quantity: 5,
                },
            ],
            commitments: vec![Commitment {
                order_id: OrderId::generate(),
                quantity: 4,
                via_kit: None,
            }],
        };
        assert_eq!((l.on_hand(), l.committed(), l.available()), (12, 4, 8));
    }

    #[test]
    fn kit_is_limited_by_its_scarcest_component() {
        let k = kit_availability(&[(sku("A"), 2, 9), (sku("B"), 1, 3), (sku("C"), 3, -4)]);
        assert_eq!(k.available, 0);
        assert_eq!(k.limiting_component, Some(sku("C")));
        let k = kit_availability(&[(sku("A"), 2, 9), (sku("B"), 1, 3)]);
        assert_eq!((k.available, k.limiting_component), (3, Some(sku("B"))));
    }

    #[test]
    fn rules_apply_in_documented_order() {
        let rules = StockRules {
            fixed: None,
            zero_at_or_below: Some(2),
            buffer: Some(3),
            percentage: Some(50),
            maximum: Some(10),
        };
        let out = rules.apply(40);
        let names: Vec<_> = out.steps.iter().map(|s| s.rule).collect();
        assert_eq!(
            names,
            [
                RuleName::ZeroAtOrBelow,
                RuleName::Buffer,
                RuleName::Percentage,
                RuleName::Maximum,
                RuleName::NeverNegative
            ]
        );
        // 40 -> 37 -> 18 -> 10
        assert_eq!(out.quantity, 10);
        assert_eq!(rules.apply(2).quantity, 0);
        assert_eq!(rules.apply(4).quantity, 0, "(4-3)*50% rounds down to 0");
        assert_eq!(
            StockRules {
                fixed: Some(5),
                ..rules
            }
            .apply(-3)
            .quantity,
            5
        );
    }

    #[test]
    fn rule_settings_are_validated() {
        assert!(
            StockRules {
                percentage: Some(0),
                ..Default::default()
            }
            .validate()
            .is_err()
        );
        assert!(
            StockRules {
                percentage: Some(101),
                ..Default::default()
            }
            .validate()
            .is_err()
        );
        assert!(
            StockRules {
                buffer: Some(-1),
                ..Default::default()
            }
            .validate()
            .is_err()
        );
        let e = StockRules {
            maximum: Some(MAX_QUANTITY + 1),
            ..Default::default()
        }
        .validate()
        .unwrap_err();
        assert_eq!(e.field.as_deref(), Some("stock_rules.maximum"));
    }

    fn rules_strategy() -> impl Strategy<Value = StockRules> {
        let q = || proptest::option::of(0..=1_000i64);
        (
            proptest::option::weighted(0.15, 0..=1_000i64),
            q(),
            q(),
            proptest::option::of(1..=100i64),
            q(),
        )
            .prop_map(|(fixed, zero_at_or_below, buffer, percentage, maximum)| {
                StockRules {
                    fixed,
                    zero_at_or_below,
                    buffer,
                    percentage,
                    maximum,
                }
            })
    }

    proptest! {
        #[test]
        fn rules_never_show_a_negative_quantity(base in -MAX_QUANTITY..=MAX_QUANTITY, rules in rules_strategy()) {
            prop_assert!(rules.apply(base).quantity >= 0);
        }

        #[test]
        fn explained_steps_chain_from_base_to_result(base in -10_000i64..=10_000, rules in rules_strategy()) {
            let out = rules.apply(base);
            prop_assert_eq!(out.steps.first().map(|s| s.before), Some(base));
            prop_assert_eq!(out.steps.last().map(|s| s.after), Some(out.quantity));
            for w in out.steps.windows(2) {
                prop_assert_eq!(w[0].after, w[1].before);
            }
            // Steps appear in the documented order.
            let pos = |r: RuleName| RuleName::ORDER.iter().position(|x| *x == r).unwrap_or(usize::MAX);
            for w in out.steps.windows(2) {
                prop_assert!(pos(w[0].rule) < pos(w[1].rule));
            }
        }

        #[test]
        fn rules_never_show_more_than_available_unless_fixed(base in 0i64..=100_000, rules in rules_strategy()) {
            prop_assume!(rules.fixed.is_none());
            let out = rules.apply(base);
            prop_assert!(out.quantity <= base);
            if let Some(m) = rules.maximum { prop_assert!(out.quantity <= m); }
        }

        #[test]
        fn kit_quantity_is_limited_by_scarcest_component(comps in proptest::collection::vec((1i64..=20, -50i64..=1_000), 1..8)) {
            let named: Vec<(Sku, i64, i64)> = comps.iter().enumerate().map(|(i, (q, a))| (sku(&format!("C{i}")), *q, *a)).collect();
            let k = kit_availability(&named);
            prop_assert!(k.available >= 0);
            for (_, per, avail) in &named {
                // Building `available` kits never needs more than any component has.
                prop_assert!(k.available * per <= (*avail).max(0));
            }
            let lim = k.limiting_component.clone().unwrap();
            let (_, per, avail) = named.iter().find(|(s, _, _)| *s == lim).unwrap();
            // One more kit would exceed the limiting component.
            prop_assert!((k.available + 1) * per > (*avail).max(0));
        }
    }
}
