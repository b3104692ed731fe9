import type { Plan, Step } from '../plan/types.js';
import { assumedRollout, describeRolloutOp, type RolloutDecision } from '../rollout/decide.js';
import type { Colors } from '../util/output.js';
import { quoteArgv } from '../util/shell-quote.js';

/** Rollout decisions by step id, from the containers on the hosts (`plan --refresh`). */
export type RolloutDecisions = Record<string, RolloutDecision>;

/** The operations of a rollout step, in words: decided when the host was read, else assumed. */
function rolloutOperations(step: Step, decisions: RolloutDecisions | undefined): string[] | undefined {
  if (step.action.kind !== 'rollout') return undefined;
  const decision = decisions?.[step.id];
  if (decision?.status === 'unchanged') return ['nothing to do: every container is at this spec and serving'];
  const ops = decision?.ops ?? assumedRollout(step.action);
  return ops.map((op) => describeRolloutOp(op, step.action as Parameters<typeof describeRolloutOp>[1]));
}

/** The stable JSON form of a plan (`plan --format json`): no secret, no timestamps. */
export function planToJson(plan: Plan, decisions?: RolloutDecisions): Record<string, unknown> {
  return {
    schema: 'stagecraft.plan/v1',
    kind: plan.kind,
    project: plan.project,
    environment: plan.environment,
    version: plan.version,
    hosts: plan.hosts,
    phases: plan.phases.map((phase) => ({
      name: phase.name,
      status: phase.skipped === undefined ? 'planned' : 'skipped',
      ...(phase.skipped === undefined ? {} : { reason: phase.skipped }),
      steps: phase.steps.map((step) => stepToJson(step, decisions)),
    })),
  };
}

function stepToJson(step: Step, decisions: RolloutDecisions | undefined): Record<string, unknown> {
  const { action } = step;
  const detail: Record<string, unknown> = { kind: action.kind };
  switch (action.kind) {
    case 'build':
    case 'push':
    case 'exec':
      detail['argv'] = action.argv;
      if ('image' in action) detail['image'] = action.image;
      break;
    case 'upload':
      detail['path'] = action.path;
      detail['mode'] = `0${action.mode.toString(8)}`;
      if (action.sha256 !== undefined) detail['sha256'] = action.sha256;
      break;
    case 'rollout':
      Object.assign(detail, {
        service: action.service,
        strategy: action.strategy,
        replicas: action.replicas,
        spec_hash: action.specHash,
      });
      if (action.route) detail['route'] = action.route;
      detail['operations'] = rolloutOperations(step, decisions);
      detail['operations_from'] = decisions?.[step.id] === undefined ? 'assumed' : 'hosts';
      break;
    case 'migrate':
      Object.assign(detail, { database: action.database, strategy: action.strategy, engine: action.engine });
      break;
    case 'job':
      Object.assign(detail, { service: action.service, argv: action.argv });
      break;
    case 'prune':
      detail['keep'] = action.keep;
      break;
    case 'image-save':
    case 'image-transfer':
      Object.assign(detail, { service: action.service, image: action.image });
      break;
    case 'retain':
      Object.assign(detail, {
        keep_releases: action.keepReleases,
        keep_images: action.keepImages,
        remove_images: action.removeImages,
        ...(action.releasesDir === undefined ? {} : { releases_dir: action.releasesDir }),
        stopped_containers: action.containers,
        ...(action.buildCacheUntilHours === undefined
          ? {}
          : { build_cache_until: `${action.buildCacheUntilHours}h` }),
      });
      break;
    case 'unroute':
      detail['container'] = action.container;
      break;
    case 'ingress':
      Object.assign(detail, {
        image: action.image,
        http_port: action.httpPort,
        container: action.container,
        tls: action.tls.mode,
        ...(action.tls.mode === 'off' ? {} : { https_port: action.httpsPort }),
        // Every route setting but the basic auth password (a Secret: only its user is shown).
        routes: action.routes.map((route) => ({
          service: route.service,
          domains: route.domains,
          port: route.port,
          ...(route.path === undefined ? {} : { path: route.path, strip_path: route.stripPath !== false }),
          ...(route.maxBodyBytes === undefined ? {} : { max_body_bytes: route.maxBodyBytes }),
          ...(route.basicAuth === undefined ? {} : { basic_auth: { user: route.basicAuth.user } }),
          ...(route.maintenance === undefined
            ? {}
            : { maintenance: { retry_after_seconds: route.maintenance.retryAfterSeconds } }),
        })),
      });
      break;
    default:
      break;
  }
  return {
    id: step.id,
    phase: step.phase,
    host: step.host?.name ?? null,
    title: step.title,
    depends_on: step.dependsOn,
    action: detail,
  };
}

/** The command that applies a plan of this kind, without its flags: `prune`, `deploy`, … */
export function applyVerb(plan: Plan): string {
  return plan.kind === 'prune' || plan.kind === 'remove' || plan.kind === 'maintenance'
    ? plan.kind
    : 'deploy';
}

/**
 * Text grouped by phase, then host, with the exact step ids `deploy` will report; under each rollout
 * step its operations (decided from the hosts with `decisions`, else assumed, and said so). The last
 * line names the command that applies it: `apply` (the words after `stagecraft`), else its verb.
 */
export function planToText(
  plan: Plan,
  colors: Colors,
  decisions?: RolloutDecisions,
  apply?: readonly string[],
): string {
  const lines: string[] = [];
  const hostCount = plan.hosts.length;
  const maintenance = plan.kind === 'prune' || plan.kind === 'remove' || plan.kind === 'maintenance';
  lines.push(
    colors.bold(`Plan: ${plan.kind} ${plan.project} ${maintenance ? 'in' : 'to'} ${plan.environment}`) +
      ` (${maintenance ? '' : `version ${plan.version}, `}${hostCount} host${hostCount === 1 ? '' : 's'}: ${plan.hosts.map((host) => `${host.name} [${host.roles.join(', ')}]`).join(', ')})`,
  );
  let count = 0;
  let rollouts = 0;
  for (const phase of plan.phases) {
    lines.push('');
    if (phase.skipped !== undefined) {
      lines.push(`${colors.bold(phase.name)} ${colors.dim(`skipped: ${phase.skipped}`)}`);
      continue;
    }
    lines.push(colors.bold(phase.name));
    let host: string | undefined;
    for (const step of phase.steps) {
      const stepHost = step.host?.name;
      if (phase.name === 'rollout' && stepHost !== host) {
        host = stepHost;
        lines.push(`  ${colors.cyan(host ?? 'local')}`);
      }
      const indent = phase.name === 'rollout' ? '    ' : '  ';
      const where = phase.name !== 'rollout' && stepHost !== undefined ? colors.dim(` [${stepHost}]`) : '';
      lines.push(`${indent}${step.id.padEnd(28)} ${step.title}${where}`);
      for (const operation of rolloutOperations(step, decisions) ?? []) {
        lines.push(colors.dim(`${indent}${' '.repeat(29)}· ${operation}`));
        rollouts++;
      }
      count++;
    }
  }
  if (rollouts > 0) {
    lines.push(
      '',
      colors.dim(
        decisions === undefined
          ? 'Rollout operations assume old, running containers: the hosts were not read (`plan --refresh` reads them).'
          : 'Rollout operations were decided from the containers on the hosts now (hosts that could not be read: assumed).',
      ),
    );
  }
  lines.push(
    '',
    `${count} steps. Nothing has been changed; run \`${quoteArgv(['stagecraft', ...(apply ?? [applyVerb(plan)])])}\` to apply.`,
  );
  return lines.join('\n');
}
