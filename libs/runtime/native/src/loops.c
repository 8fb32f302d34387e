/* Plain C kernels: max-pool gradient, ReLU gradient, strided column copies (concat / split). See kernels.h. */
#include <stdlib.h>
#include <math.h>
#include <string.h>

#include <omp.h>

#include "kernels.h"

void am_max_pool_grad(const float *dy, const float *x, const float *y, float *dx, const int32_t *g) {
  const int n = g[AM_P_N], h = g[AM_P_H], w = g[AM_P_W], c = g[AM_P_C];
  const int oh = g[AM_P_OH], ow = g[AM_P_OW], fh = g[AM_P_FH], fw = g[AM_P_FW];
  const int sh = g[AM_P_SH], sw = g[AM_P_SW], pt = g[AM_P_PT], pl = g[AM_P_PL];
  const size_t image = (size_t)h * w * c;
  const size_t out_image = (size_t)oh * ow * c;
  /* windows of one image overlap (stride < window), images do not: images are the parallel unit */
#pragma omp parallel for schedule(static) if (n > 1)
  for (int b = 0; b < n; b++) {
    const float *xb = x + (size_t)b * image;
    float *dxb = dx + (size_t)b * image;
    memset(dxb, 0, image * sizeof(float));
    /* per channel, the offset in the image of the window's first input equal to the pooled value (-1: none) */
    int32_t *sel = malloc(((size_t)c > 0 ? (size_t)c : 1) * sizeof(int32_t));
    if (!sel) continue; /* leaves zeros; cannot happen for sane channel counts */
    for (int p = 0; p < oh; p++) {
      const int r0 = p * sh - pt;
      const int r_start = r0 < 0 ? 0 : r0;
      const int r_end = r0 + fh > h ? h : r0 + fh;
      for (int q = 0; q < ow; q++) {
        const int c0 = q * sw - pl;
        const int c_start = c0 < 0 ? 0 : c0;
        const int c_end = c0 + fw > w ? w : c0 + fw;
        const size_t o = (size_t)b * out_image + ((size_t)p * ow + q) * c;
        const float *target = y + o;
        const float *grad = dy + o;
        for (int ch = 0; ch < c; ch++) sel[ch] = -1;
        /* window positions in reverse row-major order, so the last match kept is the first in order (branch-free
           selects: random data makes the comparison unpredictable, and this loop vectorises) */
        for (int r = r_end - 1; r >= r_start; r--) {
          for (int col = c_end - 1; col >= c_start; col--) {
            const int32_t at = (int32_t)(((size_t)r * w + col) * c);
            const float *px = xb + at;
            for (int ch = 0; ch < c; ch++) sel[ch] = px[ch] == target[ch] ? at + ch : sel[ch];
          }
        }
        for (int ch = 0; ch < c; ch++)
          if (sel[ch] >= 0) dxb[sel[ch]] += grad[ch];
      }
    }
    free(sel);
  }
}

void am_copy_columns(const uint32_t *src, int64_t src_width, int64_t src_offset, uint32_t *dst, int64_t dst_width, int64_t dst_offset,
                     int64_t width, int64_t rows) {
  const size_t bytes = (size_t)width * sizeof(uint32_t);
  if (src_width == width && dst_width == width) {
    memcpy(dst + dst_offset, src + src_offset, bytes * (size_t)rows);
    return;
  }
  for (int64_t r = 0; r < rows; r++) memcpy(dst + r * dst_width + dst_offset, src + r * src_width + src_offset, bytes);
}

void am_relu_grad(const float *dy, const float *x, float *dx, int64_t n) {
  /* tfjs: dy * step(x), step(x) = x > 0 ? 1 : 0, NaN for NaN; the multiply keeps dy's NaN/Inf semantics */
#pragma omp parallel for schedule(static) if (n >= (1 << 16))
  for (int64_t i = 0; i < n; i++) {
    const float v = x[i];
    const float s = v > 0.0f ? 1.0f : (v != v ? v : 0.0f);
    dx[i] = dy[i] * s;
  }
}

