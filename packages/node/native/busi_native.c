/*
 * busi native kernels: dense convolution (forward and both gradients) and batched matmul for
 * tfjs tensors that live in the wasm backend's heap, computed with the system's BLAS (sgemm)
 * on every core. The caller passes Float32Array views of the wasm memory, so nothing is copied
 * in or out; the BLAS and OpenMP threads only ever touch those views while this call blocks the
 * JavaScript thread, so the heap cannot grow (and move) underneath them.
 *
 * Layouts are tfjs's: activations NHWC, filters HWIO ([kh, kw, ci, co]). A convolution is
 * patches[pixels, kh*kw*ci] x filter[kh*kw*ci, co]; patches are built for a block of output rows
 * at a time so the scratch buffer stays small whatever the image size.
 */
#define NAPI_VERSION 8
#include <node_api.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <omp.h>

/* CBLAS, declared here so any BLAS with the standard symbols links (no header path needed). */
enum { ROW_MAJOR = 101, NO_TRANS = 111, TRANS = 112 };
extern void cblas_sgemm(int order, int transA, int transB, int m, int n, int k, float alpha,
                        const float *a, int lda, const float *b, int ldb, float beta, float *c, int ldc);
extern void openblas_set_num_threads(int n);

/* Scratch budget for one block of patches, in floats (default 32 MiB; smaller in tests to cover blocking). */
static long block_floats = 8L * 1024 * 1024;

typedef struct {
  int n, h, w, ci;     /* input */
  int kh, kw, co;      /* filter */
  int oh, ow;          /* output */
  int sh, sw, dh, dw;  /* strides, dilations */
  int top, left;       /* leading padding (trailing padding is implied by oh, ow) */
  int groups;          /* channel groups of a dense conv (filter [kh, kw, ci/groups, co]); 1 = ungrouped */
} Geometry;

static int threads_wanted = 0;

/*
 * One scratch buffer kept between calls: a fresh multi-MiB malloc per conv is a fresh mmap, and
 * faulting its pages in again on every call cost more system time than the copies themselves.
 * Thread-local because each JavaScript thread (main or worker_threads) calls in from its own
 * thread, and two of them may run convolutions at the same time.
 */
static _Thread_local float *scratch = NULL;
static _Thread_local size_t scratch_floats = 0;

static _Thread_local float *filter_scratch = NULL;
static _Thread_local size_t filter_scratch_floats = 0;

static float *grow(float **buf, size_t *have, size_t floats) {
  if (floats > *have) {
    free(*buf);
    *buf = malloc(sizeof(float) * floats);
    *have = *buf ? floats : 0;
  }
  return *buf;
}

static float *scratch_get(size_t floats) { return grow(&scratch, &scratch_floats, floats); }

static int is_pointwise(const Geometry *g) {
  return g->kh == 1 && g->kw == 1 && g->sh == 1 && g->sw == 1 && g->top == 0 && g->left == 0 &&
         g->oh == g->h && g->ow == g->w;
}

/* Output rows per block: whole rows, at least one, within the scratch budget. */
static int rows_per_block(const Geometry *g) {
  long k = (long)g->kh * g->kw * g->ci;
  long rows = block_floats / (k * g->ow);
  if (rows < 1) rows = 1;
  if (rows > g->oh) rows = g->oh;
  return (int)rows;
}

/*
 * Patches of image b, output rows [y0, y1): one row of kh*kw*ci values per output pixel, ordered
 * [group][tap][channel of the group] so that each group's columns form one block of kh*kw*ci/groups.
 */
static void im2col(const Geometry *g, const float *x, int b, int y0, int y1, float *cols) {
  const int k = g->kh * g->kw * g->ci;
  const int cg = g->ci / g->groups;
  const size_t cbytes = sizeof(float) * cg;
#pragma omp parallel for schedule(static)
  for (int oy = y0; oy < y1; oy++) {
    for (int ox = 0; ox < g->ow; ox++) {
      float *dst = cols + ((size_t)(oy - y0) * g->ow + ox) * k;
      for (int gi = 0; gi < g->groups; gi++) {
        for (int i = 0; i < g->kh; i++) {
          const int iy = oy * g->sh + i * g->dh - g->top;
          for (int j = 0; j < g->kw; j++, dst += cg) {
            const int ix = ox * g->sw + j * g->dw - g->left;
            if (iy < 0 || iy >= g->h || ix < 0 || ix >= g->w) memset(dst, 0, cbytes);
            else memcpy(dst, x + (((size_t)b * g->h + iy) * g->w + ix) * g->ci + (size_t)gi * cg, cbytes);
          }
        }
      }
    }
  }
}

/*
 * Adds the patches of output rows [y0, y1) of image b back onto dx. Gathered per input row so
 * the threads never write the same element.
 */
static void col2im_add(const Geometry *g, const float *cols, int b, int y0, int y1, float *dx) {
  const int k = g->kh * g->kw * g->ci;
  const int cg = g->ci / g->groups;
  const size_t kg = (size_t)g->kh * g->kw * cg;
  int r0 = y0 * g->sh - g->top;
  int r1 = (y1 - 1) * g->sh + (g->kh - 1) * g->dh - g->top + 1;
  if (r0 < 0) r0 = 0;
  if (r1 > g->h) r1 = g->h;
#pragma omp parallel for schedule(static)
  for (int r = r0; r < r1; r++) {
    for (int i = 0; i < g->kh; i++) {
      int oy = r + g->top - i * g->dh;
      if (oy < 0 || oy % g->sh) continue;
      oy /= g->sh;
      if (oy < y0 || oy >= y1) continue;
      for (int c = 0; c < g->w; c++) {
        float *d = dx + (((size_t)b * g->h + r) * g->w + c) * g->ci;
        for (int j = 0; j < g->kw; j++) {
          int ox = c + g->left - j * g->dw;
          if (ox < 0 || ox % g->sw) continue;
          ox /= g->sw;
          if (ox >= g->ow) continue;
          const float *s = cols + ((size_t)(oy - y0) * g->ow + ox) * k + (size_t)(i * g->kw + j) * cg;
          for (int gi = 0; gi < g->groups; gi++) {
            const float *sg = s + gi * kg;
            float *dg = d + (size_t)gi * cg;
            for (int q = 0; q < cg; q++) dg[q] += sg[q];
          }
        }
      }
    }
  }
}


/*
 * Forward convolution for layers with few output channels (decoder tails, segmentation heads).
 * There the GEMM's N is 1-32, so the im2col matrix (kh*kw times the input) is written and read
 * once for very little arithmetic: memory-bound. Here each output row reads a zero-padded copy
 * of the input directly; PIX output pixels x CO channels accumulate in registers (CO is a
 * compile-time constant per instance, so the compiler unrolls and vectorises those loops).
 */
