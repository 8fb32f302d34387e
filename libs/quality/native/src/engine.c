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

/*
 * Built twice where the toolchain can (GCC/clang on x86-64 ELF with glibc): an AVX2 copy picked at load time
 * on CPUs that have it, and the baseline copy. Plain C either way; only the vector width differs.
 */
#if defined(__x86_64__) && defined(__GNUC__) && defined(__ELF__) && defined(__GLIBC__) && !defined(AQ_NO_CLONES)
#define AQ_VECTOR_CLONES __attribute__((target_clones("avx2", "default")))
#define AQ_HAVE_AVX2_PASS 1
#include <immintrin.h>
/* set with the cosine table (aq_set_cos_table), before any work: the CPU runs the AVX2 passes, the AVX-512 gather */
static int aq_cpu_avx2, aq_cpu_avx512;
#else
#define AQ_VECTOR_CLONES
#endif

/* ---- constants shared with metrics.ts ---- */
#define SHADOW_CLIP_LEVEL 5
#define HIGHLIGHT_CLIP_LEVEL 250
/* Brightness keys 241 R^2 + 691 G^2 + 68 B^2 <= 65,025,000 are counted in bins of key >> KEY_SHIFT (993 bins,
   4 KiB: they stay in L1 with the other histograms). Only the order statistics matter, so the bins need not be
   metrics.ts's buckets. */
#define KEY_SHIFT 16
#define KEY_BINS ((65025000u >> KEY_SHIFT) + 1u)
#define THUMB 32
#define LOW 8

static double cos_table[LOW * THUMB];
/* the same transposed: cos_by_x[x * 8 + u] = cos_table[u * 32 + x] */
static double cos_by_x[THUMB * LOW];
static int cos_ready = 0;

/*
 * Per channel value v: (brightness-key term << 32) | gray term, so that one 64-bit sum of three lookups gives
 * both the key 241 R^2 + 691 G^2 + 68 B^2 (high half) and R*9798 + G*19235 + B*3735 + 16384 (low half,
 * < 2^24: no carry; the rounding term rides on R's entry) without a multiply.
 */
static uint64_t channel_lut[3][256];
/* (double)v: a load instead of an int-to-double conversion in the thumbnail's hot loop */
static double byte_to_double[256];

static void init_luts(void) {
  for (uint32_t v = 0; v < 256; v++) {
    channel_lut[0][v] = ((uint64_t)(241u * v * v) << 32) | (9798u * v + 16384u);
    channel_lut[1][v] = ((uint64_t)(691u * v * v) << 32) | (19235u * v);
    channel_lut[2][v] = ((uint64_t)(68u * v * v) << 32) | (3735u * v);
    byte_to_double[v] = (double)v;
  }
}

/* Called once, on the JS thread, before any work is queued (addon.c refuses work until then). */
const char *const aq_metric_names[AQ_METRICS] = {
  [AQ_M_LAPLACIAN_VARIANCE] = "laplacianVariance",
  [AQ_M_MEAN] = "meanIntensity",
  [AQ_M_STD] = "stdIntensity",
  [AQ_M_RMS_CONTRAST] = "rmsContrast",
  [AQ_M_DARK_SCORE] = "darkScore",
  [AQ_M_LIGHT_SCORE] = "lightScore",
  [AQ_M_CLIPPED_SHADOWS] = "clippedShadows",
  [AQ_M_CLIPPED_HIGHLIGHTS] = "clippedHighlights",
  [AQ_M_ASPECT_RATIO] = "aspectRatio",
  [AQ_M_CHROMA_MEAN] = "chromaMean",
};

void aq_set_cos_table(const double *table) {
  memcpy(cos_table, table, sizeof cos_table);
  for (int u = 0; u < LOW; u++)
    for (int x = 0; x < THUMB; x++) cos_by_x[x * LOW + u] = table[u * THUMB + x];
#ifdef AQ_HAVE_AVX2_PASS
  aq_cpu_avx2 = __builtin_cpu_supports("avx2");
  aq_cpu_avx512 = __builtin_cpu_supports("avx512f");
#endif
  if (!cos_ready) init_luts();
  cos_ready = 1;
}

int aq_cos_table_ready(void) { return cos_ready; }

static void free_decoder(aq_scratch *s);

void aq_scratch_free(aq_scratch *s) {
  free_decoder(s);
  free(s->file);
  free(s->pixels);
  free(s->gray);
  free(s->keys);
  free(s->members);
  free(s->thumb_tmp);
  free(s->rows);
  free(s->band);
  free(s->xs.index);
  free(s->xs.weight);
  free(s->ys.index);
  free(s->ys.weight);
  memset(s, 0, sizeof *s);
}

size_t aq_scratch_bytes(const aq_scratch *s) {
  return s->file_cap + s->pixels_cap + s->gray_cap + s->keys_cap * sizeof(uint32_t) + s->members_cap * sizeof(uint32_t) + s->thumb_tmp_cap * sizeof(double) +
         s->band_cap * sizeof(double) + s->rows_cap * sizeof(uint8_t *) + s->xs.cap * (sizeof(int) + sizeof(double)) + s->ys.cap * (sizeof(int) + sizeof(double));
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

#ifdef AQ_HAVE_AVX2_PASS
/*
 * The interior columns (x from 1, 16 values a step while they fit) of one row of the Laplacian on AVX2, given the rows
 * above and below (reflected at the top and bottom): the values in 16-bit lanes (|v| <= 1020), their sum and sum of
 * squares by pmaddwd into 32-bit lanes (at most 2 * 1020^2 a step; 2,048 steps stay below 2^32 per lane), added to the
 * 64-bit totals. Integer sums: exact, in any order. Returns the first x not done.
 */
__attribute__((target("avx2"))) static int laplacian_row_avx2(const uint8_t *up, const uint8_t *row, const uint8_t *down, int w, int64_t *sum,
                                                               int64_t *sum_sq) {
  const __m256i ones = _mm256_set1_epi16(1);
  int x = 1;
  while (x + 16 <= w - 1) {
    __m256i s = _mm256_setzero_si256(), q = _mm256_setzero_si256();
    int stop = x + 16 * 2048 < w - 1 ? x + 16 * 2048 : w - 1;
    for (; x + 16 <= stop; x += 16) {
      __m256i c = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)(row + x)));
      __m256i n4 = _mm256_add_epi16(_mm256_add_epi16(_mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)(up + x))),
                                                     _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)(down + x)))),
                                    _mm256_add_epi16(_mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)(row + x - 1))),
                                                     _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)(row + x + 1)))));
      __m256i v = _mm256_sub_epi16(n4, _mm256_slli_epi16(c, 2));
      s = _mm256_add_epi32(s, _mm256_madd_epi16(v, ones));
      q = _mm256_add_epi32(q, _mm256_madd_epi16(v, v));
    }
    int32_t sl[8];
    uint32_t ql[8];
    _mm256_storeu_si256((__m256i *)sl, s);
    _mm256_storeu_si256((__m256i *)ql, q);
    for (int k = 0; k < 8; k++) {
      *sum += sl[k];
      *sum_sq += ql[k];
    }
  }
  return x;
}
#endif

