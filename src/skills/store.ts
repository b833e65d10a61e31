/** Skills saved in the same IndexedDB database as the weight cache (memory only where it is unavailable). */
import { openCacheDb, type CacheDb } from '../storage/cache-db.ts';
import type { SealedSkill } from './skill.ts';

export class SkillStore {
  private readonly memory = new Map<string, string>();

  private constructor(private readonly db: CacheDb | null) {}

  static async open(dbName: string): Promise<SkillStore> {
    try {
      return new SkillStore(typeof indexedDB === 'undefined' ? null : await openCacheDb(dbName));
    } catch {
      return new SkillStore(null);
    }
  }

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
