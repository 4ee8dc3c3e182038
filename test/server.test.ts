// The HTTP API over real sockets: a server on port 0, `fetch` as the client, a real session
// system behind it (the offline model, paced where a test needs a turn that lasts).
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, it } from "node:test";
import {
  defaultProviders,
  InvalidArgumentError,
  newToken,
  type RunningServer,
  type SessionEvent,
  type SessionSystem,
  serve,
  silentLogger,
} from "../src/index.js";
import {
  type Answer,
  call,
  client,
  closeOpenStreams,
  openSse,
  type SseMessage,
  streamController,
} from "./support/http-client.js";
import { ALICE, BOB, serversForTests, TOKENS } from "./support/http-servers.js";
import { recorder, startSystem } from "./support/sessions.js";

const TEST_TIMEOUT = { timeout: 30_000 };

// What a test starts by hand (not through `start`), stopped after it too.
const servers: RunningServer[] = [];
const systems: SessionSystem[] = [];
const dirs: string[] = [];

afterEach(async () => {
  closeOpenStreams();
  for (const server of servers.splice(0)) await server.close();
  for (const system of systems.splice(0)) await system.stop();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "sessionvisor-server-"));
  dirs.push(dir);
  return dir;
}

const start = serversForTests();

/** The body with the session id taken out, to compare two answers about different ids. */
function withoutId(body: unknown, id: string): unknown {
  return JSON.parse(JSON.stringify(body).replaceAll(id, "<id>"));
}

const MISSING_ID = "session_0b6d1c52-8e0e-4a6b-9c55-3c1a2f4e5d6a";

// ---- sessions ------------------------------------------------------------------------------

