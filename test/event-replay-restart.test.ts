import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { copyFileSync, existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { after, before, describe, it } from "node:test";
import type { SessionSystem } from "../src/index.js";
import { recorder, startSystem } from "./support/sessions.js";

const dir = mkdtempSync(join(tmpdir(), "sessionvisor-event-replay-"));
const children = new Set<ChildProcess>();
const systems = new Set<SessionSystem>();
after(async () => {
  for (const child of children) child.kill("SIGKILL");
  for (const system of systems) await system.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** Runs the writer until its turn has started, then kills it with SIGKILL mid-reply. */
async function killMidTurn(storePath: string): Promise<{ id: string; turnStartedSeq: number }> {
  const child = spawn(
    process.execPath,
    ["--import", "tsx", "test/fixtures/interrupted-turn-writer.ts", storePath],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  children.add(child);
  const exited = new Promise<NodeJS.Signals | null>((resolve) =>
    child.on("exit", (_code, signal) => resolve(signal)),
  );
  let started: { id: string; turnStartedSeq: number } | undefined;
  for await (const line of createInterface({ input: child.stdout })) {
    started = JSON.parse(line);
    child.kill("SIGKILL");
    break;
  }
  assert.equal(await exited, "SIGKILL");
  children.delete(child);
  if (!started) throw new Error("the writer never started its turn");
  return started;
}

/** A copy of the killed program's store (file and write-ahead log), for one test to restart from. */
function copyOfStore(from: string, name: string): string {
  const to = join(dir, name);
  copyFileSync(from, to);
  if (existsSync(`${from}-wal`)) copyFileSync(`${from}-wal`, `${to}-wal`);
  return to;
}

async function restart(options: Parameters<typeof startSystem>[0]): Promise<SessionSystem> {
  const system = await startSystem(options);
  systems.add(system);
  return system;
}

describe("events of a turn cut short by kill -9 of the program", () => {
  const killedStore = join(dir, "killed.db");
  let killed: { id: string; turnStartedSeq: number };
  before(
    async () => {
      killed = await killMidTurn(killedStore);
    },
    { timeout: 60_000 },
  );

  it("a listener given to start receives the turn_interrupted", { timeout: 60_000 }, async () => {
    const rec = recorder();
    await restart({ storePath: copyOfStore(killedStore, "listener.db"), listeners: [rec.listener] });
    const event = await rec.waitFor((e) => e.type === "turn_interrupted", 10_000);
    assert.ok(event.type === "turn_interrupted");
    assert.equal(event.sessionId, killed.id);
    assert.equal(event.turn.content, "echo a reply that is never finished");
    assert.equal(event.turn.status, "interrupted");
  });

  it("a subscriber resuming after the last event it saw gets the turn_interrupted, and no number twice", {
    timeout: 60_000,
  }, async () => {
    const system = await restart({ storePath: copyOfStore(killedStore, "since.db") });
    const rec = recorder();
    await system.subscribe(killed.id, rec.listener, { since: killed.turnStartedSeq });
    // Replayed if the restart published it already, live if it comes later: once either way.
    await rec.waitFor((e) => e.type === "turn_interrupted", 10_000);
    await system.sendMessage(killed.id, "echo again");
    assert.equal(rec.events.filter((e) => e.type === "turn_interrupted").length, 1);
    // Past every number the killed program may have given, then one by one.
    const seqs = rec.events.filter((e) => e.type !== "llm_delta").map((e) => e.seq);
    assert.ok((seqs[0] as number) > killed.turnStartedSeq, `${seqs[0]} > ${killed.turnStartedSeq}`);
    assert.deepEqual(
      seqs,
      seqs.map((_, i) => (seqs[0] as number) + i),
    );
  });
});
