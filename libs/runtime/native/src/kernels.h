/*
 * agekit_runtime native kernels: 2-D convolutions through oneDNN (forward with optional bias + ReLU, backward data,
 * backward weights) and plain C loops (max-pool gradient, strided column copies for concat/split on the last axis).
 * Tensors are tfjs's layouts: NHWC activations, HWIO filters, float32, and live wherever the caller's pointers
 * say (the wasm heap); nothing is copied in or out except the filters when oneDNN wants another layout.
 * One am_state per Node thread (N-API environment): engine, stream and primitive cache are never shared.
 */
#ifndef AGEKIT_MODEL_KERNELS_H
#define AGEKIT_MODEL_KERNELS_H

#include <stddef.h>
#include <stdint.h>

/* Convolution geometry (Int32Array from JS), tfjs names in brackets. */
enum am_geom {
  AM_G_N,  /* batch */
  AM_G_H,  /* input height */
  AM_G_W,  /* input width */
  AM_G_IC, /* input channels */
  AM_G_KH, /* filter height */
  AM_G_KW, /* filter width */
  AM_G_OC, /* output channels */
  AM_G_OH, /* output height */
  AM_G_OW, /* output width */
  AM_G_SH, /* stride height */
  AM_G_SW, /* stride width */
  AM_G_PT, /* padInfo.top */
  AM_G_PL, /* padInfo.left */
  AM_G_PB, /* padInfo.bottom */
  AM_G_PR, /* padInfo.right */
  AM_GEOM
};

enum am_kind { AM_FORWARD = 0, AM_BACKWARD_DATA = 1, AM_BACKWARD_WEIGHTS = 2 };

#define AM_FLAG_BIAS 1 /* forward: add a per-output-channel bias */
#define AM_FLAG_RELU 2 /* forward: ReLU post-op */

typedef struct am_state am_state;

/* Options read once per state (environment variables): weights in the layout oneDNN prefers (default) or as given. */
am_state *am_state_create(char *err, size_t errlen);
void am_state_destroy(am_state *s);

/* Create (or find) the primitive for this convolution; 0 when it can run, else nonzero with a message in err. */
int am_conv_prepare(am_state *s, int kind, const int32_t *geom, int flags, char *err, size_t errlen);

/*
 * Run it (prepares first if needed). forward: a = x, b = filter, c = bias (or NULL), d = y;
 * backward data: a = dy, b = filter, d = dx; backward weights: a = x, b = dy, d = dFilter. Returns 0 or nonzero + err.
 */
int am_conv_run(am_state *s, int kind, const int32_t *geom, int flags, const float *a, const float *b, const float *c, float *d, char *err,
                size_t errlen);

/* Element counts of the four operands of a convolution (a, b, c, d as above; c = bias, 0 without). */
void am_conv_sizes(int kind, const int32_t *geom, int flags, size_t sizes[4]);

/* Cached primitives, for diagnostics: count, and the description of entry i. */
int am_cache_count(const am_state *s);
typedef struct {
  int kind;
  int32_t geom[AM_GEOM];
  int flags;
  int threads;
  const char *impl;
  int weights_reordered;
  uint64_t calls;
} am_cache_info;
int am_cache_get(const am_state *s, int i, am_cache_info *out);
void am_cache_clear(am_state *s);

/* OpenMP threads of the calling thread (oneDNN's parallelism). */
void am_set_threads(int n);
int am_get_threads(void);

/* Max-pool gradient geometry. */
enum am_pool_geom { AM_P_N, AM_P_H, AM_P_W, AM_P_C, AM_P_OH, AM_P_OW, AM_P_FH, AM_P_FW, AM_P_SH, AM_P_SW, AM_P_PT, AM_P_PL, AM_POOL_GEOM };

/* dx = 0, then each window's dy goes to the first input (row-major) equal to the pooled output, as tfjs's cpu backend. */
void am_max_pool_grad(const float *dy, const float *x, const float *y, float *dx, const int32_t *g);

/* dx = dy * step(x) (tfjs's ReLU gradient: step = 1 above 0, 0 at or below, NaN for NaN), n elements. */
void am_relu_grad(const float *dy, const float *x, float *dx, int64_t n);

/* tfjs's FusedBatchNorm with per-channel (last axis, length c) mean, variance and optional offset, scale. */
void am_batch_norm(const float *x, const float *mean, const float *variance, const float *offset, const float *scale, float epsilon, float *y,
                   int64_t rows, int64_t c);

/* Batch norm in training over the last axis (c channels, rows = N*H*W): mean and biased variance per channel (two
   passes: statistics in double around the first row, then y = gamma (x - mean) / sqrt(var + eps) + beta).
   gamma / beta may be NULL (1 / 0). Returns 0, or -1 (bad sizes, out of memory). */
int am_batch_norm_train(const float *x, const float *gamma, const float *beta, float epsilon, float *y, float *mean, float *variance, int64_t rows,
                        int64_t c);

/* Its gradient (two passes): dbeta = sum dy, dgamma = sum dy * xhat, dx = gamma / sqrt(var + eps) * (dy - dbeta / M -
   xhat * dgamma / M) with xhat = (x - mean) / sqrt(var + eps), M = rows. Returns 0 or -1. */
int am_batch_norm_train_grad(const float *dy, const float *x, const float *mean, const float *variance, const float *gamma, float epsilon, float *dx,
                             float *dgamma, float *dbeta, int64_t rows, int64_t c);

/* out[k] = scale * sum over r of x[r * c + k] (sums over leading axes; float blocks of 64 rows added in double). */
void am_column_sum(const float *x, int64_t rows, int64_t c, float *out, double scale);

enum am_op { AM_OP_ADD = 0, AM_OP_SUB = 1, AM_OP_MUL = 2 };
/* out = a (op) b, b of nb elements repeated along a's n (nb = n, a divisor of n for a last-axis vector, or 1). */
void am_binary(int op, const float *a, const float *b, float *out, int64_t n, int64_t nb);

/* One Adam step of tfjs's AdamOptimizer for n values (new value, first and second moments into the out arrays);
   c1 = 1 - beta1 and c2 = 1 - beta2 as the caller rounds them. */
void am_adam(const float *value, const float *g, const float *m, const float *v, float *out_value, float *out_m, float *out_v, int64_t n,
             float learning_rate, float beta1, float beta2, float epsilon, float one_minus_acc_beta1, float one_minus_acc_beta2, float c1,
             float c2);

/* For r in [0, rows): copy `width` 4-byte elements from src[r * src_width + src_offset] to dst[r * dst_width + dst_offset]. */
void am_copy_columns(const uint32_t *src, int64_t src_width, int64_t src_offset, uint32_t *dst, int64_t dst_width, int64_t dst_offset,
                     int64_t width, int64_t rows);

#endif
