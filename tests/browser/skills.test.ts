/**
 * Skills across browser profiles: a classifier trained and exported in one profile imports in a fresh
 * one and gives the same answers; a modified file or one for a missing model is a typed error.
 */
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { sealSkill, type SealedSkill } from '../../src/skills/skill.ts';
import { useBrowser, useProfiles } from './support/browser.ts';
import { storyThemes } from '../support/sources.ts';

type W = { client: import('../../src/index.ts').SlmClient; model: import('../../src/index.ts').ModelHandle; slm: typeof import('../../src/index.ts') };
const examples = storyThemes();
const PROBES = ['The puppy chased a butterfly.', 'We ate warm soup and bread.', 'The wind blew the snow around.'];

describe('skills: save, export, import in a fresh profile', () => {
  const browser = useBrowser({ webgpu: false });
  /** A fresh browser profile (its own IndexedDB) with the harness open and stories260k loaded. */
  const newProfile = useProfiles(browser);
  const profile = (): Promise<Page> => newProfile('stories260k', { dtype: 'fp32' });

  let exported = '';
  let answers: unknown[] = [];

  it('a trained classifier saved as a skill exports to one sealed file', async () => {
    const a = await profile();
    const result = await a.evaluate(async ({ examples, probes }) => {
      const w = window as unknown as W;
      const report = await w.model.trainClassifier(examples, { seed: 7 });
      const skill = await w.model.saveSkill({ name: 'story-theme', description: 'animals, food or weather', task: { kind: 'classifier', head: report.head }, evaluation: { accuracy: report.accuracy, confusion: report.confusion, trainSize: report.trainSize, validationSize: report.validationSize } });
      const answers = [];
      for (const p of probes) answers.push(await w.model.runSkill('story-theme', p));
      return { skill, file: await w.client.exportSkill('story-theme'), answers, listed: (await w.client.listSkills()).map((s) => s.name) };
    }, { examples, probes: PROBES });
    expect(result.listed).toEqual(['story-theme']);
    expect(result.skill).toMatchObject({ format: 'browser-slm-skill', name: 'story-theme', version: 1, model: { id: 'stories260k', revision: expect.stringMatching(/^[0-9a-f]{16}$/) }, task: { kind: 'classifier' } });
    expect(result.skill.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(JSON.parse(result.file)).toEqual(result.skill);
    exported = result.file;
    answers = result.answers;
    for (const a of answers) expect(Object.values(a as Record<string, number>).reduce((x, y) => x + y, 0)).toBeCloseTo(1, 6);
  });

  it('imports in a fresh profile and gives the same answers', async () => {
    const b = await profile();
    const result = await b.evaluate(async ({ file, probes }) => {
      const w = window as unknown as W;
      const before = (await w.client.listSkills()).length;
      await w.client.importSkill(file);
      const answers = [];
      for (const p of probes) answers.push(await w.model.runSkill('story-theme', p));
      await w.client.deleteSkill('story-theme');
      return { before, answers, after: (await w.client.listSkills()).length };
    }, { file: exported, probes: PROBES });
    expect(result.before).toBe(0);
    expect(result.answers).toEqual(answers);
    expect(result.after).toBe(0);
  });

  it('a modified file is an IntegrityError; a skill for a missing model is a ModelNotFoundError', async () => {
    const tampered = exported.replace(/"accuracy": [0-9.]+/, '"accuracy": 0.99');
    expect(tampered).not.toBe(exported);
    const original = JSON.parse(exported) as SealedSkill;
    const { sha256: _seal, ...content } = original;
    const forMissingModel = JSON.stringify(await sealSkill({ ...content, model: { id: 'no-such-model', revision: '0000000000000000' } }));
    const c = await profile();
    const failures = await c.evaluate(async (files) => {
      const w = window as unknown as W;
      const out = [];
      for (const f of files) {
        try {
          await w.client.importSkill(f);
          out.push(null);
        } catch (e) {
          out.push({ name: (e as Error).name, message: (e as Error).message });
        }
      }
      return { out, skills: (await w.client.listSkills()).length };
    }, [tampered, forMissingModel, 'not json']);
    expect(failures.out[0]).toMatchObject({ name: 'IntegrityError', message: expect.stringMatching(/modified after export/) });
    expect(failures.out[1]).toMatchObject({ name: 'ModelNotFoundError', message: expect.stringMatching(/needs model "no-such-model"/) });
    expect(failures.out[2]).toMatchObject({ name: 'InvalidArgumentError' });
    expect(failures.skills).toBe(0);
  });
});
