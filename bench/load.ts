// Load generation and statistics for the benchmark: a closed model (fixed concurrency) and an
// open model (fixed arrival rate), both bounded in time, on loopback only.
import { Agent, request } from "undici";

export interface Sample {
  at: number;
  ms: number;
  status: number;
}

export interface LoadResult {
  samples: Sample[];
  errors: Record<string, number>;
  durationMs: number;
}

export type Shot = (agent: Agent, i: number) => Promise<number>;

export function makeAgent(connections: number): Agent {
  return new Agent({ connections, pipelining: 1, keepAliveTimeout: 10_000 });
}

function progress(label: string, done: number, elapsed: number, total: number): void {
  if (!process.stderr.isTTY) return;
  const width = 30;
  const filled = Math.min(width, Math.round((elapsed / total) * width));
  process.stderr.write(
    `\r${label.padEnd(28)} [${"#".repeat(filled)}${".".repeat(width - filled)}] ${done} req`,
  );
}

async function fire(shot: Shot, agent: Agent, i: number, result: LoadResult): Promise<void> {
  const start = performance.now();
  try {
    const status = await shot(agent, i);
    result.samples.push({ at: start, ms: performance.now() - start, status });
    if (status >= 400) result.errors[`http-${status}`] = (result.errors[`http-${status}`] ?? 0) + 1;
  } catch (err) {
    const kind = (err as { code?: string }).code ?? (err as Error).name;
    result.errors[kind] = (result.errors[kind] ?? 0) + 1;
  }
}

/** Closed model: `concurrency` clients, each sending as soon as its last answer came back. */
export async function closedLoad(
  label: string,
  shot: Shot,
  concurrency: number,
  durationMs: number,
): Promise<LoadResult> {
  const agent = makeAgent(concurrency);
  const result: LoadResult = { samples: [], errors: {}, durationMs };
  const t0 = performance.now();
  let i = 0;
  const timer = setInterval(
    () => progress(label, result.samples.length, performance.now() - t0, durationMs),
    250,
  );
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() - t0 < durationMs) await fire(shot, agent, i++, result);
    }),
  );
  clearInterval(timer);
  if (process.stderr.isTTY) process.stderr.write("\n");
  result.durationMs = performance.now() - t0;
  await agent.close();
  return result;
}

/** Open model: requests start at a fixed rate whatever the answers do (no coordinated omission). */
export async function openLoad(
  label: string,
  shot: Shot,
  ratePerSecond: number,
  durationMs: number,
): Promise<LoadResult> {
  const agent = makeAgent(256);
  const result: LoadResult = { samples: [], errors: {}, durationMs };
  const t0 = performance.now();
  const inflight: Promise<void>[] = [];
  const total = Math.floor((ratePerSecond * durationMs) / 1000);
  for (let i = 0; i < total; i++) {
    const due = t0 + (i * 1000) / ratePerSecond;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    inflight.push(fire(shot, agent, i, result));
    if (i % 50 === 0) progress(label, result.samples.length, performance.now() - t0, durationMs);
  }
  await Promise.all(inflight);
  if (process.stderr.isTTY) process.stderr.write("\n");
  result.durationMs = performance.now() - t0;
  await agent.close();
  return result;
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

export interface Summary {
  requests: number;
  perSecond: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  errors: Record<string, number>;
}

export function summarize(result: LoadResult, ok: (s: Sample) => boolean = (s) => s.status < 400): Summary {
  const good = result.samples.filter(ok);
  const ms = good.map((s) => s.ms).sort((a, b) => a - b);
  return sortedSummary(ms, good.length / (result.durationMs / 1000), result.errors);
}

/** The summary of latencies already sorted ascending, one per request that counted. */
export function sortedSummary(ms: number[], perSecond: number, errors: Record<string, number> = {}): Summary {
  return {
    requests: ms.length,
    perSecond,
    p50: percentile(ms, 50),
    p90: percentile(ms, 90),
    p99: percentile(ms, 99),
    max: ms.at(-1) ?? Number.NaN,
    errors,
  };
}

export async function postJson(
  agent: Agent,
  url: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<number> {
  const res = await request(url, {
    method: "POST",
    dispatcher: agent,
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify(body),
  });
  await res.body.dump();
  return res.statusCode;
}

export async function getUrl(
  agent: Agent,
  url: string,
  headers: Record<string, string> = {},
): Promise<number> {
  const res = await request(url, { method: "GET", dispatcher: agent, headers });
  await res.body.dump();
  return res.statusCode;
}
