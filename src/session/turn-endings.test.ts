// Every turn ends honestly: a user turn that got no reply is marked with how it ended
// (interrupted, timed_out, failed), an event says so, and the caller gets a typed session error.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { faultProviders } from "../../test/fixtures/fault-provider.js";
import { recorder, systemsForTests } from "../../test/support/sessions.js";
import { defaultProviders, OfflineProvider } from "../llm/index.js";
import type { Pid } from "../runtime/index.js";
import type { ContextSnapshot, ContextState, ConversationTurn } from "./context-state.js";
import { restoreContextState } from "./conversation-schema.js";
import type { SessionSystem } from "./session-system.js";

const start = systemsForTests();
const T = { timeout: 30_000 };
const LIMITS = { maxHistory: 100, maxFiles: 10 };
const AT = "2024-01-01T00:00:00.000Z";

/** A reply long enough, and slow enough, to be cut short while it streams. */
const SLOW_REPLY = `echo ${Array.from({ length: 40 }, (_, i) => `w${i}`).join(" ")}`;
const slowProviders = () => defaultProviders({ chunkDelayMs: 20 });

function turn(id: number, role: ConversationTurn["role"], status: string = "complete"): ConversationTurn {
  return { id: `t${id}`, role, content: `${role} ${id}`, at: AT, status } as ConversationTurn;
}

function restored(turns: ConversationTurn[]): ContextState {
  const snapshot: ContextSnapshot = {
    version: 1,
    nextTurn: turns.length + 1,
    turns,
    activeFiles: [],
    fileIndex: [],
  };
  return restoreContextState(snapshot, LIMITS);
}

const shape = (turns: ConversationTurn[]) => turns.map((t) => `${t.role}:${t.status}`);

function hasCode(code: string, extra: (e: Record<string, unknown>) => boolean = () => true) {
  return (error: unknown) => {
    const e = error as Record<string, unknown>;
    assert.equal(e?.code, code, `expected a ${code} error, got ${String(error)}`);
    return extra(e);
  };
}

/** Sends `text` and resolves once the reply has started streaming, with the pending reply. */
async function sendAndWaitForDelta(
  sys: SessionSystem,
  id: string,
  text: string,
): Promise<{ reply: Promise<unknown> }> {
  const rec = recorder();
  await sys.subscribe(id, rec.listener);
  const reply = sys.sendMessage(id, text);
  // Observed, so that a rejection before the assertions is not reported as unhandled.
  reply.catch(() => {});
  await rec.waitFor((e) => e.type === "llm_delta", 10_000);
  return { reply };
}

async function until(test: () => Promise<boolean>, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await test())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe("ContextState: unanswered user turns", () => {
  it("marks every user turn without a reply interrupted, not only the last", () => {
    const state = restored([turn(1, "user"), turn(2, "user"), turn(3, "assistant"), turn(4, "user")]);
    state.interruptUnanswered();
    assert.deepEqual(shape(state.history()), [
      "user:interrupted",
      "user:complete",
      "assistant:complete",
      "user:interrupted",
    ]);
  });

  it("leaves a user turn that already ended another way as it is", () => {
    const state = restored([turn(1, "user", "timed_out"), turn(2, "user", "failed"), turn(3, "user")]);
    state.interruptUnanswered();
    assert.deepEqual(shape(state.history()), ["user:timed_out", "user:failed", "user:interrupted"]);
  });
});

