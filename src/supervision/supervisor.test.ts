import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it } from "node:test";
import { captureLogs } from "../../test/support/logs.js";
import { Counter, Echo } from "../../test/support/servers.js";
import { childPid, type Flaky, flaky, pidsOf, probe } from "../../test/support/supervision.js";
import {
  GenServer,
  Ignore,
  InitError,
  InvalidArgumentError,
  type Pid,
  Runtime,
  silentLogger,
} from "../runtime/index.js";
import { worker } from "./child-spec.js";
import {
  ChildAlreadyPresentError,
  ChildNotFoundError,
  ChildRestartingError,
  ChildRunningError,
  ChildStartError,
} from "./errors.js";
import type { SupervisorEvent } from "./events.js";
import { Supervisor, type SupervisorOptions } from "./supervisor.js";

let rt: Runtime;
let journal: string[];
beforeEach(() => {
  rt = new Runtime({ logger: silentLogger() });
  journal = [];
});
afterEach(async () => {
  await rt.shutdown(200);
});

async function crash(sup: Pid, id: string): Promise<void> {
  const pid = await childPid(rt, sup, id);
  await assert.rejects(rt.call(pid, { op: "crash", message: `crash ${id}` }));
}

/** Two calls in a row: whatever retry was queued before the first has been handled by the second. */
async function settled(sup: Pid) {
  await Supervisor.whichChildren(rt, sup);
  await Supervisor.whichChildren(rt, sup);
  return Supervisor.whichChildren(rt, sup);
}

