import { compareStrings } from '../compose/canonical.js';
import { located } from '../compose/locate.js';
import { projectHostCompose } from '../compose/project.js';
import { renderCompose, renderDockerEnvFile } from '../compose/render.js';
import { GATEWAY_SERVICE, type StackService, swarmStack } from '../compose/stack.js';
import type { ComposeProject } from '../compose/types.js';
import { stackDeployArgs } from '../docker/swarm.js';
import type { PhaseName } from '../state/types.js';
import { formatDurationSetting } from '../util/duration.js';
import { UserError } from '../util/errors.js';
import { Secret } from '../util/secret.js';
import {
  buildSteps,
  type DeployPlanInput,
  type HookName,
  hookSteps,
  imageRefs,
  migrateSteps,
  phase,
  projectFileSteps,
  projectionOf,
  pushSteps,
  type ReusedCompose,
  releaseDir,
  releasePlan,
  stagecraftOverrides,
} from './deploy.js';
import { lockAcquireStep } from './lock-steps.js';
import { serviceRoutes } from './routes.js';
import type { Plan, Step } from './types.js';

/** The stack a one-shot service runs in: `<stack>-job-<service>`, removed once the job is done. */
export function jobStackName(stack: string, service: string): string {
  return `${stack}-job-${service}`;
}

/** Services a set of services depend on (compose depends_on), transitively, jobs excluded. */
function dependencies(compose: ComposeProject, roots: string[], jobs: Set<string>): string[] {
  const seen = new Set<string>();
  const visit = (name: string) => {
    for (const dep of Object.keys(compose.services[name]?.depends_on ?? {})) {
      if (seen.has(dep) || jobs.has(dep)) continue;
      seen.add(dep);
      visit(dep);
    }
  };
  for (const root of roots) visit(root);
  return [...seen].sort(compareStrings);
}

/**
 * The exact steps of a deploy to a swarm (driver swarm), all on the manager: build and push as for
 * driver ssh (every node pulls from the registry); the lock; the release's files uploaded to the
 * manager (the stack file, 0600 env files of secrets, the gateway's config, one file per job); node
 * labels by role; when the compose file has one-shot services, the services they depend on are
 * deployed first (`stack.early.yml`, the same specs) and each job runs as a `replicated-job` stack,
 * polled to completion; then `docker stack deploy --prune` of the whole stack, polled until every
 * service runs its new tasks (or an update pauses); the release is recorded. A rollback
 * (`input.kind: 'rollback'`) deploys the target release's stack file and the files beside it again
 * when `input.reuse[manager]` has it (else a stack rendered with the target's images) and runs no job.
 * Pre-deploy migrations run as jobs on the manager (`migrate:<db>:pre`) once the services they need
 * run (those steps then move to migrate_pre); post-deploy ones after the stack converged. Pure.
 * Throws UserError for what this driver cannot do yet (scope flags) or at all (a bind mount of project
 * files, which the nodes do not have).
 */
