/*
 * onnx.h - reading an ONNX model (a serialized onnx.ModelProto) into the server's dense
 * model representation (model.h), so batching, int8 quantization and pruning apply to it.
 *
 * The protobuf is decoded by libprotobuf-c with code that protoc-c generates at build
 * time from the onnx.proto Debian ships (python3-onnx); none of it is in git. Before
 * protobuf-c sees a byte, a walk of the wire format checks every tag and length against
 * the buffer and the schema (field wire types, nesting at most AIOS_ONNX_MAX_DEPTH), so a
 * damaged file is AIOS_ERR_CORRUPT with the byte offset where it goes wrong.
 *
 * Supported (ai.onnx opsets AIOS_ONNX_MIN_OPSET..AIOS_ONNX_MAX_OPSET, float32): the
 * feed-forward graphs PyTorch, Keras-to-ONNX and sklearn-onnx export, one chain from one
 * graph input to one graph output:
 *   Gemm, MatMul (by a constant matrix)           -> a dense layer
 *   Add, Sub, Mul, Div (by a constant, broadcast   -> folded into the neighbouring dense
 *     as a scalar or per feature)                     layer's weights and bias
 *   Relu, LeakyRelu, Tanh, Sigmoid, Softmax,       -> the activation after a dense layer
 *     LogSoftmax (over the features)
 *   Flatten (axis 1), Reshape keeping the batch,   -> nothing (rows stay row-major)
 *     Identity
 *   Transpose and Identity of constants, Constant  -> constants
 * An affine step or activation with no dense layer before it to fold into becomes a
 * diagonal dense layer (width at most AIOS_ONNX_MAX_DIAG). The input's first dimension
 * is the batch (symbolic or fixed); the others multiply to the model's input width.
 * Anything else is AIOS_ERR_UNSUPPORTED naming the op and node ("unsupported ONNX op
 * Conv at node /conv1/Conv"); a graph that breaks ONNX's own rules is AIOS_ERR_INVALID.
 * The caps of model.h apply (layers, width, parameters), checked before allocating.
 *
 * The model's meta gets {"format": "onnx", "onnx": {"ir_version", "opset", "producer",
 * "inputs": [{"name", "shape"}], "outputs": [{"name", "shape"}]}}, shapes with -1 for a
 * symbolic dimension: what V2 model metadata reports.
 */
#ifndef AIOS_MODEL_ONNX_H
#define AIOS_MODEL_ONNX_H

#include <stddef.h>

#include "common/err.h"
#include "model/model.h"

#define AIOS_ONNX_MIN_OPSET 9
#define AIOS_ONNX_MAX_OPSET 17
#define AIOS_ONNX_MAX_NODES 65536 /* nodes, and initializers, in the graph */
#define AIOS_ONNX_MAX_DEPTH 32    /* nesting of protobuf messages */
#define AIOS_ONNX_MAX_RANK  8     /* dimensions of any tensor */
#define AIOS_ONNX_MAX_DIAG  4096  /* width of a diagonal layer made for a lone affine step */

/*
 * Whether p looks like ONNX rather than an aios artifact: it does not start with the
 * artifact's magic and starts with field 1 (ir_version, varint), as every ONNX writer
 * emits first. What `format: auto` goes by.
 */
int aios_onnx_sniff(const void *p, size_t n);

/* Parses an ONNX model held in memory; what names it in messages. Caller frees *out. */
enum aios_err aios_onnx_read_mem(const void *p, size_t n, const char *what,
                                 struct aios_model **out) AIOS_MUST_CHECK;

#endif
