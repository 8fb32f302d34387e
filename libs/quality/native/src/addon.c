/*
 * N-API wrapper of the engine (node_api.h only). JS API (see libs/quality/src/lib/native.ts):
 *   abi: number
 *   setCosTable(table: Float64Array(256)): void
 *   measureFiles(paths: string[], maxPixels: number, threads: number, timers: boolean, outputs?: {info?, metrics?, hist?})
 *     -> Promise<{ info: Int32Array(n*4), metrics: Float64Array(n*AQ_METRICS), hist: Uint32Array(n*768), hashes: string(n*32), timers: Float64Array(3) }>
 *     files are dealt round-robin to `threads` napi_async_work items on libuv's thread pool; typed arrays given
 *     in `outputs` (right type, long enough) are written into and returned instead of new ones
 *   measurePixels(pixels: Uint8Array, width, height, channels: 1|3) -> { metrics, hist, hashes }   (synchronous; for tests)
 */
#include <stdlib.h>
#include <string.h>

#include <node_api.h>

#include "engine.h"

#define AQ_ABI 2

#define CHECK(env, call)                                                      \
  do {                                                                        \
    if ((call) != napi_ok) {                                                  \
      const napi_extended_error_info *info_ = NULL;                           \
      napi_get_last_error_info((env), &info_);                                \
      bool pending_ = false;                                                  \
      napi_is_exception_pending((env), &pending_);                            \
      if (!pending_)                                                          \
        napi_throw_error((env), NULL, info_ && info_->error_message ? info_->error_message : "N-API call failed"); \
      return NULL;                                                            \
    }                                                                         \
  } while (0)

typedef struct batch batch;

typedef struct chunk {
  batch *owner;
  int index;
  napi_async_work work;
  aq_timers timers;
} chunk;

struct batch {
  napi_deferred deferred;
  size_t n;
  char **paths;
  double max_pixels;
  int want_timers;
  int chunks;
  int pending;
  int failed;
  napi_ref info_ref, metrics_ref, hist_ref;
  int32_t *info;
  double *metrics;
  uint32_t *hist;
  char *hashes;
  chunk *parts;
};

static void free_batch(napi_env env, batch *b) {
  if (b->paths) {
    for (size_t i = 0; i < b->n; i++) free(b->paths[i]);
    free(b->paths);
  }
  if (b->info_ref) napi_delete_reference(env, b->info_ref);
  if (b->metrics_ref) napi_delete_reference(env, b->metrics_ref);
  if (b->hist_ref) napi_delete_reference(env, b->hist_ref);
  free(b->hashes);
  free(b->parts);
  free(b);
}

/*
 * Scratch buffers and libjpeg decompressor of each libuv pool thread, kept from batch to batch: growing them
 * afresh for every batch (page faults on new memory, a new decompressor) cost 5-20 us per image on small
 * images (2-8% of decode + metrics, by load). Released after a batch when they hold more than AQ_KEEP_SCRATCH_BYTES
 * (a large image went through), so the pool's threads keep at most a few times that between batches.
 */
#define AQ_KEEP_SCRATCH_BYTES ((size_t)16 << 20)
static _Thread_local aq_scratch thread_scratch;

static void execute_chunk(napi_env env, void *data) {
  chunk *c = data;
  batch *b = c->owner;
  aq_scratch *scratch = &thread_scratch;
  for (size_t i = (size_t)c->index; i < b->n; i += (size_t)b->chunks) {
    aq_measure_file(b->paths[i], b->max_pixels, scratch, b->want_timers ? &c->timers : NULL, b->info + i * AQ_INFO, b->metrics + i * AQ_METRICS,
                    b->hist + i * AQ_HIST, b->hashes + i * AQ_HASH_CHARS);
  }
  if (aq_scratch_bytes(scratch) > AQ_KEEP_SCRATCH_BYTES) aq_scratch_free(scratch);
}

static napi_value typed_array_of(napi_env env, napi_ref ref) {
  napi_value v = NULL;
  if (napi_get_reference_value(env, ref, &v) != napi_ok) return NULL;
  return v;
}

