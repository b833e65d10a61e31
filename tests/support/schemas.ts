/** Seeded random JSON Schemas within the supported subset, for property tests of constrained decoding. */
import Ajv from 'ajv';
import addFormats from 'ajv-formats';
import { mulberry32 } from '../../src/util/random.ts';

export { mulberry32 };

const NAMES = ['name', 'age', 'color', 'pet', 'happy', 'toys', 'friend', 'place', 'count', 'mood', 'size', 'a', 'ab'];

/** An independent validator for outputs: ajv with the `format`s of ajv-formats. */
export function validator(): Ajv {
  const ajv = new Ajv({ strict: false });
  addFormats(ajv);
  return ajv;
}

export function randomSchema(rand: () => number, depth = 0): Record<string, unknown> {
  const pick = <T>(xs: T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const leaves = ['string', 'number', 'integer', 'boolean', 'null', 'enum', 'const', 'bounded', 'pattern', 'format', 'nullable'];
  const inner = ['object', 'array', 'string', 'number', 'integer', 'boolean', 'enum', 'object', 'anyOf', 'oneOf', 'bounded', 'pattern', 'nullable'];
  // "#/$defs/…" points into the root schema, so only the root defines them.
  const kinds = depth >= 2 ? leaves : depth === 0 ? [...inner, 'ref'] : inner;
  switch (pick(kinds)) {
    case 'object': {
      const names = [...NAMES].sort(() => rand() - 0.5).slice(0, 1 + Math.floor(rand() * 4));
      const properties = Object.fromEntries(names.map((n) => [n, randomSchema(rand, depth + 1)]));
      return { type: 'object', properties, required: names.filter(() => rand() < 0.6), additionalProperties: false };
    }
    case 'array': {
      const minItems = Math.floor(rand() * 2);
      return { type: 'array', items: randomSchema(rand, depth + 1), minItems, maxItems: minItems + Math.floor(rand() * 3) };
    }
    case 'string':
      return rand() < 0.5 ? { type: 'string', maxLength: 1 + Math.floor(rand() * 12) } : { type: 'string', enum: ['red', 'blue', 'big red', 'Lily', 'café'].slice(0, 2 + Math.floor(rand() * 3)) };
    case 'enum':
      return { enum: [1, 10, 'one', true, null].slice(0, 2 + Math.floor(rand() * 3)) };
    case 'const':
      return { const: pick(['Lily', 3, { kind: 'dog' }, [1, 'a'], false]) };
    case 'bounded': {
      const minimum = pick([-20, -1.5, 0, 3, 100]);
      return { type: Number.isInteger(minimum) ? pick(['number', 'integer']) : 'number', minimum, maximum: minimum + pick([0, 1, 7, 250.5]) };
    }
    case 'pattern':
      return { type: 'string', pattern: pick(['^[A-Z][a-z]+$', '^\\d{3}-\\d{4}$', '^(red|blue)( ball)?$', 'ab', '^[a-c]{2,4}x?$']) };
    case 'format':
      return { type: 'string', format: pick(['date', 'email', 'uuid']) };
    case 'nullable':
      return rand() < 0.5 ? { type: ['string', 'null'], maxLength: 6 } : { type: [pick(['integer', 'boolean']), 'null'] };
    case 'anyOf':
      return { anyOf: [randomSchema(rand, depth + 1), randomSchema(rand, depth + 1)] };
    case 'oneOf':
      // Disjoint by construction: objects told apart by a required "kind" const.
      return {
        oneOf: ['cat', 'dog'].map((kind) => ({ type: 'object', properties: { kind: { const: kind }, value: randomSchema(rand, depth + 1) }, required: ['kind'], additionalProperties: false })),
      };
    case 'ref':
      return { $defs: { item: randomSchema(rand, depth + 1) }, type: 'array', items: { $ref: '#/$defs/item' }, maxItems: 2 };
    default:
      return { type: pick(['number', 'integer', 'boolean', 'null']) };
  }
}

const TOOL_NAMES = ['weather', 'find_toy', 'call', 'play', 'draw-it', 'count'];

/**
 * 1 to `maxTools` tools with distinct names, each with random parameters: an object of up to `maxProps`
 * random properties (nested as deep as randomSchema goes below `depth`).
 */
export function randomTools(rand: () => number, { maxTools = 3, maxProps = 3, depth = 1 } = {}): Array<{ type: 'function'; function: { name: string; parameters: Record<string, unknown> } }> {
  const names = [...TOOL_NAMES].sort(() => rand() - 0.5).slice(0, 1 + Math.floor(rand() * maxTools));
  return names.map((name) => {
    const props = [...NAMES].sort(() => rand() - 0.5).slice(0, Math.floor(rand() * (maxProps + 1)));
    const properties = Object.fromEntries(props.map((p) => [p, randomSchema(rand, depth)]));
    return { type: 'function', function: { name, parameters: { type: 'object', properties, required: props.filter(() => rand() < 0.6), additionalProperties: false } } };
  });
}
