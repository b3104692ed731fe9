import type { Command } from '@commander-js/extra-typings';
import type { CommandContext } from '../context.js';

interface CommandInfo {
  name: string;
  description: string;
  options: string[];
}

function describe(program: Command): { commands: CommandInfo[]; globals: string[] } {
  const flags = (command: Command) =>
    command.options
      .flatMap((option) => [option.long, option.short])
      .filter((flag): flag is string => flag !== undefined);
  return {
    globals: [...flags(program), '--help'],
    commands: program.commands.map((command) => ({
      name: command.name(),
      description: command.description(),
      options: flags(command as unknown as Command),
    })),
  };
}

function bash(info: ReturnType<typeof describe>): string {
  const cases = info.commands
    .map((command) => `    ${command.name}) opts="${command.options.join(' ')}" ;;`)
    .join('\n');
  return `# stagecraft bash completion: eval "$(stagecraft completion bash)"
_stagecraft() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" sub="" opts="" i
  for ((i = 1; i < COMP_CWORD; i++)); do
    case "\${COMP_WORDS[i]}" in -*) ;; *) sub="\${COMP_WORDS[i]}"; break ;; esac
  done
  if [[ -z "$sub" ]]; then
    COMPREPLY=($(compgen -W "${info.commands.map((command) => command.name).join(' ')} ${info.globals.join(' ')}" -- "$cur"))
    return
  fi
  case "$sub" in
${cases}
  esac
  COMPREPLY=($(compgen -W "$opts ${info.globals.join(' ')}" -- "$cur"))
}
complete -F _stagecraft stagecraft
`;
}

function zsh(info: ReturnType<typeof describe>): string {
  return `#compdef stagecraft
# stagecraft zsh completion: stagecraft completion zsh > "\${fpath[1]}/_stagecraft"
autoload -U +X bashcompinit && bashcompinit
${bash(info)}`;
}

function fish(info: ReturnType<typeof describe>): string {
  const quote = (text: string) => text.replace(/'/g, "\\'");
  const lines = [
    '# stagecraft fish completion: stagecraft completion fish | source',
    'complete -c stagecraft -f',
  ];
  for (const command of info.commands) {
    lines.push(
      `complete -c stagecraft -n __fish_use_subcommand -a ${command.name} -d '${quote(command.description)}'`,
    );
    for (const option of command.options.filter((flag) => flag.startsWith('--'))) {
      lines.push(
        `complete -c stagecraft -n '__fish_seen_subcommand_from ${command.name}' -l ${option.slice(2)}`,
      );
    }
  }
  for (const option of info.globals.filter((flag) => flag.startsWith('--')))
    lines.push(`complete -c stagecraft -l ${option.slice(2)}`);
  return `${lines.join('\n')}\n`;
}

/** Prints the completion script of `program` (the CLI's own, handed over by cli/program.ts) for `shell`. */
export async function run(
  context: CommandContext,
  shell: 'bash' | 'zsh' | 'fish',
  program: unknown,
): Promise<number> {
  const info = describe(program as Command);
  const script = shell === 'bash' ? bash(info) : shell === 'zsh' ? zsh(info) : fish(info);
  context.output.result(script);
  return 0;
}
