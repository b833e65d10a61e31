/**
 * The package as a user gets it: `npm pack` (which runs the prepack build), then a fresh plain-JavaScript Vite app
 * made from tests/fixtures/package-app/ in a temp dir installs the tarball, builds, and generates text in Chromium
 * under the strict CSP. The README's TypeScript blocks are type-checked against the installed package's types.
 */
import { spawn } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../models/sources.ts';
import { launchChromium } from '../../scripts/harness.ts';
import { KNOWN_GOOD } from '../support/sources.ts';
import { CLEAN_ENV, plain, succeed, type Run } from './process.ts';
import { readmeTypeErrors } from './readme-blocks.ts';

/** Starts `vite preview` of the app on a free port; resolves with its URL once it listens. */
function startPreview(app: string): Promise<{ url: string; stop(): void }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['node_modules/vite/bin/vite.js', 'preview', '--host', '127.0.0.1', '--port', '0'], { cwd: app, env: CLEAN_ENV });
    let seen = '';
    child.stdout.on('data', (d) => {
      seen += d;
      const url = /http:\/\/127\.0\.0\.1:\d+\//.exec(plain(seen))?.[0];
      if (url) resolve({ url, stop: () => child.kill() });
    });
    child.on('close', (code) => reject(new Error(`vite preview exited ${code}: ${seen}`)));
  });
}

describe('the packed package in a fresh plain-JavaScript Vite app', () => {
  let tmp: string;
  let app: string;
  let packed: { filename: string; files: Array<{ path: string }> };
  let install: Run;
  let preview: { url: string; stop(): void } | undefined;
  let browser: Browser | undefined;

  beforeAll(async () => {
    tmp = mkdtempSync(join(tmpdir(), 'browser-slm-package-'));
    [packed] = JSON.parse((await succeed('npm', ['pack', '--json', '--pack-destination', tmp], PROJECT_ROOT)).stdout);
    app = join(tmp, 'app');
    cpSync(join(PROJECT_ROOT, 'tests/fixtures/package-app'), app, { recursive: true });
    cpSync(join(PROJECT_ROOT, 'public/models/stories260k'), join(app, 'public/models/stories260k'), { recursive: true });
    install = await succeed('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', `../${packed.filename}`], app);
    await succeed(process.execPath, ['node_modules/vite/bin/vite.js', 'build'], app);
  }, 480_000);

  afterAll(async () => {
    await browser?.close();
    preview?.stop();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it('the tarball holds only built ESM, .d.ts, package.json and README: no sources, models, tests or demo', () => {
    const paths = packed.files.map((f) => f.path);
    expect(paths.filter((p) => !/^lib\/.+(?<!\.d)\.js$|^lib\/.+\.d\.ts$/.test(p)).sort()).toEqual(['README.md', 'package.json']);
    expect(paths).toEqual(expect.arrayContaining(['lib/src/index.js', 'lib/src/index.d.ts', 'lib/workers/engine.worker.js', 'lib/src/vite/plugin.js', 'lib/src/vite/offline-shell.js']));
  });

  it('every export of the installed package points at a file in the tarball, with its types', () => {
    const manifest = JSON.parse(readFileSync(join(app, 'node_modules/browser-slm/package.json'), 'utf8')) as { exports: Record<string, string | { types: string; default: string }> };
    const paths = new Set(packed.files.map((f) => `./${f.path}`));
    for (const [subpath, target] of Object.entries(manifest.exports)) {
      if (typeof target === 'string') expect(paths, subpath).toContain(target);
      else expect([paths.has(target.types), paths.has(target.default)], subpath).toEqual([true, true]);
    }
  });

  it('installs into the app without a warning', () => {
    expect(install.stderr).not.toMatch(/warn/i);
  });

  it('the built app generates the known-good greedy text in Chromium, under the strict CSP', async () => {
    preview = await startPreview(app);
    browser = await launchChromium({ webgpu: false });
    const page = await browser.newPage();
    const cspViolations: string[] = [];
    page.on('console', (m) => {
      if (/Content Security Policy/i.test(m.text())) cspViolations.push(m.text());
    });
    const response = await page.goto(preview.url);
    expect(response?.headers()['content-security-policy']).toMatch(/script-src 'self' 'wasm-unsafe-eval'; worker-src 'self'/);
    await page.getByRole('button', { name: 'Generate' }).click();
    await page.waitForSelector('output[data-state="done"], output[data-state="failed"]', { timeout: 240_000 });
    const output = page.getByLabel('Output');
    expect(await output.getAttribute('data-state'), (await output.textContent()) ?? '').toBe('done');
    expect(`${KNOWN_GOOD.prompt}${await output.textContent()}`.startsWith(KNOWN_GOOD.text)).toBe(true);
    expect(await output.getAttribute('data-backend')).toBe('wasm');
    expect(cspViolations).toEqual([]);
  }, 300_000);

  it("every ```ts block of the README type-checks against the installed package's types", () => {
    const readme = readFileSync(join(PROJECT_ROOT, 'README.md'), 'utf8');
    expect(readmeTypeErrors(readme, join(app, 'readme-check'))).toEqual([]);
  });
});
