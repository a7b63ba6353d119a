//! Small validated value types shared by every layer.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::DomainError;

/// Largest absolute quantity accepted anywhere (stock, kit component counts,
/// deltas). Anything above is treated as a mistake, not as stock.
pub const MAX_QUANTITY: i64 = 1_000_000_000;

/// Longest SKU accepted, in characters.
pub const MAX_SKU_CHARS: usize = 128;

/// A stock keeping unit: non-empty, at most 128 characters, no control
/// characters. Compared exactly (case and whitespace matter, as on channels).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Sku(String);

impl Sku {
    /// Parse a SKU received from outside.
    pub fn parse(s: &str) -> Result<Self, DomainError> {
        if s.is_empty() {
            return Err(DomainError::invalid(
                "invalid_sku",
                "sku",
                "SKU must not be empty",
            ));
        }
        let chars = s.chars().count();
        if chars > MAX_SKU_CHARS {
            return Err(DomainError::invalid(
                "invalid_sku",
                "sku",
                format!("SKU is {chars} characters long; the maximum is {MAX_SKU_CHARS}"),
            ));
        }
        if let Some(c) = s.chars().find(|c| c.is_control()) {
            return Err(DomainError::invalid(
                "invalid_sku",
                "sku",
                format!("SKU contains the control character U+{:04X}", u32::from(c)),
            ));
        }
        Ok(Self(s.to_owned()))
    }

    /// The SKU as text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Sku {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Sku {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.0)
    }
}

impl Serialize for Sku {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

/// A string schema with a pattern (and a length limit) for the OpenAPI
/// document of a validated text type.
#[must_use]
pub fn text_schema(
    description: &str,
    pattern: &str,
    max_length: Option<usize>,
    example: &str,
) -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    use utoipa::openapi::schema::{ObjectBuilder, SchemaType, Type};
    ObjectBuilder::new()
        .schema_type(SchemaType::Type(Type::String))
        .description(Some(description))
        .pattern(Some(pattern))
        .min_length(Some(1))
        .max_length(max_length)
        .examples([serde_json::Value::from(example)])
        .into()
}

impl utoipa::PartialSchema for Sku {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        text_schema(
            "A stock keeping unit: 1 to 128 characters, no control characters; compared exactly",
            r"^[^\x00-\x1f\x7f]+$",
            Some(MAX_SKU_CHARS),
            "MUG-BLUE",
        )
    }
}

impl utoipa::ToSchema for Sku {}

impl utoipa::PartialSchema for Currency {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        text_schema("ISO 4217 currency code", "^[A-Z]{3}$", Some(3), "EUR")
    }
}

impl utoipa::ToSchema for Currency {}

impl utoipa::PartialSchema for CountryCode {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        text_schema(
            "ISO 3166-1 alpha-2 country code",
            "^[A-Z]{2}$",
            Some(2),
            "NL",
        )
    }
}

impl utoipa::ToSchema for CountryCode {}

impl<'de> Deserialize<'de> for Sku {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// Check that `q` is a quantity in `0..=MAX_QUANTITY`.
pub fn check_quantity(field: &str, q: i64) -> Result<i64, DomainError> {
    if q < 0 {
        return Err(DomainError::invalid(
            "invalid_quantity",
            field,
            format!("quantity must not be negative (got {q})"),
        ));
    }
    if q > MAX_QUANTITY {
        return Err(DomainError::invalid(
            "invalid_quantity",
            field,
            format!("quantity {q} exceeds the maximum of {MAX_QUANTITY}"),
        ));
    }
    Ok(q)
}

/// Check that a relative change is within `±MAX_QUANTITY` and not zero.
pub fn check_delta(field: &str, d: i64) -> Result<i64, DomainError> {
    if d == 0 {
        return Err(DomainError::invalid(
            "invalid_quantity",
            field,
            "delta must not be zero",
        ));
    }
    if d.unsigned_abs() > MAX_QUANTITY.unsigned_abs() {
        return Err(DomainError::invalid(
            "invalid_quantity",
            field,
            format!("delta {d} exceeds the maximum magnitude of {MAX_QUANTITY}"),
        ));
    }
    Ok(d)
}

/// An ISO 4217 currency code: three upper-case ASCII letters.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Currency([u8; 3]);

impl Currency {
    /// Parse a currency code (`"EUR"`).
    pub fn parse(s: &str) -> Result<Self, DomainError> {
        match s.as_bytes() {
            [a, b, c] if [a, b, c].iter().all(|x| x.is_ascii_uppercase()) => Ok(Self([*a, *b, *c])),
            _ => Err(DomainError::invalid(
                "invalid_currency",
                "currency",
                format!("`{s}` is not an ISO 4217 currency code (three upper-case letters)"),
            )),
        }
    }

