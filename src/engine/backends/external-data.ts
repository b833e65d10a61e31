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
import { InvalidModelFileError } from '../../errors.ts';
import { concatChunks } from '../../storage/download.ts';

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
const WIRE_VARINT = 0;
const WIRE_I64 = 1;
const WIRE_LEN = 2;
const WIRE_I32 = 5;

export interface SessionSource {
  /** The ModelProto without the initializers' bytes. */
  graph: Uint8Array;
  /** ORT's `externalData` session option: the original file, which the graph's offsets index. */
  externalData: Array<{ path: string; data: Uint8Array }>;
}

/** The graph and external data ORT is given for `model` (the bytes of a .onnx file with its weights inside). */
export function sessionSource(model: Uint8Array): SessionSource {
  return { graph: rewriteModel(model), externalData: [{ path: WEIGHTS_PATH, data: model }] };
}

interface Field {
  number: number;
  wire: number;
  /** Where the field's tag starts. */
  start: number;
  /** Where a length-delimited field's payload starts (else where its value starts). */
  value: number;
  end: number;
}

function rewriteModel(bytes: Uint8Array): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const f of fields(bytes, 0, bytes.byteLength)) {
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

function* fields(bytes: Uint8Array, start: number, end: number): Generator<Field> {
  let at = start;
  while (at < end) {
    const fieldStart = at;
    const [tag, afterTag] = readVarint(bytes, at);
    const wire = tag % 8;
    let value = afterTag;
    switch (wire) {
      case WIRE_VARINT:
        at = readVarint(bytes, afterTag)[1];
        break;
      case WIRE_I64:
        at = afterTag + 8;
        break;
      case WIRE_I32:
        at = afterTag + 4;
        break;
      case WIRE_LEN: {
        const [length, payload] = readVarint(bytes, afterTag);
        value = payload;
        at = payload + length;
        break;
      }
      default:
        throw new InvalidModelFileError(`not an ONNX model: unsupported protobuf wire type ${wire} at byte ${fieldStart}`);
    }
    if (at > end) throw new InvalidModelFileError(`not an ONNX model: the protobuf field at byte ${fieldStart} runs past its message (byte ${end})`);
    yield { number: Math.floor(tag / 8), wire, start: fieldStart, value, end: at };
  }
}

/** A varint's value (exact below 2^53: offsets into files) and the position after it. */
function readVarint(bytes: Uint8Array, at: number): [number, number] {
  let value = 0;
  let scale = 1;
  for (let i = at; i < bytes.byteLength && i < at + 10; i++) {
    const b = bytes[i]!;
    value += (b & 0x7f) * scale;
    scale *= 128;
    if (b < 0x80) return [value, i + 1];
  }
  throw new InvalidModelFileError(`not an ONNX model: truncated protobuf varint at byte ${at}`);
}

function varint(value: number): Uint8Array {
  const out: number[] = [];
  let v = value;
  while (v >= 0x80) {
    out.push((v % 128) | 0x80);
    v = Math.floor(v / 128);
  }
  out.push(v);
  return Uint8Array.from(out);
}

function lengthDelimited(field: number, payload: Uint8Array): Uint8Array[] {
  return [varint(field * 8 + WIRE_LEN), varint(payload.byteLength), payload];
}

function stringField(field: number, text: string): Uint8Array[] {
  return lengthDelimited(field, new TextEncoder().encode(text));
}
