/* oneDNN convolutions on caller-owned NHWC / HWIO buffers, with a per-state primitive cache. See kernels.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <omp.h>
#include <oneapi/dnnl/dnnl.h>

#include "kernels.h"

#define MAX_ENTRIES 256

/* One primitive with its descriptor and user-managed scratchpad. */
typedef struct {
  dnnl_primitive_desc_t pd;
  dnnl_primitive_t prim;
  size_t scratch_bytes;
  dnnl_memory_t scratch; /* NULL when no scratchpad is needed */
} prim_t;

typedef struct {
  int kind;
  int32_t geom[AM_GEOM];
  int flags;
  int threads;
} conv_key;

typedef struct {
  conv_key key;
  prim_t conv;
  /* operand memories (handles set per call); w_user is the HWIO filter as JS holds it */
  dnnl_memory_t m_a, m_b, m_bias, m_d, w_user;
  /* weights in the layout the convolution wants, when it is not HWIO: buffer + reorder (user -> it, or it -> user) */
  int reordered;
  dnnl_memory_t w_internal;
  void *w_buffer;
  prim_t reorder;
  char *impl;
  uint64_t calls;
  uint64_t last_use;
} entry_t;

struct am_state {
  dnnl_engine_t engine;
  dnnl_stream_t stream;
  int weights_any;
  entry_t *entries[MAX_ENTRIES];
  int count;
  uint64_t clock;
  void *scratch;
  size_t scratch_size;
};

static void set_err(char *err, size_t errlen, const char *what, dnnl_status_t st) {
  if (err && errlen) snprintf(err, errlen, "%s failed (oneDNN status %d)", what, (int)st);
}

#define TRY(call, what)                       \
  do {                                        \
    dnnl_status_t st_ = (call);               \
    if (st_ != dnnl_success) {                \
      set_err(err, errlen, (what), st_);      \
      goto fail;                              \
    }                                         \
  } while (0)

static void prim_destroy(prim_t *p) {
  if (p->prim) dnnl_primitive_destroy(p->prim);
  if (p->pd) dnnl_primitive_desc_destroy(p->pd);
  if (p->scratch) dnnl_memory_destroy(p->scratch);
  memset(p, 0, sizeof *p);
}

/* Create the primitive of a descriptor (pd owned by p from here on) and its scratchpad memory object. */
static dnnl_status_t prim_init(am_state *s, prim_t *p, dnnl_primitive_desc_t pd) {
  p->pd = pd;
  dnnl_status_t st = dnnl_primitive_create(&p->prim, pd);
  if (st != dnnl_success) return st;
  const dnnl_memory_desc_t *smd = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
  p->scratch_bytes = smd ? dnnl_memory_desc_get_size(smd) : 0;
  if (p->scratch_bytes > 0) {
    st = dnnl_memory_create(&p->scratch, smd, s->engine, DNNL_MEMORY_NONE);
    if (st != dnnl_success) return st;
  }
  return dnnl_success;
}

static dnnl_primitive_attr_t scratch_attr(const dnnl_post_ops_t post_ops) {
  dnnl_primitive_attr_t attr = NULL;
  if (dnnl_primitive_attr_create(&attr) != dnnl_success) return NULL;
  dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user);
  if (post_ops) dnnl_primitive_attr_set_post_ops(attr, post_ops);
  return attr;
}

/* Grow the state's shared scratchpad (one thread runs one primitive at a time). */
static int ensure_scratch(am_state *s, size_t bytes) {
  if (bytes <= s->scratch_size) return 0;
  size_t size = (bytes + 4095) & ~(size_t)4095;
  void *p = aligned_alloc(4096, size);
  if (!p) return -1;
  free(s->scratch);
  s->scratch = p;
  s->scratch_size = size;
  return 0;
}

static dnnl_status_t prim_exec(am_state *s, prim_t *p, int nargs, dnnl_exec_arg_t *args) {
  dnnl_exec_arg_t all[8];
  memcpy(all, args, sizeof(dnnl_exec_arg_t) * (size_t)nargs);
  if (p->scratch) {
    if (ensure_scratch(s, p->scratch_bytes) != 0) return dnnl_out_of_memory;
    dnnl_memory_set_data_handle(p->scratch, s->scratch);
    all[nargs].arg = DNNL_ARG_SCRATCHPAD;
    all[nargs].memory = p->scratch;
    nargs++;
  }
  dnnl_status_t st = dnnl_primitive_execute(p->prim, s->stream, nargs, all);
  if (st != dnnl_success) return st;
  return dnnl_stream_wait(s->stream);
}

