#!/usr/bin/env node
// Deploy without a registry, measured on the e2e harness (hold it: `npm run build && flock
// /work/e2e.lock node bench/no-registry.mjs`). The shop's web alone, with no project.registry, is
// deployed to h1 twice: v1, then v2 whose only change is one small file (one small image layer). The
// second deploy's transfer step (bytes it sent on the SSH connection, its wall time) is printed side by
// side with a full `docker save <image> | ssh h1 docker load` of the same image (bytes counted here,
// wall time), and their ratios. Target: the second deploy sends at most 10 % of the full bytes.
import { spawn } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { run } from './lib/run.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const cli = join(root, 'bin/stagecraft.js');
const NAME = 'benchnoreg';

const harness = JSON.parse((await run(process.execPath, [join(root, 'test/harness/cli.mjs'), 'env'])).stdout);
const h1 = harness.hosts.find((host) => host.name === 'h1');
const env = {
  ...process.env,
  NO_COLOR: '1',
  DOCKER_HOST: harness.build_docker_host,
  NODE_IMAGE: '127.0.0.1:5000/stagecraft-test/node:20',
};

const dir = mkdtempSync(join(tmpdir(), `stagecraft-bench-${NAME}-`));
cpSync(join(root, 'examples/shop/web'), join(dir, 'web'), {
  recursive: true,
  filter: (path) => !path.includes('node_modules'),
});
writeFileSync(
  join(dir, 'docker-compose.yml'),
  `name: ${NAME}
services:
  web:
    build: { context: ./web, args: { NODE_IMAGE: "\${NODE_IMAGE:-node:20-alpine}" } }
    environment: { APP_VERSION: "\${STAGECRAFT_VERSION:-dev}" }
    init: true
    stop_grace_period: 10s
`,
);
writeFileSync(
  join(dir, 'stagecraft.yml'),
  `project: { name: ${NAME} }
environments:
  bench:
    driver: ssh
    ssh: { user: root, identity_file: ${harness.identity_file}, known_hosts_file: ${harness.known_hosts} }
    hosts:
      web: [{ name: h1, address: ${h1.address} }]
    rollout: { health_timeout: 60s }
`,
);

const ssh = (script) => run('ssh', ['-F', harness.ssh_config, 'h1', script]);
async function cleanup() {
  await ssh(
    `docker rm -f $(docker ps -aq --filter label=com.docker.compose.project=${NAME}-bench) 2>/dev/null; ` +
      `docker image rm $(docker image ls -q '${NAME}-*') 2>/dev/null; rm -rf .stagecraft/${NAME}-bench; true`,
  );
}

const stagecraft = (args) => run(process.execPath, [cli, '-e', 'bench', ...args], { cwd: dir, env });

try {
  await cleanup();
  writeFileSync(join(dir, 'web', 'src', 'release.txt'), 'v1\n');
  const first = await stagecraft(['deploy', '--version', 'v1']);
  if (first.code !== 0) throw new Error(`first deploy failed: ${first.stderr}`);
  writeFileSync(join(dir, 'web', 'src', 'release.txt'), 'v2: one small change\n');
  const second = await stagecraft(['deploy', '--version', 'v2', '--json']);
  if (second.code !== 0) throw new Error(`second deploy failed: ${second.stderr}`);
  const transfer = second.stdout
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line))
    .find((event) => event.event === 'step-done' && event.step === 'transfer:h1:web');
  const [, sent] = /; (\d+) of (\d+) bytes\)/.exec(transfer.detail).map(Number);

  // The same image, whole: docker save on the build engine piped into docker load on h1 over ssh.
  const started = performance.now();
  const full = await new Promise((resolve, reject) => {
    const save = spawn('docker', ['save', `${NAME}-web:v2`], { env, stdio: ['ignore', 'pipe', 'inherit'] });
    const load = spawn('ssh', ['-F', harness.ssh_config, 'h1', 'docker load'], {
      stdio: ['pipe', 'ignore', 'inherit'],
    });
    let bytes = 0;
    save.stdout.on('data', (chunk) => {
      bytes += chunk.length;
    });
    save.stdout.pipe(load.stdin);
    load.on('close', (code) =>
      code === 0 ? resolve(bytes) : reject(new Error(`docker load exited ${code}`)),
    );
  });
  const fullMs = performance.now() - started;

  const mb = (bytes) => `${(bytes / 1e6).toFixed(2)} MB`;
  const s = (ms) => `${(ms / 1000).toFixed(2)} s`;
  console.log(`no registry, second deploy changing one small layer of ${NAME}-web (h1):`);
  console.log(`                          bytes              time`);
  console.log(`  stagecraft transfer     ${sent} (${mb(sent)})   ${s(transfer.duration_ms)}`);
  console.log(`  docker save | ssh load  ${full} (${mb(full)})   ${s(fullMs)}`);
  console.log(
    `  ratio                   ${((100 * sent) / full).toFixed(3)} % of the bytes   ${(transfer.duration_ms / fullMs).toFixed(2)}x the time`,
  );
} finally {
  await cleanup();
  rmSync(dir, { recursive: true, force: true });
}
