#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <omp.h>
#include "kernels.h"

/*
 * Training-mode batch normalisation over the rows of x [m, c] (NHWC flattened), forward and
 * backward, each in two passes over the data on every core. The per-channel sums are kept in
 * double, so the one-pass variance E[x^2] - mean^2 does not lose the precision a float would.
 */
int bn_forward(long m, int c, const float *x, const float *gamma, const float *beta, float eps,
                      float *y, float *mean, float *var, float *inv_std) {
  const int nt = omp_get_max_threads();
  double *sum = partial_sums_alloc(nt, (size_t)2 * c);
  if (sum == NULL) return 0;
  double *sq = sum + c;
#pragma omp parallel num_threads(nt)
  {
    double *ls = sum + (size_t)omp_get_thread_num() * 2 * c;
    double *lq = ls + c;
#pragma omp for schedule(static)
    for (long r = 0; r < m; r++) {
      const float *row = x + r * c;
      for (int q = 0; q < c; q++) {
        const double v = row[q];
        ls[q] += v;
        lq[q] += v * v;
      }
    }
  }
  partial_sums_reduce(sum, nt, (size_t)2 * c);
  float *scale = malloc(sizeof(float) * (size_t)2 * c);
  if (scale == NULL) {
    free(sum);
    return 0;
  }
  float *shift = scale + c;
  for (int q = 0; q < c; q++) {
    const double mu = sum[q] / m;
    double v = sq[q] / m - mu * mu;
    if (v < 0) v = 0;
    mean[q] = (float)mu;
    var[q] = (float)v;
    inv_std[q] = (float)(1.0 / sqrt(v + eps));
    scale[q] = gamma[q] * inv_std[q];
    shift[q] = (float)(beta[q] - mu * scale[q]);
  }
#pragma omp parallel for schedule(static)
  for (long r = 0; r < m; r++) {
    const float *row = x + r * c;
    float *out = y + r * c;
    for (int q = 0; q < c; q++) out[q] = row[q] * scale[q] + shift[q];
  }
  free(scale);
  free(sum);
  return 1;
}

int bn_backward(long m, int c, const float *dy, const float *x, const float *mean, const float *inv_std,
                       const float *gamma, float *dx, float *dgamma, float *dbeta) {
  const int nt = omp_get_max_threads();
  double *sdy = partial_sums_alloc(nt, (size_t)2 * c);
  if (sdy == NULL) return 0;
  double *sdyxc = sdy + c;
#pragma omp parallel num_threads(nt)
  {
    double *ls = sdy + (size_t)omp_get_thread_num() * 2 * c;
    double *lx = ls + c;
#pragma omp for schedule(static)
    for (long r = 0; r < m; r++) {
      const float *g = dy + r * c;
      const float *row = x + r * c;
      for (int q = 0; q < c; q++) {
        ls[q] += g[q];
        lx[q] += (double)g[q] * (row[q] - mean[q]);
      }
    }
  }
  partial_sums_reduce(sdy, nt, (size_t)2 * c);
  float *coef = malloc(sizeof(float) * (size_t)3 * c);
  if (coef == NULL) {
    free(sdy);
    return 0;
  }
  float *a = coef, *b = coef + c, *k = coef + 2 * c;
  for (int q = 0; q < c; q++) {
    const double inv = inv_std[q];
    a[q] = (float)(gamma[q] * inv);
    b[q] = (float)(-gamma[q] * inv * inv * inv * sdyxc[q] / m);
    k[q] = (float)(-gamma[q] * inv * sdy[q] / m);
    dgamma[q] = (float)(sdyxc[q] * inv);
    dbeta[q] = (float)sdy[q];
  }
  /* dx = a*dy + b*(x - mean) + k; centring first keeps the precision when |mean| >> sigma. */
#pragma omp parallel for schedule(static)
  for (long r = 0; r < m; r++) {
    const float *g = dy + r * c;
    const float *row = x + r * c;
    float *out = dx + r * c;
    for (int q = 0; q < c; q++) out[q] = a[q] * g[q] + b[q] * (row[q] - mean[q]) + k[q];
  }
  free(coef);
  free(sdy);
  return 1;
}


/*
 * Sums x viewed as [outer, mid, inner] over its middle axis (a reduction over axes that are
 * contiguous but not innermost, e.g. NHWC over N,H,W or over H,W): per-thread partial sums in
 * double, then combined. The wasm backend would transpose the whole tensor first.
 */
int reduce_middle(long outer, long mid, long inner, const float *x, float *out, double scale) {
  const size_t cells = (size_t)outer * inner;
  const int nt = omp_get_max_threads();
  double *total = partial_sums_alloc(nt, cells);
  if (total == NULL) return 0;
#pragma omp parallel num_threads(nt)
  {
    double *acc = total + (size_t)omp_get_thread_num() * cells;
#pragma omp for schedule(static) collapse(2)
    for (long o = 0; o < outer; o++) {
      for (long m = 0; m < mid; m++) {
        const float *row = x + ((size_t)o * mid + m) * inner;
        double *a = acc + (size_t)o * inner;
        for (long q = 0; q < inner; q++) a[q] += row[q];
      }
    }
  }
  partial_sums_reduce(total, nt, cells);
  for (size_t t = 0; t < cells; t++) out[t] = (float)(total[t] * scale);
  free(total);
  return 1;
}

/* Inference batch norm: y = (x - mean) * scale / sqrt(var + eps) + offset per channel (x is [m, c]). */
int bn_inference(long m, int c, const float *x, const float *mean, const float *var, const float *offset,
                        const float *scale, float eps, float *y) {
  float *k = malloc(sizeof(float) * (size_t)2 * c);
  if (k == NULL) return 0;
  float *b = k + c;
  for (int q = 0; q < c; q++) {
    const double inv = 1.0 / sqrt((double)var[q] + eps);
    k[q] = (float)((scale ? scale[q] : 1.0) * inv);
    b[q] = (float)((offset ? offset[q] : 0.0) - mean[q] * (double)k[q]);
  }
#pragma omp parallel for schedule(static)
  for (long r = 0; r < m; r++) {
    const float *row = x + r * c;
    float *out = y + r * c;
    for (int q = 0; q < c; q++) out[q] = row[q] * k[q] + b[q];
  }
  free(k);
  return 1;
}
