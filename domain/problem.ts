// RFC 9457 problem details. Maps any error to a stable, public answer: client errors keep their
// (safe) message, server-side faults never leak theirs.

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail?: string;
  errors?: { field: string; message: string }[];
  retryAfter?: number;
}

const TITLES: Record<number, [slug: string, title: string]> = {
  400: ["bad-request", "Bad request"],
  401: ["unauthorized", "Unauthorized"],
  403: ["forbidden", "Forbidden"],
  404: ["not-found", "Not found"],
  405: ["method-not-allowed", "Method not allowed"],
  409: ["conflict", "Conflict"],
  413: ["payload-too-large", "Payload too large"],
  415: ["unsupported-media-type", "Unsupported media type"],
  422: ["unprocessable", "Unprocessable request"],
  429: ["rate-limited", "Too many requests"],
  500: ["internal-error", "Internal error"],
  503: ["service-unavailable", "Service unavailable"],
};

/** Error types whose 4xx code is about our internals (e.g. Moleculer's ServiceNotFoundError is 404). */
const INTERNAL_NAMES = new Set([
  "ServiceNotFoundError",
  "ServiceNotAvailableError",
  "RequestTimeoutError",
  "RequestSkippedError",
  "RequestRejectedError",
  "QueueIsFullError",
  "MaxCallLevelError",
  "GracefulStopTimeoutError",
  "BrokerDisconnectedError",
]);

export const PROBLEM_BASE = "urn:order-service:problem:";

export interface ErrorLike {
  name?: string;
  message?: string;
  code?: unknown;
  status?: unknown;
  type?: unknown;
  data?: unknown;
}

function slugOf(type: unknown): string | undefined {
  if (typeof type !== "string" || !/^[A-Z][A-Z0-9_]{1,40}$/.test(type)) return undefined;
  return type.toLowerCase().replace(/_/g, "-");
}

export function toProblem(err: ErrorLike): Problem {
  const name = err.name ?? "";
  let status = typeof err.code === "number" ? err.code : typeof err.status === "number" ? err.status : 500;
  if (INTERNAL_NAMES.has(name)) status = 503;
  if (name === "ValidationError" || (status === 422 && err.type === "VALIDATION_ERROR")) status = 400;
  // body-parser errors carry `type` like "entity.parse.failed" and a status.
  if (err.type === "entity.parse.failed") return basic(400, "malformed-json", "Malformed JSON body");
  if (err.type === "entity.too.large" || status === 413)
    return basic(413, "payload-too-large", "Request body is too large");
  if (!(status >= 400 && status < 600)) status = 500;
  if (status >= 500 && status !== 503) return basic(500, "internal-error", "Internal error");
  if (status === 503) {
    const problem = basic(503, slugOf(err.type) ?? "service-unavailable", "Service unavailable");
    const retryAfter = (err.data as { retryAfter?: unknown } | undefined)?.retryAfter;
    problem.retryAfter = typeof retryAfter === "number" ? retryAfter : 2;
    if (name === "MoleculerError" || name === "MoleculerRetryableError")
      problem.detail = safeDetail(err.message);
    return problem;
  }
  const [slug, title] = TITLES[status] ?? ["client-error", "Client error"];
  const problem = basic(
    status,
    name === "ValidationError" ? "validation-error" : (slugOf(err.type) ?? slug),
    title,
  );
  const retryAfter = (err.data as { retryAfter?: unknown } | undefined)?.retryAfter;
  if (status === 429) problem.retryAfter = typeof retryAfter === "number" ? retryAfter : 60;
  if (name === "ValidationError" || err.type === "VALIDATION_ERROR") {
    problem.detail = "The request is invalid";
    problem.errors = validationErrors(err.data);
  } else {
    problem.detail = safeDetail(err.message);
    // A client error may name the fields at fault ({ field, message } entries).
    if (Array.isArray(err.data)) problem.errors = validationErrors(err.data);
  }
  return problem;
}

function basic(status: number, slug: string, title: string): Problem {
  return { type: PROBLEM_BASE + slug, title, status };
}

function safeDetail(message: string | undefined): string | undefined {
  if (!message) return undefined;
  return message.slice(0, 200);
}

function validationErrors(data: unknown): { field: string; message: string }[] {
  if (!Array.isArray(data)) return [];
  return data.slice(0, 20).map((e: { field?: unknown; message?: unknown }) => ({
    field: typeof e.field === "string" ? e.field.slice(0, 100) : "",
    message: typeof e.message === "string" ? e.message.slice(0, 200) : "invalid",
  }));
}
