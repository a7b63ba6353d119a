//! What recording, correcting or cancelling a shipment changes, decided
//! from the facts storage reads: which lines ship and how many units, the
//! carrier, the units the `api` stock source gives up or gets back (kits
//! as their components), and the order's state afterwards. Storage writes
//! the plan in one transaction and decides nothing.

use std::collections::BTreeMap;

use crate::DomainError;
use crate::carrier::Carrier;
use crate::fulfilment::{
    CarrierSettings, FulfilmentSource, MAX_TRACKING_NUMBERS, OpenLine, RequestedLine, SyncAction,
    Tracking, check_fulfillable, plan_lines, state_after,
};
use crate::order::OrderState;
use crate::product::Kinds;

/// A shipment to record, with the facts of its order.
#[derive(Debug, Clone, Copy)]
pub struct NewShipment<'a> {
    /// The order's state now.
    pub state: OrderState,
    /// The order's lines with their open units.
    pub lines: &'a [OpenLine],
    /// The lines asked for; `None` ships everything still open.
    pub requested: Option<&'a [RequestedLine]>,
    /// Tracking numbers.
    pub tracking: &'a [Tracking],
    /// Carrier service, if named.
    pub service: Option<&'a str>,
    /// Carrier, if named (else detected from the tracking numbers).
    pub carrier: Option<Carrier>,
    /// Who recorded it.
    pub source: &'a FulfilmentSource,
    /// The store's carrier settings.
    pub settings: &'a CarrierSettings,
    /// What the order's SKUs are (kits with their components).
    pub kinds: &'a Kinds,
}

/// What recording a shipment changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShipmentPlan {
    /// `(line_no, units)` shipped.
    pub lines: Vec<(i64, i64)>,
    /// The carrier recorded.
    pub carrier: Carrier,
    /// Whether it was detected rather than named.
    pub carrier_detected: bool,
    /// Plain units shipped per SKU (kits as their components): their
    /// stock targets change.
    pub units: BTreeMap<String, i64>,
    /// Units the `api` stock source gives up (empty when the shipment
    /// was made by a 3PL or the channel, whose stock is its own).
    pub api_units: BTreeMap<String, i64>,
}

/// Check a shipment's tracking numbers.
pub fn check_tracking(tracking: &[Tracking]) -> Result<(), DomainError> {
    if tracking.len() > MAX_TRACKING_NUMBERS {
        return Err(DomainError::invalid(
            "too_many_tracking_numbers",
            "tracking",
            format!("at most {MAX_TRACKING_NUMBERS} tracking numbers per fulfilment"),
        ));
    }
    for (i, t) in tracking.iter().enumerate() {
        t.validate(&format!("tracking[{i}]"))?;
    }
    Ok(())
}

/// Decide what recording `new` changes, or why it cannot be recorded.
pub fn plan_shipment(new: NewShipment<'_>) -> Result<ShipmentPlan, DomainError> {
    check_fulfillable(new.state)?;
    check_tracking(new.tracking)?;
    if let Some(s) = new.service
        && (s.trim().is_empty() || s.len() > 100)
    {
        return Err(DomainError::invalid(
            "invalid_service",
            "service",
            "a service is 1 to 100 characters",
        ));
    }
    let lines = plan_lines(new.lines, new.requested)?;
    let shipped: Vec<(String, i64)> = lines
        .iter()
        .map(|(line_no, qty)| {
            let sku = new
                .lines
                .iter()
                .find(|l| l.line_no == *line_no)
                .map(|l| l.sku.clone())
                .unwrap_or_default();
            (sku, *qty)
        })
        .collect();
    let units = new.kinds.plain_units(&shipped);
    let api_units = if new.source.moves_api_stock() {
        units.clone()
    } else {
        BTreeMap::new()
    };
    Ok(ShipmentPlan {
        lines,
        carrier: new.settings.carrier_for(new.carrier, new.tracking),
        carrier_detected: new.carrier.is_none(),
        units,
        api_units,
    })
}

