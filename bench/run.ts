// `npm run bench [-- --mode embedded|infra1|infra2|all|peer] [--seconds N] [--concurrency N]
//   [--skip-ceilings] [--open-rate N] [--soak SECONDS]`
// Drives orders through the REST API and measures, in the same run and under the same load
// tool, the ceilings the service is compared with. Prints one table with ratios, writes JSON and
// an SVG plot to bench/results/. Ratios, not absolute numbers, are what to compare across runs.
// Where each figure is measured, and its ratio lines computed:
//   bench/scenarios/ceilings.ts   every "ceiling:" row (and the FerretDB "context:" row)
//   bench/scenarios/embedded.ts   "service (embedded…)" rows and the "embedded:" ratios
//   bench/scenarios/cluster.ts    "service (real infra…)" rows and the "real infra" ratios
//   bench/scenarios/soak.ts       `--soak`
//   bench/peer.ts                 `--mode peer`: the Spring Boot peer beside the service
// bench/runner.ts holds what they share (options, recording, warm-up, notes, results).
import { peerMode } from "./peer";
import type { Ratio } from "./report";
import { Bench, benchNodeEnv, compiledNodeArgs, NONE, parseArgs, realServers } from "./runner";
import { gatewayCeilings, rawHttpCeiling } from "./scenarios/ceilings";
import { clusterScenario } from "./scenarios/cluster";
import { embeddedScenario } from "./scenarios/embedded";
import { soak } from "./scenarios/soak";

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  if (args.soak > 0) return soak(args);
  if (args.mode === "peer")
    return peerMode(args.argv, { nodeArgs: compiledNodeArgs(), nodeEnv: benchNodeEnv() });
  const { mode, seconds, concurrency, skipCeilings } = args;
  console.log(
    `bench: mode ${mode}, ${seconds}s per measurement, concurrency ${concurrency}, node ${process.version}`,
  );
  const bench = new Bench(args);
  const ratios: Ratio[] = [];
  // Measured first, in every mode but the peer's: the HTTP ceilings both service modes divide by.
  const raw = skipCeilings ? NONE : await rawHttpCeiling(bench);
  const gw = skipCeilings ? { get: NONE, post: NONE } : await gatewayCeilings(bench);
  if (mode === "embedded" || mode === "all")
    ratios.push(...(await embeddedScenario(bench, { raw, gatewayPost: gw.post })));
  const servers = realServers();
  if ((mode === "infra1" || mode === "infra2" || mode === "all") && servers) {
    ratios.push(...(await clusterScenario(bench, servers, gw.post)));
  } else if (mode !== "embedded") {
    console.log(
      "real-infra modes need KAFKA_BROKERS, MONGO_URL and NATS_URL (source $INFRA_DIR/env after scripts/infra.sh up)",
    );
  }
  console.log("");
  bench.finish(ratios);
}

main()
  .then(() => process.exit(0))
  .catch((err) => {
    console.error(err);
    process.exit(1);
  });
