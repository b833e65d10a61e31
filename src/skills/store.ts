/** Where saved skills are kept: the runtime's IndexedDB database, or memory where it has none. */
import type { CacheDb } from '../storage/database.ts';
import type { SealedSkill } from './skill.ts';

export interface SkillStore {
  save(skill: SealedSkill): Promise<void>;
  get(name: string): Promise<SealedSkill | undefined>;
  /** Every skill, by name. */
  list(): Promise<SealedSkill[]>;
  delete(name: string): Promise<void>;
}

const byName = (files: string[]): SealedSkill[] => files.map((f) => JSON.parse(f) as SealedSkill).sort((a, b) => a.name.localeCompare(b.name));

export class IdbSkillStore implements SkillStore {
  constructor(private readonly db: CacheDb) {}

  async save(skill: SealedSkill): Promise<void> {
    await this.db.put('skills', { name: skill.name, file: JSON.stringify(skill), saved: Date.now() });
  }

  async get(name: string): Promise<SealedSkill | undefined> {
    const file = (await this.db.get('skills', name))?.file;
    return file ? (JSON.parse(file) as SealedSkill) : undefined;
  }

  async list(): Promise<SealedSkill[]> {
    return byName((await this.db.getAll('skills')).map((r) => r.file));
  }

  async delete(name: string): Promise<void> {
    await this.db.delete('skills', name);
  }
}

export class MemorySkillStore implements SkillStore {
  private readonly files = new Map<string, string>();

  async save(skill: SealedSkill): Promise<void> {
    this.files.set(skill.name, JSON.stringify(skill));
  }

  async get(name: string): Promise<SealedSkill | undefined> {
    const file = this.files.get(name);
    return file ? (JSON.parse(file) as SealedSkill) : undefined;
  }

  async list(): Promise<SealedSkill[]> {
    return byName([...this.files.values()]);
  }

  async delete(name: string): Promise<void> {
    this.files.delete(name);
  }
}
