//! What an order arriving from a channel becomes: one pure function over
//! the facts a backend reads for it (the order as the channel sent it, the
//! channel's filters, the store's SKU mapping and plugin rules, and what
//! is stored for it already) that returns a plan for the backend to write.
//!
//! Precedence, in order: the import decision ([`crate::filter::decide`]:
//! skip, cancelled, fulfilled, excluded by filter, open); an exclusion by
//! plugin rule outlasts the channel sending the order again; an order
//! unchanged since its last import is left alone; the plugin rules run
//! once, when an order first arrives open (exclude, hold, route, tag); and
//! a channel that holds orders with unmapped lines holds it.

use std::collections::{BTreeSet, HashMap};

use crate::filter::{ImportDecision, OrderFilters, decide};
use crate::order::{OrderState, UnifiedOrder};
use crate::plugin_rules::{OrderFacts, PluginRules, RuleOutcome};

/// What is stored for the order already.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    /// Its state.
    pub state: OrderState,
    /// Whether it was last imported with the `updated_at` the channel
    /// sends now.
    pub same_version: bool,
    /// Excluded by a plugin rule when it arrived, with the reason.
    pub rule_excluded: Option<String>,
}

/// One line to write: the store SKU it maps to (the channel's SKU,
/// trimmed, when it maps to nothing).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedLine {
    /// The channel's line id.
    pub channel_line_id: String,
    /// The store SKU, or the channel's when it maps to no product.
    pub sku: String,
    /// Units ordered.
    pub quantity: i64,
    /// Units still to ship (never negative).
    pub open_quantity: i64,
}

/// What to do with an arriving order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArrivalPlan {
    /// Not imported (yet), with the reason.
    Skip(String),
    /// Stored already in this state and version: nothing to write.
    Unchanged,
    /// Insert or update it.
    Write(Box<ArrivalWrite>),
}

/// An order to insert or update.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArrivalWrite {
    /// The order with its lines flagged against the catalogue.
    pub order: UnifiedOrder,
    /// What to store with it.
    pub decided: Decided,
}

/// What was decided about an arriving order: everything its write stores
/// besides the order itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decided {
    /// Its lines, mapped to store SKUs.
    pub lines: Vec<PlannedLine>,
    /// The state to store.
    pub state: OrderState,
    /// Why it is excluded.
    pub excluded_reason: Option<String>,
    /// Why a new order is on hold for its unmapped lines.
    pub hold_reason: Option<String>,
    /// What the plugin rules decided (an order arriving open only).
    pub routing: Option<RuleOutcome>,
    /// The store SKUs its lines map to.
    pub mapped_skus: BTreeSet<String>,
}