describe("a process that dies mid-turn leaves the turn interrupted", () => {
  it(
    "a turn cut short by a killed orchestrator is marked interrupted and reported, and the next message is answered",
    T,
    async () => {
      const sys = await start({ providers: slowProviders() });
      const { id } = await sys.createSession();
      const rec = recorder();
      await sys.subscribe(id, rec.listener);
      const { reply } = await sendAndWaitForDelta(sys, id, SLOW_REPLY);
      sys.runtime.exit(sys.getOrchestratorPid(id) as Pid, "kill");
      await reply.catch(() => {});
      const event = await rec.waitFor((e) => e.type === "turn_interrupted", 10_000);
      assert.equal(event.type === "turn_interrupted" && event.turn.content, SLOW_REPLY);
      assert.equal((await sys.sendMessage(id, "echo again")).text, "again");
      assert.deepEqual(shape(await sys.getHistory(id)), [
        "user:interrupted",
        "user:complete",
        "assistant:complete",
      ]);
    },
  );

  it(
    "the caller of a turn cut short by a killed orchestrator gets TurnInterruptedError naming the session",
    T,
    async () => {
      const sys = await start({ providers: slowProviders() });
      const { id } = await sys.createSession();
      const { reply } = await sendAndWaitForDelta(sys, id, SLOW_REPLY);
      sys.runtime.exit(sys.getOrchestratorPid(id) as Pid, "kill");
      await assert.rejects(
        reply,
        hasCode("turn_interrupted", (e) => e.name === "TurnInterruptedError" && e.sessionId === id),
      );
    },
  );

  it(
    "a turn cut short by a killed context manager ends interrupted, with no reply appended after it",
    T,
    async () => {
      const sys = await start({ providers: slowProviders() });
      const { id } = await sys.createSession();
      const { reply } = await sendAndWaitForDelta(sys, id, SLOW_REPLY);
      sys.runtime.exit(sys.getContextManagerPid(id) as Pid, "kill");
      await assert.rejects(
        reply,
        hasCode("turn_interrupted", (e) => e.turnId === "t1"),
      );
      assert.deepEqual(shape(await sys.getHistory(id)), ["user:interrupted"]);
    },
  );

  it(
    "a turn cut short by a killed session supervisor: the caller gets TurnInterruptedError and the turn is marked",
    T,
    async () => {
      const sys = await start({ providers: slowProviders() });
      const { id } = await sys.createSession();
      const { reply } = await sendAndWaitForDelta(sys, id, SLOW_REPLY);
      sys.runtime.exit(sys.findSupervisor(id) as Pid, "kill");
      await assert.rejects(
        reply,
        hasCode("turn_interrupted", (e) => e.sessionId === id),
      );
      await until(async () => (await sys.getSession(id))?.status === "active");
      assert.deepEqual(shape(await sys.getHistory(id)), ["user:interrupted"]);
    },
  );

  it("a killed orchestrator aborts its provider's request", T, async () => {
    let aborted = false;
    const providers = defaultProviders().register("watched", () => ({
      name: "watched",
      async *stream(request) {
        yield { type: "delta", text: "started" };
        await new Promise((resolve) => request.signal?.addEventListener("abort", resolve, { once: true }));
        aborted = true;
      },
    }));
    const sys = await start({ providers });
    const { id } = await sys.createSession({ llm: { provider: "watched" } });
    const { reply } = await sendAndWaitForDelta(sys, id, "hello");
    sys.runtime.exit(sys.getOrchestratorPid(id) as Pid, "kill");
    await reply.catch(() => {});
    await until(async () => aborted);
  });

  it(
    "a message queued behind a turn gets SessionUnavailableError when its session is terminated",
    T,
    async () => {
      const sys = await start({ providers: slowProviders() });
      const { id } = await sys.createSession();
      const { reply: first } = await sendAndWaitForDelta(sys, id, SLOW_REPLY);
      const queued = sys.sendMessage(id, "echo queued");
      queued.catch(() => {});
      await until(async () => {
        const status = (await sys.runtime.call(sys.getOrchestratorPid(id) as Pid, { op: "status" })) as {
          value?: { queued: number };
        };
        return status.value?.queued === 1;
      });
      await sys.terminateSession(id);
      await assert.rejects(
        queued,
        hasCode("session_unavailable", (e) => e.sessionId === id),
      );
      await first.catch(() => {});
    },
  );

  it(
    "a provider failure ends the turn failed, so a later restart does not call it interrupted",
    T,
    async () => {
      const providers = defaultProviders().register(
        "flaky",
        () =>
          new OfflineProvider({
            failOn: (r) => (r.messages.at(-1)?.content === "fail" ? new Error("upstream 503") : undefined),
          }),
      );
      const sys = await start({ providers });
      const { id } = await sys.createSession({ llm: { provider: "flaky" } });
      await assert.rejects(sys.sendMessage(id, "fail"), /upstream 503/);
      const rec = recorder();
      await sys.subscribe(id, rec.listener);
      sys.runtime.exit(sys.getContextManagerPid(id) as Pid, "kill");
      assert.deepEqual(shape(await sys.getHistory(id)), ["user:failed"]);
      assert.equal(
        rec.events.some((e) => e.type === "turn_interrupted"),
        false,
      );
    },
  );
});

