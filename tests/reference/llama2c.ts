/**
 * An independent reference for llama2.c models, used only by tests: a direct TypeScript port of run.c's
 * forward pass and BPE encoder that parses the checkpoint and tokenizer.bin bytes by itself. It deliberately
 * shares no code with models/ so a converter bug cannot hide behind a shared helper.
 */
export class ReferenceModel {
  readonly dim: number;
  readonly hidden: number;
  readonly layers: number;
  readonly heads: number;
  readonly kvHeads: number;
  readonly vocab: number;
  readonly seqLen: number;
  /** The checkpoint's float32 arrays, all layers stacked: emb, rmsAtt, wq, wk, wv, wo, rmsFfn, w1, w2, w3, rmsFinal. */
  readonly w: Record<string, Float32Array>;
  private readonly keyCache: Float32Array;
  /** The final normed hidden state of the last forward() call. */
  lastHidden = new Float32Array(0);
  private readonly valueCache: Float32Array;

  constructor(file: Uint8Array) {
    const buf = Buffer.from(file.buffer, file.byteOffset, file.byteLength);
    const header = new Int32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + 28));
    [this.dim, this.hidden, this.layers, this.heads, this.kvHeads] = [header[0]!, header[1]!, header[2]!, header[3]!, header[4]!];
    this.vocab = Math.abs(header[5]!);
    this.seqLen = header[6]!;
    const f = new Float32Array(buf.buffer.slice(buf.byteOffset + 28, buf.byteOffset + buf.byteLength));
    const d = this.dim;
    const kv = (d * this.kvHeads) / this.heads;
    const L = this.layers;
    let o = 0;
    const next = (n: number): Float32Array => f.subarray(o, (o += n));
    this.w = {
      emb: next(this.vocab * d),
      rmsAtt: next(L * d),
      wq: next(L * d * d),
      wk: next(L * kv * d),
      wv: next(L * kv * d),
      wo: next(L * d * d),
      rmsFfn: next(L * d),
      w1: next(L * this.hidden * d),
      w2: next(L * d * this.hidden),
      w3: next(L * this.hidden * d),
      rmsFinal: next(d),
    };
    this.keyCache = new Float32Array(L * this.seqLen * kv);
    this.valueCache = new Float32Array(L * this.seqLen * kv);
  }

  /** Logits after feeding `token` at position `pos` (positions must be fed in order from 0). */
  forward(token: number, pos: number): Float32Array {
    const { dim, hidden, heads, kvHeads, seqLen, w } = this;
    const hs = dim / heads;
    const kvDim = hs * kvHeads;
    const kvMul = heads / kvHeads;
    const x = Float32Array.from(w.emb!.subarray(token * dim, (token + 1) * dim));
    const xb = new Float32Array(dim);
    const hb = new Float32Array(hidden);
    const hb2 = new Float32Array(hidden);
    const q = new Float32Array(dim);
    const att = new Float32Array(seqLen);
    for (let l = 0; l < this.layers; l++) {
      rmsnorm(xb, x, w.rmsAtt!.subarray(l * dim, (l + 1) * dim));
      const loff = l * seqLen * kvDim;
      const k = this.keyCache.subarray(loff + pos * kvDim, loff + (pos + 1) * kvDim);
      const v = this.valueCache.subarray(loff + pos * kvDim, loff + (pos + 1) * kvDim);
      matmul(q, xb, w.wq!.subarray(l * dim * dim), dim, dim);
      matmul(k, xb, w.wk!.subarray(l * kvDim * dim), dim, kvDim);
      matmul(v, xb, w.wv!.subarray(l * kvDim * dim), dim, kvDim);
      // RoPE on adjacent pairs, as run.c does it.
      for (let i = 0; i < dim; i += 2) {
        const headDim = i % hs;
        const freq = 1 / Math.pow(10000, headDim / hs);
        const val = pos * freq;
        const fcr = Math.cos(val);
        const fci = Math.sin(val);
        const rotate = (vec: Float32Array): void => {
          const v0 = vec[i]!;
          const v1 = vec[i + 1]!;
          vec[i] = v0 * fcr - v1 * fci;
          vec[i + 1] = v0 * fci + v1 * fcr;
        };
        rotate(q);
        if (i < kvDim) rotate(k);
      }
      xb.fill(0);
      for (let h = 0; h < heads; h++) {
        const qh = q.subarray(h * hs, (h + 1) * hs);
        const kvh = Math.floor(h / kvMul);
        for (let t = 0; t <= pos; t++) {
          const kt = this.keyCache.subarray(loff + t * kvDim + kvh * hs);
          let score = 0;
          for (let i = 0; i < hs; i++) score += qh[i]! * kt[i]!;
          att[t] = score / Math.sqrt(hs);
        }
        softmax(att, pos + 1);
        for (let t = 0; t <= pos; t++) {
          const vt = this.valueCache.subarray(loff + t * kvDim + kvh * hs);
          for (let i = 0; i < hs; i++) xb[h * hs + i] = xb[h * hs + i]! + att[t]! * vt[i]!;
        }
      }
      const xb2 = new Float32Array(dim);
      matmul(xb2, xb, w.wo!.subarray(l * dim * dim), dim, dim);
      for (let i = 0; i < dim; i++) x[i] = x[i]! + xb2[i]!;
      rmsnorm(xb, x, w.rmsFfn!.subarray(l * dim, (l + 1) * dim));
      matmul(hb, xb, w.w1!.subarray(l * hidden * dim), dim, hidden);
      matmul(hb2, xb, w.w3!.subarray(l * hidden * dim), dim, hidden);
      for (let i = 0; i < hidden; i++) {
        const a = hb[i]!;
        hb[i] = (a / (1 + Math.exp(-a))) * hb2[i]!;
      }
      matmul(xb, hb, w.w2!.subarray(l * dim * hidden), hidden, dim);
      for (let i = 0; i < dim; i++) x[i] = x[i]! + xb[i]!;
    }
    rmsnorm(x, x, w.rmsFinal!);
    this.lastHidden = Float32Array.from(x);
    const logits = new Float32Array(this.vocab);
    matmul(logits, x, w.emb!, dim, this.vocab);
    return logits;
  }

  /** Greedy continuation of `prompt` (token ids, BOS included) for `steps` new tokens, stopping at EOS/BOS. */
  greedy(prompt: number[], steps: number): number[] {
    const out: number[] = [];
    let token = prompt[0]!;
    for (let pos = 0; pos < prompt.length - 1 + steps; pos++) {
      const logits = this.forward(token, pos);
      if (pos < prompt.length - 1) {
        token = prompt[pos + 1]!;
        continue;
      }
      token = argmax(logits);
      if (token === 1 || token === 2) break;
      out.push(token);
    }
    return out;
  }
}