describe("HTTP API: sessions", () => {
  it("creates a session owned by the token's owner (201, Location, active)", TEST_TIMEOUT, async () => {
    const { url, system } = await start();
    const created = await client(url, ALICE).post("/v1/sessions", { name: "first" });
    assert.equal(created.status, 201);
    assert.equal(created.body.status, "active");
    assert.equal(created.body.name, "first");
    assert.equal(created.body.owner, "alice");
    assert.equal(created.headers.get("location"), `/v1/sessions/${created.body.id}`);
    assert.equal((await system.getSession(created.body.id))?.status, "active");
  });

  it("gets a session by id", TEST_TIMEOUT, async () => {
    const { url } = await start();
    const alice = client(url, ALICE);
    const { body: made } = await alice.post("/v1/sessions", { name: "one" });
    const got = await alice.get(`/v1/sessions/${made.id}`);
    assert.equal(got.status, 200);
    assert.equal(got.body.id, made.id);
    assert.equal(got.body.name, "one");
  });

  it("lists only the caller's sessions, oldest first", TEST_TIMEOUT, async () => {
    const { url } = await start();
    const alice = client(url, ALICE);
    const bob = client(url, BOB);
    const a1 = (await alice.post("/v1/sessions", { name: "a1" })).body;
    await bob.post("/v1/sessions", { name: "b1" });
    const a2 = (await alice.post("/v1/sessions", { name: "a2" })).body;
    const listed = await alice.get("/v1/sessions");
    assert.equal(listed.status, 200);
    assert.deepEqual(
      listed.body.sessions.map((s: { id: string }) => s.id),
      [a1.id, a2.id],
    );
    assert.equal(listed.body.nextCursor, undefined);
  });

  it("filters the list by status", TEST_TIMEOUT, async () => {
    const { url, system } = await start();
    const alice = client(url, ALICE);
    const a1 = (await alice.post("/v1/sessions", {})).body;
    await alice.post("/v1/sessions", {});
    await system.hibernateSession(a1.id);
    const idle = await alice.get("/v1/sessions?status=idle");
    assert.deepEqual(
      idle.body.sessions.map((s: { id: string }) => s.id),
      [a1.id],
    );
    const bad = await alice.get("/v1/sessions?status=sleepy");
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.field, "status");
  });

  it(
    "lists the caller's terminated sessions, still restorable, with ?status=terminated",
    TEST_TIMEOUT,
    async () => {
      const { url } = await start();
      const alice = client(url, ALICE);
      const bob = client(url, BOB);
      const mine = (await alice.post("/v1/sessions", {})).body;
      const theirs = (await bob.post("/v1/sessions", {})).body;
      await alice.delete(`/v1/sessions/${mine.id}`);
      await bob.delete(`/v1/sessions/${theirs.id}`);
      const listed = await alice.get("/v1/sessions?status=terminated");
      assert.deepEqual(
        listed.body.sessions.map((s: { id: string; status: string }) => [s.id, s.status]),
        [[mine.id, "terminated"]],
      );
      assert.equal((await alice.post(`/v1/sessions/${mine.id}/restore`, {})).status, 200);
      assert.deepEqual((await alice.get("/v1/sessions?status=terminated")).body.sessions, []);
    },
  );

  it("pages the list with an opaque cursor: every session once, in order", TEST_TIMEOUT, async () => {
    const { url } = await start();
    const alice = client(url, ALICE);
    const made: string[] = [];
    for (let i = 0; i < 5; i++) made.push((await alice.post("/v1/sessions", { name: `s${i}` })).body.id);
    const seen: string[] = [];
    const pages: number[] = [];
    let cursor: string | undefined;
    do {
      const page = await alice.get(`/v1/sessions?limit=2${cursor ? `&cursor=${cursor}` : ""}`);
      assert.equal(page.status, 200);
      pages.push(page.body.sessions.length);
      seen.push(...page.body.sessions.map((s: { id: string }) => s.id));
      cursor = page.body.nextCursor;
    } while (cursor);
    assert.deepEqual(pages, [2, 2, 1]);
    const byAnswer = (await alice.get("/v1/sessions")).body.sessions.map((s: { id: string }) => s.id);
    assert.deepEqual(seen, byAnswer);
    assert.deepEqual([...seen].sort(), [...made].sort());
  });

  it("refuses a cursor it did not give, and a limit over the most a page holds", TEST_TIMEOUT, async () => {
    const { url } = await start({ limits: { maxPageSize: 10, defaultPageSize: 5 } });
    const alice = client(url, ALICE);
    const cursor = await alice.get("/v1/sessions?cursor=not-a-cursor");
    assert.equal(cursor.status, 400);
    assert.equal(cursor.body.error.field, "cursor");
    const limit = await alice.get("/v1/sessions?limit=11");
    assert.equal(limit.status, 400);
    assert.equal(limit.body.error.field, "limit");
  });

  it("terminates a session (204), after which it is not found", TEST_TIMEOUT, async () => {
    const { url, system } = await start();
    const alice = client(url, ALICE);
    const { body: made } = await alice.post("/v1/sessions", {});
    const gone = await alice.delete(`/v1/sessions/${made.id}`);
    assert.equal(gone.status, 204);
    assert.equal(await system.getSession(made.id), undefined);
    const after = await alice.get(`/v1/sessions/${made.id}`);
    assert.equal(after.status, 404);
    assert.equal(after.body.error.code, "session_not_found");
  });

  it("hibernates a session over HTTP, and wakes it", TEST_TIMEOUT, async () => {
    const { url, system } = await start();
    const alice = client(url, ALICE);
    const { body: made } = await alice.post("/v1/sessions", {});
    const slept = await alice.post(`/v1/sessions/${made.id}/hibernate`);
    assert.equal(slept.status, 204);
    assert.equal(system.findSupervisor(made.id), undefined);
    assert.equal((await alice.get(`/v1/sessions/${made.id}`)).body.hibernated, true);
    const woken = await alice.post(`/v1/sessions/${made.id}/wake`);
    assert.equal(woken.status, 200);
    assert.equal(woken.body.hibernated, false);
    assert.ok(system.findSupervisor(made.id));
    // Another owner's session is not found, as everywhere.
    assert.equal((await client(url, BOB).post(`/v1/sessions/${made.id}/hibernate`)).status, 404);
  });

  it("restores a terminated session under its id", TEST_TIMEOUT, async () => {
    const { url } = await start();
    const alice = client(url, ALICE);
    const { body: made } = await alice.post("/v1/sessions", { name: "back" });
    await alice.delete(`/v1/sessions/${made.id}`);
    const restored = await alice.post(`/v1/sessions/${made.id}/restore`);
    assert.equal(restored.status, 200);
    assert.equal(restored.body.id, made.id);
    assert.equal(restored.body.status, "active");
    assert.equal(restored.body.owner, "alice");
  });

  it(
    "exports a session with its owner, and an import by another owner makes it theirs",
    TEST_TIMEOUT,
    async () => {
      const first = await start();
      const alice = client(first.url, ALICE);
      const { body: made } = await alice.post("/v1/sessions", { name: "moved" });
      await alice.post(`/v1/sessions/${made.id}/messages`, { text: "echo carried over" });
      const exported = await alice.get(`/v1/sessions/${made.id}/export`);
      assert.equal(exported.status, 200);
      assert.equal(exported.body.session.config.owner, "alice");

      const second = await start();
      const imported = await client(second.url, BOB).post("/v1/sessions/import", exported.body);
      assert.equal(imported.status, 201, JSON.stringify(imported.body));
      assert.equal(imported.body.id, made.id);
      assert.equal(imported.body.owner, "bob");
      const history = await client(second.url, BOB).get(`/v1/sessions/${made.id}/history`);
      assert.deepEqual(
        history.body.turns.map((t: { content: string }) => t.content),
        ["echo carried over", "carried over"],
      );
      assert.equal((await client(second.url, ALICE).get(`/v1/sessions/${made.id}`)).status, 404);
      const config = (await second.system.exportSession(made.id)).session.config as { owner?: string };
      assert.equal(config.owner, "bob");
    },
  );

  it(
    "drops a document's owner on an import without tokens (one owner, who owns nothing by name)",
    TEST_TIMEOUT,
    async () => {
      const first = await start();
      const alice = client(first.url, ALICE);
      const { body: made } = await alice.post("/v1/sessions", {});
      const exported = await alice.get(`/v1/sessions/${made.id}/export`);
      const local = await start({ tokens: undefined });
      const imported = await client(local.url, undefined).post("/v1/sessions/import", exported.body);
      assert.equal(imported.status, 201, JSON.stringify(imported.body));
      assert.equal(imported.body.owner, undefined);
      const config = (await local.system.exportSession(made.id)).session.config as { owner?: string };
      assert.equal(config.owner, undefined);
    },
  );

  it("answers 409 session_exists for an import of an id that exists", TEST_TIMEOUT, async () => {
    const { url } = await start();
    const alice = client(url, ALICE);
    const { body: made } = await alice.post("/v1/sessions", {});
    const exported = await alice.get(`/v1/sessions/${made.id}/export`);
    const again = await alice.post("/v1/sessions/import", exported.body);
    assert.equal(again.status, 409);
    assert.equal(again.body.error.code, "session_exists");
  });

  it("keeps each session's owner across a restart on the same data directory", TEST_TIMEOUT, async () => {
    const dataDir = tempDir();
    const first = await serve({ port: 0, dataDir, tokens: TOKENS, logger: silentLogger() });
    servers.push(first);
    const { body: made } = await client(first.url, ALICE).post("/v1/sessions", { name: "durable" });
    await first.close();

    const second = await serve({ port: 0, dataDir, tokens: TOKENS, logger: silentLogger() });
    servers.push(second);
    const mine = await client(second.url, ALICE).get("/v1/sessions");
    assert.deepEqual(
      mine.body.sessions.map((s: { id: string; owner: string }) => [s.id, s.owner]),
      [[made.id, "alice"]],
    );
    assert.deepEqual((await client(second.url, BOB).get("/v1/sessions")).body.sessions, []);
  });

  it("returns the history of a session", TEST_TIMEOUT, async () => {
    const { url } = await start();
    const alice = client(url, ALICE);
    const { body: made } = await alice.post("/v1/sessions", {});
    await alice.post(`/v1/sessions/${made.id}/messages`, { text: "echo hi there" });
    const history = await alice.get(`/v1/sessions/${made.id}/history`);
    assert.equal(history.status, 200);
    assert.deepEqual(
      history.body.turns.map((t: { role: string; content: string }) => [t.role, t.content]),
      [
        ["user", "echo hi there"],
        ["assistant", "hi there"],
      ],
    );
  });
});

