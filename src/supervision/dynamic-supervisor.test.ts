import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it } from "node:test";
import { Echo } from "../../test/support/servers.js";
import { type Flaky, flaky, probe } from "../../test/support/supervision.js";
import { InvalidArgumentError, type Pid, Runtime, silentLogger } from "../runtime/index.js";
import { type ChildSpec, worker } from "./child-spec.js";
import { DynamicSupervisor, type DynamicSupervisorOptions } from "./dynamic-supervisor.js";
import { MaxChildrenError } from "./errors.js";
import type { SupervisorEvent } from "./events.js";

let rt: Runtime;
let journal: string[];
beforeEach(() => {
  rt = new Runtime({ logger: silentLogger() });
  journal = [];
});
afterEach(async () => {
  await rt.shutdown(200);
});

async function crashChild(pid: Pid): Promise<void> {
  await assert.rejects(rt.call(pid, { op: "crash", message: "flap" }));
}

async function liveChildren(sup: Pid): Promise<string[]> {
  return (await DynamicSupervisor.whichChildren(rt, sup)).map((c) => String(c.pid));
}

/** Two calls in a row: whatever retry was queued before the first has been handled by the second. */
async function settled(sup: Pid) {
  await DynamicSupervisor.whichChildren(rt, sup);
  await DynamicSupervisor.whichChildren(rt, sup);
  return DynamicSupervisor.whichChildren(rt, sup);
}

