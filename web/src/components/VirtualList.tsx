import type { ComponentChildren } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";

interface Props<T> {
  items: readonly T[];
  rowHeight: number;
  render: (item: T) => ComponentChildren;
  keyOf: (item: T) => string;
  /** Rows drawn above and below the visible ones, so a fast scroll shows no gap. */
  overscan?: number;
}

/**
 * A list that draws only the rows in view (all rows the same height): ten thousand sessions
 * cost as much to draw as the forty on screen.
 */
export function VirtualList<T>({ items, rowHeight, render, keyOf, overscan = 10 }: Props<T>) {
  const box = useRef<HTMLDivElement>(null);
  const [top, setTop] = useState(0);
  const [height, setHeight] = useState(600);
  useEffect(() => {
    const element = box.current;
    if (!element) return;
    const observer = new ResizeObserver(() => setHeight(element.clientHeight));
    observer.observe(element);
    return () => observer.disconnect();
  }, []);
  // The list may have shrunk under a scrolled view (a search): the browser clamps its scroll
  // position without always telling, so the window is clamped here too.
  const at = Math.min(top, Math.max(0, items.length * rowHeight - height));
  const first = Math.max(0, Math.floor(at / rowHeight) - overscan);
  const last = Math.min(items.length, Math.ceil((at + height) / rowHeight) + overscan);
  return (
    <div
      class="vlist"
      ref={box}
      onScroll={(e) => setTop(e.currentTarget.scrollTop)}
      data-testid="virtual-list"
    >
      <div style={{ height: `${items.length * rowHeight}px`, position: "relative" }}>
        {items.slice(first, last).map((item, i) => (
          <div
            key={keyOf(item)}
            class="vrow"
            style={{ top: `${(first + i) * rowHeight}px`, height: `${rowHeight}px` }}
          >
            {render(item)}
          </div>
        ))}
      </div>
    </div>
  );
}
