import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it } from "node:test";
import { runningLateness } from "../../test/support/lateness.js";
import { GenServer, type Pid, Runtime, silentLogger } from "../runtime/index.js";
import { worker } from "./child-spec.js";
import { DynamicSupervisor } from "./dynamic-supervisor.js";
import { Supervisor } from "./supervisor.js";

/**
 * A supervisor retries a child whose start fails at once by queueing the retry in its own
 * mailbox, the same path as a process casting to itself. With a large budget those retries
 * must not freeze the event loop: a timer still fires within about one scheduler slice.
 */
const SLICE_MS = 10;
/** A slice plus a margin, on lateness counted while this process ran (before the fix: ~1.7 s). */
const LATE_BOUND_MS = SLICE_MS * 4 + 80;
const BUDGET = { maxRestarts: 10_000, period: 5000 };
const TEST = { timeout: 30_000 };

/** Starts once; every later start (each restart) fails in `init`. */
class StartsOnce extends GenServer<"ping", "pong"> {
  constructor(private readonly attempts: { count: number }) {
    super();
  }
  override init(): void {
    if (++this.attempts.count > 1) throw new Error("cannot start again");
  }
  override handleCall(): "pong" {
    return "pong";
  }
}

let rt: Runtime;
beforeEach(() => {
  rt = new Runtime({ logger: silentLogger(), sliceMs: SLICE_MS });
});
afterEach(async () => {
  await rt.shutdown(1000);
});

/** Crashes `child` and says how late a 50 ms timer armed at that moment ran. */
function timerLatenessAfterCrashing(child: Pid): Promise<number> {
  const late = runningLateness(50);
  rt.exit(child, "boom");
  return late;
}

describe("Restart loops do not freeze the event loop", () => {
  it(
    "fires a 50 ms timer within a slice and a margin while a Supervisor retries a child that cannot start",
    TEST,
    async () => {
      const attempts = { count: 0 };
      const sup = await Supervisor.start(rt, {
        ...BUDGET,
        children: [worker("flaky", () => new StartsOnce(attempts))],
      });
      const [child] = await Supervisor.whichChildren(rt, sup);
      assert.ok(child?.pid);
      const late = await timerLatenessAfterCrashing(child.pid);
      assert.ok(late < LATE_BOUND_MS, `a 50 ms timer ran ${late.toFixed(1)} ms late`);
      assert.ok(attempts.count > 10, `the supervisor retried only ${attempts.count - 1} times`);
    },
  );

  it(
    "fires a 50 ms timer within a slice and a margin while a DynamicSupervisor retries a child that cannot start",
    TEST,
    async () => {
      const attempts = { count: 0 };
      const sup = await DynamicSupervisor.start(rt, BUDGET);
      const pid = await DynamicSupervisor.startChild(
        rt,
        sup,
        worker("flaky", () => new StartsOnce(attempts)),
      );
      assert.ok(pid);
      const late = await timerLatenessAfterCrashing(pid);
      assert.ok(late < LATE_BOUND_MS, `a 50 ms timer ran ${late.toFixed(1)} ms late`);
      assert.ok(attempts.count > 10, `the supervisor retried only ${attempts.count - 1} times`);
    },
  );
});
