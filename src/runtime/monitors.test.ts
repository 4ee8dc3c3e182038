import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it } from "node:test";
import { Counter, Echo } from "../../test/support/servers.js";
import { silentLogger } from "./logger.js";
import { isDownMessage } from "./messages.js";
import { Runtime } from "./runtime.js";

let rt: Runtime;
beforeEach(() => {
  rt = new Runtime({ logger: silentLogger() });
});
afterEach(async () => {
  await rt.shutdown(100);
});

describe("monitors", () => {
  it("deliver a DOWN message with the exit reason", async () => {
    const watcher = new Echo();
    const w = await rt.spawn(watcher);
    const target = await rt.spawn(new Counter());
    const ref = rt.monitor(w, target);
    rt.exit(target, "boom");
    await rt.call(w, { op: "echo", value: null });
    const down = watcher.infos.find(isDownMessage);
    assert.ok(down);
    assert.ok(down.ref.equals(ref));
    assert.ok(down.pid.equals(target));
    assert.equal(down.reason, "boom");
  });

  it("fire at once with reason noproc for a pid that is already dead", async () => {
    const watcher = new Echo();
    const w = await rt.spawn(watcher);
    const target = await rt.spawn(new Counter());
    rt.exit(target, "kill");
    rt.monitor(w, target);
    await rt.call(w, { op: "echo", value: null });
    assert.equal(watcher.infos.find(isDownMessage)?.reason, "noproc");
  });

  it("are one-way: the watcher's exit does not touch the target", async () => {
    const w = await rt.spawn(new Echo());
    const target = await rt.spawn(new Counter());
    rt.monitor(w, target);
    rt.exit(w, "boom");
    assert.equal(rt.isAlive(target), true);
    assert.deepEqual(rt.info(target)?.monitoredBy, []);
  });

  it("deliver nothing after demonitor", async () => {
    const watcher = new Echo();
    const w = await rt.spawn(watcher);
    const target = await rt.spawn(new Counter());
    rt.demonitor(rt.monitor(w, target));
    rt.exit(target, "boom");
    await rt.call(w, { op: "echo", value: null });
    assert.deepEqual(watcher.infos, []);
  });

  it("can be held by plain code through whenExited", async () => {
    const target = await rt.spawn(new Counter());
    const exited = rt.whenExited(target);
    rt.exit(target, { shutdown: "bye" });
    assert.deepEqual(await exited, { shutdown: "bye" });
  });

  it("whenExited of a dead pid resolves with noproc", async () => {
    const target = await rt.spawn(new Counter());
    rt.exit(target, "kill");
    assert.equal(await rt.whenExited(target), "noproc");
  });

  it("a throwing watch callback does not stop other watchers", async () => {
    const target = await rt.spawn(new Counter());
    rt.watch(target, () => {
      throw new Error("bad watcher");
    });
    const exited = rt.whenExited(target);
    rt.exit(target, "boom");
    assert.equal(await exited, "boom");
  });

  it("fire in the order they were set, whichever were removed before", async () => {
    const target = await rt.spawn(new Counter());
    const fired: string[] = [];
    const first = rt.watch(target, () => fired.push("first"));
    rt.watch(target, () => fired.push("second"));
    rt.demonitor(first);
    rt.watch(target, () => fired.push("third"));
    const exited = rt.whenExited(target);
    rt.exit(target, "boom");
    await exited;
    assert.deepEqual(fired, ["second", "third"]);
    assert.equal(rt.info(target), undefined);
  });
});
