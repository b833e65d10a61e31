/** Serves broken variants of the bundled model through Playwright routes, to test how loads fail. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Page, Route } from 'playwright-core';
import { STORIES_DIR } from '../../support/sources.ts';

type Override = (file: string) => { status: number; body: string | Buffer; contentType?: string } | null;

/** Serves stories260k's real files under /models/<name>/, except where `override` answers for a file. */
export async function serveVariant(page: Page, name: string, override: Override, delayMs = 0): Promise<void> {
  await page.context().route(`**/models/${name}/**`, async (route: Route) => {
    const file = new URL(route.request().url()).pathname.split(`/models/${name}/`)[1]!;
    if (delayMs) await new Promise((r) => setTimeout(r, delayMs));
    const answer = override(file);
    if (answer) return route.fulfill({ status: answer.status, body: answer.body, contentType: answer.contentType ?? 'application/octet-stream' });
    try {
      return route.fulfill({ status: 200, body: readFileSync(join(STORIES_DIR, file)), contentType: file.endsWith('.json') ? 'application/json' : 'application/octet-stream' });
    } catch {
      return route.fulfill({ status: 404, body: 'not found' });
    }
  });
}
