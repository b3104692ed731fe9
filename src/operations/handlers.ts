import { pickRepoDigest } from '../docker/image.js';
import type { StepHandler } from '../engine/run.js';
import type { EnvironmentModel } from '../model/environment.js';
import type { Step } from '../plan/types.js';
import { ensureIngress, type IngressTarget } from '../rollout/ingress.js';
import { rolloutService } from '../rollout/replace.js';
import type { Runner } from '../runners/types.js';
import { UserError } from '../util/errors.js';

export interface HandlerDeps {
  model: EnvironmentModel;
  /** The runner of a host; undefined → this machine (builds, pushes). */
  runner(host: string | undefined): Runner;
  /** Image references as pushed, pinned by digest when the registry gave one. */
  pushed: Record<string, string>;
  lock: { acquire(runner: Runner, message: string): Promise<void>; release(runner: Runner): Promise<void> };
  migrate(step: Step, runner: Runner, log: (line: string) => void): Promise<string>;
  record(): Promise<void>;
}

function ingressTarget(deps: HandlerDeps, runner: Runner): IngressTarget {
  return {
    runner,
    project: deps.model.composeProject,
    container: `${deps.model.composeProject}-ingress`,
    network: `${deps.model.composeProject}_ingress`,
  };
}

/** Maps each kind of step to what it does on its runner. */
export function stepHandler(deps: HandlerDeps): StepHandler {
  return async (step, log, signal) => {
    const runner = deps.runner(step.host?.name);
    const { action } = step;
    switch (action.kind) {
      case 'build': {
        if (action.existsArgv !== undefined) {
          const exists = await runner.exec(action.existsArgv, { allowFailure: true, signal });
          if (exists.exitCode === 0)
            return { status: 'unchanged', detail: `${action.image} exists; not rebuilt` };
        }
        await runner.exec(action.argv, { onLine: log, signal });
        return { status: 'completed', detail: `built ${action.image}` };
      }
      case 'push': {
        await runner.exec(action.argv, { onLine: log, signal });
        const inspected = await runner.exec(action.digestArgv, { allowFailure: true, signal });
        const digest = pickRepoDigest(inspected.stdout, action.image);
        deps.pushed[action.service] = digest ?? action.image;
        return { status: 'completed', detail: `pushed ${digest ?? action.image}` };
      }
      case 'lock-acquire':
        await deps.lock.acquire(runner, action.message);
        return { status: 'completed', detail: `lock held on ${runner.name}` };
      case 'lock-release':
        await deps.lock.release(runner);
        return { status: 'completed', detail: 'lock released' };
      case 'migrate':
        return { status: 'completed', detail: await deps.migrate(step, runner, log) };
      case 'upload':
        await runner.upload(action.path, action.content, action.mode);
        return { status: 'completed' };
      case 'exec': {
        const result = await runner.exec(action.argv, {
          onLine: log,
          signal,
          ...(action.env ? { env: action.env } : {}),
          allowFailure: step.id.startsWith('hook:'),
        });
        if (result.exitCode !== 0) {
          const last = `${result.stderr}${result.stdout}`.trim().split('\n').at(-1) ?? '';
          throw new UserError(
            `${step.title} failed with exit code ${result.exitCode}${last ? `: ${last}` : ''}`,
            {
              hint: `fix ${action.argv[0]} (it runs with STAGECRAFT_* variables), or remove it to skip it`,
            },
          );
        }
        return { status: 'completed' };
      }
      case 'ingress': {
        const tls =
          action.tls.mode === 'custom'
            ? { mode: 'custom' as const, certificate: action.tls.certificate, key: action.tls.key.reveal() }
            : action.tls;
        const outcome = await ensureIngress(
          ingressTarget(deps, runner),
          action.image,
          { http: action.httpPort, https: action.httpsPort },
          action.routes,
          tls,
        );
        return { status: outcome === 'running' ? 'unchanged' : 'completed', detail: `ingress ${outcome}` };
      }
      case 'rollout': {
        const outcome = await rolloutService(
          {
            runner,
            project: deps.model.composeProject,
            ingress: action.route ? ingressTarget(deps, runner) : undefined,
            drainMs: deps.model.rollout.drainMs,
            log,
            signal,
          },
          action,
        );
        return { status: outcome.status, detail: `${action.service}: ${outcome.detail}` };
      }
      case 'record':
        await deps.record();
        return { status: 'completed' };
    }
  };
}
