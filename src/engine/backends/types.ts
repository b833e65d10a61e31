import type * as ortTypes from 'onnxruntime-web';
import type { Backend } from '../../types.ts';

export type Ort = typeof ortTypes;
export type InferenceSession = ortTypes.InferenceSession;
export type Tensor = ortTypes.Tensor;
export type TensorType = ortTypes.Tensor.Type;
export type GraphRewrite = (graph: Uint8Array) => Uint8Array | null;

/** One execution provider behind one interface; session options are data chosen here, not at call sites. */
export interface ExecutionBackend {
  readonly name: Backend;
  readonly ort: Ort;
  /** WASM threads in effect for this ORT instance. */
  readonly threads: number;
  /** Human-readable adapter description (WebGPU). */
  readonly adapter?: string;
  /** A session for `model` (the bytes of a .onnx file). */
  createSession(model: Uint8Array, outputNames: string[], options?: SessionOptions): Promise<InferenceSession>;
  /** Called once if the device disappears after loading (GPU reset, driver crash). */
  onLost(listener: (reason: string) => void): void;
}

export interface SessionOptions {
  /**
   * Changes the graph: it gets the ModelProto without its weights' bytes, so that no copy of the file is
   * made (null: unchanged).
   */
  rewriteGraph?: GraphRewrite;
  /** 'training': the LoRA training graph (fp32 weights, each read by two Gemms), see TRAINING_SESSION. */
  purpose?: 'inference' | 'training';
}

/**
 * Extra session settings of the training graph. ORT's CPU Gemm prepacks each constant weight once per
 * consumer, and every frozen weight there has two (the forward with transB, the backward without): two
 * packed fp32 copies besides the original. Without prepacking SmolLM2's peak renderer memory while
 * training fell by ~290 MiB (1205 → 912 MiB over the RSS before load) at the same tokens/s, in Chromium.
 */
export const TRAINING_SESSION = { extra: { session: { disable_prepacking: '1' } } } as const;
