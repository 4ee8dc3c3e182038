/**
 * How a host of the built package loads the library's code: what the bundle's host loader
 * (`host-code-loader.ts`, which runs before the host's own code) leaves for the host.
 *
 * Most of a new host's start is compiling the ~280 KB of the library a host runs, and Node 20
 * keeps no compiled code between isolates. The loader compiles the host's two chunks with V8's
 * code cache when the parent gives it one (`cached`), or from source (`compiled`); a host that
 * compiled them sends its cache to the parent once its first root has started, so every later
 * host of that kind starts from it. V8 checks a cache against the source, its own version and its
 * flags, and compiles from source when one does not match: a cache never changes what runs.
 *
 * Under tsx (the tests, `npm start`) there is no loader: the host's code is `source`.
 */
export type HostCodeState = "cached" | "compiled" | "source";

/** The compiled code of each chunk, by file name: what a host sends and the next one boots from. */
export type CodeCache = Record<string, Uint8Array>;

export interface HostCode {
  readonly state: Exclude<HostCodeState, "source">;
  /** The chunks' code caches as they are now: with every function the host has compiled so far. */
  create(): CodeCache;
  /**
   * A module's exports, loaded by `require`: the bundle's own modules from their CommonJS twins
   * (the hosted session's), so that a host running only the library never starts Node's ES
   * module loader; any other JavaScript file with `require` too (Node 20.19 loads ES modules
   * with it), which starts less of that loader than `import()` (2.2 against 8.3 ms for one small
   * module in a new worker). Undefined where `require` cannot load it (an older Node, a module
   * with a top-level await, a `.ts` file a loader hook compiles): `import()` it instead.
   */
  load(href: string): Record<string, unknown> | undefined;
}

const HOST_CODE = Symbol.for("sessionvisor.hostCode");

export function installHostCode(code: HostCode): void {
  (globalThis as { [HOST_CODE]?: HostCode })[HOST_CODE] = code;
}

export function hostCode(): HostCode | undefined {
  return (globalThis as { [HOST_CODE]?: HostCode })[HOST_CODE];
}

/** Imports a module by URL: in a host of the built package by `require` where it can (`load`). */
export async function loadModule(href: string): Promise<Record<string, unknown>> {
  return hostCode()?.load(href) ?? ((await import(href)) as Record<string, unknown>);
}

/**
 * A cache as one buffer, for a process to read from a file: a 4-byte length, a JSON index of
 * `[name, bytes]`, then each chunk's bytes in that order. (Not `v8.serialize`: loading `node:v8`
 * would cost a process host ~1 ms of its start.)
 */
export function encodeCodeCache(cache: CodeCache): Buffer {
  const entries = Object.entries(cache);
  const index = Buffer.from(JSON.stringify(entries.map(([name, bytes]) => [name, bytes.byteLength])));
  const head = Buffer.alloc(4);
  head.writeUInt32LE(index.length);
  return Buffer.concat([head, index, ...entries.map(([, bytes]) => bytes)]);
}

export function decodeCodeCache(buffer: Buffer): CodeCache {
  const indexEnd = 4 + buffer.readUInt32LE(0);
  const index = JSON.parse(buffer.toString("utf8", 4, indexEnd)) as [string, number][];
  const cache: CodeCache = {};
  let at = indexEnd;
  for (const [name, length] of index) {
    if (typeof name !== "string" || !Number.isInteger(length) || length < 0 || at + length > buffer.length) {
      throw new RangeError("malformed code cache");
    }
    cache[name] = buffer.subarray(at, at + length);
    at += length;
  }
  return cache;
}
