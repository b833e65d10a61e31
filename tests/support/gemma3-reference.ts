/**
 * The float64 Gemma 3 reference (tests/reference/gemma3.py) on the real GGUF, its results kept in
 * .cache/reference keyed by the ids, so each ~minute-long Python run happens once per machine.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, renameSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { GEMMA3_270M_Q4_K_M, PROJECT_ROOT } from '../../models/sources.ts';
import { gemma3Gguf } from './gguf.ts';
import { cachedPythonJson, referenceCachePath } from './python.ts';

const SCRIPT = 'gemma3.py';
const key = (mode: string, ids: number[], arg: string): string =>
  `gemma3-${mode}-${createHash('sha256').update(`${GEMMA3_270M_Q4_K_M.sha256} ${JSON.stringify(ids)} ${arg}`).digest('hex').slice(0, 16)}`;

/** The GGUF as a file Python can open (the resolver keeps it under .cache/sources). */
async function ggufPath(): Promise<string> {
  await gemma3Gguf();
  return join(PROJECT_ROOT, '.cache', 'sources', 'pypi', GEMMA3_270M_Q4_K_M.local);
}

/** The reference's `n` greedy next ids after `ids`. */
export async function referenceGreedy(python: string, ids: number[], n: number): Promise<number[]> {
  const path = await ggufPath();
  return cachedPythonJson<number[]>(python, key('greedy', ids, String(n)), SCRIPT, [path, 'greedy', JSON.stringify(ids), String(n)]);
}

/** Path of a little-endian float32 file holding the reference's logits [ids.length, vocab]. */
export async function referenceLogitsFile(python: string, ids: number[]): Promise<string> {
  const out = referenceCachePath(key('logits', ids, ''), SCRIPT, 'f32');
  if (existsSync(out)) return out;
  const path = await ggufPath();
  mkdirSync(dirname(out), { recursive: true });
  execFileSync(python, [join(PROJECT_ROOT, 'tests', 'reference', SCRIPT), path, 'logits', JSON.stringify(ids), `${out}.partial`], { stdio: 'inherit' });
  renameSync(`${out}.partial`, out);
  return out;
}
