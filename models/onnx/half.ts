/** float32 → IEEE float16 bit patterns, rounding to nearest even (as numpy's astype(float16) does). */
export function toFloat16(values: Float32Array): Uint16Array {
  const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const x = bits[i]!;
    const sign = (x >>> 16) & 0x8000;
    const exp = (x >>> 23) & 0xff;
    const mant = x & 0x7fffff;
    if (exp === 0xff) {
      out[i] = sign | 0x7c00 | (mant ? 0x200 : 0);
      continue;
    }
    const e = exp - 127 + 15;
    if (e >= 31) {
      out[i] = sign | 0x7c00;
      continue;
    }
    // Normal halves keep 10 mantissa bits; subnormals (e ≤ 0) shift the implicit 1 in.
    const shift = e > 0 ? 13 : 14 - e;
    if (shift > 24) {
      out[i] = sign;
      continue;
    }
    const full = e > 0 ? mant : mant | 0x800000;
    let half = full >>> shift;
    const rest = full & ((1 << shift) - 1);
    const midpoint = 1 << (shift - 1);
    if (rest > midpoint || (rest === midpoint && half & 1)) half++;
    out[i] = sign | ((e > 0 ? e << 10 : 0) + half);
  }
  return out;
}
