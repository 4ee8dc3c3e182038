import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { InvalidTransitionError } from "./errors.js";
import {
  applyTransition,
  canTransition,
  initialState,
  SESSION_STATUSES,
  type SessionStatus,
} from "./status.js";

const ALLOWED = new Set([
  "initializing>active",
  "initializing>failed",
  "active>idle",
  "idle>active",
  "active>recovering",
  "idle>recovering",
  "recovering>active",
  "recovering>failed",
  "initializing>terminating",
  "active>terminating",
  "idle>terminating",
  "recovering>terminating",
  "failed>terminating",
  "terminating>terminated",
]);

describe("session status machine", () => {
  it("allows exactly the edges of the design and no other", () => {
    for (const from of SESSION_STATUSES) {
      for (const to of SESSION_STATUSES) {
        assert.equal(canTransition(from, to), ALLOWED.has(`${from}>${to}`), `${from} -> ${to}`);
      }
    }
  });

  it("records the previous status and when the change happened", () => {
    const at = new Date("2026-01-02T03:04:05.000Z");
    const next = applyTransition(initialState(new Date(0)), "active", at);
    assert.deepEqual(next, { status: "active", previousStatus: "initializing", statusChangedAt: at });
  });

  it("rejects an edge outside the machine with a typed error naming both ends", () => {
    const state = {
      status: "terminated" as SessionStatus,
      previousStatus: undefined,
      statusChangedAt: new Date(),
    };
    assert.throws(
      () => applyTransition(state, "active", new Date()),
      (e: unknown) => e instanceof InvalidTransitionError && e.from === "terminated" && e.to === "active",
    );
  });
});
