import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it } from "node:test";
import { Echo } from "../../test/support/servers.js";
import {
  AlreadyStartedError,
  GenServer,
  InitError,
  InvalidArgumentError,
  type Pid,
  Runtime,
  silentLogger,
} from "../runtime/index.js";
import { Registry, type UnregisterEvent } from "./registry.js";

class FailsInit extends GenServer {
  override init(): void {
    throw new Error("no");
  }
}

let rt: Runtime;
let registry: Registry;
beforeEach(() => {
  rt = new Runtime({ logger: silentLogger() });
  registry = new Registry(rt, { keys: "unique", names: true });
});
afterEach(async () => {
  await rt.shutdown(100);
  registry.close();
});

describe("a Registry with names: true names processes at spawn", { timeout: 10_000 }, () => {
  it("announces a spawn's name (register event) before the spawn resolves", async () => {
    const seen: Pid[] = [];
    registry.on("register", (entry) => seen.push(entry.pid));
    const spawning = rt.spawn(new Echo(), { name: "svc" });
    assert.equal(seen.length, 1, "registered synchronously, before init ran");
    const pid = await spawning;
    assert.ok(seen[0]?.equals(pid));
  });

  it("refuses a name a process registered by hand holds, with AlreadyStartedError", async () => {
    const holder = await rt.spawn(new Echo());
    registry.register("svc", holder);
    await assert.rejects(
      rt.spawn(new Echo(), { name: "svc" }),
      (error: unknown) => error instanceof AlreadyStartedError && error.holder.equals(holder),
    );
  });

  it("drops the name of a process whose init failed, as an exit", async () => {
    const dropped: UnregisterEvent<unknown>[] = [];
    registry.on("unregister", (event) => dropped.push(event));
    await assert.rejects(rt.spawn(new FailsInit(), { name: "svc" }), InitError);
    assert.equal(registry.whereis("svc"), undefined);
    assert.deepEqual(
      dropped.map((e) => [e.key, e.cause]),
      [["svc", "exit"]],
    );
  });

  it("refuses a name longer than a key may be, starting nothing", async () => {
    await assert.rejects(rt.spawn(new Echo(), { name: "x".repeat(513) }), InvalidArgumentError);
    assert.equal(rt.processCount, 0);
  });
});
