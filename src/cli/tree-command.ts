import type { Command } from "commander";
import type { TreeNode } from "./api-client.js";
import type { ConnectionFlags } from "./connection.js";
import { withConnectionOptions } from "./connection.js";
import { type CommandOutput, json, type Palette, paletteFor, processOutput } from "./output.js";
import { runWithConnection } from "./sessions-command.js";

/** How often `tree --watch` redraws. */
const WATCH_INTERVAL_MS = 1000;

/** Clears a terminal and puts the cursor top left. */
const CLEAR_SCREEN = "\x1b[H\x1b[2J";

/** One process's line: its child id, kind, pid, and what else is known of it. */
function label(node: TreeNode, palette: Palette): string {
  const parts = [palette.bold(node.id), palette.dim(node.type), node.pid];
  const names = node.names.filter((name) => name !== node.id);
  if (names.length > 0) parts.push(`[${names.join(", ")}]`);
  if (node.isolation !== undefined) parts.push(node.isolation);
  if (node.host !== undefined && node.host.kind !== "inline") parts.push(`host ${node.host.id}`);
  if (node.restarts !== undefined && node.restarts > 0)
    parts.push(palette.yellow(`restarts ${node.restarts}`));
  if (node.mailbox !== undefined && node.mailbox > 0) parts.push(palette.yellow(`mailbox ${node.mailbox}`));
  return parts.join(" ");
}

/** The tree as indented text, children under `├──` and `└──`, one process a line. */
export function renderTree(root: TreeNode, palette: Palette): string {
  const lines = [label(root, palette)];
  const walk = (node: TreeNode, prefix: string) => {
    const children = node.children ?? [];
    children.forEach((child, i) => {
      const last = i === children.length - 1;
      lines.push(`${prefix}${last ? "└── " : "├── "}${label(child, palette)}`);
      walk(child, `${prefix}${last ? "    " : "│   "}`);
    });
  };
  walk(root, "");
  return lines.map((line) => `${line}\n`).join("");
}

/** `sessionvisor tree [--url … | --data-dir …] [--watch] [--json]`. */
export function registerTreeCommand(
  program: Command,
  version: string,
  setExitCode: (code: number) => void,
): void {
  const out = processOutput();
  withConnectionOptions(
    program
      .command("tree")
      .description("print the supervision tree (supervisors, sessions, their agents)")
      .version(version, "-V, --version", "print the version")
      .option("--json", "print the tree as JSON ({ root }); with --watch, one line a snapshot")
      .option("--watch", "redraw every second until Ctrl-C"),
  ).action(async (flags: ConnectionFlags & { json?: boolean; watch?: boolean }) => {
    setExitCode(await runTree(flags, out));
  });
}

export async function runTree(
  flags: ConnectionFlags & { json?: boolean; watch?: boolean },
  out: CommandOutput,
): Promise<number> {
  return runWithConnection("tree", flags, out, async (connection) => {
    const palette = paletteFor(out.stdout, out.env);
    const draw = async (first: boolean) => {
      const tree = await connection.client.tree();
      if (flags.json) {
        out.stdout.write(flags.watch ? `${JSON.stringify(tree)}\n` : json(tree));
        return;
      }
      const text = renderTree(tree.root, palette);
      if (!flags.watch) out.stdout.write(text);
      else if (out.stdout.isTTY) out.stdout.write(`${CLEAR_SCREEN}${text}`);
      else out.stdout.write(`${first ? "" : "\n"}${text}`);
    };
    await draw(true);
    if (!flags.watch) return;
    // Until Ctrl-C (or SIGTERM): then the connection is closed and the command exits 0.
    await new Promise<void>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      let stopped = false;
      const cleanup = () => {
        stopped = true;
        if (timer) clearTimeout(timer);
        process.off("SIGINT", stop);
        process.off("SIGTERM", stop);
      };
      const stop = () => {
        cleanup();
        resolve();
      };
      process.on("SIGINT", stop);
      process.on("SIGTERM", stop);
      const next = () => {
        if (stopped) return;
        timer = setTimeout(() => {
          draw(false).then(next, (error: unknown) => {
            cleanup();
            reject(error);
          });
        }, WATCH_INTERVAL_MS);
      };
      next();
    });
  });
}