    /// The code as text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        // Only ASCII upper-case letters are ever stored.
        std::str::from_utf8(&self.0).unwrap_or("XXX")
    }

    /// Digits after the decimal point of the minor unit (ISO 4217): 0 for
    /// JPY, KRW and the like, 3 for the dinars, 2 for everything else.
    #[must_use]
    pub fn minor_digits(&self) -> u32 {
        match self.as_str() {
            "BIF" | "CLP" | "DJF" | "GNF" | "ISK" | "JPY" | "KMF" | "KRW" | "PYG" | "RWF"
            | "UGX" | "UYI" | "VND" | "VUV" | "XAF" | "XOF" | "XPF" => 0,
            "BHD" | "IQD" | "JOD" | "KWD" | "LYD" | "OMR" | "TND" => 3,
            _ => 2,
        }
    }

    /// Write minor units as a decimal amount with the currency's digits
    /// (`1234` EUR → `"12.34"`, JPY → `"1234"`): the inverse of
    /// [`Currency::parse_amount`].
    #[must_use]
    pub fn format_amount(&self, minor: i64) -> String {
        let digits = self.minor_digits();
        if digits == 0 {
            return minor.to_string();
        }
        let scale = 10_u64.pow(digits);
        let m = minor.unsigned_abs();
        format!(
            "{}{}.{:0width$}",
            if minor < 0 { "-" } else { "" },
            m / scale,
            m % scale,
            width = digits as usize
        )
    }

    /// Parse a decimal amount as a channel writes it (`"12.5"`, `"-3.00"`,
    /// `"7"`) into exact minor units, without going through floating point.
    /// More decimals than the currency has are refused unless they are zeros.
    pub fn parse_amount(&self, text: &str) -> Result<i64, DomainError> {
        let bad = |why: &str| {
            DomainError::invalid(
                "invalid_amount",
                "amount",
                format!("`{text}` is not a {} amount: {why}", self.as_str()),
            )
        };
        let t = text.trim();
        let (neg, digits) = match t.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, t.strip_prefix('+').unwrap_or(t)),
        };
        let (whole, frac) = digits.split_once('.').unwrap_or((digits, ""));
        if whole.is_empty() && frac.is_empty() {
            return Err(bad("no digits"));
        }
        if !whole.bytes().all(|b| b.is_ascii_digit()) || !frac.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad("not a decimal number"));
        }
        let places = self.minor_digits() as usize;
        let (kept, extra) = frac.split_at(frac.len().min(places));
        if extra.bytes().any(|b| b != b'0') {
            return Err(bad("more decimals than the currency has"));
        }
        let mut minor: i64 = 0;
        for b in whole.bytes().chain(kept.bytes()) {
            minor = minor
                .checked_mul(10)
                .and_then(|m| m.checked_add(i64::from(b - b'0')))
                .ok_or_else(|| bad("too large"))?;
        }
        for _ in kept.len()..places {
            minor = minor.checked_mul(10).ok_or_else(|| bad("too large"))?;
        }
        Ok(if neg { -minor } else { minor })
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Currency {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Currency {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// An amount of money in integer minor units (cents, pence) of a currency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Money {
    /// Amount in minor units, exactly as stated; never a float.
    pub amount: i64,
    /// ISO 4217 code.
    pub currency: Currency,
}

/// An ISO 3166-1 alpha-2 country code: two upper-case ASCII letters.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct CountryCode([u8; 2]);

impl CountryCode {
    /// Parse a country code (`"GB"`).
    pub fn parse(s: &str) -> Result<Self, DomainError> {
        match s.as_bytes() {
            [a, b] if a.is_ascii_uppercase() && b.is_ascii_uppercase() => Ok(Self([*a, *b])),
            _ => Err(DomainError::invalid(
                "invalid_country",
                "country",
                format!("`{s}` is not an ISO 3166-1 alpha-2 country code (two upper-case letters)"),
            )),
        }
    }

    /// The code as text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or("ZZ")
    }
}

impl fmt::Display for CountryCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for CountryCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for CountryCode {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for CountryCode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// Check a free-text field: trimmed length within `1..=max` characters and no
/// control characters other than newline and tab.
pub fn check_text(field: &str, s: &str, max: usize) -> Result<(), DomainError> {
    if s.trim().is_empty() {
        return Err(DomainError::invalid(
            "invalid_text",
            field,
            format!("{field} must not be blank"),
        ));
    }
    let n = s.chars().count();
    if n > max {
        return Err(DomainError::invalid(
            "invalid_text",
            field,
            format!("{field} is {n} characters long; the maximum is {max}"),
        ));
    }
    if s.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        return Err(DomainError::invalid(
            "invalid_text",
            field,
            format!("{field} contains control characters"),
        ));
    }
    Ok(())
}

