/**
 * The keys of a KV bucket, each once. nats.js's `keys()` streams the last value of every key and
 * can deliver a key a second time when it is written while the listing runs (a member's heartbeat
 * every 100 ms, a lease's renewal): CI once saw `sessionvisor nodes` list a node twice.
 */
export async function distinctKeys(kv: { keys(): Promise<AsyncIterable<string>> }): Promise<string[]> {
  const keys = new Set<string>();
  for await (const key of await kv.keys()) keys.add(key);
  return [...keys];
}
