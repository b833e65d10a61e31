/** Skills saved in the weight cache's IndexedDB database (in memory when the cache has none). */
import type { CacheDb } from '../storage/cache-db.ts';
import type { SealedSkill } from './skill.ts';

export class SkillStore {
  private readonly memory = new Map<string, string>();

  constructor(private readonly db: CacheDb | null) {}

  async save(skill: SealedSkill): Promise<void> {
    const file = JSON.stringify(skill);
    if (this.db) await this.db.put('skills', { name: skill.name, file, saved: Date.now() });
    else this.memory.set(skill.name, file);
  }

  async get(name: string): Promise<SealedSkill | undefined> {
    const file = this.db ? (await this.db.get('skills', name))?.file : this.memory.get(name);
    return file ? (JSON.parse(file) as SealedSkill) : undefined;
  }

  async list(): Promise<SealedSkill[]> {
    const files = this.db ? (await this.db.getAll('skills')).map((r) => r.file) : [...this.memory.values()];
    return files.map((f) => JSON.parse(f) as SealedSkill).sort((a, b) => a.name.localeCompare(b.name));
  }

  async delete(name: string): Promise<void> {
    if (this.db) await this.db.delete('skills', name);
    else this.memory.delete(name);
  }
}
