/**
 * Compile-time conformance with the official `openai` package (checked by `tsc --noEmit`, part of
 * `npm test`): what we return is assignable to its published response types, and a request written
 * for its API with the fields we support is accepted by ours.
 */
import type OpenAI from 'openai';
import type { ChatCompletion, ChatCompletionChunk, ChatCompletionRequest } from '../../src/openai/types.ts';

export const completionConforms = (c: ChatCompletion): OpenAI.Chat.ChatCompletion => c;
export const chunkConforms = (c: ChatCompletionChunk): OpenAI.Chat.ChatCompletionChunk => c;
export const requestConforms = (r: ChatCompletionRequest): OpenAI.Chat.ChatCompletionCreateParams => ({ ...r, model: r.model ?? 'local' });
export const openAiRequestAccepted = (r: Pick<OpenAI.Chat.ChatCompletionCreateParamsNonStreaming, 'max_tokens' | 'temperature' | 'top_p' | 'seed' | 'stop'> & { messages: Array<{ role: 'user' | 'system' | 'assistant'; content: string }> }): ChatCompletionRequest => r;
