import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it } from "node:test";
import { captureLogs } from "../../test/support/logs.js";
import { Counter, Echo } from "../../test/support/servers.js";
import { RuntimeStoppedError } from "./errors.js";
import { GenServer } from "./gen-server.js";
import { silentLogger } from "./logger.js";
import { Pid } from "./pid.js";
import { type NameService, pidBaseAt, Runtime } from "./runtime.js";

let rt: Runtime;
beforeEach(() => {
  rt = new Runtime({ logger: silentLogger() });
});
afterEach(async () => {
  await rt.shutdown(100);
});

/** A stand-in name service so that the runtime layer can be tested without the registry. */
function namesFor(entries: Map<string, Pid>): NameService {
  return {
    whereis: (name) => entries.get(name),
    namesOf: (pid) => [...entries].filter(([, p]) => p.equals(pid)).map(([name]) => name),
  };
}

describe("Runtime", () => {
  it("keeps runtimes apart: a pid of one is unknown to another", async () => {
    const other = new Runtime({ logger: silentLogger() });
    const pid = await rt.spawn(new Counter());
    assert.equal(other.isAlive(pid), false);
    assert.equal(other.processCount, 0);
    await other.shutdown(10);
  });

  it("gives every pid the runtime's node name", async () => {
    const named = new Runtime({ node: "alpha", logger: silentLogger() });
    const pid = await named.spawn(new Counter());
    assert.equal(pid.node, "alpha");
    await named.shutdown(10);
  });

  it("rejects a node name that could not round-trip in a pid", () => {
    assert.throws(() => new Runtime({ node: "bad name" }), /invalid node/);
  });

  it("resolves registered names for call, cast, send and exit", async () => {
    const entries = new Map<string, Pid>();
    rt.useNames(namesFor(entries));
    const server = new Echo();
    const pid = await rt.spawn(server);
    entries.set("echo:1", pid);
    assert.equal(await rt.call("echo:1", { op: "echo", value: "by name" }), "by name");
    rt.cast("echo:1", { op: "note", value: 1 });
    rt.send("echo:1", "info");
    await rt.call(pid, { op: "echo", value: null });
    assert.deepEqual([server.notes, server.infos], [[1], ["info"]]);
    rt.exit("echo:1", "kill");
    assert.equal(rt.isAlive(pid), false);
  });

  it("reports status, mailbox length, messages handled, links and monitors", async () => {
    const pid = await rt.spawn(new Echo());
    const other = await rt.spawn(new Counter(), { link: pid });
    rt.monitor(other, pid);
    await rt.call(pid, { op: "echo", value: 1 });
    const sleeping = rt.call(pid, { op: "sleep", ms: 20 });
    rt.cast(pid, { op: "note", value: 1 });
    rt.cast(pid, { op: "note", value: 2 });
    await new Promise((resolve) => setTimeout(resolve, 5));
    const info = rt.info(pid);
    assert.ok(info);
    assert.equal(info.status, "running");
    assert.equal(info.busy, true);
    assert.equal(info.mailboxLength, 2);
    assert.equal(info.messagesHandled, 1);
    assert.deepEqual(info.links.map(String), [String(other)]);
    assert.deepEqual(info.monitoredBy.map(String), [String(other)]);
    assert.equal(rt.info(other)?.monitors, 1);
    await sleeping;
  });

  it("returns no info for a dead process", async () => {
    const pid = await rt.spawn(new Counter());
    rt.exit(pid, "kill");
    assert.equal(rt.info(pid), undefined);
  });

  it("drops what a process sends after it was killed mid-handler", async () => {
    const sink = new Echo();
    const sinkPid = await rt.spawn(sink);
    class Late extends GenServer<"go", string> {
      override async handleCall(): Promise<string> {
        await new Promise((resolve) => setTimeout(resolve, 20));
        this.send(sinkPid, "from a zombie");
        return "done";
      }
    }
    const pid = await rt.spawn(new Late());
    const pending = rt.call(pid, "go");
    pending.catch(() => {});
    await new Promise((resolve) => setTimeout(resolve, 2));
    rt.exit(pid, "kill");
    await new Promise((resolve) => setTimeout(resolve, 40));
    await rt.call(sinkPid, { op: "echo", value: null });
    assert.deepEqual(sink.infos, []);
  });

  it("keeps timers running while a process floods itself with messages", async () => {
    class Flooder extends GenServer<never, never, "spin"> {
      spins = 0;
      override handleCast(): void {
        this.spins++;
        this.cast(this.self, "spin");
      }
    }
    const flooder = new Flooder();
    const pid = await rt.spawn(flooder);
    rt.cast(pid, "spin");
    const started = Date.now();
    await new Promise((resolve) => setTimeout(resolve, 20));
    const waited = Date.now() - started;
    rt.exit(pid, "kill");
    assert.ok(flooder.spins > 1000, `the flooder ran (${flooder.spins} spins)`);
    assert.ok(waited < 1000, `a 20 ms timer fired after ${waited} ms`);
  });

  it("shuts down every process and then refuses new ones", async () => {
    await rt.spawn(new Counter());
    await rt.spawn(new Counter());
    await rt.shutdown(100);
    assert.equal(rt.processCount, 0);
    await assert.rejects(rt.spawn(new Counter()), RuntimeStoppedError);
  });

  it("kills a process that does not stop within the shutdown timeout", async () => {
    class Stubborn extends GenServer {
      override terminate(): Promise<void> {
        return new Promise(() => {});
      }
    }
    const pid = await rt.spawn(new Stubborn(), { trapExit: true });
    const exited = rt.whenExited(pid);
    await rt.shutdown(20);
    assert.equal(await exited, "killed");
  });
});

