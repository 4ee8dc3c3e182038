// The orchestrator's model → tools → model loop, driven through the public API with a scripted
// model (test/fixtures/scripted-provider.ts) and a real project directory.
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, it } from "node:test";
import {
  type LlmRequest,
  SessionBusyError,
  type SessionConfigInput,
  type SessionEvent,
  type SessionSystem,
  ToolCallNotPendingError,
  TurnCancelledError,
  type TurnPart,
  TurnTimedOutError,
} from "../src/index.js";
import { scriptedProviders } from "./fixtures/scripted-provider.js";
import { recorder, systemsForTests } from "./support/sessions.js";

const T = { timeout: 20_000 };
const start = systemsForTests();
const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function project(files: Record<string, string> = {}): string {
  const dir = mkdtempSync(join(tmpdir(), "sessionvisor-loop-"));
  dirs.push(dir);
  for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, name), content);
  return dir;
}

const script = (...steps: unknown[]) => JSON.stringify(steps);
const call = (name: string, input: unknown, id?: string) => ({ name, input, ...(id ? { id } : {}) });

async function session(
  config: SessionConfigInput = {},
  requests: LlmRequest[] = [],
): Promise<{ sys: SessionSystem; id: string; events: SessionEvent[]; rec: ReturnType<typeof recorder> }> {
  const sys = await start({ providers: scriptedProviders(requests) });
  const { id } = await sys.createSession({ llm: { provider: "scripted" }, ...config });
  const rec = recorder();
  await sys.subscribe(id, rec.listener);
  return { sys, id, events: rec.events, rec };
}

