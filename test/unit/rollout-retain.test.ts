import { describe, expect, it } from 'vitest';
import { readInventory, retainOnHost } from '../../src/rollout/retain.js';
import { RecordingRunner } from '../../src/runners/recording.js';

const R = '127.0.0.1:5000/shop';
const IMAGES = [
  { ID: 'sha256:old', Repository: `${R}-web`, Tag: 'v1', Digest: '<none>' },
  { ID: 'sha256:new', Repository: `${R}-web`, Tag: 'v2', Digest: '<none>' },
  { ID: 'sha256:pg', Repository: 'postgres', Tag: '16', Digest: '<none>' },
]
  .map((row) => JSON.stringify(row))
  .join('\n');
const CONTAINERS = [
  {
    Id: 'c-web',
    Name: '/shop-production-web-1',
    Image: 'sha256:new',
    State: { Status: 'running' },
    Config: {
      Labels: {
        'com.docker.compose.project': 'shop-production',
        'com.docker.compose.project.config_files':
          '/root/.stagecraft/shop-production/releases/rel-20261130-120200000/compose.yml',
      },
    },
    // A file of its release mounted: that folder stays (its compose label alone would not keep it).
    Mounts: [
      { Type: 'bind', Source: '/root/.stagecraft/shop-production/releases/rel-20261130-120200000/web.conf' },
    ],
  },
  {
    Id: 'c-dead',
    Name: '/shop-production-api-1',
    Image: 'sha256:old',
    State: { Status: 'exited' },
    Config: { Labels: { 'com.docker.compose.project': 'shop-production' } },
    Mounts: [],
  },
]
  .map((row) => JSON.stringify(row))
  .join('\n');

const DF = [
  { Type: 'Images', Size: '120MB' },
  { Type: 'Containers', Size: '1kB' },
  { Type: 'Local Volumes', Size: '5GB' },
  { Type: 'Build Cache', Size: '0B' },
]
  .map((row) => JSON.stringify(row))
  .join('\n');

