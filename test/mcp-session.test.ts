// A session's MCP servers, through the public API: they run as children of the session's
// supervisor (after its context manager, before its orchestrator), a server that will not start
// fails createSession naming it and leaves nothing behind, a killed server is restarted under
// its own budget without touching the session's agents, one past its budget is given up while
// the session stays, and terminating the session (inline or in a thread host) ends them.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import {
  type McpServerConfigInput,
  McpServerStartError,
  SessionStartError,
  type SessionSystem,
  Supervisor,
} from "../src/index.js";
import { faultProviders } from "./fixtures/fault-provider.js";
import { processGone } from "./support/project-fixture.js";
import { systemsForTests } from "./support/sessions.js";

const SERVER = fileURLToPath(new URL("./fixtures/mcp-pid-server.mjs", import.meta.url));
const TEST_MS = 60_000;

const start = systemsForTests();

// Every server process a test learns of is killed in teardown (its group, as the server runs in
// its own), even when the test failed before its session was terminated.
const dirs: string[] = [];
const serverPids = new Set<number>();

afterEach(() => {
  for (const pid of serverPids) {
    try {
      process.kill(-pid, "SIGKILL");
    } catch {
      // gone
    }
  }
  serverPids.clear();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A server config whose processes append their pids to a file of their own; `pids()` reads it. */
function server(name: string, extra: Partial<McpServerConfigInput> = {}) {
  const dir = mkdtempSync(join(tmpdir(), "mcp-session-"));
  dirs.push(dir);
  const file = join(dir, "pids");
  const config: McpServerConfigInput = {
    name,
    command: process.execPath,
    args: [SERVER],
    env: { MCP_PID_FILE: file },
    ...extra,
  };
  const pids = (): number[] => {
    let text = "";
    try {
      text = readFileSync(file, "utf8");
    } catch {
      return [];
    }
    const found = text.split("\n").filter(Boolean).map(Number);
    for (const pid of found) serverPids.add(pid);
    return found;
  };
  return { config, pids };
}

async function until(check: () => boolean | Promise<boolean>, what: string, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

async function childrenOf(system: SessionSystem, id: string) {
  const supervisor = system.findSupervisor(id);
  assert.ok(supervisor, "the session's supervisor is registered");
  return Supervisor.whichChildren(system.runtime, supervisor);
}

/** The server's process (a runtime pid) under its small supervisor `mcp:<name>`, if it runs. */
async function serverProcess(system: SessionSystem, id: string, name: string) {
  const small = (await childrenOf(system, id)).find((child) => child.id === `mcp:${name}`);
  if (small?.pid === undefined) return undefined;
  const [child] = await Supervisor.whichChildren(system.runtime, small.pid);
  return child?.status === "running" ? child.pid : undefined;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return !processGone(pid);
  } catch {
    return false;
  }
}

describe("a session's MCP servers", { timeout: TEST_MS }, () => {
  it("run as children of the session's supervisor, between its context manager and its orchestrator", async () => {
    const system = await start();
    const echo = server("echo");
    const other = server("other");
    const session = await system.createSession({ mcpServers: [echo.config, other.config] });
    assert.equal(session.status, "active");
    const children = await childrenOf(system, session.id);
    assert.deepEqual(
      children.map((child) => [child.id, child.status]),
      [
        ["context_manager", "running"],
        ["mcp:echo", "running"],
        ["mcp:other", "running"],
        ["llm_orchestrator", "running"],
      ],
    );
    // Started before the orchestrator: their processes are up once createSession returns.
    assert.equal(echo.pids().length, 1);
    assert.equal(other.pids().length, 1);
    assert.ok(alive(echo.pids()[0]!));
  });

  it("are not there for a session that names none: its supervisor has its two agents only", async () => {
    const system = await start();
    const session = await system.createSession();
    const children = await childrenOf(system, session.id);
    assert.deepEqual(
      children.map((child) => child.id),
      ["context_manager", "llm_orchestrator"],
    );
  });

  it("fail createSession with a SessionStartError naming the server and its stderr, when one will not start", async () => {
    const system = await start();
    const broken = server("broken", { args: [SERVER, "--fail-start"] });
    await assert.rejects(system.createSession({ mcpServers: [broken.config] }), (error) => {
      assert.ok(error instanceof SessionStartError, String(error));
      assert.match(
        error.message,
        /^the session failed to start: MCP server "broken" failed to start: its process exited with code 3\b.*; its stderr ended with: fixture: missing configuration, giving up$/,
      );
      const cause = (error as Error).cause;
      assert.ok(cause instanceof McpServerStartError, String(cause));
      assert.equal(cause.server, "broken");
      return true;
    });
    assert.deepEqual(await system.listSessions(), [], "no session is left, not even a failed one");
  });

  it("fail createSession naming a command that does not exist", async () => {
    const system = await start();
    await assert.rejects(
      system.createSession({ mcpServers: [{ name: "ghost", command: "/nonexistent/mcp-server" }] }),
      /the session failed to start: MCP server "ghost" failed to start: command not found: \/nonexistent\/mcp-server/,
    );
  });

  it("leave nothing running when a later server will not start: the servers already up are stopped", async () => {
    const system = await start();
    const good = server("good");
    const broken = server("broken", { args: [SERVER, "--fail-start"] });
    await assert.rejects(
      system.createSession({ mcpServers: [good.config, broken.config] }),
      SessionStartError,
    );
    const [pid] = good.pids();
    assert.ok(pid, "the first server was started");
    assert.ok(!alive(pid), `server pid ${pid} still running`);
    assert.deepEqual(await system.listSessions(), []);
    assert.deepEqual(
      system.registry
        .select((entry) => /^(context_manager|llm_orchestrator|session_supervisor):/.test(entry.key))
        .map((entry) => entry.key),
      [],
      "no agent of the failed session is registered",
    );
  });

  it("restart a server whose OS process is killed, leaving the session's agents as they were", async () => {
    const system = await start();
    const echo = server("echo");
    const session = await system.createSession({ mcpServers: [echo.config] });
    const supervisor = system.findSupervisor(session.id);
    const contextManager = system.getContextManagerPid(session.id);
    const orchestrator = system.getOrchestratorPid(session.id);
    const [first] = echo.pids();
    const before = await serverProcess(system, session.id, "echo");
    assert.ok(before, "the server's process runs");
    process.kill(first!, "SIGKILL");
    await until(async () => {
      const now = await serverProcess(system, session.id, "echo");
      return now !== undefined && !now.equals(before);
    }, "the server's supervisor to run a new server process");
    assert.equal(echo.pids().length, 2, "one new OS process");
    const second = echo.pids()[1]!;
    await until(() => !alive(first!), "the killed server to be gone");
    assert.ok(alive(second));
    assert.ok(system.findSupervisor(session.id)?.equals(supervisor));
    assert.ok(system.getContextManagerPid(session.id)?.equals(contextManager));
    assert.ok(system.getOrchestratorPid(session.id)?.equals(orchestrator));
    assert.equal((await system.getSession(session.id))?.status, "active");
  });

  it("give up a server killed past its budget, and the session stays up with its agents", async () => {
    const system = await start();
    const echo = server("echo", { maxRestarts: 1, periodMs: 60_000 });
    const session = await system.createSession({ mcpServers: [echo.config] });
    const contextManager = system.getContextManagerPid(session.id);
    const orchestrator = system.getOrchestratorPid(session.id);
    for (let kill = 1; kill <= 2; kill++) {
      await until(() => echo.pids().length === kill, `server process ${kill}`);
      process.kill(echo.pids()[kill - 1]!, "SIGKILL");
    }
    await until(
      async () =>
        (await childrenOf(system, session.id)).find((c) => c.id === "mcp:echo")?.status === "stopped",
      "the server to be given up",
    );
    await sleep(200);
    assert.equal(echo.pids().length, 2, "no third server process");
    assert.ok(echo.pids().every((pid) => !alive(pid)));
    assert.ok(system.getContextManagerPid(session.id)?.equals(contextManager));
    assert.ok(system.getOrchestratorPid(session.id)?.equals(orchestrator));
    assert.equal((await system.getSession(session.id))?.status, "active");
    const reply = await system.sendMessage(session.id, "still there?");
    assert.equal(typeof reply.text, "string");
  });

  it("end with their session: terminateSession leaves no server process", async () => {
    const system = await start();
    const echo = server("echo");
    const other = server("other");
    const session = await system.createSession({ mcpServers: [echo.config, other.config] });
    const pids = [...echo.pids(), ...other.pids()];
    assert.equal(pids.length, 2);
    await system.terminateSession(session.id);
    for (const pid of pids) assert.ok(!alive(pid), `server pid ${pid} still running`);
  });

  it("stop with a hibernated session and start again when it wakes", async () => {
    const system = await start();
    const echo = server("echo");
    const session = await system.createSession({ mcpServers: [echo.config] });
    const [first] = echo.pids();
    await system.hibernateSession(session.id);
    assert.ok(!alive(first!), `server pid ${first} still running while the session sleeps`);
    await system.wakeSession(session.id);
    assert.equal(echo.pids().length, 2, "a new server process once awake");
    assert.ok(alive(echo.pids()[1]!));
  });

  it("fail wakeSession naming a server that will not start any more, and the session stays asleep", async () => {
    const system = await start();
    const echo = server("echo");
    const breaker = join(dirs.at(-1)!, "broken");
    const config = { ...echo.config, env: { ...echo.config.env, MCP_FAIL_IF: breaker } };
    const session = await system.createSession({ mcpServers: [config] });
    await system.hibernateSession(session.id);
    writeFileSync(breaker, "");
    await assert.rejects(
      system.wakeSession(session.id),
      /the session failed to start: .*MCP server "echo" failed to start: its process exited with code 4.*told to fail this start/,
    );
    const asleep = await system.getSession(session.id);
    assert.equal(asleep?.hibernated, true);
    assert.equal(system.findSupervisor(session.id), undefined);
    rmSync(breaker);
    await system.wakeSession(session.id);
    assert.equal((await system.getSession(session.id))?.hibernated, false);
    assert.ok(alive(echo.pids().at(-1)!));
  });

  it("make a session whose tree restarts while a server will not start `failed`, with nothing left running", async () => {
    const system = await start();
    const echo = server("echo");
    const breaker = join(dirs.at(-1)!, "broken");
    const config = { ...echo.config, env: { ...echo.config.env, MCP_FAIL_IF: breaker } };
    const session = await system.createSession({ mcpServers: [config] });
    writeFileSync(breaker, "");
    system.runtime.exit(system.findSupervisor(session.id)!, "kill");
    await until(
      async () => (await system.getSession(session.id))?.status === "failed",
      "the session to be failed",
    );
    assert.equal(system.findSupervisor(session.id), undefined);
    assert.ok(echo.pids().length >= 2, "its start was tried again");
    for (const pid of echo.pids()) assert.ok(!alive(pid), `server pid ${pid} still running`);
  });

  it("are replaced, not leaked, when the session's whole tree restarts", async () => {
    const system = await start();
    const echo = server("echo");
    const session = await system.createSession({ mcpServers: [echo.config] });
    const [first] = echo.pids();
    const supervisor = system.findSupervisor(session.id)!;
    system.runtime.exit(supervisor, "kill");
    await until(
      () =>
        system.findSupervisor(session.id) !== undefined &&
        !system.findSupervisor(session.id)!.equals(supervisor),
      "the session's supervisor to be started again",
    );
    await until(() => echo.pids().length === 2, "a server process for the new tree");
    await until(() => !alive(first!), `the old tree's server pid ${first} to be gone`);
    assert.ok(alive(echo.pids()[1]!));
    assert.deepEqual(
      (await childrenOf(system, session.id)).map((child) => child.id),
      ["context_manager", "mcp:echo", "llm_orchestrator"],
    );
  });

  it("end with the session system: stop leaves no server process", async () => {
    const system = await start();
    const echo = server("echo");
    await system.createSession({ mcpServers: [echo.config] });
    const [pid] = echo.pids();
    await system.stop();
    assert.ok(!alive(pid!), `server pid ${pid} still running`);
  });
});

describe("a session's MCP servers in a thread host", { timeout: TEST_MS }, () => {
  it("run there and end with the session: terminateSession leaves no server process", async () => {
    const system = await start({ isolation: "thread" });
    const echo = server("echo");
    const session = await system.createSession({ mcpServers: [echo.config] });
    assert.equal(system.sessionHost(session.id)?.isolation, "thread");
    const [pid] = echo.pids();
    assert.ok(pid && alive(pid), "the server runs");
    await system.terminateSession(session.id);
    await until(() => !alive(pid), `server pid ${pid} to be gone`);
  });

  it("answer the model's tool call from inside the host", async () => {
    const system = await start({ isolation: "thread" });
    const echo = server("echo");
    const session = await system.createSession({
      tools: { approval: { command: "auto" } },
      mcpServers: [echo.config],
    });
    const reply = await system.sendMessage(session.id, 'tool echo__echo {"text":"from a thread"}');
    assert.equal(reply.toolCalls, 1);
    const result = (await system.getHistory(session.id)).find((turn) => turn.role === "tool");
    assert.ok(!result?.isError, result?.content);
    assert.match(result?.content ?? "", /echo: from a thread/);
  });

  it("restart a killed server inside the host, the session's agents untouched", async () => {
    const system = await start({ isolation: "thread" });
    const echo = server("echo");
    const session = await system.createSession({ mcpServers: [echo.config] });
    const contextManager = system.getContextManagerPid(session.id);
    const orchestrator = system.getOrchestratorPid(session.id);
    process.kill(echo.pids()[0]!, "SIGKILL");
    await until(() => echo.pids().length === 2, "a second server process");
    assert.ok(alive(echo.pids()[1]!));
    assert.ok(system.getContextManagerPid(session.id)?.equals(contextManager));
    assert.ok(system.getOrchestratorPid(session.id)?.equals(orchestrator));
    assert.equal((await system.getSession(session.id))?.status, "active");
  });

  it("fail createSession with the same error as inline when a server will not start", async () => {
    const system = await start({ isolation: "thread" });
    const broken = server("broken", { args: [SERVER, "--fail-start"] });
    await assert.rejects(system.createSession({ mcpServers: [broken.config] }), (error) => {
      assert.ok(error instanceof SessionStartError, String(error));
      assert.match(error.message, /MCP server "broken" failed to start: its process exited with code 3/);
      assert.ok((error as Error).cause instanceof McpServerStartError, String((error as Error).cause));
      return true;
    });
    assert.deepEqual(await system.listSessions(), []);
  });

  it("leave no server process when the host is killed", async () => {
    const system = await start({ isolation: "thread" });
    const echo = server("echo");
    const session = await system.createSession({ mcpServers: [echo.config] });
    const [pid] = echo.pids();
    system.hosts.kill(system.sessionHost(session.id)!.hostId);
    await until(() => !alive(pid!), `server pid ${pid} to be gone`);
  });
});

describe("a session's MCP servers in a process host", { timeout: TEST_MS }, () => {
  it("run there and end with the session: terminateSession leaves no server process", async () => {
    const system = await start({ isolation: "process" });
    const echo = server("echo");
    const session = await system.createSession({ mcpServers: [echo.config] });
    assert.equal(system.sessionHost(session.id)?.isolation, "process");
    const [pid] = echo.pids();
    assert.ok(pid && alive(pid), "the server runs");
    await system.terminateSession(session.id);
    await until(() => !alive(pid), `server pid ${pid} to be gone`);
  });

  it("leave no server process (one that exits when its stdin closes) when the host process is SIGKILLed from outside", async () => {
    const system = await start({ isolation: "process" });
    const echo = server("echo");
    const session = await system.createSession({ mcpServers: [echo.config] });
    const [pid] = echo.pids();
    process.kill(system.sessionHost(session.id)!.osPid, "SIGKILL");
    await until(() => !alive(pid!), `server pid ${pid} to be gone`);
  });
});

// A host that dies by itself (a thread that exits or runs out of heap; a process SIGKILLed by
// the OOM killer) is not there to stop its servers. A server that exits when its stdin closes
// goes anyway; one that does not (open handles of its own) is ended by the parent, which notes
// the process groups of each host's programs at its heartbeats and kills them when it dies.
describe("a session's MCP servers when their host dies by itself", { timeout: TEST_MS }, () => {
  const FAULT_PROVIDERS = {
    module: new URL("./fixtures/fault-provider.ts", import.meta.url),
    export: "faultProviders",
  };

  for (const isolation of ["thread", "process"] as const) {
    it(`leave no server that ignores stdin EOF when a ${isolation} host runs out of heap`, async () => {
      const system = await start({
        isolation,
        providers: faultProviders(),
        hostProviders: FAULT_PROVIDERS,
        hostLimits: { hangTimeoutMs: 5000, maxHeapMb: 64, maxMemoryMb: 2048 },
      });
      const echo = server("echo", {});
      const config = { ...echo.config, env: { ...echo.config.env, MCP_LINGER: "1" } };
      const session = await system.createSession({ llm: { provider: "fault" }, mcpServers: [config] });
      const [first] = echo.pids();
      await system.sendMessage(session.id, "FAULT:heap").catch(() => undefined);
      await until(() => echo.pids().length === 2, "the session to come back with a new server");
      await until(() => !alive(first!), `the dead host's server pid ${first} to be gone`, 5_000);
    });
  }
});

// The tool loop: the offline model calls what a user line `tool <name> <json>` says.
describe("a session's model calling its MCP servers' tools", { timeout: TEST_MS }, () => {
  // MCP tools are of kind `command`, which asks by default: these calls run without asking.
  const AUTO = { approval: { command: "auto" as const } };

  it("calls a tool: the history has the call and its result, and the reply sums it up", async () => {
    const system = await start();
    const echo = server("echo");
    const session = await system.createSession({ tools: AUTO, mcpServers: [echo.config] });
    const reply = await system.sendMessage(session.id, 'tool echo__echo {"text":"hi"}');
    assert.equal(reply.toolCalls, 1);
    const history = await system.getHistory(session.id);
    const call = history.find((turn) => turn.toolCalls !== undefined);
    assert.deepEqual(
      call?.toolCalls?.map(({ name, input }) => ({ name, input })),
      [{ name: "echo__echo", input: { text: "hi" } }],
    );
    const result = history.find((turn) => turn.role === "tool");
    assert.equal(result?.toolName, "echo__echo");
    assert.equal(result?.toolCallId, call?.toolCalls?.[0]?.id);
    assert.ok(!result?.isError, result?.content);
    assert.match(result?.content ?? "", /echo: hi/);
    assert.match(reply.text, /echo__echo: .*echo: hi/);
  });

  it("fails a call in flight when its server is killed, the model sees the error, the server is restarted and the next call works", async () => {
    const system = await start();
    const echo = server("echo");
    const session = await system.createSession({ tools: AUTO, mcpServers: [echo.config] });
    const calling = new Promise<void>((resolve) => {
      void system.subscribe(session.id, (event) => {
        if (event.type === "tool_call" && event.name === "echo__sleep") resolve();
      });
    });
    const turn = system.sendMessage(session.id, 'tool echo__sleep {"ms":60000}');
    await calling;
    await sleep(100);
    const [first] = echo.pids();
    const before = await serverProcess(system, session.id, "echo");
    process.kill(first!, "SIGKILL");
    const reply = await turn;
    assert.equal(reply.toolCalls, 1);
    const failed = (await system.getHistory(session.id)).find((turn) => turn.role === "tool");
    assert.equal(failed?.toolName, "echo__sleep");
    assert.equal(failed?.isError, true);
    assert.match(failed?.content ?? "", /mcp_server_exited/);
    assert.match(failed?.content ?? "", /MCP server \\?"echo\\?" stopped: its process was killed by SIGKILL/);
    assert.match(reply.text, /echo__sleep failed: /);

    await until(async () => {
      const now = await serverProcess(system, session.id, "echo");
      return now !== undefined && !now.equals(before!);
    }, "the server to be running again");
    assert.equal(echo.pids().length, 2);
    const next = await system.sendMessage(session.id, 'tool echo__echo {"text":"again"}');
    assert.equal(next.toolCalls, 1);
    const results = (await system.getHistory(session.id)).filter((turn) => turn.role === "tool");
    assert.equal(results.length, 2);
    assert.ok(!results[1]?.isError, results[1]?.content);
    assert.match(results[1]?.content ?? "", /echo: again/);
  });

  it("answers a call to a given-up server's tool with the reason it is gone, the session's other server still answering", async () => {
    const system = await start();
    const echo = server("echo", { maxRestarts: 0 });
    const other = server("other");
    const session = await system.createSession({ tools: AUTO, mcpServers: [echo.config, other.config] });
    // A turn lists the servers' tools; a server given up afterwards keeps offering what it listed.
    await system.sendMessage(session.id, 'tool echo__echo {"text":"first"}');
    process.kill(echo.pids()[0]!, "SIGKILL");
    await until(
      async () =>
        (await childrenOf(system, session.id)).find((c) => c.id === "mcp:echo")?.status === "stopped",
      "the server to be given up",
    );
    const reply = await system.sendMessage(
      session.id,
      'tool echo__echo {"text":"hi"}\ntool other__echo {"text":"yo"}',
    );
    assert.equal(reply.toolCalls, 2);
    const [, gone, answered] = (await system.getHistory(session.id)).filter((turn) => turn.role === "tool");
    assert.equal(gone?.toolName, "echo__echo");
    assert.equal(gone?.isError, true);
    assert.match(gone?.content ?? "", /mcp_server_unavailable/);
    assert.match(gone?.content ?? "", /given up/);
    assert.equal(answered?.toolName, "other__echo");
    assert.ok(!answered?.isError, answered?.content);
    assert.match(answered?.content ?? "", /echo: yo/);
  });
});