describe("the tool loop", () => {
  it("runs the tool the model asks for and gives the model its result", T, async () => {
    const requests: LlmRequest[] = [];
    const dir = project({ "a.txt": "alpha\n" });
    const { sys, id } = await session({ projectPath: dir }, requests);
    const reply = await sys.sendMessage(
      id,
      script({ calls: [call("read_file", { path: "a.txt" })] }, { text: "read it" }),
    );
    assert.equal(reply.text, "read it");
    assert.equal(reply.steps, 2);
    assert.equal(reply.toolCalls, 1);
    const second = requests[1]?.messages ?? [];
    const result = second.find((m) => m.role === "tool");
    assert.ok(result && result.role === "tool" && result.content.includes("alpha"), JSON.stringify(second));
    assert.ok(requests[0]?.tools?.some((t) => t.name === "read_file"));
  });

  it("keeps every call and result in the history, in order", T, async () => {
    const dir = project({ "a.txt": "alpha\n" });
    const { sys, id } = await session({ projectPath: dir });
    await sys.sendMessage(id, script({ calls: [call("read_file", { path: "a.txt" })] }, { text: "ok" }));
    const history = await sys.getHistory(id);
    assert.deepEqual(
      history.map((t) => t.role),
      ["user", "assistant", "tool", "assistant"],
    );
    assert.equal(history[1]?.toolCalls?.[0]?.name, "read_file");
    assert.equal(history[2]?.toolCallId, history[1]?.toolCalls?.[0]?.id);
    assert.deepEqual(history[3]?.usage, { inputTokens: 20, outputTokens: 4 });
  });

  it("runs the calls of one step in parallel and records each result", T, async () => {
    const dir = project({ "a.txt": "alpha\n", "b.txt": "beta\n" });
    const { sys, id, rec } = await session({ projectPath: dir });
    await sys.sendMessage(
      id,
      script(
        { calls: [call("read_file", { path: "a.txt" }), call("read_file", { path: "b.txt" })] },
        { text: "both" },
      ),
    );
    const results = rec.events.filter((e) => e.type === "tool_result");
    assert.equal(results.length, 2);
    assert.ok(results.every((e) => e.type === "tool_result" && e.ok));
    const history = await sys.getHistory(id);
    assert.equal(history.filter((t) => t.role === "tool").length, 2);
  });

  it("tells the model a refused path as a tool error, and the turn goes on", T, async () => {
    const dir = project();
    const { sys, id } = await session({ projectPath: dir });
    const reply = await sys.sendMessage(
      id,
      script({ calls: [call("read_file", { path: "../../etc/passwd" })] }, { text: "refused" }),
    );
    assert.equal(reply.text, "refused");
    const tool = (await sys.getHistory(id)).find((t) => t.role === "tool");
    assert.equal(tool?.isError, true);
    assert.match(tool?.content ?? "", /outside|climbs/);
  });

  it("ends a turn that keeps asking for tools at maxSteps, the last calls marked not run", T, async () => {
    const dir = project({ "a.txt": "alpha\n" });
    const { sys, id } = await session({ projectPath: dir, tools: { maxSteps: 3 } });
    const reply = await sys.sendMessage(id, script({ calls: [call("read_file", { path: "a.txt" })] }));
    assert.equal(reply.stopReason, "max_steps");
    assert.equal(reply.steps, 3);
    const tools = (await sys.getHistory(id)).filter((t) => t.role === "tool");
    assert.equal(tools.length, 3);
    assert.match(tools[2]?.content ?? "", /not run/);
  });

  it("runs a call the offline model is told to make, with no network", T, async () => {
    const dir = project({ "README.md": "# hello offline\n" });
    const sys = await start();
    const { id } = await sys.createSession({ projectPath: dir });
    const reply = await sys.sendMessage(id, "tool read_file README.md");
    assert.equal(reply.toolCalls, 1);
    assert.match(reply.text, /^read_file: .*hello offline/);
  });

  it("offers no tools to a session without a project", T, async () => {
    const requests: LlmRequest[] = [];
    const { sys, id } = await session({}, requests);
    await sys.sendMessage(id, script({ text: "plain" }));
    assert.equal(requests[0]?.tools, undefined);
  });

  it("carries the unified diff of a file change in its tool_result event", T, async () => {
    const dir = project({ "a.txt": "one\n" });
    const { sys, id, rec } = await session({ projectPath: dir });
    await sys.sendMessage(
      id,
      script(
        { calls: [call("read_file", { path: "a.txt" })] },
        { calls: [call("edit", { path: "a.txt", oldString: "one", newString: "two" })] },
        { text: "edited" },
      ),
    );
    assert.equal(readFileSync(join(dir, "a.txt"), "utf8"), "two\n");
    const edit = rec.events.find((e) => e.type === "tool_result" && e.name === "edit");
    assert.ok(edit?.type === "tool_result" && edit.diff?.includes("-one") && edit.diff.includes("+two"));
  });

  it("adds each turn's tokens to the session's usage", T, async () => {
    const { sys, id } = await session();
    await sys.sendMessage(id, script({ text: "a" }));
    await sys.sendMessage(id, script({ text: "b" }));
    await new Promise((r) => setTimeout(r, 20));
    const info = await sys.getSession(id);
    assert.deepEqual(info?.usage, { inputTokens: 20, outputTokens: 4 });
  });
});

describe("a crash between tool calls", () => {
  it("keeps the calls that ended and marks the rest interrupted, never a half-applied step", T, async () => {
    const dir = project({ "a.txt": "alpha\n" });
    const { sys, id, rec } = await session({ projectPath: dir, tools: { approval: { command: "auto" } } });
    const turn = sys.sendMessage(
      id,
      script({
        calls: [
          call("read_file", { path: "a.txt" }, "quick"),
          call("run_command", { command: "sleep 30" }, "slow"),
        ],
      }),
    );
    await rec.waitFor((e) => e.type === "tool_result" && e.callId === "quick");
    const orchestrator = sys.getOrchestratorPid(id);
    assert.ok(orchestrator);
    sys.runtime.exit(orchestrator, "kill");
    await assert.rejects(turn, /interrupted/);
    await rec.waitFor((e) => e.type === "turn_interrupted");
    const history = await sys.getHistory(id);
    assert.equal(history[0]?.status, "interrupted");
    const results = history.filter((t) => t.role === "tool");
    assert.deepEqual(
      results.map((t) => [t.toolCallId, t.status, t.isError ?? false]),
      [
        ["quick", "complete", false],
        ["slow", "interrupted", true],
      ],
    );
    // The next turn's model is sent a history it accepts: every call has its result.
    assert.equal((await sys.sendMessage(id, script({ text: "after" }))).text, "after");
  });
});

