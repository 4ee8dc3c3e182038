import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { systemsForTests } from "../../test/support/sessions.js";
import { InvalidArgumentError } from "../errors.js";
import { defaultProviders } from "../llm/index.js";
import { type ConversationChange, MemorySessionStore, type StoredJson } from "../store/index.js";
import type { SessionService } from "./hosted-session.js";

const start = systemsForTests();
const T = { timeout: 20_000 };

/** A memory store that records every conversation write, and can fail the next change after committing it. */
class RecordingStore extends MemorySessionStore {
  readonly changes: ConversationChange[] = [];
  puts = 0;
  failAfterCommit = false;

  override async changeConversation(id: string, change: ConversationChange): Promise<void> {
    this.changes.push(structuredClone(change));
    await super.changeConversation(id, change);
    if (this.failAfterCommit) {
      this.failAfterCommit = false;
      throw new Error("connection lost after the commit");
    }
  }

  override async putConversation(id: string, conversation: StoredJson): Promise<void> {
    this.puts++;
    await super.putConversation(id, conversation);
  }
}

const turns = (conversation: StoredJson | undefined) =>
  (conversation as { turns: { content: string }[] }).turns.map((t) => t.content);

describe("conversation writes", () => {
  it("a turn writes only what it changed, however long the history", T, async () => {
    const store = new RecordingStore();
    const sys = await start({ store });
    const { id } = await sys.createSession({ limits: { maxHistory: 1000 } });
    for (let i = 0; i < 30; i++) await sys.sendMessage(id, `echo ${i}`);
    store.changes.length = 0;
    await sys.sendMessage(id, "echo last");
    assert.equal(store.puts, 0, "a whole conversation was written");
    const [user, reply, ...more] = store.changes;
    assert.deepEqual(more, [], "one write for the user's turn, one for its end");
    assert.deepEqual(
      user?.append?.map((t) => (t as { content: string }).content),
      ["echo last"],
    );
    // Of the head, only what the turn changed: the next turn's number, then the token totals.
    assert.deepEqual(Object.keys(user?.set ?? {}), ["nextTurn"]);
    assert.equal(user?.set?.nextTurn, 62);
    // The user's turn completes with the status it was stored with: it is not written again.
    assert.equal(reply?.replace, undefined);
    assert.deepEqual(
      reply?.append?.map((t) => (t as { content: string }).content),
      ["last"],
    );
    assert.deepEqual(Object.keys(reply?.set ?? {}).sort(), ["nextTurn", "usage"]);
    assert.equal(turns(await store.getConversation(id)).length, 62);
  });

  it("a turn's writes leave the store holding what the session holds, head included", T, async () => {
    const store = new RecordingStore();
    const sys = await start({ store });
    const { id } = await sys.createSession({ limits: { maxHistory: 4 } });
    for (let i = 0; i < 5; i++) await sys.sendMessage(id, `echo ${i}`);
    const stored = (await store.getConversation(id)) as {
      version: number;
      nextTurn: number;
      usage: { inputTokens: number; outputTokens: number };
      turns: { content: string; status: string }[];
    };
    assert.equal(stored.version, 1);
    assert.equal(stored.nextTurn, 11);
    assert.deepEqual(stored.usage, (await sys.getSession(id))?.usage);
    assert.deepEqual(
      stored.turns.map((t) => [t.content, t.status]),
      (await sys.getHistory(id)).map((t) => [t.content, t.status]),
    );
  });

  it("a turn that ends otherwise than complete writes its user turn again, marked", T, async () => {
    const store = new RecordingStore();
    const sys = await start({ store, providers: defaultProviders({ chunkDelayMs: 50 }) });
    const { id } = await sys.createSession();
    const controller = new AbortController();
    const turn = sys.sendMessage(id, "echo one two three four", { signal: controller.signal });
    setTimeout(() => controller.abort(), 60);
    await assert.rejects(turn);
    const ending = store.changes.at(-1);
    assert.deepEqual(
      ending?.replace?.map((t) => [(t as { content: string }).content, (t as { status: string }).status]),
      [["echo one two three four", "cancelled"]],
    );
    const stored = (await store.getConversation(id)) as { turns: { status: string }[] };
    assert.equal(stored.turns[0]?.status, "cancelled");
  });

  it("the oldest turns pushed out of the history are dropped from the store too", T, async () => {
    const store = new RecordingStore();
    const sys = await start({ store });
    const { id } = await sys.createSession({ limits: { maxHistory: 3 } });
    for (const word of ["a", "b", "c"]) await sys.sendMessage(id, `echo ${word}`);
    assert.deepEqual(turns(await store.getConversation(id)), ["b", "echo c", "c"]);
    assert.deepEqual(
      (await sys.getHistory(id)).map((t) => t.content),
      turns(await store.getConversation(id)),
    );
  });

  it("a history limit lowered on import drops the older stored turns at the next turn", T, async () => {
    const first = await start();
    const { id } = await first.createSession({ limits: { maxHistory: 100 } });
    for (const word of ["a", "b", "c"]) await first.sendMessage(id, `echo ${word}`);
    const document = await first.exportSession(id);
    const session = document.session as {
      limits: { maxHistory: number };
      config: { limits: { maxHistory: number } };
    };
    session.limits.maxHistory = 2;
    session.config.limits.maxHistory = 2;
    await first.stop();
    const store = new RecordingStore();
    const second = await start({ store });
    await second.importSession(document);
    assert.equal(turns(await store.getConversation(id)).length, 6, "the import keeps what it was given");
    await second.sendMessage(id, "echo d");
    assert.deepEqual(turns(await store.getConversation(id)), ["echo d", "d"]);
  });

  it("a write that fails after its commit leaves the conversation as the store holds it", T, async () => {
    const store = new RecordingStore();
    const sys = await start({ store });
    const { id } = await sys.createSession();
    await sys.sendMessage(id, "echo one");
    store.failAfterCommit = true;
    await assert.rejects(sys.addFile(id, "/kept.ts"), /after the commit/);
    // The store is the truth: the file it committed is there, not rolled back in memory only.
    assert.deepEqual((await sys.getFiles(id)).active, ["/kept.ts"]);
    assert.equal((await sys.sendMessage(id, "echo two")).text, "two");
    assert.deepEqual(turns(await store.getConversation(id)), ["echo one", "one", "echo two", "two"]);
  });

  it("a session in a worker thread writes its turns as changes, through the session service", T, async () => {
    const store = new RecordingStore();
    const sys = await start({ store, isolation: "thread" });
    const { id } = await sys.createSession();
    await sys.sendMessage(id, "echo hosted");
    assert.equal(store.puts, 0);
    assert.equal(store.changes.length, 2);
    assert.deepEqual(turns(await store.getConversation(id)), ["echo hosted", "hosted"]);
  });

  it("the session service refuses a change to any conversation but its own session's", T, async () => {
    const sys = await start();
    const { id } = await sys.createSession();
    const other = await sys.createSession();
    const service = (sys as unknown as { sessionService(id: string): SessionService }).sessionService(id);
    await assert.rejects(
      service.changeConversation(other.id, { append: [{ id: "t99" }] }),
      InvalidArgumentError,
    );
    assert.equal(turns((await sys.store.getConversation(other.id)) ?? { turns: [] }).length, 0);
  });
});
