import { InvalidArgumentError } from "../runtime/index.js";

/** How a process tree is isolated: this event loop, a worker thread, or a child process. */
export type Isolation = "inline" | "thread" | "process";
export type HostKind = Exclude<Isolation, "inline">;

export const ISOLATIONS: readonly Isolation[] = ["inline", "thread", "process"];

export interface HostLimits {
  /** V8 old-generation heap limit of the host, in MiB (thread and process). */
  maxHeapMb: number;
  /** Address-space limit of a child process, enforced by the OS (RLIMIT_AS), in MiB. */
  maxMemoryMb: number;
  /** A host that sends no heartbeat for this long is terminated and reported as hung, in ms. */
  hangTimeoutMs: number;
  /** How long a new host may take to come up, in ms. */
  startTimeoutMs: number;
  /** How long a stopping host may take to stop its processes before it is killed, in ms. */
  stopTimeoutMs: number;
  /**
   * How much a host may have sent that its parent has not handled yet, in MiB (each frame counts
   * its payload plus a fixed cost). A host past it is stopped as a `flood`.
   */
  maxInFlightMb: number;
}

export const DEFAULT_HOST_LIMITS: Readonly<HostLimits> = Object.freeze({
  maxHeapMb: 256,
  maxMemoryMb: 2048,
  hangTimeoutMs: 5000,
  startTimeoutMs: 15_000,
  stopTimeoutMs: 5000,
  maxInFlightMb: 16,
});

/** V8 and Node reserve address space up front: below this a child process cannot start. */
export const MIN_PROCESS_MEMORY_MB = 1024;

const RANGES: Record<keyof HostLimits, [number, number]> = {
  maxHeapMb: [16, 65_536],
  maxMemoryMb: [MIN_PROCESS_MEMORY_MB, 1_048_576],
  hangTimeoutMs: [20, 3_600_000],
  startTimeoutMs: [100, 600_000],
  stopTimeoutMs: [0, 600_000],
  maxInFlightMb: [1, 65_536],
};

export function checkIsolation(value: unknown, what = "isolation"): Isolation {
  if (!ISOLATIONS.includes(value as Isolation)) {
    throw new InvalidArgumentError(
      what,
      `must be one of ${ISOLATIONS.join(", ")}, got ${JSON.stringify(value)}`,
    );
  }
  return value as Isolation;
}

/** Fills `limits` from `base` and checks every field; the error names the bad one. */
export function resolveLimits(
  limits: Partial<HostLimits> | undefined,
  base: HostLimits = DEFAULT_HOST_LIMITS,
): HostLimits {
  if (limits !== undefined && (typeof limits !== "object" || limits === null)) {
    throw new InvalidArgumentError("limits", "must be an object");
  }
  const out = { ...base };
  for (const [key, value] of Object.entries(limits ?? {})) {
    const range = RANGES[key as keyof HostLimits];
    if (!range)
      throw new InvalidArgumentError(
        `limits.${key}`,
        `is not a host limit (${Object.keys(RANGES).join(", ")})`,
      );
    if (value === undefined) continue;
    if (typeof value !== "number" || !Number.isInteger(value) || value < range[0] || value > range[1]) {
      throw new InvalidArgumentError(
        `limits.${key}`,
        `must be a whole number from ${range[0]} to ${range[1]}`,
      );
    }
    out[key as keyof HostLimits] = value;
  }
  return out;
}
