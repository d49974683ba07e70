// The clock and the id source the pure domain is given: the system's, here at the edge.
import { randomUUID } from "node:crypto";
import type { EventSource } from "../domain/events";

export function systemSource(): EventSource {
  return { now: new Date(), newId: randomUUID };
}
