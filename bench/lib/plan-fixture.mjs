// A generated project for plan benchmarks: `hosts` ssh hosts (IP addresses, so no DNS or `ssh -G`)
// and `services` compose services: a fifth built from source, the rest pulled; web services with a
// port and a domain go through the gateway. Deterministic: same sizes, same files.
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Writes the project into a fresh temp folder and returns the path of its stagecraft.yml. */
export function writePlanFixture({ hosts = 50, services = 30 } = {}) {
  const dir = mkdtempSync(join(tmpdir(), `stagecraft-bench-plan-${hosts}x${services}-`));
  const webHosts = Math.max(1, Math.round(hosts * 0.8));
  const hostLines = (role, from, to) =>
    Array.from({ length: to - from }, (_, i) => {
      const n = from + i + 1;
      return `        - { name: ${role}-${String(n).padStart(2, '0')}, address: 10.0.${Math.floor(n / 250)}.${(n % 250) + 1} }`;
    }).join('\n');
  const names = Array.from({ length: services }, (_, i) => `svc${String(i + 1).padStart(2, '0')}`);
  const web = names.filter((_, i) => i % 3 !== 2);
  const compose = ['services:'];
  const settings = ['services:'];
  for (const [i, name] of names.entries()) {
    const built = i % 5 === 0;
    compose.push(`  ${name}:`);
    if (built) {
      mkdirSync(join(dir, name));
      writeFileSync(join(dir, name, 'Dockerfile'), 'FROM busybox\nCMD ["sleep", "infinity"]\n');
      compose.push(`    build: ./${name}`);
    } else {
      compose.push(`    image: registry.example/bench/${name}:1.${i}`);
    }
    compose.push(
      '    environment:',
      `      SERVICE: ${name}`,
      '    healthcheck:',
      '      test: ["CMD", "true"]',
      '      interval: 5s',
    );
    if (web.includes(name)) {
      settings.push(`  ${name}: { role: web, port: 8080, domains: [${name}.bench.example] }`);
    } else {
      settings.push(`  ${name}: { role: worker }`);
    }
  }
  writeFileSync(join(dir, 'docker-compose.yml'), `${compose.join('\n')}\n`);
  writeFileSync(
    join(dir, 'stagecraft.yml'),
    [
      'project: { name: bench, registry: registry.example/bench }',
      settings.join('\n'),
      'environments:',
      '  production:',
      '    driver: ssh',
      '    hosts:',
      '      web:',
      hostLines('web', 0, webHosts),
      '      worker:',
      hostLines('worker', webHosts, hosts),
      '',
    ].join('\n'),
  );
  return join(dir, 'stagecraft.yml');
}
