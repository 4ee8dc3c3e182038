// The Postgres store against the real PostgreSQL at 127.0.0.1:5432 (database `test`): the
// shared conformance suite, its migrations and options, and concurrent writers. Each store gets
// a fresh schema, dropped when the file ends; a missing server fails every test and says so.
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { InvalidArgumentError } from "../src/errors.js";
import {
  POSTGRES_SCHEMA_VERSION,
  PostgresDriverMissingError,
  PostgresSessionStore,
  type PostgresStoreOptions,
  StoreCorruptError,
  StoreUnavailableError,
  StoreVersionError,
} from "../src/store/index.js";
import { loadPgDriver } from "../src/store/postgres-driver.js";
import { describeSessionStoreConformance } from "../src/store/store-conformance.js";
import { requirePostgres, TEST_POSTGRES_URL, TestSchemas } from "./support/postgres-test-db.js";

const schemas = new TestSchemas();
const opened: PostgresSessionStore[] = [];
after(async () => {
  for (const store of opened) await store.close().catch(() => undefined);
  await schemas.dropAll();
});

async function openStore(
  schema = schemas.fresh(),
  poolSize?: number,
  more: PostgresStoreOptions = {},
): Promise<PostgresSessionStore> {
  await requirePostgres();
  const store = await PostgresSessionStore.open({
    connectionString: TEST_POSTGRES_URL,
    schema,
    ...(poolSize === undefined ? {} : { poolSize }),
    ...more,
  });
  opened.push(store);
  return store;
}

describeSessionStoreConformance("postgres", () => openStore());
// The other paths of every write: fenced (this node owns every session), commits that do not
// wait for the WAL flush.
describeSessionStoreConformance("postgres, fenced, durableTurns false", () =>
  openStore(undefined, undefined, { fences: { fenceOf: () => 1 }, durableTurns: false }),
);

