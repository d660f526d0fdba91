// The exact search's BLAS kernel (lib/retrieval/blas-kernel.ts): one target batch against one pool
// block, as OpenBLAS's sgemm tile by tile into a scratch buffer kept for the thread, then each
// target's scores held against its floor (the least of its k best so far, a min-heap in memory the
// JavaScript side owns) in the same pass. Only scores that can still enter a list leave: those at
// or above the floor they met, filtered at the end by the floor the block ends with. Every score at
// or above that floor leaves, ties included, so the searching thread's merge can break them by pool id.
//
// Ties need equal vectors to score equally, and sgemm does not promise that: its edge micro-kernels
// sum in another order, so a copy's score moves by an ulp with its place in the tile. So the sgemm
// only screens: a row goes on when its sgemm score is within margin() of the floor, and what is
// kept, offered and held as the floor is the row's canonical score (dot(), the same sums in the
// same order wherever the row is). Exact for L2-normalized vectors: each of the two sums is within
// about dim * 2^-24 of the true product, so no score at or above the floor is screened out.
//
// Once every target of a tile holds k scores, the screen may cost part of the product: the sgemm
// over the first half of the dimensions, plus a bound on the rest (Cauchy-Schwarz: the target's
// and the row's norms over the second half, multiplied), is at least the row's score. Rows whose
// bound falls under the floor cannot enter; the others are scored canonically as before, so the
// lists are the same. Where the bound lets too many through, the sgemm goes on over the third
// quarter (added to the first half's scores) and the bound is tried again over the last; then over
// the last quarter, the full product. No stage's work is thrown away. The bound only prunes where
// near rows stand out from the rest (clustered embeddings, a high floor).
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "addon.h"
#ifdef __SSE2__
#include <emmintrin.h>
#elif defined(__SSE__)
#include <xmmintrin.h>
#endif

// The scipy-openblas wheels prefix every symbol (`scipy_cblas_sgemm`), so that their OpenBLAS never
// clashes with another in the process; the build passes the prefix as the wheel's pkg-config says.
#ifdef BLAS_SYMBOL_PREFIX
#define PREFIXED_(prefix, name) prefix##name
#define PREFIXED(prefix, name) PREFIXED_(prefix, name)
#define cblas_sgemm PREFIXED(BLAS_SYMBOL_PREFIX, cblas_sgemm)
#define openblas_set_num_threads PREFIXED(BLAS_SYMBOL_PREFIX, openblas_set_num_threads)
#define openblas_get_config PREFIXED(BLAS_SYMBOL_PREFIX, openblas_get_config)
#endif

// A tile of TILE_TARGETS x TILE_ROWS scores (1 MiB, a core's L2 here): the scan reads it back from
// cache, and the sgemm packs each operand once per 256 rows of the other. Smaller tiles measured no faster.
#define TILE_TARGETS 256
#define TILE_ROWS 1024
// Scores looked at as one before their floor: a vectorized test lets nearly every chunk pass at once.
#define CHUNK 16

typedef struct {
  int32_t *targets;
  int32_t *rows;
  float *scores;
  size_t count, capacity;
} Hits;

// Per thread (each worker thread has its own Node-API environment): reused across calls.
typedef struct {
  float *scratch;
  // The batch's targets' norms past each stage's cut (the partial-product screen), as fill_tails lays them out.
  float *targetTails;
  size_t targetTailsCapacity;
  Hits hits;
} Instance;

static int hits_reserve(Hits *h, size_t more) {
  if (h->count + more <= h->capacity) return 1;
  size_t capacity = h->capacity ? h->capacity : 4096;
  while (capacity < h->count + more) capacity *= 2;
  int32_t *targets = realloc(h->targets, capacity * sizeof *targets);
  if (targets) h->targets = targets;
  int32_t *rows = realloc(h->rows, capacity * sizeof *rows);
  if (rows) h->rows = rows;
  float *scores = realloc(h->scores, capacity * sizeof *scores);
  if (scores) h->scores = scores;
  if (!targets || !rows || !scores) return 0;
  h->capacity = capacity;
  return 1;
}

static inline void hit(Hits *h, int32_t target, int32_t row, float score) {
  h->targets[h->count] = target;
  h->rows[h->count] = row;
  h->scores[h->count] = score;
  h->count++;
}

