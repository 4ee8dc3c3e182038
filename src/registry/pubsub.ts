import type { Logger, Pid, Runtime } from "../runtime/index.js";
import { checkKey, Registry } from "./registry.js";

export type TopicCallback = (message: unknown, topic: string) => void;

export interface Subscription {
  readonly topic: string;
  unsubscribe(): void;
}

/**
 * Topics to subscribers, on a duplicate-key registry: a process subscriber gets each broadcast
 * in `handleInfo` and is dropped when it exits; a callback subscriber is called in place. A
 * subscriber that throws is logged and never stops delivery to the others.
 */
/**
 * A topic's callbacks, and the list a broadcast walks: made again only after a change, so a
 * broadcast allocates nothing, and a callback (un)subscribing during one changes the next.
 */
interface Callbacks {
  set: Set<TopicCallback>;
  list: TopicCallback[] | undefined;
}

export class PubSub {
  private readonly registry: Registry<undefined>;
  private readonly callbacks = new Map<string, Callbacks>();
  private readonly logger: Logger;

  constructor(
    private readonly runtime: Runtime,
    options: { logger?: Logger } = {},
  ) {
    this.logger = options.logger ?? runtime.logger;
    this.registry = new Registry(runtime, { keys: "duplicate", logger: this.logger });
  }

  subscribe(topic: string, subscriber: Pid | TopicCallback): Subscription {
    checkKey(topic, "topic");
    if (typeof subscriber === "function") {
      let callbacks = this.callbacks.get(topic);
      if (!callbacks) {
        callbacks = { set: new Set(), list: undefined };
        this.callbacks.set(topic, callbacks);
      }
      const held = callbacks;
      // Each subscription gets its own wrapper, so subscribing one callback twice is two subscriptions.
      const wrapper: TopicCallback = (message, t) => subscriber(message, t);
      held.set.add(wrapper);
      held.list = undefined;
      return {
        topic,
        unsubscribe: () => {
          if (!held.set.delete(wrapper)) return;
          held.list = undefined;
          if (held.set.size === 0 && this.callbacks.get(topic) === held) this.callbacks.delete(topic);
        },
      };
    }
    if (this.registry.lookup(topic).some((entry) => entry.pid.equals(subscriber))) {
      return { topic, unsubscribe: () => this.unsubscribe(topic, subscriber) };
    }
    this.registry.register(topic, subscriber);
    return { topic, unsubscribe: () => this.unsubscribe(topic, subscriber) };
  }

  unsubscribe(topic: string, pid: Pid): boolean {
    checkKey(topic, "topic");
    return this.registry.unregister(topic, pid);
  }

  /**
   * Removes every subscriber of `topic` (when what it is about is gone): each subscribed
   * process in turn, since the registry removes only one owner's entries at a time.
   */
  clearTopic(topic: string): void {
    checkKey(topic, "topic");
    for (const entry of this.registry.lookup(topic)) this.registry.unregister(topic, entry.pid);
    this.callbacks.delete(topic);
  }

  /** Delivers `message` to every subscriber of `topic`; returns how many were reached. */
  broadcast(topic: string, message: unknown): number {
    checkKey(topic, "topic");
    let reached = 0;
    // Most topics have no process subscriber: skip the lookup's copy of nothing.
    // Without subscribed processes at all (callbacks only, the usual), no lookup of the topic:
    // a new session's topic is a miss in a table out of the cache.
    if (!this.registry.isEmpty() && this.registry.countKey(topic) > 0) {
      for (const entry of this.registry.lookup(topic)) {
        this.runtime.send(entry.pid, message);
        reached++;
      }
    }
    const callbacks = this.callbacks.get(topic);
    if (callbacks) {
      callbacks.list ??= [...callbacks.set];
      for (const callback of callbacks.list) {
        try {
          callback(message, topic);
          reached++;
        } catch (error) {
          this.logger.error(
            { event: "subscriber_failed", topic, err: error },
            `a subscriber of ${topic} threw`,
          );
        }
      }
    }
    return reached;
  }

  subscriberCount(topic: string): number {
    return this.registry.countKey(topic) + (this.callbacks.get(topic)?.set.size ?? 0);
  }

  topics(): string[] {
    const topics = new Set(this.registry.select(() => true).map((entry) => entry.key));
    for (const topic of this.callbacks.keys()) topics.add(topic);
    return [...topics];
  }

  close(): void {
    this.registry.close();
    this.callbacks.clear();
  }
}
