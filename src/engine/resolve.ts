/** Model references → the folder URL their files live in. */
import type { RuntimeEnv } from '../env.ts';
import { InvalidArgumentError } from '../errors.ts';

export interface ResolvedModel {
  kind: 'bundled' | 'url' | 'hub';
  /** Folder URL ending in "/". */
  baseUrl: string;
}

const BUNDLED_ID = /^[A-Za-z0-9][\w.-]*$/;
const HUB_REPO = /^[A-Za-z0-9][\w.-]*\/[A-Za-z0-9][\w.-]*$/;
const URL_LIKE = /^(?:[a-z][a-z0-9+.-]*:|\/|\.\.?\/)/i;

/**
 * "stories260k" → a bundled model under env.modelBaseUrl; "https://…/", "/folder/" or "./folder/" → that folder
 * (relative to the page);
 * "org/name" → a Hugging Face Hub repo (or a mirror at env.hubHost) at `revision`.
 */
export function resolveModel(model: unknown, env: RuntimeEnv, revision = 'main'): ResolvedModel {
  if (typeof model !== 'string' || model.trim() === '') {
    throw new InvalidArgumentError(`model must be a bundled id, a folder URL or a Hub repo id; got ${JSON.stringify(model)}`);
  }
  const withSlash = (s: string): string => (s.endsWith('/') ? s : `${s}/`);
  if (URL_LIKE.test(model)) return { kind: 'url', baseUrl: withSlash(new URL(model, env.pageUrl).href) };
  if (HUB_REPO.test(model)) {
    return { kind: 'hub', baseUrl: `${env.hubHost.replace(/\/$/, '')}/${model}/resolve/${encodeURIComponent(revision)}/` };
  }
  if (BUNDLED_ID.test(model)) return { kind: 'bundled', baseUrl: new URL(`${model}/`, env.modelBaseUrl).href };
  throw new InvalidArgumentError(`"${model}" is neither a bundled model id, a URL nor an "org/name" Hub repo id`);
}
