// `serve({ cluster })` and `sessionvisor serve --cluster`: two servers, each a node of one cluster
// on the real NATS (127.0.0.1:4222, JetStream) and the real PostgreSQL (a fresh schema per
// test), in this process. Each server's API reaches every session of the cluster wherever it
// runs: messages, streams, history, events (one session's and every session's), terminate,
// export and restore, and the observer's tree names the node of each session.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { InvalidArgumentError, serve, TurnCancelledError } from "../src/index.js";
import { tcpRelay } from "./fixtures/cluster-partition-relay.js";
import { twoClusterServers as twoServers } from "./support/cluster-servers.js";
import { client, openSse } from "./support/http-client.js";
import { ALICE, BOB, TOKENS } from "./support/http-servers.js";
import { natsFixture } from "./support/nats.js";
import { requirePostgres, TestSchemas, testStoreUrl } from "./support/postgres-test-db.js";
import { CLI, reapServeChildren, startServe } from "./support/serve-cli.js";

const schemas = new TestSchemas();
after(() => schemas.dropAll());
const T = { timeout: 60_000 };

describe("serve in cluster mode", () => {
  it("lists the cluster's live nodes on GET /v1/nodes, with the server's own id", T, async (t) => {
    const { a } = await twoServers(t, schemas);
    const { status, body } = await client(a.url, undefined).get("/v1/nodes");
    assert.equal(status, 200);
    assert.equal(body.node, "a");
    assert.deepEqual(body.nodes.map((n: { node: string; sessions: number }) => [n.node, n.sessions]).sort(), [
      ["a", 0],
      ["b", 0],
    ]);
  });

  it(
    "serves a session that runs on the other node: message, history, and its info naming the node",
    T,
    async (t) => {
      const { a, b } = await twoServers(t, schemas);
      const made = await a.system.createSession({ name: "on a" });
      const viaB = client(b.url, undefined);
      const reply = await viaB.post(`/v1/sessions/${made.id}/messages`, { text: "echo across nodes" });
      assert.equal(reply.status, 200, JSON.stringify(reply.body));
      assert.equal(reply.body.text, "across nodes");
      const history = await viaB.get(`/v1/sessions/${made.id}/history`);
      assert.deepEqual(
        history.body.turns.map((turn: { content: string }) => turn.content),
        ["echo across nodes", "across nodes"],
      );
      const info = await viaB.get(`/v1/sessions/${made.id}`);
      assert.equal(info.body.node, "a");
      assert.equal(info.body.name, "on a");
      // It runs on a only.
      assert.ok(a.system.findSupervisor(made.id));
      assert.equal(b.system.findSupervisor(made.id), undefined);
    },
  );

  it(
    "refuses a turn whose signal was aborted before it was sent, as one system does, and runs nothing",
    T,
    async (t) => {
      const { a, b } = await twoServers(t, schemas);
      const made = await a.system.createSession();
      await assert.rejects(
        b.app.access.sessions.sendMessage(made.id, "echo never", { signal: AbortSignal.abort() }),
        TurnCancelledError,
      );
      assert.deepEqual(await a.system.getHistory(made.id), []);
    },
  );

  it("lists every node's sessions from either server, each with its node", T, async (t) => {
    const { a, b } = await twoServers(t, schemas);
    const onA = await a.system.createSession();
    const onB = await b.system.createSession();
    for (const server of [a, b]) {
      const { body } = await client(server.url, undefined).get("/v1/sessions");
      assert.deepEqual(
        body.sessions.map((s: { id: string; node: string }) => [s.id, s.node]).sort(),
        [
          [onA.id, "a"],
          [onB.id, "b"],
        ].sort(),
      );
    }
  });

  it("places sessions created over HTTP on both nodes", T, async (t) => {
    const { a, b } = await twoServers(t, schemas);
    const nodes = new Set<string>();
    for (let i = 0; i < 6; i++) {
      const { status, body } = await client(i % 2 ? a.url : b.url, undefined).post("/v1/sessions", {});
      assert.equal(status, 201);
      nodes.add(body.node);
    }
    assert.deepEqual([...nodes].sort(), ["a", "b"]);
  });

  it("streams a turn of the other node's session as SSE, word by word", T, async (t) => {
    const { a, b } = await twoServers(t, schemas, { chunkDelayMs: 5 });
    const made = await a.system.createSession();
    const stream = await openSse(b.url, `/v1/sessions/${made.id}/messages`, {
      method: "POST",
      body: { text: "echo one two three four" },
    });
    const parts = await stream.readUntil((m) => m.event === "done", 10_000);
    const deltas = parts.filter((m) => m.event === "text").map((m) => m.data.text);
    assert.ok(deltas.length >= 3, `deltas ${JSON.stringify(deltas)}`);
    assert.equal(deltas.join(""), "one two three four");
  });

  it("follows the other node's session on its events stream, in order", T, async (t) => {
    const { a, b } = await twoServers(t, schemas, { chunkDelayMs: 2 });
    const made = await a.system.createSession();
    const stream = await openSse(b.url, `/v1/sessions/${made.id}/events?since=0`);
    await a.system.sendMessage(made.id, "echo followed from b");
    const seen = await stream.readUntil((m) => m.event === "llm_done", 10_000);
    assert.equal(seen[0]?.event, "session_created");
    const seqs = seen.map((m) => Number(m.id));
    assert.deepEqual(
      seqs,
      [...seqs].sort((x, y) => x - y),
    );
    assert.ok(seen.some((m) => m.event === "llm_delta"));
  });

  it("carries every node's events on each server's /v1/events", T, async (t) => {
    const { a, b } = await twoServers(t, schemas);
    const stream = await openSse(b.url, "/v1/events");
    // The stream is live once it has delivered something: a session made on b says so.
    const probe = await b.system.createSession();
    await stream.readUntil((m) => m.data.sessionId === probe.id, 10_000);
    const onA = await a.system.createSession();
    await a.system.sendMessage(onA.id, "echo seen on b");
    const seen = await stream.readUntil((m) => m.data.sessionId === onA.id && m.event === "llm_done", 10_000);
    const ofA = seen.filter((m) => m.data.sessionId === onA.id).map((m) => m.event);
    assert.equal(ofA[0], "session_created");
    assert.ok(ofA.includes("turn_started"), JSON.stringify(ofA));
    for (const message of seen) assert.match(message.id ?? "", /^[0-9a-f]{8}\.\d+$/);
  });

  it("terminates the other node's session, and then answers 404 for it on both", T, async (t) => {
    const { a, b } = await twoServers(t, schemas);
    const made = await a.system.createSession();
    const ended = await client(b.url, undefined).delete(`/v1/sessions/${made.id}`);
    assert.equal(ended.status, 204);
    assert.equal(a.system.findSupervisor(made.id), undefined);
    for (const server of [a, b]) {
      const { status } = await client(server.url, undefined).get(`/v1/sessions/${made.id}`);
      assert.equal(status, 404);
    }
  });

  it("hibernates the other node's session, and a message through this node wakes it there", T, async (t) => {
    const { a, b } = await twoServers(t, schemas);
    const made = await a.system.createSession();
    const viaB = client(b.url, undefined);
    assert.equal((await viaB.post(`/v1/sessions/${made.id}/hibernate`)).status, 204);
    assert.equal(a.system.findSupervisor(made.id), undefined);
    assert.equal((await viaB.get(`/v1/sessions/${made.id}`)).body.hibernated, true);
    const reply = await viaB.post(`/v1/sessions/${made.id}/messages`, { text: "echo awake" });
    assert.equal(reply.body.text, "awake");
    assert.ok(a.system.findSupervisor(made.id));
    assert.equal(b.system.findSupervisor(made.id), undefined);
  });

  it("lists a session terminated on the other node, exports it and restores it", T, async (t) => {
    const { a, b } = await twoServers(t, schemas);
    const made = await a.system.createSession({ name: "brought back" });
    await a.system.sendMessage(made.id, "echo kept");
    await a.system.terminateSession(made.id);
    const viaB = client(b.url, undefined);
    const terminated = await viaB.get("/v1/sessions?status=terminated");
    assert.deepEqual(
      terminated.body.sessions.map((s: { id: string }) => s.id),
      [made.id],
    );
    const exported = await viaB.get(`/v1/sessions/${made.id}/export`);
    assert.equal(exported.status, 200);
    assert.equal(exported.body.session.id, made.id);
    const restored = await viaB.post(`/v1/sessions/${made.id}/restore`);
    assert.equal(restored.status, 200, JSON.stringify(restored.body));
    assert.equal(restored.body.status, "active");
    assert.ok(["a", "b"].includes(restored.body.node));
    const history = await client(a.url, undefined).get(`/v1/sessions/${made.id}/history`);
    assert.deepEqual(
      history.body.turns.map((turn: { content: string }) => turn.content),
      ["echo kept", "kept"],
    );
  });

  it("approves a tool call of the other node's session, and reads its files there", T, async (t) => {
    const { a, b } = await twoServers(t, schemas);
    const project = mkdtempSync(join(tmpdir(), "sessionvisor-cluster-"));
    t.after(() => rmSync(project, { recursive: true, force: true }));
    writeFileSync(join(project, "notes.md"), "kept on a\n");
    const made = await a.system.createSession({ projectPath: project });
    await a.system.addFile(made.id, "notes.md");
    const viaB = client(b.url, undefined);
    const files = await viaB.get(`/v1/sessions/${made.id}/files`);
    assert.equal(files.status, 200);
    assert.deepEqual(files.body.active, ["notes.md"]);
    const stream = await openSse(b.url, `/v1/sessions/${made.id}/messages`, {
      method: "POST",
      body: { text: "tool run_command echo approved-across-nodes" },
    });
    const [asked] = (await stream.readUntil((m) => m.event === "tool_approval_requested", 10_000)).slice(-1);
    const approved = await viaB.post(`/v1/sessions/${made.id}/tool-calls/${asked?.data.callId}/approve`);
    assert.equal(approved.status, 204, JSON.stringify(approved.body));
    const rest = await stream.readUntil((m) => m.event === "done", 15_000);
    const result = rest.find((m) => m.event === "tool_result");
    assert.match(JSON.stringify(result?.data.result), /approved-across-nodes/);
  });

  it("names each session's node and this server's in the observer's tree stream", T, async (t) => {
    const { a, b } = await twoServers(t, schemas);
    const onA = await a.system.createSession();
    const onB = await b.system.createSession();
    const stream = await openSse(b.url, "/v1/tree/stream");
    const [snapshot] = await stream.readUntil((m) => m.event === "snapshot");
    assert.equal(snapshot?.data.node, "b");
    const nodeOf = new Map(
      snapshot?.data.sessions.map((s: { id: string; node: string }) => [s.id, s.node]) as [string, string][],
    );
    assert.equal(nodeOf.get(onA.id), "a");
    assert.equal(nodeOf.get(onB.id), "b");
    // Its processes are shown where they run: b's own session has its subtree here, a's not.
    const subtree = new Map(
      snapshot?.data.sessions.map((s: { id: string; supervisor?: unknown }) => [
        s.id,
        s.supervisor !== undefined,
      ]),
    );
    assert.equal(subtree.get(onB.id), true);
    assert.equal(subtree.get(onA.id), false);
  });

  it(
    "checks a session's owner through the shared store: another owner's token gets 404 on the other node",
    T,
    async (t) => {
      const { a, b } = await twoServers(t, schemas, { tokens: TOKENS });
      const { body: made } = await client(a.url, ALICE).post("/v1/sessions", {});
      const mine = await client(b.url, ALICE).get(`/v1/sessions/${made.id}/history`);
      const theirs = await client(b.url, BOB).get(`/v1/sessions/${made.id}/history`);
      assert.equal(mine.status, 200);
      assert.equal(theirs.status, 404);
      assert.equal(theirs.body.error.code, "session_not_found");
    },
  );

  it("answers /readyz 503 while cut off from NATS, and ready again once it reaches it", T, async (t) => {
    const nats = await natsFixture(t);
    await requirePostgres();
    const address = new URL(nats.url);
    const relay = await tcpRelay(t, "127.0.0.1", {
      host: address.hostname,
      port: Number(address.port || 4222),
    });
    const server = await serve({
      port: 0,
      store: testStoreUrl(schemas.fresh()),
      closeGraceMs: 1000,
      cluster: {
        servers: `nats://127.0.0.1:${relay.port}`,
        node: "cut",
        prefix: nats.subject("sv"),
        leaseTtlMs: 1500,
      },
    });
    t.after(() => server.close().catch(() => undefined));
    const ready = async () => (await fetch(`${server.url}/readyz`)).status;
    assert.equal(await ready(), 200);
    relay.stall();
    const refused = await fetch(`${server.url}/readyz`);
    assert.equal(refused.status, 503);
    assert.match(
      ((await refused.json()) as { error: { message: string } }).error.message,
      /no answer from NATS/,
    );
    relay.resume();
    // Its client gives the stalled connection up (two unanswered pings, 2 s apart) and reconnects.
    const deadline = Date.now() + 30_000;
    while ((await ready()) !== 200) {
      assert.ok(Date.now() < deadline, "ready again within 30 s of the heal");
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  });

  it("refuses cluster options that are not an object, lack servers, or name an unknown option", async () => {
    const store = "postgres://127.0.0.1/x";
    for (const [cluster, field] of [
      ["nats://127.0.0.1:4222", /^cluster$/],
      [{}, /^cluster\.servers$/],
      [{ servers: "nats://127.0.0.1:4222", leaseTTL: 5000 }, /^cluster\.leaseTTL$/],
    ] as const) {
      await assert.rejects(
        serve({ port: 0, store, cluster: cluster as never }),
        (error: unknown) => error instanceof InvalidArgumentError && field.test(error.argument),
      );
    }
  });

  it("refuses cluster mode without a shared store, before starting anything", async () => {
    await assert.rejects(
      serve({ port: 0, cluster: { servers: "nats://127.0.0.1:4222" } }),
      (error: unknown) => error instanceof InvalidArgumentError && /needs store/.test(error.message),
    );
  });

  it("sessionvisor serve --cluster without --store exits 2 naming what is missing", () => {
    const run = spawnSync(process.execPath, [...CLI, "serve", "--cluster", "nats://127.0.0.1:4222"], {
      encoding: "utf8",
      timeout: 30_000,
    });
    assert.equal(run.status, 2, run.stderr);
    assert.match(run.stderr, /--cluster needs --store postgres:\/\//);
  });
});

describe("sessionvisor serve --cluster (the command)", () => {
  it("two serve processes form one cluster: a session made on one answers through the other, nodes lists both, SIGTERM leaves cleanly", {
    timeout: 90_000,
  }, async (t) => {
    const nats = await natsFixture(t);
    await requirePostgres();
    t.after(() => reapServeChildren());
    const store = testStoreUrl(schemas.fresh());
    const prefix = nats.subject("sv");
    const flags = (node: string) => [
      "--port",
      "0",
      "--cluster",
      nats.url,
      "--node",
      node,
      "--prefix",
      prefix,
      "--store",
      store,
    ];
    const one = await startServe(flags("cli-one"));
    const two = await startServe(flags("cli-two"));
    for (const served of [one, two]) {
      const deadline = Date.now() + 15_000;
      for (;;) {
        const { body } = await client(served.url, undefined).get("/v1/nodes");
        if (body.nodes.length === 2) break;
        if (Date.now() > deadline)
          throw new Error(`${served.url} did not see both nodes: ${served.stderr()}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
    const made = await client(one.url, undefined).post("/v1/sessions", { name: "cli cluster" });
    assert.equal(made.status, 201);
    const other = made.body.node === "cli-one" ? two : one;
    const reply = await client(other.url, undefined).post(`/v1/sessions/${made.body.id}/messages`, {
      text: "echo through the other process",
    });
    assert.equal(reply.body.text, "through the other process");

    const listed = spawnSync(
      process.execPath,
      [...CLI, "nodes", "--nats", nats.url, "--prefix", prefix, "--json"],
      { encoding: "utf8", timeout: 30_000, killSignal: "SIGKILL" },
    );
    assert.equal(listed.status, 0, listed.stderr);
    assert.deepEqual((JSON.parse(listed.stdout) as { node: string }[]).map((n) => n.node).sort(), [
      "cli-one",
      "cli-two",
    ]);

    one.child.kill("SIGTERM");
    two.child.kill("SIGTERM");
    for (const served of [one, two]) {
      const { code, signal } = await served.exit;
      assert.deepEqual({ code, signal }, { code: 0, signal: null }, served.stderr());
    }
  });
});
