import { UserError } from './errors.js';

/**
 * Sizes as stagecraft.yml writes them: a number of bytes, or a number and a unit, "10MB", "512KiB",
 * "1.5GB". Decimal units are powers of 1000 and binary ones (KiB, MiB, GiB) powers of 1024, as Caddy
 * (go-humanize) reads them; the unit is case-insensitive.
 */
export const BYTE_SIZE = /^\s*(\d+(?:\.\d+)?)\s*(B|KB|MB|GB|KiB|MiB|GiB)?\s*$/i;

const UNIT_BYTES: Record<string, number> = {
  b: 1,
  kb: 1000,
  mb: 1000 ** 2,
  gb: 1000 ** 3,
  kib: 1024,
  mib: 1024 ** 2,
  gib: 1024 ** 3,
};

/**
 * Bytes of a size (`BYTE_SIZE`), rounded down to a whole byte. Throws UserError for text that is not
 * a size, or a size below one byte.
 */
export function parseByteSize(size: string | number): number {
  const match = typeof size === 'number' ? null : BYTE_SIZE.exec(size);
  const bytes =
    typeof size === 'number'
      ? size
      : match === null
        ? Number.NaN
        : Math.floor(Number(match[1]) * UNIT_BYTES[(match[2] ?? 'b').toLowerCase()]!);
  if (!Number.isSafeInteger(bytes) || bytes < 1) {
    throw new UserError(`"${size}" is not a size`, {
      hint: 'write sizes like 10MB, 512KiB or a number of bytes',
    });
  }
  return bytes;
}