describe("crash reports", () => {
  it("logs one structured record naming the process, its names, its supervisor and the reason", async () => {
    const logs = captureLogs();
    const local = new Runtime({ logger: logs.logger });
    const entries = new Map<string, Pid>();
    local.useNames(namesFor(entries));
    const parent = await local.spawn(new Echo(), { trapExit: true });
    const child = await local.spawn(new Echo(), { link: parent });
    entries.set("worker:7", child);
    entries.set("sup:1", parent);
    await assert.rejects(local.call(child, { op: "crash", message: "kaput" }));
    const reports = logs.events("crash_report");
    assert.equal(reports.length, 1);
    const report = reports[0] ?? {};
    assert.equal(report.process, child.toString());
    assert.deepEqual(report.names, ["worker:7"]);
    assert.equal(report.supervisor, parent.toString());
    assert.deepEqual(report.supervisorNames, ["sup:1"]);
    assert.equal((report.reason as { message: string }).message, "kaput");
    await local.shutdown(10);
  });

  it("stays quiet for normal and shutdown exits", async () => {
    const logs = captureLogs();
    const local = new Runtime({ logger: logs.logger });
    const a = await local.spawn(new Echo());
    const b = await local.spawn(new Echo());
    await local.call(a, { op: "stop", reason: "normal" });
    local.exit(b, "shutdown");
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(logs.events("crash_report"), []);
    await local.shutdown(10);
  });
});

describe("pid numbering (firstPid)", () => {
  it("numbers the first process spawned firstPid, and the next ones up from it", async () => {
    const numbered = new Runtime({ logger: silentLogger(), firstPid: 5_000 });
    try {
      const first = await numbered.spawn(new Counter());
      const second = await numbered.spawn(new Counter());
      assert.deepEqual([first.id, second.id], [5_000, 5_001]);
      assert.equal(await numbered.call(first, "inc"), 1);
    } finally {
      await numbered.shutdown(100);
    }
  });

  it("refuses a firstPid that is not a whole number from 1 to 9 × 10^14", () => {
    for (const firstPid of [0, -1, 1.5, 9e14 + 1, Number.NaN])
      assert.throws(() => new Runtime({ firstPid }), /firstPid/);
  });

  it("gives pidBaseAt a thousand numbers per millisecond, usable as firstPid until 2050", async () => {
    const at = Date.UTC(2026, 11, 2);
    assert.equal(pidBaseAt(at + 1) - pidBaseAt(at), 1000);
    assert.equal(pidBaseAt(0), 1);
    const late = new Runtime({ logger: silentLogger(), firstPid: pidBaseAt(Date.UTC(2050, 0, 1)) });
    try {
      const pid = await late.spawn(new Counter());
      assert.equal(Pid.parse(pid.toString()).id, pid.id);
    } finally {
      await late.shutdown(100);
    }
  });
});
