import { describe, expect, it } from 'vitest';
import {
  dockerServerVersionArgs,
  runContainerArgs,
  startContainersArgs,
} from '../../src/docker/container.js';

const line = (argv: string[]) => argv.join(' ');

describe('docker run, start, version and labelled listings', () => {
  it('runs the gateway: detached, named, restarting, on its network, ports and labels', () => {
    expect(
      line(
        runContainerArgs('caddy:2', ['caddy', 'run', '--resume'], {
          detach: true,
          name: 'shop-production-ingress',
          restart: 'unless-stopped',
          network: 'shop-production_ingress',
          publish: ['8080:80', '8443:443'],
          labels: [
            ['stagecraft.ingress', 'shop-production'],
            ['stagecraft.ingress-ports', '8080:80,8443:443'],
          ],
        }),
      ),
    ).toBe(
      'docker run -d --name shop-production-ingress --restart unless-stopped --network shop-production_ingress -p 8080:80 -p 8443:443 --label stagecraft.ingress=shop-production --label stagecraft.ingress-ports=8080:80,8443:443 caddy:2 caddy run --resume',
    );
  });

  it('runs a one-off migration: removed on exit, env file, read-only mount, extra hosts, entrypoint', () => {
    expect(
      line(
        runContainerArgs('postgres:16', ['-f', '/m/run.sql'], {
          remove: true,
          network: 'shop-production_default',
          envFile: '/root/.stagecraft/x/connection.env',
          volumes: ['/root/.stagecraft/x:/m:ro'],
          labels: [['stagecraft.migration', 'shop-production']],
          addHosts: [['db', '10.0.0.3']],
          entrypoint: 'psql',
        }),
      ),
    ).toBe(
      'docker run --rm --network shop-production_default --env-file /root/.stagecraft/x/connection.env -v /root/.stagecraft/x:/m:ro --label stagecraft.migration=shop-production --add-host db:10.0.0.3 --entrypoint psql postgres:16 -f /m/run.sql',
    );
    expect(line(runContainerArgs('busybox', []))).toBe('docker run busybox');
  });

  it('starts containers and asks the engine its version', () => {
    expect(line(startContainersArgs(['gw']))).toBe('docker start gw');
    expect(line(dockerServerVersionArgs())).toBe('docker version --format {{.Server.Version}}');
  });
});