am_state *am_state_create(char *err, size_t errlen) {
  am_state *s = calloc(1, sizeof *s);
  if (!s) return NULL;
  TRY(dnnl_engine_create(&s->engine, dnnl_cpu, 0), "dnnl_engine_create");
  TRY(dnnl_stream_create(&s->stream, s->engine, dnnl_stream_default_flags), "dnnl_stream_create");
  const char *w = getenv("AGEKIT_DNNL_WEIGHTS");
  s->weights_any = !(w && strcmp(w, "hwio") == 0);
  return s;
fail:
  am_state_destroy(s);
  return NULL;
}

static void entry_destroy(entry_t *e) {
  if (!e) return;
  prim_destroy(&e->conv);
  prim_destroy(&e->reorder);
  dnnl_memory_t mems[] = {e->m_a, e->m_b, e->m_bias, e->m_d, e->w_user, e->w_internal};
  for (size_t i = 0; i < sizeof mems / sizeof mems[0]; i++)
    if (mems[i]) dnnl_memory_destroy(mems[i]);
  free(e->w_buffer);
  free(e->impl);
  free(e);
}

void am_cache_clear(am_state *s) {
  for (int i = 0; i < s->count; i++) entry_destroy(s->entries[i]);
  s->count = 0;
}

void am_state_destroy(am_state *s) {
  if (!s) return;
  am_cache_clear(s);
  if (s->stream) dnnl_stream_destroy(s->stream);
  if (s->engine) dnnl_engine_destroy(s->engine);
  free(s->scratch);
  free(s);
}

void am_set_threads(int n) { omp_set_num_threads(n < 1 ? 1 : n); }
int am_get_threads(void) { return omp_get_max_threads(); }

void am_conv_sizes(int kind, const int32_t *g, int flags, size_t sizes[4]) {
  size_t x = (size_t)g[AM_G_N] * g[AM_G_H] * g[AM_G_W] * g[AM_G_IC];
  size_t w = (size_t)g[AM_G_KH] * g[AM_G_KW] * g[AM_G_IC] * g[AM_G_OC];
  size_t y = (size_t)g[AM_G_N] * g[AM_G_OH] * g[AM_G_OW] * g[AM_G_OC];
  size_t bias = (kind == AM_FORWARD && (flags & AM_FLAG_BIAS)) ? (size_t)g[AM_G_OC] : 0;
  if (kind == AM_FORWARD) {
    sizes[0] = x, sizes[1] = w, sizes[2] = bias, sizes[3] = y;
  } else if (kind == AM_BACKWARD_DATA) {
    sizes[0] = y, sizes[1] = w, sizes[2] = 0, sizes[3] = x;
  } else {
    sizes[0] = x, sizes[1] = y, sizes[2] = 0, sizes[3] = w;
  }
}

static int key_equal(const conv_key *a, const conv_key *b) {
  return a->kind == b->kind && a->flags == b->flags && a->threads == b->threads && memcmp(a->geom, b->geom, sizeof a->geom) == 0;
}

/* The forward descriptor for (geom) with the given weights md; bias only when asked. */
static dnnl_status_t forward_desc(dnnl_convolution_desc_t *cd, const int32_t *g, const dnnl_memory_desc_t *src, const dnnl_memory_desc_t *wei,
                                  const dnnl_memory_desc_t *bias, const dnnl_memory_desc_t *dst) {
  dnnl_dims_t strides = {g[AM_G_SH], g[AM_G_SW]};
  dnnl_dims_t pad_l = {g[AM_G_PT], g[AM_G_PL]};
  dnnl_dims_t pad_r = {g[AM_G_PB], g[AM_G_PR]};
  return dnnl_convolution_forward_desc_init(cd, dnnl_forward_training, dnnl_convolution_direct, src, wei, bias, dst, strides, pad_l, pad_r);
}

