/** The fine-tuning fixtures, read with the Teach panel's own parser (the files are in its line format). */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseExamples } from '../../demo/teach-examples.ts';
import { PROJECT_ROOT } from '../../models/sources.ts';
import { storyThemes } from './sources.ts';

export type Pair = { prompt: string; completion: string };

/** The file's text, as a person would paste it into the Teach panel. */
export const supportQueuesText = (split: 'train' | 'heldout'): string => readFileSync(join(PROJECT_ROOT, `tests/fixtures/support-queues.${split}.txt`), 'utf8');

/** tests/fixtures/support-queues.{train,heldout}.txt: short support messages → one of 6 made-up queue names. */
export const supportQueues = (split: 'train' | 'heldout'): Pair[] => parseExamples(supportQueuesText(split)) as Pair[];

/** The tiny variant for stories260K: story-themes.tsv as `sentence → theme` lines (72, 3 themes). */
export const storyThemesText = (): string => storyThemes().map((e) => `${e.text} → ${e.label}`).join('\n');
