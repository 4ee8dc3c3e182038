// Bundles the library's JavaScript with esbuild: `node scripts/bundle.mjs <outdir> [src-file…]`.
//
// Why: every worker-thread or child-process host is a fresh isolate that loads the runtime,
// the registry and the session's agents before it can run a session (not zod, the tools, the
// store backends or pino: see hosted-session.ts and runtime/logger.ts). As separate ES modules
// that load is most of a host's start; as a few files it is a fraction.
//
// The output is split into shared chunks, so the entry the package exports (`index.js`), the
// host's entry and the hosted session's module (`hosted-session.js`) share one copy of every
// class: a module that imports the package inside a host (a provider module, a hosted root)
// gets the same Runtime, Pid and error classes as the host itself. All of them sit at the top
// of <outdir>, beside the chunks, because the code finds them next to itself
// (`new URL("./host-main.cjs", import.meta.url)`).
// What a host loads is two of those chunks (see hostCore): the host's, and the session's. Those
// two are CommonJS, with an ES module re-exporting each, and the host's entry is CommonJS
// (`host-main.cjs`): a host compiles them from a code cache (see writeCommonJsHost).
//
// zod and pino are bundled in; zod without its translations of error messages, which the
// library never selects. Every other package stays an import (better-sqlite3 is native; the model
// SDKs load only when used). The runtime's loggers load pino only when one is made, from
// `pino.cjs` beside the chunks (a CommonJS bundle of it, which `require` loads synchronously), so
// that a host whose parent is silent does not load it; the server's log lines bundle their own.
//
// `--package` is the build the package ships (`npm run build`): no source maps, and a CommonJS
// shim per export for `require` (see writeRequireShims).
//
// Extra src files named after <outdir> become entries at their own path; `--bench` names the
// ones bench/*.ts import directly (the benchmarks run tsc's output of bench/ against this
// bundle, in .bench-out/src). They share the same chunks.
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { basename, dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { Script } from "node:vm";
import * as esbuild from "esbuild";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const SRC = join(ROOT, "src");
/** Packages bundled into the output; every other bare import is left to Node to resolve. */
const BUNDLED = new Set(["zod", "pino"]);

/**
 * The package's subpath exports, each bundled to `<outdir>/<name>.js`; its types are what tsc
 * emits for `source` (tsconfig.build.json). test/package.test.ts checks package.json's `exports`
 * against this list.
 */
export const SUBPATHS = [
  { name: "otp", source: "src/otp.ts" },
  { name: "hosts", source: "src/hosts/index.ts" },
  { name: "llm", source: "src/llm/index.ts" },
  { name: "store", source: "src/store/index.ts" },
  { name: "tools", source: "src/tools/index.ts" },
  { name: "cluster", source: "src/cluster/index.ts" },
  { name: "testing", source: "src/testing.ts" },
];

export const ENTRIES = [
  { in: "src/index.ts", out: "index" },
  { in: "src/hosts/host-main.ts", out: "host-main" },
  { in: "src/session/hosted-session.ts", out: "hosted-session" },
  // The `sessionvisor` binary (package.json's `bin`).
  { in: "src/cli/main.ts", out: "cli/main" },
  // The package's subpaths (package.json's `exports`): `sessionvisor/otp`, `sessionvisor/hosts`, …
  // At the top of <outdir> like the rest, so every class stays in the shared chunks.
  ...SUBPATHS.map((subpath) => ({ in: subpath.source, out: subpath.name })),
];

function packageName(specifier) {
  const parts = specifier.split("/");
  return specifier.startsWith("@") ? parts.slice(0, 2).join("/") : parts[0];
}

const dependencies = {
  name: "dependencies",
  setup(build) {
    build.onResolve({ filter: /^[^./]/ }, (args) => {
      if (args.path.startsWith("node:")) return { path: args.path, external: true };
      // What a bundled package requires is bundled with it.
      if (args.importer.includes(`${"/"}node_modules${"/"}`)) return undefined;
      return BUNDLED.has(packageName(args.path)) ? undefined : { path: args.path, external: true };
    });
    // zod's messages in English only: `z.locales` would otherwise bring 40 languages along.
    build.onResolve({ filter: /\/locales\/index\.js$/ }, (args) =>
      args.importer.includes(`${"/"}zod${"/"}`)
        ? { path: resolve(args.resolveDir, args.path), namespace: "zod-locales" }
        : undefined,
    );
    build.onLoad({ filter: /.*/, namespace: "zod-locales" }, (args) => ({
      contents: 'export { default as en } from "./en.js";',
      resolveDir: dirname(args.path),
      loader: "js",
    }));
  },
};

/**
 * What a session's host loads: the host's entry, the hosted session's module, and the llm layer
 * (a providers module imports it, or the package's index).
 */
const HOST_CORE = ["src/hosts/host-main.ts", "src/session/hosted-session.ts", "src/llm/index.ts"];

const ENTRY_NAMESPACE = "sessionvisor-entry";

/** Modules the library imports with `import("./…")`: esbuild makes each an entry of its own. */
function dynamicImportTargets() {
  const targets = new Set();
  for (const name of readdirSync(SRC, { recursive: true })) {
    if (!name.endsWith(".ts") || name.endsWith(".test.ts")) continue;
    const file = join(SRC, name);
    for (const [, path] of readFileSync(file, "utf8").matchAll(/\bimport\("(\.{1,2}\/[^"]+)\.js"\)/g)) {
      targets.add(resolve(dirname(file), `${path}.ts`));
    }
  }
  return targets;
}

/** What every host imports (host-main's imports: importing it runs a host), and what a session's host imports besides. */
function hostCoreModules() {
  const hostMain = join(ROOT, HOST_CORE[0]);
  const imports = readFileSync(hostMain, "utf8").matchAll(
    /^import (?!type )[^;]*?from "(\.{1,2}\/[^"]+)\.js";/gms,
  );
  return [
    [...imports].map(([, path]) => resolve(dirname(hostMain), `${path}.ts`)),
    HOST_CORE.slice(1).map((file) => join(ROOT, file)),
  ];
}

