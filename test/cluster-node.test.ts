// Three cluster nodes in one process on the real NATS and Postgres: sessions created from any
// node are spread by load, every session API call from any node reaches the session's owner,
// and a session's events reach a subscriber on another node in order.
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { ClusterSessions, ClusterUnavailableError } from "../src/cluster/index.js";
import {
  defaultProviders,
  type SessionEvent,
  SessionExistsError,
  SessionNotFoundError,
  type TurnPart,
} from "../src/index.js";
import { GenServer, isDownMessage } from "../src/runtime/index.js";
import { newSessionId } from "../src/session/session-id.js";
import { Supervisor } from "../src/supervision/index.js";
import { startCluster } from "./fixtures/cluster-node-support.js";
import { natsFixture } from "./support/nats.js";
import { TestSchemas } from "./support/postgres-test-db.js";

const schemas = new TestSchemas();
after(() => schemas.dropAll());

describe("cluster nodes", () => {
  it("sessions created from any node land spread over the nodes", { timeout: 60_000 }, async (t) => {
    const { nodes } = await startCluster(t, schemas);
    const owners: string[] = [];
    for (let i = 0; i < 6; i++) {
      const info = await (nodes[i % 3] as (typeof nodes)[number]).sessions.createSession();
      assert.equal(await nodes[0]?.sessions.ownerOf(info.id), info.node);
      owners.push(info.node);
    }
    const counts = new Map<string, number>();
    for (const owner of owners) counts.set(owner, (counts.get(owner) ?? 0) + 1);
    assert.ok(counts.size >= 2, `all six sessions on ${[...counts.keys()]}`);
    assert.ok(Math.max(...counts.values()) <= 4, `placement ${JSON.stringify([...counts])}`);
  });

  it("places no session on a node over its maxRssMb while another node has room", {
    timeout: 60_000,
  }, async (t) => {
    // node0's limit is below any Node process's memory: it reports itself full.
    const { nodes } = await startCluster(t, schemas, {
      optionsFor: (node) => (node === "node0" ? { maxRssMb: 1 } : {}),
    });
    const [full] = nodes as [(typeof nodes)[0]];
    const deadline = Date.now() + 10_000;
    while (!nodes[1]?.liveMembers().find((m) => m.node === "node0")?.full && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 20));
    for (let i = 0; i < 6; i++) {
      const info = await full.sessions.createSession();
      assert.notEqual(info.node, "node0");
    }
  });

  it("a message sent from any node reaches the owner and its reply comes back", {
    timeout: 60_000,
  }, async (t) => {
    const { nodes } = await startCluster(t, schemas);
    const [a, b, c] = nodes as [(typeof nodes)[0], (typeof nodes)[0], (typeof nodes)[0]];
    const { id, node } = await a.sessions.createSession();
    assert.equal((await b.sessions.sendMessage(id, "echo from b")).text, "from b");
    assert.equal((await c.sessions.sendMessage(id, "echo from c")).text, "from c");
    assert.equal((await a.sessions.sendMessage(id, "echo from a")).text, "from a");
    assert.deepEqual(
      (await c.sessions.getHistory(id)).map((turn) => turn.content),
      ["echo from b", "from b", "echo from c", "from c", "echo from a", "from a"],
    );
    const info = await b.sessions.getSession(id);
    assert.equal(info?.node, node);
    assert.equal(info?.status, "active");
    // Only the owner runs it.
    assert.deepEqual(
      nodes.filter((n) => n.system.findSupervisor(id)).map((n) => n.node),
      [node],
    );
  });

  it("lists every node's sessions from any node", { timeout: 60_000 }, async (t) => {
    const { nodes } = await startCluster(t, schemas);
    const created = [];
    for (const node of nodes) created.push((await node.system.createSession()).id);
    const listed = await nodes[1]?.sessions.listSessions();
    assert.deepEqual(listed?.map((s) => s.id).sort(), [...created].sort());
    assert.deepEqual(
      listed?.map((s) => [s.id, s.node]).sort(),
      created.map((id, i) => [id, `node${i}`]).sort(),
    );
  });

  it("terminates a session from another node and releases its lease", { timeout: 60_000 }, async (t) => {
    const { nodes } = await startCluster(t, schemas);
    const { id, node } = await (nodes[0] as (typeof nodes)[0]).sessions.createSession();
    await nodes[2]?.sessions.terminateSession(id);
    assert.equal(await nodes[1]?.sessions.ownerOf(id), undefined);
    assert.equal(nodes.find((n) => n.node === node)?.system.findSupervisor(id), undefined);
    assert.equal(await nodes[1]?.sessions.getSession(id), undefined);
    await assert.rejects(nodes[1]?.sessions.getHistory(id) as Promise<unknown>, SessionNotFoundError);
  });

  it("a session terminated through its node's own system gives its lease up", {
    timeout: 60_000,
  }, async (t) => {
    const { nodes } = await startCluster(t, schemas);
    const [a, b] = nodes as [(typeof nodes)[0], (typeof nodes)[0]];
    const { id } = await a.system.createSession();
    await a.system.terminateSession(id);
    const deadline = Date.now() + 5000;
    while ((await b.sessions.ownerOf(id)) !== undefined && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(await b.sessions.ownerOf(id), undefined);
    // Restorable on any node: the claim a restore makes finds no lease in the way.
    const restored = await b.sessions.restoreSession(id);
    assert.equal(restored.status, "active");
  });

  it("denies a tool call of a session on another node, and the model is told why", {
    timeout: 60_000,
  }, async (t) => {
    const { nodes } = await startCluster(t, schemas);
    const [a, b] = nodes as [(typeof nodes)[0], (typeof nodes)[0]];
    const project = mkdtempSync(join(tmpdir(), "sessionvisor-cluster-"));
    t.after(() => rmSync(project, { recursive: true, force: true }));
    const { id } = await a.system.createSession({ projectPath: project });
    const asked = new Promise<string>((resolve) => {
      void b.sessions.subscribe(id, (event) => {
        if (event.type === "tool_approval_requested") resolve(event.callId);
      });
    });
    const turn = b.sessions.sendMessage(id, "tool run_command touch denied.txt");
    await b.sessions.denyToolCall(id, await asked, "not across nodes");
    await turn;
    const tool = (await b.sessions.getHistory(id)).find((entry) => entry.role === "tool");
    assert.match(tool?.content ?? "", /not across nodes/);
    assert.equal(existsSync(join(project, "denied.txt")), false);
  });

  it("imports an exported session on a node of the cluster's choosing, under its id", {
    timeout: 60_000,
  }, async (t) => {
    const { nodes } = await startCluster(t, schemas);
    const [a, b] = nodes as [(typeof nodes)[0], (typeof nodes)[0]];
    const { id } = await a.system.createSession({ name: "travelling" });
    await a.sessions.sendMessage(id, "echo carried");
    const document = await a.system.exportSession(id);
    const copy = JSON.parse(JSON.stringify(document).replaceAll(id, newSessionId()));
    const imported = await b.sessions.importSession(copy);
    assert.equal(imported.name, "travelling");
    assert.deepEqual(
      (await a.sessions.getHistory(imported.id)).map((turn) => turn.content),
      ["echo carried", "carried"],
    );
    await assert.rejects(b.sessions.importSession(copy), SessionExistsError);
  });

  it("a subscriber on another node sees a turn's events in order", { timeout: 60_000 }, async (t) => {
    const { nodes } = await startCluster(t, schemas);
    const [a, b] = nodes as [(typeof nodes)[0], (typeof nodes)[0]];
    const { id } = await a.system.createSession();
    const events: SessionEvent[] = [];
    const subscription = await b.sessions.subscribe(id, (event) => events.push(event));
    t.after(() => subscription.unsubscribe());
    await b.sessions.sendMessage(id, "echo one two three four");
    const deadline = Date.now() + 10_000;
    while (!events.some((e) => e.type === "llm_done") && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 10));
    const types = events.map((e) => e.type);
    assert.ok(types.includes("message_added"), `types ${types}`);
    const deltas = events.flatMap((e) =>
      e.type === "llm_delta" ? [(e as { text?: string }).text ?? ""] : [],
    );
    assert.equal(deltas.join("").trim(), "one two three four");
    const durable = events.filter((e) => e.type !== "llm_delta").map((e) => e.seq);
    assert.deepEqual(
      durable,
      [...durable].sort((x, y) => x - y),
    );
    assert.equal(new Set(durable).size, durable.length);
  });

  it("streams a turn of a session that runs on another node", { timeout: 60_000 }, async (t) => {
    const { nodes } = await startCluster(t, schemas);
    const [a, b] = nodes as [(typeof nodes)[0], (typeof nodes)[0]];
    const { id } = await a.system.createSession();
    const parts: TurnPart[] = [];
    for await (const part of b.sessions.stream(id, "echo one two three")) parts.push(part);
    assert.equal(parts[0]?.type, "turn_started");
    const text = parts.flatMap((p) => (p.type === "text" ? [p.text] : [])).join("");
    assert.equal(text.trim(), "one two three");
    const last = parts.at(-1);
    assert.equal(last?.type === "done" && last.reply.text, "one two three");
  });

  it("leaving a stream early cancels the turn on the session's node", { timeout: 60_000 }, async (t) => {
    const { nodes } = await startCluster(t, schemas, {
      system: { providers: defaultProviders({ chunkDelayMs: 100 }) },
    });
    const [a, b] = nodes as [(typeof nodes)[0], (typeof nodes)[0]];
    const { id } = await a.system.createSession();
    const long = `echo ${Array.from({ length: 50 }, (_, i) => `w${i}`).join(" ")}`;
    for await (const part of b.sessions.stream(id, long)) if (part.type === "text") break;
    const deadline = Date.now() + 10_000;
    let last: { content: string; status: string } | undefined;
    while (Date.now() < deadline) {
      last = (await b.sessions.getHistory(id)).find((turn) => turn.content === long);
      if (last?.status === "cancelled") break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assert.equal(last?.status, "cancelled");
  });

  it("a subscriber on another node replays what it missed with since, then goes on live", {
    timeout: 60_000,
  }, async (t) => {
    const { nodes } = await startCluster(t, schemas);
    const [a, b, c] = nodes as [(typeof nodes)[0], (typeof nodes)[0], (typeof nodes)[0]];
    const { id } = await a.system.createSession();
    await b.sessions.sendMessage(id, "echo first");
    const events: SessionEvent[] = [];
    const subscription = await c.sessions.subscribe(id, (event) => events.push(event), { since: 0 });
    t.after(() => subscription.unsubscribe());
    const replayed = events.length;
    assert.ok(
      events.some((e) => e.type === "session_created"),
      `replayed ${events.map((e) => e.type)}`,
    );
    await b.sessions.sendMessage(id, "echo second");
    const deadline = Date.now() + 10_000;
    while (events.filter((e) => e.type === "llm_done").length < 2 && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 10));
    assert.ok(events.length > replayed);
    const durable = events.filter((e) => e.type !== "llm_delta").map((e) => e.seq);
    assert.deepEqual(
      durable,
      [...new Set(durable)].sort((x, y) => x - y),
    );
    assert.deepEqual(durable.slice(0, 3), [1, 2, 3]);
  });

  it("a session's supervisor is a pid the runtime of another node can call and monitor", {
    timeout: 60_000,
  }, async (t) => {
    const { nodes } = await startCluster(t, schemas);
    const [a, b] = nodes as [(typeof nodes)[0], (typeof nodes)[0]];
    const { id } = await a.system.createSession();
    const pid = await b.sessions.findSupervisor(id);
    assert.ok(pid);
    assert.equal(pid.node, "node0");
    const children = await Supervisor.whichChildren(b.runtime, pid);
    assert.equal(children.length, 2);
    const watcher = new Watcher();
    const watcherPid = await b.runtime.spawn(watcher);
    b.runtime.monitor(watcherPid, pid);
    await Supervisor.whichChildren(b.runtime, pid); // the monitor is in place
    await a.sessions.terminateSession(id);
    const deadline = Date.now() + 10_000;
    while (!watcher.infos.some(isDownMessage) && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 10));
    const down = watcher.infos.find(isDownMessage);
    assert.ok(down?.pid.equals(pid));
  });
});

