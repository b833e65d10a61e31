/**
 * llama.cpp as an independent reference tokenizer: node-llama-cpp's prebuilt binary (never built or
 * downloaded here: `build: 'never'`, and its postinstall is skipped through package.json "config"),
 * loading only the vocabulary of a GGUF file.
 */
import { getLlama, type Llama, LlamaLogLevel, type LlamaModel } from 'node-llama-cpp';

let llama: Promise<Llama> | undefined;

export async function llamaCppVocab(modelPath: string): Promise<LlamaModel> {
  llama ??= getLlama({ gpu: false, build: 'never', progressLogs: false, logLevel: LlamaLogLevel.error });
  return (await llama).loadModel({ modelPath, vocabOnly: true });
}
