//! Fulfilments: which lines ship, how the order's state follows, where the
//! shipment stands on its channel, and the carrier in each channel's
//! vocabulary.
//!
//! A fulfilment is a fact (goods left the building). Its lines are planned
//! against what is still open on the order, so nothing ships twice; its
//! carrier is the one named, or the one derived from the first tracking
//! number with the store's rules; and it is synced to the order's channel
//! until the channel confirms.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::DomainError;
use crate::carrier::{Carrier, CarrierRule, detect_with};
use crate::channel::ChannelKind;
use crate::order::OrderState;

fn bad(code: &'static str, message: impl Into<String>, field: impl Into<String>) -> DomainError {
    DomainError::invalid(code, field, message)
}

/// Most tracking numbers on one fulfilment.
pub const MAX_TRACKING_NUMBERS: usize = 20;

/// One tracking number of a shipment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Tracking {
    /// The number, as the carrier printed it.
    pub number: String,
    /// A tracking page, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

impl Tracking {
    /// Check a number and its URL; `at` is the field path for errors.
    pub fn validate(&self, at: &str) -> Result<(), DomainError> {
        let n = self.number.trim();
        if n.is_empty() || n.len() > 100 || n.chars().any(char::is_control) {
            return Err(bad(
                "invalid_tracking_number",
                "a tracking number is 1 to 100 printable characters",
                format!("{at}.number"),
            ));
        }
        if let Some(u) = &self.url
            && (u.len() > 2048 || !(u.starts_with("https://") || u.starts_with("http://")))
        {
            return Err(bad(
                "invalid_tracking_url",
                "a tracking URL is an http(s) URL of at most 2048 characters",
                format!("{at}.url"),
            ));
        }
        Ok(())
    }
}

/// Where a fulfilment stands on the order's channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SyncState {
    /// Waiting to be sent (or re-sent after a change).
    Pending,
    /// The channel confirmed the latest version.
    Synced,
    /// The last attempt failed; retried with backoff.
    Failed,
}

impl SyncState {
    /// The stored and wire name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Synced => "synced",
            Self::Failed => "failed",
        }
    }

    /// Parse a stored name.
    pub fn parse(s: &str) -> Result<Self, DomainError> {
        [Self::Pending, Self::Synced, Self::Failed]
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| bad("invalid_sync_state", s.to_owned(), "sync_state"))
    }
}

/// What the channel still has to be told about a fulfilment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SyncAction {
    /// Create the shipment.
    Create,
    /// Replace its tracking numbers (a number was corrected).
    UpdateTracking,
    /// Cancel it.
    Cancel,
}

impl SyncAction {
    /// The stored and wire name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Create => "create",
            Self::UpdateTracking => "update_tracking",
            Self::Cancel => "cancel",
        }
    }

    /// Parse a stored name.
    pub fn parse(s: &str) -> Result<Self, DomainError> {
        [Self::Create, Self::UpdateTracking, Self::Cancel]
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| bad("invalid_sync_action", s.to_owned(), "action"))
    }
}

/// Who reported a fulfilment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FulfilmentSource {
    /// Created through the API.
    Api,
    /// Detected in the store's back office.
    BackOffice,
    /// Reported by the plugin (3PL) the order was routed to.
    Plugin,
}

impl FulfilmentSource {
    /// The stored and wire name.
    #[must_use]
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Api => "api",
            Self::BackOffice => "back_office",
            Self::Plugin => "plugin",
        }
    }

    /// Whether shipping takes the units off the `api` source (and a
    /// cancelled shipment puts them back). A plugin's source is set by its
    /// own stock reports instead.
    #[must_use]
    pub fn moves_api_stock(&self) -> bool {
        !matches!(self, Self::Plugin)
    }
}

/// An order line as far as shipping goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenLine {
    /// Position on the order.
    pub line_no: i64,
    /// Store SKU.
    pub sku: String,
    /// Units not shipped yet.
    pub open: i64,
}

/// Lines a caller asks to ship: by position or by SKU.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestedLine {
    /// The line's position (`lines[].line_no` of the order).
    #[serde(default)]
    pub line_no: Option<i64>,
    /// Or a SKU: spread over the order's lines with that SKU, in order.
    #[serde(default)]
    pub sku: Option<String>,
    /// Units shipped.
    pub quantity: i64,
}

