/* The JPEG marker walk of libs/quality/src/lib/explore/jpeg-header.ts, in C (same rules, same results). */
#ifndef AGEKIT_QUALITY_JPEG_HEADER_H
#define AGEKIT_QUALITY_JPEG_HEADER_H

#include <stddef.h>
#include <stdint.h>

typedef struct aq_jpeg_header {
  int width;
  int height;
  int components;
  int precision;
  int orientation;
  int complete;
} aq_jpeg_header;

/* 1 when a frame header was found (fills *out), 0 when the bytes are not a JPEG or have no frame header. */
int aq_read_jpeg_header(const uint8_t *b, size_t len, aq_jpeg_header *out);

#endif
