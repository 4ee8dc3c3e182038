import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { recorder, statuses, systemsForTests } from "../../test/support/sessions.js";
import type { Pid } from "../runtime/index.js";
import type { SessionSystem } from "./session-system.js";

const start = systemsForTests();

function pidsOf(sys: SessionSystem, id: string): string[] {
  return [sys.findSupervisor(id), sys.getContextManagerPid(id), sys.getOrchestratorPid(id)].map(String);
}

describe("fault isolation between sessions", () => {
  it("a killed session supervisor comes back with the same id and conversation while 99 others keep their pids and answer", async () => {
    const sys = await start();
    const sessions = await Promise.all(
      Array.from({ length: 100 }, (_, i) => sys.createSession({ name: `s${i}` })),
    );
    for (const s of sessions) await sys.sendMessage(s.id, `echo before ${s.name}`);
    const [victim, ...others] = sessions as [(typeof sessions)[0], ...typeof sessions];
    const before = new Map(others.map((s) => [s.id, pidsOf(sys, s.id)]));
    const managerBefore = String(sys.managerPid());
    const rec = recorder();
    await sys.subscribe(victim.id, rec.listener);

    sys.runtime.exit(sys.findSupervisor(victim.id) as Pid, "kill");
    // The others answer while the victim recovers...
    const during = await Promise.all(others.map((s) => sys.sendMessage(s.id, `echo during ${s.name}`)));
    assert.deepEqual(
      during.map((r) => r.text),
      others.map((s) => `during ${s.name}`),
    );
    await rec.waitFor((e) => e.type === "session_status" && e.status === "active");

    // ...and after: same pids, same manager.
    for (const s of others) assert.deepEqual(pidsOf(sys, s.id), before.get(s.id), s.name);
    assert.equal(String(sys.managerPid()), managerBefore);
    assert.deepEqual(statuses(rec.events, victim.id), ["recovering", "active"]);
    assert.ok(rec.events.some((e) => e.type === "session_crashed"));
    const info = await sys.getSession(victim.id);
    assert.equal(info?.status, "active");
    assert.equal(info?.restarts, 1);
    assert.deepEqual(
      (await sys.getHistory(victim.id)).map((t) => t.content),
      ["echo before s0", "before s0"],
    );
    assert.equal((await sys.sendMessage(victim.id, "echo after")).text, "after");
    assert.equal((await sys.listSessions()).length, 100);
  });

  it("crashes spread over many sessions never use up a budget they share", async () => {
    const sys = await start();
    const sessions = await Promise.all(Array.from({ length: 12 }, () => sys.createSession()));
    const rec = recorder();
    sys.subscribeAll(rec.listener);
    for (const s of sessions) sys.runtime.exit(sys.findSupervisor(s.id) as Pid, "kill");
    for (const s of sessions) {
      await rec.waitFor((e) => e.sessionId === s.id && e.type === "session_status" && e.status === "active");
    }
    assert.deepEqual(
      (await sys.listSessions()).map((s) => s.status),
      sessions.map(() => "active"),
    );
  });

  it("reports a recovered session active only once both of its agents are registered again", async () => {
    const sys = await start();
    const { id } = await sys.createSession();
    const seenWhenActive: boolean[] = [];
    sys.subscribeAll((event) => {
      if (event.sessionId === id && event.type === "session_status" && event.status === "active") {
        seenWhenActive.push(Boolean(sys.getContextManagerPid(id) && sys.getOrchestratorPid(id)));
      }
    });
    const rec = recorder();
    await sys.subscribe(id, rec.listener);
    sys.runtime.exit(sys.findSupervisor(id) as Pid, "kill");
    await rec.waitFor((e) => e.type === "session_status" && e.status === "active");
    assert.deepEqual(seenWhenActive, [true]);
  });

  it("a crashed ContextManager is restarted by the session's supervisor without leaving active or losing history", async () => {
    const sys = await start();
    const { id } = await sys.createSession();
    await sys.sendMessage(id, "echo remember me");
    const rec = recorder();
    await sys.subscribe(id, rec.listener);
    const supervisor = String(sys.findSupervisor(id));
    const old = sys.getContextManagerPid(id) as Pid;
    sys.runtime.exit(old, new Error("context manager blew up"));
    const history = await sys.getHistory(id);
    assert.deepEqual(
      history.map((t) => t.content),
      ["echo remember me", "remember me"],
    );
    assert.notEqual(String(sys.getContextManagerPid(id)), String(old));
    assert.equal(String(sys.findSupervisor(id)), supervisor);
    assert.deepEqual(statuses(rec.events, id), []);
    assert.equal((await sys.getSession(id))?.status, "active");
  });

  it("a crashed LLMOrchestrator is restarted and the session keeps answering", async () => {
    const sys = await start();
    const { id } = await sys.createSession();
    const old = sys.getOrchestratorPid(id) as Pid;
    sys.runtime.exit(old, new Error("orchestrator blew up"));
    assert.equal((await sys.sendMessage(id, "echo still answering")).text, "still answering");
    assert.notEqual(String(sys.getOrchestratorPid(id)), String(old));
    assert.equal((await sys.getSession(id))?.status, "active");
  });

  it("a session that keeps crashing goes to failed, the others are unaffected, and it can still be terminated", async () => {
    const sys = await start({ sessionRestartBudget: { maxRestarts: 2, period: 60_000 } });
    const flapping = await sys.createSession({ name: "flapping" });
    const steady = await sys.createSession({ name: "steady" });
    const steadyPids = pidsOf(sys, steady.id);
    const rec = recorder();
    await sys.subscribe(flapping.id, rec.listener);
    // Two restarts fit the budget; the third crash is one too many.
    for (let crash = 1; crash <= 3; crash++) {
      sys.runtime.exit(sys.findSupervisor(flapping.id) as Pid, "kill");
      const settled = () => statuses(rec.events, flapping.id).filter((s) => s === "active" || s === "failed");
      await rec.waitFor(() => settled().length >= crash);
    }
    assert.deepEqual(statuses(rec.events, flapping.id), [
      "recovering",
      "active",
      "recovering",
      "active",
      "recovering",
      "failed",
    ]);
    assert.equal((await sys.getSession(flapping.id))?.status, "failed");
    assert.ok(rec.events.some((e) => e.type === "session_crashed"));
    assert.equal(sys.findSupervisor(flapping.id), undefined);
    assert.deepEqual(pidsOf(sys, steady.id), steadyPids);
    assert.equal((await sys.sendMessage(steady.id, "echo fine")).text, "fine");
    await assert.rejects(sys.sendMessage(flapping.id, "echo hi"), /failed and cannot take messages/);
    await sys.terminateSession(flapping.id);
    assert.equal(await sys.getSession(flapping.id), undefined);
  });

  it("a killed SessionManager is restarted, rebuilds its table, and every session still works", async () => {
    const sys = await start();
    const sessions = await Promise.all([1, 2, 3].map((n) => sys.createSession({ name: `m${n}` })));
    await sys.sendMessage((sessions[0] as { id: string }).id, "echo kept");
    const supervisors = sessions.map((s) => String(sys.findSupervisor(s.id)));
    const manager = sys.managerPid() as Pid;
    const exited = sys.runtime.whenExited(manager);
    sys.runtime.exit(manager, "kill");
    await exited;
    const listed = await sys.listSessions();
    assert.notEqual(String(sys.managerPid()), String(manager));
    assert.deepEqual(listed.map((s) => [s.name, s.status]).sort(), [
      ["m1", "active"],
      ["m2", "active"],
      ["m3", "active"],
    ]);
    assert.deepEqual(
      sessions.map((s) => String(sys.findSupervisor(s.id))),
      supervisors,
      "sessions undisturbed",
    );
    for (const s of sessions) assert.equal((await sys.sendMessage(s.id, `echo ${s.name}`)).text, s.name);
    // The new manager watches the sessions too: a kill is still recovered.
    sys.runtime.exit(sys.findSupervisor((sessions[1] as { id: string }).id) as Pid, "kill");
    assert.equal((await sys.sendMessage((sessions[1] as { id: string }).id, "echo back")).text, "back");
    assert.equal((await sys.getSession((sessions[1] as { id: string }).id))?.status, "active");
  });
});

