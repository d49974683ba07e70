// A TCP forwarder: connections to listenHost:listenPort are piped to targetHost:targetPort.
import { createConnection, createServer, type Socket } from "node:net";

export interface Forwarder {
  close(): Promise<void>;
}

export function forward(
  listenHost: string,
  listenPort: number,
  targetHost: string,
  targetPort: number,
): Promise<Forwarder> {
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = createConnection({ host: targetHost, port: targetPort });
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on("close", () => sockets.delete(s));
      s.on("error", () => {
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream);
    upstream.pipe(client);
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(listenPort, listenHost, () =>
      resolve({
        close: () =>
          new Promise((done) => {
            for (const s of sockets) s.destroy();
            server.close(() => done());
          }),
      }),
    );
  });
}
