/** Reading Prometheus' text format as a scraper would, for tests of dashboards and alerts. */

/** Metric families exported (from `# TYPE` lines), with the series names a histogram or summary adds. */
export function exportedMetricNames(text: string): Set<string> {
  const names = new Set<string>();
  for (const line of text.split('\n')) {
    const m = /^# TYPE (\S+) (\S+)/.exec(line);
    if (!m?.[1]) continue;
    names.add(m[1]);
    if (m[2] === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(`${m[1]}${s}`);
    if (m[2] === 'summary') for (const s of ['_sum', '_count']) names.add(`${m[1]}${s}`);
  }
  return names;
}

/** The metric names a PromQL expression refers to (ours, the process' standard ones, and the sidecars' Istio ones). */
export function referencedMetricNames(expr: string): string[] {
  return expr.match(/\b(?:meridian|process|nodejs|istio)_[a-z0-9_]+/g) ?? [];
}

/** The label names a PromQL expression groups by or selects on. */
export function referencedLabelNames(expr: string): string[] {
  const grouped = [...expr.matchAll(/\bby \(([^)]*)\)/g)].flatMap((m) => (m[1] ?? '').split(',').map((l) => l.trim()));
  const selected = [...expr.matchAll(/([a-z_]+)\s*(?:=~|!~|!=|=)\s*"/g)].map((m) => m[1] ?? '');
  return [...new Set([...grouped, ...selected])].filter((l) => l && l !== 'le');
}

/** A metric scraped from a Meridian's /metrics: the sum of its samples (all label sets). */
export async function scrapeMetric(httpAddress: string, name: string): Promise<number> {
  const text = await (await fetch(`http://${httpAddress}/metrics`)).text();
  return text
    .split('\n')
    .filter((l) => (l.startsWith(`${name} `) || l.startsWith(`${name}{`)) && !l.startsWith('#'))
    .reduce((sum, l) => sum + Number(l.split(' ').at(-1)), 0);
}
