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

  it('the graph ORT parses holds none of the large initializers', () => {
    const { graph, externalData } = sessionSource(model);
    expect(graph.byteLength).toBeLessThan(model.byteLength / 20);
    expect(externalData).toEqual([{ path: 'model.weights', data: model }]);
  });

  it('bytes that are not an ONNX protobuf are an InvalidModelFileError', () => {
    expect(() => sessionSource(Uint8Array.of(0x08, 0x07, 0x3a, 0xff, 0xff, 0x7f))).toThrow(InvalidModelFileError);
  });
});
