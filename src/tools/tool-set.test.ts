import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it } from "node:test";
import { z } from "zod";
import { type ProjectFixture, projectFixture } from "../../test/support/project-fixture.js";
import {
  builtinToolSet,
  defineTool,
  InvalidToolInputError,
  ToolAbortedError,
  type ToolCallRequest,
  ToolDeniedError,
  ToolSet,
  UnknownToolError,
} from "../index.js";

const tools = builtinToolSet();

describe("ToolSet", () => {
  let fx: ProjectFixture;
  beforeEach(async () => {
    fx = await projectFixture({ "a.txt": "a\n" });
  });
  afterEach(() => fx.remove());

  it("describes each built-in tool with a JSON schema of its input", () => {
    const definitions = tools.definitions();
    assert.deepEqual(
      definitions.map((definition) => definition.name),
      ["list_files", "read_file", "search", "write_file", "edit", "run_command"],
    );
    const edit = definitions.find((definition) => definition.name === "edit")!;
    assert.equal(edit.inputSchema.type, "object");
    assert.deepEqual(edit.inputSchema.required, ["path", "oldString", "newString"]);
    assert.equal(edit.inputSchema.additionalProperties, false);
  });

  it("leaves fields with defaults out of required", () => {
    const list = tools.definitions().find((definition) => definition.name === "list_files")!;
    assert.equal(list.inputSchema.required, undefined);
  });

  it("selects the named tools, in the order named", () => {
    assert.deepEqual(tools.select(["search", "read_file"]).names, ["search", "read_file"]);
  });

  it("refuses to select a tool it does not have", () => {
    assert.throws(() => tools.select(["read_file", "browse"]), UnknownToolError);
  });

  it("refuses an unknown tool, listing the known ones", async () => {
    await assert.rejects(tools.execute({ name: "rm_rf", input: {} }, fx.context()), (error: unknown) => {
      assert.ok(error instanceof UnknownToolError);
      assert.match(error.message, /available: list_files, read_file/);
      return true;
    });
  });

  it("names the bad field of an invalid input", async () => {
    const call = { name: "read_file", input: { path: "a.txt", startLine: "two" } };
    await assert.rejects(tools.execute(call, fx.context()), (error: unknown) => {
      assert.ok(error instanceof InvalidToolInputError);
      assert.equal(error.field, "startLine");
      return true;
    });
  });

  it("names an unknown key as the bad field", async () => {
    const call = { name: "read_file", input: { path: "a.txt", lines: 3 } };
    await assert.rejects(tools.execute(call, fx.context()), { field: "lines" });
  });

  it("gives a ToolError as an outcome the model can be sent", async () => {
    const outcome = await tools.run({ name: "read_file", input: { path: "../x" } }, fx.context());
    assert.equal(outcome.ok, false);
    assert.equal(!outcome.ok && outcome.error.code, "path_outside_project");
  });

  it("refuses a context with a limit that is not a positive whole number, naming it", () => {
    assert.throws(() => fx.context({ limits: { maxReadBytes: 0 } }), /invalid limits.maxReadBytes/);
  });

  it("refuses a context with an unknown approval policy, naming the kind", () => {
    assert.throws(
      () => fx.context({ approval: { command: "maybe" as "ask" } }),
      /invalid approval.command: must be auto, ask or deny/,
    );
  });

  it("refuses two tools of one name", () => {
    const again = defineTool({
      name: "read_file",
      description: "",
      kind: "read",
      input: z.object({}),
      execute: async () => 1,
    });
    assert.throws(() => builtinToolSet([again]), /two tools are named read_file/);
  });

  it("refuses a write under the deny policy without touching the file", async () => {
    const context = fx.context({ approval: { write: "deny" } });
    const call = { name: "write_file", input: { path: "b.txt", content: "b" } };
    await assert.rejects(tools.execute(call, context), (error: unknown) => {
      assert.ok(error instanceof ToolDeniedError);
      assert.match(error.message, /policy denies file changes/);
      return true;
    });
    assert.deepEqual(fx.names(), ["a.txt"]);
  });

  it("refuses a command under the deny policy", async () => {
    const context = fx.context({ approval: { command: "deny" } });
    await assert.rejects(
      tools.execute({ name: "run_command", input: { command: "true" } }, context),
      ToolDeniedError,
    );
  });

  it("never asks about a read", async () => {
    const asked: string[] = [];
    const context = fx.context({
      approval: { write: "ask", command: "ask" },
      approve: async (call) => {
        asked.push(call.tool);
        return false;
      },
    });
    await tools.execute({ name: "read_file", input: { path: "a.txt" } }, context);
    assert.deepEqual(asked, []);
  });

  it("runs an asked call once the approver says yes, showing it the call", async () => {
    const asked: ToolCallRequest[] = [];
    const context = fx.context({
      approval: { write: "ask" },
      approve: async (call) => {
        asked.push(call);
        return true;
      },
    });
    await tools.execute({ id: "c1", name: "write_file", input: { path: "b.txt", content: "b" } }, context);
    assert.deepEqual(asked, [
      { id: "c1", tool: "write_file", kind: "write", input: { path: "b.txt", content: "b" } },
    ]);
    assert.equal(fx.read("b.txt"), "b");
  });

  it("refuses an asked call the approver declines, with its reason", async () => {
    const context = fx.context({
      approval: { command: "ask" },
      approve: async () => ({ approved: false, reason: "not on a Friday" }),
    });
    await assert.rejects(
      tools.execute({ name: "run_command", input: { command: "touch ran" } }, context),
      /run_command was not allowed: not on a Friday/,
    );
    assert.deepEqual(fx.names(), ["a.txt"]);
  });

  it("refuses an asked call when there is no approver", async () => {
    const context = fx.context({ approval: { command: "ask" } });
    await assert.rejects(
      tools.execute({ name: "run_command", input: { command: "true" } }, context),
      /no one to ask/,
    );
  });

  it("stops waiting for approval when the signal fires", async () => {
    const controller = new AbortController();
    const context = fx.context({
      signal: controller.signal,
      approval: { write: "ask" },
      approve: () => new Promise(() => {}),
    });
    const pending = tools.execute({ name: "write_file", input: { path: "b.txt", content: "b" } }, context);
    controller.abort();
    await assert.rejects(pending, ToolAbortedError);
    assert.deepEqual(fx.names(), ["a.txt"]);
  });

  it("runs nothing once the signal has fired", async () => {
    const controller = new AbortController();
    controller.abort();
    const context = fx.context({ signal: controller.signal });
    await assert.rejects(
      tools.execute({ name: "read_file", input: { path: "a.txt" } }, context),
      ToolAbortedError,
    );
  });

  it("runs a tool defined outside the built-ins, with its input parsed", async () => {
    const echo = defineTool({
      name: "echo",
      description: "echo",
      kind: "read",
      input: z.object({ n: z.number().default(7) }),
      execute: async ({ n }) => ({ twice: n * 2 }),
    });
    assert.deepEqual(await new ToolSet([echo]).execute({ name: "echo", input: {} }, fx.context()), {
      twice: 14,
    });
  });
});
