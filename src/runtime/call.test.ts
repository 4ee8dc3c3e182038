import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it } from "node:test";
import { Counter, Echo } from "../../test/support/servers.js";
import { ManualClock } from "./clock.js";
import { CallExitError, CallTimeoutError, InvalidArgumentError, NoProcError } from "./errors.js";
import { GenServer } from "./gen-server.js";
import { silentLogger } from "./logger.js";
import { Pid } from "./pid.js";
import { Runtime } from "./runtime.js";

let rt: Runtime;
beforeEach(() => {
  rt = new Runtime({ logger: silentLogger() });
});
afterEach(async () => {
  await rt.shutdown(100);
});

describe("call", () => {
  it("rejects with CallTimeoutError when no reply comes within the timeout", async () => {
    const clock = new ManualClock();
    const local = new Runtime({ logger: silentLogger(), clock });
    const pid = await local.spawn(new Echo());
    const pending = local.call(pid, { op: "never" }, 100);
    let settled = false;
    pending.catch(() => {}).finally(() => (settled = true));
    await clock.advance(99);
    assert.equal(settled, false);
    await clock.advance(1);
    await assert.rejects(pending, (e: unknown) => e instanceof CallTimeoutError && e.timeoutMs === 100);
    await local.shutdown(10);
  });

  it("times out each call at its own deadline when calls share a timeout", async () => {
    const clock = new ManualClock();
    const local = new Runtime({ logger: silentLogger(), clock });
    const pid = await local.spawn(new Echo());
    const first = local.call(pid, { op: "never" }, 100);
    first.catch(() => {});
    await clock.advance(40);
    const second = local.call(pid, { op: "never" }, 100);
    let secondSettled = false;
    second.catch(() => {}).finally(() => (secondSettled = true));
    await clock.advance(60);
    await assert.rejects(first, CallTimeoutError);
    assert.equal(secondSettled, false);
    await clock.advance(40);
    await assert.rejects(second, CallTimeoutError);
    await local.shutdown(10);
  });

  it("does not time out a call that was answered in time", async () => {
    const clock = new ManualClock();
    const local = new Runtime({ logger: silentLogger(), clock });
    const pid = await local.spawn(new Counter());
    assert.equal(await local.call(pid, "inc", 100), 1);
    await clock.advance(200);
    assert.equal(await local.call(pid, "get", 100), 1);
    await local.shutdown(10);
  });

  it("rejects with NoProcError for a pid that has exited", async () => {
    const pid = await rt.spawn(new Counter());
    rt.exit(pid, "kill");
    await assert.rejects(rt.call(pid, "get"), NoProcError);
  });

  it("rejects with NoProcError for a pid that never existed", async () => {
    await assert.rejects(rt.call(new Pid(rt.node, 999_999), "get"), NoProcError);
  });

  it("rejects with NoProcError for a name nobody registered", async () => {
    await assert.rejects(
      rt.call("nobody", "get"),
      (e: unknown) => e instanceof NoProcError && e.target === "nobody",
    );
  });

  it("rejects with CallExitError carrying the reason when the target is killed mid-call", async () => {
    const pid = await rt.spawn(new Echo());
    const pending = rt.call(pid, { op: "sleep", ms: 50 });
    await new Promise((resolve) => setTimeout(resolve, 5));
    rt.exit(pid, "kill");
    await assert.rejects(pending, (e: unknown) => e instanceof CallExitError && e.reason === "killed");
  });

  it("fails calls still queued in the mailbox when the target exits", async () => {
    const pid = await rt.spawn(new Echo());
    const busy = rt.call(pid, { op: "sleep", ms: 30 });
    const queued = rt.call(pid, { op: "echo", value: 1 });
    await new Promise((resolve) => setTimeout(resolve, 5));
    rt.exit(pid, "shutdown");
    await assert.rejects(busy, CallExitError);
    await assert.rejects(queued, (e: unknown) => e instanceof CallExitError && e.reason === "shutdown");
  });

  it("rejects a malformed timeout with InvalidArgumentError", async () => {
    const pid = await rt.spawn(new Counter());
    await assert.rejects(rt.call(pid, "get", -1), InvalidArgumentError);
    await assert.rejects(rt.call(pid, "get", Number.NaN), InvalidArgumentError);
  });

  it("rejects a target that is neither a pid nor a name with InvalidArgumentError", async () => {
    await assert.rejects(rt.call(42 as never, "get" as never), InvalidArgumentError);
    assert.throws(() => rt.send({} as never, "x"), InvalidArgumentError);
  });

  it("refuses a call from a process to itself instead of deadlocking", async () => {
    class SelfCaller extends GenServer<"go", string> {
      override async handleCall(): Promise<string> {
        try {
          await this.call(this.self, "go");
          return "called";
        } catch (error) {
          return (error as Error).constructor.name;
        }
      }
    }
    const pid = await rt.spawn(new SelfCaller());
    assert.equal(await rt.call(pid, "go"), "InvalidArgumentError");
  });

  it("lets a process call another from inside a handler", async () => {
    const counter = await rt.spawn(new Counter());
    class Relay extends GenServer<"relay", number> {
      override handleCall(): Promise<number> {
        return this.call(counter, "inc");
      }
    }
    const relay = await rt.spawn(new Relay());
    assert.equal(await rt.call(relay, "relay"), 1);
  });
});

describe("cast and send", () => {
  it("drops a cast to a dead process silently, as OTP does", async () => {
    const pid = await rt.spawn(new Counter());
    rt.exit(pid, "kill");
    assert.doesNotThrow(() => rt.cast(pid, "inc"));
  });

  it("throws NoProcError for a send to an unregistered name", () => {
    assert.throws(() => rt.send("ghost", "hello"), NoProcError);
  });
});