static entry_t *create_entry(am_state *s, const conv_key *key, char *err, size_t errlen) {
  const int32_t *g = key->geom;
  entry_t *e = calloc(1, sizeof *e);
  dnnl_post_ops_t post_ops = NULL;
  dnnl_primitive_attr_t attr = NULL;
  dnnl_primitive_desc_t pd = NULL, hint = NULL;
  if (!e) return NULL;
  e->key = *key;
  for (int i = 0; i < AM_GEOM; i++) {
    int min = i >= AM_G_PT ? 0 : 1; /* sizes and strides >= 1, pads >= 0 */
    if (g[i] < min) {
      snprintf(err, errlen, "bad convolution geometry (entry %d = %d)", i, (int)g[i]);
      goto fail_quiet;
    }
  }
  dnnl_dims_t src_dims = {g[AM_G_N], g[AM_G_IC], g[AM_G_H], g[AM_G_W]};
  dnnl_dims_t wei_dims = {g[AM_G_OC], g[AM_G_IC], g[AM_G_KH], g[AM_G_KW]};
  dnnl_dims_t dst_dims = {g[AM_G_N], g[AM_G_OC], g[AM_G_OH], g[AM_G_OW]};
  dnnl_dims_t bias_dims = {g[AM_G_OC]};
  dnnl_memory_desc_t src_md, dst_md, wei_user_md, wei_any_md, bias_md;
  TRY(dnnl_memory_desc_init_by_tag(&src_md, 4, src_dims, dnnl_f32, dnnl_nhwc), "src desc");
  TRY(dnnl_memory_desc_init_by_tag(&dst_md, 4, dst_dims, dnnl_f32, dnnl_nhwc), "dst desc");
  TRY(dnnl_memory_desc_init_by_tag(&wei_user_md, 4, wei_dims, dnnl_f32, dnnl_hwio), "weights desc");
  TRY(dnnl_memory_desc_init_by_tag(&wei_any_md, 4, wei_dims, dnnl_f32, s->weights_any ? dnnl_format_tag_any : dnnl_hwio), "weights desc");
  TRY(dnnl_memory_desc_init_by_tag(&bias_md, 1, bias_dims, dnnl_f32, dnnl_a), "bias desc");

  dnnl_convolution_desc_t cd;
  const dnnl_memory_desc_t *wei_md = NULL; /* the convolution's weights layout */
  if (key->kind == AM_FORWARD) {
    if (key->flags & AM_FLAG_RELU) {
      TRY(dnnl_post_ops_create(&post_ops), "post ops");
      TRY(dnnl_post_ops_append_eltwise(post_ops, 1.0f, dnnl_eltwise_relu, 0.0f, 0.0f), "relu post-op");
    }
    attr = scratch_attr(post_ops);
    TRY(forward_desc(&cd, g, &src_md, &wei_any_md, (key->flags & AM_FLAG_BIAS) ? &bias_md : NULL, &dst_md), "convolution forward desc");
    TRY(dnnl_primitive_desc_create(&pd, &cd, attr, s->engine, NULL), "convolution forward");
    wei_md = dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
  } else {
    /* backward primitives need a forward descriptor as a hint */
    dnnl_convolution_desc_t fd;
    TRY(forward_desc(&fd, g, &src_md, &wei_any_md, NULL, &dst_md), "convolution forward desc (hint)");
    TRY(dnnl_primitive_desc_create(&hint, &fd, NULL, s->engine, NULL), "convolution forward (hint)");
    dnnl_dims_t strides = {g[AM_G_SH], g[AM_G_SW]};
    dnnl_dims_t pad_l = {g[AM_G_PT], g[AM_G_PL]};
    dnnl_dims_t pad_r = {g[AM_G_PB], g[AM_G_PR]};
    attr = scratch_attr(NULL);
    if (key->kind == AM_BACKWARD_DATA) {
      TRY(dnnl_convolution_backward_data_desc_init(&cd, dnnl_convolution_direct, &src_md, &wei_any_md, &dst_md, strides, pad_l, pad_r),
          "convolution backward data desc");
      TRY(dnnl_primitive_desc_create(&pd, &cd, attr, s->engine, hint), "convolution backward data");
      wei_md = dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
    } else {
      TRY(dnnl_convolution_backward_weights_desc_init(&cd, dnnl_convolution_direct, &src_md, &wei_any_md, NULL, &dst_md, strides, pad_l, pad_r),
          "convolution backward weights desc");
      TRY(dnnl_primitive_desc_create(&pd, &cd, attr, s->engine, hint), "convolution backward weights");
      wei_md = dnnl_primitive_desc_query_md(pd, dnnl_query_diff_weights_md, 0);
    }
  }
  {
    dnnl_primitive_desc_t owned = pd;
    pd = NULL;
    TRY(prim_init(s, &e->conv, owned), "primitive create");
  }
  const char *impl = NULL;
  dnnl_primitive_desc_query(e->conv.pd, dnnl_query_impl_info_str, 0, &impl);
  e->impl = strdup(impl ? impl : "?");

  /* the four operand memories: a, b, (bias), d in the user's layouts */
  const dnnl_memory_desc_t *a_md, *b_md, *d_md;
  if (key->kind == AM_FORWARD) a_md = &src_md, b_md = &wei_user_md, d_md = &dst_md;
  else if (key->kind == AM_BACKWARD_DATA) a_md = &dst_md, b_md = &wei_user_md, d_md = &src_md;
  else a_md = &src_md, b_md = &dst_md, d_md = &wei_user_md;
  TRY(dnnl_memory_create(&e->m_a, a_md, s->engine, DNNL_MEMORY_NONE), "memory");
  TRY(dnnl_memory_create(&e->m_b, b_md, s->engine, DNNL_MEMORY_NONE), "memory");
  TRY(dnnl_memory_create(&e->m_d, d_md, s->engine, DNNL_MEMORY_NONE), "memory");
  if (key->kind == AM_FORWARD && (key->flags & AM_FLAG_BIAS)) TRY(dnnl_memory_create(&e->m_bias, &bias_md, s->engine, DNNL_MEMORY_NONE), "memory");

  if (!dnnl_memory_desc_equal(wei_md, &wei_user_md)) {
    e->reordered = 1;
    size_t bytes = dnnl_memory_desc_get_size(wei_md);
    e->w_buffer = aligned_alloc(64, (bytes + 63) & ~(size_t)63);
    if (!e->w_buffer) {
      snprintf(err, errlen, "out of memory (%zu bytes of weights)", bytes);
      goto fail_quiet;
    }
    TRY(dnnl_memory_create(&e->w_internal, wei_md, s->engine, e->w_buffer), "memory");
    dnnl_primitive_attr_t rattr = scratch_attr(NULL);
    dnnl_primitive_desc_t rpd = NULL;
    dnnl_status_t st = key->kind == AM_BACKWARD_WEIGHTS ? dnnl_reorder_primitive_desc_create(&rpd, wei_md, s->engine, &wei_user_md, s->engine, rattr)
                                                        : dnnl_reorder_primitive_desc_create(&rpd, &wei_user_md, s->engine, wei_md, s->engine, rattr);
    if (rattr) dnnl_primitive_attr_destroy(rattr);
    TRY(st, "weights reorder");
    TRY(prim_init(s, &e->reorder, rpd), "weights reorder primitive");
  }
  if (attr) dnnl_primitive_attr_destroy(attr);
  if (post_ops) dnnl_post_ops_destroy(post_ops);
  if (hint) dnnl_primitive_desc_destroy(hint);
  return e;
fail:
fail_quiet:
  if (pd) dnnl_primitive_desc_destroy(pd);
  if (attr) dnnl_primitive_attr_destroy(attr);
  if (post_ops) dnnl_post_ops_destroy(post_ops);
  if (hint) dnnl_primitive_desc_destroy(hint);
  entry_destroy(e);
  return NULL;
}

