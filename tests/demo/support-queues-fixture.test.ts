/** The fine-tuning fixture (tests/fixtures/support-queues.*.txt) is what the acceptance test assumes it is. */
import { describe, expect, it } from 'vitest';
import { expectedOf } from '../../demo/teach-examples.ts';
import { supportQueues as read } from '../support/fine-tune-fixture.ts';

const QUEUES = ['anvil', 'compass', 'harbor', 'lantern', 'meadow', 'quill'];
const counts = (examples: ReturnType<typeof read>): Record<string, number> => Object.fromEntries(QUEUES.map((q) => [q, examples.filter((e) => expectedOf(e) === q).length]));

describe('support-queues fixture', () => {
  const train = read('train');
  const heldOut = read('heldout');

  it('has 120 training and 30 held-out examples, balanced over the 6 queues', () => {
    expect(counts(train)).toEqual(Object.fromEntries(QUEUES.map((q) => [q, 20])));
    expect(counts(heldOut)).toEqual(Object.fromEntries(QUEUES.map((q) => [q, 5])));
  });

  it('has no message twice, within or across the splits', () => {
    const messages = [...train, ...heldOut].map((e) => e.prompt.toLowerCase());
    expect(new Set(messages).size).toBe(150);
  });

  it('never names a queue in a message', () => {
    for (const { prompt } of [...train, ...heldOut]) expect(QUEUES.filter((q) => prompt.toLowerCase().includes(q))).toEqual([]);
  });

  it('interleaves the queues, so any prefix of the training file stays balanced', () => {
    expect(train.slice(0, 6).map(expectedOf).sort()).toEqual(QUEUES);
  });
});
