//! Large windows (backfills, first imports) as bulk exports, as Shopify
//! recommends for exports instead of paging under the cost bucket:
//! `bulkOperationRunQuery` starts one, `currentBulkOperation` is looked at
//! until it is `COMPLETED`, and its JSONL result (each line item on a line of
//! its own after its order, with `__parentId`) is read by byte ranges, a page
//! of orders at a time. Every step is a page token, so an import cut short
//! goes on from the operation or from the byte offset of the next order:
//!
//! - `bulk-op:{gid}`: the operation is running; look again;
//! - `bulk-file:{offset}:{url}`: read the result from `offset`;
//! - anything else: a keyset cursor of the paged `orders` list.
//!
//! An export that cannot run (another bulk query of the app is in progress,
//! it failed, was cancelled, expired or replaced, or its result is not
//! grouped by order) falls back to paging the same window from its start.

use std::time::Duration;

use serde_json::{Value, json};

use super::{BULK_ORDERS, Shopify, map, search_since};
use crate::channel::{OrderPage, OrderQuery};
use crate::error::ConnectorError;
use crate::http::HttpRequest;

/// Orders per page read from an export's result.
pub const BULK_PAGE: usize = 250;
/// Bytes asked for per range request of an export's result.
const CHUNK: u64 = 1 << 20;
/// Most bytes held for one page (an order with thousands of lines fits).
const MAX_PAGE_BYTES: usize = 64 << 20;
/// Looks at a running operation per call, and the wait before each.
const LOOKS: [Duration; 6] = [
    Duration::from_millis(100),
    Duration::from_millis(200),
    Duration::from_millis(400),
    Duration::from_millis(800),
    Duration::from_millis(1600),
    Duration::from_millis(3200),
];

const OP_PREFIX: &str = "bulk-op:";
const FILE_PREFIX: &str = "bulk-file:";

/// What a page token of a Shopify order read says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Token<'a> {
    /// A keyset cursor of the paged list (`None`: its first page).
    Page(Option<&'a str>),
    /// A bulk export is running.
    Export(String),
    /// A bulk export's result, from a byte offset.
    File { offset: u64, url: String },
}

impl<'a> Token<'a> {
    pub(super) fn parse(token: Option<&'a str>) -> Self {
        let Some(t) = token else {
            return Self::Page(None);
        };
        if let Some(id) = t.strip_prefix(OP_PREFIX) {
            return Self::Export(id.to_owned());
        }
        if let Some((offset, url)) = t
            .strip_prefix(FILE_PREFIX)
            .and_then(|r| r.split_once(':'))
            .and_then(|(o, u)| Some((o.parse().ok()?, u)))
        {
            return Self::File {
                offset,
                url: url.to_owned(),
            };
        }
        Self::Page(Some(t))
    }

    fn render(&self) -> Option<String> {
        match self {
            Self::Page(p) => p.map(str::to_owned),
            Self::Export(id) => Some(format!("{OP_PREFIX}{id}")),
            Self::File { offset, url } => Some(format!("{FILE_PREFIX}{offset}:{url}")),
        }
    }
}

/// An empty page whose next token is `next`.
fn step(next: &Token<'_>) -> OrderPage {
    OrderPage {
        next_page: next.render(),
        ..OrderPage::default()
    }
}

/// The orders of a JSONL result: lines parsed so far, grouped by order.
#[derive(Debug, Default)]
struct Groups {
    /// Each order with its line items, and the offset (in the bytes read)
    /// where its first line starts.
    orders: Vec<(usize, Value, Vec<Value>)>,
    /// Bytes parsed (whole lines).
    parsed: usize,
}

/// The result is not grouped by order: a line item away from its order.
#[derive(Debug)]
struct NotGrouped;

impl Groups {
    /// Parse the whole lines of `buf` after what was parsed; at the end of
    /// the file, its last line too.
    fn parse(&mut self, buf: &[u8], eof: bool) -> Result<Result<(), NotGrouped>, String> {
        while self.parsed < buf.len() {
            let rest = &buf[self.parsed..];
            let (line, used) = match rest.iter().position(|b| *b == b'\n') {
                Some(n) => (&rest[..n], n + 1),
                None if eof => (rest, rest.len()),
                None => break,
            };
            let start = self.parsed;
            self.parsed += used;
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            let mut v: Value = serde_json::from_slice(line)
                .map_err(|e| format!("bulk result line at byte {start}: {e}"))?;
            match v
                .as_object_mut()
                .and_then(|o| o.remove("__parentId"))
                .map(|p| p.as_str().map(str::to_owned))
            {
                None => self.orders.push((start, v, Vec::new())),
                Some(parent) => match self.orders.last_mut() {
                    Some((_, order, lines)) if order["id"].as_str() == parent.as_deref() => {
                        lines.push(v);
                    }
                    _ => return Ok(Err(NotGrouped)),
                },
            }
        }
        Ok(Ok(()))
    }
}

