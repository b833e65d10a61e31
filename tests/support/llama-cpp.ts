/**
 * llama.cpp as an independent reference: node-llama-cpp's prebuilt binary (never built or downloaded
 * here: `build: 'never'`, and its postinstall is skipped through package.json "config"), as a tokenizer
 * (the vocabulary of a GGUF file only) or as a model (its greedy next token at every position).
 */
import { getLlama, type Llama, LlamaLogLevel, type LlamaModel, type Token } from 'node-llama-cpp';

let llama: Promise<Llama> | undefined;
const cpuLlama = (): Promise<Llama> => (llama ??= getLlama({ gpu: false, build: 'never', progressLogs: false, logLevel: LlamaLogLevel.error }));

export async function llamaCppVocab(modelPath: string): Promise<LlamaModel> {
  return (await cpuLlama()).loadModel({ modelPath, vocabOnly: true });
}

/** llama.cpp's top-1 (greedy) next id after each prefix of `ids`, teacher-forced in one evaluation of the whole sequence. */
export async function llamaCppTop1(modelPath: string, ids: number[]): Promise<number[]> {
  const model = await (await cpuLlama()).loadModel({ modelPath });
  const context = await model.createContext({ contextSize: Math.max(256, ids.length), threads: 2 });
  try {
    const greedy = { generateNext: { token: true, options: { temperature: 0 } } };
    const out = await context.getSequence().controlledEvaluate(ids.map((id) => [id as Token, greedy]));
    return ids.map((_, i) => {
      const token = out[i]?.next.token;
      if (token == null) throw new Error(`llama.cpp gave no next token at position ${i}`);
      return token;
    });
  } finally {
    await context.dispose();
    await model.dispose();
  }
}
