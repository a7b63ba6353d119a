//! Channel settings and order filters: which orders a channel imports, and in
//! which state.
//!
//! By default only paid, unfulfilled ("ready for despatch") orders are
//! imported. Per channel one can also import unpaid orders, or not-ready ones
//! (already fulfilled on the channel). Country and SKU filters never drop an
//! order: it is imported as **Excluded** (kept, visible, never routed,
//! committing no stock) with the reason recorded.

use serde::{Deserialize, Serialize};

use crate::DomainError;
use crate::order::{ChannelFulfilment, OrderState, PaymentStatus, UnifiedOrder};

/// Default import cadence.
pub const DEFAULT_CADENCE_SECS: u32 = 180;
/// Shortest import cadence.
pub const MIN_CADENCE_SECS: u32 = 10;
/// Longest import cadence (a day).
pub const MAX_CADENCE_SECS: u32 = 86_400;
/// Most entries in one allow or deny list.
pub const MAX_FILTER_ENTRIES: usize = 500;

/// Per-channel settings beyond credentials and stock rules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct ChannelSettings {
    /// Seconds between scheduled imports (polling continues even when the
    /// channel pushes notifications: channels drop them).
    pub cadence_secs: u32,
    /// Read the channel's listings into the store.
    pub download_products: bool,
    /// Create main products for downloaded listings whose SKU is unknown.
    pub add_to_main_products: bool,
    /// Push stock targets to the channel's listings.
    pub auto_sync_stock: bool,
    /// Register for the channel's order notifications (webhooks).
    pub push_notifications: bool,
    /// Which orders to import.
    pub order_filters: OrderFilters,
}

impl Default for ChannelSettings {
    fn default() -> Self {
        Self {
            cadence_secs: DEFAULT_CADENCE_SECS,
            download_products: true,
            add_to_main_products: false,
            auto_sync_stock: false,
            push_notifications: true,
            order_filters: OrderFilters::default(),
        }
    }
}

impl ChannelSettings {
    /// Validate every setting; the error names the field.
    pub fn validate(&self) -> Result<(), DomainError> {
        if !(MIN_CADENCE_SECS..=MAX_CADENCE_SECS).contains(&self.cadence_secs) {
            return Err(DomainError::invalid(
                "invalid_cadence",
                "cadence_secs",
                format!(
                    "cadence must be between {MIN_CADENCE_SECS} and {MAX_CADENCE_SECS} seconds (got {})",
                    self.cadence_secs
                ),
            ));
        }
        if self.add_to_main_products && !self.download_products {
            return Err(DomainError::invalid(
                "invalid_switches",
                "add_to_main_products",
                "add_to_main_products needs download_products: products are added from downloaded listings",
            ));
        }
        self.order_filters
            .validate()
            .map_err(|e| e.under("order_filters"))
    }
}

/// Which orders a channel imports.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct OrderFilters {
    /// Import orders that are not paid yet (default off).
    pub import_unpaid: bool,
    /// Import orders already (partly) fulfilled on the channel (default off).
    pub import_not_ready: bool,
    /// Shipping countries (ISO alpha-2, upper case).
    pub countries: ListFilter,
    /// Line SKUs: exact or glob (`*` any run, `?` one character).
    pub skus: ListFilter,
    /// Lines that map to no product (no SKU, like a "Gift wrapping" fee
    /// line, or a SKU the store does not have): counted on the order
    /// either way; `hold` also puts an arriving order with such a line on
    /// hold.
    pub unmapped_lines: UnmappedLines,
}

/// What an arriving order with lines that map to no product becomes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum UnmappedLines {
    /// Imported as usual; the lines commit nothing and are counted.
    #[default]
    Ignore,
    /// Imported on hold, with the lines named in the reason.
    Hold,
}

/// An allow list and a deny list. An empty allow list allows everything.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct ListFilter {
    /// Only these.
    pub allow: Vec<String>,
    /// Never these.
    pub deny: Vec<String>,
}

impl ListFilter {
    fn validate(&self, check: impl Fn(&str) -> bool, what: &str) -> Result<(), DomainError> {
        for (name, list) in [("allow", &self.allow), ("deny", &self.deny)] {
            if list.len() > MAX_FILTER_ENTRIES {
                return Err(DomainError::invalid(
                    "invalid_filter",
                    name,
                    format!("at most {MAX_FILTER_ENTRIES} entries"),
                ));
            }
            for (i, v) in list.iter().enumerate() {
                if !check(v) {
                    return Err(DomainError::invalid(
                        "invalid_filter",
                        format!("{name}[{i}]"),
                        format!("`{v}` is not {what}"),
                    ));
                }
            }
        }
        Ok(())
    }
}

