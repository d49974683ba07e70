import assert from "node:assert/strict";
import { test } from "node:test";
import { VerifiedTokens } from "../../lib/verified-tokens";

const claims = (exp: number) => ({ sub: "alice", roles: ["customer"], exp });

test("a remembered token is served until its expiry plus the tolerance, then forgotten", () => {
  const tokens = new VerifiedTokens(10, 5);
  tokens.remember("t1", claims(1_000));
  assert.deepEqual(tokens.get("t1", 1_004_999), claims(1_000));
  assert.equal(tokens.get("t1", 1_005_000), undefined);
  assert.equal(tokens.size, 0, "an expired entry is dropped");
  assert.equal(tokens.get("t2", 0), undefined, "never verified, never served");
});

test("the number of remembered tokens is bounded; the oldest go first", () => {
  const tokens = new VerifiedTokens(3, 0);
  for (const t of ["a", "b", "c", "d"]) tokens.remember(t, claims(10_000));
  assert.equal(tokens.size, 3);
  assert.equal(tokens.get("a", 0), undefined);
  assert.ok(tokens.get("d", 0));
  assert.equal(new VerifiedTokens(0, 0).size, 0);
  const none = new VerifiedTokens(0, 0);
  none.remember("x", claims(10_000));
  assert.equal(none.get("x", 0), undefined, "capacity 0 remembers nothing");
});
