import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { MemorySessionStore, StoreClosedError } from "./memory-store.js";

describe("MemorySessionStore", () => {
  it("returns what was stored", async () => {
    const store = new MemorySessionStore();
    await store.putSession("s1", { status: "active" });
    await store.putConversation("s1", { turns: [1, 2] });
    assert.deepEqual(await store.getSession("s1"), { id: "s1", record: { status: "active" } });
    assert.deepEqual(await store.getConversation("s1"), { turns: [1, 2] });
  });

  it("is not changed by mutating a value after storing or reading it", async () => {
    const store = new MemorySessionStore();
    const record = { status: "active" };
    await store.putSession("s1", record);
    record.status = "mutated";
    const read = await store.getSession("s1");
    if (read) read.record.status = "mutated too";
    assert.equal((await store.getSession("s1"))?.record.status, "active");
  });

  it("deletes a session's record and conversation together", async () => {
    const store = new MemorySessionStore();
    await store.putSession("s1", {});
    await store.putConversation("s1", []);
    await store.deleteSession("s1");
    assert.equal(await store.getSession("s1"), undefined);
    assert.equal(await store.getConversation("s1"), undefined);
    assert.deepEqual(await store.listSessions(), []);
  });

  it("refuses every operation once closed", async () => {
    const store = new MemorySessionStore();
    await store.close();
    await assert.rejects(store.getSession("s1"), StoreClosedError);
  });
});
