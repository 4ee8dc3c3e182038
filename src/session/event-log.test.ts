import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { recorder, startSystem, systemsForTests } from "../../test/support/sessions.js";
import { InvalidArgumentError, ManualClock, silentLogger } from "../runtime/index.js";
import { MemorySessionStore, type StoredEvent } from "../store/index.js";
import { InvalidSessionIdError } from "./errors.js";
import { EventLog, MAX_UNWRITTEN_EVENTS, WRITE_AT_EVENTS } from "./event-log.js";
import type { SessionEvent } from "./events.js";
import type { SessionSystem } from "./session-system.js";

const start = systemsForTests();

/** What the store holds of a session's log, once the events of this turn of the event loop are written. */
async function written(sys: SessionSystem, id: string): Promise<StoredEvent[]> {
  await new Promise((resolve) => setImmediate(resolve));
  return sys.store.readEvents(id, 0);
}

const durable = (events: SessionEvent[], id: string) =>
  events.filter((e) => e.sessionId === id && e.type !== "llm_delta");

/** A memory store whose event reads wait for `release()`: the window in which a replay races live events. */
class GatedReadStore extends MemorySessionStore {
  private reached!: () => void;
  /** Resolves when a read of the event log has begun. */
  readonly reading = new Promise<void>((resolve) => {
    this.reached = resolve;
  });
  release!: () => void;
  private readonly gate = new Promise<void>((resolve) => {
    this.release = resolve;
  });

  override async readEvents(id: string, since: number): Promise<StoredEvent[]> {
    this.reached();
    await this.gate;
    return super.readEvents(id, since);
  }
}

describe("session event numbering", () => {
  it("numbers each session's durable events 1, 2, 3, ... on their own", { timeout: 20_000 }, async () => {
    const sys = await start();
    const rec = recorder();
    sys.subscribeAll(rec.listener);
    const a = await sys.createSession();
    const b = await sys.createSession();
    await sys.sendMessage(a.id, "echo one two three");
    await sys.sendMessage(b.id, "echo four");
    await sys.sendMessage(a.id, "echo five");
    for (const id of [a.id, b.id]) {
      const seqs = durable(rec.events, id).map((e) => e.seq);
      assert.ok(seqs.length >= 6, `${id} has events`);
      assert.deepEqual(
        seqs,
        seqs.map((_, i) => i + 1),
      );
    }
  });

  it("gives an llm_delta the seq of the durable event before it and keeps it out of the log", {
    timeout: 20_000,
  }, async () => {
    const sys = await start();
    const rec = recorder();
    const { id } = await sys.createSession();
    await sys.subscribe(id, rec.listener);
    await sys.sendMessage(id, "echo one two three");
    const deltas = rec.events.filter((e) => e.type === "llm_delta");
    assert.equal(deltas.length, 3);
    const started = rec.events.find((e) => e.type === "turn_started");
    assert.ok(started);
    for (const delta of deltas) assert.equal(delta.seq, started.seq);
    const kept = await written(sys, id);
    assert.ok(kept.length > 0);
    assert.ok(kept.every((e) => (e.event as { type: string }).type !== "llm_delta"));
  });
});

describe("numbering across restarts", () => {
  it("goes on with the next number after a clean stop", { timeout: 20_000 }, async () => {
    const store = new MemorySessionStore();
    const first = await startSystem({ store });
    let id: string;
    let last: number;
    try {
      id = (await first.createSession()).id;
      await first.sendMessage(id, "echo one");
      last = first.eventLog.head(id);
    } finally {
      await first.stop();
    }
    const second = await start({ store });
    const rec = recorder();
    await second.subscribe(id, rec.listener);
    await second.sendMessage(id, "echo two");
    assert.equal(durable(rec.events, id)[0]?.seq, last + 1);
  });

  it("skips past every number a crash may have given but not written", { timeout: 20_000 }, async () => {
    const store = new MemorySessionStore();
    const first = await startSystem({ store });
    let id: string;
    let last: number;
    try {
      id = (await first.createSession()).id;
      last = first.eventLog.head(id);
    } finally {
      await first.stop();
    }
    // A program that opened the log and was killed before it could close it.
    await store.openEventLog();
    const second = await start({ store });
    const rec = recorder();
    await second.subscribe(id, rec.listener);
    await second.sendMessage(id, "echo after the crash");
    assert.equal(durable(rec.events, id)[0]?.seq, last + MAX_UNWRITTEN_EVENTS + 1);
    const fresh = await second.createSession();
    assert.ok(
      second.eventLog.head(fresh.id) > MAX_UNWRITTEN_EVENTS,
      "a session the log does not know either",
    );
  });
});

