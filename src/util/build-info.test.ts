import { describe, expect, it } from 'vitest';
import { buildInfo, compareVersions, upgradeCommand } from './build-info.js';

describe('compareVersions', () => {
  it('orders versions numerically, not as strings', () => {
    expect(compareVersions('0.10.0', '0.9.9')).toBe(1);
    expect(compareVersions('1.2.3', '1.2.3')).toBe(0);
    expect(compareVersions('1.2', '1.2.0')).toBe(0);
    expect(compareVersions('1.2.0', '1.10')).toBe(-1);
    expect(compareVersions('2.0.0', '10.0.0')).toBe(-1);
  });

  it('puts a pre-release before its release', () => {
    expect(compareVersions('0.2.0-dev', '0.2.0')).toBe(-1);
    expect(compareVersions('0.2.0', '0.2.0-rc.1')).toBe(1);
    expect(compareVersions('0.2.0-alpha', '0.2.0-beta')).toBe(-1);
    expect(compareVersions('0.2.0-dev', '0.1.9')).toBe(1);
  });

  it('throws on what is not a version', () => {
    expect(() => compareVersions('latest', '1.0.0')).toThrow('not a version: latest');
    expect(() => compareVersions('1.0.0', '>=1.0')).toThrow('not a version: >=1.0');
  });
});

describe('buildInfo and upgradeCommand', () => {
  it('reports a source build when run unbundled (tests)', () => {
    expect(buildInfo()).toEqual({
      version: '0.0.0-dev',
      build: 'source',
      commit: 'unknown',
      node: process.version,
      platform: `${process.platform}-${process.arch}`,
    });
  });

  it('names the upgrade command of each kind of build', () => {
    expect(upgradeCommand('npm')).toBe(
      'npm install -g stagecraft@latest (or run it as `npx stagecraft@latest`)',
    );
    expect(upgradeCommand('sea')).toBe(
      'curl -fsSLo stagecraft https://github.com/stagecraft-dev/stagecraft/releases/latest/download/stagecraft-linux-x64 && chmod +x stagecraft',
    );
    expect(upgradeCommand('source')).toBe('git pull && npm ci && npm run build');
  });
});
