// The web observer end to end in real headless Chromium (Debian's package, driven by
// playwright-core): `serve` in development mode, the page loaded, a session created through
// the API appearing in the tree, a message sent from the page with its reply streaming in, and
// the session's supervisor killed with the page's button going recovering → active. Screenshots
// go to .test-output/observer/ and are checked to be real images.
//
// Needs `npm run build` first (the page is dist/observer) and /usr/bin/chromium.
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { type Browser, chromium, type Page } from "playwright-core";
import { defaultProviders, serve } from "../src/index.js";
import { defaultObserverDir, packageRoot } from "../src/server/observer.js";
import { twoClusterServers } from "./support/cluster-servers.js";
import { ALICE, BOB, TOKENS } from "./support/http-servers.js";
import { TestSchemas } from "./support/postgres-test-db.js";

const CHROMIUM = "/usr/bin/chromium";
const schemas = new TestSchemas();
after(() => schemas.dropAll());
const ROOT = packageRoot() as string;
const SHOTS = join(ROOT, ".test-output", "observer");
/** Each browser step waits at most this long (a loaded CI machine included). */
const STEP_MS = 20_000;

function requirements(): void {
  assert.ok(
    existsSync(CHROMIUM),
    `${CHROMIUM} is missing: install Debian's chromium (apt-get install chromium; scripts/ci-services.sh does it in CI)`,
  );
  const dir = defaultObserverDir();
  assert.ok(
    dir !== undefined && existsSync(join(dir, "index.html")),
    "the web observer is not built (dist/observer/index.html is missing): run `npm run build` first",
  );
}

async function launch(): Promise<Browser> {
  // launch() gives the browser a new, empty profile in a temporary folder, removed on close.
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}

/**
 * Run in the page: records in `window.__streamed` each new text of the streamed reply's
 * content, from every DOM change. A string, as it runs in the browser, not in Node.
 */
const STREAM_RECORDER = `(() => {
  window.__streamed = [];
  new MutationObserver(() => {
    const node = document.querySelector('[data-testid="streaming-reply"] .content');
    const text = node ? node.textContent : "";
    if (text && text !== window.__streamed.at(-1)) window.__streamed.push(text);
  }).observe(document.body, { subtree: true, childList: true, characterData: true });
})()`;

/** A screenshot, checked to be a PNG of the viewport's size with more than a blank page in it. */
async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(SHOTS, { recursive: true });
  const path = join(SHOTS, name);
  await page.screenshot({ path, fullPage: true });
  const png = readFileSync(path);
  assert.deepEqual(
    [...png.subarray(1, 4)].map((b) => String.fromCharCode(b)).join(""),
    "PNG",
    `${name} is a PNG`,
  );
  const width = png.readUInt32BE(16);
  const height = png.readUInt32BE(20);
  assert.ok(width >= 1200 && height >= 700, `${name} is ${width}x${height}`);
  // A blank page of that size compresses to a few KB; text, rows and charts do not.
  assert.ok(statSync(path).size > 20_000, `${name} is only ${statSync(path).size} bytes`);
  return path;
}

