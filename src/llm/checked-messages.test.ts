import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { InvalidArgumentError } from "../errors.js";
import { checkMessages, checkTools } from "./checked-messages.js";

const message = (role: string, content: unknown) => Object.freeze({ role, content });
const frozenCall = (id: string, name = "read_file") => Object.freeze({ id, name, input: { path: "a" } });
const assistantCalling = (...ids: string[]) =>
  Object.freeze({
    role: "assistant",
    content: "",
    toolCalls: Object.freeze(ids.map((id) => frozenCall(id))),
  });
const result = (id: string, extra: object = {}) =>
  Object.freeze({ role: "tool", toolCallId: id, toolName: "read_file", content: "ok", ...extra });

const rejectsNaming = (check: () => void, field: string) =>
  assert.throws(check, (error: unknown) => error instanceof InvalidArgumentError && error.argument === field);
const rejectsAt = (messages: unknown[], index: number) =>
  assert.throws(
    () => checkMessages(messages),
    (error: unknown) =>
      error instanceof InvalidArgumentError && error.message.includes(`request.messages[${index}]`),
  );

/** A frozen user message that counts how often its role is read (a getter survives freezing). */
function counted(content: string): { message: object; reads: () => number } {
  let reads = 0;
  const message = Object.freeze(
    Object.defineProperties(
      {},
      {
        role: {
          get: () => {
            reads++;
            return "user";
          },
          enumerable: true,
        },
        content: { value: content, enumerable: true },
      },
    ),
  );
  return { message, reads: () => reads };
}

describe("checkMessages", () => {
  it("rejects a bad message added after a list it checked before, naming its index", () => {
    const history = [message("user", "a"), message("assistant", "b")];
    checkMessages(history);
    rejectsAt([...history, message("robot", "c")], 2);
  });

  it("still checks the messages before the part that repeats a list it checked", () => {
    const history = [message("system", "s"), message("user", "a"), message("assistant", "b")];
    checkMessages(history);
    rejectsAt([message("user", 42), ...history.slice(1), message("user", "c")], 0);
  });

  it("checks again a message that was not frozen, so a change to it is seen", () => {
    const open = { role: "user", content: "a" };
    const history = [message("system", "s"), open];
    checkMessages(history);
    open.role = "robot";
    rejectsAt([...history, message("assistant", "b"), message("user", "c")], 1);
  });

  it("accepts an assistant message with tool calls and the tool results that answer it", () => {
    assert.doesNotThrow(() =>
      checkMessages([
        message("user", "read a and b"),
        assistantCalling("c1", "c2"),
        result("c1"),
        result("c2", { isError: true }),
      ]),
    );
  });

  it("does not read again the checked part of a list grown by a reply and parallel tool results", () => {
    const first = counted("read them");
    const history = [message("system", "s"), first.message];
    checkMessages(history);
    const readsBefore = first.reads();
    const ids = ["c1", "c2", "c3", "c4", "c5", "c6"];
    checkMessages([...history, assistantCalling(...ids), ...ids.map((id) => result(id))]);
    assert.equal(first.reads(), readsBefore);
  });

  it("checks again an assistant message whose tool calls were not frozen, so a change to them is seen", () => {
    const calls = [{ id: "c1", name: "read_file", input: {} }];
    const assistant = Object.freeze({ role: "assistant", content: "", toolCalls: calls });
    const history = [message("user", "a"), assistant];
    checkMessages(history);
    calls[0]!.id = "";
    rejectsNaming(() => checkMessages([...history, result("c1")]), "request.messages[1].toolCalls[0].id");
  });

  const malformed: [string, string, unknown][] = [
    ["request.messages[0]", "a message that is null", null],
    ["request.messages[0]", "a message that is an array", ["user", "hi"]],
    ["request.messages[0].role", "an unknown role", { role: "robot", content: "hi" }],
    ["request.messages[0].content", "content that is not text", { role: "user", content: 42 }],
    ["request.messages[0].content", "an assistant message without content", { role: "assistant" }],
    [
      "request.messages[0].toolCalls",
      "tool calls that are not an array",
      { role: "assistant", content: "", toolCalls: {} },
    ],
    [
      "request.messages[0].toolCalls[1]",
      "a tool call that is not an object",
      { role: "assistant", content: "", toolCalls: [{ id: "c", name: "t", input: {} }, "t"] },
    ],
    [
      "request.messages[0].toolCalls[0].id",
      "a tool call without an id",
      { role: "assistant", content: "", toolCalls: [{ name: "t", input: {} }] },
    ],
    [
      "request.messages[0].toolCalls[0].name",
      "a tool call with an empty name",
      { role: "assistant", content: "", toolCalls: [{ id: "c", name: "", input: {} }] },
    ],
    [
      "request.messages[0].toolCalls[0].input",
      "a tool call without input",
      { role: "assistant", content: "", toolCalls: [{ id: "c", name: "t" }] },
    ],
    [
      "request.messages[0].toolCallId",
      "a tool result without toolCallId",
      { role: "tool", toolName: "t", content: "x" },
    ],
    [
      "request.messages[0].toolName",
      "a tool result without toolName",
      { role: "tool", toolCallId: "c", content: "x" },
    ],
    [
      "request.messages[0].content",
      "a tool result whose content is not text",
      { role: "tool", toolCallId: "c", toolName: "t", content: { ok: true } },
    ],
    [
      "request.messages[0].isError",
      "a tool result whose isError is not a boolean",
      { role: "tool", toolCallId: "c", toolName: "t", content: "x", isError: "yes" },
    ],
  ];
  for (const [field, what, bad] of malformed) {
    it(`rejects ${what}, naming ${field}`, () => {
      rejectsNaming(() => checkMessages([bad]), field);
    });
  }

  it("names the index of the bad message in a longer list", () => {
    rejectsNaming(
      () =>
        checkMessages([
          message("user", "a"),
          assistantCalling("c1"),
          result("c1"),
          { role: "tool", toolName: "t", content: "x" },
        ]),
      "request.messages[3].toolCallId",
    );
  });
});

