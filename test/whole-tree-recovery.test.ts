// Whatever part of the tree restarts — the sessions DynamicSupervisor, the manager, both, or
// the root under a parent supervisor — sessions come back by themselves from the store, with
// their ids, histories and honest statuses (DESIGN.md "Whole-tree recovery").
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import {
  DynamicSupervisor,
  MemorySessionStore,
  type Pid,
  Runtime,
  type SessionEvent,
  type SessionSystem,
  type StoredJson,
  Supervisor,
  silentLogger,
} from "../src/index.js";
import { recorder, startSystem, statuses, systemsForTests } from "./support/sessions.js";

const dir = mkdtempSync(join(tmpdir(), "sessionvisor-tree-"));
after(() => rmSync(dir, { recursive: true, force: true }));
let stores = 0;
const storePath = () => join(dir, `sessions-${++stores}.db`);

const start = systemsForTests();
const TEST = { timeout: 60_000 };
/** Recovery on a loaded 2-core machine can take a while; a healthy one takes milliseconds. */
const SETTLE_MS = 15_000;

interface Made {
  id: string;
  contents: string[];
}

/** `count` active sessions with two turns each, on an SQLite store. */
async function sessionsWithConversation(sys: SessionSystem, count: number, prefix = "s"): Promise<Made[]> {
  const made: Made[] = [];
  for (let i = 0; i < count; i++) {
    const { id } = await sys.createSession({ name: `${prefix}${i}` });
    await sys.sendMessage(id, `echo first of ${prefix}${i}`);
    await sys.sendMessage(id, `echo second of ${prefix}${i}`);
    made.push({ id, contents: (await sys.getHistory(id)).map((t) => t.content) });
  }
  return made;
}

/** Kills what is registered under each name, in one go, and waits until each is dead. */
async function kill(sys: SessionSystem, ...names: string[]): Promise<void> {
  const pids = names.map((name) => {
    const pid = sys.registry.whereis(name);
    assert.ok(pid, `${name} is running before the kill`);
    return pid;
  });
  const exited = pids.map((pid) => sys.runtime.whenExited(pid));
  for (const pid of pids) sys.runtime.exit(pid, "kill");
  await Promise.all(exited);
}

/** Resolves once every session in `ids` has announced `active` on `events`. */
async function allActiveAgain(rec: ReturnType<typeof recorder>, ids: string[]): Promise<void> {
  await Promise.all(
    ids.map((id) =>
      rec.waitFor(
        (e) => e.sessionId === id && e.type === "session_status" && e.status === "active",
        SETTLE_MS,
      ),
    ),
  );
}

/** Every session is listed active, has its whole history, and answers a new message. */
async function assertServing(sys: SessionSystem, made: Made[], label: string): Promise<void> {
  const listed = new Map((await sys.listSessions()).map((s) => [s.id, s.status]));
  for (const { id, contents } of made) {
    assert.equal(listed.get(id), "active", `${label}: ${id} is active`);
    assert.deepEqual(
      (await sys.getHistory(id)).map((t) => t.content),
      contents,
      `${label}: ${id} kept its history`,
    );
    const word = `${label.replace(/\W+/g, "-")}-${contents.length}`;
    assert.equal((await sys.sendMessage(id, `echo ${word}`)).text, word, `${label}: ${id} answers`);
    contents.push(`echo ${word}`, word);
  }
}

function crashes(events: SessionEvent[]): SessionEvent[] {
  return events.filter(
    (e) => e.type === "session_crashed" || (e.type === "session_status" && e.status === "failed"),
  );
}

