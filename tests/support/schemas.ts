/** Seeded random JSON Schemas within the supported subset, for property tests of constrained decoding. */
import { mulberry32 } from '../../src/util/random.ts';

export { mulberry32 };

const NAMES = ['name', 'age', 'color', 'pet', 'happy', 'toys', 'friend', 'place', 'count', 'mood', 'size', 'a', 'ab'];

export function randomSchema(rand: () => number, depth = 0): Record<string, unknown> {
  const pick = <T>(xs: T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const kinds = depth >= 2 ? ['string', 'number', 'integer', 'boolean', 'null', 'enum'] : ['object', 'array', 'string', 'number', 'integer', 'boolean', 'enum', 'object'];
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
