// A whole node in this process on the embedded defaults (in-memory store, in-process channel and
// simulators), listening on a free port: the component level of the test pyramid.
import type { AddressInfo } from "node:net";
import { type RunningNode, startNode } from "../../index";
import { type Config, loadConfig } from "../../lib/config";
import { TEST_AUDIENCE, TEST_ISSUER, TEST_SECRET } from "./jwt";

export interface EmbeddedNode extends RunningNode {
  url: string;
}

/** The embedded defaults with the test JWT settings, quiet logs and quick retries. */
export function testConfig(env: Record<string, string> = {}): Config {
  return loadConfig({
    PORT: "0",
    BIND_ADDRESS: "127.0.0.1",
    JWT_SECRET: TEST_SECRET,
    JWT_ISSUER: TEST_ISSUER,
    JWT_AUDIENCE: TEST_AUDIENCE,
    LOG_LEVEL: "error",
    HTTP_TIMEOUT_MS: "300",
    RETRY_BASE_DELAY_MS: "10",
    RETRY_MAX_TOTAL_MS: "1000",
    ...env,
  });
}

export async function startEmbeddedNode(env: Record<string, string> = {}): Promise<EmbeddedNode> {
  const node = await startNode(testConfig(env));
  const api = node.broker.getLocalService("api") as unknown as
    | { server: { address(): AddressInfo } }
    | undefined;
  const port = api?.server.address().port;
  return { ...node, url: `http://127.0.0.1:${port}` };
}
