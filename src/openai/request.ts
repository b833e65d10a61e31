/**
 * Checks of an OpenAI chat-completions request and its translation into this runtime's generation
 * options: fields it cannot honour and unknown fields are InvalidArgumentErrors that name them.
 */
import { InvalidArgumentError } from '../errors.ts';
import { rejectUnknownKeys } from '../options.ts';
import type { GenerateOptions } from '../types.ts';
import { hasToolCalls, planTools, validateToolTurn, type ToolPlan } from './tools.ts';
import type { ChatCompletionRequest, ChatRequestMessage } from './types.ts';

const ROLES = new Set(['system', 'user', 'assistant', 'tool']);
const REQUEST_KEYS = [
  'messages', 'model', 'stream', 'stream_options', 'max_tokens', 'max_completion_tokens', 'temperature', 'top_p', 'seed', 'stop', 'n', 'response_format',
  'tools', 'tool_choice', 'parallel_tool_calls', 'adapter',
];

/** A request as the engine runs it. */
export interface ChatRequest {
  messages: ChatRequestMessage[];
  /** The tools offered and how they may be called (null without tools). */
  tools: ToolPlan | null;
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
  const tools = planTools(request.tools, request.tool_choice);
  const format = request.response_format;
  if (tools && tools.mode !== 'none' && format?.type === 'json_schema') {
    throw new InvalidArgumentError('response_format json_schema cannot be combined with tools unless tool_choice is "none"');
  }
  const stream = request.stream === true;
  return {
    messages,
    tools,
    generate: chatGenerateOptions(request),
    stream,
    includeUsage: stream && request.stream_options?.include_usage === true,
    schema: format?.type === 'json_schema' ? (format.json_schema.schema ?? {}) : null,
  };
}

export function validateMessages(messages: unknown): ChatRequestMessage[] {
  if (!Array.isArray(messages) || messages.length === 0) throw new InvalidArgumentError('messages must be a non-empty array');
  const callIds = new Set<string>();
  messages.forEach((m: ChatRequestMessage | null, i) => {
    const role = m?.role;
    if (!ROLES.has(role as string)) throw new InvalidArgumentError(`messages[${i}].role must be system, user, assistant or tool; got ${JSON.stringify(role)}`);
    if (m!.role === 'tool' || hasToolCalls(m!)) return validateToolTurn(m!, i, callIds);
    if (typeof m!.content !== 'string') throw new InvalidArgumentError(`messages[${i}].content must be a string`);
  });
  return messages as ChatRequestMessage[];
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
    ...(request.adapter != null && { adapter: request.adapter }),
    stop: typeof stop === 'string' ? [stop] : stop,
  };
}
