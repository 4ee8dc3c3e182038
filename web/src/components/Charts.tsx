import { useEffect, useRef } from "preact/hooks";
import uPlot from "uplot";
import type { Series } from "../observer-state.js";

/** Seconds the charts show. */
const WINDOW_S = 300;

interface ChartProps {
  title: string;
  testId: string;
  times: number[];
  lines: { label: string; values: number[]; color: string }[];
}

/** One small uPlot chart over time, its data replaced each second. */
function Chart({ title, testId, times, lines }: ChartProps) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | undefined>(undefined);
  const data = [times, ...lines.map((l) => l.values)] as uPlot.AlignedData;

  useEffect(() => {
    const element = box.current;
    if (!element) return;
    plot.current = new uPlot(
      {
        width: Math.max(200, element.clientWidth),
        height: 140,
        legend: { show: true },
        // The last five minutes, however few points there are yet; counts from 0.
        scales: {
          x: {
            time: true,
            range: () => {
              const now = Date.now() / 1000;
              return [now - WINDOW_S, now];
            },
          },
          // No data yet gives null bounds.
          y: { range: (_u, _min, max) => [0, Math.max(2, Math.ceil((max ?? 0) * 1.1))] },
        },
        axes: [{ stroke: "#889" }, { stroke: "#889", size: 40 }],
        series: [{}, ...lines.map((l) => ({ label: l.label, stroke: l.color, width: 1.5 }))],
      },
      data,
      element,
    );
    const resize = new ResizeObserver(() =>
      plot.current?.setSize({ width: Math.max(200, element.clientWidth), height: 140 }),
    );
    resize.observe(element);
    return () => {
      resize.disconnect();
      plot.current?.destroy();
      plot.current = undefined;
    };
    // The chart is made once; its data is set below as it changes.
  }, []);

  useEffect(() => {
    plot.current?.setData(data);
  });

  return (
    <div class="chart" data-testid={testId}>
      <h3>{title}</h3>
      <div ref={box} />
    </div>
  );
}

/** Sessions, turns and restarts over the last minutes, sampled each second from the pushed events. */
export function Charts({ series }: { series: Series }) {
  return (
    <section class="charts">
      <Chart
        title="Sessions"
        testId="chart-sessions"
        times={series.t}
        lines={[
          { label: "all", values: series.sessions, color: "#6aa9ff" },
          { label: "running", values: series.running, color: "#5fd38d" },
        ]}
      />
      <Chart
        title="Turns / s"
        testId="chart-turns"
        times={series.t}
        lines={[{ label: "turns", values: series.turns, color: "#f0c05a" }]}
      />
      <Chart
        title="Restarts / s"
        testId="chart-restarts"
        times={series.t}
        lines={[{ label: "crashes", values: series.restarts, color: "#ff6b6b" }]}
      />
    </section>
  );
}
