/*
 * N-API wrapper of the native training kernels (node_api.h only; context-aware: one am_state per environment, so
 * every Node worker thread that loads the addon has its own oneDNN engine, stream and primitive cache).
 * JS API (see libs/model/src/lib/native.ts); all calls are synchronous and work on the caller's Float32Arrays:
 *   abi: number, library: string ('oneDNN 2.6.3')
 *   convPrepare(kind, geom: Int32Array(15), flags) -> null | string   (the reason it cannot run)
 *   convRun(kind, geom, flags, a, b, c | null, d): void                (kinds and operands: kernels.h)
 *   maxPoolGrad(dy, x, y, dx, geom: Int32Array(12)): void
 *   reluGrad(dy, x, dx): void                                         (equal lengths)
 *   batchNorm(x, mean, variance, offset | null, scale | null, epsilon, y): void   (per-channel vectors of the last axis)
 *   batchNormTrain(x, gamma | null, beta | null, epsilon, y, mean, variance): void   (statistics over all but the last axis)
 *   batchNormTrainGrad(dy, x, mean, variance, gamma | null, epsilon, dx, dgamma, dbeta): void
 *   columnSum(x, columns, out, scale): void                           (out[k] = scale * sum over rows of x[r][k])
 *   adam(value, g, m, v, outValue, outM, outV, params: Float64Array(8) [lr, beta1, beta2, epsilon, 1 - accBeta1, 1 - accBeta2, 1 - beta1, 1 - beta2]): void
 *   binary(op, a, b, out): void   (op 0 add, 1 sub, 2 mul; b as long as a, a divisor of it repeated along a, or 1)
 *   copyColumns(src, srcWidth, srcOffset, dst, dstWidth, dstOffset, width, rows): void   (4-byte typed arrays)
 *   setThreads(n), getThreads() -> number                             (OpenMP threads of the calling thread)
 *   cacheInfo() -> [{kind, geom, flags, threads, impl, weightsReordered, calls}], clearCache()
 *   callCounts() -> {forward, ..., adam, batchNormTrain, batchNormTrainGrad}   (calls in this environment)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <node_api.h>
#include <oneapi/dnnl/dnnl.h>

#include "kernels.h"

#define AM_ABI 1

#define CHECK(env, call)                                                                                                    \
  do {                                                                                                                      \
    if ((call) != napi_ok) {                                                                                                \
      const napi_extended_error_info *info_ = NULL;                                                                         \
      napi_get_last_error_info((env), &info_);                                                                              \
      bool pending_ = false;                                                                                                \
      napi_is_exception_pending((env), &pending_);                                                                          \
      if (!pending_) napi_throw_error((env), NULL, info_ && info_->error_message ? info_->error_message : "N-API call failed"); \
      return NULL;                                                                                                          \
    }                                                                                                                       \
  } while (0)

#define THROW(env, ...)                           \
  do {                                            \
    char msg_[512];                               \
    snprintf(msg_, sizeof msg_, __VA_ARGS__);     \
    napi_throw_error((env), NULL, msg_);          \
    return NULL;                                  \
  } while (0)

/* Per-environment data: the kernels' state and call counters (for tests: which native kernels ran). */
enum { C_FORWARD, C_BACKWARD_DATA, C_BACKWARD_WEIGHTS, C_MAX_POOL_GRAD, C_RELU_GRAD, C_COPY_COLUMNS, C_BATCH_NORM, C_COLUMN_SUM, C_BINARY, C_ADAM, C_BATCH_NORM_TRAIN, C_BATCH_NORM_TRAIN_GRAD, C_COUNT };
static const char *counter_names[C_COUNT] = {"forward", "backwardData", "backwardWeights", "maxPoolGrad", "reluGrad", "copyColumns", "batchNorm", "columnSum", "binary", "adam", "batchNormTrain", "batchNormTrainGrad"};

typedef struct {
  am_state *state;
  double calls[C_COUNT];
} env_data;

