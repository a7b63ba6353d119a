//! The accounting connectors against the Xero and Sage simulators: tokens
//! rotate, contacts are matched or made, documents are booked once (even
//! when asked twice, or when a fifth of the calls fail), credit notes are
//! allocated to their invoice, refusals come back in the package's words,
//! and every answer of the simulators follows the published contract.

use std::collections::BTreeSet;

use chrono::Utc;
use secrecy::ExposeSecret;
use serde_json::{Value, json};
use switchyard_connectors::ConnectorError;
use switchyard_connectors::accounting::{
    AccountingClient, Booked, Credentials, PushError, SyncDocument,
};
use switchyard_domain::accounting::{AccountingKind, AccountingSettings};
use switchyard_domain::invoice::{
    Document, DocumentKind, InvoiceSettings, build_invoice, plan_credit_note,
};
use switchyard_domain::order::{
    Address, ChannelFulfilment, Customer, OrderState, PaymentStatus, UnifiedOrder, UnifiedOrderLine,
};
use switchyard_domain::values::{CountryCode, Currency};
use switchyard_sim::{Channel, Faults, RunningSim, SimOptions};

use crate::{Control, policy, shipped_spec, unshipped_spec};

async fn sim(kind: AccountingKind) -> RunningSim {
    let channel = match kind {
        AccountingKind::Xero => Channel::Xero,
        AccountingKind::Sage => Channel::Sage,
    };
    switchyard_sim::spawn(channel, &SimOptions::default())
        .await
        .unwrap()
}

fn settings(kind: AccountingKind) -> AccountingSettings {
    let (sales, shipping) = match kind {
        AccountingKind::Xero => ("200", "260"),
        AccountingKind::Sage => ("4000", "4900"),
    };
    serde_json::from_value(json!({ "sales_account": sales, "shipping_account": shipping })).unwrap()
}

fn client(kind: AccountingKind, s: &RunningSim, settings: AccountingSettings) -> AccountingClient {
    let creds: Credentials = serde_json::from_value(s.credentials.clone()).unwrap();
    AccountingClient::new(kind, Some(&s.base_url()), creds, settings, policy()).unwrap()
}

/// An order of `buyer` with two lines and shipping, 20 % tax on top.
fn invoice(n: usize, buyer: &str) -> Document {
    let t = Utc::now();
    let line = |i: usize, sku: &str, q: i64, price: i64| UnifiedOrderLine {
        channel_line_id: format!("L{i}"),
        sku: Some(sku.into()),
        title: format!("Item {sku}"),
        quantity: q,
        unit_price: price,
        tax: (price * q + 2) / 5,
        discount: 0,
        flags: vec![],
    };
    let lines = vec![
        line(0, "MUG-1", 2, 1250),
        line(1, "CAP-2", 1, 999 + n as i64),
    ];
    let tax_lines: i64 = lines.iter().map(|l| l.tax).sum();
    let sub: i64 = lines.iter().map(|l| l.unit_price * l.quantity).sum();
    let order = UnifiedOrder {
        channel_order_id: format!("{n}"),
        number: format!("#{}", 1000 + n),
        payment_status: PaymentStatus::Paid,
        fulfilment: ChannelFulfilment::Unfulfilled,
        cancelled: false,
        created_at: t,
        updated_at: t,
        currency: Currency::parse("GBP").unwrap(),
        total: sub + 395 + tax_lines + 79,
        tax_total: tax_lines + 79,
        shipping_total: 395,
        discount_total: 0,
        customer: Customer {
            name: Some(buyer.into()),
            email: Some(format!(
                "{}@example.com",
                buyer.to_lowercase().replace(' ', ".")
            )),
            phone: None,
        },
        shipping_address: Address {
            name: Some(buyer.into()),
            country: Some(CountryCode::parse("GB").unwrap()),
            ..Address::default()
        },
        billing_address: Address::default(),
        shipping_method: Some("Royal Mail".into()),
        lines,
        tags: vec![],
    };
    let d = build_invoice(
        &order,
        OrderState::Open,
        "ch_x",
        &InvoiceSettings::defaults(),
    )
    .unwrap();
    assert_eq!(d.gross, order.total, "the fixture adds up");
    d
}