/// Which `(line_no, quantity)` ship: `requested`, or everything still open
/// when it is `None`. Refuses more than is open (`over_fulfilment`), unknown
/// lines, and a shipment of nothing.
pub fn plan_lines(
    lines: &[OpenLine],
    requested: Option<&[RequestedLine]>,
) -> Result<Vec<(i64, i64)>, DomainError> {
    let Some(requested) = requested else {
        let all: Vec<(i64, i64)> = lines
            .iter()
            .filter(|l| l.open > 0)
            .map(|l| (l.line_no, l.open))
            .collect();
        if all.is_empty() {
            return Err(bad(
                "nothing_to_fulfil",
                "every line of this order has shipped already",
                "lines",
            ));
        }
        return Ok(all);
    };
    if requested.is_empty() {
        return Err(bad(
            "invalid_lines",
            "give at least one line, or leave `lines` out to ship everything still open",
            "lines",
        ));
    }
    let mut open: BTreeMap<i64, i64> = lines.iter().map(|l| (l.line_no, l.open)).collect();
    let mut out: BTreeMap<i64, i64> = BTreeMap::new();
    for (i, r) in requested.iter().enumerate() {
        let at = |f: &str| format!("lines[{i}].{f}");
        if r.quantity <= 0 {
            return Err(bad(
                "invalid_quantity",
                "a shipped quantity is at least 1",
                at("quantity"),
            ));
        }
        let candidates: Vec<i64> = match (r.line_no, r.sku.as_deref()) {
            (Some(n), None) => {
                if !open.contains_key(&n) {
                    return Err(bad(
                        "unknown_line",
                        format!("the order has no line {n}"),
                        at("line_no"),
                    ));
                }
                vec![n]
            }
            (None, Some(s)) => {
                let c: Vec<i64> = lines
                    .iter()
                    .filter(|l| l.sku == s)
                    .map(|l| l.line_no)
                    .collect();
                if c.is_empty() {
                    return Err(bad(
                        "unknown_line",
                        format!("the order has no line with SKU `{s}`"),
                        at("sku"),
                    ));
                }
                c
            }
            _ => {
                return Err(bad(
                    "invalid_lines",
                    "name a line by `line_no` or by `sku` (one of them)",
                    at("line_no"),
                ));
            }
        };
        let mut need = r.quantity;
        for n in candidates {
            let left = open.get_mut(&n).map_or(0, |o| *o);
            let take = need.min(left);
            if take > 0 {
                *open.entry(n).or_default() -= take;
                *out.entry(n).or_default() += take;
                need -= take;
            }
        }
        if need > 0 {
            return Err(bad(
                "over_fulfilment",
                format!(
                    "{} more unit(s) than are still open were asked to ship",
                    need
                ),
                at("quantity"),
            ));
        }
    }
    Ok(out.into_iter().collect())
}

/// An order's state once `open` units remain over all its lines.
#[must_use]
pub fn state_after(open_units: i64, shipped_units: i64) -> OrderState {
    if open_units <= 0 {
        OrderState::Fulfilled
    } else if shipped_units > 0 {
        OrderState::PartiallyFulfilled
    } else {
        OrderState::Open
    }
}

/// Whether an order in `state` may get a new fulfilment.
pub fn check_fulfillable(state: OrderState) -> Result<(), DomainError> {
    match state {
        OrderState::Cancelled | OrderState::Excluded => Err(DomainError {
            code: "order_not_fulfillable",
            message: format!("an order in state `{}` cannot be fulfilled", state.as_str()),
            field: None,
        }),
        OrderState::Fulfilled => Err(DomainError {
            code: "nothing_to_fulfil",
            message: "every line of this order has shipped already".into(),
            field: None,
        }),
        OrderState::Open | OrderState::OnHold | OrderState::PartiallyFulfilled => Ok(()),
    }
}

/// A store's carrier settings: its own tracking-number rules (checked
/// before the built-in formats) and its carrier codes per channel kind
/// (over the built-in table).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CarrierSettings {
    /// Pattern → carrier, first match wins.
    #[serde(default)]
    pub rules: Vec<CarrierRule>,
    /// Carrier → channel kind → that channel's code or name.
    #[serde(default)]
    pub codes: BTreeMap<Carrier, BTreeMap<ChannelKind, String>>,
}

impl CarrierSettings {
    /// Check rules and codes.
    pub fn validate(&self) -> Result<(), DomainError> {
        if self.rules.len() > 200 {
            return Err(bad("too_many_rules", "at most 200 carrier rules", "rules"));
        }
        for (i, r) in self.rules.iter().enumerate() {
            let p = r.pattern.trim();
            if p.is_empty() || p.len() > 100 {
                return Err(bad(
                    "invalid_pattern",
                    "a pattern is 1 to 100 characters (`*` and `?` as wildcards)",
                    format!("rules[{i}].pattern"),
                ));
            }
        }
        for (carrier, by_kind) in &self.codes {
            for (kind, code) in by_kind {
                if code.trim().is_empty() || code.len() > 100 {
                    return Err(bad(
                        "invalid_carrier_code",
                        "a carrier code is 1 to 100 characters",
                        format!("codes.{}.{}", carrier.as_str(), kind.as_str()),
                    ));
                }
            }
        }
        Ok(())
    }

