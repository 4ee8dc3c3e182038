import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import Database from "better-sqlite3";
import { StoreCorruptError, StoreVersionError } from "./errors.js";
import { SqliteSessionStore, STORE_SCHEMA_VERSION } from "./sqlite-store.js";
import { describeSessionStoreConformance } from "./store-conformance.js";

const dir = mkdtempSync(join(tmpdir(), "sessionvisor-store-"));
let files = 0;
const freshPath = () => join(dir, `store-${++files}.db`);
after(() => rmSync(dir, { recursive: true, force: true }));

describeSessionStoreConformance("sqlite", async () => SqliteSessionStore.open(freshPath()));

describe("SqliteSessionStore", () => {
  it("made with new from JavaScript, says to open it with SqliteSessionStore.open", () => {
    const Store = SqliteSessionStore as unknown as new (path: string) => unknown;
    assert.throws(() => new Store(freshPath()), /SqliteSessionStore\.open\(path\), not with new/);
  });

  it("keeps everything across close and reopen of the file", async () => {
    const path = freshPath();
    const first = SqliteSessionStore.open(path);
    await first.putSession("s1", { status: "idle" });
    await first.putConversation("s1", { turns: ["hello"] });
    await first.close();
    const second = SqliteSessionStore.open(path);
    assert.deepEqual(await second.getSession("s1"), { id: "s1", record: { status: "idle" } });
    assert.deepEqual(await second.getConversation("s1"), { turns: ["hello"] });
    await second.close();
  });

  it("a record written with durable: false is read back at once and from the reopened file", async () => {
    const path = freshPath();
    const first = SqliteSessionStore.open(path);
    await first.putSession("s1", { status: "initializing" }, { durable: false });
    assert.deepEqual(await first.getSession("s1"), { id: "s1", record: { status: "initializing" } });
    await first.putSession("s1", { status: "active" });
    await first.putSession("s2", { status: "initializing" }, { durable: false });
    await first.close();
    const second = SqliteSessionStore.open(path);
    assert.deepEqual(await second.listSessions(), [
      { id: "s1", record: { status: "active" } },
      { id: "s2", record: { status: "initializing" } },
    ]);
    await second.close();
  });

  it("uses WAL mode and records its schema version", async () => {
    const path = freshPath();
    await SqliteSessionStore.open(path).close();
    const db = new Database(path, { readonly: true });
    assert.equal(db.pragma("journal_mode", { simple: true }), "wal");
    assert.equal(db.pragma("user_version", { simple: true }), STORE_SCHEMA_VERSION);
    db.close();
  });

  it("refuses a file written by a newer version, naming both versions", () => {
    const path = freshPath();
    const db = new Database(path);
    db.pragma(`user_version = ${STORE_SCHEMA_VERSION + 1}`);
    db.close();
    assert.throws(
      () => SqliteSessionStore.open(path),
      (e: unknown) => e instanceof StoreVersionError && e.found === STORE_SCHEMA_VERSION + 1,
    );
  });

  it("refuses a corrupt file with a clear error and leaves it untouched", () => {
    const path = freshPath();
    const garbage = Buffer.alloc(8192, 0x5a);
    writeFileSync(path, garbage);
    assert.throws(
      () => SqliteSessionStore.open(path),
      (e: unknown) =>
        e instanceof StoreCorruptError && e.message.includes(path) && /left untouched/.test(e.message),
    );
    assert.deepEqual(readFileSync(path), garbage);
  });

  it("refuses an SQLite file that is not a sessionvisor store", () => {
    const path = freshPath();
    const db = new Database(path);
    db.exec("CREATE TABLE invoices (id INTEGER PRIMARY KEY)");
    db.close();
    assert.throws(() => SqliteSessionStore.open(path), /not a sessionvisor store/);
  });

  it("reports a stored record or conversation that is not JSON as StoreCorruptError naming the session", async () => {
    const path = freshPath();
    const store = SqliteSessionStore.open(path);
    await store.putSession("s1", { status: "idle" });
    await store.putConversation("s1", { turns: [] });
    const db = new Database(path);
    db.prepare("UPDATE sessions SET record = '{not json' WHERE id = 's1'").run();
    db.prepare("UPDATE conversations SET head = '' WHERE id = 's1'").run();
    db.close();
    const corrupt = (e: unknown) => e instanceof StoreCorruptError && e.sessionId === "s1";
    await assert.rejects(store.getSession("s1"), corrupt);
    await assert.rejects(store.listSessions(), corrupt);
    await assert.rejects(store.getConversation("s1"), corrupt);
    await store.close();
  });

  it("reports a stored turn that is not JSON as StoreCorruptError naming the session", async () => {
    const path = freshPath();
    const store = SqliteSessionStore.open(path);
    await store.putConversation("s1", { turns: [{ id: "t1" }, { id: "t2" }] });
    const db = new Database(path);
    db.prepare("UPDATE conversation_turns SET turn = '{broken' WHERE session_id = 's1' AND seq = 2").run();
    db.close();
    await assert.rejects(
      store.getConversation("s1"),
      (e: unknown) => e instanceof StoreCorruptError && e.sessionId === "s1" && e.part === "conversation",
    );
    await store.close();
  });

  it("keeps each turn in a row of its own and the rest of the conversation in one small row", async () => {
    const path = freshPath();
    const store = SqliteSessionStore.open(path);
    await store.putConversation("s1", { nextTurn: 3, turns: [{ id: "t1" }, { id: "t2" }] });
    await store.changeConversation("s1", { append: [{ id: "t3" }], set: { nextTurn: 4 } });
    await store.close();
    const db = new Database(path, { readonly: true });
    assert.deepEqual(
      db.prepare("SELECT head FROM conversations WHERE id = 's1'").pluck().get(),
      '{"nextTurn":4}',
    );
    assert.deepEqual(
      db.prepare("SELECT seq, turn_id FROM conversation_turns WHERE session_id = 's1' ORDER BY seq").all(),
      [1, 2, 3].map((n) => ({ seq: n, turn_id: `t${n}` })),
    );
    db.close();
  });

  it("opens a file written with schema version 2 in place, each conversation split into its turns", async () => {
    const path = freshPath();
    // What sessionvisor wrote with the event log and before conversations were kept turn by turn.
    const old = new Database(path);
    old.pragma("journal_mode = WAL");
    old.exec(`
      CREATE TABLE sessions (id TEXT PRIMARY KEY, record TEXT NOT NULL, updated_at INTEGER NOT NULL) STRICT;
      CREATE TABLE conversations (id TEXT PRIMARY KEY, snapshot TEXT NOT NULL) STRICT;
      CREATE TABLE session_events (
        session_id TEXT NOT NULL, seq INTEGER NOT NULL, event TEXT NOT NULL, PRIMARY KEY (session_id, seq)
      ) STRICT, WITHOUT ROWID;
      CREATE TABLE store_state (key TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT;
    `);
    const turns = Array.from({ length: 50 }, (_, i) => ({ id: `t${i + 1}`, role: "user", content: `m${i}` }));
    const conversation = { version: 1, nextTurn: 51, turns, activeFiles: ["/a"], fileIndex: [] };
    old.prepare("INSERT INTO sessions VALUES ('s1', '{\"status\":\"idle\"}', 0)").run();
    old.prepare("INSERT INTO conversations VALUES ('s1', ?)").run(JSON.stringify(conversation));
    old.prepare("INSERT INTO conversations VALUES ('whole', '[1,2]')").run();
    old.prepare("INSERT INTO conversations VALUES ('damaged', '{not json')").run();
    old.prepare("INSERT INTO session_events VALUES ('s1', 4, '{\"type\":\"e\"}')").run();
    old.prepare("INSERT INTO store_state VALUES ('event_log', 'closed')").run();
    old.pragma("user_version = 2");
    old.close();

    const store = SqliteSessionStore.open(path);
    try {
      assert.deepEqual(await store.getSession("s1"), { id: "s1", record: { status: "idle" } });
      assert.deepEqual(await store.getConversation("s1"), conversation);
      assert.deepEqual(await store.getConversation("whole"), [1, 2]);
      await assert.rejects(store.getConversation("damaged"), StoreCorruptError);
      assert.deepEqual(await store.lastEventSeqs(), [["s1", 4]]);
      assert.equal(await store.openEventLog(), true);
      const next = { id: "t51", role: "assistant", content: "reply" };
      await store.changeConversation("s1", {
        replace: [{ ...turns[0], content: "again" }],
        append: [next],
        keepFrom: "t2",
      });
      assert.deepEqual(await store.getConversation("s1"), {
        ...conversation,
        turns: [...turns.slice(1), next],
      });
    } finally {
      await store.close();
    }
    const db = new Database(path, { readonly: true });
    assert.equal(db.pragma("user_version", { simple: true }), 3);
    assert.equal(
      db.prepare("SELECT COUNT(*) FROM conversation_turns WHERE session_id = 's1'").pluck().get(),
      50,
    );
    db.close();
  });

  it("opens a file written with schema version 1, keeps its sessions and adds the event log", async () => {
    const path = freshPath();
    // What sessionvisor wrote before the event log existed.
    const old = new Database(path);
    old.pragma("journal_mode = WAL");
    old.exec(`
      CREATE TABLE sessions (id TEXT PRIMARY KEY, record TEXT NOT NULL, updated_at INTEGER NOT NULL) STRICT;
      CREATE TABLE conversations (id TEXT PRIMARY KEY, snapshot TEXT NOT NULL) STRICT;
    `);
    old.prepare("INSERT INTO sessions VALUES ('s1', '{\"status\":\"idle\"}', 0)").run();
    old.prepare("INSERT INTO conversations VALUES ('s1', '{\"turns\":[\"hello\"]}')").run();
    old.pragma("user_version = 1");
    old.close();

    const store = SqliteSessionStore.open(path);
    try {
      assert.deepEqual(await store.getSession("s1"), { id: "s1", record: { status: "idle" } });
      assert.deepEqual(await store.getConversation("s1"), { turns: ["hello"] });
      assert.deepEqual(await store.lastEventSeqs(), []);
      await store.appendEvents([{ sessionId: "s1", seq: 1, event: { type: "session_woken" } }]);
      assert.deepEqual(await store.lastEventSeqs(), [["s1", 1]]);
    } finally {
      await store.close();
    }
    const db = new Database(path, { readonly: true });
    assert.equal(db.pragma("user_version", { simple: true }), STORE_SCHEMA_VERSION);
    db.close();
  });

  it("remembers across reopening the file whether the event log was closed", async () => {
    const path = freshPath();
    const first = SqliteSessionStore.open(path);
    assert.equal(await first.openEventLog(), true);
    // Closed without closeEventLog: what a killed program leaves.
    await first.close();
    const second = SqliteSessionStore.open(path);
    assert.equal(await second.openEventLog(), false);
    await second.closeEventLog();
    await second.close();
    const third = SqliteSessionStore.open(path);
    assert.equal(await third.openEventLog(), true);
    await third.close();
  });

  it("refuses to create a missing file when told it must exist", () => {
    assert.throws(
      () => SqliteSessionStore.open(join(dir, "missing.db"), { mustExist: true }),
      StoreCorruptError,
    );
  });
});
