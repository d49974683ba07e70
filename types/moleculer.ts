// Shared shapes of what travels in Moleculer contexts, and the one place where Moleculer's own
// types are widened for this project.

export interface AuthenticatedUser {
  id: string;
  /** Token scopes/roles as verified by the gateway. */
  roles: string[];
}

/** ctx.meta as set by the api gateway and propagated over the broker. */
export interface RequestMeta {
  user?: AuthenticatedUser;
  correlationId?: string;
  idempotencyKey?: string;
  traceParent?: string;
  /** moleculer-web response controls. */
  $statusCode?: number;
  $responseHeaders?: Record<string, string>;
  $responseType?: string;
}

/** ctx.meta of an action marked `auth: "required"`: lib/auth-middleware.ts has checked the user. */
export interface AuthenticatedMeta extends RequestMeta {
  user: AuthenticatedUser;
}

declare module "moleculer" {
  interface ActionSchema {
    /** "required": the call must carry a verified user in ctx.meta (lib/auth-middleware.ts). */
    auth?: "required";
  }
}
