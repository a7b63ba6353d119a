//! The overview of each store the user reaches: orders today by channel,
//! what waits for someone (on hold, failed syncs, back-office failures,
//! channels with errors, the oldest stock change not yet pushed), a chart
//! of orders per channel over the last 14 days, and how long the latest
//! sales took to reach the other channels. The charts are SVG drawn here.

use chrono::{Duration, NaiveDate, Utc};
use maud::{Markup, html};
use switchyard_storage::{Channel, PageRequest, Store, StoreOverview};

use super::pages::failed;
use crate::AppState;
use axum::response::Response;

/// Days the chart covers, today included.
const DAYS: i64 = 14;
/// Colours the chart has (classes `c0`…`c7`); channels beyond share them.
const COLOURS: usize = 8;

/// A store's panel on the overview.
pub(super) async fn store_panel(
    s: &AppState,
    account: &switchyard_domain::ids::AccountId,
    store: &Store,
) -> Result<Markup, Response> {
    let today = Utc::now().date_naive();
    let first = today - Duration::days(DAYS - 1);
    let since = first.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc();
    let o = s
        .storage
        .store_overview(account, &store.id, since)
        .await
        .map_err(|e| failed(&e))?;
    let channels = s
        .storage
        .list_channels(account, &store.id, &PageRequest::first(100))
        .await
        .map_err(|e| failed(&e))?
        .items;
    Ok(panel(store, &channels, &o, today, first))
}

fn panel(
    store: &Store,
    channels: &[Channel],
    o: &StoreOverview,
    today: NaiveDate,
    first: NaiveDate,
) -> Markup {
    let name = |id: &switchyard_domain::ids::ChannelId| {
        channels
            .iter()
            .find(|c| &c.id == id)
            .map_or_else(|| id.to_string(), |c| c.name.clone())
    };
    let todays: Vec<_> = o.orders_per_day.iter().filter(|d| d.day == today).collect();
    let today_total: i64 = todays.iter().map(|d| d.orders).sum();
    let failing: Vec<&Channel> = channels
        .iter()
        .filter(|c| c.sync.last_error.is_some() && c.sync.failures > 0)
        .collect();
    let orders = format!("/console/orders?store={}", store.id);
    let base = format!("/console/stores/{}", store.id);
    html! {
        section.store-panel data-store=(store.id) {
            h2 { a href=(base) { (store.name) } }
            div.figures {
                div.figure {
                    span.label { "Orders today" }
                    span.value { (today_total) }
                    @if !todays.is_empty() {
                        span.detail { @for (i, d) in todays.iter().enumerate() { @if i > 0 { " · " } (name(&d.channel_id)) " " (d.orders) } }
                    }
                }
                div class={ "figure" @if o.on_hold > 0 { " warn" } } {
                    span.label { "On hold" }
                    a.value href={ (orders) "&state=on_hold" } { (o.on_hold) }
                }
                div class={ "figure" @if o.failed_syncs > 0 { " bad" } } {
                    span.label { "Failed syncs" }
                    span.value { (o.failed_syncs) }
                }
                div class={ "figure" @if o.back_office_failed > 0 { " bad" } } {
                    span.label { "Back office failed" }
                    span.value { (o.back_office_failed) }
                }
                div class={ "figure" @if !failing.is_empty() { " bad" } } {
                    span.label { "Channels with errors" }
                    span.value { (failing.len()) }
                    @if !failing.is_empty() {
                        span.detail { @for (i, c) in failing.iter().enumerate() { @if i > 0 { " · " } a href={ (base) "/channels/" (c.id) } { (c.name) } } }
                    }
                }
                div.figure {
                    span.label { "Oldest unpushed stock change" }
                    @match o.oldest_unpushed_stock_change {
                        Some(t) => span.value { (age(Utc::now() - t)) },
                        None => span.value.good { "none" },
                    }
                }
            }
            div.charts {
                figure {
                    figcaption { "Orders per channel, last " (DAYS) " days (UTC)" }
                    (orders_chart(channels, o, first, &name))
                }
                figure {
                    figcaption { "How long the latest sales took to reach the channels" }
                    (delays_chart(o, &name))
                }
            }
        }
    }
}

