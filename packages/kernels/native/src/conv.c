/*
 * Dense and grouped convolutions: im2col by blocks of output rows + sgemm, a direct form for
 * layers with few output channels, and the input gradient of narrowing stride-1 layers as a
 * forward convolution with the flipped filter.
 */
#include <stdlib.h>
#include <string.h>
#include <omp.h>
#include "kernels.h"

/* Scratch budget for one block of patches, in floats (default 32 MiB; smaller in tests to cover blocking). */
long block_floats = 8L * 1024 * 1024;

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
long direct_min_pixels = 1024;

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

int conv_forward(const Geometry *g, const float *x, const float *f, float *y) {
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
  float *ft = filter_scratch_get((size_t)g->kh * g->kw * g->ci * g->co);
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

int conv_backprop_input(const Geometry *g, const float *dy, const float *f, float *dx) {
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

int conv_backprop_filter(const Geometry *g, const float *x, const float *dy, float *df) {
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
