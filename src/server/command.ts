import { InvalidArgumentError } from "../errors.js";
import { hashToken, loadTokens, newToken, OwnerNameSchema, TOKENS_ENV } from "./auth.js";
import { commandLogger, parseLogFormat } from "./log-lines.js";
import { observerBuilt } from "./observer.js";
import { DEFAULT_DATA_DIR, DEFAULT_HOST, DEFAULT_PORT, type RunningServer, serve } from "./serve.js";

/** `sessionvisor serve`'s flags, as commander gives them. */
export interface ServeFlags {
  port?: string;
  host?: string;
  dataDir?: string;
  tokens?: string;
  memory?: boolean;
  store?: string;
  cluster?: string;
  node?: string;
  prefix?: string;
  dev?: boolean;
  logFormat?: string;
}

export interface CommandIo {
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown };
  env?: NodeJS.ProcessEnv;
}

/**
 * `sessionvisor serve`: starts the server, prints its URL, and closes it gracefully on SIGTERM
 * or SIGINT. Resolves with the exit code: 0 after a graceful close, 2 for bad flags or a
 * refused configuration (no tokens on a non-loopback address), 1 when it cannot start.
 */
export async function runServeCommand(flags: ServeFlags, io: CommandIo): Promise<number> {
  const fail = (code: number, message: string) => {
    io.stderr.write(`sessionvisor serve: ${message}\n`);
    return code;
  };
  const portText = flags.port ?? String(DEFAULT_PORT);
  const port = Number(portText);
  if (!/^\d{1,5}$/.test(portText) || port > 65_535) {
    return fail(2, `--port must be a whole number from 0 to 65535, not ${JSON.stringify(portText)}`);
  }
  const host = flags.host ?? DEFAULT_HOST;
  let tokens: ReturnType<typeof loadTokens>;
  try {
    tokens = loadTokens({ file: flags.tokens, env: io.env ?? process.env });
  } catch (error) {
    return fail(2, (error as Error).message);
  }
  let logFormat: ReturnType<typeof parseLogFormat>;
  try {
    logFormat = parseLogFormat(flags.logFormat);
  } catch (error) {
    return fail(2, (error as Error).message);
  }
  // Problems only, unless SESSIONVISOR_LOG_LEVEL asks for more.
  const logger = commandLogger(
    logFormat,
    (io.env ?? process.env).SESSIONVISOR_LOG_LEVEL ?? "warn",
    io.stderr,
  );
  // Listened for before anything starts, so that a signal that comes as soon as the URL is
  // printed (or during the start) closes the server rather than killing the process.
  let removeSignalHandlers = () => {};
  const stopSignal = new Promise<NodeJS.Signals>((resolve) => {
    const on = (name: NodeJS.Signals) => {
      removeSignalHandlers();
      resolve(name);
    };
    removeSignalHandlers = () => {
      process.off("SIGTERM", on);
      process.off("SIGINT", on);
    };
    process.on("SIGTERM", on);
    process.on("SIGINT", on);
  });
  let server: RunningServer;
  try {
    const backends = [flags.memory === true, flags.dataDir !== undefined, flags.store !== undefined];
    if (backends.filter(Boolean).length > 1) return fail(2, "give one of --memory, --data-dir and --store");
    if (flags.cluster === undefined && (flags.node !== undefined || flags.prefix !== undefined))
      return fail(2, "--node and --prefix go with --cluster");
    if (flags.cluster !== undefined && flags.store === undefined)
      return fail(2, "--cluster needs --store postgres://…: the PostgreSQL every node of the cluster shares");
    server = await serve({
      port,
      host,
      ...(flags.memory
        ? { memory: true }
        : flags.store !== undefined
          ? { store: flags.store }
          : { dataDir: flags.dataDir ?? DEFAULT_DATA_DIR }),
      tokens,
      logger,
      ...(flags.dev ? { dev: true } : {}),
      ...(flags.cluster === undefined
        ? {}
        : {
            cluster: {
              servers: flags.cluster
                .split(",")
                .map((url) => url.trim())
                .filter((url) => url !== ""),
              ...(flags.node === undefined ? {} : { node: flags.node }),
              ...(flags.prefix === undefined ? {} : { prefix: flags.prefix }),
            },
          }),
    });
  } catch (error) {
    removeSignalHandlers();
    if (error instanceof InvalidArgumentError) return fail(2, error.message);
    return fail(1, (error as Error).message.split("\n")[0] ?? String(error));
  }
  const owners = tokens ? new Set(tokens.map((t) => t.owner)).size : 0;
  const auth = tokens
    ? `bearer tokens of ${owners} owner${owners === 1 ? "" : "s"}`
    : "no tokens, loopback only";
  io.stdout.write(`sessionvisor serving on ${server.url} (${auth}); Ctrl-C or SIGTERM stops it\n`);
  if (server.node !== undefined)
    io.stdout.write(`cluster node ${server.node}: serving every node's sessions\n`);
  const observer = observerBuilt()
    ? flags.dev
      ? " (development mode: kill buttons on)"
      : ""
    : " (not built in this copy: run npm run build)";
  io.stdout.write(`observer: ${server.url}/${observer}\n`);

  const signal = await stopSignal;
  io.stderr.write(`sessionvisor serve: ${signal}, closing\n`);
  try {
    await server.close();
  } catch (error) {
    return fail(1, `closing failed: ${(error as Error).message}`);
  }
  return 0;
}

/**
 * `sessionvisor token --owner NAME`: a new random token and the entry a tokens file keeps for it
 * (its SHA-256, never the token). Resolves with the exit code.
 */
export function runTokenCommand(flags: { owner?: string }, io: CommandIo): number {
  const owner = OwnerNameSchema.safeParse(flags.owner);
  if (!owner.success) {
    io.stderr.write(
      `sessionvisor token: --owner must be a name of letters, digits and . _ @ - (got ${JSON.stringify(flags.owner)})\n`,
    );
    return 2;
  }
  const token = newToken();
  io.stdout.write(
    `token  ${token}\n` +
      `entry  ${JSON.stringify({ owner: owner.data, sha256: hashToken(token) })}\n` +
      `Give the token to the client (Authorization: Bearer <token>); put the entry in the JSON list of a --tokens file or of ${TOKENS_ENV}. The token itself is not kept anywhere.\n`,
  );
  return 0;
}
