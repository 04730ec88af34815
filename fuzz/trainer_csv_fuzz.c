/*
 * trainer_csv_fuzz.c - the trainer's CSV dataset parser on arbitrary bytes. The first
 * byte picks the options (header mode, label column, label rule) so they are fuzzed
 * too; the rest is the file. An accepted dataset must be internally consistent.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "trainer/data.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	uint8_t k = data[0];
	struct trainer_data_opts o = {TRAINER_FMT_CSV, (k & 3) == 3 ? -1 : (k & 1), NULL,
	                              (k >> 2 & 7) - 4, NULL};
	struct trainer_label_rule r = {(enum trainer_label_kind)(k >> 5 & 3), 3, 1};
	struct trainer_dataset d;
	if (trainer_parse_csv((const char *)data + 1, size - 1, "fuzz.csv", &o, &r, &d) != AIOS_OK)
		return 0;
	if (d.rows < 1 || d.cols < 1 || d.tcols != 1)
		abort();
	for (int64_t i = 0; i < d.rows * d.cols; i++)
		if (!isfinite(d.x[i]))
			abort();
	for (int64_t i = 0; i < d.rows; i++)
		if (!isfinite(d.t[i]))
			abort();
	trainer_dataset_cleanup(&d);
	return 0;
}
