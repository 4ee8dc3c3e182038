import { existsSync, readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { dirname, extname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Hono } from "hono";
import type { ServerEnv } from "./context.js";
import { HttpError } from "./errors.js";

export { observerRoutes } from "./observer-routes.js";

/** Where the observer's built page is, inside the package: `npm run build` writes it there. */
const OBSERVER_DIR = ["dist", "observer"];

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".woff2": "font/woff2",
  ".json": "application/json",
};

/** A built asset's name: Vite's `name-hash.ext`, one path segment, nothing hidden, no source map. */
const ASSET_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]*(\.[A-Za-z0-9_-]+)*\.(js|css|svg|png|woff2)$/;

/**
 * The page may load only what this server serves and talk only to it: a token the page holds
 * cannot be sent elsewhere by an injected script's fetch.
 */
const PAGE_HEADERS = {
  "Content-Security-Policy":
    "default-src 'self'; connect-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; " +
    "frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
  "X-Content-Type-Options": "nosniff",
  "Referrer-Policy": "no-referrer",
};

/**
 * The package's root: the nearest folder above this module with sessionvisor's package.json.
 * The same from src/server (tests, through tsx) and from dist (the package's bundle).
 */
export function packageRoot(from: string = dirname(fileURLToPath(import.meta.url))): string | undefined {
  for (let at = from; ; at = dirname(at)) {
    const manifest = join(at, "package.json");
    if (existsSync(manifest)) {
      try {
        if ((JSON.parse(readFileSync(manifest, "utf8")) as { name?: unknown }).name === "sessionvisor")
          return at;
      } catch {
        // Not readable as JSON: keep looking above.
      }
    }
    if (dirname(at) === at) return undefined;
  }
}

/** The built observer's folder in this package (it may not exist: not built yet). */
export function defaultObserverDir(): string | undefined {
  const root = packageRoot();
  return root === undefined ? undefined : join(root, ...OBSERVER_DIR);
}

/** Whether this copy of the package has the observer built (`serve` says so when it has not). */
export function observerBuilt(dir: string | undefined = defaultObserverDir()): boolean {
  return dir !== undefined && existsSync(join(dir, "index.html"));
}

/**
 * The web observer: its page at `/` and its hashed assets at `/assets/:file` (cached for good:
 * a new build gives them new names). No token is needed for these; the page asks for one and
 * sends it with each API request. A missing build answers 404 `observer_not_built`.
 */
export function observerPage(app: Hono<ServerEnv>, dir: string | undefined = defaultObserverDir()): void {
  // A 404, not a 503: nothing will come here by waiting, only by building.
  const notBuilt = () =>
    new HttpError(
      404,
      "observer_not_built",
      "the web observer is not built in this copy of sessionvisor: run `npm run build` (it writes dist/observer)",
    );

  app.get("/", async (c) => {
    if (dir === undefined) throw notBuilt();
    let html: Buffer;
    try {
      html = await readFile(join(dir, "index.html"));
    } catch {
      throw notBuilt();
    }
    return c.body(new Uint8Array(html), 200, {
      ...PAGE_HEADERS,
      "Content-Type": CONTENT_TYPES[".html"] as string,
      // The page names the current assets: always asked for again.
      "Cache-Control": "no-cache",
    });
  });

  app.get("/assets/:file", async (c) => {
    const file = c.req.param("file");
    const notFound = new HttpError(404, "not_found", `no asset ${JSON.stringify(file.slice(0, 200))}`);
    if (dir === undefined) throw notBuilt();
    // One plain name, checked before the file system is asked: `..`, slashes and encoded
    // slashes never reach a path.
    if (!ASSET_NAME.test(file)) throw notFound;
    let body: Buffer;
    try {
      body = await readFile(join(dir, "assets", file));
    } catch {
      throw notFound;
    }
    return c.body(new Uint8Array(body), 200, {
      "Content-Type": CONTENT_TYPES[extname(file)] ?? "application/octet-stream",
      "Cache-Control": "public, max-age=31536000, immutable",
      "X-Content-Type-Options": "nosniff",
    });
  });
}
