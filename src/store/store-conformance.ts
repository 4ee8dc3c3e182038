import assert from "node:assert/strict";
import { afterEach, describe, it } from "node:test";
import { InvalidArgumentError } from "../errors.js";
import type { ConversationChange } from "./conversation-change.js";
import { InvalidSessionIdError, StoreClosedError } from "./errors.js";
import type { SessionStore } from "./session-store.js";

/** The behaviour every SessionStore backend must show; each backend's test file runs it. */
export function describeSessionStoreConformance(name: string, make: () => Promise<SessionStore>): void {
  describe(`SessionStore conformance: ${name}`, () => {
    let store: SessionStore | undefined;
    const open = async () => {
      store = await make();
      return store;
    };
    afterEach(async () => {
      await store?.close();
      store = undefined;
    });

    it("returns the record and conversation that were stored", async () => {
      const s = await open();
      await s.putSession("s1", { status: "active", n: 1, nested: { a: [1, "x", null] } });
      await s.putConversation("s1", { turns: [{ id: "t1" }] });
      assert.deepEqual(await s.getSession("s1"), {
        id: "s1",
        record: { status: "active", n: 1, nested: { a: [1, "x", null] } },
      });
      assert.deepEqual(await s.getConversation("s1"), { turns: [{ id: "t1" }] });
    });

    it("replaces a record on a second put", async () => {
      const s = await open();
      await s.putSession("s1", { status: "active" });
      await s.putSession("s1", { status: "idle" });
      assert.equal((await s.getSession("s1"))?.record.status, "idle");
      assert.equal((await s.listSessions()).length, 1);
    });

    it("answers undefined for what was never stored", async () => {
      const s = await open();
      assert.equal(await s.getSession("nobody"), undefined);
      assert.equal(await s.getConversation("nobody"), undefined);
    });

    it("lists every session in the order they were first stored", async () => {
      const s = await open();
      for (const id of ["b", "a", "c"]) await s.putSession(id, { id });
      await s.putSession("b", { id: "b", again: true });
      assert.deepEqual(
        (await s.listSessions()).map((x) => x.id),
        ["b", "a", "c"],
      );
    });

    it("deletes a session's record and conversation together", async () => {
      const s = await open();
      await s.putSession("s1", {});
      await s.putConversation("s1", []);
      await s.deleteSession("s1");
      assert.equal(await s.getSession("s1"), undefined);
      assert.equal(await s.getConversation("s1"), undefined);
    });

    it("writes a batch of conversations", async () => {
      const s = await open();
      await s.putConversations([
        ["a", { n: 1 }],
        ["b", { n: 2 }],
      ]);
      assert.deepEqual([await s.getConversation("a"), await s.getConversation("b")], [{ n: 1 }, { n: 2 }]);
    });

    describe("conversations turn by turn", () => {
      const turn = (n: number, status = "complete") => ({ id: `t${n}`, content: `c${n}`, status });
      const head = { version: 1, nextTurn: 3, files: ["a"] };

      it("appends turns, replaces one by its id and sets head fields, leaving the rest as it was", async () => {
        const s = await open();
        await s.putConversation("s1", { ...head, turns: [turn(1), turn(2)] });
        await s.changeConversation("s1", { append: [turn(3)], set: { nextTurn: 4 } });
        await s.changeConversation("s1", { replace: [turn(2, "interrupted")], append: [turn(4)] });
        assert.deepEqual(await s.getConversation("s1"), {
          version: 1,
          nextTurn: 4,
          files: ["a"],
          turns: [turn(1), turn(2, "interrupted"), turn(3), turn(4)],
        });
      });

      it("keeps the order the turns were put in, whatever their ids, and appends after the last", async () => {
        const s = await open();
        await s.putConversation("s1", { turns: [turn(7), turn(2), "not a turn"] });
        await s.changeConversation("s1", { append: [turn(8)], replace: [turn(7, "failed")] });
        assert.deepEqual(await s.getConversation("s1"), {
          turns: [turn(7, "failed"), turn(2), "not a turn", turn(8)],
        });
      });

      it("starts a conversation not stored yet from a change", async () => {
        const s = await open();
        await s.changeConversation("s1", { append: [turn(1)], set: head });
        assert.deepEqual(await s.getConversation("s1"), { ...head, turns: [turn(1)] });
        await s.changeConversation("s2", { append: [turn(1)] });
        assert.deepEqual(await s.getConversation("s2"), { turns: [turn(1)] });
      });

      it("trims the turns older than keepFrom, even when it names a turn appended by the same change", async () => {
        const s = await open();
        await s.putConversation("s1", { turns: [1, 2, 3, 4].map((n) => turn(n)) });
        await s.changeConversation("s1", { keepFrom: "t3" });
        assert.deepEqual(await s.getConversation("s1"), { turns: [turn(3), turn(4)] });
        await s.changeConversation("s1", {
          replace: [turn(4, "timed_out")],
          append: [turn(5)],
          keepFrom: "t5",
        });
        assert.deepEqual(await s.getConversation("s1"), { turns: [turn(5)] });
        await s.changeConversation("s1", { append: [turn(6)] });
        assert.deepEqual(await s.getConversation("s1"), { turns: [turn(5), turn(6)] });
      });

      it("writes nothing of a change that names a turn not stored", async () => {
        const s = await open();
        const before = { ...head, turns: [turn(1), turn(2)] };
        await s.putConversation("s1", before);
        const bad: ConversationChange[] = [
          { replace: [turn(1, "failed")], append: [turn(3)], set: { nextTurn: 9 }, keepFrom: "t9" },
          { replace: [turn(1, "failed"), turn(9)], append: [turn(3)], set: { nextTurn: 9 } },
          { replace: [turn(2, "failed")], append: [turn(3)], keepFrom: "t1", set: { turns: [] } },
        ];
        for (const change of bad) {
          await assert.rejects(s.changeConversation("s1", change), InvalidArgumentError);
          assert.deepEqual(await s.getConversation("s1"), before, JSON.stringify(change));
        }
      });

      it("refuses to change a conversation that is not an object with turns, and leaves it whole", async () => {
        const s = await open();
        for (const whole of [[1, 2], { turns: "none" }, "text"]) {
          await s.putConversation("s1", whole);
          await assert.rejects(s.changeConversation("s1", { append: [turn(1)] }), InvalidArgumentError);
          assert.deepEqual(await s.getConversation("s1"), whole);
        }
      });

      it("replaces the turns of a changed conversation on a whole put, and changes follow the put", async () => {
        const s = await open();
        await s.putConversation("s1", { turns: [turn(1), turn(2)] });
        await s.changeConversation("s1", { append: [turn(3)] });
        await s.putConversations([["s1", { turns: [turn(5)] }]]);
        await s.changeConversation("s1", { append: [turn(6)] });
        assert.deepEqual(await s.getConversation("s1"), { turns: [turn(5), turn(6)] });
      });

      it("deletes a session's turns with the session, and only that session's", async () => {
        const s = await open();
        for (const id of ["a", "b"]) {
          await s.putSession(id, {});
          await s.changeConversation(id, { append: [turn(1)] });
        }
        await s.deleteSession("a");
        assert.equal(await s.getConversation("a"), undefined);
        await s.changeConversation("a", { append: [turn(2)] });
        assert.deepEqual(await s.getConversation("a"), { turns: [turn(2)] });
        assert.deepEqual(await s.getConversation("b"), { turns: [turn(1)] });
      });

      it("is not changed by mutating a change after it was applied", async () => {
        const s = await open();
        const added = turn(1);
        await s.changeConversation("s1", { append: [added] });
        added.status = "mutated";
        assert.deepEqual(await s.getConversation("s1"), { turns: [turn(1)] });
      });
    });

    it("is not changed by mutating a value after storing or reading it", async () => {
      const s = await open();
      const record = { status: "active" };
      await s.putSession("s1", record);
      record.status = "mutated";
      const read = await s.getSession("s1");
      if (read) read.record.status = "mutated too";
      assert.equal((await s.getSession("s1"))?.record.status, "active");
    });

    it("refuses an id that is not a plain token with the same InvalidSessionIdError as the client API", async () => {
      const s = await open();
      for (const bad of ["", "a/b", "x'; DROP TABLE sessions; --", "../etc/passwd", "a".repeat(129)]) {
        await assert.rejects(s.putSession(bad, {}), InvalidSessionIdError, bad);
        await assert.rejects(s.getConversation(bad), InvalidSessionIdError, bad);
        await assert.rejects(s.putConversations([[bad, {}]]), InvalidSessionIdError, bad);
        await assert.rejects(s.changeConversation(bad, { append: [] }), InvalidSessionIdError, bad);
      }
      assert.deepEqual(await s.listSessions(), []);
    });

    it("refuses every operation once closed", async () => {
      const s = await open();
      await s.close();
      await assert.rejects(s.getSession("s1"), StoreClosedError);
      await assert.rejects(s.listSessions(), StoreClosedError);
      await assert.rejects(s.readEvents("s1", 0), StoreClosedError);
    });

    describe("event log", () => {
      const entry = (sessionId: string, seq: number) => ({ sessionId, seq, event: { type: "e", n: seq } });
      const seqs = async (s: SessionStore, id: string, since = 0) =>
        (await s.readEvents(id, since)).map((e) => e.seq);

      it("keeps each session's events in order and reads those after a seq", async () => {
        const s = await open();
        await s.appendEvents([entry("a", 1), entry("b", 1), entry("a", 2)]);
        await s.appendEvents([entry("a", 3)]);
        assert.deepEqual(await s.readEvents("a", 1), [entry("a", 2), entry("a", 3)]);
        assert.deepEqual(await seqs(s, "a"), [1, 2, 3]);
        assert.deepEqual(await seqs(s, "b"), [1]);
        assert.deepEqual(await seqs(s, "a", 3), []);
        assert.deepEqual(await s.readEvents("nobody", 0), []);
      });

      it("replaces an event appended again under the same seq", async () => {
        const s = await open();
        await s.appendEvents([entry("a", 1), entry("a", 2)]);
        await s.appendEvents([{ sessionId: "a", seq: 1, event: "again" }]);
        assert.deepEqual(
          (await s.readEvents("a", 0)).map((e) => e.event),
          ["again", { type: "e", n: 2 }],
        );
      });

      it("trims the logs a batch wrote to, to their newest events, and leaves other logs alone", async () => {
        const s = await open();
        await s.appendEvents([1, 2, 3].map((n) => entry("b", n)));
        await s.appendEvents([1, 2, 3, 4].map((n) => entry("a", n)));
        await s.appendEvents([entry("a", 5)], 2);
        assert.deepEqual(await seqs(s, "a"), [4, 5]);
        assert.deepEqual(await seqs(s, "b"), [1, 2, 3]);
        await s.appendEvents([entry("b", 4)], 10);
        assert.deepEqual(await seqs(s, "b"), [1, 2, 3, 4]);
        await s.appendEvents([entry("a", 6)], 0);
        assert.deepEqual(await seqs(s, "a"), []);
      });

      it("deletes a session's events with the session", async () => {
        const s = await open();
        await s.putSession("a", {});
        await s.appendEvents([entry("a", 1), entry("b", 1)]);
        await s.deleteSession("a");
        assert.deepEqual(await seqs(s, "a"), []);
        assert.deepEqual(await seqs(s, "b"), [1]);
      });

      it("reports the last seq of every stored session that has events", async () => {
        const s = await open();
        for (const id of ["a", "b", "quiet"]) await s.putSession(id, {});
        await s.appendEvents([entry("a", 1), entry("a", 2), entry("b", 7), entry("a", 3)], 1);
        assert.deepEqual(
          (await s.lastEventSeqs()).sort(([x], [y]) => x.localeCompare(y)),
          [
            ["a", 3],
            ["b", 7],
          ],
        );
      });

      it("tells whether the event log was closed since it was last opened", async () => {
        const s = await open();
        assert.equal(await s.openEventLog(), true, "never opened");
        assert.equal(await s.openEventLog(), false, "opened and not closed, as after a crash");
        await s.closeEventLog();
        assert.equal(await s.openEventLog(), true);
      });

      it("refuses a bad session id, seq or count before it reaches the backend", async () => {
        const s = await open();
        await assert.rejects(s.appendEvents([entry("a/b", 1)]), InvalidSessionIdError);
        await assert.rejects(s.readEvents("../x", 0), InvalidSessionIdError);
        for (const bad of [0, -1, 1.5, Number.NaN, "1" as unknown as number]) {
          await assert.rejects(
            s.appendEvents([entry("a", 1), entry("a", bad)]),
            InvalidArgumentError,
            String(bad),
          );
        }
        await assert.rejects(s.readEvents("a", -1), InvalidArgumentError);
        await assert.rejects(s.appendEvents([entry("a", 1)], 0.5), InvalidArgumentError);
        assert.deepEqual(await seqs(s, "a"), [], "a batch with a bad entry writes nothing");
      });
    });
  });
}
