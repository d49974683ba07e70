// The bench's plot (bench/results/bench-*.svg): per measurement, requests per second and the p99
// latency of each second over the run, so that a dip or a climbing p99 shows saturation or a stall.
import { fmt } from "./report";

/** Per measurement, one point per second: requests completed and their p99 latency (ms). */
export type Series = Record<string, { t: number; rps: number; p99: number }[]>;

export function svg(series: Series): string {
  const names = Object.keys(series);
  const maxT = Math.max(1, ...names.flatMap((n) => series[n]!.map((p) => p.t)));
  const maxR = Math.max(1, ...names.flatMap((n) => series[n]!.map((p) => p.rps)));
  const maxL = Math.max(1, ...names.flatMap((n) => series[n]!.map((p) => p.p99)));
  const W = 900;
  const H = 260;
  const colors = [
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
  ];
  const path = (pts: { t: number; v: number }[], max: number, y0: number) =>
    pts
      .map((p, i) => `${i ? "L" : "M"}${40 + (p.t / maxT) * (W - 60)},${y0 + H - (p.v / max) * H}`)
      .join(" ");
  const parts = names.map((n, i) => {
    const c = colors[i % colors.length];
    return `<path d="${path(
      series[n]!.map((p) => ({ t: p.t, v: p.rps })),
      maxR,
      30,
    )}" stroke="${c}" fill="none"/>
<path d="${path(
      series[n]!.map((p) => ({ t: p.t, v: p.p99 })),
      maxL,
      330,
    )}" stroke="${c}" fill="none"/>
<text x="${W + 10}" y="${40 + i * 16}" fill="${c}" font-size="11">${n.replace(/&/g, "&amp;").replace(/</g, "&lt;")}</text>`;
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W + 420}" height="640" font-family="sans-serif">
<text x="40" y="20" font-size="13">requests per second over time (max ${fmt(maxR, 0)})</text>
<text x="40" y="320" font-size="13">p99 latency per second, ms (max ${fmt(maxL, 1)})</text>
${parts.join("\n")}
</svg>`;
}
