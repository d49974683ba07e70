// Successful JWT verifications, remembered per exact token until the token expires. A client
// sends the same token on every request for its lifetime, and verifying it again (HMAC or RSA
// through WebCrypto, a round trip to libuv's thread pool) was about a tenth of the gateway's
// work per order. Only verified tokens are kept, keyed by their full text: a token that differs
// in one byte (another signature, another claim) is verified from scratch.
import { LRUCache } from "lru-cache";

export interface VerifiedClaims {
  sub: string;
  roles: string[];
  /** Expiry, seconds since the epoch (a required claim). */
  exp: number;
}

export class VerifiedTokens {
  private readonly entries?: LRUCache<string, VerifiedClaims>;

  /** `toleranceSeconds`: the clock skew the verifier accepts on `exp`, applied the same way here. */
  constructor(
    capacity: number,
    private readonly toleranceSeconds: number,
  ) {
    if (capacity > 0) this.entries = new LRUCache({ max: capacity });
  }

  get(token: string, nowMs: number): VerifiedClaims | undefined {
    const claims = this.entries?.get(token);
    if (!claims) return undefined;
    if (nowMs / 1000 >= claims.exp + this.toleranceSeconds) {
      this.entries?.delete(token);
      return undefined;
    }
    return claims;
  }

  remember(token: string, claims: VerifiedClaims): void {
    this.entries?.set(token, claims);
  }

  get size(): number {
    return this.entries?.size ?? 0;
  }
}
