import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { performance } from "node:perf_hooks";
import { Worker } from "node:worker_threads";
import { type HostKind, type Isolation, SessionSystem, silentLogger } from "../src/index.js";
import { floodingProviders } from "./flood-provider.js";
import { runawayProviders } from "./runaway-provider.js";
import { latencyUs, median } from "./stats.js";
import type { Figure } from "./table.js";

export interface IsolationFigures {
  mode: Isolation;
  label: string;
  spares: number;
  /** With spares, each start is timed once a spare is ready (a start from a warm spare). */
  startMedianMs: number;
  /**
   * Cold thread and process starts: a bare Worker's (or node child's) start timed just before
   * each of ours, so that the ratio compares starts made under the same load.
   */
  bareStartMedianMs: number | undefined;
  /** Memory one idle session adds: main-process RSS (inline, thread) or the child's RSS (process). */
  memoryPerSessionMb: number;
  sendMedianUs: number;
  sendP99Us: number;
  deathToAnswerMedianMs: number;
  neighbourP99Us: number;
  neighbourP99RunawayUs: number | undefined;
  hangToAnswerMs: number | undefined;
}

/** A session that floods its parent with events, beside a neighbour of the same kind. */
export interface FloodFigures {
  mode: HostKind;
  /** The neighbour's `sendMessage` p99 with no fault anywhere. */
  neighbourP99Us: number;
  /** The neighbour's `sendMessage` p99 while the other session floods, until it is stopped. */
  neighbourP99FloodUs: number;
  /** From the flooding prompt to the flooding session answering again from a new host, median. */
  floodToAnswerMs: number;
  /** How much the main process's RSS grew at its peak during the flood. */
  parentRssGrowthMb: number;
}

export interface BareFigures {
  workerStartMedianMs: number;
  workerMemoryMb: number;
  forkStartMedianMs: number;
  forkMemoryMb: number;
}

export const HANG_TIMEOUT_MS = 1000;
const FLOODS = 5;
const SESSIONS = 8;

const rssMb = () => process.memoryUsage().rss / 1048576;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Resident set of another process, from /proc (Linux). */
function childRssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? Number.NaN);
  return kb / 1024;
}

export async function measureIsolation(mode: Isolation, spares = 0): Promise<IsolationFigures> {
  const system = await SessionSystem.start({
    hostSpares: spares,
    logger: silentLogger(),
    isolation: mode,
    providers: runawayProviders(),
    hostProviders: { module: new URL("./runaway-provider.js", import.meta.url), export: "runawayProviders" },
    hostLimits: { hangTimeoutMs: HANG_TIMEOUT_MS },
    sessionRestartBudget: { maxRestarts: 100, period: 1000 },
  });
  try {
    const config = { llm: { provider: "runaway" }, limits: { maxHistory: 100_000 } };
    // Warm up: the first host loads and compiles the modules.
    await system.terminateSession((await system.createSession(config)).id);
    await sleep(200);
    const rssBefore = rssMb();
    const starts: number[] = [];
    const bareStarts: number[] = [];
    const ids: string[] = [];
    for (let i = 0; i < SESSIONS; i++) {
      if (spares > 0) await spareReady(system, mode);
      else if (mode !== "inline") bareStarts.push(await bareStart(mode));
      const t0 = performance.now();
      ids.push((await system.createSession(config)).id);
      starts.push(performance.now() - t0);
    }
    await sleep(300);
    const memoryPerSessionMb =
      mode === "process"
        ? median(ids.map((id) => childRssMb(system.sessionHost(id)?.osPid as number)))
        : (rssMb() - rssBefore) / SESSIONS;

    const [victim, neighbour] = ids as [string, string];
    const sends = new Float64Array(500);
    for (let i = 0; i < sends.length; i++) {
      const t0 = performance.now();
      await system.sendMessage(neighbour, `m${i}`);
      sends[i] = performance.now() - t0;
    }
    const send = latencyUs(sends);

    const deaths: number[] = [];
    for (let i = 0; i < 5; i++) {
      const id = ids[2 + i] as string;
      const host = system.sessionHost(id);
      // As for the starts: a "from a spare" kill is replaced from a ready spare, so the one the
      // kill before used up is waited for first, not counted.
      if (spares > 0) await spareReady(system, mode);
      const t0 = performance.now();
      if (host && host.isolation !== "inline") system.hosts.kill(host.hostId);
      else system.runtime.exit(system.findSupervisor(id) as never, "kill");
      await answering(system, id, host?.hostId);
      deaths.push(performance.now() - t0);
    }

    let neighbourP99RunawayUs: number | undefined;
    let hangToAnswerMs: number | undefined;
    if (mode !== "inline") {
      const host = system.sessionHost(victim)?.hostId;
      // Timed from the loop's start: a spare still booting from the kills above is waited for
      // first (the row is of a replacement from a ready spare), not counted.
      if (spares > 0) await spareReady(system, mode);
      const t0 = performance.now();
      // The host may hang before the reply is out: the turn is then interrupted, which is fine.
      void system.sendMessage(victim, "LOOP").catch(() => {});
      const during: number[] = [];
      while (system.sessionHost(victim)?.hostId === host && performance.now() - t0 < 10 * HANG_TIMEOUT_MS) {
        const t1 = performance.now();
        await system.sendMessage(neighbour, "during");
        during.push(performance.now() - t1);
      }
      await answering(system, victim, host);
      hangToAnswerMs = performance.now() - t0;
      neighbourP99RunawayUs = latencyUs(Float64Array.from(during)).p99;
    }
    return {
      mode,
      label: spares > 0 ? `${mode}, from a ready spare` : mode === "inline" ? mode : `${mode}, cold`,
      spares,
      startMedianMs: median(starts),
      bareStartMedianMs: bareStarts.length > 0 ? median(bareStarts) : undefined,
      memoryPerSessionMb,
      sendMedianUs: send.median,
      sendP99Us: send.p99,
      deathToAnswerMedianMs: median(deaths),
      neighbourP99Us: send.p99,
      neighbourP99RunawayUs,
      hangToAnswerMs,
    };
  } finally {
    await system.stop();
  }
}

