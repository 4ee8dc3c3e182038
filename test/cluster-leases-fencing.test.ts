// Leases as the Postgres store's fence source, both servers real: an owner that lost its lease
// cannot write, and an old owner whose write carries the fence it read before a pause is
// refused once the next owner (with a higher fence from the leases bucket) has written.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, describe, it } from "node:test";
import { ClusterConnection, SessionLeases } from "../src/cluster/index.js";
import { type FenceSource, PostgresSessionStore, StaleFenceError } from "../src/store/index.js";
import { natsFixture } from "./support/nats.js";
import { requirePostgres, TEST_POSTGRES_URL, TestSchemas } from "./support/postgres-test-db.js";

const TTL_MS = 1500;
const schemas = new TestSchemas();
const stores: PostgresSessionStore[] = [];
after(async () => {
  for (const store of stores) await store.close().catch(() => undefined);
  await schemas.dropAll();
});

async function store(schema: string, fences: FenceSource): Promise<PostgresSessionStore> {
  await requirePostgres();
  const opened = await PostgresSessionStore.open({ connectionString: TEST_POSTGRES_URL, schema, fences });
  stores.push(opened);
  return opened;
}

describe("leases fence the Postgres store", () => {
  it("an owner that lost its lease cannot write, and its paused write is refused after the next owner's", {
    timeout: 60_000,
  }, async (t) => {
    const nats = await natsFixture(t);
    const open = async (node: string, lost: string[]) => {
      const connection = await ClusterConnection.wrap(await nats.connect(node));
      const leases = await SessionLeases.open(connection, {
        node,
        bucket: nats.bucket("owners"),
        leaseTtlMs: TTL_MS,
        onLost: (sessionId) => lost.push(sessionId),
      });
      t.after(() => leases.close());
      return { connection, leases };
    };
    const lostByA: string[] = [];
    const a = await open("node-a", lostByA);
    const b = await open("node-b", []);
    const schema = schemas.fresh();
    const storeA = await store(schema, a.leases);
    const storeB = await store(schema, b.leases);
    const id = `session_${randomUUID()}`;

    const fenceA = await a.leases.claim(id);
    await storeA.putSession(id, { owner: "a" });
    // A write of A's already under way when A paused: it read its fence before the pause.
    const pausedWriteOfA = await store(schema, { fenceOf: () => fenceA });

    await a.connection.nc.close(); // A is cut off: its renewals fail, it gives the lease up
    const fenceB = await b.leases.claim(id, { waitMs: TTL_MS * 5 });
    assert.deepEqual(lostByA, [id]);
    assert.ok(fenceB > fenceA);

    await assert.rejects(storeA.putSession(id, { owner: "a, after losing" }), (error: unknown) => {
      assert.ok(error instanceof StaleFenceError);
      assert.equal(error.fence, undefined, "A holds no fence any more");
      return true;
    });
    await storeB.putSession(id, { owner: "b" });
    await assert.rejects(pausedWriteOfA.putSession(id, { owner: "a, resumed" }), (error: unknown) => {
      assert.ok(error instanceof StaleFenceError);
      assert.deepEqual([error.fence, error.current], [fenceA, fenceB]);
      return true;
    });
    assert.deepEqual((await storeB.getSession(id))?.record, { owner: "b" });
  });
});
