/**
 * WebGPU execution provider (onnxruntime-web's WebGPU build). The probe asks for an adapter first so
 * `auto` can say why it chose WASM; the KV cache stays on the GPU between steps (only logits come back).
 */
import type { RuntimeEnv } from '../../env.ts';
import { sessionSource } from './external-data.ts';
import { webgpuDevice, webgpuOrtInstance } from './ort-env.ts';
import { TRAINING_SESSION, type ExecutionBackend } from './types.ts';

interface GpuAdapterLike {
  info?: { vendor?: string; architecture?: string; description?: string };
  features: { has(name: string): boolean };
  limits: { maxStorageBufferBindingSize: number; maxBufferSize: number };
}
interface GpuLike {
  requestAdapter(options?: { powerPreference?: string }): Promise<GpuAdapterLike | null>;
}

export type WebGpuProbe = { ok: true; adapter: GpuAdapterLike; description: string } | { ok: false; reason: string };

export async function probeWebGpu(largestTensorBytes: number): Promise<WebGpuProbe> {
  const gpu = (globalThis.navigator as { gpu?: GpuLike } | undefined)?.gpu;
  if (!gpu) return { ok: false, reason: 'navigator.gpu is not available in this browser or context' };
  let adapter: GpuAdapterLike | null;
  try {
    adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  } catch (err) {
    return { ok: false, reason: `requestAdapter() failed: ${String(err)}` };
  }
  if (!adapter) return { ok: false, reason: 'navigator.gpu.requestAdapter() returned no adapter' };
  if (adapter.limits.maxStorageBufferBindingSize < largestTensorBytes) {
    return {
      ok: false,
      reason: `the adapter's maxStorageBufferBindingSize (${adapter.limits.maxStorageBufferBindingSize}) is below the model's largest tensor (${largestTensorBytes} bytes)`,
    };
  }
  const info = adapter.info ?? {};
  const description = [info.vendor, info.architecture, info.description].filter(Boolean).join(' ') || 'unknown adapter';
  return { ok: true, adapter, description };
}

export async function webgpuBackend(env: RuntimeEnv, probe: Extract<WebGpuProbe, { ok: true }>): Promise<ExecutionBackend> {
  const ort = await webgpuOrtInstance(env, probe.adapter);
  const lostListeners: Array<(reason: string) => void> = [];
  let watching = false;
  const watchDevice = async (): Promise<void> => {
    if (watching) return;
    watching = true;
    const device = await webgpuDevice();
    void device?.lost?.then((info) => lostListeners.forEach((l) => l(`device was lost: ${info.message || 'no reason given'}`)));
  };
  return {
    name: 'webgpu',
    ort,
    threads: 1,
    adapter: probe.description,
    createSession: async (model, outputNames, { rewriteGraph, purpose } = {}) => {
      const { graph, externalData } = sessionSource(model, rewriteGraph);
      const session = await ort.InferenceSession.create(graph, {
        externalData,
        executionProviders: ['webgpu'],
        graphOptimizationLevel: 'all',
        freeDimensionOverrides: { batch_size: 1 },
        // Keep present.* on the GPU and feed them back as past; only logits are read on the CPU.
        preferredOutputLocation: Object.fromEntries(outputNames.map((n) => [n, n.startsWith('present') ? 'gpu-buffer' : 'cpu'])),
        ...(purpose === 'training' && TRAINING_SESSION),
      });
      await watchDevice();
      return session;
    },
    onLost: (listener) => lostListeners.push(listener),
  };
}