/* y = (x - mean) * scale + bias per channel (the last axis): batch norm's output pass, inference and training */
static void channel_affine(const float *x, const float *mean, const float *scale, const float *bias, float *y, int64_t rows, int64_t c) {
#pragma omp parallel for schedule(static) if (rows * c >= (1 << 16))
  for (int64_t r = 0; r < rows; r++) {
    const float *px = x + r * c;
    float *py = y + r * c;
    for (int64_t k = 0; k < c; k++) py[k] = (px[k] - mean[k]) * scale[k] + bias[k];
  }
}

void am_batch_norm(const float *x, const float *mean, const float *variance, const float *offset, const float *scale, float epsilon, float *y,
                   int64_t rows, int64_t c) {
  float *a = malloc((size_t)(c > 0 ? c : 1) * 2 * sizeof(float));
  if (!a) return;
  float *b = a + c;
  for (int64_t k = 0; k < c; k++) {
    /* tfjs: (x - mean) * scale / sqrt(variance + epsilon) + offset, folded per channel */
    const float inv = 1.0f / sqrtf(variance[k] + epsilon);
    a[k] = (scale ? scale[k] : 1.0f) * inv;
    b[k] = offset ? offset[k] : 0.0f;
  }
  channel_affine(x, mean, a, b, y, rows, c);
  free(a);
}

void am_column_sum(const float *x, int64_t rows, int64_t c, float *out, double scale) {
  double *acc = calloc((size_t)(c > 0 ? c : 1), sizeof(double));
  if (!acc) return;
  int threads = omp_get_max_threads();
  if (rows * c < (1 << 16) || rows < 2 * threads) threads = 1;
#pragma omp parallel num_threads(threads)
  {
    const int t = omp_get_thread_num(), n = omp_get_num_threads();
    const int64_t r0 = rows * t / n, r1 = rows * (t + 1) / n;
    double *part = calloc((size_t)(c > 0 ? c : 1), sizeof(double));
    float *block = malloc((size_t)(c > 0 ? c : 1) * sizeof(float));
    if (part && block) {
      /* float sums over blocks of 64 rows (vectorised), added up in double */
      for (int64_t r = r0; r < r1; r += 64) {
        const int64_t end = r + 64 < r1 ? r + 64 : r1;
        for (int64_t k = 0; k < c; k++) block[k] = 0.0f;
        for (int64_t i = r; i < end; i++) {
          const float *px = x + i * c;
          for (int64_t k = 0; k < c; k++) block[k] += px[k];
        }
        for (int64_t k = 0; k < c; k++) part[k] += block[k];
      }
#pragma omp critical
      for (int64_t k = 0; k < c; k++) acc[k] += part[k];
    }
    free(part);
    free(block);
  }
  for (int64_t k = 0; k < c; k++) out[k] = (float)(acc[k] * scale);
  free(acc);
}

/* out = a (op) b where b has nb elements repeated along a (nb = n: same shape; nb = c: per last-axis channel; 1: scalar). */
static inline void binary_span(int op, const float *a, const float *b, float *out, int64_t len, int scalar) {
  if (scalar) {
    const float v = b[0];
    if (op == AM_OP_ADD)
      for (int64_t k = 0; k < len; k++) out[k] = a[k] + v;
    else if (op == AM_OP_SUB)
      for (int64_t k = 0; k < len; k++) out[k] = a[k] - v;
    else
      for (int64_t k = 0; k < len; k++) out[k] = a[k] * v;
  } else if (op == AM_OP_ADD) {
    for (int64_t k = 0; k < len; k++) out[k] = a[k] + b[k];
  } else if (op == AM_OP_SUB) {
    for (int64_t k = 0; k < len; k++) out[k] = a[k] - b[k];
  } else {
    for (int64_t k = 0; k < len; k++) out[k] = a[k] * b[k];
  }
}

