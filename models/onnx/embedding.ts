/**
 * Row lookups in an embedding table [rows, cols]: a float32 Gather, or int8 rows with one float32 scale
 * each, gathered and then scaled. The table is most of a small encoder's bytes (MiniLM: 47 of 90 MB), so
 * quantized files store it as int8 too; only standard ops, so every execution provider runs it.
 */
import type { GraphBuilder } from './graph.ts';
import { quantizeInt8Rows } from './quantize.ts';

/** `weight` names the table's initializer (with `_int8` and `_scales` suffixes when quantized); `name` the nodes. */
export function embeddingLookup(g: GraphBuilder, name: string, weight: string, table: Float32Array, rows: number, cols: number, ids: string, int8: boolean): string {
  if (!int8) return g.op('Gather', name, [g.initializer(weight, 'float32', [rows, cols], table), ids], { axis: 0 });
  const { data, scales } = quantizeInt8Rows(table, rows, cols, 127);
  const q = g.op('Gather', `${name}/rows`, [g.initializer(`${weight}_int8`, 'int8', [rows, cols], data), ids], { axis: 0 });
  const scale = g.op('Gather', `${name}/row_scales`, [g.initializer(`${weight}_scales`, 'float32', [rows, 1], scales), ids], { axis: 0 });
  return g.op('Mul', name, [g.op('Cast', `${name}/float`, [q], { to: 1 }), scale]);
}
