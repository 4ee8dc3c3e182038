import type { Command } from "commander";
import {
  clusterBuckets,
  connectCluster,
  DEFAULT_NATS_SERVERS,
  DEFAULT_NODES_BUCKET,
  listMembers,
} from "../cluster/index.js";
import {
  type CommandOutput,
  json,
  paletteFor,
  processOutput,
  reportError,
  table,
  usageError,
} from "./output.js";
import { withProgress } from "./progress.js";

export interface NodesFlags {
  nats?: string;
  bucket?: string;
  prefix?: string;
  deadAfter?: string;
  json?: boolean;
}

/**
 * `sessionvisor nodes`: the nodes of a cluster as its membership bucket holds them (read once,
 * without joining), live or silent, with their load. Resolves with the exit code.
 */
export async function runNodes(flags: NodesFlags, out: CommandOutput): Promise<number> {
  try {
    const deadAfterMs = flags.deadAfter === undefined ? undefined : Number(flags.deadAfter);
    if (deadAfterMs !== undefined && !(Number.isSafeInteger(deadAfterMs) && deadAfterMs > 0)) {
      throw usageError(
        `--dead-after must be a whole number of ms above 0, not ${JSON.stringify(flags.deadAfter)}`,
      );
    }
    if (flags.bucket !== undefined && flags.prefix !== undefined)
      throw usageError("give one of --bucket and --prefix");
    const bucket =
      flags.bucket ??
      (flags.prefix === undefined ? DEFAULT_NODES_BUCKET : clusterBuckets(flags.prefix).nodes);
    const connection = await connectCluster({
      servers: flags.nats ?? DEFAULT_NATS_SERVERS,
      name: "sessionvisor-nodes",
      maxReconnectAttempts: 0,
    });
    try {
      const members = await withProgress(
        out.stderr,
        out.env,
        "reading the membership bucket",
        listMembers(connection, {
          bucket,
          ...(deadAfterMs === undefined ? {} : { deadAfterMs }),
        }),
      );
      if (flags.json) {
        out.stdout.write(json(members));
        return 0;
      }
      if (members.length === 0) {
        out.stdout.write("no nodes\n");
        return 0;
      }
      const palette = paletteFor(out.stdout, out.env);
      const rows = members.map((m) => [
        m.node,
        m.live ? palette.green("live") : palette.red(`silent ${Math.round(m.silentForMs / 1000)} s`),
        String(m.sessions),
        m.rssMb.toFixed(0),
        m.startedAt.replace("T", " ").slice(0, 19),
        m.subjectPrefix,
      ]);
      out.stdout.write(
        table(["NODE", "STATUS", "SESSIONS", "RSS (MB)", "STARTED (UTC)", "SUBJECTS"], rows, palette),
      );
      return 0;
    } finally {
      await connection.close();
    }
  } catch (error) {
    return reportError(error, "nodes", out.stderr);
  }
}

/** `sessionvisor nodes [--nats URL] [--prefix P | --bucket NAME] [--dead-after MS] [--json]`. */
export function registerNodesCommand(
  program: Command,
  version: string,
  setExitCode: (code: number) => void,
): void {
  const out = processOutput();
  program
    .command("nodes")
    .description(
      "list the nodes of a cluster (from its NATS membership bucket): live or silent, sessions, memory",
    )
    .version(version, "-V, --version", "print the version")
    .option("--nats <url>", `the cluster's NATS server (default ${DEFAULT_NATS_SERVERS})`)
    .option(
      "--prefix <prefix>",
      "the cluster's subject prefix (serve --prefix): its bucket is <prefix>_nodes",
    )
    .option("--bucket <name>", `the membership bucket (default ${DEFAULT_NODES_BUCKET})`)
    .option("--dead-after <ms>", "a node whose last heartbeat is older than this is silent (default 3000)")
    .option("--json", "print the nodes as JSON")
    .action(async (flags: NodesFlags) => {
      setExitCode(await runNodes(flags, out));
    });
}