void am_binary(int op, const float *a, const float *b, float *out, int64_t n, int64_t nb) {
  const int scalar = nb == 1;
  /* the unit of work: a block of whole repeats of b (or of 16k elements when b does not repeat or is a scalar) */
  const int64_t unit = (nb == n || scalar) ? 16384 : nb * (nb >= 16384 ? 1 : 16384 / nb);
  const int64_t blocks = (n + unit - 1) / unit;
#pragma omp parallel for schedule(static) if (n >= (1 << 16))
  for (int64_t blk = 0; blk < blocks; blk++) {
    const int64_t start = blk * unit;
    const int64_t end = start + unit < n ? start + unit : n;
    if (scalar || nb == n) {
      binary_span(op, a + start, scalar ? b : b + start, out + start, end - start, scalar);
    } else {
      for (int64_t r = start; r < end; r += nb) binary_span(op, a + r, b, out + r, nb, 0);
    }
  }
}

void am_adam(const float *value, const float *g, const float *m, const float *v, float *out_value, float *out_m, float *out_v, int64_t n,
             float learning_rate, float beta1, float beta2, float epsilon, float one_minus_acc_beta1, float one_minus_acc_beta2, float c1,
             float c2) {
  /* tfjs's AdamOptimizer, operation by operation in float32 (c1 = 1 - beta1, c2 = 1 - beta2 as JavaScript rounds them) */
  const float step = -learning_rate;
#pragma omp parallel for schedule(static) if (n >= (1 << 16))
  for (int64_t i = 0; i < n; i++) {
    const float gi = g[i];
    const float nm = m[i] * beta1 + gi * c1;
    const float nv = v[i] * beta2 + (gi * gi) * c2;
    const float mhat = nm / one_minus_acc_beta1;
    const float vhat = nv / one_minus_acc_beta2;
    out_m[i] = nm;
    out_v[i] = nv;
    out_value[i] = (mhat / (sqrtf(vhat) + epsilon)) * step + value[i];
  }
}

/*
 * Per-channel sums over rows of one or two float inputs, in double, split over OpenMP threads by row blocks:
 * s1[k] = sum_r (a[r][k] - shift[k]); s2[k] = sum_r (a[r][k] - shift[k]) * (b ? b[r][k] - ... : same) (see callers).
 * mode 0: s1 = sum (a - shift), s2 = sum (a - shift)^2 (statistics of x around a per-channel shift).
 * mode 1: s1 = sum a, s2 = sum a * (b - shift) (dy and x around the mean: dbeta, dgamma / invstd).
 * Returns 0, or -1 when out of memory.
 */
static int channel_sums(int mode, const float *a, const float *b, const float *shift, int64_t rows, int64_t c, double *s1, double *s2) {
  for (int64_t k = 0; k < c; k++) s1[k] = s2[k] = 0.0;
  int threads = omp_get_max_threads();
  if (rows * c < (1 << 15) || rows < 2 * threads) threads = 1;
  int failed = 0;
#pragma omp parallel num_threads(threads)
  {
    const int t = omp_get_thread_num(), n = omp_get_num_threads();
    const int64_t r0 = rows * t / n, r1 = rows * (t + 1) / n;
    double *part = calloc((size_t)c * 2, sizeof(double));
    float *block = malloc((size_t)c * 2 * sizeof(float));
    if (part && block) {
      /* float sums over blocks of 32 rows (vectorised), added up in double */
      for (int64_t r = r0; r < r1; r += 32) {
        const int64_t end = r + 32 < r1 ? r + 32 : r1;
        float *b1 = block, *b2 = block + c;
        for (int64_t k = 0; k < c; k++) b1[k] = b2[k] = 0.0f;
        if (mode == 0) {
          for (int64_t i = r; i < end; i++) {
            const float *pa = a + i * c;
            for (int64_t k = 0; k < c; k++) {
              const float d = pa[k] - shift[k];
              b1[k] += d;
              b2[k] += d * d;
            }
          }
        } else {
          for (int64_t i = r; i < end; i++) {
            const float *pa = a + i * c, *pb = b + i * c;
            for (int64_t k = 0; k < c; k++) {
              b1[k] += pa[k];
              b2[k] += pa[k] * (pb[k] - shift[k]);
            }
          }
        }
        for (int64_t k = 0; k < c; k++) {
          part[k] += b1[k];
          part[c + k] += b2[k];
        }
      }
#pragma omp critical
      for (int64_t k = 0; k < c; k++) {
        s1[k] += part[k];
        s2[k] += part[c + k];
      }
    } else {
#pragma omp atomic write
      failed = 1;
    }
    free(part);
    free(block);
  }
  return failed ? -1 : 0;
}

