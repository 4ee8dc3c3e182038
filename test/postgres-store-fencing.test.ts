// Fenced writes against the real PostgreSQL: two stores on one schema stand for two nodes, each
// with its own fence source (in cluster mode, its ownership leases). A session's new owner holds
// a higher fence than its old one; the old owner, paused and then resumed, must not write.
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import {
  type FenceSource,
  PostgresSessionStore,
  StaleFenceError,
  type StoredJson,
} from "../src/store/index.js";
import { requirePostgres, TEST_POSTGRES_URL, TestSchemas } from "./support/postgres-test-db.js";

const schemas = new TestSchemas();
const opened: PostgresSessionStore[] = [];
after(async () => {
  for (const store of opened) await store.close().catch(() => undefined);
  await schemas.dropAll();
});

/** The fences one node holds, changed by the test as leases would be claimed and lost. */
class Leases implements FenceSource {
  readonly held = new Map<string, number>();
  fenceOf(sessionId: string): number | undefined {
    return this.held.get(sessionId);
  }
}

async function node(schema: string, fences: FenceSource): Promise<PostgresSessionStore> {
  await requirePostgres();
  const store = await PostgresSessionStore.open({ connectionString: TEST_POSTGRES_URL, schema, fences });
  opened.push(store);
  return store;
}

const turn = (id: string) => ({ id, content: id });
const event = (sessionId: string, seq: number) => ({ sessionId, seq, event: { n: seq } });

/** Every write of the port that concerns session `id`, as the owner of a session makes them. */
const writes = (id: string): [string, (s: PostgresSessionStore) => Promise<void>][] => [
  ["putSession", (s) => s.putSession(id, { status: "stale" })],
  ["putConversation", (s) => s.putConversation(id, { turns: [turn("stale")] })],
  ["putConversations", (s) => s.putConversations([[id, { turns: [turn("stale")] }]])],
  ["changeConversation", (s) => s.changeConversation(id, { append: [turn("stale")], set: { stale: true } })],
  ["appendEvents", (s) => s.appendEvents([event(id, 99)], 1000)],
  ["appendEvents without keep", (s) => s.appendEvents([event(id, 98)])],
  ["deleteSession", (s) => s.deleteSession(id)],
];

async function snapshot(s: PostgresSessionStore, id: string): Promise<StoredJson> {
  return {
    session: (await s.getSession(id)) ?? null,
    conversation: (await s.getConversation(id)) ?? null,
    events: (await s.readEvents(id, 0)).map((e) => e.seq),
  } as unknown as StoredJson;
}

