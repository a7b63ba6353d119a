//! Carriers, and which carrier a tracking number belongs to.
//!
//! When a fulfilment names no carrier, it is derived from the tracking
//! number: first the store's own pattern rules (glob, in order), then the
//! built-in formats below, most specific first. Formats with a check digit
//! (UPS `1Z`, FedEx, USPS IMpb, UPU S10) are only claimed when the check
//! digit holds. Anything else is [`Carrier::Other`], and the raw number is
//! kept as given.

use serde::{Deserialize, Serialize};

use crate::DomainError;
use crate::filter::glob_match;

/// A carrier Switchyard recognises.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Carrier {
    /// Royal Mail (UK): S10 numbers ending in `GB`.
    RoyalMail,
    /// Parcelforce Worldwide (UK): two letters and seven digits.
    Parcelforce,
    /// DPD: 14-digit parcel numbers.
    Dpd,
    /// DHL Express: 10-digit waybills, or `JD` and 18 digits.
    DhlExpress,
    /// DHL Parcel / eCommerce: `JJD…`, `JVGL…`, `GM…`.
    DhlParcel,
    /// UPS: `1Z` and 16 characters with a check digit.
    Ups,
    /// FedEx: 12-digit Express or 15-digit Ground, with check digits.
    Fedex,
    /// USPS: 20/22-digit IMpb with a check digit, or S10 ending in `US`.
    Usps,
    /// PostNL: `3S` barcodes, or S10 ending in `NL`.
    Postnl,
    /// Evri (formerly Hermes UK): `H` and 15 characters, or 16 digits.
    Evri,
    /// GLS: 11-digit parcel numbers.
    Gls,
    /// Amazon Logistics: `TBA` and 12 digits.
    AmazonLogistics,
    /// Not recognised.
    Other,
}

impl Carrier {
    /// Every carrier, `Other` last.
    pub const ALL: [Carrier; 13] = [
        Self::RoyalMail,
        Self::Parcelforce,
        Self::Dpd,
        Self::DhlExpress,
        Self::DhlParcel,
        Self::Ups,
        Self::Fedex,
        Self::Usps,
        Self::Postnl,
        Self::Evri,
        Self::Gls,
        Self::AmazonLogistics,
        Self::Other,
    ];

    /// The stored and wire name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::RoyalMail => "royal_mail",
            Self::Parcelforce => "parcelforce",
            Self::Dpd => "dpd",
            Self::DhlExpress => "dhl_express",
            Self::DhlParcel => "dhl_parcel",
            Self::Ups => "ups",
            Self::Fedex => "fedex",
            Self::Usps => "usps",
            Self::Postnl => "postnl",
            Self::Evri => "evri",
            Self::Gls => "gls",
            Self::AmazonLogistics => "amazon_logistics",
            Self::Other => "other",
        }
    }

    /// The carrier a webshop or channel names in its own words ("Royal
    /// Mail", "DHL Express", "Hermes"), ignoring case, spaces and
    /// punctuation; `None` when the name is unknown or ambiguous (plain
    /// "DHL": then the tracking number decides).
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        let n: String = name
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .flat_map(|c| c.to_lowercase())
            .collect();
        Some(match n.as_str() {
            "royalmail" | "royalmailuk" => Self::RoyalMail,
            "parcelforce" | "parcelforceworldwide" => Self::Parcelforce,
            "dpd" | "dpduk" | "dpdnl" | "dpdde" | "dpdlocal" => Self::Dpd,
            "dhlexpress" => Self::DhlExpress,
            "dhlparcel" | "dhlecommerce" | "dhlparceluk" | "dhlparcelnl" => Self::DhlParcel,
            "ups" | "upsground" => Self::Ups,
            "fedex" | "fedexground" => Self::Fedex,
            "usps" => Self::Usps,
            "postnl" | "tnt" => Self::Postnl,
            "evri" | "hermes" | "myhermes" | "hermesuk" => Self::Evri,
            "gls" => Self::Gls,
            "amazonlogistics" | "amazonshipping" | "amzl" => Self::AmazonLogistics,
            _ => return None,
        })
    }

    /// Parse a stored or wire name.
    pub fn parse(s: &str) -> Result<Self, DomainError> {
        Self::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| {
                DomainError::invalid(
                    "invalid_carrier",
                    "carrier",
                    format!(
                        "`{s}` is not a carrier (one of {})",
                        Self::ALL.map(Self::as_str).join(", ")
                    ),
                )
            })
    }
}

/// A store's own rule: tracking numbers matching `pattern` (glob, `*` and
/// `?`, compared upper-case without spaces) belong to `carrier`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CarrierRule {
    /// Glob over the normalised number.
    pub pattern: String,
    /// The carrier.
    pub carrier: Carrier,
}

/// Upper case, without spaces and dashes (as numbers are often printed).
#[must_use]
pub fn normalise(number: &str) -> String {
    number
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .flat_map(char::to_uppercase)
        .collect()
}

