#!/usr/bin/env python3
"""Verify recorded webhook deliveries with the official Standard Webhooks
library (`pip install standardwebhooks`), not with Switchyard's own code.

Input: a JSON file {"secret": "whsec_...", "deliveries": [{"headers": {...},
"body": "<raw body>"}]}. Prints the verified event types as a JSON list;
exits 1 at the first delivery that does not verify.
"""
import json
import sys

from standardwebhooks.webhooks import Webhook, WebhookVerificationError


def main() -> int:
    with open(sys.argv[1], encoding="utf-8") as f:
        spec = json.load(f)
    wh = Webhook(spec["secret"])
    types = []
    for i, d in enumerate(spec["deliveries"]):
        try:
            payload = wh.verify(d["body"], d["headers"])
        except WebhookVerificationError as e:
            print(f"delivery {i} ({d['headers'].get('webhook-id')}) does not verify: {e}", file=sys.stderr)
            return 1
        types.append(payload["type"])
    print(json.dumps(types))
    return 0


if __name__ == "__main__":
    sys.exit(main())