static env_data *data_of(napi_env env) {
  void *data = NULL;
  if (napi_get_instance_data(env, &data) != napi_ok) return NULL;
  return data;
}

static am_state *state_of(napi_env env) {
  env_data *d = data_of(env);
  return d ? d->state : NULL;
}

static void count(napi_env env, int counter) {
  env_data *d = data_of(env);
  if (d) d->calls[counter] += 1;
}

/* A typed array's data pointer and element count; 0 ok, -1 wrong kind (exception thrown). */
static int typed(napi_env env, napi_value v, napi_typedarray_type want, int any4, void **data, size_t *length, const char *name) {
  bool is = false;
  if (napi_is_typedarray(env, v, &is) != napi_ok || !is) {
    char msg[128];
    snprintf(msg, sizeof msg, "%s: expected a typed array", name);
    napi_throw_type_error(env, NULL, msg);
    return -1;
  }
  napi_typedarray_type type;
  napi_value buffer;
  size_t offset;
  if (napi_get_typedarray_info(env, v, &type, length, data, &buffer, &offset) != napi_ok) return -1;
  int ok = any4 ? (type == napi_float32_array || type == napi_int32_array || type == napi_uint32_array) : type == want;
  if (!ok) {
    char msg[128];
    snprintf(msg, sizeof msg, "%s: wrong typed array type", name);
    napi_throw_type_error(env, NULL, msg);
    return -1;
  }
  return 0;
}

static int geom_of(napi_env env, napi_value v, int32_t *geom, size_t count, const char *name) {
  void *data;
  size_t length;
  if (typed(env, v, napi_int32_array, 0, &data, &length, name) != 0) return -1;
  if (length != count) {
    char msg[128];
    snprintf(msg, sizeof msg, "%s: expected %zu values, got %zu", name, count, length);
    napi_throw_range_error(env, NULL, msg);
    return -1;
  }
  memcpy(geom, data, count * sizeof(int32_t));
  return 0;
}

/* The (kind, geom, flags) arguments convPrepare and convRun start with; -1 with a pending exception when invalid. */
static int conv_args(napi_env env, const napi_value *argv, int32_t *kind, int32_t *geom, int32_t *flags) {
  if (napi_get_value_int32(env, argv[0], kind) != napi_ok) {
    napi_throw_type_error(env, NULL, "kind: expected a number");
    return -1;
  }
  if (geom_of(env, argv[1], geom, AM_GEOM, "geom") != 0) return -1;
  if (napi_get_value_int32(env, argv[2], flags) != napi_ok) {
    napi_throw_type_error(env, NULL, "flags: expected a number");
    return -1;
  }
  return 0;
}

static napi_value conv_prepare(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 3) THROW(env, "convPrepare(kind, geom, flags)");
  int32_t kind, flags, geom[AM_GEOM];
  if (conv_args(env, argv, &kind, geom, &flags) != 0) return NULL;
  am_state *s = state_of(env);
  if (!s) THROW(env, "agekit_runtime: no state for this thread");
  char err[256] = "";
  napi_value result;
  if (am_conv_prepare(s, kind, geom, flags, err, sizeof err) == 0) {
    CHECK(env, napi_get_null(env, &result));
  } else {
    CHECK(env, napi_create_string_utf8(env, err[0] ? err : "unsupported", NAPI_AUTO_LENGTH, &result));
  }
  return result;
}

