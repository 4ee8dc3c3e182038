import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ContextStore } from "./context-store.js";
import { InvalidSessionIdError } from "./errors.js";
import { newSessionId } from "./session-id.js";

describe("ContextStore", () => {
  it("keeps each session's entries apart", () => {
    const store = new ContextStore<string>();
    const [a, b] = [newSessionId(), newSessionId()];
    store.set(a, "/x.ts", "for a");
    assert.equal(store.get(b, "/x.ts"), undefined);
    assert.deepEqual(store.entries(a), [["/x.ts", "for a"]]);
  });

  it("clears a session's entries and only those", () => {
    const store = new ContextStore<number>();
    const [a, b] = [newSessionId(), newSessionId()];
    store.set(a, "/1", 1);
    store.set(a, "/2", 2);
    store.set(b, "/1", 3);
    assert.equal(store.clearSession(a), 2);
    assert.equal(store.size, 1);
    assert.equal(store.get(b, "/1"), 3);
  });

  it("evicts the least recently written entry past its per-session bound", () => {
    const store = new ContextStore<number>({ maxEntriesPerSession: 2 });
    const id = newSessionId();
    store.set(id, "/1", 1);
    store.set(id, "/2", 2);
    store.set(id, "/1", 11);
    store.set(id, "/3", 3);
    assert.deepEqual(
      store.entries(id).map(([p]) => p),
      ["/1", "/3"],
    );
  });

  it("refuses an invalid session id before touching anything", () => {
    assert.throws(() => new ContextStore().set("../etc", "/x", 1), InvalidSessionIdError);
  });
});