describe("approvals", () => {
  const ask = { approval: { write: "ask", command: "ask" } } as const;

  it("runs a call once approveToolCall answers its tool_approval_requested", T, async () => {
    const dir = project();
    const { sys, id, rec } = await session({ projectPath: dir, tools: ask });
    const turn = sys.sendMessage(
      id,
      script({ calls: [call("write_file", { path: "new.txt", content: "hi" })] }, { text: "wrote" }),
    );
    const asked = await rec.waitFor((e) => e.type === "tool_approval_requested");
    assert.ok(asked.type === "tool_approval_requested");
    assert.equal(existsSync(join(dir, "new.txt")), false);
    await sys.approveToolCall(id, asked.callId);
    assert.equal((await turn).text, "wrote");
    assert.equal(readFileSync(join(dir, "new.txt"), "utf8"), "hi");
  });

  it("tells the model a denied call's reason and runs nothing", T, async () => {
    const dir = project();
    const { sys, id, rec } = await session({ projectPath: dir, tools: ask });
    const turn = sys.sendMessage(
      id,
      script({ calls: [call("run_command", { command: "touch x" })] }, { text: "ok" }),
    );
    const asked = await rec.waitFor((e) => e.type === "tool_approval_requested");
    assert.ok(asked.type === "tool_approval_requested");
    await sys.denyToolCall(id, asked.callId, "not today");
    await turn;
    const tool = (await sys.getHistory(id)).find((t) => t.role === "tool");
    assert.match(tool?.content ?? "", /not today/);
    assert.equal(existsSync(join(dir, "x")), false);
  });

  it("denies a call nobody answers within approvalTimeoutMs", T, async () => {
    const dir = project();
    const { sys, id, rec } = await session({ projectPath: dir, tools: { ...ask, approvalTimeoutMs: 100 } });
    await sys.sendMessage(
      id,
      script({ calls: [call("run_command", { command: "touch x" })] }, { text: "ok" }),
    );
    const decided = rec.events.find((e) => e.type === "tool_approval_decided");
    assert.ok(decided?.type === "tool_approval_decided" && decided.by === "timeout" && !decided.approved);
    assert.equal(existsSync(join(dir, "x")), false);
  });

  it("refuses to approve a call that is not waiting", T, async () => {
    const { sys, id } = await session();
    await assert.rejects(sys.approveToolCall(id, "nope"), ToolCallNotPendingError);
  });
});