/**
 * One chunk for what every host loads, and one more for what a session's host loads besides.
 * esbuild puts a module in the chunk of the set of entries that reach it, and a host's modules
 * are reached by different sets (the runtime by every entry, the session's agents by a few): as
 * ES modules that made ~15 files, each a trip through Node's module loader in every new host
 * (~0.5 ms a file). So every entry is made to import what a host imports, and every entry other
 * than the host's own what a session's host imports (the hosted session, the llm layer): all
 * of it then has the same set of entries, a chunk each. An entry is a module of its own that
 * re-exports its file and imports those (importing them into the file itself could make a
 * cycle); a module the library imports with `import()`, which esbuild makes an entry too, gets
 * the imports appended. The chunks stay shared with the package's entries, so a module that
 * imports the package in a host still gets the host's classes. The cost: an entry that needed
 * less (`sessionvisor/otp`) loads the session's chunk too.
 */
function hostCore() {
  const dynamicTargets = dynamicImportTargets();
  const hostMain = join(ROOT, HOST_CORE[0]);
  const [hostModules, sessionModules] = hostCoreModules();
  const imports = (modules, self) =>
    modules
      .filter((path) => path !== self)
      .map((path) => `import ${JSON.stringify(path)};`)
      .join("\n");
  return {
    name: "host-core",
    setup(build) {
      build.onResolve({ filter: new RegExp(`^${ENTRY_NAMESPACE}:`) }, (args) => ({
        path: args.path.slice(ENTRY_NAMESPACE.length + 1),
        namespace: ENTRY_NAMESPACE,
      }));
      build.onLoad({ filter: /.*/, namespace: ENTRY_NAMESPACE }, (args) => {
        // `<out>:<file>`: one module per entry, even for two entries of one file.
        const file = args.path.slice(args.path.indexOf(":") + 1);
        const text = readFileSync(file, "utf8");
        const hashbang = text.startsWith("#!") ? text.slice(0, text.indexOf("\n") + 1) : "";
        const modules = file === hostMain ? hostModules : [...hostModules, ...sessionModules];
        return {
          contents: `${hashbang}export * from ${JSON.stringify(file)};\n${imports(modules, file)}\n`,
          resolveDir: dirname(file),
          loader: "js",
        };
      });
      build.onLoad({ filter: /\.ts$/ }, (args) => {
        if (!dynamicTargets.has(args.path)) return undefined;
        const modules = [...hostModules, ...sessionModules];
        return {
          contents: `${readFileSync(args.path, "utf8")}\n${imports(modules, args.path)}\n`,
          loader: "ts",
        };
      });
    },
  };
}

