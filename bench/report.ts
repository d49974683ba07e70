// The bench's printed report: the table of measurements and the ratio lines, one format for
// every mode.
import type { Summary } from "./load";

export const fmt = (n: number, d = 1) => (Number.isFinite(n) ? n.toFixed(d) : "-");

export interface Row {
  name: string;
  summary: Summary;
  note?: string;
}

/** A ratio line: what is divided, its value, and the target (or "(context)"). */
export type Ratio = [string, number, string];

/**
 * The bench's table: one line per measurement, then the ratios, then the notes (rows whose note
 * is `quietNote` say nothing beyond their name and are left out).
 */
export function printTable(rows: Row[], ratios: Ratio[], quietNote?: string): void {
  const header = ["measurement", "ok", "per s", "p50 ms", "p90 ms", "p99 ms", "max ms", "errors"];
  const lines = rows.map((r) => [
    r.name,
    String(r.summary.requests),
    fmt(r.summary.perSecond),
    fmt(r.summary.p50, 2),
    fmt(r.summary.p90, 2),
    fmt(r.summary.p99, 2),
    fmt(r.summary.max, 1),
    Object.entries(r.summary.errors)
      .map(([k, v]) => `${k}:${v}`)
      .join(" ") || "-",
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const out = (cells: string[]) =>
    console.log(cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  "));
  out(header);
  out(widths.map((w) => "-".repeat(w)));
  for (const l of lines) out(l);
  console.log("\nratios (measured in this run)");
  for (const [name, value, target] of ratios)
    console.log(`  ${name.padEnd(70)} ${fmt(value, 2).padStart(6)}   target ${target}`);
  const notes = rows.filter((r) => r.note && r.note !== quietNote);
  if (notes.length) {
    console.log("\nnotes: processes during the measurement, where the saga's time went");
    for (const r of notes) console.log(`  ${r.name}: ${r.note}`);
  }
}
