// W3C trace context <-> Moleculer span ids. Moleculer's ids are UUIDs; its Jaeger exporter takes
// the trace id as the UUID's 32 hex digits and a span id as its first 16. Carrying that in a
// `traceparent` header lets a trace cross Kafka and come back as the parent of the next span.

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

export interface SpanRef {
  traceId: string;
  spanId: string;
  sampled: boolean;
}

function hex(uuid: string): string {
  return uuid.replace(/-/g, "").toLowerCase();
}

function uuidOf(hex32: string): string {
  return `${hex32.slice(0, 8)}-${hex32.slice(8, 12)}-${hex32.slice(12, 16)}-${hex32.slice(16, 20)}-${hex32.slice(20, 32)}`;
}

/** `traceparent` for the span of a Moleculer context (requestID = trace, id = span). */
export function traceParentOf(ctx: {
  requestID?: string | null;
  id: string;
  tracing?: boolean | null;
}): string | undefined {
  if (!ctx.requestID) return undefined;
  const traceId = hex(ctx.requestID).padEnd(32, "0").slice(0, 32);
  const spanId = hex(ctx.id).padEnd(16, "0").slice(0, 16);
  if (!/^[0-9a-f]{32}$/.test(traceId) || !/^[0-9a-f]{16}$/.test(spanId)) return undefined;
  return `00-${traceId}-${spanId}-${ctx.tracing ? "01" : "00"}`;
}

export function parseTraceParent(header: string | undefined): SpanRef | undefined {
  const m = header ? TRACEPARENT.exec(header.trim()) : null;
  if (!m || /^0+$/.test(m[1]!) || /^0+$/.test(m[2]!)) return undefined;
  return { traceId: m[1]!, spanId: m[2]!, sampled: (Number.parseInt(m[3]!, 16) & 1) === 1 };
}

/** Call option for Moleculer: continue the trace whose span is in `header`. */
export function parentSpanOf(
  header: string | undefined,
): { traceID: string; id: string; sampled: boolean } | undefined {
  const ref = parseTraceParent(header);
  if (!ref) return undefined;
  return { traceID: uuidOf(ref.traceId), id: uuidOf(ref.spanId.padEnd(32, "0")), sampled: ref.sampled };
}

/**
 * The tags of an action's span. By default Moleculer copies an action's params into every span,
 * sampled or not: whole orders and request bodies on every call, and into Jaeger for the sampled
 * ones. An operator looks an order's trace up by its id, which is all that is kept.
 */
export function actionSpanTags(params: unknown): { orderId?: string } {
  const p = params as {
    orderId?: unknown;
    id?: unknown;
    order?: { _id?: unknown };
    current?: { _id?: unknown };
    event?: { orderId?: unknown };
  } | null;
  const id = p?.orderId ?? p?.id ?? p?.order?._id ?? p?.current?._id ?? p?.event?.orderId;
  return typeof id === "string" ? { orderId: id } : {};
}