describe("whole-tree recovery", () => {
  it(
    "after sessions_supervisor is killed, every session goes recovering, then active again with its id and history",
    TEST,
    async () => {
      const sys = await start({ storePath: storePath() });
      const made = await sessionsWithConversation(sys, 4);
      const rec = recorder();
      sys.subscribeAll(rec.listener);

      await kill(sys, "sessions_supervisor");
      await allActiveAgain(
        rec,
        made.map((m) => m.id),
      );

      for (const { id } of made) assert.deepEqual(statuses(rec.events, id), ["recovering", "active"], id);
      assert.deepEqual(
        crashes(rec.events).filter((e) => e.type === "session_status"),
        [],
        "no session failed",
      );
      await assertServing(sys, made, "after sessions_supervisor");
    },
  );

  it("a session brought back by a tree restart counts one restart", TEST, async () => {
    const sys = await start({ storePath: storePath() });
    const [made] = await sessionsWithConversation(sys, 1);
    const { id } = made as Made;
    const rec = recorder();
    sys.subscribeAll(rec.listener);
    await kill(sys, "sessions_supervisor");
    await allActiveAgain(rec, [id]);
    assert.equal((await sys.getSession(id))?.restarts, 1);
  });

  it(
    "after session_manager is killed, every session keeps running and serving with its history",
    TEST,
    async () => {
      const sys = await start({ storePath: storePath() });
      const made = await sessionsWithConversation(sys, 3);
      const supervisors = made.map((m) => String(sys.findSupervisor(m.id)));
      const rec = recorder();
      sys.subscribeAll(rec.listener);

      await kill(sys, "session_manager");
      await assertServing(sys, made, "after session_manager");

      assert.deepEqual(
        made.map((m) => String(sys.findSupervisor(m.id))),
        supervisors,
        "the sessions' processes were not disturbed",
      );
      for (const { id } of made) assert.deepEqual(statuses(rec.events, id), [], id);
    },
  );

  it(
    "after sessions_supervisor and session_manager die together, every session comes back active with its history",
    TEST,
    async () => {
      const sys = await start({ storePath: storePath() });
      const made = await sessionsWithConversation(sys, 4);
      const rec = recorder();
      sys.subscribeAll(rec.listener);

      await kill(sys, "session_manager", "sessions_supervisor");
      await allActiveAgain(
        rec,
        made.map((m) => m.id),
      );

      for (const { id } of made) assert.deepEqual(statuses(rec.events, id), ["recovering", "active"], id);
      await assertServing(sys, made, "after both");
    },
  );

  it(
    "when the root is killed and its parent supervisor restarts it, every session comes back active with its history",
    TEST,
    async () => {
      const runtime = new Runtime({ logger: silentLogger() });
      let sys: SessionSystem | undefined;
      try {
        const parent = await Supervisor.start(runtime, { strategy: "one_for_one", children: [] });
        sys = await startSystem({ runtime, storePath: storePath(), supervisor: parent });
        const made = await sessionsWithConversation(sys, 3);

        for (const round of [1, 2]) {
          const rec = recorder();
          sys.subscribeAll(rec.listener);
          const root = rootOf(sys);
          const exited = runtime.whenExited(root);
          runtime.exit(root, "kill");
          await exited;
          await allActiveAgain(
            rec,
            made.map((m) => m.id),
          );
          assert.notEqual(String(rootOf(sys)), String(root), "the parent started a new root");
          for (const { id } of made) assert.deepEqual(statuses(rec.events, id), ["recovering", "active"], id);
          await assertServing(sys, made, `after root restart ${round}`);
        }
      } finally {
        await sys?.stop();
        await runtime.shutdown();
      }
    },
  );

  it(
    "a tree restart leaves a hibernated session asleep, a failed one failed and a terminated one terminated",
    TEST,
    async () => {
      const sys = await start({
        storePath: storePath(),
        sessionRestartBudget: { maxRestarts: 1, period: 60_000 },
      });
      const [asleep, broken, ended, awake] = await sessionsWithConversation(sys, 4);
      const ids = (m: Made | undefined) => (m as Made).id;
      await sys.hibernateSession(ids(asleep));
      await sys.terminateSession(ids(ended));
      const rec = recorder();
      sys.subscribeAll(rec.listener);
      for (let n = 0; n < 2; n++) {
        const pid = sys.findSupervisor(ids(broken)) as Pid;
        const exited = sys.runtime.whenExited(pid);
        sys.runtime.exit(pid, "kill");
        await exited;
        if (n === 0) await allActiveAgain(rec, [ids(broken)]);
      }
      await rec.waitFor(
        (e) => e.sessionId === ids(broken) && e.type === "session_status" && e.status === "failed",
      );

      await kill(sys, "sessions_supervisor");
      await allActiveAgain(rec, [ids(awake)]);

      const listed = new Map((await sys.listSessions()).map((s) => [s.id, s]));
      assert.equal(listed.get(ids(asleep))?.status, "idle");
      assert.equal(listed.get(ids(asleep))?.hibernated, true);
      assert.equal(sys.findSupervisor(ids(asleep)), undefined, "a hibernated session is not started");
      assert.equal(listed.get(ids(broken))?.status, "failed");
      assert.equal(sys.findSupervisor(ids(broken)), undefined, "a failed session is not started");
      assert.equal(listed.has(ids(ended)), false, "a terminated session is not listed");
      assert.equal((await sys.store.getSession(ids(ended)))?.record.status, "terminated");
      assert.deepEqual(
        (await sys.getHistory(ids(asleep))).map((t) => t.content),
        (asleep as Made).contents,
        "the hibernated session wakes with its history",
      );
    },
  );

  it("an idle session passes through recovering and comes back active", TEST, async () => {
    const sys = await start({ storePath: storePath(), idleSweepMs: 20 });
    const { id } = await sys.createSession({ limits: { idleTimeoutMs: 50 } });
    await sys.sendMessage(id, "echo hello");
    const rec = recorder();
    sys.subscribeAll(rec.listener);
    await rec.waitFor((e) => e.sessionId === id && e.type === "session_status" && e.status === "idle");

    await kill(sys, "sessions_supervisor");
    await allActiveAgain(rec, [id]);

    assert.deepEqual(statuses(rec.events, id).slice(0, 3), ["idle", "recovering", "active"]);
    assert.deepEqual(
      (await sys.getHistory(id)).map((t) => t.content),
      ["echo hello", "hello"],
    );
  });

  it(
    "a session whose own budget ran out while the manager was down is failed, not started again",
    TEST,
    async () => {
      const sys = await start({
        storePath: storePath(),
        sessionRestartBudget: { maxRestarts: 1, period: 60_000 },
      });
      const [flapping, steady] = await sessionsWithConversation(sys, 2);
      const flappingId = (flapping as Made).id;
      const rec = recorder();
      sys.subscribeAll(rec.listener);
      const first = sys.findSupervisor(flappingId) as Pid;
      sys.runtime.exit(first, "kill");
      await allActiveAgain(rec, [flappingId]);

      // Both in one go: the sessions supervisor gives up on the session before a manager can hear it.
      const manager = sys.managerPid() as Pid;
      const second = sys.findSupervisor(flappingId) as Pid;
      sys.runtime.exit(manager, "kill");
      sys.runtime.exit(second, "kill");
      await rec.waitFor(
        (e) => e.sessionId === flappingId && e.type === "session_status" && e.status === "failed",
        SETTLE_MS,
      );

      assert.equal((await sys.getSession(flappingId))?.status, "failed");
      assert.equal(sys.findSupervisor(flappingId), undefined);
      assert.equal((await sys.getSession((steady as Made).id))?.status, "active");
    },
  );

  it("sessions in worker threads come back after sessions_supervisor is killed, each started once", {
    timeout: 120_000,
  }, async () => {
    const sys = await start({
      storePath: storePath(),
      isolation: "thread",
      hostLimits: { hangTimeoutMs: 10_000 },
    });
    const made = await sessionsWithConversation(sys, 2);
    const rec = recorder();
    sys.subscribeAll(rec.listener);

    await kill(sys, "sessions_supervisor");
    await allActiveAgain(
      rec,
      made.map((m) => m.id),
    );

    assert.deepEqual(
      crashes(rec.events).filter((e) => e.type === "session_status"),
      [],
    );
    for (const { id } of made) assert.deepEqual(statuses(rec.events, id), ["recovering", "active"], id);
    await assertServing(sys, made, "threads");
  });

  it(
    "a session is started again only once the processes of its previous tree have let go of its names",
    TEST,
    async () => {
      const store = new HeldBackReads();
      const sys = await start({ store });
      const [made] = await sessionsWithConversation(sys, 1);
      const { id } = made as Made;
      const rec = recorder();
      sys.subscribeAll(rec.listener);
      // The session's supervisor is busy restarting its context manager, whose read of the
      // conversation is held back: the supervisor outlives its killed parent until it is done.
      const released = store.holdNextRead();
      sys.runtime.exit(sys.getContextManagerPid(id) as Pid, "kill");
      await store.readHeld;
      const old = sys.findSupervisor(id) as Pid;
      await kill(sys, "sessions_supervisor");
      assert.ok(sys.runtime.isAlive(old), "the old session supervisor is still stopping");
      setTimeout(released, 300);
      await allActiveAgain(rec, [id]);

      assert.deepEqual(statuses(rec.events, id), ["recovering", "active"]);
      assert.notEqual(String(sys.findSupervisor(id)), String(old));
      await assertServing(sys, [made as Made], "after the old tree let go");
    },
  );

  it(
    "a session its sessions supervisor is restarting when the manager rebuilds is left to that restart, not started twice",
    TEST,
    async () => {
      const store = new HeldBackReads();
      const sys = await start({ store });
      const [restarting, other] = await sessionsWithConversation(sys, 2);
      const id = (restarting as Made).id;
      const rec = recorder();
      sys.subscribeAll(rec.listener);
      // The session's restart is held in its first try, which will fail: the sessions supervisor
      // then keeps it as restarting and tries again through its mailbox.
      const released = store.holdNextRead(new Error("the disk hiccupped"));
      sys.runtime.exit(sys.findSupervisor(id) as Pid, "kill");
      await store.readHeld;
      await kill(sys, "session_manager");
      // The new manager's question for the sessions supervisor's children waits behind that try.
      const tree = sys.registry.whereis("sessions_supervisor") as Pid;
      await until(() => (sys.runtime.info(tree)?.mailboxLength ?? 0) > 0);
      released();
      await allActiveAgain(rec, [id]);

      const counts = await DynamicSupervisor.countChildren(sys.runtime, tree);
      assert.deepEqual([counts.specs, counts.active], [2, 2], "each session has one supervisor");
      assert.deepEqual(statuses(rec.events, id), ["recovering", "active"]);
      assert.equal((await sys.getSession((other as Made).id))?.status, "active");
      await assertServing(sys, [restarting as Made, other as Made], "after a restart the manager left alone");
    },
  );

  it(
    "chaos: sessions_supervisor, then session_manager, then both are killed, and after each every session serves its whole history",
    TEST,
    async () => {
      const sys = await start({ storePath: storePath() });
      const made = await sessionsWithConversation(sys, 5);
      const rounds: [string, string[], boolean][] = [
        ["sessions_supervisor", ["sessions_supervisor"], true],
        ["session_manager", ["session_manager"], false],
        ["the root's children", ["session_manager", "sessions_supervisor"], true],
      ];
      for (const [label, names, sessionsRestart] of rounds) {
        const rec = recorder();
        sys.subscribeAll(rec.listener);
        await kill(sys, ...names);
        if (sessionsRestart)
          await allActiveAgain(
            rec,
            made.map((m) => m.id),
          );
        await assertServing(sys, made, `after ${label}`);
        assert.deepEqual(
          crashes(rec.events).filter((e) => e.type === "session_status"),
          [],
          `after ${label}: no session failed`,
        );
      }
    },
  );
});