// ---- bad input -----------------------------------------------------------------------------

describe("HTTP API: bad input is a 4xx JSON error with a code", () => {
  it("refuses a body that is not JSON (400 invalid_json)", TEST_TIMEOUT, async () => {
    const { url } = await start();
    const answer = await call(url, "POST", "/v1/sessions", { token: ALICE, body: "{ not json" });
    assert.equal(answer.status, 400);
    assert.equal(answer.body.error.code, "invalid_json");
    assert.equal(typeof answer.body.error.message, "string");
  });

  it("refuses an unknown config field, naming it (400 invalid_config)", TEST_TIMEOUT, async () => {
    const { url } = await start();
    const answer = await client(url, ALICE).post("/v1/sessions", { llm: { temprature: 1 } });
    assert.equal(answer.status, 400);
    assert.equal(answer.body.error.code, "invalid_config");
    assert.equal(answer.body.error.field, "llm.temprature");
  });

  it("refuses a __proto__ key in a config as the unknown key it is", TEST_TIMEOUT, async () => {
    const { url } = await start();
    const answer = await call(url, "POST", "/v1/sessions", {
      token: ALICE,
      body: '{"__proto__":{"name":"x"}}',
    });
    assert.equal(answer.status, 400);
    assert.equal(answer.body.error.field, "__proto__");
  });

  it("refuses an unknown message field, naming it (400 invalid_request)", TEST_TIMEOUT, async () => {
    const { url } = await start();
    const alice = client(url, ALICE);
    const { body: made } = await alice.post("/v1/sessions", {});
    const answer = await alice.post(`/v1/sessions/${made.id}/messages`, { text: "hi", urgent: true });
    assert.equal(answer.status, 400);
    assert.equal(answer.body.error.code, "invalid_request");
    assert.equal(answer.body.error.field, "urgent");
  });

  it("refuses a message of the wrong type, naming the field", TEST_TIMEOUT, async () => {
    const { url } = await start();
    const alice = client(url, ALICE);
    const { body: made } = await alice.post("/v1/sessions", {});
    const answer = await alice.post(`/v1/sessions/${made.id}/messages`, { text: 42 });
    assert.equal(answer.status, 400);
    assert.equal(answer.body.error.field, "text");
  });

  it("refuses an unknown query parameter", TEST_TIMEOUT, async () => {
    const { url } = await start();
    const answer = await client(url, ALICE).get("/v1/sessions?colour=blue");
    assert.equal(answer.status, 400);
    assert.equal(answer.body.error.field, "colour");
  });

  it("refuses a Last-Event-ID that is not an event's seq, naming the header", TEST_TIMEOUT, async () => {
    const { url } = await start();
    const { body: made } = await client(url, ALICE).post("/v1/sessions", {});
    const answer = await call(url, "GET", `/v1/sessions/${made.id}/events`, {
      token: ALICE,
      headers: { accept: "text/event-stream", "last-event-id": "yesterday" },
    });
    assert.equal(answer.status, 400);
    assert.equal(answer.body.error.field, "last-event-id");
  });

  it("refuses a body over the limit with 413 payload_too_large", TEST_TIMEOUT, async () => {
    const { url } = await start();
    const huge = JSON.stringify({ name: "x", metadata: { blob: "y".repeat(1024 * 1024 + 10) } });
    const answer = await call(url, "POST", "/v1/sessions", { token: ALICE, body: huge });
    assert.equal(answer.status, 413);
    assert.equal(answer.body.error.code, "payload_too_large");
  });

  it("refuses a chunked body over the limit with 413 too", TEST_TIMEOUT, async () => {
    const { url } = await start({ limits: { maxBodyBytes: 1024 } });
    const chunks = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < 8; i++) controller.enqueue(new TextEncoder().encode("a".repeat(512)));
        controller.close();
      },
    });
    const response = await fetch(`${url}/v1/sessions`, {
      method: "POST",
      headers: { authorization: `Bearer ${ALICE}`, "content-type": "application/json" },
      body: chunks,
      duplex: "half",
    } as RequestInit);
    assert.equal(response.status, 413);
    assert.equal(((await response.json()) as { error: { code: string } }).error.code, "payload_too_large");
  });

  it("refuses a body that is not sent as JSON (415)", TEST_TIMEOUT, async () => {
    const { url } = await start();
    const answer = await call(url, "POST", "/v1/sessions", {
      token: ALICE,
      body: "{}",
      headers: { "content-type": "text/plain" },
    });
    assert.equal(answer.status, 415);
    assert.equal(answer.body.error.code, "unsupported_media_type");
  });

  it("answers 404 session_not_found for an unknown session", TEST_TIMEOUT, async () => {
    const { url } = await start();
    const answer = await client(url, ALICE).get(`/v1/sessions/${MISSING_ID}`);
    assert.equal(answer.status, 404);
    assert.equal(answer.body.error.code, "session_not_found");
  });

  it("answers 400 invalid_session_id for an id that is not one", TEST_TIMEOUT, async () => {
    const { url } = await start();
    const answer = await client(url, ALICE).get("/v1/sessions/not-an-id");
    assert.equal(answer.status, 400);
    assert.equal(answer.body.error.code, "invalid_session_id");
    assert.equal(answer.body.error.field, "id");
  });

  it("answers 404 not_found as JSON for a route that does not exist", TEST_TIMEOUT, async () => {
    const { url } = await start();
    const answer = await client(url, ALICE).get("/v2/anything");
    assert.equal(answer.status, 404);
    assert.equal(answer.body.error.code, "not_found");
  });

  it("refuses a client setting a session's owner", TEST_TIMEOUT, async () => {
    const { url } = await start();
    const answer = await client(url, ALICE).post("/v1/sessions", { owner: "bob" });
    assert.equal(answer.status, 400);
    assert.equal(answer.body.error.code, "invalid_config");
    assert.equal(answer.body.error.field, "owner");
  });
});

