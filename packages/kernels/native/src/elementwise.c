#include <stdlib.h>
#include <string.h>
#include <omp.h>
#include "kernels.h"

/*
 * Elementwise kernels for large tensors, on every core. The sigmoid's exp is Cephes' exp2f
 * polynomial (relative error ~2e-7) written so that GCC vectorises it; a call to libm's expf
 * would run one value at a time and lose to the single-threaded wasm kernel.
 */
static inline float exp_vec(float x) {
  x = x < -87.f ? -87.f : x;
  x = x > 88.f ? 88.f : x;
  const float t = x * 1.44269504088896341f;
  const float n = __builtin_floorf(t + 0.5f);
  const float f = t - n;
  float p = 1.535336188319500e-4f;
  p = p * f + 1.339887440266574e-3f;
  p = p * f + 9.618437357674640e-3f;
  p = p * f + 5.550332471162809e-2f;
  p = p * f + 2.402264791363012e-1f;
  p = p * f + 6.931472028550421e-1f;
  p = p * f + 1.f;
  const int32_t bits = ((int32_t)n + 127) << 23;
  float scale;
  memcpy(&scale, &bits, sizeof scale);
  return p * scale;
}

void sigmoid_f32(long n, const float *x, float *y) {
#pragma omp parallel for simd schedule(static)
  for (long i = 0; i < n; i++) y[i] = 1.f / (1.f + exp_vec(-x[i]));
}

void relu_f32(long n, const float *x, float *y) {
#pragma omp parallel for simd schedule(static)
  for (long i = 0; i < n; i++) y[i] = x[i] < 0.f ? 0.f : x[i]; /* NaN stays NaN, as in tfjs */
}

/* out = big (+ or *) the scalar s. */
void binary_scalar_f32(int kind, long n, const float *big, float s, float *out) {
#pragma omp parallel for simd schedule(static)
  for (long i = 0; i < n; i++) out[i] = kind == 0 ? big[i] + s : big[i] * s;
}

/*
 * Concatenation along the last axis: each of the `rows` rows of the output is the inputs' rows
 * side by side (widths[k] floats from input k).
 */
void concat_last(long rows, int count, const float *const *src, const int *widths, int total, float *out) {
#pragma omp parallel for schedule(static)
  for (long r = 0; r < rows; r++) {
    float *dst = out + (size_t)r * total;
    for (int k = 0; k < count; k++) {
      memcpy(dst, src[k] + (size_t)r * widths[k], sizeof(float) * widths[k]);
      dst += widths[k];
    }
  }
}

/* out[o, m, i] = big[o, m, i] (+ or *) small[o, i]: same shapes, per-channel and squeeze-excite broadcasts. */
void binary_f32(int kind, long outer, long mid, long inner, const float *big, const float *small, float *out) {
#pragma omp parallel for schedule(static) collapse(2)
  for (long o = 0; o < outer; o++) {
    for (long m = 0; m < mid; m++) {
      const float *a = big + ((size_t)o * mid + m) * inner;
      const float *b = small + (size_t)o * inner;
      float *r = out + ((size_t)o * mid + m) * inner;
      if (kind == 0) {
        for (long q = 0; q < inner; q++) r[q] = a[q] + b[q];
      } else {
        for (long q = 0; q < inner; q++) r[q] = a[q] * b[q];
      }
    }
  }
}