#define DIRECT_PIX 4

/* Zero-padded copy of image b: rows [-top, hp-top), cols [-left, wp-left). */
static void pad_image(const Geometry *g, const float *x, int b, int hp, int wp, float *xp) {
  const size_t row = (size_t)wp * g->ci;
#pragma omp parallel for schedule(static)
  for (int r = 0; r < hp; r++) {
    float *dst = xp + (size_t)r * row;
    const int iy = r - g->top;
    if (iy < 0 || iy >= g->h) {
      memset(dst, 0, sizeof(float) * row);
      continue;
    }
    for (int c = 0; c < wp; c++) {
      const int ix = c - g->left;
      if (ix < 0 || ix >= g->w) memset(dst + (size_t)c * g->ci, 0, sizeof(float) * g->ci);
      else memcpy(dst + (size_t)c * g->ci, x + (((size_t)b * g->h + iy) * g->w + ix) * g->ci, sizeof(float) * g->ci);
    }
  }
}

#define DEFINE_DIRECT(CO)                                                                              \
  static void direct_rows_##CO(const Geometry *g, const float *xp, int wp, const float *f, float *y) { \
    const int ci = g->ci;                                                                              \
    _Pragma("omp parallel for schedule(static)")                                                       \
    for (int oy = 0; oy < g->oh; oy++) {                                                               \
      float *out = y + (size_t)oy * g->ow * CO;                                                        \
      int ox = 0;                                                                                      \
      for (; ox + DIRECT_PIX <= g->ow; ox += DIRECT_PIX) {                                             \
        float acc[DIRECT_PIX][CO] = {{0}};                                                             \
        for (int i = 0; i < g->kh; i++) {                                                              \
          for (int j = 0; j < g->kw; j++) {                                                            \
            const float *w = f + ((size_t)i * g->kw + j) * ci * CO;                                    \
            const float *src[DIRECT_PIX];                                                              \
            for (int p = 0; p < DIRECT_PIX; p++)                                                       \
              src[p] = xp + ((size_t)(oy * g->sh + i * g->dh) * wp + (ox + p) * g->sw + j * g->dw) * ci; \
            for (int c = 0; c < ci; c++) {                                                             \
              const float *wc = w + (size_t)c * CO;                                                    \
              for (int p = 0; p < DIRECT_PIX; p++) {                                                   \
                const float v = src[p][c];                                                             \
                for (int o = 0; o < CO; o++) acc[p][o] += v * wc[o];                                   \
              }                                                                                        \
            }                                                                                          \
          }                                                                                            \
        }                                                                                              \
        for (int p = 0; p < DIRECT_PIX; p++) memcpy(out + (size_t)(ox + p) * CO, acc[p], sizeof acc[p]); \
      }                                                                                                \
      for (; ox < g->ow; ox++) {                                                                       \
        float acc[CO] = {0};                                                                           \
        for (int i = 0; i < g->kh; i++) {                                                              \
          for (int j = 0; j < g->kw; j++) {                                                            \
            const float *w = f + ((size_t)i * g->kw + j) * ci * CO;                                    \
            const float *src = xp + ((size_t)(oy * g->sh + i * g->dh) * wp + ox * g->sw + j * g->dw) * ci; \
            for (int c = 0; c < ci; c++)                                                               \
              for (int o = 0; o < CO; o++) acc[o] += src[c] * w[(size_t)c * CO + o];                   \
          }                                                                                            \
        }                                                                                              \
        memcpy(out + (size_t)ox * CO, acc, sizeof acc);                                                \
      }                                                                                                \
    }                                                                                                  \
  }

DEFINE_DIRECT(8)
DEFINE_DIRECT(16)
DEFINE_DIRECT(32)

/*
 * One output channel: a dot product over kh*kw*ci per pixel. Sixteen channel lanes accumulate
 * over every tap and are summed once per pixel (a horizontal sum per tap would dominate).
 */
static void direct_rows_1(const Geometry *g, const float *xp, int wp, const float *f, float *y) {
  const int ci = g->ci;
  const int body = ci - ci % 16;
#pragma omp parallel for schedule(static)
  for (int oy = 0; oy < g->oh; oy++) {
    for (int ox = 0; ox < g->ow; ox++) {
      float lane[16] = {0};
      float tail = 0;
      for (int i = 0; i < g->kh; i++) {
        for (int j = 0; j < g->kw; j++) {
          const float *w = f + ((size_t)i * g->kw + j) * ci;
          const float *src = xp + ((size_t)(oy * g->sh + i * g->dh) * wp + ox * g->sw + j * g->dw) * ci;
          for (int c = 0; c < body; c += 16)
            for (int q = 0; q < 16; q++) lane[q] += src[c + q] * w[c + q];
          for (int c = body; c < ci; c++) tail += src[c] * w[c];
        }
      }
      for (int q = 0; q < 16; q++) tail += lane[q];
      y[(size_t)oy * g->ow + ox] = tail;
    }
  }
}

/* Output maps of at least this many pixels take the direct form (0: never); settable for tests. */
static long direct_min_pixels = 1024;

/* Whether the direct form takes this layer (few output channels, a map worth the padded copy). */
static int direct_wanted(const Geometry *g) {
  return direct_min_pixels > 0 && (g->co == 1 || g->co == 8 || g->co == 16 || g->co == 32) && g->ci <= 512 &&
         (long)g->oh * g->ow >= direct_min_pixels;
}

static int conv_forward_direct(const Geometry *g, const float *x, const float *f, float *y) {
  const int hp = (g->oh - 1) * g->sh + (g->kh - 1) * g->dh + 1;
  const int wp = (g->ow - 1) * g->sw + (g->kw - 1) * g->dw + 1;
  float *xp = scratch_get((size_t)hp * wp * g->ci);
  if (xp == NULL) return 0;
  for (int b = 0; b < g->n; b++) {
    pad_image(g, x, b, hp, wp, xp);
    float *out = y + (size_t)b * g->oh * g->ow * g->co;
    switch (g->co) {
      case 1: direct_rows_1(g, xp, wp, f, out); break;
      case 8: direct_rows_8(g, xp, wp, f, out); break;
      case 16: direct_rows_16(g, xp, wp, f, out); break;
      default: direct_rows_32(g, xp, wp, f, out); break;
    }
  }
  return 1;
}

