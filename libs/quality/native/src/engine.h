/*
 * agekit quality engine: read a file, decode a plain 8-bit JPEG with libjpeg(-turbo) and compute what
 * @agekit/quality's measureImage computes, in the same order and arithmetic (see libs/quality/src/lib/metrics.ts
 * and phash.ts). Pure C, no N-API: addon.c wraps it.
 */
#ifndef AGEKIT_QUALITY_ENGINE_H
#define AGEKIT_QUALITY_ENGINE_H

#include <stddef.h>
#include <stdint.h>

/* Outcome of one file (int32 in the status array handed to JS). */
enum aq_status {
  AQ_OK = 0,
  /* not a case the engine handles (not a plain 8-bit JPEG, truncated, EXIF-rotated, too large, libjpeg
     warning or error, empty file, unusual read error): the JS path measures it or names its error */
  AQ_NOT_HANDLED = 1,
  AQ_NOT_FOUND = 2,   /* ENOENT */
  AQ_PERMISSION = 3,  /* EACCES / EPERM */
  AQ_IS_DIRECTORY = 4 /* EISDIR */
};

/* Doubles per image in the metrics array, in this order (entropy is computed in JS from the histogram:
   glibc's log2 and V8's Math.log2 differ in the last bit for ~1% of arguments). */
enum aq_metric {
  AQ_M_LAPLACIAN_VARIANCE = 0,
  AQ_M_MEAN,
  AQ_M_STD,
  AQ_M_RMS_CONTRAST,
  AQ_M_DARK_SCORE,
  AQ_M_LIGHT_SCORE,
  AQ_M_CLIPPED_SHADOWS,
  AQ_M_CLIPPED_HIGHLIGHTS,
  AQ_M_ASPECT_RATIO,
  AQ_M_CHROMA_MEAN,
  AQ_METRICS
};

/* The ImageMetrics name (@agekit/dataset's METADATA_METRICS) of each slot of enum aq_metric, exported to JS as
   metricNames: the binding maps the engine's outputs by name, so the table and this enum cannot drift apart. */
extern const char *const aq_metric_names[AQ_METRICS];

/* Int32s per image in the info array: status, width, height, components. */
#define AQ_INFO 4
/* Histogram bins per image: R, G, B (3 x 256) for colour, the first 256 = gray for gray images. */
#define AQ_HIST 768
/* Hex characters per image: pixel hash (16) then perceptual hash (16). */
#define AQ_HASH_CHARS 32

/* 8 x 32 table cos((2x + 1) u pi / 64) for u < 8, x < 32, computed by JS's Math.cos (set once). */
void aq_set_cos_table(const double *table);
int aq_cos_table_ready(void);

/*
 * Area weights of phash.ts's areaWeights(size, 32), kept per thread for the last size seen: output o sums
 * source index[o * taps + k] * weight[o * taps + k] for k < taps, each output's list padded to `taps` with
 * weight 0 (adding +0 leaves the sum unchanged, bit for bit).
 */
typedef struct aq_area_weights {
  int size; /* 0: not computed yet */
  int taps;
  int *index;
  double *weight;
  size_t cap;
} aq_area_weights;

/* Per-thread scratch buffers, grown on demand (plus a libjpeg decompressor reused from file to file). */
typedef struct aq_scratch {
  uint8_t *file;
  size_t file_cap;
  uint8_t *pixels;
  size_t pixels_cap;
  uint8_t *gray;
  size_t gray_cap;
  uint32_t *keys;
  size_t keys_cap;
  uint32_t *members;
  size_t members_cap;
  double *thumb_tmp;
  size_t thumb_tmp_cap;
  double *band;
  size_t band_cap;
  uint8_t **rows;
  size_t rows_cap;
  aq_area_weights xs, ys;
  void *jpeg; /* struct aq_decoder (engine.c), created on first use */
} aq_scratch;

void aq_scratch_free(aq_scratch *s);
/* Bytes of heap the scratch holds (its buffers; the decompressor not counted). */
size_t aq_scratch_bytes(const aq_scratch *s);

/* Nanoseconds of thread CPU time per stage, summed. */
typedef struct aq_timers {
  uint64_t read_ns;
  uint64_t decode_ns;
  uint64_t metrics_ns;
} aq_timers;

/*
 * Read, decode and measure one file. Writes info[AQ_INFO], metrics[AQ_METRICS], hist[AQ_HIST] and
 * hashes[AQ_HASH_CHARS] (not NUL-terminated) on AQ_OK; returns the status (also stored in info[0]).
 */
int aq_measure_file(const char *path, double max_pixels, aq_scratch *s, aq_timers *timers, int32_t *info, double *metrics, uint32_t *hist,
                    char *hashes);

/*
 * Measure decoded pixels (channels 1 or 3, tightly packed). Exposed for tests of the arithmetic; returns 0,
 * or -1 when scratch memory could not be allocated.
 */
int aq_measure_pixels(const uint8_t *pixels, int width, int height, int channels, aq_scratch *s, double *metrics, uint32_t *hist, char *hashes);

#endif