static void complete_chunk(napi_env env, napi_status status, void *data) {
  chunk *c = data;
  batch *b = c->owner;
  napi_delete_async_work(env, c->work);
  if (status != napi_ok) b->failed = 1;
  if (--b->pending > 0) return;
  napi_value result = NULL, info, metrics, hist, hashes, timers_ab, timers, error;
  int ok = !b->failed;
  if (ok) {
    double *t = NULL;
    ok = napi_create_object(env, &result) == napi_ok && (info = typed_array_of(env, b->info_ref)) != NULL &&
         (metrics = typed_array_of(env, b->metrics_ref)) != NULL && (hist = typed_array_of(env, b->hist_ref)) != NULL &&
         napi_create_string_latin1(env, b->hashes, b->n * AQ_HASH_CHARS, &hashes) == napi_ok &&
         napi_create_arraybuffer(env, 3 * sizeof(double), (void **)&t, &timers_ab) == napi_ok &&
         napi_create_typedarray(env, napi_float64_array, 3, timers_ab, 0, &timers) == napi_ok;
    if (ok) {
      t[0] = t[1] = t[2] = 0;
      for (int k = 0; k < b->chunks; k++) {
        t[0] += (double)b->parts[k].timers.read_ns;
        t[1] += (double)b->parts[k].timers.decode_ns;
        t[2] += (double)b->parts[k].timers.metrics_ns;
      }
      ok = napi_set_named_property(env, result, "info", info) == napi_ok && napi_set_named_property(env, result, "metrics", metrics) == napi_ok &&
           napi_set_named_property(env, result, "hist", hist) == napi_ok && napi_set_named_property(env, result, "hashes", hashes) == napi_ok &&
           napi_set_named_property(env, result, "timers", timers) == napi_ok;
    }
  }
  if (ok) {
    napi_resolve_deferred(env, b->deferred, result);
  } else {
    napi_value message;
    napi_create_string_utf8(env, "agekit_quality: a batch could not be completed", NAPI_AUTO_LENGTH, &message);
    napi_create_error(env, NULL, message, &error);
    napi_reject_deferred(env, b->deferred, error);
  }
  free_batch(env, b);
}

/* A typed array backed by a new ArrayBuffer; *data points at its bytes; a strong reference keeps it alive. */
static int new_typed_array(napi_env env, napi_typedarray_type type, size_t length, size_t element, void **data, napi_ref *ref) {
  napi_value ab, ta;
  if (napi_create_arraybuffer(env, length * element, data, &ab) != napi_ok) return -1;
  if (napi_create_typedarray(env, type, length, ab, 0, &ta) != napi_ok) return -1;
  if (napi_create_reference(env, ta, 1, ref) != napi_ok) return -1;
  return 0;
}

/*
 * outputs[name] when it is a typed array of the given type holding at least `length` elements: the batch
 * writes into it (no allocation per batch; the caller must not touch it until the promise settles). 0 when used.
 */
static int reuse_typed_array(napi_env env, napi_value outputs, const char *name, napi_typedarray_type type, size_t length, void **data, napi_ref *ref) {
  napi_value value;
  bool has = false, is_ta = false;
  if (napi_has_named_property(env, outputs, name, &has) != napi_ok || !has) return 1;
  if (napi_get_named_property(env, outputs, name, &value) != napi_ok || napi_is_typedarray(env, value, &is_ta) != napi_ok || !is_ta) return 1;
  napi_typedarray_type actual;
  size_t actual_length = 0;
  void *bytes = NULL;
  if (napi_get_typedarray_info(env, value, &actual, &actual_length, &bytes, NULL, NULL) != napi_ok || actual != type || actual_length < length) return 1;
  if (napi_create_reference(env, value, 1, ref) != napi_ok) return 1;
  *data = bytes;
  return 0;
}

