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
    db.prepare("UPDATE conversations SET snapshot = '' WHERE id = 's1'").run();
    db.close();
    const corrupt = (e: unknown) => e instanceof StoreCorruptError && e.sessionId === "s1";
    await assert.rejects(store.getSession("s1"), corrupt);
    await assert.rejects(store.listSessions(), corrupt);
    await assert.rejects(store.getConversation("s1"), corrupt);
    await store.close();
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
    assert.equal(db.pragma("user_version", { simple: true }), 2);
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
