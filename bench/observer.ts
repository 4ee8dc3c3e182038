// The web observer's benchmark: `serve` with 1,000 and then 10,000 sessions (memory store, the
// offline model), the page loaded in Debian's headless Chromium (playwright-core), timed from
// navigation to the first session row drawn and to the whole list known ("N of N sessions");
// then how many rows the page keeps in its DOM (the list is virtualised: it should stay flat as
// sessions grow) and the page's JS heap. Server, sessions and browser share this machine.
import { existsSync } from "node:fs";
import { performance } from "node:perf_hooks";
import { chromium } from "playwright-core";
import { MemorySessionStore, SessionSystem, serve, silentLogger } from "../src/index.js";
import { defaultObserverDir } from "../src/server/observer.js";
import { type Figure, renderTable } from "./table.js";

const CHROMIUM = "/usr/bin/chromium";
const COUNTS = [1000, 10_000];
/** Sessions created at once while filling the system. */
const CREATE_BATCH = 200;

export interface ObserverRun {
  sessions: number;
  firstRowMs: number;
  allKnownMs: number;
  rowsInDom: number;
  heapMb: number;
}

export type ObserverFigures = { available: true; runs: ObserverRun[] } | { available: false; why: string };

export async function measureObserver(): Promise<ObserverFigures> {
  if (!existsSync(CHROMIUM))
    return { available: false, why: `${CHROMIUM} is missing (apt-get install chromium)` };
  if (!defaultObserverDir()) return { available: false, why: "the observer is not built (npm run build)" };
  const browser = await chromium.launch({
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
      "--enable-precise-memory-info",
    ],
  });
  const runs: ObserverRun[] = [];
  try {
    for (const count of COUNTS) runs.push(await measureOne(browser, count));
  } finally {
    await browser.close();
  }
  return { available: true, runs };
}

async function measureOne(browser: import("playwright-core").Browser, count: number): Promise<ObserverRun> {
  const system = await SessionSystem.start({
    logger: silentLogger(),
    store: new MemorySessionStore(),
    maxSessions: count + 10,
    idleSweepMs: 600_000,
  });
  const server = await serve({ system, port: 0 });
  try {
    for (let made = 0; made < count; made += CREATE_BATCH) {
      const batch = Math.min(CREATE_BATCH, count - made);
      await Promise.all(
        Array.from({ length: batch }, (_, i) => system.createSession({ name: `s${made + i}` })),
      );
    }
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    try {
      const started = performance.now();
      await page.goto(server.url);
      await page.waitForSelector('[data-testid="session-row"]', { timeout: 120_000 });
      const firstRowMs = performance.now() - started;
      await page.waitForFunction(
        (n) => {
          const page = globalThis as unknown as {
            document: { querySelector(selector: string): { textContent: string | null } | null };
          };
          const text = page.document.querySelector('[data-testid="session-count"]')?.textContent?.trim();
          return text === `${n} of ${n} sessions`;
        },
        count,
        { timeout: 120_000, polling: 50 },
      );
      const allKnownMs = performance.now() - started;
      const rowsInDom = await page.locator('[data-testid="session-row"]').count();
      const heapBytes = await page.evaluate(
        () => (performance as unknown as { memory?: { usedJSHeapSize: number } }).memory?.usedJSHeapSize ?? 0,
      );
      return { sessions: count, firstRowMs, allKnownMs, rowsInDom, heapMb: heapBytes / (1024 * 1024) };
    } finally {
      await page.close();
    }
  } finally {
    await server.close();
    await system.stop();
  }
}

export function observerTable(figures: ObserverFigures): string {
  if (!figures.available) return `### observer: not measured (${figures.why})\n`;
  const rows: Figure[] = figures.runs.flatMap((run) => {
    const label = `${run.sessions.toLocaleString("en-US")} sessions`;
    const figure = (name: string, unit: string, ours: number, higherIsBetter = false): Figure => ({
      name: `${label}: ${name}`,
      unit,
      ours,
      otp: undefined,
      higherIsBetter,
    });
    return [
      figure("navigation → first session row drawn", "ms", run.firstRowMs),
      figure('navigation → "N of N sessions" (the whole tree known)', "ms", run.allKnownMs),
      figure("session rows in the DOM (virtualised list)", "rows", run.rowsInDom),
      figure("page JS heap", "MB", run.heapMb),
    ];
  });
  return renderTable(
    "observer: the web page in headless Chromium, time to first render as sessions grow",
    rows,
    { name: "—" },
  );
}
