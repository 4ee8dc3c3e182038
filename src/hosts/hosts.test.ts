// The hosts layer on its own: a probe server in a worker thread and in a child process,
// reached from the main runtime exactly as a local process would be.
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { probeSpec } from "../../test/support/hosts.js";
import { Registry } from "../registry/index.js";
import { CallExitError, GenServer, type Pid, Runtime, silentLogger } from "../runtime/index.js";
import { DynamicSupervisor, type SupervisorEvent } from "../supervision/index.js";
import { UnsendableMessageError } from "./errors.js";
import { isHostDown } from "./host-down.js";
import { hostedChild } from "./hosted-child.js";
import { Hosts } from "./hosts.js";
import { descendantsOf } from "./reap.js";

const PROBE = new URL("../../test/fixtures/hosted-probe.ts", import.meta.url);
const PRELOAD_MARKER = new URL("../../test/fixtures/preload-marker.ts", import.meta.url);
const HUNG_SOON = { hangTimeoutMs: 1000 };

/** Collects what it is sent, for the tests of send and links. */
class Inbox extends GenServer<"read", unknown[], never, unknown> {
  private readonly got: unknown[] = [];
  override init(): void {
    this.trapExits();
  }
  override handleCall(): unknown[] {
    return this.got;
  }
  override handleInfo(message: unknown): void {
    this.got.push(message);
  }
}

/** A silent logger (hosts too get its level) that keeps what is logged at warn level. */
function warningsInto(warnings: Record<string, unknown>[]): ReturnType<typeof silentLogger> {
  const logger = silentLogger();
  logger.warn = ((record: Record<string, unknown>) => void warnings.push(record)) as typeof logger.warn;
  return logger;
}