class Watcher extends GenServer<never, never, never, unknown> {
  readonly infos: unknown[] = [];
  override handleInfo(message: unknown): void {
    this.infos.push(message);
  }
}

describe("cluster sessions without an answer", () => {
  it("fail a request nobody answers in time with ClusterUnavailableError, not the NATS client's timeout", {
    timeout: 30_000,
  }, async (t) => {
    const nats = await natsFixture(t);
    const nc = await nats.connect();
    const prefix = nats.subject("sv");
    // A node that takes requests and never answers (as one whose connection stalled would).
    nc.subscribe(`${prefix}.sessions.ghost`, { callback: () => undefined });
    await nc.flush();
    const ghost = {
      node: "ghost",
      subjectPrefix: prefix,
      sessions: 0,
      rssMb: 0,
      startedAt: "",
      lastSeen: new Date(),
    };
    const sessions = new ClusterSessions({
      nc,
      prefix,
      leases: { owner: async () => ({ node: "ghost", fence: 1 }), leaseTtlMs: 1500, pollMs: 50 },
      members: () => [ghost],
      requestTimeoutMs: 200,
      turnTimeoutMs: 200,
    });
    const error = await sessions.getHistory(newSessionId()).catch((e: unknown) => e);
    assert.ok(error instanceof ClusterUnavailableError, String(error));
    assert.equal(error.reason, "request_failed");
    assert.match(error.message, /no answer to history .* within 200 ms/);
  });
});
