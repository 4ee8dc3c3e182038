import assert from "node:assert/strict";
import { stat } from "node:fs";
import { performance } from "node:perf_hooks";
import { afterEach, beforeEach, describe, it } from "node:test";
import { runningLateness } from "../../test/support/lateness.js";
import { InvalidArgumentError } from "./errors.js";
import { GenServer } from "./gen-server.js";
import { silentLogger } from "./logger.js";
import type { Pid } from "./pid.js";
import { Runtime } from "./runtime.js";

/**
 * The scheduler promises that no process, whatever its handlers do, keeps timers and I/O
 * waiting for much more than one time slice (`sliceMs`, 10 ms by default). The bound below
 * is that slice plus a margin, on lateness counted while this process ran (`runningLateness`), so
 * that it holds on a heavily loaded 2-core machine; before the
 * scheduler counted its slice across microtask drains, an async flood delayed a timer until
 * the flood ended (HARD_STOP_MS here) and a sync one by ~180 ms.
 */
const SLICE_MS = 10;
const LATE_BOUND_MS = SLICE_MS * 4 + 80;
/** Every flood ends by itself this long after it starts, so that a broken scheduler fails a test instead of hanging it. */
const HARD_STOP_MS = 2500;
/** How long each test samples timer lateness while the flood runs. */
const SAMPLE_MS = 400;
const TEST = { timeout: 20_000 };

/** Sends itself a message from every message, each costing `workUs` of CPU: the most a process can do to hog the loop. */
class SyncFlooder extends GenServer<never, unknown, "go"> {
  handled = 0;
  halted = false;
  private readonly deadline = performance.now() + HARD_STOP_MS;
  constructor(private readonly workUs: number) {
    super();
  }
  override handleCast(): void {
    this.handled++;
    const until = performance.now() + this.workUs / 1000;
    while (performance.now() < until) {
      // a handler doing real work
    }
    if (!this.halted && performance.now() < this.deadline) this.cast(this.self, "go");
  }
}

/** The same with an async handler, whose turns chain through microtasks. */
class AsyncFlooder extends GenServer<never, unknown, "go"> {
  handled = 0;
  halted = false;
  private readonly deadline = performance.now() + HARD_STOP_MS;
  override async handleCast(): Promise<void> {
    await null;
    this.handled++;
    if (!this.halted && performance.now() < this.deadline) this.cast(this.self, "go");
  }
}

type Flooder = SyncFlooder | AsyncFlooder;

let rt: Runtime;
let flooders: Flooder[];
beforeEach(() => {
  rt = new Runtime({ logger: silentLogger(), sliceMs: SLICE_MS });
  flooders = [];
});
afterEach(async () => {
  for (const f of flooders) f.halted = true;
  await rt.shutdown(500);
});

/** Starts `count` flooders; a sync one spends `workUs` per message (25 µs: a handler with work to do). */
async function flood(kind: "sync" | "async", count = 1, workUs = 25): Promise<Flooder[]> {
  const started: Flooder[] = [];
  for (let i = 0; i < count; i++) {
    const server = kind === "sync" ? new SyncFlooder(workUs) : new AsyncFlooder();
    flooders.push(server);
    started.push(server);
    const pid: Pid = await rt.spawn(server);
    rt.cast(pid, "go");
  }
  return started;
}

/** The worst lateness of back-to-back 20 ms timers over SAMPLE_MS. */
async function worstTimerLateness(): Promise<number> {
  const end = performance.now() + SAMPLE_MS;
  let worst = 0;
  while (performance.now() < end) worst = Math.max(worst, await runningLateness(20));
  return worst;
}

function handledCounts(servers: Flooder[]): number[] {
  return servers.map((s) => s.handled);
}

