/**
 * Formant warping by LPC pole-angle scaling (the linear-frequency counterpart of the McAdams
 * coefficient method of the VoicePrivacy baseline): the roots of A(z) are found, every complex
 * pole r e^{+-j phi} moves to r e^{+-j phi * ratio} (radius, i.e. formant bandwidth, kept), and
 * the synthesis polynomial is rebuilt. Real poles (spectral tilt) stay. Rebuilding from poles
 * with |r| < 1 always gives a stable filter.
 *
 * Roots come from the Aberth-Ehrlich iteration, warm-started from the previous frame's roots,
 * so a frame usually converges in a few iterations.
 */

const MAX_RADIUS = 0.998;
const MAX_ANGLE = Math.PI * 0.97;
const IMAG_EPS = 1e-7;

export class FormantWarper {
  private readonly re: Float64Array;
  private readonly im: Float64Array;
  private warm = false;
  private readonly poly: Float64Array;
  private readonly poleAngle: Float64Array;
  private readonly poleRadius: Float64Array;
  private found = 0;

  constructor(readonly order: number) {
    this.poleAngle = new Float64Array(order);
    this.poleRadius = new Float64Array(order);
    this.re = new Float64Array(order);
    this.im = new Float64Array(order);
    this.poly = new Float64Array(order + 1);
  }

  /** Roots of z^p + a1 z^(p-1) + ... + ap into re/im; false if the iteration did not converge. */
  private findRoots(a: Float64Array): boolean {
    const n = this.order;
    const re = this.re;
    const im = this.im;
    if (this.warm) {
      // Nudge so no two start points coincide (a converged real pair can be near-equal).
      for (let i = 0; i < n; i++) {
        const c = Math.cos(1e-3 * (i + 1));
        const s = Math.sin(1e-3 * (i + 1));
        const r = re[i]! * c - im[i]! * s;
        im[i] = re[i]! * s + im[i]! * c;
        re[i] = r;
      }
    } else {
      for (let i = 0; i < n; i++) {
        const ang = (2 * Math.PI * i) / n + 0.4;
        re[i] = 0.9 * Math.cos(ang);
        im[i] = 0.9 * Math.sin(ang);
      }
    }
    const maxIter = this.warm ? 30 : 80;
    for (let iter = 0; iter < maxIter; iter++) {
      let maxStep = 0;
      for (let i = 0; i < n; i++) {
        const zr = re[i]!;
        const zi = im[i]!;
        // Horner: p(z) and p'(z).
        let pr = 1;
        let pi = 0;
        let dr = 0;
        let di = 0;
        for (let k = 1; k <= n; k++) {
          const ndr = dr * zr - di * zi + pr;
          const ndi = dr * zi + di * zr + pi;
          dr = ndr;
          di = ndi;
          const npr = pr * zr - pi * zi + a[k]!;
          const npi = pr * zi + pi * zr;
          pr = npr;
          pi = npi;
        }
        // Newton step N = p / p'.
        const dd = dr * dr + di * di;
        if (dd === 0) continue;
        const nr = (pr * dr + pi * di) / dd;
        const ni = (pi * dr - pr * di) / dd;
        // S = sum 1 / (z_i - z_j).
        let sr = 0;
        let si = 0;
        for (let j = 0; j < n; j++) {
          if (j === i) continue;
          const ur = zr - re[j]!;
          const ui = zi - im[j]!;
          const uu = ur * ur + ui * ui;
          if (uu === 0) continue;
          sr += ur / uu;
          si -= ui / uu;
        }
        // w = N / (1 - N S)
        const qr = 1 - (nr * sr - ni * si);
        const qi = -(nr * si + ni * sr);
        const qq = qr * qr + qi * qi;
        if (qq === 0) continue;
        const wr = (nr * qr + ni * qi) / qq;
        const wi = (ni * qr - nr * qi) / qq;
        re[i] = zr - wr;
        im[i] = zi - wi;
        const step = Math.abs(wr) + Math.abs(wi);
        if (step > maxStep) maxStep = step;
      }
      if (!Number.isFinite(maxStep)) break;
      if (maxStep < 1e-9) return true;
    }
    for (let i = 0; i < n; i++) if (!Number.isFinite(re[i]!) || !Number.isFinite(im[i]!)) return false;
    return true; // close enough: the rebuilt filter is stable whatever the precision
  }

  /**
   * From the analysis predictor a[0..p] to the warped synthesis predictor b[0..p].
   * Returns false (and copies a) when the roots could not be found. After a successful call,
   * poles() lists the analysis poles that were found (none at ratio 1, which copies a).
   */
  warp(a: Float64Array, ratio: number, b: Float64Array): boolean {
    const n = this.order;
    this.found = 0;
    if (ratio === 1) {
      b.set(a.subarray(0, n + 1));
      return true;
    }
    let allZero = true;
    for (let k = 1; k <= n; k++) if (a[k] !== 0) allZero = false;
    if (allZero) {
      b.set(a.subarray(0, n + 1));
      return true;
    }
    let ok = this.findRoots(a);
    if (!ok && this.warm) {
      this.warm = false;
      ok = this.findRoots(a);
    }
    if (!ok) {
      this.warm = false;
      b.set(a.subarray(0, n + 1));
      return false;
    }
    this.warm = true;
    const poly = this.poly;
    poly.fill(0);
    poly[0] = 1;
    let deg = 0;
    for (let i = 0; i < n; i++) {
      const zr = this.re[i]!;
      const zi = this.im[i]!;
      if (zi < -IMAG_EPS) continue;
      if (zi <= IMAG_EPS) {
        const x = Math.max(-MAX_RADIUS, Math.min(MAX_RADIUS, zr));
        if (deg + 1 > n) break;
        for (let k = deg + 1; k >= 1; k--) poly[k] = poly[k]! - x * poly[k - 1]!;
        deg += 1;
      } else {
        const r = Math.min(MAX_RADIUS, Math.hypot(zr, zi));
        const ang = Math.atan2(zi, zr);
        this.poleAngle[this.found] = ang;
        this.poleRadius[this.found++] = r;
        const phi = Math.min(MAX_ANGLE, ang * ratio);
        const c1 = -2 * r * Math.cos(phi);
        const c2 = r * r;
        if (deg + 2 > n) break;
        for (let k = deg + 2; k >= 1; k--) poly[k] = poly[k]! + c1 * poly[k - 1]! + (k >= 2 ? c2 * poly[k - 2]! : 0);
        deg += 2;
      }
    }
    if (deg !== n) {
      this.warm = false;
      this.found = 0;
      b.set(a.subarray(0, n + 1));
      return false;
    }
    b.set(poly);
    return true;
  }

  /** The complex analysis poles of the last warp (upper half plane): angle (rad) and radius. */
  poles(): { count: number; angle: Float64Array; radius: Float64Array } {
    return { count: this.found, angle: this.poleAngle, radius: this.poleRadius };
  }
}
