import { z } from "zod";
import { MIN_PROCESS_MEMORY_MB } from "../hosts/index.js";
import { TOKENIZERS } from "../llm/index.js";
import { BUILTIN_TOOLS, literalSecrets, mcpServerConfigSchema } from "../tools/index.js";
import { SessionConfigError } from "./errors.js";
import { dataIssue, fieldIssues } from "./field-issues.js";
import { MAX_METADATA_LENGTH, toJsonData } from "./json-data.js";

/** Any JSON value (what `toJsonData` produces; this checks it again where no copy was made). */
export const jsonValue: z.ZodType<unknown> = z.lazy(() =>
  z.union([
    z.null(),
    z.boolean(),
    z.number().finite(),
    z.string(),
    z.array(jsonValue),
    z.record(z.string(), jsonValue),
  ]),
);

export { MAX_METADATA_LENGTH } from "./json-data.js";

/** Most characters a whole config may take as JSON; its fields have tighter limits of their own. */
const MAX_CONFIG_LENGTH = 1024 * 1024;

/** JSON metadata of at most MAX_METADATA_LENGTH characters. */
export const MetadataSchema = z
  .record(z.string(), jsonValue)
  .refine(
    (m) => JSON.stringify(m).length <= MAX_METADATA_LENGTH,
    `must serialize to at most ${MAX_METADATA_LENGTH} characters of JSON`,
  );

export const LlmConfigSchema = z
  .object({
    provider: z.string().min(1).default("offline"),
    model: z.string().min(1).max(200).default("offline-1"),
    /** The backend's address, where it is not the provider's own (OpenAI-compatible servers need one). */
    baseURL: z
      .url({ protocol: /^https?$/ })
      .max(2048)
      .optional(),
    temperature: z.number().min(0).max(2).default(0.2),
    maxTokens: z.number().int().positive().max(200_000).default(1024),
    systemPrompt: z.string().max(100_000).optional(),
    /**
     * How the context budget is counted: `auto` (default) uses the model's own encoding where
     * it is known (OpenAI's GPT-4o/4.1/5 and o-series: o200k_base; GPT-4 and 3.5: cl100k_base)
     * and the four-characters-a-token estimate otherwise (Anthropic, other servers' models).
     */
    tokenizer: z.enum(TOKENIZERS).default("auto"),
  })
  .strict();

export const LimitsSchema = z
  .object({
    maxHistory: z.number().int().min(1).max(100_000).default(100),
    maxFiles: z.number().int().min(1).max(10_000).default(50),
    maxQueuedTurns: z.number().int().min(0).max(10_000).default(8),
    /** 0 means never idle. */
    idleTimeoutMs: z.number().int().min(0).default(300_000),
    /** Stop the session's processes after this long without a message; 0 = never. */
    hibernateAfterMs: z.number().int().min(0).default(0),
    contextTokenBudget: z.number().int().min(256).max(2_000_000).default(8000),
    /** Heap limit of the session's host, in MiB (thread and process isolation). */
    maxHeapMb: z.number().int().min(16).max(65_536).optional(),
    /** Address-space limit of the session's child process, in MiB (process isolation, enforced by the OS). */
    maxMemoryMb: z.number().int().min(MIN_PROCESS_MEMORY_MB).max(1_048_576).optional(),
    /** A host silent for this long is killed and reported hung, in ms (thread and process isolation). */
    hangTimeoutMs: z.number().int().min(20).max(3_600_000).optional(),
    /** What the session's host may send its parent before the parent handled it, in MiB; past it the host is stopped as a flood. */
    maxInFlightMb: z.number().int().min(1).max(65_536).optional(),
  })
  .strict();

const BUILTIN_TOOL_NAMES = BUILTIN_TOOLS.map((tool) => tool.name) as [string, ...string[]];
const approvalPolicy = z.enum(["auto", "ask", "deny"]);