export function planSwarmDeploy(input: DeployPlanInput): Plan {
  const { model } = input;
  const swarm = model.swarm;
  if (swarm === undefined) throw new UserError(`environment ${model.environment} is not a swarm`);
  const rollback = input.kind === 'rollback';
  const reused = rollback ? input.reuse?.[swarm.manager] : undefined;
  if (input.onlyHosts !== undefined || input.onlyServices !== undefined) {
    throw new UserError('not yet supported on driver swarm: --hosts, --roles and --services', {
      hint: 'Swarm places tasks on nodes itself: deploy the whole stack',
    });
  }
  const images = imageRefs(model, input.version, input.images);
  const builds =
    input.skipBuild === undefined
      ? buildSteps(model, images, input.immutableVersion === true, undefined, input.compose, input.variables)
      : [];
  const pushes = pushSteps(builds);
  const manager = { name: swarm.manager };
  const hook = (name: HookName, phaseName: PhaseName, after: string[]): Step[] =>
    hookSteps(
      { model, hooks: input.hooks, kind: input.kind, version: input.version, releaseId: input.releaseId },
      name,
      phaseName,
      after,
    );

  const projected = projectHostCompose({
    ...projectionOf(input),
    composeProjectName: swarm.stack,
    services: model.services.map((service) => service.name),
    images,
    remoteServices: {},
    releaseLabels: {},
    stagecraftServices: Object.fromEntries(
      model.services.map((service) => [service.name, stagecraftOverrides(service, input)]),
    ),
  });
  const bindMount = projected.projectMounts.find((mount) => mount.service !== '');
  if (bindMount !== undefined) {
    throw new UserError(
      located(
        input.locateCompose?.mount(bindMount.service, bindMount.target),
        `service ${bindMount.service}: the bind mount ./${bindMount.path}:${bindMount.target} needs the project's files on every node of the swarm, which only the manager gets`,
      ),
      {
        hint: `put ./${bindMount.path} in the image (COPY), or declare it under configs: (a Swarm config every node gets) and use configs: in the service`,
      },
    );
  }
  const routed = model.services.filter((service) => service.port !== undefined && service.domains.length > 0);
  if (routed.length > 0 && (input.ingressTls?.mode ?? 'off') !== 'off') {
    throw new UserError(
      `not yet supported on driver swarm: ingress.tls (mode ${input.ingressTls?.mode}); the swarm's gateway serves HTTP only`,
      {
        hint: 'ingress.tls applies to every environment of the project: to deploy this one to a swarm, set ingress.tls.mode: off and terminate TLS in front of the swarm (a load balancer), or deploy it with driver ssh',
      },
    );
  }
  // A rollback runs no job, as on driver ssh: jobs are a release's migrations and seeds.
  const jobNames = rollback
    ? []
    : model.services.filter((service) => service.job).map((service) => service.name);
  const stackServices: StackService[] = model.services.map((service) => ({
    name: service.name,
    role: service.role,
    replicas: service.replicas,
    strategy: service.strategy,
    job: service.job,
    needsStack: service.job && dependencies(input.compose, [service.name], new Set(jobNames)).length > 0,
  }));
  const stack = swarmStack(
    {
      document: projected.document,
      services: stackServices,
      ...(routed.length > 0
        ? {
            gateway: {
              image: model.ingress.image,
              httpPort: model.ingress.httpPort,
              routes: routed.flatMap(serviceRoutes),
            },
          }
        : {}),
    },
    swarm.stack,
  );

  const dir = releaseDir(model, input.releaseId);
  const lock = lockAcquireStep(manager, model.composeProject, input.message);
  const prepare = `prepare:${swarm.manager}`;
  const stackFile = `${dir}/stack.yml`;
  const appServices = (reused?.services ?? Object.keys(stack.stack.document.services)).sort(compareStrings);
  const upload = (
    id: string,
    path: string,
    content: string | Secret,
    mode: number,
    file: 'project-file' | 'secrets',
    title: string,
  ): Step => ({
    id,
    phase: 'rollout',
    host: manager,
    title,
    action: { kind: 'upload', path: `${dir}/${path}`, content, mode, file },
    dependsOn: [prepare],
  });
  // A rollback deploys the target release's own stack file again, with the files beside it (secrets,
  // the gateway's config); without one (gone, or changed on the manager) it renders from today's
  // config with the target's images.
  const files: Step[] =
    reused !== undefined
      ? reusedStackFiles(model, reused, {
          manager: swarm.manager,
          dir,
          after: lock.id,
          services: appServices,
        })
      : [
          {
            id: prepare,
            phase: 'rollout',
            host: manager,
            title: `upload stack.yml (sha256 ${stack.stack.sha256.slice(0, 12)}) for ${appServices.join(', ')}`,
            action: {
              kind: 'upload',
              path: stackFile,
              content: stack.stack.text,
              mode: 0o644,
              sha256: stack.stack.sha256,
              file: 'compose',
            },
            dependsOn: [lock.id],
          },
          ...projectFileSteps(
            input,
            { name: swarm.manager, target: '', user: undefined, port: undefined, roles: [] },
            projected.projectMounts,
            dir,
            prepare,
          ),
          ...Object.entries(projected.secretFiles)
            .sort(([a], [b]) => compareStrings(a, b))
            .map(([path, value]) =>
              upload(
                `secrets:${swarm.manager}:${path}`,
                path,
                new Secret(value),
                0o600,
                'secrets',
                `write ${path} (0600)`,
              ),
            ),
          ...Object.entries(projected.secretEnv)
            .sort(([a], [b]) => compareStrings(a, b))
            .map(([service, pairs]) => {
              const count = Object.keys(pairs).length;
              return upload(
                `secrets:${swarm.manager}:${service}`,
                `secrets/${service}.env`,
                new Secret(renderDockerEnvFile(pairs)),
                0o600,
                'secrets',
                `write secrets/${service}.env (0600, ${count} ${count === 1 ? 'key' : 'keys'})`,
              );
            }),
          ...Object.entries(stack.files)
            .sort(([a], [b]) => compareStrings(a, b))
            .map(([path, content]) =>
              upload(`file:${swarm.manager}:${path}`, path, content, 0o644, 'project-file', `upload ${path}`),
            ),
          ...Object.entries(stack.jobs)
            .sort(([a], [b]) => compareStrings(a, b))
            .map(([service, job]) =>
              upload(
                `file:${swarm.manager}:jobs/${service}.yml`,
                `jobs/${service}.yml`,
                job.text,
                0o644,
                'project-file',
                `upload jobs/${service}.yml (replicated job ${service})`,
              ),
            ),
        ];
  const labels: Step = {
    id: `labels:${swarm.manager}`,
    phase: 'rollout',
    host: manager,
    title: `label the swarm's nodes by role (${[...new Set(model.hosts.flatMap((host) => host.roles))]
      .sort(compareStrings)
      .map((role) => `stagecraft.role.${role}`)
      .join(', ')})`,
    action: {
      kind: 'swarm-labels',
      nodes: model.hosts.map((host) => ({
        host: host.name,
        address: input.hostAddresses[host.name] ?? host.target,
        roles: [...host.roles].sort(compareStrings),
      })),
    },
    dependsOn: [lock.id],
  };
  // How long the swarm gets to run a set of services: the longest health wait among them
  // (rollout.health_timeout, else what their health checks allow; at least 2m).
  const timeoutOf = (names: string[]) => {
    const waits = model.services
      .filter((service) => names.includes(service.name))
      .map((service) => service.healthTimeoutMs);
    return waits.length > 0 ? Math.max(...waits) : 120_000;
  };
  const rollout: Step[] = [...files, labels];
  let last = [labels.id];
  // The services the jobs and the pre-deploy migrations need run first (`stack.early.yml`).
  const needed = [
    ...new Set([
      ...dependencies(input.compose, jobNames, new Set(jobNames)),
      ...input.migrations
        .filter((migration) => migration.strategy === 'pre_deploy')
        .flatMap((migration) => migration.needs)
        .filter((name) => !jobNames.includes(name)),
    ]),
  ].sort(compareStrings);
  if (needed.length > 0) {
    const early: ComposeProject = {
      ...stack.stack.document,
      services: Object.fromEntries(needed.map((name) => [name, stack.stack.document.services[name]!])),
    };
    const earlyFile = renderCompose(early);
    rollout.push(
      {
        id: `file:${swarm.manager}:stack.early.yml`,
        phase: 'rollout',
        host: manager,
        title: `upload stack.early.yml (${needed.join(', ')}, which the ${jobNames.length > 0 ? 'jobs' : 'migrations'} need)`,
        action: {
          kind: 'upload',
          path: `${dir}/stack.early.yml`,
          content: earlyFile.text,
          mode: 0o644,
          file: 'project-file',
        },
        dependsOn: [prepare],
      },
      {
        id: `stack:${swarm.manager}:early`,
        phase: 'rollout',
        host: manager,
        title: `docker stack deploy ${swarm.stack} (${needed.join(', ')}) before the ${jobNames.length > 0 ? 'jobs' : 'migrations'}; running within ${formatDurationSetting(timeoutOf(needed))}`,
        action: {
          kind: 'stack-deploy',
          stack: swarm.stack,
          file: `${dir}/stack.early.yml`,
          argv: stackDeployArgs(swarm.stack, `${dir}/stack.early.yml`, { prune: false }),
          services: needed,
          timeoutMs: timeoutOf(needed),
        },
        dependsOn: [`file:${swarm.manager}:stack.early.yml`, labels.id],
      },
    );
    last = [`stack:${swarm.manager}:early`];
  }
  // Pre-deploy migrations run on the swarm once what they need runs: that part moves to migrate_pre.
  const pre = migrateSteps(input.migrations, 'pre_deploy', {
    phase: 'migrate_pre',
    host: manager,
    after: last,
  });
  const early =
    pre.length > 0 ? rollout.splice(0).map((step) => ({ ...step, phase: 'migrate_pre' as const })) : [];
  if (pre.length > 0) last = pre.map((step) => step.id);
  for (const name of [...jobNames].sort(compareStrings)) {
    const jobStack = jobStackName(swarm.stack, name);
    const id = `job:${swarm.manager}:${name}`;
    rollout.push({
      id,
      phase: 'rollout',
      host: manager,
      title: `run job ${name} as a replicated job (stack ${jobStack}) to completion (exit 0 = success)`,
      action: {
        kind: 'swarm-job',
        service: name,
        stack: jobStack,
        file: `${dir}/jobs/${name}.yml`,
        argv: stackDeployArgs(jobStack, `${dir}/jobs/${name}.yml`, { prune: false }),
        timeoutMs: timeoutOf([name]),
      },
      dependsOn: [...last, `file:${swarm.manager}:jobs/${name}.yml`],
    });
    last = [id];
  }
  const describe = model.services
    .filter((service) => !service.job)
    .map(
      (service) =>
        `${service.name} ${service.replicas}× ${service.strategy === 'start-first' ? 'start-first' : 'stop-first'}`,
    );
  if (appServices.includes(GATEWAY_SERVICE))
    describe.push(`${GATEWAY_SERVICE} on every node :${model.ingress.httpPort}`);
  const allFiles = files.map((step) => step.id).filter((id) => id !== prepare);
  rollout.push({
    id: `stack:${swarm.manager}`,
    phase: 'rollout',
    host: manager,
    title: `docker stack deploy ${swarm.stack} --prune (${describe.join('; ')}); updated, failure pauses; converged within ${formatDurationSetting(timeoutOf(appServices))}`,
    action: {
      kind: 'stack-deploy',
      stack: swarm.stack,
      file: stackFile,
      argv: stackDeployArgs(swarm.stack, stackFile, { prune: true }),
      services: appServices,
      timeoutMs: timeoutOf(appServices),
    },
    dependsOn: [...new Set([prepare, ...allFiles, ...last])],
  });
  const post = migrateSteps(input.migrations, 'post_deploy', {
    phase: 'migrate_post',
    host: manager,
    after: [`stack:${swarm.manager}`],
  });

  // Retention on a swarm: every node's images of releases not kept (Swarm itself keeps a few stopped
  // tasks per slot), the manager's release folders, and the build machine's images and build cache.
  return releasePlan(input, {
    hook,
    lockHost: manager,
    lock,
    builds,
    push: phase('push', pushes, input.skipBuild),
    early,
    pre,
    rollout,
    post,
  });
}