static napi_value measure_files(napi_env env, napi_callback_info cbinfo) {
  size_t argc = 5;
  napi_value argv[5];
  CHECK(env, napi_get_cb_info(env, cbinfo, &argc, argv, NULL, NULL));
  if (argc < 3) {
    napi_throw_type_error(env, NULL, "measureFiles(paths, maxPixels, threads, timers?)");
    return NULL;
  }
  if (!aq_cos_table_ready()) {
    napi_throw_error(env, NULL, "setCosTable must be called before measureFiles");
    return NULL;
  }
  bool is_array = false;
  CHECK(env, napi_is_array(env, argv[0], &is_array));
  if (!is_array) {
    napi_throw_type_error(env, NULL, "paths must be an array of strings");
    return NULL;
  }
  uint32_t n = 0;
  CHECK(env, napi_get_array_length(env, argv[0], &n));
  double max_pixels = 0;
  CHECK(env, napi_get_value_double(env, argv[1], &max_pixels));
  int32_t threads = 1;
  CHECK(env, napi_get_value_int32(env, argv[2], &threads));
  bool want_timers = false;
  if (argc > 3) {
    napi_valuetype t;
    CHECK(env, napi_typeof(env, argv[3], &t));
    if (t == napi_boolean) CHECK(env, napi_get_value_bool(env, argv[3], &want_timers));
  }
  if (threads < 1) threads = 1;
  if ((uint32_t)threads > n) threads = n > 0 ? (int32_t)n : 1;
  batch *b = calloc(1, sizeof *b);
  if (!b) {
    napi_throw_error(env, NULL, "out of memory");
    return NULL;
  }
  b->n = n;
  b->max_pixels = max_pixels;
  b->want_timers = want_timers;
  b->chunks = threads;
  b->paths = calloc(n > 0 ? n : 1, sizeof(char *));
  b->hashes = malloc(n > 0 ? (size_t)n * AQ_HASH_CHARS : 1);
  b->parts = calloc((size_t)threads, sizeof(chunk));
  if (!b->paths || !b->hashes || !b->parts) {
    free_batch(env, b);
    napi_throw_error(env, NULL, "out of memory");
    return NULL;
  }
  for (uint32_t i = 0; i < n; i++) {
    napi_value item;
    size_t len = 0;
    napi_valuetype t;
    if (napi_get_element(env, argv[0], i, &item) != napi_ok || napi_typeof(env, item, &t) != napi_ok || t != napi_string ||
        napi_get_value_string_utf8(env, item, NULL, 0, &len) != napi_ok) {
      free_batch(env, b);
      napi_throw_type_error(env, NULL, "paths must be an array of strings");
      return NULL;
    }
    b->paths[i] = malloc(len + 1);
    if (!b->paths[i] || napi_get_value_string_utf8(env, item, b->paths[i], len + 1, &len) != napi_ok) {
      free_batch(env, b);
      napi_throw_error(env, NULL, "out of memory");
      return NULL;
    }
  }
  napi_value outputs = NULL;
  if (argc > 4) {
    napi_valuetype t;
    if (napi_typeof(env, argv[4], &t) == napi_ok && t == napi_object) outputs = argv[4];
  }
  int info_ok = outputs && reuse_typed_array(env, outputs, "info", napi_int32_array, (size_t)n * AQ_INFO, (void **)&b->info, &b->info_ref) == 0;
  int metrics_ok = outputs && reuse_typed_array(env, outputs, "metrics", napi_float64_array, (size_t)n * AQ_METRICS, (void **)&b->metrics, &b->metrics_ref) == 0;
  int hist_ok = outputs && reuse_typed_array(env, outputs, "hist", napi_uint32_array, (size_t)n * AQ_HIST, (void **)&b->hist, &b->hist_ref) == 0;
  if ((!info_ok && new_typed_array(env, napi_int32_array, (size_t)n * AQ_INFO, sizeof(int32_t), (void **)&b->info, &b->info_ref)) ||
      (!metrics_ok && new_typed_array(env, napi_float64_array, (size_t)n * AQ_METRICS, sizeof(double), (void **)&b->metrics, &b->metrics_ref)) ||
      (!hist_ok && new_typed_array(env, napi_uint32_array, (size_t)n * AQ_HIST, sizeof(uint32_t), (void **)&b->hist, &b->hist_ref))) {
    free_batch(env, b);
    napi_throw_error(env, NULL, "could not allocate the result arrays");
    return NULL;
  }
  memset(b->hashes, '0', n > 0 ? (size_t)n * AQ_HASH_CHARS : 1);
  napi_value promise;
  if (napi_create_promise(env, &b->deferred, &promise) != napi_ok) {
    free_batch(env, b);
    napi_throw_error(env, NULL, "could not create a promise");
    return NULL;
  }
  napi_value name;
  CHECK(env, napi_create_string_utf8(env, "agekit_quality.measureFiles", NAPI_AUTO_LENGTH, &name));
  for (int k = 0; k < threads; k++) {
    chunk *c = &b->parts[k];
    c->owner = b;
    c->index = k;
    if (napi_create_async_work(env, NULL, name, execute_chunk, complete_chunk, c, &c->work) != napi_ok) {
      /* count this part as done and failed; the batch rejects once the queued parts finish */
      b->failed = 1;
      continue;
    }
    b->pending++;
  }
  int queued = 0; /* stays 0 too when no work could be created */
  for (int k = 0; k < threads; k++) {
    if (!b->parts[k].work) continue;
    if (napi_queue_async_work(env, b->parts[k].work) == napi_ok) {
      queued++;
    } else {
      /* never queued: it will not complete; the batch rejects once the queued parts finish */
      napi_delete_async_work(env, b->parts[k].work);
      b->parts[k].work = NULL;
      b->failed = 1;
      b->pending--;
    }
  }
  if (queued == 0) {
    napi_value message, error;
    napi_create_string_utf8(env, "agekit_quality: could not queue any work", NAPI_AUTO_LENGTH, &message);
    napi_create_error(env, NULL, message, &error);
    napi_reject_deferred(env, b->deferred, error);
    free_batch(env, b);
  }
  return promise;
}

