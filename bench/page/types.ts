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
  load(id: string, dtype: 'fp32' | 'q8' | 'q4', threads: number, browserCache: boolean): Promise<number>;
  generate(prompt: string, maxNewTokens: number): Promise<Run>;
}
