// Pooled keep-alive HTTP client (undici) with a per-call timeout and the retry rule of
// domain/resilience.ts. Each attempt's outcome is classified, so callers see either a response
// or a typed failure that says whether the dependency is unavailable.
import { setTimeout as sleep } from "node:timers/promises";
import { Pool } from "undici";
import {
  type AttemptOutcome,
  isTransient,
  mayRetry,
  type RetryPolicy,
  retryDelay,
} from "../domain/resilience";

export interface HttpResponse<T = unknown> {
  status: number;
  body: T;
}

export class DependencyUnavailableError extends Error {
  constructor(
    readonly dependency: string,
    readonly outcome: AttemptOutcome,
    readonly attempts: number,
  ) {
    super(`${dependency} unavailable after ${attempts} attempt(s): ${describe(outcome)}`);
    this.name = "DependencyUnavailableError";
  }
}

function describe(outcome: AttemptOutcome): string {
  if (outcome.kind === "response") return `HTTP ${outcome.status}`;
  if (outcome.kind === "network") return outcome.code;
  return "timeout";
}

export interface HttpClientOptions {
  name: string;
  baseUrl: string;
  timeoutMs: number;
  retry: RetryPolicy;
  /** Cap on concurrent sockets (a bulkhead for this dependency). */
  connections: number;
  onRetry?: (attempt: number, outcome: AttemptOutcome) => void;
}

export class HttpClient {
  private readonly pool: Pool;

  constructor(private readonly options: HttpClientOptions) {
    this.pool = new Pool(options.baseUrl, {
      connections: options.connections,
      keepAliveTimeout: 10_000,
      pipelining: 1,
    });
  }

  /** `retryable` must be false for calls that are not safe to repeat. */
  async request<T>(
    method: "GET" | "POST" | "DELETE" | "PUT",
    path: string,
    body?: unknown,
    retryable = true,
  ): Promise<HttpResponse<T>> {
    const started = Date.now();
    for (let attempt = 1; ; attempt++) {
      const outcome = await this.attempt<T>(method, path, body);
      if ("body" in outcome) {
        if (!isTransient({ kind: "response", status: outcome.status })) return outcome;
      }
      const failure: AttemptOutcome =
        "body" in outcome ? { kind: "response", status: outcome.status } : outcome;
      const delay = retryDelay(this.options.retry, attempt);
      if (!retryable || !mayRetry(this.options.retry, attempt, Date.now() - started, delay)) {
        throw new DependencyUnavailableError(this.options.name, failure, attempt);
      }
      this.options.onRetry?.(attempt, failure);
      await sleep(delay);
    }
  }

  private async attempt<T>(
    method: string,
    path: string,
    body: unknown,
  ): Promise<HttpResponse<T> | AttemptOutcome> {
    // Not AbortSignal.timeout: its timer cannot be cancelled, so every call left one behind that
    // fired seconds later and built a DOMException (1% of the embedded profile, plus garbage).
    const deadline = new AbortController();
    const timer = setTimeout(() => deadline.abort(), this.options.timeoutMs);
    try {
      const res = await this.pool.request({
        method,
        path,
        headers: body === undefined ? {} : { "content-type": "application/json" },
        body: body === undefined ? null : JSON.stringify(body),
        signal: deadline.signal,
      });
      const text = await res.body.text();
      let parsed: unknown = null;
      if (text) {
        try {
          parsed = JSON.parse(text);
        } catch {
          parsed = { raw: text.slice(0, 200) };
        }
      }
      return { status: res.statusCode, body: parsed as T };
    } catch (err) {
      const e = err as { name?: string; code?: string };
      if (
        e.name === "TimeoutError" ||
        e.name === "AbortError" ||
        e.code === "UND_ERR_HEADERS_TIMEOUT" ||
        e.code === "UND_ERR_BODY_TIMEOUT"
      ) {
        return { kind: "timeout" };
      }
      return { kind: "network", code: e.code ?? e.name ?? "unknown" };
    } finally {
      clearTimeout(timer);
    }
  }

  async close(): Promise<void> {
    await this.pool.close();
  }
}
