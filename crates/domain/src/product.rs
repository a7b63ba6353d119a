//! Main products, their catalogue attributes, and kits (bundles).

use serde::{Deserialize, Serialize};

use crate::DomainError;
use crate::values::{CountryCode, MAX_QUANTITY, Money, Sku, check_text, check_url};

/// Longest product title accepted.
pub const MAX_TITLE_CHARS: usize = 500;
/// Most components one kit may have.
pub const MAX_KIT_COMPONENTS: usize = 100;
/// Largest single dimension in millimetres (100 m).
pub const MAX_DIMENSION_MM: i64 = 100_000;
/// Largest weight in grams (100 t).
pub const MAX_WEIGHT_G: i64 = 100_000_000;

/// Outer dimensions of the packed product, in millimetres.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Dimensions {
    /// Length in mm.
    pub length_mm: i64,
    /// Width in mm.
    pub width_mm: i64,
    /// Height in mm.
    pub height_mm: i64,
}

/// Customs information used on international shipments.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Customs {
    /// Harmonized System code, 6 to 10 digits (dots allowed as separators).
    pub hs_code: Option<String>,
    /// Country of origin.
    pub origin_country: Option<CountryCode>,
    /// Description for the customs declaration.
    pub description: Option<String>,
}

/// The descriptive attributes of a product (everything but its SKU and kit).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ProductAttributes {
    /// Title shown to people.
    pub title: String,
    /// GTIN / EAN / UPC or another barcode.
    pub gtin: Option<String>,
    /// Weight in grams.
    pub weight_g: Option<i64>,
    /// Dimensions in millimetres.
    pub dimensions: Option<Dimensions>,
    /// Image URL.
    pub image_url: Option<String>,
    /// Default price.
    pub price: Option<Money>,
    /// Customs information.
    pub customs: Customs,
}

impl ProductAttributes {
    /// Validate every attribute; the error names the first bad field.
    pub fn validate(&self) -> Result<(), DomainError> {
        check_text("title", &self.title, MAX_TITLE_CHARS)?;
        if let Some(g) = &self.gtin {
            validate_barcode(g)?;
        }
        if let Some(w) = self.weight_g
            && !(0..=MAX_WEIGHT_G).contains(&w)
        {
            return Err(DomainError::invalid(
                "invalid_weight",
                "weight_g",
                format!("weight must be between 0 and {MAX_WEIGHT_G} g (got {w})"),
            ));
        }
        if let Some(d) = &self.dimensions {
            for (name, v) in [
                ("length_mm", d.length_mm),
                ("width_mm", d.width_mm),
                ("height_mm", d.height_mm),
            ] {
                if !(1..=MAX_DIMENSION_MM).contains(&v) {
                    return Err(DomainError::invalid(
                        "invalid_dimension",
                        format!("dimensions.{name}"),
                        format!("{name} must be between 1 and {MAX_DIMENSION_MM} mm (got {v})"),
                    ));
                }
            }
        }
        if let Some(u) = &self.image_url {
            check_url("image_url", u)?;
        }
        if let Some(p) = &self.price
            && !(0..=i64::from(i32::MAX) * 1000).contains(&p.amount)
        {
            return Err(DomainError::invalid(
                "invalid_price",
                "price.amount",
                format!(
                    "price must be a non-negative amount in minor units (got {})",
                    p.amount
                ),
            ));
        }
        if let Some(hs) = &self.customs.hs_code {
            validate_hs_code(hs)?;
        }
        if let Some(desc) = &self.customs.description {
            check_text("customs.description", desc, 500)?;
        }
        Ok(())
    }
}

fn validate_barcode(g: &str) -> Result<(), DomainError> {
    if g.is_empty() || g.len() > 64 || !g.chars().all(|c| c.is_ascii_graphic()) {
        return Err(DomainError::invalid(
            "invalid_gtin",
            "gtin",
            "barcode must be 1 to 64 printable ASCII characters",
        ));
    }
    // A purely numeric code of a GTIN length must carry a valid check digit:
    // a typo there would mismatch the listing on every marketplace.
    if matches!(g.len(), 8 | 12 | 13 | 14)
        && g.bytes().all(|b| b.is_ascii_digit())
        && !gtin_check_digit_ok(g)
    {
        return Err(DomainError::invalid(
            "invalid_gtin",
            "gtin",
            format!(
                "`{g}` looks like a GTIN-{} but its check digit is wrong",
                g.len()
            ),
        ));
    }
    Ok(())
}

