// A program SIGKILLed while a turn's tool call runs: started again on the same SQLite file, the
// turn is marked interrupted, the call that had finished keeps its result, and the one that was
// running gets a result saying it was interrupted — a history the next model call accepts.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { after, it } from "node:test";
import type { SessionSystem } from "../src/index.js";
import { startSystem } from "./support/sessions.js";

const dir = mkdtempSync(join(tmpdir(), "sessionvisor-tool-restart-"));
const pidFile = join(dir, "command.pid");
let system: SessionSystem | undefined;
after(async () => {
  await system?.stop();
  // The command ran in a process group of its own: a program killed with SIGKILL cannot end it.
  try {
    process.kill(-Number(readFileSync(pidFile, "utf8").trim()), "SIGKILL");
  } catch {}
  rmSync(dir, { recursive: true, force: true });
});

it("a turn cut by kill -9 between two tool calls comes back interrupted, the finished call kept, the running one closed", {
  timeout: 60_000,
}, async () => {
  const storePath = join(dir, "store.db");
  const project = join(dir, "project");
  mkdirSync(project);
  writeFileSync(join(project, "a.txt"), "alpha\n");
  const child = spawn(
    process.execPath,
    ["--import", "tsx", "test/fixtures/tool-call-writer.ts", storePath, project, pidFile],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  const exited = new Promise<NodeJS.Signals | null>((resolve) =>
    child.on("exit", (_c, signal) => resolve(signal)),
  );
  let id: string | undefined;
  for await (const line of createInterface({ input: child.stdout })) {
    id = (JSON.parse(line) as { id: string }).id;
    child.kill("SIGKILL");
    break;
  }
  assert.equal(await exited, "SIGKILL");
  assert.ok(id, "the writer reported its session");

  system = await startSystem({ storePath });
  const history = await system.getHistory(id);
  assert.deepEqual(
    history.map((t) => `${t.role}:${t.status}${t.toolName ? `:${t.toolName}` : ""}`),
    ["user:interrupted", "assistant:complete", "tool:complete:read_file", "tool:interrupted:run_command"],
  );
  assert.match(history[2]?.content ?? "", /alpha/);
  assert.equal(history[3]?.isError, true);
  // The next turn's model is sent a history with every call answered.
  const reply = await system.sendMessage(id, "echo after the restart");
  assert.equal(reply.text, "after the restart");
});