static napi_value conv_run(napi_env env, napi_callback_info info) {
  size_t argc = 7;
  napi_value argv[7];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 7) THROW(env, "convRun(kind, geom, flags, a, b, c, d)");
  int32_t kind, flags, geom[AM_GEOM];
  if (conv_args(env, argv, &kind, geom, &flags) != 0) return NULL;
  if (kind < AM_FORWARD || kind > AM_BACKWARD_WEIGHTS) THROW(env, "convRun: unknown kind %d", kind);
  if (kind != AM_FORWARD) flags = 0;
  size_t want[4];
  am_conv_sizes(kind, geom, flags, want);
  void *ptr[4] = {NULL, NULL, NULL, NULL};
  static const char *names[4] = {"a", "b", "c", "d"};
  for (int i = 0; i < 4; i++) {
    if (i == 2 && want[2] == 0) continue;
    size_t length;
    if (typed(env, argv[3 + i], napi_float32_array, 0, &ptr[i], &length, names[i]) != 0) return NULL;
    if (length != want[i]) THROW(env, "convRun: operand %s has %zu values, the geometry needs %zu", names[i], length, want[i]);
  }
  am_state *s = state_of(env);
  if (!s) THROW(env, "agekit_runtime: no state for this thread");
  char err[256] = "";
  if (am_conv_run(s, kind, geom, flags, ptr[0], ptr[1], ptr[2], ptr[3], err, sizeof err) != 0) THROW(env, "convRun: %s", err);
  count(env, kind == AM_FORWARD ? C_FORWARD : kind == AM_BACKWARD_DATA ? C_BACKWARD_DATA : C_BACKWARD_WEIGHTS);
  return NULL;
}

static napi_value max_pool_grad(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 5) THROW(env, "maxPoolGrad(dy, x, y, dx, geom)");
  int32_t g[AM_POOL_GEOM];
  if (geom_of(env, argv[4], g, AM_POOL_GEOM, "geom") != 0) return NULL;
  for (int i = 0; i < AM_POOL_GEOM; i++) {
    if (g[i] < (i >= AM_P_PT ? 0 : 1)) THROW(env, "maxPoolGrad: bad geometry (entry %d = %d)", i, (int)g[i]);
  }
  size_t in = (size_t)g[AM_P_N] * g[AM_P_H] * g[AM_P_W] * g[AM_P_C];
  size_t out = (size_t)g[AM_P_N] * g[AM_P_OH] * g[AM_P_OW] * g[AM_P_C];
  size_t want[4] = {out, in, out, in};
  static const char *names[4] = {"dy", "x", "y", "dx"};
  void *ptr[4];
  for (int i = 0; i < 4; i++) {
    size_t length;
    if (typed(env, argv[i], napi_float32_array, 0, &ptr[i], &length, names[i]) != 0) return NULL;
    if (length != want[i]) THROW(env, "maxPoolGrad: %s has %zu values, the geometry needs %zu", names[i], length, want[i]);
  }
  am_max_pool_grad(ptr[0], ptr[1], ptr[2], ptr[3], g);
  count(env, C_MAX_POOL_GRAD);
  return NULL;
}

static napi_value relu_grad(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 3) THROW(env, "reluGrad(dy, x, dx)");
  static const char *names[3] = {"dy", "x", "dx"};
  void *ptr[3];
  size_t len[3];
  for (int i = 0; i < 3; i++)
    if (typed(env, argv[i], napi_float32_array, 0, &ptr[i], &len[i], names[i]) != 0) return NULL;
  if (len[0] != len[1] || len[0] != len[2]) THROW(env, "reluGrad: lengths differ (%zu, %zu, %zu)", len[0], len[1], len[2]);
  am_relu_grad(ptr[0], ptr[1], ptr[2], (int64_t)len[0]);
  count(env, C_RELU_GRAD);
  return NULL;
}

