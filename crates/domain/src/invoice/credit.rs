//! What a credit note takes back of an invoice, given the credit notes
//! issued against it so far.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{Document, DocumentLine, mul_div_round, total};
use crate::DomainError;

/// Units of one invoice line to credit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CreditLine {
    /// The invoice's line number.
    pub line_no: u32,
    /// Units to credit (at least 1, at most what is not credited yet).
    pub quantity: i64,
}

/// A credit note to issue against an invoice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreditPlan {
    /// Its content.
    pub document: Document,
    /// Whether the invoice is credited in full once it is issued.
    pub completes: bool,
}

/// The credit note against `invoice`, given the credit notes issued against
/// it so far (`prior`): the `lines` asked for, or everything not yet
/// credited when `None`.
///
/// A line credited in part is credited in proportion to its units; its
/// last units take exactly what is left, so the credit notes of a line
/// always add up to the line. Refused when nothing is left to credit
/// (`already_credited`) or a line asks for more than is left.
pub fn plan_credit_note(
    invoice: &Document,
    prior: &[Document],
    lines: Option<&[CreditLine]>,
    reason: Option<String>,
) -> Result<CreditPlan, DomainError> {
    // What is credited of each line so far: units, net, tax.
    let mut credited: BTreeMap<u32, (i64, i64, i64)> = BTreeMap::new();
    for note in prior {
        for l in &note.lines {
            let e = credited.entry(l.line_no).or_default();
            e.0 += l.quantity;
            e.1 += l.net;
            e.2 += l.tax;
        }
    }
    let left = |l: &DocumentLine| {
        let (q, n, t) = credited.get(&l.line_no).copied().unwrap_or_default();
        (l.quantity - q, l.net - n, l.tax - t)
    };
    let wanted: Vec<(u32, i64)> = match lines {
        None => invoice
            .lines
            .iter()
            .filter(|l| {
                let (q, n, t) = left(l);
                q > 0 || n != 0 || t != 0
            })
            .map(|l| (l.line_no, left(l).0))
            .collect(),
        Some(ask) => {
            if ask.is_empty() {
                return Err(DomainError::invalid(
                    "invalid_lines",
                    "lines",
                    "name at least one line, or leave `lines` out to credit everything left",
                ));
            }
            let mut seen = std::collections::BTreeSet::new();
            for (i, c) in ask.iter().enumerate() {
                let field = format!("lines[{i}]");
                if !seen.insert(c.line_no) {
                    return Err(DomainError::invalid(
                        "invalid_lines",
                        format!("{field}.line_no"),
                        format!("line {} is named twice", c.line_no),
                    ));
                }
                let Some(l) = invoice.lines.iter().find(|l| l.line_no == c.line_no) else {
                    return Err(DomainError::invalid(
                        "invalid_lines",
                        format!("{field}.line_no"),
                        format!("the invoice has no line {}", c.line_no),
                    ));
                };
                let (q, _, _) = left(l);
                if c.quantity < 1 || c.quantity > q {
                    return Err(DomainError::invalid(
                        "invalid_lines",
                        format!("{field}.quantity"),
                        format!(
                            "line {} has {q} unit(s) not credited yet; credit 1 to {q}",
                            c.line_no
                        ),
                    ));
                }
            }
            ask.iter().map(|c| (c.line_no, c.quantity)).collect()
        }
    };
    if wanted.is_empty() {
        return Err(DomainError::rule(
            "already_credited",
            "the invoice is credited in full already",
        ));
    }
    let mut out_lines = Vec::new();
    for (no, q) in &wanted {
        let Some(l) = invoice.lines.iter().find(|l| l.line_no == *no) else {
            continue;
        };
        let (q_left, n_left, t_left) = left(l);
        let (net, tax) = if *q >= q_left {
            (n_left, t_left)
        } else {
            (
                mul_div_round(l.net, *q, l.quantity.max(1)),
                mul_div_round(l.tax, *q, l.quantity.max(1)),
            )
        };
        out_lines.push(DocumentLine {
            quantity: *q,
            discount: mul_div_round(l.discount, *q, l.quantity.max(1)),
            net,
            tax,
            gross: net + tax,
            ..l.clone()
        });
    }
    let completes = invoice.lines.iter().all(|l| {
        let (q_left, _, _) = left(l);
        let taken = wanted
            .iter()
            .find(|(no, _)| *no == l.line_no)
            .map_or(0, |(_, q)| *q);
        q_left - taken <= 0
    });
    let mut document = Document {
        lines: out_lines,
        difference: None,
        reason,
        ..invoice.clone()
    };
    total(&mut document);
    document.channel_total = document.gross;
    Ok(CreditPlan {
        document,
        completes,
    })
}

