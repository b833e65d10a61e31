/**
 * How tools and tool turns reach the prompt. A chat template that writes Hermes-style `<tool_call>`
 * calls itself (Qwen, Hermes: found by rendering it with a probe tool) gets the tools and the turns as
 * they are. Every other model gets the documented default: a tool section in the system message
 * (`toolSection`), earlier calls written as call text in the assistant turns, and tool results as user
 * turns in `<tool_response>` tags; the conversation is then plain text turns for its template or for
 * the default chat prompt.
 */
import type { PreTrainedTokenizer } from '@huggingface/transformers';
import { hasToolCalls, type ToolPlan } from '../../openai/tools.ts';
import type { ChatMessage, ChatRequestMessage, ChatTool } from '../../openai/types.ts';
import { CALL_START, callText } from './tool-call.ts';

const PROBE = 'probe_tool_5c1e';
const templateSupport = new WeakMap<PreTrainedTokenizer, boolean>();

/** True when the tokenizer's chat template lists tools and asks for `<tool_call>` calls. */
export function templateCallsTools(tokenizer: PreTrainedTokenizer): boolean {
  let supported = templateSupport.get(tokenizer);
  if (supported === undefined) {
    const probe: ChatTool = { type: 'function', function: { name: PROBE, description: 'probe', parameters: { type: 'object', properties: {} } } };
    try {
      const text = tokenizer.apply_chat_template([{ role: 'user', content: 'hi' }], { tools: [probe], tokenize: false, add_generation_prompt: true }) as string;
      supported = text.includes(PROBE) && text.includes(CALL_START);
    } catch {
      supported = false; // a template that rejects the probe does not take tools
    }
    templateSupport.set(tokenizer, supported);
  }
  return supported;
}

/** The tools offered in the prompt: none when tool_choice is 'none'. */
export function offeredTools(plan: ToolPlan | null): ChatTool[] {
  return plan && plan.mode !== 'none' ? plan.tools : [];
}

/** The conversation for a template that handles tools: arguments as objects, as such templates expect. */
export function templateMessages(messages: ChatRequestMessage[]): Array<Record<string, unknown>> {
  return messages.map((m) =>
    hasToolCalls(m)
      ? { role: 'assistant', content: m.content ?? '', tool_calls: m.tool_calls.map((c) => ({ type: 'function', id: c.id, function: { name: c.function.name, arguments: JSON.parse(c.function.arguments) as unknown } })) }
      : { ...m },
  );
}

/**
 * The default tool section, added to the system message (short, for small context windows):
 *
 *     Tools (name, description, JSON Schema of the arguments):
 *     {"name":"get_weather","description":"…","parameters":{…}}
 *     To call one, answer with only:
 *     <tool_call>
 *     {"name": "<tool name>", "arguments": {…}}
 *     </tool_call>
 */
function toolSection(tools: ChatTool[]): string {
  const lines = tools.map(({ function: f }) => JSON.stringify({ name: f.name, ...(f.description && { description: f.description }), parameters: f.parameters ?? { type: 'object', properties: {} } }));
  return ['Tools (name, description, JSON Schema of the arguments):', ...lines, 'To call one, answer with only:', callText('<tool name>', '{…}')].join('\n');
}

/**
 * The conversation as plain text turns (the default format): tool section, calls as text, results as
 * user turns. Results and a user message right after them form one user turn, so templates that
 * require user and assistant turns to alternate (Gemma's) accept the conversation.
 */
export function plainMessages(messages: ChatRequestMessage[], tools: ChatTool[]): ChatMessage[] {
  const out: ChatMessage[] = [];
  let results: ChatMessage | null = null;
  for (const m of messages) {
    if (m.role === 'tool' || (m.role === 'user' && results)) {
      const text = m.role === 'tool' ? `<tool_response>\n${m.content}\n</tool_response>` : m.content;
      if (results) results.content += `\n${text}`;
      else out.push((results = { role: 'user', content: text }));
      continue;
    }
    results = null;
    if (hasToolCalls(m)) {
      const calls = m.tool_calls.map((c) => callText(c.function.name, c.function.arguments));
      out.push({ role: 'assistant', content: [...(m.content ? [m.content] : []), ...calls].join('\n') });
    } else out.push({ role: m.role, content: m.content ?? '' }); // validated: a string
  }
  if (tools.length) {
    const section = toolSection(tools);
    if (out[0]?.role === 'system') out[0].content = `${out[0].content}\n\n${section}`;
    else out.unshift({ role: 'system', content: section });
  }
  return out;
}