static napi_value batch_norm(napi_env env, napi_callback_info info) {
  size_t argc = 7;
  napi_value argv[7];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 7) THROW(env, "batchNorm(x, mean, variance, offset, scale, epsilon, y)");
  static const char *names[7] = {"x", "mean", "variance", "offset", "scale", "epsilon", "y"};
  void *ptr[7] = {NULL};
  size_t len[7] = {0};
  for (int i = 0; i < 7; i++) {
    if (i == 5) continue;
    if (i == 3 || i == 4) {
      napi_valuetype t;
      CHECK(env, napi_typeof(env, argv[i], &t));
      if (t == napi_null || t == napi_undefined) continue;
    }
    if (typed(env, argv[i], napi_float32_array, 0, &ptr[i], &len[i], names[i]) != 0) return NULL;
  }
  double epsilon;
  CHECK(env, napi_get_value_double(env, argv[5], &epsilon));
  size_t c = len[1];
  if (c == 0 || len[2] != c || (ptr[3] && len[3] != c) || (ptr[4] && len[4] != c) || len[0] % c != 0 || len[6] != len[0])
    THROW(env, "batchNorm: lengths do not match (x %zu, mean %zu, variance %zu, y %zu)", len[0], len[1], len[2], len[6]);
  am_batch_norm(ptr[0], ptr[1], ptr[2], ptr[3], ptr[4], (float)epsilon, ptr[6], (int64_t)(len[0] / c), (int64_t)c);
  count(env, C_BATCH_NORM);
  return NULL;
}

/* Float32Array arguments by position (NULL allowed where nullable[i]); 0 ok, -1 exception thrown. */
static int float_args(napi_env env, napi_value *argv, int n, const int *positions, const int *nullable, const char **names, void **ptr, size_t *len) {
  for (int i = 0; i < n; i++) {
    ptr[i] = NULL;
    len[i] = 0;
    if (nullable[i]) {
      napi_valuetype t;
      if (napi_typeof(env, argv[positions[i]], &t) != napi_ok) return -1;
      if (t == napi_null || t == napi_undefined) continue;
    }
    if (typed(env, argv[positions[i]], napi_float32_array, 0, &ptr[i], &len[i], names[i]) != 0) return -1;
  }
  return 0;
}

static napi_value batch_norm_train(napi_env env, napi_callback_info info) {
  size_t argc = 7;
  napi_value argv[7];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 7) THROW(env, "batchNormTrain(x, gamma, beta, epsilon, y, mean, variance)");
  static const int at[6] = {0, 1, 2, 4, 5, 6};
  static const int nullable[6] = {0, 1, 1, 0, 0, 0};
  static const char *names[6] = {"x", "gamma", "beta", "y", "mean", "variance"};
  void *p[6];
  size_t len[6];
  if (float_args(env, argv, 6, at, nullable, names, p, len) != 0) return NULL;
  double epsilon;
  CHECK(env, napi_get_value_double(env, argv[3], &epsilon));
  size_t c = len[4];
  if (c == 0 || len[0] == 0 || len[0] % c != 0 || len[3] != len[0] || len[5] != c || (p[1] && len[1] != c) || (p[2] && len[2] != c))
    THROW(env, "batchNormTrain: lengths do not match (x %zu, y %zu, mean %zu, variance %zu)", len[0], len[3], len[4], len[5]);
  if (am_batch_norm_train(p[0], p[1], p[2], (float)epsilon, p[3], p[4], p[5], (int64_t)(len[0] / c), (int64_t)c) != 0) THROW(env, "batchNormTrain: out of memory");
  count(env, C_BATCH_NORM_TRAIN);
  return NULL;
}

static napi_value batch_norm_train_grad(napi_env env, napi_callback_info info) {
  size_t argc = 9;
  napi_value argv[9];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 9) THROW(env, "batchNormTrainGrad(dy, x, mean, variance, gamma, epsilon, dx, dgamma, dbeta)");
  static const int at[8] = {0, 1, 2, 3, 4, 6, 7, 8};
  static const int nullable[8] = {0, 0, 0, 0, 1, 0, 0, 0};
  static const char *names[8] = {"dy", "x", "mean", "variance", "gamma", "dx", "dgamma", "dbeta"};
  void *p[8];
  size_t len[8];
  if (float_args(env, argv, 8, at, nullable, names, p, len) != 0) return NULL;
  double epsilon;
  CHECK(env, napi_get_value_double(env, argv[5], &epsilon));
  size_t n = len[1], c = len[2];
  if (c == 0 || n == 0 || n % c != 0 || len[0] != n || len[5] != n || len[3] != c || len[6] != c || len[7] != c || (p[4] && len[4] != c))
    THROW(env, "batchNormTrainGrad: lengths do not match (dy %zu, x %zu, dx %zu, mean %zu)", len[0], n, len[5], c);
  if (am_batch_norm_train_grad(p[0], p[1], p[2], p[3], p[4], (float)epsilon, p[5], p[6], p[7], (int64_t)(n / c), (int64_t)c) != 0)
    THROW(env, "batchNormTrainGrad: out of memory");
  count(env, C_BATCH_NORM_TRAIN_GRAD);
  return NULL;
}

