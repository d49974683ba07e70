// The soak (`--soak SECONDS`): RSS and V8 heap over time under a steady load (8 clients placing
// orders), sampled every 10 s; growth is reported per minute after the first minute (warm-up).
// With the real servers (KAFKA_BROKERS, MONGO_URL and NATS_URL set, mode not embedded), one
// service node in its own process, whose RSS is read from /proc and its heap from its Prometheus
// endpoint: the orders live in the store, so growth there is a leak. Embedded, the bench process
// itself, whose in-memory store keeps every order (growth is partly data). Writes
// bench/results/soak.json.
import { request } from "undici";
import { startEmbeddedNode } from "../../test/helpers/embedded-node";
import { freePort } from "../../test/helpers/http";
import { token } from "../../test/helpers/jwt";
import { closedLoad, postJson } from "../load";
import { sampleProc } from "../proc";
import { fmt } from "../report";
import { type BenchArgs, realServers, startBenchWorld, writeResult } from "../runner";
import { body } from "../saga";

/** The node's own report of its V8 heap in use, from its Prometheus endpoint. */
async function heapUsedMb(metricsUrl: string): Promise<number> {
  const res = await request(metricsUrl);
  const text = await res.body.text();
  const line = text.split("\n").find((l) => l.startsWith("nodejs_heap_size_used_bytes"));
  return line ? Number(line.trim().split(/\s+/).at(-1)) / 1048576 : Number.NaN;
}

export async function soak({ soak: seconds, mode }: BenchArgs): Promise<void> {
  const servers = mode === "embedded" ? undefined : realServers();
  const real = !!servers;
  let url: string;
  let rssOf: () => number;
  // The V8 heap in use (after the last GC) tells a JavaScript leak from native or allocator growth.
  let heapOf: () => Promise<number> = async () => process.memoryUsage().heapUsed / 1048576;
  let stop: () => Promise<void>;
  if (servers) {
    const metricsPort = await freePort();
    const world = await startBenchWorld(servers, { METRICS_PORT: String(metricsPort) });
    const node = await world.cluster.startNode("soak");
    url = `${node.url}/api/v1/orders`;
    rssOf = () => sampleProc(node.process.pid!)?.rssMb ?? Number.NaN;
    heapOf = () => heapUsedMb(`http://127.0.0.1:${metricsPort}/metrics`);
    stop = () => world.stop();
  } else {
    const node = await startEmbeddedNode({ LOG_LEVEL: "warn", RATE_LIMIT_PER_MINUTE: "100000000" });
    url = `${node.url}/api/v1/orders`;
    rssOf = () => process.memoryUsage().rss / 1048576;
    stop = () => node.stop();
  }
  const auth = { authorization: `Bearer ${await token("soak-user")}` };
  const samples: { t: number; rssMb: number; heapMb: number; orders: number }[] = [];
  let placed = 0;
  const t0 = Date.now();
  const sampler = setInterval(async () => {
    const t = Math.round((Date.now() - t0) / 1000);
    const rssMb = rssOf();
    const heapMb = await heapOf().catch(() => Number.NaN);
    samples.push({ t, rssMb, heapMb, orders: placed });
    console.log(`soak t=${t}s rss=${fmt(rssMb)}MB heap=${fmt(heapMb)}MB orders=${placed}`);
  }, 10_000);
  const result = await closedLoad(
    "soak",
    async (agent, i) => {
      const status = await postJson(agent, url, body(i), auth);
      if (status === 202) placed++;
      return status;
    },
    8,
    seconds * 1000,
  );
  clearInterval(sampler);
  await stop();
  // Warm-up excluded: the first minute fills caches, pools and JIT code.
  const steady = samples.filter((x) => x.t >= 60);
  const first = steady[0]?.rssMb ?? Number.NaN;
  const last = steady.at(-1)?.rssMb ?? Number.NaN;
  const minutes = ((steady.at(-1)?.t ?? 0) - (steady[0]?.t ?? 0)) / 60;
  console.log(
    `soak (${real ? "one node on the real servers" : "embedded, bench process"}): ${placed} orders, ${fmt(result.samples.length / seconds)} req/s, errors ${JSON.stringify(result.errors)}`,
  );
  console.log(
    `soak: RSS at 60 s ${fmt(first)} MB, at the end ${fmt(last)} MB, max ${fmt(Math.max(...samples.map((x) => x.rssMb)))} MB; growth ${fmt((last - first) / Math.max(minutes, 1e-9), 2)} MB/min after warm-up`,
  );
  const heapFirst = steady[0]?.heapMb ?? Number.NaN;
  const heapLast = steady.at(-1)?.heapMb ?? Number.NaN;
  console.log(
    `soak: V8 heap used at 60 s ${fmt(heapFirst)} MB, at the end ${fmt(heapLast)} MB; growth ${fmt((heapLast - heapFirst) / Math.max(minutes, 1e-9), 2)} MB/min`,
  );
  writeResult("soak.json", JSON.stringify({ real, seconds, samples }, null, 2));
}
