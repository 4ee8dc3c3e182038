import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { InvalidArgumentError } from "../../errors.js";
import { parseMcpServerConfig } from "./index.js";

const fieldOf = (input: unknown): string => {
  try {
    parseMcpServerConfig(input);
  } catch (error) {
    assert.ok(error instanceof InvalidArgumentError, String(error));
    return error.argument;
  }
  assert.fail("the config was accepted");
};

describe("MCP server config", () => {
  it("fills the defaults of a command server", () => {
    const config = parseMcpServerConfig({ name: "files", command: "npx" });
    assert.deepEqual(
      { ...config },
      {
        name: "files",
        command: "npx",
        args: [],
        env: {},
        headers: {},
        startTimeoutMs: 10_000,
        callTimeoutMs: 60_000,
        pingTimeoutMs: 5_000,
        restart: "permanent",
        maxRestarts: 3,
        periodMs: 60_000,
        kind: "command",
        maxOutputBytes: 256 * 1024,
      },
    );
  });

  it("accepts a streamable HTTP server by url", () => {
    assert.equal(
      parseMcpServerConfig({ name: "web", url: "http://127.0.0.1:9/mcp" }).url,
      "http://127.0.0.1:9/mcp",
    );
  });

  it("names the field of a bad name, with the server", () => {
    assert.equal(fieldOf({ name: "a__b", command: "x" }), 'mcp server "a__b" name');
    assert.equal(fieldOf({ name: "has space", command: "x" }), 'mcp server "has space" name');
  });

  it("refuses both command and url, and neither", () => {
    assert.equal(fieldOf({ name: "s", command: "x", url: "http://h/" }), 'mcp server "s" url');
    assert.equal(fieldOf({ name: "s" }), 'mcp server "s" command');
  });

  it("names a bad args, env, timeout or unknown field", () => {
    assert.equal(fieldOf({ name: "s", command: "x", args: "--flag" }), 'mcp server "s" args');
    assert.equal(fieldOf({ name: "s", command: "x", env: { A: 1 } }), 'mcp server "s" env.A');
    assert.equal(fieldOf({ name: "s", command: "x", callTimeoutMs: 0 }), 'mcp server "s" callTimeoutMs');
    assert.equal(fieldOf({ name: "s", command: "x", cwd: "rel/dir" }), 'mcp server "s" cwd');
    assert.equal(fieldOf({ name: "s", command: "x", timeout: 5 }), 'mcp server "s" timeout');
    assert.equal(fieldOf({ name: "s", url: "ftp://h/" }), 'mcp server "s" url');
    assert.equal(fieldOf({ name: "s", url: "http://h/", args: ["a"] }), 'mcp server "s" args');
  });

  it("loads the SDK only when a server starts (no static import of it)", () => {
    const dir = new URL(".", import.meta.url);
    for (const file of readdirSync(dir).filter((f) => f.endsWith(".ts") && !f.endsWith(".test.ts"))) {
      const text = readFileSync(new URL(file, dir), "utf8");
      const staticImports = text.match(/^import (?!type )[^;]*?from "@modelcontextprotocol[^"]*"/gms) ?? [];
      assert.deepEqual(staticImports, [], `${file} imports the SDK at load`);
    }
  });
});
