// The test runner itself (scripts/test.mjs): a run ends and says why, whatever a test leaves behind.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";

const scratch = mkdtempSync(join(tmpdir(), "sessionvisor-runner-"));
after(() => rmSync(scratch, { recursive: true, force: true }));

interface Run {
  code: number | null;
  output: string;
  ms: number;
}

/** Runs `npm test`'s script on one fixture file, killing it if it outlives `limitMs`. */
function runTests(fixture: string, env: Record<string, string>, limitMs = 60_000): Promise<Run> {
  const started = Date.now();
  // Without this variable, the inner runner would take itself for a file of this run.
  const { NODE_TEST_CONTEXT: _, ...outer } = process.env;
  const child = spawn(process.execPath, ["scripts/test.mjs", `test/fixtures/runner/${fixture}`], {
    env: { ...outer, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout.on("data", (chunk) => (output += chunk));
  child.stderr.on("data", (chunk) => (output += chunk));
  const limit = setTimeout(() => child.kill("SIGKILL"), limitMs);
  return new Promise((resolve) => {
    child.on("close", (code) => {
      clearTimeout(limit);
      resolve({ code, output, ms: Date.now() - started });
    });
  });
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  // A zombie answers signals too: only a process that is not dead and unreaped counts.
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
}

describe("the test runner", { timeout: 120_000 }, () => {
  it("fails a file whose tests leave a child process running, names the process and kills it", async () => {
    const pidFile = join(scratch, "leaked.pid");
    const run = await runTests("leaks-child.test.mts", { LEAKED_PID_FILE: pidFile });
    const leaked = Number(readFileSync(pidFile, "utf8"));
    assert.notEqual(run.code, 0, run.output);
    assert.match(run.output, /\[leak-guard\].*left running/);
    assert.match(run.output, new RegExp(`process ${leaked} \\(sleep 60\\), killed`));
    // Killed, it may linger a moment as a zombie until init reaps it.
    const deadline = Date.now() + 10_000;
    while (isRunning(leaked) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.equal(isRunning(leaked), false, "the leaked process was killed");
  });

  it("fails a test that never settles once the test timeout has passed", async () => {
    const run = await runTests("never-settles.test.mts", { TEST_TIMEOUT_MS: "2000" });
    assert.notEqual(run.code, 0, run.output);
    assert.match(run.output, /timed out after 2000ms/);
    assert.match(run.output, /ℹ (fail|cancelled) 1/);
  });

  it("kills the whole run once the run timeout has passed, saying so", async () => {
    const run = await runTests("never-settles.test.mts", { TEST_RUN_TIMEOUT_MS: "3000" });
    assert.notEqual(run.code, 0, run.output);
    assert.match(run.output, /took longer than 3000 ms: killing the test run/);
    assert.ok(run.ms < 30_000, `the run ended after ${run.ms} ms`);
  });
});
