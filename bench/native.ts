/** onnxruntime-node on the same ONNX file: the native reference the browser numbers are divided by. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { argmax } from '../src/engine/generation/sampling.ts';
import { NodeDecoder } from '../tests/support/ort-node.ts';
import type { Run } from './page/types.ts';

export async function openNative(modelDir: string, file: string, threads: number): Promise<{ generate(promptIds: number[], maxNewTokens: number): Promise<Run> }> {
  const config = JSON.parse(readFileSync(join(modelDir, 'config.json'), 'utf8'));
  const decoder = await NodeDecoder.open(join(modelDir, file), {
    layers: config.num_hidden_layers,
    kvHeads: config.num_key_value_heads,
    headSize: config.head_dim ?? config.hidden_size / config.num_attention_heads,
    vocab: config.vocab_size,
  }, { intraOpNumThreads: threads, interOpNumThreads: 1, graphOptimizationLevel: 'all' });
  return {
    async generate(promptIds, maxNewTokens) {
      decoder.reset();
      const started = performance.now();
      let logits = (await decoder.feed(promptIds, 1)).at(-1)!; // the last row only, as ours computes it where the graph allows
      let next = argmax(logits);
      const first = performance.now();
      for (let i = 1; i < maxNewTokens; i++) {
        logits = (await decoder.feed([next]))[0]!;
        next = argmax(logits);
      }
      const ended = performance.now();
      return {
        promptTokens: promptIds.length,
        tokens: maxNewTokens,
        ttftMs: first - started,
        prefillTokensPerSecond: (promptIds.length * 1000) / (first - started),
        decodeTokensPerSecond: ((maxNewTokens - 1) * 1000) / Math.max(1e-3, ended - first),
      };
    },
  };
}
