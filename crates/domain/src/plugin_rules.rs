//! Plugin rules: what happens to an order when it arrives. Rules are
//! ordered; each has conditions (all must hold; an empty condition holds
//! for every order) and one action. Every matching rule's action applies,
//! except routing, where the first matching "send to plugin" rule wins.
//! An order that is excluded is not routed; one that matches no routing
//! rule stays with the store (back office, API, webhooks).

use serde::{Deserialize, Serialize};

use crate::DomainError;
use crate::filter::glob_match;
use crate::values::{CountryCode, Currency};

/// Most rules a store may have.
pub const MAX_RULES: usize = 200;

/// The ordered rules of a store.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PluginRules {
    /// First to last.
    pub rules: Vec<PluginRule>,
}

/// One rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PluginRule {
    /// A name people recognise it by.
    pub name: String,
    /// Conditions, all of which must hold.
    #[serde(default)]
    pub when: Conditions,
    /// What to do with a matching order.
    pub then: RuleAction,
}

/// Conditions on an order; each one left empty holds for every order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Conditions {
    /// The order came from one of these channels (ids).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub channels: Vec<String>,
    /// At least one line's SKU matches one of these patterns (`*`, `?`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skus_any: Vec<String>,
    /// Every line's SKU matches one of these patterns.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skus_all: Vec<String>,
    /// Total units at least.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_quantity: Option<i64>,
    /// Total units at most.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_quantity: Option<i64>,
    /// Order total bounds, in minor units of `currency`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total: Option<TotalRange>,
    /// Shipping to one of these countries.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub countries: Vec<CountryCode>,
    /// The order carries one of these tags.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags_any: Vec<String>,
}

/// Bounds on the order total; an order in another currency does not match.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TotalRange {
    /// Currency of the bounds.
    pub currency: Currency,
    /// At least (minor units).
    #[serde(default)]
    pub min: Option<i64>,
    /// At most (minor units).
    #[serde(default)]
    pub max: Option<i64>,
}

/// What a rule does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "action", rename_all = "snake_case", deny_unknown_fields)]
pub enum RuleAction {
    /// Route the order to a plugin (3PL).
    SendToPlugin {
        /// The plugin's id.
        plugin_id: String,
    },
    /// Mark the order Excluded (kept, never routed, commits no stock).
    Exclude {
        /// Shown as the reason.
        #[serde(default)]
        reason: Option<String>,
    },
    /// Put the order On Hold.
    Hold {
        /// Shown as the reason.
        #[serde(default)]
        reason: Option<String>,
    },
    /// Add a tag to the order (later rules see it).
    AddTag {
        /// The tag.
        tag: String,
    },
}

/// What rules look at in an order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderFacts {
    /// Channel id.
    pub channel_id: String,
    /// Each line's SKU (as mapped to the store) and units.
    pub lines: Vec<(String, i64)>,
    /// Order total, minor units.
    pub total: i64,
    /// Currency of the total.
    pub currency: Option<Currency>,
    /// Shipping country.
    pub country: Option<CountryCode>,
    /// Tags it already has.
    pub tags: Vec<String>,
}

impl OrderFacts {
    /// The facts of an order of channel `channel_id`: its lines (store SKU,
    /// units) and, from its unified form when it has one, total, country
    /// and the tags the channel gave it.
    #[must_use]
    pub fn of(
        channel_id: &str,
        order: Option<&crate::order::UnifiedOrder>,
        lines: Vec<(String, i64)>,
    ) -> Self {
        Self {
            channel_id: channel_id.to_owned(),
            lines,
            total: order.map_or(0, |o| o.total),
            currency: order.map(|o| o.currency),
            country: order.and_then(|o| o.shipping_address.country),
            tags: order.map(|o| o.tags.clone()).unwrap_or_default(),
        }
    }
}

/// What the rules decided for an order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct RuleOutcome {
    /// The plugin it goes to, and the rule that sent it (`None`: stays with the store).
    pub plugin_id: Option<String>,
    /// Name of the routing rule.
    pub routed_by: Option<String>,
    /// Excluded, with the reason.
    pub excluded: Option<String>,
    /// On hold, with the reason.
    pub on_hold: Option<String>,
    /// Tags added.
    pub tags_added: Vec<String>,
    /// Names of every rule that matched, in order.
    pub matched: Vec<String>,
}

