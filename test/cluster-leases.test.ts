// Session ownership leases against the real NATS (test/support/nats.ts). TTLs are short (1.5 s)
// so expiries happen within a test; assertions are about order and outcome, never about how
// many milliseconds something took.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { describe, it, type TestContext } from "node:test";
import { Kvm } from "@nats-io/kv";
import {
  ClusterBucketMismatchError,
  ClusterConnection,
  type LeaseLossReason,
  SessionLeases,
  type SessionLeasesOptions,
  SessionOwnedElsewhereError,
} from "../src/cluster/index.js";
import { InvalidArgumentError } from "../src/errors.js";
import { InvalidSessionIdError } from "../src/store/index.js";
import { type NatsFixture, natsFixture, waitFor } from "./support/nats.js";

const TTL_MS = 1500;
const TEST = { timeout: 30_000 };

interface Loss {
  sessionId: string;
  fence: number;
  reason: LeaseLossReason;
  /** Wall clock, comparable with the NATS server's timestamps: both run on this machine. */
  atMs: number;
}

interface Node {
  leases: SessionLeases;
  connection: ClusterConnection;
  losses: Loss[];
}

/** A node's leases on a connection of its own (closed by the fixture at teardown). */
async function node(
  t: TestContext,
  nats: NatsFixture,
  name: string,
  options: Partial<SessionLeasesOptions> = {},
): Promise<Node> {
  const connection = await ClusterConnection.wrap(await nats.connect(name));
  const losses: Loss[] = [];
  const leases = await SessionLeases.open(connection, {
    node: name,
    bucket: nats.bucket("owners"),
    leaseTtlMs: TTL_MS,
    onLost: (sessionId, fence, reason) => losses.push({ sessionId, fence, reason, atMs: Date.now() }),
    ...options,
  });
  t.after(() => leases.close());
  return { leases, connection, losses };
}

const newSession = () => `session_${randomUUID()}`;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Blocks this process's event loop for `ms`, as a long GC pause or a synchronous loop would: no
 * timer (the loss timer included) and no renewal can run meanwhile.
 */
function blockEventLoop(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // spin
  }
}

