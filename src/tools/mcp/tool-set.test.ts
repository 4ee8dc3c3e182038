import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { type ProjectFixture, processGone, projectFixture } from "../../../test/support/project-fixture.js";
import { Runtime, silentLogger } from "../../runtime/index.js";
import { Supervisor } from "../../supervision/index.js";
import { builtinToolSet, ToolSet } from "../index.js";
import { type McpServer, mcpServerSpec } from "./index.js";

const FIXTURE = fileURLToPath(new URL("../../../test/fixtures/mcp-echo-server.mjs", import.meta.url));

describe("MCP tools in a ToolSet", () => {
  let runtime: Runtime;
  let fx: ProjectFixture;
  let server: McpServer;
  const pids: number[] = [];

  beforeEach(async () => {
    fx = await projectFixture({ "a.txt": "a\n" });
    runtime = new Runtime({ logger: silentLogger() });
  });
  afterEach(async () => {
    await runtime.shutdown();
    for (const pid of pids.splice(0)) {
      try {
        process.kill(-pid, "SIGKILL");
      } catch {
        // gone
      }
    }
    fx.remove();
  });

  async function attach(config: Record<string, unknown> = {}): Promise<ToolSet> {
    const made = mcpServerSpec({ name: "fx", command: process.execPath, args: [FIXTURE], ...config });
    server = made.server;
    await Supervisor.start(runtime, { strategy: "one_for_one", children: [made.spec] });
    const pid = await server.osPid(runtime);
    if (pid !== undefined) pids.push(pid);
    return new ToolSet([builtinToolSet().get("read_file")!, ...(await server.tools(runtime))]);
  }

  it("shows the model the server's own input schema under the prefixed name", async () => {
    const tools = await attach();
    const echo = tools.definitions().find((d) => d.name === "fx__echo")!;
    assert.equal(echo.description, "Echoes its text back");
    assert.deepEqual((echo.inputSchema as { properties: unknown }).properties, { text: { type: "string" } });
    assert.deepEqual((echo.inputSchema as { required: unknown }).required, ["text"]);
  });

  it("runs a call through the set and returns the result", async () => {
    const tools = await attach();
    const outcome = await tools.run({ name: "fx__echo", input: { text: "via set" } }, fx.context());
    assert.deepEqual(outcome, { ok: true, result: { text: "echo: via set" } });
  });

  it("treats MCP tools as commands for the approval policy", async () => {
    const tools = await attach();
    const outcome = await tools.run(
      { name: "fx__echo", input: { text: "x" } },
      fx.context({ approval: { command: "deny" } }),
    );
    assert.equal(outcome.ok, false);
    assert.equal(!outcome.ok && outcome.error.code, "tool_denied");
  });

  it("uses the configured kind instead when given", async () => {
    const tools = await attach({ kind: "read" });
    const outcome = await tools.run(
      { name: "fx__echo", input: { text: "x" } },
      fx.context({ approval: { command: "deny" } }),
    );
    assert.equal(outcome.ok, true);
  });

  it("gives the model the server's complaint about bad input as a tool error", async () => {
    const tools = await attach();
    const outcome = await tools.run({ name: "fx__echo", input: { text: 42 } }, fx.context());
    assert.equal(outcome.ok, false);
    assert.equal(!outcome.ok && outcome.error.code, "mcp_tool_error");
  });

  it("stops a server started through a launcher shell, launcher and server alike", async () => {
    const made = mcpServerSpec({
      name: "sh",
      command: "/bin/sh",
      args: ["-c", `"${process.execPath}" "${FIXTURE}"; echo done`],
    });
    const sup = await Supervisor.start(runtime, { strategy: "one_for_one", children: [made.spec] });
    const shell = (await made.server.osPid(runtime))!;
    pids.push(shell);
    const serverPid = Number((await made.server.callTool(runtime, "pid", {})).text);
    assert.notEqual(serverPid, shell, "the server runs as the shell's child");
    runtime.exit(sup, "shutdown");
    await runtime.whenExited(sup);
    assert.ok(processGone(shell), "the launcher is gone");
    assert.ok(processGone(serverPid), "the server under it is gone");
  });
});
