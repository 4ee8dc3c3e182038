// Two session systems sharing one store, each running only the sessions it owns (what cluster
// nodes do over Postgres): no restore at boot, adoption of a stored session (an in-flight turn
// marked interrupted), release without a write, and event numbers never given twice.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { recorder, systemsForTests } from "../../test/support/sessions.js";
import { defaultProviders } from "../llm/index.js";
import { silentLogger } from "../runtime/index.js";
import { MemorySessionStore, type SessionStore, StaleFenceError, type StoredEvent } from "../store/index.js";
import { SessionNotFoundError } from "./errors.js";
import { EventLog } from "./event-log.js";
import type { SessionEvent } from "./events.js";
import type { SessionOwnership } from "./session-ownership.js";

const start = systemsForTests();

/** Ownership as a set of ids, with a log of claims. */
function owner(): SessionOwnership & { ids: Set<string>; claims: string[] } {
  const ids = new Set<string>();
  const claims: string[] = [];
  return {
    ids,
    claims,
    claim: async (id) => {
      claims.push(id);
      ids.add(id);
    },
    owned: () => ids,
  };
}

/** Counts the store's writes, by method. */
function countingStore(): { store: SessionStore; writes: string[] } {
  const store = new MemorySessionStore();
  const writes: string[] = [];
  for (const method of [
    "putSession",
    "deleteSession",
    "putConversation",
    "changeConversation",
    "putConversations",
    "appendEvents",
  ] as const) {
    const original = store[method].bind(store) as (...args: unknown[]) => Promise<void>;
    (store as unknown as Record<string, unknown>)[method] = (...args: unknown[]) => {
      writes.push(method);
      return original(...args);
    };
  }
  return { store, writes };
}

