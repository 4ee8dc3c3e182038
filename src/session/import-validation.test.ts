// importSession checks the whole document — record, config and conversation, and how they fit
// together — before anything is written; what it refuses leaves no trace and touches no session.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { systemsForTests } from "../../test/support/sessions.js";
import { defaultProviders, OfflineProvider } from "../llm/index.js";
import {
  InvalidSessionDocumentError,
  MaxSessionsError,
  SessionExistsError,
  SessionStartError,
} from "./errors.js";
import type { SessionDocument } from "./session-manager.js";
import type { SessionSystem } from "./session-system.js";

const start = systemsForTests();
const T = { timeout: 30_000 };

type Json = Record<string, unknown>;

/** An exported session with one exchange and one file, then forgotten, so it can be imported back. */
async function exportedAndForgotten(sys: SessionSystem): Promise<{ id: string; document: Json }> {
  const { id } = await sys.createSession({ name: "exported" });
  await sys.addFile(id, "/src/a.ts", { metadata: { lang: "ts" } });
  await sys.sendMessage(id, "echo hello");
  const document = JSON.parse(JSON.stringify(await sys.exportSession(id))) as Json;
  await sys.terminateSession(id);
  await sys.store.deleteSession(id);
  return { id, document };
}

function withConversation(document: Json, change: (conversation: Json) => void): SessionDocument {
  const copy = structuredClone(document);
  change(copy.conversation as Json);
  return copy as unknown as SessionDocument;
}

function refusedAt(field: string) {
  return (error: unknown) => {
    assert.ok(error instanceof InvalidSessionDocumentError, String(error));
    assert.equal(error.code, "invalid_session_document");
    assert.equal(error.field, field, error.message);
    return true;
  };
}

async function assertNothingStored(sys: SessionSystem, id: string): Promise<void> {
  assert.equal(await sys.store.getSession(id), undefined, "a record was written");
  assert.equal(await sys.store.getConversation(id), undefined, "a conversation was written");
  assert.equal(await sys.getSession(id), undefined, "the session is listed");
}