fn doc<'a>(
    id: &'a str,
    kind: DocumentKind,
    number: &'a str,
    d: &'a Document,
    credits: Option<(&'a str, &'a str)>,
) -> SyncDocument<'a> {
    SyncDocument {
        id,
        kind,
        number,
        document: d,
        issued_at: Utc::now(),
        credits,
    }
}

fn cents(v: &Value) -> i64 {
    (v.as_f64().unwrap() * 100.0).round() as i64
}

async fn books_and_credits_once(kind: AccountingKind) {
    let s = sim(kind).await;
    let ctl = Control::new(&s);
    let mut c = client(kind, &s, settings(kind));
    let first = c.credentials().refresh_token.expose_secret().to_owned();
    let rotated = c
        .session(Utc::now())
        .await
        .unwrap()
        .expect("a first session refreshes");
    assert_ne!(
        rotated.refresh_token.expose_secret(),
        first,
        "the refresh token rotates"
    );
    assert!(rotated.tenant.is_some());
    assert!(
        c.session(Utc::now()).await.unwrap().is_none(),
        "a live token is kept"
    );
    // The used refresh token no longer works.
    let mut stale = client(kind, &s, settings(kind));
    assert!(matches!(
        stale.session(Utc::now()).await,
        Err(ConnectorError::Auth { .. })
    ));

    let d1 = invoice(1, "Ada Lovelace");
    let a = c
        .push(&doc("inv_1", DocumentKind::Invoice, "INV-00001", &d1, None))
        .await
        .unwrap();
    // Asked again (a retry after a lost answer): the same document.
    let again = c
        .push(&doc("inv_1", DocumentKind::Invoice, "INV-00001", &d1, None))
        .await
        .unwrap();
    assert_eq!(again, a);
    let d2 = invoice(2, "Ada Lovelace");
    c.push(&doc("inv_2", DocumentKind::Invoice, "INV-00002", &d2, None))
        .await
        .unwrap();
    let books = ctl.get("/_sim/books").await;
    let invoices = books["invoices"].as_array().unwrap();
    assert_eq!(invoices.len(), 2);
    assert_eq!(
        books["contacts"].as_array().unwrap().len(),
        1,
        "the buyer is matched by email"
    );
    let (total_key, ref_key) = match kind {
        AccountingKind::Xero => ("Total", "InvoiceNumber"),
        AccountingKind::Sage => ("total_amount", "reference"),
    };
    assert_eq!(invoices[0][ref_key], "INV-00001");
    assert_eq!(cents(&invoices[0][total_key]), d1.gross, "{}", invoices[0]);

    // A full credit note, allocated to the invoice.
    let plan = plan_credit_note(&d1, &[], None, Some("cancelled".into())).unwrap();
    let cn = c
        .push(&doc(
            "inv_3",
            DocumentKind::CreditNote,
            "CN-00001",
            &plan.document,
            Some((&a.remote_id, "INV-00001")),
        ))
        .await
        .unwrap();
    // Asked again: no second credit note, no second allocation.
    let cn_again = c
        .push(&doc(
            "inv_3",
            DocumentKind::CreditNote,
            "CN-00001",
            &plan.document,
            Some((&a.remote_id, "INV-00001")),
        ))
        .await
        .unwrap();
    assert_eq!(cn, cn_again);
    let books = ctl.get("/_sim/books").await;
    assert_eq!(books["credit_notes"].as_array().unwrap().len(), 1);
    assert_eq!(books["allocations"].as_array().unwrap().len(), 1);
    let due = match kind {
        AccountingKind::Xero => cents(&books["invoices"][0]["AmountDue"]),
        AccountingKind::Sage => cents(&books["invoices"][0]["outstanding_amount"]),
    };
    assert_eq!(due, 0, "the credit note pays the invoice off");

    // Refusals come back in the package's words.
    // The simulator's first refresh token is used; this client takes the
    // rotated one.
    let mut b = {
        let mut creds = c.credentials().clone();
        creds.access_token = None;
        let mut settings = settings(kind);
        settings.sales_account = "999".into();
        AccountingClient::new(kind, Some(&s.base_url()), creds, settings, policy()).unwrap()
    };
    b.session(Utc::now()).await.unwrap();
    let d4 = invoice(4, "Grace Hopper");
    let e = b
        .push(&doc("inv_4", DocumentKind::Invoice, "INV-00004", &d4, None))
        .await
        .unwrap_err();
    let PushError::Refused(msg) = e else {
        panic!("{e:?}")
    };
    match kind {
        AccountingKind::Xero => assert!(
            msg.contains("Account code '999' is not a valid code"),
            "{msg}"
        ),
        AccountingKind::Sage => assert!(msg.contains("nominal code 999"), "{msg}"),
    }
}

