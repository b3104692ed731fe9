import { createHash } from 'node:crypto';

/** Lowercase hex sha256 of text (as UTF-8) or bytes: the one content hash of the house. */
export function sha256Hex(bytes: Buffer | string): string {
  return createHash('sha256').update(bytes).digest('hex');
}
