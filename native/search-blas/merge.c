// The exact search's merge (lib/retrieval/running-topk.ts's offerHits) in C: what a batch found in a
// block, offered to the running top-k's per-target heaps, which the JavaScript side owns. On the
// searching thread it cost up to 0.5 s per 100k x 384 search in JavaScript (1.6 million offers),
// time taken from the cores the matrix products run on.
//
// The heaps order candidates by distance, then by pool id; the ids are JavaScript strings, decoded
// on demand. So an offer runs here only where it meets no equal distance on its way (the common
// case): each offer is first walked without writing, and one that meets a tie is left untouched and
// handed back, for RunningTopK.offer to place. Offers give the same lists in any order, so the
// lists are the same as if JavaScript had made every offer.
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "addon.h"

typedef struct {
  double *distances;
  int32_t *held;
  uint32_t *filled;
  int32_t *blockOf, *rowOf;
  uint8_t *decoded;
  uint32_t k;
} Lists;

// RunningTopK.hold: the place's candidate is now row `row` of block `block`, its id not decoded.
static inline void hold(const Lists *l, int32_t c, int32_t block, int32_t row) {
  l->blockOf[c] = block;
  l->rowOf[c] = row;
  l->decoded[c] = 0;
}

// Into a heap that is not full: up from the end while the parent is nearer. 0 if a tie is met.
static int fill(const Lists *l, size_t base, double distance, int32_t block, int32_t row) {
  uint32_t have = l->filled[base / l->k];
  uint32_t at = have;
  while (at > 0) {
    double parent = l->distances[base + ((at - 1) >> 1)];
    if (distance == parent) return 0;
    if (!(distance > parent)) break;
    at = (at - 1) >> 1;
  }
  int32_t c = (int32_t)(base + have);
  hold(l, c, block, row);
  l->filled[base / l->k] = have + 1;
  for (at = have; at > 0;) {
    uint32_t up = (at - 1) >> 1;
    if (!(distance > l->distances[base + up])) break;
    l->distances[base + at] = l->distances[base + up];
    l->held[base + at] = l->held[base + up];
    at = up;
  }
  l->distances[base + at] = distance;
  l->held[base + at] = c;
  return 1;
}

// Into a full heap, in place of its farthest: down past any farther child. 0 if a tie is met.
static int replace(const Lists *l, size_t base, double distance, int32_t block, int32_t row) {
  const double *d = l->distances + base;
  uint32_t k = l->k;
  if (distance == d[0]) return 0;
  for (uint32_t at = 0;;) {
    uint32_t child = 2 * at + 1;
    if (child >= k) break;
    if (child + 1 < k) {
      if (d[child + 1] == d[child]) return 0;
      if (d[child + 1] > d[child]) child++;
    }
    if (d[child] == distance) return 0;
    if (!(d[child] > distance)) break;
    at = child;
  }
  int32_t c = l->held[base];
  hold(l, c, block, row);
  uint32_t at = 0;
  for (;;) {
    uint32_t child = 2 * at + 1;
    if (child >= k) break;
    if (child + 1 < k && d[child + 1] > d[child]) child++;
    if (!(d[child] > distance)) break;
    l->distances[base + at] = d[child];
    l->held[base + at] = l->held[base + child];
    at = child;
  }
  l->distances[base + at] = distance;
  l->held[base + at] = c;
  return 1;
}

// offer(distances: Float64Array, held: Int32Array, filled: Uint32Array, blockOf: Int32Array,
//       rowOf: Int32Array, decoded: Uint8Array, first, block, targets: Int32Array, rows: Int32Array,
//       scores: Float32Array) -> Int32Array: the hits (indices into targets/rows/scores) not offered, for a tie.
// Hit i is row rows[i] of the block for target first + targets[i], at distance 1 - scores[i] in double.
static napi_value offer(napi_env env, napi_callback_info info) {
  size_t argc = 11;
  napi_value argv[11];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 11) return fail(env, "offer: eleven arguments");
  Lists l;
  size_t places, heldLength, count, blockOfLength, rowOfLength, decodedLength, hits, hitRows, hitScores;
  int32_t *targets, *rows;
  float *scores;
  uint32_t first;
  int32_t block;
  if (!typed_array(env, argv[0], napi_float64_array, (void **)&l.distances, &places) ||
      !typed_array(env, argv[1], napi_int32_array, (void **)&l.held, &heldLength) ||
      !typed_array(env, argv[2], napi_uint32_array, (void **)&l.filled, &count) ||
      !typed_array(env, argv[3], napi_int32_array, (void **)&l.blockOf, &blockOfLength) ||
      !typed_array(env, argv[4], napi_int32_array, (void **)&l.rowOf, &rowOfLength) ||
      !typed_array(env, argv[5], napi_uint8_array, (void **)&l.decoded, &decodedLength))
    return fail(env, "offer: the lists must be Float64, Int32, Uint32, Int32, Int32 and Uint8 arrays");
  if (count == 0 || places % count != 0 || places == 0 || heldLength != places || blockOfLength != places || rowOfLength != places || decodedLength != places || places > INT32_MAX)
    return fail(env, "offer: the lists disagree on targets x k");
  l.k = (uint32_t)(places / count);
  if (napi_get_value_uint32(env, argv[6], &first) != napi_ok || napi_get_value_int32(env, argv[7], &block) != napi_ok || block < 0)
    return fail(env, "offer: first and block must be non-negative integers");
  if (!typed_array(env, argv[8], napi_int32_array, (void **)&targets, &hits) || !typed_array(env, argv[9], napi_int32_array, (void **)&rows, &hitRows) ||
      !typed_array(env, argv[10], napi_float32_array, (void **)&scores, &hitScores) || hitRows != hits || hitScores != hits)
    return fail(env, "offer: targets, rows and scores must be Int32, Int32 and Float32 arrays of one length");
  for (size_t i = 0; i < hits; i++) {
    if (targets[i] < 0 || (size_t)first + (size_t)targets[i] >= count || rows[i] < 0) return fail(env, "offer: a hit names a target or row outside the lists");
  }
  // The hits that meet a tie, for JavaScript: rare, so their list is made only when one comes.
  size_t left = 0;
  int32_t *tied = NULL;
  for (size_t i = 0; i < hits; i++) {
    size_t target = (size_t)first + (size_t)targets[i];
    size_t base = target * l.k;
    double distance = 1.0 - (double)scores[i];
    int placed;
    if (l.filled[target] < l.k) placed = fill(&l, base, distance, block, rows[i]);
    else placed = distance > l.distances[base] || replace(&l, base, distance, block, rows[i]);
    if (placed) continue;
    if (!tied && !(tied = malloc(hits * sizeof *tied))) return fail(env, "offer: out of memory");
    tied[left++] = (int32_t)i;
  }
  napi_value result = typed_copy(env, napi_int32_array, tied, left);
  free(tied);
  return result ? result : fail(env, "offer: out of memory");
}

void merge_exports(napi_env env, napi_value exports) {
  napi_value fn;
  napi_create_function(env, "offer", NAPI_AUTO_LENGTH, offer, NULL, &fn);
  napi_set_named_property(env, exports, "offer", fn);
}
