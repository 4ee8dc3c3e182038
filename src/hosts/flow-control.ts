/**
 * Flow control from a host to its parent. A host may have at most `maxInFlightMb` of frames
 * that its parent has not handled yet; the parent acknowledges what it has handled, in batches.
 * Without it a host sending in a loop fills the channel (a worker's message queue lives in the
 * parent's address space) and the parent's heap faster than the parent can drain them, and the
 * watchdog, which sees frames arriving, takes it for healthy.
 */

import { monotonicMs } from "../runtime/clock.js";
import type { Frame } from "./frames.js";

/**
 * What a frame costs beyond its payload, as bytes: the message envelope on the channel, the
 * objects it is decoded into, and a turn of the parent's loop. It bounds a flood of tiny frames,
 * whose handling costs more than their bytes say.
 */
export const FRAME_COST_BYTES = 4096;

/** The parent acknowledges at least this often, even within one turn of its event loop. */
const ACK_EVERY_FRAMES = 512;

/** What a host that is over its budget is told, and what its death reason says. */
export function floodWords(report: { frames: number; bytes: number; budget: number }): string {
  const mb = (bytes: number) => (bytes / (1024 * 1024)).toFixed(1);
  return `it sent ${report.frames} frames (${mb(report.bytes)} MB) its parent had not handled yet, over its limit of ${mb(report.budget)} MB (maxInFlightMb)`;
}

/** Roughly how much carrying and handling a frame costs: its payload plus `FRAME_COST_BYTES`. */
export function frameBytes(frame: Frame): number {
  return FRAME_COST_BYTES + payloadBytes(frame, 0);
}

function payloadBytes(value: unknown, depth: number): number {
  if (typeof value === "string") return value.length;
  if (typeof value !== "object" || value === null) return 8;
  // Terms are trees (the codec refuses cycles by overflowing first); the depth bound is a guard.
  if (depth > 64) return 8;
  if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer) return value.byteLength;
  if (value instanceof Date) return 16;
  let total = 16;
  if (Array.isArray(value)) {
    for (const item of value) total += payloadBytes(item, depth + 1);
  } else if (value instanceof Map) {
    for (const [key, item] of value) total += payloadBytes(key, depth + 1) + payloadBytes(item, depth + 1);
  } else if (value instanceof Set) {
    for (const item of value) total += payloadBytes(item, depth + 1);
  } else {
    for (const key of Object.keys(value)) {
      total += key.length + payloadBytes((value as Record<string, unknown>)[key], depth + 1);
    }
  }
  return total;
}

/** The host's side: what it has sent that the parent has not acknowledged. */
export class SendWindow {
  /** Sizes of the unacknowledged frames, oldest first (from `head`). */
  private sizes: number[] = [];
  private head = 0;
  private acknowledged = 0;
  private inFlightBytes = 0;

  constructor(readonly budgetBytes: number) {}

  get bytes(): number {
    return this.inFlightBytes;
  }

  get frames(): number {
    return this.sizes.length - this.head;
  }

  /** Frames the parent has acknowledged, in all. */
  get handled(): number {
    return this.acknowledged;
  }

  /** Frames sent, in all. */
  get sentFrames(): number {
    return this.acknowledged + this.frames;
  }

  /** Whether a frame of `size` may go. With nothing in flight it always may: one large frame is not a flood. */
  admits(size: number): boolean {
    return this.inFlightBytes === 0 || this.inFlightBytes + size <= this.budgetBytes;
  }

  sent(size: number): void {
    this.sizes.push(size);
    this.inFlightBytes += size;
  }

  /** The parent has handled `handled` of our frames in all. */
  acked(handled: number): void {
    while (this.acknowledged < handled && this.head < this.sizes.length) {
      this.inFlightBytes -= this.sizes[this.head++] as number;
      this.acknowledged++;
    }
    if (this.head > 1024 && this.head * 2 > this.sizes.length) {
      this.sizes = this.sizes.slice(this.head);
      this.head = 0;
    }
  }
}

