// Creates taken one after another share one durable write (group commit), and none is answered
// (or announced, or stored at all) before its `active` record is durable.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { systemsForTests } from "../../test/support/sessions.js";
import {
  MemorySessionStore,
  type PutSessionOptions,
  type StoredEvent,
  type StoredJson,
} from "../store/index.js";
import { DynamicSupervisor } from "../supervision/index.js";
import { SESSION_MANAGER_NAME, SESSIONS_SUPERVISOR_NAME } from "./deps.js";

const start = systemsForTests();
const T = { timeout: 20_000 };

interface Put {
  id: string;
  status: unknown;
  durable: boolean;
}

/** Every store write, in the order the store took them: a record, or a batch of events. */
type Write = { record: string } | { events: string[] };

/** A memory store that logs every record write, and can hold durable ones until released. */
class LoggingStore extends MemorySessionStore {
  readonly puts: Put[] = [];
  readonly writes: Write[] = [];
  private held: (() => void)[] | undefined;

  holdDurableWrites(): void {
    this.held = [];
  }

  releaseDurableWrites(): void {
    const held = this.held ?? [];
    this.held = undefined;
    for (const release of held) release();
  }

  get heldWrites(): number {
    return this.held?.length ?? 0;
  }

  override async putSession(
    id: string,
    record: { [key: string]: StoredJson },
    options?: PutSessionOptions,
  ): Promise<void> {
    const durable = options?.durable !== false;
    if (durable && this.held) await new Promise<void>((resolve) => this.held?.push(resolve));
    await super.putSession(id, record, options);
    this.puts.push({ id, status: record.status, durable });
    this.writes.push({ record: id });
  }

  override async appendEvents(entries: StoredEvent[], keep?: number): Promise<void> {
    await super.appendEvents(entries, keep);
    this.writes.push({ events: entries.map((e) => e.sessionId) });
  }
}

