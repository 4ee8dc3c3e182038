// A program killed with SIGKILL in the middle of creating sessions leaves each of them absent,
// or complete and restorable, or failed — never half made — and every create it was told had
// succeeded survives. The kill lands at random moments of a stream of concurrent creates, so
// each run probes different points of the create (processes starting, `active` records being
// written, events queued). A create stores nothing before its `active` record.
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { after, describe, it } from "node:test";
import Database from "better-sqlite3";
import { SessionSystem, SqliteSessionStore, silentLogger } from "../src/index.js";
import { readStoredSession } from "../src/session/stored-session.js";

const ITERATIONS = 6;
const dir = mkdtempSync(join(tmpdir(), "sessionvisor-create-kill-"));
const children = new Set<ChildProcess>();
after(async () => {
  // Reaped even when an assertion failed half way.
  await Promise.all(
    [...children].map(
      (child) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve();
          child.once("exit", () => resolve());
          child.kill("SIGKILL");
        }),
    ),
  );
  rmSync(dir, { recursive: true, force: true });
});

/** Runs the creator until it is ready, lets it create for `delayMs`, kills it; the ids it acknowledged. */
async function createThenKill(storePath: string, delayMs: number): Promise<string[]> {
  const child = spawn(
    process.execPath,
    ["--import", "tsx", "test/fixtures/session-creator.ts", storePath, "4"],
    {
      stdio: ["ignore", "pipe", "inherit"],
    },
  );
  children.add(child);
  const exited = new Promise<NodeJS.Signals | null>((resolve) =>
    child.on("exit", (_code, signal) => resolve(signal)),
  );
  const acknowledged: string[] = [];
  let timer: NodeJS.Timeout | undefined;
  for await (const line of createInterface({ input: child.stdout })) {
    if (line === "ready") timer = setTimeout(() => child.kill("SIGKILL"), delayMs);
    else if (line.startsWith("created ")) acknowledged.push(line.slice("created ".length));
  }
  clearTimeout(timer);
  assert.equal(await exited, "SIGKILL", "the creator was killed, not ended on its own");
  children.delete(child);
  return acknowledged;
}

/** Ids that have rows in `table` but no session record: pieces of a session that is not there. */
function orphans(path: string, table: string, column: string): string[] {
  const db = new Database(path, { readonly: true });
  try {
    return db
      .prepare(`SELECT DISTINCT ${column} FROM ${table} WHERE ${column} NOT IN (SELECT id FROM sessions)`)
      .pluck()
      .all() as string[];
  } finally {
    db.close();
  }
}

describe("createSession killed with SIGKILL at random points", () => {
  for (let i = 1; i <= ITERATIONS; i++) {
    it(`kill ${i}: every session is absent, complete and restorable, or failed`, {
      timeout: 90_000,
    }, async (t) => {
      const path = join(dir, `kill-${i}.db`);
      const acknowledged = await createThenKill(path, 50 + Math.floor(Math.random() * 1000));

      // What the file holds, read as the next start reads it.
      const store = SqliteSessionStore.open(path, { mustExist: true });
      const stored = new Map<string, string>();
      try {
        for (const entry of await store.listSessions()) {
          const { info } = readStoredSession(entry); // a half-written record throws here
          stored.set(info.id, info.status);
        }
      } finally {
        await store.close();
      }
      t.diagnostic(`${acknowledged.length} acknowledged, ${stored.size} stored`);
      for (const [id, status] of stored) assert.equal(status, "active", `${id} stored ${status}`);
      for (const id of acknowledged) assert.equal(stored.get(id), "active", `acknowledged ${id}`);
      assert.deepEqual(orphans(path, "session_events", "session_id"), [], "events without a session");
      assert.deepEqual(orphans(path, "conversations", "id"), [], "a conversation without a session");
      assert.deepEqual(orphans(path, "conversation_turns", "session_id"), [], "turns without a session");

      // The next start brings every stored session up, or marks it failed; none is left between.
      const system = await SessionSystem.start({
        storePath: path,
        logger: silentLogger(),
        maxSessions: 1_000_000,
      });
      try {
        const listed = new Map((await system.listSessions()).map((s) => [s.id, s]));
        assert.deepEqual([...listed.keys()].sort(), [...stored.keys()].sort());
        for (const [id, info] of listed) {
          assert.ok(info.status === "active" || info.status === "failed", `${id} is ${info.status}`);
          if (info.status === "active") assert.ok(system.findSupervisor(id), `${id} has its processes`);
        }
        for (const id of acknowledged) assert.equal(listed.get(id)?.status, "active");
      } finally {
        await system.stop();
      }
    });
  }
});