describe("Supervisor start and stop", () => {
  it("starts children one at a time in list order", async () => {
    await Supervisor.start(rt, { children: ["a", "b", "c"].map((n) => probe(n, journal)) });
    assert.deepEqual(journal, ["start a", "start b", "start c"]);
  });

  it("stops children in reverse start order when it stops", async () => {
    const sup = await Supervisor.start(rt, { children: ["a", "b", "c"].map((n) => probe(n, journal)) });
    journal.length = 0;
    const exited = rt.whenExited(sup);
    rt.exit(sup, "shutdown");
    assert.equal(await exited, "shutdown");
    assert.deepEqual(
      journal.filter((line) => line.startsWith("stop ")),
      ["stop c", "stop b", "stop a"],
    );
  });

  it("fails to start, naming the child, and stops the children already started in reverse order", async () => {
    class Broken extends GenServer {
      override init(): void {
        throw new Error("no database");
      }
    }
    const before = rt.processCount;
    await assert.rejects(
      Supervisor.start(rt, {
        children: [
          probe("a", journal),
          probe("b", journal),
          worker("db", () => new Broken()),
          probe("c", journal),
        ],
      }),
      ChildStartError,
    );
    assert.deepEqual(journal, ["start a", "start b", "stop b", "stopped b", "stop a", "stopped a"]);
    assert.equal(rt.processCount, before);
  });

  it("rejects a failed start with the ChildStartError itself, naming the child and its reason, still an InitError", {
    timeout: 10_000,
  }, async () => {
    class Broken extends GenServer {
      override init(): void {
        throw new Error("no database");
      }
    }
    await assert.rejects(
      Supervisor.start(rt, { children: [probe("a", journal), worker("db", () => new Broken())] }),
      (error: unknown) =>
        error instanceof ChildStartError &&
        error instanceof InitError &&
        error.code === "child_start_failed" &&
        error.childId === "db" &&
        error.reason instanceof Error &&
        error.reason.message === "no database" &&
        /child "db" failed to start: Error: no database/.test(error.message),
    );
  });

  it("a nested supervisor that fails to start names both children", { timeout: 10_000 }, async () => {
    class Broken extends GenServer {
      override init(): void {
        throw new Error("no database");
      }
    }
    await assert.rejects(
      Supervisor.start(rt, {
        children: [Supervisor.childSpec("inner", { children: [worker("db", () => new Broken())] })],
      }),
      (error: unknown) =>
        error instanceof ChildStartError &&
        error.childId === "inner" &&
        error.reason instanceof ChildStartError &&
        error.reason.childId === "db" &&
        /child "inner" failed to start: .*child "db" failed to start: Error: no database/.test(error.message),
    );
  });

  it("drops a temporary child whose start returns Ignore at start-up, as startChild does", {
    timeout: 10_000,
  }, async () => {
    class Ignores extends GenServer {
      override init(): typeof Ignore {
        return Ignore;
      }
    }
    const sup = await Supervisor.start(rt, {
      children: [worker("t", () => new Ignores(), { restart: "temporary" }), probe("a", journal)],
    });
    const { specs, active } = await Supervisor.countChildren(rt, sup);
    assert.deepEqual({ specs, active }, { specs: 1, active: 1 });
    assert.deepEqual(
      (await Supervisor.whichChildren(rt, sup)).map((c) => c.id),
      ["a"],
    );
  });

  it("rejects a restart budget that is infinite, NaN, negative or fractional, naming the option, before starting any child", {
    timeout: 10_000,
  }, async () => {
    const bad: [Partial<SupervisorOptions>, string][] = [
      [{ maxRestarts: Number.POSITIVE_INFINITY }, "maxRestarts"],
      [{ maxRestarts: Number.NaN }, "maxRestarts"],
      [{ maxRestarts: -1 }, "maxRestarts"],
      [{ maxRestarts: 1.5 }, "maxRestarts"],
      [{ maxRestarts: "3" as never }, "maxRestarts"],
      [{ period: Number.POSITIVE_INFINITY }, "period"],
      [{ period: Number.NaN }, "period"],
      [{ period: 0 }, "period"],
      [{ period: -5 }, "period"],
      [{ period: 0.5 }, "period"],
    ];
    for (const [options, option] of bad) {
      await assert.rejects(
        Supervisor.start(rt, { ...options, children: [probe("a", journal)] }),
        (e: unknown) => e instanceof InvalidArgumentError && e.argument === option,
        String(Object.values(options)[0]),
      );
      assert.throws(
        () => Supervisor.childSpec("inner", { ...options, children: [probe("a", journal)] }),
        (e: unknown) => e instanceof InvalidArgumentError && e.argument === option,
      );
    }
    assert.deepEqual(journal, []);
  });

  it("rejects invalid options before starting anything", async () => {
    await assert.rejects(
      Supervisor.start(rt, { strategy: "one_for_most" as never, children: [] }),
      InvalidArgumentError,
    );
    await assert.rejects(Supervisor.start(rt, { maxRestarts: -1, children: [] }), InvalidArgumentError);
    await assert.rejects(Supervisor.start(rt, { period: 0, children: [] }), InvalidArgumentError);
    await assert.rejects(
      Supervisor.start(rt, { children: [probe("a", journal), probe("a", journal)] }),
      /duplicate child id "a"/,
    );
    await assert.rejects(
      Supervisor.start(rt, { children: [{ ...probe("a", journal), shutdown: -5 }] }),
      /child "a" shutdown/,
    );
    assert.deepEqual(journal, []);
  });
});

describe("Supervisor strategies", () => {
  it("one_for_one restarts only the failed child", async () => {
    const sup = await Supervisor.start(rt, { children: ["a", "b", "c"].map((n) => probe(n, journal)) });
    const before = await pidsOf(rt, sup);
    await crash(sup, "b");
    const after = await pidsOf(rt, sup);
    assert.equal(after.a, before.a);
    assert.notEqual(after.b, before.b);
    assert.equal(after.c, before.c);
  });

  it("one_for_all stops the others in reverse order and restarts all in start order", async () => {
    const sup = await Supervisor.start(rt, {
      strategy: "one_for_all",
      children: ["a", "b", "c"].map((n) => probe(n, journal)),
    });
    const before = await pidsOf(rt, sup);
    journal.length = 0;
    await crash(sup, "b");
    const after = await pidsOf(rt, sup);
    for (const id of ["a", "b", "c"]) assert.notEqual(after[id], before[id], id);
    assert.deepEqual(
      journal.filter((l) => !l.startsWith("stopped")),
      ["stop b", "stop c", "stop a", "start a", "start b", "start c"],
    );
  });

  it("rest_for_one restarts the failed child and those started after it", async () => {
    const sup = await Supervisor.start(rt, {
      strategy: "rest_for_one",
      children: ["a", "b", "c"].map((n) => probe(n, journal)),
    });
    const before = await pidsOf(rt, sup);
    journal.length = 0;
    await crash(sup, "b");
    const after = await pidsOf(rt, sup);
    assert.equal(after.a, before.a);
    assert.notEqual(after.b, before.b);
    assert.notEqual(after.c, before.c);
    assert.deepEqual(
      journal.filter((l) => !l.startsWith("stopped")),
      ["stop b", "stop c", "start b", "start c"],
    );
  });

  it("one_for_all does not restart a temporary sibling it took down", async () => {
    const sup = await Supervisor.start(rt, {
      strategy: "one_for_all",
      children: [probe("a", journal), probe("t", journal, { restart: "temporary" })],
    });
    await crash(sup, "a");
    assert.deepEqual(Object.keys(await pidsOf(rt, sup)), ["a"]);
  });
});

