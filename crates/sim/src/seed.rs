//! Deterministic shop data from a seed: a catalogue with variants and a
//! history of orders. Each simulator turns it into its channel's own shapes.

use chrono::{DateTime, Duration, TimeZone, Utc};

/// The moment seeded history ends: seeded orders lie in the 30 days before
/// it, so the same seed gives the same data on every run.
#[must_use]
pub fn anchor() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
        .single()
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// A person with an address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    /// First name.
    pub first_name: String,
    /// Last name.
    pub last_name: String,
    /// Email.
    pub email: String,
    /// Phone.
    pub phone: String,
    /// Company, sometimes.
    pub company: Option<String>,
    /// Street line.
    pub address1: String,
    /// Second line, sometimes.
    pub address2: Option<String>,
    /// City.
    pub city: String,
    /// Region / province code, where the country has them.
    pub region: Option<String>,
    /// Postal code.
    pub postcode: String,
    /// ISO 3166-1 alpha-2.
    pub country: String,
}

/// A sellable variant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Variant {
    /// SKU (`None` for the rare unmanaged item).
    pub sku: Option<String>,
    /// Variant title (`Default Title` for simple products).
    pub title: String,
    /// Price in minor units.
    pub price: i64,
    /// Stock on the channel.
    pub stock: i64,
}

/// A product with one or more variants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Product {
    /// Title.
    pub title: String,
    /// Variants; a simple product has one.
    pub variants: Vec<Variant>,
    /// Whether the product has real options (sizes).
    pub has_options: bool,
}

/// One order line: `(product index, variant index, quantity)`.
pub type Line = (usize, usize, i64);

/// A past order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Order {
    /// Buyer and shipping address.
    pub customer: Person,
    /// Lines.
    pub lines: Vec<Line>,
    /// Created at.
    pub created_at: DateTime<Utc>,
    /// Paid.
    pub paid: bool,
    /// Shipped already.
    pub fulfilled: bool,
    /// Cancelled.
    pub cancelled: bool,
    /// Shipping charged, minor units.
    pub shipping: i64,
    /// Shipping method title.
    pub shipping_method: String,
    /// A line without a SKU is added (a custom item).
    pub custom_line: bool,
}

/// A generated shop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shop {
    /// Catalogue.
    pub products: Vec<Product>,
    /// Order history, oldest first.
    pub orders: Vec<Order>,
}

const FIRST: [&str; 16] = [
    "Amelia", "Noah", "Sophie", "Liam", "Emma", "Lucas", "Mila", "Daan", "Olivia", "Finn", "Julia",
    "Sem", "Isla", "Jack", "Freya", "Oscar",
];
const LAST: [&str; 12] = [
    "Jansen", "Smith", "de Vries", "Müller", "Brown", "Bakker", "Dubois", "Taylor", "Visser",
    "Schmidt", "Wilson", "O'Brien",
];
const STREETS: [&str; 8] = [
    "High Street",
    "Keizersgracht",
    "Hauptstraße",
    "Rue de la Paix",
    "Station Road",
    "Dorpsstraat",
    "Main Street",
    "Church Lane",
];
/// `(country, city, region, postcode)`.
const PLACES: [(&str, &str, Option<&str>, &str); 8] = [
    ("GB", "London", None, "SW1A 1AA"),
    ("GB", "Manchester", None, "M1 1AE"),
    ("NL", "Amsterdam", None, "1015 CJ"),
    ("NL", "Utrecht", None, "3511 AB"),
    ("DE", "Berlin", None, "10115"),
    ("FR", "Paris", None, "75002"),
    ("US", "Portland", Some("OR"), "97205"),
    ("BE", "Gent", None, "9000"),
];
const ADJ: [&str; 10] = [
    "Classic", "Organic", "Waxed", "Merino", "Linen", "Recycled", "Enamel", "Oak", "Copper",
    "Canvas",
];
const NOUN: [&str; 10] = [
    "Mug", "Tote Bag", "Beanie", "Notebook", "Candle", "T-Shirt", "Apron", "Socks", "Planter",
    "Scarf",
];
const SIZES: [&str; 3] = ["S", "M", "L"];
const METHODS: [(&str, i64); 3] = [("Standard", 395), ("Express", 895), ("Free shipping", 0)];