/// The carrier of `number`: the store's rules first, then the built-in formats.
#[must_use]
pub fn detect_with(rules: &[CarrierRule], number: &str) -> Carrier {
    let n = normalise(number);
    rules
        .iter()
        .find(|r| glob_match(&normalise(&r.pattern), &n))
        .map_or_else(|| detect(&n), |r| r.carrier)
}

fn digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

fn letters(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_uppercase())
}

fn alnum(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_digit() || b.is_ascii_uppercase())
}

fn digit_values(s: &str) -> Vec<u32> {
    s.bytes().map(|b| u32::from(b - b'0')).collect()
}

/// UPS `1Z`: letters count as `(ASCII − 63) mod 10`; odd positions once,
/// even positions twice; check = `(10 − sum mod 10) mod 10`.
fn ups_ok(n: &str) -> bool {
    let Some(rest) = n.strip_prefix("1Z") else {
        return false;
    };
    if rest.len() != 16 || !alnum(rest) {
        return false;
    }
    let (body, check) = rest.split_at(15);
    let sum: u32 = body
        .bytes()
        .enumerate()
        .map(|(i, b)| {
            let v = if b.is_ascii_digit() {
                u32::from(b - b'0')
            } else {
                u32::from(b - 63) % 10
            };
            if i % 2 == 0 { v } else { 2 * v }
        })
        .sum();
    digits(check) && (10 - sum % 10) % 10 == u32::from(check.as_bytes()[0] - b'0')
}

/// Mod 10 with weights 3, 1, 3 … from the digit left of the check digit
/// (USPS IMpb, FedEx Ground 15).
fn mod10_31_ok(n: &str) -> bool {
    if !digits(n) || n.len() < 2 {
        return false;
    }
    let d = digit_values(n);
    let (body, check) = d.split_at(d.len() - 1);
    let sum: u32 = body
        .iter()
        .rev()
        .enumerate()
        .map(|(i, v)| if i % 2 == 0 { 3 * v } else { *v })
        .sum();
    (10 - sum % 10) % 10 == check[0]
}

/// FedEx Express 12: weights 1, 3, 7 … from the right; `sum mod 11 mod 10`.
fn fedex12_ok(n: &str) -> bool {
    if n.len() != 12 || !digits(n) {
        return false;
    }
    let d = digit_values(n);
    let (body, check) = d.split_at(11);
    let sum: u32 = body
        .iter()
        .rev()
        .zip([1, 3, 7].iter().cycle())
        .map(|(v, w)| v * w)
        .sum();
    sum % 11 % 10 == check[0]
}

/// UPU S10: two letters, eight digits, a check digit (weights 8 6 4 2 3 5
/// 9 7, mod 11), two letters of the country. Returns the country.
fn s10_country(n: &str) -> Option<&str> {
    if n.len() != 13 || !letters(&n[..2]) || !digits(&n[2..11]) || !letters(&n[11..]) {
        return None;
    }
    let d = digit_values(&n[2..11]);
    let sum: u32 = d[..8]
        .iter()
        .zip([8, 6, 4, 2, 3, 5, 9, 7])
        .map(|(v, w)| v * w)
        .sum();
    let check = match 11 - sum % 11 {
        10 => 0,
        11 => 5,
        c => c,
    };
    (check == d[8]).then(|| &n[11..])
}

