/**
 * Token ids for test prompts without a tokenizer: special tokens by name, other text by greedy
 * longest match over the vocabulary's byte-level pieces (space = "Ġ", newline = "Ċ"). The ids are
 * valid but not always the BPE's own split — good for logits tests, which need ids, not a tokenizer.
 */
export function pieceIds(vocab: string[], text: string): number[] {
  const index = new Map(vocab.map((piece, id) => [piece, id]));
  const maxLen = Math.max(...vocab.map((p) => p.length));
  const ids: number[] = [];
  for (const part of text.split(/(<\|[a-z_]+\|>)/)) {
    if (!part) continue;
    if (index.has(part) && part.startsWith('<|')) {
      ids.push(index.get(part)!);
      continue;
    }
    const s = part.replace(/ /g, 'Ġ').replace(/\n/g, 'Ċ');
    for (let i = 0; i < s.length; ) {
      let len = Math.min(maxLen, s.length - i);
      while (len > 0 && !index.has(s.slice(i, i + len))) len--;
      if (len === 0) throw new Error(`no piece for ${JSON.stringify(s.slice(i, i + 8))}`);
      ids.push(index.get(s.slice(i, i + len))!);
      i += len;
    }
  }
  return ids;
}

export const decodePieces = (vocab: string[], ids: number[]): string => ids.map((id) => vocab[id]).join('').replace(/Ġ/g, ' ').replace(/Ċ/g, '\n');