describe("hosted session events", () => {
  it("are numbered in the main process, as an inline session's are", { timeout: 30_000 }, async () => {
    const sys = await start({ isolation: "thread" });
    const rec = recorder();
    const { id } = await sys.createSession();
    await sys.subscribe(id, rec.listener, { since: 0 });
    await sys.sendMessage(id, "echo from a thread");
    await rec.waitFor((e) => e.type === "llm_done", 10_000);
    const seqs = durable(rec.events, id).map((e) => e.seq);
    assert.deepEqual(
      seqs,
      seqs.map((_, i) => i + 1),
    );
    assert.ok(seqs.length >= 6);
    const kept = (await written(sys, id)).map((e) => (e.event as { type: string }).type);
    assert.ok(kept.includes("message_added") && kept.includes("llm_done"), "a host's events are kept too");
  });
});

describe("subscribe with since", () => {
  it("replays the durable events after since, in order, with the session's info as it was", {
    timeout: 20_000,
  }, async () => {
    const sys = await start();
    const { id } = await sys.createSession({ name: "replayed" });
    await sys.sendMessage(id, "echo hello");
    const live = recorder();
    await sys.subscribe(id, live.listener, { since: 0 });
    const types = live.events.map((e) => e.type);
    assert.deepEqual(types, [
      "session_created",
      "session_status",
      "message_added",
      "turn_started",
      "message_added",
      "llm_done",
    ]);
    assert.deepEqual(
      live.events.map((e) => e.seq),
      [1, 2, 3, 4, 5, 6],
    );
    const created = live.events[0];
    assert.ok(created?.type === "session_created");
    assert.equal(created.info.name, "replayed");
    assert.ok(created.info.createdAt instanceof Date, "dates come back as Dates");
  });

  it("delivers live events published during the replay after it, none missed and none twice", {
    timeout: 20_000,
  }, async () => {
    const store = new GatedReadStore();
    const sys = await start({ store });
    const { id } = await sys.createSession();
    await sys.sendMessage(id, "echo before");
    const rec = recorder();
    const subscribed = sys.subscribe(id, rec.listener, { since: 2 });
    await store.reading;
    // Published while the replay is still reading the log.
    await sys.sendMessage(id, "echo during");
    assert.equal(rec.events.length, 0, "nothing is delivered before the replay");
    store.release();
    await subscribed;
    await sys.sendMessage(id, "echo after");
    const seqs = durable(rec.events, id).map((e) => e.seq);
    assert.deepEqual(
      seqs,
      Array.from({ length: seqs.length }, (_, i) => i + 3),
    );
    const texts = rec.events.flatMap((e) => (e.type === "llm_done" ? [e.text] : []));
    assert.deepEqual(texts, ["before", "during", "after"]);
    const deltas = rec.events.filter((e) => e.type === "llm_delta").map((e) => e.text);
    assert.deepEqual(deltas, ["during", "after"], "deltas are live only, never replayed");
  });

  it("replays only the newest retainEvents events", { timeout: 20_000 }, async () => {
    const sys = await start({ retainEvents: 5 });
    const { id } = await sys.createSession();
    for (let i = 0; i < 6; i++) await sys.sendMessage(id, `echo ${i}`);
    const head = sys.eventLog.head(id);
    assert.ok(head > 20);
    const rec = recorder();
    await sys.subscribe(id, rec.listener, { since: 0 });
    assert.deepEqual(
      rec.events.map((e) => e.seq),
      [head - 4, head - 3, head - 2, head - 1, head],
    );
    assert.equal((await written(sys, id)).length, 5, "the store keeps no more");
  });

  it("refuses a since that is not a whole number >= 0, and a malformed id", { timeout: 20_000 }, async () => {
    const sys = await start();
    const { id } = await sys.createSession();
    for (const since of [-1, 1.5, Number.NaN, "3" as unknown as number]) {
      await assert.rejects(
        sys.subscribe(id, () => {}, { since }),
        InvalidArgumentError,
        String(since),
      );
    }
    await assert.rejects(
      sys.subscribe("session_nope", () => {}),
      InvalidSessionIdError,
    );
    await assert.rejects(start({ retainEvents: 0 }), InvalidArgumentError);
  });

  it("deletes a session's event log when the session is purged", { timeout: 20_000 }, async () => {
    const clock = new ManualClock();
    let wallClock = Date.parse("2026-11-24T12:00:00Z");
    const sys = await start({
      clock,
      now: () => new Date(wallClock),
      idleSweepMs: 100,
      retainTerminatedMs: 1000,
    });
    const { id } = await sys.createSession();
    await sys.terminateSession(id);
    assert.ok((await written(sys, id)).length > 0);
    wallClock += 2000;
    await clock.advance(200);
    assert.equal(await sys.store.getSession(id), undefined);
    assert.deepEqual(await sys.store.readEvents(id, 0), []);
    assert.equal(sys.eventLog.head(id), 0);
  });
});