export function argmax(a: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < a.length; i++) if (a[i]! > a[best]!) best = i;
  return best;
}

function rmsnorm(out: Float32Array, x: Float32Array, weight: Float32Array): void {
  let ss = 0;
  for (let i = 0; i < x.length; i++) ss += x[i]! * x[i]!;
  const scale = 1 / Math.sqrt(ss / x.length + 1e-5);
  for (let i = 0; i < x.length; i++) out[i] = weight[i]! * (scale * x[i]!);
}

function softmax(x: Float32Array, size: number): void {
  let max = -Infinity;
  for (let i = 0; i < size; i++) max = Math.max(max, x[i]!);
  let sum = 0;
  for (let i = 0; i < size; i++) sum += x[i] = Math.exp(x[i]! - max);
  for (let i = 0; i < size; i++) x[i] = x[i]! / sum;
}

/** out[d] = Σ_n W[d, n] · x[n] for W of shape [d, n], as run.c's matmul. */
function matmul(out: Float32Array, x: Float32Array, w: Float32Array, n: number, d: number): void {
  for (let i = 0; i < d; i++) {
    let val = 0;
    const row = i * n;
    for (let j = 0; j < n; j++) val += w[row + j]! * x[j]!;
    out[i] = val;
  }
}

/** run.c's encoder: dummy-prefix space, per-code-point lookup with byte fallback, then greedy best-score pair merges. */
export class ReferenceTokenizer {
  readonly pieces: string[] = [];
  private readonly scores: number[] = [];
  private readonly lookup = new Map<string, number>();

  constructor(file: Uint8Array, vocabSize: number) {
    const buf = Buffer.from(file.buffer, file.byteOffset, file.byteLength);
    const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    let p = 4;
    for (let i = 0; i < vocabSize; i++) {
      this.scores.push(view.getFloat32(p, true));
      const len = view.getInt32(p + 4, true);
      p += 8;
      const piece = buf.subarray(p, p + len).toString('utf8');
      p += len;
      this.pieces.push(piece);
      if (!this.lookup.has(piece)) this.lookup.set(piece, i);
    }
  }

  encode(text: string, bos = true): number[] {
    const tokens: number[] = [];
    if (bos) tokens.push(1);
    if (text.length > 0) tokens.push(this.lookup.get(' ')!);
    for (const ch of text) {
      const id = this.lookup.get(ch);
      if (id !== undefined) tokens.push(id);
      else for (const byte of new TextEncoder().encode(ch)) tokens.push(byte + 3);
    }
    const start = bos ? 1 : 0;
    for (;;) {
      let bestScore = -1e10;
      let bestId = -1;
      let bestIdx = -1;
      for (let i = start; i < tokens.length - 1; i++) {
        const id = this.lookup.get(this.pieces[tokens[i]!]! + this.pieces[tokens[i + 1]!]!);
        if (id !== undefined && this.scores[id]! > bestScore) {
          bestScore = this.scores[id]!;
          bestId = id;
          bestIdx = i;
        }
      }
      if (bestIdx === -1) break;
      tokens.splice(bestIdx, 2, bestId);
    }
    return tokens;
  }

  /** Concatenated pieces with byte tokens turned back into bytes, as run.c prints them. */
  decode(ids: number[]): string {
    const bytes: number[] = [];
    ids.forEach((id, i) => {
      if (id === 1 || id === 2) return;
      let piece = this.pieces[id]!;
      if (i === 0 || ids[i - 1] === 1) piece = piece.replace(/^ /, '');
      const m = /^<0x([0-9A-F]{2})>$/.exec(piece);
      if (m) bytes.push(parseInt(m[1]!, 16));
      else bytes.push(...new TextEncoder().encode(piece));
    });
    return new TextDecoder().decode(new Uint8Array(bytes));
  }
}
