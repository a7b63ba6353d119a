//! Webhooks: the event types a subscription can ask for, which journal
//! event becomes which, the retry schedule, and the policy on where
//! outgoing requests may go.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::DomainError;

/// What a webhook event is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, utoipa::ToSchema)]
pub enum WebhookEntity {
    /// An order.
    Order,
    /// A main product (its attributes or its stock).
    Product,
    /// A channel's listing of a product.
    ChannelProduct,
    /// A shipment.
    Fulfilment,
    /// A channel connection.
    Channel,
    /// An invoice.
    Invoice,
    /// A credit note.
    CreditNote,
}

impl WebhookEntity {
    /// The name on the wire.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Order => "order",
            Self::Product => "product",
            Self::ChannelProduct => "channel_product",
            Self::Fulfilment => "fulfilment",
            Self::Channel => "channel",
            Self::Invoice => "invoice",
            Self::CreditNote => "credit_note",
        }
    }
}

/// What happened to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, utoipa::ToSchema)]
pub enum Trigger {
    /// It appeared.
    Created,
    /// It changed.
    Updated,
    /// An order was marked Excluded by a filter or a rule.
    Excluded,
    /// An order was put On Hold.
    OnHold,
    /// A channel was connected through a hosted onboarding page.
    Connected,
}

impl Trigger {
    /// The name on the wire.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Created => "created",
            Self::Updated => "updated",
            Self::Excluded => "excluded",
            Self::OnHold => "on_hold",
            Self::Connected => "connected",
        }
    }
}

/// An event type a subscription can filter on, e.g. `order.on_hold`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EventType {
    /// The entity.
    pub entity: WebhookEntity,
    /// The trigger.
    pub trigger: Trigger,
}

impl EventType {
    /// Every event type that exists: orders, products, channel products
    /// and fulfilments are created and updated; only orders are excluded
    /// or put on hold; a channel is connected (through a hosted page);
    /// invoices and credit notes are created (issued).
    pub const ALL: [Self; 13] = [
        Self::new(WebhookEntity::Order, Trigger::Created),
        Self::new(WebhookEntity::Order, Trigger::Updated),
        Self::new(WebhookEntity::Order, Trigger::Excluded),
        Self::new(WebhookEntity::Order, Trigger::OnHold),
        Self::new(WebhookEntity::Product, Trigger::Created),
        Self::new(WebhookEntity::Product, Trigger::Updated),
        Self::new(WebhookEntity::ChannelProduct, Trigger::Created),
        Self::new(WebhookEntity::ChannelProduct, Trigger::Updated),
        Self::new(WebhookEntity::Fulfilment, Trigger::Created),
        Self::new(WebhookEntity::Fulfilment, Trigger::Updated),
        Self::new(WebhookEntity::Channel, Trigger::Connected),
        Self::new(WebhookEntity::Invoice, Trigger::Created),
        Self::new(WebhookEntity::CreditNote, Trigger::Created),
    ];

    const fn new(entity: WebhookEntity, trigger: Trigger) -> Self {
        Self { entity, trigger }
    }

    /// Parse `entity.trigger`; only the combinations in [`Self::ALL`].
    pub fn parse(s: &str) -> Result<Self, DomainError> {
        Self::ALL
            .into_iter()
            .find(|t| t.to_string() == s)
            .ok_or_else(|| {
                let all: Vec<String> = Self::ALL.iter().map(ToString::to_string).collect();
                DomainError::rule(
                    "invalid_event_type",
                    format!(
                        "`{}` is not an event type; known: {}",
                        s.chars().take(60).collect::<String>(),
                        all.join(", ")
                    ),
                )
            })
    }