describe("createSession: group commit", () => {
  it("a create is not answered while its active record's durable write is held", T, async () => {
    const store = new LoggingStore();
    const sys = await start({ store });
    store.holdDurableWrites();
    let answered = false;
    const creating = sys.createSession().then((info) => {
      answered = true;
      return info;
    });
    while (store.heldWrites === 0) await new Promise((resolve) => setImmediate(resolve));
    // Its processes are up and the write is waiting: the caller must not have its answer yet.
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(answered, false);
    store.releaseDurableWrites();
    const info = await creating;
    const last = store.puts.at(-1);
    assert.deepEqual(last, { id: info.id, status: "active", durable: true });
  });

  it(
    "creates arriving together are stored active in order and made durable by fewer writes than creates",
    T,
    async () => {
      const store = new LoggingStore();
      const sys = await start({ store });
      store.puts.length = 0;
      const infos = await Promise.all(Array.from({ length: 16 }, () => sys.createSession()));
      const actives = store.puts.filter((p) => p.status === "active");
      assert.deepEqual(
        actives.map((p) => p.id).sort(),
        infos.map((i) => i.id).sort(),
        "each session's active record written once",
      );
      const durableWrites = actives.filter((p) => p.durable).length;
      assert.ok(durableWrites >= 1 && durableWrites < 16, `${durableWrites} durable writes for 16 creates`);
      // The last write of a burst is durable: it carries the lazy ones before it to the disk.
      assert.equal(store.puts.at(-1)?.durable, true);
    },
  );

  it(
    "a create writes its session's record once: active, durable, after its processes are up",
    T,
    async () => {
      const store = new LoggingStore();
      const sys = await start({ store });
      store.puts.length = 0;
      const info = await sys.createSession();
      assert.deepEqual(store.puts, [{ id: info.id, status: "active", durable: true }]);
    },
  );

  it("no event of a new session reaches the store before its record", T, async () => {
    const store = new LoggingStore();
    const sys = await start({ store });
    sys.subscribeAll(() => {});
    // 200 at once: the event log writes a batch as soon as WRITE_AT_EVENTS wait, in the middle of the burst.
    await Promise.all(Array.from({ length: 200 }, () => sys.createSession()));
    await sys.stop();
    const recorded = new Set<string>();
    let eventBatches = 0;
    for (const write of store.writes) {
      if ("record" in write) recorded.add(write.record);
      else {
        eventBatches++;
        for (const id of write.events) assert.ok(recorded.has(id), `an event of ${id} before its record`);
      }
    }
    assert.ok(eventBatches > 1, `${eventBatches} event batches`);
  });

  it(
    "an inline create whose manager dies before its record is written leaves no tree running",
    T,
    async () => {
      const store = new LoggingStore();
      const sys = await start({ store });
      store.holdDurableWrites();
      const creating = sys.createSession();
      while (store.heldWrites === 0) await new Promise((resolve) => setImmediate(resolve));
      const trees = () => DynamicSupervisor.whichChildren(sys.runtime, SESSIONS_SUPERVISOR_NAME);
      assert.equal((await trees()).length, 1, "the session's tree is up, its record not yet written");
      const manager = sys.registry.whereis(SESSION_MANAGER_NAME);
      assert.ok(manager);
      sys.runtime.exit(manager, "kill");
      await assert.rejects(creating);
      // The manager's successor finds a tree the store has no record of, and stops it.
      for (let i = 0; i < 500 && (await trees()).length > 0; i++)
        await new Promise((resolve) => setTimeout(resolve, 10));
      assert.deepEqual(await trees(), []);
      assert.deepEqual(await sys.listSessions(), []);
    },
  );

  it("a long run of creates is made durable at least every 64 creates", T, async () => {
    const store = new LoggingStore();
    const sys = await start({ store });
    store.puts.length = 0;
    await Promise.all(Array.from({ length: 200 }, () => sys.createSession()));
    const actives = store.puts.filter((p) => p.status === "active");
    let lazyInARow = 0;
    for (const put of actives) {
      lazyInARow = put.durable ? 0 : lazyInARow + 1;
      assert.ok(lazyInARow < 64, "64 creates in a row waited for one write");
    }
  });

  it("every create answered is stored active when its answer arrives", T, async () => {
    const store = new LoggingStore();
    const sys = await start({ store });
    const checks = Array.from({ length: 12 }, async () => {
      const info = await sys.createSession();
      const stored = await store.getSession(info.id);
      const lastDurable = store.puts.findLastIndex((p) => p.durable);
      const ownActive = store.puts.findIndex((p) => p.id === info.id && p.status === "active");
      return { status: stored?.record.status, covered: ownActive >= 0 && ownActive <= lastDurable };
    });
    for (const result of await Promise.all(checks))
      assert.deepEqual(result, { status: "active", covered: true });
  });

  it("a request queued behind creates sees them stored and announced first", T, async () => {
    const store = new LoggingStore();
    const sys = await start({ store });
    const statuses: string[] = [];
    sys.subscribeAll((event) => {
      if (event.type === "session_status") statuses.push(`${event.sessionId}:${event.status}`);
    });
    const creates = Array.from({ length: 4 }, () => sys.createSession());
    const listed = await sys.listSessions();
    const infos = await Promise.all(creates);
    assert.equal(listed.length, 4);
    for (const info of infos)
      assert.ok(statuses.includes(`${info.id}:active`), `${info.id} announced active`);
    for (const session of listed) assert.equal(session.status, "active");
  });

  it(
    "a durable write that fails fails its creates, leaves no session behind, and the manager keeps answering",
    T,
    async () => {
      const store = new LoggingStore();
      const sys = await start({ store });
      const original = store.putSession.bind(store);
      let failNext = true;
      store.putSession = async (id, record, options) => {
        if (options?.durable !== false && record.status === "active" && failNext) {
          failNext = false;
          throw new Error("disk full");
        }
        return original(id, record, options);
      };
      const events: string[] = [];
      sys.subscribeAll((event) => events.push(event.type));
      await assert.rejects(sys.createSession(), /disk full/);
      assert.deepEqual(events, [], "a session that never was is not announced, nor its end");
      assert.deepEqual(await sys.listSessions(), []);
      assert.deepEqual(await store.listSessions(), []);
      const info = await sys.createSession();
      assert.equal(info.status, "active");
      assert.deepEqual(
        (await sys.listSessions()).map((s) => s.id),
        [info.id],
      );
    },
  );
});
