/**
 * Checking drafted tokens in one model run (jump-forward through forced JSON, prompt lookup): the
 * decode loop asks for the logits after each token it chooses. When that token is the next drafted
 * one, its logits were already computed in the run that checked the draft; otherwise the cache
 * entries of the drafted tokens not taken are dropped, a new draft is made, and the chosen token and
 * the draft run together. The loop chooses every token from the model's own logits at that position
 * exactly as without drafts, so the output is the same; a draft only saves runs when it is right.
 */

export interface LookaheadModel {
  /** Runs `ids` after the cache (`history` is everything fed, ending with `ids`); the logits of the last `rows` ids, row after row. */
  run(ids: number[], history: number[], rows: number): Promise<Float32Array>;
  /** Drops the cache entries from position `length` on. */
  truncate(length: number): void;
  readonly vocabSize: number;
  readonly contextLength: number;
}

/** Draft length: grows while drafts are taken whole, shrinks to what was taken, pauses at 0 for a few tokens. */
const DRAFT = { max: 8, pause: 8 };

export class Lookahead {
  private rows: Float32Array = new Float32Array(0);
  private pending: number[] = [];
  private used = 0;
  private limit = DRAFT.max;
  private paused = 0;
  /** Tokens drafted, and drafted tokens the loop then chose. */
  drafted = 0;
  accepted = 0;

  constructor(
    private readonly model: LookaheadModel,
    private readonly draft: (max: number) => number[],
  ) {}

  /** The logits after `fed` (every token so far; the last is the one just chosen). */
  async after(fed: number[]): Promise<Float32Array> {
    const v = this.model.vocabSize;
    if (this.used < this.pending.length && this.pending[this.used] === fed.at(-1)) {
      this.used++;
      this.accepted++;
      return this.rows.subarray(this.used * v, (this.used + 1) * v);
    }
    if (this.pending.length) {
      // A wrong draft costs a longer run and a cache rewind: draft less until drafts are taken again.
      if (this.used < this.pending.length) this.model.truncate(fed.length - 1);
      this.limit = this.used === this.pending.length ? Math.min(DRAFT.max, this.limit * 2) : this.used;
    } else if (this.limit === 0 && ++this.paused >= DRAFT.pause) {
      this.limit = 1;
      this.paused = 0;
    }
    this.pending = this.limit ? this.draft(Math.min(this.limit, this.model.contextLength - fed.length)) : [];
    this.used = 0;
    this.drafted += this.pending.length;
    this.rows = await this.model.run([fed.at(-1)!, ...this.pending], [...fed, ...this.pending], this.pending.length + 1);
    return this.rows.subarray(0, v);
  }
}
