// `sessionvisor serve` run as a user runs it: a child process of the CLI (through tsx), the URL
// it prints, its stderr and its exit. Every child started is killed (SIGKILL) and awaited by
// `reapServeChildren`, which each test file calls in its teardown, even when a test failed.
import { type ChildProcess, spawn } from "node:child_process";

export const CLI = ["--import", "tsx", "src/cli/main.ts"];

const children: ChildProcess[] = [];

/** Kills every serve child still running and waits for each to exit. */
export async function reapServeChildren(): Promise<void> {
  for (const child of children.splice(0)) {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGKILL");
      await exited;
    }
  }
}

/** Env without SESSIONVISOR_TOKENS from the caller's shell, plus `extra`. */
export function envWith(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const { SESSIONVISOR_TOKENS: _dropped, ...env } = process.env;
  return { ...env, ...extra };
}

export interface Served {
  child: ChildProcess;
  url: string;
  stderr: () => string;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts `sessionvisor serve` with `flags` and waits for the URL it prints. */
export async function startServe(flags: string[], env = envWith()): Promise<Served> {
  const child = spawn(process.execPath, [...CLI, "serve", ...flags], {
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.push(child);
  let stdout = "";
  let stderr = "";
  child.stderr?.on("data", (chunk) => {
    stderr += chunk;
  });
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("exit", (code, signal) => resolve({ code, signal })),
  );
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no URL within 30 s; stderr: ${stderr}`)), 30_000);
    child.stdout?.on("data", (chunk) => {
      stdout += chunk;
      const found = /serving on (http:\/\/\S+)/.exec(stdout);
      if (found) {
        clearTimeout(timer);
        resolve(found[1] as string);
      }
    });
    void exit.then(({ code }) => {
      clearTimeout(timer);
      reject(new Error(`serve exited ${code} before listening; stderr: ${stderr}`));
    });
  });
  return { child, url, stderr: () => stderr, exit };
}
