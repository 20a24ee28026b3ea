import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { MeridianProcess, REPO_ROOT, Workspace } from '../support/meridian-process.ts';

const VERSION = (JSON.parse(readFileSync(path.join(REPO_ROOT, 'packages/server/package.json'), 'utf8')) as { version: string }).version;

/** The subcommands a help text lists under "Commands:", without commander's own `help`. */
function listedCommands(help: string): string[] {
  const section = help.split(/^Commands:$/m)[1]?.split(/^\S/m)[0] ?? '';
  return [...section.matchAll(/^ {2}([a-z][a-z-]*)/gm)].map((m) => m[1] ?? '').filter((c) => c !== 'help');
}

describe('meridian CLI', () => {
  it('serve refuses an invalid config, naming every bad field, and exits 1', async () => {
    const ws = new Workspace();
    try {
      const file = ws.write(
        'bad.yaml',
        'listen:\n  xds: nowhere\ndebounce:\n  quietMs: -5\nclusters:\n  - id: a\n    manifests: ./missing\n  - id: a\n    manifests: ./missing\n',
      );
      const out = await MeridianProcess.run(['serve', '--config', file]);
      assert.equal(out.code, 1);
      assert.match(out.stderr, /listen\.xds: expected host:port/);
      assert.match(out.stderr, /debounce\.quietMs/);
      assert.doesNotMatch(out.stderr, /at .*\.ts:\d+/, 'no stack trace for a user error');
    } finally {
      ws.remove();
    }
  });

  it('serve refuses a kubeconfig with no current context, naming the file, and exits 1', async () => {
    const ws = new Workspace();
    try {
      const kubeconfig = ws.write(
        'nocontext.kubeconfig',
        'apiVersion: v1\nkind: Config\nclusters:\n- name: a\n  cluster: { server: "https://127.0.0.1:1" }\nusers:\n- name: u\n  user: { token: x }\ncontexts:\n- name: ctx\n  context: { cluster: a, user: u }\n',
      );
      const out = await MeridianProcess.run(['serve', '--config', ws.writeConfig({ clusters: [{ id: 'k1', kubeconfig }] })]);
      assert.equal(out.code, 1);
      assert.match(out.stderr, /nocontext\.kubeconfig has no current cluster/);
    } finally {
      ws.remove();
    }
  });

  it('serve reports each cluster problem by path', async () => {
    const ws = new Workspace();
    try {
      const file = ws.write('bad.yaml', 'clusters:\n  - id: a\n    manifests: ./missing\n  - id: a\n    manifests: .\n');
      const out = await MeridianProcess.run(['serve', '--config', file]);
      assert.equal(out.code, 1);
      assert.match(out.stderr, /clusters\[0\]\.manifests: not a directory/);
      assert.match(out.stderr, /clusters\[1\]\.id: duplicate cluster id "a"/);
    } finally {
      ws.remove();
    }
  });

  it('usage errors exit 2 with the usage text', async () => {
    const unknown = await MeridianProcess.run(['frobnicate']);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /unknown command 'frobnicate'/);
    const missing = await MeridianProcess.run(['bootstrap']);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /--node-id is required/);
  });

  it('every command and subcommand answers --help with its usage and examples, exit 0', async () => {
    const root = await MeridianProcess.run(['--help']);
    assert.equal(root.code, 0, root.stderr);
    const pending = listedCommands(root.stdout).map((c) => [c]);
    assert.ok(pending.length >= 10, `commands listed: ${pending.join(' ')}`);
    const seen: string[] = [];
    for (let next = pending.shift(); next; next = pending.shift()) {
      const out = await MeridianProcess.run([...next, '--help']);
      assert.equal(out.code, 0, `${next.join(' ')} --help: ${out.stderr}`);
      assert.match(out.stdout, new RegExp(`^Usage: meridian ${next.join(' ')} `, 'm'));
      const children = listedCommands(out.stdout);
      if (children.length === 0) assert.match(out.stdout, /^Examples:\n {2}\$ \S/m, `${next.join(' ')} shows examples`);
      pending.push(...children.map((c) => [...next, c]));
      seen.push(next.join(' '));
    }
    assert.ok(seen.includes('ca intermediate'), seen.join(', '));
  });

  it('--version and version print the client version', async () => {
    const flag = await MeridianProcess.run(['--version']);
    assert.equal(flag.code, 0);
    assert.equal(flag.stdout.trim(), VERSION);
    const command = await MeridianProcess.run(['version', '-o', 'json']);
    assert.equal(command.code, 0, command.stderr);
    assert.equal((JSON.parse(command.stdout) as { client: { version: string } }).client.version, VERSION);
  });

  it('a mistyped command or option gets a suggestion, exit 2', async () => {
    const command = await MeridianProcess.run(['sttaus']);
    assert.equal(command.code, 2);
    assert.match(command.stderr, /unknown command 'sttaus'\n\(Did you mean status\?\)/);
    const option = await MeridianProcess.run(['status', '--outptu', 'json']);
    assert.equal(option.code, 2);
    assert.match(option.stderr, /unknown option '--outptu'\n\(Did you mean --output\?\)/);
  });

  it('-o takes table, json or yaml only, on every command that has it', async () => {
    for (const command of ['status', 'check', 'version']) {
      const out = await MeridianProcess.run([command, '-o', 'xml']);
      assert.equal(out.code, 2, `${command}: ${out.stderr}`);
      assert.match(out.stderr, /argument 'xml' is invalid\. Allowed choices are table, json, yaml/);
    }
  });

  it('completion bash completes commands, subcommands and -o choices in a real bash', async () => {
    const script = await MeridianProcess.run(['completion', 'bash']);
    assert.equal(script.code, 0, script.stderr);
    const complete = (words: string[]) =>
      execFileSync('bash', ['-c', `eval "$(cat)"; COMP_WORDS=(${words.map((w) => `"${w}"`).join(' ')}); COMP_CWORD=${words.length - 1}; _meridian; echo "\${COMPREPLY[*]}"`], {
        input: script.stdout,
        encoding: 'utf8',
      }).trim();
    assert.equal(complete(['meridian', 'sta']), 'status');
    assert.equal(complete(['meridian', 'status', '-o', '']), 'table json yaml');
    assert.equal(complete(['meridian', 'ca', 'i']), 'intermediate');
    assert.equal(complete(['meridian', 'ca', 'intermediate', '--ro']), '--root-dir');
    assert.equal(complete(['meridian', 'completion', 'f']), 'fish');
  });

  it('completion zsh and fish name every command; an unknown shell is a usage error', async () => {
    for (const shell of ['zsh', 'fish']) {
      const out = await MeridianProcess.run(['completion', shell]);
      assert.equal(out.code, 0, out.stderr);
      for (const command of ['serve', 'status', 'intermediate', 'create-remote-secret']) assert.match(out.stdout, new RegExp(command), `${shell}: ${command}`);
      assert.match(out.stdout, /table json yaml/);
    }
    const bad = await MeridianProcess.run(['completion', 'powershell']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /Allowed choices are bash, zsh, fish/);
  });
});