async function eventually<T>(read: () => Promise<T> | T, test: (value: T) => boolean, ms = 5000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await read();
    if (test(value)) return value;
    if (Date.now() > deadline) throw new Error(`not met within ${ms} ms: ${JSON.stringify(value)}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

for (const kind of ["thread", "process"] as const) {
  describe(`a ${kind} host`, { timeout: 120_000 }, () => {
    let runtime: Runtime;
    let registry: Registry;
    let hosts: Hosts;
    let supervisor: Pid;
    const events: SupervisorEvent[] = [];
    let probes = 0;
    /** What the parent logged at warn level (its logger is otherwise silent). */
    const warnings: Record<string, unknown>[] = [];
    /** What the "tally" service was notified of, by subtree. */
    const tallies = new Map<string, unknown[]>();

    before(async () => {
      const logger = warningsInto(warnings);
      runtime = new Runtime({ logger });
      registry = new Registry(runtime, { keys: "unique", names: true });
      // Healthy hosts get a hang timeout a loaded machine cannot trip; hosts meant to hang, less.
      hosts = new Hosts(runtime, registry, { limits: { hangTimeoutMs: 5000 } });
      hosts.provide("clock", (caller) => ({ hello: (who: string) => `hello ${who} from ${caller.label}` }));
      hosts.provide("tally", (caller) => {
        const seen: unknown[] = [];
        tallies.set(caller.label, seen);
        return {
          add: (value: unknown) => void seen.push(value),
          read: () => seen,
          fail: () => {
            throw new Error("the tally refuses");
          },
        };
      });
      supervisor = await DynamicSupervisor.start(runtime, {
        maxRestarts: 20,
        period: 5000,
        onEvent: (event) => events.push(event),
      });
    });

    after(async () => {
      await runtime.shutdown();
      await hosts.stop();
    });

    async function startProbe(
      restart: "permanent" | "temporary" = "temporary",
      limits?: { hangTimeoutMs: number },
    ): Promise<{ pid: Pid; name: string }> {
      const name = `probe_${kind}_${++probes}`;
      const spec = probeSpec(hosts, kind, name, restart, limits);
      const pid = (await DynamicSupervisor.startChild(runtime, supervisor, spec)) as Pid;
      return { pid, name };
    }

    it("runs the root in the host: its pid names the host's node", async () => {
      const { pid } = await startProbe();
      const where = (await runtime.call(pid, { op: "where" })) as { isolation: string; hostId: string };
      assert.equal(where.isolation, kind);
      assert.equal(where.hostId, pid.node);
      assert.notEqual(pid.node, runtime.node);
      assert.equal(hosts.hostOf(pid)?.kind, kind);
    });

    it("says it loaded the library from source under tsx, where there is no bundle to cache", async () => {
      const { pid } = await startProbe();
      assert.equal(hosts.list().find((host) => host.id === pid.node)?.code, "source");
    });

    it("fails the start with the host's answer when the root's module has no such export, and stops the host", async () => {
      const hostsBefore = hosts.list().length;
      const spec = hostedChild(hosts, {
        id: `missing_export_${kind}`,
        isolation: kind,
        module: PROBE,
        export: "noSuchFactory",
        args: {},
        type: "worker",
        restart: "temporary",
      });
      await assert.rejects(
        DynamicSupervisor.startChild(runtime, supervisor, spec),
        /no function export "noSuchFactory"/,
      );
      await eventually(
        () => hosts.list().length,
        (count) => count === hostsBefore,
      );
    });

    it("answers calls by pid and by a name registered inside the host", async () => {
      const { pid, name } = await startProbe();
      assert.equal(await runtime.call(pid, { op: "ping" }), "pong");
      assert.equal(await runtime.call(name, { op: "ping" }), "pong");
      assert.ok(registry.whereis(name)?.equals(pid), "the host's key is mirrored here");
    });

    it("delivers casts and sends in order", async () => {
      const { pid } = await startProbe();
      runtime.cast(pid, { op: "note", text: "one" });
      runtime.cast(pid, { op: "note", text: "two" });
      const where = (await runtime.call(pid, { op: "where" })) as { notes: unknown[] };
      assert.deepEqual(where.notes, ["one", "two"]);
    });

    it("lets the hosted process call a process of the main runtime by name", async () => {
      const { pid } = await startProbe();
      const inbox = await runtime.spawn(new Inbox());
      registry.register(`inbox_${kind}`, inbox);
      assert.deepEqual(await runtime.call(pid, { op: "call", target: `inbox_${kind}`, message: "read" }), []);
    });

    if (kind === "thread") {
      it("delivers every message a host sent just before it ended by itself, in order", async () => {
        const { pid } = await startProbe();
        const inbox = await runtime.spawn(new Inbox());
        await runtime.call(pid, { op: "send_then_exit", to: inbox, count: 300 });
        const got = await eventually(
          () => runtime.call(inbox, "read") as Promise<{ n: number }[]>,
          (messages) => messages.length >= 300,
        );
        assert.deepEqual(
          got.map((m) => m.n),
          Array.from({ length: 300 }, (_, n) => n),
        );
      });
    }

    it("reaches a service the parent provides, told which subtree is asking", async () => {
      const { pid, name } = await startProbe();
      assert.equal(
        await runtime.call(pid, { op: "service", name: "clock", method: "hello", args: ["ann"] }),
        `hello ann from ${name}`,
      );
    });

    it("notifies a service: every call arrives, in order, before a request sent after them", async () => {
      const { pid, name } = await startProbe();
      const calls = Array.from({ length: 50 }, (_, n) => [n]);
      assert.equal(await runtime.call(pid, { op: "notify", name: "tally", method: "add", calls }), 50);
      const read = await runtime.call(pid, { op: "service", name: "tally", method: "read", args: [] });
      assert.deepEqual(
        read,
        calls.map(([n]) => n),
      );
      assert.equal(tallies.get(name)?.length, 50);
    });

    it("logs a notify that fails in the parent, naming the service, method and subtree, and the host goes on", async () => {
      const { pid, name } = await startProbe();
      await runtime.call(pid, { op: "notify", name: "tally", method: "fail", calls: [[]] });
      const logged = await eventually(
        () => warnings.filter((w) => w.event === "host_notify_failed" && w.label === name),
        (found) => found.length > 0,
      );
      assert.deepEqual(
        [logged[0]?.service, logged[0]?.method, (logged[0]?.error as Error | undefined)?.message],
        ["tally", "fail", "the tally refuses"],
      );
      assert.equal(await runtime.call(pid, { op: "ping" }), "pong");
    });

    it("logs a notify to a method the service does not have", async () => {
      const { pid, name } = await startProbe();
      await runtime.call(pid, { op: "notify", name: "tally", method: "nope", calls: [[1]] });
      const logged = await eventually(
        () => warnings.filter((w) => w.event === "host_notify_failed" && w.label === name),
        (found) => found.length > 0,
      );
      assert.match(String((logged[0]?.error as Error | undefined)?.message), /has no method "nope"/);
    });

    it("throws UnsendableMessageError at the notify whose arguments cannot cross", async () => {
      const { pid } = await startProbe();
      const thrown = (await runtime.call(pid, { op: "notify_unsendable", name: "tally", method: "add" })) as {
        name: string;
        message: string;
      };
      assert.equal(thrown.name, "UnsendableMessageError");
      assert.match(thrown.message, /tally\.add arguments\[0\] is a function/);
    });

    it("refuses a message with a function at once, naming where it was", async () => {
      const { pid } = await startProbe();
      await assert.rejects(
        runtime.call(pid, { op: "echo", value: { nested: () => 1 } }),
        (error: unknown) => {
          assert.ok(error instanceof UnsendableMessageError);
          assert.match(error.message, /message\.value\.nested is a function/);
          return true;
        },
      );
    });

    it("fails a call whose reply cannot cross, instead of hanging", async () => {
      const { pid } = await startProbe();
      await assert.rejects(runtime.call(pid, { op: "reply_function" }), UnsendableMessageError);
    });

    it("stops a hosted process with an exit signal and reports its reason to a monitor", async () => {
      const { pid } = await startProbe();
      const exited = runtime.whenExited(pid);
      runtime.exit(pid, "kill");
      assert.equal(await exited, "killed");
    });

    it("fires links across the boundary when the host dies, with how it died", async () => {
      const { pid } = await startProbe();
      const inbox = await runtime.spawn(new Inbox());
      runtime.link(inbox, pid);
      hosts.kill(pid.node);
      const got = await eventually(
        () => runtime.call(inbox, "read"),
        (messages) => messages.length > 0,
      );
      const exit = got[0] as { type: string; from: Pid; reason: unknown };
      assert.equal(exit.type, "EXIT");
      assert.ok(exit.from.equals(pid));
      assert.ok(isHostDown(exit.reason) && exit.reason.how === "killed");
    });

    it("fails calls in flight when the host dies, with the host's death as the reason", async () => {
      const { pid } = await startProbe("temporary", HUNG_SOON);
      await runtime.call(pid, { op: "fault", fault: "loop" });
      await new Promise((resolve) => setTimeout(resolve, 50));
      await assert.rejects(runtime.call(pid, { op: "ping" }, 10_000), (error: unknown) => {
        assert.ok(error instanceof CallExitError);
        assert.ok(isHostDown(error.reason) && error.reason.how === "hang");
        return true;
      });
    });

    it("drops the host's registry keys when it dies", async () => {
      const { pid, name } = await startProbe();
      const exited = runtime.whenExited(pid);
      hosts.kill(pid.node);
      await exited;
      assert.equal(registry.whereis(name), undefined);
      assert.equal(hosts.hostOf(pid), undefined);
    });

    it("restarts a permanent root once per death, though a worker reports both error and exit", async () => {
      const { pid, name } = await startProbe("permanent");
      const restartsBefore = events.filter((e) => e.type === "child_restarted" && e.childId === name).length;
      await runtime.call(pid, { op: "fault", fault: "throw" });
      await eventually(
        () => registry.whereis(name),
        (now) => now !== undefined && !now.equals(pid),
      );
      await new Promise((resolve) => setTimeout(resolve, 300));
      const restarts = events.filter((e) => e.type === "child_restarted" && e.childId === name).length;
      assert.equal(restarts - restartsBefore, 1);
      const exit = events.find((e) => e.type === "child_exited" && e.childId === name);
      assert.ok(exit?.type === "child_exited" && isHostDown(exit.reason) && exit.reason.how === "error");
    });

    it("names the error's class and message when the host dies of an uncaught error", async () => {
      const { pid } = await startProbe();
      const exited = runtime.whenExited(pid);
      await runtime.call(pid, { op: "fault", fault: "throw_typed" });
      const reason = await exited;
      assert.ok(isHostDown(reason), `a host death, not ${String(reason)}`);
      assert.equal(reason.how, "error");
      assert.equal(reason.detail, "ProbeFault: a typed boom from a timer");
      assert.match(reason.message, /died: error \(.*ProbeFault: a typed boom from a timer\)$/);
    });

    it("names the rejected error when the host dies of an unhandled rejection", async () => {
      const { pid } = await startProbe();
      const exited = runtime.whenExited(pid);
      await runtime.call(pid, { op: "fault", fault: "reject_later" });
      const reason = await exited;
      assert.ok(isHostDown(reason) && reason.how === "error", String(reason));
      assert.equal(reason.detail, "Error: a floating rejection");
    });

    it("keeps the main thread's timers running while the host loops forever", async () => {
      const { pid } = await startProbe("temporary", HUNG_SOON);
      const exited = runtime.whenExited(pid);
      await runtime.call(pid, { op: "fault", fault: "loop" });
      let ticks = 0;
      const timer = setInterval(() => ticks++, 10);
      const reason = await exited;
      clearInterval(timer);
      assert.ok(isHostDown(reason) && reason.how === "hang");
      assert.ok(ticks >= 10, `only ${ticks} ticks of a 10 ms timer during a 1000 ms hang`);
    });
  });
}

describe("a process host aborted", { timeout: 60_000 }, () => {
  it("by std::bad_alloc is reported as out of memory, not as a signal", async (t) => {
    const runtime = new Runtime({ logger: silentLogger() });
    const registry = new Registry(runtime, { keys: "unique", names: true });
    const hosts = new Hosts(runtime, registry, { limits: { hangTimeoutMs: 3000 } });
    t.after(async () => {
      await runtime.shutdown();
      await hosts.stop();
    });
    const supervisor = await DynamicSupervisor.start(runtime, { maxRestarts: 3, period: 5000 });
    const spec = hostedChild(hosts, {
      id: "aborted",
      isolation: "process",
      module: PROBE,
      args: { name: "aborted_probe" },
      type: "worker",
      restart: "temporary",
    });
    const pid = (await DynamicSupervisor.startChild(runtime, supervisor, spec)) as Pid;
    const exited = runtime.whenExited(pid);
    await runtime.call(pid, { op: "fault", fault: "abort_bad_alloc" });
    const reason = await exited;
    assert.ok(isHostDown(reason), String(reason));
    assert.equal(reason.how, "out_of_memory");
    assert.equal(reason.signal, "SIGABRT");
  });
});

describe("hosts", () => {
  it("reject limits out of range, naming the field", () => {
    const runtime = new Runtime({ logger: silentLogger() });
    const registry = new Registry(runtime, { keys: "unique", names: true });
    assert.throws(() => new Hosts(runtime, registry, { limits: { maxMemoryMb: 64 } }), /limits\.maxMemoryMb/);
  });

  it("reject an unknown isolation in a child spec", () => {
    const runtime = new Runtime({ logger: silentLogger() });
    const hosts = new Hosts(runtime, new Registry(runtime, { keys: "unique", names: true }));
    assert.throws(
      () => hostedChild(hosts, { id: "x", isolation: "vm" as never, module: PROBE }),
      /isolation/,
    );
  });

  it("start a spare that imports the modules a root names to preload, before it is ready", async (t) => {
    const dir = mkdtempSync(join(tmpdir(), "sessionvisor-preload-"));
    const mark = join(dir, "mark");
    process.env.SESSIONVISOR_PRELOAD_MARK = mark;
    const runtime = new Runtime({ logger: silentLogger() });
    const registry = new Registry(runtime, { keys: "unique", names: true });
    const hosts = new Hosts(runtime, registry, { spares: 1, limits: { hangTimeoutMs: 5000 } });
    t.after(async () => {
      delete process.env.SESSIONVISOR_PRELOAD_MARK;
      await runtime.shutdown();
      await hosts.stop();
      rmSync(dir, { recursive: true, force: true });
    });
    const supervisor = await DynamicSupervisor.start(runtime);
    const spec = hostedChild(hosts, {
      id: "preloading",
      isolation: "thread",
      module: PROBE,
      args: { name: "preloading_probe" },
      type: "worker",
      preload: [PRELOAD_MARKER],
    });
    // The first root starts in a new host, which imports only the root's module.
    await DynamicSupervisor.startChild(runtime, supervisor, spec);
    assert.equal(existsSync(mark), false);
    // The spare started after it imports both, before it is listed as ready.
    await eventually(
      () => hosts.list().filter((host) => host.label === undefined && !host.stopping).length,
      (spares) => spares === 1,
      20_000,
    );
    assert.equal(readFileSync(mark, "utf8").trim().split("\n").length, 1);
  });

  it("reject a preload that is not a list of modules", () => {
    const runtime = new Runtime({ logger: silentLogger() });
    const hosts = new Hosts(runtime, new Registry(runtime, { keys: "unique", names: true }));
    assert.throws(
      () => hostedChild(hosts, { id: "x", isolation: "thread", module: PROBE, preload: "x" as never }),
      /preload/,
    );
  });

  it("answer a start from a process spare before forking the spare's replacement", async (t) => {
    const runtime = new Runtime({ logger: silentLogger() });
    const registry = new Registry(runtime, { keys: "unique", names: true });
    const hosts = new Hosts(runtime, registry, { spares: 1, limits: { hangTimeoutMs: 5000 } });
    t.after(async () => {
      await runtime.shutdown();
      await hosts.stop();
    });
    const owner = await runtime.spawn(new Inbox());
    const spawnProbe = (name: string) =>
      hosts.spawnRoot({
        kind: "process",
        label: name,
        module: PROBE.href,
        export: "default",
        args: { name },
        parent: owner,
        trapExit: false,
      });
    await spawnProbe("first_probe");
    const spareUp = () => hosts.list().filter((host) => host.label === undefined && !host.stopping).length;
    await eventually(spareUp, (n) => n === 1, 30_000);
    const processesBefore = descendantsOf(process.pid).length;
    await spawnProbe("from_the_spare");
    // Forking holds this thread for milliseconds: the start that took the spare is answered
    // first, and its replacement is started in a later turn.
    assert.equal(descendantsOf(process.pid).length, processesBefore, "no replacement forked yet");
    await eventually(spareUp, (n) => n === 1, 30_000);
  });

  it("runs the same child spec inline, in this runtime", async () => {
    const runtime = new Runtime({ logger: silentLogger() });
    const registry = new Registry(runtime, { keys: "unique", names: true });
    const hosts = new Hosts(runtime, registry);
    const supervisor = await DynamicSupervisor.start(runtime);
    const spec = hostedChild(hosts, {
      id: "inline",
      isolation: "inline",
      module: PROBE,
      args: { name: "inline_probe" },
      type: "worker",
    });
    const pid = (await DynamicSupervisor.startChild(runtime, supervisor, spec)) as Pid;
    assert.equal(pid.node, runtime.node);
    assert.equal(await runtime.call("inline_probe", { op: "ping" }), "pong");
    await runtime.shutdown();
  });
});

describe("an inline context's notify", () => {
  function inlineHosts() {
    const warnings: Record<string, unknown>[] = [];
    const runtime = new Runtime({ logger: warningsInto(warnings) });
    const hosts = new Hosts(runtime, new Registry(runtime, { keys: "unique", names: true }));
    const seen: unknown[] = [];
    hosts.provide("tally", () => ({
      add: (value: unknown) => void seen.push(value),
      fail: () => {
        throw new Error("refused at once");
      },
      failLater: async () => {
        throw new Error("refused later");
      },
    }));
    return { runtime, hosts, seen, warnings };
  }

  it("calls the service's method at once, with the arguments as given", async () => {
    const { runtime, hosts, seen } = inlineHosts();
    const value = { shared: true };
    hosts.inlineContext("s1").notify<{ add(value: unknown): void }>("tally").add(value);
    assert.equal(seen[0], value);
    await runtime.shutdown();
  });

  it("logs a method that throws or rejects, naming the service, method and subtree, and throws nothing", async () => {
    const { runtime, hosts, warnings } = inlineHosts();
    const tally = hosts.inlineContext("s2").notify<{ fail(): void; failLater(): void }>("tally");
    tally.fail();
    tally.failLater();
    const logged = await eventually(
      () => warnings.filter((w) => w.event === "host_notify_failed"),
      (found) => found.length === 2,
    );
    assert.deepEqual(
      logged.map((w) => [w.label, w.service, w.method, (w.error as Error | undefined)?.message]),
      [
        ["s2", "tally", "fail", "refused at once"],
        ["s2", "tally", "failLater", "refused later"],
      ],
    );
    await runtime.shutdown();
  });

  it("refuses a service that is not provided, as service() does", async () => {
    const { runtime, hosts } = inlineHosts();
    assert.throws(() => hosts.inlineContext("s3").notify("nowhere"), /no service "nowhere" is provided/);
    await runtime.shutdown();
  });
});