/**
 * A cold start with the built-in providers only (no `hostProviders` module: the default): the
 * host then loads nothing but the library, from its code cache, and never starts Node's ES module
 * loader. measureIsolation's starts load a providers module (its "runaway" model), an ES module.
 */
export async function measureColdStart(mode: HostKind): Promise<ColdStartFigures> {
  const system = await SessionSystem.start({ logger: silentLogger(), isolation: mode });
  try {
    const config = { llm: { provider: "offline" } };
    await system.terminateSession((await system.createSession(config)).id);
    await sleep(200);
    const starts: number[] = [];
    const bareStarts: number[] = [];
    for (let i = 0; i < SESSIONS; i++) {
      bareStarts.push(await bareStart(mode));
      const t0 = performance.now();
      await system.createSession(config);
      starts.push(performance.now() - t0);
    }
    await sleep(200);
    // A burst: the manager starts each host outside its turn, so their boots overlap.
    const t0 = performance.now();
    await Promise.all(Array.from({ length: BURST }, () => system.createSession(config)));
    return { startMs: median(starts), bareStartMs: median(bareStarts), burstMs: performance.now() - t0 };
  } finally {
    await system.stop();
  }
}

/** How many sessions the burst of measureColdStart creates at once. */
export const BURST = 8;

export interface ColdStartFigures {
  startMs: number;
  bareStartMs: number;
  /** BURST createSession calls made at once, until the last is answered. */
  burstMs: number;
}

/** Resolves once an idle spare host of `mode` is up (it has imported the session's module). */
async function spareReady(system: SessionSystem, mode: Isolation): Promise<void> {
  const deadline = performance.now() + 30_000;
  while (!system.hosts.list().some((h) => h.kind === mode && h.label === undefined && !h.stopping)) {
    if (performance.now() > deadline) throw new Error(`no ${mode} spare came up within 30 s`);
    await sleep(5);
  }
}

/** Resolves once the session answers from a host other than `oldHost`. */
async function answering(system: SessionSystem, id: string, oldHost: string | undefined): Promise<void> {
  for (;;) {
    const host = system.sessionHost(id)?.hostId;
    if (host !== undefined && (host !== oldHost || host === system.runtime.node)) {
      try {
        await system.sendMessage(id, "back?");
        return;
      } catch {}
    }
    await new Promise((resolve) => setImmediate(resolve));
  }
}

const BARE_WORKER =
  "const { parentPort } = require('node:worker_threads'); parentPort.postMessage('up'); setInterval(() => {}, 1000);";
// What child_process.fork does, with the script inline: node plus an IPC channel.
const BARE_CHILD = ["-e", "process.send('up'); setInterval(() => {}, 1000)"];

