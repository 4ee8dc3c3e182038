// GET /openapi.json over real HTTP: the document covers every route hono registered, and its
// schemas refuse what the routes refuse (checked with ajv, a JSON Schema validator that is not zod).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Ajv2020 } from "ajv/dist/2020.js";
import fc from "fast-check";
import type { RunningServer, TokenEntry } from "../src/index.js";
import { openApiPath } from "../src/server/openapi.js";
import { ALICE, serversForTests, TOKENS } from "./support/http-servers.js";

const TEST_TIMEOUT = { timeout: 30_000 };
const startServer = serversForTests();

async function start(tokens: TokenEntry[] | undefined): Promise<RunningServer> {
  return (await startServer({ tokens, limits: { maxMessagesPerMinute: 100_000 } })).server;
}

// biome-ignore lint/suspicious/noExplicitAny: the document is read by the fields each test expects.
type Doc = any;

async function document(server: RunningServer): Promise<Doc> {
  const response = await fetch(`${server.url}/openapi.json`);
  assert.equal(response.status, 200);
  assert.match(response.headers.get("content-type") ?? "", /application\/json/);
  return response.json();
}

/** A validator for one schema of the document, its `#/components/...` references resolved. */
function validator(doc: Doc, schema: object) {
  const ajv = new Ajv2020({ strict: false, allErrors: true, logger: false });
  return ajv.compile({
    $id: "https://sessionvisor.invalid/openapi.json",
    components: doc.components,
    ...schema,
  });
}

function requestSchema(doc: Doc, path: string, method: string): object {
  const schema = doc.paths[path]?.[method]?.requestBody?.content?.["application/json"]?.schema;
  assert.ok(schema, `${method} ${path} has a JSON request body in the document`);
  return schema;
}

