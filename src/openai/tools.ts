/**
 * OpenAI tool calling, the protocol side: checks `tools` / `tool_choice` and the tool turns of a
 * conversation, and writes a generated call in OpenAI's shapes (`message.tool_calls`, streamed
 * `delta.tool_calls`). How a call is prompted and constrained lives in engine/tasks/tool-call.ts.
 */
import { InvalidArgumentError, UnsupportedSchemaError } from '../errors.ts';
import { compileSchema, type Node } from '../engine/tasks/json/schema.ts';
import type { AssistantToolCallMessage, ChatCompletion, ChatCompletionChunk, ChatFinishReason, ChatRequestMessage, ChatTool, ToolCall, ToolCallDelta } from './types.ts';

/** A tool the model may call, with its arguments schema compiled for the constraint. */
export interface CallableTool {
  name: string;
  parameters: Node;
}

/**
 * What a request allows: `none` (the tools are not offered and no call is made), `auto` (text or one
 * call) or `required` (one call; a named tool_choice is `required` with only that tool callable).
 */
export interface ToolPlan {
  mode: 'none' | 'auto' | 'required';
  /** Every tool of the request, as given (the prompt lists them). */
  tools: ChatTool[];
  /** The tools a call may name. */
  callable: CallableTool[];
}

/** OpenAI's rule for function names; it also keeps names free of quotes, so they cannot clash in the call text. */
const NAME = /^[A-Za-z0-9_-]{1,64}$/;
const NO_PARAMETERS = { type: 'object', properties: {} };

/** Checks `tools` and `tool_choice`; null when the request has no tools. Every problem is an InvalidArgumentError naming it. */
export function planTools(tools: unknown, toolChoice: unknown): ToolPlan | null {
  if (tools === undefined || tools === null) {
    if (toolChoice === undefined || toolChoice === null || toolChoice === 'none') return null;
    throw new InvalidArgumentError(`tool_choice ${JSON.stringify(toolChoice)} needs tools; none were given`);
  }
  if (!Array.isArray(tools) || tools.length === 0) throw new InvalidArgumentError('tools must be a non-empty array of { type: "function", function: { name, parameters } }');
  const callable = tools.map((t: unknown, i) => validateTool(t, i));
  const names = callable.map((t) => t.name);
  const repeated = names.find((n, i) => names.indexOf(n) !== i);
  if (repeated !== undefined) throw new InvalidArgumentError(`tools: the name "${repeated}" is used by more than one tool`, { details: { name: repeated } });
  const choice = toolChoice ?? 'auto';
  if (choice === 'none' || choice === 'auto' || choice === 'required') return { mode: choice, tools: tools as ChatTool[], callable };
  const named = (choice as { type?: unknown; function?: { name?: unknown } } | null)?.function?.name;
  if ((choice as { type?: unknown }).type !== 'function' || typeof named !== 'string') {
    throw new InvalidArgumentError(`tool_choice must be "none", "auto", "required" or { type: "function", function: { name } }; got ${JSON.stringify(choice)}`);
  }
  const tool = callable.find((t) => t.name === named);
  if (!tool) throw new InvalidArgumentError(`tool_choice names "${named}", which is not one of the tools (${names.join(', ')})`, { details: { name: named } });
  return { mode: 'required', tools: tools as ChatTool[], callable: [tool] };
}

function validateTool(tool: unknown, i: number): CallableTool {
  const t = tool as Partial<ChatTool> | null;
  if (t?.type !== 'function' || typeof t.function !== 'object' || t.function === null) {
    throw new InvalidArgumentError(`tools[${i}] must be { type: "function", function: { name, parameters } }; got ${JSON.stringify(tool)}`);
  }
  const { name, parameters = NO_PARAMETERS } = t.function;
  if (typeof name !== 'string' || !NAME.test(name)) {
    throw new InvalidArgumentError(`tools[${i}].function.name must be 1 to 64 letters, digits, _ or -; got ${JSON.stringify(name)}`);
  }
  if ((parameters as { type?: unknown } | null)?.type !== 'object') {
    throw new InvalidArgumentError(`tools[${i}] (${name}): parameters must be a JSON Schema of type "object"; got ${JSON.stringify(parameters)}`);
  }
  try {
    return { name, parameters: compileSchema(parameters) };
  } catch (err) {
    if (!(err instanceof UnsupportedSchemaError)) throw err;
    throw new InvalidArgumentError(`tools[${i}] (${name}): parameters use ${err.message}`, { cause: err, details: { tool: name, ...err.details } });
  }
}

/** An assistant turn that made tool calls (a null or missing `tool_calls` is a plain turn). */
export function hasToolCalls(message: ChatRequestMessage): message is AssistantToolCallMessage & { tool_calls: ToolCall[] } {
  return message.role === 'assistant' && (message as AssistantToolCallMessage).tool_calls != null;
}

/**
 * Checks the tool turns of a conversation: an assistant turn's `tool_calls` and each `role: 'tool'`
 * message, whose `tool_call_id` must answer a call made earlier in the conversation.
 */
