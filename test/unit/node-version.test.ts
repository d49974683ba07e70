import assert from "node:assert/strict";
import { test } from "node:test";

test("the suite runs on Node 22 or newer (moleculer 0.15 requires it)", () => {
  const major = Number(process.versions.node.split(".")[0]);
  assert.ok(major >= 22, `running on ${process.version}`);
});