// The min-heap of lib/retrieval/best-scores.ts's BestScores: up from the end while filling...
static void heap_push(float *heap, uint32_t at, float score) {
  while (at > 0 && heap[(at - 1) >> 1] > score) {
    heap[at] = heap[(at - 1) >> 1];
    at = (at - 1) >> 1;
  }
  heap[at] = score;
}

// ...and down from the root, in place of the least, once full.
static void heap_replace_least(float *heap, uint32_t k, float score) {
  uint32_t at = 0;
  for (;;) {
    uint32_t child = 2 * at + 1;
    if (child >= k) break;
    if (child + 1 < k && heap[child + 1] < heap[child]) child++;
    if (heap[child] >= score) break;
    heap[at] = heap[child];
    at = child;
  }
  heap[at] = score;
}

// The canonical score: LANES running sums in a fixed order, added up in a fixed order (the build
// keeps the compiler from reordering or fusing them), so a row scores the same wherever it is. On
// x86 the sums run as two SSE vectors: left to the compiler, it kept them in scalar registers and
// shuffled, and canonical scores took a fifth of the kernel's time on 100k x 384 (perf).
#define LANES 8
static float dot(const float *a, const float *b, uint32_t dim) {
  float sums[LANES] = {0};
  uint32_t j = 0;
#ifdef __SSE__
  // The same sums in vector registers, four lanes each: a multiply then an add, each rounded, as
  // the loop below does lane by lane, so the scores are bit for bit the same.
  _Static_assert(LANES == 8, "two vectors of four");
  __m128 low = _mm_setzero_ps(), high = _mm_setzero_ps();
  for (; j + LANES <= dim; j += LANES) {
    low = _mm_add_ps(low, _mm_mul_ps(_mm_loadu_ps(a + j), _mm_loadu_ps(b + j)));
    high = _mm_add_ps(high, _mm_mul_ps(_mm_loadu_ps(a + j + 4), _mm_loadu_ps(b + j + 4)));
  }
  _mm_storeu_ps(sums, low);
  _mm_storeu_ps(sums + 4, high);
#endif
  for (; j + LANES <= dim; j += LANES)
    for (uint32_t l = 0; l < LANES; l++) sums[l] += a[j + l] * b[j + l];
  for (; j < dim; j++) sums[0] += a[j] * b[j];
  return ((sums[0] + sums[1]) + (sums[2] + sums[3])) + ((sums[4] + sums[5]) + (sums[6] + sums[7]));
}

// Whether any of the CHUNK scores from `at` reaches `low`: one test for the lot, the vector maximum on x86.
static inline int any_reaches(const float *at, float low) {
#ifdef __SSE__
  _Static_assert(CHUNK == 16, "four vectors of four");
  __m128 m = _mm_max_ps(_mm_max_ps(_mm_loadu_ps(at), _mm_loadu_ps(at + 4)), _mm_max_ps(_mm_loadu_ps(at + 8), _mm_loadu_ps(at + 12)));
  return _mm_movemask_ps(_mm_cmpge_ps(m, _mm_set1_ps(low)));
#else
  int near = 0;
  for (int r = 0; r < CHUNK; r++) near |= at[r] >= low;
  return near;
#endif
}

// How far under the floor a sgemm score may be while its canonical score reaches it: the rounding
// bound of a float dot product of unit vectors is about dim * 2^-24 (FLT_EPSILON / 2), twice that
// for the two sums, with room for the subtraction from the floor.
static float margin(uint32_t dim) {
  return FLT_EPSILON * (1.25f * (float)dim + 1.0f);
}

typedef struct {
  const float *query;
  const float *pool; // the block's row 0
  uint32_t dim;
  float margin;
} Target;

// The partial-product screen: below this dimension its tail bound is too loose and its shorter
// sgemms too slow to pay (1M x 128: 22% slower; 250k x 384: 12% faster, clustered vectors).
#define SCREEN_MIN_DIM 256
// Its stages: the product over the first half of the dimensions, then over three quarters.
#define STAGES 2
// Rows let through per row screened above which the next stage costs less than the canonical
// scores of the rows let through (a canonical score is a row's whole dot product at a few flops
// per cycle, the sgemm's share of it many times faster).
#define SCREEN_MAX_PASSING 0.03

