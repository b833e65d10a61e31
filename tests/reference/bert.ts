/**
 * An independent reference for BERT encoders (the synthetic encoder-tiny and the real MiniLM): BERT's
 * uncased basic tokenizer + WordPiece as Google's original tokenization.py describes them, a plain-loop
 * BERT forward pass in float64, and a reader of a Hugging Face model.safetensors of its own. Nothing here
 * is shared with the converter or transformers.js, so agreement means both are right.
 */
import type { BertLayerWeights, BertShape, BertWeights } from '../../models/bert/weights.ts';

const isPunctuation = (ch: string): boolean => {
  const cp = ch.codePointAt(0)!;
  // tokenization.py treats all non-letter/number ASCII as punctuation, plus Unicode category P.
  if ((cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) || (cp >= 123 && cp <= 126)) return true;
  return /\p{P}/u.test(ch);
};
const isCjk = (cp: number): boolean =>
  (cp >= 0x4e00 && cp <= 0x9fff) || (cp >= 0x3400 && cp <= 0x4dbf) || (cp >= 0x20000 && cp <= 0x2a6df) || (cp >= 0x2a700 && cp <= 0x2b73f) ||
  (cp >= 0x2b740 && cp <= 0x2b81f) || (cp >= 0x2b820 && cp <= 0x2ceaf) || (cp >= 0xf900 && cp <= 0xfaff) || (cp >= 0x2f800 && cp <= 0x2fa1f);
const isControl = (ch: string): boolean => ch !== '\t' && ch !== '\n' && ch !== '\r' && /\p{Cc}|\p{Cf}/u.test(ch);
const isWhitespace = (ch: string): boolean => ch === ' ' || ch === '\t' || ch === '\n' || ch === '\r' || /\p{Zs}/u.test(ch);

export class ReferenceWordPiece {
  private readonly ids: Map<string, number>;

  constructor(vocab: string[]) {
    this.ids = new Map(vocab.map((t, i) => [t, i]));
  }

  /** Words and punctuation after cleaning, CJK spacing, lower-casing and accent stripping. */
  basicTokens(text: string): string[] {
    let cleaned = '';
    for (const ch of text) {
      const cp = ch.codePointAt(0)!;
      if (cp === 0 || cp === 0xfffd || isControl(ch)) continue;
      cleaned += isWhitespace(ch) ? ' ' : isCjk(cp) ? ` ${ch} ` : ch;
    }
    const words: string[] = [];
    for (const raw of cleaned.split(' ').filter(Boolean)) {
      const word = raw.toLowerCase().normalize('NFD').replace(/\p{Mn}/gu, '');
      let current = '';
      for (const ch of word) {
        if (isPunctuation(ch)) {
          if (current) words.push(current);
          words.push(ch);
          current = '';
        } else current += ch;
      }
      if (current) words.push(current);
    }
    return words;
  }

  /** Greedy longest-match-first; a word that cannot be covered becomes [UNK] as a whole. */
  wordPieces(word: string): string[] {
    const chars = Array.from(word);
    if (chars.length > 100) return ['[UNK]'];
    const pieces: string[] = [];
    for (let start = 0; start < chars.length; ) {
      let end = chars.length;
      let found: string | null = null;
      for (; end > start; end--) {
        const piece = (start > 0 ? '##' : '') + chars.slice(start, end).join('');
        if (this.ids.has(piece)) {
          found = piece;
          break;
        }
      }
      if (found === null) return ['[UNK]'];
      pieces.push(found);
      start = end;
    }
    return pieces;
  }

  /** [CLS] pieces… [SEP] as ids. */
  encode(text: string): number[] {
    const pieces = this.basicTokens(text).flatMap((w) => this.wordPieces(w));
    return ['[CLS]', ...pieces, '[SEP]'].map((p) => this.ids.get(p)!);
  }
}

