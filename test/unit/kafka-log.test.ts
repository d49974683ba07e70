// kafkajs logs the broker's retriable answers at error level although it retries them itself;
// operators alert on error level, so those reach our logs as warnings (issue 14 item 11).
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { logLevel } from "kafkajs";
import { kafkaLogLevel } from "../../lib/channel/kafka-log";

describe("kafkajs log levels", () => {
  test("the GroupCoordinator answer at start-up is a warning, not an error", () => {
    // The entry kafkajs 2.2.4 writes while the group coordinator is being elected.
    const entry = {
      level: logLevel.ERROR,
      log: {
        message: "Response GroupCoordinator(key: 10, version: 2)",
        error: "The group coordinator is not available",
        correlationId: 1,
        size: 55,
        timestamp: "",
        logger: "kafkajs",
      },
    };
    assert.equal(kafkaLogLevel(entry), "warn");
  });

  test("other retriable answers are warnings too; errors kafkajs does not retry stay errors", () => {
    const at = (error: string) =>
      kafkaLogLevel({
        level: logLevel.ERROR,
        log: { message: "Response Metadata(key: 3, version: 6)", error, timestamp: "", logger: "kafkajs" },
      });
    assert.equal(at("This is not the correct coordinator for this group"), "warn");
    assert.equal(
      at("There is no leader for this topic-partition as we are in the middle of a leadership election"),
      "warn",
    );
    assert.equal(at("Not authorized to access topics: [Topic authorization failed]"), "error");
    assert.equal(at("Connection error: connect ECONNREFUSED 127.0.0.1:1"), "error");
  });

  test("the other levels map one to one", () => {
    const log = { message: "m", timestamp: "", logger: "kafkajs" };
    assert.equal(kafkaLogLevel({ level: logLevel.WARN, log }), "warn");
    assert.equal(kafkaLogLevel({ level: logLevel.INFO, log }), "info");
    assert.equal(kafkaLogLevel({ level: logLevel.DEBUG, log }), "debug");
    assert.equal(kafkaLogLevel({ level: logLevel.ERROR, log }), "error");
  });
});
