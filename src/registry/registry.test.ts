import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it } from "node:test";
import { captureLogs } from "../../test/support/logs.js";
import { Counter, Echo } from "../../test/support/servers.js";
import { InvalidArgumentError, NoProcError, Pid, Runtime, silentLogger } from "../runtime/index.js";
import { NameTakenError, UnsupportedKeyModeError } from "./errors.js";
import { Registry, type UnregisterEvent } from "./registry.js";

let rt: Runtime;
beforeEach(() => {
  rt = new Runtime({ logger: silentLogger() });
});
afterEach(async () => {
  await rt.shutdown(100);
});

describe("Registry with unique keys", () => {
  it("finds a process by its key", async () => {
    const registry = new Registry(rt, { keys: "unique" });
    const pid = await rt.spawn(new Counter());
    registry.register("counter:1", pid);
    assert.ok(registry.whereis("counter:1")?.equals(pid));
  });

  it("refuses a taken key with NameTakenError naming the holder", async () => {
    const registry = new Registry(rt, { keys: "unique" });
    const a = await rt.spawn(new Counter());
    const b = await rt.spawn(new Counter());
    registry.register("k", a);
    assert.throws(
      () => registry.register("k", b),
      (e: unknown) => e instanceof NameTakenError && e.holder.equals(a) && e.message.includes(String(a)),
    );
  });

  it("removes the key the moment its process exits", async () => {
    const registry = new Registry(rt, { keys: "unique" });
    const pid = await rt.spawn(new Counter());
    registry.register("k", pid);
    rt.exit(pid, "kill");
    assert.equal(registry.whereis("k"), undefined);
    assert.equal(registry.count(), 0);
  });

  it("has already dropped the key when links and monitors of the exit fire", async () => {
    const registry = new Registry(rt, { keys: "unique" });
    const pid = await rt.spawn(new Counter());
    registry.register("k", pid);
    let seenByWatcher: Pid | undefined = new Pid("x", 1);
    rt.watch(pid, () => {
      seenByWatcher = registry.whereis("k");
    });
    rt.exit(pid, "boom");
    assert.equal(seenByWatcher, undefined);
  });

  it("removes every key of an exiting process, each told with the exit reason", async () => {
    const registry = new Registry(rt, { keys: "unique" });
    const seen: string[] = [];
    registry.on("unregister", (e: UnregisterEvent<unknown>) => seen.push(`${e.key} ${e.cause} ${e.reason}`));
    const pid = await rt.spawn(new Counter());
    const other = await rt.spawn(new Counter());
    registry.register("a", pid);
    registry.register("b", pid);
    registry.register("c", other);
    rt.exit(pid, "boom");
    assert.deepEqual(seen, ["a exit boom", "b exit boom"]);
    assert.deepEqual([registry.whereis("a"), registry.whereis("b")], [undefined, undefined]);
    assert.ok(registry.whereis("c")?.equals(other));
  });

  it("lets a key be registered again once its holder has exited", async () => {
    const registry = new Registry(rt, { keys: "unique" });
    const first = await rt.spawn(new Counter());
    registry.register("k", first);
    rt.exit(first, "kill");
    const second = await rt.spawn(new Counter());
    registry.register("k", second);
    assert.ok(registry.whereis("k")?.equals(second));
  });

  it("lists the keys of a process", async () => {
    const registry = new Registry(rt, { keys: "unique" });
    const pid = await rt.spawn(new Counter());
    registry.register("a", pid);
    registry.register("b", pid);
    assert.deepEqual(registry.keys(pid).sort(), ["a", "b"]);
    registry.unregister("a", pid);
    assert.deepEqual(registry.keys(pid), ["b"]);
  });

  it("selects entries by key prefix and by predicate", async () => {
    const registry = new Registry<number>(rt, { keys: "unique" });
    for (const [key, value] of [
      ["session:1", 1],
      ["session:2", 2],
      ["other:3", 3],
    ] as const) {
      registry.register(key, await rt.spawn(new Counter()), value);
    }
    assert.deepEqual(
      registry
        .select({ prefix: "session:" })
        .map((e) => e.key)
        .sort(),
      ["session:1", "session:2"],
    );
    assert.deepEqual(
      registry
        .select((e) => e.value > 1)
        .map((e) => e.key)
        .sort(),
      ["other:3", "session:2"],
    );
  });

  it("keeps a value with each entry and updates it", async () => {
    const registry = new Registry<{ n: number }>(rt, { keys: "unique" });
    const pid = await rt.spawn(new Counter());
    registry.register("k", pid, { n: 1 });
    assert.equal(
      registry.updateValue("k", pid, (v) => ({ n: v.n + 1 })),
      true,
    );
    assert.deepEqual(registry.lookup("k")[0]?.value, { n: 2 });
  });

  it("refuses a dead pid with NoProcError and a bad key with InvalidArgumentError", async () => {
    const registry = new Registry(rt, { keys: "unique" });
    const pid = await rt.spawn(new Counter());
    rt.exit(pid, "kill");
    assert.throws(() => registry.register("k", pid), NoProcError);
    const live = await rt.spawn(new Counter());
    assert.throws(() => registry.register("", live), InvalidArgumentError);
    assert.throws(() => registry.register("x".repeat(513), live), InvalidArgumentError);
    assert.throws(() => registry.register(42 as never, live), InvalidArgumentError);
  });

  it("leaves a key alone when a process other than its holder unregisters it", async () => {
    const registry = new Registry(rt, { keys: "unique" });
    const holder = await rt.spawn(new Counter());
    const other = await rt.spawn(new Counter());
    registry.register("k", holder);
    assert.equal(registry.unregister("k", other), false);
    assert.ok(registry.whereis("k")?.equals(holder));
  });

  it("updates only the value its holder asks to update", async () => {
    const registry = new Registry<number>(rt, { keys: "unique" });
    const holder = await rt.spawn(new Counter());
    const other = await rt.spawn(new Counter());
    registry.register("k", holder, 1);
    assert.equal(
      registry.updateValue("k", other, (v) => v + 1),
      false,
    );
    assert.equal(registry.lookup("k")[0]?.value, 1);
  });

  it("refuses a pid of another runtime", async () => {
    const registry = new Registry(rt, { keys: "unique" });
    assert.throws(() => registry.register("k", new Pid("elsewhere", 1)), /another runtime/);
  });
});

