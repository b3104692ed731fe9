/**
 * POSIX shell quoting: the ONE place where an argv array becomes a command line for a remote shell
 * (ssh runs its command through the login shell of the remote user). Nothing else builds shell
 * strings from values.
 */

/** Characters that never need quoting in any position of a POSIX shell word. */
const SAFE_WORD = /^[A-Za-z0-9_@%+:,./-]+$/;

/**
 * Quotes one argument for a POSIX shell: a plain safe word stays as it is, anything else (empty,
 * spaces, quotes, `$`, globs, `~`, `=`, newlines, non-ASCII) is wrapped in single quotes, with each
 * `'` written as `'\''`. `=` is always quoted, so that a word can never turn into a variable
 * assignment.
 */
export function quoteArg(arg: string): string {
  if (arg !== '' && SAFE_WORD.test(arg)) return arg;
  return `'${arg.replaceAll("'", `'\\''`)}'`;
}

/** Quotes an argv array into one command line; the shell splits it back into exactly the same words. */
export function quoteArgv(argv: readonly string[]): string {
  return argv.map(quoteArg).join(' ');
}