/**
 * Fails the build if a host loads its modules from more chunks than one (two for a session's
 * host: the host's, and the session's).
 */
function checkHostCore(metafile, outdir) {
  const outputs = metafile.outputs;
  const byEntry = new Map(
    Object.entries(outputs)
      .filter(([, output]) => output.entryPoint?.startsWith(`${ENTRY_NAMESPACE}:`))
      .map(([path, output]) => {
        const name = output.entryPoint.slice(ENTRY_NAMESPACE.length + 1);
        return [name.slice(name.indexOf(":") + 1), path];
      }),
  );
  const chunksOf = (files) => {
    const loads = new Set();
    const visit = (path) => {
      if (loads.has(path)) return;
      loads.add(path);
      for (const record of outputs[path].imports) {
        if (!record.external && record.kind === "import-statement") visit(record.path);
      }
    };
    for (const file of files) visit(byEntry.get(join(ROOT, file)));
    return [...loads].filter((path) => /(^|\/)chunk-[^/]+\.js$/.test(path));
  };
  // What `import()` loads gets the host's modules appended: none of them may import it back.
  const inputs = new Map(Object.entries(metafile.inputs).map(([path, input]) => [resolve(path), input]));
  const reached = new Set();
  const reach = (path) => {
    if (reached.has(path) || !inputs.has(path)) return;
    reached.add(path);
    for (const record of inputs.get(path).imports) {
      if (!record.external && record.kind === "import-statement") reach(resolve(record.path));
    }
  };
  const dynamicTargets = dynamicImportTargets();
  const [hostModules, sessionModules] = hostCoreModules();
  for (const path of [...hostModules, ...sessionModules]) reach(path);
  for (const path of dynamicTargets) {
    if (reached.has(path))
      throw new Error(
        `bundle ${outdir}: ${relative(ROOT, path)} is imported by a host's modules and with import()`,
      );
  }
  for (const [files, count] of [
    [HOST_CORE.slice(0, 1), 1],
    [HOST_CORE, 2],
  ]) {
    const chunks = chunksOf(files);
    if (chunks.length !== count) {
      throw new Error(
        `bundle ${outdir}: ${files.join(" + ")} load ${chunks.length} chunks, not ${count}: ${chunks.join(", ")}`,
      );
    }
  }
  const [hostChunk] = chunksOf(HOST_CORE.slice(0, 1));
  const sessionChunk = chunksOf(HOST_CORE).find((path) => path !== hostChunk);
  return {
    chunks: [hostChunk, sessionChunk],
    hostMain: byEntry.get(join(ROOT, HOST_CORE[0])),
    hostedSession: byEntry.get(join(ROOT, HOST_CORE[1])),
  };
}

/**
 * An ES module of the bundle as CommonJS. esbuild writes its chunks in a small part of the
 * syntax, each statement at the start of a line: `import { a, b as c } from "m";`,
 * `import "m";`, one `export { a, b as c };` at the end, and `import.meta.url` and `import()`
 * inside. Each import becomes a `require` at the top (ES imports are hoisted; so are these) and
 * the export one object of plain properties: esbuild's own CommonJS output exports getters, a
 * call at every use of a class of one chunk in the other. `import()` goes through import.cjs:
 * code compiled by vm.Script (the host's loader) has no module loader of its own to call, and
 * import.cjs sits beside the chunks, so a specifier resolves as it did.
 */