/**
 * The files of a rollback on the manager: `prepare:<manager>` uploads the target release's own stack
 * file (recorded sha256) into the new release folder, `copy:<manager>` copies the files beside it
 * there (secrets' env files, the gateway's config). Pure.
 */
function reusedStackFiles(
  model: DeployPlanInput['model'],
  reused: ReusedCompose,
  at: { manager: string; dir: string; after: string; services: string[] },
): Step[] {
  const prepare = `prepare:${at.manager}`;
  return [
    {
      id: prepare,
      phase: 'rollout',
      host: { name: at.manager },
      title: `upload stack.yml (sha256 ${reused.sha256.slice(0, 12)}, from release ${reused.releaseId}) for ${at.services.join(', ')}`,
      action: {
        kind: 'upload',
        path: `${at.dir}/stack.yml`,
        content: reused.text,
        mode: 0o644,
        sha256: reused.sha256,
        file: 'compose',
      },
      dependsOn: [at.after],
    },
    {
      id: `copy:${at.manager}`,
      phase: 'rollout',
      host: { name: at.manager },
      title: `copy the secrets and files of release ${reused.releaseId}`,
      // stack.yml comes along too: the same bytes `prepare` wrote.
      action: { kind: 'exec', argv: ['cp', '-a', `${releaseDir(model, reused.releaseId)}/.`, `${at.dir}/`] },
      dependsOn: [prepare],
    },
  ];
}
