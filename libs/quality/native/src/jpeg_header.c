/* The JPEG marker walk of libs/quality/src/lib/explore/jpeg-header.ts, in C: keep the two in step. */
#include "jpeg_header.h"

static unsigned u16_at(const uint8_t *b, size_t o, int little) {
  return little ? (unsigned)(b[o] | (b[o + 1] << 8)) : (unsigned)((b[o] << 8) | b[o + 1]);
}

static uint64_t u32_at(const uint8_t *b, size_t o, int little) {
  return little ? ((uint64_t)b[o] | ((uint64_t)b[o + 1] << 8) | ((uint64_t)b[o + 2] << 16) | ((uint64_t)b[o + 3] << 24))
                : (((uint64_t)b[o] << 24) | ((uint64_t)b[o + 1] << 16) | ((uint64_t)b[o + 2] << 8) | (uint64_t)b[o + 3]);
}

/* EXIF orientation from an APP1 payload b[start, end) ("Exif\0\0" + TIFF); 1 when absent or malformed. */
static int exif_orientation(const uint8_t *b, size_t start, size_t end) {
  if (end < start || end - start < 14 || b[start] != 0x45 || b[start + 1] != 0x78 || b[start + 2] != 0x69 || b[start + 3] != 0x66) return 1;
  size_t tiff = start + 6;
  int little = b[tiff] == 0x49;
  uint64_t ifd = (uint64_t)tiff + u32_at(b, tiff + 4, little);
  if (ifd + 2 > end) return 1;
  unsigned count = u16_at(b, (size_t)ifd, little);
  for (unsigned k = 0; k < count; k++) {
    uint64_t entry = ifd + 2 + (uint64_t)k * 12;
    if (entry + 12 > end) break;
    if (u16_at(b, (size_t)entry, little) == 0x0112) {
      unsigned v = u16_at(b, (size_t)entry + 8, little);
      return v >= 1 && v <= 8 ? (int)v : 1;
    }
  }
  return 1;
}

int aq_read_jpeg_header(const uint8_t *b, size_t len, aq_jpeg_header *out) {
  if (len < 4 || b[0] != 0xff || b[1] != 0xd8) return 0;
  size_t end = len;
  while (end > 2 && b[end - 1] == 0x00) end--; /* zero padding after EOI is tolerated */
  int complete = b[end - 2] == 0xff && b[end - 1] == 0xd9;
  int orientation = 1;
  int have_frame = 0;
  aq_jpeg_header frame = {0, 0, 0, 0, 1, 0};
  size_t i = 2;
  while (i + 4 <= len) {
    if (b[i] != 0xff) break; /* not a marker: stop (a frame seen so far still counts) */
    unsigned marker = b[i + 1];
    if (marker == 0xff) {
      i++;
      continue;
    }
    if (marker == 0xd8 || marker == 0x01 || (marker >= 0xd0 && marker <= 0xd7)) {
      i += 2;
      continue;
    }
    if (marker == 0xda || marker == 0xd9) break;
    size_t length = ((size_t)b[i + 2] << 8) | b[i + 3];
    size_t body = i + 4;
    if (marker >= 0xc0 && marker <= 0xcf && marker != 0xc4 && marker != 0xc8 && marker != 0xcc && body + 6 <= len) {
      frame.precision = b[body];
      frame.height = (b[body + 1] << 8) | b[body + 2];
      frame.width = (b[body + 3] << 8) | b[body + 4];
      frame.components = b[body + 5];
      have_frame = 1;
    } else if (marker == 0xe1) {
      size_t limit = i + 2 + length < len ? i + 2 + length : len;
      int o = exif_orientation(b, body, limit);
      if (o != 1) orientation = o;
    }
    i += 2 + length;
  }
  if (!have_frame) return 0;
  frame.orientation = orientation;
  frame.complete = complete;
  *out = frame;
  return 1;
}
