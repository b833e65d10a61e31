/** The WASM thread count chosen when the caller gives none (src/engine/backends/threads.ts), on the bundled models' config.json. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { defaultThreads, matrixParams, MIN_THREADED_PARAMS } from '../../src/engine/backends/threads.ts';
import type { ModelConfig } from '../../src/engine/load/fetch-files.ts';
import { validateLoadOptions } from '../../src/options.ts';
import { MODELS_DIR } from '../support/sources.ts';

const config = (id: string): ModelConfig => JSON.parse(readFileSync(join(MODELS_DIR, id, 'config.json'), 'utf8')) as ModelConfig;

describe('default WASM threads', () => {
  it('a model as small as stories260K runs on one thread however many cores there are', () => {
    expect(matrixParams(config('stories260k'))).toBeLessThan(MIN_THREADED_PARAMS);
    expect(defaultThreads(config('stories260k'), 16)).toBe(1);
  });

  it('SmolLM2-135M gets half the cores, at most 4', () => {
    const smollm2 = config('smollm2-135m-instruct');
    // Its attention, MLP and LM-head matrices: 30 × (4·576² + 3·576·1536) + 49152·576.
    expect(matrixParams(smollm2)).toBe(30 * (4 * 576 * 576 + 3 * 576 * 1536) + 49152 * 576);
    expect([2, 3, 4, 6, 8, 16].map((cores) => defaultThreads(smollm2, cores))).toEqual([1, 1, 2, 3, 4, 4]);
  });

  it('threads left out stay unset for the model to decide; a number given is kept', () => {
    expect(validateLoadOptions({})).not.toHaveProperty('threads');
    expect(validateLoadOptions({ threads: 3 }).threads).toBe(3);
  });
});