describe("checkTools", () => {
  const tool = (extra: object = {}) => ({
    name: "read_file",
    description: "Reads a file",
    inputSchema: { type: "object", properties: { path: { type: "string" } }, required: ["path"] },
    ...extra,
  });

  it("accepts tools with names of letters, digits, _ and -, and a schema object", () => {
    assert.doesNotThrow(() =>
      checkTools([tool(), tool({ name: "run-Command_2" }), tool({ name: "x".repeat(64) })]),
    );
  });

  it("accepts an empty list", () => {
    assert.doesNotThrow(() => checkTools([]));
  });

  const malformed: [string, string, unknown][] = [
    ["request.tools", "tools that are not an array", { read_file: tool() }],
    ["request.tools[0]", "a tool that is null", [null]],
    ["request.tools[0].name", "a name with a space", [tool({ name: "read file" })]],
    ["request.tools[0].name", "a name with a dot", [tool({ name: "fs.read" })]],
    ["request.tools[0].name", "an empty name", [tool({ name: "" })]],
    ["request.tools[0].name", "a name of 65 characters", [tool({ name: "x".repeat(65) })]],
    ["request.tools[1].name", "a name given twice", [tool(), tool()]],
    ["request.tools[0].description", "a description that is not text", [tool({ description: 1 })]],
    ["request.tools[0].inputSchema", "a schema that is an array", [tool({ inputSchema: [] })]],
    ["request.tools[0].inputSchema", "a schema given as text", [tool({ inputSchema: "{}" })]],
    ["request.tools[0].inputSchema", "a schema that is a class instance", [tool({ inputSchema: new Map() })]],
  ];
  for (const [field, what, bad] of malformed) {
    it(`rejects ${what}, naming ${field}`, () => {
      rejectsNaming(() => checkTools(bad), field);
    });
  }
});
