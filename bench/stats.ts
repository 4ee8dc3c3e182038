import { performance } from "node:perf_hooks";

export function percentile(sorted: Float64Array | number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index] as number;
}

/** The middle value (the lower of the two middle ones for an even count). */
export function median(values: number[]): number {
  return percentile(
    [...values].sort((a, b) => a - b),
    50,
  );
}

/** Median and p99 of samples in ms, reported in µs. */
export function latencyUs(samplesMs: Float64Array): { median: number; p99: number } {
  const sorted = Float64Array.from(samplesMs).sort();
  return { median: percentile(sorted, 50) * 1000, p99: percentile(sorted, 99) * 1000 };
}

export async function rate(count: number, run: () => Promise<void> | void): Promise<number> {
  const started = performance.now();
  await run();
  return count / ((performance.now() - started) / 1000);
}

/** Heap bytes after a full collection (needs node --expose-gc; undefined without it). */
export function heapAfterGc(): number | undefined {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) return undefined;
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}
