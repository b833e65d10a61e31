import type * as ortTypes from 'onnxruntime-web';
import type { Backend } from '../../types.ts';

export type Ort = typeof ortTypes;
export type InferenceSession = ortTypes.InferenceSession;
export type Tensor = ortTypes.Tensor;
export type TensorType = ortTypes.Tensor.Type;

/** One execution provider behind one interface; session options are data chosen here, not at call sites. */
export interface ExecutionBackend {
  readonly name: Backend;
  readonly ort: Ort;
  /** WASM threads in effect for this ORT instance. */
  readonly threads: number;
  /** Human-readable adapter description (WebGPU). */
  readonly adapter?: string;
  createSession(model: Uint8Array, outputNames: string[]): Promise<InferenceSession>;
  /** Called once if the device disappears after loading (GPU reset, driver crash). */
  onLost(listener: (reason: string) => void): void;
}
