/** Benchmark statistics and the two result files: latest.json (everything) and latest.md (the table). */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface Row {
  measure: string;
  model: string;
  dtype: string;
  backend: string;
  threads: number | string;
  side: string;
  metric: string;
  unit: string;
  median: number;
  min: number;
  max: number;
  runs: number;
  note?: string;
}

export interface Ratio {
  name: string;
  model: string;
  value: number;
  goal: string;
  met: boolean | null;
  note?: string;
}

export interface Report {
  date: string;
  machine: Record<string, string | number>;
  versions: Record<string, string>;
  settings: Record<string, unknown>;
  rows: Row[];
  ratios: Ratio[];
  notes: string[];
}

export function summarize(values: number[]): { median: number; min: number; max: number; runs: number } {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  const median = sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  return { median, min: sorted[0]!, max: sorted.at(-1)!, runs: sorted.length };
}

const fmt = (v: number): string => (Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 10 ? v.toFixed(1) : v.toFixed(2));

export function writeReport(dir: string, report: Report): { json: string; md: string } {
  mkdirSync(dir, { recursive: true });
  const json = join(dir, 'latest.json');
  const md = join(dir, 'latest.md');
  writeFileSync(json, `${JSON.stringify(report, null, 2)}\n`);
  const lines = [
    `# Benchmark results (${report.date})`,
    '',
    `Machine: ${Object.entries(report.machine).map(([k, v]) => `${k} ${v}`).join(', ')}.`,
    `Versions: ${Object.entries(report.versions).map(([k, v]) => `${k} ${v}`).join(', ')}.`,
    `Settings: ${Object.entries(report.settings).map(([k, v]) => `${k} ${JSON.stringify(v)}`).join(', ')}.`,
    '',
    '## Ratios (computed in this run)',
    '',
    '| ratio | model | value | goal | met |',
    '|---|---|---|---|---|',
    ...report.ratios.map((r) => `| ${r.name} | ${r.model} | ${fmt(r.value)} | ${r.goal} | ${r.met === null ? 'n/a' : r.met ? 'yes' : '**no**'}${r.note ? ` (${r.note})` : ''} |`),
    '',
    '## Measurements (median, min–max over runs)',
    '',
    '| measure | model | dtype | backend | threads | side | metric | median | min–max | runs |',
    '|---|---|---|---|---|---|---|---|---|---|',
    ...report.rows.map(
      (r) => `| ${r.measure} | ${r.model} | ${r.dtype} | ${r.backend} | ${r.threads} | ${r.side} | ${r.metric} (${r.unit}) | ${fmt(r.median)} | ${fmt(r.min)}–${fmt(r.max)} | ${r.runs} |`,
    ),
    '',
    '## Notes',
    '',
    ...report.notes.map((n) => `- ${n}`),
    '',
  ];
  writeFileSync(md, lines.join('\n'));
  return { json, md };
}