/// Check an absolute `http(s)` URL of reasonable length.
pub fn check_url(field: &str, s: &str) -> Result<(), DomainError> {
    let ok_scheme = s.starts_with("https://") || s.starts_with("http://");
    let host_part = s.split_once("://").map(|(_, r)| r).unwrap_or("");
    if !ok_scheme || host_part.is_empty() || host_part.starts_with('/') {
        return Err(DomainError::invalid(
            "invalid_url",
            field,
            format!("{field} must be an absolute http:// or https:// URL"),
        ));
    }
    if s.len() > 2048 || s.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(DomainError::invalid(
            "invalid_url",
            field,
            format!("{field} must be at most 2048 characters without whitespace"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_are_written_with_the_currency_digits() {
        let c = |code: &str| Currency::parse(code).unwrap();
        assert_eq!(c("EUR").format_amount(1234), "12.34");
        assert_eq!(c("EUR").format_amount(5), "0.05");
        assert_eq!(c("EUR").format_amount(-5), "-0.05");
        assert_eq!(c("JPY").format_amount(1234), "1234");
        assert_eq!(c("KWD").format_amount(1234), "1.234");
        assert_eq!(
            c("EUR")
                .parse_amount(&c("EUR").format_amount(-1999))
                .unwrap(),
            -1999
        );
    }

    #[test]
    fn skus_are_validated() {
        assert!(Sku::parse("ABC-123/x y").is_ok());
        assert!(Sku::parse("").is_err());
        assert!(Sku::parse(&"x".repeat(128)).is_ok());
        assert!(Sku::parse(&"x".repeat(129)).is_err());
        assert!(
            Sku::parse(&"é".repeat(128)).is_ok(),
            "the limit counts characters, not bytes"
        );
        assert!(Sku::parse("A\u{0}B").is_err());
        assert!(Sku::parse("A\nB").is_err());
    }

    #[test]
    fn quantities_are_bounded() {
        assert!(check_quantity("q", 0).is_ok());
        assert!(check_quantity("q", MAX_QUANTITY).is_ok());
        assert!(check_quantity("q", MAX_QUANTITY + 1).is_err());
        assert!(check_quantity("q", -1).is_err());
        assert!(check_delta("d", -MAX_QUANTITY).is_ok());
        assert!(check_delta("d", 0).is_err());
        assert!(check_delta("d", i64::MIN).is_err());
    }

    #[test]
    fn codes_are_validated() {
        assert_eq!(Currency::parse("EUR").unwrap().as_str(), "EUR");
        assert!(Currency::parse("eur").is_err());
        assert!(Currency::parse("EU").is_err());
        assert_eq!(CountryCode::parse("GB").unwrap().as_str(), "GB");
        assert!(CountryCode::parse("GBR").is_err());
    }

    #[test]
    fn urls_are_validated() {
        assert!(check_url("u", "https://cdn.example.com/a.png").is_ok());
        assert!(check_url("u", "ftp://x").is_err());
        assert!(check_url("u", "https://").is_err());
        assert!(check_url("u", "https://a b").is_err());
    }

    #[test]
    fn amounts_parse_exactly_into_minor_units() {
        let eur = Currency::parse("EUR").unwrap();
        assert_eq!(eur.parse_amount("12.99").unwrap(), 1299);
        assert_eq!(eur.parse_amount("12.5").unwrap(), 1250);
        assert_eq!(eur.parse_amount("7").unwrap(), 700);
        assert_eq!(eur.parse_amount("-3.00").unwrap(), -300);
        assert_eq!(eur.parse_amount("0.10000").unwrap(), 10);
        assert!(eur.parse_amount("0.105").is_err());
        assert!(eur.parse_amount("1e3").is_err());
        assert!(eur.parse_amount("").is_err());
        assert!(eur.parse_amount("99999999999999999999").is_err());
        let jpy = Currency::parse("JPY").unwrap();
        assert_eq!(jpy.parse_amount("1500").unwrap(), 1500);
        assert_eq!(jpy.parse_amount("1500.0").unwrap(), 1500);
        let kwd = Currency::parse("KWD").unwrap();
        assert_eq!(kwd.parse_amount("1.5").unwrap(), 1500);
    }
}