#[cfg(test)]
mod tests {
    use super::super::build_invoice;
    use super::super::tests::settings;
    use super::*;
    use crate::order::OrderState;
    use crate::order::fixtures::order;
    use proptest::prelude::*;

    #[test]
    fn partial_credit_notes_add_up_to_the_line() {
        let mut o = order("NL", &[(Some("MUG"), 3)]);
        o.lines[0].unit_price = 333;
        o.lines[0].tax = 210;
        o.tax_total = 210;
        o.total = 999 + 210;
        let inv = build_invoice(&o, OrderState::Open, "ch_x", &settings()).unwrap();
        let one = [CreditLine {
            line_no: 1,
            quantity: 1,
        }];
        let a = plan_credit_note(&inv, &[], Some(&one), None).unwrap();
        assert!(!a.completes);
        assert_eq!((a.document.net, a.document.tax), (333, 70));
        let b = plan_credit_note(&inv, std::slice::from_ref(&a.document), None, None).unwrap();
        assert!(b.completes);
        assert_eq!(b.document.lines[0].quantity, 2);
        assert_eq!(a.document.gross + b.document.gross, inv.gross);
        let e = plan_credit_note(&inv, &[a.document, b.document], None, None).unwrap_err();
        assert_eq!(e.code, "already_credited");
        let too_many = [CreditLine {
            line_no: 1,
            quantity: 4,
        }];
        let e = plan_credit_note(&inv, &[], Some(&too_many), None).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("lines[0].quantity"));
    }

    proptest! {
        /// Whatever the lines, the totals are the sum of the lines, the
        /// breakdown adds up to them, and with channel taxes on top the
        /// invoice equals the channel's total; credit notes in any split
        /// add up to the invoice.
        #[test]
        fn totals_add_up(lines in proptest::collection::vec((1i64..20, 1i64..100_000, 0i64..2_000), 1..12),
                         shipping in 0i64..2_000, split in 1i64..5) {
            let spec: Vec<(Option<&str>, i64)> = lines.iter().map(|(q, _, _)| (Some("X"), *q)).collect();
            let mut o = order("DE", &spec);
            let mut tax_total = 0;
            let mut sum = 0;
            for (l, (q, p, t)) in o.lines.iter_mut().zip(&lines) {
                l.unit_price = *p;
                l.tax = *t;
                tax_total += t;
                sum += p * q;
            }
            o.shipping_total = shipping;
            o.tax_total = tax_total;
            o.total = sum + shipping + tax_total;
            let inv = build_invoice(&o, OrderState::Open, "ch_x", &settings()).unwrap();
            prop_assert_eq!(inv.gross, o.total);
            prop_assert_eq!(inv.net + inv.tax, inv.gross);
            prop_assert_eq!(inv.taxes.iter().map(|t| t.tax).sum::<i64>(), inv.tax);
            prop_assert_eq!(inv.taxes.iter().map(|t| t.net).sum::<i64>(), inv.net);
            // Credit line 1 in `split`-unit steps, then the rest.
            let mut prior: Vec<Document> = Vec::new();
            loop {
                let left = inv.lines[0].quantity - prior.iter().flat_map(|d| &d.lines).filter(|l| l.line_no == 1).map(|l| l.quantity).sum::<i64>();
                if left <= split { break; }
                let ask = [CreditLine { line_no: 1, quantity: split }];
                prior.push(plan_credit_note(&inv, &prior, Some(&ask), None).unwrap().document);
            }
            let last = plan_credit_note(&inv, &prior, None, None).unwrap();
            prop_assert!(last.completes);
            prior.push(last.document);
            prop_assert_eq!(prior.iter().map(|d| d.gross).sum::<i64>(), inv.gross);
            prop_assert_eq!(prior.iter().map(|d| d.tax).sum::<i64>(), inv.tax);
        }
    }
}
