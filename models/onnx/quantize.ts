/**
 * Block-wise asymmetric weight quantization in the layout of ONNX Runtime's com.microsoft MatMulNBits:
 * B is [N, blocks, blockSize·bits/8] (rows are output features, as llama2.c stores them), scales are
 * [N·blocks] float32 and zero points uint8, two per byte for 4 bits (low nibble first).
 */
export interface NBitsWeight {
  bits: 4 | 8;
  blockSize: number;
  n: number;
  k: number;
  data: Uint8Array;
  scales: Float32Array;
  zeroPoints: Uint8Array;
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
  const zpPerRow = bits === 4 ? Math.ceil(blocks / 2) : blocks;
  const out = new Float32Array(n * k);
  for (let row = 0; row < n; row++) {
    for (let col = 0; col < k; col++) {
      const b = Math.floor(col / blockSize);
      const i = col % blockSize;
      const blob = (row * blocks + b) * blobSize;
      const v = bits === 8 ? q.data[blob + i]! : (q.data[blob + (i >> 1)]! >> ((i & 1) * 4)) & 15;
      const zpByte = q.zeroPoints[row * zpPerRow + (bits === 8 ? b : b >> 1)]!;
      const zp = bits === 8 ? zpByte : (zpByte >> ((b & 1) * 4)) & 15;
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