describe("DynamicSupervisor", () => {
  it("starts children on demand and lists them", async () => {
    const sup = await DynamicSupervisor.start(rt);
    const a = await DynamicSupervisor.startChild(rt, sup, probe("a", journal));
    const b = await DynamicSupervisor.startChild(rt, sup, probe("b", journal));
    assert.deepEqual((await liveChildren(sup)).sort(), [String(a), String(b)].sort());
    assert.deepEqual(await DynamicSupervisor.countChildren(rt, sup), {
      specs: 2,
      active: 2,
      restarting: 0,
      supervisors: 0,
      workers: 2,
    });
  });

  it("refuses a child beyond maxChildren with MaxChildrenError", async () => {
    const sup = await DynamicSupervisor.start(rt, { maxChildren: 1 });
    await DynamicSupervisor.startChild(rt, sup, probe("a", journal));
    await assert.rejects(DynamicSupervisor.startChild(rt, sup, probe("b", journal)), MaxChildrenError);
    assert.deepEqual(journal, ["start a"]);
  });

  it("passes extraArguments to every child's start function", async () => {
    const seen: unknown[][] = [];
    const spec: ChildSpec = {
      id: "x",
      start: (ctx, ...extra) => {
        seen.push(extra);
        return ctx.spawnLink(new Echo());
      },
    };
    const sup = await DynamicSupervisor.start(rt, { extraArguments: ["tenant-1", 42] });
    await DynamicSupervisor.startChild(rt, sup, spec);
    assert.deepEqual(seen, [["tenant-1", 42]]);
  });

  it("restarts a crashed permanent child under a new pid", async () => {
    const sup = await DynamicSupervisor.start(rt);
    const first = (await DynamicSupervisor.startChild(rt, sup, probe("a", journal))) as Pid;
    await crashChild(first);
    const now = await liveChildren(sup);
    assert.equal(now.length, 1);
    assert.notEqual(now[0], String(first));
  });

  it("does not restart a temporary child", async () => {
    const sup = await DynamicSupervisor.start(rt);
    const pid = (await DynamicSupervisor.startChild(
      rt,
      sup,
      probe("t", journal, { restart: "temporary" }),
    )) as Pid;
    await crashChild(pid);
    assert.deepEqual(await liveChildren(sup), []);
  });

  it("terminates a child by pid, and refuses a pid that is not its child", async () => {
    const sup = await DynamicSupervisor.start(rt);
    const pid = (await DynamicSupervisor.startChild(rt, sup, probe("a", journal))) as Pid;
    await DynamicSupervisor.terminateChild(rt, sup, pid);
    assert.equal(rt.isAlive(pid), false);
    assert.deepEqual(await liveChildren(sup), []);
    await assert.rejects(DynamicSupervisor.terminateChild(rt, sup, pid), InvalidArgumentError);
  });

  it("gives up with reason shutdown when the shared intensity is exceeded, stopping every child", async () => {
    const sup = await DynamicSupervisor.start(rt, { maxRestarts: 1, period: 60_000 });
    const bystander = (await DynamicSupervisor.startChild(rt, sup, probe("b", journal))) as Pid;
    const flapper = (await DynamicSupervisor.startChild(rt, sup, probe("f", journal))) as Pid;
    const exited = rt.whenExited(sup);
    await crashChild(flapper);
    const [again] = (await DynamicSupervisor.whichChildren(rt, sup)).filter((c) => !c.pid?.equals(bystander));
    await crashChild(again?.pid as Pid);
    assert.equal(await exited, "shutdown");
    assert.equal(rt.isAlive(bystander), false);
  });

  it("with a per-child budget, removes a flapping child and keeps its siblings and itself alive", async () => {
    const events: SupervisorEvent[] = [];
    const sup = await DynamicSupervisor.start(rt, {
      maxRestarts: 100,
      period: 60_000,
      childRestartBudget: { maxRestarts: 2, period: 60_000 },
      onEvent: (e) => events.push(e),
    });
    const steady = (await DynamicSupervisor.startChild(rt, sup, probe("steady", journal))) as Pid;
    let flapper = (await DynamicSupervisor.startChild(rt, sup, probe("flapper", journal))) as Pid;
    for (let i = 0; i < 3; i++) {
      await crashChild(flapper);
      const next = (await DynamicSupervisor.whichChildren(rt, sup)).find((c) => c.id === "flapper");
      if (next?.pid) flapper = next.pid;
    }
    assert.deepEqual(await liveChildren(sup), [String(steady)]);
    assert.equal(events.filter((e) => e.type === "child_given_up" && e.childId === "flapper").length, 1);
    assert.equal(rt.isAlive(sup), true);
    await crashChild(steady);
    assert.equal((await liveChildren(sup)).length, 1, "the sibling's own budget is untouched");
  });

  it("stops its children concurrently when it stops", async () => {
    const sup = await DynamicSupervisor.start(rt);
    for (const name of ["a", "b", "c"]) {
      await DynamicSupervisor.startChild(rt, sup, probe(name, journal, { slowStopMs: 20 }));
    }
    journal.length = 0;
    const exited = rt.whenExited(sup);
    rt.exit(sup, "shutdown");
    await exited;
    // Each child began stopping before any finished: they were stopped together, not in turn.
    assert.deepEqual(journal.slice(0, 3).sort(), ["stop a", "stop b", "stop c"]);
    assert.equal(journal.length, 6);
  });

  it("rejects invalid options", async () => {
    await assert.rejects(DynamicSupervisor.start(rt, { maxChildren: -1 }), InvalidArgumentError);
    await assert.rejects(
      DynamicSupervisor.start(rt, { childRestartBudget: { maxRestarts: 1, period: -1 } }),
      /childRestartBudget\.period/,
    );
  });

  it("rejects a shared or per-child restart budget that is infinite, NaN, negative or fractional, naming the option", {
    timeout: 10_000,
  }, async () => {
    const inf = Number.POSITIVE_INFINITY;
    const bad: [DynamicSupervisorOptions, string][] = [
      [{ maxRestarts: inf }, "maxRestarts"],
      [{ maxRestarts: Number.NaN }, "maxRestarts"],
      [{ maxRestarts: -1 }, "maxRestarts"],
      [{ maxRestarts: 0.5 }, "maxRestarts"],
      [{ period: inf }, "period"],
      [{ period: 2.5 }, "period"],
      [{ period: 0 }, "period"],
      [{ childRestartBudget: { maxRestarts: inf, period: 5000 } }, "childRestartBudget.maxRestarts"],
      [{ childRestartBudget: { maxRestarts: Number.NaN, period: 5000 } }, "childRestartBudget.maxRestarts"],
      [{ childRestartBudget: { maxRestarts: -2, period: 5000 } }, "childRestartBudget.maxRestarts"],
      [{ childRestartBudget: { maxRestarts: 2, period: inf } }, "childRestartBudget.period"],
      [{ childRestartBudget: { maxRestarts: 2, period: 0.5 } }, "childRestartBudget.period"],
      [{ childRestartBudget: null as never }, "childRestartBudget"],
    ];
    for (const [options, option] of bad) {
      await assert.rejects(
        DynamicSupervisor.start(rt, options),
        (e: unknown) => e instanceof InvalidArgumentError && e.argument === option,
        option,
      );
      assert.throws(
        () => DynamicSupervisor.childSpec("d", options),
        (e: unknown) => e instanceof InvalidArgumentError && e.argument === option,
      );
    }
    assert.equal(rt.processCount, 0);
  });

  it("maxRestarts null means no shared budget, and is refused without a per-child budget", {
    timeout: 10_000,
  }, async () => {
    await assert.rejects(
      DynamicSupervisor.start(rt, { maxRestarts: null }),
      (e: unknown) => e instanceof InvalidArgumentError && e.argument === "maxRestarts",
    );
    const sup = await DynamicSupervisor.start(rt, {
      maxRestarts: null,
      childRestartBudget: { maxRestarts: 2, period: 60_000 },
    });
    // Three children crashing twice each: six restarts, far over the default shared 3 in 5 s.
    for (const name of ["a", "b", "c"]) await DynamicSupervisor.startChild(rt, sup, probe(name, journal));
    for (let round = 0; round < 2; round++) {
      for (const child of await DynamicSupervisor.whichChildren(rt, sup)) await crashChild(child.pid as Pid);
    }
    assert.equal(rt.isAlive(sup), true);
    assert.equal((await liveChildren(sup)).length, 3);
  });

  it("lists a child whose restart keeps failing as restarting, with its last pid, and counts it", {
    timeout: 10_000,
  }, async () => {
    const flap: Flaky = { broken: true, starts: 0 };
    const sup = await DynamicSupervisor.start(rt, { maxRestarts: 1000, period: 60_000 });
    const first = (await DynamicSupervisor.startChild(rt, sup, flaky("f", flap))) as Pid;
    await crashChild(first);
    const [listed] = await DynamicSupervisor.whichChildren(rt, sup);
    assert.equal(listed?.status, "restarting");
    assert.equal(listed?.pid, undefined);
    assert.equal(String(listed?.lastPid), String(first));
    assert.deepEqual(await DynamicSupervisor.countChildren(rt, sup), {
      specs: 1,
      active: 0,
      restarting: 1,
      supervisors: 0,
      workers: 1,
    });
  });

  it("terminateChild by its last pid stops a child stuck restarting", { timeout: 10_000 }, async () => {
    const flap: Flaky = { broken: true, starts: 0 };
    const sup = await DynamicSupervisor.start(rt, { maxRestarts: 1000, period: 60_000 });
    const steady = (await DynamicSupervisor.startChild(rt, sup, probe("steady", journal))) as Pid;
    const first = (await DynamicSupervisor.startChild(rt, sup, flaky("f", flap))) as Pid;
    await crashChild(first);
    await DynamicSupervisor.terminateChild(rt, sup, first);
    const startsAtTerminate = flap.starts;
    flap.broken = false;
    assert.deepEqual(
      (await settled(sup)).map((c) => String(c.pid)),
      [String(steady)],
    );
    assert.equal(flap.starts, startsAtTerminate, "no start was tried after terminateChild");
    await assert.rejects(DynamicSupervisor.terminateChild(rt, sup, first), InvalidArgumentError);
    assert.equal(rt.isAlive(sup), true);
  });

  it("rejects a malformed child spec without disturbing running children", async () => {
    const sup = await DynamicSupervisor.start(rt);
    const pid = await DynamicSupervisor.startChild(
      rt,
      sup,
      worker("ok", () => new Echo()),
    );
    await assert.rejects(DynamicSupervisor.startChild(rt, sup, { id: "bad" } as never), /start/);
    await assert.rejects(
      DynamicSupervisor.startChild(rt, sup, {
        ...worker("bad", () => new Echo()),
        restart: "sometimes" as never,
      }),
      InvalidArgumentError,
    );
    assert.deepEqual(await liveChildren(sup), [String(pid)]);
  });
});
