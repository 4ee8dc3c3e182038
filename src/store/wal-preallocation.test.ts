import assert from "node:assert/strict";
import { copyFileSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import Database from "better-sqlite3";
import { InvalidArgumentError } from "../errors.js";
import { SqliteSessionStore } from "./sqlite-store.js";
import { walWorkingSize } from "./wal-preallocation.js";

const dir = mkdtempSync(join(tmpdir(), "sessionvisor-wal-"));
let files = 0;
const freshPath = () => join(dir, `store-${++files}.db`);
after(() => rmSync(dir, { recursive: true, force: true }));

const walSize = (path: string) => statSync(`${path}-wal`).size;

/** What a process killed now leaves on the disk: the file and its WAL, not the shared index. */
function copyAsIfKilled(path: string): string {
  const copy = freshPath();
  copyFileSync(path, copy);
  copyFileSync(`${path}-wal`, `${copy}-wal`);
  return copy;
}

/** SQLite's defaults, which the store keeps: 1,000 pages of 4 KB between checkpoints. */
function defaultWorkingSize(): number {
  const db = new Database(":memory:");
  const size = walWorkingSize(db);
  db.close();
  return size;
}

describe("WAL preallocation", () => {
  it("fills a new store's WAL to the size it reaches between two checkpoints", async () => {
    const path = freshPath();
    const store = SqliteSessionStore.open(path);
    assert.equal(walSize(path), defaultWorkingSize());
    assert.ok(walSize(path) > 4_000_000);
    await store.close();
  });

  it("leaves the WAL as SQLite made it with preallocateWal: false", async () => {
    const path = freshPath();
    const store = SqliteSessionStore.open(path, { preallocateWal: false });
    assert.ok(walSize(path) < 100_000, `WAL of ${walSize(path)} bytes`);
    await store.close();
  });

  it("keeps the commits a killed process left in its WAL when it fills past them", async () => {
    const path = freshPath();
    const killed = SqliteSessionStore.open(path, { preallocateWal: false });
    await killed.putSession("s1", { status: "active" });
    await killed.putConversation("s1", { turns: ["hello"] });
    const copy = copyAsIfKilled(path);
    await killed.close();
    const walBefore = walSize(copy);

    const filled = SqliteSessionStore.open(copy);
    assert.ok(walSize(copy) > walBefore, "the WAL was extended");
    await filled.close(); // checkpoints what the WAL holds into the file: the kept frames, or zeros
    const reopened = SqliteSessionStore.open(copy);
    assert.deepEqual(await reopened.getSession("s1"), { id: "s1", record: { status: "active" } });
    assert.deepEqual(await reopened.getConversation("s1"), { turns: ["hello"] });
    await reopened.close();
  });

  it("keeps the commits written over the zeros when the process is killed", async () => {
    const path = freshPath();
    const killed = SqliteSessionStore.open(path);
    for (let i = 0; i < 50; i++) await killed.putSession(`s${i}`, { status: "active", n: i });
    const copy = copyAsIfKilled(path);
    await killed.close();

    const reopened = SqliteSessionStore.open(copy);
    const listed = await reopened.listSessions();
    assert.equal(listed.length, 50);
    assert.deepEqual(listed[49], { id: "s49", record: { status: "active", n: 49 } });
    await reopened.close();
  });

  it("keeps every commit across several checkpoints that restart the filled WAL", async () => {
    const path = freshPath();
    const store = SqliteSessionStore.open(path);
    const big = "x".repeat(3_000); // about a page a session: ~2,500 pages, two checkpoints or more
    for (let i = 0; i < 2_500; i++) {
      await store.putSession(`s${i}`, { status: "idle", big }, { durable: false });
    }
    assert.equal(walSize(path), defaultWorkingSize(), "the WAL restarted over the zeros, not past them");
    const copy = copyAsIfKilled(path);
    await store.close();

    const reopened = SqliteSessionStore.open(copy);
    assert.equal((await reopened.listSessions()).length, 2_500);
    await reopened.close();
  });

  it("opens without waiting while another connection holds the write lock, and leaves its WAL alone", async () => {
    const path = freshPath();
    await SqliteSessionStore.open(path, { preallocateWal: false }).close();
    const writer = new Database(path);
    writer.exec("BEGIN IMMEDIATE");
    try {
      const sizeBefore = walSize(path);
      const started = performance.now();
      const store = SqliteSessionStore.open(path);
      // The store's busy timeout is 5 s: waiting it out would take at least that long.
      assert.ok(performance.now() - started < 2_500, "waited for the other writer");
      assert.equal(walSize(path), sizeBefore);
      writer.exec("ROLLBACK");
      await store.putSession("s1", { status: "active" });
      assert.deepEqual(await store.getSession("s1"), { id: "s1", record: { status: "active" } });
      await store.close();
    } finally {
      writer.close();
    }
  });

  it("refuses options that are not true or false, before touching the file", () => {
    const path = freshPath();
    assert.throws(
      () => SqliteSessionStore.open(path, { preallocateWal: "yes" as unknown as boolean }),
      (e: unknown) => e instanceof InvalidArgumentError && e.argument === "store option preallocateWal",
    );
    assert.throws(
      () => SqliteSessionStore.open(path, null as unknown as object),
      (e: unknown) => e instanceof InvalidArgumentError && e.argument === "store options",
    );
    assert.throws(() => statSync(path), /ENOENT/);
  });
});
