import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, it } from "node:test";
import { defaultProviders, SqliteSessionStore } from "../src/index.js";
import { captureLogs } from "./support/logs.js";
import { startModelServer } from "./support/model-server.js";
import { systemsForTests } from "./support/sessions.js";

// A session talking to a remote model through an AI SDK backend, end to end over HTTP.
globalThis.AI_SDK_LOG_WARNINGS = false;
const server = await startModelServer();
const dir = mkdtempSync(join(tmpdir(), "sessionvisor-backends-"));
after(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

const start = systemsForTests();
const KEY = "sk-secret-never-stored-5f1c2a";
const llm = { provider: "openai-compatible", model: "test-model", baseURL: `${server.url}/ok/v1` };

it("a session configured with the openai-compatible backend answers with the server's reply", async () => {
  const system = await start({ providers: defaultProviders({}, { apiKeys: { "openai-compatible": KEY } }) });
  const session = await system.createSession({ llm });
  const reply = await system.sendMessage(session.id, "Hello");
  assert.equal(reply.text, server.reply);
  assert.deepEqual(reply.usage, { inputTokens: 21, outputTokens: 4 });
  assert.equal((await system.getHistory(session.id)).at(-1)?.content, server.reply);
});

it("the API key reaches the server but not the store file, the export or the logs", async () => {
  const path = join(dir, "keys.db");
  const logs = captureLogs("trace");
  const system = await start({
    store: SqliteSessionStore.open(path),
    logger: logs.logger,
    providers: defaultProviders({}, { apiKeys: { "openai-compatible": KEY } }),
  });
  const session = await system.createSession({ llm });
  const before = server.requests.length;
  await system.sendMessage(session.id, "Hello");
  assert.match(String(server.requests[before]?.headers.authorization), new RegExp(KEY));
  const exported = JSON.stringify(await system.exportSession(session.id));
  await system.stop();
  assert.ok(!exported.includes(KEY), "the export holds the key");
  assert.ok(!JSON.stringify(logs.records).includes(KEY), "the logs hold the key");
  for (const file of [path, `${path}-wal`]) {
    let bytes: Buffer | undefined;
    try {
      bytes = readFileSync(file);
    } catch {
      continue;
    }
    assert.ok(!bytes.includes(KEY), `${file} holds the key`);
  }
});

it("a session config that carries an API key is refused, naming llm.apiKey", async () => {
  const system = await start();
  await assert.rejects(
    system.createSession({ llm: { ...llm, apiKey: KEY } as never }),
    (e: unknown) => (e as { field?: string }).field === "llm.apiKey",
  );
});

it("a model server that fails fails the turn with a typed error and leaves the session answering", async () => {
  const system = await start({
    providers: defaultProviders({}, { apiKeys: { "openai-compatible": KEY }, maxRetries: 0 }),
  });
  const session = await system.createSession({ llm: { ...llm, baseURL: `${server.url}/fail/v1` } });
  server.failNext({ status: 500 });
  await assert.rejects(
    system.sendMessage(session.id, "Hello"),
    (e: unknown) => (e as { code?: string }).code === "llm_provider_error",
  );
  assert.equal((await system.sendMessage(session.id, "Again")).text, server.reply);
  assert.equal((await system.getSession(session.id))?.status, "active");
});

for (const provider of ["openai-compatible", "anthropic"] as const) {
  it(`a session on the ${provider} backend runs the tool the served model calls and sends it the result`, {
    timeout: 20_000,
  }, async () => {
    const project = mkdtempSync(join(dir, "project-"));
    writeFileSync(join(project, "a.txt"), "alpha from the project\n");
    const system = await start({
      providers: defaultProviders({}, { apiKeys: { [provider]: KEY }, maxRetries: 0 }),
    });
    const session = await system.createSession({ llm: { ...llm, provider }, projectPath: project });
    const before = server.requests.length;
    // The server asks for the call scripted in the message (see test/support/model-server.ts).
    const reply = await system.sendMessage(session.id, 'tool read_file {"path": "a.txt"}');
    assert.equal(reply.text, server.reply);
    assert.equal(server.requests.length - before, 2);
    const sent = JSON.stringify(server.requests[before + 1]?.body.messages);
    assert.match(sent, /alpha from the project/);
    const served = server.servedCalls.at(-1)!;
    assert.match(
      sent,
      new RegExp(provider === "anthropic" ? `"tool_use_id":"${served.id}"` : `"tool_call_id":"${served.id}"`),
    );
  });
}

it("sendMessage's signal closes the model's HTTP connection and stores the turn cancelled with its partial reply", async () => {
  const system = await start({ providers: defaultProviders({}, { apiKeys: { "openai-compatible": KEY } }) });
  const session = await system.createSession({ llm: { ...llm, baseURL: `${server.url}/stall/v1` } });
  const closedBefore = server.closedEarly();
  const controller = new AbortController();
  const deltas: string[] = [];
  await system.subscribe(session.id, (event) => {
    if (event.type === "llm_delta") {
      deltas.push(event.text);
      // The server has sent its first words and stalls: cancel now.
      if (deltas.length === 2) controller.abort();
    }
  });
  await assert.rejects(
    system.sendMessage(session.id, "Hello", { signal: controller.signal }),
    (e: unknown) => (e as { code?: string }).code === "turn_cancelled",
  );
  for (let i = 0; i < 100 && server.closedEarly() === closedBefore; i++)
    await new Promise((r) => setTimeout(r, 20));
  assert.equal(server.closedEarly(), closedBefore + 1, "the server saw its connection closed");
  const history = await system.getHistory(session.id);
  assert.deepEqual(
    history.map((t) => `${t.role}:${t.status}`),
    ["user:cancelled", "assistant:cancelled"],
  );
  assert.equal(history[1]?.content, deltas.join(""));
});
