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
  type PostgresStoreOptions,
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
  /** A bare `SELECT 1` on a pooled pg connection, measured between the backends' slices: the unit a Postgres call costs at least. */
  roundTrip: { medianUs: number; p99Us: number } | undefined;
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

interface Backend {
  name: string;
  store: SessionStore;
  cursors: Cursor[];
  samples: number[];
  sequentialMs: number;
  concurrentMs: number;
}

async function prepare(name: string, store: SessionStore): Promise<Backend> {
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
  // Warm-up: plans, pooled connections, JIT.
  for (let i = 0; i < 200; i++) await sessionTurn(store, cursors[i % SESSIONS] as Cursor);
  return { name, store, cursors, samples: [], sequentialMs: 0, concurrentMs: 0 };
}

/** `turns` turns one at a time, round robin over the backend's sessions. */
async function sequential(b: Backend, turns: number): Promise<void> {
  const started = performance.now();
  for (let i = 0; i < turns; i++) {
    const t0 = performance.now();
    await sessionTurn(b.store, b.cursors[b.samples.length % SESSIONS] as Cursor);
    b.samples.push(performance.now() - t0);
  }
  b.sequentialMs += performance.now() - started;
}

/** `turns` turns with IN_FLIGHT workers, each on its own sessions (no session's turns overlap). */
async function concurrent(b: Backend, turns: number): Promise<void> {
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async (_, worker) => {
      const mine = b.cursors.filter((_, i) => i % IN_FLIGHT === worker);
      for (let k = 0; next < turns; k++) {
        next++;
        await sessionTurn(b.store, mine[k % mine.length] as Cursor);
      }
    }),
  );
  b.concurrentMs += performance.now() - started;
}

/**
 * The backends take turns, a slice at a time: a machine whose load changes during the run
 * (other programs, a checkpoint) weighs on each of them alike.
 */
async function measure(
  backends: Backend[],
  roundTrip: (() => Promise<unknown>) | undefined,
): Promise<{ figures: BackendFigures[]; roundTrip: StoreBackendsResult["roundTrip"] }> {
  const rounds = 10;
  const trips: number[] = [];
  for (let round = 0; round < rounds; round++) {
    for (const b of backends) await sequential(b, SEQUENTIAL_TURNS / rounds);
    for (let i = 0; roundTrip && i < SEQUENTIAL_TURNS / rounds; i++) {
      const t0 = performance.now();
      await roundTrip();
      trips.push(performance.now() - t0);
    }
  }
  for (let round = 0; round < rounds; round++)
    for (const b of backends) await concurrent(b, CONCURRENT_TURNS / rounds);
  const figures = backends.map((b) => {
    const { median, p99 } = latencyUs(Float64Array.from(b.samples));
    return {
      backend: b.name,
      sequentialPerSec: SEQUENTIAL_TURNS / (b.sequentialMs / 1000),
      medianUs: median,
      p99Us: p99,
      concurrentPerSec: CONCURRENT_TURNS / (b.concurrentMs / 1000),
    };
  });
  if (trips.length === 0) return { figures, roundTrip: undefined };
  const { median, p99 } = latencyUs(Float64Array.from(trips));
  return { figures, roundTrip: { medianUs: median, p99Us: p99 } };
}

export async function measureStoreBackends(): Promise<StoreBackendsResult> {
  const notes: string[] = [];
  const dir = mkdtempSync(join(tmpdir(), "sessionvisor-bench-stores-"));
  const schema = `svbench_${process.pid}_${Date.now()}`;
  const postgres: PostgresSessionStore[] = [];
  const openPostgres = async (options: Partial<PostgresStoreOptions>) => {
    const store = await PostgresSessionStore.open({
      connectionString: POSTGRES_URL,
      schema: `${schema}_${postgres.length}`,
      poolSize: IN_FLIGHT,
      applicationName: "sessionvisor-bench",
      ...options,
    });
    postgres.push(store);
    return store;
  };
  const sqlite = SqliteSessionStore.open(join(dir, "store.db"));
  try {
    const backends = [
      await prepare("memory", new MemorySessionStore()),
      await prepare("SQLite (file, WAL)", sqlite),
    ];
    try {
      backends.push(await prepare("PostgreSQL", await openPostgres({})));
      // A node that owns every session, with one fence each.
      backends.push(
        await prepare("PostgreSQL, fenced", await openPostgres({ fences: { fenceOf: () => 1 } })),
      );
      backends.push(
        await prepare(
          "PostgreSQL, fenced, durableTurns: false",
          await openPostgres({
            fences: { fenceOf: () => 1 },
            durableTurns: false,
          }),
        ),
      );
    } catch (error) {
      notes.push(`PostgreSQL at ${POSTGRES_URL} left out: ${(error as Error).message}`);
    }
    let bare: import("pg").Pool | undefined;
    if (postgres.length > 0) {
      const { default: pg } = await import("pg");
      bare = new pg.Pool({ connectionString: POSTGRES_URL, max: 1 });
    }
    try {
      const measured = await measure(backends, bare && (() => (bare as import("pg").Pool).query("SELECT 1")));
      return { ...measured, notes };
    } finally {
      await bare?.end();
    }
  } finally {
    await sqlite.close();
    rmSync(dir, { recursive: true, force: true });
    for (const store of postgres) await store.close();
    if (postgres.length > 0) {
      const { default: pg } = await import("pg");
      const admin = new pg.Client({ connectionString: POSTGRES_URL });
      await admin.connect();
      for (let i = 0; i < postgres.length; i++)
        await admin.query(`DROP SCHEMA IF EXISTS "${schema}_${i}" CASCADE`);
      await admin.end();
    }
  }
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
    ...(result.roundTrip
      ? [
          `bare pg round trip (SELECT 1 on a pooled connection, between the slices above): median ${format(result.roundTrip.medianUs)} µs, p99 ${format(result.roundTrip.p99Us)} µs`,
        ]
      : []),
    ...result.notes.map((note) => `note: ${note}`),
  ].join("\n");
}
