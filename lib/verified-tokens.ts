// Successful JWT verifications, remembered per exact token until the token expires. A client
// sends the same token on every request for its lifetime, and verifying it again (HMAC or RSA
// through WebCrypto, a round trip to libuv's thread pool) was about a tenth of the gateway's
// work per order. Only verified tokens are kept, keyed by their full text: a token that differs
// in one byte (another signature, another claim) is verified from scratch.

export interface VerifiedClaims {
  sub: string;
  roles: string[];
  /** Expiry, seconds since the epoch (a required claim). */
  exp: number;
}

export class VerifiedTokens {
  private readonly entries = new Map<string, VerifiedClaims>();

  /** `toleranceSeconds`: the clock skew the verifier accepts on `exp`, applied the same way here. */
  constructor(
    private readonly capacity: number,
    private readonly toleranceSeconds: number,
  ) {}

  get(token: string, nowMs: number): VerifiedClaims | undefined {
    const claims = this.entries.get(token);
    if (!claims) return undefined;
    if (nowMs / 1000 >= claims.exp + this.toleranceSeconds) {
      this.entries.delete(token);
      return undefined;
    }
    return claims;
  }

  remember(token: string, claims: VerifiedClaims): void {
    if (this.capacity <= 0) return;
    this.entries.delete(token);
    this.entries.set(token, claims);
    // The oldest entry goes first: a Map iterates in insertion order.
    if (this.entries.size > this.capacity) this.entries.delete(this.entries.keys().next().value as string);
  }

  get size(): number {
    return this.entries.size;
  }
}
