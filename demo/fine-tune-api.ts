/**
 * The fine-tuning API agreed with the engine side (issue #14), until its types land in src/index.ts:
 * then this file goes and the demo imports them from there.
 */
import type { ChatMessage, ModelHandle, SkillTask } from '../src/index.ts';

export type { ChatMessage };
export type FineTuneExample = { prompt: string; completion: string } | { messages: ChatMessage[] };
export type LoraTarget = 'q' | 'k' | 'v' | 'o' | 'gate' | 'up' | 'down';
export interface FineTuneProgress {
  step: number;
  steps: number;
  epoch: number;
  trainLoss: number;
  heldOutLoss?: number;
  tokensPerSecond: number;
  etaMs: number;
}
export interface FineTuneOptions {
  name: string;
  rank?: number;
  alpha?: number;
  targets?: LoraTarget[];
  layers?: number;
  epochs?: number;
  steps?: number;
  learningRate?: number;
  batchTokens?: number;
  maxLength?: number;
  validationSplit?: number;
  seed?: number;
  signal?: AbortSignal;
  onProgress?: (p: FineTuneProgress) => void;
}
export interface FineTuneReport {
  adapter: string;
  trainLoss: Array<{ step: number; loss: number }>;
  heldOutLoss: Array<{ step: number; loss: number }>;
  heldOut: Array<{ prompt: string; expected: string; before: string; after: string }>;
  before: { exactMatch: number };
  after: { exactMatch: number };
  ms: number;
  adapterBytes: number;
}
export type FineTunable = ModelHandle & { fineTune(examples: FineTuneExample[], options: FineTuneOptions): Promise<FineTuneReport> };
/** The skill task of an adapter (`{ kind: 'adapter', adapter }`), not yet in SkillTask's union. */
export const adapterTask = (adapter: string): SkillTask => ({ kind: 'adapter', adapter }) as unknown as SkillTask;
