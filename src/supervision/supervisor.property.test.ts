import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { Echo } from "../../test/support/servers.js";
import { type ExitReason, ManualClock, type Pid, Runtime, silentLogger } from "../runtime/index.js";
import type { ChildSpec, RestartType } from "./child-spec.js";
import { ChildNotFoundError } from "./errors.js";
import { type Strategy, Supervisor } from "./supervisor.js";

/**
 * A model of OTP's supervisor rules, written from the documentation and independent of the
 * implementation: which children come back after an exit, and when the supervisor gives up.
 */
interface ModelChild {
  id: string;
  restart: RestartType;
  running: boolean;
  generation: number;
}

interface Model {
  strategy: Strategy;
  maxRestarts: number;
  period: number;
  restarts: number[];
  alive: boolean;
  children: ModelChild[];
}

/** What an exit leads to when one child's next start fails once. */
interface Failure {
  /** The child whose next start fails. */
  failing: string | undefined;
  /** Whether `terminateChild` is called on it while it is restarting (before the retry). */
  terminateWhileRestarting: boolean;
}

/** Returns the id of a child terminated while restarting, if the scenario did that. */
function modelExit(
  model: Model,
  id: string,
  clean: boolean,
  now: number,
  failure: Failure,
): string | undefined {
  const child = model.children.find((c) => c.id === id);
  if (!model.alive || !child?.running) return undefined;
  child.running = false;
  const restart = child.restart === "permanent" || (child.restart === "transient" && !clean);
  if (!restart) {
    if (child.restart === "temporary") model.children = model.children.filter((c) => c !== child);
    return undefined;
  }
  return modelRestart(model, child, now, failure);
}

/**
 * OTP's restart: count it, stop the group (temporary siblings leave), start the group in
 * order. A start that fails leaves that child restarting, the members after it stopped, and
 * the restart is tried again from it (counted again) unless it is terminated first.
 */
function modelRestart(model: Model, child: ModelChild, now: number, failure: Failure): string | undefined {
  let from = child;
  let failing = failure.failing;
  for (;;) {
    model.restarts = [...model.restarts, now].filter((t) => now - t <= model.period);
    if (model.restarts.length > model.maxRestarts) {
      model.alive = false;
      return undefined;
    }
    const index = model.children.indexOf(from);
    const group =
      model.strategy === "one_for_one"
        ? [from]
        : model.strategy === "one_for_all"
          ? model.children
          : model.children.slice(index);
    // Temporary siblings taken down with the failed child are not restarted but removed.
    const removedTemporaries = new Set(group.filter((c) => c !== from && c.restart === "temporary"));
    model.children = model.children.filter((c) => !removedTemporaries.has(c));
    const members = group.filter((c) => !removedTemporaries.has(c));
    for (const member of members) member.running = false;
    let failed: ModelChild | undefined;
    for (const member of members) {
      if (member.id === failing) {
        failing = undefined;
        failed = member;
        break;
      }
      member.running = true;
      member.generation++;
    }
    if (!failed) return undefined;
    if (failure.terminateWhileRestarting) return failed.id;
    from = failed;
  }
}

function modelTerminate(model: Model, id: string): void {
  const child = model.children.find((c) => c.id === id);
  if (!child) return;
  child.running = false;
  if (child.restart === "temporary") model.children = model.children.filter((c) => c !== child);
}

const reasonArb = fc.constantFrom<"normal" | "shutdown" | "crash">("normal", "shutdown", "crash");

const scenarioArb = fc.record({
  strategy: fc.constantFrom<Strategy>("one_for_one", "one_for_all", "rest_for_one"),
  maxRestarts: fc.integer({ min: 0, max: 4 }),
  period: fc.constantFrom(1000, 5000),
  restarts: fc.array(fc.constantFrom<RestartType>("permanent", "transient", "temporary"), {
    minLength: 1,
    maxLength: 4,
  }),
  events: fc.array(
    fc.record({
      kind: fc.constantFrom<"exit" | "terminate">("exit", "exit", "exit", "terminate"),
      child: fc.nat({ max: 3 }),
      reason: reasonArb,
      advance: fc.constantFrom(0, 0, 200, 900, 2500),
      /** This child's next start (in the restart the exit causes) fails once. */
      failStartOf: fc.option(fc.nat({ max: 3 }), { freq: 2 }),
      terminateWhileRestarting: fc.boolean(),
    }),
    { minLength: 1, maxLength: 14 },
  ),
});

/** Fails (rather than hangs) when the supervisor does not exit when the model says it does. */
async function exitedWithin(rt: Runtime, pid: Pid, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<"late">((resolve) => {
    timer = setTimeout(() => resolve("late"), ms);
  });
  const first = await Promise.race([rt.whenExited(pid), late]);
  clearTimeout(timer);
  assert.notEqual(first, "late", "the supervisor gave up, as the model says");
}

