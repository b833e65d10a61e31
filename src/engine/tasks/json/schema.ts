/**
 * The JSON Schema subset constrained decoding supports, compiled to a small tree. Anything else is an
 * UnsupportedSchemaError naming the keywords. Unbounded lengths get finite defaults so that every
 * output ends within a known number of bytes.
 */
import { UnsupportedSchemaError } from '../../../errors.ts';
import { FORMATS, Pattern, PatternError } from './pattern.ts';

export type Node =
  | { kind: 'object'; properties: Array<{ name: string; node: Node; required: boolean }> }
  | { kind: 'array'; items: Node; minItems: number; maxItems: number }
  | { kind: 'string'; minLength: number; maxLength: number; enum: string[] | null; pattern: Pattern | null }
  | { kind: 'number'; integer: boolean; minimum: number | null; maximum: number | null }
  | { kind: 'literal'; values: string[] } // booleans, null, const, and enums of non-strings, as JSON text
  | { kind: 'union'; options: Node[] }; // anyOf, oneOf, type lists

/** Caps for unbounded schemas: outputs stay short and always finish. */
export const LIMITS = { maxLength: 48, maxItems: 6, numberDigits: 10 };

/** Keywords that only annotate: allowed anywhere, ignored. */
const ANNOTATIONS = ['title', 'description', '$schema', '$id', '$comment', '$defs', 'definitions', 'default', 'examples'];
const ALLOWED: Record<string, string[]> = {
  object: ['type', 'properties', 'required', 'additionalProperties'],
  array: ['type', 'items', 'minItems', 'maxItems'],
  string: ['type', 'enum', 'maxLength', 'minLength', 'pattern', 'format'],
  number: ['type', 'minimum', 'maximum'],
  integer: ['type', 'minimum', 'maximum'],
  boolean: ['type'],
  null: ['type'],
  enum: ['enum'],
  const: ['const'],
};
/** Keywords that stand alone (with annotations only) and what they compile to. */
const COMBINERS = ['anyOf', 'oneOf', '$ref'];

interface Context {
  root: Record<string, unknown>;
  unsupported: string[];
  /** $refs being expanded, to name recursive ones. */
  resolving: string[];
}

export function compileSchema(schema: unknown): Node {
  const ctx: Context = { root: (schema ?? {}) as Record<string, unknown>, unsupported: [], resolving: ['#'] };
  const node = compile(schema, '#', ctx);
  if (ctx.unsupported.length) {
    throw new UnsupportedSchemaError(`unsupported JSON Schema keywords: ${ctx.unsupported.join(', ')}`, { details: { keywords: ctx.unsupported } });
  }
  return node;
}

const NULL: Node = { kind: 'literal', values: ['null'] };