static napi_value column_sum(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 4) THROW(env, "columnSum(x, columns, out, scale)");
  void *x, *out;
  size_t xlen, olen;
  if (typed(env, argv[0], napi_float32_array, 0, &x, &xlen, "x") != 0) return NULL;
  if (typed(env, argv[2], napi_float32_array, 0, &out, &olen, "out") != 0) return NULL;
  int64_t columns;
  double scale;
  CHECK(env, napi_get_value_int64(env, argv[1], &columns));
  CHECK(env, napi_get_value_double(env, argv[3], &scale));
  if (columns < 1 || (size_t)columns != olen || xlen % (size_t)columns != 0) THROW(env, "columnSum: %zu values do not make rows of %lld columns", xlen, (long long)columns);
  am_column_sum(x, (int64_t)(xlen / (size_t)columns), columns, out, scale);
  count(env, C_COLUMN_SUM);
  return NULL;
}

static napi_value binary(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 4) THROW(env, "binary(op, a, b, out)");
  int32_t op;
  CHECK(env, napi_get_value_int32(env, argv[0], &op));
  if (op < AM_OP_ADD || op > AM_OP_MUL) THROW(env, "binary: unknown op %d", (int)op);
  void *a, *b, *out;
  size_t na, nb, no;
  if (typed(env, argv[1], napi_float32_array, 0, &a, &na, "a") != 0) return NULL;
  if (typed(env, argv[2], napi_float32_array, 0, &b, &nb, "b") != 0) return NULL;
  if (typed(env, argv[3], napi_float32_array, 0, &out, &no, "out") != 0) return NULL;
  if (na == 0 || nb == 0 || no != na || na % nb != 0) THROW(env, "binary: lengths do not match (a %zu, b %zu, out %zu)", na, nb, no);
  am_binary(op, a, b, out, (int64_t)na, (int64_t)nb);
  count(env, C_BINARY);
  return NULL;
}

static napi_value adam(napi_env env, napi_callback_info info) {
  size_t argc = 8;
  napi_value argv[8];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 8) THROW(env, "adam(value, g, m, v, outValue, outM, outV, params)");
  static const char *names[7] = {"value", "g", "m", "v", "outValue", "outM", "outV"};
  void *ptr[7];
  size_t len[7];
  for (int i = 0; i < 7; i++) {
    if (typed(env, argv[i], napi_float32_array, 0, &ptr[i], &len[i], names[i]) != 0) return NULL;
    if (len[i] != len[0]) THROW(env, "adam: %s has %zu values, value has %zu", names[i], len[i], len[0]);
  }
  void *pp;
  size_t plen;
  if (typed(env, argv[7], napi_float64_array, 0, &pp, &plen, "params") != 0) return NULL;
  if (plen != 8) THROW(env, "adam: params needs 8 values");
  const double *p = pp;
  am_adam(ptr[0], ptr[1], ptr[2], ptr[3], ptr[4], ptr[5], ptr[6], (int64_t)len[0], (float)p[0], (float)p[1], (float)p[2], (float)p[3], (float)p[4],
          (float)p[5], (float)p[6], (float)p[7]);
  count(env, C_ADAM);
  return NULL;
}

