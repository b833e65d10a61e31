/**
 * A skill: a named, versioned task definition bound to one model (id + revision) — its kind, its
 * parameters (labels and trained head, JSON schema, prompt) and its evaluation. It travels as one JSON
 * file sealed with the SHA-256 of its canonical content, so a changed byte is detected on import.
 */
import { IntegrityError, InvalidArgumentError } from '../errors.ts';
import type { ClassifierHead, TrainingReport } from '../engine/tasks/classify.ts';
import { sha256Hex } from '../storage/download.ts';
import type { SavedAdapter } from '../training/adapter.ts';

export const SKILL_FORMAT = 'browser-slm-skill';

export type SkillTask =
  | { kind: 'classifier'; head: ClassifierHead }
  | { kind: 'zero-shot'; labels: string[] }
  | { kind: 'extractor'; schema: Record<string, unknown> }
  /** A LoRA adapter made by fineTune; saveSkill fills in `weights` from the adapter of that name. */
  | { kind: 'adapter'; adapter: string; weights?: SavedAdapter };

export interface Skill {
  format: typeof SKILL_FORMAT;
  formatVersion: 1;
  name: string;
  version: number;
  description?: string;
  /** The model this skill was made with and must run on. */
  model: { id: string; revision: string };
  task: SkillTask;
  evaluation?: Pick<TrainingReport, 'accuracy' | 'confusion' | 'trainSize' | 'validationSize'>;
  created: string;
}

/** The skill as exported: its content plus the SHA-256 of the content's canonical JSON. */
export interface SealedSkill extends Skill {
  sha256: string;
}

/** JSON with object keys sorted at every level, so the hash does not depend on key order. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    return `{${Object.keys(value)
      .filter((k) => (value as Record<string, unknown>)[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value);
}

export async function sealSkill(skill: Skill): Promise<SealedSkill> {
  validateSkill(skill);
  return { ...skill, sha256: await sha256Hex(new TextEncoder().encode(canonicalJson(skill))) };
}

/** Parses an exported file and checks its seal; a changed byte is an IntegrityError. */
export async function openSealedSkill(file: string): Promise<SealedSkill> {
  let parsed: SealedSkill;
  try {
    parsed = JSON.parse(file) as SealedSkill;
  } catch (cause) {
    throw new InvalidArgumentError('this is not a skill file (not JSON)', { cause });
  }
  if (parsed?.format !== SKILL_FORMAT) throw new InvalidArgumentError(`this is not a skill file (format ${JSON.stringify(parsed?.format)})`);
  const { sha256, ...content } = parsed;
  const actual = await sha256Hex(new TextEncoder().encode(canonicalJson(content)));
  if (actual !== sha256) throw new IntegrityError(`the skill "${parsed.name}" was modified after export (SHA-256 ${actual}, sealed ${sha256})`, { details: { expected: sha256, actual } });
  validateSkill(content as Skill);
  return parsed;
}

export function validateSkill(skill: Skill): void {
  if (typeof skill?.name !== 'string' || !/^[\w .-]{1,64}$/.test(skill.name)) throw new InvalidArgumentError('a skill name is 1–64 letters, digits, spaces, dots, dashes or underscores');
  if (!Number.isInteger(skill.version) || skill.version < 1) throw new InvalidArgumentError('a skill version is a positive integer');
  if (typeof skill.model?.id !== 'string' || typeof skill.model.revision !== 'string') throw new InvalidArgumentError('a skill names its model (id and revision)');
  if (!['classifier', 'zero-shot', 'extractor', 'adapter'].includes(skill.task?.kind)) throw new InvalidArgumentError(`unknown skill kind ${JSON.stringify(skill.task?.kind)}`);
  if (skill.task.kind === 'adapter' && (typeof skill.task.adapter !== 'string' || !skill.task.adapter)) throw new InvalidArgumentError('an adapter skill names its adapter');
}
