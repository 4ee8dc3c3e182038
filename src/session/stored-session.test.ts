import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { systemsForTests } from "../../test/support/sessions.js";
import { MemorySessionStore, StoreCorruptError } from "../store/index.js";
import { newSessionId } from "./session-id.js";
import { readStoredSession } from "./stored-session.js";

const start = systemsForTests();
const T = { timeout: 30_000 };

function corrupt(sessionId: string, field: string) {
  return (error: unknown) => {
    assert.ok(error instanceof StoreCorruptError, String(error));
    assert.equal(error.code, "store_corrupt");
    assert.deepEqual([error.sessionId, error.part, error.field], [sessionId, "record", field], error.message);
    return true;
  };
}

describe("stored session records", () => {
  it(
    "restoring a session whose stored record cannot be read is a StoreCorruptError, not a config error",
    T,
    async () => {
      const sys = await start();
      const { id } = await sys.createSession();
      await sys.terminateSession(id);
      const stored = await sys.store.getSession(id);
      assert.ok(stored);
      const record = { ...stored.record, restarts: "many" };
      await sys.store.putSession(id, record);
      await assert.rejects(sys.restoreSession(id), corrupt(id, "restarts"));
      assert.deepEqual((await sys.store.getSession(id))?.record, record, "the record was changed");
    },
  );

  it(
    "a record that cannot be read refuses the start of the system with StoreCorruptError, and stays as it is",
    T,
    async () => {
      const store = new MemorySessionStore();
      const first = await start({ store });
      const { id } = await first.createSession();
      await first.stop();
      const stored = await store.getSession(id);
      assert.ok(stored);
      const record = { ...stored.record, status: "asleep" };
      await store.putSession(id, record);
      const error = await start({ store }).catch((e: unknown) => e);
      const reason = (error as { reason?: unknown }).reason;
      assert.ok(
        reason instanceof StoreCorruptError,
        `expected a StoreCorruptError as the reason of ${String(error)}`,
      );
      assert.deepEqual([reason.sessionId, reason.field], [id, "status"]);
      assert.deepEqual((await store.getSession(id))?.record, record);
    },
  );

  it("names a bad config field and an unknown key of a stored record", T, async () => {
    const sys = await start();
    const { id } = await sys.createSession();
    const stored = await sys.store.getSession(id);
    assert.ok(stored);
    const config = stored.record.config as Record<string, unknown>;
    const badConfig = { id, record: { ...stored.record, config: { ...config, llm: { temperature: 9 } } } };
    assert.throws(() => readStoredSession(badConfig), corrupt(id, "config.llm.temperature"));
    const unknownKey = { id, record: { ...stored.record, colour: "blue" } };
    assert.throws(() => readStoredSession(unknownKey), corrupt(id, "colour"));
  });

  it("refuses a record stored under another session's key", T, async () => {
    const sys = await start();
    const { id } = await sys.createSession();
    const stored = await sys.store.getSession(id);
    assert.ok(stored);
    const other = newSessionId();
    assert.throws(() => readStoredSession({ id: other, record: stored.record }), corrupt(other, "id"));
  });
});

describe("stored conversations", () => {
  it(
    "a stored conversation that breaks the schema keeps the session from starting, as StoreCorruptError naming it",
    T,
    async () => {
      const sys = await start();
      const { id } = await sys.createSession();
      await sys.sendMessage(id, "echo hi");
      await sys.hibernateSession(id);
      const broken = { version: 1, nextTurn: 3, turns: [{}], activeFiles: [], fileIndex: [] };
      await sys.store.putConversation(id, broken);
      const error = await sys.wakeSession(id).catch((e: unknown) => e);
      let cause: unknown = error;
      while (cause && !(cause instanceof StoreCorruptError)) {
        const next = cause as { reason?: unknown; cause?: unknown };
        cause = next.reason ?? next.cause;
      }
      assert.ok(cause instanceof StoreCorruptError, `no StoreCorruptError in ${String(error)}`);
      assert.deepEqual([cause.sessionId, cause.part, cause.field], [id, "conversation", "turns.0.id"]);
      assert.deepEqual(await sys.store.getConversation(id), broken, "the stored conversation was changed");
    },
  );
});
