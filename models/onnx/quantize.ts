/**
 * Block-wise asymmetric weight quantization in the layout of ONNX Runtime's com.microsoft MatMulNBits:
 * B is [N, blocks, blockSize·bits/8] (rows are output features, as llama2.c stores them), scales are
 * [N·blocks] float32 and zero points uint8, two per byte for 4 bits (low nibble first), or float32
 * [N·blocks] (MatMulNBits accepts either; transcoded Q4_1 blocks need the float form).
 */
export interface NBitsWeight {
  bits: 4 | 8;
  blockSize: number;
  n: number;
  k: number;
  data: Uint8Array;
  scales: Float32Array;
  zeroPoints: Uint8Array | Float32Array;
}

export function quantizeNBits(w: Float32Array, n: number, k: number, bits: 4 | 8, blockSize: number): NBitsWeight {
  if (w.length !== n * k) throw new Error(`quantizeNBits: ${w.length} values for a ${n}×${k} matrix`);
  const qmax = (1 << bits) - 1;
  const blocks = Math.ceil(k / blockSize);
  const blobSize = (blockSize * bits) / 8;
  const data = new Uint8Array(n * blocks * blobSize);
  const scales = new Float32Array(n * blocks);
  const zpPerRow = bits === 4 ? Math.ceil(blocks / 2) : blocks;
  const zeroPoints = new Uint8Array(n * zpPerRow);
  const q = new Uint8Array(blockSize);
  for (let row = 0; row < n; row++) {
    for (let b = 0; b < blocks; b++) {
      const start = row * k + b * blockSize;
      const len = Math.min(blockSize, k - b * blockSize);
      // The range always includes 0 so that zero is exactly representable (padding dequantizes to 0).
      let lo = 0;
      let hi = 0;
      for (let i = 0; i < len; i++) {
        const v = w[start + i]!;
        if (v < lo) lo = v;
        if (v > hi) hi = v;
      }
      const scale = hi > lo ? (hi - lo) / qmax : 1;
      const zp = Math.min(qmax, Math.max(0, Math.round(-lo / scale)));
      scales[row * blocks + b] = scale;
      for (let i = 0; i < blockSize; i++) {
        q[i] = i < len ? Math.min(qmax, Math.max(0, Math.round(w[start + i]! / scale) + zp)) : zp;
      }
      const blob = (row * blocks + b) * blobSize;
      if (bits === 8) data.set(q, blob);
      else for (let i = 0; i < blobSize; i++) data[blob + i] = q[2 * i]! | (q[2 * i + 1]! << 4);
      if (bits === 8) zeroPoints[row * zpPerRow + b] = zp;
      else zeroPoints[row * zpPerRow + (b >> 1)]! |= zp << ((b & 1) * 4);
    }
  }
  return { bits, blockSize, n, k, data, scales, zeroPoints };
}

/** Inverse of quantizeNBits, for tests and error measurements. */
export function dequantizeNBits(q: NBitsWeight): Float32Array {
  const { n, k, bits, blockSize } = q;
  const blocks = Math.ceil(k / blockSize);
  const blobSize = (blockSize * bits) / 8;
  const out = new Float32Array(n * k);
  for (let row = 0; row < n; row++) {
    for (let col = 0; col < k; col++) {
      const b = Math.floor(col / blockSize);
      const i = col % blockSize;
      const blob = (row * blocks + b) * blobSize;
      const v = bits === 8 ? q.data[blob + i]! : (q.data[blob + (i >> 1)]! >> ((i & 1) * 4)) & 15;
      const zp = zeroPoint(q, row, b);
      out[row * k + col] = (v - zp) * q.scales[row * blocks + b]!;
    }
  }
  return out;
}

/** Symmetric int8 per row of `w` [n, k]: q = round(w / scale), scale = max|row| / qmax (all-zero rows get scale 1). */
export function quantizeInt8Rows(w: Float32Array, n: number, k: number, qmax: number): { data: Int8Array; scales: Float32Array } {
  const data = new Int8Array(n * k);
  const scales = new Float32Array(n);
  for (let r = 0; r < n; r++) {
    let max = 0;
    for (let c = 0; c < k; c++) max = Math.max(max, Math.abs(w[r * k + c]!));
    const scale = max > 0 ? max / qmax : 1;
    scales[r] = scale;
    for (let c = 0; c < k; c++) data[r * k + c] = Math.round(w[r * k + c]! / scale);
  }
  return { data, scales };
}

/** The zero point of block `b` of `row`, whichever form the weight stores it in. */
function zeroPoint(q: NBitsWeight, row: number, b: number): number {
  const blocks = Math.ceil(q.k / q.blockSize);
  if (q.zeroPoints instanceof Float32Array) return q.zeroPoints[row * blocks + b]!;
  if (q.bits === 8) return q.zeroPoints[row * blocks + b]!;
  return (q.zeroPoints[row * Math.ceil(blocks / 2) + (b >> 1)]! >> ((b & 1) * 4)) & 15;
}

/** Weights stacked by output rows (as for a fused Q/K/V projection); zero points become float if the parts differ. */
export function concatRows(parts: NBitsWeight[]): NBitsWeight {
  const [first] = parts as [NBitsWeight];
  const join = <T extends Uint8Array | Float32Array>(arrays: T[], make: new (n: number) => T): T => {
    const out = new make(arrays.reduce((n, a) => n + a.length, 0));
    arrays.reduce((at, a) => (out.set(a, at), at + a.length), 0);
    return out;
  };
  const blocks = Math.ceil(first.k / first.blockSize);
  const sameZeros = parts.every((p) => p.zeroPoints.constructor === first.zeroPoints.constructor);
  const zeroPoints = sameZeros
    ? first.zeroPoints instanceof Float32Array
      ? join(parts.map((p) => p.zeroPoints as Float32Array), Float32Array)
      : join(parts.map((p) => p.zeroPoints as Uint8Array), Uint8Array)
    : join(parts.map((p) => Float32Array.from({ length: p.n * blocks }, (_, i) => zeroPoint(p, Math.floor(i / blocks), i % blocks))), Float32Array);
  return {
    ...first,
    n: parts.reduce((n, p) => n + p.n, 0),
    data: join(parts.map((p) => p.data), Uint8Array),
    scales: join(parts.map((p) => p.scales), Float32Array),
    zeroPoints,
  };
}