/*
 * Population variance of the reflect-101 3x3 Laplacian. The sums are integers, exact in int64 as in metrics.ts's
 * doubles, so the order of summation does not matter here. Each row, the first and last included (their missing
 * neighbour row reflected onto the one inside), is its two end columns plus its interior (on AVX2 CPUs by
 * laplacian_row_avx2). A denser kernel (32 columns a step, squares only, the sum telescoped) measured faster alone
 * but slowed the next image's libjpeg decode by ~5 us on this Xeon, more than it saved.
 */
AQ_VECTOR_CLONES static double laplacian_variance(const uint8_t *g, int w, int h) {
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
    for (int y = 0; y < h; y++) {
      const uint8_t *row = g + (size_t)y * w;
      const uint8_t *up = y > 0 ? row - w : row + w;
      const uint8_t *down = y + 1 < h ? row + w : row - w;
      /* the end columns: the neighbour outside reflects onto the one inside */
      int64_t a = (int32_t)up[0] + down[0] + 2 * (int32_t)row[1] - 4 * (int32_t)row[0];
      int64_t b = (int32_t)up[w - 1] + down[w - 1] + 2 * (int32_t)row[w - 2] - 4 * (int32_t)row[w - 1];
      sum += a + b;
      sum_sq += a * a + b * b;
      int first = 1;
#ifdef AQ_HAVE_AVX2_PASS
      if (aq_cpu_avx2) first = laplacian_row_avx2(up, row, down, w, &sum, &sum_sq);
#endif
      /* |v| <= 1020: a row of up to 2,000 values sums its squares in 32 bits (as metrics.ts does) */
      for (int x0 = first; x0 < w - 1; x0 += 2000) {
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

/* The ranks numpy.percentile (linear interpolation) reads for percentile p of n values, and the fraction. */
typedef struct percentile_ranks {
  uint32_t lo, hi; /* hi = lo when the upper value is not needed */
  double frac;
  int interpolate;
} percentile_ranks;

static percentile_ranks ranks_of(double percentile, uint32_t n) {
  percentile_ranks r;
  double pos = (percentile / 100) * (double)(n - 1);
  double lo_d = floor(pos);
  r.lo = (uint32_t)lo_d;
  r.frac = pos - lo_d;
  r.interpolate = !(r.frac == 0 || r.lo + 1 >= n);
  r.hi = r.interpolate ? r.lo + 1 : r.lo;
  return r;
}

/* metrics.ts's percentilesFromKeys given the keys at the ranks: a + (b - a) * frac in the same order. */
static double percentile_value(const percentile_ranks *r, uint32_t key_lo, uint32_t key_hi) {
  double a = key_brightness(key_lo);
  if (!r->interpolate) return a;
  double b = key_brightness(key_hi);
  return a + (b - a) * r->frac;
}

/* Bin holding rank: cumulative[b] <= rank < cumulative[b + 1] (binary search over `bins` bins). */
static unsigned bin_of(const uint32_t *cumulative, unsigned bins, uint32_t rank) {
  unsigned lo = 0;
  unsigned hi = bins - 1;
  while (lo < hi) {
    unsigned mid = (lo + hi + 1) >> 1;
    if (cumulative[mid] <= rank) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/*
 * The rank-th smallest (0 based) of src[0..m), m > rank: a radix select on bytes from the top, starting at the
 * byte holding the highest bit in which the values may differ (`span_bits`: they agree on every bit from
 * span_bits up). work holds m values.
 */
static uint32_t select_rank(const uint32_t *src, uint32_t m, uint32_t rank, int span_bits, uint32_t *work) {
  const uint32_t *v = src;
  int top = span_bits <= 8 ? 0 : ((span_bits - 1) / 8) * 8;
  for (int shift = top; shift >= 0; shift -= 8) {
    /* counted in two copies (even and odd members): neighbouring pixels often share a digit, and one counter
       would serialise their increments */
    uint32_t count2[2][256], count[256];
    memset(count2, 0, sizeof count2);
    uint32_t i = 0;
    for (; i + 1 < m; i += 2) {
      count2[0][(v[i] >> shift) & 255u]++;
      count2[1][(v[i + 1] >> shift) & 255u]++;
    }
    if (i < m) count2[0][(v[i] >> shift) & 255u]++;
    for (int k = 0; k < 256; k++) count[k] = count2[0][k] + count2[1][k];
    unsigned d = 0;
    while (rank >= count[d]) rank -= count[d++];
    if (count[d] == m) continue; /* all share this byte */
    uint32_t kept = 0;
    for (i = 0; i < m; i++) {
      uint32_t x = v[i];
      work[kept] = x;
      kept += ((x >> shift) & 255u) == d;
    }
    v = work;
    m = kept;
  }
  /* bits above span_bits are equal (the range), bytes from `top` down were matched: all remaining are equal */
  return v[0];
}

/*
 * The rank-th smallest of src[0..m) given the (rank - 1)-th, prev: prev again when more than rank values are <= prev,
 * else the smallest value above prev (one pass instead of a second select_rank).
 */
AQ_VECTOR_CLONES static uint32_t next_rank(const uint32_t *src, uint32_t m, uint32_t rank, uint32_t prev) {
  uint32_t at_most = 0, above = UINT32_MAX;
  for (uint32_t i = 0; i < m; i++) {
    uint32_t x = src[i];
    at_most += x <= prev;
    uint32_t cand = x > prev ? x : UINT32_MAX;
    above = cand < above ? cand : above;
  }
  return rank < at_most ? prev : above;
}

/* Bit length of x (0 for 0). */
static int bit_length(uint32_t x) {
  int b = 0;
  while (x) {
    b++;
    x >>= 1;
  }
  return b;
}

/*
 * Copy the keys in [base[0], base[0] + span[0]) to a and those in [base[1], base[1] + span[1]) to b (each with
 * one spare slot: the copies are unconditional, the counts advance on a match). Blocks of 64 keys are first
 * tested with a vectorised count and skipped when none is in either range (most are).
 */
AQ_VECTOR_CLONES static void gather_ranges(const uint32_t *restrict keys, uint32_t n, const uint32_t *base, const uint32_t *span, uint32_t *restrict a,
                                           uint32_t *restrict b, uint32_t *na_out, uint32_t *nb_out) {
  const uint32_t base_a = base[0], span_a = span[0], base_b = base[1], span_b = span[1];
  uint32_t na = 0, nb = 0;
  uint32_t i = 0;
  for (; i + 64 <= n; i += 64) {
    const uint32_t *blk = keys + i;
    uint32_t hits = 0;
    for (int j = 0; j < 64; j++) hits += (uint32_t)(blk[j] - base_a < span_a) | (uint32_t)(blk[j] - base_b < span_b);
    if (hits == 0) continue;
    for (int j = 0; j < 64; j++) {
      uint32_t k = blk[j];
      a[na] = k;
      na += k - base_a < span_a;
      b[nb] = k;
      nb += k - base_b < span_b;
    }
  }
  for (; i < n; i++) {
    uint32_t k = keys[i];
    a[na] = k;
    na += k - base_a < span_a;
    b[nb] = k;
    nb += k - base_b < span_b;
  }
  *na_out = na;
  *nb_out = nb;
}

#ifdef AQ_HAVE_AVX2_PASS
/* gather_ranges on AVX-512: 16 keys a step tested with two unsigned compares into masks; the (rare) hits are
   compressed to the outputs in input order, as gather_ranges keeps them. */
__attribute__((target("avx512f"))) static void gather_ranges_avx512(const uint32_t *restrict keys, uint32_t n, const uint32_t *base, const uint32_t *span,
                                                                     uint32_t *restrict a, uint32_t *restrict b, uint32_t *na_out, uint32_t *nb_out) {
  const __m512i base_a = _mm512_set1_epi32((int)base[0]), span_a = _mm512_set1_epi32((int)span[0]);
  const __m512i base_b = _mm512_set1_epi32((int)base[1]), span_b = _mm512_set1_epi32((int)span[1]);
  uint32_t na = 0, nb = 0;
  uint32_t i = 0;
  for (; i + 64 <= n; i += 64) {
    __m512i k[4];
    __mmask16 in_a[4], in_b[4];
    for (int j = 0; j < 4; j++) {
      k[j] = _mm512_loadu_si512((const void *)(keys + i + 16 * j));
      in_a[j] = _mm512_cmplt_epu32_mask(_mm512_sub_epi32(k[j], base_a), span_a);
      in_b[j] = _mm512_cmplt_epu32_mask(_mm512_sub_epi32(k[j], base_b), span_b);
    }
    if ((in_a[0] | in_b[0] | in_a[1] | in_b[1] | in_a[2] | in_b[2] | in_a[3] | in_b[3]) == 0) continue;
    for (int j = 0; j < 4; j++) {
      _mm512_mask_compressstoreu_epi32(a + na, in_a[j], k[j]);
      na += (uint32_t)__builtin_popcount(in_a[j]);
      _mm512_mask_compressstoreu_epi32(b + nb, in_b[j], k[j]);
      nb += (uint32_t)__builtin_popcount(in_b[j]);
    }
  }
  for (; i < n; i++) {
    uint32_t k = keys[i];
    a[na] = k;
    na += k - base[0] < span[0];
    b[nb] = k;
    nb += k - base[1] < span[1];
  }
  *na_out = na;
  *nb_out = nb;
}
#endif

/*
 * numpy.percentile (linear interpolation) of the 5th and 99th percentiles of brightness from the keys and
 * their bin counts: exact order statistics. The keys of the bins holding the needed ranks are gathered (one
 * scan, skipping blocks with none) and the ranks selected among them.
 */
static int key_percentiles(const uint32_t *keys, uint32_t n, const uint32_t *bins, aq_scratch *s, double *p5, double *p99) {
  uint32_t cumulative[KEY_BINS + 1];
  cumulative[0] = 0;
  for (unsigned b = 0; b < KEY_BINS; b++) cumulative[b + 1] = cumulative[b] + bins[b];
  percentile_ranks r[2] = {ranks_of(5, n), ranks_of(99, n)};
  uint32_t base[2], span[2], below[2], count[2];
  for (int p = 0; p < 2; p++) {
    unsigned first = bin_of(cumulative, KEY_BINS, r[p].lo);
    unsigned last = bin_of(cumulative, KEY_BINS, r[p].hi);
    base[p] = first << KEY_SHIFT;
    span[p] = (last - first + 1) << KEY_SHIFT;
    below[p] = cumulative[first];
    count[p] = cumulative[last + 1] - cumulative[first];
  }
  size_t work_len = count[0] > count[1] ? count[0] : count[1];
  if (grow((void **)&s->members, &s->members_cap, (size_t)count[0] + count[1] + 2 + work_len, sizeof(uint32_t))) return -1;
  uint32_t *a = s->members;
  uint32_t *b = a + count[0] + 1;
  uint32_t *work = b + count[1] + 1;
  uint32_t na = 0, nb = 0;
#ifdef AQ_HAVE_AVX2_PASS
  if (aq_cpu_avx512) gather_ranges_avx512(keys, n, base, span, a, b, &na, &nb);
  else
#endif
    gather_ranges(keys, n, base, span, a, b, &na, &nb);
  double out[2];
  for (int p = 0; p < 2; p++) {
    const uint32_t *members = p == 0 ? a : b;
    uint32_t m = p == 0 ? na : nb;
    /* values in [base, base + span) share the bits above the highest bit in which the two ends differ */
    int bits = bit_length(base[p] ^ (base[p] + span[p] - 1));
    uint32_t k_lo = select_rank(members, m, r[p].lo - below[p], bits, work);
    uint32_t k_hi = r[p].interpolate ? next_rank(members, m, r[p].hi - below[p], k_lo) : k_lo;
    out[p] = percentile_value(&r[p], k_lo, k_hi);
  }
  *p5 = out[0];
  *p99 = out[1];
  return 0;
}

/* The same for a gray image (key 1000 v^2 is monotonic in v): the order statistics come from the histogram. */
static void gray_percentiles(const uint32_t *gray_hist, uint32_t n, double *p5, double *p99) {
  uint32_t cumulative[257];
  cumulative[0] = 0;
  for (int v = 0; v < 256; v++) cumulative[v + 1] = cumulative[v] + gray_hist[v];
  double out[2];
  const double percentiles[2] = {5, 99};
  for (int p = 0; p < 2; p++) {
    percentile_ranks r = ranks_of(percentiles[p], n);
    uint32_t v_lo = bin_of(cumulative, 256, r.lo);
    uint32_t v_hi = bin_of(cumulative, 256, r.hi);
    out[p] = percentile_value(&r, 1000u * v_lo * v_lo, 1000u * v_hi * v_hi);
  }
  *p5 = out[0];
  *p99 = out[1];
}

/* phash.ts's areaWeights(size, 32), padded to a fixed number of taps (see aq_area_weights), kept for the last size. */
static int area_weights(int size, aq_area_weights *aw) {
  if (aw->size == size) return 0;
  double scale = (double)size / THUMB;
  int first[THUMB], last[THUMB];
  int taps = 1;
  for (int o = 0; o < THUMB; o++) {
    double a = o * scale;
    double b = a + scale;
    first[o] = (int)floor(a);
    int l = (int)ceil(b) - 1;
    last[o] = l > size - 1 ? size - 1 : l;
    int count = last[o] - first[o] + 1;
    if (count > taps) taps = count;
  }
  aw->size = 0;
  size_t total = (size_t)taps * THUMB;
  if (aw->cap < total) {
    int *index = realloc(aw->index, total * sizeof(int));
    if (!index) return -1;
    aw->index = index;
    double *weight = realloc(aw->weight, total * sizeof(double));
    if (!weight) return -1;
    aw->weight = weight;
    aw->cap = total;
  }
  for (int o = 0; o < THUMB; o++) {
    double a = o * scale;
    double b = a + scale;
    for (int k = 0; k < taps; k++) {
      int i = first[o] + k;
      double w = 0;
      if (i <= last[o]) {
        double hi = (double)(i + 1) < b ? (double)(i + 1) : b;
        double lo = (double)i > a ? (double)i : a;
        double cover = hi - lo;
        w = (cover > 0 ? cover : 0) / scale;
      } else {
        i = first[o]; /* padding: weight 0 on a pixel that exists */
      }
      aw->index[o * taps + k] = i;
      aw->weight[o * taps + k] = w;
    }
  }
  aw->taps = taps;
  aw->size = size;
  return 0;
}

/* The band of perceptual_hash from column x on: band[x * 8 + j] = (double)row_j[x] for the eight rows from r0. */
static void band_fill_from(const uint8_t *r0, int w, int x, double *band) {
  for (; x < w; x++)
    for (int j = 0; j < 8; j++) band[x * 8 + j] = byte_to_double[r0[(size_t)j * w + x]];
}

#ifdef AQ_HAVE_AVX2_PASS
/*
 * The band of perceptual_hash on AVX2: eight rows of w bytes to band[x * 8 + j] = (double)row_j[x], eight columns
 * a step (an 8 x 8 byte transpose, then byte -> int32 -> double: exact). Returns the first x not done.
 */
__attribute__((target("avx2"))) static int band_fill_avx2(const uint8_t *r0, int w, double *band) {
  int x = 0;
  for (; x + 8 <= w; x += 8) {
    __m128i r[8];
    for (int j = 0; j < 8; j++) r[j] = _mm_loadl_epi64((const __m128i *)(r0 + (size_t)j * w + x));
    __m128i a01 = _mm_unpacklo_epi8(r[0], r[1]), a23 = _mm_unpacklo_epi8(r[2], r[3]);
    __m128i a45 = _mm_unpacklo_epi8(r[4], r[5]), a67 = _mm_unpacklo_epi8(r[6], r[7]);
    __m128i b_lo = _mm_unpacklo_epi16(a01, a23), b_hi = _mm_unpackhi_epi16(a01, a23);
    __m128i c_lo = _mm_unpacklo_epi16(a45, a67), c_hi = _mm_unpackhi_epi16(a45, a67);
    /* columns (x, x + 1), (x + 2, x + 3), ...: eight bytes (rows 0..7) each */
    __m128i cols[4] = {_mm_unpacklo_epi32(b_lo, c_lo), _mm_unpackhi_epi32(b_lo, c_lo), _mm_unpacklo_epi32(b_hi, c_hi), _mm_unpackhi_epi32(b_hi, c_hi)};
    double *out = band + (size_t)x * 8;
    for (int k = 0; k < 4; k++) {
      for (int half = 0; half < 2; half++) {
        __m256i v = _mm256_cvtepu8_epi32(half ? _mm_srli_si128(cols[k], 8) : cols[k]);
        _mm256_storeu_pd(out + (2 * k + half) * 8, _mm256_cvtepi32_pd(_mm256_castsi256_si128(v)));
        _mm256_storeu_pd(out + (2 * k + half) * 8 + 4, _mm256_cvtepi32_pd(_mm256_extracti128_si256(v, 1)));
      }
    }
  }
  return x;
}

/*
 * The eight-row band of perceptual_hash's horizontal pass on AVX2: the band filled by band_fill_avx2 (its last < 8
 * columns here), each output's taps summed in phash.ts's order on the eight rows at once (rows 0-3 and 4-7: one ymm
 * mul and add each a tap), and each group of four outputs transposed (4 x 4 doubles, twice) so that
 * t[j * THUMB + ox] is stored four at a time.
 */
__attribute__((target("avx2"))) static void band_resample_avx2(const uint8_t *r0, int w, const aq_area_weights *xs, double *band, double *t) {
  band_fill_from(r0, w, band_fill_avx2(r0, w, band), band);
  const int taps = xs->taps;
  for (int ox0 = 0; ox0 < THUMB; ox0 += 4) {
    __m256d lo[4], hi[4];
    for (int o = 0; o < 4; o++) {
      const int *ix = xs->index + (ox0 + o) * taps;
      const double *wt = xs->weight + (ox0 + o) * taps;
      __m256d a = _mm256_setzero_pd(), b = _mm256_setzero_pd();
      for (int k = 0; k < taps; k++) {
        const double *col = band + (size_t)ix[k] * 8;
        __m256d wk = _mm256_set1_pd(wt[k]);
        a = _mm256_add_pd(a, _mm256_mul_pd(_mm256_loadu_pd(col), wk));
        b = _mm256_add_pd(b, _mm256_mul_pd(_mm256_loadu_pd(col + 4), wk));
      }
      lo[o] = a;
      hi[o] = b;
    }
    /* lo[o] lane j = row j, output ox0 + o: transpose to row j lanes o (and hi for rows 4-7) */
    for (int half = 0; half < 2; half++) {
      const __m256d *m = half ? hi : lo;
      __m256d e01 = _mm256_unpacklo_pd(m[0], m[1]), o01 = _mm256_unpackhi_pd(m[0], m[1]); /* rows 0, 2 / 1, 3 of outputs 0, 1 */
      __m256d e23 = _mm256_unpacklo_pd(m[2], m[3]), o23 = _mm256_unpackhi_pd(m[2], m[3]);
      double *out = t + (size_t)(4 * half) * THUMB + ox0;
      _mm256_storeu_pd(out, _mm256_permute2f128_pd(e01, e23, 0x20));
      _mm256_storeu_pd(out + THUMB, _mm256_permute2f128_pd(o01, o23, 0x20));
      _mm256_storeu_pd(out + 2 * THUMB, _mm256_permute2f128_pd(e01, e23, 0x31));
      _mm256_storeu_pd(out + 3 * THUMB, _mm256_permute2f128_pd(o01, o23, 0x31));
    }
  }
}
#endif

/*
 * One DCT-II pass of thumb_dct: for each of the LOW frequencies f, the n sums out[k * k_stride + f * f_stride] =
 * sum over x < THUMB of cos(f, x) * in[x * n + k], each in x order (phash.ts's order); the n sums side by side.
 */
AQ_VECTOR_CLONES static void dct_pass(const double *in, int n, double *out, int f_stride, int k_stride) {
  for (int f = 0; f < LOW; f++) {
    const double *c = cos_table + f * THUMB;
    double acc[THUMB];
    for (int k = 0; k < n; k++) acc[k] = 0;
    for (int x = 0; x < THUMB; x++) {
      double cx = c[x];
      const double *row = in + x * n;
      for (int k = 0; k < n; k++) acc[k] += cx * row[k];
    }
    for (int k = 0; k < n; k++) out[k * k_stride + f * f_stride] = acc[k];
  }
}

/*
 * The rest of the thumbnail and its DCT: the vertical pass over tmp (h rows of 32 horizontal sums) into the 32 x 32
 * thumbnail, DCT-II rows then columns of its 8 x 8 lowest frequencies into coeffs[v * 8 + u]; every sum in phash.ts's
 * order. The loops run over independent outputs innermost (rows of the thumbnail, DCT rows transposed) so that they
 * vectorise.
 */
AQ_VECTOR_CLONES static void thumb_dct(const double *tmp, const aq_area_weights *ys, double *coeffs) {
  /* vertical pass into the thumbnail, transposed: thumb_t[x * 32 + y] = thumbnail[y][x] */
  double thumb_t[THUMB * THUMB];
  for (int oy = 0; oy < THUMB; oy++) {
    const int *iy = ys->index + oy * ys->taps;
    const double *wt = ys->weight + oy * ys->taps;
    double acc[THUMB];
    for (int ox = 0; ox < THUMB; ox++) acc[ox] = 0;
    for (int k = 0; k < ys->taps; k++) {
      double wk = wt[k];
      const double *t = tmp + (size_t)iy[k] * THUMB;
      for (int ox = 0; ox < THUMB; ox++) acc[ox] += t[ox] * wk;
    }
    for (int ox = 0; ox < THUMB; ox++) thumb_t[ox * THUMB + oy] = acc[ox];
  }
  /* DCT rows R[u][y] = sum_x cos(u, x) * thumb[y][x], stored transposed: rows_t[y * 8 + u] */
  double rows_t[THUMB * LOW];
  dct_pass(thumb_t, THUMB, rows_t, 1, LOW);
  /* columns C[v][u] = sum_y cos(v, y) * R[u][y] */
  dct_pass(rows_t, LOW, coeffs, LOW, 1);
}

#ifdef AQ_HAVE_AVX2_PASS
/*
 * thumb_dct on AVX2, the same sums in the same order with four independent ones per ymm: the vertical pass a
 * thumbnail row of 32 at a time (eight ymm); the DCT rows as rows_t[y * 8 + u] (the eight u of a row two ymm, from the
 * cosines by x), then the columns, by dct_pass_avx2 (independent sums, rather than one chain of 32 adds each).
 */
/*
 * One DCT pass of thumb_dct_avx2: out[i * 8 + u] = sum over k < 32 of s[i * 32 + k] * v[k * 8 + u] (k in order; the
 * product commutes exactly), four i at once (eight independent ymm sums).
 */
__attribute__((target("avx2"))) static void dct_pass_avx2(const double *s, const double *v, int count, double *out) {
  for (int i0 = 0; i0 < count; i0 += 4) {
    __m256d a[8];
    for (int j = 0; j < 8; j++) a[j] = _mm256_setzero_pd();
    for (int k = 0; k < THUMB; k++) {
      __m256d v0 = _mm256_loadu_pd(v + k * LOW), v1 = _mm256_loadu_pd(v + k * LOW + 4);
      for (int i = 0; i < 4; i++) {
        __m256d sk = _mm256_set1_pd(s[(i0 + i) * THUMB + k]);
        a[2 * i] = _mm256_add_pd(a[2 * i], _mm256_mul_pd(sk, v0));
        a[2 * i + 1] = _mm256_add_pd(a[2 * i + 1], _mm256_mul_pd(sk, v1));
      }
    }
    for (int i = 0; i < 4; i++) {
      _mm256_storeu_pd(out + (i0 + i) * LOW, a[2 * i]);
      _mm256_storeu_pd(out + (i0 + i) * LOW + 4, a[2 * i + 1]);
    }
  }
}

__attribute__((target("avx2"))) static void thumb_dct_avx2(const double *tmp, const aq_area_weights *ys, double *coeffs) {
  double thumb[THUMB * THUMB] __attribute__((aligned(32)));
  double rows_t[THUMB * LOW] __attribute__((aligned(32)));
  const int taps = ys->taps;
  for (int oy = 0; oy < THUMB; oy++) {
    const int *iy = ys->index + oy * taps;
    const double *wt = ys->weight + oy * taps;
    __m256d a[8];
    for (int i = 0; i < 8; i++) a[i] = _mm256_setzero_pd();
    for (int k = 0; k < taps; k++) {
      __m256d wk = _mm256_set1_pd(wt[k]);
      const double *t = tmp + (size_t)iy[k] * THUMB;
      for (int i = 0; i < 8; i++) a[i] = _mm256_add_pd(a[i], _mm256_mul_pd(_mm256_loadu_pd(t + 4 * i), wk));
    }
    for (int i = 0; i < 8; i++) _mm256_store_pd(thumb + oy * THUMB + 4 * i, a[i]);
  }
  /* rows: R[u][y] = sum_x cos(u, x) * thumb[y][x] into rows_t[y * 8 + u]; columns: C[v][u] = sum_y cos(v, y) * R[u][y] */
  dct_pass_avx2(thumb, cos_by_x, THUMB, rows_t);
  dct_pass_avx2(cos_table, rows_t, LOW, coeffs);
}
#endif

/*
 * 64-bit perceptual hash of phash.ts (area thumbnail 32x32, DCT-II rows then columns, median of 8x8). Every
 * output is the same sum in the same order as phash.ts; the loops run over independent outputs innermost
 * (rows of the thumbnail, DCT rows transposed) so that they vectorise. On AVX2 CPUs band_resample_avx2 and
 * thumb_dct_avx2 do the passes. (AVX-512 copies of both were faster alone but not in the whole stage: on this Xeon
 * the next image's libjpeg decode slowed by about what they saved.)
 */
AQ_VECTOR_CLONES static int perceptual_hash(const uint8_t *gray, int w, int h, aq_scratch *s, uint32_t *hi_out, uint32_t *lo_out) {
  if (area_weights(w, &s->xs) || area_weights(h, &s->ys)) return -1;
  if (grow((void **)&s->thumb_tmp, &s->thumb_tmp_cap, (size_t)THUMB * h, sizeof(double))) return -1;
  const aq_area_weights *xs = &s->xs, *ys = &s->ys;
  double *tmp = s->thumb_tmp;
  const int taps = xs->taps;
  /*
   * horizontal pass, eight rows at a time: the eight rows' pixels as doubles, interleaved (band[x * 8 + j] =
   * row j, column x), so that the eight independent sums of an output (each in phash.ts's order) are one
   * vector operation per tap
   */
  if (grow((void **)&s->band, &s->band_cap, (size_t)w * 8, sizeof(double))) return -1;
  double *band = s->band;
  int y = 0;
  for (; y + 7 < h; y += 8) {
    const uint8_t *r0 = gray + (size_t)y * w;
    double *t = tmp + (size_t)y * THUMB;
#ifdef AQ_HAVE_AVX2_PASS
    if (aq_cpu_avx2) {
      band_resample_avx2(r0, w, xs, band, t);
      continue;
    }
#endif
    band_fill_from(r0, w, 0, band);
    for (int ox = 0; ox < THUMB; ox++) {
      const int *ix = xs->index + ox * taps;
      const double *wt = xs->weight + ox * taps;
#if defined(__GNUC__) && !defined(AQ_NO_VECTOR_TYPES)
      /* GCC/clang vector types: four lanes per operation, each lane the same multiply and add as the scalar code */
      typedef double v4d __attribute__((vector_size(32)));
      v4d lo = {0, 0, 0, 0}, hi = {0, 0, 0, 0};
      for (int k = 0; k < taps; k++) {
        const double *col = band + (size_t)ix[k] * 8;
        v4d c0, c1;
        memcpy(&c0, col, sizeof c0);
        memcpy(&c1, col + 4, sizeof c1);
        v4d wk = {wt[k], wt[k], wt[k], wt[k]};
        lo += c0 * wk;
        hi += c1 * wk;
      }
      for (int j = 0; j < 4; j++) {
        t[j * THUMB + ox] = lo[j];
        t[(j + 4) * THUMB + ox] = hi[j];
      }
#else
      double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
      for (int k = 0; k < taps; k++) {
        const double *col = band + (size_t)ix[k] * 8;
        double wk = wt[k];
        for (int j = 0; j < 8; j++) acc[j] += col[j] * wk;
      }
      for (int j = 0; j < 8; j++) t[j * THUMB + ox] = acc[j];
#endif
    }
  }
  for (; y < h; y++) {
    const uint8_t *row = gray + (size_t)y * w;
    for (int ox = 0; ox < THUMB; ox++) {
      const int *ix = xs->index + ox * taps;
      const double *wt = xs->weight + ox * taps;
      double acc = 0;
      for (int k = 0; k < taps; k++) acc += byte_to_double[row[ix[k]]] * wt[k];
      tmp[(size_t)y * THUMB + ox] = acc;
    }
  }
  double coeffs[LOW * LOW];
#ifdef AQ_HAVE_AVX2_PASS
  if (aq_cpu_avx2) thumb_dct_avx2(tmp, ys, coeffs);
  else
#endif
    thumb_dct(tmp, ys, coeffs);
  /* median of the 64: the values at sorted positions 31 and 32 (coefficient i sits at positions
     less[i] .. less[i] + equal[i] - 1); the coefficients are finite and never -0 */
  double at31 = 0, at32 = 0;
  for (int i = 0; i < 64; i++) {
    double c = coeffs[i];
    /* 64-bit counts of double comparisons: the loop vectorises */
    int64_t less = 0, equal = 0;
    for (int j = 0; j < 64; j++) {
      less += coeffs[j] < c;
      equal += coeffs[j] == c;
    }
    if (less <= 31 && 31 < less + equal) at31 = c;
    if (less <= 32 && 32 < less + equal) at32 = c;
  }
  double median = (at31 + at32) / 2;
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

/* The colour pass's counts, in two copies (even and odd pixels): [copy][R 0..255, G 256.., B 512.., gray 768..]
   and the key bins. One struct: the AVX2 pass addresses all of them from one base register. */
typedef struct colour_counts {
  uint32_t hist2[2][1024];
  uint32_t bins2[2][KEY_BINS];
} colour_counts;

/* Sum over pixels of max(R, G, B) - min(R, G, B) (in 32 bits per block of 2^16 pixels: exact); vectorises. */
AQ_VECTOR_CLONES static uint64_t chroma_sum(const uint8_t *restrict q, size_t n) {
  uint64_t chroma = 0;
  for (size_t start = 0; start < n; start += 65536) {
    size_t end = n - start > 65536 ? start + 65536 : n;
    uint32_t acc = 0;
    for (size_t i = start; i < end; i++) {
      uint8_t r = q[3 * i], g = q[3 * i + 1], b = q[3 * i + 2];
      uint8_t mx = r > g ? r : g;
      mx = b > mx ? b : mx;
      uint8_t mn = r < g ? r : g;
      mn = b < mn ? b : mn;
      acc += (uint8_t)(mx - mn);
    }
    chroma += acc;
  }
  return chroma;
}

#ifdef AQ_HAVE_AVX2_PASS
/*
 * The colour pass on AVX2 CPUs, 16 pixels a block: vector code splits R, G, B (pshufb), computes gray, the
 * brightness keys (exact 32-bit integer arithmetic: the same values as the lookup tables) and the chroma sum;
 * scalar code runs the two hash lanes and the histogram counts. The hash lanes are serial chains of multiplies
 * (about 6 cycles a pixel) and everything else is independent of them. Measured on Sapphire Rapids-class cores
 * (colour-pass helper's C harness, 2,000 UTKFace images): the pass is throughput-bound at ~7-8 cycles a pixel,
 * above that 6-cycle floor; the five histogram increments cost ~3.7 of them, and without them the pass drops to
 * the hash floor. So two images' hash chains at once (tried: 0-7% faster) or fewer px/gray/key loads (0-10%) gain little;
 * fewer increments a pixel is what would. Returns the number of pixels done (a multiple of 16); the caller
 * finishes the tail.
 */
__attribute__((target("avx2"))) static uint32_t rgb_blocks_avx2(const uint8_t *restrict q, uint32_t n, uint8_t *restrict g, uint32_t *restrict keys,
                                                                 colour_counts *restrict counts, uint32_t *h1_io,
                                                                 uint32_t *h2_io, uint64_t *chroma_out) {
  const __m128i zr = _mm_setr_epi8(0, 3, 6, 9, 12, 15, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1);
  const __m128i zr1 = _mm_setr_epi8(-1, -1, -1, -1, -1, -1, 2, 5, 8, 11, 14, -1, -1, -1, -1, -1);
  const __m128i zr2 = _mm_setr_epi8(-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, 1, 4, 7, 10, 13);
  const __m128i zg = _mm_setr_epi8(1, 4, 7, 10, 13, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1);
  const __m128i zg1 = _mm_setr_epi8(-1, -1, -1, -1, -1, 0, 3, 6, 9, 12, 15, -1, -1, -1, -1, -1);
  const __m128i zg2 = _mm_setr_epi8(-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, 2, 5, 8, 11, 14);
  const __m128i zb = _mm_setr_epi8(2, 5, 8, 11, 14, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1);
  const __m128i zb1 = _mm_setr_epi8(-1, -1, -1, -1, -1, 1, 4, 7, 10, 13, -1, -1, -1, -1, -1, -1);
  const __m128i zb2 = _mm_setr_epi8(-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, 0, 3, 6, 9, 12, 15);
  /* gray: (R | G << 16) . (9798, 19235) + (B | 1 << 16) . (3735, 16384), then >> 15 */
  const __m256i w_rg = _mm256_set1_epi32(9798 | (19235 << 16));
  const __m256i w_b1 = _mm256_set1_epi32(3735 | (16384 << 16));
  const __m256i one_hi = _mm256_set1_epi32(1 << 16);
  const __m256i k_r = _mm256_set1_epi32(241), k_g = _mm256_set1_epi32(691), k_b = _mm256_set1_epi32(68);
  __m128i chroma = _mm_setzero_si128();
  uint32_t h1 = *h1_io, h2 = *h2_io;
  uint32_t i = 0;
  for (; i + 16 <= n; i += 16, q += 48) {
    __m128i a = _mm_loadu_si128((const __m128i *)q);
    __m128i b = _mm_loadu_si128((const __m128i *)(q + 16));
    __m128i c = _mm_loadu_si128((const __m128i *)(q + 32));
    __m128i r8 = _mm_or_si128(_mm_or_si128(_mm_shuffle_epi8(a, zr), _mm_shuffle_epi8(b, zr1)), _mm_shuffle_epi8(c, zr2));
    __m128i g8 = _mm_or_si128(_mm_or_si128(_mm_shuffle_epi8(a, zg), _mm_shuffle_epi8(b, zg1)), _mm_shuffle_epi8(c, zg2));
    __m128i b8 = _mm_or_si128(_mm_or_si128(_mm_shuffle_epi8(a, zb), _mm_shuffle_epi8(b, zb1)), _mm_shuffle_epi8(c, zb2));
    __m128i mx = _mm_max_epu8(_mm_max_epu8(r8, g8), b8);
    __m128i mn = _mm_min_epu8(_mm_min_epu8(r8, g8), b8);
    chroma = _mm_add_epi64(chroma, _mm_sad_epu8(_mm_sub_epi8(mx, mn), _mm_setzero_si128()));
    __m256i gray32[2];
    for (int half = 0; half < 2; half++) {
      __m256i r = _mm256_cvtepu8_epi32(half ? _mm_srli_si128(r8, 8) : r8);
      __m256i gg = _mm256_cvtepu8_epi32(half ? _mm_srli_si128(g8, 8) : g8);
      __m256i bb = _mm256_cvtepu8_epi32(half ? _mm_srli_si128(b8, 8) : b8);
      __m256i y = _mm256_add_epi32(_mm256_madd_epi16(_mm256_or_si256(r, _mm256_slli_epi32(gg, 16)), w_rg), _mm256_madd_epi16(_mm256_or_si256(bb, one_hi), w_b1));
      gray32[half] = _mm256_srli_epi32(y, 15);
      __m256i k = _mm256_add_epi32(_mm256_add_epi32(_mm256_mullo_epi32(_mm256_madd_epi16(r, r), k_r), _mm256_mullo_epi32(_mm256_madd_epi16(gg, gg), k_g)),
                                   _mm256_mullo_epi32(_mm256_madd_epi16(bb, bb), k_b));
      _mm256_storeu_si256((__m256i *)(keys + i + 8 * half), k);
    }
    __m256i y16 = _mm256_permute4x64_epi64(_mm256_packus_epi32(gray32[0], gray32[1]), 0xd8);
    __m128i y8 = _mm_packus_epi16(_mm256_castsi256_si128(y16), _mm256_extracti128_si256(y16, 1));
    _mm_storeu_si128((__m128i *)(g + i), y8);
    /* pointers into this block and one base for the counts: few enough live registers that h1 and h2 stay in
       registers (else gcc spills one, putting a store and a reload on its hash chain) */
    const uint8_t *restrict gb = g + i;
    const uint32_t *restrict kb = keys + i;
    for (int j = 0; j < 16; j += 2) {
      for (int e = 0; e < 2; e++) {
        /* size_t, not uint32_t: 256 + gg cannot wrap, so the compiler folds the offsets into the addresses
           (with 32-bit indices it added them in registers first) */
        size_t r = q[3 * (j + e)], gg = q[3 * (j + e) + 1], bb = q[3 * (j + e) + 2], y = gb[j + e];
        uint32_t px = (uint32_t)(r | (gg << 8) | (bb << 16));
        h1 = rotl32((h1 ^ px) * 0xcc9e2d51u, 15);
        h2 = rotl32((h2 ^ px) * 0x1b873593u + 0x6b43a9b5u, 13);
        counts->hist2[e][r]++;
        counts->hist2[e][256 + gg]++;
        counts->hist2[e][512 + bb]++;
        counts->hist2[e][768 + y]++;
        counts->bins2[e][kb[j + e] >> KEY_SHIFT]++;
      }
    }
  }
  *h1_io = h1;
  *h2_io = h2;
  *chroma_out = (uint64_t)_mm_cvtsi128_si64(chroma) + (uint64_t)_mm_extract_epi64(chroma, 1);
  return i;
}
#endif

int aq_measure_pixels(const uint8_t *data, int width, int height, int channels, aq_scratch *s, double *metrics, uint32_t *hist, char *hashes) {
  uint32_t n = (uint32_t)width * (uint32_t)height;
  uint32_t gray_hist[256];
  memset(hist, 0, AQ_HIST * sizeof(uint32_t));
  const uint8_t *gray;
  int64_t chroma2 = 0;
  uint32_t h1 = 0x9747b28cu ^ (uint32_t)width;
  uint32_t h2 = 0x5bd1e995u ^ (uint32_t)height;
  double p5, p99;
  /*
   * One pass over the pixels: the two hash lanes (serial chains of multiplies, latency-bound) interleaved with
   * the gray, key and histogram work (throughput-bound), so the two overlap; chroma has its own vectorised
   * pass. Histograms in two copies (even and odd pixels): runs of equal values do not serialise on one counter.
   * On AVX2 CPUs rgb_blocks_avx2 does the colour pass (the code below finishes its last < 16 pixels); see there
   * for what bounds it (4 histogram copies or a split into a vector pass then a scalar pass measured slower).
   */
  if (channels == 1) {
    uint32_t gray2[2][256];
    memset(gray2, 0, sizeof gray2);
    gray = data;
    uint32_t i = 0;
    for (; i + 1 < n; i += 2) {
      uint32_t v0 = data[i], v1 = data[i + 1];
      uint32_t px0 = v0 * 0x010101u, px1 = v1 * 0x010101u;
      h1 = rotl32((h1 ^ px0) * 0xcc9e2d51u, 15);
      h2 = rotl32((h2 ^ px0) * 0x1b873593u + 0x6b43a9b5u, 13);
      h1 = rotl32((h1 ^ px1) * 0xcc9e2d51u, 15);
      h2 = rotl32((h2 ^ px1) * 0x1b873593u + 0x6b43a9b5u, 13);
      gray2[0][v0]++;
      gray2[1][v1]++;
    }
    if (i < n) {
      uint32_t v = data[i];
      uint32_t px = v * 0x010101u;
      h1 = rotl32((h1 ^ px) * 0xcc9e2d51u, 15);
      h2 = rotl32((h2 ^ px) * 0x1b873593u + 0x6b43a9b5u, 13);
      gray2[0][v]++;
    }
    for (int v = 0; v < 256; v++) gray_hist[v] = gray2[0][v] + gray2[1][v];
    memcpy(hist, gray_hist, sizeof gray_hist);
    gray_percentiles(gray_hist, n, &p5, &p99);
  } else {
    if (grow((void **)&s->gray, &s->gray_cap, n, 1) || grow((void **)&s->keys, &s->keys_cap, n, sizeof(uint32_t))) return -1;
    uint8_t *restrict g = s->gray;
    uint32_t *restrict keys = s->keys;
    colour_counts counts;
    memset(&counts, 0, sizeof counts);
    uint32_t (*hist2)[1024] = counts.hist2;
    uint32_t (*bins2)[KEY_BINS] = counts.bins2;
    const uint8_t *restrict q = data;
    uint32_t i = 0;
#ifdef AQ_HAVE_AVX2_PASS
    if (aq_cpu_avx2) {
      uint64_t block_chroma = 0;
      i = rgb_blocks_avx2(q, n, g, keys, &counts, &h1, &h2, &block_chroma);
      q += 3 * (size_t)i;
      chroma2 = 2 * (int64_t)(block_chroma + chroma_sum(q, n - i));
    } else
#endif
      chroma2 = 2 * (int64_t)chroma_sum(data, n);
#define AQ_PIXEL(copy, r, gg, b, idx)                                                  \
  do {                                                                                 \
    uint32_t px_ = (r) | ((gg) << 8) | ((b) << 16);                                    \
    h1 = rotl32((h1 ^ px_) * 0xcc9e2d51u, 15);                                         \
    h2 = rotl32((h2 ^ px_) * 0x1b873593u + 0x6b43a9b5u, 13);                           \
    uint64_t t_ = channel_lut[0][r] + channel_lut[1][gg] + channel_lut[2][b];          \
    uint32_t y_ = (uint32_t)t_ >> 15;                                                  \
    uint32_t k_ = (uint32_t)(t_ >> 32);                                                \
    g[idx] = (uint8_t)y_;                                                              \
    keys[idx] = k_;                                                                    \
    hist2[copy][(r)]++;                                                                \
    hist2[copy][256 + (gg)]++;                                                         \
    hist2[copy][512 + (b)]++;                                                          \
    hist2[copy][768 + y_]++;                                                           \
    bins2[copy][k_ >> KEY_SHIFT]++;                                                    \
  } while (0)
    for (; i + 1 < n; i += 2, q += 6) {
      uint32_t r0 = q[0], g0 = q[1], b0 = q[2];
      uint32_t r1 = q[3], g1 = q[4], b1 = q[5];
      AQ_PIXEL(0, r0, g0, b0, i);
      AQ_PIXEL(1, r1, g1, b1, i + 1);
    }
    if (i < n) {
      uint32_t r0 = q[0], g0 = q[1], b0 = q[2];
      AQ_PIXEL(0, r0, g0, b0, i);
    }
#undef AQ_PIXEL
    for (int v = 0; v < AQ_HIST; v++) hist[v] = hist2[0][v] + hist2[1][v];
    for (int v = 0; v < 256; v++) gray_hist[v] = hist2[0][768 + v] + hist2[1][768 + v];
    uint32_t bins[KEY_BINS];
    for (unsigned b = 0; b < KEY_BINS; b++) bins[b] = bins2[0][b] + bins2[1][b];
    if (key_percentiles(keys, n, bins, s, &p5, &p99)) return -1;
    gray = g;
  }
  double mean, std;
  histogram_stats(gray_hist, &mean, &std);
  double shadows = 0, highlights = 0;
  for (int v = 0; v <= SHADOW_CLIP_LEVEL; v++) shadows += gray_hist[v];
  for (int v = HIGHLIGHT_CLIP_LEVEL; v < 256; v++) highlights += gray_hist[v];
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
    /* a regular file read to its size is done (no read() to see the end; Node's readFile stops there too) */
    if (S_ISREG(st.st_mode) && st.st_size > 0 && len == (size_t)st.st_size) break;
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

/* A decompressor kept per thread (s->jpeg) and reused from file to file (jpeg_abort_decompress between files). */
typedef struct aq_decoder {
  struct jpeg_decompress_struct cinfo;
  aq_jpeg_error err;
} aq_decoder;

static void free_decoder(aq_scratch *s) {
  aq_decoder *d = s->jpeg;
  if (!d) return;
  jpeg_destroy_decompress(&d->cinfo);
  free(d);
  s->jpeg = NULL;
}

static aq_decoder *decoder_of(aq_scratch *s) {
  if (s->jpeg) return s->jpeg;
  aq_decoder *d = calloc(1, sizeof *d);
  if (!d) return NULL;
  d->cinfo.err = jpeg_std_error(&d->err.mgr);
  d->err.mgr.error_exit = on_jpeg_error;
  d->err.mgr.emit_message = on_jpeg_message;
  if (setjmp(d->err.jump)) {
    /* jpeg_create_decompress failed (out of memory); it frees what it allocated */
    free(d);
    return NULL;
  }
  jpeg_create_decompress(&d->cinfo);
  s->jpeg = d;
  return d;
}

/* Decode a plain JPEG into s->pixels (components 1 or 3); 0 on success, -1 when not handled. */
static int decode_jpeg(const uint8_t *bytes, size_t len, const aq_jpeg_header *header, aq_scratch *s) {
  size_t row_bytes = (size_t)header->width * (size_t)header->components;
  if (grow((void **)&s->pixels, &s->pixels_cap, row_bytes * (size_t)header->height, 1)) return -1;
  if (grow((void **)&s->rows, &s->rows_cap, (size_t)header->height, sizeof(uint8_t *))) return -1;
  aq_decoder *d = decoder_of(s);
  if (!d) return -1;
  struct jpeg_decompress_struct *cinfo = &d->cinfo;
  d->err.warned = 0;
  if (setjmp(d->err.jump)) {
    /* libjpeg gave up on this file: back to idle, the object stays usable */
    jpeg_abort_decompress(cinfo);
    return -1;
  }
  jpeg_mem_src(cinfo, bytes, (unsigned long)len);
  if (jpeg_read_header(cinfo, TRUE) != JPEG_HEADER_OK) goto fail;
  if ((int)cinfo->image_width != header->width || (int)cinfo->image_height != header->height || cinfo->num_components != header->components ||
      cinfo->data_precision != 8)
    goto fail;
  if (header->components == 1) cinfo->out_color_space = JCS_GRAYSCALE;
  else if (cinfo->jpeg_color_space == JCS_YCbCr || cinfo->jpeg_color_space == JCS_RGB) cinfo->out_color_space = JCS_RGB;
  else goto fail;
  jpeg_start_decompress(cinfo);
  if ((int)cinfo->output_width != header->width || (int)cinfo->output_height != header->height || cinfo->output_components != header->components) goto fail;
  uint8_t **rows = s->rows;
  for (int y = 0; y < header->height; y++) rows[y] = s->pixels + (size_t)y * row_bytes;
  /* as many rows per call as libjpeg will give (the pixels are the same whatever the count) */
  while (cinfo->output_scanline < cinfo->output_height) {
    JDIMENSION at = cinfo->output_scanline;
    if (jpeg_read_scanlines(cinfo, rows + at, cinfo->output_height - at) == 0) goto fail;
  }
  jpeg_finish_decompress(cinfo);
  return d->err.warned ? -1 : 0;
fail:
  jpeg_abort_decompress(cinfo);
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
