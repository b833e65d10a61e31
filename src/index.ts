/** Public API of the browser SLM runtime. */
export { SlmClient, ModelHandle, type GenerationStream, type ClientOptions } from './client/client.ts';
export { Engine, type SkillDefinition } from './engine/engine.ts';
export type { EngineApi, RequestOptions } from './engine/api.ts';
export type { SearchHit } from './search/document-store.ts';
export { canonicalJson, type SealedSkill, type Skill, type SkillTask } from './skills/skill.ts';
export { defaultEnv, type RuntimeEnv } from './env.ts';
export * from './errors.ts';
export type * from './types.ts';
export type { CachedModel, CacheConfig } from './storage/weight-cache.ts';
export type * from './openai/types.ts';
export { defaultChatPrompt } from './engine/tasks/chat.ts';
export { extractionPrompt } from './engine/tasks/extract.ts';
export { zeroShotPrompt, type ClassifierHead, type TrainingReport, type TrainOptions, type TrainProgress } from './engine/tasks/classify.ts';
export type { FineTuneExample, FineTuneOptions, FineTuneProgress, FineTuneReport, LoraTarget } from './training/fine-tune.ts';
