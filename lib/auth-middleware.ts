// The one 401 check of the broker. An action that serves a client says `auth: "required"`; this
// middleware refuses a call to it that carries no verified user (the gateway puts the user in
// ctx.meta after checking the token). It wraps local actions, so it also guards calls that reach
// the action from another node or from the REPL.
import { type Context, Errors, type Middleware, type Service } from "moleculer";
import type { RequestMeta } from "../types/moleculer";

export const AuthMiddleware: Middleware = {
  name: "Auth",
  localAction(next, action) {
    if (action.auth !== "required") return next;
    return function authRequired(this: Service, ctx: Context) {
      if (!(ctx.meta as RequestMeta).user) {
        return Promise.reject(
          new Errors.MoleculerClientError("Authentication required", 401, "UNAUTHORIZED"),
        );
      }
      return next.call(this, ctx);
    };
  },
};
