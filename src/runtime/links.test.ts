import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it } from "node:test";
import { Counter, Echo } from "../../test/support/servers.js";
import { NoProcError } from "./errors.js";
import { silentLogger } from "./logger.js";
import { isExitMessage } from "./messages.js";
import type { Pid } from "./pid.js";
import { Runtime } from "./runtime.js";

let rt: Runtime;
beforeEach(() => {
  rt = new Runtime({ logger: silentLogger() });
});
afterEach(async () => {
  await rt.shutdown(100);
});

async function flush(): Promise<void> {
  await new Promise((resolve) => setImmediate(resolve));
}

describe("links", () => {
  it("propagate a crash to a linked process that does not trap exits", async () => {
    const a = await rt.spawn(new Echo());
    const b = await rt.spawn(new Counter());
    rt.link(a, b);
    const bExit = rt.whenExited(b);
    await assert.rejects(rt.call(a, { op: "crash", message: "linked boom" }));
    const reason = await bExit;
    assert.ok(reason instanceof Error && reason.message === "linked boom");
  });

  it("do not propagate a normal exit", async () => {
    const a = await rt.spawn(new Echo());
    const b = await rt.spawn(new Counter());
    rt.link(a, b);
    await rt.call(a, { op: "stop", reason: "normal" });
    await flush();
    assert.equal(rt.isAlive(b), true);
  });

  it("deliver the exit as an EXIT message to a process that traps exits", async () => {
    const trapper = new Echo();
    const t = await rt.spawn(trapper, { trapExit: true });
    const victim = await rt.spawn(new Counter(), { link: t });
    rt.exit(victim, "shutdown");
    await rt.call(t, { op: "echo", value: null });
    assert.equal(rt.isAlive(t), true);
    const exit = trapper.infos.find(isExitMessage);
    assert.ok(exit);
    assert.ok(exit.from.equals(victim));
    assert.equal(exit.reason, "shutdown");
  });

  it("are two-way: the exit of either end reaches the other", async () => {
    const a = await rt.spawn(new Counter());
    const b = await rt.spawn(new Counter(), { link: a });
    rt.exit(b, "boom");
    assert.equal(rt.isAlive(a), false);
  });

  it("are removed by unlink", async () => {
    const a = await rt.spawn(new Counter());
    const b = await rt.spawn(new Counter(), { link: a });
    rt.unlink(a, b);
    rt.exit(b, "boom");
    assert.equal(rt.isAlive(a), true);
  });

  it("propagate along a long chain without overflowing the stack", async () => {
    const first = await rt.spawn(new Counter());
    let previous = first;
    for (let i = 0; i < 20_000; i++) previous = await rt.spawn(new Counter(), { link: previous });
    rt.exit(first, "chain");
    assert.equal(rt.isAlive(previous), false);
    assert.equal(rt.processCount, 0);
  });

  it("refuse to link a process that is not alive with NoProcError", async () => {
    const a = await rt.spawn(new Counter());
    const b = await rt.spawn(new Counter());
    rt.exit(b, "kill");
    assert.throws(() => rt.link(a, b), NoProcError);
  });
});

