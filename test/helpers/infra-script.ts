// Tests that stop and start servers do it through the project's own script, which must own them.
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import type { InfraEnv } from "./env";

const ROOT = join(__dirname, "..", "..");

/** Why a test that restarts servers cannot run here, or false when it can. */
export function restartSkip(env: InfraEnv | { skip: string }): string | false {
  if ("skip" in env) return env.skip;
  // Restarting servers needs the project's own infra script to own them.
  return !process.env.INFRA_DIR && process.env.CI !== "true"
    ? "servers not started by scripts/infra.sh"
    : false;
}

/**
 * `scripts/infra.sh ARGS…` (stop kafka, start ferretdb, leader TOPIC 0, …): what it printed,
 * trimmed; throws with its error output if it fails.
 */
export function infra(...args: string[]): string {
  return execFileSync("bash", [join(ROOT, "scripts", "infra.sh"), ...args], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
  }).trim();
}