function toCommonJs(text, specifier) {
  const requires = [];
  const bindings = (list, flip) =>
    list
      .split(",")
      .map((item) => item.trim())
      .filter(Boolean)
      .map((item) => {
        const [left, right] = item.split(/\s+as\s+/);
        if (right === undefined) return left;
        return flip ? `${JSON.stringify(right)}: ${left}` : `${left}: ${right}`;
      })
      .join(", ");
  let body = text
    .replace(/^import\s*\{([^}]*)\}\s*from\s*"([^"]+)";[ \t]*$/gm, (_, list, from) => {
      requires.push(`const { ${bindings(list, false)} } = require(${JSON.stringify(specifier(from))});`);
      return "";
    })
    .replace(/^import\s*"([^"]+)";[ \t]*$/gm, (_, from) => {
      requires.push(`require(${JSON.stringify(specifier(from))});`);
      return "";
    })
    .replace(/^export\s*\{([^}]*)\};[ \t]*$/gm, (_, list) => `module.exports = { ${bindings(list, true)} };`);
  if (/^(import|export)\b/m.test(body)) throw new Error("an import or export toCommonJs does not know");
  // A top-level name of CommonJS's own would hide it from the module's code.
  const shadowed =
    /^(?:var|let|const|function|class|async function) (module|exports|require|__filename|__dirname)\b/m.exec(
      body,
    );
  if (shadowed) throw new Error(`a top-level \`${shadowed[1]}\` would hide CommonJS's own`);
  body = body
    .replace(/\bimport\.meta\.url\b/g, "__sessionvisorUrl")
    .replace(/(?<![\w$.])import\(/g, "__sessionvisorImport(");
  return [
    ...(body.includes("__sessionvisorUrl")
      ? ['const __sessionvisorUrl = require("node:url").pathToFileURL(__filename).href;']
      : []),
    ...(body.includes("__sessionvisorImport(")
      ? // Resolved at the first import(), not at load: a relative require is ~0.25 ms of a host's start.
        ['const __sessionvisorImport = (specifier) => require("./import.cjs")(specifier);']
      : []),
    ...requires,
    body,
  ].join("\n");
}

/** What every ES module of the bundle starts with: pino is CommonJS, its `require` calls need one. */
const REQUIRE_BANNER =
  'import { createRequire as __sessionvisorRequire } from "node:module"; const require = __sessionvisorRequire(import.meta.url);';

/**
 * The host's code as CommonJS, so that a host can compile it from V8's code cache (see
 * src/hosts/host-code.ts: Node 20 has no such cache for ES modules, and starting its ES module
 * loader in a worker costs as much again). The host's two chunks become `chunk-….cjs`, and each
 * `chunk-….js` an ES module that re-exports what the CommonJS one exports: one copy of every
 * class, whichever way it is loaded. The host's entry becomes `host-main.cjs`, which first runs
 * the host-code loader (src/hosts/host-code-loader.ts, bundled into it) on the two chunks; the
 * hosted session's module gets a CommonJS twin the host loads instead of the ES module.
 */
async function writeCommonJsHost(outdir, metafile, host) {
  const names = host.chunks.map((path) => basename(path, ".js"));
  const specifier = (from) =>
    names.some((name) => from === `./${name}.js`) ? from.replace(/\.js$/, ".cjs") : from;
  const commonJs = async (path, prologue = "") => {
    const text = readFileSync(resolve(path), "utf8");
    if (!text.startsWith(REQUIRE_BANNER))
      throw new Error(`bundle ${outdir}: ${path} lacks the require banner`);
    const code = toCommonJs(text.slice(REQUIRE_BANNER.length), specifier);
    const source = `"use strict";\n${prologue}${code}`;
    // A conversion that went wrong fails the build, not a host.
    new Script(`(function (exports, require, module, __filename, __dirname) {${source}\n})`, {
      filename: path,
    });
    return source;
  };
  for (const path of host.chunks) {
    const file = resolve(path);
    const cjs = file.replace(/\.js$/, ".cjs");
    writeFileSync(cjs, asciiOnly(await commonJs(path), cjs));
    const exports = metafile.outputs[path].exports;
    writeFileSync(
      file,
      `import { createRequire } from "node:module";\nconst __sessionvisorChunk = createRequire(import.meta.url)("./${basename(cjs)}");\n${exports
        .map((name) => `export const ${name} = __sessionvisorChunk.${name};`)
        .join("\n")}\n`,
    );
    rmSync(`${file}.map`, { force: true });
  }
  for (const [path, output] of Object.entries(metafile.outputs)) {
    if (output.entryPoint === undefined || !path.endsWith(".js") || path === host.hostMain) continue;
    writeFileSync(resolve(path), requiringHostChunks(readFileSync(resolve(path), "utf8"), names, path));
  }
  const chunks = JSON.stringify(names.map((name) => `${name}.cjs`));
  // The loader goes inside the entry, ahead of its code: one file less to find and compile.
  const loader = await esbuild.build({
    entryPoints: [join(SRC, "hosts/host-code-loader.ts")],
    bundle: true,
    write: false,
    format: "iife",
    globalName: "__sessionvisorHostCode",
    platform: "node",
    target: "node20",
    logLevel: "warning",
  });
  writeFileSync(
    join(outdir, "host-main.cjs"),
    await commonJs(
      host.hostMain,
      `${loader.outputFiles[0].text}__sessionvisorHostCode.loadHostCode(__dirname, ${chunks}, { "hosted-session.js": "hosted-session.cjs" });\n`,
    ),
  );
  // The host runs host-main.cjs: an ES module of it would be a second host nobody starts.
  rmSync(resolve(host.hostMain), { force: true });
  rmSync(`${resolve(host.hostMain)}.map`, { force: true });
  writeFileSync(join(outdir, "hosted-session.cjs"), await commonJs(host.hostedSession));
  writeFileSync(
    join(outdir, "import.cjs"),
    '"use strict";\nmodule.exports = (specifier) => import(specifier);\n',
  );
}

