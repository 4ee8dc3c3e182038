// Hard isolation of sessions: each fault is injected into one session running in a worker
// thread or a child process while 20 inline sessions and one hosted neighbour are called in a
// loop. The faulty session comes back (or fails after its budget), the neighbours answer every
// call and keep every turn, and the main process survives.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { isHostDown, type SessionEvent, type SessionHostInfo, type SessionSystem } from "../src/index.js";
import { faultProviders } from "./fixtures/fault-provider.js";
import { recorder, startSystem } from "./support/sessions.js";

const FAULT_PROVIDERS = {
  module: new URL("./fixtures/fault-provider.ts", import.meta.url),
  export: "faultProviders",
};

// Neighbours keep every turn, so that a lost one shows.
const NEIGHBOUR_LIMITS = { maxHistory: 100_000 };

type Fault = "throw" | "reject_later" | "exit_1" | "loop" | "heap" | "buffers" | "sigkill";

interface Neighbours {
  stop(): Promise<{ calls: number; failures: unknown[] }>;
}

/** Calls every neighbour in turn until stopped; counts calls and keeps every failure. */
function callInLoop(system: SessionSystem, ids: string[]): Neighbours {
  let running = true;
  let calls = 0;
  const failures: unknown[] = [];
  const loop = (async () => {
    while (running) {
      await Promise.all(
        ids.map(async (id) => {
          try {
            const reply = await system.sendMessage(id, `n${calls}`);
            if (!reply.text.startsWith("ok: ")) failures.push(new Error(`odd reply ${reply.text}`));
          } catch (error) {
            failures.push(error);
          }
        }),
      );
      calls++;
      await new Promise((resolve) => setImmediate(resolve));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return { calls, failures };
    },
  };
}

async function historyLengths(system: SessionSystem, ids: string[]): Promise<Map<string, number>> {
  return new Map(
    await Promise.all(ids.map(async (id) => [id, (await system.getHistory(id)).length] as const)),
  );
}

/** Each neighbour holds the turns it had plus a question and an answer per round of calls. */
async function assertNothingLost(
  system: SessionSystem,
  before: Map<string, number>,
  rounds: number,
): Promise<void> {
  for (const [id, length] of before) {
    assert.equal((await system.getHistory(id)).length, length + rounds * 2, `no turn of ${id} was lost`);
  }
}

async function until(test: () => Promise<boolean>, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await test())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Waits for the session's crash to be reported and for it to be active again after recovering. */
async function crashedAndBack(events: ReturnType<typeof recorder>, id: string, ms: number): Promise<void> {
  await events.waitFor((e) => e.type === "session_crashed" && e.sessionId === id, ms);
  await events.waitFor(
    (e) =>
      e.type === "session_status" &&
      e.sessionId === id &&
      e.status === "active" &&
      e.previousStatus === "recovering",
    ms,
  );
}

function crashReason(events: SessionEvent[], id: string): string {
  const crash = events.find((e) => e.type === "session_crashed" && e.sessionId === id);
  return crash && crash.type === "session_crashed" ? JSON.stringify(crash.reason) : "(no crash event)";
}

for (const isolation of ["thread", "process"] as const) {
  describe(`${isolation} isolation contains a session's faults`, () => {
    let system: SessionSystem;
    let neighbours: string[] = [];
    const events = recorder();

    before(async () => {
      system = await startSystem({
        providers: faultProviders(),
        hostProviders: FAULT_PROVIDERS,
        // Under tsx a child process needs about 2 GB of address space (its loader runs a thread).
        // A healthy host on a loaded 2-core machine can miss heartbeats for most of a second: the
        // neighbours get a hang timeout they cannot reach by accident.
        hostLimits: { hangTimeoutMs: 5000, maxHeapMb: 64, maxMemoryMb: 2048 },
        sessionRestartBudget: { maxRestarts: 10, period: 5000 },
      });
      system.subscribeAll(events.listener);
      const inline = await Promise.all(
        Array.from({ length: 20 }, () =>
          system.createSession({ llm: { provider: "fault" }, limits: NEIGHBOUR_LIMITS }),
        ),
      );
      const hosted = await system.createSession({
        isolation,
        llm: { provider: "fault" },
        limits: NEIGHBOUR_LIMITS,
      });
      neighbours = [...inline.map((s) => s.id), hosted.id];
    });

    after(async () => {
      await system.stop();
    });

    /** `fault` is injected by the session's own code, or done to its host from outside. */
    async function contain(
      fault: Fault | ((host: SessionHostInfo) => void),
      how: string,
      limits: Record<string, number> = {},
    ): Promise<void> {
      const victim = await system.createSession({ isolation, llm: { provider: "fault" }, limits });
      await system.sendMessage(victim.id, "before the fault");
      const host = system.sessionHost(victim.id);
      const firstHost = host?.hostId;
      assert.ok(host && firstHost !== system.runtime.node, "the victim runs in a host");
      const before = await historyLengths(system, neighbours);
      const loop = callInLoop(system, neighbours);
      if (typeof fault === "function") fault(host);
      else await system.sendMessage(victim.id, `FAULT:${fault}`).catch(() => {});
      await crashedAndBack(events, victim.id, 20_000);
      const { calls, failures } = await loop.stop();

      assert.match(crashReason(events.events, victim.id), new RegExp(`died: ${how}`));
      assert.notEqual(system.sessionHost(victim.id)?.hostId, firstHost, "the session runs in a new host");
      const history = await system.getHistory(victim.id);
      assert.equal(history[0]?.content, "before the fault", "the victim's conversation survived");
      assert.deepEqual(failures, [], "every neighbour answered every call");
      assert.ok(calls > 0, "the neighbours were called while the fault played out");
      await assertNothingLost(system, before, calls);
      await system.terminateSession(victim.id);
    }

    it("restarts a session whose code throws from a timer, reported as an error", async () => {
      await contain("throw", "error");
    });

    it("restarts a session whose code leaves a rejected promise unhandled, reported as an error", async () => {
      await contain("reject_later", "error");
    });

    it("restarts a session whose code calls process.exit(1), reported as an exit", async () => {
      await contain("exit_1", "exit");
    });

    it("kills a session stuck in an infinite loop when its heartbeats stop, reported as a hang", async () => {
      // Short enough to keep the test quick, long enough for a healthy host on a loaded machine.
      await contain("loop", "hang", { hangTimeoutMs: 2000 });
    });

    it("restarts a session that exhausts its heap, reported as out of memory", async () => {
      // A heap near its limit spends its time in GC and can miss heartbeats: a longer hang timeout.
      await contain("heap", "out_of_memory", { hangTimeoutMs: 10_000 });
    });

    if (isolation === "process") {
      it("stops a session that allocates Buffers without end at the OS memory limit, reported as out of memory", async () => {
        // Zero-filling 2 GB of Buffers keeps the host busy past a short hang timeout.
        await contain("buffers", "out_of_memory", { hangTimeoutMs: 10_000 });
      });

      it("restarts a session whose code SIGKILLs its own process, reported as killed", async () => {
        await contain("sigkill", "killed");
      });

      it("restarts a session whose child process is killed with kill -9 from outside", async () => {
        await contain((host) => {
          assert.notEqual(host.osPid, process.pid);
          process.kill(host.osPid, "SIGKILL");
        }, "killed");
      });
    }
  });
}

describe("hosted sessions", () => {
  it("go to failed when their host dies more often than the restart budget allows, and others keep answering", async () => {
    const system = await startSystem({
      isolation: "thread",
      sessionRestartBudget: { maxRestarts: 2, period: 30_000 },
    });
    try {
      const victim = await system.createSession();
      const neighbour = await system.createSession();
      for (let kill = 0; kill < 10; kill++) {
        const host = system.sessionHost(victim.id)?.hostId;
        if (!host) break;
        system.hosts.kill(host);
        await until(async () => {
          const status = (await system.getSession(victim.id))?.status;
          return (
            status === "failed" || (status === "active" && system.sessionHost(victim.id)?.hostId !== host)
          );
        });
      }
      assert.equal((await system.getSession(victim.id))?.status, "failed");
      assert.match((await system.sendMessage(neighbour.id, "still here")).text, /still here/);
    } finally {
      await system.stop();
    }
  });

  it("report their host kind, host id, OS process and memory", async () => {
    const system = await startSystem({ isolation: "thread" });
    try {
      const session = await system.createSession();
      await until(async () => system.sessionHost(session.id)?.memory !== undefined);
      const host = system.sessionHost(session.id);
      assert.equal(host?.isolation, "thread");
      assert.match(host?.hostId ?? "", /-h\d+$/);
      assert.equal(host?.osPid, process.pid);
      assert.ok((host?.memory?.heapUsed ?? 0) > 0, "memory comes from the host's heartbeats");
      assert.equal(
        system.getOrchestratorPid(session.id)?.node,
        host?.hostId,
        "the agent's pid names the host",
      );
    } finally {
      await system.stop();
    }
  });

  it("take the host limits a session's config gives, its flood budget included", async () => {
    const system = await startSystem({ isolation: "thread" });
    try {
      const session = await system.createSession({ limits: { maxInFlightMb: 3, hangTimeoutMs: 7000 } });
      const limits = system.sessionHost(session.id)?.limits;
      assert.equal(limits?.maxInFlightMb, 3);
      assert.equal(limits?.hangTimeoutMs, 7000);
    } finally {
      await system.stop();
    }
  });

  it("override the system's default isolation per session", async () => {
    const system = await startSystem({ isolation: "thread" });
    try {
      const inline = await system.createSession({ isolation: "inline" });
      const threaded = await system.createSession();
      assert.equal(system.sessionHost(inline.id)?.isolation, "inline");
      assert.equal(system.sessionHost(threaded.id)?.isolation, "thread");
    } finally {
      await system.stop();
    }
  });

  it("reject an unknown isolation with an error naming the field", async () => {
    const system = await startSystem();
    try {
      await assert.rejects(system.createSession({ isolation: "vm" as never }), /isolation/);
      assert.equal((await system.listSessions()).length, 0);
    } finally {
      await system.stop();
    }
  });

  it("leave no worker or child process behind when the system stops", async () => {
    const system = await startSystem({ hostSpares: 1 });
    const a = await system.createSession({ isolation: "process" });
    await system.createSession({ isolation: "thread" });
    const osPid = system.sessionHost(a.id)?.osPid as number;
    assert.ok(system.listHosts().length >= 2);
    await system.stop();
    assert.deepEqual(system.listHosts(), []);
    assert.throws(() => process.kill(osPid, 0), { code: "ESRCH" });
  });

  it("start in a host slower to start than a call's 5 s timeout, within the host's start timeout", async () => {
    const system = await startSystem({
      isolation: "thread",
      hostProviders: {
        module: new URL("./fixtures/slow-providers.ts", import.meta.url),
        export: "slowProviders",
      },
    });
    try {
      const t0 = performance.now();
      const session = await system.createSession();
      // The host needed longer than a call's default timeout (the providers module's 6 s load).
      assert.ok(performance.now() - t0 > 5000);
      assert.equal(session.status, "active");
      assert.match((await system.sendMessage(session.id, "hello")).text, /hello/);
    } finally {
      await system.stop();
    }
  });

  /** Session hosts that take `ms` to start: their providers module loads that long. */
  const slowHosts = (ms: number) => ({
    isolation: "thread" as const,
    hostProviders: {
      module: new URL(`./fixtures/slow-providers.ts?ms=${ms}`, import.meta.url),
      export: "slowProviders",
    },
  });

  it("answer other requests while a session's host is still starting", async () => {
    const system = await startSystem(slowHosts(2000));
    try {
      let created = false;
      const creating = system.createSession().then((session) => {
        created = true;
        return session;
      });
      // Reached the manager: its record is stored before the host is asked for.
      await until(async () => (await system.store.listSessions()).length === 1);
      assert.deepEqual(await system.listSessions(), []);
      const inline = await system.createSession({ isolation: "inline" });
      assert.equal(created, false, "answered while the hosted create was still starting");
      const session = await creating;
      assert.deepEqual((await system.listSessions()).map((s) => s.id).sort(), [inline.id, session.id].sort());
    } finally {
      await system.stop();
    }
  });

  it("start together when created together, not one host after the other", async () => {
    const system = await startSystem(slowHosts(2000));
    try {
      const answered: number[] = [];
      const create = () =>
        system.createSession().then((session) => {
          answered.push(performance.now());
          return session;
        });
      const sessions = await Promise.all([create(), create()]);
      // One host after the other answers the second create a whole load (2 s) after the first;
      // together, within the difference of two boots. A loaded machine slows both alike.
      const apart = Math.abs((answered[1] as number) - (answered[0] as number));
      assert.ok(apart < 1000, `the two creates were answered ${apart} ms apart`);
      for (const session of sessions) assert.match((await system.sendMessage(session.id, "hi")).text, /hi/);
    } finally {
      await system.stop();
    }
  });

  it("leave no orphan host when the manager dies while one starts: the new manager starts the session once", async () => {
    const system = await startSystem(slowHosts(1500));
    try {
      const creating = system.createSession();
      await until(async () => (await system.store.listSessions()).length === 1);
      const [stored] = await system.store.listSessions();
      const id = stored?.id as string;
      system.runtime.exit(system.registry.whereis("session_manager") as never, "kill");
      await assert.rejects(creating);
      // The manager's successor starts it again; the root the first one asked for is stopped.
      await until(async () => (await system.getSession(id))?.status === "active", 20_000);
      await until(
        async () => system.hosts.list().filter((h) => h.label === id && !h.stopping).length === 1,
        20_000,
      );
      await new Promise((resolve) => setTimeout(resolve, 300));
      assert.equal(system.hosts.list().filter((h) => h.label === id).length, 1);
      assert.match((await system.sendMessage(id, "back")).text, /back/);
    } finally {
      await system.stop();
    }
  });

  it("a hosted session's crash reason is a HostDownError when seen through a monitor", async () => {
    const system = await startSystem({ isolation: "thread" });
    try {
      const session = await system.createSession();
      const supervisor = system.findSupervisor(session.id);
      assert.ok(supervisor);
      const exited = system.runtime.whenExited(supervisor);
      system.hosts.kill(system.sessionHost(session.id)?.hostId as string);
      const reason = await exited;
      assert.ok(isHostDown(reason));
      assert.equal(reason.how, "killed");
    } finally {
      await system.stop();
    }
  });
});

// Misuse of the parent by a session's own code: `rogue` (test/fixtures/rogue-provider.ts) floods
// it with events, or blocks its host in a program.
const ROGUE_PROVIDERS = {
  module: new URL("./fixtures/rogue-provider.ts", import.meta.url),
  export: "rogueProviders",
};

// A session whose code sends its parent messages in a loop (a provider streaming deltas for ever,
// each one an event published through the parent) is stopped at its in-flight budget.
for (const isolation of ["thread", "process"] as const) {
  describe(`a ${isolation} session that floods its parent`, { timeout: 120_000 }, () => {
    it("is stopped as a flood and restarted, while the parent's memory stays bounded and neighbours answer", async (t) => {
      const system = await startSystem({
        providers: (await import("./fixtures/rogue-provider.js")).rogueProviders(),
        hostProviders: ROGUE_PROVIDERS,
        hostLimits: { hangTimeoutMs: 5000, maxMemoryMb: 2048 },
        sessionRestartBudget: { maxRestarts: 10, period: 5000 },
      });
      t.after(() => system.stop());
      const events = recorder();
      // Every delta of the flood is an event too: keep only the ones the test waits for.
      system.subscribeAll((event) => {
        if (event.type === "session_crashed" || event.type === "session_status") events.listener(event);
      });
      const config = { llm: { provider: "rogue" }, limits: NEIGHBOUR_LIMITS };
      const inline = await Promise.all(Array.from({ length: 5 }, () => system.createSession(config)));
      const hosted = await system.createSession({ ...config, isolation });
      const neighbours = [...inline.map((s) => s.id), hosted.id];
      const victim = await system.createSession({ ...config, isolation });
      await system.sendMessage(victim.id, "before the flood");
      const firstHost = system.sessionHost(victim.id)?.hostId;

      const rssBefore = process.memoryUsage().rss;
      let rssPeak = rssBefore;
      const sampler = setInterval(() => {
        rssPeak = Math.max(rssPeak, process.memoryUsage().rss);
        // Without a bound this would take the machine down: stop the victim, and fail below.
        if (rssPeak - rssBefore > 1200 * 1024 * 1024 && firstHost) system.hosts.kill(firstHost);
      }, 10);
      t.after(() => clearInterval(sampler));
      const loop = callInLoop(system, neighbours);
      void system.sendMessage(victim.id, "FLOOD").catch(() => {});
      await crashedAndBack(events, victim.id, 30_000);
      const { calls, failures } = await loop.stop();
      clearInterval(sampler);

      assert.match(crashReason(events.events, victim.id), /died: flood/);
      const growthMb = (rssPeak - rssBefore) / (1024 * 1024);
      t.diagnostic(`the parent grew by ${growthMb.toFixed(0)} MB during the flood`);
      assert.ok(growthMb < 600, `the parent grew by ${growthMb.toFixed(0)} MB`);
      assert.deepEqual(failures, [], "every neighbour answered every call");
      assert.ok(calls > 0, "the neighbours were called during the flood");
      assert.notEqual(system.sessionHost(victim.id)?.hostId, firstHost, "the session runs in a new host");
      assert.equal((await system.getHistory(victim.id))[0]?.content, "before the flood");
      assert.match((await system.sendMessage(victim.id, "after")).text, /^ok: after/);
    });
  });
}

// A session blocked in `execSync("sleep …")` is restarted as hung; the program dies with its
// host, and nothing the session started outlives `system.stop()`.
for (const isolation of ["thread", "process"] as const) {
  describe(`a ${isolation} session blocked in a program`, { timeout: 120_000 }, () => {
    it("is restarted as hung, and its program is gone when the system has stopped", async (t) => {
      const { mkdtempSync, readFileSync, rmSync } = await import("node:fs");
      const { tmpdir } = await import("node:os");
      const { join } = await import("node:path");
      const dir = mkdtempSync(join(tmpdir(), "sessionvisor-exec-"));
      const pidFile = join(dir, "sleep.pid");
      let sleepPid: number | undefined;
      t.after(() => {
        rmSync(dir, { recursive: true, force: true });
        try {
          if (sleepPid) process.kill(sleepPid, "SIGKILL");
        } catch {}
      });
      const system = await startSystem({
        providers: (await import("./fixtures/rogue-provider.js")).rogueProviders(),
        hostProviders: ROGUE_PROVIDERS,
        hostLimits: { hangTimeoutMs: 5000, maxMemoryMb: 2048 },
      });
      let stopped = false;
      t.after(async () => {
        if (!stopped) await system.stop();
      });
      const events = recorder();
      system.subscribeAll(events.listener);
      // The victim is meant to hang: a short hang timeout of its own, yet long enough that a
      // loaded machine (CI runs test files side by side) does not take it for hung too early.
      const victim = await system.createSession({
        isolation,
        llm: { provider: "rogue" },
        limits: { hangTimeoutMs: 2000 },
      });
      // The host blocks 5 ms after the reply starts; on a loaded machine the turn may not have
      // reached the caller by then, so the reply is not what this test waits for.
      void system.sendMessage(victim.id, `EXEC_SLEEP:${pidFile}`).catch(() => {});
      await until(async () => readFileSync(pidFile, { flag: "a+" }).toString().trim().length > 0);
      sleepPid = Number(readFileSync(pidFile, "utf8").trim());
      await events.waitFor((e) => e.type === "session_crashed" && e.sessionId === victim.id, 20_000);
      assert.match(crashReason(events.events, victim.id), /died: hang/);
      await system.stop();
      stopped = true;
      await until(async () => {
        try {
          process.kill(sleepPid as number, 0);
          return false;
        } catch (error) {
          return (error as NodeJS.ErrnoException).code === "ESRCH";
        }
      }, 2000);
    });
  });
}
