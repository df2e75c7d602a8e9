#include <stdlib.h>
#include <string.h>
#include <omp.h>
#include "kernels.h"

/*
 * Depthwise convolution (channel multiplier 1; g->co is unused): direct loops, with the
 * channels innermost so they vectorise, one output (or input) row per OpenMP iteration.
 */
void dw_forward(const Geometry *g, const float *x, const float *f, float *y) {
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

void dw_backprop_input(const Geometry *g, const float *dy, const float *f, float *dx) {
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

int dw_backprop_filter(const Geometry *g, const float *x, const float *dy, float *df) {
  const int c = g->ci;
  const size_t taps = (size_t)g->kh * g->kw * c;
  const int nt = omp_get_max_threads();
  float *parts = calloc((size_t)nt * taps, sizeof(float));
  if (parts == NULL) return 0;
#pragma omp parallel num_threads(nt)
  {
    float *acc = parts + (size_t)omp_get_thread_num() * taps;
#pragma omp for schedule(static)
    for (long row = 0; row < (long)g->n * g->oh; row++) {
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
  }
  /* Thread order, so the result does not depend on which thread finished first. */
  memset(df, 0, sizeof(float) * taps);
  for (int t = 0; t < nt; t++) {
    for (size_t k = 0; k < taps; k++) df[k] += parts[(size_t)t * taps + k];
  }
  free(parts);
  return 1;
}

/*
 * Max-pool gradient: each window's dy goes to the first position holding its maximum (as tfjs
 * and PyTorch pick it). Windows of output rows `phases` apart never overlap, so each phase's
 * rows run in parallel without two threads adding to the same element.
 */
void maxpool_backprop(const Geometry *g, const float *dy, const float *x, float *dx) {
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
