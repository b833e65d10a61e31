/**
 * Gemma 3 270M's converted folder, which `npm run models` does not build by default (~2.2 GB): the
 * Gemma tests build it on first use (`npm run models -- gemma3-270m`) and reuse it while it is current,
 * so under CI they run on a fresh machine instead of being skipped.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { staleReason } from '../../models/convert.ts';
import { GEMMA3_270M, PROJECT_ROOT } from '../../models/sources.ts';

export const GEMMA3_FOLDER = join(PROJECT_ROOT, 'public', 'models', GEMMA3_270M.id);

/** Builds the folder unless it is current (same converter, same source, every file of the manifest's size). */
export function ensureGemma3Built(): void {
  const { url, sha256, bytes } = GEMMA3_270M.gguf;
  if (staleReason(GEMMA3_FOLDER, [{ url, sha256, bytes }]) === null) return;
  execFileSync(process.execPath, ['--import', 'tsx', join(PROJECT_ROOT, 'models', 'cli.ts'), GEMMA3_270M.id], { cwd: PROJECT_ROOT, stdio: 'inherit' });
}

/** Long enough to convert Gemma on a busy 2-core machine. */
export const GEMMA3_BUILD_TIMEOUT_MS = 1_800_000;
