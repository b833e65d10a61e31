/** Keeps `npm run bench` from rotting: its quick mode must produce both result files with finite ratios (speed is not asserted). */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../models/sources.ts';
import type { Report } from '../bench/report.ts';

describe('npm run bench -- --quick', () => {
  it('writes latest.json and latest.md with every measure and finite, positive ratios', async () => {
    const out = mkdtempSync(join(tmpdir(), 'bench-'));
    await promisify(execFile)(process.execPath, ['--import', 'tsx', join(PROJECT_ROOT, 'bench/run.ts'), '--quick', '--out', out], { cwd: PROJECT_ROOT, timeout: 480_000 });
    const report = JSON.parse(readFileSync(join(out, 'latest.json'), 'utf8')) as Report;
    expect(Object.keys(report.machine)).toEqual(expect.arrayContaining(['cpu', 'cores', 'chromium', 'node']));
    expect(report.versions['onnxruntime-web']).toMatch(/^\d+\.\d+\.\d+/);
    const measures = new Set(report.rows.map((r) => `${r.measure}/${r.side}`));
    for (const m of [
      'decode/ours', 'decode/transformers.js', 'decode/onnxruntime-node', 'prefill/ours', 'prefill/onnxruntime-node',
      'start-up/ours', 'start-up/transformers.js', 'start-up/wllama', 'llama.cpp/ours', 'llama.cpp/wllama', 'tasks/ours',
      'real/ours', 'real/transformers.js', 'real/wllama', 'chat/ours', 'chat/transformers.js',
      'json/ours: drafts checked in one run', 'json/plain greedy constrained', 'json/@mlc-ai/web-xgrammar', 'cache/ours', 'cache/bare IndexedDB', 'fine-tune/ours',
    ]) {
      expect(measures, m).toContain(m);
    }
    for (const row of report.rows) {
      expect(row.runs).toBe(2);
      expect(Number.isFinite(row.median) && row.median > 0, `${row.measure} ${row.side} ${row.metric}`).toBe(true);
      expect(row.min).toBeLessThanOrEqual(row.median);
      expect(row.max).toBeGreaterThanOrEqual(row.median);
    }
    expect(report.ratios.length).toBeGreaterThanOrEqual(30);
    const names = report.ratios.map((r) => r.name);
    for (const name of ['chat: time to first token, turn 5 ÷ turn 1 (ours)', 'chat: time to first token of turn 5, ours ÷ transformers.js', 'extraction-sentences fixture, seconds per document, drafts ÷ plain greedy', 'decode with an adapter ÷ without (1 thread, interleaved)']) {
      expect(names, name).toContain(name);
    }
    for (const r of report.ratios) expect(Number.isFinite(r.value) && r.value > 0, r.name).toBe(true);
    const md = readFileSync(join(out, 'latest.md'), 'utf8');
    expect(md).toContain('| ratio | model | value | goal | met |');
    expect(md).toContain('| measure | model | dtype | backend | threads | side | metric | median | min–max | runs |');
  }, 480_000); // the bound execFile already gives the bench run
});