static int conv_forward(const Geometry *g, const float *x, const float *f, float *y) {
  const int k = g->kh * g->kw * g->ci;
  const int kg = k / g->groups, cog = g->co / g->groups;
  if (g->groups == 1 && !is_pointwise(g) && direct_wanted(g)) return conv_forward_direct(g, x, f, y);
  if (g->groups == 1 && is_pointwise(g)) {
    cblas_sgemm(ROW_MAJOR, NO_TRANS, NO_TRANS, g->n * g->h * g->w, g->co, g->ci, 1.f, x, g->ci, f, g->co, 0.f, y, g->co);
    return 1;
  }
  const int rows = rows_per_block(g);
  float *cols = scratch_get((size_t)rows * g->ow * k);
  if (cols == NULL) return 0;
  for (int b = 0; b < g->n; b++) {
    for (int y0 = 0; y0 < g->oh; y0 += rows) {
      const int y1 = y0 + rows < g->oh ? y0 + rows : g->oh;
      im2col(g, x, b, y0, y1, cols);
      float *out = y + ((size_t)b * g->oh + y0) * g->ow * g->co;
      for (int gi = 0; gi < g->groups; gi++) {
        cblas_sgemm(ROW_MAJOR, NO_TRANS, NO_TRANS, (y1 - y0) * g->ow, cog, kg, 1.f, cols + (size_t)gi * kg, k,
                    f + (size_t)gi * cog, g->co, 0.f, out + (size_t)gi * cog, g->co);
      }
    }
  }
  return 1;
}

/*
 * Stride-1 input gradient as a forward convolution of dy with the flipped, transposed filter.
 * Its patches have kh*kw*co columns instead of the kh*kw*ci of dy x filter^T followed by col2im,
 * and no scatter: the cheaper form whenever a layer narrows its channels (co < ci).
 */
static int conv_backprop_input_as_conv(const Geometry *g, const float *dy, const float *f, float *dx) {
  float *ft = grow(&filter_scratch, &filter_scratch_floats, (size_t)g->kh * g->kw * g->ci * g->co);
  if (ft == NULL) return 0;
  for (int i = 0; i < g->kh; i++) {
    for (int j = 0; j < g->kw; j++) {
      const float *src = f + ((size_t)(g->kh - 1 - i) * g->kw + (g->kw - 1 - j)) * g->ci * g->co;
      float *dst = ft + ((size_t)i * g->kw + j) * g->co * g->ci;
      for (int c = 0; c < g->ci; c++) {
        for (int o = 0; o < g->co; o++) dst[(size_t)o * g->ci + c] = src[(size_t)c * g->co + o];
      }
    }
  }
  Geometry t = {
      .n = g->n, .h = g->oh, .w = g->ow, .ci = g->co, .kh = g->kh, .kw = g->kw, .co = g->ci,
      .oh = g->h, .ow = g->w, .sh = 1, .sw = 1, .dh = g->dh, .dw = g->dw,
      .top = (g->kh - 1) * g->dh - g->top, .left = (g->kw - 1) * g->dw - g->left, .groups = 1,
  };
  return conv_forward(&t, dy, ft, dx);
}

static int conv_backprop_input(const Geometry *g, const float *dy, const float *f, float *dx) {
  const int k = g->kh * g->kw * g->ci;
  const int kg = k / g->groups, cog = g->co / g->groups;
  if (g->groups == 1 && !is_pointwise(g) && g->sh == 1 && g->sw == 1 && g->co < g->ci) return conv_backprop_input_as_conv(g, dy, f, dx);
  if (g->groups == 1 && is_pointwise(g)) {
    cblas_sgemm(ROW_MAJOR, NO_TRANS, TRANS, g->n * g->h * g->w, g->ci, g->co, 1.f, dy, g->co, f, g->co, 0.f, dx, g->ci);
    return 1;
  }
  memset(dx, 0, sizeof(float) * (size_t)g->n * g->h * g->w * g->ci);
  const int rows = rows_per_block(g);
  float *cols = scratch_get((size_t)rows * g->ow * k);
  if (cols == NULL) return 0;
  for (int b = 0; b < g->n; b++) {
    for (int y0 = 0; y0 < g->oh; y0 += rows) {
      const int y1 = y0 + rows < g->oh ? y0 + rows : g->oh;
      const float *d = dy + ((size_t)b * g->oh + y0) * g->ow * g->co;
      for (int gi = 0; gi < g->groups; gi++) {
        cblas_sgemm(ROW_MAJOR, NO_TRANS, TRANS, (y1 - y0) * g->ow, kg, cog, 1.f, d + (size_t)gi * cog, g->co,
                    f + (size_t)gi * cog, g->co, 0.f, cols + (size_t)gi * kg, k);
      }
      col2im_add(g, cols, b, y0, y1, dx);
    }
  }
  return 1;
}

static int conv_backprop_filter(const Geometry *g, const float *x, const float *dy, float *df) {
  const int k = g->kh * g->kw * g->ci;
  const int kg = k / g->groups, cog = g->co / g->groups;
  if (g->groups == 1 && is_pointwise(g)) {
    cblas_sgemm(ROW_MAJOR, TRANS, NO_TRANS, g->ci, g->co, g->n * g->h * g->w, 1.f, x, g->ci, dy, g->co, 0.f, df, g->co);
    return 1;
  }
  const int rows = rows_per_block(g);
  float *cols = scratch_get((size_t)rows * g->ow * k);
  if (cols == NULL) return 0;
  float beta = 0.f;
  for (int b = 0; b < g->n; b++) {
    for (int y0 = 0; y0 < g->oh; y0 += rows) {
      const int y1 = y0 + rows < g->oh ? y0 + rows : g->oh;
      im2col(g, x, b, y0, y1, cols);
      const float *d = dy + ((size_t)b * g->oh + y0) * g->ow * g->co;
      for (int gi = 0; gi < g->groups; gi++) {
        cblas_sgemm(ROW_MAJOR, TRANS, NO_TRANS, kg, cog, (y1 - y0) * g->ow, 1.f, cols + (size_t)gi * kg, k,
                    d + (size_t)gi * cog, g->co, beta, df + (size_t)gi * cog, g->co);
      }
      beta = 1.f;
    }
  }
  if (beta == 0.f) memset(df, 0, sizeof(float) * (size_t)kg * g->co);
  return 1;
}



/*
 * Depthwise convolution (channel multiplier 1; g->co is unused): direct loops, with the
 * channels innermost so they vectorise, one output (or input) row per OpenMP iteration.
 */
