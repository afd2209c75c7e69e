// Consumer lag per group over the time this page has been open, drawn with uPlot. Lag is a record
// count (not money), so it is plotted as a number.
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';

export interface LagSample {
  /** Seconds since the epoch. */
  readonly at: number;
  /** Total lag of each group at that time. */
  readonly lag: ReadonlyMap<string, number>;
}

const colours = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf', '#ff7f0e'];

export function LagChart(props: { samples: readonly LagSample[] }) {
  const container = useRef<HTMLDivElement>(null);
  const groups = [...new Set(props.samples.flatMap((sample) => [...sample.lag.keys()]))].sort();
  const key = groups.join('|');
  const plot = useRef<uPlot | null>(null);

  useEffect(() => {
    const element = container.current;
    if (element === null) return undefined;
    const options: uPlot.Options = {
      width: Math.max(element.clientWidth, 300),
      height: 220,
      series: [{}, ...groups.map((group, index) => ({ label: group, stroke: colours[index % colours.length] ?? '#000', width: 2 }))],
      axes: [{}, { label: 'records behind' }],
      scales: { x: { time: true } },
    };
    plot.current = new uPlot(options, [[]], element);
    return () => {
      plot.current?.destroy();
      plot.current = null;
    };
    // Rebuilt only when the set of groups changes; new samples go through setData below.
  }, [key]);

  useEffect(() => {
    const data: uPlot.AlignedData = [props.samples.map((sample) => sample.at), ...groups.map((group) => props.samples.map((sample) => sample.lag.get(group) ?? null))];
    plot.current?.setData(data);
  });

  return <div ref={container} role="img" aria-label={`Consumer lag per group: ${groups.map((group) => `${group} ${String(props.samples.at(-1)?.lag.get(group) ?? 0)}`).join(', ') || 'no groups'}`} />;
}
