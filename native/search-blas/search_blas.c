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
// Once every target of a tile holds k scores, the sgemm itself is screened: the int8 screen
// (screen.c) bounds every score of the tile from above at about twice the sgemm's rate, and
// only rows whose bound reaches the floor are scored canonically, so the lists are the same. Where
// the bounds let too many rows through (floors among a dense crowd of near scores), the call
// multiplies in full from that tile on.
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "addon.h"
#include "screen.h"
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
  // The batch's targets as the int8 screen takes them, and the rows of a tile it lets through.
  ScreenTargets targets;
  uint16_t *marks;
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

// Rows let through per bound above which a tile's canonical scores would cost more than the sgemm
// they spare (a canonical score is a row's whole dot product at a few flops per cycle, the sgemm's
// share of it many times faster).
#define SCREEN_MAX_PASSING 0.03

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

// A row's canonical score, kept when it reaches `*floor` (and pushed when among the k best), the
// floor raised with the heap's least once it holds k scores.
static inline void consider(Hits *h, int32_t target, const Target *q, uint32_t row, float *heap, uint32_t *size, uint32_t k, float *floor) {
  float score = dot(q->query, q->pool + (size_t)row * q->dim, q->dim);
  if (score < *floor) return;
  hit(h, target, (int32_t)row, score);
  if (*size < k) heap_push(heap, (*size)++, score);
  else if (score > heap[0]) heap_replace_least(heap, k, score);
  else return;
  // A provisional floor holds until the heap's own least passes it.
  if (*size == k && heap[0] > *floor) *floor = heap[0];
}

// One target's sgemm scores of a tile, rows `first`.. of the block; returns 0 when out of memory.
static int scan(Hits *h, int32_t target, const Target *q, uint32_t first, const float *screen, uint32_t count, float *heap, uint32_t *size, uint32_t k) {
  // At most every row of the tile enters, so one reservation covers the tile.
  if (!hits_reserve(h, count)) return 0;
  float floor = *size == k ? heap[0] : provisional_floor(screen, count, heap, *size, k, q->margin);
  for (uint32_t j = 0; j < count; j += CHUNK) {
    uint32_t end = j + CHUNK < count ? j + CHUNK : count;
    if (end - j == CHUNK && !any_reaches(screen + j, floor - q->margin)) continue;
    for (uint32_t r = j; r < end; r++)
      if (!(screen[r] < floor - q->margin)) consider(h, target, q, first + r, heap, size, k, &floor);
  }
  return 1;
}

// The same for the rows of a tile the int8 screen marked (screen_tile), the target's heap full.
static int scan_marked(Hits *h, int32_t target, const Target *q, uint32_t first, const uint16_t *marks, size_t panels, size_t marked, float *heap, uint32_t k) {
  if (!hits_reserve(h, marked)) return 0;
  uint32_t size = k;
  float floor = heap[0];
  for (size_t p = 0; p < panels; p++)
    for (uint32_t mark = marks[p]; mark; mark &= mark - 1) consider(h, target, q, first + (uint32_t)p * SCREEN_PANEL + (uint32_t)__builtin_ctz(mark), heap, &size, k, &floor);
  return 1;
}

