/**
 * The OpenAI chat-completions protocol as this runtime speaks it: the request fields it honours and
 * the response and stream-chunk shapes it returns, mirroring the published API (tests check them
 * against the official `openai` package's types).
 */
export type ChatRole = 'system' | 'user' | 'assistant';

/** A plain text turn: what every chat prompt is finally written from. */
export interface ChatMessage {
  role: ChatRole;
  content: string;
}

/** A call the model made, as returned in `message.tool_calls` and sent back in the conversation. */
export interface ToolCall {
  id: string;
  type: 'function';
  /** `arguments` is the JSON text of the arguments object. */
  function: { name: string; arguments: string };
}

/** An assistant turn that called tools (its content may be empty); a reply's message can be sent back as it is. */
export interface AssistantToolCallMessage {
  role: 'assistant';
  content?: string | null;
  tool_calls?: ToolCall[];
  refusal?: string | null;
}

/** The result of a tool call, sent back to the model. */
export interface ToolMessage {
  role: 'tool';
  content: string;
  tool_call_id: string;
}

export type ChatRequestMessage = ChatMessage | AssistantToolCallMessage | ToolMessage;

/** A function the model may call; `parameters` is a JSON Schema of its arguments object. */
export interface ChatTool {
  type: 'function';
  function: { name: string; description?: string; parameters?: Record<string, unknown>; strict?: boolean | null };
}

export type ChatToolChoice = 'none' | 'auto' | 'required' | { type: 'function'; function: { name: string } };

export interface ChatCompletionRequest {
  messages: ChatRequestMessage[];
  /** Informational: the handle answering is what counts. */
  model?: string;
  stream?: boolean;
  stream_options?: { include_usage?: boolean } | null;
  max_tokens?: number | null;
  max_completion_tokens?: number | null;
  temperature?: number | null;
  top_p?: number | null;
  seed?: number | null;
  stop?: string | string[] | null;
  n?: number | null;
  tools?: ChatTool[];
  /** Default `auto` with tools, `none` without. */
  tool_choice?: ChatToolChoice;
  /** Accepted for compatibility: a reply holds at most one call either way. */
  parallel_tool_calls?: boolean;
  /** Not OpenAI's: a LoRA adapter of this model (fineTune's `name`) to answer with. */
  adapter?: string;
  response_format?: { type: 'text' } | { type: 'json_object' } | { type: 'json_schema'; json_schema: { name: string; schema?: Record<string, unknown>; strict?: boolean | null } };
}

export type ChatFinishReason = 'stop' | 'length' | 'tool_calls';

export interface CompletionUsage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}

export interface ChatCompletion {
  id: string;
  object: 'chat.completion';
  created: number;
  model: string;
  choices: Array<{
    index: number;
    /** With a tool call, `content` is null and `tool_calls` holds it. */
    message: { role: 'assistant'; content: string | null; refusal: null; tool_calls?: ToolCall[] };
    finish_reason: ChatFinishReason;
    logprobs: null;
  }>;
  usage: CompletionUsage;
}

export interface ChatCompletionChunk {
  id: string;
  object: 'chat.completion.chunk';
  created: number;
  model: string;
  choices: Array<{
    index: number;
    delta: { role?: 'assistant'; content?: string | null; tool_calls?: ToolCallDelta[] };
    finish_reason: ChatFinishReason | null;
    logprobs: null;
  }>;
  /** Only on the last chunk, and only with stream_options.include_usage (null on the others then). */
  usage?: CompletionUsage | null;
}

/** A piece of a streamed tool call: the first has its id, type and name, the next ones argument text. */
export interface ToolCallDelta {
  index: number;
  id?: string;
  type?: 'function';
  function?: { name?: string; arguments?: string };
}
