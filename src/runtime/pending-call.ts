import type { Clock, TimerHandle } from "./clock.js";
import { CallTimeoutError } from "./errors.js";
import { Queue } from "./queue.js";
import { valueOfResult } from "./result.js";

/** The caller's side of a call, handed to `handleCall`; reply through it to answer later. */
export interface From<Reply = unknown> {
  reply(value: Reply): void;
  /** The calling process, or undefined when the caller is code outside any process. */
  readonly caller: { toString(): string } | undefined;
}

/** Something that tracks calls whose reply it owes, so it can fail them when it exits. */
export interface ReplyHolder {
  deferred: Set<PendingCall> | undefined;
}

/** One outstanding call: settles once, by reply, failure or timeout. */
export class PendingCall implements From<unknown> {
  settled = false;
  deadline = 0;
  bucket: TimeoutBucket | undefined = undefined;
  holder: ReplyHolder | undefined = undefined;

  constructor(
    readonly target: { toString(): string },
    readonly caller: { toString(): string } | undefined,
    private readonly onReply: (value: unknown) => void,
    private readonly onFail: (error: unknown) => void,
    private readonly timeouts: CallTimeouts,
  ) {}

  reply(value: unknown): void {
    if (this.settled) return;
    this.finish();
    this.onReply(value);
  }

  fail(error: unknown): void {
    if (this.settled) return;
    this.finish();
    this.onFail(error);
  }

  private finish(): void {
    this.settled = true;
    this.holder?.deferred?.delete(this);
    this.holder = undefined;
    this.timeouts.settled(this);
  }
}

/**
 * A call whose reply is a Result (see CALL_FOR_RESULT): the caller's promise settles with the
 * result's value, or rejects with its error, as `unwrap` would.
 */
export class ResultCall extends PendingCall {
  override reply(value: unknown): void {
    if (this.settled) return;
    let unwrapped: unknown;
    try {
      unwrapped = valueOfResult(value, this.target);
    } catch (error) {
      this.fail(error);
      return;
    }
    super.reply(unwrapped);
  }
}

interface TimeoutBucket {
  readonly ms: number;
  readonly queue: Queue<PendingCall>;
  timer: TimerHandle | undefined;
}

/**
 * Call timeouts without a timer per call: calls that share a timeout value have deadlines in
 * call order, so each value gets one FIFO and one timer armed for its oldest live deadline.
 */
export class CallTimeouts {
  private readonly buckets = new Map<number, TimeoutBucket>();

  constructor(private readonly clock: Clock) {}

  track(call: PendingCall, ms: number): void {
    if (ms === Number.POSITIVE_INFINITY) return;
    let bucket = this.buckets.get(ms);
    if (!bucket) {
      bucket = { ms, queue: new Queue(), timer: undefined };
      this.buckets.set(ms, bucket);
    }
    call.deadline = this.clock.now() + ms;
    call.bucket = bucket;
    bucket.queue.push(call);
    if (!bucket.timer) this.arm(bucket, ms);
    else if (bucket.queue.length === 1) bucket.timer.ref?.();
  }

  settled(call: PendingCall): void {
    const bucket = call.bucket;
    if (!bucket) return;
    const queue = bucket.queue;
    while (queue.peek()?.settled) queue.shift();
    // An idle bucket's timer must not keep the program alive; it is dropped when it fires.
    if (queue.length === 0) bucket.timer?.unref?.();
  }

  private arm(bucket: TimeoutBucket, ms: number): void {
    bucket.timer = this.clock.setTimeout(() => this.fire(bucket), Math.max(0, ms));
  }

  private fire(bucket: TimeoutBucket): void {
    bucket.timer = undefined;
    const now = this.clock.now();
    const queue = bucket.queue;
    for (let head = queue.peek(); head; head = queue.peek()) {
      if (!head.settled && head.deadline > now) break;
      queue.shift();
      if (!head.settled) head.fail(new CallTimeoutError(head.target.toString(), bucket.ms));
    }
    const next = queue.peek();
    if (next) this.arm(bucket, next.deadline - now);
    else this.buckets.delete(bucket.ms);
  }
}
