/*
 * The engine: read + libjpeg decode + every metric of @agekit/quality's measureImage, computed with the
 * same arithmetic in the same order so that the doubles come out bit-for-bit equal (built with
 * -ffp-contract=off: no fused multiply-adds, which JS never does). Keep in step with
 * libs/quality/src/lib/metrics.ts and phash.ts.
 */
#include "engine.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jpeglib.h>

#include "jpeg_header.h"

/* ---- constants shared with metrics.ts ---- */
#define SHADOW_CLIP_LEVEL 5
#define HIGHLIGHT_CLIP_LEVEL 250
#define BUCKET_SHIFT 13
#define BUCKETS ((65025000u >> BUCKET_SHIFT) + 1u)
#define THUMB 32
#define LOW 8

static double cos_table[LOW * THUMB];
static int cos_ready = 0;

void aq_set_cos_table(const double *table) {
  memcpy(cos_table, table, sizeof cos_table);
  cos_ready = 1;
}

int aq_cos_table_ready(void) { return cos_ready; }

void aq_scratch_free(aq_scratch *s) {
  free(s->file);
  free(s->pixels);
  free(s->gray);
  free(s->keys);
  free(s->members);
  free(s->thumb_tmp);
  memset(s, 0, sizeof *s);
}

/* Grow *buf to hold count elements of size bytes; 0 on success. */
static int grow(void **buf, size_t *cap, size_t count, size_t size) {
  if (*cap >= count) return 0;
  size_t want = count < 1024 ? 1024 : count;
  if (want < *cap * 2) want = *cap * 2;
  void *p = realloc(*buf, want * size);
  if (!p) return -1;
  *buf = p;
  *cap = want;
  return 0;
}

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ---- metrics ---- */

static inline uint32_t rotl32(uint32_t x, int r) { return (x << r) | (x >> (32 - r)); }

static uint32_t fmix32(uint32_t h) {
  h ^= h >> 16;
  h *= 0x85ebca6bu;
  h ^= h >> 13;
  h *= 0xc2b2ae35u;
  h ^= h >> 16;
  return h;
}

static inline int reflect101(int i, int n) {
  if (n == 1) return 0;
  if (i < 0) return -i;
  if (i >= n) return 2 * n - 2 - i;
  return i;
}

static inline int border_laplacian(const uint8_t *g, int w, int h, int x, int y) {
  int row = y * w;
  int c = g[row + x];
  int up = g[reflect101(y - 1, h) * w + x];
  int down = g[reflect101(y + 1, h) * w + x];
  int left = g[row + reflect101(x - 1, w)];
  int right = g[row + reflect101(x + 1, w)];
  return up + down + left + right - 4 * c;
}

/* Population variance of the reflect-101 3x3 Laplacian. The sums are integers, exact in int64 as in
   metrics.ts's doubles, so the order of summation does not matter here. */
static double laplacian_variance(const uint8_t *g, int w, int h) {
  size_t n = (size_t)w * (size_t)h;
  int64_t sum = 0;
  int64_t sum_sq = 0;
  if (h < 3 || w < 3) {
    for (int y = 0; y < h; y++)
      for (int x = 0; x < w; x++) {
        int64_t v = border_laplacian(g, w, h, x, y);
        sum += v;
        sum_sq += v * v;
      }
  } else {
    for (int x = 0; x < w; x++) {
      int64_t a = border_laplacian(g, w, h, x, 0);
      int64_t b = border_laplacian(g, w, h, x, h - 1);
      sum += a + b;
      sum_sq += a * a + b * b;
    }
    for (int y = 1; y < h - 1; y++) {
      int64_t a = border_laplacian(g, w, h, 0, y);
      int64_t b = border_laplacian(g, w, h, w - 1, y);
      sum += a + b;
      sum_sq += a * a + b * b;
    }
    for (int y = 1; y < h - 1; y++) {
      const uint8_t *row = g + (size_t)y * w;
      const uint8_t *up = row - w;
      const uint8_t *down = row + w;
      /* |v| <= 1020: a row of up to 2,000 values sums its squares in 32 bits (as metrics.ts does) */
      for (int x0 = 1; x0 < w - 1; x0 += 2000) {
        int end = x0 + 2000 < w - 1 ? x0 + 2000 : w - 1;
        int32_t rs = 0;
        uint32_t rq = 0;
        for (int x = x0; x < end; x++) {
          int32_t v = (int32_t)up[x] + down[x] + row[x - 1] + row[x + 1] - 4 * (int32_t)row[x];
          rs += v;
          rq += (uint32_t)(v * v);
        }
        sum += rs;
        sum_sq += rq;
      }
    }
  }
  double mean = (double)sum / (double)n;
  double variance = (double)sum_sq / (double)n - mean * mean;
  return variance > 0 ? variance : 0;
}