describe("PostgresSessionStore", { timeout: 60_000 }, () => {
  it("made with new from JavaScript, says to open it with PostgresSessionStore.open", () => {
    const Store = PostgresSessionStore as unknown as new (options: PostgresStoreOptions) => unknown;
    assert.throws(
      () => new Store({ connectionString: TEST_POSTGRES_URL }),
      (error: unknown) =>
        error instanceof InvalidArgumentError && /PostgresSessionStore\.open/.test(error.message),
    );
  });

  it("keeps everything across close and reopen of the schema", async () => {
    const schema = schemas.fresh();
    const first = await openStore(schema);
    await first.putSession("s1", { status: "idle" });
    await first.changeConversation("s1", { append: [{ id: "t1" }], set: { nextTurn: 2 } });
    await first.appendEvents([{ sessionId: "s1", seq: 1, event: { type: "e" } }]);
    await first.close();
    const second = await openStore(schema);
    assert.deepEqual(await second.getSession("s1"), { id: "s1", record: { status: "idle" } });
    assert.deepEqual(await second.getConversation("s1"), { nextTurn: 2, turns: [{ id: "t1" }] });
    assert.deepEqual(await second.lastEventSeqs(), [["s1", 1]]);
  });

  it("reads back a record written with durable: false at once, from another store too", async () => {
    const schema = schemas.fresh();
    const a = await openStore(schema);
    const b = await openStore(schema);
    await a.putSession("s1", { status: "initializing" }, { durable: false });
    assert.deepEqual(await a.getSession("s1"), { id: "s1", record: { status: "initializing" } });
    assert.deepEqual(await b.getSession("s1"), { id: "s1", record: { status: "initializing" } });
    await a.putSession("s1", { status: "active" });
    assert.deepEqual(await b.getSession("s1"), { id: "s1", record: { status: "active" } });
  });

  it("keeps strings JSON cannot put in jsonb, such as a NUL character, exactly as written", async () => {
    const s = await openStore();
    const record = { text: "a\u0000b", emoji: "🦀", quote: 'it\'s "x"' };
    await s.putSession("s1", record);
    await s.changeConversation("s1", { append: [{ id: "t1", content: "x\u0000y" }] });
    assert.deepEqual((await s.getSession("s1"))?.record, record);
    assert.deepEqual(await s.getConversation("s1"), { turns: [{ id: "t1", content: "x\u0000y" }] });
  });

  it("creates every table in its own schema and records the schema version it reached", async () => {
    const schema = schemas.fresh();
    await openStore(schema);
    const tables = await schemas.sql(
      "SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY 1",
      [schema],
    );
    assert.deepEqual(
      tables.rows.map((r) => r.table_name),
      [
        "conversation_turns",
        "conversations",
        "schema_version",
        "session_events",
        "session_fences",
        "sessions",
        "store_state",
      ],
    );
    const version = await schemas.sql(`SELECT max(version) AS v FROM "${schema}".schema_version`);
    assert.equal(version.rows[0].v, POSTGRES_SCHEMA_VERSION);
  });

  it("refuses a schema written by a newer version, naming both versions, and leaves it untouched", async () => {
    const schema = schemas.fresh();
    await (await openStore(schema)).close();
    await schemas.sql(`INSERT INTO "${schema}".schema_version (version) VALUES ($1)`, [
      POSTGRES_SCHEMA_VERSION + 1,
    ]);
    await assert.rejects(
      openStore(schema),
      (e: unknown) =>
        e instanceof StoreVersionError &&
        e.found === POSTGRES_SCHEMA_VERSION + 1 &&
        e.supported === POSTGRES_SCHEMA_VERSION &&
        e.message.includes(schema),
    );
    const version = await schemas.sql(`SELECT max(version) AS v FROM "${schema}".schema_version`);
    assert.equal(version.rows[0].v, POSTGRES_SCHEMA_VERSION + 1);
  });

  it("refuses a schema that holds other tables and no version: it is not a sessionvisor store", async () => {
    const schema = schemas.fresh();
    await requirePostgres();
    await schemas.sql(`CREATE SCHEMA "${schema}"`);
    await schemas.sql(`CREATE TABLE "${schema}".invoices (id int)`);
    await assert.rejects(
      openStore(schema),
      (e: unknown) => e instanceof StoreCorruptError && /invoices.*not a sessionvisor store/.test(e.message),
    );
  });

  it("migrates once when several stores open a new schema at the same moment", async () => {
    const schema = schemas.fresh();
    const stores = await Promise.all([1, 2, 3, 4].map(() => openStore(schema, 2)));
    const versions = await schemas.sql(`SELECT version FROM "${schema}".schema_version ORDER BY 1`);
    assert.deepEqual(
      versions.rows.map((r) => r.version),
      Array.from({ length: POSTGRES_SCHEMA_VERSION }, (_, i) => i + 1),
    );
    await stores[0]?.putSession("s1", {});
    assert.equal((await stores[3]?.listSessions())?.length, 1);
  });

  it("reports a stored record or turn that is not JSON as StoreCorruptError naming the session", async () => {
    const schema = schemas.fresh();
    const store = await openStore(schema);
    await store.putSession("s1", { status: "idle" });
    await store.putConversation("s1", { turns: [{ id: "t1" }, { id: "t2" }] });
    await schemas.sql(`UPDATE "${schema}".sessions SET record = '{not json' WHERE id = 's1'`);
    await schemas.sql(`UPDATE "${schema}".conversation_turns SET turn = '{broken' WHERE seq = 2`);
    const corrupt = (part: string) => (e: unknown) =>
      e instanceof StoreCorruptError && e.sessionId === "s1" && e.part === part;
    await assert.rejects(store.getSession("s1"), corrupt("record"));
    await assert.rejects(store.listSessions(), corrupt("record"));
    await assert.rejects(store.getConversation("s1"), corrupt("conversation"));
  });

  it("loses nothing when two stores append events for different sessions in parallel", async () => {
    const schema = schemas.fresh();
    const [a, b] = [await openStore(schema, 4), await openStore(schema, 4)] as const;
    const batches = (store: PostgresSessionStore, prefix: string) =>
      Array.from({ length: 40 }, (_, i) => {
        const seq = i + 1;
        return Promise.all([
          store.appendEvents(
            [
              { sessionId: `${prefix}1`, seq, event: { n: seq } },
              { sessionId: `${prefix}2`, seq, event: { n: seq } },
            ],
            1000,
          ),
          store.changeConversation(`${prefix}1`, { append: [{ id: `t${seq}` }] }),
        ]);
      });
    for (const id of ["a1", "a2", "b1", "b2"]) await a.putSession(id, {});
    await Promise.all([...batches(a, "a"), ...batches(b, "b")]);
    for (const id of ["a1", "a2", "b1", "b2"]) {
      const seqs = (await a.readEvents(id, 0)).map((e) => e.seq);
      assert.deepEqual(
        seqs,
        Array.from({ length: 40 }, (_, i) => i + 1),
        id,
      );
    }
    for (const id of ["a1", "b1"]) {
      const turns = ((await b.getConversation(id)) as { turns: { id: string }[] }).turns;
      assert.equal(turns.length, 40, id);
      assert.equal(new Set(turns.map((t) => t.id)).size, 40, id);
    }
  });
});

