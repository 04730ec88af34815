/*
 * source.h - where a model artifact comes from: a storage URI (DESIGN.md) read into
 * memory, checked against an expected SHA-256 when one is given, and parsed.
 *
 *   file:///abs/path  or  /abs/path  or  rel/path     a local file
 *   pvc://CLAIM/PATH   $AIOS_PVC_ROOT/CLAIM/PATH (root default /mnt/pvc; the operator
 *                      mounts each claim there); ".." segments are refused
 *   http://, https://  fetched with libcurl (redirects followed, 60 s timeout, TLS
 *                      verified), bounded by AIOS_CAP_ARTIFACT
 */
#ifndef AIOS_SERVE_SOURCE_H
#define AIOS_SERVE_SOURCE_H

#include "common/buf.h"
#include "common/err.h"
#include "model/model.h"

/* Maps a file/pvc URI to a local path in out (n bytes); INVALID for other schemes. */
enum aios_err aios_source_local_path(const char *uri, char *out, size_t n) AIOS_MUST_CHECK;
/* Reads the bytes of uri into b (initialised by the caller with its cap). */
enum aios_err aios_source_read(const char *uri, struct aios_buf *b) AIOS_MUST_CHECK;
/*
 * Reads, checks sha256_hex (may be NULL) and parses the model. format is "aios" (the
 * artifact, model.h), "onnx" (onnx.h) or NULL/"auto": by the file's first bytes
 * (aios_onnx_sniff). Caller frees *out.
 */
enum aios_err aios_source_load_model(const char *uri, const char *sha256_hex, const char *format,
                                     struct aios_model **out) AIOS_MUST_CHECK;

#endif