/// A duration as people say it: `42 s`, `5 min`, `3 h`, `2 d`.
fn age(d: Duration) -> String {
    let s = d.num_seconds().max(0);
    match s {
        0..=119 => format!("{s} s ago"),
        120..=7199 => format!("{} min ago", s / 60),
        7200..=172_799 => format!("{} h ago", s / 3600),
        _ => format!("{} d ago", s / 86_400),
    }
}

/// Stacked bars: one per day, one colour per channel.
fn orders_chart(
    channels: &[Channel],
    o: &StoreOverview,
    first: NaiveDate,
    name: &dyn Fn(&switchyard_domain::ids::ChannelId) -> String,
) -> Markup {
    let (w, h, left, bottom, top) = (560_i64, 190_i64, 34_i64, 26_i64, 10_i64);
    let plot_h = h - bottom - top;
    let slot = (w - left - 6) / DAYS;
    let days: Vec<NaiveDate> = (0..DAYS).map(|i| first + Duration::days(i)).collect();
    let total = |d: NaiveDate| -> i64 {
        o.orders_per_day
            .iter()
            .filter(|c| c.day == d)
            .map(|c| c.orders)
            .sum()
    };
    let max = days.iter().map(|d| total(*d)).max().unwrap_or(0).max(1);
    let all: i64 = o.orders_per_day.iter().map(|c| c.orders).sum();
    // Channels in the store's order, then any deleted since.
    let mut order: Vec<switchyard_domain::ids::ChannelId> =
        channels.iter().map(|c| c.id.clone()).collect();
    for c in &o.orders_per_day {
        if !order.contains(&c.channel_id) {
            order.push(c.channel_id.clone());
        }
    }
    let colour = |id: &switchyard_domain::ids::ChannelId| {
        order.iter().position(|c| c == id).unwrap_or(0) % COLOURS
    };
    let y = |v: i64| top + plot_h - v * plot_h / max;
    // Each channel's part of a day's bar: (count, from, to) stacked.
    let segments = |d: NaiveDate| {
        let mut stacked = 0;
        o.orders_per_day
            .iter()
            .filter(|c| c.day == d)
            .map(|c| {
                let from = stacked;
                stacked += c.orders;
                (c, from, stacked)
            })
            .collect::<Vec<_>>()
    };
    let label = format!("{all} orders in the last {DAYS} days, at most {max} on one day");
    html! {
        svg.chart.orders-chart xmlns="http://www.w3.org/2000/svg" role="img" aria-label=(label)
            width=(w) height=(h) viewBox={ "0 0 " (w) " " (h) } {
            title { (label) }
            @for v in [0, max / 2, max] {
                line.grid x1=(left) x2=(w - 4) y1=(y(v)) y2=(y(v)) {}
                text.axis x=(left - 6) y=(y(v) + 4) text-anchor="end" { (v) }
            }
            @for (i, d) in days.iter().enumerate() {
                @let x = left + 4 + i64::try_from(i).unwrap_or(0) * slot;
                @for (c, from, to) in &segments(*d) {
                    rect class={ "bar c" (colour(&c.channel_id)) } x=(x) y=(y(*to)) width=(slot * 7 / 10) height=(y(*from) - y(*to)) {
                        title { (name(&c.channel_id)) ", " (d.format("%Y-%m-%d")) ": " (c.orders) " order(s)" }
                    }
                }
                @if i % 2 == 1 {
                    text.axis x=(x + slot * 7 / 20) y=(h - 8) text-anchor="middle" { (d.format("%d %b")) }
                }
            }
        }
        @if !o.orders_per_day.is_empty() {
            ul.legend {
                @for id in order.iter().filter(|id| o.orders_per_day.iter().any(|c| &c.channel_id == *id)) {
                    li { span class={ "swatch c" (colour(id)) } {} (name(id)) }
                }
            }
        }
    }
}

/// The `p`-th percentile (0–100) of sorted values, nearest rank.
fn percentile(sorted: &[i64], p: usize) -> i64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = (p * sorted.len()).div_ceil(100).max(1);
    sorted[rank.min(sorted.len()) - 1]
}

