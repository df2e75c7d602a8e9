#include <stdlib.h>
#include "kernels.h"

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

float *scratch_get(size_t floats) { return grow(&scratch, &scratch_floats, floats); }

float *filter_scratch_get(size_t floats) { return grow(&filter_scratch, &filter_scratch_floats, floats); }

double *partial_sums_alloc(int threads, size_t cells) {
  return calloc((size_t)threads * cells, sizeof(double));
}

void partial_sums_reduce(double *parts, int threads, size_t cells) {
  for (int t = 1; t < threads; t++) {
    const double *p = parts + (size_t)t * cells;
    for (size_t k = 0; k < cells; k++) parts[k] += p[k];
  }
}