/// GS1 mod-10 check digit over an all-digit string.
#[must_use]
pub fn gtin_check_digit_ok(g: &str) -> bool {
    let digits: Vec<u32> = g.bytes().map(|b| u32::from(b - b'0')).collect();
    let Some((&check, body)) = digits.split_last() else {
        return false;
    };
    let sum: u32 = body
        .iter()
        .rev()
        .enumerate()
        .map(|(i, d)| if i % 2 == 0 { d * 3 } else { *d })
        .sum();
    (10 - sum % 10) % 10 == check
}

fn validate_hs_code(hs: &str) -> Result<(), DomainError> {
    let digits = hs.chars().filter(|c| *c != '.').collect::<String>();
    if !(6..=10).contains(&digits.len()) || !digits.chars().all(|c| c.is_ascii_digit()) {
        return Err(DomainError::invalid(
            "invalid_hs_code",
            "customs.hs_code",
            format!("`{hs}` is not an HS code (6 to 10 digits, dots allowed)"),
        ));
    }
    Ok(())
}

/// One component of a kit: `quantity` units of `sku` go into one kit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct KitComponent {
    /// Component SKU; must be an existing plain product of the same store.
    pub sku: Sku,
    /// Units per kit, at least 1.
    pub quantity: i64,
}

/// What a set of store SKUs are, as storage read them: plain products,
/// kits with their components, and (by absence) SKUs that are no product.
/// The kit arithmetic of commitments and shipments is decided here.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Kinds {
    known: std::collections::HashMap<String, Option<Vec<KitComponent>>>,
}

impl Kinds {
    /// Record a plain product.
    pub fn plain(&mut self, sku: impl Into<String>) {
        self.known.insert(sku.into(), None);
    }

    /// Record a kit and its components.
    pub fn kit(&mut self, sku: impl Into<String>, components: Vec<KitComponent>) {
        self.known.insert(sku.into(), Some(components));
    }

    /// `Some(is_kit)` for a product, `None` for a SKU that is none.
    #[must_use]
    pub fn is_kit(&self, sku: &str) -> Option<bool> {
        self.known.get(sku).map(Option::is_some)
    }

    /// What `units` of `sku` commit: `(sku, quantity, via kit)` per plain
    /// SKU; nothing for a SKU that is no product.
    #[must_use]
    pub fn commits<'a>(&'a self, sku: &'a str, units: i64) -> Vec<(&'a str, i64, Option<&'a str>)> {
        match self.known.get(sku) {
            None => Vec::new(),
            Some(None) => vec![(sku, units, None)],
            Some(Some(parts)) => parts
                .iter()
                .map(|c| (c.sku.as_str(), c.quantity.saturating_mul(units), Some(sku)))
                .collect(),
        }
    }

    /// The plain SKUs that `skus` commit (kits as their components; SKUs
    /// that are no product, none).
    #[must_use]
    pub fn plain_skus<'a>(&'a self, skus: &[&'a str]) -> std::collections::BTreeSet<&'a str> {
        skus.iter()
            .flat_map(|s| self.commits(s, 1))
            .map(|(part, _, _)| part)
            .collect()
    }

    /// The plain units `lines` (`(sku, units)`) take, kits counted as their
    /// components; SKUs that are no product take none.
    #[must_use]
    pub fn plain_units(&self, lines: &[(String, i64)]) -> std::collections::BTreeMap<String, i64> {
        let mut out = std::collections::BTreeMap::new();
        for (sku, units) in lines {
            for (part, qty, _) in self.commits(sku, *units) {
                *out.entry(part.to_owned()).or_default() += qty;
            }
        }
        out
    }
}