export function validateToolTurn(message: ChatRequestMessage, i: number, callIds: Set<string>): void {
  if (message.role === 'tool') {
    if (typeof message.content !== 'string') throw new InvalidArgumentError(`messages[${i}].content must be a string`);
    if (!callIds.has(message.tool_call_id)) {
      throw new InvalidArgumentError(`messages[${i}].tool_call_id ${JSON.stringify(message.tool_call_id)} does not answer any earlier tool call`);
    }
    return;
  }
  if (!hasToolCalls(message)) return;
  if (message.content != null && typeof message.content !== 'string') throw new InvalidArgumentError(`messages[${i}].content must be a string or null`);
  if (!Array.isArray(message.tool_calls) || message.tool_calls.length === 0) throw new InvalidArgumentError(`messages[${i}].tool_calls must be a non-empty array`);
  message.tool_calls.forEach((c, j) => {
    const at = `messages[${i}].tool_calls[${j}]`;
    if (c?.type !== 'function' || typeof c.id !== 'string' || typeof c.function?.name !== 'string' || typeof c.function.arguments !== 'string') {
      throw new InvalidArgumentError(`${at} must be { id, type: "function", function: { name, arguments } } with string fields`);
    }
    if (!isJsonObject(c.function.arguments)) throw new InvalidArgumentError(`${at}.function.arguments must be the JSON text of an object; got ${JSON.stringify(c.function.arguments)}`);
    callIds.add(c.id);
  });
}

function isJsonObject(text: string): boolean {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value);
  } catch {
    return false;
  }
}

/** A fresh call id in OpenAI's style. */
export function toolCallId(): string {
  return `call_${crypto.randomUUID().replaceAll('-', '')}`;
}

/** The call as `message.tool_calls[i]`. */
function toolCall(id: string, name: string, args: string): ToolCall {
  return { id, type: 'function', function: { name, arguments: args } };
}

/**
 * Streams one call as OpenAI does: the first delta carries index, id, type, name and empty arguments,
 * the next ones only the argument text added since.
 */
class ToolCallDeltas {
  private started = false;
  private sent = 0;

  constructor(private readonly id: string) {}

  /** The delta for the call so far (`args` grows), or null when nothing new is known. */
  next(name: string | null, args: string): ToolCallDelta | null {
    if (name === null) return null;
    if (!this.started) {
      this.started = true;
      this.sent = args.length;
      return { index: 0, id: this.id, type: 'function', function: { name, arguments: args } };
    }
    if (args.length === this.sent) return null;
    const fresh = args.slice(this.sent);
    this.sent = args.length;
    return { index: 0, function: { arguments: fresh } };
  }
}

/** What the chat layer needs to know of a tool constraint while and after it runs. */
export interface CallProgress {
  /** `undecided` while the reply may still become a call; `text` or `call` once it is known. */
  readonly mode: 'undecided' | 'text' | 'call';
  /** The call so far (name null until complete): only in `call` mode. */
  call(): { name: string | null; arguments: string; complete: boolean } | null;
}

type Delta = ChatCompletionChunk['choices'][number]['delta'];

/**
 * Streamed deltas of a reply that may be a call: text is held back while the reply may still become a
 * call, then sent as content; a call is sent as `delta.tool_calls` (id and name first, then argument text).
 */
export class ToolReplyStream {
  private held = '';
  private readonly calls: ToolCallDeltas;

  constructor(
    private readonly progress: CallProgress,
    id: string,
  ) {
    this.calls = new ToolCallDeltas(id);
  }

  /** Deltas after the model produced `text`. */
  push(text: string): Delta[] {
    switch (this.progress.mode) {
      case 'undecided':
        this.held += text;
        return [];
      case 'text': {
        const content = this.held + text;
        this.held = '';
        return content ? [{ content }] : [];
      }
      case 'call': {
        const call = this.progress.call()!;
        const delta = this.calls.next(call.name, call.arguments);
        return delta ? [{ tool_calls: [delta] }] : [];
      }
    }
  }

  /** The deltas still due when generation has ended. */
  finish(): Delta[] {
    return this.progress.mode === 'call' ? this.push('') : this.held ? [{ content: this.held }] : [];
  }
}

/** The reply message and finish reason: a call when the model made one (`progress` says), else its text. */
export function replyMessage(
  text: string,
  finish: 'stop' | 'length',
  progress: CallProgress | null,
  id: string,
): { message: ChatCompletion['choices'][number]['message']; finish_reason: ChatFinishReason } {
  const call = progress?.mode === 'call' ? progress.call() : null;
  if (!call) return { message: { role: 'assistant', content: text, refusal: null }, finish_reason: finish };
  // A call cut off by max_tokens still shows what was generated, as OpenAI does; its finish reason says so.
  const tool_calls = call.name === null ? [] : [toolCall(id, call.name, call.arguments)];
  return { message: { role: 'assistant', content: null, refusal: null, ...(tool_calls.length && { tool_calls }) }, finish_reason: call.complete ? 'tool_calls' : 'length' };
}