int am_batch_norm_train(const float *x, const float *gamma, const float *beta, float epsilon, float *y, float *mean, float *variance, int64_t rows,
                        int64_t c) {
  if (rows < 1 || c < 1) return -1;
  double *s = malloc((size_t)c * 2 * sizeof(double));
  float *shift = malloc((size_t)c * 3 * sizeof(float));
  if (!s || !shift) {
    free(s);
    free(shift);
    return -1;
  }
  float *scale = shift + c, *bias = shift + 2 * c; /* mean is the caller's array, written before the output pass */
  /* the first row as the shift: sums of squares around a value near the mean lose no precision to cancellation */
  for (int64_t k = 0; k < c; k++) shift[k] = x[k];
  if (channel_sums(0, x, NULL, shift, rows, c, s, s + c) != 0) {
    free(s);
    free(shift);
    return -1;
  }
  for (int64_t k = 0; k < c; k++) {
    const double d = s[k] / (double)rows;             /* mean - shift */
    double v = s[c + k] / (double)rows - d * d;       /* biased variance, as tf.moments */
    if (v < 0.0) v = 0.0;
    const double m = (double)shift[k] + d;
    mean[k] = (float)m;
    variance[k] = (float)v;
    const double inv = 1.0 / sqrt(v + (double)epsilon);
    const double g = gamma ? (double)gamma[k] : 1.0;
    scale[k] = (float)(g * inv);
    bias[k] = beta ? beta[k] : 0.0f;
  }
  channel_affine(x, mean, scale, bias, y, rows, c);
  free(s);
  free(shift);
  return 0;
}

int am_batch_norm_train_grad(const float *dy, const float *x, const float *mean, const float *variance, const float *gamma, float epsilon, float *dx,
                             float *dgamma, float *dbeta, int64_t rows, int64_t c) {
  if (rows < 1 || c < 1) return -1;
  double *s = malloc((size_t)c * 2 * sizeof(double));
  float *coef = malloc((size_t)c * 3 * sizeof(float));
  if (!s || !coef) {
    free(s);
    free(coef);
    return -1;
  }
  if (channel_sums(1, dy, x, mean, rows, c, s, s + c) != 0) {
    free(s);
    free(coef);
    return -1;
  }
  /* dx = g*inv * (dy - dbeta/M - xhat * dgamma/M), xhat = (x - mean) * inv: dx = a*dy + b*(x - mean) + d */
  float *ca = coef, *cb = coef + c, *cd = coef + 2 * c;
  for (int64_t k = 0; k < c; k++) {
    const double inv = 1.0 / sqrt((double)variance[k] + (double)epsilon);
    const double g = gamma ? (double)gamma[k] : 1.0;
    const double db = s[k];
    const double dg = s[c + k] * inv;
    dbeta[k] = (float)db;
    dgamma[k] = (float)dg;
    const double gi = g * inv;
    ca[k] = (float)gi;
    cb[k] = (float)(-gi * inv * dg / (double)rows);
    cd[k] = (float)(-gi * db / (double)rows);
  }
#pragma omp parallel for schedule(static) if (rows * c >= (1 << 16))
  for (int64_t r = 0; r < rows; r++) {
    const float *pd = dy + r * c, *px = x + r * c;
    float *po = dx + r * c;
    for (int64_t k = 0; k < c; k++) po[k] = ca[k] * pd[k] + cb[k] * (px[k] - mean[k]) + cd[k];
  }
  free(s);
  free(coef);
  return 0;
}
