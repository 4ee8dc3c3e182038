// GET /v1/tree and GET /v1/processes/:pid over real HTTP: the supervision tree of a real session
// system as each owner may see it, before and after a session's supervisor is killed.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { type TreeNode, TreeSchema } from "../src/server/schemas.js";
import { ALICE, BOB, serversForTests } from "./support/http-servers.js";

const TEST_TIMEOUT = { timeout: 30_000 };
const start = serversForTests();

async function call(url: string, method: string, path: string, token: string | null, body?: unknown) {
  const headers: Record<string, string> = {};
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers["content-type"] = "application/json";
  const response = await fetch(`${url}${path}`, {
    method,
    headers,
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  // biome-ignore lint/suspicious/noExplicitAny: a JSON answer, read by the fields each test expects.
  const json: any = text ? JSON.parse(text) : undefined;
  return { status: response.status, body: json };
}

async function createSession(url: string, token: string | null, body: object = {}): Promise<string> {
  const made = await call(url, "POST", "/v1/sessions", token, body);
  assert.equal(made.status, 201);
  return made.body.id as string;
}

async function tree(url: string, token: string | null): Promise<TreeNode> {
  const answer = await call(url, "GET", "/v1/tree", token);
  assert.equal(answer.status, 200, JSON.stringify(answer.body));
  const parsed = TreeSchema.safeParse(answer.body);
  assert.ok(parsed.success, `the tree has the documented shape: ${parsed.error?.message}`);
  return parsed.data.root;
}

function* walk(node: TreeNode): Generator<TreeNode> {
  yield node;
  for (const child of node.children ?? []) yield* walk(child);
}

function sessionNode(root: TreeNode, sessionId: string): TreeNode | undefined {
  return [...walk(root)].find((n) => n.sessionId === sessionId);
}

async function until(check: () => Promise<boolean> | boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error("timed out waiting");
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

describe("GET /v1/tree", () => {
  it("shows a session's supervisor with its context_manager and llm_orchestrator", TEST_TIMEOUT, async () => {
    const { url, system } = await start();
    const id = await createSession(url, ALICE);
    const root = await tree(url, ALICE);
    assert.equal(root.id, "root");
    assert.equal(root.type, "supervisor");
    const sessions = root.children?.find((n) => n.id === "sessions_supervisor");
    assert.ok(sessions, "the sessions supervisor is under the root");
    const session = sessionNode(root, id);
    assert.ok(session);
    assert.ok(sessions.children?.includes(session), "the session is a child of the sessions supervisor");
    assert.equal(session.pid, system.findSupervisor(id)?.toString());
    assert.equal(session.type, "supervisor");
    assert.equal(session.isolation, "inline");
    assert.equal(session.restarts, 0);
    assert.equal(session.host?.kind, "inline");
    assert.deepEqual(session.children?.map((n) => n.id).sort(), ["context_manager", "llm_orchestrator"]);
    const manager = session.children?.find((n) => n.id === "context_manager");
    assert.equal(manager?.pid, system.getContextManagerPid(id)?.toString());
    assert.equal(manager?.type, "worker");
    assert.equal(typeof manager?.mailbox, "number");
    assert.ok(
      manager?.names.some((name) => name.includes(id)),
      "its registered name",
    );
  });

  it(
    "shows new pids and the restart count after the session's supervisor is killed",
    TEST_TIMEOUT,
    async () => {
      const { url, system } = await start();
      const id = await createSession(url, ALICE);
      const before = sessionNode(await tree(url, ALICE), id);
      assert.ok(before);
      const supervisor = system.findSupervisor(id);
      assert.ok(supervisor);
      system.runtime.exit(supervisor, "kill");
      await until(
        async () =>
          (await system.getSession(id))?.status === "active" &&
          system.findSupervisor(id) !== undefined &&
          !system.findSupervisor(id)?.equals(supervisor),
      );
      const after = sessionNode(await tree(url, ALICE), id);
      assert.ok(after);
      assert.notEqual(after.pid, before.pid);
      assert.equal(after.restarts, 1);
      const oldChildren = new Set(before.children?.map((n) => n.pid));
      assert.equal(after.children?.length, 2);
      for (const child of after.children ?? [])
        assert.ok(!oldChildren.has(child.pid), `${child.id} has a new pid`);
    },
  );

  it("leaves out another owner's sessions; without tokens shows every one", TEST_TIMEOUT, async () => {
    const { url } = await start();
    const mine = await createSession(url, ALICE);
    const theirs = await createSession(url, BOB);
    const alice = await tree(url, ALICE);
    assert.ok(sessionNode(alice, mine));
    assert.equal(sessionNode(alice, theirs), undefined);
    assert.doesNotMatch(JSON.stringify(alice), new RegExp(theirs));
    const bob = await tree(url, BOB);
    assert.ok(sessionNode(bob, theirs));
    assert.equal(sessionNode(bob, mine), undefined);
    assert.equal((await call(url, "GET", "/v1/tree", null)).status, 401);

    const open = await start({ tokens: undefined });
    const a = await createSession(open.url, null);
    const b = await createSession(open.url, null);
    const all = await tree(open.url, null);
    assert.ok(sessionNode(all, a) && sessionNode(all, b));
  });

  it("shows a thread-hosted session with its host and the agents its host runs", TEST_TIMEOUT, async () => {
    const { url, system } = await start({ system: { isolation: "thread" } });
    const id = await createSession(url, ALICE);
    const session = sessionNode(await tree(url, ALICE), id);
    assert.ok(session);
    const host = system.sessionHost(id);
    assert.equal(session.isolation, "thread");
    assert.equal(session.host?.kind, "thread");
    assert.equal(session.host?.id, host?.hostId);
    assert.equal(session.pid, system.findSupervisor(id)?.toString());
    assert.deepEqual(
      session.children?.map((child) => [child.id, child.pid]),
      [
        ["context_manager", system.getContextManagerPid(id)?.toString()],
        ["llm_orchestrator", system.getOrchestratorPid(id)?.toString()],
      ],
      "its agents, as the host's runtime lists them",
    );
  });
});

describe("GET /v1/processes/:pid", () => {
  it("answers a process's info, pids as text", TEST_TIMEOUT, async () => {
    const { url, system } = await start();
    const id = await createSession(url, ALICE);
    const pid = system.getContextManagerPid(id);
    assert.ok(pid);
    const answer = await call(url, "GET", `/v1/processes/${encodeURIComponent(pid.toString())}`, ALICE);
    assert.equal(answer.status, 200);
    assert.equal(answer.body.pid, pid.toString());
    assert.equal(answer.body.status, "running");
    assert.equal(answer.body.parent, system.findSupervisor(id)?.toString());
    assert.equal(answer.body.sessionId, id);
    assert.equal(typeof answer.body.mailboxLength, "number");
  });

  it(
    "answers 404 for an unknown pid and for another owner's session, 400 for no pid",
    TEST_TIMEOUT,
    async () => {
      const { url, system } = await start();
      const theirs = await createSession(url, BOB);
      const pid = system.getContextManagerPid(theirs);
      assert.ok(pid);
      const path = `/v1/processes/${encodeURIComponent(pid.toString())}`;
      assert.equal((await call(url, "GET", path, BOB)).status, 200);
      const hidden = await call(url, "GET", path, ALICE);
      assert.equal(hidden.status, 404);
      assert.equal(hidden.body.error.code, "process_not_found");
      const unknown = await call(
        url,
        "GET",
        `/v1/processes/${encodeURIComponent(`<${system.runtime.node}.999999>`)}`,
        ALICE,
      );
      assert.equal(unknown.status, 404);
      assert.deepEqual(Object.keys(unknown.body.error).sort(), Object.keys(hidden.body.error).sort());
      const bad = await call(url, "GET", "/v1/processes/nope", ALICE);
      assert.equal(bad.status, 400);
      assert.equal(bad.body.error.field, "pid");
    },
  );

  it("does not show another owner's session among the links of a system process", TEST_TIMEOUT, async () => {
    const { url, system } = await start();
    await createSession(url, ALICE);
    const theirs = await createSession(url, BOB);
    const sessions = system.runtime.whereis("sessions_supervisor");
    assert.ok(sessions);
    const answer = await call(url, "GET", `/v1/processes/${encodeURIComponent(sessions.toString())}`, ALICE);
    assert.equal(answer.status, 200);
    const theirSupervisor = system.findSupervisor(theirs)?.toString();
    assert.ok(theirSupervisor);
    assert.ok(!answer.body.links.includes(theirSupervisor), "bob's session is not among alice's links");
    const asBob = await call(url, "GET", `/v1/processes/${encodeURIComponent(sessions.toString())}`, BOB);
    assert.ok(asBob.body.links.includes(theirSupervisor));
  });

  it("answers 200 when the pid is the caller's, else 400 or 404 with an error body, never 500, for 200 generated pids", {
    timeout: 60_000,
  }, async () => {
    const { url, system } = await start();
    const mine = await createSession(url, ALICE);
    const theirs = await createSession(url, BOB);
    const node = system.runtime.node;
    const mineText = String(system.getContextManagerPid(mine));
    const theirsText = String(system.getContextManagerPid(theirs));
    const pid = fc.oneof(
      fc.constantFrom(mineText, theirsText, `<${node}.0>`, `<${node}.1>`, "<other.1>", "<>", "%", "%3C"),
      fc.nat({ max: 400 }).map((n) => `<${node}.${n}>`),
      fc.string({ maxLength: 30 }),
      fc.string({ maxLength: 30 }).map(encodeURIComponent),
    );
    await fc.assert(
      fc.asyncProperty(pid, async (text) => {
        const path = `/v1/processes/${text.startsWith("<") ? encodeURIComponent(text) : text}`;
        const answer = await fetch(`${url}${path}`, { headers: { authorization: `Bearer ${ALICE}` } });
        const body = await answer.text();
        assert.ok(answer.status < 500, `${path}: ${answer.status} ${body}`);
        if (answer.status === 200) {
          const info = JSON.parse(body);
          assert.notEqual(info.sessionId, theirs, `${path} is bob's`);
        } else if (answer.status === 400 || answer.status === 404) {
          assert.equal(typeof JSON.parse(body).error.code, "string");
        }
        if (text === theirsText) assert.equal(answer.status, 404);
        if (text === mineText) assert.equal(answer.status, 200);
      }),
      { numRuns: 200 },
    );
  });
});
