/*
 * mkmodel.c - writes a deterministic MLP artifact for the serving benchmark, plus the
 * same weights as JSON for the PyTorch peer (so both servers run the same model).
 *
 *   aios-bench-mkmodel OUT.aios OUT.json IN H1 [H2 ...] OUT    random weights
 *   aios-bench-mkmodel --from-json W.json OUT.aios               weights of train.py
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/json.h"
#include "model/model.h"

static float next(unsigned *s)
{
	unsigned x = *s;
	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	*s = x;
	return (float)((double)x / 4294967296.0 * 2.0 - 1.0);
}

/* Reads train.py's weights into a relu MLP with identity output (logits). */
static int from_json(const char *in, const char *out)
{
	struct aios_buf b;
	aios_buf_init(&b, 256u << 20);
	struct json_object *doc, *layers;
	if (aios_buf_read_file(&b, in) || aios_json_parse(b.data, b.len, in, &doc) ||
	    aios_json_get_array(doc, "layers", &layers)) {
		fprintf(stderr, "%s\n", aios_errmsg());
		return 1;
	}
	int n = (int)json_object_array_length(layers), sizes[AIOS_MODEL_MAX_LAYERS + 1];
	for (int k = 0; k < n && k < AIOS_MODEL_MAX_LAYERS; k++) {
		struct json_object *l = json_object_array_get_idx(layers, k);
		sizes[k] = json_object_get_int(json_object_object_get(l, "in"));
		sizes[k + 1] = json_object_get_int(json_object_object_get(l, "out"));
	}
	struct aios_model *m =
	    aios_model_new(AIOS_MODEL_MLP, AIOS_ACT_RELU, AIOS_ACT_IDENTITY, n, sizes);
	for (int k = 0; k < n; k++) {
		struct json_object *l = json_object_array_get_idx(layers, k);
		struct json_object *w = json_object_object_get(l, "w"),
		                   *bb = json_object_object_get(l, "b");
		for (int i = 0; i < sizes[k] * sizes[k + 1]; i++)
			m->layers[k].w[i] =
			    (float)json_object_get_double(json_object_array_get_idx(w, i));
		for (int i = 0; i < sizes[k + 1]; i++)
			m->layers[k].b[i] =
			    (float)json_object_get_double(json_object_array_get_idx(bb, i));
	}
	json_object_put(doc);
	aios_buf_cleanup(&b);
	if (aios_model_write_file(m, out, AIOS_DTYPE_F32) != AIOS_OK) {
		fprintf(stderr, "%s\n", aios_errmsg());
		return 1;
	}
	printf("%s\n", m->sha256);
	aios_model_free(m);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 4 && strcmp(argv[1], "--from-json") == 0)
		return from_json(argv[2], argv[3]);
	if (argc < 6) {
		fprintf(stderr, "usage: %s OUT.aios OUT.json IN H1 [H2 ...] OUT\n", argv[0]);
		return 1;
	}
	int n_layers = argc - 4;
	int sizes[AIOS_MODEL_MAX_LAYERS + 1];
	for (int i = 0; i <= n_layers && i <= AIOS_MODEL_MAX_LAYERS; i++) {
		char *end;
		long v = strtol(argv[3 + i], &end, 10);
		if (*end || v < 1 || v > 65536) {
			fprintf(stderr, "bad layer size %s\n", argv[3 + i]);
			return 1;
		}
		sizes[i] = (int)v;
	}
	struct aios_model *m =
	    aios_model_new(AIOS_MODEL_MLP, AIOS_ACT_RELU, AIOS_ACT_IDENTITY, n_layers, sizes);
	unsigned seed = 12345;
	FILE *j = fopen(argv[2], "w");
	if (!j) {
		perror(argv[2]);
		return 1;
	}
	fprintf(j, "{\"layers\":[");
	for (int k = 0; k < n_layers; k++) {
		struct aios_model_layer *l = &m->layers[k];
		float sc = 1.7f / sqrtf((float)l->in);
		fprintf(j, "%s{\"in\":%d,\"out\":%d,\"w\":[", k ? "," : "", l->in, l->out);
		for (int i = 0; i < l->in * l->out; i++) {
			l->w[i] = next(&seed) * sc;
			fprintf(j, "%s%.9g", i ? "," : "", (double)l->w[i]);
		}
		fprintf(j, "],\"b\":[");
		for (int i = 0; i < l->out; i++) {
			l->b[i] = next(&seed) * 0.1f;
			fprintf(j, "%s%.9g", i ? "," : "", (double)l->b[i]);
		}
		fprintf(j, "]}");
	}
	fprintf(j, "]}\n");
	fclose(j);
	if (aios_model_write_file(m, argv[1], AIOS_DTYPE_F32) != AIOS_OK) {
		fprintf(stderr, "%s\n", aios_errmsg());
		return 1;
	}
	printf("%s\n", m->sha256);
	aios_model_free(m);
	return 0;
}