static napi_value copy_columns(napi_env env, napi_callback_info info) {
  size_t argc = 8;
  napi_value argv[8];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 8) THROW(env, "copyColumns(src, srcWidth, srcOffset, dst, dstWidth, dstOffset, width, rows)");
  void *src, *dst;
  size_t src_len, dst_len;
  if (typed(env, argv[0], napi_float32_array, 1, &src, &src_len, "src") != 0) return NULL;
  if (typed(env, argv[3], napi_float32_array, 1, &dst, &dst_len, "dst") != 0) return NULL;
  int64_t v[6];
  int at[6] = {1, 2, 4, 5, 6, 7};
  for (int i = 0; i < 6; i++) CHECK(env, napi_get_value_int64(env, argv[at[i]], &v[i]));
  int64_t src_width = v[0], src_offset = v[1], dst_width = v[2], dst_offset = v[3], width = v[4], rows = v[5];
  if (rows < 0 || width < 0 || src_offset < 0 || dst_offset < 0 || src_offset + width > src_width || dst_offset + width > dst_width)
    THROW(env, "copyColumns: bad columns");
  if ((uint64_t)(src_width * rows) > src_len || (uint64_t)(dst_width * rows) > dst_len) THROW(env, "copyColumns: arrays too short");
  am_copy_columns(src, src_width, src_offset, dst, dst_width, dst_offset, width, rows);
  count(env, C_COPY_COLUMNS);
  return NULL;
}

static napi_value set_threads(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t n = 1;
  if (argc >= 1) CHECK(env, napi_get_value_int32(env, argv[0], &n));
  if (n < 1 || n > 1024) THROW(env, "setThreads: a whole number 1..1024 (got %d)", (int)n);
  am_set_threads(n);
  return NULL;
}

static napi_value get_threads(napi_env env, napi_callback_info info) {
  napi_value v;
  CHECK(env, napi_create_int32(env, am_get_threads(), &v));
  return v;
}

static napi_value set_prop_int(napi_env env, napi_value obj, const char *name, double value) {
  napi_value v;
  CHECK(env, napi_create_double(env, value, &v));
  CHECK(env, napi_set_named_property(env, obj, name, v));
  return obj;
}

static napi_value cache_info(napi_env env, napi_callback_info info) {
  am_state *s = state_of(env);
  if (!s) THROW(env, "agekit_runtime: no state for this thread");
  int n = am_cache_count(s);
  napi_value list;
  CHECK(env, napi_create_array_with_length(env, (size_t)n, &list));
  for (int i = 0; i < n; i++) {
    am_cache_info e;
    if (am_cache_get(s, i, &e) != 0) continue;
    napi_value obj, geom, str, b;
    CHECK(env, napi_create_object(env, &obj));
    if (!set_prop_int(env, obj, "kind", e.kind)) return NULL;
    if (!set_prop_int(env, obj, "flags", e.flags)) return NULL;
    if (!set_prop_int(env, obj, "threads", e.threads)) return NULL;
    if (!set_prop_int(env, obj, "calls", (double)e.calls)) return NULL;
    CHECK(env, napi_create_array_with_length(env, AM_GEOM, &geom));
    for (int k = 0; k < AM_GEOM; k++) {
      napi_value g;
      CHECK(env, napi_create_int32(env, e.geom[k], &g));
      CHECK(env, napi_set_element(env, geom, (uint32_t)k, g));
    }
    CHECK(env, napi_set_named_property(env, obj, "geom", geom));
    CHECK(env, napi_create_string_utf8(env, e.impl ? e.impl : "?", NAPI_AUTO_LENGTH, &str));
    CHECK(env, napi_set_named_property(env, obj, "impl", str));
    CHECK(env, napi_get_boolean(env, e.weights_reordered != 0, &b));
    CHECK(env, napi_set_named_property(env, obj, "weightsReordered", b));
    CHECK(env, napi_set_element(env, list, (uint32_t)i, obj));
  }
  return list;
}

