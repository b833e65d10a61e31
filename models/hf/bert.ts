/**
 * config.json, tokenizer.json and tokenizer_config.json in the Hugging Face BERT layout (uncased
 * WordPiece), for the synthetic encoder. Its vocabulary is derived from a llama2.c vocabulary: pieces
 * that start a word ("▁the") become words, the others ("ing") continuations ("##ing"), and every ASCII
 * letter, digit and punctuation mark is present so no ASCII word is unknown.
 */
import { BERT_LAYER_NORM_EPS, type BertShape } from '../bert/weights.ts';
import type { Llama2cVocab } from '../llama2c/tokenizer-bin.ts';

const SPECIAL = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'] as const;
const id = (token: (typeof SPECIAL)[number]): number => SPECIAL.indexOf(token);

export function wordPieceVocab(source: Llama2cVocab): string[] {
  const vocab: string[] = [...SPECIAL];
  const seen = new Set<string>(vocab);
  const add = (token: string): void => {
    if (!seen.has(token)) {
      seen.add(token);
      vocab.push(token);
    }
  };
  for (let c = 0x21; c < 0x7f; c++) {
    const ch = String.fromCharCode(c).toLowerCase();
    add(ch);
    // BERT's pre-tokenizer isolates punctuation, so only letters and digits continue a word.
    if (/[a-z0-9]/.test(ch)) add(`##${ch}`);
  }
  for (const piece of source.pieces) {
    const startsWord = piece.startsWith(' ');
    const body = (startsWord ? piece.slice(1) : piece).toLowerCase();
    if (/^[a-z0-9]+$/.test(body)) add(startsWord ? body : `##${body}`);
  }
  return vocab;
}

export function buildBertConfig(s: BertShape): object {
  return {
    architectures: ['BertModel'],
    model_type: 'bert',
    hidden_size: s.hidden,
    intermediate_size: s.intermediate,
    num_hidden_layers: s.layers,
    num_attention_heads: s.heads,
    hidden_act: 'gelu',
    max_position_embeddings: s.maxPositions,
    type_vocab_size: s.typeVocabSize,
    vocab_size: s.vocabSize,
    layer_norm_eps: BERT_LAYER_NORM_EPS,
    pad_token_id: id('[PAD]'),
    position_embedding_type: 'absolute',
    torch_dtype: 'float32',
  };
}

export function buildWordPieceTokenizerJson(vocab: string[]): object {
  const special = (token: (typeof SPECIAL)[number], typeId: number) => ({ SpecialToken: { id: token, type_id: typeId } });
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: SPECIAL.map((content, i) => ({ id: i, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true })),
    normalizer: { type: 'BertNormalizer', clean_text: true, handle_chinese_chars: true, strip_accents: null, lowercase: true },
    pre_tokenizer: { type: 'BertPreTokenizer' },
    post_processor: {
      type: 'TemplateProcessing',
      single: [special('[CLS]', 0), { Sequence: { id: 'A', type_id: 0 } }, special('[SEP]', 0)],
      pair: [special('[CLS]', 0), { Sequence: { id: 'A', type_id: 0 } }, special('[SEP]', 0), { Sequence: { id: 'B', type_id: 1 } }, special('[SEP]', 1)],
      special_tokens: {
        '[CLS]': { id: '[CLS]', ids: [id('[CLS]')], tokens: ['[CLS]'] },
        '[SEP]': { id: '[SEP]', ids: [id('[SEP]')], tokens: ['[SEP]'] },
      },
    },
    decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
    model: {
      type: 'WordPiece',
      unk_token: '[UNK]',
      continuing_subword_prefix: '##',
      max_input_chars_per_word: 100,
      vocab: Object.fromEntries(vocab.map((token, i) => [token, i])),
    },
  };
}

export function buildBertTokenizerConfig(maxLength: number): object {
  return {
    tokenizer_class: 'BertTokenizer',
    do_lower_case: true,
    cls_token: '[CLS]',
    sep_token: '[SEP]',
    pad_token: '[PAD]',
    unk_token: '[UNK]',
    mask_token: '[MASK]',
    clean_up_tokenization_spaces: true,
    model_max_length: maxLength,
  };
}
