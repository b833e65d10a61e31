/**
 * Which tokens may come next under a JsonMatcher. Every token's bytes are precomputed once per
 * tokenizer (pieces with "▁" as a space, byte-fallback tokens as their byte) into a trie. `allowed`
 * walks the trie with copies of the matcher, pruning a subtree at the first byte it rejects; a
 * StateTable does the same walk once per matcher state and keeps the result (see below).
 */
import type { PreTrainedTokenizer } from '@huggingface/transformers';
import type { JsonMatcher } from './matcher.ts';

/** What the fresh trie walk needs: JsonMatcher, or a matcher for a larger format around JSON (a tool call). */
export interface ByteMatcher {
  clone(): ByteMatcher;
  feed(b: number): boolean;
  plainStringRoom(): number | null;
}

interface TrieNode {
  children: Map<number, TrieNode>;
  tokens: number[];
}

export class TokenTrie {
  readonly root: TrieNode = { children: new Map(), tokens: [] };
  readonly bytesOf: Array<Uint8Array | null>;
  /** Characters a token adds to a JSON string if all its bytes are plain string content (no quote, backslash, control or partial UTF-8), else −1. */
  private readonly plainChars: Int32Array;
  /** Tokens that can still be valid in a string without being plain content: they hold a quote or partial UTF-8. */
  readonly stringEdgeTokens: number[] = [];
  /** plainBits(room) by room, up to the longest plain token (longer rooms allow the same tokens). */
  private readonly plainByRoom: Array<{ bits: Uint32Array; count: number }> = [];
  private readonly longestPlain: number;
  /** Single-byte tokens that start a multi-byte character (valid in a string whenever there is room for it). */
  private readonly leadByteTokens: number[] = [];

  constructor(tokenizer: PreTrainedTokenizer) {
    const vocab = tokenizer.get_vocab() as Map<string, number> | Record<string, number>;
    const entries = vocab instanceof Map ? [...vocab] : Object.entries(vocab);
    const special = new Set(tokenizer.all_special_ids);
    const pieceBytes = byteLevel(tokenizer) ? byteLevelBytes : sentencePieceBytes;
    this.bytesOf = [];
    for (const [piece, id] of entries) {
      if (special.has(id)) continue;
      const bytes = pieceBytes(piece);
      if (!bytes?.length) continue;
      this.bytesOf[id] = bytes;
      let node = this.root;
      for (const b of bytes) {
        let next = node.children.get(b);
        if (!next) node.children.set(b, (next = { children: new Map(), tokens: [] }));
        node = next;
      }
      node.tokens.push(id);
    }
    this.plainChars = new Int32Array(this.bytesOf.length).fill(-1);
    this.bytesOf.forEach((bytes, id) => {
      if (!bytes) return;
      const plain = plainStringChars(bytes);
      this.plainChars[id] = plain;
      if (plain >= 0) return;
      if (bytes.length === 1 && bytes[0]! >= 0xc2 && bytes[0]! <= 0xf4) this.leadByteTokens.push(id);
      else if (bytes.some((b) => b === 0x22 || b >= 0x80)) this.stringEdgeTokens.push(id);
    });
    this.longestPlain = this.plainChars.reduce((m, n) => Math.max(m, n), 1);
  }

  /**
   * Inside a plain string with room for `room` more characters, the tokens allowed whatever follows the
   * string: plain content that fits, and lead bytes. A bitset over token ids, shared: do not modify.
   */
  plainBits(room: number): { bits: Uint32Array; count: number } {
    const r = Math.min(room, this.longestPlain);
    let entry = this.plainByRoom[r];
    if (!entry) {
      const bits = new Uint32Array((this.plainChars.length + 31) >> 5);
      let count = 0;
      const set = (id: number): void => {
        bits[id >> 5]! |= 1 << (id & 31);
        count++;
      };
      this.plainChars.forEach((n, id) => n >= 0 && n <= r && set(id));
      if (r >= 1) this.leadByteTokens.forEach(set);
      this.plainByRoom[r] = entry = { bits, count };
    }
    return entry;
  }

