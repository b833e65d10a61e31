/**
 * WASM execution provider. ORT fixes the thread count when its WASM module starts, so the first load
 * decides it for the lifetime of the worker; info.threads reports what is in effect.
 */
import type { RuntimeEnv } from '../../env.ts';
import { sessionSource } from './external-data.ts';
import { wasmOrtInstance } from './ort-env.ts';
import { TRAINING_SESSION, type ExecutionBackend } from './types.ts';

export async function wasmBackend(env: RuntimeEnv, requestedThreads: number): Promise<ExecutionBackend> {
  const { ort, threads } = await wasmOrtInstance(env, requestedThreads);
  return {
    name: 'wasm',
    ort,
    threads,
    createSession: (model, _outputNames, { rewriteGraph, purpose } = {}) => {
      const { graph, externalData } = sessionSource(model, rewriteGraph);
      return ort.InferenceSession.create(graph, {
        externalData,
        executionProviders: ['wasm'],
        graphOptimizationLevel: 'all',
        freeDimensionOverrides: { batch_size: 1 },
        ...(purpose === 'training' && TRAINING_SESSION),
      });
    },
    onLost: () => {},
  };
}
