// Membership against the real NATS (test/support/nats.ts): nodes see each other with their
// load, a node that goes silent is reported down, a clean leave is seen at once. Short
// heartbeats keep the tests quick; no assertion depends on how fast the machine is.
import assert from "node:assert/strict";
import { describe, it, type TestContext } from "node:test";
import {
  ClusterConnection,
  Membership,
  type MembershipEvent,
  type MembershipOptions,
} from "../src/cluster/index.js";
import { InvalidArgumentError } from "../src/errors.js";
import { type NatsFixture, natsFixture, waitFor } from "./support/nats.js";

const HEARTBEAT_MS = 200;
// Ten heartbeats: a loaded machine that delays a few does not make a live node look dead.
const DEAD_AFTER_MS = 2000;
const TEST = { timeout: 30_000 };

/** Joins a member on its own connection; it leaves (or is closed) by the test or at teardown. */
async function join(
  t: TestContext,
  nats: NatsFixture,
  node: string,
  options: Partial<MembershipOptions> = {},
): Promise<Membership> {
  const connection = await ClusterConnection.wrap(await nats.connect(node));
  const membership = await Membership.join(connection, {
    node,
    bucket: nats.bucket("nodes"),
    heartbeatMs: HEARTBEAT_MS,
    deadAfterMs: DEAD_AFTER_MS,
    ...options,
  });
  t.after(() => membership.close());
  return membership;
}

function record(membership: Membership): MembershipEvent[] {
  const events: MembershipEvent[] = [];
  membership.watch((event) => events.push(event));
  return events;
}

const nodesOf = (membership: Membership) => membership.members().map((member) => member.node);

