// The checkers the cluster tests rely on find each kind of violation they claim to.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { ClusterNodeEvent } from "../src/cluster/index.js";
import {
  OWNER_CHANGE_ERRORS as ALLOWED,
  lostAcknowledgedTurns,
  ownershipIntervalViolations,
  ownershipViolations,
  type SentTurn,
  unexplainedFailures,
} from "./fixtures/cluster-node-checker.js";

const s = "session_1";
const up = (node: string, fence: number, at: number): ClusterNodeEvent => ({
  type: "session_activated",
  sessionId: s,
  node,
  fence,
  how: "activated",
  at,
});
const down = (node: string, fence: number, at: number): ClusterNodeEvent => ({
  type: "session_released",
  sessionId: s,
  node,
  fence,
  reason: "expired",
  at,
});

describe("ownership checker", () => {
  it("accepts owners one after the other, each ended by a release or a death", () => {
    const history = [up("a", 1, 0), down("a", 1, 10), up("b", 5, 20), up("c", 9, 40)];
    assert.deepEqual(ownershipViolations(history, new Map([["b", 30]])), []);
  });

  it("finds a fence activated twice", () => {
    const problems = ownershipViolations([up("a", 1, 0), up("b", 1, 5)], new Map([["a", 1]]));
    assert.ok(
      problems.some((p) => p.includes("activated twice")),
      String(problems),
    );
  });

  it("finds two owners at once", () => {
    const problems = ownershipViolations([up("a", 1, 0), up("b", 5, 20), down("a", 1, 30)], new Map());
    assert.deepEqual(problems, ["session_1: a (fence 1) still owned it when b claimed fence 5"]);
  });

  it("finds a later owner with a lower fence", () => {
    const problems = ownershipViolations([up("a", 5, 0), down("a", 5, 1), up("b", 3, 10)], new Map());
    assert.ok(
      problems.some((p) => p.includes("before the lower fence")),
      String(problems),
    );
  });
});

describe("history checker (restarts, turns and cuts)", () => {
  const turn = (outcome: SentTurn["outcome"], start = 50, end = 60): SentTurn => ({
    sessionId: s,
    text: "echo x",
    via: "c",
    start,
    end,
    outcome,
  });

  it("finds an owner still alive at the next claim, and a fence not growing, across a restart", () => {
    const crashes = [{ node: "a", at: 30 }];
    // a's first run ends at its crash; its restart claims again later with a higher fence: fine.
    assert.deepEqual(
      ownershipIntervalViolations([up("a", 1, 0), up("b", 2, 40), down("b", 2, 50), up("a", 3, 60)], crashes),
      [],
    );
    assert.equal(ownershipIntervalViolations([up("a", 1, 0), up("b", 2, 20)], crashes).length, 1);
    assert.equal(ownershipIntervalViolations([up("a", 2, 0), up("b", 2, 40)], crashes).length, 1);
  });

  it("finds an acknowledged turn missing or incomplete, not a failed one", () => {
    const stored = new Map([[s, [{ role: "user", content: "echo x", status: "interrupted" }]]]);
    assert.equal(lostAcknowledgedTurns([turn({ acknowledged: true })], stored).length, 1);
    assert.equal(lostAcknowledgedTurns([turn({ acknowledged: true })], new Map()).length, 1);
    assert.deepEqual(
      lostAcknowledgedTurns([turn({ acknowledged: false, error: "NodeDownError" })], stored),
      [],
    );
  });

  it("finds a failed turn whose owner stayed alive and the same, or that failed with another error", () => {
    const history = [up("a", 1, 0)];
    const nodeDown = { acknowledged: false as const, error: "NodeDownError: x" };
    assert.equal(unexplainedFailures([turn(nodeDown)], history, [], ALLOWED).length, 1);
    assert.deepEqual(unexplainedFailures([turn(nodeDown)], history, [{ node: "a", at: 55 }], ALLOWED), []);
    const other = { acknowledged: false as const, error: "TurnTimedOutError: x" };
    assert.equal(unexplainedFailures([turn(other)], history, [{ node: "a", at: 55 }], ALLOWED).length, 1);
    // Its caller's own node crashed under it: any error is explained.
    assert.deepEqual(unexplainedFailures([turn(other)], history, [{ node: "c", at: 55 }], ALLOWED), []);
  });

  it("explains a failed turn by a cut of its caller (any error) or of its owner (an allowed error), during it only", () => {
    const history = [up("a", 1, 0)];
    const nodeDown = { acknowledged: false as const, error: "NodeDownError: x" };
    const other = { acknowledged: false as const, error: "TimeoutError: x" };
    const cutOf = (node: string, from: number, to: number) => [{ node, from, to }];
    assert.deepEqual(unexplainedFailures([turn(other)], history, [], ALLOWED, cutOf("c", 40, 55)), []);
    assert.deepEqual(unexplainedFailures([turn(nodeDown)], history, [], ALLOWED, cutOf("a", 55, 70)), []);
    assert.equal(unexplainedFailures([turn(other)], history, [], ALLOWED, cutOf("a", 55, 70)).length, 1);
    // A cut that was over before the turn began explains nothing.
    assert.equal(unexplainedFailures([turn(nodeDown)], history, [], ALLOWED, cutOf("a", 10, 40)).length, 1);
  });
});