describe("session leases", () => {
  it("a claim returns a fence, and the bucket names this node as the owner", TEST, async (t) => {
    const nats = await natsFixture(t);
    const a = await node(t, nats, "node-a");
    const id = newSession();
    const fence = await a.leases.claim(id);
    assert.ok(fence > 0);
    assert.equal(a.leases.fenceOf(id), fence);
    assert.deepEqual(a.leases.held(), [id]);
    assert.deepEqual(await a.leases.owner(id), { node: "node-a", fence });
    assert.equal(await a.leases.claim(id), fence, "claiming again on the holder returns the same fence");
  });

  it("refuses a second claimant, naming the owner and its fence", TEST, async (t) => {
    const nats = await natsFixture(t);
    const a = await node(t, nats, "node-a");
    const b = await node(t, nats, "node-b");
    const id = newSession();
    const fence = await a.leases.claim(id);
    const refused = await b.leases.claim(id).then(
      () => assert.fail("the second claim succeeded"),
      (error: unknown) => error,
    );
    assert.ok(refused instanceof SessionOwnedElsewhereError);
    assert.deepEqual([refused.node, refused.fence, refused.sessionId], ["node-a", fence, id]);
    assert.equal(b.leases.fenceOf(id), undefined);
  });

  it("renewals keep the lease well past its TTL, with the same fence", TEST, async (t) => {
    const nats = await natsFixture(t);
    const a = await node(t, nats, "node-a");
    const b = await node(t, nats, "node-b");
    const id = newSession();
    const fence = await a.leases.claim(id);
    await sleep(TTL_MS * 3);
    assert.equal(a.leases.fenceOf(id), fence);
    assert.deepEqual(await a.leases.owner(id), { node: "node-a", fence });
    await assert.rejects(b.leases.claim(id), SessionOwnedElsewhereError);
    assert.deepEqual(a.losses, []);
  });

  it("a release lets another node claim at once, with a higher fence", TEST, async (t) => {
    const nats = await natsFixture(t);
    const a = await node(t, nats, "node-a");
    const b = await node(t, nats, "node-b");
    const id = newSession();
    const first = await a.leases.claim(id);
    await a.leases.release(id);
    assert.equal(a.leases.fenceOf(id), undefined);
    const second = await b.leases.claim(id); // no wait: the key is gone now, not at its TTL
    assert.ok(second > first, `fence ${second} follows ${first}`);
    assert.deepEqual(await b.leases.owner(id), { node: "node-b", fence: second });
    assert.deepEqual(a.losses, [], "a release is not a loss");
  });

  it("fences strictly increase across owners, renewals and other sessions in between", TEST, async (t) => {
    const nats = await natsFixture(t);
    const a = await node(t, nats, "node-a");
    const b = await node(t, nats, "node-b");
    const id = newSession();
    const fences: number[] = [];
    for (const holder of [a, b, a, b, a]) {
      fences.push(await holder.leases.claim(id));
      await holder.leases.claim(newSession()); // other keys move the stream's sequence too
      await sleep(TTL_MS / 2); // a renewal or so
      await holder.leases.release(id);
    }
    for (let i = 1; i < fences.length; i++) {
      assert.ok((fences[i] ?? 0) > (fences[i - 1] ?? 0), `fences ${fences.join(", ")} increase`);
    }
  });

  it(
    "a holder that cannot renew gives the lease up before another node's claim succeeds",
    TEST,
    async (t) => {
      const nats = await natsFixture(t);
      const a = await node(t, nats, "node-a");
      const b = await node(t, nats, "node-b");
      const id = newSession();
      const fenceA = await a.leases.claim(id);
      // Node A is cut off from NATS: its renewals fail from now on.
      await a.connection.nc.close();
      // B may not take the orphan before its key expires on the server; it waits and retries.
      const fenceB = await b.leases.claim(id, { waitMs: TTL_MS * 5 });
      const claimedAt = await serverTimeOf(nats, id, fenceB);
      assert.equal(a.losses.length, 1, "A was told it lost the lease");
      const loss = a.losses[0] as Loss;
      assert.deepEqual([loss.sessionId, loss.fence, loss.reason], [id, fenceA, "expired"]);
      assert.ok(
        loss.atMs <= claimedAt,
        `A gave up at ${new Date(loss.atMs).toISOString()}, before B's claim was stored at ${new Date(claimedAt).toISOString()}`,
      );
      assert.equal(a.leases.fenceOf(id), undefined);
      assert.ok(fenceB > fenceA);
    },
  );

  it(
    "a holder whose event loop was blocked past the lease's validity has no fence, before its loss timer runs",
    TEST,
    async (t) => {
      const nats = await natsFixture(t);
      const a = await node(t, nats, "node-a");
      const id = newSession();
      const fence = await a.leases.claim(id);
      blockEventLoop(TTL_MS);
      assert.equal(a.leases.fenceOf(id), undefined, "a write now carries no fence");
      assert.equal(a.losses.length, 0, "the loss timer has not run yet");
      await waitFor(() => a.losses.length > 0, 10_000, "the overdue loss timer");
      assert.deepEqual(
        a.losses.map((loss) => [loss.fence, loss.reason]),
        [[fence, "expired"]],
      );
    },
  );

  it(
    "claiming again a lease past its validity reports the old loss first, then holds a new fence",
    TEST,
    async (t) => {
      const nats = await natsFixture(t);
      const a = await node(t, nats, "node-a");
      const id = newSession();
      const fence = await a.leases.claim(id);
      blockEventLoop(TTL_MS);
      const reclaim = a.leases.claim(id, { waitMs: TTL_MS * 5 });
      assert.deepEqual(
        a.losses.map((loss) => [loss.fence, loss.reason]),
        [[fence, "expired"]],
        "the old lease is reported lost before the new claim is even sent",
      );
      const renewed = await reclaim;
      assert.ok(renewed > fence);
      await sleep(TTL_MS);
      assert.equal(a.losses.length, 1, "the old lease's timer reports nothing more");
      assert.equal(a.leases.fenceOf(id), renewed);
    },
  );

  it("a claim that cannot wait out a live lease is refused, naming the owner", TEST, async (t) => {
    const nats = await natsFixture(t);
    const a = await node(t, nats, "node-a");
    const b = await node(t, nats, "node-b");
    const id = newSession();
    const fence = await a.leases.claim(id);
    // A renews all along, so waiting longer than the TTL still finds it owned.
    await assert.rejects(b.leases.claim(id, { waitMs: TTL_MS * 2 }), (error: unknown) => {
      assert.ok(error instanceof SessionOwnedElsewhereError);
      assert.deepEqual([error.node, error.fence], ["node-a", fence]);
      return true;
    });
    assert.equal(a.leases.fenceOf(id), fence);
  });

  it(
    "a renewal that finds the key taken by another node loses the lease at once (taken)",
    TEST,
    async (t) => {
      const nats = await natsFixture(t);
      const a = await node(t, nats, "node-a");
      const b = await node(t, nats, "node-b");
      const id = newSession();
      const fenceA = await a.leases.claim(id);
      // An operator purges the key by hand, and B claims it while A still thinks it holds it.
      const kv = await new Kvm(await nats.connect("operator")).open(nats.bucket("owners"));
      await kv.purge(id);
      const fenceB = await b.leases.claim(id);
      await waitFor(() => a.losses.length > 0, TTL_MS * 3, "A's next renewal to find the key taken");
      assert.deepEqual(
        a.losses.map((loss) => [loss.fence, loss.reason]),
        [[fenceA, "taken"]],
      );
      assert.equal(b.leases.fenceOf(id), fenceB);
      assert.deepEqual(await b.leases.owner(id), { node: "node-b", fence: fenceB });
    },
  );

  it(
    "a renewal that landed unseen (the key moved on, still with this holder's fence) is adopted, not a loss",
    TEST,
    async (t) => {
      const nats = await natsFixture(t);
      const a = await node(t, nats, "node-a");
      const id = newSession();
      const fence = await a.leases.claim(id);
      // What a renewal that timed out here but reached the server leaves behind: a newer
      // revision holding A's own entry. A's next renewal names the old revision and is refused.
      const kv = await new Kvm(await nats.connect("operator")).open(nats.bucket("owners"));
      const current = await kv.get(id);
      assert.ok(current);
      const moved = await kv.update(id, JSON.stringify({ node: "node-a", fence }), current.revision);
      await sleep(TTL_MS * 2);
      assert.deepEqual(a.losses, []);
      assert.equal(a.leases.fenceOf(id), fence);
      const after = await kv.get(id);
      assert.ok((after?.revision ?? 0) > moved, "A renews on from the adopted revision");
    },
  );

  it("one node claims and renews 200 sessions without losing any", TEST, async (t) => {
    const nats = await natsFixture(t);
    const a = await node(t, nats, "node-a");
    const ids = Array.from({ length: 200 }, newSession);
    const started = performance.now();
    const fences = await Promise.all(ids.map((id) => a.leases.claim(id)));
    t.diagnostic(`200 claims in ${Math.round(performance.now() - started)} ms`);
    assert.equal(new Set(fences).size, 200, "every claim has its own fence");
    await sleep(TTL_MS * 3);
    assert.deepEqual(a.losses, []);
    assert.deepEqual(
      ids.map((id) => a.leases.fenceOf(id)),
      fences,
    );
    await Promise.all(ids.map((id) => a.leases.release(id)));
    assert.deepEqual(a.leases.held(), []);
  });

  it(
    "closing without release reports every held lease lost (closed), and leaves the keys to expire",
    TEST,
    async (t) => {
      const nats = await natsFixture(t);
      const a = await node(t, nats, "node-a");
      const b = await node(t, nats, "node-b");
      const ids = [newSession(), newSession()];
      const fences = [await a.leases.claim(ids[0] as string), await a.leases.claim(ids[1] as string)];
      await a.leases.close({ release: false });
      assert.deepEqual(
        a.losses.map((loss) => [loss.sessionId, loss.fence, loss.reason]),
        ids.map((id, i) => [id, fences[i], "closed"]),
      );
      await assert.rejects(b.leases.claim(ids[0] as string), SessionOwnedElsewhereError);
      assert.ok((await b.leases.claim(ids[0] as string, { waitMs: TTL_MS * 5 })) > (fences[1] ?? 0));
    },
  );

  it("refuses a bucket whose TTL differs from this node's lease TTL", TEST, async (t) => {
    const nats = await natsFixture(t);
    await node(t, nats, "node-a");
    await assert.rejects(node(t, nats, "node-b", { leaseTtlMs: TTL_MS * 2 }), (error: unknown) => {
      assert.ok(error instanceof ClusterBucketMismatchError);
      assert.deepEqual([error.expectedTtlMs, error.actualTtlMs], [TTL_MS * 2, TTL_MS]);
      return true;
    });
  });

  it("refuses bad options and bad session ids", TEST, async (t) => {
    const unused = {} as ClusterConnection;
    await assert.rejects(
      SessionLeases.open(unused, { node: "a", leaseTtlMs: 1000, renewEveryMs: 900 }),
      (error: unknown) => error instanceof InvalidArgumentError && /renewEveryMs/.test(error.message),
    );
    await assert.rejects(SessionLeases.open(unused, { node: "a b" }), InvalidArgumentError);
    const nats = await natsFixture(t);
    const a = await node(t, nats, "node-a");
    await assert.rejects(a.leases.claim("a.b"), InvalidSessionIdError);
    await assert.rejects(a.leases.claim(newSession(), { waitMs: -1 }), InvalidArgumentError);
  });
});

/** When the server stored a revision of the session's key (its clock, on this machine). */
async function serverTimeOf(nats: NatsFixture, id: string, revision: number): Promise<number> {
  const kv = await new Kvm(await nats.connect("reader")).open(nats.bucket("owners"));
  const entry = await kv.get(id, { revision });
  assert.ok(entry, `revision ${revision} of ${id} is stored`);
  return entry.created.getTime();
}