impl OrderFilters {
    /// Validate the lists.
    pub fn validate(&self) -> Result<(), DomainError> {
        self.countries
            .validate(
                |c| c.len() == 2 && c.bytes().all(|b| b.is_ascii_uppercase()),
                "an ISO 3166-1 alpha-2 country code in upper case",
            )
            .map_err(|e| e.under("countries"))?;
        self.skus
            .validate(
                |s| !s.is_empty() && s.len() <= 128 && !s.chars().any(char::is_control),
                "a SKU or glob (1–128 characters, no control characters)",
            )
            .map_err(|e| e.under("skus"))
    }

    /// Why an arriving `order` (its lines flagged against the catalogue)
    /// goes on hold for its unmapped lines, if it does.
    #[must_use]
    pub fn unmapped_hold(&self, order: &UnifiedOrder) -> Option<String> {
        if self.unmapped_lines != UnmappedLines::Hold {
            return None;
        }
        let names: Vec<String> = order
            .lines
            .iter()
            .filter(|l| l.maps_to_nothing())
            .map(|l| match l.sku.as_deref().map(str::trim) {
                Some(s) if !s.is_empty() => format!("`{s}`"),
                _ => format!("\"{}\" (no SKU)", l.title),
            })
            .collect();
        (!names.is_empty()).then(|| {
            format!(
                "{} line(s) map to no product: {}",
                names.len(),
                names.join(", ")
            )
        })
    }

    /// Why the filters exclude `order`, if they do.
    #[must_use]
    pub fn exclusion(&self, order: &UnifiedOrder) -> Option<String> {
        let country = order.shipping_address.country.as_ref().map(|c| c.as_str());
        if !self.countries.allow.is_empty()
            && !country.is_some_and(|c| self.countries.allow.iter().any(|a| a == c))
        {
            return Some(format!(
                "shipping country {} is not in the channel's allow list",
                country.unwrap_or("(none)")
            ));
        }
        if let Some(c) = country
            && self.countries.deny.iter().any(|d| d == c)
        {
            return Some(format!(
                "shipping country {c} is in the channel's deny list"
            ));
        }
        for line in &order.lines {
            let sku = line.sku.as_deref().unwrap_or("");
            if let Some(p) = self.skus.deny.iter().find(|p| glob_match(p, sku)) {
                return Some(format!("SKU `{sku}` matches the deny entry `{p}`"));
            }
            if !self.skus.allow.is_empty() && !self.skus.allow.iter().any(|p| glob_match(p, sku)) {
                return Some(format!("SKU `{sku}` matches no allow entry"));
            }
        }
        None
    }
}

/// Match `text` against `pattern`, where `*` matches any run of characters
/// (also none) and `?` exactly one. Case-sensitive, like SKUs.
#[must_use]
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    // Greedy with backtracking to the last star: linear in practice.
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// What to do with a fetched order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImportDecision {
    /// Not imported (yet): the reason is logged. A later change on the
    /// channel (e.g. the payment) brings it back in the next fetch.
    Skip(String),
    /// Insert or update in this state.
    Import {
        /// The state to store.
        state: OrderState,
        /// Why it is excluded, for [`OrderState::Excluded`].
        excluded_reason: Option<String>,
    },
}

fn is_paid(p: PaymentStatus) -> bool {
    matches!(
        p,
        PaymentStatus::Paid | PaymentStatus::Authorized | PaymentStatus::PartiallyRefunded
    )
}