// ---- auth and owners -----------------------------------------------------------------------

describe("HTTP API: auth and owners", () => {
  it("answers 401 without a token, with WWW-Authenticate", TEST_TIMEOUT, async () => {
    const { url } = await start();
    const answer = await client(url, undefined).get("/v1/sessions");
    assert.equal(answer.status, 401);
    assert.equal(answer.body.error.code, "unauthorized");
    assert.match(answer.headers.get("www-authenticate") ?? "", /^Bearer/);
  });

  it("answers 401 for a token it does not know", TEST_TIMEOUT, async () => {
    const { url } = await start();
    const answer = await client(url, newToken()).get("/v1/sessions");
    assert.equal(answer.status, 401);
    assert.equal(answer.body.error.code, "unauthorized");
  });

  it("answers for another owner's session exactly as for a missing one", TEST_TIMEOUT, async () => {
    const { url, system } = await start();
    const alice = client(url, ALICE);
    const { body: bobs } = await client(url, BOB).post("/v1/sessions", { name: "bob's" });
    const requests: [string, (id: string) => Promise<Answer>][] = [
      ["get", (id) => alice.get(`/v1/sessions/${id}`)],
      ["message", (id) => alice.post(`/v1/sessions/${id}/messages`, { text: "echo mine now" })],
      [
        "stream",
        (id) =>
          call(url, "POST", `/v1/sessions/${id}/messages`, {
            token: ALICE,
            body: { text: "echo mine now" },
            headers: { accept: "text/event-stream" },
          }),
      ],
      [
        "events",
        (id) =>
          call(url, "GET", `/v1/sessions/${id}/events`, {
            token: ALICE,
            headers: { accept: "text/event-stream" },
          }),
      ],
      ["terminate", (id) => alice.delete(`/v1/sessions/${id}`)],
      ["history", (id) => alice.get(`/v1/sessions/${id}/history`)],
      ["export", (id) => alice.get(`/v1/sessions/${id}/export`)],
      ["restore", (id) => alice.post(`/v1/sessions/${id}/restore`)],
      ["cancel", (id) => alice.delete(`/v1/sessions/${id}/turn`)],
      ["approve", (id) => alice.post(`/v1/sessions/${id}/tool-calls/call_1_1/approve`)],
    ];
    for (const [what, request] of requests) {
      const theirs = await request(bobs.id);
      const missing = await request(MISSING_ID);
      assert.equal(theirs.status, 404, what);
      assert.equal(theirs.body.error.code, "session_not_found", what);
      assert.deepEqual(withoutId(theirs.body, bobs.id), withoutId(missing.body, MISSING_ID), what);
    }
    const untouched = await system.getSession(bobs.id);
    assert.equal(untouched?.status, "active");
    assert.deepEqual(await system.getHistory(bobs.id), []);
    assert.deepEqual((await alice.get("/v1/sessions")).body.sessions, []);
  });

  it(
    "without tokens, every request is the implicit owner's, who sees every session",
    TEST_TIMEOUT,
    async () => {
      const { url, system } = await start({ tokens: undefined });
      const made = await system.createSession({ name: "from code" });
      const anyone = client(url, undefined);
      const listed = await anyone.get("/v1/sessions");
      assert.equal(listed.status, 200);
      assert.deepEqual(
        listed.body.sessions.map((s: { id: string }) => s.id),
        [made.id],
      );
      const created = await anyone.post("/v1/sessions", {});
      assert.equal(created.status, 201);
      assert.equal(created.body.owner, undefined);
    },
  );

  it(
    "refuses to listen on a non-loopback address without tokens, starting nothing",
    TEST_TIMEOUT,
    async () => {
      const dataDir = join(tempDir(), "never-made");
      for (const host of ["0.0.0.0", "::", "192.0.2.10"]) {
        await assert.rejects(
          serve({ host, port: 0, dataDir }),
          (error: unknown) =>
            error instanceof InvalidArgumentError &&
            error.argument === "host" &&
            error.message.includes(host) &&
            error.message.includes("tokens"),
        );
      }
      assert.equal(existsSync(dataDir), false);
    },
  );

  it("listens on a non-loopback address when tokens are given", TEST_TIMEOUT, async () => {
    const system = await startSystem();
    systems.push(system);
    const server = await serve({ system, host: "0.0.0.0", port: 0, tokens: TOKENS });
    servers.push(server);
    const port = new URL(server.url).port;
    const answer = await client(`http://127.0.0.1:${port}`, ALICE).get("/v1/sessions");
    assert.equal(answer.status, 200);
  });
});

// ---- turns ---------------------------------------------------------------------------------