impl Conditions {
    /// Whether `o` meets every condition.
    #[must_use]
    pub fn hold_for(&self, o: &OrderFacts, tags: &[String]) -> bool {
        let any = |pats: &[String], sku: &str| pats.iter().any(|p| glob_match(p, sku));
        let units: i64 = o.lines.iter().map(|(_, q)| *q).sum();
        (self.channels.is_empty() || self.channels.contains(&o.channel_id))
            && (self.skus_any.is_empty() || o.lines.iter().any(|(s, _)| any(&self.skus_any, s)))
            && (self.skus_all.is_empty()
                || (!o.lines.is_empty() && o.lines.iter().all(|(s, _)| any(&self.skus_all, s))))
            && self.min_quantity.is_none_or(|m| units >= m)
            && self.max_quantity.is_none_or(|m| units <= m)
            && self.total.is_none_or(|t| {
                o.currency == Some(t.currency)
                    && t.min.is_none_or(|m| o.total >= m)
                    && t.max.is_none_or(|m| o.total <= m)
            })
            && (self.countries.is_empty() || o.country.is_some_and(|c| self.countries.contains(&c)))
            && (self.tags_any.is_empty() || self.tags_any.iter().any(|t| tags.contains(t)))
    }
}

impl PluginRules {
    /// Check the rules: names, patterns, bounds and ids; errors name the
    /// field (`rules[2].when.min_quantity`).
    pub fn validate(&self) -> Result<(), DomainError> {
        if self.rules.len() > MAX_RULES {
            return Err(DomainError::invalid(
                "too_many_rules",
                "rules",
                format!("at most {MAX_RULES} rules"),
            ));
        }
        for (i, r) in self.rules.iter().enumerate() {
            let at = |f: &str| format!("rules[{i}].{f}");
            let text = |f: &str, v: &str, max: usize| {
                if v.trim().is_empty() || v.chars().count() > max {
                    Err(DomainError::invalid(
                        "invalid_rule",
                        at(f),
                        format!("{f} must be 1 to {max} characters"),
                    ))
                } else {
                    Ok(())
                }
            };
            text("name", &r.name, 200)?;
            let w = &r.when;
            for (f, list) in [
                ("when.channels", &w.channels),
                ("when.skus_any", &w.skus_any),
                ("when.skus_all", &w.skus_all),
                ("when.tags_any", &w.tags_any),
            ] {
                for v in list {
                    text(f, v, 200)?;
                }
            }
            if let Some(c) = w
                .channels
                .iter()
                .find(|c| crate::ids::ChannelId::parse(c).is_err())
            {
                return Err(DomainError::invalid(
                    "invalid_rule",
                    at("when.channels"),
                    format!("`{c}` is not a channel id"),
                ));
            }
            for (f, v) in [
                ("when.min_quantity", w.min_quantity),
                ("when.max_quantity", w.max_quantity),
            ] {
                if v.is_some_and(|q| q < 0) {
                    return Err(DomainError::invalid(
                        "invalid_rule",
                        at(f),
                        "quantities are not negative",
                    ));
                }
            }
            if let (Some(a), Some(b)) = (w.min_quantity, w.max_quantity)
                && a > b
            {
                return Err(DomainError::invalid(
                    "invalid_rule",
                    at("when.max_quantity"),
                    "max_quantity is below min_quantity",
                ));
            }
            if let Some(t) = w.total
                && let (Some(a), Some(b)) = (t.min, t.max)
                && a > b
            {
                return Err(DomainError::invalid(
                    "invalid_rule",
                    at("when.total.max"),
                    "max is below min",
                ));
            }
            match &r.then {
                RuleAction::SendToPlugin { plugin_id } => text("then.plugin_id", plugin_id, 64)?,
                RuleAction::AddTag { tag } => text("then.tag", tag, 100)?,
                RuleAction::Exclude { reason } | RuleAction::Hold { reason } => {
                    if let Some(reason) = reason {
                        text("then.reason", reason, 500)?;
                    }
                }
            }
        }
        Ok(())
    }