    /// The webhook events a journal event is delivered as.
    ///
    /// Orders: `order.created`, `order.excluded` and `order.on_hold` keep
    /// their trigger, and an order that arrives already excluded or on
    /// hold (`state`, from the event) is also `order.excluded` /
    /// `order.on_hold`; every other order change (cancelled, released,
    /// shipped, oversold, back-office progress ...) is `order.updated`.
    /// Stock changes of a SKU are `product.updated` (the payload carries
    /// the product). A channel connected through a hosted page is
    /// `channel.connected`; issued invoices and credit notes are
    /// `invoice.created` and `credit_note.created`. Deletions have no entity left to send and are not
    /// delivered.
    #[must_use]
    pub fn for_journal(entity_type: &str, event_type: &str, state: Option<&str>) -> Vec<Self> {
        let suffix = event_type.rsplit('.').next().unwrap_or_default();
        let entity = match entity_type {
            "order" => WebhookEntity::Order,
            "product" | "stock" => WebhookEntity::Product,
            "listing" => WebhookEntity::ChannelProduct,
            "fulfilment" => WebhookEntity::Fulfilment,
            // Of a channel's events only its connection through a hosted
            // page is delivered.
            "channel" if suffix == "connected" => {
                return vec![Self::new(WebhookEntity::Channel, Trigger::Connected)];
            }
            // Invoices and credit notes are delivered when issued.
            "invoice" if suffix == "created" => {
                return vec![Self::new(WebhookEntity::Invoice, Trigger::Created)];
            }
            "credit_note" if suffix == "created" => {
                return vec![Self::new(WebhookEntity::CreditNote, Trigger::Created)];
            }
            _ => return Vec::new(),
        };
        let is_order = entity == WebhookEntity::Order;
        let trigger = match suffix {
            "deleted" => return Vec::new(),
            "created" if entity_type != "stock" => Trigger::Created,
            "excluded" if is_order => Trigger::Excluded,
            "on_hold" if is_order => Trigger::OnHold,
            _ => Trigger::Updated,
        };
        let mut out = vec![Self::new(entity, trigger)];
        if is_order && trigger == Trigger::Created {
            match state {
                Some("excluded") => out.push(Self::new(entity, Trigger::Excluded)),
                Some("on_hold") => out.push(Self::new(entity, Trigger::OnHold)),
                _ => {}
            }
        }
        out
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.entity.as_str(), self.trigger.as_str())
    }
}

impl Serialize for EventType {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl utoipa::PartialSchema for EventType {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, SchemaType, Type};
        ObjectBuilder::new()
            .schema_type(SchemaType::Type(Type::String))
            .description(Some("An event type: `entity.trigger`"))
            .enum_values(Some(Self::ALL.iter().map(ToString::to_string)))
            .into()
    }
}

impl utoipa::ToSchema for EventType {}

impl<'de> Deserialize<'de> for EventType {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// The type of the message "send test event" sends.
pub const TEST_EVENT_TYPE: &str = "webhook.test";

/// Delays before each attempt of a delivery, in seconds: immediately, then
/// 5 s, 5 min, 30 min, 2 h, 5 h, 10 h and 10 h (eight attempts over about
/// 27.6 hours). Each delay gets ±20 % jitter.
pub const RETRY_SCHEDULE_SECS: [i64; 8] = [0, 5, 300, 1_800, 7_200, 18_000, 36_000, 36_000];

/// The Standard Webhooks retry policy: the waits of
/// [`RETRY_SCHEDULE_SECS`] after the first attempt, ±20 %, then no more.
#[must_use]
pub fn retry_policy() -> crate::retry::RetryPolicy {
    let waits: Vec<std::time::Duration> = RETRY_SCHEDULE_SECS[1..]
        .iter()
        .map(|s| std::time::Duration::from_secs(s.unsigned_abs()))
        .collect();
    crate::retry::RetryPolicy::steps(&waits).with_jitter(0.2)
}

/// An endpoint that has failed every attempt for this long is disabled.
pub const DISABLE_AFTER_FAILING_SECS: i64 = 5 * 24 * 3600;

/// A network in CIDR notation (`10.0.0.0/8`, `::1/128`, or a bare address),
/// through the `ipnet` crate; an IPv4 address written as IPv6
/// (`::ffff:a.b.c.d`) is matched as the IPv4 address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpNet(ipnet::IpNet);

impl IpNet {
    /// Parse `addr[/prefix]`.
    pub fn parse(s: &str) -> Result<Self, DomainError> {
        let bad = || {
            DomainError::rule(
                "invalid_network",
                format!(
                    "`{s}` is not an address or a network in CIDR notation (e.g. 127.0.0.1, 10.0.0.0/8, ::1)"
                ),
            )
        };
        let s = s.trim();
        if s.contains('/') {
            s.parse::<ipnet::IpNet>().map(Self).map_err(|_| bad())
        } else {
            s.parse::<IpAddr>()
                .map(|a| Self(ipnet::IpNet::from(a)))
                .map_err(|_| bad())
        }
    }

    /// Whether `ip` lies in this network.
    #[must_use]
    pub fn contains(&self, ip: IpAddr) -> bool {
        self.0.contains(&canonical(ip))
    }
}

impl fmt::Display for IpNet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.0.addr(), self.0.prefix_len())
    }
}