static void dw_forward(const Geometry *g, const float *x, const float *f, float *y) {
  const int c = g->ci;
#pragma omp parallel for schedule(static)
  for (long row = 0; row < (long)g->n * g->oh; row++) {
    const int b = (int)(row / g->oh), oy = (int)(row % g->oh);
    float *out = y + (size_t)row * g->ow * c;
    memset(out, 0, sizeof(float) * (size_t)g->ow * c);
    for (int i = 0; i < g->kh; i++) {
      const int iy = oy * g->sh + i * g->dh - g->top;
      if (iy < 0 || iy >= g->h) continue;
      const float *xrow = x + ((size_t)b * g->h + iy) * g->w * c;
      for (int ox = 0; ox < g->ow; ox++) {
        float *o = out + (size_t)ox * c;
        for (int j = 0; j < g->kw; j++) {
          const int ix = ox * g->sw + j * g->dw - g->left;
          if (ix < 0 || ix >= g->w) continue;
          const float *xp = xrow + (size_t)ix * c;
          const float *fp = f + ((size_t)i * g->kw + j) * c;
          for (int q = 0; q < c; q++) o[q] += xp[q] * fp[q];
        }
      }
    }
  }
}

static void dw_backprop_input(const Geometry *g, const float *dy, const float *f, float *dx) {
  const int c = g->ci;
#pragma omp parallel for schedule(static)
  for (long row = 0; row < (long)g->n * g->h; row++) {
    const int b = (int)(row / g->h), r = (int)(row % g->h);
    float *out = dx + (size_t)row * g->w * c;
    memset(out, 0, sizeof(float) * (size_t)g->w * c);
    for (int i = 0; i < g->kh; i++) {
      int oy = r + g->top - i * g->dh;
      if (oy < 0 || oy % g->sh) continue;
      oy /= g->sh;
      if (oy >= g->oh) continue;
      const float *dyrow = dy + ((size_t)b * g->oh + oy) * g->ow * c;
      for (int col = 0; col < g->w; col++) {
        float *o = out + (size_t)col * c;
        for (int j = 0; j < g->kw; j++) {
          int ox = col + g->left - j * g->dw;
          if (ox < 0 || ox % g->sw) continue;
          ox /= g->sw;
          if (ox >= g->ow) continue;
          const float *dp = dyrow + (size_t)ox * c;
          const float *fp = f + ((size_t)i * g->kw + j) * c;
          for (int q = 0; q < c; q++) o[q] += dp[q] * fp[q];
        }
      }
    }
  }
}

static int dw_backprop_filter(const Geometry *g, const float *x, const float *dy, float *df) {
  const int c = g->ci;
  const size_t taps = (size_t)g->kh * g->kw * c;
  memset(df, 0, sizeof(float) * taps);
  int failed = 0;
#pragma omp parallel
  {
    float *acc = calloc(taps, sizeof(float));
    if (acc == NULL) {
#pragma omp atomic write
      failed = 1;
    }
#pragma omp for schedule(static)
    for (long row = 0; row < (long)g->n * g->oh; row++) {
      if (acc == NULL) continue;
      const int b = (int)(row / g->oh), oy = (int)(row % g->oh);
      const float *dyrow = dy + (size_t)row * g->ow * c;
      for (int i = 0; i < g->kh; i++) {
        const int iy = oy * g->sh + i * g->dh - g->top;
        if (iy < 0 || iy >= g->h) continue;
        const float *xrow = x + ((size_t)b * g->h + iy) * g->w * c;
        for (int j = 0; j < g->kw; j++) {
          float *a = acc + ((size_t)i * g->kw + j) * c;
          for (int ox = 0; ox < g->ow; ox++) {
            const int ix = ox * g->sw + j * g->dw - g->left;
            if (ix < 0 || ix >= g->w) continue;
            const float *xp = xrow + (size_t)ix * c;
            const float *dp = dyrow + (size_t)ox * c;
            for (int q = 0; q < c; q++) a[q] += xp[q] * dp[q];
          }
        }
      }
    }
#pragma omp critical
    if (acc != NULL) {
      for (size_t t = 0; t < taps; t++) df[t] += acc[t];
    }
    free(acc);
  }
  return !failed;
}

/*
 * Max-pool gradient: each window's dy goes to the first position holding its maximum (as tfjs
 * and PyTorch pick it). Windows of output rows `phases` apart never overlap, so each phase's
 * rows run in parallel without two threads adding to the same element.
 */
static void maxpool_backprop(const Geometry *g, const float *dy, const float *x, float *dx) {
  const int c = g->ci;
  memset(dx, 0, sizeof(float) * (size_t)g->n * g->h * g->w * c);
  const int extent = (g->kh - 1) * g->dh + 1;
  const int phases = (extent + g->sh - 1) / g->sh;
  for (int phase = 0; phase < phases; phase++) {
#pragma omp parallel for schedule(static)
    for (long row = 0; row < (long)g->n * g->oh; row++) {
      const int b = (int)(row / g->oh), oy = (int)(row % g->oh);
      if (oy % phases != phase) continue;
      for (int ox = 0; ox < g->ow; ox++) {
        const float *d = dy + ((size_t)row * g->ow + ox) * c;
        for (int q = 0; q < c; q++) {
          float best = 0;
          long at = -1;
          for (int i = 0; i < g->kh; i++) {
            const int iy = oy * g->sh + i * g->dh - g->top;
            if (iy < 0 || iy >= g->h) continue;
            for (int j = 0; j < g->kw; j++) {
              const int ix = ox * g->sw + j * g->dw - g->left;
              if (ix < 0 || ix >= g->w) continue;
              const long idx = (((long)b * g->h + iy) * g->w + ix) * c + q;
              if (at < 0 || x[idx] > best) {
                best = x[idx];
                at = idx;
              }
            }
          }
          if (at >= 0) dx[at] += d[q];
        }
      }
    }
  }
}

/*
 * Training-mode batch normalisation over the rows of x [m, c] (NHWC flattened), forward and
 * backward, each in two passes over the data on every core. The per-channel sums are kept in
 * double, so the one-pass variance E[x^2] - mean^2 does not lose the precision a float would.
 */
