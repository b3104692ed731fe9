// Sending an image without a registry: the tar reading and the choice of layers (docker/archive.ts),
// and the transfer itself (rollout/image-transfer.ts) against a docker-save-shaped archive made with
// the system's tar, the host's engine answered by a RecordingRunner that keeps what it was sent.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  hostLayerStacks,
  layersToSkip,
  parseImageLayers,
  parseSavedManifest,
  parseTarHeader,
} from '../../src/docker/archive.js';
import { describeTransfer, saveImage, scanArchive, transferImage } from '../../src/rollout/image-transfer.js';
import { RecordingRunner } from '../../src/runners/recording.js';
import { sha256Hex } from '../../src/util/hash.js';

const work = mkdtempSync(join(tmpdir(), 'sc-transfer-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const LONG = `${'d'.repeat(60)}/${'e'.repeat(60)}.txt`;

/** A legacy `docker save` layout: two layers (base, app), a config, manifest.json; tar in `format`. */
function archive(name: string, format: 'gnu' | 'posix'): { file: string; config: Buffer } {
  const root = join(work, name);
  mkdirSync(join(root, 'base'), { recursive: true });
  mkdirSync(join(root, 'app'), { recursive: true });
  writeFileSync(join(root, 'base', 'layer.tar'), Buffer.alloc(4096, 1));
  writeFileSync(join(root, 'app', 'layer.tar'), Buffer.alloc(700, 2));
  const config = Buffer.from(
    JSON.stringify({ rootfs: { type: 'layers', diff_ids: ['sha256:b', 'sha256:a'] } }),
  );
  writeFileSync(join(root, 'cfg.json'), config);
  writeFileSync(
    join(root, 'manifest.json'),
    JSON.stringify([
      { Config: 'cfg.json', RepoTags: ['shop-web:v2'], Layers: ['base/layer.tar', 'app/layer.tar'] },
    ]),
  );
  mkdirSync(join(root, LONG.split('/')[0]!));
  writeFileSync(join(root, LONG), 'long name\n');
  const file = join(work, `${name}.tar`);
  execFileSync('tar', [
    `--format=${format}`,
    // Records of one block: the archive ends with its two zero blocks, as docker save writes it.
    '--blocking-factor=1',
    '-cf',
    file,
    '-C',
    root,
    'base/layer.tar',
    'app/layer.tar',
    'cfg.json',
    LONG,
    'manifest.json',
  ]);
  return { file, config };
}

describe('docker/archive', () => {
  it('decodes a ustar header and refuses a block with a wrong checksum', () => {
    const { file } = archive('header', 'gnu');
    const block = execFileSync('head', ['-c', '512', file]);
    expect(parseTarHeader(block)).toEqual({ name: 'base/layer.tar', size: 4096, type: '0' });
    expect(parseTarHeader(Buffer.alloc(512))).toBeUndefined();
    const broken = Buffer.from(block);
    broken[0] = 0x41;
    expect(() => parseTarHeader(broken)).toThrow('not a tar archive: a header checksum does not match');
  });

  it('skips a layer only when the host has it on the same layers below', () => {
    const manifest = { Config: 'c', Layers: ['base/layer.tar', 'app/layer.tar'] };
    const ids = ['sha256:b', 'sha256:a'];
    expect([...layersToSkip(manifest, ids, hostLayerStacks([['sha256:b', 'sha256:old']]))]).toEqual([
      'base/layer.tar',
    ]);
    // The same diff id on another base is another layer.
    expect([...layersToSkip(manifest, ids, hostLayerStacks([['sha256:x', 'sha256:a']]))]).toEqual([]);
    expect([...layersToSkip(manifest, ids, hostLayerStacks([ids]))]).toEqual([
      'base/layer.tar',
      'app/layer.tar',
    ]);
    expect(() => layersToSkip(manifest, ['sha256:b'], new Set())).toThrow(
      'the image archive lists 2 layers but the image has 1',
    );
  });

  it('parses manifest.json and the inspect output, and refuses a manifest of another shape', () => {
    expect(parseSavedManifest('[{"Config":"c.json","Layers":["l/layer.tar"]}]')).toEqual([
      { Config: 'c.json', Layers: ['l/layer.tar'] },
    ]);
    expect(() => parseSavedManifest('{"Config":"c"}')).toThrow('is not a list of {Config, Layers}');
    expect(parseImageLayers('["sha256:a","sha256:b"]\nnull\n["sha256:a"]\n')).toEqual([
      ['sha256:a', 'sha256:b'],
      ['sha256:a'],
    ]);
  });
});

describe('rollout/image-transfer', () => {
  for (const format of ['gnu', 'posix'] as const) {
    it(`reads every entry of a ${format} tar, long names included`, async () => {
      const { file } = archive(`scan-${format}`, format);
      const entries = await scanArchive(file);
      expect(entries.map((entry) => [entry.name, entry.size])).toEqual([
        ['base/layer.tar', 4096],
        ['app/layer.tar', 700],
        ['cfg.json', 63],
        [LONG, 10],
        ['manifest.json', 94],
      ]);
    });
  }

  it('sends the host only the layer it lacks, then checks the loaded image id', async () => {
    const { file, config } = archive('send', 'posix');
    const id = `sha256:${sha256Hex(config)}`;
    const local = new RecordingRunner({ name: 'local' });
    // `docker save -o` is recorded, not run: the archive is already at its path.
    const saved = await saveImage(local, 'shop-web:v2', file);
    expect(local.commands).toEqual([['docker', 'save', '-o', file, 'shop-web:v2']]);
    expect([saved.id, saved.diffIds, saved.manifest.Layers]).toEqual([
      id,
      ['sha256:b', 'sha256:a'],
      ['base/layer.tar', 'app/layer.tar'],
    ]);

    let received = Buffer.alloc(0);
    const host = new RecordingRunner({
      name: 'h1',
      script: async (argv, options) => {
        const joined = argv.join(' ');
        if (joined === 'docker image ls -aq --no-trunc') return { stdout: 'sha256:old1\n' };
        if (joined.startsWith('docker image inspect --format {{json .RootFS.Layers}}'))
          return { stdout: '["sha256:b","sha256:old"]\n' };
        if (joined === 'docker load') {
          const chunks: Buffer[] = [];
          for await (const chunk of options.stdinStream!) chunks.push(chunk as Buffer);
          received = Buffer.concat(chunks);
          return { stdout: 'Loaded image: shop-web:v2\n' };
        }
        if (joined === 'docker image inspect --format {{.Id}} shop-web:v2') return { stdout: `${id}\n` };
        return undefined;
      },
    });
    const lines: string[] = [];
    const report = await transferImage(host, saved, (line) => lines.push(line));
    expect(host.commands).toEqual([
      ['docker', 'image', 'ls', '-aq', '--no-trunc'],
      ['docker', 'image', 'inspect', '--format', '{{json .RootFS.Layers}}', 'sha256:old1'],
      ['docker', 'load'],
      ['docker', 'image', 'inspect', '--format', '{{.Id}}', 'shop-web:v2'],
    ]);
    // What went over the connection is a valid tar without the base layer.
    const sent = join(work, 'sent.tar');
    writeFileSync(sent, received);
    expect(execFileSync('tar', ['-tf', sent], { encoding: 'utf8' }).trim().split('\n')).toEqual([
      'app/layer.tar',
      'cfg.json',
      LONG,
      'manifest.json',
    ]);
    expect(report).toMatchObject({
      host: 'h1',
      sentBytes: received.length,
      fullBytes: saved.bytes,
      layersSent: 1,
      layersTotal: 2,
      fellBack: false,
    });
    expect(received.length).toBeLessThan(saved.bytes - 4096);
    expect(lines).toEqual(['Loaded image: shop-web:v2']);
  });

  it('sends the whole archive when the host refuses the reduced one, and fails when the id differs', async () => {
    const { file } = archive('fallback', 'gnu');
    const saved = await saveImage(new RecordingRunner(), 'shop-web:v2', file);
    let loads = 0;
    const sizes: number[] = [];
    const host = (loadedId: string) =>
      new RecordingRunner({
        name: 'h2',
        script: async (argv, options) => {
          const joined = argv.join(' ');
          if (joined === 'docker image ls -aq --no-trunc') return { stdout: 'sha256:x\n' };
          if (joined.startsWith('docker image inspect --format {{json')) return { stdout: '["sha256:b"]\n' };
          if (joined === 'docker load') {
            let size = 0;
            for await (const chunk of options.stdinStream!) size += (chunk as Buffer).length;
            sizes.push(size);
            loads += 1;
            return loads % 2 === 1 ? { exitCode: 1, stderr: 'layer does not exist\n' } : {};
          }
          if (joined.startsWith('docker image inspect --format {{.Id}}')) return { stdout: `${loadedId}\n` };
          return undefined;
        },
      });
    const report = await transferImage(host(saved.id), saved, () => undefined);
    expect([report.fellBack, report.layersSent, report.sentBytes]).toEqual([true, 2, saved.bytes]);
    expect(sizes[0]).toBeLessThan(saved.bytes);
    expect(describeTransfer({ ...report, durationMs: 1500 })).toBe(
      `sent 2 of 2 layers: 0.0 MB of 0.0 MB (100.0 %; ${saved.bytes} of ${saved.bytes} bytes) in 1.5 s, the whole archive after a refusal`,
    );
    await expect(transferImage(host('sha256:other'), saved, () => undefined)).rejects.toThrow(
      `shop-web:v2 on h2 is sha256:other after docker load, not ${saved.id}`,
    );
  });
});
