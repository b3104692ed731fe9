// confirm() without a terminal: it refuses, and says why it asked (the tests run without a TTY).
import { describe, expect, it } from 'vitest';
import { confirm } from '../../src/cli/confirm.js';
import type { CommandContext } from '../../src/cli/context.js';
import { UserError } from '../../src/util/errors.js';

const context = (yes: boolean) => ({ globals: { yes } }) as unknown as CommandContext;

describe('confirm without a terminal', () => {
  it('a command that always asks says there is no terminal to answer on; exit 1', async () => {
    const asked = confirm(context(false), 'Remove shop production from h1?');
    await expect(asked).rejects.toBeInstanceOf(UserError);
    await expect(asked).rejects.toThrow(
      'Remove shop production from h1? This asks for a yes, and there is no terminal to answer on',
    );
  });

  it('an environment with require_confirmation says so', async () => {
    await expect(confirm(context(false), 'Deploy shop v1 to production?', 'environment')).rejects.toThrow(
      'Deploy shop v1 to production? This environment requires confirmation (require_confirmation: true)',
    );
  });

  it('--yes answers it', async () => {
    await expect(confirm(context(true), 'Remove?')).resolves.toBeUndefined();
  });
});
