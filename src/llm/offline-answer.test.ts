import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { inputFor, MAX_REPEAT, offlineAnswer, offlineReply } from "./offline-answer.js";
import type { LlmMessage, LlmToolDefinition } from "./provider.js";

const user = (content: string): LlmMessage => ({ role: "user", content });
const assistant = (content: string): LlmMessage => ({ role: "assistant", content });
const system = (content: string): LlmMessage => ({ role: "system", content });

describe("offlineAnswer", () => {
  it("quotes the last user message and names the model", () => {
    const answer = offlineAnswer("offline-1", [user("first"), assistant("ok"), user("second")]);
    assert.match(answer, /^\(offline offline-1\) You said: "second"\./);
  });

  it("counts the earlier turns, the context messages and the files listed in them", () => {
    const answer = offlineAnswer("m", [
      system("You are terse."),
      system("Active files (most recent first):\n- /src/a.ts (lang=ts)\n- /src/b.ts"),
      user("first"),
      assistant("ok"),
      user("second"),
    ]);
    assert.match(answer, /I see 2 earlier turns, 2 context messages and 2 files\./);
  });

  it("does not count a list as files unless its heading mentions files", () => {
    const answer = offlineAnswer("m", [system("Rules:\n- be brief\n- be kind"), user("hi")]);
    assert.match(answer, /I see 0 earlier turns, 1 context message and 0 files\./);
  });

  it("shortens a long message to one line when quoting it", () => {
    const answer = offlineAnswer("m", [user(`line one\n${"x".repeat(200)}`)]);
    const quoted = /You said: "([^"]*)"/.exec(answer)?.[1] ?? "";
    assert.equal(quoted.length, 80);
    assert.ok(quoted.startsWith("line one x") && quoted.endsWith("..."));
  });

  it("says so when the context has no message from the user", () => {
    assert.match(offlineAnswer("m", [system("You are terse.")]), /I see no message from you yet\./);
  });

  it("ends its acknowledgement saying it is deterministic", () => {
    assert.match(offlineAnswer("m", [user("hi")]), /so this answer is deterministic\.$/);
  });

  it("answers 'echo <text>' with the text, inner whitespace kept", () => {
    assert.equal(offlineAnswer("m", [user("  echo a  b\n c  ")]), "a  b\n c");
  });

  it("treats a bare 'echo' as an ordinary message", () => {
    assert.match(offlineAnswer("m", [user("echo")]), /You said: "echo"/);
  });

  it("answers 'repeat <n> <text>' with the text n times", () => {
    assert.equal(offlineAnswer("m", [user("repeat 3 hi there")]), "hi there hi there hi there");
  });

  for (const bad of ["repeat", "repeat 3", "repeat 0 x", `repeat ${MAX_REPEAT + 1} x`, "repeat x 3"]) {
    it(`explains the usage of repeat when given ${JSON.stringify(bad)}`, () => {
      assert.match(offlineAnswer("m", [user(bad)]), /^repeat needs a count from 1 to \d+ and some text/);
    });
  }

  it("answers 'recall' with the user's earlier messages, numbered, without the current one", () => {
    const answer = offlineAnswer("m", [user("first"), assistant("ok"), user("second"), user("recall")]);
    assert.equal(answer, 'Earlier in the context I was given, you said:\n1. "first"\n2. "second"');
  });

  it("answers 'recall' saying so when nothing came before", () => {
    assert.match(offlineAnswer("m", [user("recall")]), /You have said nothing before this/);
  });
});

describe("inputFor (a scripted call's input)", () => {
  const tool = (inputSchema: Record<string, unknown>): LlmToolDefinition => ({
    name: "t",
    description: "",
    inputSchema,
  });
  const two = tool({
    type: "object",
    properties: { path: { type: "string" }, count: { type: "integer" } },
    required: ["path", "count"],
  });

  it("leaves out the properties that got no word", () => {
    assert.deepEqual(inputFor("a.txt", two), { path: "a.txt" });
  });

  it("keeps a word that does not read as the property's type as text", () => {
    assert.deepEqual(inputFor("a.txt many", two), { path: "a.txt", count: "many" });
  });

  it("lays a JSON array on the properties as text, not as the input", () => {
    assert.deepEqual(inputFor('["a.txt"]', two), { path: '["a.txt"]' });
  });

  it("puts a required property missing from properties after the others", () => {
    const odd = tool({ type: "object", properties: { a: {} }, required: ["b", "a"] });
    assert.deepEqual(inputFor("x y z", odd), { a: "x", b: "y z" });
  });

  it("gives {} for empty text, and for a tool it was not given", () => {
    assert.deepEqual([inputFor("  ", two), inputFor("a.txt", undefined)], [{}, {}]);
  });
});

describe("offlineReply", () => {
  const tools = [{ name: "t", description: "", inputSchema: { type: "object" } }];

  it("answers a message without tool lines as offlineAnswer does", () => {
    const messages = [user("hello")];
    assert.deepEqual(offlineReply("m", messages, tools), {
      text: offlineAnswer("m", messages),
      toolCalls: [],
    });
  });

  it("reads tool lines only in the last message, and only when it is the user's", () => {
    const reply = offlineReply("m", [user("tool t"), assistant("done")], tools);
    assert.deepEqual(reply.toolCalls, []);
  });

  it("names its calls after the request's length and their place", () => {
    const reply = offlineReply("m", [system("s"), user("a"), assistant("b"), user("tool t\nloop t")], tools);
    assert.deepEqual(
      reply.toolCalls.map((call) => call.id),
      ["call_4_1", "call_4_2"],
    );
  });
});
