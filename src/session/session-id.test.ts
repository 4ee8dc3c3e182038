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

  it("carry a version 4 uuid (its version and variant bits set)", () => {
    for (let i = 0; i < 1000; i++) {
      assert.match(
        newSessionId(),
        /^session_[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
      );
    }
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