describe("Registry with duplicate keys", () => {
  it("holds several processes under one key", async () => {
    const registry = new Registry(rt, { keys: "duplicate" });
    const a = await rt.spawn(new Counter());
    const b = await rt.spawn(new Counter());
    registry.register("group", a);
    registry.register("group", b);
    assert.equal(registry.countKey("group"), 2);
    rt.exit(a, "kill");
    assert.deepEqual(
      registry.lookup("group").map((e) => String(e.pid)),
      [String(b)],
    );
  });

  it("dispatches to every entry under a key", async () => {
    const registry = new Registry(rt, { keys: "duplicate" });
    const servers = [new Echo(), new Echo()];
    for (const server of servers) registry.register("group", await rt.spawn(server));
    registry.dispatch("group", (entries) => {
      for (const entry of entries) rt.send(entry.pid, "hello");
    });
    for (const server of servers) await rt.call(server.self, { op: "echo", value: null });
    assert.deepEqual(
      servers.map((s) => s.infos),
      [["hello"], ["hello"]],
    );
  });

  it("removes only the unregistering process's entries under a key, as Elixir", async () => {
    const registry = new Registry<string>(rt, { keys: "duplicate" });
    const a = await rt.spawn(new Counter());
    const b = await rt.spawn(new Counter());
    registry.register("group", a, "a1");
    registry.register("group", b, "b1");
    registry.register("group", a, "a2");
    assert.equal(registry.unregister("group", a), true);
    assert.deepEqual(
      registry.lookup("group").map((e) => [String(e.pid), e.value]),
      [[String(b), "b1"]],
    );
    assert.deepEqual(registry.keys(a), []);
    assert.deepEqual(registry.keys(b), ["group"]);
  });

  it("refuses an unregister that does not say whose entries to remove", async () => {
    for (const keys of ["unique", "duplicate"] as const) {
      const registry = new Registry(rt, { keys });
      const pid = await rt.spawn(new Counter());
      registry.register("k", pid);
      assert.throws(() => (registry.unregister as (key: string) => boolean)("k"), InvalidArgumentError, keys);
      assert.equal(registry.countKey("k"), 1, keys);
    }
  });

  it("refuses updateValue with UnsupportedKeyModeError, as Elixir raises", async () => {
    const registry = new Registry<number>(rt, { keys: "duplicate" });
    const pid = await rt.spawn(new Counter());
    registry.register("group", pid, 1);
    assert.throws(
      () => registry.updateValue("group", pid, (v) => v + 1),
      (e: unknown) =>
        e instanceof UnsupportedKeyModeError &&
        e.code === "unsupported_key_mode" &&
        /updateValue.*duplicate/.test(e.message),
    );
    assert.equal(registry.lookup("group")[0]?.value, 1);
  });

  it("cannot serve as a name service", () => {
    assert.throws(() => new Registry(rt, { keys: "duplicate", names: true }), InvalidArgumentError);
  });
});