describe("HTTP API: turns", () => {
  it("sends a message and answers with the turn's reply as JSON", TEST_TIMEOUT, async () => {
    const { url } = await start();
    const alice = client(url, ALICE);
    const { body: made } = await alice.post("/v1/sessions", {});
    const reply = await alice.post(`/v1/sessions/${made.id}/messages`, { text: "echo hello world" });
    assert.equal(reply.status, 200);
    assert.equal(reply.body.text, "hello world");
    assert.equal(reply.body.stopReason, "end");
    assert.match(reply.body.turnId, /^t\d+$/);
  });

  it("streams a turn as SSE: turn_started, text deltas, done with the reply", TEST_TIMEOUT, async () => {
    const { url } = await start();
    const { body: made } = await client(url, ALICE).post("/v1/sessions", {});
    const stream = await openSse(url, `/v1/sessions/${made.id}/messages`, {
      token: ALICE,
      method: "POST",
      body: { text: "echo one two three" },
    });
    const parts = await stream.readUntil((m) => m.event === "done");
    assert.equal(parts[0]?.event, "turn_started");
    const text = parts.filter((p) => p.event === "text").map((p) => p.data.text);
    assert.ok(text.length >= 3, `deltas: ${JSON.stringify(text)}`);
    assert.equal(text.join(""), "one two three");
    const done = parts.at(-1);
    assert.equal(done?.data.reply.text, "one two three");
    assert.equal(done?.data.reply.turnId, parts[0]?.data.turnId);
    assert.equal(await stream.ends(), true);
  });

  it(
    "cancels the turn when the client closes its stream: the turn ends cancelled",
    TEST_TIMEOUT,
    async () => {
      const { url, system } = await start({ chunkDelayMs: 100 });
      const { body: made } = await client(url, ALICE).post("/v1/sessions", {});
      const events = recorder();
      await system.subscribe(made.id, events.listener);
      const words = Array.from({ length: 100 }, (_, i) => `w${i}`).join(" ");
      const stream = await openSse(url, `/v1/sessions/${made.id}/messages`, {
        token: ALICE,
        method: "POST",
        body: { text: `echo ${words}` },
      });
      await stream.readUntil((m) => m.event === "text");
      stream.close();
      const cancelled = await events.waitFor((e) => e.type === "turn_cancelled", 5000);
      assert.equal(cancelled.type, "turn_cancelled");
      const history = await system.getHistory(made.id);
      assert.equal(history[0]?.status, "cancelled");
      assert.ok(!events.events.some((e) => e.type === "llm_done"), "the turn did not run to its end");
    },
  );

  it("cancels a JSON turn when its client goes away before the reply", TEST_TIMEOUT, async () => {
    const { url, system } = await start({ chunkDelayMs: 100 });
    const { body: made } = await client(url, ALICE).post("/v1/sessions", {});
    const events = recorder();
    await system.subscribe(made.id, events.listener);
    const words = Array.from({ length: 100 }, (_, i) => `w${i}`).join(" ");
    const controller = new AbortController();
    const sending = fetch(`${url}/v1/sessions/${made.id}/messages`, {
      method: "POST",
      headers: { authorization: `Bearer ${ALICE}`, "content-type": "application/json" },
      body: JSON.stringify({ text: `echo ${words}` }),
      signal: controller.signal,
    });
    await events.waitFor((e) => e.type === "llm_delta");
    controller.abort();
    await assert.rejects(sending);
    await events.waitFor((e) => e.type === "turn_cancelled", 5000);
    assert.equal((await system.getHistory(made.id))[0]?.status, "cancelled");
  });

  it(
    "cancels the running turn on DELETE /turn; the sender gets 409 turn_cancelled",
    TEST_TIMEOUT,
    async () => {
      const { url, system } = await start({ chunkDelayMs: 100 });
      const alice = client(url, ALICE);
      const { body: made } = await alice.post("/v1/sessions", {});
      const events = recorder();
      await system.subscribe(made.id, events.listener);
      const words = Array.from({ length: 100 }, (_, i) => `w${i}`).join(" ");
      const sending = alice.post(`/v1/sessions/${made.id}/messages`, { text: `echo ${words}` });
      await events.waitFor((e) => e.type === "llm_delta");
      const cancelled = await call(url, "DELETE", `/v1/sessions/${made.id}/turn?reason=enough`, {
        token: ALICE,
      });
      assert.equal(cancelled.status, 200);
      assert.deepEqual(cancelled.body, { cancelled: true });
      const sent = await sending;
      assert.equal(sent.status, 409);
      assert.equal(sent.body.error.code, "turn_cancelled");
    },
  );

  it(
    "refuses an owner's messages past the limit a minute with 429 and Retry-After; others are not counted",
    TEST_TIMEOUT,
    async () => {
      const { url } = await start({ limits: { maxMessagesPerMinute: 3 } });
      const alice = client(url, ALICE);
      const bob = client(url, BOB);
      const { body: mine } = await alice.post("/v1/sessions", {});
      const { body: theirs } = await bob.post("/v1/sessions", {});
      for (let i = 0; i < 3; i++) {
        assert.equal(
          (await alice.post(`/v1/sessions/${mine.id}/messages`, { text: `echo ${i}` })).status,
          200,
        );
      }
      const refused = await alice.post(`/v1/sessions/${mine.id}/messages`, { text: "echo one too many" });
      assert.equal(refused.status, 429);
      assert.equal(refused.body.error.code, "rate_limited");
      assert.ok(Number(refused.headers.get("retry-after")) >= 1);
      assert.equal(
        (await bob.post(`/v1/sessions/${theirs.id}/messages`, { text: "echo bob's" })).status,
        200,
      );
    },
  );

  it("answers a DELETE /turn with nothing running with cancelled: false", TEST_TIMEOUT, async () => {
    const { url } = await start();
    const alice = client(url, ALICE);
    const { body: made } = await alice.post("/v1/sessions", {});
    const answer = await alice.delete(`/v1/sessions/${made.id}/turn`);
    assert.equal(answer.status, 200);
    assert.deepEqual(answer.body, { cancelled: false });
  });

  it("approves a tool call that asks: the command runs and the turn ends", TEST_TIMEOUT, async () => {
    const { url } = await start();
    const project = tempDir();
    const { body: made } = await client(url, ALICE).post("/v1/sessions", { projectPath: project });
    const stream = await openSse(url, `/v1/sessions/${made.id}/messages`, {
      token: ALICE,
      method: "POST",
      body: { text: "tool run_command echo approved-over-http" },
    });
    const [asked] = (await stream.readUntil((m) => m.event === "tool_approval_requested")).slice(-1);
    const approved = await client(url, ALICE).post(
      `/v1/sessions/${made.id}/tool-calls/${asked?.data.callId}/approve`,
    );
    assert.equal(approved.status, 204);
    const rest = await stream.readUntil((m) => m.event === "done", 15_000);
    const result = rest.find((m) => m.event === "tool_result");
    assert.equal(result?.data.ok, true);
    assert.match(JSON.stringify(result?.data.result), /approved-over-http/);
  });

  it("denies a tool call that asks, with a reason the model is told", TEST_TIMEOUT, async () => {
    const { url } = await start();
    const project = tempDir();
    const { body: made } = await client(url, ALICE).post("/v1/sessions", { projectPath: project });
    const stream = await openSse(url, `/v1/sessions/${made.id}/messages`, {
      token: ALICE,
      method: "POST",
      body: { text: "tool run_command echo never-runs" },
    });
    const [asked] = (await stream.readUntil((m) => m.event === "tool_approval_requested")).slice(-1);
    const denied = await client(url, ALICE).post(
      `/v1/sessions/${made.id}/tool-calls/${asked?.data.callId}/deny`,
      {
        reason: "not today",
      },
    );
    assert.equal(denied.status, 204);
    const rest = await stream.readUntil((m) => m.event === "done", 15_000);
    const result = rest.find((m) => m.event === "tool_result");
    assert.equal(result?.data.ok, false);
    assert.match(JSON.stringify(result?.data.error), /not today/);
  });

  it("answers 409 tool_call_not_pending for a call not waiting", TEST_TIMEOUT, async () => {
    const { url } = await start();
    const alice = client(url, ALICE);
    const { body: made } = await alice.post("/v1/sessions", {});
    const answer = await alice.post(`/v1/sessions/${made.id}/tool-calls/call_9_9/approve`);
    assert.equal(answer.status, 409);
    assert.equal(answer.body.error.code, "tool_call_not_pending");
  });

  it(
    "refuses more streams than an owner may hold with 429, and frees the slot when one closes",
    TEST_TIMEOUT,
    async () => {
      const { url } = await start({ limits: { maxStreamsPerOwner: 1 } });
      const { body: made } = await client(url, ALICE).post("/v1/sessions", {});
      const first = await openSse(url, `/v1/sessions/${made.id}/events`, { token: ALICE });
      const second = await call(url, "GET", "/v1/events", {
        token: ALICE,
        headers: { accept: "text/event-stream" },
      });
      assert.equal(second.status, 429);
      assert.equal(second.body.error.code, "too_many_streams");
      const bobs = await openSse(url, "/v1/events", { token: BOB });
      bobs.close();
      first.close();
      let again: Answer | undefined;
      for (let i = 0; i < 50; i++) {
        // The slot is given back when the server sees the connection closed.
        const controller = streamController();
        const response = await fetch(`${url}/v1/events`, {
          headers: { authorization: `Bearer ${ALICE}`, accept: "text/event-stream" },
          signal: controller.signal,
        });
        again = { status: response.status, headers: response.headers, body: undefined };
        controller.abort();
        if (response.status === 200) break;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      assert.equal(again?.status, 200);
    },
  );
});

// ---- events --------------------------------------------------------------------------------

describe("HTTP API: events", () => {
  it("streams a session's events with their seq as the SSE id", TEST_TIMEOUT, async () => {
    const { url } = await start();
    const alice = client(url, ALICE);
    const { body: made } = await alice.post("/v1/sessions", {});
    const stream = await openSse(url, `/v1/sessions/${made.id}/events`, { token: ALICE });
    await alice.post(`/v1/sessions/${made.id}/messages`, { text: "echo watched" });
    const seen = await stream.readUntil((m) => m.event === "llm_done");
    assert.ok(seen.some((m) => m.event === "turn_started"));
    assert.ok(seen.some((m) => m.event === "llm_delta"));
    for (const message of seen) {
      assert.equal(message.id, String(message.data.seq));
      assert.equal(message.event, message.data.type);
    }
  });

  it("resumes after Last-Event-ID with exactly the events missed while away", TEST_TIMEOUT, async () => {
    const { url, system } = await start();
    const alice = client(url, ALICE);
    const { body: made } = await alice.post("/v1/sessions", {});
    const stream = await openSse(url, `/v1/sessions/${made.id}/events`, { token: ALICE });
    await alice.post(`/v1/sessions/${made.id}/messages`, { text: "echo first" });
    const before = await stream.readUntil((m) => m.event === "llm_done");
    const lastId = before.at(-1)?.id as string;
    stream.close();

    // Away: a whole turn happens.
    await alice.post(`/v1/sessions/${made.id}/messages`, { text: "echo second" });
    const missed: SessionEvent[] = [];
    system.unsubscribe(await system.subscribe(made.id, (e) => missed.push(e), { since: Number(lastId) }));
    assert.ok(missed.length >= 3, `missed ${missed.map((e) => e.type)}`);

    const resumed = await openSse(url, `/v1/sessions/${made.id}/events`, {
      token: ALICE,
      headers: { "last-event-id": lastId },
    });
    const got: SseMessage[] = [];
    for (let i = 0; i < missed.length; i++) got.push((await resumed.next()) as SseMessage);
    assert.deepEqual(
      got.map((m) => [m.id, m.event]),
      missed.map((e) => [String(e.seq), e.type]),
    );
    assert.deepEqual(got.map((m) => m.data.turn?.content ?? null).filter(Boolean), ["echo second", "second"]);
    // And nothing more, until something happens.
    await assert.rejects(resumed.next(300), /no SSE event/);
    await alice.post(`/v1/sessions/${made.id}/messages`, { text: "echo third" });
    const live = await resumed.next();
    assert.equal(Number(live?.id), (missed.at(-1)?.seq ?? 0) + 1);
  });

  it("keeps an idle stream alive with a comment line every heartbeatMs", TEST_TIMEOUT, async () => {
    const { url } = await start({ limits: { heartbeatMs: 50 } });
    const { body: made } = await client(url, ALICE).post("/v1/sessions", {});
    const controller = streamController();
    const response = await fetch(`${url}/v1/sessions/${made.id}/events`, {
      headers: { authorization: `Bearer ${ALICE}`, accept: "text/event-stream" },
      signal: controller.signal,
    });
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    let text = "";
    while ((text.match(/^: ping$/gm) ?? []).length < 2) {
      const chunk = await reader.read();
      if (chunk.done) break;
      text += new TextDecoder().decode(chunk.value);
    }
    assert.equal((text.match(/^: ping$/gm) ?? []).length, 2);
  });

  it("takes ?since= as Last-Event-ID", TEST_TIMEOUT, async () => {
    const { url } = await start();
    const alice = client(url, ALICE);
    const { body: made } = await alice.post("/v1/sessions", {});
    await alice.post(`/v1/sessions/${made.id}/messages`, { text: "echo kept" });
    const stream = await openSse(url, `/v1/sessions/${made.id}/events?since=0`, { token: ALICE });
    const replayed = await stream.readUntil((m) => m.event === "llm_done");
    assert.equal(replayed[0]?.event, "session_created");
    assert.equal(replayed[0]?.id, "1");
  });

  it("ends a session's event stream when the session is terminated", TEST_TIMEOUT, async () => {
    const { url } = await start();
    const alice = client(url, ALICE);
    const { body: made } = await alice.post("/v1/sessions", {});
    const stream = await openSse(url, `/v1/sessions/${made.id}/events`, { token: ALICE });
    await alice.delete(`/v1/sessions/${made.id}`);
    const seen = await stream.readUntil((m) => m.event === "session_terminated");
    assert.equal(seen.at(-1)?.data.sessionId, made.id);
    assert.equal(await stream.ends(), true);
    // Reconnecting after the end: nothing more to say (204 stops an EventSource).
    const again = await call(url, "GET", `/v1/sessions/${made.id}/events`, {
      token: ALICE,
      headers: { "last-event-id": seen.at(-1)?.id as string },
    });
    assert.equal(again.status, 204);
  });

  it("streams every session's events of the caller only on /v1/events", TEST_TIMEOUT, async () => {
    const { url } = await start();
    const stream = await openSse(url, "/v1/events", { token: ALICE });
    const { body: bobs } = await client(url, BOB).post("/v1/sessions", {});
    const { body: alices } = await client(url, ALICE).post("/v1/sessions", {});
    await client(url, BOB).post(`/v1/sessions/${bobs.id}/messages`, { text: "echo bob" });
    await client(url, ALICE).post(`/v1/sessions/${alices.id}/messages`, { text: "echo alice" });
    const seen = await stream.readUntil((m) => m.event === "llm_done");
    assert.ok(seen.length > 3);
    assert.deepEqual(new Set(seen.map((m) => m.data.sessionId)), new Set([alices.id]));
    assert.equal(seen[0]?.event, "session_created");
  });

  it(
    "numbers /v1/events with global ids and resumes after Last-Event-ID with exactly what was missed",
    TEST_TIMEOUT,
    async () => {
      const { url, system } = await start();
      const alice = client(url, ALICE);
      const stream = await openSse(url, "/v1/events", { token: ALICE });
      const { body: first } = await alice.post("/v1/sessions", {});
      await alice.post(`/v1/sessions/${first.id}/messages`, { text: "echo one" });
      const before = await stream.readUntil((m) => m.event === "llm_done");
      for (const message of before) assert.match(message.id ?? "", /^[0-9a-f]{8}\.\d+$/);
      const lastId = before.at(-1)?.id as string;
      stream.close();

      // Away: another session is made and both talk; everything of it is published meanwhile.
      const missed: SessionEvent[] = [];
      const watching = system.subscribeAll((event) => missed.push(event));
      const { body: second } = await alice.post("/v1/sessions", {});
      await alice.post(`/v1/sessions/${second.id}/messages`, { text: "echo two" });
      await alice.post(`/v1/sessions/${first.id}/messages`, { text: "echo three" });
      watching.unsubscribe();

      const resumed = await openSse(url, "/v1/events", {
        token: ALICE,
        headers: { "last-event-id": lastId },
      });
      const got: SseMessage[] = [];
      for (let i = 0; i < missed.length; i++) got.push((await resumed.next()) as SseMessage);
      assert.deepEqual(
        got.map((m) => [m.event, m.data.sessionId]),
        missed.map((e) => [e.type, e.sessionId]),
      );
      const [epoch, n] = lastId.split(".");
      assert.deepEqual(
        got.map((m) => m.id),
        missed.map((_, i) => `${epoch}.${Number(n) + i + 1}`),
      );
      await assert.rejects(resumed.next(300), /no SSE event/);
    },
  );

  it("resumes /v1/events with the caller's sessions only", TEST_TIMEOUT, async () => {
    const { url } = await start();
    const stream = await openSse(url, "/v1/events", { token: BOB });
    const { body: bobs } = await client(url, BOB).post("/v1/sessions", {});
    const [created] = await stream.readUntil((m) => m.event === "session_created");
    stream.close();
    await client(url, ALICE).post("/v1/sessions", {});
    await client(url, BOB).post(`/v1/sessions/${bobs.id}/messages`, { text: "echo bob" });
    const resumed = await openSse(url, `/v1/events?since=${created?.id}`, { token: BOB });
    const seen = await resumed.readUntil((m) => m.event === "llm_done");
    assert.deepEqual(new Set(seen.map((m) => m.data.sessionId)), new Set([bobs.id]));
  });

  it(
    "sends events_lost first for a cursor of an earlier server, then live events",
    TEST_TIMEOUT,
    async () => {
      const { url } = await start();
      const stream = await openSse(url, "/v1/events", {
        token: ALICE,
        headers: { "last-event-id": "00000000.12" },
      });
      const lost = await stream.next();
      assert.equal(lost?.event, "events_lost");
      assert.equal(lost?.data.since, "00000000.12");
      assert.match(lost?.data.message, /restarted/);
      await client(url, ALICE).post("/v1/sessions", {});
      assert.equal((await stream.next())?.event, "session_created");
    },
  );

  it(
    "sends events_lost, then every kept event, for a cursor older than keptGlobalEvents",
    TEST_TIMEOUT,
    async () => {
      const { url } = await start({ limits: { keptGlobalEvents: 3 } });
      const alice = client(url, ALICE);
      const stream = await openSse(url, "/v1/events", { token: ALICE });
      const { body: made } = await alice.post("/v1/sessions", {});
      const [created] = await stream.readUntil((m) => m.event === "session_created");
      stream.close();
      await alice.post(`/v1/sessions/${made.id}/messages`, { text: "echo a long enough reply" });
      const resumed = await openSse(url, "/v1/events", {
        token: ALICE,
        headers: { "last-event-id": created?.id as string },
      });
      const lost = await resumed.next();
      assert.equal(lost?.event, "events_lost");
      assert.match(lost?.data.message, /only the newest 3 events are kept/);
      const kept = [
        (await resumed.next()) as SseMessage,
        (await resumed.next()) as SseMessage,
        (await resumed.next()) as SseMessage,
      ];
      const ids = kept.map((m) => Number((m.id as string).split(".")[1]));
      assert.deepEqual(ids, [ids[0], (ids[0] as number) + 1, (ids[0] as number) + 2]);
      assert.equal(kept.at(-1)?.event, "llm_done");
    },
  );

  it("sends only the asked types on /v1/events?types=", TEST_TIMEOUT, async () => {
    const { url } = await start();
    const alice = client(url, ALICE);
    const stream = await openSse(url, "/v1/events?types=session_created,turn_started", { token: ALICE });
    const { body: made } = await alice.post("/v1/sessions", {});
    await alice.post(`/v1/sessions/${made.id}/messages`, { text: "echo filtered" });
    await alice.post(`/v1/sessions/${made.id}/messages`, { text: "echo again" });
    const seen = await stream.readUntil((m) => m.event === "turn_started" && m.data.queued === 0, 5000);
    const more = await stream.next();
    assert.deepEqual(
      [...seen, more].map((m) => m?.event),
      ["session_created", "turn_started", "turn_started"],
    );
  });

  it(
    "refuses /v1/events?types= that is not a list of event types (400 naming types)",
    TEST_TIMEOUT,
    async () => {
      const { url } = await start();
      const answer = await call(url, "GET", "/v1/events?types=Session-Status", {
        token: ALICE,
        headers: { accept: "text/event-stream" },
      });
      assert.equal(answer.status, 400);
      assert.equal(answer.body.error.field, "types");
    },
  );

  it("refuses a malformed Last-Event-ID on /v1/events with 400 naming it", TEST_TIMEOUT, async () => {
    const { url } = await start();
    const answer = await call(url, "GET", "/v1/events", {
      token: ALICE,
      headers: { accept: "text/event-stream", "last-event-id": "12" },
    });
    assert.equal(answer.status, 400);
    assert.equal(answer.body.error.field, "last-event-id");
  });
});

// ---- health and closing --------------------------------------------------------------------

describe("HTTP API: health and graceful close", () => {
  it("answers /healthz and /readyz without a token", TEST_TIMEOUT, async () => {
    const { url } = await start();
    assert.deepEqual((await call(url, "GET", "/healthz")).body, { status: "ok" });
    const ready = await call(url, "GET", "/readyz");
    assert.equal(ready.status, 200);
    assert.deepEqual(ready.body, { status: "ready" });
  });

  it("leaves the process's global Request and Response alone", TEST_TIMEOUT, async () => {
    const before = [globalThis.Request, globalThis.Response];
    const { url } = await start();
    await client(url, ALICE).post("/v1/sessions", {});
    assert.deepEqual([globalThis.Request, globalThis.Response], before);
  });

  it("answers /readyz 503 once the session system has stopped", TEST_TIMEOUT, async () => {
    const { url, system } = await start();
    await system.stop();
    const ready = await call(url, "GET", "/readyz");
    assert.equal(ready.status, 503);
    assert.equal(ready.body.error.code, "not_ready");
    assert.equal((await call(url, "GET", "/healthz")).status, 200);
  });

  it(
    "closes gracefully: streams end, the streamed turn is cancelled, the system stops",
    TEST_TIMEOUT,
    async () => {
      const dataDir = tempDir();
      const server = await serve({
        port: 0,
        dataDir,
        tokens: TOKENS,
        logger: silentLogger(),
        systemOptions: { providers: defaultProviders({ chunkDelayMs: 100 }) },
      });
      servers.push(server);
      const alice = client(server.url, ALICE);
      const { body: made } = await alice.post("/v1/sessions", {});
      const events = await openSse(server.url, `/v1/sessions/${made.id}/events`, { token: ALICE });
      const words = Array.from({ length: 100 }, (_, i) => `w${i}`).join(" ");
      const turn = await openSse(server.url, `/v1/sessions/${made.id}/messages`, {
        token: ALICE,
        method: "POST",
        body: { text: `echo ${words}` },
      });
      await turn.readUntil((m) => m.event === "text");

      const started = Date.now();
      await server.close();
      assert.ok(Date.now() - started < 2000, `close took ${Date.now() - started} ms`);
      assert.equal(await events.ends(), true);
      assert.equal(await turn.ends(), true);
      await assert.rejects(fetch(`${server.url}/healthz`));

      // The store was closed cleanly: it opens again, with the turn recorded as cancelled.
      const again = await startSystem({ storePath: join(dataDir, "sessions.db") });
      systems.push(again);
      const history = await again.getHistory(made.id);
      assert.equal(history[0]?.status, "cancelled");
    },
  );
});