static entry_t *lookup(am_state *s, int kind, const int32_t *geom, int flags, char *err, size_t errlen) {
  conv_key key;
  memset(&key, 0, sizeof key);
  key.kind = kind;
  key.flags = flags;
  key.threads = omp_get_max_threads();
  memcpy(key.geom, geom, sizeof key.geom);
  s->clock++;
  for (int i = 0; i < s->count; i++) {
    if (key_equal(&s->entries[i]->key, &key)) {
      s->entries[i]->last_use = s->clock;
      return s->entries[i];
    }
  }
  if (kind < AM_FORWARD || kind > AM_BACKWARD_WEIGHTS) {
    snprintf(err, errlen, "unknown convolution kind %d", kind);
    return NULL;
  }
  entry_t *e = create_entry(s, &key, err, errlen);
  if (!e) return NULL;
  e->last_use = s->clock;
  if (s->count == MAX_ENTRIES) {
    int oldest = 0;
    for (int i = 1; i < s->count; i++)
      if (s->entries[i]->last_use < s->entries[oldest]->last_use) oldest = i;
    entry_destroy(s->entries[oldest]);
    s->entries[oldest] = e;
  } else {
    s->entries[s->count++] = e;
  }
  return e;
}

int am_conv_prepare(am_state *s, int kind, const int32_t *geom, int flags, char *err, size_t errlen) {
  return lookup(s, kind, geom, flags, err, errlen) ? 0 : -1;
}

