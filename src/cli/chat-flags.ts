import { statSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { API_KEY_VARIABLES, MODEL_BACKENDS, type ModelBackend } from "../llm/index.js";
import type { SessionConfigInput } from "../session/index.js";

/** A flag of `sessionvisor chat` with a bad value, or missing what it needs: one line, exit code 2. */
export class ChatUsageError extends Error {
  readonly exitCode = 2;
}

/** The flags of `sessionvisor chat` as commander hands them over (strings, unchecked). */
export interface ChatFlags {
  delay?: string | number;
  store?: string;
  provider?: string;
  model?: string;
  baseUrl?: string;
  project?: string;
  approve?: string;
}

/** What the flags come to: the chat's own settings and the config of every session it opens. */
export interface ChatSettings {
  streamDelayMs: number;
  storePath?: string;
  session: SessionConfigInput;
}

export const CHAT_PROVIDERS = ["offline", ...MODEL_BACKENDS] as const;
const APPROVAL_POLICIES = ["auto", "ask", "deny"] as const;
type ApprovalPolicy = (typeof APPROVAL_POLICIES)[number];
const OFFLINE_MODEL = "offline-1";

/**
 * Checks the flags and turns them into settings, or throws a ChatUsageError whose message is
 * the one line to show. `env` is where API keys are looked for (a remote provider without its
 * key is refused here, before any session starts); `cwd` is what `--project` and `--store` are
 * resolved against.
 */
/**
 * The config of every session a chat against a server (`--url`) opens: the flags as given, for
 * the server to check — its models, keys and files are its own, not this machine's. `--store`
 * and `--delay` are about a session system here, so they are refused.
 */
export function remoteChatSession(flags: ChatFlags): SessionConfigInput {
  if (flags.store !== undefined)
    throw new ChatUsageError("--store is for a chat without --url (the server keeps its sessions)");
  if (flags.delay !== undefined && flags.delay !== "15" && flags.delay !== 15)
    throw new ChatUsageError("--delay is for the offline model of a chat without --url");
  const session: SessionConfigInput = {};
  if (flags.provider !== undefined || flags.model !== undefined || flags.baseUrl !== undefined) {
    const llm: NonNullable<SessionConfigInput["llm"]> = {
      provider: parseProvider(flags.provider ?? "offline"),
    };
    if (flags.model !== undefined) llm.model = flags.model;
    if (flags.baseUrl !== undefined) llm.baseURL = parseBaseUrl(flags.baseUrl);
    session.llm = llm;
  }
  if (flags.project !== undefined) session.projectPath = flags.project;
  if (flags.approve !== undefined) session.tools = { approval: parseApproval(flags.approve) };
  return session;
}

export function chatSettings(
  flags: ChatFlags,
  env: Readonly<Record<string, string | undefined>> = process.env,
  cwd: string = process.cwd(),
): ChatSettings {
  const provider = parseProvider(flags.provider ?? "offline");
  const session: SessionConfigInput = { llm: llmConfig(provider, flags, env) };
  if (flags.project !== undefined) session.projectPath = projectPath(flags.project, cwd);
  if (flags.approve !== undefined) session.tools = { approval: parseApproval(flags.approve) };
  const settings: ChatSettings = { streamDelayMs: parseDelay(flags.delay ?? 15), session };
  if (flags.store !== undefined) settings.storePath = storePath(flags.store, cwd);
  return settings;
}

function parseProvider(value: string): (typeof CHAT_PROVIDERS)[number] {
  const known = CHAT_PROVIDERS.find((name) => name === value);
  if (!known)
    throw new ChatUsageError(
      `--provider must be one of ${CHAT_PROVIDERS.join(", ")} (got ${JSON.stringify(value)})`,
    );
  return known;
}

function llmConfig(
  provider: (typeof CHAT_PROVIDERS)[number],
  flags: ChatFlags,
  env: Readonly<Record<string, string | undefined>>,
): NonNullable<SessionConfigInput["llm"]> {
  if (flags.model !== undefined && (flags.model.trim() === "" || flags.model.length > 200))
    throw new ChatUsageError("--model must be a model id of 1 to 200 characters");
  const baseURL = flags.baseUrl === undefined ? undefined : parseBaseUrl(flags.baseUrl);
  if (provider === "offline") {
    if (baseURL !== undefined) throw new ChatUsageError("--base-url is for a remote --provider, not offline");
    return { provider, model: flags.model ?? OFFLINE_MODEL };
  }
  if (flags.model === undefined)
    throw new ChatUsageError(`--provider ${provider} needs --model <id> (the model's name at that provider)`);
  if (provider === "openai-compatible" && baseURL === undefined) {
    throw new ChatUsageError(
      "--provider openai-compatible needs --base-url <url> (Ollama: http://127.0.0.1:11434/v1)",
    );
  }
  // The openai-compatible backend sends a key only when there is one (local servers take none).
  const variable = API_KEY_VARIABLES[provider as ModelBackend];
  if (provider !== "openai-compatible" && !env[variable])
    throw new ChatUsageError(`--provider ${provider} needs an API key: set ${variable}`);
  return { provider, model: flags.model, ...(baseURL === undefined ? {} : { baseURL }) };
}

function parseBaseUrl(value: string): string {
  let url: URL | undefined;
  try {
    url = new URL(value);
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== "http:" && url.protocol !== "https:"))
    throw new ChatUsageError(`--base-url must be an http or https URL (got ${JSON.stringify(value)})`);
  return value;
}

