/** Reader for llama2.c's tokenizer.bin: int32 max_token_length, then per id a float32 score, int32 length and UTF-8 bytes. */
import { CheckpointError } from './checkpoint.ts';

export interface Llama2cVocab {
  /** Pieces as llama2.c stores them: a leading space stands for SentencePiece's "▁", bytes are "<0xAB>". */
  pieces: string[];
  scores: Float32Array;
  maxTokenLength: number;
}

export function parseTokenizerBin(bytes: Uint8Array, vocabSize: number, label = 'tokenizer.bin'): Llama2cVocab {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const decoder = new TextDecoder('utf-8', { fatal: true });
  const need = (at: number, n: number, what: string): void => {
    if (at + n > bytes.byteLength) {
      throw new CheckpointError(`${label}: truncated while reading ${what} (needs byte ${at + n}, file has ${bytes.byteLength}); does it belong to a ${vocabSize}-token model?`);
    }
  };
  need(0, 4, 'max_token_length');
  const maxTokenLength = view.getInt32(0, true);
  const pieces: string[] = [];
  const scores = new Float32Array(vocabSize);
  let p = 4;
  for (let i = 0; i < vocabSize; i++) {
    need(p, 8, `entry ${i}`);
    scores[i] = view.getFloat32(p, true);
    const len = view.getInt32(p + 4, true);
    if (len < 0 || len > maxTokenLength) throw new CheckpointError(`${label}: entry ${i} has length ${len} (max_token_length ${maxTokenLength})`);
    p += 8;
    need(p, len, `entry ${i}`);
    pieces.push(decoder.decode(bytes.subarray(p, p + len)));
    p += len;
  }
  if (p !== bytes.byteLength) {
    throw new CheckpointError(`${label}: ${bytes.byteLength - p} bytes left after ${vocabSize} entries; the vocabulary does not match the model`);
  }
  return { pieces, scores, maxTokenLength };
}
