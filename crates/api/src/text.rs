//! Free text in the document. A name, a reason or a reference is checked
//! by `switchyard_domain::values::check_text`: not blank, within a length,
//! no control characters but tab and newline. These are its schemas, one
//! per length the API uses, so the rule is written once.

use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, Schema, SchemaType, Type};
use utoipa::{PartialSchema, ToSchema};

/// What `check_text` accepts: a character that is not blank somewhere, and
/// no control characters but tab and newline (C0, DEL and C1 excluded).
pub const PATTERN: &str = r"^[^\x00-\x08\x0b-\x1f\x7f-\x9f]*[^\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\x00-\x08\x0e-\x1f\x7f-\x9f][^\x00-\x08\x0b-\x1f\x7f-\x9f]*$";

fn text(max: usize) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(SchemaType::Type(Type::String))
        .description(Some(format!(
            "Text of 1 to {max} characters, not blank, without control characters other than tab and newline."
        )))
        .min_length(Some(1))
        .max_length(Some(max))
        .pattern(Some(PATTERN))
        .into()
}

macro_rules! text_type {
    ($name:ident, $max:literal) => {
        #[doc = concat!("Free text of at most ", stringify!($max), " characters (a document type).")]
        #[derive(Debug)]
        pub struct $name;

        impl PartialSchema for $name {
            fn schema() -> RefOr<Schema> {
                text($max)
            }
        }

        impl ToSchema for $name {}
    };
}

text_type!(Text100, 100);
text_type!(Text200, 200);
text_type!(Text500, 500);

#[cfg(test)]
mod tests {
    use switchyard_domain::values::check_text;

    /// The pattern and `check_text` agree on what is text.
    #[test]
    fn the_pattern_says_what_check_text_accepts() {
        let re = regex::Regex::new(super::PATTERN).unwrap_or_else(|e| panic!("{e}"));
        for s in [
            "Acme",
            "two\nlines",
            "tab\there",
            " padded ",
            "é ü 漢字",
            "x",
        ] {
            assert!(check_text("f", s, 500).is_ok(), "{s:?}");
            assert!(re.is_match(s), "{s:?}");
        }
        for s in [
            "",
            " ",
            "\n\t",
            "bell\u{7}",
            "nul\0",
            "c1\u{85}x\u{9f}",
            "cr\r",
        ] {
            assert!(check_text("f", s, 500).is_err(), "{s:?}");
            assert!(!re.is_match(s), "{s:?}");
        }
    }
}
