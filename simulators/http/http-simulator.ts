// Shared plumbing of the HTTP simulators: JSON routing, per-route request counters and fault
// injection controllable at run time (over HTTP and from code). Admin routes are never faulted.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";

export type FaultMode = "none" | "down" | "refuse" | "slow" | "hang" | "error-rate";

export interface Faults {
  mode: FaultMode;
  delayMs?: number;
  errorRate?: number;
  errorStatus?: number;
}

export interface Reply {
  status: number;
  body?: unknown;
}

export type Route = (req: IncomingMessage, params: string[], body: unknown) => Reply | Promise<Reply>;

export interface RouteTable {
  [methodAndPattern: string]: Route;
}

export interface RunningSimulator {
  url: string;
  port: number;
  faults: FaultControl;
  stats(): { requests: { total: number; byRoute: Record<string, number> } };
  resetStats(): void;
  stop(): Promise<void>;
}

export interface FaultControl {
  set(faults: Faults): Promise<void>;
  get(): Faults;
}

function compile(table: RouteTable) {
  return Object.entries(table).map(([key, route]) => {
    const [method, pattern] = key.split(" ") as [string, string];
    const regex = new RegExp(`^${pattern.replace(/:[a-zA-Z]+/g, "([^/]+)")}$`);
    return { method, pattern, regex, route };
  });
}

async function readBody(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > 1_000_000) throw new Error("body too large");
    chunks.push(chunk as Buffer);
  }
  if (size === 0) return undefined;
  return JSON.parse(Buffer.concat(chunks).toString("utf8"));
}

function send(res: ServerResponse, reply: Reply): void {
  const body = reply.body === undefined ? "" : JSON.stringify(reply.body);
  res.writeHead(reply.status, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(body),
  });
  res.end(body);
}

export async function startHttpSimulator(
  table: RouteTable,
  options: { port?: number; host?: string } = {},
): Promise<RunningSimulator> {
  const host = options.host ?? "127.0.0.1";
  const routes = compile(table);
  let faults: Faults = { mode: "none" };
  const byRoute: Record<string, number> = {};
  let total = 0;
  const sockets = new Set<Socket>();
  const hanging = new Set<ServerResponse>();

  const admin = compile({
    "GET /admin/stats": () => ({ status: 200, body: { requests: { total, byRoute } } }),
    "POST /admin/stats/reset": () => {
      total = 0;
      for (const k of Object.keys(byRoute)) delete byRoute[k];
      return { status: 200, body: { ok: true } };
    },
    "GET /admin/faults": () => ({ status: 200, body: faults }),
    "PUT /admin/faults": async (_req, _p, body) => {
      await control.set(body as Faults);
      return { status: 200, body: faults };
    },
  });

  const server: Server = createServer(async (req, res) => {
    const url = new URL(req.url ?? "/", "http://sim");
    const adminMatch = admin.find((r) => r.method === req.method && r.regex.test(url.pathname));
    try {
      if (adminMatch) {
        return send(res, await adminMatch.route(req, [], await readBody(req)));
      }
      const match = routes.find((r) => r.method === req.method && r.regex.test(url.pathname));
      const isAdmin = url.pathname.startsWith("/admin/");
      const routeKey = match ? `${match.method} ${match.pattern}` : "unmatched";
      if (!isAdmin) {
        total++;
        byRoute[routeKey] = (byRoute[routeKey] ?? 0) + 1;
      }
      switch (isAdmin ? "none" : faults.mode) {
        case "down":
          req.socket.destroy();
          return;
        case "hang":
          hanging.add(res);
          return;
        case "slow":
          await new Promise((r) => setTimeout(r, faults.delayMs ?? 1_000));
          break;
        case "error-rate":
          if (Math.random() < (faults.errorRate ?? 0.3)) {
            return send(res, { status: faults.errorStatus ?? 503, body: { error: "injected" } });
          }
          break;
        default:
          break;
      }
      if (!match) return send(res, { status: 404, body: { error: "no such route" } });
      const params = (url.pathname.match(match.regex) ?? []).slice(1).map(decodeURIComponent);
      send(res, await match.route(req, params, await readBody(req)));
    } catch (err) {
      send(res, { status: 400, body: { error: (err as Error).message } });
    }
  });
  server.keepAliveTimeout = 30_000;
  server.on("connection", (s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });

  const listen = (port: number) =>
    new Promise<number>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, host, () => {
        server.off("error", reject);
        resolve((server.address() as AddressInfo).port);
      });
    });
  const closeListener = () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      for (const s of sockets) s.destroy();
      for (const r of hanging) r.destroy();
      hanging.clear();
    });

  const port = await listen(options.port ?? 0);
  const control: FaultControl = {
    async set(next: Faults) {
      const wasRefusing = faults.mode === "refuse";
      faults = { ...next };
      if (next.mode !== "hang") {
        for (const r of hanging) r.destroy();
        hanging.clear();
      }
      // "refuse": nothing listens, so connections are refused before any request exists.
      if (next.mode === "refuse" && !wasRefusing) await closeListener();
      if (next.mode !== "refuse" && wasRefusing) await listen(port);
    },
    get: () => faults,
  };

  return {
    url: `http://${host}:${port}`,
    port,
    faults: control,
    stats: () => ({ requests: { total, byRoute: { ...byRoute } } }),
    resetStats: () => {
      total = 0;
      for (const k of Object.keys(byRoute)) delete byRoute[k];
    },
    stop: async () => {
      if (faults.mode !== "refuse") await closeListener();
    },
  };
}
