// The store backends side by side, in one run: what a session's turn costs the store — one
// turn appended to its conversation (changeConversation) and the turn's events appended to its
// log (appendEvents with the log's retention) — in memory, in an SQLite file, and on PostgreSQL
// (127.0.0.1:5432, a fresh schema dropped afterwards), with and without fences.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import {
  MemorySessionStore,
  PostgresSessionStore,
  type SessionStore,
  SqliteSessionStore,
  type StoredJson,
} from "../src/store/index.js";
import { latencyUs } from "./stats.js";

const POSTGRES_URL = process.env.SESSIONVISOR_BENCH_POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/test";
const SESSIONS = 64;
const SEQUENTIAL_TURNS = 2000;
const CONCURRENT_TURNS = 4000;
const IN_FLIGHT = 16;
const RETAIN_EVENTS = 1000;

export interface BackendFigures {
  backend: string;
  /** One turn at a time: turns per second, and each turn's latency. */
  sequentialPerSec: number;
  medianUs: number;
  p99Us: number;
  /** IN_FLIGHT turns at a time, each on its own session. */
  concurrentPerSec: number;
}

export interface StoreBackendsResult {
  figures: BackendFigures[];
  /** Why a backend is missing from the figures (PostgreSQL not reachable). */
  notes: string[];
}

function turn(n: number) {
  return {
    id: `t${n}`,
    role: n % 2 ? "user" : "assistant",
    content: `message ${n - 1}: ${"some words of a coding conversation ".repeat(4)}`,
    at: "2026-11-24T12:00:00.000Z",
    status: "complete",
  };
}

/** A session as the bench keeps it: its conversation's next turn and its log's next event. */
interface Cursor {
  id: string;
  nextTurn: number;
  nextEvent: number;
}

/** One session turn's writes, as the ContextManager and the event log make them. */
async function sessionTurn(store: SessionStore, c: Cursor): Promise<void> {
  const n = c.nextTurn++;
  await store.changeConversation(c.id, { append: [turn(n)], set: { nextTurn: n + 1 } });
  const events = [0, 1, 2].map((i) => ({
    sessionId: c.id,
    seq: c.nextEvent + i,
    event: { type: i === 0 ? "turn_started" : i === 1 ? "message_added" : "turn_completed", turn: n },
  }));
  c.nextEvent += events.length;
  await store.appendEvents(events, RETAIN_EVENTS);
}

async function measure(backend: string, store: SessionStore): Promise<BackendFigures> {
  const cursors: Cursor[] = Array.from({ length: SESSIONS }, (_, i) => ({
    id: `bench_${i}`,
    nextTurn: 11,
    nextEvent: 1,
  }));
  for (const c of cursors) await store.putSession(c.id, { status: "active" });
  await store.putConversations(
    cursors.map((c) => [
      c.id,
      { version: 1, nextTurn: 11, turns: Array.from({ length: 10 }, (_, i) => turn(i + 1)) } as StoredJson,
    ]),
  );
  // Warm-up: prepared plans, pooled connections, JIT.
  for (let i = 0; i < 200; i++) await sessionTurn(store, cursors[i % SESSIONS] as Cursor);

  const samples = new Float64Array(SEQUENTIAL_TURNS);
  const started = performance.now();
  for (let i = 0; i < SEQUENTIAL_TURNS; i++) {
    const t0 = performance.now();
    await sessionTurn(store, cursors[i % SESSIONS] as Cursor);
    samples[i] = performance.now() - t0;
  }
  const sequentialPerSec = SEQUENTIAL_TURNS / ((performance.now() - started) / 1000);

  // IN_FLIGHT workers, each on its own sessions, so no two turns of one session overlap.
  let next = 0;
  const concurrentStarted = performance.now();
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async (_, worker) => {
      const mine = cursors.filter((_, i) => i % IN_FLIGHT === worker);
      for (let k = 0; next < CONCURRENT_TURNS; k++) {
        next++;
        await sessionTurn(store, mine[k % mine.length] as Cursor);
      }
    }),
  );
  const concurrentPerSec = CONCURRENT_TURNS / ((performance.now() - concurrentStarted) / 1000);
  const { median, p99 } = latencyUs(samples);
  return { backend, sequentialPerSec, medianUs: median, p99Us: p99, concurrentPerSec };
}

async function onPostgres<T>(
  run: (open: (fenced: boolean) => Promise<PostgresSessionStore>) => Promise<T>,
): Promise<T> {
  const schema = `svbench_${process.pid}_${Date.now()}`;
  const opened: PostgresSessionStore[] = [];
  try {
    return await run(async (fenced) => {
      const store = await PostgresSessionStore.open({
        connectionString: POSTGRES_URL,
        schema: `${schema}_${opened.length}`,
        poolSize: IN_FLIGHT,
        applicationName: "sessionvisor-bench",
        // A node that owns every session, with one fence each.
        ...(fenced ? { fences: { fenceOf: () => 1 } } : {}),
      });
      opened.push(store);
      return store;
    });
  } finally {
    const { default: pg } = await import("pg");
    const admin = new pg.Client({ connectionString: POSTGRES_URL });
    await admin.connect();
    for (let i = 0; i < opened.length; i++) {
      await opened[i]?.close();
      await admin.query(`DROP SCHEMA IF EXISTS "${schema}_${i}" CASCADE`);
    }
    await admin.end();
  }
}

export async function measureStoreBackends(): Promise<StoreBackendsResult> {
  const figures: BackendFigures[] = [];
  const notes: string[] = [];
  figures.push(await measure("memory", new MemorySessionStore()));

  const dir = mkdtempSync(join(tmpdir(), "sessionvisor-bench-stores-"));
  try {
    const sqlite = SqliteSessionStore.open(join(dir, "store.db"));
    figures.push(await measure("SQLite (file, WAL)", sqlite));
    await sqlite.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }

  try {
    await onPostgres(async (open) => {
      figures.push(await measure("PostgreSQL", await open(false)));
      figures.push(await measure("PostgreSQL, fenced writes", await open(true)));
    });
  } catch (error) {
    notes.push(`PostgreSQL at ${POSTGRES_URL} left out: ${(error as Error).message}`);
  }
  return { figures, notes };
}

function format(value: number): string {
  if (value >= 100) return Math.round(value).toLocaleString("en-US");
  if (value >= 10) return value.toFixed(1);
  return value.toFixed(2);
}

export function storeBackendsTable(result: StoreBackendsResult): string {
  const sqlite = result.figures.find((f) => f.backend.startsWith("SQLite"));
  const header = [
    "backend",
    "turns/s, one at a time",
    "turn median µs",
    "turn p99 µs",
    `turns/s, ${IN_FLIGHT} in flight`,
    "× SQLite (one at a time)",
  ];
  const rows = result.figures.map((f) => [
    f.backend,
    format(f.sequentialPerSec),
    format(f.medianUs),
    format(f.p99Us),
    format(f.concurrentPerSec),
    sqlite ? `${(f.sequentialPerSec / sqlite.sequentialPerSec).toFixed(2)}×` : "",
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] as string).length)));
  const line = (cells: string[]) =>
    `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] as number) : c.padStart(widths[i] as number))).join(" | ")} |`;
  return [
    `stores: one session turn's writes (changeConversation + appendEvents of its 3 events, retention ${RETAIN_EVENTS}), ${SEQUENTIAL_TURNS} turns over ${SESSIONS} sessions`,
    line(header),
    `|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`,
    ...rows.map(line),
    ...result.notes.map((note) => `note: ${note}`),
  ].join("\n");
}
