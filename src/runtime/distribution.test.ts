import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it } from "node:test";
import { GenServer } from "./gen-server.js";
import { silentLogger } from "./logger.js";
import { Pid, type Ref } from "./pid.js";
import type { RemoteRoute, RemoteRouter } from "./remote.js";
import { Runtime } from "./runtime.js";

/** A route to one node that records what it was asked to carry. */
class RecordingRoute implements RemoteRoute {
  readonly carried: string[] = [];
  constructor(readonly node: string) {}
  call(_from: Pid | undefined, to: Pid | string, message: unknown): Promise<unknown> {
    this.carried.push(`call ${to} ${String(message)}`);
    return Promise.resolve(`${this.node} answers ${String(message)}`);
  }
  cast(to: Pid | string, message: unknown): void {
    this.carried.push(`cast ${to} ${String(message)}`);
  }
  send(_from: Pid, to: Pid | string, message: unknown): void {
    this.carried.push(`send ${to} ${String(message)}`);
  }
  exit(_from: Pid, to: Pid | string): void {
    this.carried.push(`exit ${to}`);
  }
  link(_local: Pid, remote: Pid): void {
    this.carried.push(`link ${remote}`);
  }
  unlink(_local: Pid, remote: Pid): void {
    this.carried.push(`unlink ${remote}`);
  }
  linkExit(_from: Pid, to: Pid): void {
    this.carried.push(`link_exit ${to}`);
  }
  monitor(_ref: Ref, target: Pid | string): void {
    this.carried.push(`monitor ${target}`);
  }
  demonitor(): void {
    this.carried.push("demonitor");
  }
}

/** Routes only the nodes it was given. */
function routerOf(...routes: RecordingRoute[]): RemoteRouter {
  const byNode = new Map(routes.map((route) => [route.node, route]));
  return { route: (node) => byNode.get(node), namesRoute: undefined };
}

class Idle extends GenServer {}

let rt: Runtime;
beforeEach(() => {
  rt = new Runtime({ node: "local", logger: silentLogger() });
});
afterEach(async () => {
  await rt.shutdown(1000);
});

describe("routers side by side", () => {
  it("carry each node's traffic on the router that claims that node, and nothing else", async () => {
    const hostRoute = new RecordingRoute("host1");
    const peerRoute = new RecordingRoute("peer1");
    rt.useRouter(routerOf(hostRoute));
    rt.useRouter(routerOf(peerRoute));

    assert.equal(await rt.call(new Pid("host1", 7), "ping"), "host1 answers ping");
    rt.cast(new Pid("peer1", 3), "hello");
    rt.send(new Pid("host1", 7), "info");

    assert.deepEqual(hostRoute.carried, ["call <host1.7> ping", "send <host1.7> info"]);
    assert.deepEqual(peerRoute.carried, ["cast <peer1.3> hello"]);
  });

  it("keeps the other router working when one is uninstalled; the gone router's pids are dead", async () => {
    const hostRoute = new RecordingRoute("host1");
    const peerRoute = new RecordingRoute("peer1");
    const hosts = rt.useRouter(routerOf(hostRoute));
    rt.useRouter(routerOf(peerRoute));

    hosts.detach();

    assert.equal(await rt.call(new Pid("peer1", 3), "ping"), "peer1 answers ping");
    assert.equal(rt.isAlive(new Pid("peer1", 3)), true);
    assert.equal(rt.isAlive(new Pid("host1", 7)), false);
    await assert.rejects(rt.call(new Pid("host1", 7), "ping"), { name: "NoProcError" });
    assert.deepEqual(hostRoute.carried, []);
  });

  it("fires a local monitor on a node when that node's endpoint says it is down, not on others", async () => {
    const hostRoute = new RecordingRoute("host1");
    const peerRoute = new RecordingRoute("peer1");
    const hosts = rt.useRouter(routerOf(hostRoute));
    rt.useRouter(routerOf(peerRoute));
    const local = await rt.spawn(new Idle());
    const downs: string[] = [];
    rt.watch(new Pid("host1", 7), (reason) => downs.push(`host1 ${String(reason)}`));
    rt.watch(new Pid("peer1", 3), (reason) => downs.push(`peer1 ${String(reason)}`));
    rt.link(local, new Pid("peer1", 3));

    hosts.nodeDown("host1", "noconnection");
    await new Promise((resolve) => setImmediate(resolve));

    assert.deepEqual(downs, ["host1 noconnection"]);
    assert.equal(rt.isAlive(local), true);
    assert.deepEqual(peerRoute.carried, ["monitor <peer1.3>", "link <peer1.3>"]);
  });
});
