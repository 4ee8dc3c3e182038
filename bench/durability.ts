import { closeSync, fdatasyncSync, mkdtempSync, openSync, rmSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import Database from "better-sqlite3";
import {
  MemorySessionStore,
  parseSessionConfig,
  type SessionInfo,
  SessionSystem,
  SqliteSessionStore,
  type SqliteStoreOptions,
  sessionInfoToJSON,
  silentLogger,
} from "../src/index.js";
import { newSessionId } from "../src/session/session-id.js";
import type { SessionStore, StoredJson } from "../src/store/index.js";
import { WARM_UP } from "./sessions.js";
import { heapAfterGc, latencyUs, median } from "./stats.js";
import type { Figure } from "./table.js";

export interface DurabilityFigures {
  /**
   * Whole `createSession`s on a new SQLite file, one at a time, one global subscriber: the
   * median of five rounds.
   */
  createPerSecSqlite: number;
  /** The same with `preallocateWal: false`: each commit's fsync also records the WAL's growth. */
  createPerSecSqliteGrowingWal: number;
  /** Every round of the two rows above, in the order run (alternated). */
  serialCreateRounds: SerialCreateRounds;
  /** The same creates, 16 at a time. */
  createPerSecSqliteConcurrent: number;
  /** Writes of one byte, each flushed with `fdatasync`, one after another: what one flush costs on this disk. */
  bareFlushesPerSec: number;
  /**
   * Writes of a WAL frame's size (a 4 KB page and its 24-byte header) appended one after
   * another, each flushed: what a WAL commit's flush costs, a new block each time.
   */
  bareFrameFlushesPerSec: number;
  /** Another session's `sendMessage` while sessions are created one after another, in ms. */
  neighbourTurnMedianMs: number;
  neighbourTurnP99Ms: number;
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
  /** Median µs of one turn appended (as the ContextManager writes it) at 10 and at 1,000 turns. */
  appendSqlite: TurnAppendCost;
  appendMemory: TurnAppendCost;
}

export interface SerialCreateRounds {
  preallocated: number[];
  growing: number[];
}

export interface TurnAppendCost {
  at10Us: number;
  at1000Us: number;
  /** What a turn cost at 1,000 turns before schema version 3: the whole snapshot serialized and rewritten. */
  wholeAt1000Us: number;
}

const config = parseSessionConfig({});

/** Turn `n` (from 1) of a conversation, as the ContextManager stores it. */
function turn(n: number) {
  return {
    id: `t${n}`,
    role: n % 2 ? "user" : "assistant",
    content: `message ${n - 1}: ${"some words of a coding conversation ".repeat(4)}`,
    at: "2026-11-24T12:00:00.000Z",
    status: "complete",
  };
}

/** A conversation of `turns` turns, as the ContextManager stores it. */
function conversation(turns: number) {
  return {
    version: 1,
    nextTurn: turns + 1,
    turns: Array.from({ length: turns }, (_, i) => turn(i + 1)),
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
    usage: { inputTokens: 0, outputTokens: 0 },
  };
  return JSON.stringify({ ...sessionInfoToJSON(info), config });
}

/**
 * Whole `createSession`s, one after another, on a fresh SQLite file: each waits for its
 * lifecycle record's fsync (what makes a created session survive a power cut).
 */
async function sqliteCreateRate(
  path: string,
  inFlight: number,
  store: SqliteStoreOptions = {},
  n = 1000,
): Promise<number> {
  const opened = SqliteSessionStore.open(path, store);
  const system = await SessionSystem.start({ store: opened, logger: silentLogger(), maxSessions: 20_000 });
  const subscriber = system.subscribeAll(() => {});
  for (let i = 0; i < 100; i++) await system.createSession();
  const t0 = performance.now();
  let started = 0;
  const creator = async () => {
    while (started++ < n) await system.createSession();
  };
  await Promise.all(Array.from({ length: inFlight }, creator));
  const perSec = n / ((performance.now() - t0) / 1000);
  subscriber.unsubscribe();
  await system.stop();
  await opened.close();
  return perSec;
}

/**
 * One-at-a-time creates on a new file, with the WAL preallocated (the default) and without,
 * rounds alternated so that both see the same disk.
 */
async function sqliteSerialCreateRounds(dir: string): Promise<SerialCreateRounds> {
  const rounds: SerialCreateRounds = { preallocated: [], growing: [] };
  for (let round = 0; round < SERIAL_CREATE_ROUNDS; round++) {
    rounds.preallocated.push(await sqliteCreateRate(join(dir, `creates-${round}.db`), 1));
    rounds.growing.push(
      await sqliteCreateRate(join(dir, `creates-growing-${round}.db`), 1, { preallocateWal: false }),
    );
  }
  return rounds;
}

const SERIAL_CREATE_ROUNDS = 5;

/**
 * WARM_UP creates in memory before the measured ones: V8 optimises the create path over the
 * first few thousand, as the in-memory rows warm it (bench/sessions.ts) and as BEAM code needs no
 * warming. In memory, so that no file of the warm-up is still being written back to the disk
 * while the measured creates wait for their fsyncs.
 */
async function warmCreatePath(): Promise<void> {
  const system = await SessionSystem.start({ logger: silentLogger(), maxSessions: 20_000 });
  const subscriber = system.subscribeAll(() => {});
  for (let i = 0; i < WARM_UP; i++) await system.createSession();
  subscriber.unsubscribe();
  await system.stop();
}

/** A WAL frame of SQLite's default 4 KB page: the page and a 24-byte header. */
const WAL_FRAME_BYTES = 4096 + 24;

/**
 * Appends of `bytes` each flushed before the next, for `ms`: the disk's flush rate. One byte
 * stays in the file's last block 4,095 times in 4,096; a WAL frame (4,120 bytes) takes a new
 * block each time, which a flush must record too (about half the rate on the disks measured).
 */
function bareFlushRate(path: string, bytes = 1, ms = 500): number {
  const fd = openSync(path, "w");
  const data = Buffer.alloc(bytes, "x");
  try {
    let n = 0;
    const t0 = performance.now();
    while (performance.now() - t0 < ms) {
      writeSync(fd, data);
      fdatasyncSync(fd);
      n++;
    }
    return n / ((performance.now() - t0) / 1000);
  } finally {
    closeSync(fd);
  }
}

/**
 * One session's turns, one after another, while sessions are created one after another on the
 * same SQLite file: what a create's flush costs the sessions already running.
 */
async function neighbourTurnsDuringCreates(
  path: string,
  ms = 2000,
): Promise<{ medianMs: number; p99Ms: number }> {
  const system = await SessionSystem.start({ storePath: path, logger: silentLogger(), maxSessions: 20_000 });
  try {
    const { id } = await system.createSession();
    for (let i = 0; i < 500; i++) await system.sendMessage(id, "hello there");
    let creating = true;
    const creates = (async () => {
      while (creating) await system.createSession();
    })();
    const samples: number[] = [];
    const t0 = performance.now();
    while (performance.now() - t0 < ms) {
      const start = performance.now();
      await system.sendMessage(id, "hello there");
      samples.push(performance.now() - start);
    }
    creating = false;
    await creates;
    samples.sort((a, b) => a - b);
    const at = (q: number) => samples[Math.floor(q * (samples.length - 1))] as number;
    return { medianMs: at(0.5), p99Ms: at(0.99) };
  } finally {
    await system.stop();
  }
}

/** Writes `count` stored sessions straight into a store file: set-up, not measured. */
function seed(path: string, count: number, awake: number): string[] {
  SqliteSessionStore.open(path).close();
  const db = new Database(path);
  const putSession = db.prepare("INSERT INTO sessions (id, record, updated_at) VALUES (?, ?, ?)");
  const putHead = db.prepare("INSERT INTO conversations (id, head, turn_by_turn) VALUES (?, ?, 1)");
  const putTurn = db.prepare(
    "INSERT INTO conversation_turns (session_id, seq, turn_id, turn) VALUES (?, ?, ?, ?)",
  );
  const { turns, ...head } = conversation(4);
  const headText = JSON.stringify(head);
  const turnTexts = turns.map((t) => [t.id, JSON.stringify(t)] as const);
  const ids: string[] = [];
  db.transaction(() => {
    for (let i = 0; i < count; i++) {
      const id = newSessionId();
      ids.push(id);
      const asleep = i >= awake;
      putSession.run(id, record(id, asleep ? "idle" : "active", asleep), Date.now());
      putHead.run(id, headText);
      turnTexts.forEach(([turnId, text], i) => {
        putTurn.run(id, i + 1, turnId, text);
      });
    }
  })();
  db.close();
  return ids;
}

/**
 * Ours against the raw driver doing the same SQL by hand: a turn appended in one commit (the
 * turn's row and the head's `nextTurn`), and whole 20-turn conversations written 100 per commit.
 */
async function turnRates(dir: string) {
  const snapshot = conversation(20);
  const ours = SqliteSessionStore.open(join(dir, "ours.db"));
  const raw = new Database(join(dir, "raw.db"));
  raw.pragma("journal_mode = WAL");
  raw.pragma("synchronous = NORMAL");
  raw.exec(`
    CREATE TABLE conversations (id TEXT PRIMARY KEY, head TEXT NOT NULL) STRICT;
    CREATE TABLE conversation_turns (
      session_id TEXT NOT NULL, seq INTEGER NOT NULL, turn_id TEXT, turn TEXT NOT NULL,
      PRIMARY KEY (session_id, seq)
    ) STRICT, WITHOUT ROWID;
    CREATE INDEX conversation_turn_ids ON conversation_turns (session_id, turn_id, seq);
  `);
  const putHead = raw.prepare(
    "INSERT INTO conversations (id, head) VALUES (?, ?) ON CONFLICT(id) DO UPDATE SET head = excluded.head",
  );
  const clearTurns = raw.prepare("DELETE FROM conversation_turns WHERE session_id = ?");
  const putTurn = raw.prepare(
    "INSERT INTO conversation_turns (session_id, seq, turn_id, turn) VALUES (?, ?, ?, ?)",
  );
  const writeWhole = (id: string) => {
    const { turns, ...head } = snapshot;
    clearTurns.run(id);
    putHead.run(id, JSON.stringify(head));
    turns.forEach((t, i) => {
      putTurn.run(id, i + 1, t.id, JSON.stringify(t));
    });
  };
  const ids = Array.from({ length: 100 }, newSessionId);
  await ours.putConversations(ids.map((id) => [id, snapshot]));
  raw.transaction(() => ids.forEach(writeWhole))();
  const n = 5000;
  // Both sides serialize the same objects: the comparison is of everything around the driver.
  let t0 = performance.now();
  for (let i = 0; i < n; i++) {
    const next = 21 + Math.floor(i / 100);
    await ours.changeConversation(ids[i % 100] as string, {
      append: [turn(next)],
      set: { version: 1, nextTurn: next + 1 },
    });
  }
  const turnsPerSecSingle = n / ((performance.now() - t0) / 1000);
  const { turns: _, ...head } = snapshot;
  const append = raw.transaction((id: string, next: number) => {
    putTurn.run(id, next, `t${next}`, JSON.stringify(turn(next)));
    putHead.run(id, JSON.stringify({ ...head, nextTurn: next + 1 }));
  });
  t0 = performance.now();
  for (let i = 0; i < n; i++) append(ids[i % 100] as string, 21 + Math.floor(i / 100));
  const rawPerSecSingle = n / ((performance.now() - t0) / 1000);

  const batches = 100;
  t0 = performance.now();
  for (let b = 0; b < batches; b++) await ours.putConversations(ids.map((id) => [id, snapshot]));
  const turnsPerSecBatched = (batches * ids.length) / ((performance.now() - t0) / 1000);
  const batch = raw.transaction(() => ids.forEach(writeWhole));
  t0 = performance.now();
  for (let b = 0; b < batches; b++) batch();
  const rawPerSecBatched = (batches * ids.length) / ((performance.now() - t0) / 1000);
  await ours.close();
  raw.close();
  return { turnsPerSecSingle, rawPerSecSingle, turnsPerSecBatched, rawPerSecBatched };
}

/**
 * One turn appended as the ContextManager writes it (the turn, and `nextTurn` beside it), to
 * sessions of 10 and of 1,000 turns (maxHistory above both, nothing trimmed) in the same store,
 * interleaved so that both sides see the same file and the same checkpoints.
 */
async function turnAppendCost(
  store: SessionStore,
  rewriteWhole: (id: string, text: string) => void,
): Promise<TurnAppendCost> {
  const sessions = 100;
  const appends = 20;
  const short = Array.from({ length: sessions }, newSessionId);
  const long = Array.from({ length: sessions }, newSessionId);
  await store.putConversations([
    ...short.map((id) => [id, conversation(10)] as [string, StoredJson]),
    ...long.map((id) => [id, conversation(1000)] as [string, StoredJson]),
  ]);
  const at10 = new Float64Array(sessions * appends);
  const at1000 = new Float64Array(sessions * appends);
  const append = async (id: string, next: number) => {
    const started = performance.now();
    await store.changeConversation(id, { append: [turn(next)], set: { version: 1, nextTurn: next + 1 } });
    return performance.now() - started;
  };
  for (let round = 0; round < appends; round++) {
    for (let i = 0; i < sessions; i++) {
      const k = round * sessions + i;
      // Which side goes first alternates, so neither always follows the other's commit.
      if (k % 2) {
        at10[k] = await append(short[i] as string, 11 + round);
        at1000[k] = await append(long[i] as string, 1001 + round);
      } else {
        at1000[k] = await append(long[i] as string, 1001 + round);
        at10[k] = await append(short[i] as string, 11 + round);
      }
    }
  }
  const whole = new Float64Array(200);
  const snapshot = conversation(1000);
  for (let i = 0; i < whole.length; i++) {
    const started = performance.now();
    rewriteWhole(long[i % sessions] as string, JSON.stringify(snapshot));
    whole[i] = performance.now() - started;
  }
  return {
    at10Us: latencyUs(at10).median,
    at1000Us: latencyUs(at1000).median,
    wholeAt1000Us: latencyUs(whole).median,
  };
}

/** The rows for turn appends, for the durability table. */
export function turnAppendFigures(d: DurabilityFigures): Figure[] {
  return [
    ["SQLite", d.appendSqlite],
    ["memory", d.appendMemory],
  ].flatMap(([backend, cost]) => {
    const c = cost as TurnAppendCost;
    return [
      {
        name: `${backend} turn append at 10 turns, median`,
        unit: "µs",
        ours: c.at10Us,
        otp: undefined,
        higherIsBetter: false,
      },
      {
        name: `${backend} turn append at 1,000 turns, median`,
        unit: "µs",
        ours: c.at1000Us,
        otp: undefined,
        higherIsBetter: false,
      },
      {
        name: `${backend} turn append at 1,000 turns / at 10 turns`,
        unit: "×",
        ours: c.at1000Us / c.at10Us,
        otp: undefined,
        higherIsBetter: false,
        goal: { text: "≤ 1.2×", met: (v: number) => v <= 1.2 },
      },
      {
        name: `${backend} turn at 1,000 turns as version 2 wrote it (whole snapshot), median`,
        unit: "µs",
        ours: c.wholeAt1000Us,
        otp: undefined,
        higherIsBetter: false,
      },
    ] satisfies Figure[];
  });
}

export async function measureDurability(): Promise<DurabilityFigures> {
  const dir = mkdtempSync(join(tmpdir(), "sessionvisor-bench-"));
  try {
    const bareFlushesPerSec = bareFlushRate(join(dir, "flushes"));
    const bareFrameFlushesPerSec = bareFlushRate(join(dir, "frame-flushes"), WAL_FRAME_BYTES);
    await warmCreatePath();
    const serialCreateRounds = await sqliteSerialCreateRounds(dir);
    const createPerSecSqlite = median(serialCreateRounds.preallocated);
    const createPerSecSqliteGrowingWal = median(serialCreateRounds.growing);
    const createPerSecSqliteConcurrent = await sqliteCreateRate(join(dir, "creates-16.db"), 16);
    const neighbour = await neighbourTurnsDuringCreates(join(dir, "neighbour.db"));
    const rates = await turnRates(dir);
    // Version 2's turn, for comparison: one row holding the whole snapshot, upserted.
    const v2 = new Database(join(dir, "v2.db"));
    v2.pragma("journal_mode = WAL");
    v2.pragma("synchronous = NORMAL");
    v2.exec("CREATE TABLE conversations (id TEXT PRIMARY KEY, snapshot TEXT NOT NULL) STRICT");
    const upsert = v2.prepare(
      "INSERT INTO conversations (id, snapshot) VALUES (?, ?) ON CONFLICT(id) DO UPDATE SET snapshot = excluded.snapshot",
    );
    const sqlite = SqliteSessionStore.open(join(dir, "appends.db"));
    const appendSqlite = await turnAppendCost(sqlite, (id, text) => upsert.run(id, text));
    await sqlite.close();
    v2.close();
    const v2Memory = new Map<string, string>();
    const appendMemory = await turnAppendCost(new MemorySessionStore(), (id, text) => v2Memory.set(id, text));

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
      createPerSecSqlite,
      createPerSecSqliteConcurrent,
      createPerSecSqliteGrowingWal,
      serialCreateRounds,
      bareFlushesPerSec,
      bareFrameFlushesPerSec,
      neighbourTurnMedianMs: neighbour.medianMs,
      neighbourTurnP99Ms: neighbour.p99Ms,
      ...rates,
      appendSqlite,
      appendMemory,
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