function compile(schema: unknown, path: string, ctx: Context): Node {
  const { unsupported } = ctx;
  if (typeof schema !== 'object' || schema === null || Array.isArray(schema)) {
    unsupported.push(`${path} (a schema must be an object)`);
    return NULL;
  }
  const s = schema as Record<string, unknown>;
  const combiner = COMBINERS.find((k) => k in s);
  if (combiner) {
    for (const key of Object.keys(s)) if (key !== combiner && !ANNOTATIONS.includes(key)) unsupported.push(`${path}/${key} (next to ${combiner})`);
    return combiner === '$ref' ? ref(s.$ref, path, ctx) : union(s[combiner], `${path}/${combiner}`, ctx, combiner === 'oneOf');
  }
  if (Array.isArray(s.type)) {
    // A list of types (["string", "null"]): one alternative per type with the other keywords.
    // Each alternative keeps the keywords for its type; a keyword no listed type takes is reported.
    const types = s.type.map(String);
    for (const key of Object.keys(s)) if (!ANNOTATIONS.includes(key) && !types.some((t) => ALLOWED[t]?.includes(key))) unsupported.push(`${path}/${key}`);
    const options = types.map((t, i) => compile(Object.fromEntries(Object.entries(s).filter(([k]) => k !== 'type' && ALLOWED[t]?.includes(k)).concat([['type', t]])), `${path}/type/${i}`, ctx));
    return options.length ? flatten(options) : (unsupported.push(`${path}/type [] (empty)`), NULL);
  }
  const type = s.type ?? ('const' in s ? 'const' : Array.isArray(s.enum) ? 'enum' : undefined);
  if (typeof type !== 'string' || !ALLOWED[type]) {
    unsupported.push(`${path}/type ${JSON.stringify(s.type ?? null)}${s.type === undefined ? ' (type, enum, const, anyOf, oneOf or $ref is required)' : ''}`);
    return NULL;
  }
  for (const key of Object.keys(s)) if (!ALLOWED[type]!.includes(key) && !ANNOTATIONS.includes(key)) unsupported.push(`${path}/${key}`);
  switch (type) {
    case 'object': {
      if (s.additionalProperties !== undefined && s.additionalProperties !== false) unsupported.push(`${path}/additionalProperties (only false)`);
      const props = (s.properties ?? {}) as Record<string, unknown>;
      const required = new Set(Array.isArray(s.required) ? (s.required as string[]) : []);
      for (const r of required) if (!(r in props)) unsupported.push(`${path}/required "${r}" (not in properties)`);
      return {
        kind: 'object',
        properties: Object.entries(props).map(([name, sub]) => ({ name, node: compile(sub, `${path}/properties/${name}`, ctx), required: required.has(name) })),
      };
    }
    case 'array': {
      const minItems = Number(s.minItems ?? 0);
      const maxItems = Math.min(Number(s.maxItems ?? Math.max(minItems, LIMITS.maxItems)), Math.max(minItems, 64));
      if (!Number.isInteger(minItems) || !Number.isInteger(maxItems) || minItems > maxItems) unsupported.push(`${path}/minItems..maxItems`);
      return { kind: 'array', items: compile(s.items ?? {}, `${path}/items`, ctx), minItems, maxItems };
    }
    case 'string':
      return string(s, path, unsupported);
    case 'number':
    case 'integer': {
      const bound = (k: 'minimum' | 'maximum'): number | null => {
        if (s[k] === undefined) return null;
        if (typeof s[k] !== 'number' || !Number.isFinite(s[k])) unsupported.push(`${path}/${k} (a finite number)`);
        return Number(s[k]);
      };
      const minimum = bound('minimum');
      const maximum = bound('maximum');
      const integer = type === 'integer';
      if (minimum !== null && maximum !== null && (integer ? Math.ceil(minimum) > Math.floor(maximum) : minimum > maximum)) unsupported.push(`${path}/minimum..maximum (empty)`);
      return { kind: 'number', integer, minimum, maximum };
    }
    case 'boolean':
      return { kind: 'literal', values: ['true', 'false'] };
    case 'null':
      return NULL;
    case 'const':
      return { kind: 'literal', values: [JSON.stringify(s.const)] };
    default: {
      const values = s.enum as unknown[];
      if (values.every((v) => typeof v === 'string')) return compile({ type: 'string', enum: values }, path, ctx);
      return { kind: 'literal', values: values.map((v) => JSON.stringify(v)) };
    }
  }
}