int am_conv_run(am_state *s, int kind, const int32_t *geom, int flags, const float *a, const float *b, const float *c, float *d, char *err,
                size_t errlen) {
  entry_t *e = lookup(s, kind, geom, flags, err, errlen);
  if (!e) return -1;
  e->calls++;
  dnnl_memory_set_data_handle(e->m_a, (void *)a);
  dnnl_memory_set_data_handle(e->m_b, (void *)b);
  dnnl_memory_set_data_handle(e->m_d, d);
  dnnl_exec_arg_t args[4];
  int n = 0;
  if (kind == AM_FORWARD || kind == AM_BACKWARD_DATA) {
    if (e->reordered) {
      dnnl_exec_arg_t r[2] = {{DNNL_ARG_FROM, e->m_b}, {DNNL_ARG_TO, e->w_internal}};
      TRY(prim_exec(s, &e->reorder, 2, r), "weights reorder");
    }
    dnnl_memory_t wei = e->reordered ? e->w_internal : e->m_b;
    if (kind == AM_FORWARD) {
      args[n++] = (dnnl_exec_arg_t){DNNL_ARG_SRC, e->m_a};
      args[n++] = (dnnl_exec_arg_t){DNNL_ARG_WEIGHTS, wei};
      if (e->m_bias) {
        dnnl_memory_set_data_handle(e->m_bias, (void *)c);
        args[n++] = (dnnl_exec_arg_t){DNNL_ARG_BIAS, e->m_bias};
      }
      args[n++] = (dnnl_exec_arg_t){DNNL_ARG_DST, e->m_d};
    } else {
      args[n++] = (dnnl_exec_arg_t){DNNL_ARG_DIFF_DST, e->m_a};
      args[n++] = (dnnl_exec_arg_t){DNNL_ARG_WEIGHTS, wei};
      args[n++] = (dnnl_exec_arg_t){DNNL_ARG_DIFF_SRC, e->m_d};
    }
    TRY(prim_exec(s, &e->conv, n, args), "convolution");
  } else {
    args[n++] = (dnnl_exec_arg_t){DNNL_ARG_SRC, e->m_a};
    args[n++] = (dnnl_exec_arg_t){DNNL_ARG_DIFF_DST, e->m_b};
    args[n++] = (dnnl_exec_arg_t){DNNL_ARG_DIFF_WEIGHTS, e->reordered ? e->w_internal : e->m_d};
    TRY(prim_exec(s, &e->conv, n, args), "convolution backward weights");
    if (e->reordered) {
      dnnl_exec_arg_t r[2] = {{DNNL_ARG_FROM, e->w_internal}, {DNNL_ARG_TO, e->m_d}};
      TRY(prim_exec(s, &e->reorder, 2, r), "weights reorder");
    }
  }
  return 0;
fail:
  return -1;
}

int am_cache_count(const am_state *s) { return s->count; }

int am_cache_get(const am_state *s, int i, am_cache_info *out) {
  if (i < 0 || i >= s->count) return -1;
  const entry_t *e = s->entries[i];
  out->kind = e->key.kind;
  memcpy(out->geom, e->key.geom, sizeof out->geom);
  out->flags = e->key.flags;
  out->threads = e->key.threads;
  out->impl = e->impl;
  out->weights_reordered = e->reordered;
  out->calls = e->calls;
  return 0;
}
