// The "Getting started" folder of the Postman collection: a store from
// nothing to a shipped order, each request's test script checking the
// answer and keeping the ids the next request needs. Run it with newman
// (scripts/contract does, against a live demo and a Shopify simulator):
//   newman run docs/switchyard.postman_collection.json --folder "Getting started" \
//     --env-var baseUrl=http://127.0.0.1:8080 --env-var bearerToken=sy_... \
//     --env-var simUrl=http://127.0.0.1:8801
"use strict";

const json = (body) => ({
  mode: "raw",
  raw: JSON.stringify(body, null, 2),
  options: { raw: { language: "json" } },
});

const url = (path) => ({
  raw: `{{baseUrl}}${path}`,
  host: ["{{baseUrl}}"],
  path: path.replace(/^\//, "").split("?")[0].split("/"),
  query: (path.split("?")[1] || "")
    .split("&")
    .filter(Boolean)
    .map((kv) => ({ key: kv.split("=")[0], value: kv.split("=")[1] })),
});

const request = (name, method, path, body, test, pre) => ({
  name,
  event: [
    ...(pre ? [{ listen: "prerequest", script: { type: "text/javascript", exec: pre.split("\n") } }] : []),
    { listen: "test", script: { type: "text/javascript", exec: test.split("\n") } },
  ],
  request: {
    method,
    header: body ? [{ key: "Content-Type", value: "application/json" }] : [],
    url: typeof path === "string" ? url(path) : path,
    ...(body ? { body: json(body) } : {}),
  },
});

// Ask again (at most `tries` times, 250 ms apart) until `done` holds.
const poll = (done, tries, onDone) => `
const n = Number(pm.collectionVariables.get("tries") || 0);
const body = pm.response.json();
if (${done}) {
    pm.collectionVariables.set("tries", 0);
    ${onDone}
} else if (n < ${tries}) {
    pm.collectionVariables.set("tries", n + 1);
    setTimeout(() => {}, 250);
    pm.execution.setNextRequest(pm.info.requestName);
} else {
    pm.test("gave up waiting after ${tries} tries", () => pm.expect.fail(JSON.stringify(body)));
}`;

const steps = [
  request("Create a store", "POST", "/v1/stores", { name: "Getting started" }, `
pm.test("201 Created", () => pm.response.to.have.status(201));
const store = pm.response.json();
pm.test("a store id", () => pm.expect(store.id).to.match(/^st_/));
pm.collectionVariables.set("storeId", store.id);`),
  request("Create a product", "POST", "/v1/stores/{{storeId}}/products",
    { sku: "SKU-00001", title: "Enamel T-Shirt", price: { amount: 11499, currency: "GBP" } }, `
pm.test("201 Created", () => pm.response.to.have.status(201));
pm.test("the SKU", () => pm.expect(pm.response.json().sku).to.eql("SKU-00001"));`),
  request("Create a second product", "POST", "/v1/stores/{{storeId}}/products",
    { sku: "SKU-00002", title: "Canvas Tote" }, `
pm.test("201 Created", () => pm.response.to.have.status(201));`),
  request("Create a kit of both", "POST", "/v1/stores/{{storeId}}/products",
    { sku: "SKU-00003", title: "Gift set", components: [{ sku: "SKU-00001", quantity: 1 }, { sku: "SKU-00002", quantity: 2 }] }, `
pm.test("201 Created", () => pm.response.to.have.status(201));
pm.test("a kit of two components", () => pm.expect(pm.response.json().components).to.have.length(2));`),
  request("Set stock", "POST", "/v1/stores/{{storeId}}/stock",
    { items: [{ sku: "SKU-00001", quantity: 10 }, { sku: "SKU-00002", quantity: 6 }] }, `
pm.test("200 OK", () => pm.response.to.have.status(200));`),
  request("Connect the Shopify simulator, holding 1 back", "POST", "/v1/stores/{{storeId}}/channels",
    { name: "Shopify", kind: "shopify", base_url: "{{simUrl}}",
      credentials: { access_token: "shpat_sim00000000000000000000001", api_secret_key: "shpss_sim00000000000000000000001" },
      stock_rules: { buffer: 1 } }, `
pm.test("201 Created", () => pm.response.to.have.status(201));
const ch = pm.response.json();
pm.test("the buffer rule", () => pm.expect(ch.stock_rules.buffer).to.eql(1));
pm.collectionVariables.set("channelId", ch.id);`),
  request("Explain the kit's stock", "GET", "/v1/stores/{{storeId}}/stock/SKU-00003/explain", null, `
pm.test("200 OK", () => pm.response.to.have.status(200));
const e = pm.response.json();
// 10 T-shirts and 6 totes make min(10/1, 6/2) = 3 gift sets.
pm.test("3 kits available", () => pm.expect(e.available).to.eql(3));
pm.test("the channel shows 3 - 1 = 2", () => {
    const c = e.listings.find((c) => c.channel_id === pm.collectionVariables.get("channelId"));
    pm.expect(c, JSON.stringify(e)).to.be.an("object");
    pm.expect(c.quantity, c.summary).to.eql(2);
});`),
  request("A customer buys on Shopify (simulator)", "POST",
    { raw: "{{simUrl}}/_sim/orders", host: ["{{simUrl}}"], path: ["_sim", "orders"] },
    { lines: [{ sku: "SKU-00001", quantity: 1 }] }, `
pm.test("the simulator took the order", () => pm.response.to.be.success);
pm.collectionVariables.set("channelOrderId", pm.response.json().legacyResourceId);`),
  request("See the order arrive", "GET", "/v1/orders?store_id={{storeId}}", null,
    poll("body.items && body.items.length === 1", 80, `
    pm.test("one order, open", () => pm.expect(body.items[0].state).to.eql("open"));
    pm.collectionVariables.set("orderId", body.items[0].id);`)),
  request("Read the order in the unified format", "GET", "/v1/orders/{{orderId}}", null, `
pm.test("200 OK", () => pm.response.to.have.status(200));
const o = pm.response.json();
pm.test("the unified order", () => {
    pm.expect(o.unified.channel_order_id).to.eql(pm.collectionVariables.get("channelOrderId"));
    pm.expect(o.unified.lines[0].sku).to.eql("SKU-00001");
    pm.expect(o.unified.currency).to.match(/^[A-Z]{3}$/);
});`),
  request("Ship it", "POST", "/v1/orders/{{orderId}}/fulfilments",
    { tracking: [{ number: "1Z999AA10123456784" }] }, `
pm.test("201 Created", () => pm.response.to.have.status(201));
const f = pm.response.json();
pm.test("UPS, from the number", () => pm.expect(f.carrier).to.eql("ups"));
pm.collectionVariables.set("fulfilmentId", f.id);`),
  request("See the shipment synced to Shopify", "GET", "/v1/fulfilments/{{fulfilmentId}}", null,
    poll('body.sync && body.sync.state === "synced"', 80, `
    pm.test("synced to the channel", () => pm.expect(body.sync.channel_fulfilment_id).to.be.a("string"));`)),
];

module.exports = {
  name: "Getting started",
  description:
    "From nothing to a shipped order: a store, products and a kit, stock, a Shopify channel (the simulator at `simUrl`: `switchyard sim shopify`) with a buffer rule, the kit's explanation, an order placed on the simulator, its shipment and the sync back. Run the folder in order; each request keeps the ids the next one needs.",
  item: steps,
};