describe("importSession validation", () => {
  it("refuses a turn with no fields, naming the field, and writes nothing", T, async () => {
    const sys = await start();
    const { id, document } = await exportedAndForgotten(sys);
    const bad = withConversation(document, (c) => {
      c.turns = [{}];
    });
    await assert.rejects(sys.importSession(bad), refusedAt("conversation.turns.0.id"));
    await assertNothingStored(sys, id);
  });

  it("refuses a turn with an unknown role", T, async () => {
    const sys = await start();
    const { id, document } = await exportedAndForgotten(sys);
    const bad = withConversation(document, (c) => {
      (c.turns as Json[])[0]!.role = "bogus";
    });
    await assert.rejects(sys.importSession(bad), refusedAt("conversation.turns.0.role"));
    await assertNothingStored(sys, id);
  });

  it("refuses a turn whose content is not text", T, async () => {
    const sys = await start();
    const { document } = await exportedAndForgotten(sys);
    const bad = withConversation(document, (c) => {
      (c.turns as Json[])[1]!.content = 5;
    });
    await assert.rejects(sys.importSession(bad), refusedAt("conversation.turns.1.content"));
  });

  it("refuses a turn with an unknown status", T, async () => {
    const sys = await start();
    const { document } = await exportedAndForgotten(sys);
    const bad = withConversation(document, (c) => {
      (c.turns as Json[])[0]!.status = "pending";
    });
    await assert.rejects(sys.importSession(bad), refusedAt("conversation.turns.0.status"));
  });

  it("refuses a nextTurn that is not a whole number (ids would be tNaN)", T, async () => {
    const sys = await start();
    const { document } = await exportedAndForgotten(sys);
    const bad = withConversation(document, (c) => {
      c.nextTurn = "x";
    });
    await assert.rejects(sys.importSession(bad), refusedAt("conversation.nextTurn"));
  });

  it("refuses a nextTurn at or below a turn id in use (the next turn would repeat an id)", T, async () => {
    const sys = await start();
    const { document } = await exportedAndForgotten(sys);
    const bad = withConversation(document, (c) => {
      c.nextTurn = 1;
    });
    await assert.rejects(sys.importSession(bad), refusedAt("conversation.turns.0.id"));
  });

  it("refuses two turns with one id", T, async () => {
    const sys = await start();
    const { document } = await exportedAndForgotten(sys);
    const bad = withConversation(document, (c) => {
      (c.turns as Json[])[1]!.id = "t1";
    });
    await assert.rejects(sys.importSession(bad), refusedAt("conversation.turns.1.id"));
  });

  it("refuses null turns with a typed error, not a TypeError", T, async () => {
    const sys = await start();
    const { id, document } = await exportedAndForgotten(sys);
    const bad = withConversation(document, (c) => {
      c.turns = null;
    });
    await assert.rejects(sys.importSession(bad), refusedAt("conversation.turns"));
    await assertNothingStored(sys, id);
  });

  it("refuses a file index or active files of the wrong type", T, async () => {
    const sys = await start();
    const { id, document } = await exportedAndForgotten(sys);
    const index = withConversation(document, (c) => {
      c.fileIndex = "x";
    });
    await assert.rejects(sys.importSession(index), refusedAt("conversation.fileIndex"));
    const active = withConversation(document, (c) => {
      c.activeFiles = { 0: "/a" };
    });
    await assert.rejects(sys.importSession(active), refusedAt("conversation.activeFiles"));
    await assertNothingStored(sys, id);
  });

  it("refuses a malformed file index entry and an active file the index does not know", T, async () => {
    const sys = await start();
    const { document } = await exportedAndForgotten(sys);
    const entry = withConversation(document, (c) => {
      (c.fileIndex as Json[])[0]!.accessCount = -1;
    });
    await assert.rejects(sys.importSession(entry), refusedAt("conversation.fileIndex.0.accessCount"));
    const unknown = withConversation(document, (c) => {
      c.activeFiles = ["/src/b.ts"];
    });
    await assert.rejects(sys.importSession(unknown), refusedAt("conversation.activeFiles.0"));
  });

  it("refuses a record whose info disagrees with its config", T, async () => {
    const sys = await start();
    const { document } = await exportedAndForgotten(sys);
    const bad = structuredClone(document) as { session: Json };
    bad.session.llm = { ...(bad.session.llm as Json), model: "other" };
    await assert.rejects(sys.importSession(bad as never), refusedAt("session.llm"));
  });

  it("names a config field by its path in the document", T, async () => {
    const sys = await start();
    const { document } = await exportedAndForgotten(sys);
    const bad = structuredClone(document) as { session: Json & { config: Json } };
    bad.session.config.llm = { ...(bad.session.config.llm as Json), provider: "nobody" };
    bad.session.llm = bad.session.config.llm;
    await assert.rejects(sys.importSession(bad as never), refusedAt("session.config.llm.provider"));
  });

  it("refuses a circular or throwing document with a typed error", T, async () => {
    const sys = await start();
    const { id, document } = await exportedAndForgotten(sys);
    const circular = structuredClone(document) as { session: Json };
    circular.session.metadata = { self: circular };
    await assert.rejects(sys.importSession(circular as never), refusedAt("session.metadata.self"));
    const throwing = structuredClone(document);
    Object.defineProperty(throwing, "conversation", {
      enumerable: true,
      get() {
        throw new Error("no");
      },
    });
    await assert.rejects(sys.importSession(throwing as never), refusedAt("conversation"));
    await assertNothingStored(sys, id);
  });

  it("leaves an existing session untouched when a document with its id is refused", T, async () => {
    const sys = await start();
    const { id } = await sys.createSession({ name: "resident" });
    await sys.sendMessage(id, "echo keep me");
    const document = JSON.parse(JSON.stringify(await sys.exportSession(id))) as Json;
    const recordBefore = await sys.store.getSession(id);
    const conversationBefore = await sys.store.getConversation(id);
    const broken = withConversation(document, (c) => {
      c.turns = [{}];
    });
    await assert.rejects(sys.importSession(broken), InvalidSessionDocumentError);
    await assert.rejects(sys.importSession(document as never), SessionExistsError);
    assert.deepEqual(await sys.store.getSession(id), recordBefore);
    assert.deepEqual(await sys.store.getConversation(id), conversationBefore);
    assert.equal((await sys.sendMessage(id, "echo still here")).text, "still here");
  });

  it("leaves nothing in the store when the imported session cannot start", T, async () => {
    const sys = await start({ maxSessions: 1 });
    const { id, document } = await exportedAndForgotten(sys);
    await sys.createSession({ name: "the only one allowed" });
    await assert.rejects(sys.importSession(document as never), MaxSessionsError);
    await assertNothingStored(sys, id);
  });

  it("leaves nothing in the store when the imported session's processes fail to start", T, async () => {
    let failing = false;
    const providers = defaultProviders().register("flaky", () => {
      if (failing) throw new Error("no API key");
      return new OfflineProvider();
    });
    const sys = await start({ providers });
    const { id } = await sys.createSession({ llm: { provider: "flaky" } });
    await sys.sendMessage(id, "echo hello");
    const document = JSON.parse(JSON.stringify(await sys.exportSession(id)));
    await sys.terminateSession(id);
    await sys.store.deleteSession(id);
    failing = true;
    await assert.rejects(sys.importSession(document), SessionStartError);
    await assertNothingStored(sys, id);
  });

  it("still imports a valid document, and the session answers", T, async () => {
    const sys = await start();
    const { id, document } = await exportedAndForgotten(sys);
    await sys.importSession(document as never);
    assert.deepEqual(
      (await sys.getHistory(id)).map((t) => t.content),
      ["echo hello", "hello"],
    );
    assert.equal((await sys.sendMessage(id, "echo again")).text, "again");
  });
});
