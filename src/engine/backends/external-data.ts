/**
 * Hands an ONNX file to ONNX Runtime as a small graph plus external data that points into the file's
 * own bytes. Given the whole file, ORT Web copies it into its WASM heap and parses it there, which
 * copies every initializer again (the protobuf's bytes, then each tensor): about four times the file
 * in the heap. With external data it parses only the graph and copies each initializer once, straight
 * from our buffer into its tensor (on WebGPU, straight into a GPU buffer).
 *
 * The rewrite walks the protobuf wire format: ModelProto.graph (7) → GraphProto.initializer (5) →
 * TensorProto.raw_data (9) is replaced by external_data (13: location, offset, length) and
 * data_location (14) = EXTERNAL. Every other field is copied as it is.
 */
import { concatChunks } from '../../storage/download.ts';
import type { GraphRewrite } from './types.ts';
import { fields, lengthDelimited, stringField, varint, WIRE_LEN, WIRE_VARINT } from '../../util/protobuf.ts';

/** The name the initializers' bytes are mounted under in ORT's virtual file system. */
export const WEIGHTS_PATH = 'model.weights';

/** Initializers smaller than this stay inline: not worth a lookup each. */
const MIN_EXTERNAL_BYTES = 1024;

const MODEL_GRAPH = 7;
const GRAPH_INITIALIZER = 5;
const TENSOR_RAW_DATA = 9;
const TENSOR_EXTERNAL_DATA = 13;
const TENSOR_DATA_LOCATION = 14;
const DATA_LOCATION_EXTERNAL = 1;

export interface SessionSource {
  /** The ModelProto without the initializers' bytes. */
  graph: Uint8Array;
  /** ORT's `externalData` session option: the original file, which the graph's offsets index. */
  externalData: Array<{ path: string; data: Uint8Array }>;
}

/**
 * The graph and external data ORT is given for `model` (the bytes of a .onnx file with its weights
 * inside), the graph changed by `rewriteGraph` when given: it then works on a few hundred kilobytes, not
 * the whole file.
 */
export function sessionSource(model: Uint8Array, rewriteGraph?: GraphRewrite): SessionSource {
  const graph = rewriteModel(model);
  return { graph: rewriteGraph?.(graph) ?? graph, externalData: [{ path: WEIGHTS_PATH, data: model }] };
}

function rewriteModel(bytes: Uint8Array): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const f of fields(bytes)) {
    if (f.number === MODEL_GRAPH && f.wire === WIRE_LEN) parts.push(...lengthDelimited(MODEL_GRAPH, rewriteGraph(bytes, f.value, f.end)));
    else parts.push(bytes.subarray(f.start, f.end));
  }
  return concatChunks(parts);
}

function rewriteGraph(bytes: Uint8Array, start: number, end: number): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const f of fields(bytes, start, end)) {
    if (f.number === GRAPH_INITIALIZER && f.wire === WIRE_LEN) parts.push(...lengthDelimited(GRAPH_INITIALIZER, rewriteTensor(bytes, f.value, f.end)));
    else parts.push(bytes.subarray(f.start, f.end));
  }
  return concatChunks(parts);
}

/** The TensorProto with its raw_data replaced by a reference to the same bytes in the file; unchanged when small or not raw. */
function rewriteTensor(bytes: Uint8Array, start: number, end: number): Uint8Array {
  const all = [...fields(bytes, start, end)];
  const raw = all.find((f) => f.number === TENSOR_RAW_DATA && f.wire === WIRE_LEN);
  if (!raw || raw.end - raw.value < MIN_EXTERNAL_BYTES) return bytes.subarray(start, end);
  const parts = all.filter((f) => f !== raw && f.number !== TENSOR_DATA_LOCATION).map((f) => bytes.subarray(f.start, f.end));
  const entry = (key: string, value: string): Uint8Array[] => lengthDelimited(TENSOR_EXTERNAL_DATA, concatChunks([...stringField(1, key), ...stringField(2, value)]));
  parts.push(...entry('location', WEIGHTS_PATH), ...entry('offset', String(raw.value)), ...entry('length', String(raw.end - raw.value)));
  parts.push(varint(TENSOR_DATA_LOCATION * 8 + WIRE_VARINT), varint(DATA_LOCATION_EXTERNAL));
  return concatChunks(parts);
}