// A vector's norm over dimensions [from, dim). Any order of the sums will do: the bound's slack
// covers the rounding of each, so they run four lanes wide (one scalar sum in sequence took a
// fifth of the kernel's own time on 100k x 384, where every call summed every row's tails again).
static float norm_from(const float *v, uint32_t from, uint32_t dim) {
  uint32_t j = from;
  float sum = 0;
#ifdef __SSE__
  __m128 a = _mm_setzero_ps(), b = _mm_setzero_ps();
  for (; j + 8 <= dim; j += 8) {
    __m128 x = _mm_loadu_ps(v + j), y = _mm_loadu_ps(v + j + 4);
    a = _mm_add_ps(a, _mm_mul_ps(x, x));
    b = _mm_add_ps(b, _mm_mul_ps(y, y));
  }
  float lanes[4];
  _mm_storeu_ps(lanes, _mm_add_ps(a, b));
  sum = (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]);
#endif
  for (; j < dim; j++) sum += v[j] * v[j];
  return sqrtf(sum);
}

// The screen's cuts: stage s has the product over dimensions [0, cuts[s]), its bound the norms
// over the rest; no stages below SCREEN_MIN_DIM.
static uint32_t screen_cuts(uint32_t dim, uint32_t cuts[STAGES]) {
  cuts[0] = dim / 2, cuts[1] = dim / 4 * 3;
  return dim >= SCREEN_MIN_DIM ? STAGES : 0;
}

// Each of `rows` vectors' norms past each stage's cut, stage after stage: [stages x rows].
static void fill_tails(float *tails, const float *vectors, uint32_t rows, uint32_t dim) {
  uint32_t cuts[STAGES], stages = screen_cuts(dim, cuts);
  for (uint32_t s = 0; s < stages; s++)
    for (uint32_t r = 0; r < rows; r++) tails[(size_t)s * rows + r] = norm_from(vectors + (size_t)r * dim, cuts[s], dim);
}

// How many rows of one target's row of a screened tile reach `low` as a bound: the partial
// product, plus the target's tail norm times the row's, plus the rounding slack.
static size_t count_passing(const float *screen, const float *tails, uint32_t width, float tail, float slack, float low) {
  size_t passing = 0;
  uint32_t r = 0;
#ifdef __SSE2__
  __m128 vtail = _mm_set1_ps(tail), vslack = _mm_set1_ps(slack), vlow = _mm_set1_ps(low);
  __m128i counts = _mm_setzero_si128();
  for (; r + 4 <= width; r += 4) {
    __m128 bound = _mm_add_ps(_mm_loadu_ps(screen + r), _mm_add_ps(_mm_mul_ps(vtail, _mm_loadu_ps(tails + r)), vslack));
    counts = _mm_sub_epi32(counts, _mm_castps_si128(_mm_cmpge_ps(bound, vlow)));
  }
  uint32_t lanes[4];
  _mm_storeu_si128((__m128i *)lanes, counts);
  passing = (size_t)lanes[0] + lanes[1] + lanes[2] + lanes[3];
#endif
  for (; r < width; r++) passing += screen[r] + (tail * tails[r] + slack) >= low;
  return passing;
}

// The same row made its bound, in place, once the stage is taken (the same sums as counted).
static void make_bound(float *screen, const float *tails, uint32_t width, float tail, float slack) {
  for (uint32_t r = 0; r < width; r++) screen[r] = screen[r] + (tail * tails[r] + slack);
}

// The floor a target not yet holding k scores can screen a tile with, or -INFINITY when the tile
// cannot fill its heap. Let `missing` = k - size and S the missing-th largest sgemm score of the
// tile: `missing` rows score at least S by sgemm, so at least S - margin canonically (the bound
// margin() rests on holds both ways). Those rows pass any screen at or under S - margin (their
// sgemm scores are >= S, and low = floor - margin), so the heap ends the tile holding them and the
// `size` scores it already has: k scores, each at least min(heap least, S - margin). The floor the
// block ends with is therefore at least that, and a row scoring canonically under it is cut by the
// block's last filter anyway: screening by it drops no score at or above the final floor, ties
// included, and leaves ~k canonical scores to compute where the unfilled heap took every row.
static float provisional_floor(const float *screen, uint32_t count, const float *heap, uint32_t size, uint32_t k, float margin) {
  uint32_t missing = k - size;
  if (count < missing) return -INFINITY;
  // S as the least of a min-heap of the `missing` best: past its first chunks most chunks hold
  // none better, so the selection costs about one vector test per CHUNK scores.
  float best[TILE_ROWS];
  uint32_t j = 0;
  for (; j < missing; j++) heap_push(best, j, screen[j]);
  for (; j < count; j += CHUNK) {
    uint32_t end = j + CHUNK < count ? j + CHUNK : count;
    if (end - j == CHUNK && !any_reaches(screen + j, best[0])) continue;
    for (uint32_t r = j; r < end; r++)
      if (screen[r] > best[0]) heap_replace_least(best, missing, screen[r]);
  }
  float floor = best[0] - margin;
  return size > 0 && heap[0] < floor ? heap[0] : floor;
}