/* histogramStats of metrics.ts: mean and population std from a 256-bin histogram. */
static void histogram_stats(const uint32_t *hist, double *mean_out, double *std_out) {
  double count = 0;
  double sum = 0;
  for (int v = 0; v < 256; v++) {
    count += hist[v];
    sum += v * (double)hist[v];
  }
  if (count == 0) {
    *mean_out = 0;
    *std_out = 0;
    return;
  }
  double mean = sum / count;
  double ss = 0;
  for (int v = 0; v < 256; v++) {
    if (hist[v] == 0) continue;
    double d = v - mean;
    ss += (double)hist[v] * d * d;
  }
  *mean_out = mean;
  *std_out = sqrt(ss / count);
}

static inline double key_brightness(uint32_t key) { return sqrt((double)key / 1000) / 255; }

static int cmp_f64(const void *a, const void *b) {
  double x = *(const double *)a;
  double y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/*
 * Sort the keys of one bucket (they share key >> BUCKET_SHIFT): insertion sort when few, else a counting
 * sort over the range of their low BUCKET_SHIFT bits (the result is the same sorted sequence either way).
 */
static void sort_bucket(uint32_t *keys, uint32_t count) {
  if (count < 2) return;
  if (count <= 32) {
    for (uint32_t i = 1; i < count; i++) {
      uint32_t v = keys[i];
      uint32_t j = i;
      while (j > 0 && keys[j - 1] > v) {
        keys[j] = keys[j - 1];
        j--;
      }
      keys[j] = v;
    }
    return;
  }
  const uint32_t mask = (1u << BUCKET_SHIFT) - 1u;
  uint32_t high = keys[0] & ~mask;
  uint32_t lo = mask, hi = 0;
  for (uint32_t i = 0; i < count; i++) {
    uint32_t v = keys[i] & mask;
    lo = v < lo ? v : lo;
    hi = v > hi ? v : hi;
  }
  uint32_t low[1u << BUCKET_SHIFT];
  uint32_t range = hi - lo + 1;
  memset(low, 0, range * sizeof(uint32_t));
  for (uint32_t i = 0; i < count; i++) low[(keys[i] & mask) - lo]++;
  uint32_t out = 0;
  for (uint32_t v = 0; v < range; v++)
    for (uint32_t c = low[v]; c > 0; c--) keys[out++] = high | (lo + v);
}

/* Bucket holding rank: cumulative[b] <= rank < cumulative[b + 1]. */
static unsigned bucket_of(const uint32_t *cumulative, uint32_t rank) {
  unsigned lo = 0;
  unsigned hi = BUCKETS - 1;
  while (lo < hi) {
    unsigned mid = (lo + hi + 1) >> 1;
    if (cumulative[mid] <= rank) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/*
 * numpy.percentile (linear interpolation) of the 5th and 99th percentiles of brightness from the keys:
 * exact order statistics (the keys of the buckets holding the needed ranks are gathered and sorted).
 */
static int brightness_percentiles(const uint32_t *keys, uint32_t n, const uint32_t *counts, aq_scratch *s, double *p5, double *p99) {
  static const double percentiles[2] = {5, 99};
  uint32_t cumulative[BUCKETS + 1];
  cumulative[0] = 0;
  for (unsigned b = 0; b < BUCKETS; b++) cumulative[b + 1] = cumulative[b] + counts[b];
  unsigned needed[4];
  int needed_count = 0;
  for (int p = 0; p < 2; p++) {
    uint32_t lo = (uint32_t)floor((percentiles[p] / 100) * (double)(n - 1));
    uint32_t ranks[2] = {lo, lo + 1 < n - 1 ? lo + 1 : n - 1};
    for (int r = 0; r < 2; r++) {
      unsigned b = bucket_of(cumulative, ranks[r]);
      int seen = 0;
      for (int k = 0; k < needed_count; k++) seen |= needed[k] == b;
      if (!seen) needed[needed_count++] = b;
    }
  }
  uint32_t begin[4];
  uint32_t fill[4];
  uint32_t total = 0;
  uint8_t slot_of[BUCKETS];
  memset(slot_of, 0, sizeof slot_of);
  for (int k = 0; k < needed_count; k++) {
    slot_of[needed[k]] = (uint8_t)(k + 1);
    begin[k] = total;
    fill[k] = total;
    total += counts[needed[k]];
  }
  if (grow((void **)&s->members, &s->members_cap, (size_t)total + 1, sizeof(uint32_t))) return -1;
  uint32_t *members = s->members;
  /* gather the keys of the needed buckets (a few % of all keys) */
  for (uint32_t i = 0; i < n; i++) {
    uint32_t k = keys[i];
    unsigned slot = slot_of[k >> BUCKET_SHIFT];
    if (slot) members[fill[slot - 1]++] = k;
  }
  for (int k = 0; k < needed_count; k++) sort_bucket(members + begin[k], counts[needed[k]]);
  double out[2];
  for (int p = 0; p < 2; p++) {
    double pos = (percentiles[p] / 100) * (double)(n - 1);
    double lo_d = floor(pos);
    uint32_t lo = (uint32_t)lo_d;
    double frac = pos - lo_d;
    uint32_t rank_keys[2];
    for (int r = 0; r < 2; r++) {
      uint32_t rank = r == 0 ? lo : lo + 1;
      if (rank >= n) rank = n - 1;
      unsigned b = bucket_of(cumulative, rank);
      int k = 0;
      while (needed[k] != b) k++;
      rank_keys[r] = members[begin[k] + (rank - cumulative[b])];
    }
    double a = key_brightness(rank_keys[0]);
    if (frac == 0 || lo + 1 >= n) {
      out[p] = a;
    } else {
      double b = key_brightness(rank_keys[1]);
      out[p] = a + (b - a) * frac;
    }
  }
  *p5 = out[0];
  *p99 = out[1];
  return 0;
}

/* Area weights of phash.ts's areaWeights(size, 32): output o covers first[o] .. first[o] + count[o] - 1. */
typedef struct area_weights {
  int first[THUMB];
  int count[THUMB];
  int offset[THUMB];
  double *weights;
} area_weights;

static int make_area_weights(int size, area_weights *aw) {
  double scale = (double)size / THUMB;
  int total = 0;
  int lasts[THUMB];
  for (int o = 0; o < THUMB; o++) {
    double a = o * scale;
    double b = a + scale;
    int first = (int)floor(a);
    int last = (int)ceil(b) - 1;
    if (last > size - 1) last = size - 1;
    int count = last - first + 1;
    if (count < 1) count = 1;
    aw->first[o] = first;
    aw->count[o] = count;
    aw->offset[o] = total;
    lasts[o] = last;
    total += count;
  }
  aw->weights = calloc((size_t)total, sizeof(double));
  if (!aw->weights) return -1;
  for (int o = 0; o < THUMB; o++) {
    double a = o * scale;
    double b = a + scale;
    for (int i = aw->first[o]; i <= lasts[o]; i++) {
      double hi = (double)(i + 1) < b ? (double)(i + 1) : b;
      double lo = (double)i > a ? (double)i : a;
      double cover = hi - lo;
      aw->weights[aw->offset[o] + i - aw->first[o]] = (cover > 0 ? cover : 0) / scale;
    }
  }
  return 0;
}

/* 64-bit perceptual hash of phash.ts (area thumbnail 32x32, DCT-II rows then columns, median of 8x8). */
static int perceptual_hash(const uint8_t *gray, int w, int h, aq_scratch *s, uint32_t *hi_out, uint32_t *lo_out) {
  area_weights xs, ys;
  if (make_area_weights(w, &xs)) return -1;
  if (make_area_weights(h, &ys)) {
    free(xs.weights);
    return -1;
  }
  if (grow((void **)&s->thumb_tmp, &s->thumb_tmp_cap, (size_t)THUMB * h, sizeof(double))) {
    free(xs.weights);
    free(ys.weights);
    return -1;
  }
  double *tmp = s->thumb_tmp;
  /* four rows at a time: four independent sums per output (each in the same order as phash.ts) */
  int y = 0;
  for (; y + 3 < h; y += 4) {
    const uint8_t *r0 = gray + (size_t)y * w;
    const uint8_t *r1 = r0 + w;
    const uint8_t *r2 = r1 + w;
    const uint8_t *r3 = r2 + w;
    for (int ox = 0; ox < THUMB; ox++) {
      int f = xs.first[ox];
      const double *wt = xs.weights + xs.offset[ox];
      int cnt = xs.count[ox];
      double a0 = 0, a1 = 0, a2 = 0, a3 = 0;
      for (int k = 0; k < cnt; k++) {
        double wk = wt[k];
        a0 += r0[f + k] * wk;
        a1 += r1[f + k] * wk;
        a2 += r2[f + k] * wk;
        a3 += r3[f + k] * wk;
      }
      tmp[(size_t)y * THUMB + ox] = a0;
      tmp[(size_t)(y + 1) * THUMB + ox] = a1;
      tmp[(size_t)(y + 2) * THUMB + ox] = a2;
      tmp[(size_t)(y + 3) * THUMB + ox] = a3;
    }
  }
  for (; y < h; y++) {
    const uint8_t *row = gray + (size_t)y * w;
    for (int ox = 0; ox < THUMB; ox++) {
      const uint8_t *src = row + xs.first[ox];
      const double *wt = xs.weights + xs.offset[ox];
      int cnt = xs.count[ox];
      double acc = 0;
      for (int k = 0; k < cnt; k++) acc += src[k] * wt[k];
      tmp[(size_t)y * THUMB + ox] = acc;
    }
  }
  double thumb[THUMB * THUMB];
  for (int oy = 0; oy < THUMB; oy++) {
    int first = ys.first[oy];
    int cnt = ys.count[oy];
    const double *wt = ys.weights + ys.offset[oy];
    for (int ox = 0; ox < THUMB; ox++) {
      double acc = 0;
      for (int k = 0; k < cnt; k++) acc += tmp[(size_t)(first + k) * THUMB + ox] * wt[k];
      thumb[oy * THUMB + ox] = acc;
    }
  }
  free(xs.weights);
  free(ys.weights);
  /* DCT rows then columns; four outputs at a time (independent sums, each in phash.ts's order) */
  double rows[LOW * THUMB];
  for (int u = 0; u < LOW; u++) {
    const double *c = cos_table + u * THUMB;
    for (int y = 0; y < THUMB; y += 4) {
      const double *t0 = thumb + y * THUMB;
      double a0 = 0, a1 = 0, a2 = 0, a3 = 0;
      for (int x = 0; x < THUMB; x++) {
        double cx = c[x];
        a0 += cx * t0[x];
        a1 += cx * t0[THUMB + x];
        a2 += cx * t0[2 * THUMB + x];
        a3 += cx * t0[3 * THUMB + x];
      }
      rows[u * THUMB + y] = a0;
      rows[u * THUMB + y + 1] = a1;
      rows[u * THUMB + y + 2] = a2;
      rows[u * THUMB + y + 3] = a3;
    }
  }
  double coeffs[LOW * LOW];
  for (int v = 0; v < LOW; v++) {
    const double *c = cos_table + v * THUMB;
    for (int u = 0; u < LOW; u += 4) {
      double a0 = 0, a1 = 0, a2 = 0, a3 = 0;
      for (int y = 0; y < THUMB; y++) {
        double cy = c[y];
        a0 += cy * rows[u * THUMB + y];
        a1 += cy * rows[(u + 1) * THUMB + y];
        a2 += cy * rows[(u + 2) * THUMB + y];
        a3 += cy * rows[(u + 3) * THUMB + y];
      }
      coeffs[v * LOW + u] = a0;
      coeffs[v * LOW + u + 1] = a1;
      coeffs[v * LOW + u + 2] = a2;
      coeffs[v * LOW + u + 3] = a3;
    }
  }
  double sorted[LOW * LOW];
  memcpy(sorted, coeffs, sizeof sorted);
  qsort(sorted, LOW * LOW, sizeof(double), cmp_f64);
  double median = (sorted[31] + sorted[32]) / 2;
  uint32_t hi = 0, lo = 0;
  for (int i = 0; i < 64; i++) {
    if (coeffs[i] > median) {
      if (i < 32) hi |= 1u << (31 - i);
      else lo |= 1u << (63 - i);
    }
  }
  *hi_out = hi;
  *lo_out = lo;
  return 0;
}

static void hex8(char *out, uint32_t v) {
  static const char digits[] = "0123456789abcdef";
  for (int i = 7; i >= 0; i--) {
    out[i] = digits[v & 15];
    v >>= 4;
  }
}

int aq_measure_pixels(const uint8_t *data, int width, int height, int channels, aq_scratch *s, double *metrics, uint32_t *hist, char *hashes) {
  uint32_t n = (uint32_t)width * (uint32_t)height;
  if (grow((void **)&s->keys, &s->keys_cap, n, sizeof(uint32_t))) return -1;
  uint32_t *restrict keys = s->keys;
  uint32_t counts[BUCKETS];
  memset(counts, 0, sizeof counts);
  uint32_t gray_hist[256];
  memset(gray_hist, 0, sizeof gray_hist);
  memset(hist, 0, AQ_HIST * sizeof(uint32_t));
  const uint8_t *gray;
  int64_t chroma2 = 0;
  uint32_t h1 = 0x9747b28cu ^ (uint32_t)width;
  uint32_t h2 = 0x5bd1e995u ^ (uint32_t)height;
  if (channels == 1) {
    gray = data;
    for (uint32_t i = 0; i < n; i++) {
      uint32_t v = data[i];
      uint32_t px = v | (v << 8) | (v << 16);
      h1 = rotl32((h1 ^ px) * 0xcc9e2d51u, 15);
      h2 = rotl32((h2 ^ px) * 0x1b873593u + 0x6b43a9b5u, 13);
      gray_hist[v]++;
      uint32_t k = 1000u * v * v;
      keys[i] = k;
      counts[k >> BUCKET_SHIFT]++;
    }
    memcpy(hist, gray_hist, sizeof gray_hist);
  } else {
    if (grow((void **)&s->gray, &s->gray_cap, n, 1)) return -1;
    uint8_t *restrict g = s->gray;
    /*
     * One pass: the hash lanes (a serial chain of multiplies, latency-bound) interleaved with the histogram
     * and key work (throughput-bound), so the two overlap. Histograms in two copies (even and odd pixels):
     * runs of equal values do not serialise on one counter.
     */
    uint32_t hist2[2][AQ_HIST];
    uint32_t gray2[2][256];
    uint32_t counts2[2][BUCKETS];
    memset(hist2, 0, sizeof hist2);
    memset(gray2, 0, sizeof gray2);
    memset(counts2, 0, sizeof counts2);
    const uint8_t *restrict q = data;
    uint32_t i = 0;
    int64_t chroma_a = 0, chroma_b = 0;
#define AQ_PIXEL(copy, r, gg, b, idx, acc)                                   \
  do {                                                                       \
    uint32_t px_ = (r) | ((gg) << 8) | ((b) << 16);                          \
    h1 = rotl32((h1 ^ px_) * 0xcc9e2d51u, 15);                               \
    h2 = rotl32((h2 ^ px_) * 0x1b873593u + 0x6b43a9b5u, 13);                 \
    uint32_t y_ = ((r) * 9798u + (gg) * 19235u + (b) * 3735u + 16384u) >> 15; \
    g[idx] = (uint8_t)y_;                                                    \
    gray2[copy][y_]++;                                                       \
    hist2[copy][(r)]++;                                                      \
    hist2[copy][256 + (gg)]++;                                               \
    hist2[copy][512 + (b)]++;                                                \
    uint32_t mx_ = (r) > (gg) ? (r) : (gg);                                  \
    mx_ = (b) > mx_ ? (b) : mx_;                                             \
    uint32_t mn_ = (r) < (gg) ? (r) : (gg);                                  \
    mn_ = (b) < mn_ ? (b) : mn_;                                             \
    acc += mx_ - mn_;                                                        \
    uint32_t k_ = 241u * (r) * (r) + 691u * (gg) * (gg) + 68u * (b) * (b);   \
    keys[idx] = k_;                                                          \
    counts2[copy][k_ >> BUCKET_SHIFT]++;                                     \
  } while (0)
    for (; i + 1 < n; i += 2, q += 2 * channels) {
      uint32_t r0 = q[0], g0 = q[1], b0 = q[2];
      uint32_t r1 = q[channels], g1 = q[channels + 1], b1 = q[channels + 2];
      AQ_PIXEL(0, r0, g0, b0, i, chroma_a);
      AQ_PIXEL(1, r1, g1, b1, i + 1, chroma_b);
    }
    if (i < n) {
      uint32_t r0 = q[0], g0 = q[1], b0 = q[2];
      AQ_PIXEL(0, r0, g0, b0, i, chroma_a);
    }
#undef AQ_PIXEL
    chroma2 = chroma_a + chroma_b;
    chroma2 *= 2;
    for (int v = 0; v < AQ_HIST; v++) hist[v] = hist2[0][v] + hist2[1][v];
    for (int v = 0; v < 256; v++) gray_hist[v] = gray2[0][v] + gray2[1][v];
    for (unsigned b = 0; b < BUCKETS; b++) counts[b] = counts2[0][b] + counts2[1][b];
    gray = g;
  }
  double mean, std;
  histogram_stats(gray_hist, &mean, &std);
  double shadows = 0, highlights = 0;
  for (int v = 0; v <= SHADOW_CLIP_LEVEL; v++) shadows += gray_hist[v];
  for (int v = HIGHLIGHT_CLIP_LEVEL; v < 256; v++) highlights += gray_hist[v];
  double p5, p99;
  if (brightness_percentiles(keys, n, counts, s, &p5, &p99)) return -1;
  uint32_t ph_hi, ph_lo;
  if (perceptual_hash(gray, width, height, s, &ph_hi, &ph_lo)) return -1;
  double dn = (double)n;
  double w = width, h = height;
  metrics[AQ_M_LAPLACIAN_VARIANCE] = laplacian_variance(gray, width, height);
  metrics[AQ_M_MEAN] = mean;
  metrics[AQ_M_STD] = std;
  metrics[AQ_M_RMS_CONTRAST] = std / 255;
  metrics[AQ_M_DARK_SCORE] = p99;
  metrics[AQ_M_LIGHT_SCORE] = 1 - p5;
  metrics[AQ_M_CLIPPED_SHADOWS] = shadows / dn;
  metrics[AQ_M_CLIPPED_HIGHLIGHTS] = highlights / dn;
  double ar1 = w / h, ar2 = h / w;
  metrics[AQ_M_ASPECT_RATIO] = ar1 < ar2 ? ar1 : ar2;
  metrics[AQ_M_CHROMA_MEAN] = ((double)chroma2 / 2) / dn;
  hex8(hashes, fmix32(h1 ^ n));
  hex8(hashes + 8, fmix32(h2 ^ (n * 0x27d4eb2du) ^ h1));
  hex8(hashes + 16, ph_hi);
  hex8(hashes + 24, ph_lo);
  return 0;
}

/* ---- read ---- */

static int read_file(const char *path, aq_scratch *s, size_t *len_out) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return AQ_NOT_FOUND;
    if (errno == EACCES || errno == EPERM) return AQ_PERMISSION;
    if (errno == EISDIR) return AQ_IS_DIRECTORY;
    return AQ_NOT_HANDLED;
  }
  struct stat st;
  if (fstat(fd, &st) != 0) {
    close(fd);
    return AQ_NOT_HANDLED;
  }
  if (S_ISDIR(st.st_mode)) {
    close(fd);
    return AQ_IS_DIRECTORY;
  }
  size_t want = st.st_size > 0 ? (size_t)st.st_size + 1 : 65536;
  if (grow((void **)&s->file, &s->file_cap, want, 1)) {
    close(fd);
    return AQ_NOT_HANDLED;
  }
  size_t len = 0;
  for (;;) {
    if (len == s->file_cap && grow((void **)&s->file, &s->file_cap, s->file_cap * 2, 1)) {
      close(fd);
      return AQ_NOT_HANDLED;
    }
    ssize_t got = read(fd, s->file + len, s->file_cap - len);
    if (got < 0) {
      if (errno == EINTR) continue;
      int e = errno;
      close(fd);
      return e == EISDIR ? AQ_IS_DIRECTORY : AQ_NOT_HANDLED;
    }
    if (got == 0) break;
    len += (size_t)got;
  }
  close(fd);
  *len_out = len;
  return AQ_OK;
}

/* ---- decode ---- */

typedef struct aq_jpeg_error {
  struct jpeg_error_mgr mgr;
  jmp_buf jump;
  int warned;
} aq_jpeg_error;

static void on_jpeg_error(j_common_ptr cinfo) {
  aq_jpeg_error *err = (aq_jpeg_error *)cinfo->err;
  longjmp(err->jump, 1);
}

static void on_jpeg_message(j_common_ptr cinfo, int level) {
  /* level -1: a warning (corrupt data libjpeg recovered from); others are trace messages */
  if (level < 0) ((aq_jpeg_error *)cinfo->err)->warned = 1;
}

/* Decode a plain JPEG into s->pixels (components 1 or 3); 0 on success, -1 when not handled. */
static int decode_jpeg(const uint8_t *bytes, size_t len, const aq_jpeg_header *header, aq_scratch *s) {
  size_t row_bytes = (size_t)header->width * (size_t)header->components;
  if (grow((void **)&s->pixels, &s->pixels_cap, row_bytes * (size_t)header->height, 1)) return -1;
  struct jpeg_decompress_struct cinfo;
  aq_jpeg_error err;
  memset(&cinfo, 0, sizeof cinfo);
  cinfo.err = jpeg_std_error(&err.mgr);
  err.mgr.error_exit = on_jpeg_error;
  err.mgr.emit_message = on_jpeg_message;
  err.warned = 0;
  /* volatile: read after a longjmp */
  volatile int created = 0;
  if (setjmp(err.jump)) {
    if (created) jpeg_destroy_decompress(&cinfo);
    return -1;
  }
  jpeg_create_decompress(&cinfo);
  created = 1;
  jpeg_mem_src(&cinfo, bytes, (unsigned long)len);
  if (jpeg_read_header(&cinfo, TRUE) != JPEG_HEADER_OK) goto fail;
  if ((int)cinfo.image_width != header->width || (int)cinfo.image_height != header->height || cinfo.num_components != header->components ||
      cinfo.data_precision != 8)
    goto fail;
  if (header->components == 1) cinfo.out_color_space = JCS_GRAYSCALE;
  else if (cinfo.jpeg_color_space == JCS_YCbCr || cinfo.jpeg_color_space == JCS_RGB) cinfo.out_color_space = JCS_RGB;
  else goto fail;
  jpeg_start_decompress(&cinfo);
  if ((int)cinfo.output_width != header->width || (int)cinfo.output_height != header->height || cinfo.output_components != header->components) goto fail;
  while (cinfo.output_scanline < cinfo.output_height) {
    JSAMPROW row = s->pixels + (size_t)cinfo.output_scanline * row_bytes;
    if (jpeg_read_scanlines(&cinfo, &row, 1) != 1) goto fail;
  }
  jpeg_finish_decompress(&cinfo);
  jpeg_destroy_decompress(&cinfo);
  return err.warned ? -1 : 0;
fail:
  jpeg_destroy_decompress(&cinfo);
  return -1;
}

int aq_measure_file(const char *path, double max_pixels, aq_scratch *s, aq_timers *timers, int32_t *info, double *metrics, uint32_t *hist,
                    char *hashes) {
  uint64_t t0 = timers ? now_ns() : 0;
  size_t len = 0;
  info[1] = info[2] = info[3] = 0;
  int status = read_file(path, s, &len);
  uint64_t t1 = timers ? now_ns() : 0;
  if (timers) timers->read_ns += t1 - t0;
  if (status != AQ_OK) return info[0] = status;
  const uint8_t *b = s->file;
  aq_jpeg_header header;
  /* the JS decoder's fast path: starts FF D8 FF, complete, 8-bit, 1 or 3 components, no EXIF rotation */
  if (len < 3 || b[0] != 0xff || b[1] != 0xd8 || b[2] != 0xff || !aq_read_jpeg_header(b, len, &header) || !header.complete || header.precision != 8 ||
      (header.components != 1 && header.components != 3) || header.orientation != 1 || header.width <= 0 || header.height <= 0 ||
      (double)header.width * (double)header.height > max_pixels)
    return info[0] = AQ_NOT_HANDLED;
  int decoded = decode_jpeg(b, len, &header, s);
  uint64_t t2 = timers ? now_ns() : 0;
  if (timers) timers->decode_ns += t2 - t1;
  if (decoded != 0) return info[0] = AQ_NOT_HANDLED;
  int measured = aq_measure_pixels(s->pixels, header.width, header.height, header.components, s, metrics, hist, hashes);
  if (timers) timers->metrics_ns += now_ns() - t2;
  if (measured != 0) return info[0] = AQ_NOT_HANDLED;
  info[1] = header.width;
  info[2] = header.height;
  info[3] = header.components;
  return info[0] = AQ_OK;
}