describe("session systems sharing a store (ownership)", () => {
  it("does not start the stored sessions of others at boot", async () => {
    const store = new MemorySessionStore();
    const a = await start({ store, ownership: owner() });
    const { id } = await a.createSession();
    const b = await start({ store, ownership: owner() });
    assert.deepEqual(await b.listSessions(), []);
    assert.equal(b.findSupervisor(id), undefined);
    assert.equal((await a.getSession(id))?.status, "active");
  });

  it("claims a new session before its first write", async () => {
    const { store, writes } = countingStore();
    const ownership = owner();
    let writesAtClaim = -1;
    const claim = ownership.claim;
    ownership.claim = async (id) => {
      writesAtClaim = writes.length;
      await claim(id);
    };
    const a = await start({ store, ownership });
    const before = writes.length;
    const { id } = await a.createSession();
    assert.deepEqual(ownership.claims, [id]);
    assert.equal(writesAtClaim, before);
  });

  it("a refused claim creates nothing", async () => {
    const store = new MemorySessionStore();
    const ownership = owner();
    ownership.claim = async () => {
      throw new Error("owned elsewhere");
    };
    const a = await start({ store, ownership });
    await assert.rejects(a.createSession(), /owned elsewhere/);
    assert.deepEqual(await a.listSessions(), []);
    assert.deepEqual(await store.listSessions(), []);
  });

  it("adopts a stored session with its conversation", async () => {
    const store = new MemorySessionStore();
    const a = await start({ store, ownership: owner() });
    const { id } = await a.createSession();
    await a.sendMessage(id, "echo kept");
    assert.equal(await a.releaseSession(id), true);
    const b = await start({ store, ownership: owner() });
    const info = await b.adoptSession(id);
    assert.equal(info.status, "active");
    assert.deepEqual(
      (await b.getHistory(id)).map((t) => t.content),
      ["echo kept", "kept"],
    );
    assert.equal((await b.sendMessage(id, "echo again")).text, "again");
  });

  it("adopting a session that runs here already answers its info", async () => {
    const store = new MemorySessionStore();
    const a = await start({ store, ownership: owner() });
    const { id } = await a.createSession();
    const supervisor = a.findSupervisor(id);
    assert.equal((await a.adoptSession(id)).id, id);
    assert.ok(a.findSupervisor(id)?.equals(supervisor as never));
  });

  it("adopting a session the store does not hold, or a terminated one, is SessionNotFoundError", async () => {
    const store = new MemorySessionStore();
    const a = await start({ store, ownership: owner() });
    const { id } = await a.createSession();
    await a.terminateSession(id);
    const b = await start({ store, ownership: owner() });
    await assert.rejects(b.adoptSession(id), SessionNotFoundError);
    await assert.rejects(
      b.adoptSession("session_00000000-0000-4000-8000-000000000000"),
      SessionNotFoundError,
    );
  });

  it("release stops the session's processes and writes nothing", async () => {
    const { store, writes } = countingStore();
    const a = await start({ store, ownership: owner() });
    const { id } = await a.createSession();
    await a.sendMessage(id, "echo one");
    await new Promise((resolve) => setImmediate(resolve));
    const rec = recorder();
    a.subscribeAll(rec.listener);
    const before = writes.length;
    const processes = a.runtime.processCount;
    assert.equal(await a.releaseSession(id), true);
    assert.equal(a.findSupervisor(id), undefined);
    assert.equal(a.getOrchestratorPid(id), undefined);
    assert.equal(a.runtime.processCount, processes - 3);
    assert.deepEqual(await a.listSessions(), []);
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.deepEqual(writes.slice(before), []);
    assert.deepEqual(rec.events, []);
    assert.equal((await store.getSession(id))?.record.status, "active");
    assert.equal(await a.releaseSession(id), false);
  });

  it("an adopted session marks the turn its previous owner had in flight interrupted, with its event", async () => {
    const store = new MemorySessionStore();
    const slow = { providers: defaultProviders({ chunkDelayMs: 200 }) };
    const a = await start({ store, ownership: owner(), ...slow });
    const { id } = await a.createSession();
    const seen = recorder();
    await a.subscribe(id, seen.listener);
    const turn = a.sendMessage(id, "echo a long reply that takes a while to stream");
    turn.catch(() => undefined);
    await seen.waitFor((e) => e.type === "llm_delta");
    // The owner goes without a word, as a crashed node: nothing more reaches the store.
    await a.releaseSession(id);
    await assert.rejects(turn);

    const b = await start({ store, ownership: owner(), ...slow });
    const rec = recorder();
    b.subscribeAll(rec.listener);
    await b.adoptSession(id);
    const event = await rec.waitFor((e) => e.type === "turn_interrupted");
    assert.equal(
      event.type === "turn_interrupted" && event.turn.content,
      "echo a long reply that takes a while to stream",
    );
    assert.equal((await b.getHistory(id)).at(-1)?.status, "interrupted");
  });

  it("an adopted session's events are numbered past every number its previous owner gave", async () => {
    const store = new MemorySessionStore();
    const a = await start({ store, ownership: owner() });
    const { id } = await a.createSession();
    const first: SessionEvent[] = [];
    await a.subscribe(id, (e) => first.push(e));
    await a.sendMessage(id, "echo one");
    await a.releaseSession(id);
    const b = await start({ store, ownership: owner() });
    const later: SessionEvent[] = [];
    await b.subscribe(id, (e) => later.push(e));
    await b.adoptSession(id);
    await b.sendMessage(id, "echo two");
    const lastOfA = Math.max(...first.map((e) => e.seq));
    const durable = later.filter((e) => e.type !== "llm_delta");
    assert.ok(durable.length > 0);
    assert.ok(
      durable.every((e) => e.seq > lastOfA),
      `seqs ${durable.map((e) => e.seq)} after ${lastOfA}`,
    );
    const seqs = durable.map((e) => e.seq);
    assert.deepEqual(
      seqs,
      [...new Set(seqs)].sort((x, y) => x - y),
    );
  });

  it("a shared store's event log is never marked open or closed by one system", async () => {
    const store = new MemorySessionStore();
    let marks = 0;
    const open = store.openEventLog.bind(store);
    const close = store.closeEventLog.bind(store);
    store.openEventLog = () => {
      marks++;
      return open();
    };
    store.closeEventLog = () => {
      marks++;
      return close();
    };
    const a = await start({ store, ownership: owner() });
    await a.createSession();
    await a.stop();
    assert.equal(marks, 0);
  });

  it("a restarted manager takes back only the sessions this system owns", async () => {
    const store = new MemorySessionStore();
    const other = await start({ store, ownership: owner() });
    const { id: theirs } = await other.createSession();
    const mine = owner();
    const a = await start({ store, ownership: mine });
    const { id } = await a.createSession();
    const manager = a.managerPid();
    a.runtime.exit(manager as never, "kill");
    for (let i = 0; i < 200 && (!a.managerPid() || a.managerPid()?.equals(manager as never)); i++)
      await new Promise((resolve) => setTimeout(resolve, 5));
    assert.deepEqual(
      (await a.listSessions()).map((s) => s.id),
      [id],
    );
    assert.equal(a.findSupervisor(theirs), undefined);
  });

  it("events of sessions still owned are kept when the store refuses a batch for one no longer owned", async () => {
    const lost = "session_00000000-0000-4000-8000-00000000000a";
    const kept = "session_00000000-0000-4000-8000-00000000000b";
    const store = new MemorySessionStore();
    const append = store.appendEvents.bind(store);
    store.appendEvents = async (entries: StoredEvent[], keep?: number) => {
      if (entries.some((entry) => entry.sessionId === lost))
        throw new StaleFenceError(lost, undefined, undefined);
      return append(entries, keep);
    };
    const log = new EventLog(store, silentLogger(), 100, true);
    await log.open();
    log.record({ type: "session_hibernated", sessionId: lost, at: "2026-01-01T00:00:00.000Z" });
    log.record({ type: "session_hibernated", sessionId: kept, at: "2026-01-01T00:00:00.000Z" });
    assert.deepEqual(
      (await log.read(kept, 0)).map((e) => [e.sessionId, e.seq]),
      [[kept, 1]],
    );
    assert.deepEqual(await store.readEvents(lost, 0), []);
  });
});
