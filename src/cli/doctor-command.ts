import { accessSync, constants, existsSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import type { Command } from "commander";
import { API_KEY_VARIABLES, MODEL_BACKENDS } from "../llm/index.js";
import { DEFAULT_DATA_DIR } from "../server/index.js";
import { SqliteSessionStore } from "../store/index.js";
import { ApiClient } from "./api-client.js";
import { checkUrl } from "./connection.js";
import { type CommandOutput, firstLine, json, paletteFor, processOutput, reportError } from "./output.js";
import { withProgress } from "./progress.js";

/** One check's outcome. An optional one that fails does not fail the doctor. */
export interface Check {
  name: string;
  ok: boolean;
  required: boolean;
  /** What was found (never a secret). */
  detail: string;
}

export interface DoctorFlags {
  url?: string;
  dataDir?: string;
  json?: boolean;
}

/** How long the server at --url gets to answer /readyz. */
const READY_TIMEOUT_MS = 5000;

function nodeChecks(version = process.versions.node): Check[] {
  const [major = 0, minor = 0] = version.split(".").map(Number);
  return [
    { name: "node", ok: major >= 20, required: true, detail: `Node ${version} (needs >= 20)` },
    {
      name: "node require",
      ok: major > 20 || (major === 20 && minor >= 19),
      required: false,
      detail: `require("sessionvisor") from CommonJS needs Node >= 20.19 (ESM import works on any 20)`,
    },
  ];
}

/** better-sqlite3 loads and opens a store (in a temp directory, removed after). */
async function sqliteCheck(): Promise<Check> {
  const dir = mkdtempSync(join(tmpdir(), "sessionvisor-doctor-"));
  try {
    const store = SqliteSessionStore.open(join(dir, "probe.db"));
    await store.close();
    return { name: "sqlite", ok: true, required: true, detail: "better-sqlite3 loads and opens a store" };
  } catch (error) {
    return { name: "sqlite", ok: false, required: true, detail: firstLine(error) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The data directory is writable, or (missing) the nearest existing directory above it is. */
function dataDirCheck(dataDirText: string): Check {
  const dataDir = resolve(dataDirText);
  const name = "data directory";
  try {
    if (existsSync(dataDir)) {
      if (!statSync(dataDir).isDirectory())
        return { name, ok: false, required: true, detail: `${dataDir} is not a directory` };
      accessSync(dataDir, constants.W_OK);
      return { name, ok: true, required: true, detail: `${dataDir} is writable` };
    }
    let parent = dirname(dataDir);
    while (!existsSync(parent) && dirname(parent) !== parent) parent = dirname(parent);
    accessSync(parent, constants.W_OK);
    return { name, ok: true, required: true, detail: `${dataDir} does not exist yet; ${parent} is writable` };
  } catch (error) {
    return {
      name,
      ok: false,
      required: true,
      detail: `${dataDir}: ${(error as NodeJS.ErrnoException).code ?? firstLine(error)}`,
    };
  }
}

/** Whether each model backend's key variable is set; the key itself is never read out. */
function apiKeyChecks(env: NodeJS.ProcessEnv): Check[] {
  return MODEL_BACKENDS.map((backend) => {
    const variable = API_KEY_VARIABLES[backend];
    const set = (env[variable] ?? "") !== "";
    return {
      name: `${backend} key`,
      ok: set,
      required: false,
      detail: set ? `${variable} is set` : `${variable} is not set (needed only for the ${backend} provider)`,
    };
  });
}

async function serverCheck(url: string): Promise<Check> {
  const name = "server";
  try {
    const client = ApiClient.remote(url, undefined);
    const answer = await Promise.race([
      client.ready(),
      new Promise<never>((_, reject) =>
        setTimeout(
          () => reject(new Error(`no answer within ${READY_TIMEOUT_MS} ms`)),
          READY_TIMEOUT_MS,
        ).unref(),
      ),
    ]);
    const ok = answer.status === 200;
    return {
      name,
      ok,
      required: true,
      detail: `${url}/readyz answered ${answer.status}${ok ? " (ready)" : ""}`,
    };
  } catch (error) {
    return { name, ok: false, required: true, detail: firstLine(error) };
  }
}

/** Every check, in the order they print. */
export async function runChecks(flags: DoctorFlags, env: NodeJS.ProcessEnv): Promise<Check[]> {
  const checks = [...nodeChecks(), await sqliteCheck(), dataDirCheck(flags.dataDir ?? DEFAULT_DATA_DIR)];
  checks.push(...apiKeyChecks(env));
  if (flags.url !== undefined) checks.push(await serverCheck(flags.url));
  return checks;
}

/** `sessionvisor doctor`: one line a check; exit 0 when every required one passes, 1 otherwise. */
export async function runDoctor(flags: DoctorFlags, out: CommandOutput): Promise<number> {
  try {
    const url = flags.url === undefined ? undefined : checkUrl(flags.url);
    const checks = await withProgress(
      out.stderr,
      out.env,
      "checking",
      runChecks({ ...flags, ...(url === undefined ? {} : { url }) }, out.env),
    );
    const ok = checks.every((check) => check.ok || !check.required);
    if (flags.json) {
      out.stdout.write(json({ ok, checks }));
    } else {
      const palette = paletteFor(out.stdout, out.env);
      for (const check of checks) {
        const mark = check.ok ? palette.green("✓") : check.required ? palette.red("✗") : palette.yellow("✗");
        out.stdout.write(
          `${mark} ${check.name}: ${check.detail}${check.required || check.ok ? "" : " (optional)"}\n`,
        );
      }
      if (flags.url === undefined) out.stdout.write(`${palette.dim("-")} server: not checked (give --url)\n`);
    }
    return ok ? 0 : 1;
  } catch (error) {
    return reportError(error, "doctor", out.stderr);
  }
}

export function registerDoctorCommand(
  program: Command,
  version: string,
  setExitCode: (code: number) => void,
): void {
  program
    .command("doctor")
    .description("check this machine for sessionvisor: Node, SQLite, the data directory, API keys, a server")
    .version(version, "-V, --version", "print the version")
    .option("--url <url>", "also check that the server at this address answers /readyz")
    .option("--data-dir <dir>", `the data directory to check (default ${DEFAULT_DATA_DIR})`)
    .option("--json", "print { ok, checks } as JSON")
    .action(async (flags: DoctorFlags) => {
      setExitCode(await runDoctor(flags, processOutput()));
    });
}
