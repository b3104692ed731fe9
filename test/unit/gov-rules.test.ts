import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pc from 'picocolors';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { runGov } from '../../src/gov/check.js';
import { readGovInputs } from '../../src/gov/inputs.js';
import { renderText } from '../../src/gov/render.js';
import { RULES } from '../../src/gov/rules/index.js';
import { builtinProviders } from '../../src/providers/index.js';
import { expectGolden } from '../support/golden.js';

const FIXTURES = fileURLToPath(new URL('../fixtures/gov/', import.meta.url));

function govOf(root: string, env?: string) {
  const loaded = loadConfig({
    cwd: root,
    envName: env,
    purpose: 'any',
    processEnv: {},
    catalog: builtinProviders().catalog(),
  });
  return runGov(readGovInputs(loaded, env, {}));
}

describe('gov rules: a failing and a passing fixture each (test/fixtures/gov/<rule>/)', () => {
  it('every rule has a fail and a pass fixture, and every fixture folder is a rule', () => {
    const folders = readdirSync(FIXTURES).sort();
    expect(folders).toEqual(RULES.map((rule) => rule.id).sort());
    for (const rule of RULES) {
      const kinds = readdirSync(join(FIXTURES, rule.id));
      expect(kinds, rule.id).toContain('fail');
      expect(kinds, rule.id).toContain('pass');
    }
  });

  for (const rule of RULES) {
    for (const kind of readdirSync(join(FIXTURES, rule.id)).sort()) {
      const root = join(FIXTURES, rule.id, kind);
      if (kind.startsWith('fail')) {
        it(`${rule.id}/${kind}: reports exactly the golden findings (expected.txt)`, () => {
          const report = govOf(root);
          const findings = report.findings.filter((finding) => finding.rule === rule.id);
          expect(findings.length).toBeGreaterThan(0);
          expect(findings.every((finding) => finding.severity === rule.severity)).toBe(true);
          const text = renderText({ ...report, findings }, pc.createColors(false), (file) => file);
          expectGolden(join(root, 'expected.txt'), text);
        });
      } else {
        it(`${rule.id}/${kind}: reports nothing for this rule`, () => {
          const report = govOf(root);
          expect(report.findings.filter((finding) => finding.rule === rule.id)).toEqual([]);
        });
      }
    }
  }
});
