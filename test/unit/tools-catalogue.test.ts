import { describe, expect, it } from 'vitest';
import { reportError } from '../../src/cli/report-error.js';
import { requireBinaries, STACK_REQUIREMENTS } from '../../src/dev/binaries.js';
import { CancelledError, ExternalError } from '../../src/util/errors.js';
import { Output } from '../../src/util/output.js';
import { installHint, TOOLS } from '../../src/util/tools.js';

describe('the tools catalogue', () => {
  it('names the install step of a known tool and a generic one for any other binary', () => {
    expect(installHint('docker')).toBe(
      'install Docker Engine and the compose v2 plugin (https://docs.docker.com/engine/install/)',
    );
    expect(installHint('encore')).toBe(TOOLS.encore.install);
    expect(installHint('my-tool')).toBe('install my-tool or add the folder that holds it to PATH');
  });

  it('is where `stagecraft dev` takes its install hints from, with the why of the caller', () => {
    const needed = [STACK_REQUIREMENTS.caddy, { tool: 'encore' as const, why: 'a provider runs it' }];
    let error: unknown;
    try {
      requireBinaries(needed, { PATH: '/nonexistent' });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ExternalError);
    expect((error as ExternalError).message).toBe(
      'stagecraft dev needs tools that are not installed: caddy, encore',
    );
    expect((error as ExternalError).details).toEqual([
      `caddy: it is the HTTPS front door that routes the dev domains to your processes; ${TOOLS.caddy.install}`,
      `encore: a provider runs it; ${TOOLS.encore.install}`,
    ]);
  });
});

describe('CancelledError', () => {
  it('is exit 130 with its hint', () => {
    const written: string[] = [];
    const write = process.stderr.write;
    process.stderr.write = ((chunk: string) => {
      written.push(String(chunk));
      return true;
    }) as typeof process.stderr.write;
    let code: number;
    try {
      code = reportError(
        new CancelledError('stopped before the dev stack finished stopping', {
          hint: 'run `stagecraft dev down` to stop what is still running',
        }),
        new Output({ color: false, quiet: false, verbose: false, json: false }),
        false,
      );
    } finally {
      process.stderr.write = write;
    }
    expect(code).toBe(130);
    expect(written.join('')).toContain('hint: run `stagecraft dev down` to stop what is still running\n');
  });
});