function projectPath(value: string, cwd: string): string {
  const path = resolve(cwd, value);
  const stats = statSync(path, { throwIfNoEntry: false });
  if (!stats) throw new ChatUsageError(`--project ${path} does not exist`);
  if (!stats.isDirectory()) throw new ChatUsageError(`--project ${path} is not a directory`);
  return path;
}

/**
 * `auto`, `ask` or `deny` for both file changes and commands, or each its own:
 * `write=auto,command=ask` (a kind left out keeps the session's default).
 */
export function parseApproval(value: string): { write?: ApprovalPolicy; command?: ApprovalPolicy } {
  const bad = () =>
    new ChatUsageError(
      `--approve must be auto, ask or deny, or write=<policy>,command=<policy> (got ${JSON.stringify(value)})`,
    );
  const policy = (text: string): ApprovalPolicy => {
    const found = APPROVAL_POLICIES.find((p) => p === text);
    if (!found) throw bad();
    return found;
  };
  if (!value.includes("=")) {
    const both = policy(value.trim());
    return { write: both, command: both };
  }
  const approval: { write?: ApprovalPolicy; command?: ApprovalPolicy } = {};
  for (const part of value.split(",")) {
    const [kind = "", given = "", ...extra] = part.split("=").map((s) => s.trim());
    if ((kind !== "write" && kind !== "command") || extra.length > 0 || kind in approval) throw bad();
    approval[kind] = policy(given);
  }
  return approval;
}

function parseDelay(value: string | number): number {
  const ms = Number(value);
  if (String(value).trim() === "" || !Number.isInteger(ms) || ms < 0 || ms > 60_000)
    throw new ChatUsageError(
      `--delay must be a whole number of ms from 0 to 60000 (got ${JSON.stringify(String(value))})`,
    );
  return ms;
}

/** A missing directory is told as such here (the store would only say it cannot open the file). */
function storePath(value: string, cwd: string): string {
  if (value.trim() === "") throw new ChatUsageError("--store needs a file name");
  const path = resolve(cwd, value);
  const dir = dirname(path);
  const dirStats = statSync(dir, { throwIfNoEntry: false });
  if (!dirStats) throw new ChatUsageError(`--store ${path}: the directory ${dir} does not exist`);
  if (!dirStats.isDirectory()) throw new ChatUsageError(`--store ${path}: ${dir} is not a directory`);
  if (statSync(path, { throwIfNoEntry: false })?.isDirectory())
    throw new ChatUsageError(`--store ${path} is a directory; give a file name inside it`);
  return path;
}
