/** `npm run build` is quiet: the app's production build (vite build) writes no warning. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../models/sources.ts';
import { succeed } from './process.ts';

const outDir = mkdtempSync(join(tmpdir(), 'browser-slm-build-'));
afterAll(() => rmSync(outDir, { recursive: true, force: true }));

it('the production build of the app writes no warning', async () => {
  const build = await succeed(process.execPath, ['node_modules/vite/bin/vite.js', 'build', '--outDir', outDir, '--emptyOutDir'], PROJECT_ROOT);
  expect(build.stdout).toMatch(/built in/);
  expect(build.stderr).toBe('');
});
