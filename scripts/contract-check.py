"""Checks, for scripts/contract, what schemathesis does not reach:

1. every event in the journals of a live server's stores (a demo that made
   products, kits, stock, channels, orders, fulfilments, a plugin and a
   webhook) against the document's `EventOut`;
2. every example the document embeds (request bodies and answers) against
   the schema it illustrates.

    python contract-check.py BASE_URL TOKEN docs/openapi.json

Uses jsonschema_rs, which schemathesis brings. Exits 1 on the first
kind of failure, after listing every failure of that kind.
"""

import json
import sys
import urllib.parse
import urllib.request

import jsonschema_rs


def validator(doc, ref):
    schema = dict(doc)
    schema["$ref"] = ref
    return jsonschema_rs.validator_for(schema, validate_formats=True)


def get(base, token, path):
    req = urllib.request.Request(
        base + path, headers={"Authorization": f"Bearer {token}"}
    )
    with urllib.request.urlopen(req, timeout=20) as r:
        return json.load(r)


def errors(v, instance):
    out = []
    for e in v.iter_errors(instance):
        where = "/".join(map(str, e.instance_path)) or "(the whole value)"
        message = e.message if len(e.message) < 300 else e.message[:300] + " …"
        out.append(f"{where}: {message}")
    return out


def journal_events(base, token, doc):
    v = validator(doc, "#/components/schemas/EventOut")
    failures, count, kinds = [], 0, set()
    stores, cursor = [], None
    while True:
        q = "?limit=1000" + (f"&cursor={urllib.parse.quote(cursor)}" if cursor else "")
        page = get(base, token, "/v1/stores" + q)
        stores += page["items"]
        cursor = page.get("next_cursor")
        if not cursor:
            break
    for store in stores:
        after = 0
        while True:
            page = get(base, token, f"/v1/stores/{store['id']}/journal?limit=1000&after={after}")
            for ev in page["items"]:
                count += 1
                kinds.add(ev["type"])
                for e in errors(v, ev):
                    failures.append(f"{ev['type']} (seq {ev['seq']}) {e}")
            if page.get("next_after") is None:
                break
            after = page["next_after"]
    return count, kinds, failures


def examples(doc):
    failures, count = [], 0
    for path, item in doc["paths"].items():
        for method, op in item.items():
            if not isinstance(op, dict) or "responses" not in op:
                continue
            name = op.get("operationId", f"{method} {path}")
            bodies = []
            media = op.get("requestBody", {}).get("content", {}).get("application/json", {})
            if "example" in media:
                bodies.append(("request", media["schema"], media["example"]))
            for status, resp in op["responses"].items():
                media = resp.get("content", {}).get("application/json", {})
                if "example" in media:
                    bodies.append((status, media["schema"], media["example"]))
            for where, schema, example in bodies:
                count += 1
                s = dict(doc)
                s.update(schema)
                v = jsonschema_rs.validator_for(s, validate_formats=True)
                for e in errors(v, example):
                    failures.append(f"{name} {where}: {e}")
    return count, failures


def main():
    base, token, path = sys.argv[1:4]
    with open(path) as f:
        doc = json.load(f)
    count, kinds, failures = journal_events(base, token, doc)
    print(f"contract-check: {count} journal events of {len(kinds)} types checked")
    if failures:
        print("\n".join(failures[:200]), file=sys.stderr)
        print(f"contract-check: {len(failures)} journal events differ from EventOut", file=sys.stderr)
        sys.exit(1)
    count, failures = examples(doc)
    print(f"contract-check: {count} examples checked")
    if failures:
        print("\n".join(failures[:200]), file=sys.stderr)
        print(f"contract-check: {len(failures)} examples differ from their schemas", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