    /// The carrier of a shipment: the one given, else derived from the first
    /// tracking number, else [`Carrier::Other`].
    #[must_use]
    pub fn carrier_for(&self, given: Option<Carrier>, tracking: &[Tracking]) -> Carrier {
        given.unwrap_or_else(|| {
            tracking
                .first()
                .map_or(Carrier::Other, |t| detect_with(&self.rules, &t.number))
        })
    }

    /// The carrier as `kind` names it: the store's code, else the built-in
    /// one; `None` for [`Carrier::Other`] with no store code (the channel's
    /// own "other" is used).
    #[must_use]
    pub fn code_for(&self, carrier: Carrier, kind: ChannelKind) -> Option<String> {
        self.codes
            .get(&carrier)
            .and_then(|m| m.get(&kind))
            .cloned()
            .or_else(|| default_code(carrier, kind).map(str::to_owned))
    }
}

/// The built-in carrier codes: Shopify's `company` names, WooCommerce
/// Shipment Tracking providers, Amazon `carrierCode`, eBay
/// `shippingCarrierCode`, Etsy `carrier_name`, bol.com `transporterCode`.
#[must_use]
pub fn default_code(carrier: Carrier, kind: ChannelKind) -> Option<&'static str> {
    use Carrier as C;
    use ChannelKind as K;
    Some(match (carrier, kind) {
        (C::Other, _) => return None,
        (C::RoyalMail, K::Ebay) => "RoyalMail",
        (C::RoyalMail, K::Bolcom) => "ROYAL_MAIL",
        (C::RoyalMail, K::Etsy) => "royal-mail",
        (C::RoyalMail, _) => "Royal Mail",
        (C::Parcelforce, K::Ebay) => "Parcelforce",
        (C::Parcelforce, K::Bolcom) => "PARCEL_FORCE",
        (C::Parcelforce, K::Etsy) => "parcelforce",
        (C::Parcelforce, _) => "Parcelforce",
        (C::Dpd, K::Bolcom) => "DPD-NL",
        (C::Dpd, K::Etsy) => "dpd",
        (C::Dpd, _) => "DPD",
        (C::DhlExpress, K::Shopify) => "DHL Express",
        (C::DhlExpress, K::Bolcom) => "DHLFORYOU",
        (C::DhlExpress, K::Etsy) => "dhl-express",
        (C::DhlExpress, _) => "DHL",
        (C::DhlParcel, K::Shopify) => "DHL eCommerce",
        (C::DhlParcel, K::Bolcom) => "DHL",
        (C::DhlParcel, K::Etsy) => "dhl-ecommerce",
        (C::DhlParcel, K::Amazon | K::Ebay) => "DHL",
        (C::DhlParcel, _) => "DHL Parcel",
        (C::Ups, K::Etsy) => "ups",
        (C::Ups, _) => "UPS",
        (C::Fedex, K::Bolcom) => "FEDEX_NL",
        (C::Fedex, K::Woocommerce) => "Fedex",
        (C::Fedex, K::Etsy) => "fedex",
        (C::Fedex, _) => "FedEx",
        (C::Usps, K::Etsy) => "usps",
        (C::Usps, _) => "USPS",
        (C::Postnl, K::Bolcom) => "TNT",
        (C::Postnl, K::Etsy) => "postnl",
        (C::Postnl, _) => "PostNL",
        (C::Evri, K::Ebay | K::Woocommerce) => "Hermes",
        (C::Evri, K::Etsy) => "evri",
        (C::Evri, _) => "Evri",
        (C::Gls, K::Etsy) => "gls",
        (C::Gls, _) => "GLS",
        (C::AmazonLogistics, K::Amazon) => "Amazon Shipping",
        (C::AmazonLogistics, K::Ebay) => "AmazonLogistics",
        (C::AmazonLogistics, _) => "Amazon Logistics",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines() -> Vec<OpenLine> {
        vec![
            OpenLine {
                line_no: 0,
                sku: "A".into(),
                open: 2,
            },
            OpenLine {
                line_no: 1,
                sku: "B".into(),
                open: 1,
            },
            OpenLine {
                line_no: 2,
                sku: "A".into(),
                open: 1,
            },
        ]
    }

    fn req(line_no: Option<i64>, sku: Option<&str>, quantity: i64) -> RequestedLine {
        RequestedLine {
            line_no,
            sku: sku.map(str::to_owned),
            quantity,
        }
    }

    #[test]
    fn no_lines_ships_everything_open() {
        assert_eq!(
            plan_lines(&lines(), None).unwrap(),
            vec![(0, 2), (1, 1), (2, 1)]
        );
    }

    #[test]
    fn a_sku_spreads_over_its_lines_in_order() {
        let r = [req(None, Some("A"), 3)];
        assert_eq!(
            plan_lines(&lines(), Some(&r)).unwrap(),
            vec![(0, 2), (2, 1)]
        );
    }

    #[test]
    fn more_than_open_is_refused() {
        let r = [req(Some(1), None, 1), req(Some(1), None, 1)];
        let e = plan_lines(&lines(), Some(&r)).unwrap_err();
        assert_eq!(e.code, "over_fulfilment");
        assert_eq!(e.field.as_deref(), Some("lines[1].quantity"));
        let r = [req(None, Some("A"), 4)];
        assert_eq!(
            plan_lines(&lines(), Some(&r)).unwrap_err().code,
            "over_fulfilment"
        );
    }

    #[test]
    fn unknown_lines_and_bad_quantities_are_refused() {
        for (r, code) in [
            (req(Some(9), None, 1), "unknown_line"),
            (req(None, Some("Z"), 1), "unknown_line"),
            (req(Some(0), None, 0), "invalid_quantity"),
            (req(Some(0), Some("A"), 1), "invalid_lines"),
            (req(None, None, 1), "invalid_lines"),
        ] {
            assert_eq!(plan_lines(&lines(), Some(&[r])).unwrap_err().code, code);
        }
        assert_eq!(
            plan_lines(&lines(), Some(&[])).unwrap_err().code,
            "invalid_lines"
        );
    }

    #[test]
    fn nothing_open_means_nothing_to_fulfil() {
        let done: Vec<OpenLine> = lines()
            .into_iter()
            .map(|l| OpenLine { open: 0, ..l })
            .collect();
        assert_eq!(
            plan_lines(&done, None).unwrap_err().code,
            "nothing_to_fulfil"
        );
    }

    #[test]
    fn state_follows_what_is_left() {
        assert_eq!(state_after(0, 4), OrderState::Fulfilled);
        assert_eq!(state_after(1, 3), OrderState::PartiallyFulfilled);
        assert_eq!(state_after(4, 0), OrderState::Open);
        assert!(check_fulfillable(OrderState::Cancelled).is_err());
        assert!(check_fulfillable(OrderState::Excluded).is_err());
        assert!(check_fulfillable(OrderState::OnHold).is_ok());
    }

    #[test]
    fn carrier_is_given_or_detected_and_coded_per_channel() {
        let mut s = CarrierSettings::default();
        let t = |n: &str| Tracking {
            number: n.into(),
            url: None,
        };
        assert_eq!(
            s.carrier_for(None, &[t("1Z999AA10123456784")]),
            Carrier::Ups
        );
        assert_eq!(
            s.carrier_for(Some(Carrier::Dpd), &[t("1Z999AA10123456784")]),
            Carrier::Dpd
        );
        assert_eq!(s.carrier_for(None, &[]), Carrier::Other);
        s.rules.push(CarrierRule {
            pattern: "ZZ*".into(),
            carrier: Carrier::Gls,
        });
        assert_eq!(s.carrier_for(None, &[t("zz 123")]), Carrier::Gls);
        assert_eq!(
            s.code_for(Carrier::Ups, ChannelKind::Shopify).as_deref(),
            Some("UPS")
        );
        assert_eq!(
            s.code_for(Carrier::Evri, ChannelKind::Ebay).as_deref(),
            Some("Hermes")
        );
        assert_eq!(s.code_for(Carrier::Other, ChannelKind::Shopify), None);
        s.codes.insert(
            Carrier::Ups,
            BTreeMap::from([(ChannelKind::Shopify, "UPS Ground".to_owned())]),
        );
        assert_eq!(
            s.code_for(Carrier::Ups, ChannelKind::Shopify).as_deref(),
            Some("UPS Ground")
        );
        assert_eq!(
            s.code_for(Carrier::Ups, ChannelKind::Amazon).as_deref(),
            Some("UPS")
        );
    }

    #[test]
    fn every_known_carrier_has_a_code_on_every_channel() {
        for c in Carrier::ALL {
            for k in ChannelKind::ALL {
                assert_eq!(default_code(c, k).is_some(), c != Carrier::Other);
            }
        }
    }

    #[test]
    fn tracking_is_checked() {
        let t = |n: &str, u: Option<&str>| Tracking {
            number: n.into(),
            url: u.map(str::to_owned),
        };
        assert!(t("JD014600006281434201", None).validate("t").is_ok());
        assert_eq!(
            t(" ", None).validate("t").unwrap_err().code,
            "invalid_tracking_number"
        );
        assert_eq!(
            t("1", Some("ftp://x")).validate("t").unwrap_err().code,
            "invalid_tracking_url"
        );
    }
}
