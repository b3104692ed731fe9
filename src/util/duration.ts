import { UserError } from './errors.js';

const UNIT_MS: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};
const PART = /^(\d+(?:\.\d+)?|\.\d+)(ns|us|µs|ms|s|m|h)/;

/**
 * Milliseconds of a duration as stagecraft.yml and compose write them: "500ms", "30s", "1m30s",
 * Go's "1h0m0s", or a bare number of seconds.
 */
export function parseDuration(text: string | number): number {
  if (typeof text === 'number') return text * 1000;
  const trimmed = text.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Number(trimmed) * 1000;
  let rest = trimmed;
  let total = 0;
  while (rest !== '') {
    const match = PART.exec(rest);
    if (match === null) break;
    total += Number(match[1]) * UNIT_MS[match[2]!]!;
    rest = rest.slice(match[0].length);
  }
  if (rest !== '' || trimmed === '') {
    throw new UserError(`"${text}" is not a duration`, {
      hint: 'write durations like "500ms", "30s" or "1m30s"',
    });
  }
  return Math.round(total);
}

export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  return `${Math.floor(ms / 60_000)}m${Math.round((ms % 60_000) / 1000)}s`;
}

/** A duration as stagecraft.yml writes one, shortest form: "500ms", "45s", "2m", "5m35s", "1h2m". */
export function formatDurationSetting(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  let seconds = Math.round(ms / 1000);
  const hours = Math.floor(seconds / 3600);
  seconds -= hours * 3600;
  const minutes = Math.floor(seconds / 60);
  seconds -= minutes * 60;
  return `${hours > 0 ? `${hours}h` : ''}${minutes > 0 ? `${minutes}m` : ''}${seconds > 0 || (hours === 0 && minutes === 0) ? `${seconds}s` : ''}`;
}
