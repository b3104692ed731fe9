// The one catalogue of external tools Stagecraft runs and how to install each. Runners name the
// install step when a binary is missing, `stagecraft dev` when a prerequisite is, `doctor` under a
// failing check. Who needs a tool and why stays with the caller (or the provider that needs it).

/** A tool Stagecraft can run: its binary and what to do when it is missing. */
export interface Tool {
  binary: string;
  /** "install …": one sentence a person can follow. */
  install: string;
}

export const TOOLS = {
  docker: {
    binary: 'docker',
    install: 'install Docker Engine and the compose v2 plugin (https://docs.docker.com/engine/install/)',
  },
  ssh: {
    binary: 'ssh',
    install: 'install the OpenSSH client (for example `apt-get install openssh-client`; macOS has it)',
  },
  git: { binary: 'git', install: 'install git, or pass --version so that Stagecraft does not need it' },
  mkcert: {
    binary: 'mkcert',
    install:
      'install mkcert (apt install mkcert, brew install mkcert, or https://github.com/FiloSottile/mkcert) and run `mkcert -install` once',
  },
  caddy: {
    binary: 'caddy',
    install:
      'install Caddy 2 (apt install caddy, brew install caddy, or https://caddyserver.com/docs/install)',
  },
  encore: {
    binary: 'encore',
    install:
      'install the Encore CLI: curl -L https://encore.dev/install.sh | bash (or brew install encoredev/tap/encore)',
  },
  tailscale: {
    binary: 'tailscale',
    install: 'install Tailscale (https://tailscale.com/download) and log in (`tailscale up`)',
  },
  gh: { binary: 'gh', install: 'install the GitHub CLI (https://cli.github.com) and run `gh auth login`' },
} satisfies Record<string, Tool>;

export type ToolName = keyof typeof TOOLS;

/**
 * What to install when `binary` is missing: the catalogue's sentence, or a generic one for a binary
 * the catalogue does not know (a user's own command).
 */
export function installHint(binary: string): string {
  const tool = Object.values(TOOLS).find((candidate) => candidate.binary === binary);
  return tool?.install ?? `install ${binary} or add the folder that holds it to PATH`;
}
