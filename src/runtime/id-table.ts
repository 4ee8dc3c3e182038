/** Slots per page: a page kept for one live process among dead ones costs this many words. */
const PAGE = 16;

interface Page<T> {
  readonly slots: (T | undefined)[];
  used: number;
}

/**
 * A table by an id this node hands out in increasing order (a pid's, a monitor's), as pages of
 * slots in a small Map by `id / PAGE`. The ids in use are dense and a new one's page is nearly
 * always one just used, so it is in the cache; a Map by id hashes every id into a table as large
 * as the node's process count, and at ten thousand sessions a set into it was the most expensive
 * line of a spawn. Values in id order, as a Map filled in increasing id order gives them: a page
 * is only ever made for the newest id, so pages are in increasing order too.
 */
export class IdTable<T> {
  private readonly pages = new Map<number, Page<T>>();
  private count = 0;
  /**
   * The page last set into, and its key: ids are handed out in increasing order, so a set (and
   * most gets) is for the page of the ids just before, found here without a lookup in `pages`.
   */
  private lastKey = -1;
  private lastPage: Page<T> | undefined = undefined;
  /** The greatest key a page was ever made for: a greater one has none, without a lookup. */
  private maxKey = -1;

  get size(): number {
    return this.count;
  }

  get(id: number): T | undefined {
    const key = Math.floor(id / PAGE);
    const page = key === this.lastKey ? this.lastPage : this.pages.get(key);
    return page?.slots[id % PAGE];
  }

  has(id: number): boolean {
    return this.get(id) !== undefined;
  }

  /** `id` must be a whole number ≥ 0 (a pid's or a monitor's id). */
  set(id: number, value: T): void {
    const key = Math.floor(id / PAGE);
    let page = key === this.lastKey ? this.lastPage : key > this.maxKey ? undefined : this.pages.get(key);
    if (page === undefined) {
      page = { slots: new Array<T | undefined>(PAGE).fill(undefined), used: 0 };
      this.pages.set(key, page);
      if (key > this.maxKey) this.maxKey = key;
    }
    this.lastKey = key;
    this.lastPage = page;
    const slot = id % PAGE;
    if (page.slots[slot] === undefined) {
      page.used++;
      this.count++;
    }
    page.slots[slot] = value;
  }

  delete(id: number): boolean {
    const key = Math.floor(id / PAGE);
    const page = this.pages.get(key);
    const slot = id % PAGE;
    if (page === undefined || page.slots[slot] === undefined) return false;
    page.slots[slot] = undefined;
    this.count--;
    if (--page.used === 0) {
      this.pages.delete(key);
      if (key === this.lastKey) {
        this.lastKey = -1;
        this.lastPage = undefined;
      }
    }
    return true;
  }

  /** Every value, in id order, as a new array. */
  values(): T[] {
    const values: T[] = [];
    for (const page of this.pages.values()) {
      for (const value of page.slots) if (value !== undefined) values.push(value);
    }
    return values;
  }
}
