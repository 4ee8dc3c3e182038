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

    it("starts a replacement host while a silent host waits out its hang timeout, and the restart takes it", async () => {
      const supervisor = await DynamicSupervisor.start(runtime, { maxRestarts: 5, period: 5000 });
      const spec = hostedChild(hosts, {
        id: `looping_${kind}`,
        isolation: kind,
        module: PROBE,
        args: { name: `looping_${kind}` },
        type: "worker",
        restart: "permanent",
        // Long enough that a process host (slower to boot under tsx) is up before the verdict.
        limits: { hangTimeoutMs: 4000 },
      });
      const first = (await DynamicSupervisor.startChild(runtime, supervisor, spec)) as Pid;
      const idleBefore = hosts.list().filter((h) => h.label === undefined).length;
      const died = runtime.whenExited(first);
      await runtime.call(first, { op: "fault", fault: "loop" }).catch(() => undefined);
      // Before the watchdog's verdict, a host with nothing in it yet has been started.
      let standby: string | undefined;
      for (let i = 0; i < 400 && standby === undefined; i++) {
        standby = hosts.list().find((h) => h.label === undefined && h.id !== first.node)?.id;
        if (standby === undefined) await new Promise((resolve) => setTimeout(resolve, 10));
      }
      assert.ok(standby, "a replacement host was started");
      assert.ok(idleBefore === 0);
      await died;
      // The supervisor's restart runs its child in that host.
      let restarted: Pid | undefined;
      for (let i = 0; i < 200 && restarted === undefined; i++) {
        restarted = (await DynamicSupervisor.whichChildren(runtime, supervisor)).find((c) => c.pid)?.pid;
        if (restarted === undefined || restarted.equals(first)) {
          restarted = undefined;
          await new Promise((resolve) => setTimeout(resolve, 10));
        }
      }
      assert.equal(restarted?.node, standby);
    });
  });
}
