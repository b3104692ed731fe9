// `deploy --skip-build` builds nothing: the images of the version must exist already. Checked before
// the lock is taken, so a version that was never built changes no database and no host.
import { imageExistsArgs, manifestInspectArgs } from '../docker/image.js';
import type { EnvironmentModel } from '../model/environment.js';
import { inBuildScope, sendsImagesOverSsh } from '../plan/deploy.js';
import type { Runner } from '../runners/types.js';
import { lastStderrLine } from '../state/ledger.js';
import { ExternalError, UserError } from '../util/errors.js';

/** What `docker manifest inspect` / `docker image inspect` print for a reference nothing answers to. */
const MISSING = /no such (manifest|image)|manifest unknown|not found/i;

/**
 * Refuses a `--skip-build` deploy whose built images do not exist: each image a service in scope runs
 * that Stagecraft builds (`images`: service → reference) is looked up in the registry with `docker
 * manifest inspect`, or, where images go from this machine (no registry, driver local), in this
 * machine's engine with `docker image inspect`, all at once on `local`. Throws UserError naming every
 * missing image; ExternalError when the registry or engine cannot be asked.
 */
export async function refuseUnbuiltImages(
  model: EnvironmentModel,
  images: Record<string, string>,
  onlyServices: string[] | undefined,
  local: Runner,
): Promise<void> {
  const inRegistry = !sendsImagesOverSsh(model) && model.driver !== 'local';
  const refs = [
    ...new Set(
      model.services
        .filter((service) => service.build !== undefined || service.imageFrom !== undefined)
        .filter((service) => inBuildScope(model, onlyServices, service.name))
        .flatMap((service) => (images[service.name] === undefined ? [] : [images[service.name]!])),
    ),
  ].sort();
  const results = await Promise.all(
    refs.map(async (ref) => {
      const argv = inRegistry ? manifestInspectArgs(ref) : imageExistsArgs(ref);
      return { ref, argv, result: await local.exec(argv, { allowFailure: true }) };
    }),
  );
  const failed = results.filter(({ result }) => result.exitCode !== 0);
  const unknown = failed.find(({ result }) => !MISSING.test(result.stderr));
  if (unknown !== undefined) {
    throw new ExternalError(
      `could not tell whether ${unknown.ref} exists: \`${unknown.argv.join(' ')}\` exited with code ${unknown.result.exitCode}: ${lastStderrLine(unknown.result.stderr)}`,
      {
        hint: inRegistry
          ? 'check that the registry is reachable and you are logged in'
          : 'check that Docker runs here',
      },
    );
  }
  if (failed.length > 0) {
    const missing = failed.map(({ ref }) => ref);
    throw new UserError(
      `--skip-build: ${missing.join(', ')} ${missing.length === 1 ? 'does' : 'do'} not exist ${inRegistry ? 'in the registry' : "in this machine's Docker engine"}, so the release could not start; nothing was changed`,
      {
        hint: 'deploy without --skip-build to build the version, or pass --version with a version that was built (see `stagecraft releases list`)',
      },
    );
  }
}