describe("concurrency", () => {
  it("creates 10 sessions at once with unique ids", async () => {
    const sys = await start();
    const created = await Promise.all(Array.from({ length: 10 }, () => sys.createSession()));
    assert.equal(new Set(created.map((s) => s.id)).size, 10);
    assert.equal((await sys.listSessions()).length, 10);
  });

  it("runs 20 concurrent create, terminate and send tasks without losing or mixing anything", async () => {
    const sys = await start();
    const keep = await Promise.all(Array.from({ length: 5 }, () => sys.createSession()));
    const tasks = Array.from({ length: 20 }, async (_, i) => {
      if (i % 3 === 0) {
        const s = await sys.createSession({ name: `t${i}` });
        await sys.sendMessage(s.id, `echo ${i}`);
        await sys.terminateSession(s.id);
        return "cycled";
      }
      const target = keep[i % keep.length] as { id: string };
      return (await sys.sendMessage(target.id, `echo ${target.id}:${i}`)).text;
    });
    const results = await Promise.all(tasks);
    results.forEach((result, i) => {
      if (i % 3 !== 0) assert.equal(result, `${(keep[i % keep.length] as { id: string }).id}:${i}`);
    });
    assert.deepEqual((await sys.listSessions()).map((s) => s.id).sort(), keep.map((s) => s.id).sort());
    for (const s of keep) {
      for (const turn of await sys.getHistory(s.id))
        assert.ok(turn.content.includes(s.id), "only its own messages");
    }
  });

  it("messages sent to many sessions at once reach only their own session", async () => {
    const sys = await start();
    const sessions = await Promise.all(Array.from({ length: 20 }, () => sys.createSession()));
    await Promise.all(
      sessions.flatMap((s) => [1, 2].map((n) => sys.sendMessage(s.id, `echo ${s.id} #${n}`))),
    );
    for (const s of sessions) {
      const contents = (await sys.getHistory(s.id)).map((t) => t.content);
      assert.equal(contents.length, 4);
      assert.ok(contents.every((c) => c.includes(s.id)));
    }
  });
});
