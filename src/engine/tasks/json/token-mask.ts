/**
 * Which tokens may come next under a JsonMatcher. Every token's bytes are precomputed once per
 * tokenizer (pieces with "▁" as a space, byte-fallback tokens as their byte) into a trie, and each step
 * walks the trie with copies of the matcher, pruning a subtree at the first byte it rejects.
 */
import type { PreTrainedTokenizer } from '@huggingface/transformers';

/** What the mask walks with: JsonMatcher, or a matcher for a larger format around JSON (a tool call). */
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
  private readonly stringEdgeTokens: number[] = [];
  /** Single-byte tokens that start a multi-byte character (valid in a string whenever there is room for it). */
  private readonly leadByteTokens: number[] = [];

  constructor(tokenizer: PreTrainedTokenizer) {
    const vocab = tokenizer.get_vocab() as Map<string, number> | Record<string, number>;
    const entries = vocab instanceof Map ? [...vocab] : Object.entries(vocab);
    const special = new Set(tokenizer.all_special_ids);
    const enc = new TextEncoder();
    this.bytesOf = [];
    for (const [piece, id] of entries) {
      if (special.has(id)) continue;
      const byte = /^<0x([0-9A-Fa-f]{2})>$/.exec(piece);
      const bytes = byte ? Uint8Array.of(parseInt(byte[1]!, 16)) : enc.encode(piece.replaceAll('▁', ' '));
      if (bytes.length === 0) continue;
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
  }

  /** Sets allowed[id] = 1 for every token whose bytes the matcher accepts; returns how many. */
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
