/**
 * Finding and killing the programs a host started (Linux, through /proc; elsewhere these find
 * nothing and kill nothing). A process host runs in a process group of its own, so a signal to
 * the group reaches whatever it started. A thread host has no group of its own: its programs are
 * children of the main process, told apart only by the OS thread that forked them
 * (`/proc/<pid>/task/<tid>/children`), and only while that thread is alive.
 */
import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import { performance } from "node:perf_hooks";

/** At most this many descendants are collected, so that a fork bomb cannot stall the parent. */
const MAX_DESCENDANTS = 4096;

/** The OS thread id of the calling thread, or undefined where /proc has no `thread-self`. */
export function currentOsThreadId(): number | undefined {
  try {
    const link = readlinkSync("/proc/thread-self");
    const tid = Number(link.slice(link.lastIndexOf("/") + 1));
    return Number.isInteger(tid) && tid > 0 ? tid : undefined;
  } catch {
    return undefined;
  }
}

function childrenOfTask(pid: number, tid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${tid}/children`, "utf8")
      .split(" ")
      .filter((word) => word.length > 0)
      .map(Number);
  } catch {
    return [];
  }
}

function tasksOf(pid: number): number[] {
  try {
    return readdirSync(`/proc/${pid}/task`).map(Number);
  } catch {
    return [];
  }
}

/**
 * Every living process descended from `pid` — or only from its thread `tid`, when given: the
 * programs that thread started, their children, and so on.
 */
export function descendantsOf(pid: number, tid?: number): number[] {
  const queue =
    tid === undefined ? tasksOf(pid).flatMap((task) => childrenOfTask(pid, task)) : childrenOfTask(pid, tid);
  const found = new Set<number>();
  while (queue.length > 0 && found.size < MAX_DESCENDANTS) {
    const next = queue.shift() as number;
    if (found.has(next) || !killable(next)) continue;
    found.add(next);
    for (const task of tasksOf(next)) queue.push(...childrenOfTask(next, task));
  }
  return [...found];
}

/**
 * SIGKILLs everything descended from `pid` (or from its thread `tid`). The whole tree is read
 * before anything is killed: a killed parent's children are handed to init, out of our sight.
 * A second pass catches what was forked while the first was read.
 */
export function killDescendants(pid: number, tid?: number): void {
  for (let pass = 0; pass < 2; pass++) {
    const pids = descendantsOf(pid, tid);
    if (pids.length === 0) return;
    for (const each of pids) signal(each, "SIGKILL");
  }
}

/**
 * Resolves once the thread `tid` of `pid` has no children left, or after `ms`. Node reaps a
 * killed child only from the event loop that spawned it: a thread that exits before its loop
 * saw its children die leaves them as zombies (dead, holding a pid) until the process exits.
 */
export async function childrenReaped(pid: number, tid: number, ms: number): Promise<void> {
  const deadline = performance.now() + ms;
  while (childrenOfTask(pid, tid).length > 0 && performance.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/**
 * SIGKILLs every process in the group `pgid` (a process host and what it started). A pid that
 * leads no group is ESRCH, so a host that was not started in a group of its own kills nothing.
 */
export function killProcessGroup(pgid: number): void {
  if (Number.isInteger(pgid) && pgid > 1) signal(-pgid, "SIGKILL");
}

function killable(pid: number): boolean {
  return Number.isInteger(pid) && pid > 1 && pid !== process.pid;
}

function signal(target: number, name: NodeJS.Signals): void {
  try {
    process.kill(target, name);
  } catch {
    // Gone already (ESRCH), or never ours to signal (EPERM).
  }
}
