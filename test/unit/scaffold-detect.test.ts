import { describe, expect, it } from 'vitest';
import { containerPort, hasHealthcheck } from '../../src/scaffold/detect.js';

describe('containerPort (compose expose / ports, first entry)', () => {
  it.each([
    [[3000], 3000],
    [['3000'], 3000],
    [['3000/tcp'], 3000],
    [['8080:3000'], 3000],
    [['127.0.0.1:8080:3000/udp'], 3000],
    [[{ target: 5432, published: '15432' }], 5432],
    [['5000-5010'], undefined],
    // biome-ignore lint/suspicious/noTemplateCurlyInString: an uninterpolated compose variable
    [['${PORT}'], undefined],
    [['0'], undefined],
    [['70000'], undefined],
    [[], undefined],
    ['3000', undefined],
    [undefined, undefined],
  ])('%j → %s', (entries, port) => {
    expect(containerPort(entries)).toBe(port);
  });
});

describe('hasHealthcheck (Dockerfile)', () => {
  it.each([
    ['FROM node\nHEALTHCHECK CMD wget -q http://127.0.0.1/ || exit 1\n', true],
    ['FROM node\n  healthcheck --interval=5s CMD true\n', true],
    ['FROM node\nHEALTHCHECK NONE\n', false],
    ['FROM node\n# HEALTHCHECK CMD true\n', false],
    ['FROM node\nCMD ["node"]\n', false],
  ])('%j → %s', (text, expected) => {
    expect(hasHealthcheck(text)).toBe(expected);
  });
});
