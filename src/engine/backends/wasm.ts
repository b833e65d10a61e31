/**
 * WASM execution provider, from onnxruntime-web's wasm-only build (its 14 MB binary, not the 27 MB
 * WebGPU one). ORT fixes the thread count when its WASM module starts, so the first load decides it
 * for the lifetime of the worker; info.threads reports what is in effect.
 */
import type { RuntimeEnv } from '../../env.ts';
import type { ExecutionBackend, Ort } from './types.ts';

let ortPromise: Promise<Ort> | null = null;
let threadsInEffect = 1;

/** Threads only help when SharedArrayBuffer exists (cross-origin isolation) and never on the main thread, where ORT's blocking waits hang the page. */
export function usableThreads(requested: number): number {
  const inWorker = typeof (globalThis as { WorkerGlobalScope?: unknown }).WorkerGlobalScope !== 'undefined';
  if (!globalThis.crossOriginIsolated || !inWorker) return 1;
  return Math.max(1, Math.floor(requested));
}

export async function wasmBackend(env: RuntimeEnv, requestedThreads: number): Promise<ExecutionBackend> {
  ortPromise ??= import('onnxruntime-web/wasm').then((ort) => {
    ort.env.wasm.wasmPaths = env.ortBaseUrl;
    threadsInEffect = usableThreads(requestedThreads);
    ort.env.wasm.numThreads = threadsInEffect;
    ort.env.wasm.proxy = false;
    ort.env.logLevel = 'error';
    return ort as unknown as Ort;
  });
  const ort = await ortPromise;
  return {
    name: 'wasm',
    ort,
    threads: threadsInEffect,
    createSession: (model) =>
      ort.InferenceSession.create(model, {
        executionProviders: ['wasm'],
        graphOptimizationLevel: 'all',
        freeDimensionOverrides: { batch_size: 1 },
      }),
    onLost: () => {},
  };
}