/// The carrier after the tracking numbers are corrected to `tracking`:
/// `(carrier, detected)`. A carrier named before stays unless a new one
/// is named; a detected one is detected again.
pub fn plan_tracking_update(
    tracking: &[Tracking],
    named: Option<Carrier>,
    before: (Carrier, bool),
    settings: &CarrierSettings,
) -> Result<(Carrier, bool), DomainError> {
    check_tracking(tracking)?;
    let (carrier, detected) = before;
    let given = named.or((!detected).then_some(carrier));
    Ok((settings.carrier_for(given, tracking), given.is_none()))
}

/// Units a cancelled shipment of `lines` (`(sku, units)`) gives back:
/// `(plain units per SKU, units back to the api source)`.
#[must_use]
pub fn plan_cancellation(
    lines: &[(String, i64)],
    source: &FulfilmentSource,
    kinds: &Kinds,
) -> (BTreeMap<String, i64>, BTreeMap<String, i64>) {
    let units = kinds.plain_units(lines);
    let api = if source.moves_api_stock() {
        units.clone()
    } else {
        BTreeMap::new()
    };
    (units, api)
}

/// What the channel hears of a shipment whose tracking was corrected: an
/// update when it may know the shipment already (it has the channel's id,
/// or an attempt at creating it went out), else the shipment itself.
#[must_use]
pub fn sync_for_correction(has_channel_id: bool, attempted: bool) -> SyncAction {
    if has_channel_id || attempted {
        SyncAction::UpdateTracking
    } else {
        SyncAction::Create
    }
}

/// What the channel hears of a cancelled shipment: a cancellation when it
/// may know the shipment, nothing (it is synced as it stands) otherwise.
#[must_use]
pub fn sync_for_cancellation(has_channel_id: bool, attempted: bool) -> Option<SyncAction> {
    (has_channel_id || attempted).then_some(SyncAction::Cancel)
}

/// What the back office reporting a shipment leaves on its row: the
/// fulfilment recorded, or, when recording it here was refused (the order
/// shipped another way meanwhile, or was cancelled), no fulfilment and the
/// refusal as a note. The back office's word is kept; nothing ships twice.
#[must_use]
pub fn shipped_in_back_office(
    recorded: Result<String, String>,
) -> (Option<String>, Option<String>) {
    match recorded {
        Ok(id) => (Some(id), None),
        Err(refusal) => (None, Some(refusal)),
    }
}

/// An order's state once `open` units remain and `shipped` have shipped
/// over its lines: cancelled and excluded orders stay so, and a hold
/// survives a shipment of part of the order.
#[must_use]
pub fn settled_state(current: OrderState, open: i64, shipped: i64) -> OrderState {
    match current {
        OrderState::Cancelled | OrderState::Excluded => current,
        OrderState::OnHold if open > 0 => current,
        _ => state_after(open, shipped),
    }
}

/// The order event a shipment causes.
#[must_use]
pub fn order_event(after: OrderState) -> &'static str {
    if after == OrderState::Fulfilled {
        "order.fulfilled"
    } else {
        "order.updated"
    }
}

