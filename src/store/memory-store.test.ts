import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { MemorySessionStore } from "./memory-store.js";
import { describeSessionStoreConformance } from "./store-conformance.js";

describeSessionStoreConformance("memory", async () => new MemorySessionStore());

describe("MemorySessionStore: a record put durable: false", () => {
  it("reads back as put, by getSession and listSessions, and a read is a copy", async () => {
    const s = new MemorySessionStore();
    await s.putSession("s1", { status: "initializing", nested: { a: [1] } }, { durable: false });
    const read = await s.getSession("s1");
    assert.deepEqual(read, { id: "s1", record: { status: "initializing", nested: { a: [1] } } });
    if (read) read.record.status = "mutated";
    assert.deepEqual(await s.listSessions(), [
      { id: "s1", record: { status: "initializing", nested: { a: [1] } } },
    ]);
  });

  it("is replaced by the next put, keeping its place in the list", async () => {
    const s = new MemorySessionStore();
    await s.putSession("a", { id: "a" }, { durable: false });
    await s.putSession("b", { id: "b" });
    await s.putSession("a", { id: "a", status: "active" });
    assert.deepEqual(await s.listSessions(), [
      { id: "a", record: { id: "a", status: "active" } },
      { id: "b", record: { id: "b" } },
    ]);
    await s.deleteSession("a");
    assert.equal(await s.getSession("a"), undefined);
  });
});