describe("PostgresSessionStore with fences", { timeout: 60_000 }, () => {
  it("refuses every write of an old owner, paused then resumed, once the new owner has written, and stores none of it", async () => {
    const schema = schemas.fresh();
    const oldLeases = new Leases();
    const newLeases = new Leases();
    const oldOwner = await node(schema, oldLeases);
    const newOwner = await node(schema, newLeases);

    // The old owner claimed the session (fence 3) and wrote.
    oldLeases.held.set("s1", 3);
    await oldOwner.putSession("s1", { status: "active", owner: "old" });
    await oldOwner.changeConversation("s1", { append: [turn("t1")] });
    await oldOwner.appendEvents([event("s1", 1)]);
    // It pauses; its lease expires and the new owner claims the session with a higher revision.
    newLeases.held.set("s1", 7);
    await newOwner.putSession("s1", { status: "active", owner: "new" });
    await newOwner.changeConversation("s1", { append: [turn("t2")] });
    await newOwner.appendEvents([event("s1", 2)]);
    const before = await snapshot(newOwner, "s1");

    // Resumed, the old owner still believes it holds fence 3.
    for (const [name, write] of writes("s1")) {
      await assert.rejects(
        write(oldOwner),
        (e: unknown) =>
          e instanceof StaleFenceError &&
          e.code === "stale_fence" &&
          e.sessionId === "s1" &&
          e.fence === 3 &&
          e.current === 7,
        name,
      );
    }
    assert.deepEqual(await snapshot(newOwner, "s1"), before);
    assert.deepEqual(before, {
      session: { id: "s1", record: { status: "active", owner: "new" } },
      conversation: { turns: [turn("t1"), turn("t2")] },
      events: [1, 2],
    });
    // The new owner goes on writing, with the same fence or a later one.
    await newOwner.changeConversation("s1", { append: [turn("t3")] });
    newLeases.held.set("s1", 8);
    await newOwner.putSession("s1", { status: "idle", owner: "new" });
    assert.equal((await newOwner.getSession("s1"))?.record.status, "idle");
  });

  it("writes again on the same connections once it holds the session with a newer fence", async () => {
    const schema = schemas.fresh();
    const leases = new Leases();
    const other = new Leases();
    const store = await node(schema, leases);
    const newer = await node(schema, other);
    other.held.set("s1", 2);
    await newer.putSession("s1", {});
    leases.held.set("s1", 1);
    // Refused: statements sent after the refused fence in a transaction are never prepared.
    for (const [name, write] of writes("s1")) await assert.rejects(write(store), StaleFenceError, name);
    leases.held.set("s1", 3);
    for (const [name, write] of writes("s1"))
      await write(store).catch((error: unknown) => assert.fail(`${name}: ${String(error)}`));
    await store.putSession("s1", { back: true });
    await store.changeConversation("s1", { append: [turn("t1")] });
    assert.deepEqual(await newer.getSession("s1"), { id: "s1", record: { back: true } });
    assert.deepEqual(await newer.getConversation("s1"), { turns: [turn("t1")] });
  });

  it("refuses a write for a session this node holds no fence for, before it reaches the database", async () => {
    const schema = schemas.fresh();
    const leases = new Leases();
    const store = await node(schema, leases);
    for (const [name, write] of writes("s2")) {
      await assert.rejects(
        write(store),
        (e: unknown) => e instanceof StaleFenceError && e.sessionId === "s2" && e.fence === undefined,
        name,
      );
    }
    assert.deepEqual(await store.listSessions(), []);
    assert.deepEqual(await store.readEvents("s2", 0), []);
  });

  it("refuses a whole batch of events when one of its sessions is stale, and writes none of them", async () => {
    const schema = schemas.fresh();
    const mine = new Leases();
    const theirs = new Leases();
    const a = await node(schema, mine);
    const b = await node(schema, theirs);
    mine.held.set("s1", 1);
    mine.held.set("s2", 1);
    theirs.held.set("s2", 2);
    await b.appendEvents([event("s2", 1)]);
    await assert.rejects(
      a.appendEvents([event("s1", 1), event("s2", 2)], 10),
      (e: unknown) => e instanceof StaleFenceError && e.sessionId === "s2" && e.current === 2,
    );
    assert.deepEqual(await a.readEvents("s1", 0), []);
    assert.deepEqual(
      (await a.readEvents("s2", 0)).map((e) => e.seq),
      [1],
    );
  });

  it("keeps a session's fence after the session is deleted: a deleted session cannot be written back by an old owner", async () => {
    const schema = schemas.fresh();
    const oldLeases = new Leases();
    const newLeases = new Leases();
    const oldOwner = await node(schema, oldLeases);
    const newOwner = await node(schema, newLeases);
    oldLeases.held.set("s1", 4);
    newLeases.held.set("s1", 5);
    await newOwner.putSession("s1", {});
    await newOwner.deleteSession("s1");
    await assert.rejects(oldOwner.putSession("s1", { back: true }), StaleFenceError);
    assert.equal(await newOwner.getSession("s1"), undefined);
  });

  it("lets exactly one of two owners racing with their writes win once the higher fence is stored", async () => {
    const schema = schemas.fresh();
    const low = new Leases();
    const high = new Leases();
    const a = await node(schema, low);
    const b = await node(schema, high);
    low.held.set("s1", 10);
    high.held.set("s1", 11);
    const results = await Promise.allSettled(
      Array.from({ length: 20 }, (_, i) =>
        (i % 2 ? b : a).changeConversation("s1", { append: [turn(`${i % 2 ? "high" : "low"}${i}`)] }),
      ),
    );
    // Once a write with fence 11 committed, no write with fence 10 may follow it.
    const turns = ((await b.getConversation("s1")) as { turns: { id: string }[] }).turns.map((t) => t.id);
    const firstHigh = turns.findIndex((id) => id.startsWith("high"));
    assert.ok(firstHigh >= 0);
    assert.deepEqual(
      turns.slice(firstHigh).filter((id) => id.startsWith("low")),
      [],
    );
    for (const [i, result] of results.entries()) {
      if (i % 2) assert.equal(result.status, "fulfilled");
      else if (result.status === "rejected") assert.ok(result.reason instanceof StaleFenceError);
    }
    assert.equal(
      turns.filter((id) => id.startsWith("low")).length,
      results.filter((r, i) => i % 2 === 0 && r.status === "fulfilled").length,
    );
  });
});