/// The state of an order the channel sends again, when Switchyard records
/// its shipments (`ours`): those, not the channel's shipping status (which
/// lags behind our sync), say how far it shipped. `lines` are the open
/// units the channel reports per line (in line order), `shipped` the units
/// our active shipments took per line number.
#[must_use]
pub fn resent_state(
    channel_state: OrderState,
    ours: bool,
    lines: &[i64],
    shipped: &BTreeMap<i64, i64>,
) -> OrderState {
    if !ours
        || !matches!(
            channel_state,
            OrderState::Open | OrderState::PartiallyFulfilled | OrderState::Fulfilled
        )
    {
        return channel_state;
    }
    let (mut open, mut done) = (0, 0);
    for (line_no, open_on_channel) in lines.iter().enumerate() {
        let s = i64::try_from(line_no)
            .ok()
            .and_then(|n| shipped.get(&n))
            .copied()
            .unwrap_or(0);
        open += (open_on_channel - s).max(0);
        done += s;
    }
    state_after(open, done)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::product::KitComponent;
    use crate::values::Sku;
    use proptest::prelude::*;

    fn kinds() -> Kinds {
        let mut k = Kinds::default();
        k.plain("A");
        k.plain("B");
        k.kit(
            "BUNDLE",
            vec![
                KitComponent {
                    sku: Sku::parse("A").unwrap_or_else(|_| unreachable!()),
                    quantity: 1,
                },
                KitComponent {
                    sku: Sku::parse("B").unwrap_or_else(|_| unreachable!()),
                    quantity: 2,
                },
            ],
        );
        k
    }

    fn lines() -> Vec<OpenLine> {
        vec![
            OpenLine {
                line_no: 0,
                sku: "A".into(),
                open: 2,
            },
            OpenLine {
                line_no: 1,
                sku: "BUNDLE".into(),
                open: 3,
            },
        ]
    }

    fn new<'a>(
        state: OrderState,
        lines: &'a [OpenLine],
        source: &'a FulfilmentSource,
        settings: &'a CarrierSettings,
        kinds: &'a Kinds,
    ) -> NewShipment<'a> {
        NewShipment {
            state,
            lines,
            requested: None,
            tracking: &[],
            service: None,
            carrier: None,
            source,
            settings,
            kinds,
        }
    }

    #[test]
    fn a_whole_shipment_takes_every_open_unit_with_kits_as_their_parts() {
        let (lines, settings, kinds) = (lines(), CarrierSettings::default(), kinds());
        let plan = plan_shipment(new(
            OrderState::Open,
            &lines,
            &FulfilmentSource::Api,
            &settings,
            &kinds,
        ))
        .unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(plan.lines, vec![(0, 2), (1, 3)]);
        let want = BTreeMap::from([("A".to_owned(), 5), ("B".to_owned(), 6)]);
        assert_eq!(plan.units, want);
        assert_eq!(plan.api_units, want);
        assert!(plan.carrier_detected);
    }

    #[test]
    fn a_3pl_shipment_leaves_the_api_source_alone() {
        let (lines, settings, kinds) = (lines(), CarrierSettings::default(), kinds());
        let source = FulfilmentSource::Plugin;
        let plan = plan_shipment(new(OrderState::Open, &lines, &source, &settings, &kinds))
            .unwrap_or_else(|e| panic!("{e:?}"));
        assert!(plan.api_units.is_empty());
        assert_eq!(plan.units.get("B"), Some(&6));
    }

    #[test]
    fn shipments_of_orders_that_cannot_ship_or_with_bad_details_are_refused() {
        let (lines, settings, kinds) = (lines(), CarrierSettings::default(), kinds());
        let api = FulfilmentSource::Api;
        let code = |n: NewShipment<'_>| plan_shipment(n).map(|_| ()).unwrap_err().code;
        assert_eq!(
            code(new(OrderState::Cancelled, &lines, &api, &settings, &kinds)),
            "order_not_fulfillable"
        );
        let mut n = new(OrderState::Open, &lines, &api, &settings, &kinds);
        n.service = Some("  ");
        assert_eq!(code(n), "invalid_service");
        let many: Vec<Tracking> = (0..=MAX_TRACKING_NUMBERS)
            .map(|i| Tracking {
                number: format!("RM{i:09}GB"),
                url: None,
            })
            .collect();
        let mut n = new(OrderState::Open, &lines, &api, &settings, &kinds);
        n.tracking = &many;
        assert_eq!(code(n), "too_many_tracking_numbers");
    }

    #[test]
    fn a_hold_survives_part_of_the_order_shipping_and_cancelled_stays_cancelled() {
        assert_eq!(settled_state(OrderState::OnHold, 2, 1), OrderState::OnHold);
        assert_eq!(
            settled_state(OrderState::OnHold, 0, 3),
            OrderState::Fulfilled
        );
        assert_eq!(
            settled_state(OrderState::Cancelled, 0, 3),
            OrderState::Cancelled
        );
        assert_eq!(
            settled_state(OrderState::Fulfilled, 1, 2),
            OrderState::PartiallyFulfilled
        );
        assert_eq!(settled_state(OrderState::Fulfilled, 3, 0), OrderState::Open);
        assert_eq!(order_event(OrderState::Fulfilled), "order.fulfilled");
        assert_eq!(order_event(OrderState::PartiallyFulfilled), "order.updated");
    }

    #[test]
    fn a_named_carrier_outlives_corrected_tracking_and_a_detected_one_is_detected_again() {
        let settings = CarrierSettings::default();
        let t = [Tracking {
            number: "1Z999AA10123456784".into(),
            url: None,
        }];
        let (c, detected) = plan_tracking_update(&t, None, (Carrier::Dpd, false), &settings)
            .unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!((c, detected), (Carrier::Dpd, false));
        let (c, detected) = plan_tracking_update(&t, None, (Carrier::Dpd, true), &settings)
            .unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!((c, detected), (Carrier::Ups, true));
    }

    #[test]
    fn the_channel_resending_an_order_we_ship_keeps_our_shipments() {
        let shipped = BTreeMap::from([(0, 2)]);
        assert_eq!(
            resent_state(OrderState::Open, true, &[2, 1], &shipped),
            OrderState::PartiallyFulfilled
        );
        assert_eq!(
            resent_state(OrderState::Open, false, &[2, 1], &shipped),
            OrderState::Open
        );
        assert_eq!(
            resent_state(OrderState::Cancelled, true, &[2, 1], &shipped),
            OrderState::Cancelled
        );
    }

    #[test]
    fn a_channel_hears_of_a_correction_or_cancellation_only_as_far_as_it_knows_the_shipment() {
        assert_eq!(sync_for_correction(false, false), SyncAction::Create);
        assert_eq!(sync_for_correction(false, true), SyncAction::UpdateTracking);
        assert_eq!(sync_for_cancellation(true, false), Some(SyncAction::Cancel));
        assert_eq!(sync_for_cancellation(false, false), None);
        assert_eq!(
            shipped_in_back_office(Err("already shipped".into())),
            (None, Some("already shipped".into()))
        );
    }

    proptest! {
        /// Shipping everything and cancelling it gives every unit back:
        /// the api source ends where it started.
        #[test]
        fn a_cancelled_shipment_gives_back_exactly_what_it_took(a in 1i64..50, bundle in 1i64..50) {
            let kinds = kinds();
            let lines = vec![
                OpenLine { line_no: 0, sku: "A".into(), open: a },
                OpenLine { line_no: 1, sku: "BUNDLE".into(), open: bundle },
            ];
            let settings = CarrierSettings::default();
            let api = FulfilmentSource::Api;
            let plan = plan_shipment(new(OrderState::Open, &lines, &api, &settings, &kinds))
                .unwrap_or_else(|e| panic!("{e:?}"));
            let shipped: Vec<(String, i64)> = plan
                .lines
                .iter()
                .map(|(n, q)| (lines[usize::try_from(*n).unwrap_or(0)].sku.clone(), *q))
                .collect();
            let (_, back) = plan_cancellation(&shipped, &api, &kinds);
            prop_assert_eq!(back, plan.api_units);
        }

        /// Taking units off the api levels never takes more than there is
        /// or leaves a level below zero.
        #[test]
        fn taking_units_never_goes_below_zero(
            levels in proptest::collection::vec(0i64..20, 0..5),
            units in 0i64..100,
        ) {
            let levels: Vec<(String, i64)> = levels
                .into_iter()
                .enumerate()
                .map(|(i, q)| (if i == 0 { String::new() } else { format!("L{i}") }, q))
                .collect();
            let moves = crate::stock::api_level_moves(&levels, units, false);
            let taken: i64 = moves.iter().map(|m| m.before - m.after).sum();
            let there: i64 = levels.iter().map(|(_, q)| q).sum();
            prop_assert_eq!(taken, units.min(there));
            prop_assert!(moves.iter().all(|m| m.after >= 0 && m.after < m.before));
        }
    }
}
