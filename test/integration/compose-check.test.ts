// docker-compose.yml as Docker Compose itself would read it: loaded by the Compose Specification's
// reference parser (compose-go, infra/compose-check, built and cached by scripts/infra.sh), which
// validates it against the schema and interpolates it without a Docker daemon. The README's table
// of compose services is the list checked: every service is there (profile services only with
// their profile), servers have a healthcheck, jobs run once.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";

const ROOT = join(__dirname, "..", "..");

interface Loaded {
  name: string;
  services: { name: string; healthcheck?: string[]; environment?: string[] }[];
  disabled: string[];
}

function load(profiles: string[] = [], extraEnv: Record<string, string> = {}): Loaded {
  const args = [join(ROOT, "scripts", "infra.sh"), "compose-check"];
  for (const p of profiles) args.push("-profile", p);
  args.push(join(ROOT, "docker-compose.yml"));
  // A clean environment: interpolation must not pick up this machine's KAFKA_BROKERS and such.
  const r = spawnSync("bash", args, {
    encoding: "utf8",
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      ORDER_SERVICE_CACHE: process.env.ORDER_SERVICE_CACHE,
      ...extraEnv,
    },
    timeout: 300_000,
  });
  assert.equal(r.status, 0, `compose-check failed:\n${r.stderr}`);
  return JSON.parse(r.stdout) as Loaded;
}

/** The README's table of compose services: name(s), kind ("server" | "job") and profile. */
function readmeServices(): { name: string; kind: string; profile?: string }[] {
  const readme = readFileSync(join(ROOT, "README.md"), "utf8");
  const table = readme.slice(readme.indexOf("| compose service | kind | what |"));
  const rows = table.split("\n").slice(2);
  const out: { name: string; kind: string; profile?: string }[] = [];
  for (const row of rows) {
    if (!row.startsWith("|")) break;
    const [names = "", kind = ""] = row
      .split("|")
      .slice(1)
      .map((c) => c.trim());
    const profile = /profile `([^`]+)`/.exec(kind)?.[1];
    for (const name of names.match(/`[^`]+`/g) ?? [])
      out.push({ name: name.slice(1, -1), kind: kind.split(",")[0]!, profile });
  }
  return out;
}

test("the reference parser accepts docker-compose.yml; every README service is there with its healthcheck", () => {
  const named = readmeServices();
  assert.ok(named.length >= 15, `the README names the compose services (${named.length} found)`);
  const plain = load();
  const cluster = load(["kafka-cluster"]);
  assert.equal(plain.name, "order-service");
  for (const { name, kind, profile } of named) {
    const project = profile ? cluster : plain;
    const service = project.services.find((s) => s.name === name);
    assert.ok(service, `${name} is in docker-compose.yml${profile ? ` with profile ${profile}` : ""}`);
    if (profile) assert.ok(plain.disabled.includes(name), `${name} runs only with profile ${profile}`);
    if (kind === "server") assert.ok(service.healthcheck?.length, `${name} has a healthcheck`);
    else assert.equal(kind, "job", `${name}: kind is server or job`);
  }
  // And nothing in the file that the README does not name.
  const all = new Set(named.map((n) => n.name));
  for (const s of cluster.services) assert.ok(all.has(s.name), `README names compose service ${s.name}`);
});

test("KAFKA_BROKERS from the environment points the nodes and the payment simulator at the cluster", () => {
  const env = (project: Loaded, name: string) =>
    project.services.find((s) => s.name === name)?.environment ?? [];
  const plain = load();
  const brokers = "kafka-1:9092,kafka-2:9092,kafka-3:9092";
  const cluster = load(["kafka-cluster"], { KAFKA_BROKERS: brokers });
  for (const name of ["node-1", "node-2", "payment"]) {
    assert.ok(env(plain, name).includes("KAFKA_BROKERS=kafka:9092"), `${name}: the single broker by default`);
    assert.ok(env(cluster, name).includes(`KAFKA_BROKERS=${brokers}`), `${name}: the cluster when told`);
  }
});
