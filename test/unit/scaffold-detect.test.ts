import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import {
  containerPort,
  exposedPort,
  hasHealthcheck,
  sanitizeProjectName,
} from '../../src/scaffold/detect.js';
import { yamlName } from '../../src/scaffold/templates/common.js';

describe('containerPort (compose expose / ports, first entry)', () => {
  it.each([
    [[3000], 3000],
    [['3000'], 3000],
    [['3000/tcp'], 3000],
    [['8080:3000'], 3000],
    [['127.0.0.1:8080:3000/tcp'], 3000],
    [['127.0.0.1::53/udp'], undefined],
    [[{ target: 53, protocol: 'udp' }], undefined],
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

describe('exposedPort (Dockerfile EXPOSE, first port of the first instruction)', () => {
  it.each([
    ['FROM node\nENV PORT=3000\nEXPOSE 3000\n', 3000],
    ['FROM node\nexpose 8080/tcp 9090\n', 8080],
    ['FROM node\nEXPOSE 53/udp\n', undefined],
    ['FROM node\nEXPOSE $PORT\n', undefined],
    ['FROM node\n# EXPOSE 3000\n', undefined],
    ['FROM node\nEXPOSE 70000\n', undefined],
    ['FROM node\nCMD ["node"]\n', undefined],
  ])('%j → %s', (text, port) => {
    expect(exposedPort(text)).toBe(port);
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

describe('sanitizeProjectName (a folder name → a project name)', () => {
  it.each([
    ['Über Shop', 'uber-shop'],
    ['café_app', 'cafe_app'],
    ['--My.App--', 'my-app'],
    ['日本', 'app'],
    ['b'.repeat(100), 'b'.repeat(63)],
    [`${'a'.repeat(62)}-x`, `${'a'.repeat(62)}`],
  ])('%s → %s', (folder, name) => {
    expect(sanitizeProjectName(folder)).toBe(name);
  });
});

describe('yamlName (a project name as a YAML scalar)', () => {
  it.each([
    ['shop', 'shop'],
    ['123', '"123"'],
    ['true', '"true"'],
    ['null', '"null"'],
    ['1e3', '"1e3"'],
    ['0x1f', '"0x1f"'],
    ['my-app', 'my-app'],
  ])('%s → %s, which reads back as the name', (name, scalar) => {
    expect(yamlName(name)).toBe(scalar);
    expect(parse(`name: ${scalar}`)).toEqual({ name });
  });
});
