#include <math.h>
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

/*
 * The other elementwise ops the native backend's training steps spend time in (Adam's update,
 * BatchNorm's and the losses' arithmetic). Each value is computed in double and rounded to float
 * once, as tfjs-backend-cpu's JavaScript kernels do, so the results are theirs bit for bit.
 * `reversed`: the small operand is the left one (s - x, s / x).
 */
#define EW_BINARY(NAME, EXPR)                                                                      \
  static void NAME(long outer, long mid, long inner, const float *big, const float *small,      \
                   int reversed, float *out) {                                                   \
    _Pragma("omp parallel for schedule(static) collapse(2)")                                     \
    for (long o = 0; o < outer; o++) {                                                           \
      for (long m = 0; m < mid; m++) {                                                           \
        const size_t row = ((size_t)o * mid + m) * inner;                                        \
        const float *p = big + row, *s = small + (size_t)o * inner;                              \
        float *r = out + row;                                                                    \
        if (reversed) {                                                                          \
          for (long q = 0; q < inner; q++) { const double x = s[q], y = p[q]; r[q] = (float)(EXPR); } \
        } else {                                                                                 \
          for (long q = 0; q < inner; q++) { const double x = p[q], y = s[q]; r[q] = (float)(EXPR); } \
        }                                                                                        \
      }                                                                                          \
    }                                                                                            \
  }                                                                                              \
  static void NAME##_scalar(long n, const float *big, float scalar, int reversed, float *out) {  \
    const double c = scalar;                                                                     \
    if (reversed) {                                                                              \
      _Pragma("omp parallel for simd schedule(static)")                                          \
      for (long i = 0; i < n; i++) { const double x = c, y = big[i]; out[i] = (float)(EXPR); }    \
    } else {                                                                                     \
      _Pragma("omp parallel for simd schedule(static)")                                          \
      for (long i = 0; i < n; i++) { const double x = big[i], y = c; out[i] = (float)(EXPR); }    \
    }                                                                                            \
  }

EW_BINARY(sub_f64, x - y)
EW_BINARY(div_f64, x / y)
EW_BINARY(sqdiff_f64, (x - y) * (x - y))

int binary_op_f32(int kind, int reversed, long outer, long mid, long inner, const float *big, const float *small, int scalar, float *out) {
  const long n = outer * mid * inner;
  switch (kind) {
    case EW_SUB: if (scalar) sub_f64_scalar(n, big, small[0], reversed, out); else sub_f64(outer, mid, inner, big, small, reversed, out); return 1;
    case EW_DIV: if (scalar) div_f64_scalar(n, big, small[0], reversed, out); else div_f64(outer, mid, inner, big, small, reversed, out); return 1;
    case EW_SQDIFF: if (scalar) sqdiff_f64_scalar(n, big, small[0], reversed, out); else sqdiff_f64(outer, mid, inner, big, small, reversed, out); return 1;
    default: return 0;
  }
}

#define EW_UNARY(NAME, EXPR)                                                \
  static void NAME(long n, const float *xs, double alpha, float *ys) {    \
    (void)alpha;                                                          \
    _Pragma("omp parallel for simd schedule(static)")                     \
    for (long i = 0; i < n; i++) { const double x = xs[i]; ys[i] = (float)(EXPR); } \
  }

EW_UNARY(sqrt_f64, sqrt(x))
EW_UNARY(rsqrt_f64, 1.0 / sqrt(x))
EW_UNARY(square_f64, x * x)
EW_UNARY(neg_f64, -x)
EW_UNARY(abs_f64, fabs(x))
EW_UNARY(reciprocal_f64, 1.0 / x)
EW_UNARY(step_f64, x != x ? x : (x > 0 ? 1.0 : alpha))

int unary_op_f32(int kind, long n, const float *x, double alpha, float *y) {
  switch (kind) {
    case EW_SQRT: sqrt_f64(n, x, alpha, y); return 1;
    case EW_RSQRT: rsqrt_f64(n, x, alpha, y); return 1;
    case EW_SQUARE: square_f64(n, x, alpha, y); return 1;
    case EW_NEG: neg_f64(n, x, alpha, y); return 1;
    case EW_ABS: abs_f64(n, x, alpha, y); return 1;
    case EW_RECIPROCAL: reciprocal_f64(n, x, alpha, y); return 1;
    case EW_STEP: step_f64(n, x, alpha, y); return 1;
    default: return 0;
  }
}

/*
 * out = a (op) b under any broadcast (numpy rules), the output viewed as rows of its last
 * dimension: `shape` holds the output's `rank` dimensions (adjacent ones merged by the caller),
 * `as` and `bs` each operand's stride per dimension (0 where it broadcasts). Kinds: 0 add,
 * 1 multiply, 2 sub, 3 div, 4 squared difference; double arithmetic rounded once, as above.
 * Nearest-neighbour upsampling as a multiply by a ones tensor is the case this is for.
 */
#define BCAST_ROW(EXPR)                                                                   \
  if (ai == 1 && bi == 1) for (long q = 0; q < inner; q++) { const double x = pa[q], y = pb[q]; r[q] = (float)(EXPR); } \
  else if (ai == 1 && bi == 0) { const double y = pb[0]; for (long q = 0; q < inner; q++) { const double x = pa[q]; r[q] = (float)(EXPR); } } \
  else if (ai == 0 && bi == 1) { const double x = pa[0]; for (long q = 0; q < inner; q++) { const double y = pb[q]; r[q] = (float)(EXPR); } } \
  else for (long q = 0; q < inner; q++) { const double x = pa[q * ai], y = pb[q * bi]; r[q] = (float)(EXPR); }

int broadcast_op_f32(int kind, int rank, const long *shape, const long *as, const long *bs, const float *a, const float *b, float *out) {
  if (kind < 0 || kind > 4 || rank < 1) return 0;
  const long inner = shape[rank - 1], ai = as[rank - 1], bi = bs[rank - 1];
  long rows = 1;
  for (int d = 0; d < rank - 1; d++) rows *= shape[d];
#pragma omp parallel for schedule(static)
  for (long row = 0; row < rows; row++) {
    long rest = row, offa = 0, offb = 0;
    for (int d = rank - 2; d >= 0; d--) {
      const long c = rest % shape[d];
      rest /= shape[d];
      offa += c * as[d];
      offb += c * bs[d];
    }
    const float *pa = a + offa, *pb = b + offb;
    float *r = out + (size_t)row * inner;
    switch (kind) {
      case 0: BCAST_ROW(x + y) break;
      case 1: BCAST_ROW(x * y) break;
      case 2: BCAST_ROW(x - y) break;
      case 3: BCAST_ROW(x / y) break;
      default: BCAST_ROW((x - y) * (x - y)) break;
    }
  }
  return 1;
}