/**
 * A host chunk in ASCII alone, which a host reads as latin1: decoding that is a copy, and ~0.35 ms
 * of a new host's start less than decoding UTF-8 (src/hosts/host-code-loader.ts). esbuild writes
 * code in ASCII (it escapes the rest); what else it keeps is a comment, whose other characters
 * become `?`. A line of code with one fails the build rather than change what the code says.
 */
function asciiOnly(source, file) {
  return source.replace(/^.*[\u0080-\uffff].*$/gm, (line) => {
    if (!/^\s*(\*|\/\/|\/\*)/.test(line))
      throw new Error(`bundle: ${file} has a line of code that is not ASCII: ${line.trim()}`);
    return line.replace(/[\u0080-\uffff]/g, "?");
  });
}

/**
 * An entry (`llm.js`, say) with its imports of the host's chunks made `require`s of their
 * CommonJS files, which its require banner already provides, instead of imports of their ES
 * module wrappers: every ES module is a trip through Node's ES module loader, and in a host,
 * where a providers module imports `sessionvisor/llm`, that trip is the start's (~0.3 ms a
 * module in a new worker). Lines stay where they were, for the source map. Only entries: nothing
 * imports them back, so their bindings cannot be read before the `require` sets them.
 */
function requiringHostChunks(text, names, path) {
  // `./chunk-….js`, or `../chunk-….js` from an entry in a folder (the bench's).
  const chunk = `((?:\\.\\.?/)+)(${names.map((name) => name.replace(/[^\w-]/g, "")).join("|")})\\.js`;
  const rewritten = text
    .replace(
      new RegExp(`^import \\{([^}]*)\\} from "${chunk}";$`, "gm"),
      (_, list, dir, name) =>
        `const {${list.replace(/([\w$]+) as ([\w$]+)/g, "$1: $2")}} = require("${dir}${name}.cjs");`,
    )
    .replace(new RegExp(`^import "${chunk}";$`, "gm"), (_, dir, name) => `require("${dir}${name}.cjs");`);
  // Any other form would still load the wrapper; better that the build says so.
  if (new RegExp(`from "${chunk}"|^import "${chunk}"`, "m").test(rewritten))
    throw new Error(`bundle: ${path} imports a host chunk in a form requiringHostChunks does not know`);
  return rewritten;
}

/**
 * `options.sourcemap` (default true) writes `.map` files beside the output. The package is built
 * without them (`--package`): a map that points at src/ files the package does not ship helps
 * nobody, and esbuild's unminified output reads well enough in a stack trace.
 */
