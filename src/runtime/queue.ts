/**
 * Slots a queue keeps when it empties: the run queue and a call-timeout queue empty nearly every
 * time they are used, and an array cut to length 0 gives up its backing store, so the next push
 * would allocate a new one (~150 bytes, for every call and every drain). One that grew past
 * this in a burst is let go.
 */
const KEEP_SLOTS = 256;

/** A FIFO queue with O(1) amortised push and shift (Array#shift is O(n)). */
export class Queue<T> {
  private items: (T | undefined)[] = [];
  /** The live items are `items[head..tail)`; the slots after `tail` are spare, and undefined. */
  private head = 0;
  private tail = 0;

  get length(): number {
    return this.tail - this.head;
  }

  push(item: T): void {
    const items = this.items;
    if (this.tail < items.length) items[this.tail] = item;
    else items.push(item);
    this.tail++;
  }

  peek(): T | undefined {
    return this.head < this.tail ? this.items[this.head] : undefined;
  }

  shift(): T | undefined {
    if (this.head >= this.tail) return undefined;
    const items = this.items;
    const item = items[this.head];
    items[this.head] = undefined;
    this.head++;
    if (this.head === this.tail) {
      this.head = 0;
      this.tail = 0;
      if (items.length > KEEP_SLOTS) this.items = [];
    } else if (this.head > 1024 && this.head * 2 > this.tail) {
      items.splice(0, this.head);
      this.tail -= this.head;
      this.head = 0;
    }
    return item;
  }
}