/** A store whose next conversation read waits until released. */
class HeldBackReads extends MemorySessionStore {
  private hold: Promise<void> | undefined;
  private held: (() => void) | undefined;
  /** Resolves when the held-back read has begun. */
  readHeld: Promise<void> = Promise.resolve();

  private failure: Error | undefined;

  /** Holds the next read until the returned function is called; then it fails with `failure`, if given. */
  holdNextRead(failure?: Error): () => void {
    this.failure = failure;
    let release!: () => void;
    this.hold = new Promise((resolve) => {
      release = resolve;
    });
    this.readHeld = new Promise((resolve) => {
      this.held = resolve;
    });
    return release;
  }

  override async getConversation(id: string): Promise<StoredJson | undefined> {
    const hold = this.hold;
    this.hold = undefined;
    if (hold) {
      const failure = this.failure;
      this.failure = undefined;
      this.held?.();
      await hold;
      if (failure) throw failure;
    }
    return super.getConversation(id);
  }
}

async function until(condition: () => boolean, ms = SETTLE_MS): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    assert.ok(Date.now() < deadline, "the condition did not come true in time");
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}

/** The root supervisor: the parent of sessions_supervisor. */
function rootOf(sys: SessionSystem): Pid {
  const tree = sys.registry.whereis("sessions_supervisor");
  const root = tree && sys.runtime.info(tree)?.parent;
  assert.ok(root, "the tree is running");
  return root;
}
