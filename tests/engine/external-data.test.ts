/**
 * The WASM backend hands ORT Web a graph without its weights plus the file's bytes as external data
 * (src/engine/backends/external-data.ts). Run for real here: onnxruntime-web's WASM build in Node, through
 * the backend's own createSession, against the same runtime given the untouched file.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { sessionSource } from '../../src/engine/backends/external-data.ts';
import { wasmBackend } from '../../src/engine/backends/wasm.ts';
import { defaultEnv } from '../../src/env.ts';
import { InvalidModelFileError } from '../../src/errors.ts';
import { Decoder } from '../../src/engine/generation/decoder.ts';
import { STORIES_DIR } from '../support/sources.ts';
import { LORA_SLOTS, loraGraphShape, loraInputName, slotShape, withLoraInputs } from '../../src/training/lora-graph.ts';
import type { LoraFeed } from '../../src/training/lora-feeds.ts';

const model = new Uint8Array(readFileSync(join(STORIES_DIR, 'onnx/model.onnx')));
const ORT_DIST = `${pathToFileURL(dirname(createRequire(import.meta.url).resolve('onnxruntime-web/wasm'))).href}/`;
const SHAPE = { layers: 5, kvHeads: 4, headDim: 8, vocabSize: 512, contextLength: 512 };
/** "Once upon a time". */
const PROMPT = [1, 403, 407, 261, 378];

describe('weights handed to ORT as external data', () => {
  it('the split model gives exactly the logits of the whole file', async () => {
    const backend = await wasmBackend({ ...defaultEnv('http://localhost/'), ortBaseUrl: ORT_DIST }, 1);
    const decoder = new Decoder(backend, await backend.createSession(model, []), SHAPE);
    const ours = (await decoder.prefill(PROMPT)).logits;
    const whole = new Decoder(backend, await backend.ort.InferenceSession.create(model), SHAPE);
    const want = (await whole.prefill(PROMPT)).logits;
    expect(Array.from(ours)).toEqual(Array.from(want));
    await Promise.all([decoder.release(), whole.release()]);
  });

  it('LoRA inputs added to the graph alone give the logits of the whole file rewritten, with an adapter fed', async () => {
    const lora = loraGraphShape(JSON.parse(readFileSync(join(STORIES_DIR, 'config.json'), 'utf8')))!;
    const backend = await wasmBackend({ ...defaultEnv('http://localhost/'), ortBaseUrl: ORT_DIST }, 1);
    let seed = 7;
    const rand = (): number => ((seed = (seed * 16807) % 2147483647) / 2147483647) * 0.2 - 0.1;
    const feeds = new Map<string, LoraFeed>();
    for (let layer = 0; layer < lora.nLayers; layer++) {
      for (const slot of LORA_SLOTS) {
        const io = slotShape(lora, slot);
        feeds.set(loraInputName(layer, slot, 'A'), { dims: [io.in, 2], data: Float32Array.from({ length: io.in * 2 }, rand) });
        feeds.set(loraInputName(layer, slot, 'B'), { dims: [2, io.out], data: Float32Array.from({ length: 2 * io.out }, rand) });
      }
    }
    const split = new Decoder(backend, await backend.createSession(model, [], { rewriteGraph: (graph) => withLoraInputs(graph, lora) }), SHAPE);
    const whole = new Decoder(backend, await backend.ort.InferenceSession.create(withLoraInputs(model, lora)!), SHAPE);
    const logits = async (d: Decoder): Promise<number[]> => (d.useAdapter('a', feeds), Array.from((await d.prefill(PROMPT)).logits));
    const base = Array.from((await split.prefill(PROMPT)).logits);
    const ours = await logits(split);
    expect(ours).toEqual(await logits(whole));
    expect(ours).not.toEqual(base);
    await Promise.all([split.release(), whole.release()]);
  });

  it('the graph ORT parses holds none of the large initializers', () => {
    const { graph, externalData } = sessionSource(model);
    expect(graph.byteLength).toBeLessThan(model.byteLength / 20);
    expect(externalData).toEqual([{ path: 'model.weights', data: model }]);
  });

  it('bytes that are not an ONNX protobuf are an InvalidModelFileError', () => {
    expect(() => sessionSource(Uint8Array.of(0x08, 0x07, 0x3a, 0xff, 0xff, 0x7f))).toThrow(InvalidModelFileError);
  });
});
