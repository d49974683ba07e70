// The payment simulator's own spans (jaeger-client), children of the span in an order event's
// `traceparent`; its answer carries the simulator's span on, so the saga's handling of the
// payment result continues the same trace.
import { parseTraceParent } from "../../lib/trace";

export interface PaymentSpan {
  /** `traceparent` for the answer: this span, or the incoming one when there is no trace. */
  traceParent?: string;
  finish(): void;
}

export interface PaymentTracer {
  childOf(traceParent: string | undefined, name: string, tags: Record<string, unknown>): PaymentSpan;
  close(): Promise<void>;
}

interface JaegerSpan {
  context(): { spanId: Buffer; traceId: Buffer };
  finish(): void;
}
interface JaegerModule {
  initTracer(
    config: object,
    options: object,
  ): {
    startSpan(name: string, options: object): JaegerSpan;
    close(cb: () => void): void;
  };
  SpanContext: new (...args: unknown[]) => object;
}

export function jaegerPaymentTracer(
  collectorEndpoint: string,
  serviceName = "payment-simulator",
): PaymentTracer {
  const jaeger = require("jaeger-client") as JaegerModule;
  const tracer = jaeger.initTracer(
    {
      serviceName,
      sampler: { type: "const", param: 1 },
      reporter: { collectorEndpoint, flushIntervalMs: 500 },
    },
    { logger: { info: () => undefined, error: () => undefined } },
  );
  return {
    childOf(traceParent, name, tags) {
      const ref = parseTraceParent(traceParent);
      if (!ref?.sampled) return { traceParent, finish: () => undefined };
      // The same id conversion as Moleculer's Jaeger exporter: trace = 32 hex, span = 16 hex.
      const traceId = Buffer.from(ref.traceId, "hex");
      const parent = new jaeger.SpanContext(
        traceId,
        Buffer.from(ref.spanId, "hex"),
        null,
        null,
        null,
        null,
        1,
        {},
        "",
      );
      const span = tracer.startSpan(name, { childOf: parent, tags });
      const context = span.context();
      context.traceId = traceId;
      return {
        traceParent: `00-${ref.traceId}-${context.spanId.toString("hex").padStart(16, "0")}-01`,
        finish: () => span.finish(),
      };
    },
    close: () => new Promise((resolve) => tracer.close(() => resolve())),
  };
}
