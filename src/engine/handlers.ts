import { localDaemonError } from '../docker/daemon.js';
import { pickRepoDigest } from '../docker/image.js';
import type { EnvironmentModel } from '../model/environment.js';
import type { Step } from '../plan/types.js';
import { composeOnce } from '../rollout/first-up.js';
import { type HostBatch, hostBatch } from '../rollout/host-batch.js';
import { describeTransfer, type ImageArchives, transferImage } from '../rollout/image-transfer.js';
import { ensureIngress, type IngressTarget, removeAppRoutes } from '../rollout/ingress.js';
import { pruneServices } from '../rollout/prune.js';
import { rolloutService } from '../rollout/replace.js';
import { describeRetain, type RetainReport, retainOnHost } from '../rollout/retain.js';
import type { Runner } from '../runners/types.js';
import { ExternalError, InternalError, UserError } from '../util/errors.js';
import type { StepHandler } from './run.js';
import { deployStack, ensureNodeLabels, runSwarmJob } from './swarm.js';
import { drainStacks, removeStacks } from './swarm-remove.js';

// What each kind of step does on its runner. The engine (run.ts) decides order and bookkeeping; this
// module decides effects. What belongs to one command's run (the lock, migrations, the release
// record) is injected, so every plan kind (deploy, rollback, restart, build) runs through the same code.

/** What the handlers need from the command that runs the plan. */
export interface HandlerDeps {
  model: EnvironmentModel;
  /** The runner of a host; undefined → this machine (builds, pushes). */
  runner(host: string | undefined): Runner;
  /** Filled in by push steps: service → image reference as pushed, pinned by digest when the registry gave one. */
  pushed: Record<string, string>;
  /** Images saved on the build machine for hosts without a registry (`image-save`, `image-transfer` steps). */
  archives?: ImageArchives;
  /** The deploy lock on the lock host (state/lock.ts); absent for plans that take none (build). */
  lock?: { acquire(runner: Runner, message: string): Promise<void>; release(runner: Runner): Promise<void> };
  /** Runs a migrate step on the lock host; returns the detail line ("2 applied"). Absent: no migrations. */
  migrate?(step: Step, runner: Runner, log: (line: string) => void): Promise<string>;
  /** Records the release (the `record` step); absent for plans that record none (build). */
  record?(): Promise<void>;
  /** Told what each `retain` step removed and freed (`stagecraft prune` reports it). */
  onRetain?(report: RetainReport): void;
}

/** The injected dependency a step needs, or InternalError: the plan has a step its runner cannot run. */
function needs<T>(value: T | undefined, step: Step, what: string): T {
  if (value === undefined)
    throw new InternalError(`step ${step.id} needs ${what}, which this run does not have`);
  return value;
}

function ingressTarget(
  deps: HandlerDeps,
  runner: Runner,
  names: { container: string; network: string } = deps.model.ingress,
): IngressTarget {
  return {
    runner,
    project: deps.model.composeProject,
    container: names.container,
    network: names.network,
    legacy: deps.model.ingress.legacy,
  };
}

/**
 * The StepHandler for a run: maps each kind of step to its effects on the step's runner. Throws what
 * the runner throws (ExternalError), or UserError when a user's command (a hook, `allowFailure`) exits
 * non-zero; returns 'unchanged' when there was nothing to do (image exists, gateway running, rollout
 * at spec).
 */
