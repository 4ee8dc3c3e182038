import assert from "node:assert/strict";
import { afterEach, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { processGone } from "../../../test/support/project-fixture.js";
import { InitError, type Pid, Runtime, silentLogger } from "../../runtime/index.js";
import { ChildStartError, Supervisor } from "../../supervision/index.js";
import { ToolAbortedError } from "../errors.js";
import {
  McpServer,
  type McpServerConfigInput,
  McpServerExitError,
  McpServerHungError,
  McpServerStartError,
  McpServerUnavailableError,
  McpToolCallError,
  McpToolTimeoutError,
} from "./index.js";

const FIXTURE = fileURLToPath(new URL("../../../test/fixtures/mcp-echo-server.mjs", import.meta.url));

const fixture = (extra: Partial<McpServerConfigInput> = {}): McpServerConfigInput => ({
  name: "fx",
  command: process.execPath,
  args: [FIXTURE],
  ...extra,
});

describe("MCP servers as supervised processes", () => {
  let runtime: Runtime;
  // Every server pid a test learns of is killed in teardown, even when its assertions failed.
  const pids: number[] = [];

  afterEach(async () => {
    await runtime?.shutdown();
    for (const pid of pids.splice(0)) {
      try {
        process.kill(-pid, "SIGKILL");
      } catch {
        // gone
      }
    }
  });

  async function start(config: McpServerConfigInput = fixture()): Promise<{ server: McpServer; sup: Pid }> {
    runtime = new Runtime({ logger: silentLogger() });
    const server = new McpServer(config);
    const sup = await Supervisor.start(runtime, { strategy: "one_for_one", children: [server.spec] });
    const pid = await server.osPid(runtime);
    if (pid !== undefined) pids.push(pid);
    return { server, sup };
  }

  async function until(check: () => Promise<boolean> | boolean, what: string): Promise<void> {
    const deadline = Date.now() + 10_000;
    while (!(await check())) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await sleep(20);
    }
  }

  it("lists the server's tools with the server's name as prefix", async () => {
    const { server } = await start();
    const definitions = await server.definitions(runtime);
    assert.deepEqual(definitions.map((d) => d.name).sort(), [
      "fx__big",
      "fx__block",
      "fx__crash",
      "fx__echo",
      "fx__fail",
      "fx__pid",
      "fx__sleep",
    ]);
    const echo = definitions.find((d) => d.name === "fx__echo")!;
    assert.equal(echo.description, "Echoes its text back");
    assert.deepEqual((echo.inputSchema as { required: string[] }).required, ["text"]);
  });

  it("answers a call with its text", async () => {
    const { server } = await start();
    const result = await server.callTool(runtime, "echo", { text: "hi" });
    assert.deepEqual(result, { text: "echo: hi" });
  });

  it("fails a hung call with McpToolTimeoutError and stays usable", async () => {
    const { server } = await start();
    await assert.rejects(server.callTool(runtime, "sleep", { ms: 60_000 }, { timeoutMs: 200 }), (error) => {
      assert.ok(error instanceof McpToolTimeoutError);
      assert.equal(error.server, "fx");
      assert.equal(error.tool, "sleep");
      return true;
    });
    assert.equal((await server.callTool(runtime, "echo", { text: "after" })).text, "echo: after");
  });

  it("restarts a server that stops answering, once a call timed out and a ping got no answer", async () => {
    const { server } = await start(fixture({ pingTimeoutMs: 300 }));
    const before = (await server.osPid(runtime))!;
    await assert.rejects(server.callTool(runtime, "block", {}, { timeoutMs: 300 }), McpToolTimeoutError);
    await until(async () => {
      const pid = await server.osPid(runtime).catch(() => undefined);
      return pid !== undefined && pid !== before;
    }, "a new server process");
    pids.push((await server.osPid(runtime))!);
    assert.ok(server.lastExit instanceof McpServerHungError, String(server.lastExit));
    await until(() => processGone(before), "the hung server to be gone");
    assert.equal((await server.callTool(runtime, "echo", { text: "fresh" })).text, "echo: fresh");
  });

  it("cancels a call when its signal fires", async () => {
    const { server } = await start();
    const controller = new AbortController();
    const call = server.callTool(runtime, "sleep", { ms: 60_000 }, { signal: controller.signal });
    setTimeout(() => controller.abort(new Error("turn cancelled")), 100);
    await assert.rejects(call, ToolAbortedError);
  });

  it("reports a tool's own error as McpToolCallError", async () => {
    const { server } = await start();
    await assert.rejects(server.callTool(runtime, "fail", {}), (error) => {
      assert.ok(error instanceof McpToolCallError);
      assert.match(error.message, /failed on purpose/);
      return true;
    });
  });

  it("caps a big output with a marker", async () => {
    const { server } = await start(fixture({ maxOutputBytes: 1000 }));
    const result = await server.callTool(runtime, "big", { bytes: 5000 });
    assert.deepEqual(result.truncated, { bytes: 5000, shownBytes: 1000 });
    assert.match(result.text, /\[truncated: 1000 of 5000 bytes shown\]$/);
  });

  it("fails a call in flight when the server dies, restarts it, and the next call works", async () => {
    const { server } = await start();
    const before = (await server.osPid(runtime))!;
    const inFlight = server.callTool(runtime, "sleep", { ms: 60_000 });
    await sleep(100);
    process.kill(before, "SIGKILL");
    await assert.rejects(inFlight, (error) => {
      assert.ok(error instanceof McpServerExitError, String(error));
      assert.equal(error.signal, "SIGKILL");
      assert.match(error.message, /MCP server "fx" stopped: its process was killed by SIGKILL/);
      return true;
    });
    await until(async () => {
      const pid = await server.osPid(runtime).catch(() => undefined);
      return pid !== undefined && pid !== before;
    }, "a new server process");
    const after = (await server.osPid(runtime))!;
    pids.push(after);
    assert.ok(processGone(before));
    assert.equal((await server.callTool(runtime, "echo", { text: "again" })).text, "echo: again");
  });

  it("restarts a server whose process exits by itself (the crash tool)", async () => {
    const { server } = await start();
    const before = (await server.osPid(runtime))!;
    await assert.rejects(server.callTool(runtime, "crash", {}), McpServerExitError);
    await until(async () => {
      const pid = await server.osPid(runtime).catch(() => undefined);
      return pid !== undefined && pid !== before;
    }, "a new server process");
    pids.push((await server.osPid(runtime))!);
    assert.equal((await server.callTool(runtime, "echo", { text: "x" })).text, "echo: x");
  });

  it("gives up after its restart budget and says so, leaving its supervisor's other children alone", async () => {
    const { server, sup } = await start(fixture({ maxRestarts: 1, periodMs: 60_000 }));
    for (let crash = 0; crash < 2; crash++) {
      await until(async () => (await server.osPid(runtime).catch(() => undefined)) !== undefined, "a server");
      const pid = (await server.osPid(runtime))!;
      pids.push(pid);
      await server.callTool(runtime, "crash", {}).catch(() => undefined);
      await until(() => processGone(pid), "the crashed server to be gone");
    }
    await until(() => server.state === "given_up", "the server to be given up");
    await assert.rejects(server.callTool(runtime, "echo", { text: "x" }), (error) => {
      assert.ok(error instanceof McpServerUnavailableError);
      assert.match(error.message, /given up after more than 1 restarts in 60000 ms/);
      assert.match(error.message, /exited with code 1/);
      return true;
    });
    assert.ok(runtime.isAlive(sup), "the session's supervisor is still up");
    const [child] = await Supervisor.whichChildren(runtime, sup);
    assert.equal(child?.status, "stopped");
  });

  it("fails to start with McpServerStartError naming a command that does not exist", async () => {
    runtime = new Runtime({ logger: silentLogger() });
    const server = new McpServer({ name: "ghost", command: "/nonexistent/mcp-server" });
    await assert.rejects(
      Supervisor.start(runtime, { strategy: "one_for_one", children: [server.spec] }),
      (error) => {
        const start = startErrorIn(error);
        assert.equal(start.server, "ghost");
        assert.match(
          start.message,
          /MCP server "ghost" failed to start: command not found: \/nonexistent\/mcp-server/,
        );
        return true;
      },
    );
  });

  it("fails to start with the server's stderr when it exits at once", async () => {
    runtime = new Runtime({ logger: silentLogger() });
    const server = new McpServer(fixture({ name: "broken", args: [FIXTURE, "--fail-start"] }));
    await assert.rejects(
      Supervisor.start(runtime, { strategy: "one_for_one", children: [server.spec] }),
      (error) => {
        const start = startErrorIn(error);
        assert.match(start.message, /"broken" failed to start: its process exited with code 3/);
        assert.match(start.stderr, /missing configuration/);
        return true;
      },
    );
  });

  it("fails to start when the server never answers the handshake, and kills it", async () => {
    runtime = new Runtime({ logger: silentLogger() });
    const server = new McpServer(
      fixture({ name: "mute", args: [FIXTURE, "--no-handshake"], startTimeoutMs: 300 }),
    );
    await assert.rejects(
      Supervisor.start(runtime, { strategy: "one_for_one", children: [server.spec] }),
      (error) => {
        assert.match(
          startErrorIn(error).message,
          /"mute" failed to start: no MCP handshake and tool list within 300 ms/,
        );
        return true;
      },
    );
    // The leak guard fails this file if the mute server were still running.
  });

  it("leaves no server process once its supervisor is stopped", async () => {
    const { server, sup } = await start();
    const pid = (await server.osPid(runtime))!;
    runtime.exit(sup, "shutdown");
    await runtime.whenExited(sup);
    assert.ok(processGone(pid), `server pid ${pid} still running`);
  });

  it("kills the server even when its process is killed without terminate", async () => {
    const { server } = await start();
    const pid = (await server.osPid(runtime))!;
    runtime.exit(server.pid!, "kill");
    await until(() => processGone(pid), `server pid ${pid} to be gone`);
  });
});

function startErrorIn(error: unknown): McpServerStartError {
  let cause: unknown = error;
  while (cause !== undefined && !(cause instanceof McpServerStartError)) {
    cause =
      cause instanceof ChildStartError || cause instanceof InitError
        ? (cause as { reason: unknown }).reason
        : (cause as { cause?: unknown }).cause;
  }
  assert.ok(cause instanceof McpServerStartError, `no McpServerStartError in ${String(error)}`);
  return cause;
}
