// Compiled by scripts/contract against the types openapi-typescript
// generates from docs/openapi.json: a client reading the unified order gets
// real types, not untyped maps. The @ts-expect-error lines fail the build
// if a field loses its type (an `any` accepts everything).
import type { components, paths } from "./generated";

type OrderOut = components["schemas"]["OrderOut"];
type GetOrder =
  paths["/v1/orders/{order_id}"]["get"]["responses"]["200"]["content"]["application/json"];

export function describe(order: GetOrder): string {
  const o: OrderOut = order;
  const unified = o.unified;
  if (!unified) {
    return `${o.number}: ${o.state}`;
  }
  const lines = unified.lines.map(
    (l) => `${l.quantity} x ${l.sku ?? "(no SKU)"} at ${l.unit_price} ${unified.currency}`,
  );
  const country: string | null | undefined = unified.shipping_address.country;
  const state: "open" | "on_hold" | "excluded" | "cancelled" | "partially_fulfilled" | "fulfilled" =
    o.state;
  const tracking = o.fulfilments.flatMap((f) => f.tracking.map((t) => t.number));
  // @ts-expect-error a unit price is minor units, a number
  const wrong: string = unified.lines[0].unit_price;
  // @ts-expect-error the unified order has no such field
  const missing = unified.grand_total;
  // @ts-expect-error an order's state is one of the documented states
  const bad: typeof o.state = "shipped";
  return [o.id, state, country, unified.total, ...lines, ...tracking, wrong, missing, bad].join(" ");
}
