/**
 * A small trend chart as inline SVG: no script, no external image, only presentation attributes (the CSP forbids
 * inline styles). The accessible name says what the line shows, so the chart is not only visual.
 */
export function Sparkline(props: { values: number[]; label: string; width?: number; height?: number }) {
  const width = props.width ?? 132;
  const height = props.height ?? 32;
  const values = props.values.length > 0 ? props.values : [0];
  const max = Math.max(1, ...values);
  const step = values.length > 1 ? (width - 4) / (values.length - 1) : 0;
  const point = (v: number, i: number) =>
    [2 + i * step, height - 2 - (v / max) * (height - 4)].map((n) => Math.round(n * 10) / 10).join(",");
  const points = values.map(point);
  const [lastX, lastY] = (points[points.length - 1] ?? "0,0").split(",");
  return (
    <svg
      class="spark"
      role="img"
      aria-label={props.label}
      width={width}
      height={height}
      viewBox={`0 0 ${width} ${height}`}
      xmlns="http://www.w3.org/2000/svg"
    >
      <title>{props.label}</title>
      <line x1="2" y1={height - 2} x2={width - 2} y2={height - 2} stroke="#d0d7de" stroke-width="1" />
      <polyline
        points={points.join(" ")}
        fill="none"
        stroke="currentColor"
        stroke-width="2"
        stroke-linejoin="round"
        stroke-linecap="round"
      />
      <circle cx={lastX} cy={lastY} r="2.5" fill="currentColor" />
    </svg>
  );
}

/** A sparkline with its totals spelled out next to it. */
export function Trend(props: { values: number[]; what: string; from: string; to: string }) {
  const total = props.values.reduce((a, b) => a + b, 0);
  const peak = Math.max(0, ...props.values);
  const label = `${props.what} per day from ${props.from} to ${props.to}: ${total} in all, at most ${peak} in a day`;
  return (
    <div class="trend">
      <Sparkline values={props.values} label={label} />
      <small data-stat="trend_total" data-value={String(total)}>
        {`${total} in ${props.values.length} days`}
      </small>
    </div>
  );
}