/** How long the parent handles one host's frames before it lets the rest of its work run. */
const SLICE_MS = 1;

/**
 * The parent's side: a host's frames, handled in order and in slices of `SLICE_MS`, so that a
 * host sending faster than the parent handles cannot starve the parent's other work (its other
 * hosts, its own processes, its timers). Handled frames are acknowledged in batches; a frame
 * whose handling goes on (a call to answer, a service request) is acknowledged when it ends.
 *
 * The parent counts what waits here — queued, or being handled — by the same measure as the
 * host, so an honest host is stopped by its own count first. One that bypassed it (posting on
 * its channel directly) is over its budget by the parent's count, and `onOverflow` is told.
 */
export class Inbound {
  private queue: Frame[] = [];
  private sizes: number[] = [];
  private head = 0;
  private waitingBytes = 0;
  private closed = false;
  private drainScheduled = false;
  private draining = false;
  private handled = 0;
  private acknowledged = 0;
  private ackScheduled = false;
  /** When this turn of the event loop began handling the host's frames; reset at the next turn. */
  private turnStarted: number | undefined;

  constructor(
    private readonly budgetBytes: number,
    private readonly handle: (frame: Frame) => undefined | Promise<unknown>,
    private readonly sendAck: (handled: number) => void,
    private readonly onOverflow: (waitingBytes: number) => void,
  ) {}

  /** Frames queued and not yet begun. */
  get backlog(): number {
    return this.queue.length - this.head;
  }

  push(frame: Frame): void {
    if (this.closed) return;
    const size = frameBytes(frame);
    // As on the host's side, one frame alone is never over the budget.
    if (this.waitingBytes > 0 && this.waitingBytes + size > this.budgetBytes) {
      const waiting = this.waitingBytes + size;
      this.close();
      this.onOverflow(waiting);
      return;
    }
    this.waitingBytes += size;
    this.queue.push(frame);
    this.sizes.push(size);
    if (!this.draining && !this.drainScheduled) this.drain();
  }

  /** Handles every queued frame now: the host is gone, and what it said before must count. */
  flush(): void {
    if (!this.draining) this.drain(true);
  }

  /** Drops what is queued and takes nothing more. */
  close(): void {
    this.closed = true;
    this.queue = [];
    this.sizes = [];
    this.head = 0;
  }

  private drain(all = false): void {
    this.drainScheduled = false;
    this.draining = true;
    const turnStarted = this.startTurn();
    try {
      while (this.head < this.queue.length && !this.closed) {
        // The slice is per turn, not per call: frames arrive one event each, all in one turn.
        if (!all && monotonicMs() - turnStarted >= SLICE_MS) break;
        const frame = this.queue[this.head] as Frame;
        const size = this.sizes[this.head] as number;
        this.head++;
        const handling = this.handle(frame);
        if (handling) {
          const end = () => this.done(size);
          handling.then(end, end);
        } else {
          this.done(size);
        }
      }
    } finally {
      this.draining = false;
      if (this.head > 1024 && this.head * 2 > this.queue.length) {
        this.queue = this.queue.slice(this.head);
        this.sizes = this.sizes.slice(this.head);
        this.head = 0;
      }
      if (this.head < this.queue.length && !this.closed) {
        this.drainScheduled = true;
        setImmediate(() => this.drain());
      }
    }
  }

  private startTurn(): number {
    if (this.turnStarted === undefined) {
      this.turnStarted = monotonicMs();
      setImmediate(() => {
        this.turnStarted = undefined;
      });
    }
    return this.turnStarted;
  }

  private done(size: number): void {
    this.waitingBytes -= size;
    this.handled++;
    if (this.handled - this.acknowledged >= ACK_EVERY_FRAMES) this.ack();
    else if (!this.ackScheduled) {
      this.ackScheduled = true;
      setImmediate(() => this.ack());
    }
  }

  private ack(): void {
    this.ackScheduled = false;
    if (this.handled === this.acknowledged || this.closed) return;
    this.acknowledged = this.handled;
    this.sendAck(this.handled);
  }
}