describe("turn control", () => {
  it(
    "cancels a running turn by its signal: TurnCancelledError, stored cancelled, command killed",
    T,
    async () => {
      const dir = project();
      const { sys, id, rec } = await session({ projectPath: dir, tools: { approval: { command: "auto" } } });
      const controller = new AbortController();
      const turn = sys.sendMessage(
        id,
        script({ calls: [call("run_command", { command: "sleep 30; touch late" })] }, { text: "never" }),
        { signal: controller.signal },
      );
      await rec.waitFor((e) => e.type === "tool_call");
      const began = Date.now();
      controller.abort();
      await assert.rejects(turn, TurnCancelledError);
      assert.ok(Date.now() - began < 5000);
      const history = await sys.getHistory(id);
      assert.equal(history[0]?.status, "cancelled");
      const tool = history.find((t) => t.role === "tool");
      assert.equal(tool?.isError, true);
      await rec.waitFor((e) => e.type === "turn_cancelled");
      assert.equal((await sys.sendMessage(id, script({ text: "still here" }))).text, "still here");
    },
  );

  it("cancels a message still waiting in the queue, leaving the running turn alone", T, async () => {
    const { sys, id, rec } = await session();
    const first = sys.sendMessage(id, script({ stall: true }), { timeoutMs: 2000 });
    await rec.waitFor((e) => e.type === "turn_started");
    const controller = new AbortController();
    const second = sys.sendMessage(id, script({ text: "b" }), { signal: controller.signal });
    controller.abort();
    await assert.rejects(second, TurnCancelledError);
    await assert.rejects(first, TurnTimedOutError);
  });

  it("cancels the running turn by cancelTurn, without a signal", T, async () => {
    const { sys, id, rec } = await session();
    const turn = sys.sendMessage(id, script({ stall: true }));
    await rec.waitFor((e) => e.type === "turn_started");
    assert.equal(await sys.cancelTurn(id, "stop now"), true);
    await assert.rejects(turn, (e: unknown) => e instanceof TurnCancelledError && /stop now/.test(e.message));
    assert.equal(await sys.cancelTurn(id), false);
  });

  it("rejects a message mid-turn when whenBusy is reject", T, async () => {
    const { sys, id, rec } = await session({ turns: { whenBusy: "reject" } });
    const first = sys.sendMessage(id, script({ stall: true }), { timeoutMs: 1000 });
    await rec.waitFor((e) => e.type === "turn_started");
    await assert.rejects(sys.sendMessage(id, script({ text: "b" })), SessionBusyError);
    await assert.rejects(first, TurnTimedOutError);
  });

  it("cancels the running turn for the new message when whenBusy is interrupt", T, async () => {
    const { sys, id, rec } = await session({ turns: { whenBusy: "interrupt" } });
    const first = sys.sendMessage(id, script({ stall: true }));
    await rec.waitFor((e) => e.type === "turn_started");
    const second = await sys.sendMessage(id, script({ text: "newer" }));
    await assert.rejects(first, TurnCancelledError);
    assert.equal(second.text, "newer");
    const history = await sys.getHistory(id);
    assert.equal(history[0]?.status, "cancelled");
  });

  it("times a turn out when the model sends nothing within firstTokenTimeoutMs", T, async () => {
    const { sys, id } = await session({ turns: { firstTokenTimeoutMs: 100 } });
    const began = Date.now();
    await assert.rejects(sys.sendMessage(id, script({ stall: true })), /sent nothing within 100 ms/);
    assert.ok(Date.now() - began < 3000);
    assert.equal((await sys.getHistory(id))[0]?.status, "timed_out");
  });
});

describe("stream", () => {
  it("yields the turn's start, tool call, result, text and reply in order", T, async () => {
    const dir = project({ "a.txt": "alpha\n" });
    const { sys, id } = await session({ projectPath: dir });
    const parts: TurnPart[] = [];
    for await (const part of sys.stream(
      id,
      script({ calls: [call("read_file", { path: "a.txt" })] }, { text: "fin" }),
    ))
      parts.push(part);
    assert.deepEqual(
      parts.map((p) => p.type),
      ["turn_started", "tool_call", "tool_result", "text", "done"],
    );
    const done = parts.at(-1);
    assert.ok(done?.type === "done" && done.reply.text === "fin");
  });

  it("cancels the turn when the loop is left early", T, async () => {
    const { sys, id, rec } = await session();
    for await (const part of sys.stream(id, script({ text: "partial" }, { stall: true }))) {
      if (part.type === "turn_started") break;
    }
    await rec.waitFor((e) => e.type === "turn_cancelled");
    assert.equal((await sys.getHistory(id))[0]?.status, "cancelled");
  });

  it("throws a failed turn's error from the loop", T, async () => {
    const { sys, id } = await session({ turns: { firstTokenTimeoutMs: 50 } });
    await assert.rejects(async () => {
      for await (const _ of sys.stream(id, script({ stall: true }))) {
        // nothing arrives
      }
    }, TurnTimedOutError);
  });
});
