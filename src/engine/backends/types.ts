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
  /**
   * A session for `model` (the bytes of a .onnx file). `rewriteGraph`, when given, changes the graph
   * (the ModelProto without its weights' bytes, so that no copy of the file is made; null: unchanged).
   */
  createSession(model: Uint8Array, outputNames: string[], rewriteGraph?: GraphRewrite): Promise<InferenceSession>;
  /** Called once if the device disappears after loading (GPU reset, driver crash). */
  onLost(listener: (reason: string) => void): void;
}