/// Whether product `sku` may get kit components: not when it is itself a
/// component of kit `part_of` (kits of kits), nor when a plain product
/// still holds stock or commitments of its own (`holds`), which a kit,
/// whose stock comes from its components, could not show.
pub fn check_becoming_kit(
    sku: &Sku,
    part_of: Option<&str>,
    holds: bool,
    is_kit: bool,
) -> Result<(), crate::stock::ChangeRefused> {
    use crate::stock::ChangeRefused;
    if let Some(kit) = part_of {
        return Err(ChangeRefused::Invalid(DomainError::invalid(
            "kit_of_kits",
            "components",
            format!("`{sku}` is a component of kit `{kit}`, so it cannot become a kit itself"),
        )));
    }
    if holds && !is_kit {
        return Err(ChangeRefused::Conflict(DomainError {
            code: "product_has_stock",
            message: format!(
                "`{sku}` holds stock or open commitments of its own; a kit's stock comes from its components, so set its stock to 0 first"
            ),
            field: Some("components".into()),
        }));
    }
    Ok(())
}

/// What storage knows about a SKU named as a kit component.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ComponentLookup {
    /// No such product in the store.
    Missing,
    /// A plain product.
    Plain,
    /// A kit itself.
    Kit,
}

/// Validate the component list of kit `kit`. `lookup` tells what each
/// component SKU is in the store. Kits of kits are refused (their stock maths
/// would be ambiguous and channels cannot express them), which also rules out
/// every cycle except a kit naming itself, refused explicitly.
pub fn validate_kit(
    kit: &Sku,
    components: &[KitComponent],
    mut lookup: impl FnMut(&Sku) -> ComponentLookup,
) -> Result<(), DomainError> {
    if components.is_empty() {
        return Err(DomainError::invalid(
            "invalid_kit",
            "components",
            "a kit needs at least one component",
        ));
    }
    if components.len() > MAX_KIT_COMPONENTS {
        return Err(DomainError::invalid(
            "invalid_kit",
            "components",
            format!("a kit may have at most {MAX_KIT_COMPONENTS} components"),
        ));
    }
    let mut seen = std::collections::HashSet::new();
    for (i, c) in components.iter().enumerate() {
        let field = format!("components[{i}]");
        if !(1..=MAX_QUANTITY).contains(&c.quantity) {
            return Err(DomainError::invalid(
                "invalid_quantity",
                format!("{field}.quantity"),
                format!(
                    "component quantity must be between 1 and {MAX_QUANTITY} (got {})",
                    c.quantity
                ),
            ));
        }
        if &c.sku == kit {
            return Err(DomainError::invalid(
                "kit_cycle",
                format!("{field}.sku"),
                format!("kit `{kit}` cannot contain itself"),
            ));
        }
        if !seen.insert(&c.sku) {
            return Err(DomainError::invalid(
                "duplicate_component",
                format!("{field}.sku"),
                format!(
                    "component `{}` is listed twice; give it once with the total quantity",
                    c.sku
                ),
            ));
        }
        match lookup(&c.sku) {
            ComponentLookup::Plain => {}
            ComponentLookup::Missing => {
                return Err(DomainError::invalid(
                    "component_not_found",
                    format!("{field}.sku"),
                    format!(
                        "component `{}` is not a product of this store; create it first",
                        c.sku
                    ),
                ));
            }
            ComponentLookup::Kit => {
                return Err(DomainError::invalid(
                    "kit_of_kits",
                    format!("{field}.sku"),
                    format!(
                        "component `{}` is itself a kit; kits of kits are not supported, list its components directly",
                        c.sku
                    ),
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sku(s: &str) -> Sku {
        Sku::parse(s).unwrap()
    }

    fn attrs() -> ProductAttributes {
        ProductAttributes {
            title: "Mug".into(),
            gtin: None,
            weight_g: None,
            dimensions: None,
            image_url: None,
            price: None,
            customs: Customs::default(),
        }
    }

    #[test]
    fn a_product_becomes_a_kit_only_when_it_is_no_component_and_holds_nothing() {
        use crate::stock::ChangeRefused;
        let mug = sku("MUG");
        assert_eq!(check_becoming_kit(&mug, None, false, false), Ok(()));
        assert_eq!(check_becoming_kit(&mug, None, true, true), Ok(()));
        assert!(matches!(
            check_becoming_kit(&mug, Some("SET"), false, false),
            Err(ChangeRefused::Invalid(e)) if e.code == "kit_of_kits"
        ));
        assert!(matches!(
            check_becoming_kit(&mug, None, true, false),
            Err(ChangeRefused::Conflict(e)) if e.code == "product_has_stock"
        ));
    }

    #[test]
    fn kinds_count_kits_as_their_components_and_skip_unknown_skus() {
        let mut k = Kinds::default();
        k.plain("A");
        k.kit(
            "SET",
            vec![KitComponent {
                sku: sku("A"),
                quantity: 3,
            }],
        );
        assert_eq!(k.is_kit("SET"), Some(true));
        assert_eq!(k.is_kit("NOPE"), None);
        let units = k.plain_units(&[("A".into(), 1), ("SET".into(), 2), ("NOPE".into(), 5)]);
        assert_eq!(
            units,
            std::collections::BTreeMap::from([("A".to_owned(), 7)])
        );
    }

    #[test]
    fn gtin_check_digits_are_verified() {
        assert!(gtin_check_digit_ok("4006381333931"));
        assert!(gtin_check_digit_ok("036000291452"));
        assert!(gtin_check_digit_ok("96385074"));
        let mut a = attrs();
        a.gtin = Some("4006381333932".into());
        assert_eq!(a.validate().unwrap_err().code, "invalid_gtin");
        a.gtin = Some("INTERNAL-BARCODE-7".into());
        assert!(a.validate().is_ok());
    }

    #[test]
    fn attributes_are_checked_with_field_names() {
        let mut a = attrs();
        a.dimensions = Some(Dimensions {
            length_mm: 10,
            width_mm: 0,
            height_mm: 5,
        });
        assert_eq!(
            a.validate().unwrap_err().field.as_deref(),
            Some("dimensions.width_mm")
        );
        let mut a = attrs();
        a.customs.hs_code = Some("6912.00".into());
        assert!(a.validate().is_ok());
        a.customs.hs_code = Some("69".into());
        assert_eq!(a.validate().unwrap_err().code, "invalid_hs_code");
        let mut a = attrs();
        a.title = "  ".into();
        assert!(a.validate().is_err());
    }

    #[test]
    fn kits_refuse_themselves_kits_missing_and_duplicates() {
        let kit = sku("KIT");
        let plain = |_: &Sku| ComponentLookup::Plain;
        let c = |s: &str, q| KitComponent {
            sku: sku(s),
            quantity: q,
        };
        assert!(validate_kit(&kit, &[c("A", 2), c("B", 1)], plain).is_ok());
        assert_eq!(
            validate_kit(&kit, &[], plain).unwrap_err().code,
            "invalid_kit"
        );
        assert_eq!(
            validate_kit(&kit, &[c("KIT", 1)], plain).unwrap_err().code,
            "kit_cycle"
        );
        assert_eq!(
            validate_kit(&kit, &[c("A", 0)], plain).unwrap_err().code,
            "invalid_quantity"
        );
        assert_eq!(
            validate_kit(&kit, &[c("A", 1), c("A", 1)], plain)
                .unwrap_err()
                .code,
            "duplicate_component"
        );
        let e = validate_kit(&kit, &[c("A", 1), c("K2", 1)], |s: &Sku| {
            if s.as_str() == "K2" {
                ComponentLookup::Kit
            } else {
                ComponentLookup::Plain
            }
        })
        .unwrap_err();
        assert_eq!(
            (e.code, e.field.as_deref()),
            ("kit_of_kits", Some("components[1].sku"))
        );
        let e = validate_kit(&kit, &[c("A", 1)], |_: &Sku| ComponentLookup::Missing).unwrap_err();
        assert_eq!(e.code, "component_not_found");
    }
}
