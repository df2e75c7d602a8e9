/*
 * busi native kernels: what the files share. Every kernel works on float32 arrays that are views
 * of the wasm backend's heap (NHWC activations, HWIO filters) and uses every core through BLAS
 * and OpenMP; addon.c is the only file that knows about Node-API.
 */
#ifndef BUSI_KERNELS_H
#define BUSI_KERNELS_H

#include <stddef.h>
#include <stdint.h>

/* CBLAS, declared here so any BLAS with the standard symbols links (no header path needed). */
enum { ROW_MAJOR = 101, NO_TRANS = 111, TRANS = 112 };
extern void cblas_sgemm(int order, int transA, int transB, int m, int n, int k, float alpha,
                        const float *a, int lda, const float *b, int ldb, float beta, float *c, int ldc);
/* OpenBLAS's thread control; weak, so another BLAS (without it) still links. */
extern void openblas_set_num_threads(int n) __attribute__((weak));

typedef struct {
  int n, h, w, ci;     /* input */
  int kh, kw, co;      /* filter */
  int oh, ow;          /* output */
  int sh, sw, dh, dw;  /* strides, dilations */
  int top, left;       /* leading padding (trailing padding is implied by oh, ow) */
  int groups;          /* channel groups of a dense conv (filter [kh, kw, ci/groups, co]); 1 = ungrouped */
} Geometry;

/* Tunables (settable from JavaScript for tests and benchmarks). */
extern long block_floats;       /* scratch floats per block of patches */
extern long direct_min_pixels;  /* maps at least this large use the direct small-channel conv (0: never) */

/* scratch.c: per-thread buffers that persist between calls. */
float *scratch_get(size_t floats);
float *filter_scratch_get(size_t floats);
/*
 * Per-thread partial sums: `threads` zeroed blocks of `cells` doubles, one per OpenMP thread, and
 * their sum into the first block in thread order. Summing in a fixed order (not as threads finish)
 * keeps every result reproducible from run to run.
 */
double *partial_sums_alloc(int threads, size_t cells);
void partial_sums_reduce(double *parts, int threads, size_t cells);

/* conv.c: dense and grouped convolutions; each returns 0 when out of memory. */
int conv_forward(const Geometry *g, const float *x, const float *f, float *y);
int conv_backprop_input(const Geometry *g, const float *dy, const float *f, float *dx);
int conv_backprop_filter(const Geometry *g, const float *x, const float *dy, float *df);

/* depthwise.c: depthwise convolutions (multiplier 1) and the max-pool gradient. */
void dw_forward(const Geometry *g, const float *x, const float *f, float *y);
void dw_backprop_input(const Geometry *g, const float *dy, const float *f, float *dx);
int dw_backprop_filter(const Geometry *g, const float *x, const float *dy, float *df);
void maxpool_backprop(const Geometry *g, const float *dy, const float *x, float *dx);

/* normalization.c: batch norm (training forward/backward, inference) and middle-axis sums. */
int bn_forward(long m, int c, const float *x, const float *gamma, const float *beta, float eps,
               float *y, float *mean, float *var, float *inv_std);
int bn_backward(long m, int c, const float *dy, const float *x, const float *mean, const float *inv_std,
                const float *gamma, float *dx, float *dgamma, float *dbeta);
int bn_inference(long m, int c, const float *x, const float *mean, const float *var, const float *offset,
                 const float *scale, float eps, float *y);
int reduce_middle(long outer, long mid, long inner, const float *x, float *out, double scale);

/* elementwise.c */
void sigmoid_f32(long n, const float *x, float *y);
void relu_f32(long n, const float *x, float *y);
void binary_f32(int kind, long outer, long mid, long inner, const float *big, const float *small, float *out);
void binary_scalar_f32(int kind, long n, const float *big, float s, float *out);
void concat_last(long rows, int count, const float *const *src, const int *widths, int total, float *out);
/* Kinds of binaryOp / unaryOp (the JS side lists the same numbers in native/elementwise-kernels.ts). */
enum { EW_SUB = 0, EW_DIV = 1, EW_SQDIFF = 2 };
enum { EW_SQRT = 0, EW_RSQRT = 1, EW_SQUARE = 2, EW_NEG = 3, EW_ABS = 4, EW_RECIPROCAL = 5, EW_STEP = 6 };
/* 0 for an unknown kind. `scalar`: small holds one value, broadcast everywhere. */
int binary_op_f32(int kind, int reversed, long outer, long mid, long inner, const float *big, const float *small, int scalar, float *out);
int unary_op_f32(int kind, long n, const float *x, double alpha, float *y);
/* Any numpy broadcast: kinds 0 add, 1 multiply, 2 sub, 3 div, 4 squared difference; 0 for a bad kind. */
int broadcast_op_f32(int kind, int rank, const long *shape, const long *as, const long *bs, const float *a, const float *b, float *out);

#endif