// One target's sgemm scores of a tile, rows `first`.. of the block; returns 0 when out of memory.
static int scan(Hits *h, int32_t target, const Target *q, uint32_t first, const float *screen, uint32_t count, float *heap, uint32_t *size, uint32_t k) {
  // At most every row of the tile enters, so one reservation covers the tile.
  if (!hits_reserve(h, count)) return 0;
  float floor = *size == k ? heap[0] : provisional_floor(screen, count, heap, *size, k, q->margin), low = floor - q->margin;
  for (uint32_t j = 0; j < count; j += CHUNK) {
    uint32_t end = j + CHUNK < count ? j + CHUNK : count;
    if (end - j == CHUNK && !any_reaches(screen + j, low)) continue;
    for (uint32_t r = j; r < end; r++) {
      if (screen[r] < low) continue;
      float score = dot(q->query, q->pool + (size_t)(first + r) * q->dim, q->dim);
      if (score < floor) continue;
      hit(h, target, (int32_t)(first + r), score);
      if (*size < k) heap_push(heap, (*size)++, score);
      else if (score > heap[0]) heap_replace_least(heap, k, score);
      else continue;
      // A provisional floor holds until the heap's own least passes it.
      if (*size == k && heap[0] > floor) {
        floor = heap[0];
        low = floor - q->margin;
      }
    }
  }
  return 1;
}

