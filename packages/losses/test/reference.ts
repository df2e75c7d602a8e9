/**
 * Float64 reference formulas written from the paper and from smp 0.3.3's source, independent of
 * the tfjs implementation (plain JS numbers, no tensors).
 */

export type Matrix = number[][];

export function oneHot(labels: number[], c: number): Matrix {
  return labels.map((y) => Array.from({ length: c }, (_, j) => (j === y ? 1 : 0)));
}

function logSoftmaxRow(x: number[]): number[] {
  const m = Math.max(...x);
  const lse = m + Math.log(x.reduce((s, v) => s + Math.exp(v - m), 0));
  return x.map((v) => v - lse);
}

function reduceRef(perSample: number[], reduction: 'mean' | 'sum'): number {
  const s = perSample.reduce((a, b) => a + b, 0);
  return reduction === 'mean' ? s / perSample.length : s;
}

/** -Σ_c t_c α_c (1-p_c)^γ log p_c per sample. */
export function focalSoftmaxRef(
  x: Matrix, t: Matrix, gamma: number, alpha: number | number[] | null, reduction: 'mean' | 'sum' = 'mean',
): number {
  const per = x.map((row, n) => {
    const lp = logSoftmaxRow(row);
    return -lp.reduce((s, l, c) => {
      const a = alpha == null ? 1 : Array.isArray(alpha) ? alpha[c] : alpha;
      return s + t[n][c] * a * Math.pow(1 - Math.exp(l), gamma) * l;
    }, 0);
  });
  return reduceRef(per, reduction);
}

/** smp focal_loss_with_logits(x[:, c], t[:, c], reduction) summed over c (smp's multiclass loop). */
export function focalSmpRef(
  x: Matrix, t: Matrix, gamma: number, alpha: number | null, reduction: 'mean' | 'sum' = 'mean',
): number {
  const n = x.length;
  const c = x[0].length;
  let total = 0;
  for (let j = 0; j < c; j++) {
    const col: number[] = [];
    for (let i = 0; i < n; i++) {
      const xi = x[i][j];
      const ti = t[i][j];
      // torch's BCEWithLogits: max(x,0) - x t + log(1 + exp(-|x|))
      const logpt = Math.max(xi, 0) - xi * ti + Math.log1p(Math.exp(-Math.abs(xi)));
      const pt = Math.exp(-logpt);
      let loss = Math.pow(1 - pt, gamma) * logpt;
      if (alpha != null) loss *= alpha * ti + (1 - alpha) * (1 - ti);
      col.push(loss);
    }
    const s = col.reduce((a, b) => a + b, 0);
    total += reduction === 'mean' ? s / n : s;
  }
  return total;
}

const sigmoid = (v: number): number => 1 / (1 + Math.exp(-v));

function diceScore(p: number[], t: number[], smooth: number, eps: number): number {
  let inter = 0;
  let card = 0;
  for (let i = 0; i < p.length; i++) {
    inter += p[i] * t[i];
    card += p[i] + t[i];
  }
  return (2 * inter + smooth) / Math.max(card + smooth, eps);
}

/** The paper's two-class soft Dice; x and t are per-image flattened. */
export function dicePaperRef(x: Matrix, t: Matrix, averaging: 'image' | 'batch', smooth = 1, eps = 1e-7): number {
  const lossOf = (xs: number[], ts: number[]): number => {
    const p = xs.map(sigmoid);
    const fg = diceScore(p, ts, smooth, eps);
    const bg = diceScore(p.map((v) => 1 - v), ts.map((v) => 1 - v), smooth, eps);
    return 1 - (fg + bg) / 2;
  };
  if (averaging === 'batch') return lossOf(x.flat(), t.flat());
  return x.reduce((s, xs, i) => s + lossOf(xs, t[i]), 0) / x.length;
}

/** smp DiceLoss(mode='binary'): batch-pooled score, zero when the batch has no positive pixel. */
export function diceSmpRef(x: Matrix, t: Matrix, smooth = 0, eps = 1e-7): number {
  const xs = x.flat();
  const ts = t.flat();
  const loss = 1 - diceScore(xs.map(sigmoid), ts, smooth, eps);
  return ts.reduce((a, b) => a + b, 0) > 0 ? loss : 0;
}

/** Central finite-difference gradient of a float64 function of a matrix. */
export function numericGrad(f: (x: Matrix) => number, x: Matrix, h = 1e-5): Matrix {
  return x.map((row, i) =>
    row.map((_, j) => {
      const plus = x.map((r) => [...r]);
      const minus = x.map((r) => [...r]);
      plus[i][j] += h;
      minus[i][j] -= h;
      return (f(plus) - f(minus)) / (2 * h);
    }),
  );
}
