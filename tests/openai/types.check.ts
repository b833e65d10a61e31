/**
 * Compile-time conformance with the official `openai` package (checked by `tsc --noEmit`, part of
 * `npm test`): what we return is assignable to its published response types, and a request written
 * for its API with the fields we support is accepted by ours.
 */
import type OpenAI from 'openai';
import type { ChatCompletion, ChatCompletionChunk, ChatCompletionRequest, ChatRequestMessage, ToolCall, ToolCallDelta } from '../../src/openai/types.ts';

export const completionConforms = (c: ChatCompletion): OpenAI.Chat.ChatCompletion => c;
export const chunkConforms = (c: ChatCompletionChunk): OpenAI.Chat.ChatCompletionChunk => c;
export const requestConforms = (r: ChatCompletionRequest): OpenAI.Chat.ChatCompletionCreateParams => ({ ...r, model: r.model ?? 'local' });
export const openAiRequestAccepted = (r: Pick<OpenAI.Chat.ChatCompletionCreateParamsNonStreaming, 'max_tokens' | 'temperature' | 'top_p' | 'seed' | 'stop'> & { messages: Array<{ role: 'user' | 'system' | 'assistant'; content: string }> }): ChatCompletionRequest => r;
/** A tool-calling request written for OpenAI (function tools, their tool_choice values, tool turns with text content) is accepted by ours. */
export const openAiToolRequestAccepted = (
  r: Pick<OpenAI.Chat.ChatCompletionCreateParamsNonStreaming, 'parallel_tool_calls'> & {
    tools: OpenAI.Chat.ChatCompletionFunctionTool[];
    tool_choice: 'none' | 'auto' | 'required' | OpenAI.Chat.ChatCompletionNamedToolChoice;
    messages: Array<
      | { role: 'user' | 'system'; content: string }
      | (OpenAI.Chat.ChatCompletionAssistantMessageParam & { content?: string | null; tool_calls: OpenAI.Chat.ChatCompletionMessageFunctionToolCall[] })
      | (OpenAI.Chat.ChatCompletionToolMessageParam & { content: string })
    >;
  },
): ChatCompletionRequest => r;
/** Our streamed tool-call pieces are OpenAI's. */
export const toolCallDeltaConforms = (d: ToolCallDelta): OpenAI.Chat.ChatCompletionChunk.Choice.Delta.ToolCall => d;
/** Our calls are OpenAI's function tool calls. */
export const toolCallConforms = (c: ToolCall): OpenAI.Chat.ChatCompletionMessageFunctionToolCall => c;
/** A reply's message can be sent back in the next request as it is (as with OpenAI's SDK). */
export const replyMessageSentBack = (c: ChatCompletion): ChatRequestMessage => c.choices[0]!.message;
