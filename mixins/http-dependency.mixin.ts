// Gives a proxy service one pooled HTTP client for its dependency, closed with the service.
import type { ServiceBroker, ServiceSchema } from "moleculer";
import { Errors } from "moleculer";
import type { AttemptOutcome, RetryPolicy } from "../domain/resilience";
import { businessMetrics } from "../lib/business-metrics";
import { DependencyUnavailableError, HttpClient } from "../lib/http-client";

export interface HttpDependencyOptions {
  dependency: string;
  baseUrl: string;
  timeoutMs: number;
  retry: RetryPolicy;
  connections: number;
}

export interface HttpDependencyVars {
  http: HttpClient;
  retries: number;
}

/** Unavailability becomes a 503 MoleculerError so the circuit breaker counts it. */
export function unavailable(err: unknown, dependency: string): never {
  if (err instanceof DependencyUnavailableError) {
    throw new Errors.MoleculerRetryableError(err.message, 503, "DEPENDENCY_UNAVAILABLE", {
      dependency,
      attempts: err.attempts,
    });
  }
  throw err;
}

/** Per-action bulkhead: at most `concurrency` calls in flight to the dependency, the rest queue (bounded). */
export function dependencyBulkhead(bulkhead: { concurrency: number; maxQueueSize: number }) {
  return { enabled: true, concurrency: bulkhead.concurrency, maxQueueSize: bulkhead.maxQueueSize };
}

/**
 * Per-action breaker tuning for the proxies' actions. Moleculer honours threshold, minimum
 * requests and half-open time per action; the window is one broker-wide timer (CB_WINDOW_SECONDS).
 */
export function dependencyBreaker(breaker: {
  threshold: number;
  minRequestCount: number;
  halfOpenMs: number;
}) {
  return {
    threshold: breaker.threshold,
    minRequestCount: breaker.minRequestCount,
    halfOpenTime: breaker.halfOpenMs,
  };
}

export function httpDependencyMixin(options: HttpDependencyOptions): Partial<ServiceSchema> {
  return {
    created() {
      const vars = this as unknown as HttpDependencyVars & {
        broker: ServiceBroker;
        logger: { warn: (...a: unknown[]) => void };
      };
      vars.retries = 0;
      vars.http = new HttpClient({
        name: options.dependency,
        baseUrl: options.baseUrl,
        timeoutMs: options.timeoutMs,
        retry: options.retry,
        connections: options.connections,
        onRetry: (attempt: number, outcome: AttemptOutcome) => {
          vars.retries++;
          businessMetrics(vars.broker).retries.inc({ dependency: options.dependency });
          vars.logger.warn({ attempt, outcome }, `retrying ${options.dependency} call`);
        },
      });
    },
    async stopped() {
      await (this as unknown as HttpDependencyVars).http.close();
    },
  };
}
