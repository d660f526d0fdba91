// screen.c: the BLAS kernel's int8 screen. A tile's scores bounded from above by an integer
// product of the targets and the block's rows quantized to 8 and 7 bits, with the quantization's
// error added back (computed per vector, so the bound is rigorous), at about twice the
// sgemm's rate on AVX2. search_blas.c scores canonically only the rows whose bound reaches a floor.
#ifndef SEARCH_BLAS_SCREEN_H
#define SEARCH_BLAS_SCREEN_H

#include <stddef.h>
#include <stdint.h>

// Rows per panel of the quantized block: a tile's first row must be a multiple of it.
#define SCREEN_PANEL 16

// The targets of one search() call, quantized (grown as needed, reused across calls).
typedef struct {
  int8_t *values;
  float *scales, *errors, *norms;
  int32_t *offsets;
  // Targets and bytes allocated.
  size_t capacity, valuesCapacity;
} ScreenTargets;

// Whether this machine runs the screen at this dimension (AVX2 on x86-64; the integer sums stay
// exact in float up to 2,096 dimensions).
int screen_runs(uint32_t dim);

// Bytes of a block's quantized copy (rows padded to whole panels), 0 where the screen does not run.
size_t screen_block_bytes(uint32_t rows, uint32_t dim);

// The block's quantized copy, in `screen_block_bytes(rows, dim)` bytes at `out`.
void screen_block_fill(void *out, const float *vectors, uint32_t rows, uint32_t dim);

// The batch's targets quantized, padded with zero targets to a multiple of four; 0 when out of memory.
int screen_targets_fill(ScreenTargets *targets, const float *vectors, size_t n, uint32_t dim);

void screen_targets_free(ScreenTargets *targets);

// The rows of block rows [first, first + width) whose bound (at least the row's exact product with
// the target, for unit vectors) reaches target t's floor less `margin` (its floor: floors[t * k]),
// as bits: marks[(t - t0) * panels + p], bit b for row first + 16 p + b, for the `height` targets
// from t0. Returns how many rows are marked.
size_t screen_tile(uint16_t *marks, size_t panels, const float *floors, uint32_t k, float margin, const ScreenTargets *targets, size_t t0, size_t height, const void *block,
                   uint32_t rows, uint32_t first, uint32_t width, uint32_t dim);

#endif