describe("GET /openapi.json", () => {
  it("is an OpenAPI 3.1 document with bearer security, open without a token", TEST_TIMEOUT, async () => {
    const server = await start(TOKENS);
    const doc = await document(server);
    assert.equal(doc.openapi, "3.1.0");
    assert.deepEqual(doc.components.securitySchemes.bearer, {
      type: "http",
      scheme: "bearer",
      description: "a token from sessionvisor token",
    });
    assert.deepEqual(doc.security, [{ bearer: [] }]);
    assert.deepEqual(doc.paths["/healthz"].get.security, []);
    assert.equal(doc.paths["/v1/sessions"].post.security, undefined, "a /v1 route keeps the global security");
  });

  it("documents every route hono registered, and no route it did not", TEST_TIMEOUT, async () => {
    const server = await start(TOKENS);
    const doc = await document(server);
    const registered = new Set(
      server.app.hono.routes
        .filter((route) => route.method !== "ALL")
        .map((route) => `${route.method.toLowerCase()} ${openApiPath(route.path)}`),
    );
    assert.ok(registered.size >= 20, `found only ${registered.size} routes`);
    const documented = new Set<string>();
    for (const [path, item] of Object.entries(doc.paths as Record<string, object>)) {
      for (const method of Object.keys(item)) documented.add(`${method} ${path}`);
    }
    assert.deepEqual(
      [...registered].filter((r) => !documented.has(r)).sort(),
      [],
      "routes missing from the document",
    );
    assert.deepEqual(
      [...documented].filter((r) => !registered.has(r)).sort(),
      [],
      "documented routes hono lacks",
    );
  });

  it("gives every operation the error body as its default answer", TEST_TIMEOUT, async () => {
    const doc = await document(await start(TOKENS));
    const check = validator(doc, { $ref: "#/components/schemas/Error" });
    for (const [path, item] of Object.entries(doc.paths as Record<string, Record<string, Doc>>)) {
      for (const [method, op] of Object.entries(item)) {
        assert.equal(
          op.responses.default.content["application/json"].schema.$ref,
          "#/components/schemas/Error",
          `${method} ${path}`,
        );
      }
    }
    assert.ok(check({ error: { code: "session_not_found", message: "no such session" } }));
    assert.ok(!check({ error: { code: 404 } }));
  });

  it("has every schema compile, each reference resolved", TEST_TIMEOUT, async () => {
    const doc = await document(await start(TOKENS));
    assert.doesNotMatch(JSON.stringify(doc), /__shared/);
    let compiled = 0;
    for (const item of Object.values(doc.paths as Record<string, Record<string, Doc>>)) {
      for (const op of Object.values(item)) {
        const schemas = [
          ...Object.values(op.requestBody?.content ?? {}),
          ...Object.values(op.responses).flatMap((r: Doc) => Object.values(r.content ?? {})),
          ...(op.parameters ?? []),
        ].map((c: Doc) => c.schema);
        for (const schema of schemas) {
          validator(doc, schema);
          compiled++;
        }
      }
    }
    assert.ok(compiled > 40, `compiled ${compiled}`);
  });

  it("refuses in its message schema what POST /v1/sessions/:id/messages refuses", TEST_TIMEOUT, async () => {
    const server = await start(TOKENS);
    const doc = await document(server);
    const check = validator(doc, requestSchema(doc, "/v1/sessions/{id}/messages", "post"));
    const created = await fetch(`${server.url}/v1/sessions`, {
      method: "POST",
      headers: { authorization: `Bearer ${ALICE}`, "content-type": "application/json" },
      body: "{}",
    });
    const { id } = (await created.json()) as { id: string };
    const send = (body: unknown) =>
      fetch(`${server.url}/v1/sessions/${id}/messages`, {
        method: "POST",
        headers: { authorization: `Bearer ${ALICE}`, "content-type": "application/json" },
        body: JSON.stringify(body),
      });
    for (const bad of [
      { text: 42 },
      { text: "" },
      {},
      { text: "hi", extra: 1 },
      { text: "hi", timeoutMs: -1 },
    ]) {
      assert.equal(check(bad), false, `the document refuses ${JSON.stringify(bad)}`);
      const answer = await send(bad);
      assert.equal(answer.status, 400, `the route refuses ${JSON.stringify(bad)}`);
      await answer.body?.cancel();
    }
    assert.equal(check({ text: "echo hi", timeoutMs: 5000 }), true);
    const good = await send({ text: "echo hi", timeoutMs: 5000 });
    assert.equal(good.status, 200);
    await good.body?.cancel();
  });

  it("agrees with POST /v1/sessions/:id/messages on 150 generated bodies: the document refuses exactly what the route refuses", {
    timeout: 60_000,
  }, async () => {
    const server = await start(TOKENS);
    const doc = await document(server);
    const check = validator(doc, requestSchema(doc, "/v1/sessions/{id}/messages", "post"));
    const created = await fetch(`${server.url}/v1/sessions`, {
      method: "POST",
      headers: { authorization: `Bearer ${ALICE}`, "content-type": "application/json" },
      body: "{}",
    });
    const { id } = (await created.json()) as { id: string };
    const value = fc.oneof(
      fc.string({ maxLength: 12 }).map((t) => `echo ${t}`),
      fc.constant(""),
      fc.integer(),
      fc.double({ noNaN: true, noDefaultInfinity: true }),
      fc.boolean(),
      fc.constant(null),
      fc.array(fc.string(), { maxLength: 2 }),
    );
    const body = fc.oneof(
      fc.record(
        { text: value, timeoutMs: fc.oneof(value, fc.integer({ min: -10, max: 2 ** 32 })), extra: value },
        { requiredKeys: [] },
      ),
      value,
    );
    await fc.assert(
      fc.asyncProperty(body, async (input) => {
        const answer = await fetch(`${server.url}/v1/sessions/${id}/messages`, {
          method: "POST",
          headers: { authorization: `Bearer ${ALICE}`, "content-type": "application/json" },
          body: JSON.stringify(input),
        });
        await answer.body?.cancel();
        // An empty or null body reads as none: the route checks {} then.
        const seen = input === null || input === "" ? {} : input;
        const documented = check(seen);
        // A valid timeoutMs of a few ms (or 5e-324) lets the turn time out: 504, taken all the same.
        assert.ok([200, 400, 504].includes(answer.status), `status ${answer.status}`);
        assert.equal(answer.status !== 400, documented, `${JSON.stringify(input)}: route ${answer.status}`);
      }),
      { numRuns: 150 },
    );
  });

  it("describes query parameters from the route's schema (unknown ones refused)", TEST_TIMEOUT, async () => {
    const doc = await document(await start(TOKENS));
    const list = doc.paths["/v1/sessions"].get.parameters as { name: string; in: string; schema: object }[];
    assert.deepEqual(list.map((p) => `${p.in}:${p.name}`).sort(), [
      "query:cursor",
      "query:limit",
      "query:status",
    ]);
    const status = list.find((p) => p.name === "status");
    assert.ok(status);
    const check = validator(doc, status.schema);
    assert.ok(check("active"));
    assert.ok(!check("sleeping"));
    const events = doc.paths["/v1/sessions/{id}/events"].get.parameters as { name: string; in: string }[];
    assert.deepEqual(events.map((p) => `${p.in}:${p.name}`).sort(), [
      "header:Last-Event-ID",
      "path:id",
      "query:since",
    ]);
  });

  it("takes the session config from the session system's schema, without owner", TEST_TIMEOUT, async () => {
    const doc = await document(await start(TOKENS));
    const check = validator(doc, requestSchema(doc, "/v1/sessions", "post"));
    assert.ok(check({ name: "demo", isolation: "thread" }));
    assert.ok(!check({ isolation: "vm" }));
    assert.ok(!check({ owner: "bob" }), "a client may not set owner");
    assert.ok(!check({ nope: true }));
  });

  it("describes responses from the schemas: a session, the tree", TEST_TIMEOUT, async () => {
    const server = await start(TOKENS);
    const doc = await document(server);
    const created = await fetch(`${server.url}/v1/sessions`, {
      method: "POST",
      headers: { authorization: `Bearer ${ALICE}`, "content-type": "application/json" },
      body: JSON.stringify({ name: "doc" }),
    });
    const session = (await created.json()) as Record<string, unknown>;
    const sessionSchema = doc.paths["/v1/sessions"].post.responses["201"].content["application/json"].schema;
    const check = validator(doc, sessionSchema);
    assert.ok(check(session), JSON.stringify(check.errors));
    assert.ok(!check({ ...session, status: "sleeping" }));
    const tree = await (
      await fetch(`${server.url}/v1/tree`, { headers: { authorization: `Bearer ${ALICE}` } })
    ).json();
    const treeSchema = doc.paths["/v1/tree"].get.responses["200"].content["application/json"].schema;
    const checkTree = validator(doc, treeSchema);
    assert.ok(checkTree(tree), JSON.stringify(checkTree.errors));
    assert.ok(JSON.stringify(tree).includes(String(session.id)), "the tree shows the session");
    assert.ok(!checkTree({ root: { pid: "<a.1>", id: "root", type: "gen_server", names: [] } }));
  });

  it("says it needs no token when the server has none", TEST_TIMEOUT, async () => {
    const doc = await document(await start(undefined));
    assert.match(doc.info.description, /without tokens/);
  });
});
