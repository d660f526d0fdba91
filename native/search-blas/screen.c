// The int8 screen (screen.h). A pool row x is quantized per row to 7 bits, x8 = round(x / sx) in
// [-63, 63] with sx = max|x| / 63; a target q to 8 bits, q8 in [-127, 127] with sq = max|q| / 127.
// With x^ = sx x8 and q^ = sq q8 (real numbers), q.x = q^.x^ + q^.(x - x^) + (q - q^).x, so
//   q.x <= sq sx (q8.x8) + |q^| |x - x^| + |q - q^| |x|        (Cauchy-Schwarz, twice)
// where the norms are computed per vector in double and rounded up, and q8.x8 is an exact integer.
// That bound plus SLACK (the float arithmetic that evaluates it) is what screen_tile holds against
// each target's floor, marking the rows that reach it.
//
// The product runs on AVX2's vpmaddubsw, which multiplies unsigned by signed bytes and adds pairs
// into 16 bits with saturation: the rows are stored as x8 + 64 in [1, 127], so that a pair is at
// most 2 * 127 * 127 < 2^15 and never saturates, and 64 * sum(q8) is taken off each target's sums.
// About twice sgemm's rate at the search's shapes (docs/stages/select.md has the figures).
#include "screen.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define SCREEN_X86 1
#include <immintrin.h>
#endif

// Largest dimension whose integer sums float32 holds exactly: |q8.x8| <= dim * 63 * 127 < 2^24.
#define SCREEN_MAX_DIM 2096
// The offset that makes a row's bytes unsigned.
#define ROW_OFFSET 64
// The rounding of the bound's own float arithmetic: five operations on values of about 1 at most
// (unit vectors), each within FLT_EPSILON / 2, with room to spare.
#define SLACK (4.0f * FLT_EPSILON)

static size_t padded_dim(uint32_t dim) { return ((size_t)dim + 3) / 4 * 4; }
static size_t padded_rows(uint32_t rows) { return ((size_t)rows + SCREEN_PANEL - 1) / SCREEN_PANEL * SCREEN_PANEL; }

int screen_runs(uint32_t dim) {
#ifdef SCREEN_X86
  return dim <= SCREEN_MAX_DIM && __builtin_cpu_supports("avx2");
#else
  (void)dim;
  return 0;
#endif
}

size_t screen_block_bytes(uint32_t rows, uint32_t dim) {
  return screen_runs(dim) ? padded_rows(rows) * (3 * sizeof(float) + padded_dim(dim)) : 0;
}

// A non-negative double as the float at or above it.
static float up(double v) {
  float f = (float)(v * (1 + 1e-12));
  return (double)f < v ? nextafterf(f, INFINITY) : f;
}

// One vector quantized to [-limit, limit] into `q8` (dim values, the padding left alone): its
// scale, the norm of what the quantization lost, and its own norm (NaN for a vector that is not
// finite, whose bounds are then NaN, as its sgemm scores would be).
static void quantize(int8_t *q8, const float *v, uint32_t dim, int limit, float *scale, float *error, float *norm) {
  float most = 0;
  int finite = 1;
  for (uint32_t j = 0; j < dim; j++) {
    finite &= isfinite(v[j]) != 0;
    float a = fabsf(v[j]);
    if (a > most) most = a;
  }
  if (!finite) {
    memset(q8, 0, dim);
    *scale = *error = *norm = NAN;
    return;
  }
  // Any rounding of the steps will do: the error is measured from the steps as they come out.
  float s = most / (float)limit, per = s > 0 ? 1 / s : 0;
  double lost = 0, sum = 0;
  for (uint32_t j = 0; j < dim; j++) {
    long n = lrintf(v[j] * per);
    n = n > limit ? limit : n < -limit ? -limit : n;
    q8[j] = (int8_t)n;
    double d = (double)v[j] - (double)s * (double)n;
    lost += d * d;
    sum += (double)v[j] * (double)v[j];
  }
  *scale = s;
  *error = up(sqrt(lost));
  *norm = up(sqrt(sum));
}

