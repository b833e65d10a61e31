/**
 * Checks of an OpenAI chat-completions request and its translation into this runtime's generation
 * options: fields it cannot honour and unknown fields are InvalidArgumentErrors that name them.
 */
import { InvalidArgumentError } from '../errors.ts';
import { rejectUnknownKeys } from '../options.ts';
import type { GenerateOptions } from '../types.ts';
import type { ChatCompletionRequest, ChatMessage } from './types.ts';

const ROLES = new Set(['system', 'user', 'assistant']);
const REQUEST_KEYS = ['messages', 'model', 'stream', 'stream_options', 'max_tokens', 'max_completion_tokens', 'temperature', 'top_p', 'seed', 'stop', 'n', 'response_format'];

/** A request as the engine runs it. */
export interface ChatRequest {
  messages: ChatMessage[];
  generate: Omit<GenerateOptions, 'signal'>;
  stream: boolean;
  includeUsage: boolean;
  /** The JSON schema the reply must follow (response_format json_schema). */
  schema: Record<string, unknown> | null;
}

export function parseChatRequest(request: ChatCompletionRequest): ChatRequest {
  if (typeof request !== 'object' || request === null) throw new InvalidArgumentError('the request must be an object with messages');
  rejectUnknownKeys('chat request field', request, REQUEST_KEYS);
  const messages = validateMessages(request.messages);
  const format = request.response_format;
  const stream = request.stream === true;
  return {
    messages,
    generate: chatGenerateOptions(request),
    stream,
    includeUsage: stream && request.stream_options?.include_usage === true,
    schema: format?.type === 'json_schema' ? (format.json_schema.schema ?? {}) : null,
  };
}

export function validateMessages(messages: unknown): ChatMessage[] {
  if (!Array.isArray(messages) || messages.length === 0) throw new InvalidArgumentError('messages must be a non-empty array');
  messages.forEach((m, i) => {
    const role = (m as ChatMessage | null)?.role;
    if (!ROLES.has(role as string)) throw new InvalidArgumentError(`messages[${i}].role must be system, user or assistant; got ${JSON.stringify(role)}`);
    if (typeof (m as ChatMessage).content !== 'string') throw new InvalidArgumentError(`messages[${i}].content must be a string`);
  });
  return messages as ChatMessage[];
}

/** The generation options a request asks for; fields this runtime cannot honour are typed errors. */
function chatGenerateOptions(request: ChatCompletionRequest): Omit<GenerateOptions, 'signal'> {
  if ((request.n ?? 1) !== 1) throw new InvalidArgumentError(`n must be 1; got ${request.n}`);
  const format = request.response_format?.type ?? 'text';
  if (format !== 'text' && format !== 'json_schema') {
    throw new InvalidArgumentError(`response_format "${format}" is not supported; use "text" or "json_schema" (with a schema)`, {
      details: { response_format: format },
    });
  }
  const stop = request.stop ?? [];
  const maxNewTokens = request.max_completion_tokens ?? request.max_tokens;
  return {
    ...(maxNewTokens != null && { maxNewTokens }),
    ...(request.temperature != null && { temperature: request.temperature }),
    ...(request.top_p != null && { topP: request.top_p }),
    ...(request.seed != null && { seed: request.seed }),
    stop: typeof stop === 'string' ? [stop] : stop,
  };
}
