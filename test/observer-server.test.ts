// What the server adds for the web observer, over real HTTP: the built page and its assets
// (content types, caching, unknown and traversing names refused, a missing build named), the
// pushed tree stream, a session's files, and the kill routes that only development mode has —
// each as one owner may use them and another may not.
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it, type TestContext } from "node:test";
import { Hono } from "hono";
import { InvalidArgumentError, type RunningServer, type SessionSystemOptions, serve } from "../src/index.js";
import { runServeCommand } from "../src/server/command.js";
import type { ServerEnv } from "../src/server/context.js";
import { errorResponse } from "../src/server/errors.js";
import { observerPage } from "../src/server/observer.js";
import type { TreeStreamChanges, TreeStreamSnapshot } from "../src/server/observer-types.js";
import { SseParser } from "../web/src/sse-parser.js";
import { ALICE, BOB, TOKENS } from "./support/http-servers.js";
import { startSystem } from "./support/sessions.js";

const TEST_TIMEOUT = { timeout: 30_000 };
const ASSET = "index-Ab12_cD3.js";

/** A built observer in a temporary folder, served by a bare app (errors answered as the server does). */
function pageApp(t: TestContext, built = true): Hono<ServerEnv> {
  const dir = mkdtempSync(join(tmpdir(), "sessionvisor-observer-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  if (built) {
    mkdirSync(join(dir, "assets"));
    writeFileSync(join(dir, "index.html"), `<!doctype html><script src="/assets/${ASSET}"></script>`);
    writeFileSync(join(dir, "assets", ASSET), "console.log(1)");
    writeFileSync(join(dir, "assets", "index-Ab12_cD3.css"), "body{}");
    writeFileSync(join(dir, "assets", `${ASSET}.map`), "{}");
  }
  // A file beside the build that no URL may reach.
  writeFileSync(join(dir, "secret.txt"), "TOP-SECRET-CONTENT");
  const app = new Hono<ServerEnv>();
  app.onError((error, c) => {
    const { status, body } = errorResponse(error);
    return c.json(body, status as 404);
  });
  app.notFound((c) => c.json({ error: { code: "not_found", message: "no route" } }, 404));
  observerPage(app, dir);
  return app;
}

async function started(
  t: TestContext,
  options: { dev?: boolean; system?: SessionSystemOptions } = {},
): Promise<RunningServer> {
  const system = await startSystem(options.system);
  t.after(() => system.stop());
  const server = await serve({ system, port: 0, tokens: TOKENS, dev: options.dev, closeGraceMs: 1000 });
  t.after(() => server.close());
  return server;
}

async function call(url: string, method: string, path: string, token: string, body?: unknown) {
  const response = await fetch(`${url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  // biome-ignore lint/suspicious/noExplicitAny: a JSON answer, read by the fields each test expects.
  const json: any = text ? JSON.parse(text) : undefined;
  return { status: response.status, body: json };
}

async function createSession(url: string, token: string): Promise<string> {
  const made = await call(url, "POST", "/v1/sessions", token, {});
  assert.equal(made.status, 201);
  return made.body.id as string;
}

/** Reads an SSE response's events as they come, as the page does (fetch, not EventSource). */
function events(response: Response): () => Promise<{ event: string; data: unknown }> {
  assert.ok(response.body);
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  const parser = new SseParser();
  const queued: { event: string; data: unknown }[] = [];
  return async () => {
    while (queued.length === 0) {
      const { value, done } = await reader.read();
      assert.ok(!done, "the stream ended");
      for (const m of parser.push(value)) queued.push({ event: m.event, data: JSON.parse(m.data) });
    }
    return queued.shift() as { event: string; data: unknown };
  };
}

async function until(check: () => Promise<boolean> | boolean, what: string): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (!(await check())) {
    assert.ok(Date.now() < deadline, `timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

describe("the observer's page", () => {
  it(
    "is served at / as HTML, asked for again each time, with a strict content policy",
    TEST_TIMEOUT,
    async (t) => {
      const response = await pageApp(t).request("/");
      assert.equal(response.status, 200);
      assert.equal(response.headers.get("content-type"), "text/html; charset=utf-8");
      assert.equal(response.headers.get("cache-control"), "no-cache");
      assert.match(
        response.headers.get("content-security-policy") ?? "",
        /default-src 'self'; connect-src 'self'/,
      );
      assert.match(await response.text(), new RegExp(ASSET));
    },
  );

  it("serves a hashed asset with its content type, cached for good", TEST_TIMEOUT, async (t) => {
    const app = pageApp(t);
    const script = await app.request(`/assets/${ASSET}`);
    assert.equal(script.status, 200);
    assert.equal(script.headers.get("content-type"), "text/javascript; charset=utf-8");
    assert.equal(script.headers.get("cache-control"), "public, max-age=31536000, immutable");
    assert.equal(await script.text(), "console.log(1)");
    const style = await app.request("/assets/index-Ab12_cD3.css");
    assert.equal(style.headers.get("content-type"), "text/css; charset=utf-8");
  });

  it("answers 404 for an unknown asset and for a source map", TEST_TIMEOUT, async (t) => {
    const app = pageApp(t);
    for (const path of ["/assets/index-nothere.js", `/assets/${ASSET}.map`]) {
      const response = await app.request(path);
      assert.equal(response.status, 404, path);
      assert.equal(((await response.json()) as { error: { code: string } }).error.code, "not_found");
    }
  });

  it("refuses names that climb out of the build, however they are encoded", TEST_TIMEOUT, async (t) => {
    const app = pageApp(t);
    for (const path of [
      "/..%2fsecret.txt",
      "/assets/..%2fsecret.txt",
      "/assets/..%2F..%2Fpackage.json",
      "/assets/%2e%2e%2fsecret.txt",
      "/assets/..%5csecret.txt",
      "/assets/.%2e/secret.txt",
      "/assets/../secret.txt",
    ]) {
      const response = await app.request(path);
      assert.equal(response.status, 404, path);
      assert.doesNotMatch(await response.text(), /TOP-SECRET-CONTENT/, path);
    }
  });

  it(
    "answers 404 observer_not_built, naming the fix, when the page was not built",
    TEST_TIMEOUT,
    async (t) => {
      const response = await pageApp(t, false).request("/");
      assert.equal(response.status, 404);
      const body = (await response.json()) as { error: { code: string; message: string } };
      assert.equal(body.error.code, "observer_not_built");
      assert.match(body.error.message, /npm run build/);
    },
  );

  it(
    "needs no token on a server with tokens (the page asks for one), unlike the API",
    TEST_TIMEOUT,
    async (t) => {
      const server = await started(t);
      const page = await fetch(`${server.url}/`);
      // Built (200) or not (404): either way not a 401.
      assert.ok([200, 404].includes(page.status), String(page.status));
      await page.body?.cancel();
      assert.equal((await fetch(`${server.url}/v1/tree/stream`)).status, 401);
    },
  );
});

describe("GET /v1/tree/stream", () => {
  it(
    "sends a snapshot of the caller's sessions with their agents, and none of another owner's",
    TEST_TIMEOUT,
    async (t) => {
      const server = await started(t);
      const mine = await createSession(server.url, ALICE);
      const theirs = await createSession(server.url, BOB);
      const controller = new AbortController();
      t.after(() => controller.abort());
      const response = await fetch(`${server.url}/v1/tree/stream`, {
        headers: { authorization: `Bearer ${ALICE}` },
        signal: controller.signal,
      });
      assert.equal(response.headers.get("content-type"), "text/event-stream; charset=utf-8");
      const first = await events(response)();
      assert.equal(first.event, "snapshot");
      const snapshot = first.data as TreeStreamSnapshot;
      assert.equal(snapshot.dev, false);
      assert.deepEqual(
        snapshot.sessions.map((s) => s.id),
        [mine],
      );
      const session = snapshot.sessions[0];
      assert.equal(session?.status, "active");
      assert.equal(session?.supervisor?.type, "supervisor");
      assert.deepEqual(session?.supervisor?.children?.map((c) => c.id).sort(), [
        "context_manager",
        "llm_orchestrator",
      ]);
      assert.equal(session?.supervisor?.children?.[0]?.status, "running");
      assert.doesNotMatch(JSON.stringify(snapshot), new RegExp(theirs));
      assert.ok(
        snapshot.system.children?.some((c) => c.id === "sessions_supervisor"),
        "the system's own processes are shown",
      );
    },
  );

  it(
    "pushes a new session, and a restart's new supervisor and crash, as changes",
    TEST_TIMEOUT,
    async (t) => {
      const server = await started(t);
      const controller = new AbortController();
      t.after(() => controller.abort());
      const next = events(
        await fetch(`${server.url}/v1/tree/stream`, {
          headers: { authorization: `Bearer ${ALICE}` },
          signal: controller.signal,
        }),
      );
      assert.equal((await next()).event, "snapshot");
      const id = await createSession(server.url, ALICE);
      let change = (await next()).data as TreeStreamChanges;
      while (!change.sessions.some((s) => s.id === id && s.supervisor))
        change = (await next()).data as TreeStreamChanges;
      const before = change.sessions.find((s) => s.id === id)?.supervisor?.pid;
      server.system.runtime.exit(server.system.findSupervisor(id) as never, "kill");
      for (;;) {
        change = (await next()).data as TreeStreamChanges;
        const session = change.sessions.find((s) => s.id === id);
        if (session?.status === "active" && session.supervisor && session.supervisor.pid !== before) {
          assert.equal(session.restarts, 1);
          assert.equal(session.lastCrash?.reason, "killed");
          break;
        }
      }
    },
  );
});

describe("GET /v1/sessions/:id/files", () => {
  it("lists the owner's session's context files, and is a 404 for another owner", TEST_TIMEOUT, async (t) => {
    const server = await started(t);
    const id = await createSession(server.url, ALICE);
    const mine = await call(server.url, "GET", `/v1/sessions/${id}/files`, ALICE);
    assert.equal(mine.status, 200);
    assert.deepEqual(mine.body, { active: [], index: [] });
    const theirs = await call(server.url, "GET", `/v1/sessions/${id}/files`, BOB);
    assert.equal(theirs.status, 404);
    assert.equal(theirs.body.error.code, "session_not_found");
  });
});

describe("the kill routes", () => {
  it("answer 404 without development mode, and kill nothing", TEST_TIMEOUT, async (t) => {
    const server = await started(t);
    const id = await createSession(server.url, ALICE);
    const supervisor = server.system.findSupervisor(id);
    const pid = encodeURIComponent(String(supervisor));
    const killed = await call(server.url, "POST", `/v1/processes/${pid}/kill`, ALICE, {});
    assert.equal(killed.status, 404);
    assert.equal(killed.body.error.code, "not_found");
    const host = await call(server.url, "POST", "/v1/hosts/anything/kill", ALICE, {});
    assert.equal(host.status, 404);
    assert.equal(host.body.error.code, "not_found");
    assert.equal(String(server.system.findSupervisor(id)), String(supervisor));
    assert.equal(server.system.runtime.info(supervisor as never)?.status, "running");
  });

  it("in development mode kill the owner's session supervisor, which recovers", TEST_TIMEOUT, async (t) => {
    const server = await started(t, { dev: true });
    const id = await createSession(server.url, ALICE);
    const supervisor = String(server.system.findSupervisor(id));
    const statuses: string[] = [];
    const subscription = await server.system.subscribe(id, (e) => {
      if (e.type === "session_status") statuses.push(e.status);
    });
    t.after(() => server.system.unsubscribe(subscription));
    const killed = await call(
      server.url,
      "POST",
      `/v1/processes/${encodeURIComponent(supervisor)}/kill`,
      ALICE,
      {},
    );
    assert.equal(killed.status, 200, JSON.stringify(killed.body));
    assert.deepEqual(killed.body, { killed: supervisor });
    await until(() => statuses.includes("active"), "the session is active again");
    assert.deepEqual(statuses, ["recovering", "active"]);
    assert.notEqual(String(server.system.findSupervisor(id)), supervisor);
  });

  it("answer 404 for another owner's process and leave it running", TEST_TIMEOUT, async (t) => {
    const server = await started(t, { dev: true });
    const id = await createSession(server.url, ALICE);
    const supervisor = server.system.findSupervisor(id);
    const orchestrator = server.system.getOrchestratorPid(id);
    for (const pid of [supervisor, orchestrator]) {
      const killed = await call(
        server.url,
        "POST",
        `/v1/processes/${encodeURIComponent(String(pid))}/kill`,
        BOB,
        {},
      );
      assert.equal(killed.status, 404);
      assert.equal(killed.body.error.code, "process_not_found");
      assert.equal(server.system.runtime.info(pid as never)?.status, "running");
    }
    const gone = await call(
      server.url,
      "POST",
      `/v1/processes/${encodeURIComponent("<nowhere.1>")}/kill`,
      ALICE,
      {},
    );
    assert.equal(gone.status, 404);
  });

  it("in development mode kill the owner's session host, not another owner's", {
    timeout: 60_000,
  }, async (t) => {
    const server = await started(t, { dev: true, system: { isolation: "thread" } });
    const id = await createSession(server.url, ALICE);
    const host = server.system.sessionHost(id)?.hostId as string;
    assert.ok(host && host !== server.system.runtime.node, "the session has a host of its own");
    const theirs = await call(server.url, "POST", `/v1/hosts/${encodeURIComponent(host)}/kill`, BOB, {});
    assert.equal(theirs.status, 404);
    assert.equal(theirs.body.error.code, "host_not_found");
    assert.equal(server.system.sessionHost(id)?.hostId, host);
    const mine = await call(server.url, "POST", `/v1/hosts/${encodeURIComponent(host)}/kill`, ALICE, {});
    assert.equal(mine.status, 200, JSON.stringify(mine.body));
    await until(async () => {
      const now = server.system.sessionHost(id)?.hostId;
      return now !== undefined && now !== host && (await server.system.getSession(id))?.status === "active";
    }, "the session runs again in a new host");
  });

  it(
    "are refused by sessionvisor serve --dev on an address other than loopback, exit code 2",
    TEST_TIMEOUT,
    async () => {
      let stderr = "";
      const code = await runServeCommand(
        { dev: true, host: "0.0.0.0", port: "0", memory: true },
        {
          stdout: { write: () => true },
          stderr: { write: (text: string) => (stderr += text) },
          env: { SESSIONVISOR_TOKENS: JSON.stringify(TOKENS) },
        },
      );
      assert.equal(code, 2);
      assert.match(stderr, /development mode .* refused on 0\.0\.0\.0/);
    },
  );

  it("are refused with development mode on an address other than loopback", TEST_TIMEOUT, async () => {
    await assert.rejects(
      serve({ memory: true, port: 0, host: "0.0.0.0", tokens: TOKENS, dev: true }),
      (error: unknown) => error instanceof InvalidArgumentError && /development mode/.test(error.message),
    );
  });
});
