// Mints a development JWT for the embedded default (HS256 with JWT_SECRET or the dev secret).
// Usage: npx tsx scripts/token.ts <user-id> [ttl-seconds]
import { SignJWT } from "jose";
import { loadConfig } from "../lib/config";

async function main(): Promise<void> {
  const [userId = "alice", ttl = "3600"] = process.argv.slice(2);
  const config = loadConfig();
  if (!config.jwt.secret)
    throw new Error("token.ts signs HS256 tokens: set JWT_SECRET (or leave it unset for the dev secret)");
  const token = await new SignJWT({ roles: ["customer"] })
    .setProtectedHeader({ alg: "HS256" })
    .setSubject(userId)
    .setIssuer(config.jwt.issuer)
    .setAudience(config.jwt.audience)
    .setIssuedAt()
    .setExpirationTime(`${Number(ttl)}s`)
    .sign(new TextEncoder().encode(config.jwt.secret));
  process.stdout.write(`${token}\n`);
}

main().catch((err: Error) => {
  console.error(err.message);
  process.exit(1);
});
