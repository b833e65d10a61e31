/**
 * The float64 Gemma 3 reference (tests/reference/gemma3.py) on the real GGUF: one Python run per
 * request (weights dequantized once for the long prompt's logits and every greedy continuation), its
 * results kept in .cache/reference keyed by the request, so it happens once per machine.
 */
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { GEMMA3_270M_Q4_K_M } from '../../models/sources.ts';
import { ggufPath } from './gguf.ts';
import { cachedPythonJson } from './python.ts';

export interface Gemma3Request {
  /** Ids whose logits at every position the reference writes. */
  logits: number[];
  /** Prompts to greedy-decode `n` ids after. */
  greedy: number[][];
  n: number;
}

export interface Gemma3Reference {
  /** Little-endian float32 file of the logits [request.logits.length, vocab]. */
  logitsFile: string;
  /** The `n` greedy next ids after each of request.greedy. */
  greedy: number[][];
}

export async function gemma3Reference(python: string, request: Gemma3Request): Promise<Gemma3Reference> {
  const path = await ggufPath(GEMMA3_270M_Q4_K_M);
  const json = JSON.stringify(request);
  const key = `gemma3-${createHash('sha256').update(`${GEMMA3_270M_Q4_K_M.sha256} ${json}`).digest('hex').slice(0, 16)}`;
  const { result, dir } = cachedPythonJson<{ greedy: number[][] }>(python, key, 'gemma3.py', [path, json, '{dir}/logits.f32']);
  return { logitsFile: join(dir, 'logits.f32'), greedy: result.greedy };
}