#[tokio::test]
async fn xero_books_each_document_once_and_allocates_credit_notes() {
    books_and_credits_once(AccountingKind::Xero).await;
}

#[tokio::test]
async fn sage_books_each_document_once_and_allocates_credit_notes() {
    books_and_credits_once(AccountingKind::Sage).await;
}

/// Push `d` until it is booked (at most 40 attempts); a refusal fails the
/// test.
async fn until_booked(c: &AccountingClient, d: &SyncDocument<'_>) -> Booked {
    for _ in 0..40 {
        match c.push(d).await {
            Ok(b) => return b,
            Err(PushError::Refused(m)) => panic!("{} refused: {m}", d.number),
            Err(PushError::Connector(_)) => {}
        }
    }
    panic!("{} not booked within 40 attempts", d.number);
}

/// INV-00001 booked, and CN-00001 crediting it in full; the invoice as
/// booked.
async fn invoice_and_credit(c: &AccountingClient) -> Booked {
    let d = invoice(1, "Ada Lovelace");
    let a = c
        .push(&doc("inv_1", DocumentKind::Invoice, "INV-00001", &d, None))
        .await
        .unwrap();
    let plan = plan_credit_note(&d, &[], None, None).unwrap();
    c.push(&doc(
        "inv_2",
        DocumentKind::CreditNote,
        "CN-00001",
        &plan.document,
        Some((&a.remote_id, "INV-00001")),
    ))
    .await
    .unwrap();
    a
}

