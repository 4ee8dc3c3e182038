// What the HTTP server tests share: two owners' tokens, and a `start` that serves a session
// system (in memory, the offline model paced by `chunkDelayMs`) on a free port, both stopped
// after each test.
import { afterEach } from "node:test";
import {
  defaultProviders,
  hashToken,
  newToken,
  type RunningServer,
  type ServerLimits,
  type SessionSystem,
  type SessionSystemOptions,
  serve,
  type TokenEntry,
} from "../../src/index.js";
import { startSystem } from "./sessions.js";

export const ALICE = newToken();
export const BOB = newToken();
export const TOKENS: TokenEntry[] = [
  { owner: "alice", sha256: hashToken(ALICE) },
  { owner: "bob", sha256: hashToken(BOB) },
];

export interface StartedServer {
  system: SessionSystem;
  server: RunningServer;
  url: string;
}

export interface StartOptions {
  /** Default TOKENS; `undefined` given explicitly for a server without tokens. */
  tokens?: TokenEntry[] | undefined;
  limits?: Partial<ServerLimits>;
  chunkDelayMs?: number;
  system?: SessionSystemOptions;
  closeGraceMs?: number;
}

/** For a test file: `start`, whose systems and servers are stopped after each test. */
export function serversForTests(): (options?: StartOptions) => Promise<StartedServer> {
  const servers: RunningServer[] = [];
  const systems: SessionSystem[] = [];
  afterEach(async () => {
    for (const server of servers.splice(0)) await server.close();
    for (const system of systems.splice(0)) await system.stop();
  });
  return async (options = {}) => {
    const system = await startSystem({
      providers: defaultProviders({ chunkDelayMs: options.chunkDelayMs ?? 0 }),
      ...options.system,
    });
    systems.push(system);
    const server = await serve({
      system,
      port: 0,
      tokens: "tokens" in options ? options.tokens : TOKENS,
      ...(options.limits ? { limits: options.limits } : {}),
      closeGraceMs: options.closeGraceMs ?? 2000,
    });
    servers.push(server);
    return { system, server, url: server.url };
  };
}
