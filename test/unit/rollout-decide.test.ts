import { describe, expect, it } from 'vitest';
import type { ContainerFacts } from '../../src/docker/container.js';
import {
  assumedRollout,
  type DesiredRollout,
  decideRollout,
  describeRolloutOp,
  type RolloutDecision,
} from '../../src/rollout/decide.js';

const NET = 'shop-production_ingress';

function container(
  id: string,
  spec: string,
  state: { running?: boolean; health?: string; routed?: boolean } = {},
): ContainerFacts {
  return {
    id,
    name: `shop-production-api-${id}`,
    status: state.running === false ? 'exited' : 'running',
    running: state.running ?? true,
    health: state.health,
    exitCode: state.running === false ? 1 : 0,
    restartCount: 0,
    startedAt: '2026-11-30T10:00:00Z',
    image: 'api',
    imageId: 'sha256:1mage',
    labels: { 'stagecraft.spec-hash': spec },
    ips: state.routed === false ? {} : { [NET]: '172.18.0.9' },
  };
}

const startFirst: DesiredRollout = {
  service: 'api',
  strategy: 'start-first',
  replicas: 2,
  specHash: 'new',
  route: { domains: ['api.shop.example'], port: 3000 },
};
const stopFirst: DesiredRollout = { service: 'db', strategy: 'stop-first', replicas: 1, specHash: 'new' };

// Uncloud-style table: current containers, desired state, expected decision.
const cases: {
  name: string;
  existing: ContainerFacts[];
  desired: DesiredRollout;
  expected: RolloutDecision;
}[] = [
  {
    name: 'first deploy, start-first: start every replica, wait, route',
    existing: [],
    desired: startFirst,
    expected: {
      status: 'change',
      ops: [{ op: 'scale-up', scale: 2, adding: 2 }, { op: 'wait' }, { op: 'route' }],
    },
  },
  {
    name: 'scaled to 0 (compose scale: 0): running containers retire, exited ones go, nothing starts',
    existing: [container('a', 'old'), container('b', 'new', { running: false }), container('c', 'new')],
    desired: { service: 'worker', strategy: 'start-first', replicas: 0, specHash: 'new' },
    expected: {
      status: 'change',
      ops: [
        { op: 'remove', containers: ['b'] },
        { op: 'retire', containers: ['a', 'c'] },
      ],
    },
  },
  {
    name: 'scaled to 0 with nothing running, also stop-first: nothing to do',
    existing: [],
    desired: { ...stopFirst, replicas: 0 },
    expected: { status: 'unchanged', ops: [] },
  },
  {
    name: 'at spec but created from another image than the tag names now (pulled anew): replaced, as compose up does',
    existing: [container('a', 'new'), container('b', 'new')],
    desired: { ...startFirst, imageId: 'sha256:pulled' },
    expected: {
      status: 'change',
      ops: [
        { op: 'scale-up', scale: 4, adding: 2 },
        { op: 'wait' },
        { op: 'route' },
        { op: 'retire', containers: ['a', 'b'] },
      ],
    },
  },
  {
    name: 'at spec and from the image the tag names: nothing to do',
    existing: [container('a', 'new'), container('b', 'new')],
    desired: { ...startFirst, imageId: 'sha256:1mage' },
    expected: { status: 'unchanged', ops: [] },
  },
  {
    name: 'every container at spec, healthy and routed: nothing to do',
    existing: [container('a', 'new', { health: 'healthy' }), container('b', 'new')],
    desired: startFirst,
    expected: { status: 'unchanged', ops: [] },
  },
  {
    name: 'at spec but off the gateway network: route them again only',
    existing: [container('a', 'new', { routed: false }), container('b', 'new')],
    desired: startFirst,
    expected: { status: 'change', ops: [{ op: 'route' }], reroute: true },
  },
  {
    name: 'old running containers, start-first: new beside old, then retire the old',
    existing: [container('a', 'old'), container('b', 'old')],
    desired: startFirst,
    expected: {
      status: 'change',
      ops: [
        { op: 'scale-up', scale: 4, adding: 2 },
        { op: 'wait' },
        { op: 'route' },
        { op: 'retire', containers: ['a', 'b'] },
      ],
    },
  },
  {
    name: 'an interrupted rollout: one new at spec, one old, one exited — resume',
    existing: [container('n', 'new'), container('o', 'old'), container('x', 'old', { running: false })],
    desired: startFirst,
    expected: {
      status: 'change',
      ops: [
        { op: 'remove', containers: ['x'] },
        { op: 'scale-up', scale: 3, adding: 1 },
        { op: 'wait' },
        { op: 'route' },
        { op: 'retire', containers: ['o'] },
      ],
    },
  },
  {
    name: 'at spec but still starting: wait for them, nothing new started',
    existing: [container('a', 'new', { health: 'starting' }), container('b', 'new', { health: 'healthy' })],
    desired: startFirst,
    expected: { status: 'change', ops: [{ op: 'wait' }, { op: 'route' }] },
  },
  {
    name: 'stop-first: compose recreates in place, then leftovers go (no route without a route)',
    existing: [container('a', 'old')],
    desired: stopFirst,
    expected: {
      status: 'change',
      ops: [{ op: 'recreate', replicas: 1 }, { op: 'wait' }, { op: 'remove-leftovers' }],
    },
  },
  {
    name: 'stop-first at spec: unchanged',
    existing: [container('a', 'new', { routed: false })],
    desired: stopFirst,
    expected: { status: 'unchanged', ops: [] },
  },
  {
    name: 'too many replicas at spec (scaled down): recreate to the count for stop-first',
    existing: [container('a', 'new'), container('b', 'new')],
    desired: stopFirst,
    expected: {
      status: 'change',
      ops: [{ op: 'recreate', replicas: 1 }, { op: 'wait' }, { op: 'remove-leftovers' }],
    },
  },
];

describe('decideRollout', () => {
  for (const { name, existing, desired, expected } of cases) {
    it(name, () => {
      expect(decideRollout(existing, desired, NET)).toEqual(expected);
    });
  }

  it('without a gateway on the host, routing is not a reason to act', () => {
    expect(
      decideRollout([container('a', 'new', { routed: false }), container('b', 'new')], startFirst, undefined),
    ).toEqual({ status: 'unchanged', ops: [] });
  });
});

describe('assumedRollout and describeRolloutOp', () => {
  it('assumes old running containers when the host was not read, and says each operation in words', () => {
    expect(assumedRollout(startFirst).map((op) => describeRolloutOp(op, startFirst))).toEqual([
      'start 2 new api beside the others (scale to 4)',
      'wait until the new containers are healthy',
      'route api.shop.example to the new containers',
      'drain, stop and remove the old containers',
    ]);
    expect(assumedRollout(stopFirst).map((op) => describeRolloutOp(op, stopFirst))).toEqual([
      'recreate db in place (1 replica)',
      'wait until the new containers are healthy',
      'remove containers left at an older spec',
    ]);
    expect(describeRolloutOp({ op: 'retire', containers: ['0123456789abcdef'] }, startFirst)).toBe(
      'drain, stop and remove 0123456789ab',
    );
    const zero = { ...stopFirst, replicas: 0 };
    expect(assumedRollout(zero).map((op) => describeRolloutOp(op, zero))).toEqual([
      'stop and remove the containers of db (scaled to 0)',
    ]);
  });
});