describe("PostgresSessionStore options", { timeout: 30_000 }, () => {
  it("refuses a schema name that is not a plain lower-case identifier, naming the field", async () => {
    for (const schema of [
      "",
      "Sessions",
      'x"; DROP SCHEMA public; --',
      "a-b",
      "pg_catalog",
      "1abc",
      "a".repeat(64),
    ]) {
      await assert.rejects(
        PostgresSessionStore.open({ connectionString: TEST_POSTGRES_URL, schema }),
        (e: unknown) => e instanceof InvalidArgumentError && e.argument === "schema",
        schema,
      );
    }
  });

  it("refuses other bad options, each naming its field", async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ poolSize: 0 }, "poolSize"],
      [{ poolSize: 1.5 }, "poolSize"],
      [{ connectTimeoutMs: -1 }, "connectTimeoutMs"],
      [{ connectionString: "" }, "connectionString"],
      [{ applicationName: "é" }, "applicationName"],
      [{ fences: {} }, "fences"],
      [{ durableTurns: "yes" }, "durableTurns"],
      [{ idleInTransactionTimeoutMs: 0 }, "idleInTransactionTimeoutMs"],
      [{ pool: 3 }, "pool"],
    ];
    for (const [options, field] of cases) {
      await assert.rejects(
        PostgresSessionStore.open(options as never),
        (e: unknown) => e instanceof InvalidArgumentError && e.argument === field,
        field,
      );
    }
  });

  it("fails to open with a retryable StoreUnavailableError when nothing listens, never showing the password", async () => {
    for (const connectionString of [
      "postgres://postgres:hunter2@127.0.0.1:1/test",
      "postgres://postgres@127.0.0.1:1/test?password=hunter2",
    ]) {
      await assert.rejects(
        PostgresSessionStore.open({ connectionString, schema: "x" }),
        (e: unknown) =>
          e instanceof StoreUnavailableError &&
          e.retryable &&
          e.code === "store_unavailable" &&
          e.message.includes("127.0.0.1:1") &&
          !e.message.includes("hunter2"),
      );
    }
  });

  it("fails to open with a StoreUnavailableError that is not retryable when the database does not exist", async () => {
    await requirePostgres();
    await assert.rejects(
      PostgresSessionStore.open({
        connectionString: "postgres://postgres@127.0.0.1:5432/sessionvisor_no_such_database",
      }),
      (e: unknown) => e instanceof StoreUnavailableError && !e.retryable,
    );
  });

  it("names the package to install when the pg driver is missing", async () => {
    await assert.rejects(
      loadPgDriver("pg-that-is-not-installed"),
      (e: unknown) => e instanceof PostgresDriverMissingError && /npm install pg/.test(e.message),
    );
  });
});
