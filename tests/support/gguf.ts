/** The real GGUF files the tests read, resolved the way `npm run models` resolves them. */
import { existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { GEMMA3_270M_Q4_K_M, PROJECT_ROOT, resolveSource, SMOLLM2_135M_INSTRUCT, type SourceFile } from '../../models/sources.ts';

export const smolLm2Gguf = (): Promise<Uint8Array> => resolveSource(SMOLLM2_135M_INSTRUCT.gguf);
export const gemma3Gguf = (): Promise<Uint8Array> => resolveSource(GEMMA3_270M_Q4_K_M);

/** The file as a path on disk (llama.cpp opens paths): resolved and verified once, then kept under .cache/gguf/. */
export async function ggufPath(file: SourceFile): Promise<string> {
  const path = join(PROJECT_ROOT, '.cache', 'gguf', basename(file.local));
  if (!existsSync(path)) {
    const bytes = await resolveSource(file);
    mkdirSync(join(path, '..'), { recursive: true });
    writeFileSync(`${path}.partial`, bytes);
    renameSync(`${path}.partial`, path);
  }
  return path;
}