describe("subscribing before a session exists", () => {
  it("a subscriber to an id with no session yet receives its session_created", {
    timeout: 20_000,
  }, async () => {
    const first = await start();
    const { id } = await first.createSession({ name: "travels" });
    const document = await first.exportSession(id);
    const second = await start();
    const rec = recorder();
    await second.subscribe(id, rec.listener);
    await second.importSession(document);
    const created = await rec.waitFor((e) => e.type === "session_created");
    assert.equal(created.sessionId, id);
  });
});

describe("boot listeners", () => {
  it("a listener given to start receives the turn_interrupted found while the system boots", {
    timeout: 20_000,
  }, async () => {
    const store = new MemorySessionStore();
    const first = await startSystem({ store });
    let id: string;
    try {
      id = (await first.createSession()).id;
      await first.sendMessage(id, "echo answered");
    } finally {
      await first.stop();
    }
    // What a kill between the user's message and the reply leaves in the store.
    const snapshot = (await store.getConversation(id)) as { turns: object[]; nextTurn: number };
    snapshot.turns.push({
      id: `t${snapshot.nextTurn++}`,
      role: "user",
      content: "cut short",
      status: "complete",
      at: new Date().toISOString(),
    });
    await store.putConversation(id, snapshot as never);

    const rec = recorder();
    const second = await start({ store, listeners: [rec.listener] });
    const event = await rec.waitFor((e) => e.type === "turn_interrupted");
    assert.ok(event.type === "turn_interrupted");
    assert.equal(event.turn.content, "cut short");
    assert.ok(second.eventLog.head(id) >= event.seq);
  });
});

describe("event log batches", () => {
  /** A memory store that counts the batches it is given. */
  class CountingStore extends MemorySessionStore {
    readonly batches: number[] = [];
    override appendEvents(entries: StoredEvent[], keep?: number): Promise<void> {
      this.batches.push(entries.length);
      return super.appendEvents(entries, keep);
    }
  }
  const id = "00000000-0000-7000-8000-000000000001";
  const turnStarted = (n: number) =>
    ({ type: "turn_started", sessionId: id, at: new Date(0).toISOString(), turn: n }) as never;

  it("writes a batch as soon as WRITE_AT_EVENTS durable events wait, without waiting for the loop to turn", async () => {
    const store = new CountingStore();
    const log = new EventLog(store, silentLogger());
    await log.open();
    for (let n = 0; n < WRITE_AT_EVENTS * 2 + 3; n++) log.record(turnStarted(n));
    assert.deepEqual(store.batches, [WRITE_AT_EVENTS, WRITE_AT_EVENTS]);
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(store.batches, [WRITE_AT_EVENTS, WRITE_AT_EVENTS, 3]);
    assert.equal((await store.readEvents(id, 0)).length, WRITE_AT_EVENTS * 2 + 3);
  });
});
