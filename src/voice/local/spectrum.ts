/** Spectral helpers shared by the pitch tracker and the evaluation metrics. */

/**
 * In place, a = conj(a) * b over n complex bins (interleaved re, im), so the inverse transform
 * of a is the cross-correlation sum_j a_j b_{j + lag}.
 */
export function conjMultiply(a: number[], b: ArrayLike<number>, n: number): void {
  for (let i = 0; i < 2 * n; i += 2) {
    const ar = a[i]!;
    const ai = a[i + 1]!;
    const br = b[i]!;
    const bi = b[i + 1]!;
    a[i] = ar * br + ai * bi;
    a[i + 1] = ar * bi - ai * br;
  }
}
