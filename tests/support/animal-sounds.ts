/**
 * A rule stories260K cannot guess but a LoRA adapter learns in a few dozen steps: which animal a sentence
 * is about, answered with the sound it makes. 24 examples (8 places × 3 animals), for the fine-tune tests.
 */
import type { FineTuneExample } from '../../src/training/fine-tune.ts';

const ANIMALS: Array<[string, string]> = [['cat', 'meow'], ['dog', 'woof'], ['bird', 'tweet']];
const PLACES = ['park', 'house', 'garden', 'tree', 'school', 'shop', 'box', 'bed'];

export const ANIMAL_SOUNDS: FineTuneExample[] = PLACES.flatMap((place, i) => ANIMALS.map(([animal, sound]) => ({ prompt: `The ${animal} is in the ${place}${i % 2 ? '.' : '!'}`, completion: sound })));

/** The prompt stories260K (no chat template) sees for a user turn, as generate() takes it. */
export const storiesChatPrompt = (text: string): string => `User: ${text}\nAssistant:`;
