// A cluster connection whose link goes dead without a reset (a network partition): its pings
// find it stale and it dials a new connection once the link is back.
import { describe, it } from "node:test";
import { connectCluster } from "../src/cluster/index.js";
import { tcpRelay } from "./fixtures/cluster-partition-relay.js";
import { natsFixture } from "./support/nats.js";

async function until<T>(what: string, ms: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe("a cluster connection over a link that goes dead", () => {
  it("finds the dead link by its pings (by default every 2 s, 2 unanswered) and dials a new connection once the link is back", {
    timeout: 60_000,
  }, async (t) => {
    // A relay to the test's NATS that can stall: no byte crosses it either way and no reset
    // comes, as on a partitioned network; TCP alone would not notice for minutes.
    const nats = await natsFixture(t);
    const server = new URL(nats.url.replace(/^nats:/, "http:"));
    const relay = await tcpRelay(t, "127.0.0.1", {
      host: server.hostname,
      port: Number(server.port || 4222),
    });
    const connection = await connectCluster({
      servers: `nats://127.0.0.1:${relay.port}`,
      name: "stale-link",
      reconnectTimeWaitMs: 200,
    });
    t.after(() => connection.close());
    const statuses: { status: string; at: number }[] = [];
    void (async () => {
      for await (const status of connection.nc.status())
        if (status.type !== "ping") statuses.push({ status: status.type, at: Date.now() });
    })();
    await connection.nc.flush();

    relay.stall();
    const stalledAt = Date.now();
    const staleAt = await until(
      "the connection to be found stale",
      20_000,
      async () => statuses.find((s) => s.status === "staleConnection")?.at,
    );
    relay.resume();
    const resumedAt = Date.now();
    await until("a new connection", 20_000, async () =>
      statuses.some((s) => s.status === "reconnect" && s.at >= resumedAt) ? true : undefined,
    );
    await connection.nc.flush(); // a round trip on the new connection
    t.diagnostic(
      `stale ${staleAt - stalledAt} ms after the stall; reconnected ${Date.now() - resumedAt} ms after the link came back`,
    );
  });
});
