import { NATS_PACKAGES, NatsClientMissingError } from "./errors.js";

/** The NATS client's modules, loaded together the first time cluster mode is used. */
export interface NatsClient {
  readonly transport: typeof import("@nats-io/transport-node");
  readonly jetstream: typeof import("@nats-io/jetstream");
  readonly kv: typeof import("@nats-io/kv");
}

let loading: Promise<NatsClient> | undefined;

/**
 * The NATS client, imported on first use: the packages are optional peer dependencies, so a
 * single-node user never installs them and importing sessionvisor never loads them. A missing
 * package is a NatsClientMissingError naming what to install.
 */
export function loadNatsClient(): Promise<NatsClient> {
  loading ??= load().catch((error: unknown) => {
    // A later call may succeed once the package is installed (a long-running REPL, a test).
    loading = undefined;
    throw error;
  });
  return loading;
}

async function load(): Promise<NatsClient> {
  const [transport, jetstream, kv] = await Promise.all([
    importPackage(NATS_PACKAGES[0], () => import("@nats-io/transport-node")),
    importPackage(NATS_PACKAGES[1], () => import("@nats-io/jetstream")),
    importPackage(NATS_PACKAGES[2], () => import("@nats-io/kv")),
  ]);
  return { transport, jetstream, kv };
}

async function importPackage<T>(name: string, load: () => Promise<T>): Promise<T> {
  try {
    return await load();
  } catch (error) {
    // The package itself or one it needs (@nats-io/nats-core, nkeys, nuid): either way, installing
    // the three named packages brings it.
    const code = (error as { code?: unknown }).code;
    if (
      (code === "ERR_MODULE_NOT_FOUND" || code === "MODULE_NOT_FOUND") &&
      String(error).includes("@nats-io/")
    ) {
      throw new NatsClientMissingError(name, error);
    }
    throw error;
  }
}