fn person(rng: &mut fastrand::Rng) -> Person {
    let first = FIRST[rng.usize(..FIRST.len())];
    let last = LAST[rng.usize(..LAST.len())];
    let (country, city, region, postcode) = PLACES[rng.usize(..PLACES.len())];
    let n = rng.u32(1..400);
    Person {
        first_name: first.into(),
        last_name: last.into(),
        email: format!(
            "{}.{}{}@example.com",
            first.to_lowercase(),
            last.to_lowercase().replace([' ', '\''], ""),
            rng.u32(1..99)
        ),
        phone: format!("+44 20 7946 0{:03}", rng.u32(0..1000)),
        company: rng
            .bool()
            .then(|| format!("{last} & Co"))
            .filter(|_| rng.u8(..4) == 0),
        address1: format!("{n} {}", STREETS[rng.usize(..STREETS.len())]),
        address2: (rng.u8(..5) == 0).then(|| format!("Flat {}", rng.u8(1..30))),
        city: city.into(),
        region: region.map(str::to_owned),
        postcode: postcode.into(),
        country: country.into(),
    }
}

/// A buyer for an order placed through the control API, derived from
/// `seed`, shipping to `country` when given.
#[must_use]
pub fn customer(seed: u64, country: Option<&str>) -> Person {
    let mut p = person(&mut fastrand::Rng::with_seed(seed));
    if let Some(c) = country {
        c.clone_into(&mut p.country);
    }
    p
}

/// Generate `products` products (every fifth with three sizes) and `orders`
/// orders, all from `seed`.
#[must_use]
pub fn generate(seed: u64, products: usize, orders: usize) -> Shop {
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut catalogue = Vec::with_capacity(products);
    for i in 0..products {
        let title = format!(
            "{} {}",
            ADJ[rng.usize(..ADJ.len())],
            NOUN[rng.usize(..NOUN.len())]
        );
        let price = i64::from(rng.u32(3..120)) * 100 + [0, 50, 95, 99][rng.usize(..4)];
        let has_options = i % 5 == 4;
        let variants = if has_options {
            SIZES
                .iter()
                .map(|s| Variant {
                    sku: Some(format!("SKU-{:05}-{s}", i + 1)),
                    title: (*s).to_owned(),
                    price,
                    stock: i64::from(rng.u32(0..60)),
                })
                .collect()
        } else {
            vec![Variant {
                sku: Some(format!("SKU-{:05}", i + 1)),
                title: "Default Title".into(),
                price,
                stock: i64::from(rng.u32(0..60)),
            }]
        };
        catalogue.push(Product {
            title,
            variants,
            has_options,
        });
    }
    let window = 30 * 24 * 3600;
    let mut offsets: Vec<i64> = (0..orders).map(|_| rng.i64(0..window)).collect();
    offsets.sort_unstable();
    let start = anchor() - Duration::seconds(window);
    let mut history = Vec::with_capacity(orders);
    for off in offsets {
        let mut lines = Vec::new();
        if !catalogue.is_empty() {
            for _ in 0..rng.usize(1..=4) {
                let p = rng.usize(..catalogue.len());
                let v = rng.usize(..catalogue[p].variants.len());
                if lines.iter().any(|(lp, lv, _)| *lp == p && *lv == v) {
                    continue;
                }
                lines.push((p, v, i64::from(rng.u8(1..=3))));
            }
        }
        let roll = rng.u8(..100);
        let (method, shipping) = METHODS[rng.usize(..METHODS.len())];
        history.push(Order {
            customer: person(&mut rng),
            lines,
            created_at: start + Duration::seconds(off),
            paid: roll >= 10,
            fulfilled: (10..20).contains(&roll),
            cancelled: roll >= 97,
            shipping,
            shipping_method: method.into(),
            custom_line: rng.u8(..50) == 0,
        });
    }
    Shop {
        products: catalogue,
        orders: history,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_shop() {
        let a = generate(7, 20, 50);
        assert_eq!(a, generate(7, 20, 50));
        assert_ne!(a, generate(8, 20, 50));
        assert_eq!(a.products.len(), 20);
        assert_eq!(a.products[4].variants.len(), 3);
        assert_eq!(a.orders.len(), 50);
        assert!(
            a.orders
                .windows(2)
                .all(|w| w[0].created_at <= w[1].created_at)
        );
        assert!(a.orders.iter().all(|o| o.created_at < anchor()));
    }
}
