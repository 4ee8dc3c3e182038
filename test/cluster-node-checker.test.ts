// The ownership checker the cluster tests rely on finds each kind of violation it claims to.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { ClusterNodeEvent } from "../src/cluster/index.js";
import { ownershipViolations } from "./fixtures/cluster-node-checker.js";

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
