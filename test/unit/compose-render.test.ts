import { describe, expect, it } from 'vitest';
import { renderCompose, renderEnvFile } from '../../src/compose/render.js';
import { UserError } from '../../src/util/errors.js';

describe('renderCompose', () => {
  const doc = {
    services: {
      web: {
        image: 'nginx:1',
        environment: { B: 'yes', A: '8080', C: 'multi\nline', D: '$$HOME', E: null },
        command: ['sh', '-c', 'echo "hi"'],
        deploy: { replicas: 2 },
        init: true,
      },
      api: { image: 'api:1', ports: [{ target: 80, published: '8080' }] },
    },
    name: 'p',
  };

  it('sorts keys at every level, keeps list order, quotes every string', () => {
    expect(renderCompose(doc).text).toBe(
      [
        '# Rendered by Stagecraft. Do not edit: the next deploy replaces this file.',
        'name: "p"',
        'services:',
        '  api:',
        '    image: "api:1"',
        '    ports:',
        '      - published: "8080"',
        '        target: 80',
        '  web:',
        '    command:',
        '      - "sh"',
        '      - "-c"',
        '      - "echo \\"hi\\""',
        '    deploy:',
        '      replicas: 2',
        '    environment:',
        '      A: "8080"',
        '      B: "yes"',
        '      C: "multi\\nline"',
        '      D: "$$HOME"',
        '      E: null',
        '    image: "nginx:1"',
        '    init: true',
        '',
      ].join('\n'),
    );
  });

  it('is byte-stable: twice the same, and the same for reordered keys', () => {
    const again = renderCompose(JSON.parse(JSON.stringify(doc)));
    const reordered = renderCompose({
      name: 'p',
      services: {
        api: { ports: [{ published: '8080', target: 80 }], image: 'api:1' },
        web: {
          init: true,
          deploy: { replicas: 2 },
          command: ['sh', '-c', 'echo "hi"'],
          environment: { E: null, D: '$$HOME', C: 'multi\nline', B: 'yes', A: '8080' },
          image: 'nginx:1',
        },
      },
    });
    const first = renderCompose(doc);
    expect(again).toEqual(first);
    expect(reordered).toEqual(first);
    expect(first.sha256).toMatch(/^[0-9a-f]{64}$/);
  });

  it('does not fold long strings or use anchors for repeated values', () => {
    const long = 'x'.repeat(300);
    const shared = { condition: 'service_started' };
    const text = renderCompose({
      services: { a: { image: long, depends_on: { b: shared, c: shared } }, b: {}, c: {} },
    }).text;
    expect(text).toContain(`image: "${long}"\n`);
    expect(text).not.toMatch(/[&*]a\d/);
  });
});

describe('renderEnvFile', () => {
  it('sorted KEY="value" lines with compose escapes', () => {
    expect(
      renderEnvFile({
        Z: 'plain',
        A: 'has "quotes" and \'single\'',
        B: 'back\\slash',
        // biome-ignore lint/suspicious/noTemplateCurlyInString: a literal ${…} is what is under test
        C: '$HOME ${X} $$',
        D: 'multi\nline\r\n',
        E: '',
        F: ' # not a comment ',
      }),
    ).toBe(
      [
        'A="has \\"quotes\\" and \'single\'"',
        'B="back\\\\slash"',
        // biome-ignore lint/suspicious/noTemplateCurlyInString: a literal ${…} is what is under test
        'C="\\$HOME \\${X} \\$\\$"',
        'D="multi\\nline\\r\\n"',
        'E=""',
        'F=" # not a comment "',
        'Z="plain"',
        '',
      ].join('\n'),
    );
  });

  it('an empty set is an empty file', () => {
    expect(renderEnvFile({})).toBe('');
  });

  it('refuses a key the env_file syntax cannot carry', () => {
    expect(() => renderEnvFile({ 'BAD KEY': 'x' })).toThrow(UserError);
    expect(() => renderEnvFile({ 'A=B': 'x' })).toThrow(/cannot be written to an env file/);
  });
});
