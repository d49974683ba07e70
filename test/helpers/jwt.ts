// Tokens for tests: valid ones and the classic attacks.
import { createHmac, generateKeyPairSync } from "node:crypto";
import { SignJWT } from "jose";

export const TEST_SECRET = "test-secret-0123456789-0123456789-abcdef";
export const TEST_ISSUER = "order-service-test";
export const TEST_AUDIENCE = "orders";

export interface TokenOptions {
  secret?: string;
  issuer?: string;
  audience?: string;
  expiresIn?: number;
  notBefore?: number;
}

export async function token(sub: string, opts: TokenOptions = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const jwt = new SignJWT({ roles: ["customer"] })
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setSubject(sub)
    .setIssuer(opts.issuer ?? TEST_ISSUER)
    .setAudience(opts.audience ?? TEST_AUDIENCE)
    .setIssuedAt(now)
    .setExpirationTime(now + (opts.expiresIn ?? 600));
  if (opts.notBefore !== undefined) jwt.setNotBefore(now + opts.notBefore);
  return jwt.sign(new TextEncoder().encode(opts.secret ?? TEST_SECRET));
}

function b64url(data: string | Buffer): string {
  return Buffer.from(data).toString("base64url");
}

/** An unsigned token (`alg: none`). */
export function noneToken(sub: string): string {
  const now = Math.floor(Date.now() / 1000);
  const header = b64url(JSON.stringify({ alg: "none", typ: "JWT" }));
  const body = b64url(JSON.stringify({ sub, iss: TEST_ISSUER, aud: TEST_AUDIENCE, exp: now + 600 }));
  return `${header}.${body}.`;
}

/** HS256 signed with an RSA public key's PEM text: the RS/HS confusion attack. */
export function hsWithPublicKey(sub: string, publicKeyPem: string): string {
  const now = Math.floor(Date.now() / 1000);
  const header = b64url(JSON.stringify({ alg: "HS256", typ: "JWT" }));
  const body = b64url(JSON.stringify({ sub, iss: TEST_ISSUER, aud: TEST_AUDIENCE, exp: now + 600 }));
  const sig = createHmac("sha256", publicKeyPem).update(`${header}.${body}`).digest("base64url");
  return `${header}.${body}.${sig}`;
}

export function rsaKeyPair(): { publicKey: string; privateKey: string } {
  const { publicKey, privateKey } = generateKeyPairSync("rsa", {
    modulusLength: 2048,
    publicKeyEncoding: { type: "spki", format: "pem" },
    privateKeyEncoding: { type: "pkcs8", format: "pem" },
  });
  return { publicKey, privateKey };
}