static napi_value set_cos_table(napi_env env, napi_callback_info cbinfo) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(env, napi_get_cb_info(env, cbinfo, &argc, argv, NULL, NULL));
  bool is_ta = false;
  if (argc >= 1) CHECK(env, napi_is_typedarray(env, argv[0], &is_ta));
  napi_typedarray_type type;
  size_t length = 0;
  void *data = NULL;
  if (is_ta) CHECK(env, napi_get_typedarray_info(env, argv[0], &type, &length, &data, NULL, NULL));
  if (!is_ta || type != napi_float64_array || length != 256) {
    napi_throw_type_error(env, NULL, "setCosTable needs a Float64Array of 256 values");
    return NULL;
  }
  aq_set_cos_table(data);
  return NULL;
}

static napi_value measure_pixels(napi_env env, napi_callback_info cbinfo) {
  size_t argc = 4;
  napi_value argv[4];
  CHECK(env, napi_get_cb_info(env, cbinfo, &argc, argv, NULL, NULL));
  if (argc < 4 || !aq_cos_table_ready()) {
    napi_throw_type_error(env, NULL, "measurePixels(pixels: Uint8Array, width, height, channels) after setCosTable");
    return NULL;
  }
  bool is_ta = false;
  CHECK(env, napi_is_typedarray(env, argv[0], &is_ta));
  napi_typedarray_type type = napi_int8_array;
  size_t length = 0;
  void *data = NULL;
  if (is_ta) CHECK(env, napi_get_typedarray_info(env, argv[0], &type, &length, &data, NULL, NULL));
  int32_t width = 0, height = 0, channels = 0;
  CHECK(env, napi_get_value_int32(env, argv[1], &width));
  CHECK(env, napi_get_value_int32(env, argv[2], &height));
  CHECK(env, napi_get_value_int32(env, argv[3], &channels));
  if (!is_ta || type != napi_uint8_array || width <= 0 || height <= 0 || (channels != 1 && channels != 3) ||
      length < (size_t)width * (size_t)height * (size_t)channels) {
    napi_throw_type_error(env, NULL, "measurePixels needs a Uint8Array of width * height * channels (1 or 3) bytes");
    return NULL;
  }
  double *metrics = NULL;
  uint32_t *hist = NULL;
  napi_value mab, hab, mta, hta, hashes, result;
  CHECK(env, napi_create_arraybuffer(env, AQ_METRICS * sizeof(double), (void **)&metrics, &mab));
  CHECK(env, napi_create_arraybuffer(env, AQ_HIST * sizeof(uint32_t), (void **)&hist, &hab));
  char hex[AQ_HASH_CHARS];
  aq_scratch scratch;
  memset(&scratch, 0, sizeof scratch);
  int rc = aq_measure_pixels(data, width, height, channels, &scratch, metrics, hist, hex);
  aq_scratch_free(&scratch);
  if (rc != 0) {
    napi_throw_error(env, NULL, "out of memory");
    return NULL;
  }
  CHECK(env, napi_create_typedarray(env, napi_float64_array, AQ_METRICS, mab, 0, &mta));
  CHECK(env, napi_create_typedarray(env, napi_uint32_array, AQ_HIST, hab, 0, &hta));
  CHECK(env, napi_create_string_latin1(env, hex, AQ_HASH_CHARS, &hashes));
  CHECK(env, napi_create_object(env, &result));
  CHECK(env, napi_set_named_property(env, result, "metrics", mta));
  CHECK(env, napi_set_named_property(env, result, "hist", hta));
  CHECK(env, napi_set_named_property(env, result, "hashes", hashes));
  return result;
}

NAPI_MODULE_INIT() {
  napi_value fn, abi, names, name;
  CHECK(env, napi_create_array_with_length(env, AQ_METRICS, &names));
  for (uint32_t i = 0; i < AQ_METRICS; i++) {
    CHECK(env, napi_create_string_utf8(env, aq_metric_names[i], NAPI_AUTO_LENGTH, &name));
    CHECK(env, napi_set_element(env, names, i, name));
  }
  CHECK(env, napi_set_named_property(env, exports, "metricNames", names));
  CHECK(env, napi_create_function(env, "measureFiles", NAPI_AUTO_LENGTH, measure_files, NULL, &fn));
  CHECK(env, napi_set_named_property(env, exports, "measureFiles", fn));
  CHECK(env, napi_create_function(env, "measurePixels", NAPI_AUTO_LENGTH, measure_pixels, NULL, &fn));
  CHECK(env, napi_set_named_property(env, exports, "measurePixels", fn));
  CHECK(env, napi_create_function(env, "setCosTable", NAPI_AUTO_LENGTH, set_cos_table, NULL, &fn));
  CHECK(env, napi_set_named_property(env, exports, "setCosTable", fn));
  CHECK(env, napi_create_int32(env, AQ_ABI, &abi));
  CHECK(env, napi_set_named_property(env, exports, "abi", abi));
  return exports;
}
