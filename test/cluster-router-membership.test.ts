// The router follows membership against the real NATS: a member that leaves, or goes silent,
// fires the monitors and links on its processes with NodeDownError, and fails calls in flight.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ClusterConnection, Membership } from "../src/cluster/index.js";
import { NatsRouter } from "../src/cluster/nats-router.js";
import { isNodeDown } from "../src/cluster/route-errors.js";
import { followMembership } from "../src/cluster/route-membership.js";
import { CallExitError, Runtime, silentLogger } from "../src/runtime/index.js";
import { natsFixture, waitFor } from "./support/nats.js";
import { Echo } from "./support/servers.js";

const TEST = { timeout: 30_000 };

describe("NatsRouter following membership", () => {
  it("takes a member that leaves for down, and one that comes back for up", TEST, async (t) => {
    const nats = await natsFixture(t);
    const prefix = nats.subject("rt");
    const nodes: { runtime: Runtime; router: NatsRouter; membership: Membership }[] = [];
    t.after(async () => {
      for (const n of nodes) await n.runtime.shutdown(1000);
      for (const n of nodes) await n.router.close();
      for (const n of nodes) await n.membership.close();
    });
    const join = async (router: NatsRouter) => {
      const membership = await Membership.join(await ClusterConnection.wrap(router.connection), {
        node: router.node,
        subjectPrefix: router.subjectPrefix,
        bucket: nats.bucket("nodes"),
        heartbeatMs: 200,
        deadAfterMs: 2000,
      });
      followMembership(router, membership);
      return membership;
    };
    const start = async (node: string) => {
      const runtime = new Runtime({ node, logger: silentLogger() });
      const router = await NatsRouter.start(runtime, await nats.connect(node), { prefix });
      const membership = await join(router);
      const made = { runtime, router, membership };
      nodes.push(made);
      return made;
    };
    const a = await start("alpha");
    const b = await start("beta");
    const echo = await b.runtime.spawn(new Echo());
    const watched = a.runtime.whenExited(echo);
    await a.runtime.call(echo, { op: "echo", value: "ready" });
    const inFlight = a.runtime.call(echo, { op: "never" }, 60_000).catch((e: unknown) => e);

    await b.membership.leave();

    const reason = await watched;
    assert.ok(isNodeDown(reason) && reason.how === "member_down" && reason.detail === "left", String(reason));
    const error = await inFlight;
    assert.ok(error instanceof CallExitError && isNodeDown(error.reason), String(error));
    assert.equal(a.router.isDown("beta"), true);

    // beta joins again: alpha sees it up, and reaches its processes again.
    b.membership = await join(b.router);
    await waitFor(() => !a.router.isDown("beta"), 10_000, "alpha to see beta up");
    assert.equal(await a.runtime.call(echo, { op: "echo", value: "back" }), "back");
  });
});
