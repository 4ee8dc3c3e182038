// The liveness judgement alone (no NATS): it reads only the server's timestamps on entries.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { LivenessView, type Sighting } from "../src/cluster/liveness.js";

const DEAD_AFTER_MS = 3000;

function heartbeat(node: string, createdMs: number, startedAt = "2026-01-01T00:00:00.000Z"): Sighting {
  return {
    node,
    createdMs,
    deleted: false,
    entry: {
      node,
      subjectPrefix: `sv.${node}`,
      sessions: 0,
      rssMb: 1,
      startedAt,
    },
  };
}

describe("liveness by server timestamps", () => {
  it("keeps a node live while the server's newest time is within deadAfterMs of its heartbeat, whatever the local clock says", () => {
    const view = new LivenessView(DEAD_AFTER_MS);
    // Timestamps from 1970: the local clock is decades ahead, and that must not matter.
    view.observe(heartbeat("a", 1000));
    view.observe(heartbeat("b", 1000));
    const changes = view.observe(heartbeat("b", 1000 + DEAD_AFTER_MS));
    assert.deepEqual(changes, []);
    assert.deepEqual(
      view.members().map((member) => member.node),
      ["a", "b"],
    );
  });

  it("reports a node restarted under its id (a new start time) down, then up, even with no silence between", () => {
    const view = new LivenessView(DEAD_AFTER_MS);
    view.observe(heartbeat("a", 1000));
    view.observe(heartbeat("a", 1100));
    const changes = view.observe(heartbeat("a", 1150, "2026-01-01T00:00:05.000Z"));
    assert.deepEqual(
      changes.map((change) => [
        change.type,
        change.type === "member_down" && change.reason,
        change.member.startedAt,
      ]),
      [
        ["member_down", "restarted", "2026-01-01T00:00:00.000Z"],
        ["member_up", false, "2026-01-01T00:00:05.000Z"],
      ],
    );
    assert.deepEqual(view.observe(heartbeat("a", 1200, "2026-01-01T00:00:05.000Z")), []);
  });

  it("reports a node down (silent) at the first entry more than deadAfterMs after its last heartbeat", () => {
    const view = new LivenessView(DEAD_AFTER_MS);
    view.observe(heartbeat("a", 1000));
    const changes = view.observe(heartbeat("b", 1001 + DEAD_AFTER_MS));
    assert.deepEqual(
      changes.map((change) => [
        change.type,
        change.member.node,
        change.type === "member_down" && change.reason,
      ]),
      [
        ["member_down", "a", "silent"],
        ["member_up", "b", false],
      ],
    );
    assert.equal(view.member("a"), undefined);
  });

  it("reports a node up again when it heartbeats after it was counted down", () => {
    const view = new LivenessView(DEAD_AFTER_MS);
    view.observe(heartbeat("a", 1000));
    view.observe(heartbeat("b", 5000));
    const changes = view.observe(heartbeat("a", 5100));
    assert.deepEqual(
      changes.map((change) => [change.type, change.member.node]),
      [["member_up", "a"]],
    );
  });

  it("reports a deleted entry as a node that left", () => {
    const view = new LivenessView(DEAD_AFTER_MS);
    view.observe(heartbeat("a", 1000));
    const changes = view.observe({ node: "a", createdMs: 1200, deleted: true });
    assert.deepEqual(
      changes.map((change) => [
        change.type,
        change.member.node,
        change.type === "member_down" && change.reason,
      ]),
      [["member_down", "a", "left"]],
    );
    assert.deepEqual(view.members(), []);
  });

  it("reports lastSeen as the server's time of the last heartbeat, and the key as the node id", () => {
    const view = new LivenessView(DEAD_AFTER_MS);
    const sighting = heartbeat("a", 1234);
    view.observe({ ...sighting, node: "key-a" });
    const member = view.member("key-a");
    assert.equal(member?.lastSeen.getTime(), 1234);
    assert.equal(member?.node, "key-a");
  });
});
