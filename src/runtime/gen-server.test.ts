import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it } from "node:test";
import { Counter, Echo, eventually } from "../../test/support/servers.js";
import { ManualClock } from "./clock.js";
import { CallExitError, InitError } from "./errors.js";
import type { ExitReason } from "./exit-reason.js";
import { GenServer } from "./gen-server.js";
import { silentLogger } from "./logger.js";
import type { From } from "./pending-call.js";
import { Ignore, NoReply } from "./replies.js";
import { Runtime } from "./runtime.js";

let rt: Runtime;
beforeEach(() => {
  rt = new Runtime({ logger: silentLogger() });
});
afterEach(async () => {
  await rt.shutdown(100);
});

describe("GenServer", () => {
  it("replies to a call with the value handleCall returns", async () => {
    const pid = await rt.spawn(new Echo());
    assert.equal(await rt.call(pid, { op: "echo", value: 41 }), 41);
  });

  it("passes spawn args to init", async () => {
    const pid = await rt.spawn(new Counter(), { args: 10 });
    assert.equal(await rt.call(pid, "get"), 10);
  });

  it("delivers casts to handleCast in the order sent", async () => {
    const server = new Echo();
    const pid = await rt.spawn(server);
    for (let i = 0; i < 5; i++) rt.cast(pid, { op: "note", value: i });
    await rt.call(pid, { op: "echo", value: null });
    assert.deepEqual(server.notes, [0, 1, 2, 3, 4]);
  });

  it("delivers plain sends to handleInfo", async () => {
    const server = new Echo();
    const pid = await rt.spawn(server);
    rt.send(pid, { hello: "world" });
    await rt.call(pid, { op: "echo", value: null });
    assert.deepEqual(server.infos, [{ hello: "world" }]);
  });

  it("handles one message at a time even when handlers are async", async () => {
    let inFlight = 0;
    let maxInFlight = 0;
    class Slow extends GenServer<number, number> {
      override async handleCall(n: number): Promise<number> {
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        await new Promise((resolve) => setTimeout(resolve, 2));
        inFlight--;
        return n;
      }
    }
    const pid = await rt.spawn(new Slow());
    const replies = await Promise.all([1, 2, 3, 4].map((n) => rt.call(pid, n)));
    assert.deepEqual(replies, [1, 2, 3, 4]);
    assert.equal(maxInFlight, 1);
  });

  it("answers later through from.reply when handleCall returns NoReply", async () => {
    class Deferred extends GenServer<"ask" | "release", string> {
      waiting: From<string> | undefined;
      override handleCall(message: "ask" | "release", from: From<string>): string | typeof NoReply {
        if (message === "ask") {
          this.waiting = from;
          return NoReply;
        }
        this.waiting?.reply("released");
        return "ok";
      }
    }
    const pid = await rt.spawn(new Deferred());
    const asked = rt.call(pid, "ask");
    assert.equal(await rt.call(pid, "release"), "ok");
    assert.equal(await asked, "released");
  });

  it("fails a deferred call with CallExitError when the server exits before replying", async () => {
    const pid = await rt.spawn(new Echo());
    const pending = rt.call(pid, { op: "never" });
    await rt.call(pid, { op: "echo", value: 1 });
    rt.exit(pid, "shutdown");
    await assert.rejects(
      pending,
      (error: unknown) => error instanceof CallExitError && error.reason === "shutdown",
    );
  });

  it("exits with the thrown error as reason when a handler throws", async () => {
    const pid = await rt.spawn(new Echo());
    const exited = rt.whenExited(pid);
    await assert.rejects(rt.call(pid, { op: "crash", message: "boom" }), CallExitError);
    const reason = await exited;
    assert.ok(reason instanceof Error && reason.message === "boom");
    assert.equal(rt.isAlive(pid), false);
  });

  it("exits when an async handler rejects, without an unhandledRejection and without touching others", async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on("unhandledRejection", onUnhandled);
    try {
      const victim = await rt.spawn(new Echo());
      const bystander = await rt.spawn(new Counter());
      const exited = rt.whenExited(victim);
      await assert.rejects(rt.call(victim, { op: "reject", message: "async boom" }), CallExitError);
      const reason = await exited;
      assert.ok(reason instanceof Error && reason.message === "async boom");
      assert.equal(await rt.call(bystander, "inc"), 1);
      await new Promise((resolve) => setImmediate(resolve));
      assert.deepEqual(unhandled, []);
    } finally {
      process.off("unhandledRejection", onUnhandled);
    }
  });

  it("calls terminate with the crash error before exiting", async () => {
    let seen: ExitReason | undefined;
    const pid = await rt.spawn(new Echo(), { args: { onTerminate: (r) => (seen = r) } });
    await assert.rejects(rt.call(pid, { op: "crash", message: "bad" }));
    assert.ok(seen instanceof Error && seen.message === "bad");
  });

  it("replies first, then terminates, when a handler calls stop", async () => {
    const reasons: ExitReason[] = [];
    const pid = await rt.spawn(new Echo(), { args: { onTerminate: (r) => reasons.push(r) } });
    const exited = rt.whenExited(pid);
    assert.equal(await rt.call(pid, { op: "stop", reason: { shutdown: "done" } }), "stopping");
    assert.deepEqual(await exited, { shutdown: "done" });
    assert.deepEqual(reasons, [{ shutdown: "done" }]);
  });

  it("rejects the spawn with InitError and leaves no process when init throws", async () => {
    class BadInit extends GenServer {
      override init(): void {
        throw new Error("no config");
      }
    }
    const before = rt.processCount;
    await assert.rejects(
      rt.spawn(new BadInit()),
      (error: unknown) =>
        error instanceof InitError && /BadInit failed to start: Error: no config/.test(error.message),
    );
    assert.equal(rt.processCount, before);
  });

  it("rejects the spawn with reason ignore when init returns Ignore", async () => {
    class Ignored extends GenServer {
      override init(): typeof Ignore {
        return Ignore;
      }
    }
    await assert.rejects(
      rt.spawn(new Ignored()),
      (e: unknown) => e instanceof InitError && e.reason === "ignore",
    );
  });

  it("does not deliver an EXIT to the linked spawner when init fails", async () => {
    const parent = new Echo();
    const parentPid = await rt.spawn(parent, { trapExit: true });
    class Failing extends GenServer {
      override async init(): Promise<void> {
        throw new Error("init failed");
      }
    }
    await assert.rejects(rt.spawn(new Failing(), { link: parentPid }), InitError);
    await rt.call(parentPid, { op: "echo", value: null });
    assert.deepEqual(parent.infos, []);
    assert.equal(rt.isAlive(parentPid), true);
  });

  it("refuses to run one server instance as two processes", async () => {
    const server = new Counter();
    await rt.spawn(server);
    await assert.rejects(rt.spawn(server), /already runs as a process/);
  });

  it("handles messages that arrived while init was still running", async () => {
    let release!: () => void;
    class SlowInit extends Counter {
      override async init(): Promise<void> {
        await new Promise<void>((resolve) => (release = resolve));
      }
    }
    const server = new SlowInit();
    const spawned = rt.spawn(server);
    await eventually(() => rt.processCount === 1);
    const [pid] = rt.processes();
    rt.cast(pid as never, "inc");
    release();
    await spawned;
    assert.equal(await rt.call(pid as never, "get"), 1);
  });

  it("delivers sendAfter messages after the delay on the runtime's clock", async () => {
    const clock = new ManualClock();
    const local = new Runtime({ logger: silentLogger(), clock });
    const server = new Timed();
    const pid = await local.spawn(server);
    await local.call(pid, 50);
    await clock.advance(49);
    assert.deepEqual(server.got, []);
    await clock.advance(1);
    assert.deepEqual(server.got, ["after 50"]);
    await local.shutdown(10);
  });

  it("cancels a process's timers when it exits", async () => {
    const clock = new ManualClock();
    const local = new Runtime({ logger: silentLogger(), clock });
    const pid = await local.spawn(new Timed());
    await local.call(pid, 50);
    const timersBefore = clock.pending;
    local.exit(pid, "kill");
    assert.equal(clock.pending, timersBefore - 1);
    await local.shutdown(10);
  });
});

class Timed extends GenServer<number, string, never, string> {
  got: string[] = [];
  override handleCall(ms: number): string {
    this.sendAfter(ms, `after ${ms}`);
    return "armed";
  }
  override handleInfo(message: unknown): void {
    this.got.push(String(message));
  }
}
