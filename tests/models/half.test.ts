import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { toFloat16 } from '../../models/onnx/half.ts';
import { mulberry32 } from '../../src/util/random.ts';
import { ggufPython } from '../support/python.ts';

const python = ggufPython();

describe.runIf(python)('float16 conversion', () => {
  it('rounds every float32 to the same float16 bits as numpy', () => {
    const rand = mulberry32(3);
    const edge = [0, -0, 1, -1, 65504, 65519, 65520, 1e6, -1e6, 6.1e-5, 6.0e-5, 5.96e-8, 2.98e-8, 2.99e-8, 1e-9, 1 + 2 ** -11, 1 + 3 * 2 ** -11, Infinity, -Infinity];
    const values = Float32Array.from([...edge, ...Array.from({ length: 4000 }, () => (rand() - 0.5) * 2 ** Math.floor(rand() * 50 - 30))]);
    const ours = Array.from(toFloat16(values));
    const script = 'import sys, numpy as np; print(" ".join(map(str, np.frombuffer(bytes.fromhex(sys.argv[1]), "<f4").astype(np.float16).view(np.uint16))))';
    const theirs = execFileSync(python!, ['-c', script, Buffer.from(values.buffer).toString('hex')], { encoding: 'utf8' }).trim().split(' ').map(Number);
    expect(ours).toEqual(theirs);
  });
});