static napi_value clear_cache(napi_env env, napi_callback_info info) {
  am_state *s = state_of(env);
  if (s) am_cache_clear(s);
  return NULL;
}

static napi_value call_counts(napi_env env, napi_callback_info info) {
  env_data *d = data_of(env);
  napi_value obj;
  CHECK(env, napi_create_object(env, &obj));
  for (int i = 0; i < C_COUNT; i++)
    if (!set_prop_int(env, obj, counter_names[i], d ? d->calls[i] : 0)) return NULL;
  return obj;
}

static void finalize_data(napi_env env, void *data, void *hint) {
  env_data *d = data;
  am_state_destroy(d->state);
  free(d);
}

NAPI_MODULE_INIT() {
  /* loading the addon again in the same environment (a new module registry, as jest makes per test file) keeps the state */
  if (!data_of(env)) {
    char err[256] = "";
    env_data *d = calloc(1, sizeof *d);
    if (d) d->state = am_state_create(err, sizeof err);
    if (!d || !d->state) {
      free(d);
      napi_throw_error(env, NULL, err[0] ? err : "agekit_runtime: could not create the oneDNN engine");
      return NULL;
    }
    if (napi_set_instance_data(env, d, finalize_data, NULL) != napi_ok) {
      am_state_destroy(d->state);
      free(d);
      napi_throw_error(env, NULL, "agekit_runtime: napi_set_instance_data failed");
      return NULL;
    }
  }
  const dnnl_version_t *ver = dnnl_version();
  char library[64];
  snprintf(library, sizeof library, "oneDNN %d.%d.%d", ver->major, ver->minor, ver->patch);
  napi_value abi, lib;
  CHECK(env, napi_create_int32(env, AM_ABI, &abi));
  CHECK(env, napi_create_string_utf8(env, library, NAPI_AUTO_LENGTH, &lib));
  napi_property_descriptor props[] = {
      {"abi", NULL, NULL, NULL, NULL, abi, napi_enumerable, NULL},
      {"library", NULL, NULL, NULL, NULL, lib, napi_enumerable, NULL},
      {"convPrepare", NULL, conv_prepare, NULL, NULL, NULL, napi_default, NULL},
      {"convRun", NULL, conv_run, NULL, NULL, NULL, napi_default, NULL},
      {"maxPoolGrad", NULL, max_pool_grad, NULL, NULL, NULL, napi_default, NULL},
      {"reluGrad", NULL, relu_grad, NULL, NULL, NULL, napi_default, NULL},
      {"batchNorm", NULL, batch_norm, NULL, NULL, NULL, napi_default, NULL},
      {"batchNormTrain", NULL, batch_norm_train, NULL, NULL, NULL, napi_default, NULL},
      {"batchNormTrainGrad", NULL, batch_norm_train_grad, NULL, NULL, NULL, napi_default, NULL},
      {"columnSum", NULL, column_sum, NULL, NULL, NULL, napi_default, NULL},
      {"binary", NULL, binary, NULL, NULL, NULL, napi_default, NULL},
      {"adam", NULL, adam, NULL, NULL, NULL, napi_default, NULL},
      {"copyColumns", NULL, copy_columns, NULL, NULL, NULL, napi_default, NULL},
      {"setThreads", NULL, set_threads, NULL, NULL, NULL, napi_default, NULL},
      {"getThreads", NULL, get_threads, NULL, NULL, NULL, napi_default, NULL},
      {"cacheInfo", NULL, cache_info, NULL, NULL, NULL, napi_default, NULL},
      {"callCounts", NULL, call_counts, NULL, NULL, NULL, napi_default, NULL},
      {"clearCache", NULL, clear_cache, NULL, NULL, NULL, napi_default, NULL},
  };
  CHECK(env, napi_define_properties(env, exports, sizeof props / sizeof props[0], props));
  return exports;
}
