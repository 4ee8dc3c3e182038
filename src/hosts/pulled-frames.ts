/**
 * A thread host's frames, once its parent falls behind, on a channel of their own that the
 * parent reads at its own pace.
 *
 * Node hands a port's listener every message queued on it in one go, each decoded as it is
 * handed: a thread that posted 4,000 frames while its parent was busy cost the parent one block
 * of 10–30 ms, whatever the parent did with them next, and every other session waited behind it.
 * Read with `receiveMessageOnPort` instead, a frame is decoded only when the parent takes it, and
 * the parent takes them in slices. A port read that way fires no event, so the host rings a
 * bell on its usual port when it posts into a channel the parent has found empty; the two share
 * one flag, so a busy channel costs no bells. While the parent keeps up, frames go on the usual
 * port, where they cost no bell.
 */
import { type MessagePort, receiveMessageOnPort } from "node:worker_threads";
import { monotonicMs } from "../runtime/clock.js";

/** What the host posts on its usual port to say frames wait on the pulled channel. */
export const BELL = "bell";

/** The flag's value while the parent waits for a bell: it found the channel empty. */
const WAITING = 1;

/** How long the parent decodes one host's frames before it lets the rest of its work run. */
const PULL_SLICE_MS = 1;

/** The channel's two ends as a thread host gets them in its boot. */
export interface PulledChannel {
  port: MessagePort;
  /** One Int32: `WAITING` while the parent waits for a bell. */
  flag: SharedArrayBuffer;
}

/** What the host's poster reads of its flow control (flow-control.ts's `SendWindow`). */
export interface PosterWindow {
  /** Whether the parent has so much of ours to handle that it is behind. */
  behind(): boolean;
  /** Frames sent in all, the one being posted included. */
  sent(): number;
  /** Frames the parent has said it handled, in all. */
  handled(): number;
}

/**
 * The host's side. A frame goes on the host's usual port (`direct`) while the parent keeps up;
 * once it is behind, on the pulled channel, and on until the parent has handled the last frame
 * put there, so that no frame overtakes one sent before it.
 */
export function framePoster(
  channel: PulledChannel,
  window: PosterWindow,
  direct: (frame: unknown) => void,
  ring: () => void,
): (frame: unknown) => void {
  const flag = new Int32Array(channel.flag);
  /** How many frames had been sent when the last one went on the pulled channel. */
  let lastPulled = 0;
  return (frame) => {
    if (!window.behind() && window.handled() >= lastPulled) {
      direct(frame);
      return;
    }
    channel.port.postMessage(frame);
    lastPulled = window.sent();
    if (Atomics.load(flag, 0) === WAITING && Atomics.exchange(flag, 0, 0) === WAITING) ring();
  };
}

/**
 * The parent's side: takes the host's frames for at most `PULL_SLICE_MS` a turn of its loop, and
 * only while `caughtUp` says the parent has begun every frame it took: frames are decoded no
 * faster than they are handled, so decoding and handling share one slice (the handler's).
 */
export class PulledFrames<T> {
  private readonly flag: Int32Array;
  private scheduled = false;
  private closed = false;

  constructor(
    private readonly port: MessagePort,
    flag: SharedArrayBuffer,
    private readonly deliver: (frame: T) => void,
    private readonly caughtUp: () => boolean = () => true,
  ) {
    this.flag = new Int32Array(flag);
    Atomics.store(this.flag, 0, WAITING);
  }

  /** The host rang: frames wait. */
  rang(): void {
    if (!this.scheduled && !this.closed) this.pull();
  }

  /** Takes every frame left now, in order: the host has ended, and what it said must count. */
  drain(): void {
    for (let got = this.take(); got !== undefined && !this.closed; got = this.take()) {
      this.deliver(got.message);
    }
  }

  close(): void {
    this.closed = true;
    this.port.close();
  }

  private readonly pull = (): void => {
    this.scheduled = false;
    const started = monotonicMs();
    while (!this.closed && this.caughtUp()) {
      const got = this.take() ?? this.takeOrWait();
      if (got === undefined) return; // The host rings for the next one.
      this.deliver(got.message);
      if (monotonicMs() - started >= PULL_SLICE_MS) break;
    }
    if (this.closed) return;
    this.scheduled = true;
    setImmediate(this.pull);
  };

  private take(): { message: T } | undefined {
    return receiveMessageOnPort(this.port) as { message: T } | undefined;
  }

  /** The channel looked empty: ask for a bell, then look once more for a frame that rang none. */
  private takeOrWait(): { message: T } | undefined {
    Atomics.store(this.flag, 0, WAITING);
    const late = this.take();
    // Found after all: no bell is needed for it (if one came anyway, it finds the channel empty).
    if (late !== undefined) Atomics.store(this.flag, 0, 0);
    return late;
  }
}
