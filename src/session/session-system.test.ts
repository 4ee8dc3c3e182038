import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { recorder, statuses, systemsForTests } from "../../test/support/sessions.js";
import { defaultProviders, OfflineProvider } from "../llm/index.js";
import { ManualClock } from "../runtime/index.js";
import { MemorySessionStore } from "../store/index.js";
import {
  InvalidSessionIdError,
  MaxSessionsError,
  SessionConfigError,
  SessionNotFoundError,
  SessionStartError,
  TurnQueueFullError,
} from "./errors.js";
import { newSessionId } from "./session-id.js";

const start = systemsForTests();

describe("SessionSystem: sessions", () => {
  it("creates an active session with its supervisor and both agents registered under their keys", async () => {
    const sys = await start();
    const info = await sys.createSession({ name: "first", projectPath: "/work/project" });
    assert.equal(info.status, "active");
    assert.match(info.id, /^session_/);
    for (const key of ["session_supervisor", "context_manager", "llm_orchestrator"]) {
      assert.ok(sys.registry.whereis(`${key}:${info.id}`), key);
    }
    assert.ok(sys.findSupervisor(info.id)?.equals(sys.registry.whereis(`session_supervisor:${info.id}`)));
    assert.ok(sys.getContextManagerPid(info.id));
    assert.ok(sys.getOrchestratorPid(info.id)?.equals(sys.registry.whereis(`llm_orchestrator:${info.id}`)));
  });

  it("keeps getLlmAgentPid as an alias of getOrchestratorPid", async () => {
    const sys = await start();
    const { id } = await sys.createSession();
    assert.ok(sys.getLlmAgentPid(id)?.equals(sys.getOrchestratorPid(id)));
  });

  it("makes the context manager and orchestrator children of the session's supervisor", async () => {
    const sys = await start();
    const { id } = await sys.createSession();
    const supervisor = sys.findSupervisor(id);
    assert.ok(sys.runtime.info(sys.getContextManagerPid(id) as never)?.parent.equals(supervisor));
    assert.ok(sys.runtime.info(sys.getOrchestratorPid(id) as never)?.parent.equals(supervisor));
  });

  it("never links a session supervisor to the manager", async () => {
    const sys = await start();
    const { id } = await sys.createSession();
    const links = sys.runtime.info(sys.findSupervisor(id) as never)?.links.map(String) ?? [];
    assert.equal(links.includes(String(sys.managerPid())), false);
  });

  it("lists sessions and gets one by id", async () => {
    const sys = await start();
    const a = await sys.createSession({ name: "a" });
    const b = await sys.createSession({ name: "b" });
    assert.deepEqual((await sys.listSessions()).map((s) => s.name).sort(), ["a", "b"]);
    assert.equal((await sys.getSession(b.id))?.name, "b");
    assert.equal((await sys.getSession(newSessionId())) ?? "nothing", "nothing");
    assert.ok(a.id !== b.id);
  });

  it("rejects a bad config naming the field, and creates nothing", async () => {
    const sys = await start();
    await assert.rejects(
      sys.createSession({ llm: { temperature: 7 } }),
      (e: unknown) => e instanceof SessionConfigError && e.field === "llm.temperature",
    );
    assert.deepEqual(await sys.listSessions(), []);
  });

  it("leaves nothing behind when a session's agent fails in init", async () => {
    const providers = defaultProviders().register("broken", () => {
      throw new Error("no API key");
    });
    const sys = await start({ providers });
    const processesBefore = sys.runtime.processCount;
    const keysBefore = sys.registry.count();
    await assert.rejects(sys.createSession({ llm: { provider: "broken" } }), SessionStartError);
    assert.deepEqual(await sys.listSessions(), []);
    assert.equal(sys.runtime.processCount, processesBefore);
    assert.equal(sys.registry.count(), keysBefore);
    assert.deepEqual(await sys.store.listSessions(), []);
  });

  it("refuses a session beyond maxSessions and creates nothing for it", async () => {
    const sys = await start({ maxSessions: 2 });
    await sys.createSession();
    await sys.createSession();
    await assert.rejects(sys.createSession(), MaxSessionsError);
    assert.equal((await sys.listSessions()).length, 2);
  });

  it("throws a typed not-found error for commands on an unknown session", async () => {
    const sys = await start();
    const ghost = newSessionId();
    await assert.rejects(sys.terminateSession(ghost), SessionNotFoundError);
    await assert.rejects(sys.sendMessage(ghost, "hi"), SessionNotFoundError);
    assert.equal(sys.findSupervisor(ghost), undefined);
  });

  it("validates ids wherever one is accepted", async () => {
    const sys = await start();
    for (const call of [
      () => sys.getSession("../../etc"),
      () => sys.terminateSession("session_x"),
      () => sys.sendMessage("'; drop table", "hi"),
    ]) {
      await assert.rejects(call(), InvalidSessionIdError);
    }
    assert.throws(() => sys.findSupervisor("nope"), InvalidSessionIdError);
  });
});