impl Shopify {
    /// Start a bulk export of the window; its token is the next page.
    pub(super) async fn start_export(
        &self,
        query: &OrderQuery,
    ) -> Result<OrderPage, ConnectorError> {
        let doc = export_document(query);
        let d = self
            .graphql(
                "mutation SwitchyardExport($query: String!) {
  bulkOperationRunQuery(query: $query) {
    bulkOperation { id status }
    userErrors { field message code }
  }
}",
                &json!({ "query": doc }),
                false,
            )
            .await?;
        let run = &d["bulkOperationRunQuery"];
        if let Some(id) = run["bulkOperation"]["id"].as_str() {
            tracing::info!(channel = %self.http.label(), operation = id, "bulk export started");
            return Ok(step(&Token::Export(id.to_owned())));
        }
        let errors = run["userErrors"].as_array().cloned().unwrap_or_default();
        // Ours, started by an attempt whose answer was lost: take it up.
        if errors.iter().any(|e| e["code"] == "OPERATION_IN_PROGRESS")
            && let Some(op) = self.current_export().await?
            && op["query"].as_str() == Some(doc.as_str())
            && let Some(id) = op["id"].as_str()
        {
            return Ok(step(&Token::Export(id.to_owned())));
        }
        let why: Vec<&str> = errors
            .iter()
            .filter_map(|e| e["message"].as_str())
            .collect();
        tracing::warn!(channel = %self.http.label(), reason = %why.join("; "), "bulk export refused; paging instead");
        self.orders_page(query, None).await
    }

    async fn current_export(&self) -> Result<Option<Value>, ConnectorError> {
        let d = self
            .graphql(
                "query SwitchyardExportStatus { currentBulkOperation(type: QUERY) { id status errorCode query objectCount url } }",
                &json!({}),
                true,
            )
            .await?;
        Ok(Some(d["currentBulkOperation"].clone()).filter(Value::is_object))
    }

    /// Look at the running export a few times; once complete, its first page.
    pub(super) async fn poll_export(
        &self,
        query: &OrderQuery,
        id: &str,
    ) -> Result<OrderPage, ConnectorError> {
        for wait in LOOKS {
            let op = self.current_export().await?;
            let status = op
                .as_ref()
                .filter(|o| o["id"].as_str() == Some(id))
                .and_then(|o| o["status"].as_str())
                .unwrap_or("REPLACED");
            match status {
                "CREATED" | "RUNNING" => tokio::time::sleep(wait).await,
                "COMPLETED" => {
                    let url = op.as_ref().and_then(|o| o["url"].as_str());
                    tracing::info!(channel = %self.http.label(), operation = id,
                        objects = op.as_ref().and_then(|o| o["objectCount"].as_str()).unwrap_or("0"),
                        "bulk export completed");
                    // No URL: nothing matched.
                    return match url {
                        None => Ok(OrderPage::default()),
                        Some(url) => self.export_page(query, 0, url).await,
                    };
                }
                other => {
                    let code = op.as_ref().and_then(|o| o["errorCode"].as_str());
                    tracing::warn!(channel = %self.http.label(), operation = id, status = other,
                        error_code = code.unwrap_or(""), "bulk export did not complete; paging instead");
                    return self.orders_page(query, None).await;
                }
            }
        }
        Ok(step(&Token::Export(id.to_owned())))
    }

    /// Up to [`BULK_PAGE`] orders of an export's result from `offset`.
    pub(super) async fn export_page(
        &self,
        query: &OrderQuery,
        offset: u64,
        url: &str,
    ) -> Result<OrderPage, ConnectorError> {
        let mut buf = Vec::new();
        let mut groups = Groups::default();
        let eof = loop {
            let from = offset + buf.len() as u64;
            let (chunk, total) = self.read_range(url, from).await?;
            buf.extend_from_slice(&chunk);
            let eof = chunk.is_empty() || offset + buf.len() as u64 >= total;
            match groups.parse(&buf, eof).map_err(|e| self.malformed(e))? {
                Ok(()) => {}
                Err(NotGrouped) => {
                    tracing::warn!(channel = %self.http.label(), "bulk result not grouped by order; paging instead");
                    return self.orders_page(query, None).await;
                }
            }
            // The last order read may have more lines in the next chunk.
            if eof || groups.orders.len() > BULK_PAGE {
                break eof;
            }
            if buf.len() > MAX_PAGE_BYTES {
                return Err(self.malformed("a bulk result page over 64 MiB"));
            }
        };
        let complete = if eof {
            groups.orders.len()
        } else {
            groups.orders.len().saturating_sub(1)
        };
        let take = complete.min(BULK_PAGE);
        let next_start = groups.orders.get(take).map(|(start, _, _)| *start);
        let mut page = OrderPage::default();
        for (_, mut raw, lines) in groups.orders.into_iter().take(take) {
            raw["lineItems"] = json!({ "nodes": lines, "pageInfo": { "hasNextPage": false } });
            let mapped = map::order(self.http.label(), &raw);
            let id = raw["id"].as_str().map(|g| map::legacy_id(g).to_owned());
            page.add(raw, id, mapped);
        }
        page.next_page = next_start.and_then(|start| {
            Token::File {
                offset: offset + start as u64,
                url: url.to_owned(),
            }
            .render()
        });
        Ok(page)
    }

    /// Up to [`CHUNK`] bytes of a result from `from`, and the file's size.
    /// The link is signed: no credentials go with it.
    async fn read_range(&self, url: &str, from: u64) -> Result<(Vec<u8>, u64), ConnectorError> {
        let req =
            HttpRequest::get(url).header("range", format!("bytes={from}-{}", from + CHUNK - 1));
        let resp = self.http.send(&req).await?;
        match resp.status {
            206 => {
                let total = resp
                    .header("content-range")
                    .and_then(|r| r.rsplit_once('/'))
                    .and_then(|(_, t)| t.trim().parse().ok())
                    .ok_or_else(|| self.malformed("206 without a Content-Range size"))?;
                Ok((resp.body, total))
            }
            // The whole file, the range ignored.
            200 => {
                let total = resp.body.len() as u64;
                let from = usize::try_from(from)
                    .unwrap_or(usize::MAX)
                    .min(resp.body.len());
                Ok((resp.body[from..].to_vec(), total))
            }
            other => Err(self.malformed(format!("bulk result answered {other}"))),
        }
    }
}

