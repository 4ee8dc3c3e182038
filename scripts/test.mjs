// Runs node's built-in test runner over every *.test.ts under src/ and test/, through tsx.
// Node 20's --test does not expand globs, so the files are found here. Extra arguments
// (a file path, --test-name-pattern=...) are passed on.
//
// The run cannot hang: each test, and each test file as a whole, has a timeout
// (TEST_TIMEOUT_MS, default 180 s: node applies one value to both, and a test may set a shorter
// one itself); the runner exits when the tests are done even if a handle leaked
// (--test-force-exit); test/support/leak-guard.mjs fails a file that leaves a child process or
// worker thread behind; and the whole run is killed after TEST_RUN_TIMEOUT_MS (default 20 min:
// the suite takes ~5 min on 2 cores, and took over 10 on a day the shared machine ran at half
// its speed).
// TEST_CONCURRENCY sets how many files run at once (default 2).
import { spawn } from "node:child_process";
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";

function findTests(dir) {
  let found = [];
  let entries;
  try {
    entries = readdirSync(dir);
  } catch {
    return found;
  }
  for (const name of entries) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) found = found.concat(findTests(path));
    else if (name.endsWith(".test.ts")) found.push(path);
  }
  return found;
}

function positiveInteger(name, fallback) {
  const text = process.env[name];
  if (text === undefined || text === "") return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value <= 0) {
    console.error(`${name} must be a positive whole number, got ${JSON.stringify(text)}`);
    process.exit(2);
  }
  return value;
}

const testTimeoutMs = positiveInteger("TEST_TIMEOUT_MS", 180_000);
// Node's default on 2 cores is one file at a time; most of the suite waits on timers, hosts and
// child processes, so two files at a time halve the run on such a machine.
const concurrency = positiveInteger("TEST_CONCURRENCY", 2);
const runTimeoutMs = positiveInteger("TEST_RUN_TIMEOUT_MS", 1_200_000);
const args = process.argv.slice(2);
const explicit = args.filter((arg) => !arg.startsWith("-"));
const options = args.filter((arg) => arg.startsWith("-"));
const files = explicit.length > 0 ? explicit : [...findTests("src"), ...findTests("test")].sort();
if (files.length === 0) {
  console.error("no *.test.ts files found under src/ or test/");
  process.exit(1);
}

const runner = spawn(
  process.execPath,
  [
    // Failure locations point at the TypeScript source line, not tsx's output.
    "--enable-source-maps",
    "--import",
    "tsx",
    "--import",
    "./test/support/leak-guard.mjs",
    "--test",
    "--test-reporter=spec",
    `--test-timeout=${testTimeoutMs}`,
    `--test-concurrency=${concurrency}`,
    "--test-force-exit",
    ...options,
    ...files,
  ],
  // Its own process group, so that a run past its time is killed with everything it started.
  { stdio: "inherit", detached: true },
);

const killRun = (why) => {
  console.error(`\n${why}: killing the test run and everything it started.`);
  try {
    process.kill(-runner.pid, "SIGKILL");
  } catch {
    // Already gone.
  }
};
const deadline = setTimeout(() => killRun(`the test run took longer than ${runTimeoutMs} ms`), runTimeoutMs);
for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, () => {
    killRun(`interrupted by ${signal}`);
    process.exit(130);
  });
}
runner.on("exit", (code, signal) => {
  clearTimeout(deadline);
  process.exit(code ?? (signal ? 1 : 0));
});