/// An IPv4 address written as IPv6 (`::ffff:a.b.c.d`) is the IPv4 address.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        IpAddr::V4(_) => ip,
    }
}

/// Why an address is not a public destination, or `None` when it is one.
#[must_use]
pub fn non_public_reason(ip: IpAddr) -> Option<&'static str> {
    match canonical(ip) {
        IpAddr::V4(v4) => v4_reason(v4),
        IpAddr::V6(v6) => v6_reason(v6),
    }
}

fn v4_reason(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, d] = ip.octets();
    // Cloud metadata services: AWS, GCP, Azure, OpenStack (169.254.169.254),
    // Alibaba (100.100.100.200), Azure's wire server (168.63.129.16).
    if [
        [169, 254, 169, 254],
        [100, 100, 100, 200],
        [168, 63, 129, 16],
    ]
    .contains(&[a, b, c, d])
    {
        return Some("cloud_metadata");
    }
    Some(match (a, b) {
        (0, _) => "unspecified",
        (127, _) => "loopback",
        (10, _) | (192, 168) => "private",
        (172, 16..=31) => "private",
        (100, 64..=127) => "cgnat",
        (169, 254) => "link_local",
        (224..=239, _) => "multicast",
        (240..=255, _) => "reserved",
        (192, 0) if c == 0 || c == 2 => "reserved",
        (198, 18 | 19) => "reserved",
        (198, 51) if c == 100 => "reserved",
        (203, 0) if c == 113 => "reserved",
        _ => return None,
    })
}

fn v6_reason(ip: Ipv6Addr) -> Option<&'static str> {
    let seg = ip.segments();
    if ip.is_loopback() {
        return Some("loopback");
    }
    if ip.is_unspecified() {
        return Some("unspecified");
    }
    if seg[0] == 0xfd00 && seg[1] == 0x0ec2 && seg[7] == 0x0254 && seg[2..7].iter().all(|s| *s == 0)
    {
        return Some("cloud_metadata");
    }
    // NAT64 (64:ff9b::/96) embeds an IPv4 address: judge that one.
    if seg[0] == 0x64 && seg[1] == 0xff9b && seg[2..6].iter().all(|s| *s == 0) {
        let [.., hi, lo] = seg;
        let v4 = Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo));
        return v4_reason(v4);
    }
    Some(match seg[0] {
        s if s & 0xfe00 == 0xfc00 => "private",
        s if s & 0xffc0 == 0xfe80 => "link_local",
        s if s & 0xff00 == 0xff00 => "multicast",
        0x2001 if seg[1] == 0x0db8 => "reserved",
        // The remaining IPv4-compatible and other ::/8 forms.
        0 => "reserved",
        _ => return None,
    })
}

/// Where outgoing webhook and plugin requests may go: public addresses,
/// plus the operator's allow-list (which tests use for 127.0.0.1).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AddressPolicy {
    allow: Vec<IpNet>,
}

impl AddressPolicy {
    /// A policy allowing public addresses and `allow`.
    #[must_use]
    pub fn new(allow: Vec<IpNet>) -> Self {
        Self { allow }
    }

    /// Parse an allow-list of addresses and CIDR networks.
    pub fn parse(allow: &[String]) -> Result<Self, DomainError> {
        allow
            .iter()
            .map(|s| IpNet::parse(s))
            .collect::<Result<Vec<_>, _>>()
            .map(Self::new)
    }

    /// The allow-list.
    #[must_use]
    pub fn allowed(&self) -> &[IpNet] {
        &self.allow
    }

    /// Check a URL's host: an address written in it (`10.0.0.1`, `[::1]`)
    /// must be allowed; a name is checked later, on each address it
    /// resolves to when a connection is made.
    pub fn check_host(&self, host: &str) -> Result<(), DomainError> {
        match host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
        {
            Ok(ip) => self.check(ip),
            Err(_) => Ok(()),
        }
    }

