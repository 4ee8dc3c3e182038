// A host silent long enough to be hung gets a standby beside it: a hung host's root then
// restarts without waiting for a boot, and a standby nobody takes does not stay.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it, type TestContext } from "node:test";
import { probeSpec } from "../../test/support/hosts.js";
import { Registry } from "../registry/index.js";
import { InvalidArgumentError, type Pid, Runtime, silentLogger } from "../runtime/index.js";
import { DynamicSupervisor } from "../supervision/index.js";
import { isHostDown } from "./host-down.js";
import { type HostInfo, Hosts, type HostsOptions } from "./hosts.js";

const HANG_TIMEOUT_MS = 1000;

const idle = (hosts: Hosts): HostInfo[] => hosts.list().filter((h) => h.label === undefined && !h.stopping);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function eventually<T>(read: () => T, test: (value: T) => boolean, ms: number): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = read();
    if (test(value)) return value;
    if (Date.now() > deadline) throw new Error(`not met within ${ms} ms: ${JSON.stringify(value)}`);
    await sleep(10);
  }
}

async function setUp(t: TestContext, kind: "thread" | "process", options: HostsOptions = {}) {
  const runtime = new Runtime({ logger: silentLogger() });
  const registry = new Registry(runtime, { keys: "unique", names: true });
  const hosts = new Hosts(runtime, registry, { limits: { hangTimeoutMs: HANG_TIMEOUT_MS }, ...options });
  t.after(async () => {
    await runtime.shutdown();
    await hosts.stop();
  });
  const supervisor = await DynamicSupervisor.start(runtime, { maxRestarts: 5, period: 10_000 });
  const name = `standby_probe_${kind}`;
  const spec = probeSpec(hosts, kind, name, "permanent");
  const pid = (await DynamicSupervisor.startChild(runtime, supervisor, spec)) as Pid;
  return { runtime, registry, hosts, pid, name };
}

for (const kind of ["thread", "process"] as const) {
  describe(`a silent ${kind} host`, { timeout: 60_000 }, () => {
    it("gets a standby started before it is found hung, and its root restarts in that standby", async (t) => {
      const { runtime, registry, hosts, pid, name } = await setUp(t, kind);
      const exited = runtime.whenExited(pid);
      assert.deepEqual(idle(hosts), [], "no spare before the silence");
      // Its last frame is the reply to this call: the verdict cannot come before a whole
      // timeout after it, and a host started on demand at the verdict starts later still.
      const loopAt = Date.now();
      await runtime.call(pid, { op: "fault", fault: "loop" });
      const reason = await exited;
      assert.ok(isHostDown(reason) && reason.how === "hang", String(reason));
      const restarted = await eventually(
        () => registry.whereis(name),
        (found) => found !== undefined && !found.equals(pid),
        20_000,
      );
      const host = hosts.hostOf(restarted as Pid);
      assert.ok(host, "the root restarted in a host");
      const startedAfterLoop = host.startedAt.getTime() - loopAt;
      assert.ok(
        startedAfterLoop < HANG_TIMEOUT_MS,
        `its host started ${startedAfterLoop} ms after the loop, not before the verdict`,
      );
      assert.equal(await runtime.call(restarted as Pid, { op: "ping" }), "pong");
    });
  });
}

describe("a standby host", { timeout: 60_000 }, () => {
  it("is stopped when nobody took it, once the silent host has spoken again", async (t) => {
    const { runtime, hosts, pid } = await setUp(t, "thread");
    const dir = mkdtempSync(join(tmpdir(), "sessionvisor-standby-"));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    // Blocked in a program for 0.7 of its 1 s timeout: silent past half of it (when a 1 s
    // timeout's standby starts), not hung.
    await runtime.call(pid, { op: "exec_sleep", seconds: 0.7, pidFile: join(dir, "pid") });
    await eventually(
      () => idle(hosts).length,
      (n) => n === 1,
      5000,
    );
    assert.equal(await runtime.call(pid, { op: "ping" }), "pong", "the silent host was not hung");
    await eventually(
      () => hosts.list().length,
      (n) => n === 1,
      HANG_TIMEOUT_MS * 2 + 5000,
    );
    assert.equal(runtime.isAlive(pid), true);
  });

  it("is not started when standby is off", async (t) => {
    const { runtime, hosts, pid } = await setUp(t, "thread", { standby: false });
    const exited = runtime.whenExited(pid);
    await runtime.call(pid, { op: "fault", fault: "loop" });
    let sawIdle = false;
    let gone = false;
    void exited.then(() => {
      gone = true;
    });
    while (!gone) {
      if (idle(hosts).length > 0) sawIdle = true;
      await sleep(10);
    }
    assert.equal(sawIdle, false);
  });

  it("setting is refused unless it is true or false", () => {
    const runtime = new Runtime({ logger: silentLogger() });
    const registry = new Registry(runtime, { keys: "unique", names: true });
    assert.throws(
      () => new Hosts(runtime, registry, { standby: "yes" as never }),
      (error: unknown) => error instanceof InvalidArgumentError && /standby/.test(error.message),
    );
  });
});
