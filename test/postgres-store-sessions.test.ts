// The session system on the Postgres store: a session and its conversation written by one
// system come back in another one started on the same schema, as they do from an SQLite file.
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { PostgresSessionStore, type SessionSystem } from "../src/index.js";
import { requirePostgres, TEST_POSTGRES_URL, TestSchemas } from "./support/postgres-test-db.js";
import { startSystem } from "./support/sessions.js";

const schemas = new TestSchemas();
const running: { system: SessionSystem; store: PostgresSessionStore }[] = [];
after(async () => {
  for (const { system, store } of running) {
    await system.stop().catch(() => undefined);
    await store.close().catch(() => undefined);
  }
  await schemas.dropAll();
});

async function start(schema: string): Promise<SessionSystem> {
  await requirePostgres();
  const store = await PostgresSessionStore.open({ connectionString: TEST_POSTGRES_URL, schema });
  const system = await startSystem({ store });
  running.push({ system, store });
  return system;
}

describe("a session system on the Postgres store", { timeout: 60_000 }, () => {
  it("brings a session back with its conversation in a system started later on the same schema", async () => {
    const schema = schemas.fresh();
    const first = await start(schema);
    const session = await first.createSession({ name: "pg" });
    await first.sendMessage(session.id, "hello there");
    const history = await first.getHistory(session.id);
    assert.deepEqual(
      history.map((turn) => [turn.role, turn.status]),
      [
        ["user", "complete"],
        ["assistant", "complete"],
      ],
    );
    await first.stop();

    const second = await start(schema);
    const listed = await second.listSessions();
    assert.deepEqual(
      listed.map((s) => [s.id, s.name]),
      [[session.id, "pg"]],
    );
    assert.deepEqual(await second.getHistory(session.id), history);
    await second.sendMessage(session.id, "again");
    assert.equal((await second.getHistory(session.id)).length, 4);
  });
});
