/*
 * operator_search_fuzz.c - spec.search (src/operator/search.c, search_plan.c) on arbitrary
 * bytes: a user writes it. Whatever comes, the parser either fails with a message or gives
 * a budget and parallelism in range; every sampled value of a range lies inside it; the
 * decisions of a search whose trials all succeed end within its budget; and the whole
 * TrainingJob state machine plans the job without crashing.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/json.h"
#include "operator/search.h"
#include "operator/trainingjob.h"

static void check_sample(const struct aios_search *s, size_t config)
{
	struct json_object *p = aios_search_sample(s, config);
	for (size_t i = 0; i < s->n_dims; i++) {
		struct json_object *v;
		if (!json_object_object_get_ex(p, s->dims[i].name, &v))
			abort();
		if (!s->dims[i].values) {
			double x = json_object_get_double(v);
			if (!(x >= s->dims[i].min - 0.5 && x <= s->dims[i].max + 0.5))
				abort(); /* integers round to the nearest, inside the range */
		}
	}
	struct json_object *spec = json_object_new_object();
	struct json_object *t = aios_search_apply(spec, p, 0, config);
	json_object_put(t);
	json_object_put(spec);
	json_object_put(p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct json_object *o = NULL;
	if (aios_json_parse((const char *)data, size, "fuzz", &o) != AIOS_OK)
		return 0;
	struct aios_search s;
	if (aios_search_parse(o, &s) != AIOS_OK) {
		if (!aios_errmsg()[0])
			abort();
	} else {
		if (s.trials < 1 || s.trials > AIOS_SEARCH_MAX_TRIALS || s.parallelism < 1)
			abort();
		for (size_t c = 0; c < s.trials && c < 32; c++)
			check_sample(&s, c);
		/* every trial succeeds at once: the search must end within its budget */
		struct aios_search_trial *t = calloc(AIOS_SEARCH_MAX_TRIALS + 1, sizeof(*t));
		size_t n = 0;
		for (;;) {
			struct aios_search_decision d;
			aios_search_decide(&s, t, n, &d);
			int done = d.done;
			if (!done && d.n_start == 0)
				abort(); /* nothing running, nothing to start, not done */
			for (size_t k = 0; k < d.n_start; k++) {
				if (d.start[k].trial != n || n >= AIOS_SEARCH_MAX_TRIALS)
					abort();
				t[n].phase = AIOS_TRIAL_SUCCEEDED;
				t[n].has_objective = 1;
				t[n].objective = (double)((n * 7919) % 101);
				n++;
			}
			for (size_t k = 0; k < d.n_stop; k++)
				t[d.stop[k]].phase = AIOS_TRIAL_STOPPED;
			aios_search_decision_cleanup(&d);
			if (done)
				break;
			if (n > s.trials)
				abort();
		}
		free(t);
		aios_search_cleanup(&s);
	}
	/* the state machine on a job with this search, no pods yet */
	struct json_object *job = json_object_new_object();
	aios_json_set(job, "metadata.name", json_object_new_string("fz"));
	aios_json_set(job, "metadata.namespace", json_object_new_string("ns"));
	aios_json_set(job, "metadata.uid", json_object_new_string("u"));
	aios_json_set(job, "spec.search", o);
	struct aios_tj_plan plan;
	if (aios_tj_plan(job, NULL, 0, 1800000000, NULL, &plan) == AIOS_OK)
		aios_tj_plan_cleanup(&plan);
	json_object_put(job);
	return 0;
}