/**
 * The coding tools of a session with a `projectPath` (without one, a session has no file or
 * command tools, whatever this says; MCP servers' tools are offered either way).
 */
export const ToolsConfigSchema = z
  .object({
    /** The built-in tools offered, by name; default all of them. */
    enabled: z
      .array(z.enum(BUILTIN_TOOL_NAMES))
      .max(BUILTIN_TOOL_NAMES.length)
      .refine((names) => new Set(names).size === names.length, "must not name a tool twice")
      .optional(),
    /**
     * Per kind of call: `auto` runs it, `deny` refuses it, `ask` pauses the turn with a
     * `tool_approval_requested` event until `approveToolCall`/`denyToolCall` (or the timeout,
     * which denies). Default: file changes `auto`, commands `ask`.
     */
    approval: z
      .object({ write: approvalPolicy.default("auto"), command: approvalPolicy.default("ask") })
      .strict()
      .default({ write: "auto", command: "ask" }),
    /** How long an `ask` waits for an answer before the call is denied. Default 5 minutes. */
    approvalTimeoutMs: z.number().int().min(1).max(86_400_000).default(300_000),
    /** Model calls per turn at most: past it the turn ends with the text it has (`max_steps`). Default 20. */
    maxSteps: z.number().int().min(1).max(1000).default(20),
    /** Wall time a run_command may take (default 2 minutes). */
    commandTimeoutMs: z.number().int().min(1).max(86_400_000).optional(),
    /** Bytes a tool result may put in the model's context; longer ones are cut with a marker. Default 32 KiB. */
    maxResultChars: z.number().int().min(256).max(10_000_000).default(32_768),
  })
  .strict();

/** What a message arriving while a turn runs does. */
export const TurnsConfigSchema = z
  .object({
    /**
     * `queue` (default): it waits its turn, up to `limits.maxQueuedTurns`; `reject`: it fails
     * at once with SessionBusyError; `interrupt`: the running turn is cancelled, then it runs.
     */
    whenBusy: z.enum(["queue", "reject", "interrupt"]).default("queue"),
    /** A model call that sends nothing for this long fails the turn as timed out; default none. */
    firstTokenTimeoutMs: z.number().int().min(1).max(3_600_000).optional(),
  })
  .strict();

export const SessionConfigSchema = z
  .object({
    name: z.string().min(1).max(200).optional(),
    /**
     * Who the session belongs to: the owner of the HTTP server's token that created it (`serve`
     * sets it, and refuses a client that sends one). Kept with the config, so it survives a
     * restart and travels in an export.
     */
    owner: z
      .string()
      .min(1)
      .max(200)
      .regex(/^[A-Za-z0-9._@-]+$/, "must be letters, digits and . _ @ -")
      .optional(),
    projectPath: z
      .string()
      .max(4096)
      .refine((p) => p.startsWith("/") && !p.includes("\0"), "must be an absolute path")
      .optional(),
    metadata: MetadataSchema.default({}),
    /** Where the session's processes run; default the system's `isolation`. */
    isolation: z.enum(["inline", "thread", "process"]).optional(),
    llm: LlmConfigSchema.default(LlmConfigSchema.parse({})),
    limits: LimitsSchema.default(LimitsSchema.parse({})),
    tools: ToolsConfigSchema.default(ToolsConfigSchema.parse({})),
    turns: TurnsConfigSchema.default(TurnsConfigSchema.parse({})),
    /** Model Context Protocol servers whose tools the session's model may call; each runs supervised in the session's tree. */
    mcpServers: z
      .array(mcpServerConfigSchema)
      .max(32)
      .refine(
        (servers) => new Set(servers.map((s) => s.name)).size === servers.length,
        "must not name a server twice",
      )
      .superRefine((servers, ctx) => {
        servers.forEach((server, i) => {
          for (const field of literalSecrets(server)) {
            ctx.addIssue({
              code: "custom",
              path: [i, ...field.split(".")],
              message:
                // biome-ignore lint/suspicious/noTemplateCurlyInString: the reference syntax, shown to the user.
                "looks like a secret, which a session's config would keep in the store and its exports; set it in the environment and write ${NAME} here",
            });
          }
        });
      })
      .default([]),
  })
  .strict();