export async function bundle(outdir, extra = [], options = {}) {
  const entryPoints = [
    ...ENTRIES.map((entry) => ({ in: join(ROOT, entry.in), out: entry.out })),
    ...extra.map((file) => {
      const path = resolve(ROOT, file);
      return { in: path, out: relative(SRC, path).replace(/\.ts$/, "") };
    }),
  ].map((entry) => ({ in: `${ENTRY_NAMESPACE}:${entry.out}:${entry.in}`, out: entry.out }));
  // Chunks from an earlier build would stay beside the new ones.
  for (const name of safeList(outdir)) if (/^chunk-.*\.c?js(\.map)?$/.test(name)) rmSync(join(outdir, name));
  // pino for the runtime's loggers (src/runtime/logger.ts), which `require` it from here.
  await esbuild.build({
    entryPoints: [createRequire(import.meta.url).resolve("pino")],
    outfile: join(outdir, "pino.cjs"),
    bundle: true,
    format: "cjs",
    platform: "node",
    target: "node20",
    sourcemap: options.sourcemap ?? true,
    logLevel: "warning",
  });
  const result = await esbuild.build({
    entryPoints,
    outdir,
    bundle: true,
    splitting: true,
    format: "esm",
    platform: "node",
    target: "node20",
    sourcemap: options.sourcemap ?? true,
    chunkNames: "chunk-[hash]",
    plugins: [hostCore(), dependencies],
    metafile: true,
    banner: { js: REQUIRE_BANNER },
    logLevel: "warning",
  });
  await writeCommonJsHost(outdir, result.metafile, checkHostCore(result.metafile, outdir));
  return result;
}

/**
 * `require("sessionvisor")` and `require("sessionvisor/<subpath>")` (package.json's `require`
 * condition): the package is ES modules, which `require()` loads on Node 20.19 or newer (22.12 on
 * 22) as long as they have no top-level await. On an older Node the error says so plainly,
 * instead of Node's ERR_REQUIRE_ESM about a file inside the package.
 */
function writeRequireShims(outdir) {
  for (const name of ["index", ...SUBPATHS.map((subpath) => subpath.name)]) {
    const specifier = name === "index" ? "sessionvisor" : `sessionvisor/${name}`;
    const shim = `"use strict";
// require(${JSON.stringify(specifier)}): the package is ES modules; Node.js 20.19 or newer loads them with require().
try {
  module.exports = require("./${name}.js");
} catch (error) {
  if (error && (error.code === "ERR_REQUIRE_ESM" || error.code === "ERR_REQUIRE_ASYNC_MODULE")) {
    throw new Error(
      \`sessionvisor is ES modules only: require(${JSON.stringify(specifier)}) needs Node.js 20.19 or newer (this is \${process.version}); upgrade Node, or load it with await import(${JSON.stringify(specifier)})\`,
      { cause: error },
    );
  }
  throw error;
}
`;
    writeFileSync(join(outdir, `${name}.cjs`), shim);
  }
}

/** The src files bench/*.ts import other than through the package's index. */
function benchImports() {
  const files = new Set();
  for (const name of readdirSync(join(ROOT, "bench")).filter((n) => n.endsWith(".ts"))) {
    const text = readFileSync(join(ROOT, "bench", name), "utf8");
    for (const [, path] of text.matchAll(/^import (?!type )[^;]*?from "\.\.\/src\/([^"]+)\.js";/gms)) {
      if (path !== "index" && existsSync(join(ROOT, `src/${path}.ts`))) files.add(`src/${path}.ts`);
    }
  }
  return [...files];
}

function safeList(dir, recursive = false) {
  try {
    return readdirSync(dir, { recursive });
  } catch {
    return [];
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const [outdir, ...extra] = args.filter((arg) => arg !== "--bench" && arg !== "--package");
  if (args.includes("--bench")) extra.push(...benchImports());
  if (!outdir) {
    console.error("usage: node scripts/bundle.mjs <outdir> [--package | --bench] [src-file…]");
    process.exit(2);
  }
  const pkg = args.includes("--package");
  if (pkg) {
    // Maps of an earlier build (cli/ too) would be left pointing at code this one replaced.
    for (const name of safeList(resolve(outdir), true)) {
      if (name.endsWith(".js.map")) rmSync(join(outdir, name));
    }
  }
  await bundle(resolve(outdir), extra, { sourcemap: !pkg });
  if (pkg) writeRequireShims(resolve(outdir));
}
