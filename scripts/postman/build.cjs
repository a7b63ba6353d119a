// Build the Postman collection (v2.1) from the OpenAPI document:
//   node scripts/postman/build.cjs docs/openapi.json > docs/switchyard.postman_collection.json
// (scripts/postman/build installs the converter and runs this). Requests
// are in folders by tag, with the document's examples (recorded from a real
// run, crates/api/examples.json) as bodies and saved answers; the
// collection has `baseUrl`, `bearerToken` and `simUrl` variables, bearer
// auth, and the "Getting started" folder first. The output is stable:
// the same document gives the same file.
"use strict";

const fs = require("fs");

// The converter fills example values with a random generator: seeded here,
// so that the same document always gives the same file.
let seed = 27;
Math.random = () => {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};
// …and makes dates around "now": a fixed now.
const FIXED_NOW = Date.UTC(2026, 0, 1);
const RealDate = Date;
global.Date = class extends RealDate {
  constructor(...args) {
    super(...(args.length ? args : [FIXED_NOW]));
  }
  static now() {
    return FIXED_NOW;
  }
};
const Converter = require("openapi-to-postmanv2");

// Path parameters the Getting started folder fills in.
const KNOWN = {
  store_id: "{{storeId}}",
  channel_id: "{{channelId}}",
  order_id: "{{orderId}}",
  fulfilment_id: "{{fulfilmentId}}",
};

const doc = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));

// Nullable fields are left out of example bodies rather than sent as the
// converter's "<null>" placeholders.
function clean(v) {
  if (Array.isArray(v)) return v.map(clean).filter((x) => x !== "<null>");
  if (v && typeof v === "object") {
    const out = {};
    for (const [k, x] of Object.entries(v)) {
      if (x === "<null>" || x === null) continue;
      out[k] = clean(x);
    }
    return out;
  }
  return v;
}

// Each operation's request example, by method and Postman path
// (`POST /v1/stores/:store_id/products`): the converter uses the schema
// for many bodies even when the document has an example.
const EXAMPLES = {};
for (const [path, ops] of Object.entries(doc.paths)) {
  for (const [method, op] of Object.entries(ops)) {
    const content = op.requestBody && op.requestBody.content && op.requestBody.content["application/json"];
    if (content && content.example !== undefined) {
      EXAMPLES[`${method.toUpperCase()} ${path.replace(/\{([^}]+)\}/g, ":$1")}`] = content.example;
    }
  }
}

function walk(item) {
  delete item.id;
  if (item.item) item.item.forEach(walk);
  const body = item.request && item.request.body;
  const url = item.request && item.request.url;
  const key = url && typeof url === "object" && `${item.request.method} /${(url.path || []).join("/")}`;
  if (body && body.mode === "raw" && key && EXAMPLES[key] !== undefined) {
    body.raw = JSON.stringify(EXAMPLES[key], null, 2);
  } else if (body && body.mode === "raw" && body.raw) {
    try {
      body.raw = JSON.stringify(clean(JSON.parse(body.raw)), null, 2);
    } catch (_) {
      // Not JSON (a PDF answer's example): kept as it is.
    }
  }
  // Saved answers: the successful ones (the error envelope is one shape,
  // described in the document).
  if (item.response) {
    item.response = item.response.filter((r) => r.code < 300);
    item.response.forEach((r) => {
      delete r.id;
      if (r.originalRequest) {
        delete r.originalRequest.id;
        // The saved answer was given to the example request, not to the
        // converter's placeholders.
        if (item.request.body) r.originalRequest.body = item.request.body;
        if (item.request.url) r.originalRequest.url = item.request.url;
      }
    });
  }
  if (url && typeof url === "object") {
    // Optional query parameters start switched off, so that every request
    // runs as it is once baseUrl and bearerToken are set.
    (url.query || []).forEach((q) => {
      const required = q.description && String(q.description.content || q.description).startsWith("(Required)");
      if (!required) q.disabled = true;
    });
    (url.variable || []).forEach((v) => {
      if (KNOWN[v.key]) v.value = KNOWN[v.key];
    });
  }
  // A fresh key for every send (Postman's `{{$guid}}`): a retry of one send
  // is what the key is for, not every request of the operation.
  [item.request, ...(item.response || []).map((r) => r.originalRequest)].forEach((req) => {
    ((req && req.header) || []).forEach((h) => {
      if (h.key === "Idempotency-Key") h.value = "{{$guid}}";
    });
  });
  if (item.request && item.request.auth && item.request.auth.type === "bearer") {
    delete item.request.auth; // inherited from the collection
  }
}

Converter.convert(
  { type: "json", data: doc },
  { folderStrategy: "Tags", parametersResolution: "Example", includeAuthInfoInExample: false },
  (err, result) => {
    if (err || !result.result) {
      console.error("conversion failed:", err || result.reason);
      process.exit(1);
    }
    const collection = result.output[0].data;
    collection.info._postman_id = "6d1f3c1e-2b7a-4d0e-9a61-5357c4a1e027";
    collection.info.description =
      "The Switchyard API, generated from docs/openapi.json. Set `baseUrl` (your instance) and `bearerToken` (an API token, `sy_…`); `simUrl` is a Shopify simulator (`switchyard sim shopify`) for the Getting started folder.";
    collection.variable = [
      { key: "baseUrl", value: "http://127.0.0.1:8080", type: "string" },
      { key: "bearerToken", value: "", type: "string" },
      { key: "simUrl", value: "http://127.0.0.1:8801", type: "string" },
    ];
    collection.auth = { type: "bearer", bearer: [{ key: "token", value: "{{bearerToken}}", type: "string" }] };
    collection.item.forEach(walk);
    collection.item.unshift(require("./getting-started.cjs"));
    process.stdout.write(JSON.stringify(collection, null, 2) + "\n");
  },
);
