import { existsSync, mkdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import type { Command } from "commander";
import { silentLogger } from "../runtime/index.js";
import { createApp, DEFAULT_DATA_DIR, dataDirHolder, STORE_FILE } from "../server/index.js";
import { SessionSystem } from "../session/index.js";
import { ApiClient } from "./api-client.js";
import { CliError, usageError } from "./output.js";

/** Where a command's bearer token comes from when no --token-file is given. */
export const TOKEN_ENV = "SESSIONVISOR_TOKEN";

/** The flags every command that reaches sessions takes. */
export interface ConnectionFlags {
  url?: string;
  tokenFile?: string;
  dataDir?: string;
}

/** Adds --url, --token-file and --data-dir to a command. */
export function withConnectionOptions(command: Command): Command {
  return command
    .option("--url <url>", "a running `sessionvisor serve`, e.g. http://127.0.0.1:8787")
    .option("--token-file <file>", `the bearer token for --url, read from this file (default: $${TOKEN_ENV})`)
    .option(
      "--data-dir <dir>",
      `without --url: open the sessions kept in this directory here (default ${DEFAULT_DATA_DIR}, as serve)`,
    );
}

/** The sessions a command works on: a server's, or a store's opened in this process. */
export interface Connection {
  readonly client: ApiClient;
  /** `embedded` when the command runs the session system itself. */
  readonly mode: "remote" | "embedded";
  /** Stops what the command started (the embedded system and its store). */
  close(): Promise<void>;
}

/**
 * Opens what the flags name: `--url` speaks HTTP to that server (with the token of
 * `--token-file` or SESSIONVISOR_TOKEN, never one given on the command line, where shell
 * history would keep it); otherwise the SQLite store in `--data-dir` is opened here, behind the
 * same HTTP API as a fetch handler, so both modes answer alike. Usage problems are CliErrors
 * with exit code 2.
 */
export async function connect(flags: ConnectionFlags, env: NodeJS.ProcessEnv): Promise<Connection> {
  if (flags.url !== undefined && flags.dataDir !== undefined) {
    throw usageError("give --url (a server) or --data-dir (a store opened here), not both");
  }
  if (flags.url !== undefined) {
    const url = checkUrl(flags.url);
    const token = readToken(flags.tokenFile, env);
    const client = ApiClient.remote(url, token);
    return { client, mode: "remote", close: async () => {} };
  }
  if (flags.tokenFile !== undefined) throw usageError("--token-file is for --url; a --data-dir needs none");
  return openEmbedded(flags.dataDir ?? DEFAULT_DATA_DIR);
}

/** A server's address as --url takes it (http or https, no query), without a trailing slash; a usage error otherwise. */
export function checkUrl(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw usageError(`--url must be an http:// or https:// address, not ${JSON.stringify(text)}`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw usageError(`--url must be an http:// or https:// address, not ${JSON.stringify(text)}`);
  }
  if (url.search !== "" || url.hash !== "") throw usageError("--url takes no query or fragment");
  return url.href.replace(/\/+$/, "");
}

/** The bearer token of `--token-file`, else of SESSIONVISOR_TOKEN, else none; a usage error for a bad file. */
export function readToken(file: string | undefined, env: NodeJS.ProcessEnv): string | undefined {
  if (file === undefined) {
    const fromEnv = env[TOKEN_ENV]?.trim();
    return fromEnv === "" ? undefined : fromEnv;
  }
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    throw usageError(`cannot read --token-file ${file}: ${(error as NodeJS.ErrnoException).code ?? "error"}`);
  }
  const token = text.trim();
  if (token === "" || /\s/.test(token)) {
    throw usageError(`--token-file ${file} must hold one token (as \`sessionvisor token\` prints it)`);
  }
  return token;
}

async function openEmbedded(dataDirText: string): Promise<Connection> {
  const dataDir = resolve(dataDirText);
  makeDirectory(dataDir);
  // A running server owns the directory: a second system on its file would run every session twice.
  const holder = dataDirHolder(dataDir);
  if (holder) {
    throw new CliError(
      1,
      `${dataDir} is in use by sessionvisor serve (pid ${holder.pid}); give --url ${holder.url || "<its URL>"}`,
      "data_dir_in_use",
    );
  }
  // The store's errors (better-sqlite3 missing or unbuilt, a corrupt file) carry their codes.
  const system = await SessionSystem.start({ storePath: join(dataDir, STORE_FILE), logger: silentLogger() });
  try {
    const app = await createApp(system);
    const client = new ApiClient("http://embedded", (request) => app.fetch(request), undefined);
    return {
      client,
      mode: "embedded",
      close: async () => {
        app.close();
        await system.stop();
      },
    };
  } catch (error) {
    await system.stop().catch(() => {});
    throw error;
  }
}

/** Makes `dir` and its missing parents one level at a time (mkdirSync's `recursive` spins under /proc). */
function makeDirectory(dir: string): void {
  const missing: string[] = [];
  for (let level = dir; !existsSync(level); level = dirname(level)) {
    missing.unshift(level);
    if (dirname(level) === level) break;
  }
  try {
    for (const level of missing) mkdirSync(level);
    if (!statSync(dir).isDirectory()) throw new Error("it is not a directory");
  } catch (error) {
    throw new CliError(2, `--data-dir: cannot use ${dir}: ${(error as Error).message}`);
  }
}
