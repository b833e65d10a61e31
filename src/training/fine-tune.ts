/**
 * The public shape of LoRA fine-tuning (`model.fineTune`): examples, options, progress and report.
 * The engine side (validation, formatting, the training loop over the training graph) lives next to it.
 */
import type { ChatMessage } from '../openai/types.ts';
import type { LoraTarget } from './adapter.ts';

export type { LoraTarget };

/** A prompt and the completion to learn, or a chat whose last message is the assistant's completion. */
export type FineTuneExample = { prompt: string; completion: string } | { messages: ChatMessage[] };

export interface FineTuneOptions {
  /** The adapter's name: usable at once as `{ adapter: name }` in generate, chat and extract, and by saveSkill. */
  name: string;
  /** LoRA rank (default 8). */
  rank?: number;
  /** LoRA scaling numerator: the update is (alpha / rank)·B·A (default 2 × rank). */
  alpha?: number;
  /** Linear layers that get an adapter (default all seven: q, k, v, o, gate, up, down). */
  targets?: LoraTarget[];
  /** How many of the top layers carry adapters (default all). */
  layers?: number;
  /** Passes over the training examples (default 3); `steps` overrides it. */
  epochs?: number;
  steps?: number;
  /** AdamW peak learning rate (default 2e-3). */
  learningRate?: number;
  /** Tokens per optimiser step: examples are added to a step until it would exceed this (default 64: about one short chat example per step). */
  batchTokens?: number;
  /** Longest example in tokens, prompt and completion together (default the model's context). */
  maxLength?: number;
  /** Share of the examples held out for the held-out loss and exact match (default 0.2; 0 = none). */
  validationSplit?: number;
  /** Seeds the adapter's initial values, the split and the order (default 0): the same seed gives the same adapter bytes on WASM. */
  seed?: number;
  signal?: AbortSignal;
  onProgress?: (p: FineTuneProgress) => void;
}

export interface FineTuneProgress {
  step: number;
  steps: number;
  epoch: number;
  trainLoss: number;
  /** Present on the steps where it was measured (every epoch end and the last step). */
  heldOutLoss?: number;
  tokensPerSecond: number;
  etaMs: number;
}

export interface FineTuneReport {
  adapter: string;
  trainLoss: Array<{ step: number; loss: number }>;
  heldOutLoss: Array<{ step: number; loss: number }>;
  /** Greedy completions of the held-out prompts without and with the adapter. */
  heldOut: Array<{ prompt: string; expected: string; before: string; after: string }>;
  /** Share of held-out examples whose greedy completion equals the expected one (trimmed). */
  before: { exactMatch: number };
  after: { exactMatch: number };
  ms: number;
  adapterBytes: number;
}
