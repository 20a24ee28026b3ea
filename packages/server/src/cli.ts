#!/usr/bin/env node
/**
 * The `meridian` executable: runs the command tree and turns failures into exit codes.
 * Exit 0 success, 1 a failure the command reports, 2 a usage error (bad flag, unknown command).
 */
import { CommanderError } from 'commander';
import { MeridianError, errorMessage } from '@meridian/model';
import { UsageError } from './cli-ca.ts';
import { buildProgram, type ProgramResult } from './cli-program.ts';
import { ConfigError } from './config.ts';

async function main(argv: string[]): Promise<number> {
  const result: ProgramResult = { code: 0 };
  const program = buildProgram(result);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return result.code;
  } catch (err) {
    // commander has already printed its message (and help, for --help and --version).
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2;
    const debug = program.opts<{ debug?: boolean }>().debug === true || argv.includes('--debug');
    return report(err, debug);
  }
}

function report(err: unknown, debug: boolean): number {
  if (debug) {
    process.stderr.write(`meridian: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    return err instanceof UsageError ? 2 : 1;
  }
  if (err instanceof UsageError) {
    process.stderr.write(`meridian: ${err.message}\n(run with --help for usage)\n`);
    return 2;
  }
  if (err instanceof ConfigError) {
    process.stderr.write(`${err.message}\n`);
    return 1;
  }
  if (err instanceof MeridianError) {
    // Expected failures (a CA that does not validate, a kubeconfig that cannot load) need no stack.
    process.stderr.write(`meridian: ${err.code}: ${err.message}\n`);
    return 1;
  }
  process.stderr.write(`meridian: ${err instanceof Error ? (err.stack ?? err.message) : errorMessage(err)}\n`);
  return 1;
}

// `meridian completion bash | head` and the like: a closed pipe ends the output, not in a stack trace.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') throw err;
    process.exit(process.exitCode ?? 0);
  });
}

process.exitCode = await main(process.argv.slice(2));
