import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it } from "node:test";
import { type McpHttpFixture, startMcpHttpServer } from "../../../test/fixtures/mcp-http-server.js";
import { Runtime, silentLogger } from "../../runtime/index.js";
import { Supervisor } from "../../supervision/index.js";
import { McpServer, McpServerStartError, McpToolTimeoutError } from "./index.js";

describe("MCP servers over streamable HTTP", () => {
  let runtime: Runtime;
  let http: McpHttpFixture;

  beforeEach(async () => {
    runtime = new Runtime({ logger: silentLogger() });
    http = await startMcpHttpServer();
  });
  afterEach(async () => {
    await runtime.shutdown();
    await http.close();
  });

  async function attach(): Promise<McpServer> {
    const server = new McpServer({ name: "web", url: http.url, headers: { "x-fixture": "yes" } });
    await Supervisor.start(runtime, { strategy: "one_for_one", children: [server.spec] });
    return server;
  }

  it("lists and calls the server's tools, sending the configured headers", async () => {
    const server = await attach();
    assert.deepEqual((await server.definitions(runtime)).map((d) => d.name).sort(), [
      "web__echo",
      "web__sleep",
    ]);
    assert.deepEqual(await server.callTool(runtime, "echo", { text: "over http" }), {
      text: "http echo: over http",
    });
    assert.equal(await server.osPid(runtime), undefined);
    assert.ok(http.headers.every((h) => h["x-fixture"] === "yes"));
  });

  it("times a hung call out with McpToolTimeoutError", async () => {
    const server = await attach();
    await assert.rejects(
      server.callTool(runtime, "sleep", { ms: 30_000 }, { timeoutMs: 200 }),
      McpToolTimeoutError,
    );
  });

  it("fails to start, naming the server, when nothing listens at the url", async () => {
    await http.close();
    const server = new McpServer({ name: "gone", url: http.url, startTimeoutMs: 2_000 });
    await assert.rejects(
      Supervisor.start(runtime, { strategy: "one_for_one", children: [server.spec] }),
      (error) => {
        let cause: unknown = error;
        while (cause !== undefined && !(cause instanceof McpServerStartError))
          cause = (cause as { reason?: unknown }).reason;
        assert.ok(cause instanceof McpServerStartError, String(error));
        assert.match(cause.message, /MCP server "gone" failed to start/);
        return true;
      },
    );
  });
});