/// The bulk query of the orders changed since the window's start.
fn export_document(query: &OrderQuery) -> String {
    let search = Value::String(search_since(query.updated_since)).to_string();
    BULK_ORDERS.replacen("SEARCH", &search, 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_cursors_pass_through() {
        for t in [
            Token::Export("gid://shopify/BulkOperation/7".into()),
            Token::File {
                offset: 1234,
                url: "https://storage.example/a:b?sig=x".into(),
            },
            Token::Page(Some("eyJsYXN0X2lkIjoxfQ==")),
        ] {
            let s = t.render();
            assert_eq!(Token::parse(s.as_deref()), t);
        }
        assert_eq!(Token::parse(None), Token::Page(None));
    }

    #[test]
    fn lines_group_under_their_order_and_a_stray_line_is_noticed() {
        let file = b"{\"id\":\"o1\"}\n{\"id\":\"l1\",\"__parentId\":\"o1\"}\n{\"id\":\"o2\"}\n{\"id\":\"l2\",\"__parent";
        let mut g = Groups::default();
        g.parse(file, false).unwrap().unwrap();
        assert_eq!(g.orders.len(), 2);
        assert_eq!(g.orders[0].2, vec![json!({ "id": "l1" })]);
        assert_eq!(g.orders[1].0, 42, "where the second order starts");
        let stray = b"{\"id\":\"o1\"}\n{\"id\":\"o2\"}\n{\"id\":\"l1\",\"__parentId\":\"o1\"}\n";
        let mut g = Groups::default();
        assert!(g.parse(stray, true).unwrap().is_err());
        assert!(Groups::default().parse(b"{oops\n", true).is_err());
    }
}
