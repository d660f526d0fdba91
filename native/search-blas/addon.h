// What the addon's C files share: Node-API argument checks, and each file's exports.
#ifndef SEARCH_BLAS_ADDON_H
#define SEARCH_BLAS_ADDON_H

#include <stddef.h>
#include <string.h>
#include <node_api.h>

static inline napi_value fail(napi_env env, const char *message) {
  napi_throw_error(env, NULL, message);
  return NULL;
}

// A typed array of exactly `type`: its data and its length in elements.
static inline int typed_array(napi_env env, napi_value value, napi_typedarray_type type, void **data, size_t *length) {
  napi_typedarray_type actual;
  return napi_get_typedarray_info(env, value, &actual, length, data, NULL, NULL) == napi_ok && actual == type;
}

static inline int float_array(napi_env env, napi_value value, float **data, size_t *length) {
  return typed_array(env, value, napi_float32_array, (void **)data, length);
}

// A new typed array of `count` 4-byte elements of `type`, copied from `from`; NULL when out of memory.
static inline napi_value typed_copy(napi_env env, napi_typedarray_type type, const void *from, size_t count) {
  void *data;
  napi_value buffer, array;
  if (napi_create_arraybuffer(env, count * 4, &data, &buffer) != napi_ok) return NULL;
  if (count) memcpy(data, from, count * 4);
  if (napi_create_typedarray(env, type, count, buffer, 0, &array) != napi_ok) return NULL;
  return array;
}

// merge.c: `offer`, the running top-k's merge.
void merge_exports(napi_env env, napi_value exports);

#endif