/// The carrier of an already normalised number, by its format alone.
#[must_use]
pub fn detect(number: &str) -> Carrier {
    let n = number;
    let len = n.len();
    // Every format below is ASCII; byte slicing relies on it.
    if !n.is_ascii() {
        return Carrier::Other;
    }
    if ups_ok(n) {
        return Carrier::Ups;
    }
    if let Some(rest) = n.strip_prefix("TBA")
        && rest.len() == 12
        && digits(rest)
    {
        return Carrier::AmazonLogistics;
    }
    for (prefix, range) in [("JJD", 16..=21), ("JVGL", 16..=22), ("GM", 16..=20)] {
        if let Some(rest) = n.strip_prefix(prefix)
            && range.contains(&rest.len())
            && digits(rest)
        {
            return Carrier::DhlParcel;
        }
    }
    if let Some(rest) = n.strip_prefix("JD")
        && rest.len() == 18
        && digits(rest)
    {
        return Carrier::DhlExpress;
    }
    if let Some(rest) = n.strip_prefix("3S")
        && rest.len() >= 11
        && rest.len() <= 13
        && letters(&rest[..4])
        && digits(&rest[4..])
    {
        return Carrier::Postnl;
    }
    if let Some(country) = s10_country(n) {
        return match country {
            "GB" => Carrier::RoyalMail,
            "US" => Carrier::Usps,
            "NL" => Carrier::Postnl,
            _ => Carrier::Other,
        };
    }
    if len == 9 && letters(&n[..2]) && digits(&n[2..]) {
        return Carrier::Parcelforce;
    }
    if len == 16 && n.starts_with('H') && alnum(&n[1..]) && !digits(n) {
        return Carrier::Evri;
    }
    if digits(n) {
        return match len {
            20 | 22 if mod10_31_ok(n) => Carrier::Usps,
            12 if fedex12_ok(n) => Carrier::Fedex,
            15 if mod10_31_ok(n) => Carrier::Fedex,
            16 => Carrier::Evri,
            14 => Carrier::Dpd,
            10 => Carrier::DhlExpress,
            11 => Carrier::Gls,
            _ => Carrier::Other,
        };
    }
    Carrier::Other
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn carrier_names_in_other_words_are_recognised() {
        assert_eq!(Carrier::from_name("Royal Mail"), Some(Carrier::RoyalMail));
        assert_eq!(Carrier::from_name("DHL Express"), Some(Carrier::DhlExpress));
        assert_eq!(Carrier::from_name("Hermes"), Some(Carrier::Evri));
        assert_eq!(Carrier::from_name("Fedex"), Some(Carrier::Fedex));
        assert_eq!(Carrier::from_name("DHL"), None);
        assert_eq!(Carrier::from_name("Other"), None);
    }

    fn d(n: &str) -> Carrier {
        detect_with(&[], n)
    }

    #[test]
    fn real_format_numbers_are_recognised() {
        assert_eq!(d("1Z999AA10123456784"), Carrier::Ups);
        assert_eq!(d("1z 9999 aa10 1234 5679"), Carrier::Ups, "spaces and case");
        assert_eq!(d("TBA123456789012"), Carrier::AmazonLogistics);
        assert_eq!(d("JJD000390007797543810"), Carrier::DhlParcel);
        assert_eq!(d("JVGL0618000012345678"), Carrier::DhlParcel);
        assert_eq!(d("GM2951173225174494"), Carrier::DhlParcel);
        assert_eq!(d("1234567890"), Carrier::DhlExpress);
        assert_eq!(d("JD014600006281230701"), Carrier::DhlExpress);
        assert_eq!(d("3SABCD1234567"), Carrier::Postnl);
        assert_eq!(d("LA000000014NL"), Carrier::Postnl);
        assert_eq!(d("RR123456785GB"), Carrier::RoyalMail);
        assert_eq!(d("EC876543216US"), Carrier::Usps);
        assert_eq!(d("9205590164917312751089"), Carrier::Usps);
        assert_eq!(d("PB1234567"), Carrier::Parcelforce);
        assert_eq!(d("H01HYA0012345678"), Carrier::Evri);
        assert_eq!(d("8888123456789012"), Carrier::Evri);
        assert_eq!(d("797806677146"), Carrier::Fedex);
        assert_eq!(d("568838414941"), Carrier::Fedex);
        assert_eq!(d("449044304137821"), Carrier::Fedex);
        assert_eq!(d("15501234567890"), Carrier::Dpd);
        assert_eq!(d("12345678901"), Carrier::Gls);
    }

    #[test]
    fn a_failed_check_digit_is_not_claimed() {
        assert_eq!(d("1Z999AA10123456785"), Carrier::Other, "UPS check digit");
        assert_eq!(
            d("9400111899223197428490"),
            Carrier::Other,
            "USPS check digit"
        );
        assert_eq!(
            d("797806677147"),
            Carrier::Other,
            "FedEx Express check digit"
        );
        assert_eq!(
            d("449044304137822"),
            Carrier::Other,
            "FedEx Ground check digit"
        );
        assert_eq!(d("RR123456786GB"), Carrier::Other, "S10 check digit");
        assert_eq!(
            d("XX123456785ZZ"),
            Carrier::Other,
            "a valid S10 of another post"
        );
        assert_eq!(d("not a number"), Carrier::Other);
        assert_eq!(d("ÉÉ1234567ÉÉ"), Carrier::Other, "non-ASCII never panics");
        assert_eq!(d(""), Carrier::Other);
    }

    #[test]
    fn store_rules_come_first_in_order() {
        let rules = vec![
            CarrierRule {
                pattern: "ZX*".into(),
                carrier: Carrier::Gls,
            },
            CarrierRule {
                pattern: "1Z*".into(),
                carrier: Carrier::Dpd,
            },
        ];
        assert_eq!(detect_with(&rules, "zx-0042"), Carrier::Gls);
        assert_eq!(detect_with(&rules, "1Z999AA10123456784"), Carrier::Dpd);
        assert_eq!(detect_with(&rules, "RR123456785GB"), Carrier::RoyalMail);
    }

    #[test]
    fn names_round_trip() {
        for c in Carrier::ALL {
            assert_eq!(Carrier::parse(c.as_str()).unwrap(), c);
        }
        assert!(Carrier::parse("pigeon").is_err());
    }
}

#[cfg(test)]
mod props {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #[test]
        fn any_input_gets_an_answer_and_a_recognised_ups_number_stays_valid(s in "\\PC{0,40}", body in "[0-9A-Z]{15}") {
            let _ = detect_with(&[], &s);
            // Exactly one of the ten possible check digits makes a UPS number.
            let ups = (0..10)
                .filter(|c| detect(&format!("1Z{body}{c}")) == Carrier::Ups)
                .count();
            prop_assert_eq!(ups, 1);
        }
    }
}
