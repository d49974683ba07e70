// docker-compose.yml must parse and name only files that exist; `docker compose config` runs too
// when the Compose plugin is installed.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { parse } from "yaml";

const ROOT = join(__dirname, "..", "..");

interface ComposeService {
  build?: string | { context: string; dockerfile?: string };
  command?: string[];
  volumes?: string[];
  image?: string;
}

test("docker-compose.yml parses and every file it names exists", () => {
  const compose = parse(readFileSync(join(ROOT, "docker-compose.yml"), "utf8"), { merge: true }) as {
    services: Record<string, ComposeService>;
  };
  const names = Object.keys(compose.services);
  for (const needed of [
    "nats",
    "kafka",
    "mongo",
    "jaeger",
    "prometheus",
    "grafana",
    "node-1",
    "node-2",
    "payment",
    "simulators",
    "loki",
    "promtail",
  ]) {
    assert.ok(names.includes(needed), `compose has ${needed}`);
  }
  for (const [name, service] of Object.entries(compose.services)) {
    if (service.build) {
      const context = typeof service.build === "string" ? service.build : service.build.context;
      const dockerfile =
        typeof service.build === "string" ? "Dockerfile" : (service.build.dockerfile ?? "Dockerfile");
      assert.ok(existsSync(join(ROOT, context, dockerfile)), `${name}: ${dockerfile} exists`);
    }
    for (const volume of service.volumes ?? []) {
      const host = volume.split(":")[0]!;
      if (host.startsWith("."))
        assert.ok(existsSync(join(ROOT, host)), `${name}: volume source ${host} exists`);
    }
    for (const arg of service.command ?? []) {
      if (!/\.(ts|js)$/.test(arg)) continue;
      // dist/ is built inside the image from the TypeScript source next to it.
      const source = arg.startsWith("dist/") ? arg.slice("dist/".length).replace(/\.js$/, ".ts") : arg;
      assert.ok(existsSync(join(ROOT, source)), `${name}: ${source} exists`);
    }
  }
});

test("the image runs compiled JavaScript that the build produces from existing sources", () => {
  const dockerfile = readFileSync(join(ROOT, "Dockerfile"), "utf8");
  const cmd = [...dockerfile.matchAll(/^CMD (\[.*\])$/gm)].at(-1)?.[1];
  assert.deepEqual(JSON.parse(cmd ?? "[]"), ["node", "dist/index.js"]);
  // The heap is sized for the RSS target; the benchmark's nodes read the same line (imageNodeOptions).
  assert.match(dockerfile, /^ENV NODE_OPTIONS=--max-old-space-size=\d+$/m);
  assert.match(dockerfile, /npm run build/);
  const build = JSON.parse(readFileSync(join(ROOT, "tsconfig.build.json"), "utf8")) as { include: string[] };
  for (const dir of ["*.ts", "services", "simulators"])
    assert.ok(build.include.includes(dir), `builds ${dir}`);
  const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as {
    scripts: Record<string, string>;
  };
  assert.equal(pkg.scripts.build, "tsc -p tsconfig.build.json");
});

test("docker compose config accepts the file where the Compose plugin is installed", () => {
  const probe = spawnSync("docker", ["compose", "version"], { encoding: "utf8" });
  // This machine kind has only the docker client; the structural checks above still ran.
  if (probe.status !== 0) return;
  const res = spawnSync("docker", ["compose", "-f", join(ROOT, "docker-compose.yml"), "config", "--quiet"], {
    encoding: "utf8",
  });
  assert.equal(res.status, 0, res.stderr);
});