describe("Registry listeners", () => {
  it("are told of registrations and of removals with their cause", async () => {
    const registry = new Registry(rt, { keys: "unique" });
    const seen: string[] = [];
    registry.on("register", (e) => seen.push(`register ${e.key}`));
    registry.on("unregister", (e: UnregisterEvent<unknown>) => seen.push(`unregister ${e.key} ${e.cause}`));
    const a = await rt.spawn(new Counter());
    const b = await rt.spawn(new Counter());
    registry.register("a", a);
    registry.register("b", b);
    registry.unregister("a", a);
    rt.exit(b, "kill");
    assert.deepEqual(seen, ["register a", "register b", "unregister a unregister", "unregister b exit"]);
  });

  it("keep working when one of them throws, and the throw is logged", async () => {
    const logs = captureLogs();
    const registry = new Registry(rt, { keys: "unique", logger: logs.logger });
    let calledAfter = false;
    registry.on("register", () => {
      throw new Error("bad listener");
    });
    registry.on("register", () => {
      calledAfter = true;
    });
    registry.register("k", await rt.spawn(new Counter()));
    assert.equal(calledAfter, true);
    assert.equal(registry.whereis("k") !== undefined, true);
    assert.equal(logs.events("registry_listener_failed").length, 1);
  });
});

describe("Registry as the runtime's name service", () => {
  it("lets call, cast, send and exit address a process by key", async () => {
    new Registry(rt, { keys: "unique", names: true }).register(
      "session_supervisor:abc",
      await rt.spawn(new Echo()),
    );
    assert.equal(await rt.call("session_supervisor:abc", { op: "echo", value: "via name" }), "via name");
    rt.exit("session_supervisor:abc", "kill");
    await assert.rejects(rt.call("session_supervisor:abc", { op: "echo", value: 1 }), NoProcError);
  });

  it("names the process's keys in its crash report", async () => {
    const logs = captureLogs();
    const local = new Runtime({ logger: logs.logger });
    const registry = new Registry(local, { keys: "unique", names: true });
    const pid = await local.spawn(new Echo());
    registry.register("worker:9", pid);
    await assert.rejects(local.call(pid, { op: "crash", message: "x" }));
    assert.deepEqual(logs.events("crash_report")[0]?.names, ["worker:9"]);
    await local.shutdown(10);
  });

  it("stops resolving names after close", async () => {
    const registry = new Registry(rt, { keys: "unique", names: true });
    registry.register("k", await rt.spawn(new Counter()));
    registry.close();
    await assert.rejects(rt.call("k", "get"), NoProcError);
  });
});
