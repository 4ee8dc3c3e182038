import { performance } from "node:perf_hooks";
import {
  ContextStore,
  DynamicSupervisor,
  defaultProviders,
  MemorySessionStore,
  type Pid,
  PubSub,
  parseSessionConfig,
  Registry,
  Runtime,
  type SessionInfo,
  SessionSystem,
  silentLogger,
} from "../src/index.js";
import type { SessionDeps } from "../src/session/deps.js";
import { newSessionId } from "../src/session/session-id.js";
import { sessionChildSpec } from "../src/session/session-placement.js";
import { heapAfterGc, latencyUs, median } from "./stats.js";

/**
 * Starts, creates and turns run before each measured series, the same number on OTP's side
 * (bench/otp/bench.exs): V8 optimises the hot paths over the first few thousand (with 500 the
 * series measured the tiering-up: the median of successive 250-turn segments fell from ~140 µs
 * to ~55 µs), where BEAM code runs compiled from the start.
 */
export const WARM_UP = 5000;

export interface ShapeFigures {
  createPerSec: number;
  bytesPerSession: number | undefined;
}

/**
 * The seed's session shape alone, as bench/otp/bench.exs builds it: a DynamicSupervisor over
 * per-session supervisors, each with a ContextManager and an LLMOrchestrator, all three
 * registered. No manager, no store records, no events: the like-for-like figure.
 */
export async function measureShape(n = 10_000): Promise<ShapeFigures> {
  const runtime = new Runtime({ logger: silentLogger() });
  const registry = new Registry(runtime, { keys: "unique", names: true });
  const deps: SessionDeps = {
    runtime,
    registry,
    pubsub: new PubSub(runtime),
    store: new MemorySessionStore(),
    contextStore: new ContextStore(),
    providers: defaultProviders(),
    now: () => new Date(),
  };
  const config = parseSessionConfig({});
  const sessions = await DynamicSupervisor.start(runtime, {
    maxRestarts: null,
    childRestartBudget: { maxRestarts: 3, period: 5000 },
  });
  // `fresh`, as createSession starts a new session: nothing stored to read back.
  const spec = (id: string) => sessionChildSpec(id, config, deps, { fresh: true });
  // Warm-up (WARM_UP starts, as on OTP's side) under a supervisor of its own, stopped before the
  // measured starts: V8 optimises the start path during the first few thousand, and the tables
  // are as empty as OTP's when the measuring begins.
  const before = runtime.processes().length;
  const warmUp = async () => {
    const warm = await DynamicSupervisor.start(runtime, { maxRestarts: 1_000_000 });
    for (let i = 0; i < WARM_UP; i++)
      await DynamicSupervisor.startChild(
        runtime,
        warm,
        sessionChildSpec(newSessionId(), config, deps, { fresh: true }),
      );
    // Killed: its session supervisors, linked to it, take their agents down with them.
    runtime.exit(warm, "kill");
    while (runtime.processes().length > before) await new Promise((resolve) => setImmediate(resolve));
  };
  await warmUp();
  const ids = Array.from({ length: n }, newSessionId);
  const heapBefore = heapAfterGc();
  // Warmed up again after the full collection that reads the heap: it throws away the optimised
  // code that held objects now dead (the runtimes of the rounds before, the warm-up's processes:
  // "marking dependent code for deoptimization, reason: weak objects" in --trace-deopt), and the
  // first ~3,000 starts after it ran at 10–27 µs a shape instead of ~3.5 µs while V8 optimised
  // again (slices of 1,000 starts timed in place). OTP's code has nothing to lose.
  await warmUp();
  const t0 = performance.now();
  for (const id of ids) await DynamicSupervisor.startChild(runtime, sessions, spec(id));
  const elapsed = performance.now() - t0;
  const heapAfter = heapAfterGc();
  await runtime.shutdown();
  return {
    createPerSec: n / (elapsed / 1000),
    bytesPerSession:
      heapBefore === undefined || heapAfter === undefined ? undefined : (heapAfter - heapBefore) / n,
  };
}

/**
 * The shape's figures as the median of `rounds` runs of measureShape, each its own runtime: one
 * run's rate swings ±15 % with where the young generation's scavenges fall in it, OTP's ±9 %
 * (bench/otp/bench.exs takes the median of three rounds too). `rates`: every round's, sorted.
 */
export async function measureShapeRounds(rounds = 3): Promise<ShapeFigures & { rates: number[] }> {
  const runs: ShapeFigures[] = [];
  for (let i = 0; i < rounds; i++) runs.push(await measureShape());
  const bytes = runs.flatMap((run) => (run.bytesPerSession === undefined ? [] : [run.bytesPerSession]));
  const rates = runs.map((run) => run.createPerSec);
  return {
    createPerSec: median(rates),
    bytesPerSession: bytes.length > 0 ? median(bytes) : undefined,
    rates: rates.sort((a, b) => a - b),
  };
}

