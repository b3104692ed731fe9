import { afterEach, describe, expect, it } from 'vitest';
import { type Interrupt, interruptOnSignals } from '../../src/engine/interrupt.js';
import { UserError } from '../../src/util/errors.js';

let interrupt: Interrupt | undefined;
afterEach(() => interrupt?.dispose());

describe('interruptOnSignals', () => {
  it('takes more than ten abort listeners at once without a MaxListenersExceededWarning', async () => {
    interrupt = interruptOnSignals();
    const warnings: string[] = [];
    const onWarning = (warning: Error) => warnings.push(warning.name);
    process.on('warning', onWarning);
    const listeners = Array.from({ length: 25 }, () => () => undefined);
    for (const listener of listeners) interrupt.signal.addEventListener('abort', listener);
    await new Promise((resolve) => setImmediate(resolve));
    process.off('warning', onWarning);
    for (const listener of listeners) interrupt.signal.removeEventListener('abort', listener);
    expect(warnings).toEqual([]);
  });

  it('aborts with UserError("interrupted") on SIGINT, and dispose removes its handlers', () => {
    const before = process.listenerCount('SIGINT');
    interrupt = interruptOnSignals();
    expect(process.listenerCount('SIGINT')).toBe(before + 1);
    expect(process.listenerCount('SIGTERM')).toBeGreaterThan(0);
    process.emit('SIGINT', 'SIGINT');
    expect(interrupt.signal.aborted).toBe(true);
    expect(interrupt.signal.reason).toBeInstanceOf(UserError);
    expect((interrupt.signal.reason as Error).message).toBe('interrupted');
    interrupt.dispose();
    expect(process.listenerCount('SIGINT')).toBe(before);
  });

  it('abort(reason) cancels with that reason', () => {
    interrupt = interruptOnSignals();
    const lost = new Error('lock lease lost');
    interrupt.abort(lost);
    expect(interrupt.signal.reason).toBe(lost);
  });
});