/** Polls `check` (in the test, against the page) until it holds; fails naming `what` after STEP_MS. */
async function eventually(what: string, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + STEP_MS;
  while (!(await check())) {
    assert.ok(Date.now() < deadline, `timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** A page of the viewport the screenshots expect, recording what it throws, each step bounded. */
async function openPage(browser: Browser): Promise<{ page: Page; pageErrors: string[] }> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  const pageErrors: string[] = [];
  page.on("pageerror", (error) => pageErrors.push(error.message));
  page.setDefaultTimeout(STEP_MS);
  return { page, pageErrors };
}

async function api<T>(url: string, method: string, body?: unknown, token?: string): Promise<T> {
  const response = await fetch(url, {
    method,
    headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  assert.ok(response.ok, `${method} ${url}: ${response.status} ${await response.clone().text()}`);
  return (await response.json()) as T;
}

describe("the web observer in headless Chromium", () => {
  it("shows a new session, streams its reply, and shows it recover after its supervisor is killed from the page", {
    timeout: 120_000,
  }, async (t) => {
    requirements();
    const server = await serve({
      dev: true,
      memory: true,
      port: 0,
      // Paced, so that the reply arrives as many deltas the page draws one by one.
      systemOptions: { providers: defaultProviders({ chunkDelayMs: 40 }) },
      closeGraceMs: 1000,
    });
    t.after(() => server.close());
    const browser = await launch();
    t.after(() => browser.close());
    const { page, pageErrors } = await openPage(browser);

    // The page: its streams open, development mode on.
    await page.goto(`${server.url}/`);
    await page.locator('[data-testid="connection"]', { hasText: "live" }).waitFor();
    await page.locator('[data-testid="dev-mode"]').waitFor();
    assert.equal(await page.locator('[data-testid="session-row"]').count(), 0);

    // A session created through the API appears in the tree, pushed.
    const created = await api<{ id: string }>(`${server.url}/v1/sessions`, "POST", { name: "browser-test" });
    const row = page.locator(`[data-testid="session-row"][data-session-id="${created.id}"]`);
    await row.and(page.locator('[data-status="active"]')).waitFor();
    assert.match((await row.textContent()) ?? "", /browser-test/);
    await page.locator('[data-testid="expand-all"]').check();
    // Its supervisor and its two agents under it.
    await page.locator('[data-testid="process-row"]').nth(2).waitFor();
    const processes = await page.locator('[data-testid="process-row"]').allInnerTexts();
    assert.ok(
      processes.some((p) => p.includes("session supervisor")),
      processes.join("\n"),
    );
    assert.ok(
      processes.some((p) => p.includes("context_manager")),
      processes.join("\n"),
    );
    assert.ok(
      processes.some((p) => p.includes("llm_orchestrator")),
      processes.join("\n"),
    );
    assert.equal(await page.locator('[data-testid="chart-sessions"] canvas').count(), 1);
    await screenshot(page, "1-overview.png");

    // Its page: a message sent from it, the reply streamed in delta by delta.
    await row.locator("a").click();
    await page.locator(`[data-testid="session-page"][data-session-id="${created.id}"]`).waitFor();
    const said = "echo the observer streams this reply in many small pieces one word after another";
    await page.locator('[data-testid="message-input"]').fill(said);
    // Every text the streamed reply shows in the DOM, as the page draws it (a MutationObserver
    // misses no drawing, where polling the page could).
    await page.evaluate(STREAM_RECORDER);
    await page.locator('[data-testid="send"]').click();
    const reply = said.slice("echo ".length);
    await page.locator('[data-testid="turn"][data-role="assistant"]', { hasText: reply }).waitFor();
    const drawn = (await page.evaluate("window.__streamed")) as string[];
    assert.ok(
      drawn.length >= 3,
      `the reply was drawn growing, ${drawn.length} times: ${JSON.stringify(drawn)}`,
    );
    for (const [i, text] of drawn.entries()) {
      assert.ok(reply.startsWith(text), `drawn text ${JSON.stringify(text)} is the start of the reply`);
      if (i > 0) assert.ok(text.length > (drawn[i - 1] as string).length, "each drawing shows more of it");
    }
    const deltas = Number(
      await page.locator('[data-testid="conversation"]').getAttribute("data-last-deltas"),
    );
    assert.ok(deltas > 3, `the reply came in ${deltas} deltas`);
    await page.locator('[data-testid="event-row"][data-type="llm_done"]').waitFor();
    await screenshot(page, "2-session-reply.png");

    // The kill button on its supervisor: the page shows recovering, then active, and the crash.
    const supervisor = page.locator(`[data-testid="process"][data-process-id="${created.id}"]`);
    const pidBefore = await supervisor.locator("code").textContent();
    const trail = page.locator('[data-testid="status-trail"] li');
    const before = await trail.count();
    await supervisor.locator('[data-testid="kill-process"]').click();
    await eventually("the trail shows recovering, then active", async () => {
      const seen = (await trail.allTextContents()).slice(before);
      const recovering = seen.indexOf("recovering");
      return recovering >= 0 && seen.slice(recovering + 1).includes("active");
    });
    assert.deepEqual((await trail.allTextContents()).slice(before), ["recovering", "active"]);
    await page
      .locator('[data-testid="session-head-status"] [data-testid="status-badge"]', { hasText: "active" })
      .waitFor();
    await page.locator('[data-testid="last-crash"]').waitFor();
    await eventually(
      "the supervisor has a new pid",
      async () => (await supervisor.locator("code").textContent()) !== pidBefore,
    );
    // The conversation came back with the restarted context manager.
    await page.locator('[data-testid="turn"][data-role="assistant"]', { hasText: reply }).waitFor();
    await screenshot(page, "3-session-recovered.png");

    // Back on the overview: one restart, the crash reason shown.
    await page.locator('a[href="#/"]').first().click();
    await row.and(page.locator('[data-status="active"]')).waitFor();
    await eventually(
      "the session's row counts one restart",
      async () => (await row.locator(".col-num").first().textContent()) === "1",
    );
    await screenshot(page, "4-overview-after-restart.png");
    assert.deepEqual(pageErrors, [], "the page threw no errors");
  });

  it("asks for a token on a server with tokens, sends it only as a header, and shows only its owner's sessions", {
    timeout: 120_000,
  }, async (t) => {
    requirements();
    const server = await serve({ memory: true, port: 0, tokens: TOKENS, closeGraceMs: 1000 });
    t.after(() => server.close());
    const mine = await api<{ id: string }>(`${server.url}/v1/sessions`, "POST", { name: "alice-1" }, ALICE);
    const theirs = await api<{ id: string }>(`${server.url}/v1/sessions`, "POST", { name: "bob-1" }, BOB);
    const browser = await launch();
    t.after(() => browser.close());
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    page.setDefaultTimeout(STEP_MS);
    const requests: { url: string; authorization: string | undefined }[] = [];
    page.on("request", (request) =>
      requests.push({ url: request.url(), authorization: request.headers().authorization }),
    );

    await page.goto(`${server.url}/`);
    const form = page.locator('[data-testid="token-form"]');
    await form.waitFor();
    await form.locator("input").fill("not-a-token");
    await form.locator("button").click();
    await form.locator(".error", { hasText: "refused" }).waitFor();
    await screenshot(page, "5-token-refused.png");

    await form.locator("input").fill(ALICE);
    await form.locator("button").click();
    await page.locator('[data-testid="connection"]', { hasText: "live" }).waitFor();
    await page.locator(`[data-testid="session-row"][data-session-id="${mine.id}"]`).waitFor();
    assert.equal(
      await page.locator(`[data-testid="session-row"][data-session-id="${theirs.id}"]`).count(),
      0,
    );
    assert.equal(
      await page.locator('[data-testid="dev-mode"]').count(),
      0,
      "no development mode without --dev",
    );
    assert.equal(await page.evaluate("sessionStorage.length"), 1, "the token is kept for this tab");

    for (const request of requests) assert.doesNotMatch(request.url, new RegExp(ALICE), "no token in a URL");
    const toApi = requests.filter((r) => new URL(r.url).pathname.startsWith("/v1/"));
    assert.ok(
      toApi.some((r) => r.authorization === `Bearer ${ALICE}`),
      "the API requests carry the token as a header",
    );
  });

  it("draws only the rows in view of a thousand sessions, and finds one by search", {
    timeout: 180_000,
  }, async (t) => {
    requirements();
    const server = await serve({ memory: true, port: 0, closeGraceMs: 1000 });
    t.after(() => server.close());
    const COUNT = 1000;
    for (let made = 0; made < COUNT; made += 50) {
      await Promise.all(
        Array.from({ length: 50 }, (_, i) =>
          api(`${server.url}/v1/sessions`, "POST", { name: `many-${String(made + i).padStart(4, "0")}` }),
        ),
      );
    }
    const browser = await launch();
    t.after(() => browser.close());
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    page.setDefaultTimeout(60_000);
    const began = performance.now();
    await page.goto(`${server.url}/`);
    await page
      .locator('[data-testid="session-count"]', { hasText: `${COUNT} of ${COUNT} sessions` })
      .waitFor();
    const firstRenderMs = Math.round(performance.now() - began);
    const drawn = await page.locator('[data-testid="session-row"]').count();
    assert.ok(drawn > 5 && drawn < 100, `${drawn} rows drawn of ${COUNT}`);

    // Scrolled to the end: the last sessions are drawn, still only a window of rows.
    await page.locator('[data-testid="virtual-list"]').evaluate((list) => {
      list.scrollTop = list.scrollHeight;
    });
    await page
      .locator('[data-testid="session-row"]', { hasText: `many-${String(COUNT - 1).padStart(4, "0")}` })
      .waitFor();
    assert.ok((await page.locator('[data-testid="session-row"]').count()) < 100);

    await page.locator('[data-testid="search"]').fill("many-0421");
    await page.locator('[data-testid="session-count"]', { hasText: `1 of ${COUNT} sessions` }).waitFor();
    assert.equal(await page.locator('[data-testid="session-row"]').count(), 1);
    await screenshot(page, "6-thousand-sessions-search.png");
    t.diagnostic(`first render of ${COUNT} sessions: ${firstRenderMs} ms (page load to the rows drawn)`);
  });

  it("shows a thread-isolated session's host, and its kill button makes the session recover in a new one", {
    timeout: 120_000,
  }, async (t) => {
    requirements();
    const server = await serve({
      dev: true,
      memory: true,
      port: 0,
      systemOptions: { isolation: "thread" },
      closeGraceMs: 1000,
    });
    t.after(() => server.close());
    const created = await api<{ id: string }>(`${server.url}/v1/sessions`, "POST", { name: "in-a-thread" });
    const browser = await launch();
    t.after(() => browser.close());
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    page.setDefaultTimeout(STEP_MS);
    await page.goto(`${server.url}/#/session/${created.id}`);
    const host = page.locator('[data-testid="host"]');
    await host.waitFor();
    const hostBefore = server.system.sessionHost(created.id)?.hostId as string;
    assert.match(
      (await host.textContent()) ?? "",
      new RegExp(`host ${hostBefore}.*thread.*pid ${process.pid} thread \\d+`),
    );
    const trail = page.locator('[data-testid="status-trail"] li');
    await trail.first().waitFor();
    const before = await trail.count();
    await host.locator('[data-testid="kill-host"]').click();
    await eventually("the trail shows recovering, then active", async () => {
      const seen = (await trail.allTextContents()).slice(before);
      return seen.indexOf("recovering") >= 0 && seen.slice(seen.indexOf("recovering") + 1).includes("active");
    });
    await eventually("the page shows the session's new host", async () => {
      const text = (await host.textContent()) ?? "";
      return !text.includes(hostBefore) && /host \S+/.test(text);
    });
    assert.notEqual(server.system.sessionHost(created.id)?.hostId, hostBefore);
    await screenshot(page, "7-host-killed.png");
  });

  it("in cluster mode names this node and each session's, and talks to a session of the other node from the page", {
    timeout: 120_000,
  }, async (t) => {
    requirements();
    const { a, b } = await twoClusterServers(t, schemas, { chunkDelayMs: 20 });
    const onA = await a.system.createSession({ name: "runs-on-a" });
    const onB = await b.system.createSession({ name: "runs-on-b" });
    const browser = await launch();
    t.after(() => browser.close());
    const { page, pageErrors } = await openPage(browser);

    await page.goto(`${b.url}/`);
    await page.locator('[data-testid="this-node"]', { hasText: "node b" }).waitFor();
    for (const [id, node] of [
      [onA.id, "a"],
      [onB.id, "b"],
    ] as const) {
      await page
        .locator(`[data-testid="session-row"][data-session-id="${id}"] [data-testid="session-node"]`, {
          hasText: node,
        })
        .waitFor();
    }
    await screenshot(page, "7-cluster-overview.png");

    // The session that runs on a, opened on b's page: a message from the page answered there.
    await page.locator(`[data-testid="session-row"][data-session-id="${onA.id}"] a`).click();
    await page.locator('[data-testid="session-page-node"]', { hasText: "on node a" }).waitFor();
    const said = "echo answered by the other node";
    await page.locator('[data-testid="message-input"]').fill(said);
    await page.locator('[data-testid="send"]').click();
    await page
      .locator('[data-testid="turn"][data-role="assistant"]', { hasText: "answered by the other node" })
      .waitFor();
    await page.locator('[data-testid="event-row"][data-type="llm_done"]').waitFor();
    await screenshot(page, "8-cluster-session-on-other-node.png");
    assert.deepEqual(pageErrors, [], "the page threw no errors");
  });
});