describe("Supervisor restart types", () => {
  async function exitWith(restart: "permanent" | "transient" | "temporary", reason: unknown) {
    const sup = await Supervisor.start(rt, { children: [probe("w", journal, { restart })] });
    const first = await childPid(rt, sup, "w");
    const exited = rt.whenExited(first);
    await rt.call(first, { op: "stop", reason: reason as never });
    await exited;
    return (await Supervisor.whichChildren(rt, sup)).find((c) => c.id === "w");
  }

  it("permanent is restarted after a normal exit", async () => {
    assert.ok((await exitWith("permanent", "normal"))?.pid);
  });

  it("transient is not restarted after normal, shutdown or {shutdown: detail}", async () => {
    for (const reason of ["normal", "shutdown", { shutdown: "done" }]) {
      const child = await exitWith("transient", reason);
      assert.ok(child, "a transient child stays in the list");
      assert.equal(child.pid, undefined, JSON.stringify(reason));
    }
  });

  it("transient is restarted after an abnormal exit", async () => {
    assert.ok((await exitWith("transient", "boom"))?.pid);
  });

  it("temporary is never restarted and leaves the child list", async () => {
    assert.equal(await exitWith("temporary", "boom"), undefined);
  });
});

describe("Supervisor restart intensity", () => {
  it("gives up after more than maxRestarts in period, exiting shutdown with children stopped in reverse order", async () => {
    const events: SupervisorEvent[] = [];
    const sup = await Supervisor.start(rt, {
      maxRestarts: 2,
      period: 60_000,
      children: [probe("a", journal), probe("b", journal), probe("c", journal)],
      onEvent: (e) => events.push(e),
    });
    const exited = rt.whenExited(sup);
    await crash(sup, "b");
    await crash(sup, "b");
    journal.length = 0;
    const last = await childPid(rt, sup, "b");
    await assert.rejects(rt.call(last, { op: "crash", message: "third" }));
    assert.equal(await exited, "shutdown");
    // b's own terminate runs as it crashes; then the supervisor stops the rest in reverse order.
    assert.deepEqual(
      journal.filter((l) => l.startsWith("stop ")),
      ["stop b", "stop c", "stop a"],
    );
    assert.equal(events.filter((e) => e.type === "intensity_exceeded").length, 1);
    assert.equal(rt.processCount, 0);
  });

  it("forgets restarts older than the period", async () => {
    const { ManualClock } = await import("../runtime/index.js");
    const clock = new ManualClock();
    const local = new Runtime({ logger: silentLogger(), clock });
    const sup = await Supervisor.start(local, {
      maxRestarts: 1,
      period: 1000,
      children: [worker("c", () => new Echo())],
    });
    for (let i = 0; i < 3; i++) {
      const pid = (await Supervisor.whichChildren(local, sup))[0]?.pid as Pid;
      await assert.rejects(local.call(pid, { op: "crash", message: "x" }));
      await Supervisor.whichChildren(local, sup);
      await clock.advance(1001);
    }
    assert.equal(local.isAlive(sup), true);
    await local.shutdown(10);
  });

  it("escalates: a nested supervisor that gives up is restarted by its parent", async () => {
    const events: SupervisorEvent[] = [];
    const top = await Supervisor.start(rt, {
      children: [Supervisor.childSpec("inner", { maxRestarts: 0, children: [probe("w", journal)] })],
      onEvent: (e) => events.push(e),
    });
    const inner = await childPid(rt, top, "inner");
    const w = await childPid(rt, inner, "w");
    await assert.rejects(rt.call(w, { op: "crash", message: "once is too many" }));
    await rt.whenExited(inner);
    const newInner = await childPid(rt, top, "inner");
    assert.notEqual(newInner.toString(), inner.toString());
    assert.ok(await childPid(rt, newInner, "w"));
    const exited = events.find((e) => e.type === "child_exited");
    assert.equal(exited?.type === "child_exited" && exited.reason, "shutdown");
  });

  it("retries a restart whose start fails, counting each try, and gives up over the intensity", async () => {
    let starts = 0;
    class FailsAfterFirst extends Echo {
      override init(): void {
        starts++;
        if (starts > 1) throw new Error("cannot come back");
      }
    }
    const events: SupervisorEvent[] = [];
    const sup = await Supervisor.start(rt, {
      maxRestarts: 3,
      children: [worker("f", () => new FailsAfterFirst())],
      onEvent: (e) => events.push(e),
    });
    const exited = rt.whenExited(sup);
    await crash(sup, "f");
    assert.equal(await exited, "shutdown");
    assert.equal(events.filter((e) => e.type === "restart_failed").length, 3);
    assert.equal(starts, 4);
  });
});