static int bn_forward(long m, int c, const float *x, const float *gamma, const float *beta, float eps,
                      float *y, float *mean, float *var, float *inv_std) {
  double *sum = calloc((size_t)2 * c, sizeof(double));
  if (sum == NULL) return 0;
  double *sq = sum + c;
#pragma omp parallel
  {
    double *ls = calloc((size_t)2 * c, sizeof(double));
    double *lq = ls ? ls + c : NULL;
#pragma omp for schedule(static)
    for (long r = 0; r < m; r++) {
      if (ls == NULL) continue;
      const float *row = x + r * c;
      for (int q = 0; q < c; q++) {
        const double v = row[q];
        ls[q] += v;
        lq[q] += v * v;
      }
    }
#pragma omp critical
    if (ls != NULL) {
      for (int q = 0; q < c; q++) {
        sum[q] += ls[q];
        sq[q] += lq[q];
      }
    }
    free(ls);
  }
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

static int bn_backward(long m, int c, const float *dy, const float *x, const float *mean, const float *inv_std,
                       const float *gamma, float *dx, float *dgamma, float *dbeta) {
  double *sdy = calloc((size_t)2 * c, sizeof(double));
  if (sdy == NULL) return 0;
  double *sdyxc = sdy + c;
#pragma omp parallel
  {
    double *ls = calloc((size_t)2 * c, sizeof(double));
    double *lx = ls ? ls + c : NULL;
#pragma omp for schedule(static)
    for (long r = 0; r < m; r++) {
      if (ls == NULL) continue;
      const float *g = dy + r * c;
      const float *row = x + r * c;
      for (int q = 0; q < c; q++) {
        ls[q] += g[q];
        lx[q] += (double)g[q] * (row[q] - mean[q]);
      }
    }
#pragma omp critical
    if (ls != NULL) {
      for (int q = 0; q < c; q++) {
        sdy[q] += ls[q];
        sdyxc[q] += lx[q];
      }
    }
    free(ls);
  }
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
static int reduce_middle(long outer, long mid, long inner, const float *x, float *out, double scale) {
  const size_t cells = (size_t)outer * inner;
  double *total = calloc(cells, sizeof(double));
  if (total == NULL) return 0;
  int failed = 0;
#pragma omp parallel
  {
    double *acc = calloc(cells, sizeof(double));
    if (acc == NULL) {
#pragma omp atomic write
      failed = 1;
    }
#pragma omp for schedule(static) collapse(2)
    for (long o = 0; o < outer; o++) {
      for (long m = 0; m < mid; m++) {
        if (acc == NULL) continue;
        const float *row = x + ((size_t)o * mid + m) * inner;
        double *a = acc + (size_t)o * inner;
        for (long q = 0; q < inner; q++) a[q] += row[q];
      }
    }
#pragma omp critical
    if (acc != NULL) {
      for (size_t t = 0; t < cells; t++) total[t] += acc[t];
    }
    free(acc);
  }
  for (size_t t = 0; t < cells; t++) out[t] = (float)(total[t] * scale);
  free(total);
  return !failed;
}

/* Inference batch norm: y = (x - mean) * scale / sqrt(var + eps) + offset per channel (x is [m, c]). */
static int bn_inference(long m, int c, const float *x, const float *mean, const float *var, const float *offset,
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

static void sigmoid_f32(long n, const float *x, float *y) {
#pragma omp parallel for simd schedule(static)
  for (long i = 0; i < n; i++) y[i] = 1.f / (1.f + exp_vec(-x[i]));
}

static void relu_f32(long n, const float *x, float *y) {
#pragma omp parallel for simd schedule(static)
  for (long i = 0; i < n; i++) y[i] = x[i] < 0.f ? 0.f : x[i]; /* NaN stays NaN, as in tfjs */
}

/* out = big (+ or *) the scalar s. */
static void binary_scalar_f32(int kind, long n, const float *big, float s, float *out) {
#pragma omp parallel for simd schedule(static)
  for (long i = 0; i < n; i++) out[i] = kind == 0 ? big[i] + s : big[i] * s;
}

/*
 * Concatenation along the last axis: each of the `rows` rows of the output is the inputs' rows
 * side by side (widths[k] floats from input k).
 */
static void concat_last(long rows, int count, const float *const *src, const int *widths, int total, float *out) {
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
static void binary_f32(int kind, long outer, long mid, long inner, const float *big, const float *small, float *out) {
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

/* ---- N-API glue ---- */

#define CHECK(env, call)                                                \
  do {                                                                  \
    if ((call) != napi_ok) {                                            \
      napi_throw_error((env), NULL, "busi native: N-API call failed");  \
      return NULL;                                                      \
    }                                                                   \
  } while (0)

static int get_floats(napi_env env, napi_value v, float **data, size_t *length, const char *what) {
  napi_typedarray_type type;
  size_t len;
  void *ptr;
  if (napi_get_typedarray_info(env, v, &type, &len, &ptr, NULL, NULL) != napi_ok || type != napi_float32_array) {
    char msg[128];
    snprintf(msg, sizeof msg, "busi native: %s must be a Float32Array", what);
    napi_throw_type_error(env, NULL, msg);
    return 0;
  }
  *data = ptr;
  *length = len;
  return 1;
}

static int get_ints(napi_env env, napi_value v, int *out, size_t count, const char *what) {
  napi_typedarray_type type;
  size_t len;
  void *ptr;
  if (napi_get_typedarray_info(env, v, &type, &len, &ptr, NULL, NULL) != napi_ok || type != napi_int32_array || len != count) {
    char msg[128];
    snprintf(msg, sizeof msg, "busi native: %s must be an Int32Array of %zu values", what, count);
    napi_throw_type_error(env, NULL, msg);
    return 0;
  }
  memcpy(out, ptr, sizeof(int) * count);
  return 1;
}

static void apply_threads(void) {
  if (threads_wanted > 0) {
    openblas_set_num_threads(threads_wanted);
    omp_set_num_threads(threads_wanted);
  }
}

/* Checks the sizes, and that x, the filter and y hold n*h*w*ci, `filter_len` and n*oh*ow*co floats. */
static int check_sizes(napi_env env, const Geometry *g, size_t xl, size_t fl, size_t yl, size_t filter_len) {
  const int v[] = {g->n, g->h, g->w, g->ci, g->kh, g->kw, g->co, g->oh, g->ow, g->sh, g->sw, g->dh, g->dw};
  for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
    if (v[i] <= 0) {
      napi_throw_range_error(env, NULL, "busi native: conv geometry has a non-positive size");
      return 0;
    }
  }
  if (xl != (size_t)g->n * g->h * g->w * g->ci || fl != filter_len ||
      yl != (size_t)g->n * g->oh * g->ow * g->co) {
    napi_throw_range_error(env, NULL, "busi native: conv array lengths do not match the geometry");
    return 0;
  }
  return 1;
}

static int check_geometry(napi_env env, const Geometry *g, size_t xl, size_t fl, size_t yl) {
  if (g->groups < 1 || g->ci % g->groups || g->co % g->groups) {
    napi_throw_range_error(env, NULL, "busi native: groups must divide the input and output channels");
    return 0;
  }
  return check_sizes(env, g, xl, fl, yl, (size_t)g->kh * g->kw * (g->ci / g->groups) * g->co);
}

/* Depthwise (multiplier 1) and pooling geometries: co must equal ci. */
static int check_depthwise(napi_env env, const Geometry *g, size_t xl, size_t fl, size_t yl, int has_filter) {
  if (g->co != g->ci) {
    napi_throw_range_error(env, NULL, "busi native: depthwise and pooling geometries need co == ci");
    return 0;
  }
  return check_sizes(env, g, xl, fl, yl, has_filter ? (size_t)g->kh * g->kw * g->ci : fl);
}

/*
 * conv(kind, a, b, out, geometry). Dense: 0 forward (x, f -> y), 1 input grad (dy, f -> dx),
 * 2 filter grad (x, dy -> df). Depthwise, multiplier 1 (co == ci): 3, 4, 5 likewise.
 * 6: max-pool gradient (dy, x -> dx) over a kh x kw window (co == ci).
 */
static napi_value conv(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc != 5 && argc != 6) {
    napi_throw_type_error(env, NULL, "busi native: conv(kind, a, b, out, geometry[, groups]) takes 5 or 6 arguments");
    return NULL;
  }
  int kind;
  CHECK(env, napi_get_value_int32(env, argv[0], &kind));
  float *a, *b, *out;
  size_t al, bl, ol;
  Geometry g;
  if (!get_floats(env, argv[1], &a, &al, "argument a") || !get_floats(env, argv[2], &b, &bl, "argument b") ||
      !get_floats(env, argv[3], &out, &ol, "argument out") || !get_ints(env, argv[4], (int *)&g, 15, "geometry")) {
    return NULL;
  }
  g.groups = 1;
  if (argc == 6) CHECK(env, napi_get_value_int32(env, argv[5], &g.groups));
  if (g.groups != 1 && kind > 2) {
    napi_throw_range_error(env, NULL, "busi native: groups apply to dense convolutions (kinds 0-2) only");
    return NULL;
  }
  apply_threads();
  int ok;
  switch (kind) {
    case 0:
      if (!check_geometry(env, &g, al, bl, ol)) return NULL;
      ok = conv_forward(&g, a, b, out);
      break;
    case 1:
      if (!check_geometry(env, &g, ol, bl, al)) return NULL;
      ok = conv_backprop_input(&g, a, b, out);
      break;
    case 2:
      if (!check_geometry(env, &g, al, ol, bl)) return NULL;
      ok = conv_backprop_filter(&g, a, b, out);
      break;
    case 3:
      if (!check_depthwise(env, &g, al, bl, ol, 1)) return NULL;
      dw_forward(&g, a, b, out);
      ok = 1;
      break;
    case 4:
      if (!check_depthwise(env, &g, ol, bl, al, 1)) return NULL;
      dw_backprop_input(&g, a, b, out);
      ok = 1;
      break;
    case 5:
      if (!check_depthwise(env, &g, al, ol, bl, 1)) return NULL;
      ok = dw_backprop_filter(&g, a, b, out);
      break;
    case 6:
      /* a = dy, b = x (the pooled input), out = dx; the window is kh x kw, g.co == g.ci. */
      if (!check_depthwise(env, &g, bl, ol, al, 0)) return NULL;
      if (bl != ol) {
        napi_throw_range_error(env, NULL, "busi native: max-pool gradient input and dx lengths differ");
        return NULL;
      }
      maxpool_backprop(&g, a, b, out);
      ok = 1;
      break;
    default:
      napi_throw_range_error(env, NULL, "busi native: conv kind must be 0 to 6");
      return NULL;
  }
  if (!ok) napi_throw_error(env, NULL, "busi native: out of memory for the conv scratch buffer");
  return NULL;
}

/*
 * matmul(a, b, out, dims): dims = [batchA, batchB, m, n, k, transA, transB]; a is [batchA, m, k]
 * (or [batchA, k, m] transposed), b is [batchB, k, n] (or [batchB, n, k]); a batch of 1 broadcasts.
 */
static napi_value matmul(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc != 4) {
    napi_throw_type_error(env, NULL, "busi native: matmul(a, b, out, dims) takes 4 arguments");
    return NULL;
  }
  float *a, *b, *out;
  size_t al, bl, ol;
  int d[7];
  if (!get_floats(env, argv[0], &a, &al, "argument a") || !get_floats(env, argv[1], &b, &bl, "argument b") ||
      !get_floats(env, argv[2], &out, &ol, "argument out") || !get_ints(env, argv[3], d, 7, "dims")) {
    return NULL;
  }
  const int ba = d[0], bb = d[1], m = d[2], n = d[3], k = d[4], ta = d[5], tb = d[6];
  const int batch = ba > bb ? ba : bb;
  if (ba <= 0 || bb <= 0 || m < 0 || n < 0 || k < 0 || (ba != bb && ba != 1 && bb != 1) ||
      al != (size_t)ba * m * k || bl != (size_t)bb * k * n || ol != (size_t)batch * m * n) {
    napi_throw_range_error(env, NULL, "busi native: matmul array lengths do not match the dims");
    return NULL;
  }
  apply_threads();
  for (int i = 0; i < batch; i++) {
    const float *ai = a + (ba == 1 ? 0 : (size_t)i * m * k);
    const float *bi = b + (bb == 1 ? 0 : (size_t)i * k * n);
    float *oi = out + (size_t)i * m * n;
    if (k == 0) {
      memset(oi, 0, sizeof(float) * (size_t)m * n);
      continue;
    }
    cblas_sgemm(ROW_MAJOR, ta ? TRANS : NO_TRANS, tb ? TRANS : NO_TRANS, m, n, k, 1.f, ai, ta ? m : k, bi, tb ? k : n, 0.f, oi, n);
  }
  return NULL;
}


/* bnForward(x, gamma, beta, y, mean, variance, invStd, eps): x and y are [m, c] with c = gamma.length. */
static napi_value bn_forward_js(napi_env env, napi_callback_info info) {
  size_t argc = 8;
  napi_value argv[8];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc != 8) {
    napi_throw_type_error(env, NULL, "busi native: bnForward(x, gamma, beta, y, mean, variance, invStd, eps) takes 8 arguments");
    return NULL;
  }
  float *x, *gamma, *beta, *y, *mean, *var, *inv;
  size_t xl, gl, bl, yl, ml, vl, il;
  double eps;
  if (!get_floats(env, argv[0], &x, &xl, "x") || !get_floats(env, argv[1], &gamma, &gl, "gamma") ||
      !get_floats(env, argv[2], &beta, &bl, "beta") || !get_floats(env, argv[3], &y, &yl, "y") ||
      !get_floats(env, argv[4], &mean, &ml, "mean") || !get_floats(env, argv[5], &var, &vl, "variance") ||
      !get_floats(env, argv[6], &inv, &il, "invStd")) {
    return NULL;
  }
  CHECK(env, napi_get_value_double(env, argv[7], &eps));
  const size_t c = gl;
  if (c == 0 || xl % c || yl != xl || bl != c || ml != c || vl != c || il != c) {
    napi_throw_range_error(env, NULL, "busi native: bnForward array lengths do not match (x and y [m, c], the rest [c])");
    return NULL;
  }
  apply_threads();
  if (!bn_forward((long)(xl / c), (int)c, x, gamma, beta, (float)eps, y, mean, var, inv)) {
    napi_throw_error(env, NULL, "busi native: out of memory in bnForward");
  }
  return NULL;
}

/* bnBackward(dy, x, mean, invStd, gamma, dx, dgamma, dbeta). */
static napi_value bn_backward_js(napi_env env, napi_callback_info info) {
  size_t argc = 8;
  napi_value argv[8];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc != 8) {
    napi_throw_type_error(env, NULL, "busi native: bnBackward(dy, x, mean, invStd, gamma, dx, dgamma, dbeta) takes 8 arguments");
    return NULL;
  }
  float *dy, *x, *mean, *inv, *gamma, *dx, *dg, *db;
  size_t dyl, xl, ml, il, gl, dxl, dgl, dbl;
  if (!get_floats(env, argv[0], &dy, &dyl, "dy") || !get_floats(env, argv[1], &x, &xl, "x") ||
      !get_floats(env, argv[2], &mean, &ml, "mean") || !get_floats(env, argv[3], &inv, &il, "invStd") ||
      !get_floats(env, argv[4], &gamma, &gl, "gamma") || !get_floats(env, argv[5], &dx, &dxl, "dx") ||
      !get_floats(env, argv[6], &dg, &dgl, "dgamma") || !get_floats(env, argv[7], &db, &dbl, "dbeta")) {
    return NULL;
  }
  const size_t c = gl;
  if (c == 0 || xl % c || dyl != xl || dxl != xl || ml != c || il != c || dgl != c || dbl != c) {
    napi_throw_range_error(env, NULL, "busi native: bnBackward array lengths do not match (dy, x, dx [m, c], the rest [c])");
    return NULL;
  }
  apply_threads();
  if (!bn_backward((long)(xl / c), (int)c, dy, x, mean, inv, gamma, dx, dg, db)) {
    napi_throw_error(env, NULL, "busi native: out of memory in bnBackward");
  }
  return NULL;
}


