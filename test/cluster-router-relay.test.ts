// The runtime's relay of links between two other nodes (src/runtime/distribution.ts), which the
// cluster router needs for links to a peer's hosts: a node in the middle passes a link, its
// signals and exit signals on, and breaks the link when either end's node goes down.
import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it } from "node:test";
import {
  type ExitReason,
  type InboundEndpoint,
  Pid,
  type Ref,
  type RemoteRoute,
  Runtime,
  silentLogger,
} from "../src/runtime/index.js";

/** A route that records the signals it was asked to carry. */
class Recorder implements RemoteRoute {
  readonly carried: string[] = [];
  constructor(readonly node: string) {}
  call(): Promise<unknown> {
    return Promise.resolve(undefined);
  }
  cast(): void {}
  send(): void {}
  exit(from: Pid, to: Pid | string, reason: ExitReason): void {
    this.carried.push(`exit ${from} ${to} ${String(reason)}`);
  }
  link(local: Pid, remote: Pid): void {
    this.carried.push(`link ${local} ${remote}`);
  }
  unlink(local: Pid, remote: Pid): void {
    this.carried.push(`unlink ${local} ${remote}`);
  }
  linkExit(from: Pid, to: Pid, reason: ExitReason): void {
    this.carried.push(`link_exit ${from} ${to} ${reason instanceof Error ? reason.message : String(reason)}`);
  }
  monitor(_ref: Ref, target: Pid | string): void {
    this.carried.push(`monitor ${target}`);
  }
  demonitor(): void {}
}

let rt: Runtime;
let host: Recorder;
let peer: Recorder;
let fromHost: InboundEndpoint;
let fromPeer: InboundEndpoint;
const inHost = new Pid("mid-h1", 3);
const onPeer = new Pid("peer", 5);

beforeEach(() => {
  rt = new Runtime({ node: "mid", logger: silentLogger() });
  host = new Recorder("mid-h1");
  peer = new Recorder("peer");
  fromHost = rt.useRouter({ route: (node) => (node === "mid-h1" ? host : undefined), namesRoute: undefined });
  fromPeer = rt.useRouter({ route: (node) => (node === "peer" ? peer : undefined), namesRoute: undefined });
});
afterEach(async () => {
  await rt.shutdown(1000);
});

describe("a node between two others", () => {
  it("passes a link on to the node of its target, and the link's exit back", () => {
    fromPeer.link(inHost, onPeer);
    assert.deepEqual(host.carried, [`link ${onPeer} ${inHost}`]);
    fromHost.linkExit(inHost, onPeer, "boom");
    assert.deepEqual(peer.carried, [`link_exit ${inHost} ${onPeer} boom`]);
    // The relayed link is gone: a second exit for it is not passed on.
    fromHost.linkExit(inHost, onPeer, "again");
    assert.equal(peer.carried.length, 1);
  });

  it("passes no link exit on for a link it never relayed", () => {
    fromHost.linkExit(inHost, onPeer, "stray");
    assert.deepEqual(peer.carried, []);
  });

  it("breaks a relayed link with the reason of the node that went down", () => {
    fromPeer.link(inHost, onPeer);
    fromHost.nodeDown("mid-h1", new Error("host died"));
    assert.deepEqual(peer.carried, [`link_exit ${inHost} ${onPeer} host died`]);
    fromPeer.link(inHost, onPeer);
    fromPeer.nodeDown("peer", "noconnection");
    assert.deepEqual(host.carried.at(-1), `link_exit ${onPeer} ${inHost} noconnection`);
  });

  it("passes an unlink on and forgets the link", () => {
    fromPeer.link(inHost, onPeer);
    fromPeer.unlink(inHost, onPeer);
    assert.deepEqual(host.carried, [`link ${onPeer} ${inHost}`, `unlink ${onPeer} ${inHost}`]);
    fromHost.linkExit(inHost, onPeer, "after unlink");
    assert.deepEqual(peer.carried, []);
  });

  it("answers noproc for a link to a node it cannot reach", () => {
    fromPeer.link(new Pid("nowhere", 1), onPeer);
    assert.deepEqual(peer.carried, [`link_exit <nowhere.1> ${onPeer} noproc`]);
  });

  it("passes an exit signal on to the node of its target, keeping its sender", () => {
    fromPeer.exit(onPeer, inHost, "stop");
    assert.deepEqual(host.carried, [`exit ${onPeer} ${inHost} stop`]);
  });
});
