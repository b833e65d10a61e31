/**
 * Typed calls into the harness page: a test body is a TypeScript function (type-checked like any
 * other code) that Playwright sends to the page with its argument, as it does for page.evaluate. A
 * body that throws comes back as a Failure: the class, code and details the page saw.
 */
import type { Page } from 'playwright-core';
import { expect } from 'vitest';
import type { ModelHandle, SlmClient } from '../../../src/index.ts';

declare global {
  interface Window {
    client: SlmClient;
    model: ModelHandle;
  }
}

/** What a failed call looks like from the page: class, code and message. */
export interface Failure {
  name: string;
  code: string;
  isSlmError: boolean;
  message: string;
  details: Record<string, unknown>;
}

export type Outcome<R> = { ok: R; failure?: undefined } | { ok?: undefined; failure: Failure };

/** Runs `body(arg)` in the page; returns its result, or the error it threw as a Failure. */
export function attempt<A, R>(page: Page, body: (arg: A) => Promise<R>, arg?: A): Promise<Outcome<R>> {
  return page.evaluate(`(async () => {
    try { return { ok: await (${body.toString()})(${JSON.stringify(arg ?? null)}) }; }
    catch (e) { return { failure: { name: e.name, code: e.code, isSlmError: e instanceof window.slm.SlmError, message: e.message, details: e.details } }; }
  })()`);
}

/** `body`'s result; the test fails if it throws. */
export async function inPage<A, R>(page: Page, body: (arg: A) => Promise<R>, arg?: A): Promise<R> {
  const r = await attempt(page, body, arg);
  expect(r.failure, r.failure && `${r.failure.name}: ${r.failure.message}`).toBeUndefined();
  return r.ok as R;
}

/** The Failure `body` throws; the test fails if it succeeds. */
export async function failureOf<A>(page: Page, body: (arg: A) => Promise<unknown>, arg?: A): Promise<Failure> {
  const r = await attempt(page, body, arg);
  expect(r.failure, `expected a failure, got ${JSON.stringify(r.ok)}`).toBeDefined();
  return r.failure!;
}