function string(s: Record<string, unknown>, path: string, unsupported: string[]): Node {
  const values = s.enum === undefined ? null : (s.enum as unknown[]);
  if (values && !values.every((v) => typeof v === 'string' && !/["\\\u0000-\u001f]/.test(v))) unsupported.push(`${path}/enum (strings without quotes, backslashes or control characters)`);
  const minLength = Number(s.minLength ?? 0);
  const maxLength = Number(s.maxLength ?? Math.max(minLength, LIMITS.maxLength));
  if (!Number.isInteger(minLength) || !Number.isInteger(maxLength) || minLength < 0 || minLength > maxLength) unsupported.push(`${path}/minLength..maxLength`);
  let source: string | null = null;
  if (s.format !== undefined) {
    source = FORMATS[String(s.format)] ?? null;
    if (!source) unsupported.push(`${path}/format ${JSON.stringify(s.format)} (only ${Object.keys(FORMATS).join(', ')})`);
  }
  if (s.pattern !== undefined) {
    if (source) unsupported.push(`${path}/pattern (next to format)`);
    else if (typeof s.pattern === 'string') source = s.pattern;
    else unsupported.push(`${path}/pattern (a string)`);
  }
  let pattern: Pattern | null = null;
  if (source !== null && values) unsupported.push(`${path}/pattern (next to enum)`);
  else if (source !== null) {
    const keyword = s.format !== undefined ? 'format' : 'pattern';
    try {
      pattern = new Pattern(source, Math.min(maxLength, 256));
      if (!pattern.finishable(pattern.start, minLength, maxLength)) unsupported.push(`${path}/${keyword} (no match of ${minLength} to ${maxLength} printable ASCII characters)`);
    } catch (e) {
      if (!(e instanceof PatternError)) throw e;
      unsupported.push(`${path}/${keyword} (${e.message})`);
    }
  }
  return { kind: 'string', minLength, maxLength, enum: values as string[] | null, pattern };
}

/** A local reference ("#", "#/$defs/x", "#/definitions/x"), expanded in place; recursion is not supported. */
function ref(target: unknown, path: string, ctx: Context): Node {
  if (typeof target !== 'string' || !target.startsWith('#')) {
    ctx.unsupported.push(`${path}/$ref ${JSON.stringify(target)} (only local references, "#/$defs/…")`);
    return NULL;
  }
  if (ctx.resolving.includes(target)) {
    ctx.unsupported.push(`${path}/$ref ${JSON.stringify(target)} (recursive)`);
    return NULL;
  }
  let at: unknown = ctx.root;
  for (const part of target.slice(1).split('/').filter(Boolean)) {
    const key = decodeURIComponent(part).replaceAll('~1', '/').replaceAll('~0', '~');
    at = typeof at === 'object' && at !== null ? (at as Record<string, unknown>)[key] : undefined;
  }
  if (at === undefined) {
    ctx.unsupported.push(`${path}/$ref ${JSON.stringify(target)} (not found)`);
    return NULL;
  }
  ctx.resolving.push(target);
  const node = compile(at, path, ctx);
  ctx.resolving.pop();
  return node;
}

function union(list: unknown, path: string, ctx: Context, exclusive: boolean): Node {
  if (!Array.isArray(list) || list.length === 0) {
    ctx.unsupported.push(`${path} (a non-empty array of schemas)`);
    return NULL;
  }
  const options = list.map((sub, i) => compile(sub, `${path}/${i}`, ctx));
  if (exclusive) {
    // oneOf needs exactly one match; decoding cannot count matches, so the alternatives must be disjoint.
    for (let i = 0; i < options.length; i++) {
      for (let j = i + 1; j < options.length; j++) {
        if (!disjoint(options[i]!, options[j]!)) ctx.unsupported.push(`${path} (alternatives ${i} and ${j} may both match; use anyOf)`);
      }
    }
  }
  return flatten(options);
}

function flatten(options: Node[]): Node {
  const flat = options.flatMap((o) => (o.kind === 'union' ? o.options : [o]));
  return flat.length === 1 ? flat[0]! : { kind: 'union', options: flat };
}

/** First bytes a value of the node can start with. */
function firstBytes(n: Node): Set<string> {
  switch (n.kind) {
    case 'object':
      return new Set('{');
    case 'array':
      return new Set('[');
    case 'string':
      return new Set('"');
    case 'number':
      return new Set('-0123456789');
    case 'literal':
      return new Set(n.values.map((v) => v[0]!));
    case 'union':
      return new Set(n.options.flatMap((o) => [...firstBytes(o)]));
  }
}

/** True only when no JSON value can match both nodes (false when unsure). */
export function disjoint(a: Node, b: Node): boolean {
  if (a.kind === 'union') return a.options.every((o) => disjoint(o, b));
  if (b.kind === 'union') return disjoint(b, a);
  const fa = firstBytes(a);
  if (![...firstBytes(b)].some((c) => fa.has(c))) return true;
  if (a.kind === 'literal' && b.kind === 'literal') return !a.values.some((v) => b.values.includes(v));
  if (a.kind === 'string' && b.kind === 'string') return !!a.enum && !!b.enum && !a.enum.some((v) => b.enum!.includes(v));
  if (a.kind === 'literal' && b.kind === 'string') return disjoint(b, a);
  if (a.kind === 'string' && b.kind === 'literal' && a.enum) return !b.values.some((v) => a.enum!.some((e) => JSON.stringify(e) === v));
  if (a.kind === 'number' && b.kind === 'number') {
    const [lo, hi] = [Math.max(a.minimum ?? -Infinity, b.minimum ?? -Infinity), Math.min(a.maximum ?? Infinity, b.maximum ?? Infinity)];
    return lo > hi;
  }
  if (a.kind === 'object' && b.kind === 'object') {
    // A value valid for both has only properties named by both, including every required one...
    const names = new Set(a.properties.map((p) => p.name).filter((name) => b.properties.some((p) => p.name === name)));
    if ([...a.properties, ...b.properties].some((p) => p.required && !names.has(p.name))) return true;
    // ...and no property required by both whose schemas exclude each other (a "kind" const, say).
    return a.properties.some((p) => p.required && b.properties.some((q) => q.name === p.name && q.required && disjoint(p.node, q.node)));
  }
  return false;
}