    /// Run the rules over an order.
    #[must_use]
    pub fn evaluate(&self, o: &OrderFacts) -> RuleOutcome {
        let mut out = RuleOutcome::default();
        let mut tags = o.tags.clone();
        for r in &self.rules {
            if !r.when.hold_for(o, &tags) {
                continue;
            }
            out.matched.push(r.name.clone());
            match &r.then {
                RuleAction::SendToPlugin { plugin_id } => {
                    if out.plugin_id.is_none() {
                        out.plugin_id = Some(plugin_id.clone());
                        out.routed_by = Some(r.name.clone());
                    }
                }
                RuleAction::Exclude { reason } => {
                    out.excluded.get_or_insert_with(|| {
                        reason
                            .clone()
                            .unwrap_or_else(|| format!("plugin rule `{}`", r.name))
                    });
                }
                RuleAction::Hold { reason } => {
                    out.on_hold.get_or_insert_with(|| {
                        reason
                            .clone()
                            .unwrap_or_else(|| format!("plugin rule `{}`", r.name))
                    });
                }
                RuleAction::AddTag { tag } => {
                    if !tags.contains(tag) {
                        tags.push(tag.clone());
                        out.tags_added.push(tag.clone());
                    }
                }
            }
        }
        if out.excluded.is_some() {
            out.plugin_id = None;
            out.routed_by = None;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(v: serde_json::Value) -> PluginRules {
        serde_json::from_value(v).unwrap()
    }

    fn order(lines: &[(&str, i64)], country: &str, total: i64) -> OrderFacts {
        OrderFacts {
            channel_id: "ch_01jd0000000000000000000000".into(),
            lines: lines.iter().map(|(s, q)| ((*s).to_owned(), *q)).collect(),
            total,
            currency: Currency::parse("EUR").ok(),
            country: CountryCode::parse(country).ok(),
            tags: vec![],
        }
    }

    #[test]
    fn the_first_routing_rule_wins_and_other_actions_add_up() {
        let r = rules(serde_json::json!({ "rules": [
            { "name": "tag big", "when": { "min_quantity": 3 }, "then": { "action": "add_tag", "tag": "bulk" } },
            { "name": "bulk to A", "when": { "tags_any": ["bulk"] }, "then": { "action": "send_to_plugin", "plugin_id": "plg_a" } },
            { "name": "mugs to B", "when": { "skus_any": ["MUG-*"] }, "then": { "action": "send_to_plugin", "plugin_id": "plg_b" } },
            { "name": "hold US", "when": { "countries": ["US"] }, "then": { "action": "hold" } },
        ]}));
        assert_eq!(r.validate(), Ok(()));
        let o = r.evaluate(&order(&[("MUG-RED", 3)], "US", 3000));
        assert_eq!(o.plugin_id.as_deref(), Some("plg_a"));
        assert_eq!(o.tags_added, ["bulk"]);
        assert_eq!(o.on_hold.as_deref(), Some("plugin rule `hold US`"));
        assert_eq!(o.matched.len(), 4);
        let o = r.evaluate(&order(&[("MUG-RED", 1)], "GB", 3000));
        assert_eq!(o.plugin_id.as_deref(), Some("plg_b"));
        let o = r.evaluate(&order(&[("TEE-1", 1)], "GB", 3000));
        assert_eq!(o, RuleOutcome::default(), "no rule: stays with the store");
    }

    #[test]
    fn all_skus_totals_and_exclusion() {
        let r = rules(serde_json::json!({ "rules": [
            { "name": "only mugs", "when": { "skus_all": ["MUG-*"], "total": { "currency": "EUR", "min": 1000, "max": 5000 } },
              "then": { "action": "send_to_plugin", "plugin_id": "plg_a" } },
            { "name": "no cheap", "when": { "total": { "currency": "EUR", "max": 99 } }, "then": { "action": "exclude", "reason": "too cheap" } },
        ]}));
        assert_eq!(
            r.evaluate(&order(&[("MUG-1", 1), ("MUG-2", 1)], "GB", 2000))
                .plugin_id
                .as_deref(),
            Some("plg_a")
        );
        assert_eq!(
            r.evaluate(&order(&[("MUG-1", 1), ("TEE", 1)], "GB", 2000))
                .plugin_id,
            None
        );
        assert_eq!(
            r.evaluate(&order(&[("MUG-1", 1)], "GB", 9000)).plugin_id,
            None
        );
        let cheap = r.evaluate(&order(&[("MUG-1", 1)], "GB", 50));
        assert_eq!(cheap.excluded.as_deref(), Some("too cheap"));
        assert_eq!(cheap.plugin_id, None);
    }

    #[test]
    fn invalid_rules_name_their_field() {
        let bad = rules(serde_json::json!({ "rules": [
            { "name": "ok", "then": { "action": "hold" } },
            { "name": "bad", "when": { "min_quantity": 5, "max_quantity": 2 }, "then": { "action": "hold" } },
        ]}));
        let e = bad.validate().unwrap_err();
        assert_eq!(e.field.as_deref(), Some("rules[1].when.max_quantity"));
        let bad = rules(serde_json::json!({ "rules": [
            { "name": "x", "when": { "channels": ["nope"] }, "then": { "action": "hold" } } ]}));
        assert_eq!(
            bad.validate().unwrap_err().field.as_deref(),
            Some("rules[0].when.channels")
        );
        assert!(
            serde_json::from_value::<PluginRules>(serde_json::json!({ "rules": [
            { "name": "x", "then": { "action": "teleport" } } ]}))
            .is_err()
        );
    }
}
