import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it } from "node:test";
import { captureLogs } from "../../test/support/logs.js";
import { Echo } from "../../test/support/servers.js";
import { Runtime, silentLogger } from "../runtime/index.js";
import { PubSub } from "./pubsub.js";

let rt: Runtime;
beforeEach(() => {
  rt = new Runtime({ logger: silentLogger() });
});
afterEach(async () => {
  await rt.shutdown(100);
});

async function drained(server: Echo): Promise<unknown[]> {
  await rt.call(server.self, { op: "echo", value: null });
  return server.infos;
}

describe("PubSub", () => {
  it("delivers a broadcast to a subscribed process's handleInfo", async () => {
    const pubsub = new PubSub(rt);
    const server = new Echo();
    pubsub.subscribe("news", await rt.spawn(server));
    assert.equal(pubsub.broadcast("news", { headline: "hi" }), 1);
    assert.deepEqual(await drained(server), [{ headline: "hi" }]);
  });

  it("calls a subscribed callback with the message and topic", () => {
    const pubsub = new PubSub(rt);
    const got: unknown[] = [];
    pubsub.subscribe("news", (message, topic) => got.push([topic, message]));
    pubsub.broadcast("news", 1);
    assert.deepEqual(got, [["news", 1]]);
  });

  it("never delivers one topic's broadcast to another topic's subscribers", async () => {
    const pubsub = new PubSub(rt);
    const server = new Echo();
    pubsub.subscribe("a", await rt.spawn(server));
    const got: unknown[] = [];
    pubsub.subscribe("a", (m) => got.push(m));
    pubsub.broadcast("b", "for b");
    assert.deepEqual(await drained(server), []);
    assert.deepEqual(got, []);
  });

  it("keeps delivering to the others when a callback throws, and logs the throw", () => {
    const logs = captureLogs();
    const pubsub = new PubSub(rt, { logger: logs.logger });
    const got: unknown[] = [];
    pubsub.subscribe("t", () => {
      throw new Error("bad subscriber");
    });
    pubsub.subscribe("t", (m) => got.push(m));
    pubsub.broadcast("t", "x");
    assert.deepEqual(got, ["x"]);
    assert.equal(logs.events("subscriber_failed").length, 1);
  });

  it("drops a subscriber process when it exits", async () => {
    const pubsub = new PubSub(rt);
    const pid = await rt.spawn(new Echo());
    pubsub.subscribe("t", pid);
    rt.exit(pid, "kill");
    assert.equal(pubsub.subscriberCount("t"), 0);
    assert.equal(pubsub.broadcast("t", "x"), 0);
  });

  it("stops delivering after unsubscribe, for processes and callbacks", async () => {
    const pubsub = new PubSub(rt);
    const server = new Echo();
    const got: unknown[] = [];
    const processSub = pubsub.subscribe("t", await rt.spawn(server));
    const callbackSub = pubsub.subscribe("t", (m) => got.push(m));
    processSub.unsubscribe();
    callbackSub.unsubscribe();
    pubsub.broadcast("t", "x");
    assert.deepEqual(await drained(server), []);
    assert.deepEqual(got, []);
    assert.equal(pubsub.subscriberCount("t"), 0);
  });

  it("subscribes a process to a topic only once", async () => {
    const pubsub = new PubSub(rt);
    const server = new Echo();
    const pid = await rt.spawn(server);
    pubsub.subscribe("t", pid);
    pubsub.subscribe("t", pid);
    pubsub.broadcast("t", "once");
    assert.deepEqual(await drained(server), ["once"]);
  });

  it("unsubscribes one process and keeps delivering to the others", async () => {
    const pubsub = new PubSub(rt);
    const [stays, leaves] = [new Echo(), new Echo()];
    pubsub.subscribe("t", await rt.spawn(stays));
    const subscription = pubsub.subscribe("t", await rt.spawn(leaves));
    subscription.unsubscribe();
    pubsub.broadcast("t", "after");
    assert.deepEqual(await drained(stays), ["after"]);
    assert.deepEqual(await drained(leaves), []);
  });

  it("clears every subscriber of a topic", async () => {
    const pubsub = new PubSub(rt);
    pubsub.subscribe("t", await rt.spawn(new Echo()));
    pubsub.subscribe("t", () => {});
    pubsub.clearTopic("t");
    assert.equal(pubsub.subscriberCount("t"), 0);
    assert.deepEqual(pubsub.topics(), []);
  });

  it("reaches the callbacks subscribed when a broadcast began, whatever they (un)subscribe meanwhile", () => {
    const pubsub = new PubSub(rt);
    const seen: string[] = [];
    let lateSubscribed = false;
    let second: { unsubscribe(): void } | undefined;
    pubsub.subscribe("news", (m) => {
      seen.push(`first ${m}`);
      second?.unsubscribe();
      if (!lateSubscribed) pubsub.subscribe("news", (n) => seen.push(`late ${n}`));
      lateSubscribed = true;
    });
    second = pubsub.subscribe("news", (m) => seen.push(`second ${m}`));
    assert.equal(pubsub.broadcast("news", 1), 2);
    assert.equal(pubsub.broadcast("news", 2), 2);
    assert.deepEqual(seen, ["first 1", "second 1", "first 2", "late 2"]);
  });

  it("rejects an invalid topic", () => {
    const pubsub = new PubSub(rt);
    assert.throws(() => pubsub.subscribe("", () => {}), /invalid topic/);
    assert.throws(() => pubsub.broadcast(undefined as never, 1), /invalid topic/);
  });
});
