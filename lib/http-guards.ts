// Request checks of the gateway that need no service state: which methods a known path serves
// (405 with Allow otherwise) and whether a body is declared JSON.
import type { IncomingMessage, ServerResponse } from "node:http";
import { Errors } from "moleculer";

type Middleware = (
  req: IncomingMessage & { parsedUrl?: string },
  res: ServerResponse,
  next: (err?: unknown) => void,
) => void;

/**
 * A moleculer-web middleware (it runs before authentication) built from the gateway's alias
 * tables ({ routePath: { "METHOD path": action } }): a known path asked with a method it does not
 * serve answers 405 with the Allow header, instead of moleculer-web's 404.
 */
export function methodGuard(routes: Record<string, Record<string, string>>): Middleware {
  const byPath = new Map<string, string[]>();
  for (const [base, aliases] of Object.entries(routes)) {
    for (const alias of Object.keys(aliases)) {
      const [method, path] = alias.split(" ") as [string, string];
      const full = `${base.replace(/\/$/, "")}/${path}`;
      byPath.set(full, [...(byPath.get(full) ?? []), method]);
    }
  }
  const allowedByPattern = [...byPath].map(
    ([path, methods]) =>
      [new RegExp(`^${path.replace(/[.]/g, "\\.").replace(/:[^/]+/g, "[^/]+")}$`), methods] as const,
  );
  return (req, _res, next) => {
    const path = req.parsedUrl ?? "";
    const allowed = allowedByPattern.find(([pattern]) => pattern.test(path))?.[1];
    if (allowed && !allowed.includes(req.method ?? "")) {
      next(
        new Errors.MoleculerClientError(
          `${req.method} is not supported on this path`,
          405,
          "METHOD_NOT_ALLOWED",
          {
            allow: allowed.join(", "),
          },
        ),
      );
      return;
    }
    next();
  };
}

/** "application/json" with any parameters, in any letter case. */
export function isJson(contentType: string): boolean {
  return contentType.split(";")[0]!.trim().toLowerCase() === "application/json";
}

export function hasBody(req: IncomingMessage): boolean {
  const length = req.headers["content-length"];
  return (length !== undefined && length !== "0") || req.headers["transfer-encoding"] !== undefined;
}