/// A fifth of the calls fail (429 with `Retry-After`, 5xx, answers lost
/// after the package acted, malformed answers): every document is pushed
/// until it is booked, and each is there exactly once.
async fn faults_lose_and_duplicate_nothing(kind: AccountingKind) {
    let s = sim(kind).await;
    let ctl = Control::new(&s);
    let mut c = client(kind, &s, settings(kind));
    c.session(Utc::now()).await.unwrap();
    ctl.faults(&Faults::spread(0.2, 1, 1500)).await;
    let buyers = [
        "Ada Lovelace",
        "Grace Hopper",
        "Alan Turing",
        "Edsger Dijkstra",
    ];
    let docs: Vec<(String, String, Document)> = (1..=8)
        .map(|n| {
            (
                format!("inv_{n}"),
                format!("INV-{n:05}"),
                invoice(n, buyers[n % buyers.len()]),
            )
        })
        .collect();
    let mut remote = Vec::new();
    for (id, number, d) in &docs {
        remote.push(until_booked(&c, &doc(id, DocumentKind::Invoice, number, d, None)).await);
    }
    // Credit the first three in full.
    for (i, (id, number, d)) in docs.iter().take(3).enumerate() {
        let plan = plan_credit_note(d, &[], None, None).unwrap();
        let (cn_id, cn_number) = (format!("{id}-cn"), format!("CN-{:05}", i + 1));
        let credits = Some((remote[i].remote_id.as_str(), number.as_str()));
        until_booked(
            &c,
            &doc(
                &cn_id,
                DocumentKind::CreditNote,
                &cn_number,
                &plan.document,
                credits,
            ),
        )
        .await;
    }
    ctl.faults(&Faults::default()).await;
    let log = ctl.requests().await;
    assert!(
        log.iter().any(|e| e.fault.is_some()),
        "faults were injected"
    );
    let books = ctl.get("/_sim/books").await;
    let (num_key, cn_key) = match kind {
        AccountingKind::Xero => ("InvoiceNumber", "CreditNoteNumber"),
        AccountingKind::Sage => ("reference", "reference"),
    };
    let numbers: Vec<&str> = books["invoices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i[num_key].as_str().unwrap())
        .collect();
    let unique: BTreeSet<&str> = numbers.iter().copied().collect();
    assert_eq!(numbers.len(), 8, "{numbers:?}");
    assert_eq!(unique.len(), 8);
    let credits: Vec<&str> = books["credit_notes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i[cn_key].as_str().unwrap())
        .collect();
    assert_eq!(credits.len(), 3, "{credits:?}");
    assert_eq!(books["allocations"].as_array().unwrap().len(), 3);
    let emails: BTreeSet<&str> = books["contacts"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["EmailAddress"].as_str().or(c["email"].as_str()))
        .collect();
    assert_eq!(emails.len(), buyers.len(), "one contact per buyer");
}

#[tokio::test]
async fn xero_under_faults_books_every_document_exactly_once() {
    faults_lose_and_duplicate_nothing(AccountingKind::Xero).await;
}

#[tokio::test]
async fn sage_under_faults_books_every_document_exactly_once() {
    faults_lose_and_duplicate_nothing(AccountingKind::Sage).await;
}

// --- the published contracts -------------------------------------------------------

/// A YAML document as JSON.
fn yaml_json(y: &yaml_rust2::Yaml) -> Value {
    use yaml_rust2::Yaml;
    match y {
        Yaml::Real(r) => r.parse::<f64>().map(Value::from).unwrap_or(Value::Null),
        Yaml::Integer(i) => Value::from(*i),
        Yaml::String(s) => Value::from(s.clone()),
        Yaml::Boolean(b) => Value::from(*b),
        Yaml::Array(a) => Value::Array(a.iter().map(yaml_json).collect()),
        Yaml::Hash(h) => Value::Object(
            h.iter()
                .filter_map(|(k, v)| {
                    let k = match k {
                        Yaml::String(s) => s.clone(),
                        Yaml::Integer(i) => i.to_string(),
                        _ => return None,
                    };
                    Some((k, yaml_json(v)))
                })
                .collect(),
        ),
        _ => Value::Null,
    }
}

fn yaml_spec(rel: &str) -> Value {
    let text = std::fs::read_to_string(shipped_spec(rel)).unwrap();
    let docs = yaml_rust2::YamlLoader::load_from_str(&text).unwrap();
    yaml_json(&docs[0])
}

/// Every way `v` breaks `schema` (its `$ref`s resolved in `spec`): wrong
/// types, properties the schema does not list, required ones missing.
fn violations(spec: &Value, schema: &Value, v: &Value, at: &str, out: &mut Vec<String>) {
    if let Some(r) = schema["$ref"].as_str() {
        let target = r
            .trim_start_matches("#/")
            .split('/')
            .fold(spec, |node, part| &node[part]);
        return violations(spec, target, v, at, out);
    }
    if let Some(all) = schema["allOf"].as_array() {
        for s in all {
            violations(spec, s, v, at, out);
        }
        return;
    }
    if v.is_null() {
        return;
    }
    let ok = match schema["type"].as_str() {
        Some("integer") => v.is_i64() || v.is_u64(),
        Some("number") => v.is_number(),
        Some("string") => v.is_string(),
        Some("boolean") => v.is_boolean(),
        Some("array") => v.is_array(),
        Some("object") => v.is_object(),
        _ => true,
    };
    if !ok {
        out.push(format!("{at}: {v} is not a {}", schema["type"]));
        return;
    }
    if let (Some(allowed), Some(s)) = (schema["enum"].as_array(), v.as_str())
        && !allowed.iter().any(|a| a == s)
    {
        out.push(format!("{at}: `{s}` is not one of {allowed:?}"));
    }
    if let Some(items) = v.as_array() {
        for (i, item) in items.iter().enumerate() {
            violations(spec, &schema["items"], item, &format!("{at}[{i}]"), out);
        }
    }
    if let (Some(obj), Some(props)) = (v.as_object(), schema["properties"].as_object()) {
        for (k, val) in obj {
            match props.get(k) {
                Some(p) => violations(spec, p, val, &format!("{at}.{k}"), out),
                None if schema["additionalProperties"] != true => {
                    out.push(format!("{at}: `{k}` is not in the contract"));
                }
                None => {}
            }
        }
        for r in schema["required"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
        {
            if !obj.contains_key(r.as_str().unwrap_or("")) {
                out.push(format!("{at}: `{r}` is required"));
            }
        }
    }
}

fn assert_conforms(spec: &Value, schema: &Value, v: &Value, what: &str) {
    let mut out = Vec::new();
    violations(spec, schema, v, what, &mut out);
    assert!(
        out.is_empty(),
        "{what} breaks the contract:\n  {}",
        out.join("\n  ")
    );
}

/// Raw calls to a simulator with the client's live token.
struct Raw {
    base: String,
    token: String,
    tenant: (String, String),
    http: reqwest::Client,
}

impl Raw {
    async fn send(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut r = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .header(&self.tenant.0, &self.tenant.1);
        if let Some(b) = body {
            r = r.json(&b);
        }
        let r = r.send().await.unwrap();
        (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
    }
}

async fn raw(kind: AccountingKind, s: &RunningSim) -> (AccountingClient, Raw) {
    let mut c = client(kind, s, settings(kind));
    c.session(Utc::now()).await.unwrap();
    let creds = c.credentials().clone();
    let header = match kind {
        AccountingKind::Xero => "xero-tenant-id",
        AccountingKind::Sage => "x-business",
    };
    let r = Raw {
        base: s.base_url(),
        token: creds
            .access_token
            .as_ref()
            .unwrap()
            .expose_secret()
            .to_owned(),
        tenant: (header.to_owned(), creds.tenant.clone().unwrap()),
        http: reqwest::Client::new(),
    };
    (c, r)
}

#[tokio::test]
async fn every_xero_answer_follows_xeros_openapi_files() {
    let spec = yaml_spec("xero/xero_accounting.yaml");
    let identity = yaml_spec("xero/xero-identity.yaml");
    let schema = |name: &str| json!({ "$ref": format!("#/components/schemas/{name}") });
    let s = sim(AccountingKind::Xero).await;
    let (c, r) = raw(AccountingKind::Xero, &s).await;
    let a = invoice_and_credit(&c).await;
    use reqwest::Method as M;
    let (_, conns) = r.send(M::GET, "/connections", None).await;
    for (i, c) in conns.as_array().unwrap().iter().enumerate() {
        assert_conforms(
            &identity,
            &identity["components"]["schemas"]["Connection"],
            c,
            &format!("connections[{i}]"),
        );
    }
    for (path, name) in [
        ("/api.xro/2.0/Accounts", "Accounts"),
        ("/api.xro/2.0/TaxRates", "TaxRates"),
        ("/api.xro/2.0/Contacts", "Contacts"),
        ("/api.xro/2.0/Contacts?page=1", "Contacts"),
        ("/api.xro/2.0/Invoices?InvoiceNumbers=INV-00001", "Invoices"),
        ("/api.xro/2.0/Invoices?page=1", "Invoices"),
        ("/api.xro/2.0/CreditNotes", "CreditNotes"),
    ] {
        let (status, v) = r.send(M::GET, path, None).await;
        assert_eq!(status, 200, "{path}");
        assert_conforms(&spec, &schema(name), &v, path);
    }
    // Writes: created, refused per element, and refused as a whole.
    let contact =
        json!({ "Contacts": [{ "Name": "Barbara Liskov", "EmailAddress": "b@example.com" }] });
    let (_, v) = r
        .send(M::PUT, "/api.xro/2.0/Contacts", Some(contact.clone()))
        .await;
    assert_conforms(&spec, &schema("Contacts"), &v, "PUT Contacts");
    let (_, v) = r
        .send(
            M::PUT,
            "/api.xro/2.0/Contacts?summarizeErrors=false",
            Some(contact),
        )
        .await;
    assert_eq!(v["Contacts"][0]["HasValidationErrors"], true);
    assert_conforms(&spec, &schema("Contacts"), &v, "PUT Contacts (name taken)");
    let bad = json!({ "Invoices": [{ "Type": "ACCREC", "Contact": { "ContactID": "nobody" }, "LineItems": [] }] });
    let (_, v) = r
        .send(
            M::PUT,
            "/api.xro/2.0/Invoices?summarizeErrors=false",
            Some(bad.clone()),
        )
        .await;
    assert_eq!(v["Invoices"][0]["HasErrors"], true);
    assert_conforms(
        &spec,
        &schema("Invoices"),
        &v,
        "PUT Invoices (refused element)",
    );
    let (status, v) = r.send(M::PUT, "/api.xro/2.0/Invoices", Some(bad)).await;
    assert_eq!(status, 400);
    assert_eq!(v["Type"], "ValidationException");
    assert_conforms(&spec, &schema("Error"), &v, "400 ValidationException");
    let books = Control::new(&s).get("/_sim/books").await;
    let cn_id = books["credit_notes"][0]["CreditNoteID"].as_str().unwrap();
    let (_, v) = r
        .send(
            M::PUT,
            &format!("/api.xro/2.0/CreditNotes/{cn_id}/Allocations?summarizeErrors=false"),
            Some(json!({ "Allocations": [{ "Invoice": { "InvoiceID": a.remote_id }, "Amount": 1.0, "Date": "2026-12-07" }] })),
        )
        .await;
    assert_conforms(
        &spec,
        &schema("Allocations"),
        &v,
        "PUT Allocations (refused)",
    );
    for (i, alloc) in books["allocations"].as_array().unwrap().iter().enumerate() {
        assert_conforms(
            &spec,
            &schema("Allocation"),
            alloc,
            &format!("allocation[{i}]"),
        );
    }
}

#[tokio::test]
async fn every_sage_answer_follows_sages_swagger_files() {
    let Some(spec) = unshipped_spec("sage/swagger.full.json") else {
        return;
    };
    let Some(users) = unshipped_spec("sage/swagger.user_businesses.json") else {
        return;
    };
    let def = |name: &str| json!({ "$ref": format!("#/definitions/{name}") });
    let s = sim(AccountingKind::Sage).await;
    let (c, r) = raw(AccountingKind::Sage, &s).await;
    invoice_and_credit(&c).await;
    use reqwest::Method as M;
    let (_, businesses) = r.send(M::GET, "/v3.1/businesses", None).await;
    for (i, b) in businesses.as_array().unwrap().iter().enumerate() {
        assert_conforms(
            &users,
            &json!({ "$ref": "#/definitions/Business" }),
            b,
            &format!("businesses[{i}]"),
        );
    }
    // Lists answer Sage's envelope; each item follows its definition.
    for (path, name) in [
        ("/v3.1/contacts", "Contact"),
        ("/v3.1/ledger_accounts", "LedgerAccount"),
        ("/v3.1/tax_rates", "TaxRate"),
        ("/v3.1/sales_invoices", "SalesInvoice"),
        ("/v3.1/sales_credit_notes", "SalesCreditNote"),
    ] {
        let (status, v) = r.send(M::GET, path, None).await;
        assert_eq!(status, 200, "{path}");
        assert!(
            v["$total"].is_u64() && v["$items"].is_array(),
            "{path}: {v}"
        );
        for (i, item) in v["$items"].as_array().unwrap().iter().enumerate() {
            assert_conforms(&spec, &def(name), item, &format!("{path} $items[{i}]"));
        }
    }
    let (status, v) = r
        .send(M::POST, "/v3.1/contacts", Some(json!({ "contact": { "name": "Barbara Liskov", "contact_type_ids": ["CUSTOMER"] } })))
        .await;
    assert_eq!(status, 201);
    assert_conforms(&spec, &def("Contact"), &v, "POST contacts");
    let books = Control::new(&s).get("/_sim/books").await;
    for (i, alloc) in books["allocations"].as_array().unwrap().iter().enumerate() {
        assert_conforms(
            &spec,
            &def("ContactAllocation"),
            alloc,
            &format!("allocation[{i}]"),
        );
    }
    // A refusal is Sage's list of errors.
    let (status, v) = r
        .send(
            M::POST,
            "/v3.1/sales_invoices",
            Some(json!({ "sales_invoice": { "date": "2026-12-07", "invoice_lines": [] } })),
        )
        .await;
    assert_eq!(status, 422);
    let first = &v[0];
    assert_eq!(first["$severity"], "error");
    assert_eq!(first["$dataCode"], "RecordInvalid");
    assert!(
        first["$message"].is_string() && first["$source"].is_string(),
        "{v}"
    );
}
