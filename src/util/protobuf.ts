/**
 * The protobuf wire format, as much as the runtime needs to rewrite ONNX files without decoding their
 * tensors (external-data.ts, training/lora-graph.ts): walk a message's fields, write length-delimited ones.
 * A truncated or malformed message is an InvalidModelFileError, never a loop past the end.
 */
import { InvalidModelFileError } from '../errors.ts';

export const WIRE_VARINT = 0;
export const WIRE_I64 = 1;
export const WIRE_LEN = 2;
export const WIRE_I32 = 5;

export interface WireField {
  number: number;
  wire: number;
  /** Where the field's tag starts. */
  start: number;
  /** Where a length-delimited field's payload starts (else where its value starts). */
  value: number;
  end: number;
}

export function* fields(bytes: Uint8Array, start = 0, end = bytes.byteLength): Generator<WireField> {
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
export function readVarint(bytes: Uint8Array, at: number): [number, number] {
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

export function varint(value: number): Uint8Array {
  const out: number[] = [];
  let v = value;
  while (v >= 0x80) {
    out.push((v % 128) | 0x80);
    v = Math.floor(v / 128);
  }
  out.push(v);
  return Uint8Array.from(out);
}

export function lengthDelimited(field: number, payload: Uint8Array): Uint8Array[] {
  return [varint(field * 8 + WIRE_LEN), varint(payload.byteLength), payload];
}

export function stringField(field: number, text: string): Uint8Array[] {
  return lengthDelimited(field, new TextEncoder().encode(text));
}