// search(targets: Float32Array [n x dim], dim, vectors: Float32Array [>= rows x dim], rows,
//        tails: Float32Array (tails() of the block), heaps: Float32Array [n x k], sizes: Uint32Array [n])
//   -> { targets, rows, scores, screenedTiles }
static napi_value search(napi_env env, napi_callback_info info) {
  size_t argc = 7;
  napi_value argv[7];
  Instance *instance;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 7) return fail(env, "search: seven arguments");
  if (napi_get_instance_data(env, (void **)&instance) != napi_ok || !instance) return fail(env, "search: not initialized");
  float *targets, *vectors, *tails, *heaps;
  size_t targetsLength, vectorsLength, tailsLength, heapsLength, n;
  uint32_t dim, rows, *sizes;
  if (!float_array(env, argv[0], &targets, &targetsLength)) return fail(env, "search: targets must be a Float32Array");
  if (napi_get_value_uint32(env, argv[1], &dim) != napi_ok || dim == 0) return fail(env, "search: dim must be a positive integer");
  if (!float_array(env, argv[2], &vectors, &vectorsLength)) return fail(env, "search: vectors must be a Float32Array");
  if (napi_get_value_uint32(env, argv[3], &rows) != napi_ok) return fail(env, "search: rows must be an integer");
  if (!float_array(env, argv[4], &tails, &tailsLength)) return fail(env, "search: tails must be a Float32Array");
  if (!float_array(env, argv[5], &heaps, &heapsLength)) return fail(env, "search: heaps must be a Float32Array");
  if (!typed_array(env, argv[6], napi_uint32_array, (void **)&sizes, &n)) return fail(env, "search: sizes must be a Uint32Array");
  if (n == 0 || targetsLength != n * dim || heapsLength % n != 0 || heapsLength == 0) return fail(env, "search: targets, heaps and sizes disagree on the batch");
  if ((size_t)rows * dim > vectorsLength || rows > INT32_MAX) return fail(env, "search: vectors hold fewer rows than asked");
  uint32_t k = (uint32_t)(heapsLength / n);
  uint32_t cuts[STAGES], stages = screen_cuts(dim, cuts);
  if (tailsLength != (size_t)rows * stages) return fail(env, "search: tails must be tails() of the block");

  if (!instance->scratch && !(instance->scratch = malloc(sizeof(float) * TILE_TARGETS * TILE_ROWS))) return fail(env, "search: out of memory");
  Hits *h = &instance->hits;
  h->count = 0;
  if (stages && instance->targetTailsCapacity < n * stages) {
    free(instance->targetTails);
    if (!(instance->targetTails = malloc(sizeof(float) * n * stages))) return instance->targetTailsCapacity = 0, fail(env, "search: out of memory");
    instance->targetTailsCapacity = n * stages;
  }
  fill_tails(instance->targetTails, targets, (uint32_t)n, dim);
  // The bound's own rounding: each norm within about dim * 2^-24 of its true value, both at most ~1.
  float slack = 2.0f * FLT_EPSILON * (float)(dim + 4);
  uint32_t screenedTiles[STAGES] = {0};
  for (uint32_t first = 0; first < rows; first += TILE_ROWS) {
    uint32_t width = rows - first < TILE_ROWS ? rows - first : TILE_ROWS;
    for (size_t t0 = 0; t0 < n; t0 += TILE_TARGETS) {
      size_t height = n - t0 < TILE_TARGETS ? n - t0 : TILE_TARGETS;
      const float *tile = targets + t0 * dim, *block = vectors + (size_t)first * dim;
      int screening = stages != 0;
      for (size_t t = 0; screening && t < height; t++) screening = sizes[t0 + t] == k;
      // Dimensions multiplied so far; each stage adds its own to the scores of the last.
      uint32_t done = 0;
      int bounded = 0;
      for (uint32_t s = 0; screening && s < stages && !bounded; s++) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)height, (int)width, (int)(cuts[s] - done), 1.0f, tile + done, (int)dim, block + done, (int)dim, done ? 1.0f : 0.0f, instance->scratch, (int)width);
        done = cuts[s];
        const float *rowTails = tails + (size_t)s * rows + first, *targetTails = instance->targetTails + s * n + t0;
        // Counting stops once too many pass: the stage is not taken either way.
        size_t passing = 0, most = (size_t)(SCREEN_MAX_PASSING * (double)(height * width));
        for (size_t t = 0; t < height && passing <= most; t++) passing += count_passing(instance->scratch + t * width, rowTails, width, targetTails[t], slack, heaps[(t0 + t) * k] - margin(dim));
        if (passing > most) continue;
        bounded = 1;
        screenedTiles[s]++;
        for (size_t t = 0; t < height; t++) make_bound(instance->scratch + t * width, rowTails, width, targetTails[t], slack);
      }
      if (!bounded) cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)height, (int)width, (int)(dim - done), 1.0f, tile + done, (int)dim, block + done, (int)dim, done ? 1.0f : 0.0f, instance->scratch, (int)width);
      for (size_t t = 0; t < height; t++) {
        size_t target = t0 + t;
        Target q = {targets + target * dim, vectors, dim, margin(dim)};
        if (!scan(h, (int32_t)target, &q, first, instance->scratch + t * width, width, heaps + target * k, sizes + target, k)) return fail(env, "search: out of memory");
      }
    }
  }
  // A score under the floor its target ends the block with enters no list either.
  size_t kept = 0;
  for (size_t i = 0; i < h->count; i++) {
    int32_t target = h->targets[i];
    if (sizes[target] == k && h->scores[i] < heaps[(size_t)target * k]) continue;
    h->targets[kept] = target;
    h->rows[kept] = h->rows[i];
    h->scores[kept] = h->scores[i];
    kept++;
  }
  napi_value result, found[3];
  if (!(found[0] = typed_copy(env, napi_int32_array, h->targets, kept)) || !(found[1] = typed_copy(env, napi_int32_array, h->rows, kept)) ||
      !(found[2] = typed_copy(env, napi_float32_array, h->scores, kept)))
    return NULL;
  napi_create_object(env, &result);
  napi_set_named_property(env, result, "targets", found[0]);
  napi_set_named_property(env, result, "rows", found[1]);
  napi_set_named_property(env, result, "scores", found[2]);
  napi_value screened, stage;
  napi_create_array_with_length(env, STAGES, &screened);
  for (uint32_t s = 0; s < STAGES; s++) {
    napi_create_uint32(env, screenedTiles[s], &stage);
    napi_set_element(env, screened, s, stage);
  }
  napi_set_named_property(env, result, "screenedTiles", screened);
  // Hits of a rare block (many ties, a small k) must not keep their peak for the thread's life.
  if (h->capacity > ((size_t)1 << 22)) {
    free(h->targets), free(h->rows), free(h->scores);
    memset(h, 0, sizeof *h);
  }
  return result;
}