// The block's layout: scales, errors and norms of its padded rows, then their bytes, panel by
// panel: in each, dimension group g (four dimensions) holds the panel's 16 rows' four bytes, rows
// 0 to 7 then 8 to 15, so that one 32-byte load holds eight rows' bytes of the group.
void screen_block_fill(void *out, const float *vectors, uint32_t rows, uint32_t dim) {
  size_t P = padded_rows(rows), D = padded_dim(dim), groups = D / 4;
  float *scales = out, *errors = scales + P, *norms = errors + P;
  uint8_t *packed = (uint8_t *)(norms + P);
  int8_t row[SCREEN_MAX_DIM + 4];
  for (size_t r = 0; r < P; r++) {
    memset(row, 0, D);
    if (r < rows) quantize(row, vectors + r * dim, dim, 63, scales + r, errors + r, norms + r);
    else scales[r] = errors[r] = norms[r] = 0;
    uint8_t *panel = packed + (r / SCREEN_PANEL) * groups * 64;
    size_t lane = r % SCREEN_PANEL, at = (lane / 8) * 32 + (lane % 8) * 4;
    for (size_t g = 0; g < groups; g++)
      for (size_t b = 0; b < 4; b++) panel[g * 64 + at + b] = (uint8_t)(row[g * 4 + b] + ROW_OFFSET);
  }
}

int screen_targets_fill(ScreenTargets *t, const float *vectors, size_t n, uint32_t dim) {
  size_t padded = (n + 3) / 4 * 4, D = padded_dim(dim);
  if (t->capacity < padded || t->valuesCapacity < padded * D) {
    screen_targets_free(t);
    t->values = malloc(padded * D);
    t->scales = malloc(sizeof(float) * padded);
    t->errors = malloc(sizeof(float) * padded);
    t->norms = malloc(sizeof(float) * padded);
    t->offsets = malloc(sizeof(int32_t) * padded);
    if (!t->values || !t->scales || !t->errors || !t->norms || !t->offsets) return screen_targets_free(t), 0;
    t->capacity = padded, t->valuesCapacity = padded * D;
  }
  memset(t->values, 0, padded * D);
  for (size_t i = 0; i < padded; i++) {
    int8_t *q8 = t->values + i * D;
    float scale = 0, error = 0, norm = 0;
    if (i < n) quantize(q8, vectors + i * dim, dim, 127, &scale, &error, &norm);
    int32_t sum = 0;
    for (size_t j = 0; j < D; j++) sum += q8[j];
    // The norm here is that of the quantized target, |q^| <= |q| + |q - q^|.
    t->scales[i] = scale, t->errors[i] = error, t->norms[i] = isnan(norm) ? norm : up((double)norm + (double)error);
    t->offsets[i] = ROW_OFFSET * sum;
  }
  return 1;
}

void screen_targets_free(ScreenTargets *t) {
  free(t->values), free(t->scales), free(t->errors), free(t->norms), free(t->offsets);
  memset(t, 0, sizeof *t);
}

