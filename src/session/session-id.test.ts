import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { InvalidSessionIdError } from "./errors.js";
import { assertSessionId, isSessionId, newSessionId } from "./session-id.js";

describe("session ids", () => {
  it("look like session_<uuid> and validate", () => {
    const id = newSessionId();
    assert.match(id, /^session_[0-9a-f-]{36}$/);
    assert.equal(isSessionId(id), true);
  });

  it("carry a version 7 uuid (its version and variant bits set)", () => {
    for (let i = 0; i < 1000; i++) {
      assert.match(
        newSessionId(),
        /^session_[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
      );
    }
  });

  it("carry the millisecond they were made in their first 48 bits", () => {
    const before = Date.now();
    const id = newSessionId();
    const after = Date.now();
    const ms = Number.parseInt(id.slice(8, 16) + id.slice(17, 21), 16);
    assert.ok(ms >= before && ms <= after + 1, `${ms} not in [${before}, ${after}]`);
  });

  it("sort in the order they were made, many in the same millisecond included", () => {
    const ids = Array.from({ length: 20_000 }, newSessionId);
    const sorted = [...ids].sort();
    assert.deepEqual(sorted, ids);
    // 20,000 ids take far less than 20,000 ms here: many shared a millisecond, and still sorted.
    const millis = new Set(ids.map((id) => id.slice(8, 21)));
    assert.ok(millis.size < ids.length);
  });

  it("differ in their random bits, not only in their time and counter", () => {
    const tails = new Set(Array.from({ length: 1000 }, () => newSessionId().slice(-12)));
    assert.equal(tails.size, 1000);
  });

  it("are unique", () => {
    const ids = new Set(Array.from({ length: 10_000 }, newSessionId));
    assert.equal(ids.size, 10_000);
  });

  it("reject anything that could reach a path, a key or a query", () => {
    const good = newSessionId();
    for (const bad of [
      "",
      "session_",
      `${good}/../x`,
      `${good}'`,
      good.toUpperCase(),
      "session_../../etc/passwd",
      "session_1; DROP TABLE sessions",
      ` ${good}`,
      42,
      null,
    ]) {
      assert.throws(() => assertSessionId(bad), InvalidSessionIdError, String(bad));
    }
  });
});
