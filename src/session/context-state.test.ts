import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { estimateTokens } from "../llm/index.js";
import { ContextState } from "./context-state.js";
import { restoreContextState } from "./conversation-schema.js";

const at = new Date("2026-11-24T12:00:00.000Z");
const limits = { maxHistory: 3, maxFiles: 2 };

describe("ContextState", () => {
  it("drops the oldest turns beyond maxHistory", () => {
    const state = new ContextState(limits);
    for (const text of ["a", "b", "c", "d"]) state.append("user", text, at);
    assert.deepEqual(
      state.history().map((t) => t.content),
      ["b", "c", "d"],
    );
  });

  it("keeps active files deduplicated, most recent first, bounded by maxFiles", () => {
    const state = new ContextState(limits);
    state.addFile("/a.ts");
    state.addFile("/b.ts");
    state.addFile("/a.ts");
    assert.deepEqual(state.activeFiles(), ["/a.ts", "/b.ts"]);
    assert.deepEqual(state.addFile("/c.ts").dropped, ["/b.ts"]);
    assert.deepEqual(state.activeFiles(), ["/c.ts", "/a.ts"]);
  });

  it("merges file metadata and counts accesses in the index", () => {
    const state = new ContextState(limits);
    state.addFile("/a.ts", { lang: "ts" }, at);
    state.addFile("/a.ts", { lines: 10 }, at);
    const [entry] = state.fileIndex();
    assert.deepEqual(entry?.metadata, { lang: "ts", lines: 10 });
    assert.equal(entry?.accessCount, 2);
    assert.equal(entry?.lastAccessed, at.toISOString());
  });

  it("rejects a malformed path", () => {
    const state = new ContextState(limits);
    assert.throws(() => state.addFile(""), /invalid path/);
    assert.throws(() => state.addFile("a\0b"), /invalid path/);
  });

  it("builds a context within the token budget, newest turns kept, in order", () => {
    const state = new ContextState({ maxHistory: 100, maxFiles: 10 });
    for (let i = 0; i < 50; i++)
      state.append(i % 2 ? "assistant" : "user", `message number ${i} `.repeat(10), at);
    const built = state.buildContext({ systemPrompt: "be brief", tokenBudget: 300 });
    assert.ok(built.tokens <= 300);
    assert.equal(built.messages[0]?.content, "be brief");
    assert.match(built.messages.at(-1)?.content ?? "", /message number 49/);
    assert.ok(built.droppedTurns > 0);
    const total = built.messages.reduce((sum, m) => sum + estimateTokens(m.content), 0);
    assert.equal(total, built.tokens);
  });

  it("lists the active files for the model", () => {
    const state = new ContextState(limits);
    state.addFile("/src/a.ts", { lang: "ts" });
    state.append("user", "hi", at);
    const built = state.buildContext({ tokenBudget: 1000 });
    assert.equal(built.messages[0]?.content, "Active files (most recent first):\n- /src/a.ts (lang=ts)");
    assert.deepEqual(built.includedFiles, ["/src/a.ts"]);
  });

  it("always includes the newest user message, shortened when it alone is over budget", () => {
    const state = new ContextState(limits);
    state.append("user", "x".repeat(10_000), at);
    const built = state.buildContext({ tokenBudget: 256 });
    assert.equal(built.truncated, true);
    assert.equal(built.messages.length, 1);
    assert.ok(built.tokens <= 256);
  });

  it("restores from a snapshot to the same state", () => {
    const state = new ContextState(limits);
    state.append("user", "hello", at);
    state.addFile("/a.ts", { k: 1 }, at);
    const copy = restoreContextState(JSON.parse(JSON.stringify(state.snapshot())), limits);
    assert.deepEqual(copy.snapshot(), state.snapshot());
    assert.equal(copy.append("user", "next", at).turn.id, "t2");
  });
});

describe("context counted with the model's tokenizer", () => {
  it("fills the budget by the encoding's count and says which tokenizer counted", async () => {
    const { tokenCounterFor } = await import("../llm/index.js");
    const counter = await tokenCounterFor("o200k_base", "openai", "gpt-4o");
    const state = new ContextState({ maxHistory: 100, maxFiles: 10 }, counter);
    // "x x x …": one token a word for o200k_base, about half a token a word for the estimate.
    for (let i = 0; i < 10; i++) state.append("user", "x ".repeat(50).trim(), new Date());
    const built = state.buildContext({ tokenBudget: 120 });
    assert.equal(built.tokenizer, "o200k_base");
    assert.equal(built.messages.length, 2);
    assert.ok(built.tokens <= 120);
  });
});

describe("a turn under way that does not fit the context", () => {
  function withHugeResult(): ContextState {
    const state = new ContextState({ maxHistory: 100, maxFiles: 10 });
    state.append("user", "old question ".repeat(50), new Date());
    state.append("assistant", "old answer ".repeat(50), new Date());
    const { turn } = state.append("user", "read the big file", new Date());
    state.recordCalls(turn.id, "", [{ id: "c1", name: "read_file", input: { path: "big" } }], new Date());
    state.recordResult(
      turn.id,
      { callId: "c1", name: "read_file", content: "x".repeat(40_000), isError: false },
      new Date(),
    );
    return state;
  }

  it("keeps the user's message, the call and its result, the result cut with a marker", () => {
    const built = withHugeResult().buildContext({ tokenBudget: 1000 });
    assert.deepEqual(
      built.messages.map((m) => m.role),
      ["user", "assistant", "tool"],
    );
    const result = built.messages[2];
    assert.ok(
      result?.role === "tool" && /cut to fit the context: \d+ of 40000 characters shown/.test(result.content),
    );
    assert.ok(built.tokens <= 1000, `${built.tokens} tokens`);
    assert.equal(built.truncated, true);
  });

  it("leaves the stored result whole", () => {
    const state = withHugeResult();
    state.buildContext({ tokenBudget: 1000 });
    assert.equal(state.history().at(-1)?.content.length, 40_000);
  });
});
