// A host that sends its parent more than the parent handles is stopped once it has more than
// `maxInFlightMb` in flight, before it can grow the parent without bound; its neighbours keep
// answering meanwhile.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { probeSystem } from "../../test/support/hosts.js";
import type { Pid, Runtime } from "../runtime/index.js";
import { isHostDown } from "./host-down.js";

const MB = 1024 * 1024;
/** Far above what a bounded flood costs (the default budget is tens of MB); far below an unbounded one. */
const RSS_GROWTH_BOUND_MB = 600;

/** Pings `pid` until stopped; counts the answers and keeps every failure. */
function pingInLoop(runtime: Runtime, pid: Pid) {
  let running = true;
  let answers = 0;
  const failures: unknown[] = [];
  const loop = (async () => {
    while (running) {
      try {
        assert.equal(await runtime.call(pid, { op: "ping" }, 10_000), "pong");
        answers++;
      } catch (error) {
        failures.push(error);
      }
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return { answers, failures };
    },
  };
}

for (const kind of ["thread", "process"] as const) {
  describe(`a ${kind} host that floods its parent`, { timeout: 120_000 }, () => {
    it("is stopped as a flood, while the parent's memory stays bounded and its neighbours answer", async (t) => {
      const system = probeSystem(t, kind);
      const flooder = await system.start();
      const neighbour = await system.start();
      const rssBefore = process.memoryUsage().rss;
      let rssPeak = rssBefore;
      const sampler = setInterval(() => {
        rssPeak = Math.max(rssPeak, process.memoryUsage().rss);
        // Without a bound this would take the machine down: stop it, and fail below.
        if (rssPeak - rssBefore > 2 * RSS_GROWTH_BOUND_MB * MB) system.hosts.kill(flooder.node);
      }, 10);
      t.after(() => clearInterval(sampler));
      const pings = pingInLoop(system.runtime, neighbour);
      const exited = system.runtime.whenExited(flooder);
      await system.runtime.call(flooder, { op: "flood", size: 1024 });
      const reason = await exited;
      const { answers, failures } = await pings.stop();
      clearInterval(sampler);

      assert.ok(isHostDown(reason), String(reason));
      assert.equal(reason.how, "flood", reason.message);
      assert.match(reason.message, /maxInFlightMb/);
      const growthMb = (rssPeak - rssBefore) / MB;
      t.diagnostic(`the parent grew by ${growthMb.toFixed(0)} MB; the neighbour answered ${answers} times`);
      assert.ok(growthMb < RSS_GROWTH_BOUND_MB, `the parent grew by ${growthMb.toFixed(0)} MB`);
      assert.deepEqual(failures, [], "the neighbour answered every call");
      assert.ok(answers > 0, "the neighbour was called during the flood");
    });

    it("may send a burst within its budget, and the same burst is a flood over a smaller one", async (t) => {
      const system = probeSystem(t, kind);
      // 2,000 casts of 1 KB: about 10 MB as the budget counts them (payload plus 4 KiB a frame).
      const burst = { op: "burst", count: 2000, size: 1024 } as const;
      const within = await system.start();
      assert.equal(await system.runtime.call(within, burst), "sent");
      assert.equal(await system.runtime.call(within, { op: "ping" }), "pong");
      assert.ok(system.hosts.hostOf(within), "the host is still up");

      const over = await system.start({ maxInFlightMb: 1 });
      const exited = system.runtime.whenExited(over);
      await system.runtime.call(over, burst).catch(() => {});
      const reason = await exited;
      assert.ok(isHostDown(reason) && reason.how === "flood", String(reason));
      assert.equal(await system.runtime.call(within, { op: "ping" }), "pong");
    });
  });
}

describe("a thread host that posts past its own count", { timeout: 60_000 }, () => {
  it("is stopped as a flood by the parent's count of what waits for it", async (t) => {
    const system = probeSystem(t, "thread");
    const flooder = await system.start();
    const rssBefore = process.memoryUsage().rss;
    const exited = system.runtime.whenExited(flooder);
    await system.runtime.call(flooder, { op: "raw_flood", size: 1024 });
    const reason = await exited;
    assert.ok(isHostDown(reason) && reason.how === "flood", String(reason));
    assert.match(reason.message, /were waiting for the parent.*maxInFlightMb/);
    const growthMb = (process.memoryUsage().rss - rssBefore) / MB;
    assert.ok(growthMb < RSS_GROWTH_BOUND_MB, `the parent grew by ${growthMb.toFixed(0)} MB`);
  });
});
