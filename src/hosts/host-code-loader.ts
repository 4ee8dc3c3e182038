/**
 * The first thing a host of the built package runs (scripts/bundle.mjs bundles this file alone,
 * as CommonJS, and puts a call to `loadHostCode` at the top of the host's entry): it compiles the
 * host's chunks itself, from the parent's code cache when there is one, and puts them in
 * `require`'s cache, where the entry's `require` — and every later import of the package in the
 * host, through the chunks' ES module wrappers — finds them. See host-code.ts for why.
 *
 * It runs before the host's code, so it imports nothing of the library but host-code.ts.
 */
import { closeSync, fstatSync, readFileSync, readSync } from "node:fs";
import { createRequire, Module } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { Script } from "node:vm";
import { isMainThread, workerData } from "node:worker_threads";
import { type CodeCache, decodeCodeCache, installHostCode } from "./host-code.js";
import type { HostBoot } from "./host-main.js";

/**
 * Compiles and runs each chunk (CommonJS files in `dir`, in dependency order) as Node would
 * `require` it, and tells the host how (`hostCode()`). `twins` maps an ES module of the bundle to
 * its CommonJS twin, both by file name.
 */
export function loadHostCode(dir: string, chunks: readonly string[], twins: Record<string, string>): void {
  const caches = parentCodeCache();
  const scripts = new Map<string, Script>();
  let fromCache = caches !== undefined;
  for (const name of chunks) {
    const cachedData = caches?.[name];
    const script = runAsCommonJs(join(dir, name), cachedData);
    if (cachedData === undefined || script.cachedDataRejected === true) fromCache = false;
    scripts.set(name, script);
  }
  const twinFiles = new Map(
    Object.entries(twins).map(([esm, cjs]) => [pathToFileURL(join(dir, esm)).href, join(dir, cjs)]),
  );
  installHostCode({
    state: fromCache ? "cached" : "compiled",
    create: () => Object.fromEntries([...scripts].map(([name, script]) => [name, script.createCachedData()])),
    load(href) {
      const twin = twinFiles.get(href);
      if (twin !== undefined) return createRequire(twin)(twin) as Record<string, unknown>;
      // Only JavaScript Node loads itself: a `.ts` module, say, needs the loader hooks of
      // whatever runs it (tsx), which `import()` goes through.
      return /^file:.*\.[cm]?js$/.test(href) ? required(fileURLToPath(href)) : undefined;
    },
  });
}

/** The module as `import()` would see it, or undefined where `require` cannot load it. */
function required(file: string): Record<string, unknown> | undefined {
  let loaded: unknown;
  try {
    loaded = createRequire(file)(file);
  } catch (error) {
    const code = (error as { code?: unknown } | null)?.code;
    if (code === "ERR_REQUIRE_ESM" || code === "ERR_REQUIRE_ASYNC_MODULE") return undefined;
    throw error;
  }
  // An ES module comes back as its namespace; CommonJS as `module.exports`, which `import()`
  // would give as `default`, beside its named exports.
  // (Checked by its tag, not util/types: every module a host loads is time on its start.)
  if (Object.prototype.toString.call(loaded) === "[object Module]") return loaded as Record<string, unknown>;
  return { ...(loaded as Record<string, unknown>), default: loaded };
}

/** What `require(filename)` does, with the compiled code taken from `cachedData` when V8 accepts it. */
function runAsCommonJs(filename: string, cachedData: Uint8Array | undefined): Script {
  // The build writes the chunks in ASCII (scripts/bundle.mjs, asciiOnly): latin1 is a copy, UTF-8 a decoding.
  const source = readFileSync(filename, "latin1");
  const script = new Script(`(function (exports, require, module, __filename, __dirname) {${source}\n})`, {
    filename,
    ...(cachedData === undefined ? {} : { cachedData }),
  });
  const require = createRequire(filename);
  const module = new Module(filename);
  module.filename = filename;
  require.cache[filename] = module;
  try {
    const run = script.runInThisContext() as (...args: unknown[]) => void;
    run.call(module.exports, module.exports, require, module, filename, dirname(filename));
  } catch (error) {
    // As `require` does: a module that failed is not left half-made for the next one to find.
    delete require.cache[filename];
    throw error;
  }
  module.loaded = true;
  return script;
}

/** The cache the parent passed: in `workerData` to a thread, in an inherited file to a process. */
function parentCodeCache(): CodeCache | undefined {
  if (!isMainThread) {
    const boot = workerData as HostBoot | undefined;
    const cache = boot?.codeCache;
    // Compiled from, it is garbage: not kept in the worker's heap for as long as the host runs.
    if (boot) delete boot.codeCache;
    return cache;
  }
  const boot = JSON.parse(process.env.SESSIONVISOR_HOST ?? "null") as HostBoot | null;
  const fd = boot?.codeCacheFd;
  if (fd === undefined) return undefined;
  try {
    const bytes = Buffer.alloc(fstatSync(fd).size);
    readSync(fd, bytes, 0, bytes.length, 0);
    return decodeCodeCache(bytes);
  } catch {
    // A cache is an optimisation: without it the chunks compile from source.
    return undefined;
  } finally {
    // The host's programs inherit its descriptors: they have no business with this one.
    try {
      closeSync(fd);
    } catch {}
  }
}
