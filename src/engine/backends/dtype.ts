/**
 * Which weights to load. float16 graphs (q4f16) run on WebGPU only where the adapter has the
 * `shader-f16` feature: without it onnxruntime-web 1.30 creates the session and then fails the first
 * run ("Program GatherBlockQuantized requires f16 but the device does not support it"). `dtype: 'auto'`
 * therefore asks for q4f16 only on such an adapter and for q4 everywhere else, and says why.
 */
import type { Dtype } from '../../model-format.ts';
import type { DeviceRequest, DtypeRequest } from '../../types.ts';
import type { WebGpuProbe } from './webgpu.ts';

export const SHADER_F16 = 'shader-f16';

/** Dtypes whose graphs compute in float16, which WebGPU runs only with shader-f16. */
export function needsShaderF16(dtype: Dtype): boolean {
  return dtype === 'q4f16';
}

/** Why WebGPU cannot run `dtype` on this adapter, or null when it can. */
export function webgpuDtypeProblem(dtype: Dtype, probe: Extract<WebGpuProbe, { ok: true }>): string | null {
  return needsShaderF16(dtype) && !probe.adapter.features.has(SHADER_F16) ? `the adapter (${probe.description}) lacks ${SHADER_F16}, which ${dtype} weights need` : null;
}

export interface DtypeChoice {
  dtype: Dtype;
  reason: string;
}

/** The dtype to load for `requested`; `probe` (asked only for 'auto' with a device that may be WebGPU) finds the adapter. */
export async function chooseDtype(requested: DtypeRequest, device: DeviceRequest, probe: () => Promise<WebGpuProbe>): Promise<DtypeChoice> {
  if (requested !== 'auto') return { dtype: requested, reason: `${requested} was requested` };
  if (device === 'wasm') return { dtype: 'q4', reason: 'auto: q4, because WASM was requested (q4f16 is for WebGPU)' };
  const found = await probe();
  if (!found.ok) return { dtype: 'q4', reason: `auto: q4, because WebGPU is unavailable (${found.reason})` };
  const problem = webgpuDtypeProblem('q4f16', found);
  return problem ? { dtype: 'q4', reason: `auto: q4, because ${problem}` } : { dtype: 'q4f16', reason: `auto: q4f16, because the adapter (${found.description}) has ${SHADER_F16}` };
}

/** 'auto' chose q4f16, but the model has no such weights. */
export const NO_Q4F16: DtypeChoice = { dtype: 'q4', reason: 'auto: q4, because the model has no q4f16 weights' };
