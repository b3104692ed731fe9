import type { EngineEvent } from '../engine/run.js';
import { formatDuration } from '../util/duration.js';
import type { Output } from '../util/output.js';

/**
 * Draws engine events: one line per finished step (and per started step when it may take a while),
 * or JSON lines on stdout with --json. Works the same on a TTY and in CI logs.
 */
export function progressRenderer(output: Output): (event: EngineEvent) => void {
  const { colors } = output;
  if (output.options.json) {
    return (event) => {
      const base: Record<string, unknown> = { event: event.type };
      if ('phase' in event) base['phase'] = event.phase;
      if ('step' in event)
        Object.assign(base, {
          step: event.step.id,
          phase: event.step.phase,
          host: event.step.host?.name ?? null,
        });
      if (event.type === 'phase-done')
        Object.assign(base, { status: event.status, ...(event.reason ? { reason: event.reason } : {}) });
      if (event.type === 'step-done') {
        Object.assign(base, { status: event.status, duration_ms: event.durationMs });
        if (event.detail) base['detail'] = event.detail;
        if (event.error) base['error'] = event.error;
      }
      if (event.type === 'step-output') base['line'] = event.line;
      output.result(JSON.stringify(base));
    };
  }
  return (event) => {
    switch (event.type) {
      case 'phase-start':
        output.info(colors.bold(`▸ ${event.phase}`));
        break;
      case 'phase-done':
        if (event.status === 'skipped')
          output.info(
            `${colors.bold(`▸ ${event.phase}`)} ${colors.dim(`skipped${event.reason ? `: ${event.reason}` : ''}`)}`,
          );
        else if (event.status === 'failed') output.info(colors.red(`✗ ${event.phase} failed`));
        break;
      case 'step-start':
        if (
          ['build', 'rollout', 'migrate', 'push', 'stack-deploy', 'swarm-job'].includes(
            event.step.action.kind,
          )
        )
          output.info(colors.dim(`  … ${event.step.id}  ${event.step.title}`));
        break;
      case 'step-output':
        if (['rollout', 'migrate', 'stack-deploy', 'swarm-job'].includes(event.step.action.kind))
          output.info(colors.dim(`    ${event.line}`));
        else output.debug(`    ${event.line}`);
        break;
      case 'step-done': {
        const took = colors.dim(`(${formatDuration(event.durationMs)})`);
        if (event.status === 'failed')
          output.info(`  ${colors.red('✗')} ${event.step.id}  ${event.error ?? ''} ${took}`);
        else
          output.info(`  ${colors.green('✓')} ${event.step.id}  ${event.detail ?? event.step.title} ${took}`);
        break;
      }
    }
  };
}
