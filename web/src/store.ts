import { useEffect, useReducer } from "preact/hooks";

/**
 * A value components watch. Changes are drawn once a frame at most: a burst of events (a
 * thousand sessions changing status) costs one render, not a thousand.
 */
export class Store<T> {
  private readonly listeners = new Set<() => void>();
  private scheduled = false;

  constructor(private state: T) {}

  get(): T {
    return this.state;
  }

  update(change: (state: T) => T): void {
    this.state = change(this.state);
    if (this.scheduled) return;
    this.scheduled = true;
    requestAnimationFrame(() => {
      this.scheduled = false;
      for (const listener of [...this.listeners]) listener();
    });
  }

  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}

/** The store's value, the component drawn again when it changes. */
export function useStore<T>(store: Store<T>): T {
  const [, redraw] = useReducer((n: number) => n + 1, 0);
  useEffect(() => store.subscribe(() => redraw(undefined)), [store]);
  return store.get();
}
