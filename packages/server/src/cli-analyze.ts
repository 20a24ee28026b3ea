import { silentLogger } from '@meridian/model';
import { analyzeConfig, CODES, Severity, type Finding } from './analyze.ts';
import { UsageError } from './cli-ca.ts';
import { formatDocument, table, type OutputFormat } from './cli-ops.ts';
import { loadConfig, readEnv } from './config.ts';

/** Where each code is explained, in the repository and the packed CLI's docs alike. */
const DOCS = 'docs/analyze.md';

/**
 * `meridian analyze`: reads every cluster of the config as `serve` would, checks services and
 * policies together, and prints the findings. Exit 0 when none is an error, 1 otherwise.
 */
export async function analyzeCommand(values: { config?: string; output: OutputFormat; timeout: string }): Promise<number> {
  const file = values.config ?? readEnv('MERIDIAN_CONFIG');
  if (!file) throw new UsageError('--config FILE is required (or set MERIDIAN_CONFIG)');
  const timeoutMs = Number(values.timeout);
  if (!Number.isInteger(timeoutMs) || timeoutMs <= 0) throw new UsageError('--timeout must be a positive number of milliseconds');
  const findings = await analyzeConfig(loadConfig(file), silentLogger(), timeoutMs);
  const errors = findings.filter((f) => f.severity === Severity.Error).length;
  if (values.output !== 'table') {
    const docs = (f: Finding) => `${DOCS}#${f.code.toLowerCase()}`;
    process.stdout.write(formatDocument({ findings: findings.map((f) => ({ ...f, docs: docs(f) })), errors }, values.output));
  } else if (findings.length === 0) {
    process.stdout.write(`${file}: no findings\n`);
  } else {
    const rows = findings.map((f) => [f.code, f.severity, f.clusters.join(',') || '-', f.object, f.origin ? `${f.message} (${f.origin})` : f.message]);
    process.stdout.write(table(['CODE', 'SEVERITY', 'CLUSTER', 'OBJECT', 'MESSAGE'], rows));
    const codes = [...new Set(findings.map((f) => f.code))] as Array<keyof typeof CODES>;
    process.stdout.write(`\n${codes.map((c) => `${c}: ${CODES[c]}`).join('\n')}\nSee docs/analyze.md for each code's cause and fix.\n`);
  }
  return errors > 0 ? 1 : 0;
}
