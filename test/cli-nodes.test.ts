// `sessionvisor nodes` against the real NATS (test/support/nats.ts): the members of a
// membership bucket, read without joining, live or silent, with their load.
import assert from "node:assert/strict";
import { describe, it, type TestContext } from "node:test";
import { runNodes } from "../src/cli/nodes-command.js";
import type { CommandOutput } from "../src/cli/output.js";
import { ClusterConnection, type ListedMember, Membership } from "../src/cluster/index.js";
import { type NatsFixture, natsFixture } from "./support/nats.js";

const TEST = { timeout: 30_000 };

function captured(): CommandOutput & { text(): string; errors(): string } {
  let text = "";
  let errors = "";
  return {
    stdout: { write: (chunk: string) => (text += chunk) },
    stderr: { write: (chunk: string) => (errors += chunk) },
    env: {},
    text: () => text,
    errors: () => errors,
  };
}

async function join(t: TestContext, nats: NatsFixture, node: string, sessions: number): Promise<Membership> {
  const connection = await ClusterConnection.wrap(await nats.connect(node));
  const membership = await Membership.join(connection, {
    node,
    bucket: nats.bucket("nodes"),
    heartbeatMs: 100,
    deadAfterMs: 2000,
    sessions: () => sessions,
  });
  t.after(() => membership.close());
  return membership;
}

describe("sessionvisor nodes", () => {
  it("lists every live node of the bucket with its sessions, as JSON", TEST, async (t) => {
    const nats = await natsFixture(t);
    await join(t, nats, "node-a", 3);
    await join(t, nats, "node-b", 5);
    const out = captured();
    assert.equal(await runNodes({ nats: nats.url, bucket: nats.bucket("nodes"), json: true }, out), 0);
    const listed = JSON.parse(out.text()) as ListedMember[];
    assert.deepEqual(
      listed.map((m) => [m.node, m.live, m.sessions]),
      [
        ["node-a", true, 3],
        ["node-b", true, 5],
      ],
    );
  });

  it("shows a node that stopped its heartbeats as silent", TEST, async (t) => {
    const nats = await natsFixture(t);
    const quiet = await join(t, nats, "node-quiet", 0);
    const busy = await join(t, nats, "node-busy", 1);
    await quiet.close(); // heartbeats stop, the key stays: what a crash looks like
    // Silent once the busy node has heartbeated 300 ms past the quiet one's last (server time).
    let out = captured();
    const deadline = Date.now() + 10_000;
    for (;;) {
      out = captured();
      const code = await runNodes({ nats: nats.url, bucket: nats.bucket("nodes"), deadAfter: "300" }, out);
      assert.equal(code, 0, out.errors());
      if (/node-quiet\s+silent/.test(out.text())) break;
      assert.ok(Date.now() < deadline, `the quiet node is never listed silent:\n${out.text()}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.match(out.text(), /^NODE\s+STATUS\s+SESSIONS/);
    assert.match(out.text(), /node-busy\s+live\s+1/);
    assert.match(out.text(), /node-quiet\s+silent \d+ s\s+0/);
    await busy.leave();
  });

  it("says there are no nodes for a bucket nobody joined", TEST, async (t) => {
    const nats = await natsFixture(t);
    const out = captured();
    assert.equal(await runNodes({ nats: nats.url, bucket: nats.bucket("nobody") }, out), 0);
    assert.equal(out.text(), "no nodes\n");
  });

  it("fails with one line and exit 1 when no NATS answers", TEST, async () => {
    const out = captured();
    assert.equal(await runNodes({ nats: "nats://127.0.0.1:1" }, out), 1);
    assert.match(out.errors(), /^error: cluster_unavailable: /);
    assert.equal(out.errors().split("\n").length, 2);
  });

  it("refuses a bad --dead-after with exit 2", TEST, async () => {
    const out = captured();
    assert.equal(await runNodes({ deadAfter: "soon" }, out), 2);
    assert.match(out.errors(), /--dead-after must be a whole number/);
  });
});
