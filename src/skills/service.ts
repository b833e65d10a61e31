/**
 * Skills as a service of the engine: saving, listing, exporting and importing sealed skills, and
 * checking that a skill runs on the model it was made with. Running one is the engine's dispatch.
 */
import { InvalidArgumentError, ModelNotFoundError } from '../errors.ts';
import { openSealedSkill, sealSkill, SKILL_FORMAT, type SealedSkill, type Skill, type SkillTask } from './skill.ts';
import type { SkillStore } from './store.ts';

/** What a caller gives to save a skill; the model binding, format and date are filled in. */
export type SkillDefinition = Pick<Skill, 'name' | 'task'> & Partial<Pick<Skill, 'version' | 'description' | 'evaluation'>>;

/** A model revision: what a skill is bound to. */
export interface ModelBinding {
  id: string;
  revision: string;
}

export class SkillService {
  constructor(
    private readonly store: () => Promise<SkillStore>,
    /** Whether a model revision is loaded or cached here (a skill for another one cannot be imported). */
    private readonly available: (model: ModelBinding) => Promise<boolean>,
  ) {}

  /** Saves a skill bound to `model`; returns it sealed. */
  async save(model: ModelBinding, definition: SkillDefinition): Promise<SealedSkill> {
    const sealed = await sealSkill({
      format: SKILL_FORMAT,
      formatVersion: 1,
      version: 1,
      ...definition,
      model: { id: model.id, revision: model.revision },
      created: new Date().toISOString(),
    });
    await (await this.store()).save(sealed);
    return sealed;
  }

  async list(): Promise<SealedSkill[]> {
    return (await this.store()).list();
  }

  async delete(name: string): Promise<void> {
    await (await this.store()).delete(name);
  }

  /** The skill as one JSON file (content plus its SHA-256). */
  async export(name: string): Promise<string> {
    return `${JSON.stringify(await this.get(name), null, 2)}\n`;
  }

  /**
   * Imports an exported skill file: its seal must match (IntegrityError otherwise) and the model it
   * names must be loaded or cached here (ModelNotFoundError otherwise).
   */
  async import(file: string): Promise<SealedSkill> {
    const skill = await openSealedSkill(file);
    const { id, revision } = skill.model;
    if (!(await this.available(skill.model))) {
      throw new ModelNotFoundError(`the skill "${skill.name}" needs model "${id}" at revision ${revision}; load that model first`, { details: { model: id, revision } });
    }
    await (await this.store()).save(skill);
    return skill;
  }

  /** The task of skill `name`, which must have been made with `model`. */
  async taskFor(name: string, model: ModelBinding): Promise<SkillTask> {
    const skill = await this.get(name);
    if (skill.model.id !== model.id || skill.model.revision !== model.revision) {
      throw new InvalidArgumentError(`the skill "${name}" was made for ${skill.model.id}@${skill.model.revision}, not ${model.id}@${model.revision}`);
    }
    return skill.task;
  }

  private async get(name: string): Promise<SealedSkill> {
    const skill = await (await this.store()).get(name);
    if (!skill) throw new InvalidArgumentError(`no skill named ${JSON.stringify(name)}`);
    return skill;
  }
}