describe("Supervisor child stuck restarting", () => {
  it("lists a child whose restart keeps failing as restarting, and counts it as not active", {
    timeout: 10_000,
  }, async () => {
    const flap: Flaky = { broken: true, starts: 0 };
    const sup = await Supervisor.start(rt, {
      maxRestarts: 1000,
      period: 60_000,
      children: [probe("a", journal), flaky("f", flap)],
    });
    await crash(sup, "f");
    const listed = await Supervisor.whichChildren(rt, sup);
    assert.deepEqual(
      listed.map((c) => [c.id, c.status, c.pid === undefined]),
      [
        ["a", "running", false],
        ["f", "restarting", true],
      ],
    );
    assert.deepEqual(await Supervisor.countChildren(rt, sup), {
      specs: 2,
      active: 1,
      restarting: 1,
      supervisors: 0,
      workers: 2,
    });
  });

  it("terminateChild stops the retries of a child stuck restarting (one_for_one)", {
    timeout: 10_000,
  }, async () => {
    const flap: Flaky = { broken: true, starts: 0 };
    const sup = await Supervisor.start(rt, {
      maxRestarts: 1000,
      period: 60_000,
      children: [probe("a", journal), flaky("f", flap)],
    });
    await crash(sup, "f");
    await Supervisor.terminateChild(rt, sup, "f");
    const startsAtTerminate = flap.starts;
    flap.broken = false;
    const after = await settled(sup);
    assert.deepEqual(
      after.map((c) => [c.id, c.status, c.pid === undefined]),
      [
        ["a", "running", false],
        ["f", "stopped", true],
      ],
    );
    assert.equal(flap.starts, startsAtTerminate, "no start was tried after terminateChild");
    assert.ok(await Supervisor.restartChild(rt, sup, "f"), "and it can be restarted by hand");
  });

  it("terminateChild on a child stuck restarting keeps it and the children after it stopped (rest_for_one)", {
    timeout: 10_000,
  }, async () => {
    const flap: Flaky = { broken: true, starts: 0 };
    const sup = await Supervisor.start(rt, {
      strategy: "rest_for_one",
      maxRestarts: 1000,
      period: 60_000,
      children: [probe("a", journal), flaky("f", flap), probe("c", journal)],
    });
    const a = await childPid(rt, sup, "a");
    await crash(sup, "f");
    await Supervisor.terminateChild(rt, sup, "f");
    const startsAtTerminate = flap.starts;
    flap.broken = false;
    const after = await settled(sup);
    assert.deepEqual(
      after.map((c) => [c.id, c.status, c.pid === undefined]),
      [
        ["a", "running", false],
        ["f", "stopped", true],
        ["c", "stopped", true],
      ],
    );
    assert.equal(String(after[0]?.pid), String(a), "a was not touched");
    assert.equal(flap.starts, startsAtTerminate);
  });

  it("terminateChild on a child stuck restarting stops its retries under one_for_all; those started before it keep running", {
    timeout: 10_000,
  }, async () => {
    const flap: Flaky = { broken: true, starts: 0 };
    const sup = await Supervisor.start(rt, {
      strategy: "one_for_all",
      maxRestarts: 1000,
      period: 60_000,
      children: [probe("a", journal), flaky("f", flap), probe("c", journal)],
    });
    await crash(sup, "f");
    await Supervisor.terminateChild(rt, sup, "f");
    const startsAtTerminate = flap.starts;
    const a = await childPid(rt, sup, "a");
    flap.broken = false;
    const after = await settled(sup);
    // As OTP: the restart stopped at f, so c (after it) was never started again.
    assert.deepEqual(
      after.map((c) => [c.id, c.status, c.pid === undefined]),
      [
        ["a", "running", false],
        ["f", "stopped", true],
        ["c", "stopped", true],
      ],
    );
    assert.equal(String(after[0]?.pid), String(a), "no retry restarted the group");
    assert.equal(flap.starts, startsAtTerminate);
  });

  it("deleteChild and restartChild refuse a child stuck restarting with ChildRestartingError", {
    timeout: 10_000,
  }, async () => {
    const flap: Flaky = { broken: true, starts: 0 };
    const sup = await Supervisor.start(rt, {
      maxRestarts: 1000,
      period: 60_000,
      children: [flaky("f", flap)],
    });
    await crash(sup, "f");
    await assert.rejects(
      Supervisor.deleteChild(rt, sup, "f"),
      (e: unknown) => e instanceof ChildRestartingError && e.code === "restarting" && e.childId === "f",
    );
    await assert.rejects(Supervisor.restartChild(rt, sup, "f"), ChildRestartingError);
    assert.deepEqual(
      (await Supervisor.whichChildren(rt, sup)).map((c) => c.id),
      ["f"],
    );
  });
});