    /// Whether a request may connect to `ip`; the error says why not.
    pub fn check(&self, ip: IpAddr) -> Result<(), DomainError> {
        if self.allow.iter().any(|n| n.contains(ip)) {
            return Ok(());
        }
        match non_public_reason(ip) {
            None => Ok(()),
            Some(why) => Err(DomainError::rule(
                "blocked_destination",
                format!(
                    "{ip} is a {} address; Switchyard connects only to public addresses unless the operator allows it (setting `outbound_allow`)",
                    why.replace('_', " ")
                ),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
    }

    #[test]
    fn every_event_type_round_trips_through_its_name() {
        for t in EventType::ALL {
            assert_eq!(EventType::parse(&t.to_string()), Ok(t));
        }
        assert!(EventType::parse("product.on_hold").is_err());
        assert!(EventType::parse("order").is_err());
    }

    #[test]
    fn journal_events_map_to_the_four_triggers() {
        let m = |e, t| {
            EventType::for_journal(e, t, None)
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(" ")
        };
        assert_eq!(m("order", "order.created"), "order.created");
        assert_eq!(m("order", "order.cancelled"), "order.updated");
        assert_eq!(m("order", "order.excluded"), "order.excluded");
        assert_eq!(m("order", "order.on_hold"), "order.on_hold");
        assert_eq!(m("stock", "stock.changed"), "product.updated");
        assert_eq!(m("listing", "listing.created"), "channel_product.created");
        assert_eq!(m("fulfilment", "fulfilment.synced"), "fulfilment.updated");
        assert_eq!(m("product", "product.deleted"), "");
        assert_eq!(m("store", "store.created"), "");
        let arrived = EventType::for_journal("order", "order.created", Some("excluded"));
        assert_eq!(arrived.len(), 2);
        assert_eq!(arrived[1].to_string(), "order.excluded");
    }

    #[test]
    fn the_schedule_has_eight_attempts_and_jitter_stays_within_a_fifth() {
        let p = retry_policy();
        let secs = |f, u| p.delay(f, u).map(|d| d.as_secs_f64().round());
        assert_eq!(secs(1, 0.5), Some(5.0));
        assert_eq!(secs(7, 0.5), Some(36_000.0));
        assert_eq!(secs(8, 0.5), None, "eight attempts in all");
        assert_eq!(secs(2, 0.0), Some(240.0));
        assert_eq!(secs(2, 0.999_999), Some(360.0));
    }

    #[test]
    fn non_public_addresses_are_refused_unless_allowed() {
        let p = AddressPolicy::default();
        for a in [
            "127.0.0.1",
            "10.1.2.3",
            "172.20.0.1",
            "192.168.1.1",
            "100.64.0.1",
            "169.254.169.254",
            "169.254.1.1",
            "224.0.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "::1",
            "::",
            "fe80::1",
            "fd12::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "64:ff9b::a00:1",
            "fd00:ec2::254",
            "168.63.129.16",
            "100.100.100.200",
        ] {
            assert!(p.check(ip(a)).is_err(), "{a} should be refused");
        }
        for a in [
            "93.184.216.34",
            "1.1.1.1",
            "2606:4700::1111",
            "172.32.0.1",
            "100.128.0.1",
        ] {
            assert!(p.check(ip(a)).is_ok(), "{a} should be allowed");
        }
        let p =
            AddressPolicy::parse(&["127.0.0.1".into(), "10.0.0.0/8".into()]).unwrap_or_default();
        assert!(p.check(ip("127.0.0.1")).is_ok());
        assert!(p.check(ip("::ffff:127.0.0.1")).is_ok());
        assert!(p.check(ip("10.200.0.1")).is_ok());
        assert!(p.check(ip("127.0.0.2")).is_err());
        assert!(p.check(ip("::1")).is_err());
    }

    #[test]
    fn networks_parse_and_bad_ones_are_refused() {
        assert!(IpNet::parse("10.0.0.0/8").is_ok());
        assert!(IpNet::parse("::1/128").is_ok());
        assert!(IpNet::parse("10.0.0.0/33").is_err());
        assert!(IpNet::parse("example.com").is_err());
        assert!(IpNet::parse("10.0.0.0/").is_err());
        let all = IpNet::parse("0.0.0.0/0").unwrap_or(IpNet(ipnet::IpNet::from(ip("1.1.1.1"))));
        assert!(all.contains(ip("8.8.8.8")));
        // An IPv4 address written as IPv6 is in the IPv4 network; a bare
        // address is a one-address network.
        let ten = IpNet::parse("10.0.0.0/8").unwrap_or(all);
        assert!(ten.contains(ip("::ffff:10.1.2.3")));
        assert!(!ten.contains(ip("11.0.0.1")));
        let one = IpNet::parse("192.168.1.7").unwrap_or(all);
        assert!(one.contains(ip("192.168.1.7")) && !one.contains(ip("192.168.1.8")));
        assert_eq!(one.to_string(), "192.168.1.7/32");
    }
}
