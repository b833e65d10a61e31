/**
 * Where the converter's inputs come from, in order: an explicit directory (--source or SLM_SOURCE_DIR),
 * the workspace's ../shared/models, else the original public files, downloaded once into .cache/sources
 * and accepted only when their SHA-256 matches.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
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
  const candidates = [sourceDir && join(sourceDir, file.local), join(sharedDir, file.local), downloaded].filter(
    (p): p is string => !!p,
  );
  for (const path of candidates) {
    if (!existsSync(path)) continue;
    // A plain Uint8Array, not a Buffer: Buffer#slice shares memory, which callers would not expect.
    const bytes = new Uint8Array(readFileSync(path));
    verify(bytes, file, path);
    return bytes;
  }
  const mirror = opts.mirror ?? process.env.SLM_SOURCE_MIRROR;
  const url = mirror ? `${mirror.replace(/\/$/, '')}${original.pathname}` : file.url;
  log(`downloading ${url}`);
  let response: Response;
  try {
    response = await fetch(url);
  } catch (cause) {
    throw new SourceError(`${file.local} is not in ${candidates.join(' or ')}, and downloading ${url} failed: ${String(cause)}`);
  }
  if (!response.ok) throw new SourceError(`downloading ${url} failed: HTTP ${response.status}`);
  const bytes = new Uint8Array(await response.arrayBuffer());
  verify(bytes, file, url);
  mkdirSync(dirname(downloaded), { recursive: true });
  writeFileSync(`${downloaded}.partial`, bytes);
  renameSync(`${downloaded}.partial`, downloaded);
  return bytes;
}

function verify(bytes: Uint8Array, file: SourceFile, where: string): void {
  if (bytes.byteLength !== file.bytes) {
    throw new SourceError(`${where}: ${bytes.byteLength} bytes, expected ${file.bytes} for ${file.local}`);
  }
  const hash = sha256Hex(bytes);
  if (hash !== file.sha256) throw new SourceError(`${where}: SHA-256 ${hash} does not match the expected ${file.sha256}`);
}
