import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { Echo } from "../../test/support/servers.js";
import { type ExitReason, ManualClock, type Pid, Runtime, silentLogger } from "../runtime/index.js";
import { type RestartType, worker } from "./child-spec.js";
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

function modelExit(model: Model, id: string, clean: boolean, now: number): void {
  const child = model.children.find((c) => c.id === id);
  if (!model.alive || !child?.running) return;
  child.running = false;
  const restart = child.restart === "permanent" || (child.restart === "transient" && !clean);
  if (!restart) {
    if (child.restart === "temporary") model.children = model.children.filter((c) => c !== child);
    return;
  }
  model.restarts = [...model.restarts, now].filter((t) => now - t <= model.period);
  if (model.restarts.length > model.maxRestarts) {
    model.alive = false;
    return;
  }
  const index = model.children.indexOf(child);
  const group =
    model.strategy === "one_for_one"
      ? [child]
      : model.strategy === "one_for_all"
        ? model.children
        : model.children.slice(index);
  // Temporary siblings taken down with the failed child are not restarted but removed.
  const removedTemporaries = new Set(group.filter((c) => c !== child && c.restart === "temporary"));
  model.children = model.children.filter((c) => !removedTemporaries.has(c));
  for (const member of group) {
    if (removedTemporaries.has(member)) continue;
    member.running = true;
    member.generation++;
  }
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
      child: fc.nat({ max: 3 }),
      reason: reasonArb,
      advance: fc.constantFrom(0, 0, 200, 900, 2500),
    }),
    { minLength: 1, maxLength: 14 },
  ),
});

async function exitChild(rt: Runtime, pid: Pid, reason: "normal" | "shutdown" | "crash"): Promise<void> {
  const exited = rt.whenExited(pid);
  if (reason === "crash") {
    await rt.call(pid, { op: "crash", message: "random crash" }).catch(() => {});
  } else {
    await rt.call(pid, { op: "stop", reason: reason as ExitReason });
  }
  await exited;
}

describe("Supervisor against a model of OTP's rules", () => {
  it("restarts exactly the children OTP would and gives up exactly when OTP would", async () => {
    await fc.assert(
      fc.asyncProperty(scenarioArb, async (scenario) => {
        const clock = new ManualClock();
        const rt = new Runtime({ logger: silentLogger(), clock });
        const ids = scenario.restarts.map((_, i) => `c${i}`);
        const sup = await Supervisor.start(rt, {
          strategy: scenario.strategy,
          maxRestarts: scenario.maxRestarts,
          period: scenario.period,
          children: ids.map((id, i) => worker(id, () => new Echo(), { restart: scenario.restarts[i] })),
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
            const pid = (await Supervisor.whichChildren(rt, sup)).find((c) => c.id === id)?.pid;
            if (!pid) continue;
            await exitChild(rt, pid, event.reason);
            modelExit(model, id, event.reason !== "crash", clock.now());
            if (!model.alive) {
              await rt.whenExited(sup);
              assert.equal(rt.isAlive(sup), false, "the supervisor gave up");
              assert.equal(rt.processCount, 0, "and took every child with it");
              return;
            }
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