describe("cluster membership", () => {
  it("two members see each other, and themselves", TEST, async (t) => {
    const nats = await natsFixture(t);
    const a = await join(t, nats, "node-a");
    const aEvents = record(a);
    const b = await join(t, nats, "node-b");
    // B read the bucket up to its own entry before join resolved: A is in its first view.
    assert.deepEqual(nodesOf(b), ["node-a", "node-b"]);
    await waitFor(() => nodesOf(a).includes("node-b"), 10_000, "A to see B");
    assert.deepEqual(nodesOf(a), ["node-a", "node-b"]);
    const up = aEvents.find((event) => event.type === "member_up");
    assert.equal(up?.type === "member_up" && up.member.node, "node-b");
  });

  it("reports each member's load: sessions, memory, subject prefix and start", TEST, async (t) => {
    const nats = await natsFixture(t);
    let sessions = 7;
    await join(t, nats, "loaded", { sessions: () => sessions, subjectPrefix: "sv.loaded" });
    const observer = await join(t, nats, "observer");
    const seen = observer.member("loaded");
    assert.equal(seen?.sessions, 7);
    assert.equal(seen?.subjectPrefix, "sv.loaded");
    assert.ok((seen?.rssMb ?? 0) > 0, "rss is reported in MiB");
    assert.ok(!Number.isNaN(Date.parse(seen?.startedAt ?? "")), "startedAt is a date");
    sessions = 9;
    await waitFor(() => observer.member("loaded")?.sessions === 9, 10_000, "the next heartbeat's load");
  });

  it(
    "reports a member full while its full callback says so, and not full once it does not",
    TEST,
    async (t) => {
      const nats = await natsFixture(t);
      let full = true;
      await join(t, nats, "busy", { full: () => full });
      const observer = await join(t, nats, "observer");
      assert.equal(observer.member("busy")?.full, true);
      assert.equal(observer.member("observer")?.full, undefined);
      full = false;
      await waitFor(() => observer.member("busy")?.full === undefined, 10_000, "the next heartbeat's entry");
    },
  );

  it("reports a member that stops renewing as down (silent), and no longer lists it", TEST, async (t) => {
    const nats = await natsFixture(t);
    const observer = await join(t, nats, "observer");
    const events = record(observer);
    const quiet = await join(t, nats, "quiet");
    await waitFor(() => nodesOf(observer).includes("quiet"), 10_000, "the observer to see the quiet node");
    await quiet.close(); // stops its heartbeats; its entry stays in the bucket
    await waitFor(() => events.some((event) => event.type === "member_down"), 10_000, "member_down");
    const down = events.find((event) => event.type === "member_down");
    assert.deepEqual(down?.type === "member_down" && [down.member.node, down.reason], ["quiet", "silent"]);
    assert.deepEqual(nodesOf(observer), ["observer"]);
  });

  it("sees a clean leave at once, long before silence would tell", TEST, async (t) => {
    const nats = await natsFixture(t);
    // Silence would take a minute to count here: a down within the wait below is the leave.
    const slow = { deadAfterMs: 60_000 };
    const observer = await join(t, nats, "observer", slow);
    const events = record(observer);
    const leaving = await join(t, nats, "leaving", slow);
    await waitFor(
      () => nodesOf(observer).includes("leaving"),
      10_000,
      "the observer to see the leaving node",
    );
    await leaving.leave();
    await waitFor(() => events.some((event) => event.type === "member_down"), 10_000, "member_down");
    const down = events.find((event) => event.type === "member_down");
    assert.deepEqual(down?.type === "member_down" && [down.member.node, down.reason], ["leaving", "left"]);
    assert.deepEqual(nodesOf(observer), ["observer"]);
  });

  it("does not list a node whose entry is stale when it joins", TEST, async (t) => {
    const nats = await natsFixture(t);
    const crashed = await join(t, nats, "crashed");
    await crashed.close();
    // Another node's heartbeats move the server's time on past the crashed node's deadline.
    const witness = await join(t, nats, "witness");
    const events = record(witness);
    await waitFor(
      () => !nodesOf(witness).includes("crashed"),
      10_000,
      "the witness to count the crashed node down",
    );
    const late = await join(t, nats, "late");
    const lateEvents = record(late);
    assert.deepEqual(nodesOf(late), ["late", "witness"]);
    await waitFor(
      () => events.some((event) => event.type === "member_up" && event.member.node === "late"),
      10_000,
      "late up",
    );
    assert.equal(
      lateEvents.filter((event) => event.type === "member_up" && event.member.node === "crashed").length,
      0,
    );
  });

  it("tells its listeners when a heartbeat cannot be written", TEST, async (t) => {
    const nats = await natsFixture(t);
    const nc = await nats.connect("cut-off");
    const membership = await Membership.join(await ClusterConnection.wrap(nc), {
      node: "cut-off",
      bucket: nats.bucket("nodes"),
      heartbeatMs: HEARTBEAT_MS,
      deadAfterMs: DEAD_AFTER_MS,
    });
    t.after(() => membership.close());
    const events = record(membership);
    await nc.close();
    await waitFor(
      () => events.some((event) => event.type === "heartbeat_failed"),
      10_000,
      "heartbeat_failed",
    );
  });

  it(
    "a sessions callback that throws or answers nonsense fails heartbeats, not the process",
    TEST,
    async (t) => {
      const nats = await natsFixture(t);
      let answer: () => number = () => 1;
      const membership = await join(t, nats, "flaky", { sessions: () => answer() });
      const events = record(membership);
      answer = () => {
        throw new Error("count unavailable");
      };
      await waitFor(
        () => events.some((event) => event.type === "heartbeat_failed"),
        10_000,
        "heartbeat_failed",
      );
      answer = () => -1;
      const failures = events.length;
      await waitFor(() => events.length > failures, 10_000, "another heartbeat_failed");
      const last = events.at(-1);
      assert.match(last?.type === "heartbeat_failed" ? last.error.message : "", /membership\.sessions/);
    },
  );

  it("refuses bad options before touching NATS", async () => {
    const unused = {} as ClusterConnection;
    await assert.rejects(Membership.join(unused, { node: "a.b" }), InvalidArgumentError);
    await assert.rejects(
      Membership.join(unused, { node: "a", heartbeatMs: 100, deadAfterMs: 150 }),
      /deadAfterMs/,
    );
    await assert.rejects(
      Membership.join(unused, { node: "a", heartbet: 5 } as MembershipOptions),
      /heartbet/,
    );
  });
});
