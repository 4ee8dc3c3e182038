import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { after, describe, it } from "node:test";
import { recorder, startSystem } from "./support/sessions.js";

const dir = mkdtempSync(join(tmpdir(), "sessionvisor-restart-"));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Runs the writer until it has finished `turns` turns, then kills it with SIGKILL. */
async function runWriterAndKill(
  storePath: string,
  turns: number,
): Promise<{ talker: string; quiet: string; done: number }> {
  const child = spawn(
    process.execPath,
    ["--import", "tsx", "test/fixtures/conversation-writer.ts", storePath],
    {
      stdio: ["ignore", "pipe", "inherit"],
    },
  );
  const exited = new Promise<NodeJS.Signals | null>((resolve) =>
    child.on("exit", (_code, signal) => resolve(signal)),
  );
  let ids: { talker: string; quiet: string } | undefined;
  let done = -1;
  for await (const line of createInterface({ input: child.stdout })) {
    const message = JSON.parse(line) as { talker?: string; quiet?: string; done?: number };
    if (message.talker) ids = message as { talker: string; quiet: string };
    if (message.done !== undefined) done = message.done;
    if (done + 1 >= turns) {
      // The next turn has already begun: this kill lands in the middle of a conversation.
      child.kill("SIGKILL");
      break;
    }
  }
  assert.equal(await exited, "SIGKILL");
  if (!ids) throw new Error("the writer never reported its sessions");
  return { ...ids, done };
}

describe("restart recovery", () => {
  it("after kill -9 mid-conversation, every session comes back with its id, status and conversation", async () => {
    const storePath = join(dir, "killed.db");
    const { talker, quiet, done } = await runWriterAndKill(storePath, 4);
    const rec = recorder();
    const system = await startSystem({ storePath });
    try {
      const listed = await system.listSessions();
      assert.deepEqual(
        listed.map((s) => [s.id, s.name, s.status]).sort(),
        [
          [quiet, "quiet", "active"],
          [talker, "talker", "active"],
        ].sort(),
      );
      const history = await system.getHistory(talker);
      const answered = history.filter((t) => t.role === "assistant").map((t) => t.content);
      for (let n = 0; n <= done; n++)
        assert.ok(answered.includes(`turn ${n} with a few words to stream one by one`), `turn ${n}`);
      // The turn in flight at the kill is either complete or kept and marked interrupted.
      const last = history.at(-1);
      if (last?.role === "user") assert.equal(last.status, "interrupted");
      assert.deepEqual(
        (await system.getHistory(quiet)).map((t) => t.content),
        ["echo a quiet session", "a quiet session"],
      );
      system.subscribeAll(rec.listener);
      assert.equal((await system.sendMessage(talker, "echo alive again")).text, "alive again");
    } finally {
      await system.stop();
    }
  });

  it("after a clean stop, sessions come back the same, and terminated ones stay gone", async () => {
    const storePath = join(dir, "clean.db");
    const first = await startSystem({ storePath });
    const kept = await first.createSession({ name: "kept" });
    const ended = await first.createSession({ name: "ended" });
    await first.sendMessage(kept.id, "echo remember this");
    await first.terminateSession(ended.id);
    await first.stop();

    const second = await startSystem({ storePath });
    try {
      assert.deepEqual(
        (await second.listSessions()).map((s) => [s.id, s.status]),
        [[kept.id, "active"]],
      );
      assert.deepEqual(
        (await second.getHistory(kept.id)).map((t) => t.content),
        ["echo remember this", "remember this"],
      );
      assert.ok(second.findSupervisor(kept.id), "its processes run again");
    } finally {
      await second.stop();
    }
  });

  it("refuses to start on a corrupt store file instead of starting empty", async () => {
    const storePath = join(dir, "corrupt.db");
    const { writeFileSync } = await import("node:fs");
    writeFileSync(storePath, Buffer.alloc(4096, 7));
    await assert.rejects(startSystem({ storePath }), /cannot be read .* left untouched/);
  });
});

describe("interrupted turns", () => {
  it("a user message left unanswered by a crash is marked interrupted and reported on the session's topic", async () => {
    const system = await startSystem();
    try {
      const { id } = await system.createSession();
      await system.sendMessage(id, "echo first");
      // What a crash between the user's message and the reply leaves in the store.
      const snapshot = (await system.store.getConversation(id)) as {
        turns: { role: string; content: string; status: string; id: string; at: string }[];
        nextTurn: number;
      };
      snapshot.turns.push({
        id: `t${snapshot.nextTurn}`,
        role: "user",
        content: "cut short",
        status: "complete",
        at: new Date().toISOString(),
      });
      snapshot.nextTurn++;
      await system.store.putConversation(id, snapshot as never);
      const rec = recorder();
      await system.subscribe(id, rec.listener);
      system.runtime.exit(system.getContextManagerPid(id) as never, "kill");
      const event = await rec.waitFor((e) => e.type === "turn_interrupted");
      assert.equal(event.type === "turn_interrupted" && event.turn.content, "cut short");
      const history = await system.getHistory(id);
      assert.deepEqual(history.at(-1)?.status, "interrupted");
    } finally {
      await system.stop();
    }
  });
});