/** One bare Worker's or node child's start, until its first message; it is ended after. */
async function bareStart(mode: HostKind): Promise<number> {
  const t0 = performance.now();
  if (mode === "thread") {
    const worker = new Worker(BARE_WORKER, { eval: true });
    await new Promise((resolve) => worker.once("message", resolve));
    const ms = performance.now() - t0;
    await worker.terminate();
    return ms;
  }
  const child = spawn(process.execPath, BARE_CHILD, { stdio: ["ignore", "ignore", "inherit", "ipc"] });
  await new Promise((resolve) => child.once("message", resolve));
  const ms = performance.now() - t0;
  const gone = new Promise((resolve) => child.once("exit", resolve));
  child.kill("SIGKILL");
  await gone;
  return ms;
}

/** A bare Worker and a bare forked node: start until their first message, and idle memory. */
export async function measureBare(): Promise<BareFigures> {
  const workerStarts: number[] = [];
  const workers: Worker[] = [];
  await sleep(200);
  const rssBefore = rssMb();
  for (let i = 0; i < SESSIONS; i++) {
    const t0 = performance.now();
    const worker = new Worker(BARE_WORKER, { eval: true });
    await new Promise((resolve) => worker.once("message", resolve));
    workerStarts.push(performance.now() - t0);
    workers.push(worker);
  }
  await sleep(300);
  const workerMemoryMb = (rssMb() - rssBefore) / SESSIONS;
  await Promise.all(workers.map((w) => w.terminate()));

  const forkStarts: number[] = [];
  const forkRss: number[] = [];
  for (let i = 0; i < SESSIONS; i++) {
    const t0 = performance.now();
    const child = spawn(process.execPath, BARE_CHILD, { stdio: ["ignore", "ignore", "inherit", "ipc"] });
    await new Promise((resolve) => child.once("message", resolve));
    forkStarts.push(performance.now() - t0);
    await sleep(100);
    forkRss.push(childRssMb(child.pid as number));
    child.kill("SIGKILL");
  }
  return {
    workerStartMedianMs: median(workerStarts),
    workerMemoryMb,
    forkStartMedianMs: median(forkStarts),
    forkMemoryMb: median(forkRss),
  };
}

/**
 * A session streams events to its parent in a loop that never yields, until its host passes its
 * in-flight budget (`maxInFlightMb`, default) and is stopped as a flood; meanwhile a neighbour of
 * the same kind is called in a loop.
 */
export async function measureFlood(mode: HostKind): Promise<FloodFigures> {
  const system = await SessionSystem.start({
    logger: silentLogger(),
    isolation: mode,
    providers: floodingProviders(),
    hostProviders: { module: new URL("./flood-provider.js", import.meta.url), export: "floodingProviders" },
    hostLimits: { hangTimeoutMs: HANG_TIMEOUT_MS },
    sessionRestartBudget: { maxRestarts: 100, period: 1000 },
  });
  try {
    const config = { llm: { provider: "flood" }, limits: { maxHistory: 100_000 } };
    await system.terminateSession((await system.createSession(config)).id);
    const victim = (await system.createSession(config)).id;
    const neighbour = (await system.createSession(config)).id;
    await sleep(300);
    const sends = new Float64Array(500);
    for (let i = 0; i < sends.length; i++) {
      const t0 = performance.now();
      await system.sendMessage(neighbour, `m${i}`);
      sends[i] = performance.now() - t0;
    }
    // A flood is stopped within a second: several, for enough samples of the neighbour.
    const during: number[] = [];
    const toAnswer: number[] = [];
    const rssBefore = process.memoryUsage().rss;
    let rssPeak = rssBefore;
    const sampler = setInterval(() => {
      rssPeak = Math.max(rssPeak, process.memoryUsage().rss);
    }, 5);
    for (let flood = 0; flood < FLOODS; flood++) {
      const host = system.sessionHost(victim)?.hostId;
      const t0 = performance.now();
      void system.sendMessage(victim, "FLOOD").catch(() => {});
      while (system.sessionHost(victim)?.hostId === host && performance.now() - t0 < 10 * HANG_TIMEOUT_MS) {
        const t1 = performance.now();
        await system.sendMessage(neighbour, "during");
        during.push(performance.now() - t1);
      }
      await answering(system, victim, host);
      toAnswer.push(performance.now() - t0);
    }
    clearInterval(sampler);
    return {
      mode,
      neighbourP99Us: latencyUs(sends).p99,
      neighbourP99FloodUs: latencyUs(Float64Array.from(during)).p99,
      floodToAnswerMs: median(toAnswer),
      parentRssGrowthMb: (rssPeak - rssBefore) / 1048576,
    };
  } finally {
    await system.stop();
  }
}