#ifdef SCREEN_X86
// Four targets' integer products with one panel's 16 rows over `groups` groups of four
// dimensions, into acc[target * 16 + row]. In assembly: compilers spilled the eight accumulators.
static void panel_products(const uint8_t *panel, const int8_t *q, size_t stride, size_t groups, int32_t acc[64]) {
  size_t stride3 = 3 * stride;
  __asm__ volatile(
      "vpcmpeqw %%ymm15, %%ymm15, %%ymm15\n\t"
      "vpsrlw $15, %%ymm15, %%ymm15\n\t" // sixteen 16-bit ones, for vpmaddwd's pair sums
      "vpxor %%ymm0, %%ymm0, %%ymm0\n\t"
      "vpxor %%ymm1, %%ymm1, %%ymm1\n\t"
      "vpxor %%ymm2, %%ymm2, %%ymm2\n\t"
      "vpxor %%ymm3, %%ymm3, %%ymm3\n\t"
      "vpxor %%ymm4, %%ymm4, %%ymm4\n\t"
      "vpxor %%ymm5, %%ymm5, %%ymm5\n\t"
      "vpxor %%ymm6, %%ymm6, %%ymm6\n\t"
      "vpxor %%ymm7, %%ymm7, %%ymm7\n\t"
      "1:\n\t"
      "vmovdqu (%[panel]), %%ymm8\n\t"
      "vmovdqu 32(%[panel]), %%ymm9\n\t"
#define TARGET(address, low, high)                  \
  "vpbroadcastd " address ", %%ymm10\n\t"           \
  "vpmaddubsw %%ymm10, %%ymm8, %%ymm11\n\t"         \
  "vpmaddubsw %%ymm10, %%ymm9, %%ymm12\n\t"         \
  "vpmaddwd %%ymm15, %%ymm11, %%ymm11\n\t"          \
  "vpmaddwd %%ymm15, %%ymm12, %%ymm12\n\t"          \
  "vpaddd %%ymm11, %%" low ", %%" low "\n\t"        \
  "vpaddd %%ymm12, %%" high ", %%" high "\n\t"
      TARGET("(%[q])", "ymm0", "ymm1") TARGET("(%[q], %[stride], 1)", "ymm2", "ymm3") TARGET("(%[q], %[stride], 2)", "ymm4", "ymm5") TARGET("(%[q], %[stride3], 1)", "ymm6", "ymm7")
#undef TARGET
      "add $64, %[panel]\n\t"
      "add $4, %[q]\n\t"
      "dec %[groups]\n\t"
      "jnz 1b\n\t"
      "vmovdqu %%ymm0, (%[acc])\n\t"
      "vmovdqu %%ymm1, 32(%[acc])\n\t"
      "vmovdqu %%ymm2, 64(%[acc])\n\t"
      "vmovdqu %%ymm3, 96(%[acc])\n\t"
      "vmovdqu %%ymm4, 128(%[acc])\n\t"
      "vmovdqu %%ymm5, 160(%[acc])\n\t"
      "vmovdqu %%ymm6, 192(%[acc])\n\t"
      "vmovdqu %%ymm7, 224(%[acc])\n\t"
      "vzeroupper"
      : [panel] "+r"(panel), [q] "+r"(q), [groups] "+r"(groups)
      : [stride] "r"(stride), [stride3] "r"(stride3), [acc] "r"(acc)
      : "memory", "cc", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm15");
}

__attribute__((target("avx2"))) size_t screen_tile(uint16_t *marks, size_t panels, const float *floors, uint32_t k, float margin, const ScreenTargets *t, size_t t0, size_t height,
                                                    const void *block, uint32_t rows, uint32_t first, uint32_t width, uint32_t dim) {
  size_t P = padded_rows(rows), D = padded_dim(dim), groups = D / 4, passing = 0;
  const float *scales = block, *errors = scales + P, *norms = errors + P;
  const uint8_t *packed = (const uint8_t *)(norms + P);
  int32_t acc[64];
  const __m256 slack = _mm256_set1_ps(SLACK);
  for (size_t p = 0; p * SCREEN_PANEL < width; p++) {
    size_t r = first + p * SCREEN_PANEL;
    // The rows of a last panel past the tile are not the tile's.
    uint32_t inside = width - p * SCREEN_PANEL >= SCREEN_PANEL ? 0xffff : (1u << (width - p * SCREEN_PANEL)) - 1;
    const uint8_t *panel = packed + (r / SCREEN_PANEL) * groups * 64;
    for (size_t i = t0; i < t0 + height; i += 4) {
      panel_products(panel, t->values + i * D, D, groups, acc);
      for (size_t a = 0; a < 4 && i + a < t0 + height; a++) {
        const __m256i offset = _mm256_set1_epi32(t->offsets[i + a]);
        const __m256 scale = _mm256_set1_ps(t->scales[i + a]), error = _mm256_set1_ps(t->errors[i + a]), norm = _mm256_set1_ps(t->norms[i + a]);
        const __m256 low = _mm256_set1_ps(floors[(i + a) * k] - margin);
        uint32_t mark = 0;
        for (size_t half = 0; half < 2; half++) {
          size_t row = r + 8 * half;
          __m256 product = _mm256_cvtepi32_ps(_mm256_sub_epi32(_mm256_loadu_si256((const __m256i *)(acc + a * 16 + 8 * half)), offset));
          __m256 estimate = _mm256_mul_ps(product, _mm256_mul_ps(scale, _mm256_loadu_ps(scales + row)));
          __m256 lost = _mm256_add_ps(_mm256_mul_ps(norm, _mm256_loadu_ps(errors + row)), _mm256_mul_ps(error, _mm256_loadu_ps(norms + row)));
          __m256 bound = _mm256_add_ps(_mm256_add_ps(estimate, lost), slack);
          // Not under the floor: a NaN bound passes, as a NaN sgemm score does.
          mark |= (uint32_t)_mm256_movemask_ps(_mm256_cmp_ps(bound, low, _CMP_NLT_UQ)) << (8 * half);
        }
        mark &= inside;
        marks[(i + a - t0) * panels + p] = (uint16_t)mark;
        passing += (size_t)__builtin_popcount(mark);
      }
    }
  }
  return passing;
}
#else
size_t screen_tile(uint16_t *marks, size_t panels, const float *floors, uint32_t k, float margin, const ScreenTargets *t, size_t t0, size_t height, const void *block, uint32_t rows,
                   uint32_t first, uint32_t width, uint32_t dim) {
  // screen_runs() is 0 here: search() never calls it.
  (void)marks, (void)panels, (void)floors, (void)k, (void)margin, (void)t, (void)t0, (void)height, (void)block, (void)rows, (void)first, (void)width, (void)dim;
  abort();
}
#endif
