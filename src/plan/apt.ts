// argv of the Debian/Ubuntu package steps `setup` plans (run through the host's asRoot).

/** `apt-get update -qq`: refresh the package lists before an install. */
export const APT_UPDATE_ARGV: readonly string[] = ['apt-get', 'update', '-qq'];

/**
 * `env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends <packages…>`:
 * installs distribution packages without prompts or recommended extras.
 */
export function aptInstallArgv(packages: readonly string[]): string[] {
  return [
    'env',
    'DEBIAN_FRONTEND=noninteractive',
    'apt-get',
    'install',
    '-y',
    '-qq',
    '--no-install-recommends',
    ...packages,
  ];
}
