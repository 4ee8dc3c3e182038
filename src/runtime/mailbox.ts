import type { PendingCall } from "./pending-call.js";

export const CAST = 1;
export const INFO = 2;

/** What kind of message an entry is: a cast, an info, or the pending call it answers. */
export type MailboxTag = typeof CAST | typeof INFO | PendingCall;

/**
 * A process's FIFO of messages, kept as flat (tag, message) pairs in one array rather than as
 * an object per message: a burst of casts then allocates nothing per message, which keeps
 * queued messages from being copied through the young generation on every scavenge.
 */
/**
 * The slots of every mailbox that has not had a message yet: most processes of a session are
 * never sent one before they are idle, and an array each would cost 32 bytes a process. Never
 * written to: `push` replaces it with an array of the mailbox's own.
 */
const NO_SLOTS: unknown[] = [];

export class Mailbox {
  private slots: unknown[] = NO_SLOTS;
  private head = 0;

  get length(): number {
    return (this.slots.length - this.head) >> 1;
  }

  push(tag: MailboxTag, message: unknown): void {
    const slots = this.slots;
    if (slots === NO_SLOTS) this.slots = [tag, message];
    else if (this.head === 2 && slots.length === 2) {
      // Emptied after one message (see takeMessage): the same two slots take the next.
      slots[0] = tag;
      slots[1] = message;
      this.head = 0;
    } else slots.push(tag, message);
  }

  /** Takes the next entry; read its message with `takeMessage` right after. */
  takeTag(): MailboxTag {
    const tag = this.slots[this.head] as MailboxTag;
    this.slots[this.head] = undefined;
    return tag;
  }

  takeMessage(): unknown {
    const slots = this.slots;
    const message = slots[this.head + 1];
    slots[this.head + 1] = undefined;
    this.head += 2;
    if (this.head === slots.length) {
      // Empty. Most processes take one message at a time: their two slots are kept for the
      // next (head stays past them), where cutting the array to length 0 would give up its
      // backing store and the next push allocate another (~150 bytes a message). A longer one
      // is let go.
      if (slots.length !== 2) {
        this.slots = NO_SLOTS;
        this.head = 0;
      }
    } else if (this.head > 2048 && this.head * 2 > slots.length) {
      slots.splice(0, this.head);
      this.head = 0;
    }
    return message;
  }

  /** Empties the mailbox, returning the calls still waiting in it. */
  drainCalls(): PendingCall[] {
    const calls: PendingCall[] = [];
    for (let i = this.head; i < this.slots.length; i += 2) {
      const tag = this.slots[i];
      if (typeof tag === "object" && tag !== null) calls.push(tag as PendingCall);
    }
    this.slots = NO_SLOTS;
    this.head = 0;
    return calls;
  }
}
