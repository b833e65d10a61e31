/** Debian Chromium driven by playwright-core, with or without the SwiftShader WebGPU adapter. */
import { chromium, type Browser, type Page } from 'playwright-core';
import { inject } from 'vitest';

const BASE_ARGS = ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];
const WEBGPU_ARGS = ['--enable-unsafe-webgpu', '--use-vulkan=swiftshader', '--use-webgpu-adapter=swiftshader', '--enable-features=Vulkan', '--disable-vulkan-surface'];

export function launch(options: { webgpu: boolean }): Promise<Browser> {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: [...BASE_ARGS, ...(options.webgpu ? WEBGPU_ARGS : [])],
  });
}

export function appUrl(path = ''): string {
  return new URL(path, inject('previewUrl')).href;
}

/** Opens the test harness page (the public API as window.slm) and waits until it is ready. */
export async function openHarness(browser: Browser): Promise<Page> {
  const page = await browser.newPage();
  await page.goto(appUrl('tests/browser/harness/index.html'));
  await page.waitForSelector('body[data-ready="true"]');
  return page;
}

/** Records requests leaving the app's origin (from the page and its workers). */
export function watchForeignRequests(page: Page): string[] {
  const foreign: string[] = [];
  const origin = new URL(appUrl()).origin;
  page.context().on('request', (r) => {
    const url = r.url();
    if (!url.startsWith(origin) && !url.startsWith('data:') && !url.startsWith('blob:')) foreign.push(url);
  });
  return foreign;
}
