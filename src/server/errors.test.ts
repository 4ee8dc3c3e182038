import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { InvalidArgumentError, SessionvisorError } from "../errors.js";
import {
  InvalidSessionIdError,
  SessionConfigError,
  SessionNotFoundError,
  TurnQueueFullError,
} from "../session/index.js";
import { errorResponse, HttpError, STATUS_OF_CODE } from "./errors.js";
import { pageOf } from "./pagination.js";

describe("server errors: one table from code to status", () => {
  it("maps the session system's errors to 4xx with their code and field", () => {
    const cases: [unknown, number, string, string | undefined][] = [
      [new SessionNotFoundError("session_x"), 404, "session_not_found", undefined],
      [
        new SessionConfigError([{ field: "llm.temperature", message: "too hot" }]),
        400,
        "invalid_config",
        "llm.temperature",
      ],
      [
        new InvalidArgumentError("options.timeoutMs", "too long"),
        400,
        "invalid_argument",
        "options.timeoutMs",
      ],
      [new InvalidSessionIdError("nope"), 400, "invalid_session_id", "id"],
      [new TurnQueueFullError("session_x", 8), 429, "turn_queue_full", undefined],
      [new HttpError(413, "payload_too_large", "big"), 413, "payload_too_large", undefined],
    ];
    for (const [error, status, code, field] of cases) {
      const answer = errorResponse(error);
      assert.equal(answer.status, status, code);
      assert.equal(answer.body.error.code, code);
      assert.equal(answer.body.error.field, field);
      assert.equal(answer.internal, false);
    }
  });

  it("answers anything else with a 500 that says nothing of the inside, to be logged", () => {
    const plain = errorResponse(new TypeError("x is undefined at /secret/path.ts"));
    assert.equal(plain.status, 500);
    assert.equal(plain.internal, true);
    assert.doesNotMatch(plain.body.error.message, /secret/);
    const unknownCode = errorResponse(new SessionvisorError("something_new", "new"));
    assert.equal(unknownCode.status, 500);
    assert.equal(unknownCode.internal, true);
  });

  it("gives every code in the table a status an HTTP client knows", () => {
    for (const [code, status] of Object.entries(STATUS_OF_CODE)) {
      assert.ok(Number.isInteger(status) && status >= 400 && status < 600, code);
    }
  });
});

describe("server pagination", () => {
  const at = (ms: number, id: string) => ({ id, createdAt: new Date(ms) }) as never;

  it("orders by createdAt then id, and a cursor resumes after the last of a page", () => {
    const sessions = [at(2, "b"), at(1, "z"), at(2, "a"), at(3, "c")];
    const first = pageOf(sessions, 2, undefined);
    assert.deepEqual(
      first.sessions.map((s) => s.id),
      ["z", "a"],
    );
    const second = pageOf(sessions, 2, first.nextCursor);
    assert.deepEqual(
      second.sessions.map((s) => s.id),
      ["b", "c"],
    );
    assert.equal(second.nextCursor, undefined);
  });

  it("keeps its place when the session a cursor names is gone", () => {
    const first = pageOf([at(1, "a"), at(2, "b"), at(3, "c")], 2, undefined);
    const after = pageOf([at(1, "a"), at(3, "c")], 2, first.nextCursor);
    assert.deepEqual(
      after.sessions.map((s) => s.id),
      ["c"],
    );
  });
});