describe("the turn deadline (inline)", () => {
  const TURN_TIMEOUT_MS = 1500;
  const startSilent = () => start({ providers: faultProviders(), turnTimeoutMs: TURN_TIMEOUT_MS });

  it(
    "a turn whose provider never answers fails the caller with TurnTimedOutError at the deadline",
    T,
    async () => {
      const sys = await startSilent();
      const { id } = await sys.createSession({ llm: { provider: "fault" } });
      await assert.rejects(
        sys.sendMessage(id, "STALL"),
        hasCode(
          "turn_timed_out",
          (e) =>
            e.name === "TurnTimedOutError" &&
            e.sessionId === id &&
            e.turnId === "t1" &&
            e.timeoutMs === TURN_TIMEOUT_MS,
        ),
      );
    },
  );

  it("a turn whose provider never answers is stored timed_out, with a turn_timed_out event", T, async () => {
    const sys = await startSilent();
    const { id } = await sys.createSession({ llm: { provider: "fault" } });
    const rec = recorder();
    await sys.subscribe(id, rec.listener);
    await sys.sendMessage(id, "STALL").catch(() => {});
    const event = await rec.waitFor((e) => (e.type as string) === "turn_timed_out");
    assert.equal((event as { turn?: ConversationTurn }).turn?.id, "t1");
    assert.deepEqual(shape(await sys.getHistory(id)), ["user:timed_out"]);
  });

  it("a session whose provider never answered answers its next message and stays active", T, async () => {
    const sys = await startSilent();
    const { id } = await sys.createSession({ llm: { provider: "fault" } });
    await sys.sendMessage(id, "STALL").catch(() => {});
    assert.equal((await sys.sendMessage(id, "hello")).text, "ok: hello");
    assert.equal((await sys.getSession(id))?.status, "active");
  });

  it("a provider that ignores the abort signal still cannot hold a turn past its deadline", T, async () => {
    const sys = await startSilent();
    const { id } = await sys.createSession({ llm: { provider: "fault" } });
    await assert.rejects(sys.sendMessage(id, "STALL_DEAF"), hasCode("turn_timed_out"));
    assert.equal((await sys.sendMessage(id, "hello")).text, "ok: hello");
  });

  it("a reply cut short by the deadline is kept, marked timed_out", T, async () => {
    const sys = await startSilent();
    const { id } = await sys.createSession({ llm: { provider: "fault" } });
    await sys.sendMessage(id, "PARTIAL").catch(() => {});
    const history = await sys.getHistory(id);
    assert.deepEqual(shape(history), ["user:timed_out", "assistant:timed_out"]);
    assert.equal(history[1]?.content, "partial");
  });

  it(
    "cancelling one session's turn leaves the turns of other sessions, then and later, complete",
    T,
    async () => {
      // Abort controllers of completed turns serve later turns of any session: none may carry a
      // cancellation over to another turn.
      const sys = await start({ providers: slowProviders() });
      const a = await sys.createSession();
      const b = await sys.createSession();
      for (let i = 0; i < 3; i++) {
        await sys.sendMessage(a.id, "echo warm");
        await sys.sendMessage(b.id, "echo warm");
      }
      const controller = new AbortController();
      const cancelled = sys.sendMessage(a.id, SLOW_REPLY, { signal: controller.signal });
      const other = sys.sendMessage(b.id, "echo one two three");
      setTimeout(() => controller.abort(), 30);
      await assert.rejects(cancelled, hasCode("turn_cancelled"));
      assert.equal((await other).text, "one two three");
      assert.equal((await sys.sendMessage(a.id, "echo again")).text, "again");
      assert.equal((await sys.sendMessage(b.id, "echo again")).text, "again");
    },
  );

  it(
    "a message queued behind a silent turn times out at its own deadline, without starting a turn",
    T,
    async () => {
      const sys = await startSilent();
      const { id } = await sys.createSession({ llm: { provider: "fault" } });
      const order: string[] = [];
      const silent = sys
        .sendMessage(id, "STALL", { timeoutMs: 4000 })
        .catch((e: { code?: string }) => order.push(`silent ${e.code}`));
      const queued = sys
        .sendMessage(id, "hello", { timeoutMs: 1500 })
        .catch((e: { code?: string }) => order.push(`queued ${e.code}`));
      await Promise.all([silent, queued]);
      assert.deepEqual(order, ["queued turn_timed_out", "silent turn_timed_out"]);
      assert.deepEqual(
        (await sys.getHistory(id)).map((t) => t.content),
        ["STALL"],
      );
    },
  );
});
