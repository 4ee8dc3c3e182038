// Programs that code in a host starts (a `sleep`, in these tests) go when the host goes: killed,
// hung, stopped, or its owner gone. And `Hosts.stop()` ends only when every thread has exited.
import assert from "node:assert/strict";
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it, type TestContext } from "node:test";
import { HEALTHY_HOST_LIMITS, probeSystem } from "../../test/support/hosts.js";
import { captureLogs } from "../../test/support/logs.js";
import { isHostDown } from "./host-down.js";

const OWNER = new URL("../../test/fixtures/host-owner.ts", import.meta.url);
// Healthy hosts get a hang timeout a loaded machine cannot trip; a host meant to hang, a short one.
const HUNG_SOON = { hangTimeoutMs: 1000 };

/** Whether `pid` is a process at all: ESRCH once it is dead and reaped. */
function exists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ESRCH") return false;
    throw error;
  }
}

async function gone(pid: number, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (exists(pid)) {
    if (Date.now() > deadline) throw new Error(`${what} (pid ${pid}) is still there after ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Resolves once `pid` is gone or a zombie (dead, its exit status not yet collected). */
async function dead(pid: number, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  const zombie = () => {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      return stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z");
    } catch {
      return true;
    }
  };
  while (!zombie()) {
    if (Date.now() > deadline) throw new Error(`${what} (pid ${pid}) is still running after ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Kills `pid` in teardown, whatever the test did: nothing it started may outlive it. */
function reapAfter(t: TestContext, pid: () => number | undefined): void {
  t.after(() => {
    const each = pid();
    if (each === undefined || !Number.isInteger(each) || each <= 1) return;
    try {
      process.kill(each, "SIGKILL");
    } catch {}
  });
}

function threadAlive(tid: number): boolean {
  return existsSync(`/proc/${process.pid}/task/${tid}`);
}

function scratchDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), "sessionvisor-programs-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function readPid(file: string): Promise<number> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const text = existsSync(file) ? readFileSync(file, "utf8").trim() : "";
    if (text) return Number(text);
    if (Date.now() > deadline) throw new Error(`no pid in ${file}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

for (const kind of ["thread", "process"] as const) {
  describe(`programs started in a ${kind} host`, { timeout: 60_000 }, () => {
    it("are killed when the host is killed", async (t) => {
      const system = probeSystem(t, kind);
      const probe = await system.start();
      const sleepPid = (await system.runtime.call(probe, { op: "spawn_sleep", seconds: 60 })) as number;
      reapAfter(t, () => sleepPid);
      assert.ok(exists(sleepPid));
      const exited = system.runtime.whenExited(probe);
      system.hosts.kill(probe.node);
      assert.ok(isHostDown(await exited));
      await gone(sleepPid, "the sleep the host started");
    });

    it("are killed when the host stops", async (t) => {
      const system = probeSystem(t, kind);
      const probe = await system.start();
      const sleepPid = (await system.runtime.call(probe, { op: "spawn_sleep", seconds: 60 })) as number;
      reapAfter(t, () => sleepPid);
      await system.runtime.shutdown();
      await system.hosts.stop();
      await gone(sleepPid, "the sleep the host started");
    });

    // Out of heap, a host dies without running its exit handlers (which reap what it started
    // when it exits any other way), and its programs' own groups are out of its parent's sight.
    it("in a process group of their own are killed when the host runs out of heap", async (t) => {
      const system = probeSystem(t, kind);
      const probe = await system.start({ ...HEALTHY_HOST_LIMITS, maxHeapMb: 48 });
      const sleepPid = (await system.runtime.call(probe, { op: "spawn_group_sleep", seconds: 60 })) as number;
      reapAfter(t, () => sleepPid);
      const exited = system.runtime.whenExited(probe);
      // The parent notes the host's program groups at most every 250 ms, after the host's frames.
      await new Promise((resolve) => setTimeout(resolve, 600));
      await system.runtime.call(probe, { op: "fault", fault: "heap" }).catch(() => undefined);
      const reason = await exited;
      assert.ok(isHostDown(reason) && reason.how === "out_of_memory", String(reason));
      // Dead is enough: a dead thread's children stay zombies until this process reaps them.
      await dead(sleepPid, "the sleep the host left in its own group");
    });

    it("are killed when the host hangs blocked on one, so the host ends", async (t) => {
      const system = probeSystem(t, kind);
      const probe = await system.start(HUNG_SOON);
      const tid =
        kind === "thread" ? ((await system.runtime.call(probe, { op: "os_thread" })) as number) : undefined;
      const hostPid = system.hosts.hostOf(probe)?.osPid as number;
      const pidFile = join(scratchDir(t), "sleep.pid");
      let sleepPid: number | undefined;
      reapAfter(t, () => sleepPid);
      const exited = system.runtime.whenExited(probe);
      await system.runtime.call(probe, { op: "exec_sleep", seconds: 60, pidFile });
      sleepPid = await readPid(pidFile);
      const reason = await exited;
      assert.ok(isHostDown(reason) && reason.how === "hang", String(reason));
      await gone(sleepPid, "the sleep the hung host was blocked on");
      await system.hosts.stop();
      if (tid !== undefined) assert.ok(!threadAlive(tid), "the hung host's thread has exited");
      else assert.ok(!exists(hostPid), "the hung host's process has exited");
    });
  });
}

describe("Hosts.stop()", { timeout: 60_000 }, () => {
  it("resolves only once the thread of a host killed just before has exited", async (t) => {
    const system = probeSystem(t, "thread");
    const probe = await system.start();
    const tid = (await system.runtime.call(probe, { op: "os_thread" })) as number;
    const pidFile = join(scratchDir(t), "sleep.pid");
    let sleepPid: number | undefined;
    reapAfter(t, () => sleepPid);
    await system.runtime.call(probe, { op: "exec_sleep", seconds: 60, pidFile });
    sleepPid = await readPid(pidFile);
    system.hosts.kill(probe.node);
    await system.hosts.stop();
    assert.ok(!threadAlive(tid), "the killed host's thread is gone when stop() resolves");
  });

  it("gives up on a thread that will not exit after its bound, and logs it", async (t) => {
    const dir = mkdtempSync(join(tmpdir(), "sessionvisor-fifo-"));
    const fifo = join(dir, "never-written");
    execFileSync("mkfifo", [fifo]);
    // Teardown lets the thread go before the hosts are stopped again (which then waits for it):
    // a writer (O_RDWR never blocks on a FIFO) ends its blocked open, and closing ends its read.
    t.after(() => {
      closeSync(openSync(fifo, "r+"));
      rmSync(dir, { recursive: true, force: true });
    });
    const logs = captureLogs();
    const system = probeSystem(t, "thread", { ...HEALTHY_HOST_LIMITS, stopTimeoutMs: 300 }, logs.logger);
    const probe = await system.start();
    await system.runtime.call(probe, { op: "block_on_fifo", path: fifo });
    await new Promise((resolve) => setTimeout(resolve, 100));
    const started = Date.now();
    await system.hosts.stop();
    const took = Date.now() - started;
    assert.ok(took < 10_000, `stop() took ${took} ms`);
    const report = logs.events("host_not_exited");
    assert.equal(report.length, 1, JSON.stringify(logs.records));
    assert.equal(report[0]?.host, probe.node);
  });
});

describe("a process host's programs", { timeout: 60_000 }, () => {
  /** Starts the owner program; resolves with it and the pids it reports. */
  async function startOwner(
    t: TestContext,
  ): Promise<{ owner: ChildProcess; sleepPid: number; hostPid: number }> {
    const owner = spawn(process.execPath, ["--import", "tsx", new URL(OWNER).pathname], {
      stdio: ["pipe", "pipe", "inherit"],
    });
    let pids: { sleepPid: number; hostPid: number } | undefined;
    reapAfter(t, () => owner.pid);
    reapAfter(t, () => pids?.sleepPid);
    reapAfter(t, () => pids?.hostPid);
    pids = await new Promise((resolve, reject) => {
      let out = "";
      owner.stdout?.on("data", (chunk: Buffer) => {
        out += chunk.toString("utf8");
        if (out.includes("\n")) resolve(JSON.parse(out.slice(0, out.indexOf("\n"))));
      });
      owner.on("exit", (code) => reject(new Error(`the owner exited early (code ${code})`)));
    });
    return { owner, ...(pids as { sleepPid: number; hostPid: number }) };
  }

  it("run in a process group of the host's own", async (t) => {
    const system = probeSystem(t, "process");
    const probe = await system.start();
    const hostPid = system.hosts.hostOf(probe)?.osPid as number;
    const stat = readFileSync(`/proc/${hostPid}/stat`, "utf8");
    const pgrp = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[2]);
    assert.equal(pgrp, hostPid);
  });

  it("are killed when the program that owns the host exits", async (t) => {
    const { owner, sleepPid, hostPid } = await startOwner(t);
    const exited = new Promise((resolve) => owner.once("exit", resolve));
    owner.stdin?.write("exit\n");
    await exited;
    await gone(sleepPid, "the sleep the host started");
    await gone(hostPid, "the host");
  });

  it("are killed when the program that owns the host is SIGKILLed", async (t) => {
    const { owner, sleepPid, hostPid } = await startOwner(t);
    owner.kill("SIGKILL");
    await gone(sleepPid, "the sleep the host started");
    await gone(hostPid, "the host");
  });
});
