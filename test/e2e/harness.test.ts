// Proves the e2e harness itself: SSH hosts with their own Docker engines, a registry reachable at the same
// image name from the build engine and from every host, host-to-host traffic by name, and no way out.
// Teardown is checked by test/harness/check-clean.sh after `npm run harness -- down` (in .ci/run).
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { dockerOn, type HarnessEnv, requireHarness, run, sshRun } from './support/harness.js';

let env: HarnessEnv;

beforeAll(async () => {
  env = await requireHarness();
});

describe('e2e harness', () => {
  it('describes a registry, a build engine and hosts h1..hN', () => {
    expect(env.registry).toBe('127.0.0.1:5000');
    expect(env.build_docker_host).toMatch(/^unix:\/\//);
    expect(env.hosts.length).toBeGreaterThanOrEqual(2);
    env.hosts.forEach((host, i) => {
      expect(host).toMatchObject({ name: `h${i + 1}`, user: 'root', port: 22 });
      expect(host.address).toMatch(/^10\.231\.0\.\d+$/);
      expect(host.docker_host).toMatch(/^unix:\/\//);
    });
  });

  it('each host answers over ssh with its own hostname and its own Docker engine', async () => {
    await Promise.all(
      env.hosts.map(async (host) => {
        const [hostname, engine] = (
          await sshRun(env, host.name, 'hostname && docker info --format "{{.Name}}"')
        )
          .trim()
          .split('\n');
        expect(hostname).toBe(host.name);
        expect(engine).toBe(host.name);
        // The same engine is reachable from the operator through the host's socket.
        expect((await dockerOn(env, host.name, ['info', '--format', '{{.Name}}'])).trim()).toBe(host.name);
      }),
    );
    expect((await dockerOn(env, 'local', ['info', '--format', '{{.Name}}'])).trim()).toBe('local');
  });

  it('pushes an image from the build engine and pulls it on every host over ssh', async () => {
    const marker = `probe-${process.pid}-${Date.now()}`;
    const image = `${env.registry}/stagecraft-test/harness-probe:${marker}`;
    const context = await mkdtemp(join(tmpdir(), 'stagecraft-harness-probe-'));
    try {
      await writeFile(join(context, 'marker.txt'), `${marker}\n`);
      await writeFile(
        join(context, 'Dockerfile'),
        `FROM ${env.registry}/stagecraft-test/busybox:latest\nCOPY marker.txt /marker.txt\nCMD ["cat", "/marker.txt"]\n`,
      );
      await dockerOn(env, 'local', ['build', '-q', '-t', image, context]);
      await dockerOn(env, 'local', ['push', '-q', image]);
      await Promise.all(
        env.hosts.map(async (host) => {
          const out = await sshRun(
            env,
            host.name,
            `docker pull -q ${image} >/dev/null && docker run --rm ${image}`,
          );
          expect(out.trim()).toBe(marker);
          await sshRun(env, host.name, `docker rmi -f ${image} >/dev/null`);
        }),
      );
    } finally {
      await rm(context, { recursive: true, force: true });
      await dockerOn(env, 'local', ['rmi', '-f', image]).catch(() => undefined);
    }
  });

  it('has the base images in the registry, runnable on a host', async () => {
    const host = env.hosts[0]!.name;
    const out = await sshRun(
      env,
      host,
      `docker run --rm ${env.registry}/stagecraft-test/node:20 node -e "process.stdout.write(process.version)"` +
        ` && echo && docker run --rm ${env.registry}/stagecraft-test/caddy:2 caddy version` +
        ` && docker run --rm ${env.registry}/stagecraft-test/busybox:latest echo busybox-ok`,
    );
    const [node, caddy, busybox] = out.trim().split('\n');
    expect(node).toMatch(/^v20\./);
    expect(caddy).toMatch(/^v?2\./);
    expect(busybox).toBe('busybox-ok');
  });

  it('hosts reach each other by name', async () => {
    await Promise.all(
      env.hosts.flatMap((from) =>
        env.hosts
          .filter((to) => to.name !== from.name)
          .map(async (to) => {
            // A TCP connection to the other host's sshd, by name (its /etc/hosts), reading the banner.
            const banner = await sshRun(
              env,
              from.name,
              `timeout 5 bash -c 'exec 3<>/dev/tcp/${to.name}/22 && head -c 8 <&3'`,
            );
            expect(banner).toBe('SSH-2.0-');
            const resolved = await sshRun(env, from.name, `getent hosts ${to.name}`);
            expect(resolved.split(/\s+/)[0]).toBe(to.address);
          }),
      ),
    );
  });

  it('gives each host a private /root and /tmp', async () => {
    const [first, second] = env.hosts;
    const marker = `marker-${process.pid}-${Date.now()}`;
    await sshRun(env, first!.name, `echo ${marker} > /root/${marker} && echo ${marker} > /tmp/${marker}`);
    try {
      const there = await sshRun(env, first!.name, `cat /root/${marker} /tmp/${marker}`);
      expect(there.trim().split('\n')).toEqual([marker, marker]);
      const elsewhere = await sshRun(
        env,
        second!.name,
        `ls /root/${marker} /tmp/${marker} 2>/dev/null || true`,
      );
      expect(elsewhere.trim()).toBe('');
    } finally {
      await sshRun(env, first!.name, `rm -f /root/${marker} /tmp/${marker}`);
    }
  });

  it('has no default route out of the machine, on hosts and in the build engine', async () => {
    for (const host of env.hosts) {
      expect(await sshRun(env, host.name, 'ip route show default')).toBe('');
    }
    const { stdout } = await run('ip', ['-n', 'sc-local', 'route', 'show', 'default']);
    expect(stdout).toBe('');
  });

  it('reports itself as running through `npm run harness -- env`', async () => {
    const cli = fileURLToPath(new URL('../harness/cli.mjs', import.meta.url));
    const { stdout } = await run(process.execPath, [cli, 'env']);
    expect(JSON.parse(stdout)).toEqual(env);
  });
});