describe("SessionSystem: conversation", () => {
  it("answers a message through the orchestrator and keeps both turns in the history", async () => {
    const sys = await start();
    const { id } = await sys.createSession();
    const reply = await sys.sendMessage(id, "echo hello");
    assert.equal(reply.text, "hello");
    assert.deepEqual(
      (await sys.getHistory(id)).map((t) => [t.role, t.content]),
      [
        ["user", "echo hello"],
        ["assistant", "hello"],
      ],
    );
  });

  it("streams the reply as llm_delta events that add up to the reply", async () => {
    const sys = await start();
    const { id } = await sys.createSession();
    const rec = recorder();
    await sys.subscribe(id, rec.listener);
    const reply = await sys.sendMessage(id, "tell me about supervisors");
    const deltas = rec.events.flatMap((e) => (e.type === "llm_delta" ? [e.text] : []));
    assert.ok(deltas.length > 1);
    assert.equal(deltas.join(""), reply.text);
    assert.ok(rec.events.some((e) => e.type === "llm_done" && e.text === reply.text));
  });

  it("runs one turn at a time: concurrent messages are answered in order", async () => {
    const sys = await start();
    const { id } = await sys.createSession();
    const replies = await Promise.all(["echo 1", "echo 2", "echo 3"].map((m) => sys.sendMessage(id, m)));
    assert.deepEqual(
      replies.map((r) => r.text),
      ["1", "2", "3"],
    );
    assert.deepEqual(
      (await sys.getHistory(id)).map((t) => t.content),
      ["echo 1", "1", "echo 2", "2", "echo 3", "3"],
    );
  });

  it("keeps each session's waiting messages its own: a message queued in one never runs in another", async () => {
    const sys = await start({ providers: defaultProviders({ chunkDelayMs: 5 }) });
    const a = await sys.createSession();
    const b = await sys.createSession();
    const running = [sys.sendMessage(a.id, "echo a1 a1"), sys.sendMessage(b.id, "echo b1 b1")];
    const queued = [sys.sendMessage(a.id, "echo a2"), sys.sendMessage(b.id, "echo b2")];
    assert.deepEqual(
      (await Promise.all([...running, ...queued])).map((r) => r.text),
      ["a1 a1", "b1 b1", "a2", "b2"],
    );
    assert.deepEqual(
      (await sys.getHistory(a.id)).map((t) => t.content),
      ["echo a1 a1", "a1 a1", "echo a2", "a2"],
    );
    assert.deepEqual(
      (await sys.getHistory(b.id)).map((t) => t.content),
      ["echo b1 b1", "b1 b1", "echo b2", "b2"],
    );
    // A third session has never queued anything: its queue is still empty.
    const c = await sys.createSession();
    assert.equal((await sys.sendMessage(c.id, "echo c")).text, "c");
  });

  it("refuses a message with a clear error when the turn queue is full", async () => {
    const sys = await start({ providers: defaultProviders({ chunkDelayMs: 5 }) });
    const { id } = await sys.createSession({ limits: { maxQueuedTurns: 1 } });
    const first = sys.sendMessage(id, "echo one two three four");
    const second = sys.sendMessage(id, "echo queued");
    await new Promise((resolve) => setTimeout(resolve, 1));
    await assert.rejects(sys.sendMessage(id, "echo too many"), TurnQueueFullError);
    assert.equal((await first).text, "one two three four");
    assert.equal((await second).text, "queued");
  });

  it("reports a provider failure to the caller and keeps the session working", async () => {
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
    assert.equal((await sys.sendMessage(id, "echo fine")).text, "fine");
    assert.equal((await sys.getSession(id))?.status, "active");
  });

  it("rejects an empty message without starting a turn", async () => {
    const sys = await start();
    const { id } = await sys.createSession();
    await assert.rejects(sys.sendMessage(id, "   "), /invalid message/);
    assert.deepEqual(await sys.getHistory(id), []);
  });

  it("keeps at most maxHistory turns", async () => {
    const sys = await start();
    const { id } = await sys.createSession({ limits: { maxHistory: 4 } });
    for (const n of [1, 2, 3]) await sys.sendMessage(id, `echo ${n}`);
    assert.deepEqual(
      (await sys.getHistory(id)).map((t) => t.content),
      ["echo 2", "2", "echo 3", "3"],
    );
  });

  it("keeps at most maxFiles active files and caches their content per session", async () => {
    const sys = await start();
    const { id } = await sys.createSession({ limits: { maxFiles: 2 } });
    await sys.addFile(id, "/a.ts", { content: "A" });
    await sys.addFile(id, "/b.ts", { content: "B" });
    assert.deepEqual(await sys.addFile(id, "/c.ts", { content: "C" }), ["/c.ts", "/b.ts"]);
    assert.equal(sys.contextStore.get(id, "/a.ts"), undefined);
    assert.equal(sys.contextStore.get(id, "/c.ts"), "C");
  });
});