  /** Sets allowed[id] = 1 for every token whose bytes the matcher accepts; returns how many. Walks the trie afresh. */
  allowed(matcher: ByteMatcher, allowed: Uint8Array): number {
    allowed.fill(0);
    let count = 0;
    const room = matcher.plainStringRoom();
    if (room !== null) {
      // Plain string content needs no matcher: one pass over precomputed lengths, then the few edge tokens.
      for (let id = 0; id < this.plainChars.length; id++) {
        const n = this.plainChars[id]!;
        if (n >= 0 && n <= room) {
          allowed[id] = 1;
          count++;
        }
      }
      if (room >= 1) {
        for (const id of this.leadByteTokens) allowed[id] = 1;
        count += this.leadByteTokens.length;
      }
      for (const id of this.stringEdgeTokens) {
        const m = matcher.clone();
        if (this.bytesOf[id]!.every((b) => m.feed(b))) {
          allowed[id] = 1;
          count++;
        }
      }
      return count;
    }
    const walk = (node: TrieNode, m: ByteMatcher): void => {
      for (const [b, child] of node.children) {
        const next = m.clone();
        if (!next.feed(b)) continue;
        for (const id of child.tokens) allowed[id] = 1;
        count += child.tokens.length;
        walk(child, next);
      }
    };
    walk(this.root, matcher);
    return count;
  }

  /** Splits bytes into tokens, longest first (a draft: the model decides what it really takes). */
  tokenize(bytes: ArrayLike<number>): number[] {
    const out: number[] = [];
    for (let i = 0; i < bytes.length; ) {
      let node = this.root;
      let best = -1;
      let end = i;
      for (let j = i; j < bytes.length; j++) {
        const next = node.children.get(bytes[j]!);
        if (!next) break;
        node = next;
        // The last id with these bytes: a piece rather than its byte-fallback spelling.
        if (node.tokens.length) [best, end] = [node.tokens.at(-1)!, j + 1];
      }
      if (best < 0) break;
      out.push(best);
      i = end;
    }
    return out;
  }
}

/** Allowed tokens: the ids when they are few (structure, enums, numbers), else a bitset (string content). */
export type TokenMask = { count: number } & ({ kind: 'allowed'; ids: Int32Array } | { kind: 'bits'; bits: Uint32Array });

export interface State {
  readonly matcher: JsonMatcher;
  readonly next: Map<number, State | null>;
  mask: TokenMask | null;
  forced: number[] | null;
}

/**
 * Matcher states interned by key, with their byte transitions, token masks and forced bytes, for one
 * tokenizer and one compiled schema. A state seen before (the same place in the schema: the next
 * array item, the same schema on another document) costs a lookup; a new one walks the trie through
 * cached transitions, so string content reached by different tokens is fed to a matcher once per
 * length, not once per token. Bounded: past `maxStates` it starts over.
 */
export class StateTable {
  private states = new Map<string, State>();
  private maskBytes = 0;

  constructor(
    readonly trie: TokenTrie,
    readonly vocabSize: number,
    private readonly maxStates = 20000,
    private readonly maxMaskBytes = 8 * 2 ** 20,
  ) {}

  intern(matcher: JsonMatcher): State {
    const key = matcher.key();
    let state = this.states.get(key);
    if (!state) {
      if (this.states.size >= this.maxStates || this.maskBytes >= this.maxMaskBytes) {
        this.states = new Map();
        this.maskBytes = 0;
      }
      this.states.set(key, (state = { matcher, next: new Map(), mask: null, forced: null }));
    }
    return state;
  }

  /** The state after byte `b`, or null when the matcher rejects it. */
  step(state: State, b: number): State | null {
    let next = state.next.get(b);
    if (next === undefined) {
      const m = state.matcher.mayAccept(b) ? state.matcher.clone() : null;
      next = m?.feed(b) ? this.intern(m) : null;
      state.next.set(b, next);
    }
    return next;
  }

  mask(state: State): TokenMask {
    if (!state.mask) {
      state.mask = this.build(state);
      this.maskBytes += state.mask.kind === 'bits' ? state.mask.bits.byteLength : state.mask.ids.byteLength;
    }
    return state.mask;
  }

