import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { systemsForTests } from "../../test/support/sessions.js";
import { ManualClock } from "../runtime/index.js";
import { InvalidSessionDocumentError, SessionExistsError, SessionNotFoundError } from "./errors.js";

const start = systemsForTests();

/** A system that keeps terminated sessions `retainTerminatedMs`, and `passes(ms)` of wall-clock time (with a sweep). */
async function withRetention(retainTerminatedMs: number) {
  const clock = new ManualClock();
  let wallClock = Date.parse("2026-11-24T12:00:00Z");
  const sys = await start({ clock, now: () => new Date(wallClock), idleSweepMs: 100, retainTerminatedMs });
  const passes = async (ms: number) => {
    wallClock += ms;
    await clock.advance(200);
  };
  return { sys, passes };
}

describe("retention of terminated sessions", () => {
  it("restores a terminated session under the same id with its conversation", async () => {
    const sys = await start();
    const { id } = await sys.createSession({ name: "again" });
    await sys.sendMessage(id, "echo kept");
    await sys.terminateSession(id);
    const info = await sys.restoreSession(id);
    assert.deepEqual([info.id, info.name, info.status], [id, "again", "active"]);
    assert.deepEqual(
      (await sys.getHistory(id)).map((t) => t.content),
      ["echo kept", "kept"],
    );
    assert.equal((await sys.sendMessage(id, "echo back")).text, "back");
  });

  it("purges a terminated session after the retention time, and then it cannot be restored", async () => {
    const { sys, passes } = await withRetention(60_000);
    const { id } = await sys.createSession();
    await sys.terminateSession(id);
    await passes(59_000);
    assert.ok(await sys.store.getSession(id), "still kept within the retention time");
    await passes(2_000);
    assert.equal(await sys.store.getSession(id), undefined);
    await assert.rejects(sys.restoreSession(id), SessionNotFoundError);
  });

  it("lists terminated sessions that are kept, and no longer once restored", async () => {
    const sys = await start();
    const { id: ended } = await sys.createSession({ name: "ended" });
    const { id: live } = await sys.createSession({ name: "live" });
    await sys.terminateSession(ended);
    const terminated = await sys.listTerminatedSessions();
    assert.deepEqual(
      terminated.map((s) => [s.id, s.name, s.status]),
      [[ended, "ended", "terminated"]],
    );
    assert.deepEqual(
      (await sys.listSessions()).map((s) => s.id),
      [live],
    );
    await sys.restoreSession(ended);
    assert.deepEqual(await sys.listTerminatedSessions(), []);
  });

  it("does not list a terminated session once it is purged", async () => {
    const { sys, passes } = await withRetention(60_000);
    const { id } = await sys.createSession();
    await sys.terminateSession(id);
    assert.equal((await sys.listTerminatedSessions()).length, 1);
    await passes(61_000);
    assert.deepEqual(await sys.listTerminatedSessions(), []);
  });

  it("refuses to restore a live session", async () => {
    const sys = await start();
    const { id } = await sys.createSession();
    await assert.rejects(sys.restoreSession(id), SessionExistsError);
  });
});

describe("export and import", () => {
  it("moves a session with its conversation to another system under the same id", async () => {
    const source = await start();
    const { id } = await source.createSession({ name: "travelling", metadata: { ticket: 42 } });
    await source.addFile(id, "/src/a.ts", { metadata: { lang: "ts" } });
    await source.sendMessage(id, "echo pack me");
    const document = JSON.parse(JSON.stringify(await source.exportSession(id)));

    const target = await start();
    const info = await target.importSession(document);
    assert.deepEqual(
      [info.id, info.name, info.metadata, info.status],
      [id, "travelling", { ticket: 42 }, "active"],
    );
    assert.deepEqual(
      (await target.getHistory(id)).map((t) => t.content),
      ["echo pack me", "pack me"],
    );
    assert.deepEqual((await target.getFiles(id)).active, ["/src/a.ts"]);
  });

  it("refuses a document that is not a session export, storing nothing", async () => {
    const sys = await start();
    await assert.rejects(
      sys.importSession({ format: "something", version: 1 } as never),
      (e: unknown) => e instanceof InvalidSessionDocumentError && e.field === "format",
    );
    const bad = { format: "sessionvisor.session", version: 1, session: { id: "../etc" } } as never;
    await assert.rejects(sys.importSession(bad));
    assert.deepEqual(await sys.store.listSessions(), []);
  });

  it("refuses to import a session whose id exists already", async () => {
    const sys = await start();
    const { id } = await sys.createSession();
    await assert.rejects(sys.importSession(await sys.exportSession(id)), SessionExistsError);
  });
});
