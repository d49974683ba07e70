// Real-server suites need their URLs. Locally a missing server skips the suite with a reason;
// under CI=true it fails, so a green CI always means the servers were really there.
import assert from "node:assert/strict";

export interface InfraEnv {
  kafkaBrokers: string;
  mongoUrl: string;
  natsUrl: string;
}

export function infraEnv(): InfraEnv | { skip: string } {
  const missing = ["KAFKA_BROKERS", "MONGO_URL", "NATS_URL"].filter((n) => !process.env[n]);
  if (missing.length === 0) {
    return {
      kafkaBrokers: process.env.KAFKA_BROKERS!,
      mongoUrl: process.env.MONGO_URL!,
      natsUrl: process.env.NATS_URL!,
    };
  }
  const reason = `needs ${missing.join(", ")} (run through scripts/test.sh, which starts the servers)`;
  if (process.env.CI === "true") assert.fail(`CI=true and ${reason}`);
  return { skip: reason };
}

/** A database name / topic prefix unique to this test file's run. */
export function uniqueName(prefix: string): string {
  return `${prefix}_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`;
}

export function withDatabase(mongoUrl: string, db: string): string {
  const url = new URL(mongoUrl);
  url.pathname = `/${db}`;
  return url.toString();
}