/// Plan the arrival of `order` on channel `channel_id`. `mapping` maps the
/// channel's SKUs (trimmed) to store SKUs, for those that map.
#[must_use]
pub fn plan(
    channel_id: &str,
    order: &UnifiedOrder,
    filters: &OrderFilters,
    rules: &PluginRules,
    mapping: &HashMap<String, String>,
    stored: Option<&Stored>,
) -> ArrivalPlan {
    let existing_state = stored.map(|s| s.state);
    let (mut state, mut excluded_reason) = match decide(order, filters, existing_state) {
        ImportDecision::Skip(reason) => return ArrivalPlan::Skip(reason),
        ImportDecision::Import {
            state,
            excluded_reason,
        } => (state, excluded_reason),
    };
    if state == OrderState::Open
        && let Some(reason) = stored.and_then(|s| s.rule_excluded.clone())
    {
        state = OrderState::Excluded;
        excluded_reason = Some(reason);
    }
    if stored.is_some_and(|s| s.state == state && s.same_version) {
        return ArrivalPlan::Unchanged;
    }
    let mut order = order.clone();
    let mut lines = Vec::with_capacity(order.lines.len());
    let mut mapped_skus = BTreeSet::new();
    for l in &mut order.lines {
        let channel_sku = l.sku.as_deref().map(str::trim).unwrap_or("").to_owned();
        let mapped = mapping.get(channel_sku.as_str()).cloned();
        l.flag_against(|_| mapped.is_some());
        mapped_skus.extend(mapped.clone());
        lines.push(PlannedLine {
            channel_line_id: l.channel_line_id.clone(),
            sku: mapped.unwrap_or(channel_sku),
            quantity: l.quantity,
            open_quantity: l.quantity.max(0),
        });
    }
    let arriving_open = stored.is_none() && state == OrderState::Open;
    let routing = (arriving_open && !rules.rules.is_empty()).then(|| {
        rules.evaluate(&OrderFacts::of(
            channel_id,
            Some(&order),
            lines.iter().map(|l| (l.sku.clone(), l.quantity)).collect(),
        ))
    });
    if let Some(r) = &routing {
        if let Some(reason) = &r.excluded {
            state = OrderState::Excluded;
            excluded_reason = Some(reason.clone());
        } else if r.on_hold.is_some() {
            state = OrderState::OnHold;
        }
    }
    let hold_reason = (stored.is_none() && state == OrderState::Open)
        .then(|| filters.unmapped_hold(&order))
        .flatten();
    if hold_reason.is_some() {
        state = OrderState::OnHold;
    }
    ArrivalPlan::Write(Box::new(ArrivalWrite {
        order,
        decided: Decided {
            lines,
            state,
            excluded_reason,
            hold_reason,
            routing,
            mapped_skus,
        },
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filter::{ListFilter, UnmappedLines};
    use crate::order::{LineFlag, PaymentStatus};

    fn order(lines: &[(Option<&str>, i64)]) -> UnifiedOrder {
        crate::order::fixtures::order("NL", lines)
    }

    fn mapping() -> HashMap<String, String> {
        HashMap::from([("MUG-CH".to_owned(), "MUG".to_owned())])
    }

    fn write(p: ArrivalPlan) -> ArrivalWrite {
        match p {
            ArrivalPlan::Write(w) => *w,
            other => panic!("expected a write, got {other:?}"),
        }
    }

    fn rules(json: serde_json::Value) -> PluginRules {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn lines_map_to_store_skus_and_unmapped_ones_are_flagged_and_kept() {
        let o = order(&[(Some(" MUG-CH "), 2), (None, 1), (Some("GHOST"), -1)]);
        let w = write(plan(
            "ch_1",
            &o,
            &OrderFilters::default(),
            &PluginRules::default(),
            &mapping(),
            None,
        ));
        assert_eq!(w.decided.state, OrderState::Open);
        let skus: Vec<&str> = w.decided.lines.iter().map(|l| l.sku.as_str()).collect();
        assert_eq!(skus, ["MUG", "", "GHOST"]);
        assert_eq!(w.decided.lines[2].open_quantity, 0, "never negative");
        assert_eq!(w.decided.mapped_skus, BTreeSet::from(["MUG".to_owned()]));
        assert_eq!(w.order.lines[1].flags, [LineFlag::MissingSku]);
        assert_eq!(w.order.lines[2].flags, [LineFlag::UnknownSku]);
        assert_eq!(w.order.unmapped_lines(), 2);
        assert_eq!(w.decided.hold_reason, None);
    }

    #[test]
    fn precedence_filter_then_rule_exclusion_then_rules_then_unmapped_hold() {
        let o = order(&[(Some("MUG-CH"), 1), (None, 1)]);
        let hold_unmapped = OrderFilters {
            unmapped_lines: UnmappedLines::Hold,
            ..OrderFilters::default()
        };
        // The unmapped hold applies to a new open order.
        let w = write(plan(
            "ch_1",
            &o,
            &hold_unmapped,
            &PluginRules::default(),
            &mapping(),
            None,
        ));
        assert_eq!(w.decided.state, OrderState::OnHold);
        assert!(w.decided.hold_reason.unwrap().contains("(no SKU)"));
        // A plugin rule's exclusion wins over the unmapped hold.
        let exclude = rules(serde_json::json!({ "rules": [
            { "name": "no mugs", "when": { "skus_any": ["MUG"] }, "then": { "action": "exclude", "reason": "mugs elsewhere" } }
        ]}));
        let w = write(plan("ch_1", &o, &hold_unmapped, &exclude, &mapping(), None));
        assert_eq!(w.decided.state, OrderState::Excluded);
        assert_eq!(w.decided.excluded_reason.as_deref(), Some("mugs elsewhere"));
        assert_eq!(w.decided.hold_reason, None);
        // The channel's filter comes first, and rules do not run on it.
        let deny_nl = OrderFilters {
            countries: ListFilter {
                allow: vec![],
                deny: vec!["NL".into()],
            },
            ..hold_unmapped.clone()
        };
        let w = write(plan("ch_1", &o, &deny_nl, &exclude, &mapping(), None));
        assert_eq!(w.decided.state, OrderState::Excluded);
        assert!(w.decided.routing.is_none());
        // Rules and the unmapped hold see an order once, when it arrives.
        let seen = Stored {
            state: OrderState::Open,
            same_version: false,
            rule_excluded: None,
        };
        let w = write(plan(
            "ch_1",
            &o,
            &hold_unmapped,
            &exclude,
            &mapping(),
            Some(&seen),
        ));
        assert_eq!(w.decided.state, OrderState::Open);
        assert!(w.decided.routing.is_none() && w.decided.hold_reason.is_none());
        // A rule's exclusion outlasts the channel sending the order again.
        let excluded = Stored {
            state: OrderState::Excluded,
            same_version: false,
            rule_excluded: Some("mugs elsewhere".into()),
        };
        let w = write(plan(
            "ch_1",
            &o,
            &OrderFilters::default(),
            &PluginRules::default(),
            &mapping(),
            Some(&excluded),
        ));
        assert_eq!(w.decided.state, OrderState::Excluded);
        // The same version in the same state is left alone.
        let same = Stored {
            same_version: true,
            ..excluded
        };
        assert_eq!(
            plan(
                "ch_1",
                &o,
                &OrderFilters::default(),
                &PluginRules::default(),
                &mapping(),
                Some(&same),
            ),
            ArrivalPlan::Unchanged
        );
    }

    #[test]
    fn unpaid_new_orders_are_skipped_with_the_reason() {
        let mut o = order(&[(Some("MUG-CH"), 1)]);
        o.payment_status = PaymentStatus::Pending;
        assert!(matches!(
            plan("ch_1", &o, &OrderFilters::default(), &PluginRules::default(), &mapping(), None),
            ArrivalPlan::Skip(r) if r.contains("not paid")
        ));
    }
}
