/**
 * The JSON Schema subset constrained decoding supports, compiled to a small tree. Anything else is an
 * UnsupportedSchemaError naming the keywords. Unbounded lengths get finite defaults so that every
 * output ends within a known number of bytes.
 */
import { UnsupportedSchemaError } from '../../../errors.ts';

export type Node =
  | { kind: 'object'; properties: Array<{ name: string; node: Node; required: boolean }> }
  | { kind: 'array'; items: Node; minItems: number; maxItems: number }
  | { kind: 'string'; minLength: number; maxLength: number; enum: string[] | null }
  | { kind: 'number'; integer: boolean }
  | { kind: 'literal'; values: string[] }; // booleans, null, and enums of non-strings, as JSON text

/** Caps for unbounded schemas: outputs stay short and always finish. */
export const LIMITS = { maxLength: 48, maxItems: 6, numberDigits: 10 };

const ALLOWED: Record<string, string[]> = {
  object: ['type', 'properties', 'required', 'additionalProperties', 'title', 'description'],
  array: ['type', 'items', 'minItems', 'maxItems', 'title', 'description'],
  string: ['type', 'enum', 'maxLength', 'minLength', 'title', 'description'],
  number: ['type', 'title', 'description'],
  integer: ['type', 'title', 'description'],
  boolean: ['type', 'title', 'description'],
  null: ['type', 'title', 'description'],
  enum: ['enum', 'title', 'description'],
};

export function compileSchema(schema: unknown): Node {
  const unsupported: string[] = [];
  const node = compile(schema, '#', unsupported);
  if (unsupported.length) {
    throw new UnsupportedSchemaError(`unsupported JSON Schema keywords: ${unsupported.join(', ')}`, { details: { keywords: unsupported } });
  }
  return node;
}

function compile(schema: unknown, path: string, unsupported: string[]): Node {
  if (typeof schema !== 'object' || schema === null || Array.isArray(schema)) {
    unsupported.push(`${path} (a schema must be an object)`);
    return { kind: 'literal', values: ['null'] };
  }
  const s = schema as Record<string, unknown>;
  const type = s.type ?? (Array.isArray(s.enum) ? 'enum' : undefined);
  if (typeof type !== 'string' || !ALLOWED[type]) {
    unsupported.push(`${path}/type ${JSON.stringify(s.type ?? null)}${s.type === undefined ? ' (type or enum is required)' : ''}`);
    return { kind: 'literal', values: ['null'] };
  }
  for (const key of Object.keys(s)) if (!ALLOWED[type]!.includes(key)) unsupported.push(`${path}/${key}`);
  switch (type) {
    case 'object': {
      if (s.additionalProperties !== undefined && s.additionalProperties !== false) unsupported.push(`${path}/additionalProperties (only false)`);
      const props = (s.properties ?? {}) as Record<string, unknown>;
      const required = new Set(Array.isArray(s.required) ? (s.required as string[]) : []);
      for (const r of required) if (!(r in props)) unsupported.push(`${path}/required "${r}" (not in properties)`);
      return {
        kind: 'object',
        properties: Object.entries(props).map(([name, sub]) => ({ name, node: compile(sub, `${path}/properties/${name}`, unsupported), required: required.has(name) })),
      };
    }
    case 'array': {
      const minItems = Number(s.minItems ?? 0);
      const maxItems = Math.min(Number(s.maxItems ?? Math.max(minItems, LIMITS.maxItems)), Math.max(minItems, 64));
      if (!Number.isInteger(minItems) || !Number.isInteger(maxItems) || minItems > maxItems) unsupported.push(`${path}/minItems..maxItems`);
      return { kind: 'array', items: compile(s.items ?? {}, `${path}/items`, unsupported), minItems, maxItems };
    }
    case 'string': {
      const values = s.enum === undefined ? null : (s.enum as unknown[]);
      if (values && !values.every((v) => typeof v === 'string' && !/["\\\u0000-\u001f]/.test(v))) unsupported.push(`${path}/enum (strings without quotes, backslashes or control characters)`);
      const minLength = Number(s.minLength ?? 0);
      const maxLength = Number(s.maxLength ?? Math.max(minLength, LIMITS.maxLength));
      return { kind: 'string', minLength, maxLength, enum: values as string[] | null };
    }
    case 'number':
    case 'integer':
      return { kind: 'number', integer: type === 'integer' };
    case 'boolean':
      return { kind: 'literal', values: ['true', 'false'] };
    case 'null':
      return { kind: 'literal', values: ['null'] };
    default: {
      const values = s.enum as unknown[];
      if (values.every((v) => typeof v === 'string')) return compile({ type: 'string', enum: values }, path, unsupported);
      return { kind: 'literal', values: values.map((v) => JSON.stringify(v)) };
    }
  }
}
