/**
 * The one owner of onnxruntime-web's global settings (`ort.env`): where its .wasm/.mjs files are
 * served from, WASM threads, proxying, log level and the WebGPU adapter, for our own ORT instances
 * (WASM-only and WebGPU builds) and for the one transformers.js runs encoders on. ORT reads most of
 * these once, when its WASM module starts: the first load in a worker decides them.
 */
import { env as transformersEnv } from '@huggingface/transformers';
// Static: transformers.js (the tokenizer, loaded with every model) imports this same build statically, so it is
// in the engine's chunk anyway; its .wasm/.mjs are still fetched only when a WebGPU session is created.
import * as ortWebGpu from 'onnxruntime-web/webgpu';
import type { RuntimeEnv } from '../../env.ts';
import type { Ort } from './types.ts';

interface OrtEnvLike {
  wasm: { wasmPaths?: unknown; numThreads?: number; proxy?: boolean };
  logLevel?: string;
  webgpu?: unknown;
}

let wasmOrt: Promise<Ort> | null = null;
let webgpuOrt: Promise<Ort> | null = null;
let wasmThreads = 1;

/** Threads only help when SharedArrayBuffer exists (cross-origin isolation) and never on the main thread, where ORT's blocking waits hang the page. */
export function usableThreads(requested: number): number {
  const inWorker = typeof (globalThis as { WorkerGlobalScope?: unknown }).WorkerGlobalScope !== 'undefined';
  if (!globalThis.crossOriginIsolated || !inWorker) return 1;
  return Math.max(1, Math.floor(requested));
}

function configure(env: OrtEnvLike, runtime: RuntimeEnv, threads: number): void {
  env.wasm.wasmPaths = runtime.ortBaseUrl;
  env.wasm.numThreads = threads;
  env.wasm.proxy = false;
  env.logLevel = 'error';
}

/** onnxruntime-web's WASM-only build (its 14 MB binary, not the 27 MB WebGPU one), and the threads in effect. */
export async function wasmOrtInstance(runtime: RuntimeEnv, requestedThreads: number): Promise<{ ort: Ort; threads: number }> {
  wasmOrt ??= import('onnxruntime-web/wasm').then((ort) => {
    wasmThreads = usableThreads(requestedThreads);
    configure(ort.env as unknown as OrtEnvLike, runtime, wasmThreads);
    return ort as unknown as Ort;
  });
  return { ort: await wasmOrt, threads: wasmThreads };
}

/** onnxruntime-web's WebGPU build, bound to the adapter the probe found. */
export function webgpuOrtInstance(runtime: RuntimeEnv, adapter: unknown): Promise<Ort> {
  webgpuOrt ??= Promise.resolve().then(() => {
    configure(ortWebGpu.env as unknown as OrtEnvLike, runtime, 1);
    (ortWebGpu.env.webgpu as { adapter?: unknown }).adapter = adapter;
    return ortWebGpu as unknown as Ort;
  });
  return webgpuOrt;
}

/** The GPU device ORT created for its WebGPU sessions, once there is one. */
export async function webgpuDevice(): Promise<{ lost?: Promise<{ message: string }> } | undefined> {
  const ort = await webgpuOrt;
  return (await Promise.resolve((ort?.env.webgpu as { device?: unknown } | undefined)?.device)) as { lost?: Promise<{ message: string }> } | undefined;
}

/** ORT files for transformers.js's own instance (encoders) come from the app too. */
export function configureTransformersOrt(runtime: RuntimeEnv): void {
  const onnx = transformersEnv.backends.onnx as { wasm?: { wasmPaths?: unknown } };
  if (onnx.wasm) onnx.wasm.wasmPaths = runtime.ortBaseUrl;
}

/** Threads for transformers.js's instance; takes effect only if it has not started yet. Returns those asked for. */
export function setTransformersThreads(requested: number): number {
  const threads = usableThreads(requested);
  const onnx = transformersEnv.backends.onnx as { wasm?: { numThreads?: number } };
  if (onnx.wasm) onnx.wasm.numThreads = threads;
  return threads;
}