/// Decide an order's state from what the channel says, the channel's filters,
/// and the state we hold (`existing`, when the order was imported before).
///
/// - Cancelled, refunded or voided on the channel: cancelled (skipped when new).
/// - Fulfilled on the channel: fulfilled (new ones only with `import_not_ready`).
/// - Partly fulfilled: partially fulfilled (new ones only with `import_not_ready`).
/// - Not paid: new ones only with `import_unpaid`; once imported, an order
///   keeps its state.
/// - Country / SKU filters: excluded, with the reason.
/// - Otherwise open, except that an order we cancelled stays cancelled, one
///   we hold stays on hold, and one we fulfilled stays so.
#[must_use]
pub fn decide(
    order: &UnifiedOrder,
    filters: &OrderFilters,
    existing: Option<OrderState>,
) -> ImportDecision {
    let import = |state| ImportDecision::Import {
        state,
        excluded_reason: None,
    };
    if existing == Some(OrderState::Cancelled) {
        return import(OrderState::Cancelled);
    }
    if order.cancelled
        || matches!(
            order.payment_status,
            PaymentStatus::Refunded | PaymentStatus::Voided
        )
    {
        return match existing {
            Some(_) => import(OrderState::Cancelled),
            None => ImportDecision::Skip("cancelled or refunded before it was imported".into()),
        };
    }
    match order.fulfilment {
        ChannelFulfilment::Fulfilled | ChannelFulfilment::PartiallyFulfilled => {
            if existing.is_none() && !filters.import_not_ready {
                return ImportDecision::Skip(
                    "already fulfilled on the channel (import_not_ready is off)".into(),
                );
            }
            // A stale read of the channel (a notification sent between two
            // of our own shipments) never walks a fulfilled order back.
            let fulfilled = order.fulfilment == ChannelFulfilment::Fulfilled
                || existing == Some(OrderState::Fulfilled);
            return import(if fulfilled {
                OrderState::Fulfilled
            } else {
                OrderState::PartiallyFulfilled
            });
        }
        ChannelFulfilment::Unfulfilled | ChannelFulfilment::Unknown => {}
    }
    if existing.is_none() && !is_paid(order.payment_status) && !filters.import_unpaid {
        return ImportDecision::Skip("not paid (import_unpaid is off)".into());
    }
    if let Some(reason) = filters.exclusion(order) {
        return ImportDecision::Import {
            state: OrderState::Excluded,
            excluded_reason: Some(reason),
        };
    }
    match existing {
        Some(s @ (OrderState::OnHold | OrderState::Fulfilled | OrderState::PartiallyFulfilled)) => {
            import(s)
        }
        _ => import(OrderState::Open),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order(country: &str, skus: &[&str]) -> UnifiedOrder {
        let lines: Vec<(Option<&str>, i64)> = skus.iter().map(|s| (Some(*s), 1)).collect();
        crate::order::fixtures::order(country, &lines)
    }

    fn state(d: ImportDecision) -> Option<OrderState> {
        match d {
            ImportDecision::Import { state, .. } => Some(state),
            ImportDecision::Skip(_) => None,
        }
    }

    #[test]
    fn globs_match_stars_and_single_characters() {
        assert!(glob_match("MUG-*", "MUG-RED"));
        assert!(glob_match("MUG-*", "MUG-"));
        assert!(glob_match("*-RED", "MUG-RED"));
        assert!(glob_match("M?G*D", "MUG-RED"));
        assert!(glob_match("*", ""));
        assert!(glob_match("EXACT", "EXACT"));
        assert!(!glob_match("EXACT", "EXACTLY"));
        assert!(!glob_match("mug-*", "MUG-RED"), "case-sensitive");
        assert!(!glob_match("M?G", "MG"));
        assert!(glob_match("*a*b*c", "xxaxxbxxbxc"));
    }

    #[test]
    fn only_paid_unfulfilled_orders_are_imported_by_default() {
        let f = OrderFilters::default();
        assert_eq!(
            state(decide(&order("GB", &["A"]), &f, None)),
            Some(OrderState::Open)
        );
        let mut unpaid = order("GB", &["A"]);
        unpaid.payment_status = PaymentStatus::Pending;
        assert_eq!(state(decide(&unpaid, &f, None)), None);
        let on = OrderFilters {
            import_unpaid: true,
            ..OrderFilters::default()
        };
        assert_eq!(state(decide(&unpaid, &on, None)), Some(OrderState::Open));
        let mut shipped = order("GB", &["A"]);
        shipped.fulfilment = ChannelFulfilment::Fulfilled;
        assert_eq!(state(decide(&shipped, &f, None)), None);
        assert_eq!(
            state(decide(&shipped, &f, Some(OrderState::Open))),
            Some(OrderState::Fulfilled),
            "a known order shipped elsewhere is updated, not skipped"
        );
    }

    #[test]
    fn a_stale_channel_read_never_walks_a_fulfilled_order_back() {
        let f = OrderFilters::default();
        let mut part = order("GB", &["A", "B"]);
        part.fulfilment = ChannelFulfilment::PartiallyFulfilled;
        assert_eq!(
            state(decide(&part, &f, Some(OrderState::Fulfilled))),
            Some(OrderState::Fulfilled)
        );
        assert_eq!(
            state(decide(&part, &f, Some(OrderState::Open))),
            Some(OrderState::PartiallyFulfilled)
        );
        let mut none = order("GB", &["A"]);
        none.fulfilment = ChannelFulfilment::Unfulfilled;
        assert_eq!(
            state(decide(&none, &f, Some(OrderState::Fulfilled))),
            Some(OrderState::Fulfilled)
        );
    }

    #[test]
    fn filters_exclude_with_a_reason() {
        let f = OrderFilters {
            countries: ListFilter {
                allow: vec![],
                deny: vec!["US".into()],
            },
            skus: ListFilter {
                allow: vec![],
                deny: vec!["SAMPLE-*".into()],
            },
            ..OrderFilters::default()
        };
        let d = decide(&order("US", &["A"]), &f, None);
        assert!(
            matches!(&d, ImportDecision::Import { state: OrderState::Excluded, excluded_reason: Some(r) } if r.contains("US"))
        );
        let d = decide(&order("GB", &["A", "SAMPLE-9"]), &f, None);
        assert!(
            matches!(&d, ImportDecision::Import { state: OrderState::Excluded, excluded_reason: Some(r) } if r.contains("SAMPLE-*"))
        );
        let allow = OrderFilters {
            countries: ListFilter {
                allow: vec!["GB".into(), "NL".into()],
                deny: vec![],
            },
            ..OrderFilters::default()
        };
        assert_eq!(
            state(decide(&order("NL", &["A"]), &allow, None)),
            Some(OrderState::Open)
        );
        assert_eq!(
            state(decide(&order("DE", &["A"]), &allow, None)),
            Some(OrderState::Excluded)
        );
    }

    #[test]
    fn unmapped_lines_hold_the_order_only_when_the_channel_says_so() {
        let mut o = order("GB", &["A", "FEE"]);
        o.lines[1].sku = None;
        o.lines[1].title = "Gift wrapping".into();
        for l in &mut o.lines {
            l.flag_against(|s| s == "A");
        }
        assert_eq!(o.unmapped_lines(), 1);
        assert_eq!(OrderFilters::default().unmapped_hold(&o), None);
        let hold = OrderFilters {
            unmapped_lines: UnmappedLines::Hold,
            ..OrderFilters::default()
        };
        let reason = hold.unmapped_hold(&o).unwrap();
        assert!(reason.contains("\"Gift wrapping\" (no SKU)"), "{reason}");
        assert_eq!(hold.unmapped_hold(&order("GB", &["A"])), None);
        let parsed: OrderFilters = serde_json::from_str(r#"{"unmapped_lines": "hold"}"#).unwrap();
        assert_eq!(parsed.unmapped_lines, UnmappedLines::Hold);
        assert!(serde_json::from_str::<OrderFilters>(r#"{"unmapped_lines": "drop"}"#).is_err());
    }

    #[test]
    fn our_own_decisions_survive_channel_updates() {
        let f = OrderFilters::default();
        let o = order("GB", &["A"]);
        assert_eq!(
            state(decide(&o, &f, Some(OrderState::OnHold))),
            Some(OrderState::OnHold)
        );
        assert_eq!(
            state(decide(&o, &f, Some(OrderState::Cancelled))),
            Some(OrderState::Cancelled)
        );
        let mut c = o.clone();
        c.cancelled = true;
        assert_eq!(
            state(decide(&c, &f, Some(OrderState::OnHold))),
            Some(OrderState::Cancelled)
        );
        assert_eq!(state(decide(&c, &f, None)), None);
        let mut r = o;
        r.payment_status = PaymentStatus::Refunded;
        assert_eq!(
            state(decide(&r, &f, Some(OrderState::Open))),
            Some(OrderState::Cancelled)
        );
    }

    #[test]
    fn settings_are_validated() {
        let mut s = ChannelSettings::default();
        assert!(s.validate().is_ok());
        s.cadence_secs = 5;
        assert_eq!(
            s.validate().unwrap_err().field.as_deref(),
            Some("cadence_secs")
        );
        s.cadence_secs = 60;
        s.order_filters.countries.deny = vec!["gb".into()];
        assert_eq!(
            s.validate().unwrap_err().field.as_deref(),
            Some("order_filters.countries.deny[0]")
        );
    }
}