describe("exit signals", () => {
  it("kill cannot be trapped, and the victim's reason is killed", async () => {
    const pid = await rt.spawn(new Echo(), { trapExit: true });
    const exited = rt.whenExited(pid);
    rt.exit(pid, "kill");
    assert.equal(await exited, "killed");
  });

  it("a killed process's links see reason killed, which a trapper receives as a message", async () => {
    const watcher = new Echo();
    const w = await rt.spawn(watcher, { trapExit: true });
    const victim = await rt.spawn(new Counter(), { link: w });
    rt.exit(victim, "kill");
    await rt.call(w, { op: "echo", value: null });
    assert.equal(watcher.infos.find(isExitMessage)?.reason, "killed");
  });

  it("a linked non-trapping process dies from a killed neighbour", async () => {
    const a = await rt.spawn(new Counter());
    const b = await rt.spawn(new Counter(), { link: a });
    const bExit = rt.whenExited(b);
    rt.exit(a, "kill");
    assert.equal(await bExit, "killed");
  });

  it("normal sent to another process is ignored", async () => {
    const pid = await rt.spawn(new Counter());
    rt.exit(pid, "normal");
    await flush();
    assert.equal(rt.isAlive(pid), true);
  });

  it("shutdown ends a process that does not trap exits, without running terminate", async () => {
    let terminated = false;
    const pid = await rt.spawn(new Echo(), { args: { onTerminate: () => (terminated = true) } });
    rt.exit(pid, "shutdown");
    assert.equal(rt.isAlive(pid), false);
    assert.equal(terminated, false);
  });

  it("an exit from the parent stops a trapping server through terminate", async () => {
    const reasons: unknown[] = [];
    class Parent extends Echo {
      child() {
        return this.spawnLink(new Echo(), { trapExit: true, args: { onTerminate: (r) => reasons.push(r) } });
      }
      shutdownChild(child: Pid): void {
        this.exit(child, "shutdown");
      }
    }
    const parent = new Parent();
    await rt.spawn(parent, { trapExit: true });
    const child = await parent.child();
    const exited = rt.whenExited(child);
    parent.shutdownChild(child);
    assert.equal(await exited, "shutdown");
    assert.deepEqual(reasons, ["shutdown"]);
  });

  it("an exit from a non-parent reaches a trapping server's handleInfo instead", async () => {
    class Shooter extends Echo {
      shoot(target: Pid): void {
        this.exit(target, "shutdown");
      }
    }
    const shooter = new Shooter();
    await rt.spawn(shooter);
    const server = new Echo();
    const pid = await rt.spawn(server, { trapExit: true });
    shooter.shoot(pid);
    await rt.call(pid, { op: "echo", value: null });
    assert.equal(rt.isAlive(pid), true);
    assert.equal(server.infos.find(isExitMessage)?.reason, "shutdown");
  });
});

describe("many links", () => {
  it("are listed in the order they were made, in every form they are held in", async () => {
    const hub = await rt.spawn(new Echo(), { trapExit: true });
    const older = await rt.spawn(new Counter());
    const others: Pid[] = [];
    for (let i = 0; i < 7; i++) others.push(await rt.spawn(new Counter()));
    const linkedOf = () => rt.info(hub)?.links.map(String);
    // One, then a few, then many newer ones, then one older than them.
    for (const [i, pid] of others.entries()) {
      rt.link(hub, pid);
      assert.deepEqual(linkedOf(), others.slice(0, i + 1).map(String));
    }
    rt.link(hub, others[2] as Pid);
    assert.deepEqual(linkedOf(), others.map(String));
    rt.unlink(hub, others[3] as Pid);
    const kept = others.filter((_, i) => i !== 3);
    assert.deepEqual(linkedOf(), kept.map(String));
    rt.link(hub, older);
    assert.deepEqual(linkedOf(), [...kept, older].map(String));
    rt.link(hub, others[3] as Pid);
    assert.deepEqual(linkedOf(), [...kept, older, others[3]].map(String));
    // Each of them gets the exit signal.
    const exits = [...kept, older, others[3] as Pid].map((pid) => rt.whenExited(pid));
    rt.exit(hub, "kill");
    for (const reason of await Promise.all(exits)) assert.equal(reason, "killed");
  });

  it("to newer processes, dropped and made again, keep their order", async () => {
    const hub = await rt.spawn(new Echo(), { trapExit: true });
    const others: Pid[] = [];
    for (let i = 0; i < 6; i++) others.push(await rt.spawn(new Counter(), { link: hub }));
    rt.unlink(hub, others[5] as Pid);
    rt.link(hub, others[5] as Pid);
    rt.unlink(hub, others[0] as Pid);
    rt.link(hub, others[0] as Pid);
    assert.deepEqual(rt.info(hub)?.links.map(String), [...others.slice(1), others[0]].map(String));
  });
});
