// The hang watchdog judges the host, not the parent: a parent whose own event loop stalls (a
// loaded machine, a long GC, a slow synchronous handler) must not take a healthy host for hung.
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { Registry } from "../registry/index.js";
import { type Pid, Runtime, silentLogger } from "../runtime/index.js";
import { DynamicSupervisor, type SupervisorEvent } from "../supervision/index.js";
import { hostedChild } from "./hosted-child.js";
import { Hosts } from "./hosts.js";

const PROBE = new URL("../../test/fixtures/hosted-probe.ts", import.meta.url);
const HANG_TIMEOUT_MS = 1000;

function blockThisThread(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // Busy on purpose: the parent's event loop cannot run, but the host's can.
  }
}

for (const kind of ["thread", "process"] as const) {
  describe(`the hang watchdog of a ${kind} host`, { timeout: 60_000 }, () => {
    const runtime = new Runtime({ logger: silentLogger() });
    const registry = new Registry(runtime, { keys: "unique", names: true });
    const hosts = new Hosts(runtime, registry, { limits: { hangTimeoutMs: HANG_TIMEOUT_MS } });

    after(async () => {
      await runtime.shutdown();
      await hosts.stop();
    });

    it("does not take a healthy host for hung when the parent itself was stalled past the hang timeout", async () => {
      const events: SupervisorEvent[] = [];
      const supervisor = await DynamicSupervisor.start(runtime, {
        maxRestarts: 5,
        period: 5000,
        onEvent: (event) => events.push(event),
      });
      const spec = hostedChild(hosts, {
        id: `watched_${kind}`,
        isolation: kind,
        module: PROBE,
        args: { name: `watched_${kind}` },
        type: "worker",
        restart: "temporary",
      });
      const pid = (await DynamicSupervisor.startChild(runtime, supervisor, spec)) as Pid;
      assert.equal(await runtime.call(pid, { op: "ping" }), "pong");

      blockThisThread(HANG_TIMEOUT_MS * 2.5);
      // Let the watchdog tick a few times after the stall, with the queued heartbeats read.
      await new Promise((resolve) => setTimeout(resolve, HANG_TIMEOUT_MS / 2));

      assert.equal(await runtime.call(pid, { op: "ping" }), "pong", "the same host still answers");
      assert.deepEqual(
        events.filter((e) => e.type !== "child_started"),
        [],
        "no child of the supervisor died",
      );
    });
  });
}
