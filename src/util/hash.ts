/** Lowercase hex sha256 of text (as UTF-8) or bytes: the one content hash of the house. */
export function sha256Hex(bytes: Buffer | string): string {
  // node:crypto is taken on first use, not imported: loading it costs every command's start-up
  // (~8 ms), and most (config, --help) never hash anything.
  return process.getBuiltinModule('node:crypto').createHash('sha256').update(bytes).digest('hex');
}
