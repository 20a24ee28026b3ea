/**
 * `meridian completion bash|zsh|fish`: scripts generated from the commander tree, so a new
 * command or option completes without anyone editing a script. Each script finds the command
 * path typed so far (`meridian ca intermediate`), then offers its subcommands and options, the
 * choices of an option such as `-o`, and files for any other option that takes a value.
 */
import type { Command, Option } from 'commander';

export const SHELLS = ['bash', 'zsh', 'fish'] as const;
export type Shell = (typeof SHELLS)[number];

interface Node {
  /** The command path as typed: "meridian", "meridian ca", "meridian ca intermediate". */
  readonly path: string;
  readonly command: Command;
  readonly subcommands: readonly Command[];
  readonly options: readonly Option[];
}

function nodes(program: Command): Node[] {
  const out: Node[] = [];
  const walk = (command: Command, path: string) => {
    const subcommands = command.commands.filter((c) => c.name() !== 'help');
    out.push({ path, command, subcommands, options: [...command.options, ...(command === program ? [] : program.options)] });
    for (const sub of subcommands) walk(sub, `${path} ${sub.name()}`);
  };
  walk(program, program.name());
  return out;
}

const flags = (o: Option) => [o.short, o.long].filter((f): f is string => f !== undefined);
const takesValue = (o: Option) => o.required || o.optional;
/** Values named <file> or <dir> complete as paths; other values have nothing to offer. */
const takesPath = (o: Option) => /<(file|dir)>/.test(o.flags);
const choicesOf = (o: Option): readonly string[] => o.argChoices ?? [];
const words = (n: Node) => [...n.subcommands.map((c) => c.name()), ...n.options.flatMap(flags), '--help'];
/** Arguments with choices (`completion <shell>`) complete like a subcommand would. */
const argumentChoices = (n: Node) => n.command.registeredArguments.flatMap((a) => a.argChoices ?? []);

export function completionScript(program: Command, shell: Shell): string {
  const tree = nodes(program);
  const name = program.name();
  if (shell === 'fish') return fish(tree, name);
  const descend = tree
    .filter((n) => n.path !== name)
    .map((n) => `"${n.path}"`)
    .join('|');
  const valueCases = tree.flatMap((n) =>
    n.options.filter(takesValue).map((o) => ({ pattern: flags(o).map((f) => `"${n.path}|${f}"`).join('|'), choices: choicesOf(o), path: takesPath(o) })),
  );
  if (shell === 'bash') {
    return `# bash completion for ${name}: source <(${name} completion bash)
_${name}() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" prev="\${COMP_WORDS[COMP_CWORD-1]}" cmdpath="${name}" i
  for ((i = 1; i < COMP_CWORD; i++)); do
    case "$cmdpath \${COMP_WORDS[i]}" in
      ${descend}) cmdpath="$cmdpath \${COMP_WORDS[i]}" ;;
    esac
  done
  case "$cmdpath|$prev" in
${valueCases.map((c) => `    ${c.pattern}) ${c.choices.length > 0 ? `COMPREPLY=($(compgen -W "${c.choices.join(' ')}" -- "$cur"))` : 'COMPREPLY=()'}; return ;;`).join('\n')}
  esac
  case "$cmdpath" in
${tree.map((n) => `    "${n.path}") COMPREPLY=($(compgen -W "${[...words(n), ...argumentChoices(n)].join(' ')}" -- "$cur")) ;;`).join('\n')}
  esac
}
complete -o default -F _${name} ${name}
`;
  }
  return `#compdef ${name}
# zsh completion for ${name}: put it in a directory of $fpath as _${name}, or source <(${name} completion zsh)
_${name}() {
  local cmdpath="${name}" prev="\${words[CURRENT-1]}" i
  for ((i = 2; i < CURRENT; i++)); do
    case "$cmdpath \${words[i]}" in
      (${descend}) cmdpath="$cmdpath \${words[i]}" ;;
    esac
  done
  case "$cmdpath|$prev" in
${valueCases.map((c) => `    (${c.pattern}) ${c.choices.length > 0 ? `compadd -- ${c.choices.join(' ')}` : c.path ? '_files' : "_message 'value'"}; return ;;`).join('\n')}
  esac
  case "$cmdpath" in
${tree.map((n) => `    ("${n.path}") compadd -- ${[...words(n), ...argumentChoices(n)].join(' ')} ;;`).join('\n')}
  esac
}
if [[ "\${funcstack[1]}" == "_${name}" ]]; then
  _${name} "$@"
else
  compdef _${name} ${name}
fi
`;
}

const fishQuote = (s: string) => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;

function fish(tree: readonly Node[], name: string): string {
  const lines = [`# fish completion for ${name}: ${name} completion fish > ~/.config/fish/completions/${name}.fish`, `complete -c ${name} -f`];
  for (const n of tree) {
    const chain = n.path.split(' ').slice(1);
    const last = chain.at(-1);
    // At the top: no subcommand yet. Deeper: this one seen and none of its children yet.
    const here =
      last === undefined
        ? '__fish_use_subcommand'
        : `__fish_seen_subcommand_from ${last}${n.subcommands.length > 0 ? `; and not __fish_seen_subcommand_from ${n.subcommands.map((c) => c.name()).join(' ')}` : ''}`;
    for (const sub of n.subcommands) lines.push(`complete -c ${name} -n ${fishQuote(here)} -a ${sub.name()} -d ${fishQuote(sub.description())}`);
    for (const choice of argumentChoices(n)) lines.push(`complete -c ${name} -n ${fishQuote(here)} -a ${choice}`);
    for (const o of n.options) {
      const parts = [`complete -c ${name} -n ${fishQuote(here)}`];
      if (o.short) parts.push(`-s ${o.short.replace(/^-/, '')}`);
      if (o.long) parts.push(`-l ${o.long.replace(/^--/, '')}`);
      const choices = choicesOf(o);
      if (choices.length > 0) parts.push(`-xa ${fishQuote(choices.join(' '))}`);
      else if (takesPath(o)) parts.push('-rF');
      else if (takesValue(o)) parts.push('-x');
      parts.push(`-d ${fishQuote(o.description)}`);
      lines.push(parts.join(' '));
    }
  }
  return `${lines.join('\n')}\n`;
}