/** last_hidden_state [sequence × hidden] for one unpadded sequence of token type 0. */
export function referenceBertForward(shape: BertShape, w: BertWeights, ids: number[]): Float64Array[] {
  const h = shape.hidden;
  const hs = h / shape.heads;
  const eps = 1e-12;
  const layerNorm = (x: Float64Array, gamma: Float32Array, beta: Float32Array): Float64Array => {
    let mean = 0;
    for (const v of x) mean += v;
    mean /= x.length;
    let variance = 0;
    for (const v of x) variance += (v - mean) ** 2;
    variance /= x.length;
    const inv = 1 / Math.sqrt(variance + eps);
    return x.map((v, i) => (v - mean) * inv * gamma[i]! + beta[i]!);
  };
  // y = W x + b for W [out, in].
  const affine = (W: Float32Array, b: Float32Array, x: Float64Array): Float64Array => {
    const out = new Float64Array(b.length);
    for (let o = 0; o < b.length; o++) {
      let s = b[o]!;
      for (let i = 0; i < x.length; i++) s += W[o * x.length + i]! * x[i]!;
      out[o] = s;
    }
    return out;
  };
  const erf = (x: number): number => {
    // Abramowitz–Stegun 7.1.26 is too coarse at 1e-4, and the alternating Taylor series cancels
    // catastrophically once |x| passes ~3 (real models' activations do). This series has only positive
    // terms: erf(x) = 2/√π · e^(−x²) · Σ 2ⁿ x^(2n+1) / (2n+1)!!; beyond |x| = 6, erf is ±1 to 1e-16.
    if (Math.abs(x) > 6) return Math.sign(x);
    let term = x;
    let sum = x;
    for (let n = 1; n < 500 && Math.abs(term) > 1e-17 * Math.abs(sum); n++) {
      term *= (2 * x * x) / (2 * n + 1);
      sum += term;
    }
    return (2 / Math.sqrt(Math.PI)) * Math.exp(-x * x) * sum;
  };

  let xs = ids.map((id, pos) => {
    const v = new Float64Array(h);
    for (let i = 0; i < h; i++) v[i] = w.wordEmbeddings[id * h + i]! + w.positionEmbeddings[pos * h + i]! + w.tokenTypeEmbeddings[i]!;
    return layerNorm(v, w.embNormGamma, w.embNormBeta);
  });
  for (const lw of w.layers) {
    const q = xs.map((x) => affine(lw.wq, lw.bq, x));
    const k = xs.map((x) => affine(lw.wk, lw.bk, x));
    const v = xs.map((x) => affine(lw.wv, lw.bv, x));
    const attended = xs.map((_, t) => {
      const ctx = new Float64Array(h);
      for (let head = 0; head < shape.heads; head++) {
        const o = head * hs;
        const scores = k.map((kk) => {
          let s = 0;
          for (let i = 0; i < hs; i++) s += q[t]![o + i]! * kk[o + i]!;
          return s / Math.sqrt(hs);
        });
        const max = Math.max(...scores);
        const e = scores.map((s) => Math.exp(s - max));
        const total = e.reduce((a, b) => a + b, 0);
        e.forEach((p, j) => {
          for (let i = 0; i < hs; i++) ctx[o + i]! += (p / total) * v[j]![o + i]!;
        });
      }
      return ctx;
    });
    xs = xs.map((x, t) => {
      const a = affine(lw.wo, lw.bo, attended[t]!);
      const h1 = layerNorm(a.map((val, i) => val + x[i]!), lw.attnNormGamma, lw.attnNormBeta);
      const up = affine(lw.w1, lw.b1, h1).map((u) => 0.5 * u * (1 + erf(u / Math.SQRT2)));
      const down = affine(lw.w2, lw.b2, up);
      return layerNorm(down.map((val, i) => val + h1[i]!), lw.ffnNormGamma, lw.ffnNormBeta);
    });
  }
  return xs;
}

/** The feature-extraction embedding: mean over every token (CLS and SEP included), L2-normalised. */
export function meanPooledNormalised(hidden: Float64Array[]): Float64Array {
  const out = new Float64Array(hidden[0]!.length);
  for (const row of hidden) row.forEach((v, i) => (out[i]! += v / hidden.length));
  const norm = Math.hypot(...out);
  return out.map((v) => v / norm);
}

/** Where transformers' BertModel keeps each layer tensor, below `encoder.layer.N.`. */
const HF_LAYER_TENSORS: Record<keyof BertLayerWeights, string> = {
  wq: 'attention.self.query.weight',
  bq: 'attention.self.query.bias',
  wk: 'attention.self.key.weight',
  bk: 'attention.self.key.bias',
  wv: 'attention.self.value.weight',
  bv: 'attention.self.value.bias',
  wo: 'attention.output.dense.weight',
  bo: 'attention.output.dense.bias',
  attnNormGamma: 'attention.output.LayerNorm.weight',
  attnNormBeta: 'attention.output.LayerNorm.bias',
  w1: 'intermediate.dense.weight',
  b1: 'intermediate.dense.bias',
  w2: 'output.dense.weight',
  b2: 'output.dense.bias',
  ffnNormGamma: 'output.LayerNorm.weight',
  ffnNormBeta: 'output.LayerNorm.bias',
};

/** A float32 BertModel checkpoint in safetensors form (u64 header length, JSON header, raw data), read directly. */
export function referenceBertWeights(file: Uint8Array, layers: number): BertWeights {
  const headerEnd = 8 + Number(new DataView(file.buffer, file.byteOffset, 8).getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(file.subarray(8, headerEnd))) as Record<string, { dtype: string; data_offsets: [number, number] }>;
  const tensor = (name: string): Float32Array => {
    const entry = header[name];
    if (entry?.dtype !== 'F32') throw new Error(`reference: no F32 tensor ${name}`);
    return new Float32Array(file.slice(headerEnd + entry.data_offsets[0], headerEnd + entry.data_offsets[1]).buffer);
  };
  return {
    wordEmbeddings: tensor('embeddings.word_embeddings.weight'),
    positionEmbeddings: tensor('embeddings.position_embeddings.weight'),
    tokenTypeEmbeddings: tensor('embeddings.token_type_embeddings.weight'),
    embNormGamma: tensor('embeddings.LayerNorm.weight'),
    embNormBeta: tensor('embeddings.LayerNorm.bias'),
    layers: Array.from({ length: layers }, (_, l) =>
      Object.fromEntries(Object.entries(HF_LAYER_TENSORS).map(([key, name]) => [key, tensor(`encoder.layer.${l}.${name}`)])) as unknown as BertLayerWeights,
    ),
  };
}