// search(targets: Float32Array [n x dim], dim, vectors: Float32Array [>= rows x dim], rows,
//        screen: Uint8Array (screen() of the block), heaps: Float32Array [n x k], sizes: Uint32Array [n])
//   -> { targets, rows, scores, screenedTiles }
static napi_value search(napi_env env, napi_callback_info info) {
  size_t argc = 7;
  napi_value argv[7];
  Instance *instance;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 7) return fail(env, "search: seven arguments");
  if (napi_get_instance_data(env, (void **)&instance) != napi_ok || !instance) return fail(env, "search: not initialized");
  float *targets, *vectors, *heaps;
  uint8_t *screen;
  size_t targetsLength, vectorsLength, screenLength, heapsLength, n;
  uint32_t dim, rows, *sizes;
  if (!float_array(env, argv[0], &targets, &targetsLength)) return fail(env, "search: targets must be a Float32Array");
  if (napi_get_value_uint32(env, argv[1], &dim) != napi_ok || dim == 0) return fail(env, "search: dim must be a positive integer");
  if (!float_array(env, argv[2], &vectors, &vectorsLength)) return fail(env, "search: vectors must be a Float32Array");
  if (napi_get_value_uint32(env, argv[3], &rows) != napi_ok) return fail(env, "search: rows must be an integer");
  if (!typed_array(env, argv[4], napi_uint8_array, (void **)&screen, &screenLength)) return fail(env, "search: screen must be a Uint8Array");
  if (!float_array(env, argv[5], &heaps, &heapsLength)) return fail(env, "search: heaps must be a Float32Array");
  if (!typed_array(env, argv[6], napi_uint32_array, (void **)&sizes, &n)) return fail(env, "search: sizes must be a Uint32Array");
  if (n == 0 || targetsLength != n * dim || heapsLength % n != 0 || heapsLength == 0) return fail(env, "search: targets, heaps and sizes disagree on the batch");
  if ((size_t)rows * dim > vectorsLength || rows > INT32_MAX) return fail(env, "search: vectors hold fewer rows than asked");
  uint32_t k = (uint32_t)(heapsLength / n);
  if (screenLength != screen_block_bytes(rows, dim)) return fail(env, "search: screen must be screen() of the block");

  if (!instance->scratch && !(instance->scratch = malloc(sizeof(float) * TILE_TARGETS * TILE_ROWS))) return fail(env, "search: out of memory");
  if (!instance->marks && !(instance->marks = malloc(sizeof(uint16_t) * TILE_TARGETS * (TILE_ROWS / SCREEN_PANEL)))) return fail(env, "search: out of memory");
  Hits *h = &instance->hits;
  h->count = 0;
  // Cleared for the rest of the call when a tile's bounds let too many rows through.
  int screens = screenLength != 0;
  if (screens && !screen_targets_fill(&instance->targets, targets, n, dim)) return fail(env, "search: out of memory");
  uint32_t screenedTiles = 0;
  for (uint32_t first = 0; first < rows; first += TILE_ROWS) {
    uint32_t width = rows - first < TILE_ROWS ? rows - first : TILE_ROWS;
    // A tile's row of sgemm scores, in whole panels of the screen's marks.
    size_t stride = (width + SCREEN_PANEL - 1) / SCREEN_PANEL * SCREEN_PANEL;
    for (size_t t0 = 0; t0 < n; t0 += TILE_TARGETS) {
      size_t height = n - t0 < TILE_TARGETS ? n - t0 : TILE_TARGETS;
      int screened = screens;
      for (size_t t = 0; screened && t < height; t++) screened = sizes[t0 + t] == k;
      size_t panels = stride / SCREEN_PANEL;
      if (screened) {
        size_t marked = screen_tile(instance->marks, panels, heaps, k, margin(dim), &instance->targets, t0, height, screen, rows, first, width, dim);
        screened = marked <= (size_t)(SCREEN_MAX_PASSING * (double)(height * width));
        screens = screened;
        screenedTiles += (uint32_t)screened;
        for (size_t t = 0; screened && t < height; t++) {
          size_t target = t0 + t;
          Target q = {targets + target * dim, vectors, dim, margin(dim)};
          if (!scan_marked(h, (int32_t)target, &q, first, instance->marks + t * panels, panels, marked, heaps + target * k, k)) return fail(env, "search: out of memory");
        }
        if (screened) continue;
      }
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)height, (int)width, (int)dim, 1.0f, targets + t0 * dim, (int)dim, vectors + (size_t)first * dim, (int)dim, 0.0f, instance->scratch, (int)stride);
      for (size_t t = 0; t < height; t++) {
        size_t target = t0 + t;
        Target q = {targets + target * dim, vectors, dim, margin(dim)};
        if (!scan(h, (int32_t)target, &q, first, instance->scratch + t * stride, width, heaps + target * k, sizes + target, k)) return fail(env, "search: out of memory");
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
  napi_value screened;
  napi_create_uint32(env, screenedTiles, &screened);
  napi_set_named_property(env, result, "screenedTiles", screened);
  // Hits of a rare block (many ties, a small k) must not keep their peak for the thread's life.
  if (h->capacity > ((size_t)1 << 22)) {
    free(h->targets), free(h->rows), free(h->scores);
    memset(h, 0, sizeof *h);
  }
  return result;
}

// screen(vectors: Float32Array [rows x dim], rows, dim) -> Uint8Array: the block's rows quantized
// for search()'s int8 screen (screen.c); empty where the screen does not run (no AVX2, or over
// its dimensions). Once per block and thread: every batch's call reads it.
static napi_value screen(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3], array, buffer;
  float *vectors;
  void *out;
  size_t length;
  uint32_t rows, dim;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 3) return fail(env, "screen: three arguments");
  if (!float_array(env, argv[0], &vectors, &length)) return fail(env, "screen: vectors must be a Float32Array");
  if (napi_get_value_uint32(env, argv[1], &rows) != napi_ok) return fail(env, "screen: rows must be an integer");
  if (napi_get_value_uint32(env, argv[2], &dim) != napi_ok || dim == 0) return fail(env, "screen: dim must be a positive integer");
  if ((size_t)rows * dim > length) return fail(env, "screen: vectors hold fewer rows than asked");
  size_t bytes = screen_block_bytes(rows, dim);
  if (napi_create_arraybuffer(env, bytes, &out, &buffer) != napi_ok) return NULL;
  if (bytes) screen_block_fill(out, vectors, rows, dim);
  if (napi_create_typedarray(env, napi_uint8_array, bytes, buffer, 0, &array) != napi_ok) return NULL;
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
  screen_targets_free(&instance->targets);
  free(instance->marks);
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
  napi_create_function(env, "screen", NAPI_AUTO_LENGTH, screen, NULL, &fn);
  napi_set_named_property(env, exports, "screen", fn);
  napi_create_function(env, "normalize", NAPI_AUTO_LENGTH, normalize, NULL, &fn);
  napi_set_named_property(env, exports, "normalize", fn);
  napi_create_function(env, "config", NAPI_AUTO_LENGTH, config, NULL, &fn);
  napi_set_named_property(env, exports, "config", fn);
  merge_exports(env, exports);
  return exports;
}
