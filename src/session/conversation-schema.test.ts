// The one conversation schema: what ContextState.restore accepts from the store, and how a
// file's metadata stays within its limit as the index keeps it.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { InvalidArgumentError } from "../runtime/index.js";
import { StoreCorruptError } from "../store/index.js";
import { MAX_METADATA_LENGTH } from "./config.js";
import { type ContextSnapshot, ContextState, TURN_STATUSES } from "./context-state.js";
import { restoreContextState } from "./conversation-schema.js";

const limits = { maxHistory: 100, maxFiles: 10 };
const at = "2026-11-24T12:00:00.000Z";

function snapshot(change: (s: Record<string, unknown>) => void = () => {}): unknown {
  const s: ContextSnapshot = {
    version: 1,
    nextTurn: 3,
    turns: [
      { id: "t1", role: "user", content: "hi", at, status: "complete" },
      { id: "t2", role: "assistant", content: "hello", at, status: "complete" },
    ],
    activeFiles: ["/a.ts"],
    fileIndex: [{ path: "/a.ts", metadata: { lang: "ts" }, lastAccessed: at, accessCount: 1 }],
  };
  const copy = structuredClone(s) as unknown as Record<string, unknown>;
  change(copy);
  return copy;
}

function corruptAt(field: string) {
  return (error: unknown) => {
    assert.ok(error instanceof StoreCorruptError, String(error));
    assert.equal(error.sessionId, "session_x");
    assert.equal(error.part, "conversation");
    assert.equal(error.field, field, error.message);
    return true;
  };
}

const turns = (s: Record<string, unknown>) => s.turns as Record<string, unknown>[];

describe("the conversation schema", () => {
  it("restores a well-formed conversation, every turn status included", () => {
    const state = restoreContextState(
      snapshot((s) => {
        s.turns = TURN_STATUSES.map((status, i) => ({
          id: `t${i + 1}`,
          role: "user",
          content: "x",
          at,
          status,
        }));
        s.nextTurn = TURN_STATUSES.length + 1;
      }),
      limits,
    );
    assert.deepEqual(
      state.history().map((t) => t.status),
      [...TURN_STATUSES],
    );
  });

  it("reads a stored conversation that breaks it as StoreCorruptError naming session and field", () => {
    const restore = (s: unknown) => restoreContextState(s, limits, "session_x");
    assert.throws(() => restore(snapshot((s) => (s.turns = [{}]))), corruptAt("turns.0.id"));
    assert.throws(() => restore(snapshot((s) => (turns(s)[0]!.role = "bogus"))), corruptAt("turns.0.role"));
    assert.throws(() => restore(snapshot((s) => (turns(s)[1]!.content = 5))), corruptAt("turns.1.content"));
    assert.throws(() => restore(snapshot((s) => (s.nextTurn = "x"))), corruptAt("nextTurn"));
    assert.throws(() => restore(snapshot((s) => (s.turns = null))), corruptAt("turns"));
    assert.throws(() => restore(snapshot((s) => (s.fileIndex = "x"))), corruptAt("fileIndex"));
    assert.throws(() => restore(snapshot((s) => (s.version = 2))), corruptAt("version"));
    assert.throws(() => restore(snapshot((s) => (s.extra = true))), corruptAt("extra"));
    assert.throws(() => restore(null), corruptAt("(conversation)"));
  });

  it("refuses turn ids that repeat or are not below nextTurn, so no later turn reuses one", () => {
    const restore = (s: unknown) => restoreContextState(s, limits, "session_x");
    assert.throws(() => restore(snapshot((s) => (s.nextTurn = 2))), corruptAt("turns.1.id"));
    assert.throws(() => restore(snapshot((s) => (turns(s)[1]!.id = "t1"))), corruptAt("turns.1.id"));
    assert.throws(() => restore(snapshot((s) => (turns(s)[0]!.id = "tNaN"))), corruptAt("turns.0.id"));
  });

  it("refuses an active file the index does not know, and repeated paths", () => {
    const restore = (s: unknown) => restoreContextState(s, limits, "session_x");
    assert.throws(() => restore(snapshot((s) => (s.activeFiles = ["/b.ts"]))), corruptAt("activeFiles.0"));
    assert.throws(
      () => restore(snapshot((s) => (s.activeFiles = ["/a.ts", "/a.ts"]))),
      corruptAt("activeFiles.1"),
    );
    assert.throws(
      () =>
        restore(
          snapshot((s) => {
            const entries = s.fileIndex as unknown[];
            entries.push(structuredClone(entries[0]));
          }),
        ),
      corruptAt("fileIndex.1.path"),
    );
  });
});

describe("file metadata limits", () => {
  it("refuses metadata that is not JSON data with an InvalidArgumentError naming the key", () => {
    const state = new ContextState(limits);
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    for (const [metadata, field] of [
      [{ n: 1n }, "metadata.n"],
      [circular, "metadata.self"],
      [{ when: new Date() }, "metadata.when"],
    ] as const) {
      assert.throws(
        () => state.addFile("/a.ts", metadata as Record<string, unknown>),
        (e: unknown) => e instanceof InvalidArgumentError && e.argument === field,
      );
    }
    assert.deepEqual(state.fileIndex(), []);
  });

  it("keeps a file's merged metadata within the limit, however it is added", () => {
    const state = new ContextState(limits);
    const half = "x".repeat(MAX_METADATA_LENGTH / 2);
    state.addFile("/a.ts", { first: half });
    assert.throws(() => state.addFile("/a.ts", { second: half }), InvalidArgumentError);
    assert.deepEqual(Object.keys(state.fileIndex()[0]?.metadata ?? {}), ["first"]);
    assert.throws(
      () => state.addFile("/b.ts", { big: "x".repeat(MAX_METADATA_LENGTH) }),
      InvalidArgumentError,
    );
    assert.deepEqual(state.activeFiles(), ["/a.ts"]);
  });
});
