import { readFileSync, writeFileSync } from "node:fs";
import { isAbsolute, resolve } from "node:path";
import type { Command } from "commander";
import { SESSION_STATUSES } from "../session/index.js";
import type { SessionJson } from "./api-client.js";
import { type Connection, type ConnectionFlags, connect, withConnectionOptions } from "./connection.js";
import {
  CliError,
  type CommandOutput,
  json,
  type Palette,
  paletteFor,
  processOutput,
  reportError,
  table,
  usageError,
} from "./output.js";
import { withProgress } from "./progress.js";

interface OutputFlags extends ConnectionFlags {
  json?: boolean;
}

/** The statuses `sessions list --status` takes (the session system's). */
const STATUSES: readonly string[] = SESSION_STATUSES;

/**
 * Runs one command on a connection and gives its exit code: 0, 1 for an API or store error
 * (`error: <code>: <message>`), 2 for a usage error. The connection is closed whatever happens.
 */
export async function runWithConnection(
  name: string,
  flags: ConnectionFlags,
  out: CommandOutput,
  body: (connection: Connection) => Promise<void>,
): Promise<number> {
  let connection: Connection | undefined;
  try {
    const where = flags.url ?? "the sessions store";
    connection = await withProgress(out.stderr, out.env, `opening ${where}`, connect(flags, out.env));
    await body(connection);
    return 0;
  } catch (error) {
    return reportError(error, name, out.stderr);
  } finally {
    await connection?.close().catch(() => {});
  }
}

/** `sessionvisor sessions list|create|show|terminate|restore|hibernate|wake|export|import`. */
export function registerSessionsCommand(
  program: Command,
  version: string,
  setExitCode: (code: number) => void,
): void {
  const out = processOutput();
  const sessions = program
    .command("sessions")
    .description(
      "list, create, show, terminate, restore, hibernate, wake, export and import sessions (a server's or a store's)",
    )
    .version(version, "-V, --version", "print the version");
  const sub = (name: string, description: string) =>
    withConnectionOptions(
      sessions
        .command(name)
        .description(description)
        .version(version, "-V, --version", "print the version")
        .option("--json", "print JSON for scripts instead of a table"),
    );
  const run = async (name: string, flags: ConnectionFlags, body: (c: Connection) => Promise<void>) =>
    setExitCode(await runWithConnection(`sessions ${name}`, flags, out, body));

  sub("list", "list sessions (not terminated ones), oldest first")
    .option("--status <status>", `only sessions in this status: ${STATUSES.join(", ")}`)
    .action((flags: OutputFlags & { status?: string }) => {
      if (flags.status !== undefined && !STATUSES.includes(flags.status)) {
        const problem = `--status must be one of ${STATUSES.join(", ")}, not ${JSON.stringify(flags.status)}`;
        setExitCode(reportError(usageError(problem), "sessions list", out.stderr));
        return;
      }
      return run("list", flags, async ({ client }) => {
        const list = await client.listSessions(flags.status);
        if (flags.json) out.stdout.write(json(list));
        else if (list.length === 0) out.stdout.write("no sessions\n");
        else out.stdout.write(sessionsTable(list, paletteFor(out.stdout, out.env)));
      });
    });

  sub("create", "create a session; prints it")
    .option("--name <name>", "the session's name")
    .option("--project <dir>", "the project directory its tools work in")
    .option("--config <file>", "a session config as JSON (`-` for stdin); --name and --project override it")
    .action((flags: OutputFlags & { name?: string; project?: string; config?: string }) =>
      run("create", flags, async ({ client }) => {
        const config = flags.config === undefined ? {} : readJsonObject(flags.config, "--config");
        if (flags.name !== undefined) config.name = flags.name;
        if (flags.project !== undefined) {
          config.projectPath = isAbsolute(flags.project) ? flags.project : resolve(flags.project);
        }
        printSession(await client.createSession(config), flags, out);
      }),
    );

  sub("show", "show one session")
    .argument("<id>", "the session's id (session_…)")
    .action((id: string, flags: OutputFlags) =>
      run("show", flags, async ({ client }) => {
        const info = await client.getSession(id);
        if (flags.json) out.stdout.write(json(info));
        else out.stdout.write(sessionDetails(info, paletteFor(out.stdout, out.env)));
      }),
    );

  sub("terminate", "stop a session's processes; it stays restorable and exportable for a while")
    .argument("<id>", "the session's id")
    .action((id: string, flags: OutputFlags) =>
      run("terminate", flags, async ({ client }) => {
        await client.terminateSession(id);
        out.stdout.write(flags.json ? json({ id, status: "terminated" }) : `terminated ${id}\n`);
      }),
    );

  sub("restore", "bring a terminated or failed session back; prints it")
    .argument("<id>", "the session's id")
    .action((id: string, flags: OutputFlags) =>
      run("restore", flags, async ({ client }) => {
        printSession(await client.restoreSession(id), flags, out);
      }),
    );

  sub("hibernate", "stop a session's processes to free memory; it stays listed and wakes on its next message")
    .argument("<id>", "the session's id")
    .action((id: string, flags: OutputFlags) =>
      run("hibernate", flags, async ({ client }) => {
        await client.hibernateSession(id);
        out.stdout.write(flags.json ? json({ id, hibernated: true }) : `hibernated ${id}\n`);
      }),
    );

  sub("wake", "start a hibernated session's processes again; prints it")
    .argument("<id>", "the session's id")
    .action((id: string, flags: OutputFlags) =>
      run("wake", flags, async ({ client }) => {
        printSession(await client.wakeSession(id), flags, out);
      }),
    );

  sub("export", "write a session's document (its config, conversation and events) as JSON")
    .argument("<id>", "the session's id")
    .option("--out <file>", "write it to this file instead of stdout")
    .action((id: string, flags: OutputFlags & { out?: string }) =>
      run("export", flags, async ({ client }) => {
        const document = await client.exportSession(id);
        if (flags.out === undefined) {
          out.stdout.write(json(document));
          return;
        }
        try {
          writeFileSync(flags.out, json(document));
        } catch (error) {
          throw new CliError(1, `cannot write ${flags.out}: ${(error as Error).message}`, "write_failed");
        }
        out.stdout.write(
          flags.json ? json({ id, out: resolve(flags.out) }) : `exported ${id} to ${flags.out}\n`,
        );
      }),
    );

  sub("import", "import a session document (as export writes it; `-` for stdin); prints the session")
    .argument("<file>", "the document's file")
    .action((file: string, flags: OutputFlags) =>
      run("import", flags, async ({ client }) => {
        printSession(await client.importSession(readJsonObject(file, "the document")), flags, out);
      }),
    );
}