/**
 * The isolation table: each start and memory figure beside the bare Worker's or bare node
 * child's measured in the same run (the baseline column), with ours over it and the goal.
 */
export function isolationFigures(
  bare: BareFigures,
  modes: IsolationFigures[],
  floods: FloodFigures[],
  builtInColdStarts: Partial<Record<HostKind, ColdStartFigures>> = {},
): Figure[] {
  const row = (
    name: string,
    unit: string,
    ours: number | undefined,
    baseline?: number,
    goal?: Figure["goal"],
  ) => ({ name, unit, ours, otp: baseline, higherIsBetter: false, ...(goal ? { goal } : {}) }) as Figure;
  const withinBare: Figure["goal"] = { text: "≤ 1.5× bare", met: (v, b) => b !== undefined && v <= 1.5 * b };
  const hangGoal: Figure["goal"] = {
    text: `≤ ${HANG_TIMEOUT_MS + 100} ms`,
    met: (v) => v <= HANG_TIMEOUT_MS + 100,
  };
  const figures: Figure[] = [];
  for (const m of modes) {
    const [start, memory] =
      m.mode === "thread"
        ? [bare.workerStartMedianMs, bare.workerMemoryMb]
        : m.mode === "process"
          ? [bare.forkStartMedianMs, bare.forkMemoryMb]
          : [undefined, undefined];
    const isolated = m.mode !== "inline";
    figures.push(
      row(
        `${m.label}: createSession, median`,
        "ms",
        m.startMedianMs,
        m.bareStartMedianMs ?? start,
        isolated ? withinBare : undefined,
      ),
      row(
        `${m.label}: memory per idle session`,
        "MB",
        m.memoryPerSessionMb,
        memory,
        isolated ? withinBare : undefined,
      ),
      row(`${m.label}: sendMessage round trip, median`, "µs", m.sendMedianUs),
      row(`${m.label}: sendMessage round trip, p99`, "µs", m.sendP99Us),
      row(`${m.label}: host killed → session answering, median`, "ms", m.deathToAnswerMedianMs),
    );
    const builtIn = m.spares === 0 && m.mode !== "inline" ? builtInColdStarts[m.mode] : undefined;
    if (builtIn !== undefined) {
      figures.push(
        row(
          `${m.label}, built-in providers only: createSession, median`,
          "ms",
          builtIn.startMs,
          builtIn.bareStartMs,
          withinBare,
        ),
        // Baseline: the same starts one after another (BURST × the median start).
        row(
          `${m.label}: ${BURST} createSession at once, until the last answer (baseline: ${BURST} one by one)`,
          "ms",
          builtIn.burstMs,
          BURST * builtIn.startMs,
        ),
      );
    }
    if (m.neighbourP99RunawayUs !== undefined && m.hangToAnswerMs !== undefined) {
      figures.push(
        row(`${m.label}: neighbour p99 while a session loops forever`, "µs", m.neighbourP99RunawayUs),
        row(
          `${m.label}: … over the neighbour p99 without a fault`,
          "×",
          m.neighbourP99RunawayUs / m.neighbourP99Us,
          undefined,
          {
            text: "≤ 2×",
            met: (v) => v <= 2,
          },
        ),
        row(
          `${m.label}: loop starts → session answering (baseline: the hang timeout)`,
          "ms",
          m.hangToAnswerMs,
          HANG_TIMEOUT_MS,
          hangGoal,
        ),
      );
    }
  }
  for (const flood of floods) {
    figures.push(
      row(`${flood.mode}: neighbour p99 while a session floods its parent`, "µs", flood.neighbourP99FloodUs),
      row(
        `${flood.mode}: … over the neighbour p99 without a fault`,
        "×",
        flood.neighbourP99FloodUs / flood.neighbourP99Us,
        undefined,
        {
          text: "≤ 2×",
          met: (v) => v <= 2,
        },
      ),
      row(`${flood.mode}: flood starts → session answering, median`, "ms", flood.floodToAnswerMs),
      row(`${flood.mode}: main process RSS growth during floods`, "MB", flood.parentRssGrowthMb),
    );
  }
  return figures;
}
