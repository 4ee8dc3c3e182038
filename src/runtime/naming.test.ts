import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it } from "node:test";
import { TestNames } from "../../test/support/names.js";
import { AlreadyStartedError } from "./already-started-error.js";
import { InitError, InvalidArgumentError } from "./errors.js";
import { GenServer } from "./gen-server.js";
import { silentLogger } from "./logger.js";
import type { Pid } from "./pid.js";
import { Ignore } from "./replies.js";
import { Runtime } from "./runtime.js";

/** Counts its inits; answers `whereis` of its own name from inside init. */
class Named extends GenServer<"ping", string, never, never, { seen?: (pid: Pid | undefined) => void }> {
  static inits = 0;

  override init(args: { seen?: (pid: Pid | undefined) => void } = {}): void {
    Named.inits++;
    args.seen?.(this.runtime.whereis("svc"));
  }

  override handleCall(): string {
    return "pong";
  }
}

class FailsInit extends GenServer {
  override init(): void {
    throw new Error("no");
  }
}

class IgnoresInit extends GenServer {
  heldDuringInit: Pid | undefined;

  override init(): Ignore {
    this.heldDuringInit = this.runtime.whereis("svc");
    return Ignore;
  }
}

let rt: Runtime;
let names: TestNames;
beforeEach(() => {
  rt = new Runtime({ logger: silentLogger() });
  names = new TestNames(rt);
  Named.inits = 0;
});
afterEach(async () => {
  await rt.shutdown(100);
  names.close();
});

describe("naming at spawn", { timeout: 10_000 }, () => {
  it("a named spawn is reachable by name as soon as spawn resolves", async () => {
    const pid = await rt.spawn(new Named(), { name: "svc" });
    assert.ok(rt.whereis("svc")?.equals(pid));
    assert.equal(await rt.call<Named>("svc", "ping"), "pong");
  });

  it("holds the name while init runs, as OTP's gen:start registers before init", async () => {
    let seen: Pid | undefined;
    const pid = await rt.spawn(new Named(), { name: "svc", args: { seen: (p) => (seen = p) } });
    assert.ok(seen?.equals(pid));
  });

  it("a taken name fails the spawn with AlreadyStartedError naming the holder, starting nothing", async () => {
    const holder = await rt.spawn(new Named(), { name: "svc" });
    const before = rt.processCount;
    const inits = Named.inits;
    await assert.rejects(rt.spawn(new Named(), { name: "svc" }), (error: unknown) => {
      assert.ok(error instanceof AlreadyStartedError);
      assert.equal(error.code, "already_started");
      assert.equal(error.name, "AlreadyStartedError");
      assert.ok(error.holder.equals(holder));
      assert.equal(error.registeredName, "svc");
      return true;
    });
    assert.equal(rt.processCount, before);
    assert.equal(Named.inits, inits);
  });

  it("a name whose init fails is released", async () => {
    await assert.rejects(rt.spawn(new FailsInit(), { name: "svc" }), InitError);
    assert.equal(rt.whereis("svc"), undefined);
    const pid = await rt.spawn(new Named(), { name: "svc" });
    assert.ok(rt.whereis("svc")?.equals(pid));
  });

  it("a name whose init returns Ignore is released", async () => {
    const server = new IgnoresInit();
    await assert.rejects(rt.spawn(server, { name: "svc" }), InitError);
    assert.ok(server.heldDuringInit, "the name is held while init runs");
    assert.equal(rt.whereis("svc"), undefined);
  });

  it("a name without a name service is an InvalidArgumentError and starts nothing", async () => {
    names.close();
    await assert.rejects(rt.spawn(new Named(), { name: "svc" }), InvalidArgumentError);
    assert.equal(rt.processCount, 0);
    assert.equal(Named.inits, 0);
  });

  it("an empty name is an InvalidArgumentError", async () => {
    await assert.rejects(rt.spawn(new Named(), { name: "" }), InvalidArgumentError);
    assert.equal(rt.processCount, 0);
  });

  it("a process spawned by a GenServer with a name is linked and named", async () => {
    class Parent extends GenServer<"start", Pid> {
      override handleCall(): Promise<Pid> {
        return this.spawnLink(new Named(), { name: "svc" });
      }
    }
    const parent = await rt.spawn(new Parent());
    const child = await rt.call<Parent>(parent, "start");
    assert.ok(rt.whereis("svc")?.equals(child));
    assert.ok(rt.info(child)?.links.some((p) => p.equals(parent)));
  });
});