/* reduceMiddle(x, out, [outer, mid, inner], scale): out[o, i] = scale * sum over m of x[o, m, i]. */
static napi_value reduce_middle_js(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc != 4) {
    napi_throw_type_error(env, NULL, "busi native: reduceMiddle(x, out, dims, scale) takes 4 arguments");
    return NULL;
  }
  float *x, *out;
  size_t xl, ol;
  int d[3];
  double scale;
  if (!get_floats(env, argv[0], &x, &xl, "x") || !get_floats(env, argv[1], &out, &ol, "out") || !get_ints(env, argv[2], d, 3, "dims")) return NULL;
  CHECK(env, napi_get_value_double(env, argv[3], &scale));
  if (d[0] <= 0 || d[1] <= 0 || d[2] <= 0 || xl != (size_t)d[0] * d[1] * d[2] || ol != (size_t)d[0] * d[2]) {
    napi_throw_range_error(env, NULL, "busi native: reduceMiddle array lengths do not match the dims");
    return NULL;
  }
  apply_threads();
  if (!reduce_middle(d[0], d[1], d[2], x, out, scale)) napi_throw_error(env, NULL, "busi native: out of memory in reduceMiddle");
  return NULL;
}

/* bnInference(x, mean, variance, offset | null, scale | null, y, eps). */
static napi_value bn_inference_js(napi_env env, napi_callback_info info) {
  size_t argc = 7;
  napi_value argv[7];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc != 7) {
    napi_throw_type_error(env, NULL, "busi native: bnInference(x, mean, variance, offset, scale, y, eps) takes 7 arguments");
    return NULL;
  }
  float *x, *mean, *var, *offset = NULL, *scale = NULL, *y;
  size_t xl, ml, vl, offl = 0, scl = 0, yl;
  napi_valuetype t;
  if (!get_floats(env, argv[0], &x, &xl, "x") || !get_floats(env, argv[1], &mean, &ml, "mean") ||
      !get_floats(env, argv[2], &var, &vl, "variance") || !get_floats(env, argv[5], &y, &yl, "y")) {
    return NULL;
  }
  CHECK(env, napi_typeof(env, argv[3], &t));
  if (t != napi_null && !get_floats(env, argv[3], &offset, &offl, "offset")) return NULL;
  CHECK(env, napi_typeof(env, argv[4], &t));
  if (t != napi_null && !get_floats(env, argv[4], &scale, &scl, "scale")) return NULL;
  double eps;
  CHECK(env, napi_get_value_double(env, argv[6], &eps));
  const size_t c = ml;
  if (c == 0 || xl % c || yl != xl || vl != c || (offset && offl != c) || (scale && scl != c)) {
    napi_throw_range_error(env, NULL, "busi native: bnInference array lengths do not match (x and y [m, c], the rest [c])");
    return NULL;
  }
  apply_threads();
  if (!bn_inference((long)(xl / c), (int)c, x, mean, var, offset, scale, (float)eps, y)) napi_throw_error(env, NULL, "busi native: out of memory in bnInference");
  return NULL;
}


