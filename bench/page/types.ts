import type { Dtype } from '../../src/model-format.ts';
/** What a measured generation reports, for our runtime and for the baselines alike. */
export interface Run {
  promptTokens: number;
  tokens: number;
  ttftMs: number;
  prefillTokensPerSecond: number;
  decodeTokensPerSecond: number;
}

export interface BaselineApi {
  /** Loads the model; returns milliseconds. */
  load(id: string, dtype: Dtype, threads: number, browserCache: boolean): Promise<number>;
  generate(prompt: string, maxNewTokens: number): Promise<Run>;
  /** A conversation of `turns` user messages, each reply fed back: ms to the first generated token per turn, and the replies. */
  chat(system: string, turns: string[], maxTokens: number): Promise<{ ttftMs: number[]; replies: string[] }>;
}