describe("Scheduler fairness: one process cannot freeze the event loop", () => {
  it(
    "fires a 20 ms timer within a slice and a margin while an async handler casts to itself",
    TEST,
    async () => {
      const [server] = await flood("async");
      const worst = await worstTimerLateness();
      assert.ok(worst < LATE_BOUND_MS, `a 20 ms timer ran ${worst.toFixed(1)} ms late`);
      assert.ok((server?.handled ?? 0) > 100, `the flooding process handled only ${server?.handled}`);
    },
  );

  it(
    "fires a 20 ms timer within a slice and a margin while a sync handler casts to itself",
    TEST,
    async () => {
      const [server] = await flood("sync");
      const worst = await worstTimerLateness();
      assert.ok(worst < LATE_BOUND_MS, `a 20 ms timer ran ${worst.toFixed(1)} ms late`);
      assert.ok((server?.handled ?? 0) > 100, `the flooding process handled only ${server?.handled}`);
    },
  );

  it(
    "fires a 20 ms timer within a slice and a margin while many async handlers cast to themselves",
    TEST,
    async () => {
      await flood("async", 20);
      const worst = await worstTimerLateness();
      assert.ok(worst < LATE_BOUND_MS, `a 20 ms timer ran ${worst.toFixed(1)} ms late`);
    },
  );

  it(
    "fires a 20 ms timer within a slice and a margin while many sync handlers cast to themselves",
    TEST,
    async () => {
      await flood("sync", 20);
      const worst = await worstTimerLateness();
      assert.ok(worst < LATE_BOUND_MS, `a 20 ms timer ran ${worst.toFixed(1)} ms late`);
    },
  );

  it(
    "fires a 20 ms timer within a slice and a margin while sync and async handlers flood at once",
    TEST,
    async () => {
      await flood("sync", 20);
      await flood("async", 20);
      const worst = await worstTimerLateness();
      assert.ok(worst < LATE_BOUND_MS, `a 20 ms timer ran ${worst.toFixed(1)} ms late`);
    },
  );

  it("gives every one of many flooding processes turns, sync and async alike", TEST, async () => {
    const sync = await flood("sync", 20, 0);
    const async = await flood("async", 20);
    const before = [...handledCounts(sync), ...handledCounts(async)];
    await runningLateness(SAMPLE_MS);
    const progress = [...handledCounts(sync), ...handledCounts(async)].map((n, i) => n - (before[i] ?? 0));
    for (const [kind, slice] of [
      ["sync", progress.slice(0, 20)],
      ["async", progress.slice(20)],
    ] as const) {
      const least = Math.min(...slice);
      const most = Math.max(...slice);
      assert.ok(least > 0, `a ${kind} flooder got no turn: ${slice.join(",")}`);
      // Round robin: each gets the same share of turns, give or take one turn of `reductions`.
      assert.ok(least * 4 >= most, `${kind} flooders were served unfairly: ${slice.join(",")}`);
    }
  });

  it("gives a process with an async handler a turn each round among sync flooders", TEST, async () => {
    const sync = await flood("sync", 10, 0);
    const [async] = await flood("async");
    const before = { sync: sync[0]?.handled ?? 0, async: async?.handled ?? 0 };
    await runningLateness(SAMPLE_MS);
    // A sync flooder's turn is `reductions` (200) messages; an async one takes one per turn.
    const syncTurns = ((sync[0]?.handled ?? 0) - before.sync) / 200;
    const asyncTurns = (async?.handled ?? 0) - before.async;
    assert.ok(
      asyncTurns * 2 >= syncTurns,
      `the async process had ${asyncTurns} turns while a sync one had ${syncTurns.toFixed(0)}`,
    );
  });

  it("runs setImmediate callbacks within a slice and a margin during a flood", TEST, async () => {
    await flood("sync");
    await flood("async");
    let worst = 0;
    const end = performance.now() + SAMPLE_MS;
    while (performance.now() < end)
      worst = Math.max(worst, await runningLateness(0, (done) => setImmediate(done)));
    assert.ok(worst < LATE_BOUND_MS, `an immediate ran ${worst.toFixed(1)} ms late`);
  });

  it("completes file-system callbacks within a slice and a margin during a flood", TEST, async () => {
    await flood("sync");
    await flood("async");
    let worst = 0;
    const end = performance.now() + SAMPLE_MS;
    while (performance.now() < end) {
      worst = Math.max(worst, await runningLateness(0, (done) => stat(".", () => done())));
    }
    assert.ok(worst < LATE_BOUND_MS, `an fs.stat callback ran ${worst.toFixed(1)} ms late`);
  });
});

describe("Scheduler options", () => {
  it("rejects a slice that is not a positive finite number of ms", () => {
    for (const sliceMs of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
      assert.throws(() => new Runtime({ sliceMs }), InvalidArgumentError, `sliceMs ${sliceMs}`);
    }
  });

  it("rejects a number of reductions that is not a positive integer", () => {
    for (const reductions of [0, -5, 1.5, Number.NaN]) {
      assert.throws(() => new Runtime({ reductions }), InvalidArgumentError, `reductions ${reductions}`);
    }
  });
});
