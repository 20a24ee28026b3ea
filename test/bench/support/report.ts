/** How benches report: one JSON line per measure with its same-run baseline and the ratio. */
export function print(bench: string, value: number, unit: string, baseline: number): void {
  process.stdout.write(`${JSON.stringify({ bench, value: round(value), unit, baseline: round(baseline), ratio: round(value / baseline) })}\n`);
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}

/** The `p`th percentile (nearest rank) of `xs`; NaN for none. */
export function percentile(xs: readonly number[], p: number): number {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}