// tails(vectors: Float32Array [rows x dim], rows, dim) -> Float32Array: the rows' norms past each
// stage's cut, which search() bounds the rest of a partial product with; empty where the screen
// does not run (dim under SCREEN_MIN_DIM). Once per block and thread: every batch's call reads them.
static napi_value tails(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3], array, buffer;
  float *vectors, *out;
  size_t length;
  uint32_t rows, dim, cuts[STAGES];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 3) return fail(env, "tails: three arguments");
  if (!float_array(env, argv[0], &vectors, &length)) return fail(env, "tails: vectors must be a Float32Array");
  if (napi_get_value_uint32(env, argv[1], &rows) != napi_ok) return fail(env, "tails: rows must be an integer");
  if (napi_get_value_uint32(env, argv[2], &dim) != napi_ok || dim == 0) return fail(env, "tails: dim must be a positive integer");
  if ((size_t)rows * dim > length) return fail(env, "tails: vectors hold fewer rows than asked");
  size_t count = (size_t)rows * screen_cuts(dim, cuts);
  if (napi_create_arraybuffer(env, count * sizeof(float), (void **)&out, &buffer) != napi_ok) return NULL;
  fill_tails(out, vectors, rows, dim);
  if (napi_create_typedarray(env, napi_float32_array, count, buffer, 0, &array) != napi_ok) return NULL;
  return array;
}

// normalize(to: Float32Array, from: Float32Array, dim): lib/retrieval/normalize.ts's
// normalizeRowsInto in C: the same double arithmetic in the same order (the build fuses nothing),
// so bit for bit its output, where the searching thread normalizes every pool block (in JavaScript
// 0.7 s of a 100k x 384 search's main thread).
static napi_value normalize(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 3) return fail(env, "normalize: three arguments");
  float *to, *from;
  size_t toLength, fromLength;
  uint32_t dim;
  if (!float_array(env, argv[0], &to, &toLength) || !float_array(env, argv[1], &from, &fromLength)) return fail(env, "normalize: to and from must be Float32Arrays");
  if (napi_get_value_uint32(env, argv[2], &dim) != napi_ok || dim == 0) return fail(env, "normalize: dim must be a positive integer");
  if (fromLength % dim != 0 || toLength < fromLength) return fail(env, "normalize: from must hold whole rows, and to at least as many");
  for (size_t row = 0; row < fromLength; row += dim) {
    double sum = 0;
    for (size_t j = row; j < row + dim; j++) sum += (double)from[j] * (double)from[j];
    double scale = sum > 0 ? 1 / sqrt(sum) : 0;
    for (size_t j = row; j < row + dim; j++) to[j] = (float)((double)from[j] * scale);
  }
  return argv[0];
}

static napi_value config(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value result;
  napi_create_string_utf8(env, openblas_get_config(), NAPI_AUTO_LENGTH, &result);
  return result;
}

static void finalize(napi_env env, void *data, void *hint) {
  (void)env, (void)hint;
  Instance *instance = data;
  free(instance->scratch);
  free(instance->targetTails);
  free(instance->hits.targets), free(instance->hits.rows), free(instance->hits.scores);
  free(instance);
}

NAPI_MODULE_INIT() {
  // Parallel across search threads, one per core: each sgemm runs on the thread that calls it.
  openblas_set_num_threads(1);
  Instance *instance = calloc(1, sizeof *instance);
  if (!instance || napi_set_instance_data(env, instance, finalize, NULL) != napi_ok) return fail(env, "search-blas: cannot initialize");
  napi_value fn;
  napi_create_function(env, "search", NAPI_AUTO_LENGTH, search, NULL, &fn);
  napi_set_named_property(env, exports, "search", fn);
  napi_create_function(env, "tails", NAPI_AUTO_LENGTH, tails, NULL, &fn);
  napi_set_named_property(env, exports, "tails", fn);
  napi_create_function(env, "normalize", NAPI_AUTO_LENGTH, normalize, NULL, &fn);
  napi_set_named_property(env, exports, "normalize", fn);
  napi_create_function(env, "config", NAPI_AUTO_LENGTH, config, NULL, &fn);
  napi_set_named_property(env, exports, "config", fn);
  merge_exports(env, exports);
  return exports;
}