export type SessionConfig = z.output<typeof SessionConfigSchema>;
export type SessionConfigInput = z.input<typeof SessionConfigSchema>;
export type LlmConfig = SessionConfig["llm"];
export type SessionLimits = SessionConfig["limits"];
export type ToolsConfig = SessionConfig["tools"];
export type TurnsConfig = SessionConfig["turns"];

// Configs this module produced, so that a layer handed one need not validate it again.
const validated = new WeakSet<object>();

/**
 * Validates and fills defaults; the error names the first bad field (`llm.temperature`, or the
 * unknown key itself). The input is first copied as JSON data, so a circular value, a getter
 * that throws or a BigInt is a SessionConfigError naming its field too, never a TypeError.
 */
export function parseSessionConfig(
  input: unknown,
  options: { providers?: string[] | undefined } = {},
): SessionConfig {
  if (typeof input === "object" && input !== null && validated.has(input)) {
    checkProvider(input as SessionConfig, options.providers);
    return input as SessionConfig;
  }
  if (isEmptyConfig(input)) {
    // Every field defaulted: a copy of the defaults, parsed once, instead of the schema again.
    defaults ??= parseWithSchema({});
    const config = copyParsed(defaults) as SessionConfig;
    checkProvider(config, options.providers);
    validated.add(config);
    return config;
  }
  const config = parseWithSchema(input);
  checkProvider(config, options.providers);
  validated.add(config);
  return config;
}

/** The config every field of which is defaulted, as the schema makes it (see `isEmptyConfig`). */
let defaults: SessionConfig | undefined;

/**
 * Nothing, or a plain object without own enumerable keys: what the JSON copy of the input would
 * turn into `{}`. Anything unusual (a proxy whose traps throw, say) takes the schema's path,
 * which reports it as it always did.
 */
function isEmptyConfig(input: unknown): boolean {
  if (input === undefined || input === null) return true;
  if (typeof input !== "object") return false;
  try {
    if (Array.isArray(input)) return false;
    const proto = Object.getPrototypeOf(input);
    if (proto !== Object.prototype && proto !== null) return false;
    return Object.keys(input).length === 0;
  } catch {
    return false;
  }
}

/**
 * A fresh copy of a parsed config (plain objects, arrays and primitives), keys in order. Each
 * object is spread, then its object values replaced by copies: a spread copies the shape whole,
 * where a key at a time built each object through a transition per key (twice the time).
 */
function copyParsed(value: unknown): unknown {
  if (typeof value !== "object" || value === null) return value;
  if (Array.isArray(value)) return value.map(copyParsed);
  const copy: Record<string, unknown> = { ...value };
  for (const key of Object.keys(copy)) {
    const field = copy[key];
    if (typeof field === "object" && field !== null) copy[key] = copyParsed(field);
  }
  return copy;
}

/** Copies the input as JSON data and checks it against the schema, filling defaults. */
function parseWithSchema(input: unknown): SessionConfig {
  const copied = toJsonData(input ?? {}, { maxLength: MAX_CONFIG_LENGTH });
  if (!copied.ok) throw new SessionConfigError([dataIssue(copied.path, copied.message, "(config)")]);
  const parsed = SessionConfigSchema.safeParse(copied.value);
  if (!parsed.success) throw new SessionConfigError(fieldIssues(parsed.error, "(config)"));
  return parsed.data;
}

function checkProvider(config: SessionConfig, providers: string[] | undefined): void {
  if (providers && !providers.includes(config.llm.provider)) {
    throw new SessionConfigError([
      {
        field: "llm.provider",
        message: `unknown provider ${JSON.stringify(config.llm.provider)}; known: ${providers.join(", ")}`,
      },
    ]);
  }
}