describe("Supervisor shutdown of children", () => {
  it("kills a child that ignores shutdown after its timeout, and reports it", async () => {
    const logs = captureLogs();
    const local = new Runtime({ logger: logs.logger });
    const sup = await Supervisor.start(local, {
      children: [probe("h", journal, { hang: true, shutdown: 30 })],
    });
    const child = await childPid(local, sup, "h");
    const childExit = local.whenExited(child);
    await Supervisor.terminateChild(local, sup, "h");
    assert.equal(await childExit, "killed");
    assert.deepEqual(journal, ["start h", "stop h"]);
    assert.equal(logs.events("supervisor_report").filter((r) => r.report === "shutdown_error").length, 1);
    await local.shutdown(10);
  });

  it("brutal_kill kills at once without running terminate", async () => {
    const sup = await Supervisor.start(rt, { children: [probe("b", journal, { shutdown: "brutal_kill" })] });
    const child = await childPid(rt, sup, "b");
    const exited = rt.whenExited(child);
    await Supervisor.terminateChild(rt, sup, "b");
    assert.equal(await exited, "killed");
    assert.deepEqual(journal, ["start b"]);
  });

  it("infinity waits for a slow terminate to finish", async () => {
    const sup = await Supervisor.start(rt, {
      children: [probe("s", journal, { shutdown: "infinity", slowStopMs: 30 })],
    });
    await Supervisor.terminateChild(rt, sup, "s");
    assert.deepEqual(journal, ["start s", "stop s", "stopped s"]);
  });

  it("does not write a crash report when it brutally kills its own child", async () => {
    const logs = captureLogs();
    const local = new Runtime({ logger: logs.logger });
    const sup = await Supervisor.start(local, {
      children: [probe("b", journal, { shutdown: "brutal_kill" })],
    });
    await Supervisor.terminateChild(local, sup, "b");
    assert.deepEqual(logs.events("crash_report"), []);
    await local.shutdown(10);
  });
});

