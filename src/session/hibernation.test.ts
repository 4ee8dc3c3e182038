import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { recorder, startSystem, systemsForTests } from "../../test/support/sessions.js";
import { defaultProviders, OfflineProvider } from "../llm/index.js";
import { ManualClock } from "../runtime/index.js";
import { SessionStartError } from "./errors.js";

const dir = mkdtempSync(join(tmpdir(), "sessionvisor-hibernate-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const start = systemsForTests();

describe("hibernation", () => {
  it("stops a session's processes and keeps it listed as idle and hibernated", async () => {
    const sys = await start();
    const { id } = await sys.createSession();
    const processes = sys.runtime.processCount;
    await sys.hibernateSession(id);
    const info = await sys.getSession(id);
    assert.deepEqual([info?.status, info?.hibernated], ["idle", true]);
    assert.equal(sys.findSupervisor(id), undefined);
    assert.deepEqual(
      sys.registry.select((e) => e.key.includes(id)),
      [],
    );
    assert.equal(sys.runtime.processCount, processes - 3);
  });

  it("wakes transparently on the next message, with its conversation", async () => {
    const sys = await start();
    const { id } = await sys.createSession();
    await sys.sendMessage(id, "echo before sleep");
    await sys.hibernateSession(id);
    const rec = recorder();
    await sys.subscribe(id, rec.listener);
    assert.equal((await sys.sendMessage(id, "echo after sleep")).text, "after sleep");
    assert.deepEqual(
      (await sys.getHistory(id)).map((t) => t.content),
      ["echo before sleep", "before sleep", "echo after sleep", "after sleep"],
    );
    const info = await sys.getSession(id);
    assert.deepEqual([info?.status, info?.hibernated], ["active", false]);
    assert.ok(rec.events.some((e) => e.type === "session_woken"));
  });

  it("hibernates on its own after hibernateAfterMs without a message", async () => {
    const clock = new ManualClock();
    const sys = await start({ clock, idleSweepMs: 100 });
    const { id } = await sys.createSession({ limits: { idleTimeoutMs: 0, hibernateAfterMs: 1000 } });
    await clock.advance(900);
    assert.equal((await sys.getSession(id))?.hibernated, false);
    await clock.advance(300);
    const info = await sys.getSession(id);
    assert.deepEqual([info?.status, info?.hibernated], ["idle", true]);
    assert.equal(sys.findSupervisor(id), undefined);
  });

  it("stays asleep across a program restart and wakes on use", async () => {
    const storePath = join(dir, "sleep.db");
    const first = await startSystem({ storePath });
    const { id } = await first.createSession({ name: "sleeper" });
    await first.sendMessage(id, "echo zzz");
    await first.hibernateSession(id);
    await first.stop();

    const sys = await start({ storePath });
    assert.equal((await sys.getSession(id))?.hibernated, true);
    assert.equal(sys.findSupervisor(id), undefined, "no processes started at boot");
    assert.deepEqual(
      (await sys.getHistory(id)).map((t) => t.content),
      ["echo zzz", "zzz"],
    );
    assert.ok(sys.findSupervisor(id), "woken by the lookup of its history");
  });

  it("can be terminated while hibernated", async () => {
    const sys = await start();
    const { id } = await sys.createSession();
    await sys.hibernateSession(id);
    await sys.terminateSession(id);
    assert.equal(await sys.getSession(id), undefined);
  });

  it("refuses to hibernate a failed session", async () => {
    const sys = await start({ sessionRestartBudget: { maxRestarts: 0, period: 60_000 } });
    const { id } = await sys.createSession();
    const rec = recorder();
    await sys.subscribe(id, rec.listener);
    sys.runtime.exit(sys.findSupervisor(id) as never, "kill");
    await rec.waitFor((e) => e.type === "session_status" && e.status === "failed");
    await assert.rejects(sys.hibernateSession(id), /failed and cannot take messages/);
  });

  it("rejects a wake whose processes cannot start with a SessionStartError, and stays asleep", async () => {
    let made = 0;
    const providers = defaultProviders().register("once", () => {
      if (made++ > 0) throw new Error("the model is gone");
      return new OfflineProvider();
    });
    const sys = await start({ providers });
    const { id } = await sys.createSession({ llm: { provider: "once" } });
    await sys.hibernateSession(id);
    await assert.rejects(sys.wakeSession(id), (error: unknown) => {
      assert.ok(error instanceof SessionStartError, String(error));
      assert.match(error.message, /the model is gone/);
      return true;
    });
    const info = await sys.getSession(id);
    assert.deepEqual([info?.status, info?.hibernated], ["idle", true]);
  });
});
