/**
 * Which tokens may come next under a JsonMatcher. Every token's bytes are precomputed once per
 * tokenizer (pieces with "▁" as a space, byte-fallback tokens as their byte) into a trie, and each step
 * walks the trie with copies of the matcher, pruning a subtree at the first byte it rejects.
 */
import type { PreTrainedTokenizer } from '@huggingface/transformers';
import type { JsonMatcher } from './matcher.ts';

interface TrieNode {
  children: Map<number, TrieNode>;
  tokens: number[];
}

export class TokenTrie {
  readonly root: TrieNode = { children: new Map(), tokens: [] };
  readonly bytesOf: Array<Uint8Array | null>;

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
  }

  /** Sets allowed[id] = 1 for every token whose bytes the matcher accepts; returns how many. */
  allowed(matcher: JsonMatcher, allowed: Uint8Array): number {
    allowed.fill(0);
    let count = 0;
    const walk = (node: TrieNode, m: JsonMatcher): void => {
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
