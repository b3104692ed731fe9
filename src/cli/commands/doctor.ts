import { renderDoctor, runDoctor } from '../../operations/doctor.js';
import { UserError } from '../../util/errors.js';
import type { CommandContext } from '../context.js';

/** `stagecraft doctor`: exit 0 when every required check passes (warnings allowed), else 1. */
export async function run(context: CommandContext): Promise<number> {
  const report = await runDoctor(context);
  const failed = report.checks.filter((check) => check.status === 'fail');
  if (context.globals.json) {
    context.output.json({
      ok: failed.length === 0,
      config: report.config,
      checks: report.checks.map((check) => ({ ...check, fix: check.fix ?? null })),
    });
  } else {
    context.output.result(renderDoctor(report));
  }
  if (failed.length === 0) return 0;
  throw new UserError(
    `${failed.length} required check${failed.length === 1 ? '' : 's'} failed: ${failed.map((check) => check.name).join(', ')}`,
    { hint: 'apply the fix under each FAIL line above, then run `stagecraft doctor` again' },
  );
}