describe("Supervisor child management", () => {
  it("startChild appends a child and returns its pid", async () => {
    const sup = await Supervisor.start(rt, { children: [probe("a", journal)] });
    const pid = await Supervisor.startChild(rt, sup, probe("b", journal));
    assert.ok(pid && rt.isAlive(pid));
    assert.deepEqual(Object.keys(await pidsOf(rt, sup)), ["a", "b"]);
  });

  it("startChild with an id already present is a typed error", async () => {
    const sup = await Supervisor.start(rt, { children: [probe("a", journal)] });
    await assert.rejects(Supervisor.startChild(rt, sup, probe("a", journal)), ChildAlreadyPresentError);
  });

  it("startChild whose start fails is a ChildStartError and the supervisor lives on", async () => {
    const sup = await Supervisor.start(rt, { children: [] });
    await assert.rejects(
      Supervisor.startChild(rt, sup, { id: "x", start: async () => Promise.reject(new Error("nope")) }),
      (e: unknown) => e instanceof ChildStartError && e.childId === "x",
    );
    assert.equal(rt.isAlive(sup), true);
  });

  it("terminateChild keeps the spec, restartChild starts it again, deleteChild removes it", async () => {
    const sup = await Supervisor.start(rt, { children: [probe("a", journal)] });
    await Supervisor.terminateChild(rt, sup, "a");
    assert.deepEqual(await pidsOf(rt, sup), { a: undefined });
    const pid = await Supervisor.restartChild(rt, sup, "a");
    assert.ok(pid && rt.isAlive(pid));
    await Supervisor.terminateChild(rt, sup, "a");
    await Supervisor.deleteChild(rt, sup, "a");
    assert.deepEqual(await pidsOf(rt, sup), {});
  });

  it("restartChild and deleteChild refuse a running child", async () => {
    const sup = await Supervisor.start(rt, { children: [probe("a", journal)] });
    await assert.rejects(Supervisor.restartChild(rt, sup, "a"), ChildRunningError);
    await assert.rejects(Supervisor.deleteChild(rt, sup, "a"), ChildRunningError);
  });

  it("unknown child ids are a ChildNotFoundError", async () => {
    const sup = await Supervisor.start(rt, { children: [] });
    await assert.rejects(Supervisor.terminateChild(rt, sup, "ghost"), ChildNotFoundError);
  });

  it("countChildren counts specs, active, supervisors and workers", async () => {
    const sup = await Supervisor.start(rt, {
      children: [probe("a", journal), Supervisor.childSpec("s", { children: [] }), probe("b", journal)],
    });
    await Supervisor.terminateChild(rt, sup, "b");
    assert.deepEqual(await Supervisor.countChildren(rt, sup), {
      specs: 3,
      active: 2,
      restarting: 0,
      supervisors: 1,
      workers: 2,
    });
  });

  it("a child whose start function does not link it is linked by the supervisor", async () => {
    const sup = await Supervisor.start(rt, {
      children: [{ id: "loose", start: (ctx) => ctx.runtime.spawn(new Counter()) }],
    });
    const first = await childPid(rt, sup, "loose");
    rt.exit(first, "boom");
    assert.notEqual((await childPid(rt, sup, "loose")).toString(), first.toString());
  });
});

describe("Supervisor significant children", () => {
  it("any_significant shuts the supervisor down when a significant child exits", async () => {
    const sup = await Supervisor.start(rt, {
      autoShutdown: "any_significant",
      children: [probe("a", journal), probe("sig", journal, { restart: "transient", significant: true })],
    });
    const exited = rt.whenExited(sup);
    await rt.call(await childPid(rt, sup, "sig"), { op: "stop", reason: "normal" });
    assert.equal(await exited, "shutdown");
  });

  it("all_significant waits for the last significant child", async () => {
    const sup = await Supervisor.start(rt, {
      autoShutdown: "all_significant",
      children: [
        probe("s1", journal, { restart: "temporary", significant: true }),
        probe("s2", journal, { restart: "temporary", significant: true }),
      ],
    });
    const s1 = await childPid(rt, sup, "s1");
    const s1Exit = rt.whenExited(s1);
    await rt.call(s1, { op: "stop", reason: "normal" });
    await s1Exit;
    assert.deepEqual(Object.keys(await pidsOf(rt, sup)), ["s2"]);
    assert.equal(rt.isAlive(sup), true);
    const exited = rt.whenExited(sup);
    await rt.call(await childPid(rt, sup, "s2"), { op: "stop", reason: "normal" });
    assert.equal(await exited, "shutdown");
  });

  it("rejects a significant child when autoShutdown is never, and a significant permanent child", async () => {
    await assert.rejects(
      Supervisor.start(rt, { children: [probe("s", journal, { restart: "transient", significant: true })] }),
      /needs autoShutdown/,
    );
    await assert.rejects(
      Supervisor.start(rt, {
        autoShutdown: "any_significant",
        children: [probe("s", journal, { significant: true })],
      }),
      /only transient or temporary/,
    );
  });
});
