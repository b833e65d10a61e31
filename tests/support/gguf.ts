/** The real GGUF files the tests read, resolved the way `npm run models` resolves them. */
import { GEMMA3_270M_Q4_K_M, resolveSource, SMOLLM2_135M_INSTRUCT } from '../../models/sources.ts';

export const smolLm2Gguf = (): Promise<Uint8Array> => resolveSource(SMOLLM2_135M_INSTRUCT.gguf);
export const gemma3Gguf = (): Promise<Uint8Array> => resolveSource(GEMMA3_270M_Q4_K_M);
