/*
 * The Node-API surface of the busi native kernels: argument checks (every length against the
 * geometry, with messages naming the argument), thread control, and one function per kernel.
 * See ../../src/native/addon.ts for the JavaScript view of it.
 */
#define NAPI_VERSION 8
#include <node_api.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <omp.h>
#include "kernels.h"

static int threads_wanted = 0;


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

/*
 * Reads between `min` and `max` arguments into argv (missing ones are undefined); returns how many
 * were given, or 0 after throwing a TypeError that quotes `signature`.
 */
static size_t get_args(napi_env env, napi_callback_info info, size_t min, size_t max, napi_value *argv, const char *signature) {
  size_t argc = max;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) {
    napi_throw_error(env, NULL, "busi native: N-API call failed");
    return 0;
  }
  if (argc < min || argc > max) {
    char msg[192];
    if (min == max) snprintf(msg, sizeof msg, "busi native: %s takes %zu arguments", signature, min);
    else snprintf(msg, sizeof msg, "busi native: %s takes %zu or %zu arguments", signature, min, max);
    napi_throw_type_error(env, NULL, msg);
    return 0;
  }
  return argc;
}

/* Reads argv[0..count) as Float32Arrays named `names` (for the error message) into data and lengths. */
static int get_float_args(napi_env env, const napi_value *argv, size_t count, const char *const *names, float **data, size_t *lengths) {
  for (size_t i = 0; i < count; i++) {
    if (!get_floats(env, argv[i], &data[i], &lengths[i], names[i])) return 0;
  }
  return 1;
}