describe('retainOnHost', () => {
  it('reads the host, removes the stopped container, then the image it held, then the unused folder; measures', async () => {
    let measured = 0;
    const runner = new RecordingRunner({
      name: 'h1',
      script: (argv) => {
        const command = argv.join(' ');
        if (command.startsWith('docker system df')) {
          measured++;
          return { stdout: measured === 1 ? DF : DF.replace('120MB', '80MB') };
        }
        if (command.startsWith('du -sk'))
          return { stdout: `${measured === 1 ? 2048 : 1024}\t.stagecraft/x\n` };
        if (command.startsWith('docker image ls')) return { stdout: IMAGES };
        if (command.startsWith('docker ps -aq')) return { stdout: 'c-web\nc-dead\n' };
        if (command.startsWith('docker container inspect')) return { stdout: CONTAINERS };
        if (command.startsWith('ls -1 -A'))
          return { stdout: 'rel-20261130-120100000\nrel-20261130-120200000\n' };
        return undefined;
      },
    });
    const report = await retainOnHost(
      runner,
      'shop-production',
      {
        kind: 'retain',
        keepReleases: ['rel-20261130-120300000'],
        keepImages: [`${R}-web:v3`],
        removeImages: [`${R}-web:v1`, `${R}-web:v2`],
        releasesDir: '.stagecraft/shop-production/releases',
        containers: true,
        bestEffort: false,
        measure: true,
      },
      () => undefined,
    );
    expect(
      runner.commands.filter(
        (argv) =>
          argv[0] === 'rm' ||
          argv.slice(0, 3).join(' ') === 'docker image rm' ||
          argv.slice(0, 2).join(' ') === 'docker rm',
      ),
    ).toEqual([
      ['docker', 'rm', 'c-dead'],
      ['docker', 'image', 'rm', `${R}-web:v1`],
      ['rm', '-rf', '--', '.stagecraft/shop-production/releases/rel-20261130-120100000'],
    ]);
    // v2 runs (c-web), and its release folder holds c-web's compose file: both stay.
    expect(report.removed.images).toEqual([{ id: 'sha256:old', refs: [`${R}-web:v1`] }]);
    expect(report.freedBytes).toBe(40_000_000 + 1024 * 1024);
  });

  it('best effort: a removal that fails is reported, the rest still runs', async () => {
    const runner = new RecordingRunner({
      name: 'h1',
      script: {
        'docker image ls': { stdout: IMAGES },
        'docker image rm': { exitCode: 1, stderr: 'conflict: image is in use' },
      },
    });
    const lines: string[] = [];
    const report = await retainOnHost(
      runner,
      'shop-production',
      {
        kind: 'retain',
        keepReleases: [],
        keepImages: [],
        removeImages: [`${R}-web:v1`],
        containers: false,
        buildCacheUntilHours: 168,
        bestEffort: true,
        measure: false,
      },
      (line) => lines.push(line),
    );
    expect(report.errors).toHaveLength(1);
    expect(lines[0]).toContain(`could not remove image ${R}-web:v1`);
    expect(runner.commands.at(-1)).toEqual([
      'docker',
      'builder',
      'prune',
      '--force',
      '--filter',
      'until=168h',
    ]);
  });

  it('reads images, containers and release folders side by side: the three start before any answers', async () => {
    const started: string[] = [];
    let answered = false;
    const runner = new RecordingRunner({
      name: 'h1',
      script: async (argv) => {
        const command = argv.slice(0, 3).join(' ');
        started.push(answered ? `${command} (after an answer)` : command);
        await new Promise((resolve) => setTimeout(resolve, 5));
        answered = true;
        if (command === 'docker image ls') return { stdout: IMAGES };
        if (command === 'docker ps -aq') return { stdout: 'c-web\n' };
        if (command === 'docker container inspect') return { stdout: CONTAINERS };
        return { stdout: 'rel-20261130-120100000\n' };
      },
    });
    const inventory = await readInventory(runner, '.stagecraft/shop-production/releases');
    expect(started).toEqual([
      'docker image ls',
      'docker ps -aq',
      'ls -1 -A',
      'docker container inspect (after an answer)',
    ]);
    expect(inventory.images.map((image) => image.id)).toEqual(['sha256:old', 'sha256:new', 'sha256:pg']);
    expect(inventory.containers.map((container) => container.id)).toEqual(['c-web', 'c-dead']);
    expect(inventory.releaseFolders).toEqual(['rel-20261130-120100000']);
  });
  it('removes the images and the release folders side by side once the containers are gone', async () => {
    let running = 0;
    let most = 0;
    const runner = new RecordingRunner({
      name: 'h1',
      script: async (argv) => {
        const command = argv.join(' ');
        if (command.startsWith('docker image ls')) return { stdout: IMAGES };
        if (command.startsWith('ls -1 -A')) return { stdout: 'rel-20261130-120100000\n' };
        if (!command.startsWith('docker image rm') && !command.startsWith('rm -rf')) return undefined;
        running += 1;
        most = Math.max(most, running);
        await new Promise((resolve) => setTimeout(resolve, 5));
        running -= 1;
        return undefined;
      },
    });
    const report = await retainOnHost(
      runner,
      'shop-production',
      {
        kind: 'retain',
        keepReleases: ['rel-20261130-120300000'],
        keepImages: [],
        removeImages: [`${R}-web:v1`, `${R}-web:v2`],
        releasesDir: '.stagecraft/shop-production/releases',
        containers: false,
        bestEffort: false,
        measure: false,
      },
      () => undefined,
    );
    // Two images and one folder: all three removals at once.
    expect(most).toBe(3);
    expect(report.removed.images.map((image) => image.refs)).toEqual(
      runner.commands.filter((argv) => argv[1] === 'image' && argv[2] === 'rm').map((argv) => argv.slice(3)),
    );
    expect(report.removed.images).toHaveLength(2);
    expect(report.removed.folders).toEqual(['.stagecraft/shop-production/releases/rel-20261130-120100000']);
  });
});
