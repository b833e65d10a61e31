/** Texts that stress tokenizers: punctuation, whitespace runs, accents, emoji, CJK, empty input. */
export const TOKENIZER_CORPUS = [
  'Once upon a time',
  'The cat sat on the mat. Then it ran away!',
  'Numbers: 0 1 2 3 42 2024 3.14159, and punctuation: ;:?!()[]{}"\'-_/\\@#$%^&*+=<>~`|',
  'line one\nline two\n\n\ttabbed\r\nwindows line',
  'repeated   spaces    and  trailing space ',
  '  leading spaces',
  'Accents: café, naïve, façade, Ångström, Zürich, señor, crème brûlée',
  'Emoji 😀🎉👩‍👩‍👧 and symbols ™ © ∞ ≤ ≥ → ✓',
  'CJK 日本語のテキスト, 中文文本, 한국어 텍스트',
  'Mixed: Lily said "héllo 🌈" to Tim — twice… “quoted” ‘text’',
  'a',
  ' ',
  '',
];
