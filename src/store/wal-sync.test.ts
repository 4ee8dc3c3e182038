import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { WalSync } from "./wal-sync.js";

const dir = mkdtempSync(join(tmpdir(), "sessionvisor-wal-"));
let files = 0;
/** A stand-in database path whose `-wal` file exists, as SQLite keeps it while a connection is open. */
function walOf(): WalSync {
  const path = join(dir, `db-${++files}`);
  writeFileSync(`${path}-wal`, "frames");
  return WalSync.open(path);
}
after(() => rmSync(dir, { recursive: true, force: true }));

describe("WalSync", () => {
  it("a sync asked for while a flush runs waits for the next flush, which later callers share", async () => {
    const wal = walOf();
    const running = wal.sync();
    const next = [wal.sync(), wal.sync(), wal.sync()];
    assert.notEqual(next[0], running, "the running flush may have begun before the caller's commit");
    assert.equal(next[1], next[0]);
    assert.equal(next[2], next[0]);
    await Promise.all([running, ...next]);
    await wal.close();
  });

  it("a sync asked for when no flush runs starts one of its own", async () => {
    const wal = walOf();
    const first = wal.sync();
    await first;
    const second = wal.sync();
    assert.notEqual(second, first);
    await second;
    await wal.close();
  });

  it("close waits for the flushes under way and the queued one", async () => {
    const wal = walOf();
    const settled: string[] = [];
    const flushes = [wal.sync(), wal.sync()].map((p, i) => p.then(() => settled.push(`flush ${i}`)));
    await wal.close();
    settled.push("closed");
    await Promise.all(flushes);
    assert.deepEqual(settled, ["flush 0", "flush 1", "closed"]);
  });

  it("a sync after close is refused", async () => {
    const wal = walOf();
    await wal.close();
    await assert.rejects(wal.sync(), /closed/);
  });

  it("opening a database that has no WAL file fails", () => {
    assert.throws(() => WalSync.open(join(dir, "missing")), { code: "ENOENT" });
  });
});
