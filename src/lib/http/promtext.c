/*
 * promtext.c - Prometheus text exposition format, read (see promtext.h).
 */
#include "http/promtext.h"

#include <stdlib.h>
#include <string.h>

/* Parses {k="v",...} from just after '{' up to and past the closing '}'; 0 on success. */
static int parse_labels(const char **pp, const char *end, struct aios_promtext_sample *s)
{
	const char *p = *pp;
	for (;;) {
		while (p < end && (*p == ' ' || *p == ','))
			p++;
		if (p < end && *p == '}') {
			*pp = p + 1;
			return 0;
		}
		const char *k = p;
		while (p < end && *p != '=' && *p != '}')
			p++;
		if (p + 1 >= end || *p != '=' || p[1] != '"')
			return -1;
		struct aios_promtext_label scratch, *l = s->n_labels < AIOS_PROMTEXT_MAX_LABELS
		                                             ? &s->labels[s->n_labels]
		                                             : &scratch;
		l->key = k;
		l->key_len = (size_t)(p - k);
		p += 2;
		size_t n = 0;
		while (p < end && *p != '"') {
			char ch = *p++;
			if (ch == '\\' && p < end) {
				ch = *p++;
				if (ch == 'n')
					ch = '\n';
			}
			if (n + 1 < sizeof(l->value))
				l->value[n++] = ch;
		}
		if (p >= end)
			return -1;
		p++; /* the closing quote */
		l->value[n] = '\0';
		if (l != &scratch)
			s->n_labels++;
	}
}

/* The wanted name the line starts with (name_len bytes), or NULL. */
static const char *wanted(const char *name, size_t len, const char *const *names)
{
	for (size_t i = 0; names[i]; i++)
		if (strlen(names[i]) == len && memcmp(name, names[i], len) == 0)
			return names[i];
	return NULL;
}

/* One line, without its newline. */
static enum aios_err parse_line(const char *p, const char *end, int lineno,
                                const char *const *names, aios_promtext_fn fn, void *arg)
{
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	if (p == end || *p == '#')
		return AIOS_OK;
	const char *name = p;
	while (p < end && *p != '{' && *p != ' ')
		p++;
	size_t nlen = (size_t)(p - name);
	struct aios_promtext_sample s;
	s.name = wanted(name, nlen, names);
	if (!s.name)
		return AIOS_OK;
	s.lineno = lineno;
	s.n_labels = 0;
	if (p < end && *p == '{') {
		p++;
		if (parse_labels(&p, end, &s))
			return aios_fail(AIOS_ERR_INVALID,
			                 "metrics line %d: malformed labels of %s", lineno, s.name);
	}
	while (p < end && *p == ' ')
		p++;
	size_t vlen = 0;
	while (p + vlen < end && p[vlen] != ' ')
		vlen++;
	if (vlen == 0 || vlen >= sizeof(s.text))
		return aios_fail(AIOS_ERR_INVALID, "metrics line %d: %s has no value", lineno,
		                 s.name);
	memcpy(s.text, p, vlen);
	s.text[vlen] = '\0';
	char *e;
	s.value = strtod(s.text, &e);
	if (*e)
		return aios_fail(AIOS_ERR_INVALID, "metrics line %d: %s: bad value \"%s\"", lineno,
		                 s.name, s.text);
	return fn(&s, arg);
}

enum aios_err aios_promtext_parse(const char *text, size_t len, const char *const *names,
                                  aios_promtext_fn fn, void *arg)
{
	const char *p = text, *end = text + len;
	for (int lineno = 1; p < end; lineno++) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *eol = nl ? nl : end;
		if (eol > p && eol[-1] == '\r')
			eol--;
		enum aios_err e = parse_line(p, eol, lineno, names, fn, arg);
		if (e)
			return e;
		p = nl ? nl + 1 : end;
	}
	return AIOS_OK;
}

const char *aios_promtext_label(const struct aios_promtext_sample *s, const char *key)
{
	size_t kl = strlen(key);
	for (size_t i = 0; i < s->n_labels; i++)
		if (s->labels[i].key_len == kl && memcmp(s->labels[i].key, key, kl) == 0)
			return s->labels[i].value;
	return NULL;
}
