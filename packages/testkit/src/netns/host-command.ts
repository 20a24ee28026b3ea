import { execFileSync } from 'node:child_process';

/**
 * Runs a host tool (ip, iptables-restore, …) to completion, synchronously so that clean-up can
 * run from a process 'exit' handler too. Fails with the command line and its stderr.
 */
export function hostCommand(command: string, args: readonly string[], input?: string): string {
  try {
    return execFileSync(command, args, { encoding: 'utf8', input, stdio: ['pipe', 'pipe', 'pipe'], timeout: 30_000 });
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr?.trim();
    throw new Error(`${command} ${args.join(' ')} failed${stderr ? `: ${stderr}` : ''}`, { cause: err });
  }
}

/** Like `hostCommand`, for clean-up: a failure (already gone) is not an error. */
export function tryHostCommand(command: string, args: readonly string[]): boolean {
  try {
    execFileSync(command, args, { stdio: 'ignore', timeout: 30_000 });
    return true;
  } catch {
    return false;
  }
}
