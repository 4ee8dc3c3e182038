// Two `serve({ cluster })` servers, "a" and "b", of one cluster on the real NATS and PostgreSQL
// (names, buckets and a schema of the test's own), each seeing the other before the test goes on;
// closed, with every SSE stream the test opened, when the test ends — even when it failed.
import type { TestContext } from "node:test";
import { defaultProviders, type RunningServer, serve, type TokenEntry } from "../../src/index.js";
import { client, closeOpenStreams } from "./http-client.js";
import { ALICE } from "./http-servers.js";
import { natsFixture } from "./nats.js";
import { requirePostgres, type TestSchemas, testStoreUrl } from "./postgres-test-db.js";

export interface TwoServers {
  a: RunningServer;
  b: RunningServer;
}

export async function twoClusterServers(
  t: TestContext,
  schemas: TestSchemas,
  options: { chunkDelayMs?: number; tokens?: TokenEntry[] } = {},
): Promise<TwoServers> {
  const nats = await natsFixture(t);
  await requirePostgres();
  const store = testStoreUrl(schemas.fresh());
  const servers: RunningServer[] = [];
  t.after(async () => {
    closeOpenStreams();
    for (const server of servers.splice(0)) await server.close().catch(() => undefined);
  });
  for (const node of ["a", "b"]) {
    servers.push(
      await serve({
        port: 0,
        store,
        closeGraceMs: 1000,
        ...(options.tokens ? { tokens: options.tokens } : {}),
        // The prefix names the cluster's buckets too (`<prefix>_nodes`…), which the fixture deletes.
        cluster: { servers: nats.url, node, prefix: nats.subject("sv"), leaseTtlMs: 1500 },
        systemOptions: { providers: defaultProviders({ chunkDelayMs: options.chunkDelayMs ?? 0 }) },
      }),
    );
  }
  const [a, b] = servers as [RunningServer, RunningServer];
  for (const server of [a, b]) {
    const sees = async () => {
      const { body } = await client(server.url, options.tokens ? ALICE : undefined).get("/v1/nodes");
      return (body.nodes as { node: string }[]).map((n) => n.node).sort();
    };
    const deadline = Date.now() + 10_000;
    while ((await sees()).join() !== "a,b") {
      if (Date.now() > deadline) throw new Error(`node ${server.node} did not see both nodes within 10 s`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
  return { a, b };
}
