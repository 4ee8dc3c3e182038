// SessionSystem.start refuses bad options before it takes anything, and a start that fails
// part way leaves nothing behind: the same runtime, or the same store, can be started again.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { InvalidArgumentError, Runtime, silentLogger } from "../runtime/index.js";
import { MemorySessionStore } from "../store/index.js";
import { SessionSystem } from "./session-system.js";

/** A store whose sessions cannot be listed: the manager's boot fails on it. */
class UnlistableStore extends MemorySessionStore {
  override listSessions(): never {
    throw new Error("the disk is on fire");
  }
}

describe("SessionSystem.start", { timeout: 30_000 }, () => {
  it("refuses an infinite, negative or fractional session restart budget, naming the option", async () => {
    for (const budget of [
      { maxRestarts: Number.POSITIVE_INFINITY, period: 5000 },
      { maxRestarts: -1, period: 5000 },
      { maxRestarts: 3, period: 0.5 },
    ]) {
      await assert.rejects(
        SessionSystem.start({ logger: silentLogger(), sessionRestartBudget: budget }),
        (error: unknown) =>
          error instanceof InvalidArgumentError && /^sessionRestartBudget\./.test(error.argument),
      );
    }
  });

  it("refuses an infinite shared restart budget, naming the option", async () => {
    await assert.rejects(
      SessionSystem.start({
        logger: silentLogger(),
        sharedRestartBudget: { maxRestarts: Number.POSITIVE_INFINITY, period: 5000 },
      }),
      (error: unknown) =>
        error instanceof InvalidArgumentError && error.argument === "sharedRestartBudget.maxRestarts",
    );
  });

  it("refuses a turn timeout that is not a positive number a timer can wait", async () => {
    for (const turnTimeoutMs of [0, -5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 31]) {
      await assert.rejects(
        SessionSystem.start({ logger: silentLogger(), turnTimeoutMs }),
        (error: unknown) => error instanceof InvalidArgumentError && error.argument === "turnTimeoutMs",
      );
    }
  });

  it("refuses a host standby setting that is not true or false, naming the option", async () => {
    await assert.rejects(
      SessionSystem.start({ logger: silentLogger(), hostStandby: "no" as never }),
      (error: unknown) => error instanceof InvalidArgumentError && error.argument === "hostStandby",
    );
  });

  it("leaves a given runtime free for another start when its options are refused", async () => {
    const runtime = new Runtime({ logger: silentLogger() });
    try {
      await assert.rejects(
        SessionSystem.start({ runtime, store: new MemorySessionStore(), storePath: "x.db" }),
        InvalidArgumentError,
      );
      const system = await SessionSystem.start({ runtime });
      await system.stop();
    } finally {
      await runtime.shutdown();
    }
  });

  it("stops what it started when its boot fails, so the same runtime starts again", async () => {
    const runtime = new Runtime({ logger: silentLogger() });
    try {
      await assert.rejects(SessionSystem.start({ runtime, store: new UnlistableStore() }), /on fire/);
      assert.equal(runtime.processCount, 0, "no process of the failed start is left");
      const system = await SessionSystem.start({ runtime });
      const session = await system.createSession();
      assert.match((await system.sendMessage(session.id, "echo again")).text, /again/);
      await system.stop();
    } finally {
      await runtime.shutdown();
    }
  });
});
