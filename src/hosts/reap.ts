/**
 * Finding and killing the programs a host started (Linux, through /proc; elsewhere these find
 * nothing and kill nothing). A process host runs in a process group of its own, so a signal to
 * the group reaches whatever it started. A thread host has no group of its own: its programs are
 * children of the main process, told apart only by the OS thread that forked them
 * (`/proc/<pid>/task/<tid>/children`), and only while that thread is alive.
 */
import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import { monotonicMs } from "../runtime/clock.js";

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

/** Whether the thread `tid` of `pid` has children (living, or dead and not yet reaped). */
export function hasChildren(pid: number, tid: number): boolean {
  return childrenOfTask(pid, tid).length > 0;
}

/**
 * Resolves once the thread `tid` of `pid` has no children left, or after `ms`. Node reaps a
 * killed child only from the event loop that spawned it: a thread that exits before its loop
 * saw its children die leaves them as zombies (dead, holding a pid) until the process exits.
 */
export async function childrenReaped(pid: number, tid: number, ms: number): Promise<void> {
  const deadline = monotonicMs() + ms;
  while (childrenOfTask(pid, tid).length > 0 && monotonicMs() < deadline) {
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

/** A process seen in a group: enough to tell, later, that it is still the same process. */
interface GroupMember {
  pid: number;
  /** Clock ticks after boot at which it started (field 22 of /proc/<pid>/stat). */
  startTime: string;
}

/** A process group a host's programs run in, as last seen. */
export interface ProgramGroup {
  pgid: number;
  members: GroupMember[];
}

/** `pgrp` and `starttime` of a process, or undefined once it is gone. */
function statOf(pid: number): { pgid: number; startTime: string } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name may hold spaces and parentheses: the fields start after the last `)`.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const pgid = Number(fields[2]);
    const startTime = fields[19];
    return Number.isInteger(pgid) && startTime !== undefined ? { pgid, startTime } : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The process groups `pids` run in, with the processes seen in each. A program a host starts in
 * a group of its own (an MCP server, a command) leaves the host's sight when the host dies — a
 * dead thread's children are handed to another thread, a dead process's to init — so the
 * parent notes the groups while the host lives and can still end them after.
 */
export function programGroupsOf(pids: readonly number[]): ProgramGroup[] {
  const groups = new Map<number, ProgramGroup>();
  for (const pid of pids) {
    const stat = statOf(pid);
    if (!stat || stat.pgid <= 1 || stat.pgid === process.pid) continue;
    let group = groups.get(stat.pgid);
    if (!group) {
      group = { pgid: stat.pgid, members: [] };
      groups.set(stat.pgid, group);
    }
    group.members.push({ pid, startTime: stat.startTime });
  }
  return [...groups.values()];
}

/**
 * SIGKILLs each group that still holds one of the processes seen in it (the same pid, started
 * at the same time, in the same group): a group whose processes all ended, or whose pid was
 * given to someone else since, is left alone.
 */
export function killProgramGroups(groups: readonly ProgramGroup[]): void {
  for (const group of groups) {
    const alive = group.members.some((member) => {
      const now = statOf(member.pid);
      return now?.pgid === group.pgid && now.startTime === member.startTime;
    });
    if (alive) signal(-group.pgid, "SIGKILL");
  }
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