/// One bar per push a sale caused, oldest left: the time from the stock
/// change being queued to the channel taking it.
fn delays_chart(
    o: &StoreOverview,
    name: &dyn Fn(&switchyard_domain::ids::ChannelId) -> String,
) -> Markup {
    if o.sale_pushes.is_empty() {
        return html! { p.empty { "No sale has moved stock on another channel yet." } };
    }
    let delays: Vec<(String, i64)> = o
        .sale_pushes
        .iter()
        .rev()
        .map(|p| {
            (
                name(&p.channel_id),
                (p.sent_at - p.queued_at).num_milliseconds().max(0),
            )
        })
        .collect();
    let mut sorted: Vec<i64> = delays.iter().map(|d| d.1).collect();
    sorted.sort_unstable();
    let (median, p90) = (percentile(&sorted, 50), percentile(&sorted, 90));
    let max = sorted.last().copied().unwrap_or(0).max(1);
    let (w, h, left, bottom, top) = (560_i64, 190_i64, 50_i64, 12_i64, 10_i64);
    let plot_h = h - bottom - top;
    let n = i64::try_from(delays.len()).unwrap_or(1).max(1);
    let slot = ((w - left - 6) / n).max(2);
    let y = |v: i64| top + plot_h - v * plot_h / max;
    let label = format!(
        "The last {} stock pushes sales caused: median {median} ms, 90th percentile {p90} ms, slowest {max} ms",
        delays.len()
    );
    html! {
        svg.chart.delays-chart xmlns="http://www.w3.org/2000/svg" role="img" aria-label=(label)
            width=(w) height=(h) viewBox={ "0 0 " (w) " " (h) } {
            title { (label) }
            @for v in [0, max / 2, max] {
                line.grid x1=(left) x2=(w - 4) y1=(y(v)) y2=(y(v)) {}
                text.axis x=(left - 6) y=(y(v) + 4) text-anchor="end" { (v) " ms" }
            }
            @for (i, (channel, ms)) in delays.iter().enumerate() {
                @let x = left + 4 + i64::try_from(i).unwrap_or(0) * slot;
                rect.bar.delay x=(x) y=(y(*ms)) width=((slot * 7 / 10).max(1)) height=(y(0) - y(*ms)) {
                    title { (channel) ": " (ms) " ms" }
                }
            }
            line.median x1=(left) x2=(w - 4) y1=(y(median)) y2=(y(median)) {}
        }
        p.delays { "Median " strong { (median) " ms" } " · 90th percentile " strong { (p90) " ms" } " · of the last " (delays.len()) " pushes, from the stock change being queued to the channel taking it." }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_take_the_nearest_rank() {
        let v: Vec<i64> = (1..=10).collect();
        assert_eq!(percentile(&v, 50), 5);
        assert_eq!(percentile(&v, 90), 9);
        assert_eq!(percentile(&v, 100), 10);
        assert_eq!(percentile(&[7], 90), 7);
        assert_eq!(percentile(&[], 50), 0);
    }

    #[test]
    fn the_delays_chart_draws_a_bar_per_push_and_names_the_median() {
        let ch = switchyard_domain::ids::ChannelId::generate();
        let t = Utc::now();
        let o = StoreOverview {
            sale_pushes: [40, 10, 30, 20]
                .iter()
                .map(|ms| switchyard_storage::PushDelay {
                    channel_id: ch.clone(),
                    queued_at: t,
                    sent_at: t + Duration::milliseconds(*ms),
                })
                .collect(),
            ..StoreOverview::default()
        };
        let svg = delays_chart(&o, &|_| "Web shop".to_owned()).into_string();
        assert_eq!(svg.matches("<rect class=\"bar delay\"").count(), 4, "{svg}");
        assert!(
            svg.contains("median 20 ms, 90th percentile 40 ms, slowest 40 ms"),
            "{svg}"
        );
        assert!(svg.contains("Web shop: 30 ms"), "{svg}");
        let none = delays_chart(&StoreOverview::default(), &|_| String::new()).into_string();
        assert!(none.contains("No sale has moved stock"));
    }

    #[test]
    fn ages_read_as_people_say_them() {
        assert_eq!(age(Duration::seconds(42)), "42 s ago");
        assert_eq!(age(Duration::minutes(5)), "5 min ago");
        assert_eq!(age(Duration::hours(3)), "3 h ago");
        assert_eq!(age(Duration::days(2)), "2 d ago");
    }
}
