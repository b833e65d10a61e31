import { describe, expect, it } from 'vitest';
import { resolveModel } from '../../src/engine/resolve.ts';
import { defaultEnv } from '../../src/env.ts';

// An app served from /app/ and viewed on one of its pages, as in the browser.
const env = defaultEnv('https://example.test/app/', 'https://example.test/app/docs/page.html');

describe('model references resolve to folder URLs', () => {
  it('a "./" folder URL is relative to the page, as fetch() would resolve it', () => {
    expect(resolveModel('./models/x/', env)).toEqual({ kind: 'url', baseUrl: 'https://example.test/app/docs/models/x/' });
  });

  it('a "../" folder URL is relative to the page and gets its trailing slash', () => {
    expect(resolveModel('../models/x', env)).toEqual({ kind: 'url', baseUrl: 'https://example.test/app/models/x/' });
  });

  it('a root-relative folder URL is on the page origin', () => {
    expect(resolveModel('/models/x/', env)).toEqual({ kind: 'url', baseUrl: 'https://example.test/models/x/' });
  });

  it('a bundled id is under modelBaseUrl (the app base), whatever the page', () => {
    expect(resolveModel('stories260k', env)).toEqual({ kind: 'bundled', baseUrl: 'https://example.test/app/models/stories260k/' });
  });
});