/* unary(kind, x, y): 0 relu, 1 sigmoid. */
static napi_value unary_js(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int kind;
  float *x, *y;
  size_t xl, yl;
  if (argc != 3) {
    napi_throw_type_error(env, NULL, "busi native: unary(kind, x, y) takes 3 arguments");
    return NULL;
  }
  CHECK(env, napi_get_value_int32(env, argv[0], &kind));
  if (!get_floats(env, argv[1], &x, &xl, "x") || !get_floats(env, argv[2], &y, &yl, "y")) return NULL;
  if (xl != yl || kind < 0 || kind > 1) {
    napi_throw_range_error(env, NULL, "busi native: unary needs kind 0 (relu) or 1 (sigmoid) and x, y of one length");
    return NULL;
  }
  apply_threads();
  if (kind == 0) relu_f32((long)xl, x, y);
  else sigmoid_f32((long)xl, x, y);
  return NULL;
}

/* binary(kind, big, small, out, [outer, mid, inner]): kind 0 add, 1 multiply; small is [outer, inner]. */
static napi_value binary_js(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int kind, d[3];
  float *a, *b, *out;
  size_t al, bl, ol;
  if (argc != 5) {
    napi_throw_type_error(env, NULL, "busi native: binary(kind, big, small, out, dims) takes 5 arguments");
    return NULL;
  }
  CHECK(env, napi_get_value_int32(env, argv[0], &kind));
  if (!get_floats(env, argv[1], &a, &al, "big") || !get_floats(env, argv[2], &b, &bl, "small") ||
      !get_floats(env, argv[3], &out, &ol, "out") || !get_ints(env, argv[4], d, 3, "dims")) {
    return NULL;
  }
  if (kind < 0 || kind > 1 || d[0] <= 0 || d[1] <= 0 || d[2] <= 0 || al != (size_t)d[0] * d[1] * d[2] ||
      ol != al || (bl != (size_t)d[0] * d[2] && bl != 1)) {
    napi_throw_range_error(env, NULL, "busi native: binary array lengths do not match the dims");
    return NULL;
  }
  apply_threads();
  if (bl == 1 && (size_t)d[0] * d[2] != 1) binary_scalar_f32(kind, (long)al, a, b[0], out);
  else binary_f32(kind, d[0], d[1], d[2], a, b, out);
  return NULL;
}