async function exitChild(rt: Runtime, pid: Pid, reason: "normal" | "shutdown" | "crash"): Promise<void> {
  const exited = rt.whenExited(pid);
  if (reason === "crash") {
    await rt.call(pid, { op: "crash", message: "random crash" }).catch(() => {});
  } else {
    await rt.call(pid, { op: "stop", reason: reason as ExitReason });
  }
  await exited;
}

/**
 * The start of the child named `failing.id` fails once, when `failing.gate` opens: the test can
 * queue a call while the supervisor waits in that start, to be handled once the child is
 * restarting and before its retry.
 */
interface FailingStart {
  id: string | undefined;
  gate: Promise<void>;
}

function childSpecs(ids: string[], restarts: RestartType[], failing: FailingStart): ChildSpec[] {
  return ids.map((id, i) => ({
    id,
    restart: restarts[i],
    start: async (ctx) => {
      if (failing.id === id) {
        failing.id = undefined;
        await failing.gate;
        throw new Error(`${id} refused to start`);
      }
      return ctx.spawnLink(new Echo());
    },
  }));
}

describe("Supervisor against a model of OTP's rules", () => {
  it("restarts exactly the children OTP would and gives up exactly when OTP would", {
    timeout: 120_000,
  }, async () => {
    await fc.assert(
      fc.asyncProperty(scenarioArb, async (scenario) => {
        const clock = new ManualClock();
        const rt = new Runtime({ logger: silentLogger(), clock });
        const ids = scenario.restarts.map((_, i) => `c${i}`);
        const failing: FailingStart = { id: undefined, gate: Promise.resolve() };
        const sup = await Supervisor.start(rt, {
          strategy: scenario.strategy,
          maxRestarts: scenario.maxRestarts,
          period: scenario.period,
          children: childSpecs(ids, scenario.restarts, failing),
        });
        const model: Model = {
          strategy: scenario.strategy,
          maxRestarts: scenario.maxRestarts,
          period: scenario.period,
          restarts: [],
          alive: true,
          children: ids.map((id, i) => ({
            id,
            restart: scenario.restarts[i] as RestartType,
            running: true,
            generation: 0,
          })),
        };
        let pids = new Map((await Supervisor.whichChildren(rt, sup)).map((c) => [c.id, c.pid?.toString()]));
        try {
          for (const event of scenario.events) {
            await clock.advance(event.advance);
            const id = `c${event.child}`;
            const generations = new Map(model.children.map((c) => [c.id, c.generation]));
            if (event.kind === "terminate") {
              if (model.children.some((c) => c.id === id)) await Supervisor.terminateChild(rt, sup, id);
              else await assert.rejects(Supervisor.terminateChild(rt, sup, id), ChildNotFoundError);
              modelTerminate(model, id);
            } else {
              const pid = (await Supervisor.whichChildren(rt, sup)).find((c) => c.id === id)?.pid;
              if (!pid) continue;
              const failure: Failure = {
                failing: event.failStartOf === null ? undefined : `c${event.failStartOf}`,
                terminateWhileRestarting: event.terminateWhileRestarting,
              };
              let openGate = () => {};
              failing.gate = new Promise<void>((resolve) => {
                openGate = resolve;
              });
              failing.id = failure.failing;
              await exitChild(rt, pid, event.reason);
              const stuck = modelExit(model, id, event.reason !== "crash", clock.now(), failure);
              // Queued while the supervisor waits in the failing start: handled once the child
              // is restarting, before the retry the failure queues.
              const terminated = stuck === undefined ? undefined : Supervisor.terminateChild(rt, sup, stuck);
              openGate();
              await terminated;
              if (model.alive) {
                // Past the exit, the failed start and the retry it queued.
                await Supervisor.whichChildren(rt, sup);
                await Supervisor.whichChildren(rt, sup);
              }
            }
            if (!model.alive) {
              await exitedWithin(rt, sup, 2000);
              assert.equal(rt.isAlive(sup), false, "the supervisor gave up");
              assert.equal(rt.processCount, 0, "and took every child with it");
              return;
            }
            // Only now: the supervisor may handle the exit after the test went on.
            failing.id = undefined;
            const now = await Supervisor.whichChildren(rt, sup);
            assert.deepEqual(
              now.map((c) => c.id),
              model.children.map((c) => c.id),
              "the same children are listed",
            );
            for (const child of model.children) {
              const actual = now.find((c) => c.id === child.id);
              const before = pids.get(child.id);
              const after = actual?.pid?.toString();
              assert.equal(after !== undefined, child.running, `${child.id} running`);
              assert.equal(actual?.status, child.running ? "running" : "stopped", `${child.id} status`);
              const restarted = child.generation !== generations.get(child.id);
              if (child.running) assert.equal(after !== before, restarted, `${child.id} restarted`);
            }
            pids = new Map(now.map((c) => [c.id, c.pid?.toString()]));
          }
          assert.equal(rt.isAlive(sup), true);
        } finally {
          await rt.shutdown(10);
        }
      }),
      { numRuns: 150 },
    );
  });
});
