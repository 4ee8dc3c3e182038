import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import Database from "better-sqlite3";
import {
  parseSessionConfig,
  type SessionInfo,
  SessionSystem,
  SqliteSessionStore,
  sessionInfoToJSON,
  silentLogger,
} from "../src/index.js";
import { newSessionId } from "../src/session/session-id.js";
import { heapAfterGc, latencyUs } from "./stats.js";

export interface DurabilityFigures {
  turnsPerSecSingle: number;
  rawPerSecSingle: number;
  turnsPerSecBatched: number;
  rawPerSecBatched: number;
  recover10kMs: number;
  wakeMedianMs: number;
  wakeP99Ms: number;
  boot100kMs: number;
  heap100kMb: number | undefined;
  rss100kMb: number;
}

const config = parseSessionConfig({});

/** A conversation of `turns` turns, as the ContextManager stores it. */
function conversation(turns: number) {
  return {
    version: 1,
    nextTurn: turns + 1,
    turns: Array.from({ length: turns }, (_, i) => ({
      id: `t${i + 1}`,
      role: i % 2 ? "assistant" : "user",
      content: `message ${i}: ${"some words of a coding conversation ".repeat(4)}`,
      at: "2026-11-24T12:00:00.000Z",
      status: "complete",
    })),
    activeFiles: ["/repo/src/app.ts"],
    fileIndex: [
      { path: "/repo/src/app.ts", metadata: {}, lastAccessed: "2026-11-24T12:00:00.000Z", accessCount: 1 },
    ],
  };
}

function record(id: string, status: "active" | "idle", hibernated: boolean) {
  const at = new Date("2026-11-24T12:00:00.000Z");
  const info: SessionInfo = {
    id,
    name: undefined,
    projectPath: undefined,
    status,
    previousStatus: undefined,
    metadata: {},
    llm: config.llm,
    limits: config.limits,
    createdAt: at,
    updatedAt: at,
    statusChangedAt: at,
    restarts: 0,
    hibernated,
  };
  return JSON.stringify({ ...sessionInfoToJSON(info), config });
}

/** Writes `count` stored sessions straight into a store file: set-up, not measured. */
function seed(path: string, count: number, awake: number): string[] {
  SqliteSessionStore.open(path).close();
  const db = new Database(path);
  const putSession = db.prepare("INSERT INTO sessions (id, record, updated_at) VALUES (?, ?, ?)");
  const putConversation = db.prepare("INSERT INTO conversations (id, snapshot) VALUES (?, ?)");
  const snapshot = JSON.stringify(conversation(4));
  const ids: string[] = [];
  db.transaction(() => {
    for (let i = 0; i < count; i++) {
      const id = newSessionId();
      ids.push(id);
      const asleep = i >= awake;
      putSession.run(id, record(id, asleep ? "idle" : "active", asleep), Date.now());
      putConversation.run(id, snapshot);
    }
  })();
  db.close();
  return ids;
}

async function turnRates(dir: string) {
  const snapshot = conversation(20);
  const ours = SqliteSessionStore.open(join(dir, "ours.db"));
  const raw = new Database(join(dir, "raw.db"));
  raw.pragma("journal_mode = WAL");
  raw.pragma("synchronous = NORMAL");
  raw.exec("CREATE TABLE conversations (id TEXT PRIMARY KEY, snapshot TEXT NOT NULL) STRICT");
  const upsert = raw.prepare(
    "INSERT INTO conversations (id, snapshot) VALUES (?, ?) ON CONFLICT(id) DO UPDATE SET snapshot = excluded.snapshot",
  );
  const ids = Array.from({ length: 100 }, newSessionId);
  const n = 5000;
  // Both sides serialize the same object: the comparison is of everything around the driver.
  let t0 = performance.now();
  for (let i = 0; i < n; i++) await ours.putConversation(ids[i % 100] as string, snapshot);
  const turnsPerSecSingle = n / ((performance.now() - t0) / 1000);
  t0 = performance.now();
  for (let i = 0; i < n; i++) upsert.run(ids[i % 100], JSON.stringify(snapshot));
  const rawPerSecSingle = n / ((performance.now() - t0) / 1000);

  const batches = 100;
  t0 = performance.now();
  for (let b = 0; b < batches; b++) await ours.putConversations(ids.map((id) => [id, snapshot]));
  const turnsPerSecBatched = (batches * ids.length) / ((performance.now() - t0) / 1000);
  const batch = raw.transaction(() => {
    for (const id of ids) upsert.run(id, JSON.stringify(snapshot));
  });
  t0 = performance.now();
  for (let b = 0; b < batches; b++) batch();
  const rawPerSecBatched = (batches * ids.length) / ((performance.now() - t0) / 1000);
  await ours.close();
  raw.close();
  return { turnsPerSecSingle, rawPerSecSingle, turnsPerSecBatched, rawPerSecBatched };
}

export async function measureDurability(): Promise<DurabilityFigures> {
  const dir = mkdtempSync(join(tmpdir(), "sessionvisor-bench-"));
  try {
    const rates = await turnRates(dir);

    // 10,000 sessions that were live when the program stopped: all started again at boot.
    const tenK = join(dir, "10k.db");
    const awakeIds = seed(tenK, 10_000, 10_000);
    let t0 = performance.now();
    const system = await SessionSystem.start({
      storePath: tenK,
      logger: silentLogger(),
      maxSessions: 20_000,
    });
    const recover10kMs = performance.now() - t0;
    if ((await system.listSessions()).length !== 10_000) throw new Error("not every session came back");

    // Waking a hibernated session and answering its first message.
    const sleepers = awakeIds.slice(0, 600);
    for (const id of sleepers) await system.hibernateSession(id);
    const wakes = new Float64Array(sleepers.length - 100);
    for (let i = 0; i < sleepers.length; i++) {
      const start = performance.now();
      await system.sendMessage(sleepers[i] as string, "echo wake up");
      if (i >= 100) wakes[i - 100] = performance.now() - start;
    }
    const wake = latencyUs(wakes);
    await system.stop();

    // 100,000 sessions, 1,000 of them awake.
    const hundredK = join(dir, "100k.db");
    seed(hundredK, 100_000, 1_000);
    heapAfterGc();
    t0 = performance.now();
    const big = await SessionSystem.start({
      storePath: hundredK,
      logger: silentLogger(),
      maxSessions: 200_000,
    });
    const boot100kMs = performance.now() - t0;
    const heapAfter = heapAfterGc();
    // The whole process: runtime, every session's record in the manager, 1,000 live trees.
    const rss100kMb = process.memoryUsage().rss / 1024 / 1024;
    if ((await big.listSessions()).length !== 100_000) throw new Error("not every session is listed");
    await big.stop();
    return {
      ...rates,
      recover10kMs,
      wakeMedianMs: wake.median / 1000,
      wakeP99Ms: wake.p99 / 1000,
      boot100kMs,
      heap100kMb: heapAfter === undefined ? undefined : heapAfter / 1024 / 1024,
      rss100kMb,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