/* concatLast(inputs: Float32Array[], out, rows): concatenation along the last axis. */
static napi_value concat_last_js(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc != 3) {
    napi_throw_type_error(env, NULL, "busi native: concatLast(inputs, out, rows) takes 3 arguments");
    return NULL;
  }
  uint32_t count;
  int64_t rows;
  float *out;
  size_t ol;
  CHECK(env, napi_get_array_length(env, argv[0], &count));
  CHECK(env, napi_get_value_int64(env, argv[2], &rows));
  if (!get_floats(env, argv[1], &out, &ol, "out")) return NULL;
  if (count == 0 || rows <= 0 || ol % (size_t)rows) {
    napi_throw_range_error(env, NULL, "busi native: concatLast needs inputs and an output of whole rows");
    return NULL;
  }
  const float **src = malloc(sizeof(float *) * count);
  int *widths = malloc(sizeof(int) * count);
  if (src == NULL || widths == NULL) {
    free(src);
    free(widths);
    napi_throw_error(env, NULL, "busi native: out of memory in concatLast");
    return NULL;
  }
  size_t total = 0;
  for (uint32_t k = 0; k < count; k++) {
    napi_value item;
    float *data = NULL;
    size_t len = 0;
    const int ok = napi_get_element(env, argv[0], k, &item) == napi_ok && get_floats(env, item, &data, &len, "each input");
    if (!ok || len % (size_t)rows) {
      free(src);
      free(widths);
      if (ok) napi_throw_range_error(env, NULL, "busi native: concatLast input is not whole rows");
      return NULL;
    }
    src[k] = data;
    widths[k] = (int)(len / (size_t)rows);
    total += len / (size_t)rows;
  }
  if (total * (size_t)rows != ol) {
    free(src);
    free(widths);
    napi_throw_range_error(env, NULL, "busi native: concatLast output length is not the sum of the inputs");
    return NULL;
  }
  apply_threads();
  concat_last((long)rows, (int)count, src, widths, (int)total, out);
  free(src);
  free(widths);
  return NULL;
}

/* setThreads(n): threads for BLAS and the patch loops (0 = the libraries' defaults). */
static napi_value set_threads(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int n = 0;
  if (argc >= 1) CHECK(env, napi_get_value_int32(env, argv[0], &n));
  threads_wanted = n < 0 ? 0 : n;
  return NULL;
}

/* setBlockFloats(n): scratch floats per block of patches (0 = default); returns the previous value. */
static napi_value set_block_floats(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int64_t n = 0;
  if (argc >= 1) CHECK(env, napi_get_value_int64(env, argv[0], &n));
  napi_value prev;
  CHECK(env, napi_create_int64(env, block_floats, &prev));
  block_floats = n > 0 ? n : 8L * 1024 * 1024;
  return prev;
}

/* setDirectMinPixels(n): maps of at least n output pixels use the direct small-channel conv (0 = never); returns the previous value. */
static napi_value set_direct_min_pixels(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int64_t n = 1024;
  if (argc >= 1) CHECK(env, napi_get_value_int64(env, argv[0], &n));
  napi_value prev;
  CHECK(env, napi_create_int64(env, direct_min_pixels, &prev));
  direct_min_pixels = n < 0 ? 0 : n;
  return prev;
}

static napi_value get_threads(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value v;
  CHECK(env, napi_create_int32(env, threads_wanted > 0 ? threads_wanted : omp_get_max_threads(), &v));
  return v;
}

NAPI_MODULE_INIT() {
  napi_property_descriptor props[] = {
      {"conv", NULL, conv, NULL, NULL, NULL, napi_enumerable, NULL},
      {"matmul", NULL, matmul, NULL, NULL, NULL, napi_enumerable, NULL},
      {"setThreads", NULL, set_threads, NULL, NULL, NULL, napi_enumerable, NULL},
      {"getThreads", NULL, get_threads, NULL, NULL, NULL, napi_enumerable, NULL},
      {"setDirectMinPixels", NULL, set_direct_min_pixels, NULL, NULL, NULL, napi_enumerable, NULL},
      {"setBlockFloats", NULL, set_block_floats, NULL, NULL, NULL, napi_enumerable, NULL},
      {"concatLast", NULL, concat_last_js, NULL, NULL, NULL, napi_enumerable, NULL},
      {"unary", NULL, unary_js, NULL, NULL, NULL, napi_enumerable, NULL},
      {"binary", NULL, binary_js, NULL, NULL, NULL, napi_enumerable, NULL},
      {"reduceMiddle", NULL, reduce_middle_js, NULL, NULL, NULL, napi_enumerable, NULL},
      {"bnInference", NULL, bn_inference_js, NULL, NULL, NULL, napi_enumerable, NULL},
      {"bnForward", NULL, bn_forward_js, NULL, NULL, NULL, napi_enumerable, NULL},
      {"bnBackward", NULL, bn_backward_js, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  if (napi_define_properties(env, exports, sizeof props / sizeof props[0], props) != napi_ok) return NULL;
  return exports;
}
