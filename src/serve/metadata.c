/*
 * metadata.c - the V2 model metadata body (metadata.h), with json-c.
 */
#include "serve/metadata.h"

#include <json-c/json.h>
#include <string.h>

#include "common/mem.h"

/* [{"name", "datatype": "FP32", "shape"}] from the ONNX meta's list, or one [-1, width]. */
static struct json_object *tensors(struct json_object *onnx, const char *key, const char *fallback,
                                   int width)
{
	struct json_object *list, *out = json_object_new_array();
	if (onnx && json_object_object_get_ex(onnx, key, &list) &&
	    json_object_is_type(list, json_type_array) && json_object_array_length(list) > 0) {
		for (size_t i = 0; i < json_object_array_length(list); i++) {
			struct json_object *src = json_object_array_get_idx(list, i), *v;
			struct json_object *t = json_object_new_object();
			json_object_object_add(
			    t, "name",
			    json_object_new_string(json_object_object_get_ex(src, "name", &v)
			                               ? json_object_get_string(v)
			                               : fallback));
			json_object_object_add(t, "datatype", json_object_new_string("FP32"));
			if (json_object_object_get_ex(src, "shape", &v))
				json_object_object_add(t, "shape", json_object_get(v));
			json_object_array_add(out, t);
		}
		return out;
	}
	struct json_object *t = json_object_new_object(), *shape = json_object_new_array();
	json_object_array_add(shape, json_object_new_int(-1));
	json_object_array_add(shape, json_object_new_int(width));
	json_object_object_add(t, "name", json_object_new_string(fallback));
	json_object_object_add(t, "datatype", json_object_new_string("FP32"));
	json_object_object_add(t, "shape", shape);
	json_object_array_add(out, t);
	return out;
}

char *aios_serve_v2_metadata(const char *name, const struct aios_model *m, const char *quantize,
                             double sparsity)
{
	struct json_object *onnx = NULL;
	if (m->meta)
		json_object_object_get_ex(m->meta, "onnx", &onnx);
	struct json_object *o = json_object_new_object(), *versions = json_object_new_array();
	json_object_array_add(versions, json_object_new_string("1"));
	json_object_object_add(o, "name", json_object_new_string(name));
	json_object_object_add(o, "versions", versions);
	json_object_object_add(o, "platform", json_object_new_string(onnx ? "onnx" : "aios"));
	json_object_object_add(o, "inputs", tensors(onnx, "inputs", "input-0", m->n_inputs));
	json_object_object_add(o, "outputs", tensors(onnx, "outputs", "output-0", m->n_outputs));
	struct json_object *p = json_object_new_object();
	json_object_object_add(p, "sha256", json_object_new_string(m->sha256));
	json_object_object_add(p, "format", json_object_new_string(onnx ? "onnx" : "aios"));
	json_object_object_add(p, "quantize", json_object_new_string(quantize));
	json_object_object_add(p, "sparsity", json_object_new_double(sparsity));
	json_object_object_add(o, "parameters", p);
	char *s = aios_xstrdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
	return s;
}
