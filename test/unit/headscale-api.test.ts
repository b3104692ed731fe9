import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EnvironmentModel } from '../../src/model/environment.js';
import { meshAuthKeys, RUN_KEY_LIFETIME_MS } from '../../src/operations/mesh.js';
import { createPreAuthKey } from '../../src/providers/network/headscale-api.js';
import { redact, Secret } from '../../src/util/secret.js';
import { FakeHeadscale } from '../support/fake-headscale.js';

const API_KEY = 'hs-api-Zk29xQ7mB4vN1cP8';
const headscale = new FakeHeadscale(API_KEY);
let server: string;

beforeAll(async () => {
  server = await headscale.start();
});
afterAll(() => headscale.stop());

const model = (url: string) =>
  ({
    hosts: [
      { name: 'h1', mesh: { name: 'h1.mesh.example', tags: ['tag:web'] } },
      { name: 'h3', mesh: { name: 'h3.mesh.example', tags: ['tag:db'] } },
    ],
    mesh: {
      provider: 'headscale',
      tailnetDomain: 'mesh.example',
      authKeyEnv: undefined,
      loginServer: url,
      apiKeyEnv: 'HEADSCALE_API_KEY',
      user: 'ops',
      install: { method: 'auto', minVersion: undefined },
      defaultTags: [],
      roleTags: {},
    },
  }) as unknown as EnvironmentModel;

describe("Headscale's API: a single-use, expiring pre-auth key per host for the run", () => {
  it('creates one key per host with its tags, the API key as Bearer, and redacts the keys', async () => {
    const now = new Date('2026-11-30T20:00:00.000Z');
    const keys = await meshAuthKeys(model(server), { HEADSCALE_API_KEY: API_KEY }, ['h1', 'h3'], now);
    expect([...keys.keys()]).toEqual(['h1', 'h3']);
    expect(keys.get('h1')!.reveal()).toBe(headscale.keys[0]!.key);
    expect(keys.get('h3')!.reveal()).toBe(headscale.keys[1]!.key);
    expect(
      headscale.requests.map(({ method, path, authorization, body }) => ({
        method,
        path,
        authorization,
        body,
      })),
    ).toEqual([
      {
        method: 'POST',
        path: '/api/v1/preauthkey',
        authorization: `Bearer ${API_KEY}`,
        body: {
          user: 'ops',
          reusable: false,
          ephemeral: false,
          expiration: '2026-11-30T20:15:00.000Z',
          aclTags: ['tag:web'],
        },
      },
      {
        method: 'POST',
        path: '/api/v1/preauthkey',
        authorization: `Bearer ${API_KEY}`,
        body: {
          user: 'ops',
          reusable: false,
          ephemeral: false,
          expiration: '2026-11-30T20:15:00.000Z',
          aclTags: ['tag:db'],
        },
      },
    ]);
    expect(RUN_KEY_LIFETIME_MS).toBe(900_000);
    expect(redact(`joined with ${headscale.keys[0]!.key} using ${API_KEY}`)).toBe(
      'joined with [redacted] using [redacted]',
    );
  });

  it('says the API key is refused (401), without the key', async () => {
    const error = await createPreAuthKey({
      server,
      apiKey: new Secret('hs-api-wrong-000000'),
      user: 'ops',
      tags: [],
      expiresAt: new Date('2026-11-30T20:15:00.000Z'),
    }).catch((caught: unknown) => caught);
    expect(error).toMatchObject({
      name: 'ExternalError',
      message: 'Headscale refused the API key (HTTP 401) creating a pre-auth key',
    });
  });

  it('names the variable when the API key is not set', async () => {
    await expect(meshAuthKeys(model(server), {}, ['h1'])).rejects.toMatchObject({
      name: 'UserError',
      message: 'HEADSCALE_API_KEY is not set: setup needs a Headscale API key to create pre-auth keys',
    });
  });
});
