/*
 * onnx_export.h - a model (model.h) written as ONNX: what aios-trainer puts beside its
 * artifact when spec.output.formats lists onnx (docs/trainer.md).
 *
 * The graph (ai.onnx opset AIOS_ONNX_EXPORT_OPSET, IR version AIOS_ONNX_EXPORT_IR,
 * float32 throughout), one chain of nodes in this order:
 *   input "input"   float32 (batch, n_inputs); the batch is symbolic ("batch")
 *   norm.sub        Sub(input, norm.mean)          only for a model with input
 *   norm.div        Div(norm.centered, norm.std)   normalization: (x - mean) / std,
 *                                                  as the artifact computes it
 *   l<k>.gemm       Gemm(., l<k>.w, l<k>.b), transB=1, for each dense layer k:
 *                   l<k>.w is (out, in) and l<k>.b (out), the artifact's tensors
 *   l<k>.<act>      the activation after layer k (aios_model_layer_act): Relu, Tanh,
 *                   Sigmoid, LeakyRelu (alpha), Softmax or LogSoftmax (axis 1); no
 *                   node for identity
 *   output "output" float32 (batch, n_outputs): the last node writes it
 * Every constant is an initializer with raw little-endian float32 data. metadata_props
 * holds aios.type, aios.activation, aios.output and, when the model was written or read
 * as an artifact first (m->sha256 set), aios.artifact.sha256.
 *
 * The message is built from the structs protoc-c generates from Debian's onnx.proto
 * (the reader's, onnx.h) and encoded by libprotobuf-c. aios-serve's reader, onnxruntime
 * and onnx.checker take the result (tests/unit/model/test_onnx_export.c,
 * tests/unit/trainer/test_onnx_out.c).
 */
#ifndef AIOS_MODEL_ONNX_EXPORT_H
#define AIOS_MODEL_ONNX_EXPORT_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "model/model.h"

#define AIOS_ONNX_EXPORT_OPSET  13 /* ai.onnx, as of onnx 1.8 */
#define AIOS_ONNX_EXPORT_IR     7  /* the IR version that came with opset 13 */
#define AIOS_ONNX_EXPORT_INPUT  "input"
#define AIOS_ONNX_EXPORT_OUTPUT "output"
#define AIOS_ONNX_EXPORT_BATCH  "batch" /* the symbolic first dimension */

/*
 * Whether a model of this type, hidden activation (used by mlp) and output activation
 * can be written as ONNX; AIOS_ERR_UNSUPPORTED naming what has no ONNX form otherwise.
 * The trainer checks a spec with it before training.
 */
enum aios_err aios_onnx_export_check(enum aios_model_type type, enum aios_act hidden,
                                     enum aios_act output) AIOS_MUST_CHECK;

/*
 * Encodes m as an ONNX ModelProto into a new heap buffer (caller frees *out). Errors:
 * AIOS_ERR_UNSUPPORTED (an activation with no ONNX form), AIOS_ERR_INVALID (no layers,
 * a parameter or a normalization statistic not finite, a std not positive).
 */
enum aios_err aios_onnx_export_mem(const struct aios_model *m, uint8_t **out,
                                   size_t *len) AIOS_MUST_CHECK;

#endif
