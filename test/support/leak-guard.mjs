// Loaded into every test file's process by scripts/test.mjs (`--import`). A test that leaves a
// child process or a worker thread behind would otherwise keep the runner waiting, or leave work
// running into the next file; here the leak is killed when the file's process exits and the file
// is failed, naming what leaked.
import { readdirSync, readFileSync } from "node:fs";
import { syncBuiltinESMExports } from "node:module";
import { basename } from "node:path";
import workerThreads from "node:worker_threads";

const testFile = process.argv[1] ?? "";
// Host processes and worker threads started by a test inherit this preload: only the test file's
// own process is guarded.
if (workerThreads.isMainThread && /\.test\.[cm]?[jt]s$/.test(testFile)) installGuard();

function installGuard() {
  const liveWorkers = trackWorkers();
  process.on("exit", () => {
    const leaks = [...leakedChildren(), ...[...liveWorkers].map((w) => `worker thread ${w.threadId}`)];
    if (leaks.length === 0) return;
    process.stderr.write(
      `\n[leak-guard] ${basename(testFile)} left running when its tests ended:\n` +
        leaks.map((leak) => `  - ${leak}\n`).join(""),
    );
    process.exitCode = 1;
  });
}

/** Wraps `Worker` so that a thread whose `exit` event never came can be named at exit. */
function trackWorkers() {
  const live = new Set();
  const Original = workerThreads.Worker;
  class TrackedWorker extends Original {
    constructor(...args) {
      super(...args);
      live.add(this);
      this.once("exit", () => live.delete(this));
    }
  }
  workerThreads.Worker = TrackedWorker;
  syncBuiltinESMExports();
  return live;
}

/** Kills and describes every descendant process, except the esbuild service tsx keeps running. */
function leakedChildren() {
  if (process.platform !== "linux") return [];
  const leaks = [];
  for (const pid of descendants(process.pid)) {
    const command = commandLine(pid);
    if (command === undefined || /esbuild.*--service/.test(command)) continue;
    try {
      process.kill(pid, "SIGKILL");
      leaks.push(`process ${pid} (${command}), killed`);
    } catch {
      // Gone between the scan and the kill: not a leak.
    }
  }
  return leaks;
}

function descendants(root) {
  const children = new Map();
  let entries;
  try {
    entries = readdirSync("/proc");
  } catch {
    return [];
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    const parent = parentOf(Number(entry));
    if (parent === undefined) continue;
    const list = children.get(parent) ?? [];
    list.push(Number(entry));
    children.set(parent, list);
  }
  const found = [];
  const pending = [...(children.get(root) ?? [])];
  while (pending.length > 0) {
    const pid = pending.pop();
    found.push(pid);
    pending.push(...(children.get(pid) ?? []));
  }
  return found;
}

function parentOf(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the command name (which may hold spaces): state, ppid, ...
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const state = fields[0];
    if (state === "Z" || state === "X") return undefined;
    return Number(fields[1]);
  } catch {
    return undefined;
  }
}

function commandLine(pid) {
  try {
    const text = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ").trim();
    return text.length > 120 ? `${text.slice(0, 117)}...` : text;
  } catch {
    return undefined;
  }
}