static void apply_threads(void) {
  if (threads_wanted > 0) {
    if (openblas_set_num_threads) openblas_set_num_threads(threads_wanted);
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
  napi_value argv[6];
  const size_t argc = get_args(env, info, 5, 6, argv, "conv(kind, a, b, out, geometry[, groups])");
  if (argc == 0) return NULL;
  int kind;
  CHECK(env, napi_get_value_int32(env, argv[0], &kind));
  static const char *const names[] = {"argument a", "argument b", "argument out"};
  float *p[3];
  size_t len[3];
  Geometry g;
  if (!get_float_args(env, argv + 1, 3, names, p, len) || !get_ints(env, argv[4], (int *)&g, 15, "geometry")) return NULL;
  float *a = p[0], *b = p[1], *out = p[2];
  const size_t al = len[0], bl = len[1], ol = len[2];
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
  napi_value argv[4];
  if (!get_args(env, info, 4, 4, argv, "matmul(a, b, out, dims)")) return NULL;
  static const char *const names[] = {"argument a", "argument b", "argument out"};
  float *p[3];
  size_t len[3];
  int d[7];
  if (!get_float_args(env, argv, 3, names, p, len) || !get_ints(env, argv[3], d, 7, "dims")) return NULL;
  const float *a = p[0], *b = p[1];
  float *out = p[2];
  const size_t al = len[0], bl = len[1], ol = len[2];
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
  napi_value argv[8];
  if (!get_args(env, info, 8, 8, argv, "bnForward(x, gamma, beta, y, mean, variance, invStd, eps)")) return NULL;
  static const char *const names[] = {"x", "gamma", "beta", "y", "mean", "variance", "invStd"};
  float *p[7];
  size_t len[7];
  double eps;
  if (!get_float_args(env, argv, 7, names, p, len)) return NULL;
  float *x = p[0], *gamma = p[1], *beta = p[2], *y = p[3], *mean = p[4], *var = p[5], *inv = p[6];
  const size_t xl = len[0], gl = len[1], bl = len[2], yl = len[3], ml = len[4], vl = len[5], il = len[6];
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
  napi_value argv[8];
  if (!get_args(env, info, 8, 8, argv, "bnBackward(dy, x, mean, invStd, gamma, dx, dgamma, dbeta)")) return NULL;
  static const char *const names[] = {"dy", "x", "mean", "invStd", "gamma", "dx", "dgamma", "dbeta"};
  float *p[8];
  size_t len[8];
  if (!get_float_args(env, argv, 8, names, p, len)) return NULL;
  float *dy = p[0], *x = p[1], *mean = p[2], *inv = p[3], *gamma = p[4], *dx = p[5], *dg = p[6], *db = p[7];
  const size_t dyl = len[0], xl = len[1], ml = len[2], il = len[3], gl = len[4], dxl = len[5], dgl = len[6], dbl = len[7];
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
  napi_value argv[4];
  if (!get_args(env, info, 4, 4, argv, "reduceMiddle(x, out, dims, scale)")) return NULL;
  static const char *const names[] = {"x", "out"};
  float *p[2];
  size_t len[2];
  int d[3];
  double scale;
  if (!get_float_args(env, argv, 2, names, p, len) || !get_ints(env, argv[2], d, 3, "dims")) return NULL;
  const float *x = p[0];
  float *out = p[1];
  const size_t xl = len[0], ol = len[1];
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
  napi_value argv[7];
  if (!get_args(env, info, 7, 7, argv, "bnInference(x, mean, variance, offset, scale, y, eps)")) return NULL;
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
  napi_value argv[3];
  if (!get_args(env, info, 3, 3, argv, "unary(kind, x, y)")) return NULL;
  int kind;
  CHECK(env, napi_get_value_int32(env, argv[0], &kind));
  static const char *const names[] = {"x", "y"};
  float *p[2];
  size_t len[2];
  if (!get_float_args(env, argv + 1, 2, names, p, len)) return NULL;
  const float *x = p[0];
  float *y = p[1];
  const size_t xl = len[0], yl = len[1];
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
  napi_value argv[5];
  if (!get_args(env, info, 5, 5, argv, "binary(kind, big, small, out, dims)")) return NULL;
  int kind, d[3];
  CHECK(env, napi_get_value_int32(env, argv[0], &kind));
  static const char *const names[] = {"big", "small", "out"};
  float *p[3];
  size_t len[3];
  if (!get_float_args(env, argv + 1, 3, names, p, len) || !get_ints(env, argv[4], d, 3, "dims")) return NULL;
  const float *a = p[0], *b = p[1];
  float *out = p[2];
  const size_t al = len[0], bl = len[1], ol = len[2];
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


/* binaryOp(kind, reversed, big, small, out, [outer, mid, inner]): sub, div or squared difference; small is [outer, inner] or one value. */
static napi_value binary_op_js(napi_env env, napi_callback_info info) {
  napi_value argv[6];
  if (!get_args(env, info, 6, 6, argv, "binaryOp(kind, reversed, big, small, out, dims)")) return NULL;
  int kind, reversed, d[3];
  CHECK(env, napi_get_value_int32(env, argv[0], &kind));
  CHECK(env, napi_get_value_int32(env, argv[1], &reversed));
  static const char *const names[] = {"big", "small", "out"};
  float *p[3];
  size_t len[3];
  if (!get_float_args(env, argv + 2, 3, names, p, len) || !get_ints(env, argv[5], d, 3, "dims")) return NULL;
  const size_t al = len[0], bl = len[1], ol = len[2];
  if (d[0] <= 0 || d[1] <= 0 || d[2] <= 0 || al != (size_t)d[0] * d[1] * d[2] || ol != al ||
      (bl != (size_t)d[0] * d[2] && bl != 1)) {
    napi_throw_range_error(env, NULL, "busi native: binaryOp array lengths do not match the dims");
    return NULL;
  }
  apply_threads();
  const int scalar = bl == 1 && (size_t)d[0] * d[2] != 1;
  if (!binary_op_f32(kind, reversed != 0, d[0], d[1], d[2], p[0], p[1], scalar, p[2])) {
    napi_throw_range_error(env, NULL, "busi native: binaryOp kind must be 0 (sub), 1 (div) or 2 (squared difference)");
  }
  return NULL;
}

/* broadcastOp(kind, rank, a, b, out, dims): dims = [shape..., aStrides..., bStrides...] of the output (3·rank values). */
static napi_value broadcast_op_js(napi_env env, napi_callback_info info) {
  napi_value argv[6];
  if (!get_args(env, info, 6, 6, argv, "broadcastOp(kind, rank, a, b, out, dims)")) return NULL;
  int kind, rank;
  CHECK(env, napi_get_value_int32(env, argv[0], &kind));
  CHECK(env, napi_get_value_int32(env, argv[1], &rank));
  if (rank < 1 || rank > 16) {
    napi_throw_range_error(env, NULL, "busi native: broadcastOp needs a rank from 1 to 16");
    return NULL;
  }
  static const char *const names[] = {"a", "b", "out"};
  float *p[3];
  size_t len[3];
  int d[3 * 16];
  if (!get_float_args(env, argv + 2, 3, names, p, len) || !get_ints(env, argv[5], d, (size_t)(3 * rank), "dims")) return NULL;
  long shape[16], as[16], bs[16];
  size_t total = 1, amax = 0, bmax = 0;
  for (int k = 0; k < rank; k++) {
    shape[k] = d[k];
    as[k] = d[rank + k];
    bs[k] = d[2 * rank + k];
    if (shape[k] <= 0 || as[k] < 0 || bs[k] < 0) {
      napi_throw_range_error(env, NULL, "busi native: broadcastOp dims must be positive and strides non-negative");
      return NULL;
    }
    total *= (size_t)shape[k];
    amax += (size_t)(shape[k] - 1) * (size_t)as[k];
    bmax += (size_t)(shape[k] - 1) * (size_t)bs[k];
  }
  if (len[2] != total || amax >= len[0] || bmax >= len[1]) {
    napi_throw_range_error(env, NULL, "busi native: broadcastOp array lengths do not match the dims");
    return NULL;
  }
  apply_threads();
  if (!broadcast_op_f32(kind, rank, shape, as, bs, p[0], p[1], p[2])) napi_throw_range_error(env, NULL, "busi native: broadcastOp kind must be 0 to 4");
  return NULL;
}

/* unaryOp(kind, alpha, x, y): sqrt, rsqrt, square, neg, abs, reciprocal or step (alpha below zero). */
static napi_value unary_op_js(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  if (!get_args(env, info, 4, 4, argv, "unaryOp(kind, alpha, x, y)")) return NULL;
  int kind;
  double alpha;
  CHECK(env, napi_get_value_int32(env, argv[0], &kind));
  CHECK(env, napi_get_value_double(env, argv[1], &alpha));
  static const char *const names[] = {"x", "y"};
  float *p[2];
  size_t len[2];
  if (!get_float_args(env, argv + 2, 2, names, p, len)) return NULL;
  if (len[0] != len[1]) {
    napi_throw_range_error(env, NULL, "busi native: unaryOp needs x and y of one length");
    return NULL;
  }
  apply_threads();
  if (!unary_op_f32(kind, (long)len[0], p[0], alpha, p[1])) napi_throw_range_error(env, NULL, "busi native: unaryOp kind must be 0 to 6");
  return NULL;
}

/* concatLast(inputs: Float32Array[], out, rows): concatenation along the last axis. */
static napi_value concat_last_js(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (!get_args(env, info, 3, 3, argv, "concatLast(inputs, out, rows)")) return NULL;
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

/* setThreads(n): threads for BLAS and the patch loops (0 = every core, the libraries' default). */
static napi_value set_threads(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int n = 0;
  if (argc >= 1) CHECK(env, napi_get_value_int32(env, argv[0], &n));
  /* 0 restores the default explicitly: the libraries keep whatever count they were last given. */
  threads_wanted = n > 0 ? n : omp_get_num_procs();
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
      {"binaryOp", NULL, binary_op_js, NULL, NULL, NULL, napi_enumerable, NULL},
      {"unaryOp", NULL, unary_op_js, NULL, NULL, NULL, napi_enumerable, NULL},
      {"broadcastOp", NULL, broadcast_op_js, NULL, NULL, NULL, napi_enumerable, NULL},
      {"reduceMiddle", NULL, reduce_middle_js, NULL, NULL, NULL, napi_enumerable, NULL},
      {"bnInference", NULL, bn_inference_js, NULL, NULL, NULL, napi_enumerable, NULL},
      {"bnForward", NULL, bn_forward_js, NULL, NULL, NULL, napi_enumerable, NULL},
      {"bnBackward", NULL, bn_backward_js, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  if (napi_define_properties(env, exports, sizeof props / sizeof props[0], props) != napi_ok) return NULL;
  return exports;
}