export function stepHandler(deps: HandlerDeps): StepHandler {
  /** Per host, the commands its services rolling out together share. */
  const batches = new Map<Runner, HostBatch>();
  const batchOf = (runner: Runner): HostBatch => {
    let batch = batches.get(runner);
    if (batch === undefined) {
      batch = hostBatch(runner, deps.model.composeProject);
      batches.set(runner, batch);
    }
    return batch;
  };
  const handle: StepHandler = async (step, log, signal) => {
    const runner = deps.runner(step.host?.name);
    const { action } = step;
    switch (action.kind) {
      case 'build': {
        if (action.existsArgv !== undefined) {
          const exists = await runner.exec(action.existsArgv, { allowFailure: true, signal });
          if (exists.exitCode === 0)
            return { status: 'unchanged', detail: `${action.image} exists; not rebuilt` };
        }
        const env = Object.fromEntries(
          Object.entries(action.env ?? {}).map(([name, value]) => [name, value.reveal()]),
        );
        await runner.exec(action.argv, {
          onLine: log,
          signal,
          ...(action.stdin === undefined ? {} : { stdin: action.stdin }),
          ...(Object.keys(env).length > 0 ? { env } : {}),
        });
        return { status: 'completed', detail: `built ${action.image}` };
      }
      case 'push': {
        await runner.exec(action.argv, { onLine: log, signal });
        for (const argv of action.cacheArgv ?? []) await runner.exec(argv, { onLine: log, signal });
        const inspected = await runner.exec(action.digestArgv, { allowFailure: true, signal });
        const digest = pickRepoDigest(inspected.stdout, action.image);
        deps.pushed[action.service] = digest ?? action.image;
        return { status: 'completed', detail: `pushed ${digest ?? action.image}` };
      }
      case 'image-save': {
        const saved = await needs(deps.archives, step, 'a folder for image archives').save(
          action.service,
          runner,
          action.image,
          signal,
        );
        return {
          status: 'completed',
          detail: `saved ${action.image} (${saved.id.slice(7, 19)}, ${(saved.bytes / 1e6).toFixed(1)} MB, ${saved.diffIds.length} layers)`,
        };
      }
      case 'image-transfer': {
        const saved = needs(deps.archives, step, 'a folder for image archives').get(action.service);
        if (saved === undefined)
          throw new InternalError(`step ${step.id} runs before the image of ${action.service} was saved`);
        const report = await transferImage(runner, saved, log, signal);
        return { status: 'completed', detail: `${action.image}: ${describeTransfer(report)}` };
      }
      case 'lock-acquire':
        await needs(deps.lock, step, 'the deploy lock').acquire(runner, action.message);
        return { status: 'completed', detail: `lock held on ${runner.name}` };
      case 'lock-release':
        await needs(deps.lock, step, 'the deploy lock').release(runner);
        return { status: 'completed', detail: 'lock released' };
      case 'migrate':
        return {
          status: 'completed',
          detail: await needs(deps.migrate, step, 'migrations')(step, runner, log),
        };
      case 'upload':
        await runner.upload(action.path, action.content, action.mode);
        return { status: 'completed' };
      case 'exec': {
        const result = await runner.exec(action.argv, {
          onLine: log,
          signal,
          ...(action.env ? { env: action.env } : {}),
          ...(action.stdin ? { stdin: action.stdin } : {}),
          allowFailure: step.allowFailure === true,
        });
        if (result.exitCode !== 0) {
          // Only reached with allowFailure: the command is the user's, so the failure is too.
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
          ingressTarget(deps, runner, action),
          action.image,
          { http: action.httpPort, https: action.httpsPort },
          action.routes,
          tls,
        );
        return {
          status: outcome === 'running' ? 'unchanged' : 'completed',
          detail: outcome === 'replaced' ? `ingress replaced: runs ${action.image}` : `ingress ${outcome}`,
        };
      }
      case 'unroute': {
        const left = await removeAppRoutes(ingressTarget(deps, runner, action));
        return {
          status: 'completed',
          detail: `routes removed; the gateway serves ${left.join(', ') || 'no other app'}`,
        };
      }
      case 'rollout': {
        const outcome = await rolloutService(
          {
            runner,
            project: deps.model.composeProject,
            batch: batchOf(runner),
            ingress: action.route ? ingressTarget(deps, runner) : undefined,
            drainMs: deps.model.rollout.drainMs,
            log,
            signal,
          },
          action,
        );
        return { status: outcome.status, detail: `${action.service}: ${outcome.detail}` };
      }
      case 'job': {
        const result = await composeOnce(runner, deps.model.composeProject, () =>
          runner.exec(action.argv, { onLine: log, signal, allowFailure: true }),
        );
        if (result.exitCode !== 0) {
          const last = `${result.stderr}${result.stdout}`.trim().split('\n').at(-1) ?? '';
          throw new ExternalError(
            `job ${action.service} on ${runner.name} failed with exit code ${result.exitCode}${last ? `: ${last}` : ''}`,
            {
              hint: `the services that wait for ${action.service} were not rolled out; fix it (output above) and deploy again`,
            },
          );
        }
        return { status: 'completed', detail: `${action.service}: ran to completion` };
      }
      case 'prune': {
        const removed = await pruneServices(runner, deps.model.composeProject, action.keep, signal);
        return {
          status: removed.length === 0 ? 'unchanged' : 'completed',
          detail: removed.length === 0 ? 'nothing to remove' : `removed ${removed.join(', ')}`,
        };
      }
      case 'retain': {
        const report = await retainOnHost(runner, deps.model.composeProject, action, log, signal);
        deps.onRetain?.(report);
        const removed = Object.values(report.removed).some((list) => list.length > 0);
        return { status: removed ? 'completed' : 'unchanged', detail: describeRetain(report) };
      }
      case 'swarm-labels':
        return ensureNodeLabels(runner, action, log, signal);
      case 'stack-deploy':
        return deployStack(runner, action, log, signal);
      case 'swarm-job':
        return runSwarmJob(runner, action, log, signal);
      case 'stack-remove':
        return removeStacks(runner, action, log, signal);
      case 'stack-drain':
        return drainStacks(runner, action, log, signal);
      case 'record':
        await needs(deps.record, step, 'a release to record')();
        return { status: 'completed' };
    }
  };
  return async (step, log, signal) => {
    try {
      return await handle(step, log, signal);
    } catch (error) {
      // On this machine (builds, pushes, image archives) a daemon that does not answer is named as such.
      throw (step.host === undefined ? localDaemonError(error, step.id) : undefined) ?? error;
    }
  };
}