/** A JSON object from a file (or stdin for `-`); a usage error when it is not one. */
function readJsonObject(file: string, what: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file === "-" ? 0 : file, "utf8");
  } catch (error) {
    throw usageError(`cannot read ${what} ${file}: ${(error as NodeJS.ErrnoException).code ?? "error"}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw usageError(`${what} ${file} is not JSON: ${(error as Error).message}`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw usageError(`${what} ${file} must be a JSON object`);
  }
  return value as Record<string, unknown>;
}

function printSession(info: SessionJson, flags: OutputFlags, out: CommandOutput): void {
  out.stdout.write(flags.json ? json(info) : sessionsTable([info], paletteFor(out.stdout, out.env)));
}

/** `2026-12-02T07:30:12.345Z` as `2026-12-02 07:30:12` (UTC). */
function shortTime(iso: unknown): string {
  return typeof iso === "string" ? iso.replace("T", " ").replace(/\.\d+Z$|Z$/, "") : "";
}

function coloured(status: string, palette: Palette): string {
  if (status === "active" || status === "idle") return palette.green(status);
  if (status === "failed") return palette.red(status);
  if (status === "terminated" || status === "hibernated") return palette.dim(status);
  return palette.yellow(status);
}

/** Sessions as an aligned table: id, name, status, restarts, created (UTC). */
export function sessionsTable(list: readonly SessionJson[], palette: Palette): string {
  return table(
    ["ID", "NAME", "STATUS", "RESTARTS", "CREATED (UTC)"],
    list.map((s) => [
      s.id,
      s.name ?? "-",
      coloured(s.status, palette),
      String(s.restarts),
      shortTime(s.createdAt),
    ]),
    palette,
  );
}

/** One session as `field  value` lines. */
function sessionDetails(info: SessionJson, palette: Palette): string {
  const llm = info.llm as { provider?: string; model?: string } | undefined;
  const usage = info.usage as { inputTokens?: number; outputTokens?: number } | undefined;
  const rows: [string, string][] = [
    ["id", info.id],
    ["name", info.name ?? "-"],
    ["status", coloured(info.status, palette)],
    ["restarts", String(info.restarts)],
    ["created", shortTime(info.createdAt)],
    ["updated", shortTime(info.updatedAt)],
    ["project", typeof info.projectPath === "string" ? info.projectPath : "-"],
    ["model", llm ? [llm.provider, llm.model].filter(Boolean).join(" ") || "-" : "-"],
    ["tokens", usage ? `${usage.inputTokens ?? 0} in, ${usage.outputTokens ?? 0} out` : "-"],
  ];
  if (typeof info.owner === "string") rows.push(["owner", info.owner]);
  const width = Math.max(...rows.map(([field]) => field.length));
  return rows.map(([field, value]) => `${palette.bold(field.padEnd(width))}  ${value}\n`).join("");
}
