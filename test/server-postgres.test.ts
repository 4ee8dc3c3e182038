// `serve({ store: "postgres://…" })` and `sessionvisor serve --store`: the HTTP API over sessions
// kept in the real PostgreSQL (127.0.0.1:5432, database test), each test in a fresh schema.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { after, describe, it } from "node:test";
import { InvalidArgumentError, serve } from "../src/index.js";
import { parseStoreUrl } from "../src/server/store-url.js";
import { requirePostgres, TestSchemas, testStoreUrl } from "./support/postgres-test-db.js";
import { CLI } from "./support/serve-cli.js";

const schemas = new TestSchemas();
after(() => schemas.dropAll());
const T = { timeout: 60_000 };

describe("serve with a PostgreSQL store", () => {
  it("keeps the sessions in the database: a second server on the same store serves them", T, async () => {
    await requirePostgres();
    const store = testStoreUrl(schemas.fresh());
    const first = await serve({ port: 0, store });
    const created = await fetch(`${first.url}/v1/sessions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ name: "kept in postgres" }),
    });
    assert.equal(created.status, 201);
    const { id } = (await created.json()) as { id: string };
    await fetch(`${first.url}/v1/sessions/${id}/messages`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ text: "echo remembered" }),
    });
    await first.close();

    const second = await serve({ port: 0, store });
    try {
      const history = (await (await fetch(`${second.url}/v1/sessions/${id}/history`)).json()) as {
        turns: { content: string }[];
      };
      assert.deepEqual(
        history.turns.map((turn) => turn.content),
        ["echo remembered", "remembered"],
      );
    } finally {
      await second.close();
    }
  });

  it("reads --store as a postgres:// URL whose ?schema= names the schema, and refuses any other", () => {
    assert.throws(() => parseStoreUrl("mysql://x/y"), InvalidArgumentError);
    assert.throws(() => parseStoreUrl("not a url"), /must be a postgres:\/\/ URL/);
    assert.deepEqual(parseStoreUrl("postgres://u@h:5432/db?schema=app"), {
      connectionString: "postgres://u@h:5432/db",
      schema: "app",
    });
  });

  it("refuses a store given beside memory, before connecting to anything", async () => {
    await assert.rejects(serve({ port: 0, memory: true, store: "postgres://u@h/db" }), /give one of/);
  });

  it("sessionvisor serve --store with --memory exits 2 with one line", T, () => {
    const run = spawnSync(process.execPath, [...CLI, "serve", "--memory", "--store", "postgres://u@h/db"], {
      encoding: "utf8",
      timeout: 30_000,
      killSignal: "SIGKILL",
    });
    assert.equal(run.status, 2);
    assert.match(run.stderr, /give one of --memory, --data-dir and --store/);
  });

  it("sessionvisor serve --store where no database answers exits 1 with one line", T, () => {
    const run = spawnSync(
      process.execPath,
      [...CLI, "serve", "--port", "0", "--store", "postgres://postgres@127.0.0.1:1/test?connect_timeout=2"],
      { encoding: "utf8", timeout: 30_000, killSignal: "SIGKILL" },
    );
    assert.equal(run.status, 1, run.stderr);
    assert.equal(run.stderr.trim().split("\n").length, 1, run.stderr);
    assert.match(run.stderr, /^sessionvisor serve: /);
  });
});