export interface SessionFigures {
  createPerSec: number;
  bytesPerSession: number | undefined;
  callMedianUs: number;
  callP99Us: number;
  sendMedianUs: number;
  sendP99Us: number;
  killBackMedianUs: number;
  killBackP99Us: number;
  killActiveMedianUs: number;
  create10kMs: number;
  rss10kMb: number;
  heap10kMb: number;
  stop10kMs: number;
}

/**
 * The message each measured turn sends, the same as bench/otp/bench.exs sends: the offline
 * model echoes its nine words, streamed as nine deltas.
 */
export const TURN_MESSAGE = "echo the quick brown fox jumps over the lazy dog";
const TURN_REPLY = TURN_MESSAGE.slice("echo ".length);

async function waitForKey(system: SessionSystem, key: string): Promise<number> {
  return new Promise((resolve) => {
    const stop = system.registry.on("register", (entry) => {
      if (entry.key === key) {
        stop();
        resolve(performance.now());
      }
    });
  });
}

export async function measureSessions(): Promise<SessionFigures> {
  const system = await SessionSystem.start({
    logger: silentLogger(),
    maxSessions: 20_000,
    idleSweepMs: 60_000,
  });
  // One global subscriber, as OTP's side has one: every event reaches a listener.
  let heard = 0;
  const subscriber = system.subscribeAll(() => {
    heard++;
  });
  // Warm up the create path (as OTP's side does: as many creates, then terminated).
  for (let i = 0; i < WARM_UP; i++) await system.createSession();
  for (const s of await system.listSessions()) await system.terminateSession(s.id);

  const n = 10_000;
  const heapBefore = heapAfterGc();
  const rssBefore = process.memoryUsage().rss;
  const sessions: SessionInfo[] = [];
  const t0 = performance.now();
  for (let i = 0; i < n; i++) sessions.push(await system.createSession());
  const create10kMs = performance.now() - t0;
  const heapAfter = heapAfterGc();
  const memory = process.memoryUsage();

  const target = sessions[0] as SessionInfo;
  const orchestrator = `llm_orchestrator:${target.id}`;
  for (let i = 0; i < 5000; i++) await system.runtime.call(orchestrator, { op: "status" });
  const calls = new Float64Array(50_000);
  for (let i = 0; i < calls.length; i++) {
    const start = performance.now();
    await system.runtime.call(orchestrator, { op: "status" });
    calls[i] = performance.now() - start;
  }
  const call = latencyUs(calls);

  // Warm-up turns on sessions that are not measured, as OTP's side does.
  for (let i = 0; i < WARM_UP; i++)
    await system.sendMessage((sessions[100 + (i % 100)] as SessionInfo).id, "echo warm");
  const sends = new Float64Array(5000);
  for (let i = 0; i < sends.length; i++) {
    const s = sessions[i % 100] as SessionInfo;
    const start = performance.now();
    const reply = await system.sendMessage(s.id, TURN_MESSAGE);
    sends[i] = performance.now() - start;
    if (reply.text !== TURN_REPLY) throw new Error(`unexpected reply ${JSON.stringify(reply.text)}`);
  }
  const send = latencyUs(sends);
  subscriber.unsubscribe();
  if (heard === 0) throw new Error("the global subscriber heard nothing");

  const back = new Float64Array(1000);
  const active = new Float64Array(1000);
  for (let i = 0; i < back.length + 100; i++) {
    const s = sessions[200 + (i % 5000)] as SessionInfo;
    const registered = waitForKey(system, `llm_orchestrator:${s.id}`);
    const activeAgain = new Promise<number>((resolve) => {
      const sub = system.subscribeAll((event) => {
        if (event.sessionId === s.id && event.type === "session_status" && event.status === "active") {
          sub.unsubscribe();
          resolve(performance.now());
        }
      });
    });
    const start = performance.now();
    system.runtime.exit(system.findSupervisor(s.id) as Pid, "kill");
    const [up, act] = await Promise.all([registered, activeAgain]);
    if (i >= 100) {
      back[i - 100] = up - start;
      active[i - 100] = act - start;
    }
  }
  const killBack = latencyUs(back);
  const killActive = latencyUs(active);

  const stopStart = performance.now();
  await system.stop();
  const stop10kMs = performance.now() - stopStart;

  return {
    createPerSec: n / (create10kMs / 1000),
    bytesPerSession:
      heapBefore === undefined || heapAfter === undefined ? undefined : (heapAfter - heapBefore) / n,
    callMedianUs: call.median,
    callP99Us: call.p99,
    sendMedianUs: send.median,
    sendP99Us: send.p99,
    killBackMedianUs: killBack.median,
    killBackP99Us: killBack.p99,
    killActiveMedianUs: killActive.median,
    create10kMs,
    rss10kMb: (memory.rss - rssBefore) / 1024 / 1024,
    heap10kMb:
      heapAfter === undefined || heapBefore === undefined
        ? Number.NaN
        : (heapAfter - heapBefore) / 1024 / 1024,
    stop10kMs,
  };
}