  /** No pass over the whole vocabulary: string content starts from a shared bitset, the rest walks the trie. */
  private build(state: State): TokenMask {
    const words = (this.vocabSize + 31) >> 5;
    const room = state.matcher.plainStringRoom();
    if (room !== null) {
      const plain = this.trie.plainBits(room);
      const bits = new Uint32Array(words);
      bits.set(plain.bits.subarray(0, words));
      let count = plain.count;
      for (const id of this.trie.stringEdgeTokens) {
        let s: State | null = state;
        for (const b of this.trie.bytesOf[id]!) if (!(s = this.step(s, b))) break;
        if (!s) continue;
        bits[id >> 5]! |= 1 << (id & 31);
        count++;
      }
      return { count, kind: 'bits', bits };
    }
    const ids: number[] = [];
    const walk = (node: TrieNode, s: State): void => {
      for (const [b, child] of node.children) {
        const next = this.step(s, b);
        if (!next) continue;
        ids.push(...child.tokens);
        walk(child, next);
      }
    };
    walk(this.trie.root, state);
    if (ids.length <= words) return { count: ids.length, kind: 'allowed', ids: Int32Array.from(ids) };
    const bits = new Uint32Array(words);
    for (const id of ids) bits[id >> 5]! |= 1 << (id & 31);
    return { count: ids.length, kind: 'bits', bits };
  }

  forced(state: State): number[] {
    state.forced ??= state.matcher.forced();
    return state.forced;
  }
}

/** Sets every logit the mask rules out to −∞ (`save` holds at least vocab/32 + 1 floats). */
export function applyMask(mask: TokenMask, logits: Float32Array, save: Float32Array): void {
  switch (mask.kind) {
    case 'allowed': {
      const { ids } = mask;
      for (let i = 0; i < ids.length; i++) save[i] = logits[ids[i]!]!;
      logits.fill(-Infinity);
      for (let i = 0; i < ids.length; i++) logits[ids[i]!] = save[i]!;
      return;
    }
    case 'bits': {
      const { bits } = mask;
      for (let w = 0; w < bits.length; w++) {
        const word = bits[w]!;
        if (word === -1 >>> 0) continue;
        const end = Math.min(logits.length, (w + 1) << 5);
        for (let id = w << 5; id < end; id++) if (!((word >>> (id & 31)) & 1)) logits[id] = -Infinity;
      }
    }
  }
}


/** Code points in `bytes` if they are all plain JSON string content, else −1. */
function plainStringChars(bytes: Uint8Array): number {
  let chars = 0;
  for (let i = 0; i < bytes.length; ) {
    const b = bytes[i]!;
    if (b < 0x20 || b === 0x22 || b === 0x5c || b === 0x7f) return -1;
    const len = b < 0x80 ? 1 : b >= 0xc2 && b <= 0xdf ? 2 : b >= 0xe0 && b <= 0xef ? 3 : b >= 0xf0 && b <= 0xf4 ? 4 : 0;
    if (!len || i + len > bytes.length) return -1;
    for (let j = 1; j < len; j++) if (bytes[i + j]! < 0x80 || bytes[i + j]! > 0xbf) return -1;
    i += len;
    chars++;
  }
  return chars;
}

/** Whether the tokenizer is byte-level BPE (GPT-2, SmolLM2): its pieces spell bytes with GPT-2's printable-character table. */
function byteLevel(tokenizer: PreTrainedTokenizer): boolean {
  // transformers.js keeps the tokenizer.json it loaded; its decoder says how pieces become text.
  return (tokenizer as unknown as { _tokenizerJSON?: { decoder?: { type?: string } } })._tokenizerJSON?.decoder?.type === 'ByteLevel';
}

const UTF8 = new TextEncoder();

/** SentencePiece pieces: "▁" is a space, `<0xNN>` a byte-fallback token. */
function sentencePieceBytes(piece: string): Uint8Array {
  const byte = /^<0x([0-9A-Fa-f]{2})>$/.exec(piece);
  return byte ? Uint8Array.of(parseInt(byte[1]!, 16)) : UTF8.encode(piece.replaceAll('▁', ' '));
}

/** GPT-2's bytes_to_unicode table, inverted: the printable character standing for each byte → the byte. */
const BYTE_OF_CHAR = (() => {
  const table = new Map<number, number>();
  let shifted = 0;
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
    table.set(printable ? b : 256 + shifted++, b);
  }
  return table;
})();

/** A byte-level piece's bytes; null for a piece outside the table (an added token written as text). */
function byteLevelBytes(piece: string): Uint8Array | null {
  const out: number[] = [];
  for (const ch of piece) {
    const b = BYTE_OF_CHAR.get(ch.codePointAt(0)!);
    if (b === undefined) return null;
    out.push(b);
  }
  return Uint8Array.from(out);
}
