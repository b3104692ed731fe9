import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { projectHostCompose } from '../../src/compose/project.js';
import type { ComposeProject, ComposeService } from '../../src/compose/types.js';
import type { EnvironmentModel } from '../../src/model/environment.js';
import { isMeshAddress } from '../../src/operations/mesh.js';
import { meshHostsOf } from '../../src/plan/deploy.js';

const shop = JSON.parse(
  readFileSync(new URL('../fixtures/compose/shop.config.json', import.meta.url), 'utf8'),
) as ComposeProject;

describe('services reach other hosts over the mesh', () => {
  it('maps every host’s MagicDNS name to the mesh address deploy found', () => {
    const model = {
      hosts: [
        { name: 'h1', mesh: { name: 'h1.mesh.test', tags: [] } },
        { name: 'h3', mesh: { name: 'h3.mesh.test', tags: [] } },
        { name: 'h4' },
      ],
    } as unknown as EnvironmentModel;
    expect(meshHostsOf(model, { h1: '100.64.0.1', h3: '100.64.0.3', h4: '10.0.0.4' })).toEqual({
      'h1.mesh.test': '100.64.0.1',
      'h3.mesh.test': '100.64.0.3',
    });
  });

  it('adds the MagicDNS names to every service’s extra_hosts, beside the remote services', () => {
    const { document } = projectHostCompose({
      compose: shop,
      composeProjectName: 'shop-production',
      services: ['api', 'web'],
      images: { api: 'r/api:v1', web: 'r/web:v1' },
      secretValues: [],
      remoteServices: { db: '100.64.0.3' },
      meshHosts: { 'h3.mesh.test': '100.64.0.3', 'h1.mesh.test': '100.64.0.1' },
      releaseLabels: {},
      stagecraftServices: {},
    });
    expect((document.services['api'] as ComposeService).extra_hosts).toEqual([
      'db:100.64.0.3',
      'h1.mesh.test:100.64.0.1',
      'h3.mesh.test:100.64.0.3',
    ]);
    expect((document.services['web'] as ComposeService).extra_hosts).toEqual([
      'h1.mesh.test:100.64.0.1',
      'h3.mesh.test:100.64.0.3',
    ]);
  });

  it('takes only 100.64.0.0/10 as a mesh address', () => {
    expect(
      ['100.64.0.1', '100.127.255.254', '100.63.0.1', '100.128.0.1', '10.0.0.1', ''].map(isMeshAddress),
    ).toEqual([true, true, false, false, false, false]);
  });
});