describe("SessionSystem: events and status", () => {
  it("sends session_created and the status change to both the session's and the global subscribers", async () => {
    const sys = await start();
    const all = recorder();
    sys.subscribeAll(all.listener);
    const { id } = await sys.createSession();
    assert.deepEqual(
      all.events.filter((e) => e.sessionId === id).map((e) => e.type),
      ["session_created", "session_status"],
    );
    const mine = recorder();
    await sys.subscribe(id, mine.listener);
    await sys.sendMessage(id, "echo x");
    assert.ok(mine.events.some((e) => e.type === "message_added"));
  });

  it("never delivers one session's events to another session's subscriber", async () => {
    const sys = await start();
    const a = await sys.createSession();
    const b = await sys.createSession();
    const rec = recorder();
    await sys.subscribe(a.id, rec.listener);
    await sys.sendMessage(b.id, "echo for b");
    await sys.terminateSession(b.id);
    assert.deepEqual(
      rec.events.filter((e) => e.sessionId !== a.id),
      [],
    );
  });

  it("stops delivering after unsubscribe", async () => {
    const sys = await start();
    const { id } = await sys.createSession();
    const rec = recorder();
    const subscription = await sys.subscribe(id, rec.listener);
    sys.unsubscribe(subscription);
    await sys.sendMessage(id, "echo x");
    assert.deepEqual(rec.events, []);
  });

  it("goes idle after the idle timeout and active again on the next message", async () => {
    const clock = new ManualClock();
    const sys = await start({ clock, idleSweepMs: 100 });
    const { id } = await sys.createSession({ limits: { idleTimeoutMs: 1000 } });
    const rec = recorder();
    await sys.subscribe(id, rec.listener);
    await clock.advance(900);
    assert.equal((await sys.getSession(id))?.status, "active");
    await clock.advance(300);
    assert.equal((await sys.getSession(id))?.status, "idle");
    await sys.sendMessage(id, "echo wake up");
    await rec.waitFor((e) => e.type === "session_status" && e.status === "active");
    assert.deepEqual(statuses(rec.events, id), ["idle", "active"]);
  });

  it("terminates with terminating, terminated, then session_terminated, and leaves nothing behind", async () => {
    const sys = await start();
    const { id } = await sys.createSession();
    await sys.addFile(id, "/a.ts", { content: "cached" });
    const rec = recorder();
    await sys.subscribe(id, rec.listener);
    const processes = [sys.findSupervisor(id), sys.getContextManagerPid(id), sys.getOrchestratorPid(id)];
    await sys.terminateSession(id);
    assert.deepEqual(
      rec.events.map((e) => (e.type === "session_status" ? e.status : e.type)),
      ["terminating", "terminated", "session_terminated"],
    );
    for (const pid of processes) assert.equal(sys.runtime.isAlive(pid as never), false);
    assert.deepEqual(
      sys.registry.select((e) => e.key.includes(id)),
      [],
    );
    assert.deepEqual(sys.contextStore.entries(id), []);
    assert.equal(sys.pubsub.subscriberCount(`session:${id}`), 0);
    assert.deepEqual(await sys.listSessions(), []);
    await assert.rejects(sys.terminateSession(id), SessionNotFoundError);
  });

  it("keeps a terminated session's record in the store under the same id", async () => {
    const sys = await start();
    const { id } = await sys.createSession({ name: "kept" });
    await sys.terminateSession(id);
    const stored = await sys.store.getSession(id);
    assert.equal(stored?.record.status, "terminated");
    assert.equal(stored?.record.name, "kept");
  });
});

describe("SessionSystem: failed writes", () => {
  it("a store write that fails leaves the conversation as it was and the session working", async () => {
    const store = new MemorySessionStore();
    let failNext = false;
    const flaky = new Proxy(store, {
      get(target, property, receiver) {
        if (property === "changeConversation" && failNext) {
          return async () => {
            failNext = false;
            throw new Error("disk full");
          };
        }
        const value = Reflect.get(target, property, receiver);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
    const sys = await start({ store: flaky });
    const { id } = await sys.createSession();
    await sys.sendMessage(id, "echo one");
    failNext = true;
    await assert.rejects(sys.addFile(id, "/never.ts"), /disk full/);
    assert.deepEqual((await sys.getFiles(id)).active, []);
    assert.deepEqual(
      (await sys.getHistory(id)).map((t) => t.content),
      ["echo one", "one"],
    );
    assert.deepEqual(((await store.getConversation(id)) as { activeFiles: string[] }).activeFiles, []);
    assert.equal((await sys.sendMessage(id, "echo two")).text, "two");
  });
});
