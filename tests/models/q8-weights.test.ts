/**
 * 8-bit weights must give the same sums on every CPU. DynamicQuantizeMatMul multiplies uint8 activations
 * by int8 weights; AVX2 without VNNI adds pairs of products into saturating int16, which overflows for
 * |w| > 64. This checks the property in the files themselves, so it holds whatever CPU runs the tests.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import onnxProto from 'onnx-proto';
import { describe, expect, it } from 'vitest';
import { INT8_WEIGHT_MAX } from '../../models/onnx/linear.ts';
import { ENCODER_DIR, STORIES_DIR } from '../support/sources.ts';

const { onnx } = onnxProto;

/** The int8 weights DynamicQuantizeMatMul multiplies in an ONNX file, by name (int8 embedding rows are only looked up). */
function int8Initializers(path: string): Map<string, Int8Array> {
  const model = onnx.ModelProto.decode(readFileSync(path));
  const matmulWeights = new Set(model.graph!.node!.filter((n) => n.opType === 'DynamicQuantizeMatMul').map((n) => n.input![1]!));
  const out = new Map<string, Int8Array>();
  for (const t of model.graph!.initializer!) {
    if (t.dataType !== onnx.TensorProto.DataType.INT8 || !matmulWeights.has(t.name!)) continue;
    const raw = t.rawData!;
    out.set(t.name!, new Int8Array(raw.buffer, raw.byteOffset, raw.byteLength));
  }
  return out;
}

describe('8-bit weights', () => {
  it.each([
    ['stories260k', STORIES_DIR],
    ['encoder-tiny', ENCODER_DIR],
  ])('%s q8 weights stay within ±INT8_WEIGHT_MAX, so 255·w·2 fits int16 on AVX2', (_, dir) => {
    const weights = int8Initializers(join(dir, 'onnx/model_quantized.onnx'));
    expect(weights.size).toBeGreaterThan(0);
    expect(2 * 255 * INT8_WEIGHT_MAX).toBeLessThanOrEqual(32767);
    for (const [name, w] of weights) {
      let min = 0;
      let max = 0;
      for (const v of w) (min = Math.min(min, v)), (max = Math.max(max, v));
      expect([name, min, max]).toEqual([name, -INT8_WEIGHT_MAX, INT8_WEIGHT_MAX]);
    }
  });
});
