// Plays the User service: every id is an active user, except `blocked-*` (blocked) and
// `unknown-*` (404).
import { type RunningSimulator, startHttpSimulator } from "./http-simulator";

export function startUserService(options: { port?: number; host?: string } = {}): Promise<RunningSimulator> {
  return startHttpSimulator(
    {
      "GET /users/:id": (_req, [id]) => {
        if (!id || id.startsWith("unknown-")) return { status: 404, body: { error: "no such user" } };
        return {
          status: 200,
          body: { id, name: `User ${id}`, status: id.startsWith("blocked-") ? "blocked" : "active" },
        };
      },
    },
    options,
  );
}
