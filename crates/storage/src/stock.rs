//! The stock ledger: quantities per source, commitments, compare-and-set.

use std::collections::{BTreeMap, BTreeSet};

use async_trait::async_trait;
use switchyard_domain::explain::ChannelRules;
use switchyard_domain::ids::{AccountId, StoreId};
use switchyard_domain::product::KitComponent;
use switchyard_domain::stock::{SkuLedger, StockSource};
use switchyard_domain::values::Sku;

use crate::{Page, PageRequest, Result};

/// The stock ledger.
#[async_trait]
pub trait Stock: Send + Sync {
    /// Apply `changes` to one source, all or nothing, journalled. Fails with
    /// `Conflict { code: "stock_expected_mismatch" }` when a compare-and-set
    /// expectation does not hold, naming the change's index in `field`.
    async fn change_stock(
        &self,
        account: &AccountId,
        store: &StoreId,
        source: &StockSource,
        changes: &[StockChange],
    ) -> Result<Vec<StockChangeOutcome>>;
    /// What is needed to compute and explain the figures of `skus`: for each
    /// existing SKU, whether it is a kit, its ledger or its components'
    /// ledgers, plus the store's channel rules. Unknown SKUs are absent.
    async fn stock_snapshot(
        &self,
        account: &AccountId,
        store: &StoreId,
        skus: &[Sku],
    ) -> Result<StockSnapshot>;
    /// SKUs of the store in order, for paging through all stock.
    async fn list_skus(
        &self,
        account: &AccountId,
        store: &StoreId,
        page: &PageRequest,
    ) -> Result<Page<Sku>>;
}

pub use switchyard_domain::stock::{StockChange, StockOp};

/// The effect of one applied change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StockChangeOutcome {
    /// SKU.
    pub sku: Sku,
    /// Location.
    pub location: String,
    /// Quantity before.
    pub before: i64,
    /// Quantity after.
    pub after: i64,
}

/// What a SKU is in a [`StockSnapshot`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SnapshotEntry {
    /// A plain product and its ledger.
    Plain(SkuLedger),
    /// A kit and each component with its ledger.
    Kit(Vec<(KitComponent, SkuLedger)>),
}

/// Ledgers and channel rules, read consistently in one transaction.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StockSnapshot {
    /// Requested SKUs that exist.
    pub entries: BTreeMap<Sku, SnapshotEntry>,
    /// The store's channels and their rules.
    pub channels: Vec<ChannelRules>,
}

/// What an order's planned commitments say in its journal event, and the
/// SKUs they commit.
pub(crate) fn commitment_payload(
    plan: &[(i64, &str, i64, Option<&str>)],
) -> (Vec<crate::CommittedUnits>, BTreeSet<String>) {
    let mut out = (Vec::new(), BTreeSet::new());
    for (_, part, qty, via) in plan {
        out.0.push(crate::CommittedUnits {
            sku: (*part).to_owned(),
            quantity: *qty,
            via_kit: via.map(str::to_owned),
        });
        out.1.insert((*part).to_owned());
    }
    out
}

/// A product's stock from the ledgers of its SKUs: its own ledger, or each
/// kit component's (a SKU without a ledger has none yet: zero).
pub(crate) fn snapshot_entry_of(
    p: &crate::Product,
    ledgers: &BTreeMap<String, SkuLedger>,
) -> SnapshotEntry {
    let of = |sku: &Sku| ledgers.get(sku.as_str()).cloned().unwrap_or_default();
    if p.is_kit() {
        SnapshotEntry::Kit(
            p.components
                .iter()
                .map(|c| (c.clone(), of(&c.sku)))
                .collect(),
        )
    } else {
        SnapshotEntry::Plain(of(&p.sku))
    }
}

/// The SKUs whose ledgers make a product's stock.
pub(crate) fn ledger_skus(p: &crate::Product) -> Vec<String> {
    if p.is_kit() {
        p.components.iter().map(|c| c.sku.to_string()).collect()
    } else {
        vec![p.sku.to_string()]
    }
}

/// A SKU's stock facts as of a journal event (`ledger` in the event's
/// payload): on hand and committed for a plain product, each component's
/// for a kit. The webhook dispatch derives availability from them, so a
/// delivery says what the stock was when the event happened, not when it
/// was sent.
pub(crate) fn ledger_facts(entry: &SnapshotEntry) -> crate::LedgerFacts {
    match entry {
        SnapshotEntry::Plain(l) => crate::LedgerFacts::Plain(crate::StockFacts {
            on_hand: l.on_hand(),
            committed: l.committed(),
        }),
        SnapshotEntry::Kit(parts) => crate::LedgerFacts::Kit {
            components: parts
                .iter()
                .map(|(c, l)| crate::ComponentFacts {
                    sku: c.sku.clone(),
                    per_kit: c.quantity,
                    on_hand: l.on_hand(),
                    committed: l.committed(),
                })
                .collect(),
        },
    }
}
