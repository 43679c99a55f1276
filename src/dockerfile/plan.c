/*
 * The build plan (BuildKit's instructions package + the pre-LLB half of
 * dockerfile2llb): typed instructions with validated flags, global and
 * stage ARG scoping, word expansion with the environment each instruction
 * sees, named and indexed stages, the stage graph with cycle detection,
 * and pruning to the target.  Pure; strings live in plan->arena.
 *
 * Phases, in BuildKit's order so the same Dockerfile fails the same way:
 *   1. every node becomes a typed instruction (flag and argument errors,
 *      for all stages, reachable or not);
 *   2. global ARGs, then every FROM expanded against them;
 *   3. COPY --from / RUN --mount from= resolved to stages, cycles refused,
 *      the target chosen and the stages it reaches kept;
 *   4. the kept stages dispatched in file order: ARG/ENV scoping and the
 *      expansion of every word BuildKit expands.
 */
#include "dockerfile/dockerfile.h"

#define DEFAULT_PATH \
	"/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

static const char *const proxy_args[] = {
	"HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "FTP_PROXY",
	"ftp_proxy",  "NO_PROXY",   "no_proxy",	   "ALL_PROXY",	  "all_proxy",
};

static const char *const kind_names[] = {
	[DOCKERFILE_ADD] = "ADD",
	[DOCKERFILE_ARG] = "ARG",
	[DOCKERFILE_CMD] = "CMD",
	[DOCKERFILE_COPY] = "COPY",
	[DOCKERFILE_ENTRYPOINT] = "ENTRYPOINT",
	[DOCKERFILE_ENV] = "ENV",
	[DOCKERFILE_EXPOSE] = "EXPOSE",
	[DOCKERFILE_HEALTHCHECK] = "HEALTHCHECK",
	[DOCKERFILE_LABEL] = "LABEL",
	[DOCKERFILE_MAINTAINER] = "MAINTAINER",
	[DOCKERFILE_ONBUILD] = "ONBUILD",
	[DOCKERFILE_RUN] = "RUN",
	[DOCKERFILE_SHELL] = "SHELL",
	[DOCKERFILE_STOPSIGNAL] = "STOPSIGNAL",
	[DOCKERFILE_USER] = "USER",
	[DOCKERFILE_VOLUME] = "VOLUME",
	[DOCKERFILE_WORKDIR] = "WORKDIR",
};

const char *dockerfile_instr_name(enum dockerfile_instr_kind kind)
{
	if ((size_t)kind >= ARRAY_SIZE(kind_names))
		return "?";
	return kind_names[kind];
}

/* ------------------------------------------------------------ helpers */

struct planner {
	const struct dockerfile *df;
	const struct dockerfile_plan_opts *opts;
	struct dockerfile_plan *plan;
	struct arena *a;
	struct dockerfile_shell_opts shell;
	struct dockerfile_env build_args; /* K=V given by the caller */
	struct strvec used; /* build-arg names declared */
	struct error **err;
};

/* Set "FILE:LINE: message" and return -1. */
PRINTF_LIKE(3, 4)
static int fail(struct planner *p, int line, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *msg = xstrvfmt(fmt, ap);
	va_end(ap);
	if (line > 0)
		error_set(p->err, KILN_EINVAL, "%s:%d: %s",
			  p->df->filename ? p->df->filename : "Dockerfile",
			  line, msg);
	else
		error_set(p->err, KILN_EINVAL, "%s", msg);
	free(msg);
	return -1;
}

/* Wrap an expansion error with the location. */
static int fail_err(struct planner *p, int line, struct error *e)
{
	fail(p, line, "%s", e ? e->msg : "expansion failed");
	error_free(e);
	return -1;
}

static const char *astr(struct planner *p, const char *s)
{
	return s ? arena_strdup(p->a, s) : NULL;
}

static struct dockerfile_strs strs_from(struct planner *p, const char **v,
					size_t n)
{
	struct dockerfile_strs s;
	const char **out = arena_alloc(p->a, st_mult(n + 1, sizeof(*out)));
	for (size_t i = 0; i < n; i++)
		out[i] = astr(p, v[i]);
	s.v = out;
	s.nr = n;
	return s;
}

static struct dockerfile_strs strs_from_strvec(struct planner *p,
					       const struct strvec *sv)
{
	return strs_from(p, sv->v, sv->nr);
}

static bool is_builtin_arg(const char *name)
{
	static const char *const platform[] = {
		"TARGETPLATFORM", "TARGETOS",	    "TARGETOSVERSION",
		"TARGETARCH",	  "TARGETVARIANT",  "BUILDPLATFORM",
		"BUILDOS",	  "BUILDOSVERSION", "BUILDARCH",
		"BUILDVARIANT",	  "TARGETSTAGE",
	};
	for (size_t i = 0; i < ARRAY_SIZE(platform); i++)
		if (!strcmp(name, platform[i]))
			return true;
	for (size_t i = 0; i < ARRAY_SIZE(proxy_args); i++)
		if (!strcmp(name, proxy_args[i]))
			return true;
	return false;
}

/* Remove `name` and append it at the end (llb's AddOrReplace). */
static void env_add_or_replace(struct dockerfile_env *env, const char *name,
			       const char *value)
{
	size_t nlen = strlen(name);
	for (size_t i = 0; i < env->vars.nr;) {
		const char *e = env->vars.v[i];
		const char *eq = strchr(e, '=');
		size_t elen = eq ? (size_t)(eq - e) : strlen(e);
		if (elen == nlen && !memcmp(e, name, nlen)) {
			free((char *)e);
			memmove(&env->vars.v[i], &env->vars.v[i + 1],
				(env->vars.nr - i) * sizeof(*env->vars.v));
			env->vars.nr--;
			continue;
		}
		i++;
	}
	dockerfile_env_push(env, name, value);
}

static bool env_has(const struct dockerfile_env *env, const char *name)
{
	return dockerfile_env_get(env, name) != NULL;
}

static void note_used(struct planner *p, const char *name)
{
	if (!env_has(&p->build_args, name))
		return;
	for (size_t i = 0; i < p->used.nr; i++)
		if (!strcmp(p->used.v[i], name))
			return;
	strvec_push(&p->used, name);
}

/* ------------------------------------------------------------ flags */

enum flag_type { FLAG_BOOL, FLAG_STRING, FLAG_STRINGS };

struct flag_def {
	const char *name;
	enum flag_type type;
};

struct flag_val {
	bool set;
	const char *value; /* BOOL: "true"/"false"; STRING: the value */
	struct strvec values; /* STRINGS */
};

/*
 * BuildKit's BFlags: `--name=value`, or a bare `--name` for booleans;
 * unknown, duplicate (except list flags) and value-less flags fail.
 */
static int parse_flags(struct planner *p, const struct dockerfile_node *n,
		       const struct flag_def *defs, size_t ndefs,
		       struct flag_val *vals)
{
	for (size_t i = 0; i < n->nflags; i++) {
		const char *arg = n->flags[i];
		if (!starts_with(arg, "--"))
			return fail(p, n->start_line,
				    "arg should start with -- : %s", arg);
		if (!strcmp(arg, "--"))
			return 0;
		const char *name = arg + 2;
		const char *eq = strchr(name, '=');
		size_t nlen = eq ? (size_t)(eq - name) : strlen(name);
		const char *value = eq ? eq + 1 : NULL;
		size_t k;
		for (k = 0; k < ndefs; k++)
			if (strlen(defs[k].name) == nlen &&
			    !strncmp(defs[k].name, name, nlen))
				break;
		if (k == ndefs) {
			cleanup_free char *nm = xstrndup(name, nlen);
			const char *best = NULL;
			size_t bestd = 3;
			for (size_t j = 0; j < ndefs; j++) {
				size_t d = levenshtein(nm, defs[j].name);
				if (d < bestd) {
					bestd = d;
					best = defs[j].name;
				}
			}
			if (best)
				return fail(p, n->start_line,
					    "unknown flag: --%s (did you mean "
					    "--%s?)",
					    nm, best);
			return fail(p, n->start_line, "unknown flag: --%s", nm);
		}
		const char *fname = defs[k].name;
		if (vals[k].set && defs[k].type != FLAG_STRINGS)
			return fail(p, n->start_line,
				    "duplicate flag specified: --%s", fname);
		vals[k].set = true;
		switch (defs[k].type) {
		case FLAG_BOOL:
			if (value && !*value)
				return fail(p, n->start_line,
					    "missing a value on flag: --%s",
					    fname);
			if (!value || !strcasecmp(value, "true"))
				vals[k].value = "true";
			else if (!strcasecmp(value, "false"))
				vals[k].value = "false";
			else
				return fail(p, n->start_line,
					    "expecting boolean value for flag "
					    "--%s, not: %s",
					    fname, value);
			break;
		case FLAG_STRING:
			if (!value)
				return fail(p, n->start_line,
					    "missing a value on flag: --%s",
					    fname);
			vals[k].value = value;
			break;
		case FLAG_STRINGS:
			if (!value)
				return fail(p, n->start_line,
					    "missing a value on flag: --%s",
					    fname);
			strvec_push(&vals[k].values, value);
			break;
		}
	}
	return 0;
}

static void flag_vals_release(struct flag_val *vals, size_t n)
{
	for (size_t i = 0; i < n; i++)
		strvec_clear(&vals[i].values);
}

static bool flag_true(const struct flag_val *v)
{
	return v->set && !strcmp(v->value, "true");
}

/* ------------------------------------------------------------ mounts */

/* encoding/csv's reading of one record: fields split on ',', a field
 * starting with '"' is quoted ("" is a literal quote). */
static int csv_fields(const char *s, struct strvec *out)
{
	struct strbuf f = STRBUF_INIT;
	const char *c = s;
	for (;;) {
		strbuf_reset(&f);
		if (*c == '"') {
			c++;
			for (;;) {
				if (!*c) {
					strbuf_release(&f);
					return -1;
				}
				if (*c == '"') {
					if (c[1] == '"') {
						strbuf_addch(&f, '"');
						c += 2;
						continue;
					}
					c++;
					break;
				}
				strbuf_addch(&f, *c++);
			}
			if (*c && *c != ',') {
				strbuf_release(&f);
				return -1;
			}
		} else {
			while (*c && *c != ',') {
				if (*c == '"') {
					strbuf_release(&f);
					return -1;
				}
				strbuf_addch(&f, *c++);
			}
		}
		strvec_push(out, f.buf);
		if (!*c)
			break;
		c++; /* ',' */
	}
	strbuf_release(&f);
	return 0;
}

/* strconv.ParseBool */
static int parse_bool(const char *s, bool *out)
{
	static const char *const t[] = { "1", "t", "T", "TRUE", "true", "True" };
	static const char *const f[] = { "0",	  "f",	   "F",
					 "FALSE", "false", "False" };
	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		if (!strcmp(s, t[i])) {
			*out = true;
			return 0;
		}
		if (!strcmp(s, f[i])) {
			*out = false;
			return 0;
		}
	}
	return -1;
}

static const char *mount_type_name(enum dockerfile_mount_type t)
{
	static const char *const names[] = { "bind", "cache", "tmpfs", "secret",
					     "ssh" };
	return names[t];
}

/* go-units RAMInBytes: "64m", "1g", "512k", "100" (bytes). */
static int parse_size(const char *s, unsigned long long *out)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (end == s || errno || v < 0)
		return -1;
	while (*end == ' ')
		end++;
	unsigned long long mul = 1;
	switch (*end) {
	case 0:
		break;
	case 'b':
	case 'B':
		break;
	case 'k':
	case 'K':
		mul = 1ULL << 10;
		break;
	case 'm':
	case 'M':
		mul = 1ULL << 20;
		break;
	case 'g':
	case 'G':
		mul = 1ULL << 30;
		break;
	case 't':
	case 'T':
		mul = 1ULL << 40;
		break;
	case 'p':
	case 'P':
		mul = 1ULL << 50;
		break;
	default:
		return -1;
	}
	if (*end) {
		end++;
		if (*end == 'i')
			end++;
		if (*end == 'b' || *end == 'B')
			end++;
		if (*end)
			return -1;
	}
	v *= (double)mul;
	if (v > 1.8e19)
		return -1;
	*out = (unsigned long long)v;
	return 0;
}

/*
 * BuildKit's parseMount.  With env == NULL only the syntax is checked
 * (the instruction pass); with env the values (except from=) are
 * expanded first (the dispatch pass).  Strings go to the arena.
 */
static int parse_mount(struct planner *p, int line, const char *val,
		       const struct dockerfile_env *env,
		       struct dockerfile_mount *m)
{
	cleanup_strvec struct strvec fields = STRVEC_INIT;
	if (csv_fields(val, &fields) < 0)
		return fail(p, line, "failed to parse csv mounts: %s", val);
	memset(m, 0, sizeof(*m));
	m->type = DOCKERFILE_MOUNT_BIND;
	m->uid = m->gid = -1;
	m->from_stage = -1;
	bool ro_auto = true, sharing_set = false;

	/* the type decides which keys are valid, so read it first */
	for (size_t i = 0; i < fields.nr; i++) {
		const char *f = fields.v[i];
		if (strncasecmp(f, "type=", 5))
			continue;
		const char *t = f + 5;
		static const char *const types[] = { "bind", "cache", "tmpfs",
						     "secret", "ssh" };
		size_t k;
		for (k = 0; k < ARRAY_SIZE(types); k++)
			if (!strcasecmp(t, types[k]))
				break;
		if (k == ARRAY_SIZE(types))
			return fail(p, line, "unsupported mount type \"%s\"",
				    t);
		m->type = (enum dockerfile_mount_type)k;
	}
	bool secret_or_ssh = m->type == DOCKERFILE_MOUNT_SECRET ||
			     m->type == DOCKERFILE_MOUNT_SSH;

	for (size_t i = 0; i < fields.nr; i++) {
		const char *f = fields.v[i];
		const char *eq = strchr(f, '=');
		cleanup_free char *key = eq ? xstrndup(f, (size_t)(eq - f))
					    : xstrdup(f);
		for (char *c = key; *c; c++)
			if (*c >= 'A' && *c <= 'Z')
				*c = (char)(*c - 'A' + 'a');
		if (!eq) {
			if (!strcmp(key, "readonly") || !strcmp(key, "ro")) {
				m->readonly = true;
				ro_auto = false;
				continue;
			}
			if (!strcmp(key, "readwrite") || !strcmp(key, "rw")) {
				m->readonly = false;
				ro_auto = false;
				continue;
			}
			if (!strcmp(key, "required")) {
				if (!secret_or_ssh)
					return fail(p, line,
						    "unexpected key '%s' for "
						    "mount type '%s'",
						    key,
						    mount_type_name(m->type));
				m->required = true;
				continue;
			}
			return fail(p, line,
				    "invalid field '%s' must be a key=value "
				    "pair",
				    f);
		}
		const char *raw = eq + 1;
		cleanup_free char *value = NULL;
		if (!strcmp(key, "from")) {
			const char *d = strchr(raw, '$');
			if (d && d[1])
				return fail(p, line,
					    "'from' doesn't support variable "
					    "expansion, define alias stage "
					    "instead");
			value = xstrdup(raw);
		} else if (env) {
			struct error *e = NULL;
			if (dockerfile_expand_word(raw, env, &p->shell, &value,
						   NULL, NULL, &e) < 0)
				return fail_err(p, line, e);
		} else {
			value = xstrdup(raw);
		}

		if (!strcmp(key, "type")) {
			continue; /* done above */
		} else if (!strcmp(key, "from")) {
			m->from = astr(p, value);
		} else if (!strcmp(key, "source") || !strcmp(key, "src")) {
			m->source = astr(p, value);
		} else if (!strcmp(key, "target") || !strcmp(key, "dst") ||
			   !strcmp(key, "destination")) {
			m->target = astr(p, value);
		} else if (!strcmp(key, "readonly") || !strcmp(key, "ro") ||
			   !strcmp(key, "readwrite") || !strcmp(key, "rw")) {
			bool b;
			if (parse_bool(value, &b) < 0)
				return fail(p, line, "invalid value for %s: %s",
					    key, value);
			m->readonly = key[1] == 'o' || !strcmp(key, "readonly")
					      ? b
					      : !b;
			ro_auto = false;
		} else if (!strcmp(key, "required")) {
			if (!secret_or_ssh)
				return fail(p, line,
					    "unexpected key '%s' for mount "
					    "type '%s'",
					    key, mount_type_name(m->type));
			if (parse_bool(value, &m->required) < 0)
				return fail(p, line, "invalid value for %s: %s",
					    key, value);
		} else if (!strcmp(key, "id")) {
			m->id = astr(p, value);
		} else if (!strcmp(key, "sharing")) {
			if (!strcasecmp(value, "shared"))
				m->sharing = DOCKERFILE_SHARING_SHARED;
			else if (!strcasecmp(value, "private"))
				m->sharing = DOCKERFILE_SHARING_PRIVATE;
			else if (!strcasecmp(value, "locked"))
				m->sharing = DOCKERFILE_SHARING_LOCKED;
			else
				return fail(p, line,
					    "unsupported sharing value \"%s\"",
					    value);
			sharing_set = true;
		} else if (!strcmp(key, "mode")) {
			char *end;
			errno = 0;
			unsigned long v = strtoul(value, &end, 8);
			if (!*value || *end || errno || v > 0xffffffffUL ||
			    *value == '-' || *value == '+')
				return fail(p, line,
					    "invalid value %s for mode", value);
			m->mode = (unsigned)v;
			m->has_mode = true;
		} else if (!strcmp(key, "uid") || !strcmp(key, "gid")) {
			unsigned long long v;
			if (parse_uint(value, 0xffffffffULL, &v) < 0)
				return fail(p, line, "invalid value %s for %s",
					    value, key);
			if (key[0] == 'u')
				m->uid = (long long)v;
			else
				m->gid = (long long)v;
		} else if (!strcmp(key, "env")) {
			m->env = astr(p, value);
		} else if (!strcmp(key, "size")) {
			if (m->type != DOCKERFILE_MOUNT_TMPFS)
				return fail(p, line,
					    "unexpected key '%s' for mount "
					    "type '%s'",
					    key, mount_type_name(m->type));
			if (parse_size(value, &m->size) < 0)
				return fail(p, line, "invalid value for %s: %s",
					    key, value);
		} else {
			return fail(p, line, "unexpected key '%s' in '%s'", key,
				    f);
		}
	}

	bool file_info = secret_or_ssh || m->type == DOCKERFILE_MOUNT_CACHE;
	if (!file_info) {
		if (m->has_mode)
			return fail(p, line,
				    "mode not allowed for \"%s\" type mounts",
				    mount_type_name(m->type));
		if (m->uid >= 0)
			return fail(p, line,
				    "uid not allowed for \"%s\" type mounts",
				    mount_type_name(m->type));
		if (m->gid >= 0)
			return fail(p, line,
				    "gid not allowed for \"%s\" type mounts",
				    mount_type_name(m->type));
	}
	if (ro_auto)
		m->readonly = !(m->type == DOCKERFILE_MOUNT_CACHE ||
				m->type == DOCKERFILE_MOUNT_TMPFS);
	if (sharing_set && m->type != DOCKERFILE_MOUNT_CACHE)
		return fail(p, line, "invalid cache sharing set for %s mount",
			    mount_type_name(m->type));
	if (secret_or_ssh) {
		if (m->from)
			return fail(p, line, "%s mount should not have a from",
				    mount_type_name(m->type));
		if (m->type == DOCKERFILE_MOUNT_SECRET && !m->source &&
		    !m->target && !m->id && !m->env)
			return fail(p, line,
				    "invalid secret mount: one of source, "
				    "target, id or env is required");
	} else {
		if (m->env)
			return fail(p, line,
				    "unexpected key 'env' for mount type '%s'",
				    mount_type_name(m->type));
		/* no target mounts on the working directory (BuildKit) */
		if (m->target && !strcmp(m->target, "/"))
			return fail(p, line, "invalid mount target \"/\"");
	}
	return 0;
}

/* ------------------------------------------------------------ durations */

int dockerfile_parse_duration(const char *s, long long *ns)
{
	static const struct {
		const char *unit;
		long long ns;
	} units[] = {
		{ "ns", 1 },
		{ "us", 1000 },
		{ "\xc2\xb5s", 1000 }, /* µs */
		{ "\xce\xbcs", 1000 }, /* μs */
		{ "ms", 1000000 },
		{ "s", 1000000000LL },
		{ "m", 60 * 1000000000LL },
		{ "h", 3600 * 1000000000LL },
	};
	bool neg = false;
	if (*s == '-' || *s == '+')
		neg = *s++ == '-';
	if (!strcmp(s, "0")) {
		*ns = 0;
		return 0;
	}
	if (!*s)
		return -1;
	long double total = 0;
	while (*s) {
		if (!((*s >= '0' && *s <= '9') || *s == '.'))
			return -1;
		long double v = 0, scale = 1;
		bool digits = false, frac = false;
		for (; (*s >= '0' && *s <= '9') || *s == '.'; s++) {
			if (*s == '.') {
				if (frac)
					return -1;
				frac = true;
				continue;
			}
			digits = true;
			if (frac) {
				scale /= 10;
				v += (*s - '0') * scale;
			} else {
				v = v * 10 + (*s - '0');
			}
		}
		if (!digits)
			return -1;
		size_t k, best = 0, bestlen = 0;
		for (k = 0; k < ARRAY_SIZE(units); k++) {
			size_t l = strlen(units[k].unit);
			if (!strncmp(s, units[k].unit, l) && l > bestlen) {
				best = k;
				bestlen = l;
			}
		}
		if (!bestlen)
			return -1;
		s += bestlen;
		total += v * (long double)units[best].ns;
		if (total > 9223372036854775807.0L)
			return -1;
	}
	*ns = (long long)(neg ? -total : total);
	return 0;
}

/* ------------------------------------------------------------ signals */

static bool valid_signal(const char *s)
{
	static const char *const names[] = {
		"ABRT", "ALRM", "BUS",	  "CHLD",  "CLD",  "CONT",   "FPE",
		"HUP",	"ILL",	"INT",	  "IO",	   "IOT",  "KILL",   "PIPE",
		"POLL", "PROF", "PWR",	  "QUIT",  "SEGV", "STKFLT", "STOP",
		"SYS",	"TERM", "TRAP",	  "TSTP",  "TTIN", "TTOU",   "URG",
		"USR1", "USR2", "VTALRM", "WINCH", "XCPU", "XFSZ",   "UNUSED",
	};
	unsigned long long n;
	if (parse_uint(s, 64, &n) == 0)
		return n > 0;
	const char *name = s;
	if (!strncasecmp(name, "SIG", 3))
		name += 3;
	for (size_t i = 0; i < ARRAY_SIZE(names); i++)
		if (!strcasecmp(name, names[i]))
			return true;
	if (!strncasecmp(name, "RTMIN", 5) || !strncasecmp(name, "RTMAX", 5)) {
		const char *r = name + 5;
		if (!*r)
			return true;
		if ((*r == '+' || *r == '-') && parse_uint(r + 1, 30, &n) == 0)
			return true;
	}
	return false;
}

/* ------------------------------------------------------------ stages */

struct stage_ref {
	int stage; /* index into all stages, or -1 for an image */
	const char *name;
	int line;
	bool is_copy;
};

struct raw_stage {
	struct dockerfile_stage st; /* filled progressively */
	const struct dockerfile_node **nodes;
	size_t nnodes, alloc;
	struct stage_ref *refs; /* COPY --from and --mount from=, in order */
	size_t nrefs, refs_alloc;
	bool reachable;
	int pos; /* position in plan->stages when kept */
	struct dockerfile_env final_env; /* after dispatch */
};

/* ------------------------------------------------------------ phase 1 */

static const struct flag_def from_flags[] = { { "platform", FLAG_STRING } };
static const struct flag_def run_flags[] = {
	{ "mount", FLAG_STRINGS },
	{ "network", FLAG_STRING },
	{ "security", FLAG_STRING },
	{ "device", FLAG_STRINGS },
};
static const struct flag_def copy_flags[] = {
	{ "from", FLAG_STRING },  { "chown", FLAG_STRING },
	{ "chmod", FLAG_STRING }, { "link", FLAG_BOOL },
	{ "parents", FLAG_BOOL }, { "exclude", FLAG_STRINGS },
};
static const struct flag_def add_flags[] = {
	{ "chown", FLAG_STRING },    { "chmod", FLAG_STRING },
	{ "link", FLAG_BOOL },	     { "keep-git-dir", FLAG_BOOL },
	{ "checksum", FLAG_STRING }, { "exclude", FLAG_STRINGS },
	{ "unpack", FLAG_BOOL },
};
static const struct flag_def health_flags[] = {
	{ "interval", FLAG_STRING },	 { "timeout", FLAG_STRING },
	{ "start-period", FLAG_STRING }, { "start-interval", FLAG_STRING },
	{ "retries", FLAG_STRING },
};

static int no_flags(struct planner *p, const struct dockerfile_node *n)
{
	struct flag_val v[1] = { 0 };
	return parse_flags(p, n, NULL, 0, v);
}

static int kind_of(const char *kw, enum dockerfile_instr_kind *kind)
{
	for (size_t i = 0; i < ARRAY_SIZE(kind_names); i++) {
		if (!strcasecmp(kw, kind_names[i])) {
			*kind = (enum dockerfile_instr_kind)i;
			return 0;
		}
	}
	return -1;
}

/* Does a COPY/ADD source word name a heredoc (`<<EOF`, `<<-EOF`, `3<<X`)? */
static bool is_heredoc_word(const char *w)
{
	while (*w >= '0' && *w <= '9')
		w++;
	if (!starts_with(w, "<<"))
		return false;
	w += 2;
	if (*w == '-')
		w++;
	while (*w == ' ' || *w == '\t')
		w++;
	return *w && !strchr(w, '<');
}

static char *chomp_heredoc(const char *s)
{
	struct strbuf sb = STRBUF_INIT;
	bool bol = true;
	for (; *s; s++) {
		if (bol && *s == '\t')
			continue;
		bol = *s == '\n';
		strbuf_addch(&sb, *s);
	}
	return strbuf_detach(&sb, NULL);
}

static struct dockerfile_cmdline cmdline_from(struct planner *p,
					      const struct dockerfile_node *n)
{
	struct dockerfile_cmdline c;
	c.json = n->json;
	c.args = strs_from(p, n->args, n->nargs);
	return c;
}

static int require_args(struct planner *p, const struct dockerfile_node *n,
			const char *name, size_t min, bool exactly_one)
{
	if (exactly_one && n->nargs != 1)
		return fail(p, n->start_line,
			    "%s requires exactly one argument", name);
	if (n->nargs < min)
		return fail(p, n->start_line, "%s requires at least %s", name,
			    min == 1 ? "one argument" : "two arguments");
	return 0;
}

static int parse_kvs(struct planner *p, const struct dockerfile_node *n,
		     const char *name, struct dockerfile_instr *in)
{
	if (!n->nargs)
		return fail(p, n->start_line,
			    "%s requires at least one "
			    "argument",
			    name);
	if (n->nargs % 3)
		return fail(p, n->start_line,
			    "Bad input to %s, too many arguments", name);
	in->u.kv.npairs = n->nargs / 3;
	in->u.kv.pairs = arena_alloc(p->a, st_mult(in->u.kv.npairs,
						   sizeof(*in->u.kv.pairs)));
	for (size_t i = 0; i < n->nargs; i += 3) {
		if (!*n->args[i])
			return fail(p, n->start_line,
				    "%s names can not be blank", name);
		in->u.kv.pairs[i / 3].key = n->args[i];
		in->u.kv.pairs[i / 3].value = n->args[i + 1];
	}
	return 0;
}

static int parse_copy(struct planner *p, const struct dockerfile_node *n,
		      bool add, struct dockerfile_instr *in)
{
	const struct flag_def *defs = add ? add_flags : copy_flags;
	size_t ndefs = add ? ARRAY_SIZE(add_flags) : ARRAY_SIZE(copy_flags);
	struct flag_val v[8];
	memset(v, 0, sizeof(v));
	int ret = parse_flags(p, n, defs, ndefs, v);
	const char *name = add ? "ADD" : "COPY";
	struct dockerfile_copy *c = &in->u.copy;
	c->from_stage = -1;
	c->unpack = -1;
	if (!ret && n->nargs < 2)
		ret = fail(p, n->start_line,
			   "%s requires at least two arguments, but only one "
			   "was provided. Destination could not be determined",
			   name);
	if (!ret && is_heredoc_word(n->args[n->nargs - 1]))
		ret = fail(p, n->start_line,
			   "%s cannot accept a heredoc as a destination", name);
	if (ret) {
		flag_vals_release(v, ndefs);
		return -1;
	}
	for (size_t k = 0; k < ndefs; k++) {
		const char *f = defs[k].name;
		if (!v[k].set)
			continue;
		if (!strcmp(f, "from"))
			c->from = astr(p, v[k].value);
		else if (!strcmp(f, "chown"))
			c->chown = astr(p, v[k].value);
		else if (!strcmp(f, "chmod"))
			c->chmod = astr(p, v[k].value);
		else if (!strcmp(f, "link"))
			c->link = flag_true(&v[k]);
		else if (!strcmp(f, "parents"))
			c->parents = flag_true(&v[k]);
		else if (!strcmp(f, "exclude"))
			c->excludes = strs_from_strvec(p, &v[k].values);
		else if (!strcmp(f, "checksum"))
			c->checksum = astr(p, v[k].value);
		else if (!strcmp(f, "keep-git-dir"))
			c->keep_git_dir = flag_true(&v[k]);
		else if (!strcmp(f, "unpack"))
			c->unpack = flag_true(&v[k]);
	}
	flag_vals_release(v, ndefs);
	if (!c->excludes.v)
		c->excludes = strs_from(p, NULL, 0);

	/* sources: paths, or heredocs taken in order */
	struct strvec paths = STRVEC_INIT;
	size_t hd = 0;
	c->inline_sources = arena_alloc(
		p->a, st_mult(n->nheredocs + 1, sizeof(*c->inline_sources)));
	for (size_t i = 0; i + 1 < n->nargs; i++) {
		if (is_heredoc_word(n->args[i]) && hd < n->nheredocs) {
			const struct dockerfile_heredoc *h = &n->heredocs[hd++];
			c->inline_sources[c->ninline].path = h->name;
			c->inline_sources[c->ninline].data = h->content;
			c->ninline++;
		} else {
			strvec_push(&paths, n->args[i]);
		}
	}
	c->sources = strs_from_strvec(p, &paths);
	strvec_clear(&paths);
	c->dest = n->args[n->nargs - 1];
	if (c->from) {
		if (strchr(c->from, '$'))
			return fail(p, n->start_line,
				    "variable expansion is not supported for "
				    "--from, define a new stage with FROM "
				    "using ARG from global scope as a "
				    "workaround");
	}
	return 0;
}

static int parse_duration_flag(struct planner *p, int line, const char *flag,
			       const struct flag_val *v, long long *out)
{
	*out = 0;
	if (!v->set || !*v->value)
		return 0;
	long long d;
	if (dockerfile_parse_duration(v->value, &d) < 0)
		return fail(p, line, "time: invalid duration \"%s\"", v->value);
	if (d == 0)
		return 0;
	if (d < 1000000)
		return fail(p, line, "Interval \"%s\" cannot be less than 1ms",
			    flag);
	*out = d;
	return 0;
}

static int parse_healthcheck(struct planner *p, const struct dockerfile_node *n,
			     struct dockerfile_instr *in)
{
	struct dockerfile_healthcheck *h = &in->u.health;
	int line = n->start_line;
	if (!n->nargs)
		return fail(p, line,
			    "HEALTHCHECK requires at least one argument");
	cleanup_free char *typ = xstrdup(n->args[0]);
	for (char *c = typ; *c; c++)
		if (*c >= 'a' && *c <= 'z')
			*c = (char)(*c - 'a' + 'A');
	if (!strcmp(typ, "NONE")) {
		if (n->nargs != 1)
			return fail(p, line,
				    "HEALTHCHECK NONE takes no arguments");
		h->type = DOCKERFILE_HEALTH_NONE;
		const char *t[] = { "NONE" };
		h->test = strs_from(p, t, 1);
		return 0;
	}
	struct flag_val v[ARRAY_SIZE(health_flags)];
	memset(v, 0, sizeof(v));
	int ret = parse_flags(p, n, health_flags, ARRAY_SIZE(health_flags), v);
	if (!ret && strcmp(typ, "CMD"))
		ret = fail(p, line,
			   "Unknown type \"%s\" in HEALTHCHECK (try CMD)", typ);
	if (!ret && n->nargs < 2)
		ret = fail(p, line, "Missing command after HEALTHCHECK CMD");
	if (!ret)
		ret = parse_duration_flag(p, line, "interval", &v[0],
					  &h->interval);
	if (!ret)
		ret = parse_duration_flag(p, line, "timeout", &v[1],
					  &h->timeout);
	if (!ret)
		ret = parse_duration_flag(p, line, "start-period", &v[2],
					  &h->start_period);
	if (!ret)
		ret = parse_duration_flag(p, line, "start-interval", &v[3],
					  &h->start_interval);
	if (!ret && v[4].set) {
		char *end;
		errno = 0;
		long r = strtol(v[4].value, &end, 10);
		if (!*v[4].value || *end || errno || r > INT32_MAX ||
		    r < INT32_MIN)
			ret = fail(p, line,
				   "strconv.ParseInt: parsing \"%s\": invalid "
				   "syntax",
				   v[4].value);
		else if (r < 0)
			ret = fail(p, line,
				   "--retries cannot be negative (%ld)", r);
		else
			h->retries = (int)r;
	}
	flag_vals_release(v, ARRAY_SIZE(health_flags));
	if (ret)
		return -1;
	h->type = DOCKERFILE_HEALTH_CMD;
	struct strvec t = STRVEC_INIT;
	strvec_push(&t, n->json ? "CMD" : "CMD-SHELL");
	for (size_t i = 1; i < n->nargs; i++)
		strvec_push(&t, n->args[i]);
	h->test = strs_from_strvec(p, &t);
	strvec_clear(&t);
	return 0;
}

/* The ONBUILD trigger text: the original line without the keyword. */
static const char *onbuild_text(struct planner *p,
				const struct dockerfile_node *n)
{
	const char *s = n->original ? n->original : "";
	while (*s == ' ' || *s == '\t')
		s++;
	if (!strncasecmp(s, "onbuild", 7))
		s += 7;
	while (*s == ' ' || *s == '\t')
		s++;
	struct strbuf sb = STRBUF_INIT;
	strbuf_addstr(&sb, s);
	strbuf_rtrim(&sb);
	const char *r = astr(p, sb.buf);
	strbuf_release(&sb);
	return r;
}

/* Phase 1 for one node of a stage: everything but expansion. */
static int parse_instr(struct planner *p, const struct dockerfile_node *n,
		       struct dockerfile_instr *in)
{
	memset(in, 0, sizeof(*in));
	in->node = n;
	in->line = n->start_line;
	if (kind_of(n->keyword, &in->kind) < 0)
		return fail(p, n->start_line, "unknown instruction: %s",
			    n->keyword);
	const char *name = kind_names[in->kind];
	int line = n->start_line;

	switch (in->kind) {
	case DOCKERFILE_RUN: {
		struct flag_val v[ARRAY_SIZE(run_flags)];
		memset(v, 0, sizeof(v));
		struct dockerfile_run *r = &in->u.run;
		int ret =
			parse_flags(p, n, run_flags, ARRAY_SIZE(run_flags), v);
		if (!ret && v[1].set) {
			if (!strcmp(v[1].value, "default"))
				r->network = DOCKERFILE_NETWORK_DEFAULT;
			else if (!strcmp(v[1].value, "none"))
				r->network = DOCKERFILE_NETWORK_NONE;
			else if (!strcmp(v[1].value, "host"))
				r->network = DOCKERFILE_NETWORK_HOST;
			else
				ret = fail(p, line,
					   "unsupported network mode \"%s\"",
					   v[1].value);
		}
		if (!ret && v[2].set) {
			if (!strcmp(v[2].value, "sandbox"))
				r->security = DOCKERFILE_SECURITY_SANDBOX;
			else if (!strcmp(v[2].value, "insecure"))
				r->security = DOCKERFILE_SECURITY_INSECURE;
			else
				ret = fail(p, line,
					   "unsupported security mode \"%s\"",
					   v[2].value);
		}
		if (!ret) {
			r->nmounts = v[0].values.nr;
			r->mounts =
				arena_alloc(p->a, st_mult(r->nmounts + 1,
							  sizeof(*r->mounts)));
			/* keep the raw values; dispatch expands them */
			for (size_t i = 0; !ret && i < r->nmounts; i++) {
				ret = parse_mount(p, line, v[0].values.v[i],
						  NULL, &r->mounts[i]);
				r->mounts[i].id = astr(p, v[0].values.v[i]);
			}
			r->devices = strs_from_strvec(p, &v[3].values);
		}
		flag_vals_release(v, ARRAY_SIZE(run_flags));
		if (ret)
			return -1;
		r->cmd = cmdline_from(p, n);
		r->heredocs = n->heredocs;
		r->nheredocs = n->nheredocs;
		return 0;
	}
	case DOCKERFILE_COPY:
	case DOCKERFILE_ADD:
		return parse_copy(p, n, in->kind == DOCKERFILE_ADD, in);
	case DOCKERFILE_HEALTHCHECK:
		return parse_healthcheck(p, n, in);
	default:
		break;
	}

	if (no_flags(p, n) < 0)
		return -1;
	switch (in->kind) {
	case DOCKERFILE_CMD:
	case DOCKERFILE_ENTRYPOINT:
		in->u.cmdline = cmdline_from(p, n);
		return 0;
	case DOCKERFILE_SHELL:
		if (!n->nargs)
			return fail(p, line,
				    "SHELL requires at least one argument");
		if (!n->json)
			return fail(p, line,
				    "SHELL requires the arguments to "
				    "be in JSON form");
		in->u.shell = strs_from(p, n->args, n->nargs);
		return 0;
	case DOCKERFILE_ENV:
	case DOCKERFILE_LABEL:
		return parse_kvs(p, n, name, in);
	case DOCKERFILE_ARG: {
		if (!n->nargs)
			return fail(p, line,
				    "ARG requires at least one argument");
		in->u.arg.nargs = n->nargs;
		in->u.arg.args = arena_alloc(
			p->a, st_mult(n->nargs, sizeof(*in->u.arg.args)));
		for (size_t i = 0; i < n->nargs; i++) {
			const char *w = n->args[i];
			const char *eq = strchr(w, '=');
			struct dockerfile_arg *a = &in->u.arg.args[i];
			a->name = eq ? arena_strndup(p->a, w, (size_t)(eq - w))
				     : w;
			a->def = eq ? eq + 1 : NULL;
			if (!*a->name)
				return fail(p, line,
					    "ARG names can not be blank");
		}
		return 0;
	}
	case DOCKERFILE_EXPOSE:
		if (require_args(p, n, name, 1, false) < 0)
			return -1;
		in->u.ports = strs_from(p, n->args, n->nargs);
		return 0;
	case DOCKERFILE_VOLUME:
		if (require_args(p, n, name, 1, false) < 0)
			return -1;
		for (size_t i = 0; i < n->nargs; i++) {
			const char *s = n->args[i];
			while (*s == ' ' || *s == '\t' || *s == '\n')
				s++;
			if (!*s)
				return fail(p, line,
					    "VOLUME specified can not "
					    "be an empty string");
		}
		in->u.volumes = strs_from(p, n->args, n->nargs);
		return 0;
	case DOCKERFILE_USER:
	case DOCKERFILE_WORKDIR:
	case DOCKERFILE_STOPSIGNAL:
	case DOCKERFILE_MAINTAINER:
		if (require_args(p, n, name, 1, true) < 0)
			return -1;
		in->u.str = n->args[0];
		return 0;
	case DOCKERFILE_ONBUILD:
		if (!n->child)
			return fail(p, line,
				    "ONBUILD requires at least one argument");
		if (!strcasecmp(n->child->keyword, "onbuild"))
			return fail(p, line,
				    "Chaining ONBUILD via `ONBUILD "
				    "ONBUILD` isn't allowed");
		if (!strcasecmp(n->child->keyword, "from") ||
		    !strcasecmp(n->child->keyword, "maintainer"))
			return fail(p, line,
				    "%s isn't allowed as an ONBUILD trigger",
				    n->child->keyword);
		in->u.str = onbuild_text(p, n);
		return 0;
	default:
		BUG("unhandled instruction %s", name);
	}
}

/* ------------------------------------------------------------ platform */

struct platform {
	char os[32], arch[32], variant[32];
};

static void normalize_platform(struct platform *pl)
{
	static const struct {
		const char *from, *arch, *variant;
	} aliases[] = {
		{ "x86_64", "amd64", "" },  { "x86-64", "amd64", "" },
		{ "aarch64", "arm64", "" }, { "armhf", "arm", "v7" },
		{ "armel", "arm", "v6" },   { "i386", "386", "" },
		{ "i686", "386", "" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(aliases); i++) {
		if (!strcmp(pl->arch, aliases[i].from)) {
			snprintf(pl->arch, sizeof(pl->arch), "%s",
				 aliases[i].arch);
			if (!*pl->variant)
				snprintf(pl->variant, sizeof(pl->variant), "%s",
					 aliases[i].variant);
		}
	}
	if (!strcmp(pl->arch, "arm64") && !strcmp(pl->variant, "v8"))
		pl->variant[0] = '\0';
	if (!strcmp(pl->arch, "arm") && !*pl->variant)
		snprintf(pl->variant, sizeof(pl->variant), "v7");
	if (!strcmp(pl->arch, "arm") && !strcmp(pl->variant, "8"))
		snprintf(pl->variant, sizeof(pl->variant), "v8");
}

static int parse_platform(const char *s, struct platform *pl)
{
	memset(pl, 0, sizeof(*pl));
	char parts[3][32] = { "", "", "" };
	size_t n = 0;
	const char *c = s;
	while (n < 3) {
		const char *sl = strchr(c, '/');
		size_t len = sl ? (size_t)(sl - c) : strlen(c);
		if (!len || len >= sizeof(parts[0]))
			return -1;
		for (size_t i = 0; i < len; i++)
			parts[n][i] = (char)(c[i] >= 'A' && c[i] <= 'Z'
						     ? c[i] - 'A' + 'a'
						     : c[i]);
		n++;
		if (!sl)
			break;
		c = sl + 1;
		if (n == 3)
			return -1;
	}
	static const char *const oses[] = { "linux", "windows", "darwin",
					    "freebsd" };
	if (n == 1) {
		bool is_os = false;
		for (size_t i = 0; i < ARRAY_SIZE(oses); i++)
			is_os |= !strcmp(parts[0], oses[i]);
		snprintf(pl->os, sizeof(pl->os), "%s",
			 is_os ? parts[0] : "linux");
		snprintf(pl->arch, sizeof(pl->arch), "%s",
			 is_os ? "amd64" : parts[0]);
	} else {
		snprintf(pl->os, sizeof(pl->os), "%s", parts[0]);
		snprintf(pl->arch, sizeof(pl->arch), "%s", parts[1]);
		snprintf(pl->variant, sizeof(pl->variant), "%s", parts[2]);
	}
	normalize_platform(pl);
	return 0;
}

static void platform_args(struct dockerfile_env *env, const char *prefix,
			  const struct platform *pl)
{
	char k[32];
	snprintf(k, sizeof(k), "%sPLATFORM", prefix);
	if (*pl->variant)
		strvec_pushf(&env->vars, "%s=%s/%s/%s", k, pl->os, pl->arch,
			     pl->variant);
	else
		strvec_pushf(&env->vars, "%s=%s/%s", k, pl->os, pl->arch);
	strvec_pushf(&env->vars, "%sOS=%s", prefix, pl->os);
	strvec_pushf(&env->vars, "%sOSVERSION=", prefix);
	strvec_pushf(&env->vars, "%sARCH=%s", prefix, pl->arch);
	strvec_pushf(&env->vars, "%sVARIANT=%s", prefix, pl->variant);
}

/* ------------------------------------------------------------ dispatch */

static int expand(struct planner *p, int line, const char *word,
		  const struct dockerfile_env *env, const char **out)
{
	char *r = NULL;
	struct error *e = NULL;
	if (dockerfile_expand_word(word, env, &p->shell, &r, NULL, NULL, &e) <
	    0)
		return fail_err(p, line, e);
	*out = astr(p, r);
	free(r);
	return 0;
}

static int valid_chmod(const char *s)
{
	unsigned long long v;
	bool octal = *s != '\0';
	for (const char *c = s; *c; c++)
		if (*c < '0' || *c > '7')
			octal = false;
	if (octal) {
		v = strtoull(s, NULL, 8);
		return v <= 07777 ? 0 : -1;
	}
	/* symbolic: [ugoa]*[-+=][rwxXst]* , ... */
	const char *c = s;
	for (;;) {
		while (*c && strchr("ugoa", *c))
			c++;
		if (!*c || !strchr("-+=", *c))
			return -1;
		while (*c && strchr("-+=", *c)) {
			c++;
			while (*c && strchr("rwxXst", *c))
				c++;
		}
		if (!*c)
			return 0;
		if (*c != ',')
			return -1;
		c++;
	}
}

/* EXPOSE: "[ip:][hostport:]port[-end][/proto]" -> "port/proto" each. */
static int expose_ports(struct planner *p, int line, const char *spec,
			struct strvec *out)
{
	const char *colon = strrchr(spec, ':');
	const char *port = colon ? colon + 1 : spec;
	const char *slash = strchr(port, '/');
	cleanup_free char *num = slash ? xstrndup(port, (size_t)(slash - port))
				       : xstrdup(port);
	cleanup_free char *proto = xstrdup(slash ? slash + 1 : "tcp");
	for (char *c = proto; *c; c++)
		if (*c >= 'A' && *c <= 'Z')
			*c = (char)(*c - 'A' + 'a');
	if (strcmp(proto, "tcp") && strcmp(proto, "udp") &&
	    strcmp(proto, "sctp"))
		return fail(p, line, "invalid proto: %s", proto);
	unsigned long long lo, hi;
	char *dash = strchr(num, '-');
	if (dash)
		*dash = '\0';
	if (parse_uint(num, 65535, &lo) < 0 ||
	    (dash && parse_uint(dash + 1, 65535, &hi) < 0))
		return fail(p, line, "invalid containerPort: %s", port);
	if (!dash)
		hi = lo;
	if (hi < lo)
		return fail(p, line,
			    "invalid range specified for container "
			    "port: %s",
			    port);
	for (unsigned long long i = lo; i <= hi; i++) {
		char *s = xstrfmt("%llu/%s", i, proto);
		bool dup = false;
		for (size_t k = 0; k < out->nr; k++)
			dup |= !strcmp(out->v[k], s);
		if (dup)
			free(s);
		else
			strvec_push_nodup(out, s);
	}
	return 0;
}

struct all_stages {
	struct raw_stage *v;
	size_t nr, alloc;
};

/* The global scope: ARGs before the first FROM, with the platform args. */
struct global_scope {
	struct dockerfile_env env; /* what FROM lines see (valued only) */
	/* every global ARG in order, value NULL when unset: stages import
	 * from it with `ARG NAME` */
	struct strvec names;
	struct strvec values; /* "" placeholders when unset, see has */
	struct strvec has; /* "1" / "0" */
};

static const char *global_lookup(const struct global_scope *g, const char *name)
{
	const char *v = NULL;
	for (size_t i = 0; i < g->names.nr; i++)
		if (!strcmp(g->names.v[i], name))
			v = g->has.v[i][0] == '1' ? g->values.v[i] : NULL;
	return v;
}

static int dispatch_arg(struct planner *p, struct dockerfile_instr *in,
			const struct global_scope *g,
			struct dockerfile_env *env)
{
	for (size_t i = 0; i < in->u.arg.nargs; i++) {
		struct dockerfile_arg *a = &in->u.arg.args[i];
		const char *given = dockerfile_env_get(&p->build_args, a->name);
		note_used(p, a->name);
		if (given) {
			a->value = astr(p, given);
		} else if (a->def) {
			if (expand(p, in->line, a->def, env, &a->value) < 0)
				return -1;
		} else {
			a->value = global_lookup(g, a->name);
			if (a->value)
				a->value = astr(p, a->value);
		}
		if (a->value)
			env_add_or_replace(env, a->name, a->value);
	}
	return 0;
}

static int dispatch_copy(struct planner *p, struct dockerfile_instr *in,
			 const struct dockerfile_env *env)
{
	struct dockerfile_copy *c = &in->u.copy;
	int line = in->line;
	const char **src = (const char **)c->sources.v;
	for (size_t i = 0; i < c->sources.nr; i++)
		if (expand(p, line, src[i], env, &src[i]) < 0)
			return -1;
	if (expand(p, line, c->dest, env, &c->dest) < 0)
		return -1;
	if (c->chown && expand(p, line, c->chown, env, &c->chown) < 0)
		return -1;
	if (c->chmod) {
		if (expand(p, line, c->chmod, env, &c->chmod) < 0)
			return -1;
		if (valid_chmod(c->chmod) < 0)
			return fail(p, line,
				    "invalid chmod parameter: '%s'. it should "
				    "be octal string and between 0 and 07777",
				    c->chmod);
	}
	if (c->checksum && expand(p, line, c->checksum, env, &c->checksum) < 0)
		return -1;
	for (size_t i = 0; i < c->ninline; i++) {
		const struct dockerfile_heredoc *h = NULL;
		for (size_t k = 0; k < in->node->nheredocs; k++)
			if (in->node->heredocs[k].content ==
			    c->inline_sources[i].data)
				h = &in->node->heredocs[k];
		if (!h)
			continue;
		cleanup_free char *data = h->chomp ? chomp_heredoc(h->content)
						   : xstrdup(h->content);
		if (h->expand) {
			struct dockerfile_shell_opts hs = {
				.escape = '\\',
				.skip_process_quotes = true,
			};
			char *r = NULL;
			struct error *e = NULL;
			if (dockerfile_expand_word(data, env, &hs, &r, NULL,
						   NULL, &e) < 0)
				return fail_err(p, line, e);
			free(data);
			data = r;
		}
		c->inline_sources[i].data = astr(p, data);
	}
	return 0;
}

static int dispatch_instr(struct planner *p, struct dockerfile_instr *in,
			  const struct global_scope *g,
			  struct dockerfile_env *env)
{
	int line = in->line;
	switch (in->kind) {
	case DOCKERFILE_ARG:
		return dispatch_arg(p, in, g, env);
	case DOCKERFILE_ENV:
	case DOCKERFILE_LABEL: {
		/* one instruction sees the values from before it */
		for (size_t i = 0; i < in->u.kv.npairs; i++) {
			struct dockerfile_kv *kv = &in->u.kv.pairs[i];
			if (expand(p, line, kv->key, env, &kv->key) < 0 ||
			    expand(p, line, kv->value, env, &kv->value) < 0)
				return -1;
		}
		if (in->kind == DOCKERFILE_ENV)
			for (size_t i = 0; i < in->u.kv.npairs; i++)
				env_add_or_replace(env, in->u.kv.pairs[i].key,
						   in->u.kv.pairs[i].value);
		return 0;
	}
	case DOCKERFILE_COPY:
	case DOCKERFILE_ADD:
		return dispatch_copy(p, in, env);
	case DOCKERFILE_USER:
	case DOCKERFILE_WORKDIR:
		return expand(p, line, in->u.str, env, &in->u.str);
	case DOCKERFILE_STOPSIGNAL:
		if (expand(p, line, in->u.str, env, &in->u.str) < 0)
			return -1;
		if (!valid_signal(in->u.str))
			return fail(p, line, "invalid signal: %s", in->u.str);
		return 0;
	case DOCKERFILE_VOLUME: {
		const char **v = (const char **)in->u.volumes.v;
		for (size_t i = 0; i < in->u.volumes.nr; i++)
			if (expand(p, line, v[i], env, &v[i]) < 0)
				return -1;
		return 0;
	}
	case DOCKERFILE_EXPOSE: {
		struct strvec ports = STRVEC_INIT;
		for (size_t i = 0; i < in->u.ports.nr; i++) {
			const char *w;
			if (expand(p, line, in->u.ports.v[i], env, &w) < 0) {
				strvec_clear(&ports);
				return -1;
			}
			/* the expanded word is split again on whitespace */
			cleanup_free char *copy = xstrdup(w);
			char *save = NULL;
			for (char *t = strtok_r(copy, " \t\n\r\v\f", &save); t;
			     t = strtok_r(NULL, " \t\n\r\v\f", &save)) {
				if (expose_ports(p, line, t, &ports) < 0) {
					strvec_clear(&ports);
					return -1;
				}
			}
		}
		in->u.ports = strs_from_strvec(p, &ports);
		strvec_clear(&ports);
		return 0;
	}
	case DOCKERFILE_RUN: {
		struct dockerfile_run *r = &in->u.run;
		for (size_t i = 0; i < r->nmounts; i++) {
			int st = r->mounts[i].from_stage;
			const char *raw = r->mounts[i].id; /* stashed */
			if (parse_mount(p, line, raw, env, &r->mounts[i]) < 0)
				return -1;
			r->mounts[i].from_stage = st;
		}
		r->env = strs_from_strvec(p, &env->vars);
		return 0;
	}
	default:
		/* CMD ENTRYPOINT SHELL HEALTHCHECK MAINTAINER ONBUILD: not
		 * expanded by the frontend */
		return 0;
	}
}

/* ------------------------------------------------------------ main */

static int stage_by_name(const struct all_stages *all, const char *name,
			 size_t limit)
{
	int found = -1;
	for (size_t i = 0; i < limit && i < all->nr; i++)
		if (all->v[i].st.name && !strcasecmp(all->v[i].st.name, name))
			found = (int)i;
	return found;
}

/* strconv.Atoi */
static bool go_atoi(const char *s, long long *out)
{
	const char *c = s;
	if (*c == '+' || *c == '-')
		c++;
	if (!*c)
		return false;
	for (const char *d = c; *d; d++)
		if (*d < '0' || *d > '9')
			return false;
	errno = 0;
	char *end;
	long long v = strtoll(s, &end, 10);
	if (errno)
		return false;
	*out = v;
	return true;
}

static bool valid_stage_name(const char *s)
{
	if (!(*s >= 'a' && *s <= 'z'))
		return false;
	for (s++; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
		      *s == '-' || *s == '_' || *s == '.'))
			return false;
	return true;
}

static void stage_add_ref(struct raw_stage *rs, int stage, const char *name,
			  int line, bool is_copy)
{
	ALLOC_GROW(rs->refs, rs->nrefs + 1, rs->refs_alloc);
	rs->refs[rs->nrefs++] =
		(struct stage_ref){ stage, name, line, is_copy };
}

static bool has_cycle_from(const struct all_stages *all, size_t i,
			   char *state /* 0 new, 1 on path, 2 done */)
{
	if (state[i] == 2)
		return false;
	state[i] = 1;
	const struct raw_stage *rs = &all->v[i];
	for (size_t k = 0; k < rs->nrefs; k++) {
		int d = rs->refs[k].stage;
		if (d < 0)
			continue;
		if (state[d] == 1)
			return true;
		if (state[d] == 0 && has_cycle_from(all, (size_t)d, state))
			return true;
	}
	state[i] = 2;
	return false;
}

static void mark_reachable(struct all_stages *all, size_t i)
{
	struct raw_stage *rs = &all->v[i];
	if (rs->reachable)
		return;
	rs->reachable = true;
	if (rs->st.base_stage >= 0)
		mark_reachable(all, (size_t)rs->st.base_stage);
	for (size_t k = 0; k < rs->nrefs; k++)
		if (rs->refs[k].stage >= 0)
			mark_reachable(all, (size_t)rs->refs[k].stage);
}

static void all_stages_release(struct all_stages *all)
{
	for (size_t i = 0; i < all->nr; i++) {
		free(all->v[i].nodes);
		free(all->v[i].refs);
		dockerfile_env_release(&all->v[i].final_env);
	}
	free(all->v);
}

static void global_scope_release(struct global_scope *g)
{
	dockerfile_env_release(&g->env);
	strvec_clear(&g->names);
	strvec_clear(&g->values);
	strvec_clear(&g->has);
}

static void global_add(struct global_scope *g, const char *name,
		       const char *value)
{
	strvec_push(&g->names, name);
	strvec_push(&g->values, value ? value : "");
	strvec_push(&g->has, value ? "1" : "0");
	if (value)
		env_add_or_replace(&g->env, name, value);
}

/* Phase 2a: the global ARGs. */
static int resolve_globals(struct planner *p,
			   const struct dockerfile_node **nodes, size_t n,
			   struct global_scope *g)
{
	for (size_t i = 0; i < n; i++) {
		struct dockerfile_instr in;
		if (parse_instr(p, nodes[i], &in) < 0)
			return -1;
		for (size_t k = 0; k < in.u.arg.nargs; k++) {
			struct dockerfile_arg *a = &in.u.arg.args[k];
			const char *given =
				dockerfile_env_get(&p->build_args, a->name);
			const char *value = NULL;
			note_used(p, a->name);
			if (given) {
				value = given;
			} else if (a->def) {
				if (expand(p, in.line, a->def, &g->env,
					   &value) < 0)
					return -1;
			}
			global_add(g, a->name, value);
		}
	}
	return 0;
}

static int base_env_for(struct planner *p, struct raw_stage *rs,
			struct all_stages *all, struct dockerfile_env *env)
{
	if (rs->st.base_stage >= 0) {
		dockerfile_env_copy(env, &all->v[rs->st.base_stage].final_env);
		return 0;
	}
	if (!rs->st.scratch && p->opts && p->opts->base_env) {
		struct error *e = NULL;
		if (p->opts->base_env(p->opts->base_env_data, rs->st.base,
				      rs->st.platform, env, &e) < 0) {
			fail(p, rs->st.node->start_line, "%s",
			     e ? e->msg : "cannot resolve base image");
			error_free(e);
			return -1;
		}
	}
	if (!env_has(env, "PATH"))
		dockerfile_env_push(env, "PATH", DEFAULT_PATH);
	return 0;
}

static struct dockerfile_plan *plan_build(struct planner *p,
					  const struct dockerfile_env *plat)
{
	const struct dockerfile *df = p->df;
	const struct dockerfile_plan_opts *opts = p->opts;
	struct dockerfile_plan *plan = p->plan;
	struct all_stages all = { 0 };
	struct global_scope g = { .env = DOCKERFILE_ENV_INIT,
				  .names = STRVEC_INIT,
				  .values = STRVEC_INIT,
				  .has = STRVEC_INIT };
	const struct dockerfile_node **globals =
		xcalloc(df->nnodes + 1, sizeof(*globals));
	size_t nglobals = 0;
	bool ok = false;

	/* the platform args open the global scope; build args override */
	for (size_t i = 0; i < plat->vars.nr; i++) {
		const char *e = plat->vars.v[i];
		cleanup_free char *name =
			xstrndup(e, (size_t)(strchr(e, '=') - e));
		const char *given = dockerfile_env_get(&p->build_args, name);
		global_add(&g, name, given ? given : strchr(e, '=') + 1);
	}

	/* split the nodes into the global scope and the stages */
	for (size_t i = 0; i < df->nnodes; i++) {
		const struct dockerfile_node *n = &df->nodes[i];
		if (!strcasecmp(n->keyword, "from")) {
			ALLOC_GROW(all.v, all.nr + 1, all.alloc);
			memset(&all.v[all.nr], 0, sizeof(all.v[0]));
			all.v[all.nr].st.node = n;
			all.v[all.nr].st.index = all.nr;
			all.v[all.nr].st.base_stage = -1;
			dockerfile_env_init(&all.v[all.nr].final_env);
			all.nr++;
			continue;
		}
		if (!all.nr) {
			if (strcasecmp(n->keyword, "arg")) {
				fail(p, n->start_line,
				     "no build stage in current context");
				goto out;
			}
			globals[nglobals++] = n;
			continue;
		}
		struct raw_stage *rs = &all.v[all.nr - 1];
		ALLOC_GROW(rs->nodes, rs->nnodes + 1, rs->alloc);
		rs->nodes[rs->nnodes++] = n;
	}
	if (!all.nr) {
		fail(p, 0, "%s: dockerfile contains no stages to build",
		     df->filename ? df->filename : "Dockerfile");
		goto out;
	}

	/* phase 1: FROM syntax and every instruction of every stage */
	for (size_t i = 0; i < all.nr; i++) {
		struct raw_stage *rs = &all.v[i];
		const struct dockerfile_node *n = rs->st.node;
		struct flag_val fv[1] = { 0 };
		if (parse_flags(p, n, from_flags, 1, fv) < 0)
			goto out;
		rs->st.platform = fv[0].set ? astr(p, fv[0].value) : NULL;
		if (n->nargs == 3 && !strcasecmp(n->args[1], "as")) {
			char *lower = arena_strdup(p->a, n->args[2]);
			for (char *c = lower; *c; c++)
				if (*c >= 'A' && *c <= 'Z')
					*c = (char)(*c - 'A' + 'a');
			if (!valid_stage_name(lower)) {
				fail(p, n->start_line,
				     "invalid name for build stage: \"%s\", "
				     "name can't start with a number or "
				     "contain symbols",
				     n->args[2]);
				goto out;
			}
			rs->st.name = lower;
		} else if (n->nargs != 1) {
			fail(p, n->start_line,
			     "FROM requires either one or three arguments");
			goto out;
		}
		rs->st.base = n->args[0];
		rs->st.instrs = arena_alloc(
			p->a, st_mult(rs->nnodes + 1, sizeof(*rs->st.instrs)));
		for (size_t k = 0; k < rs->nnodes; k++) {
			if (!strcasecmp(rs->nodes[k]->keyword, "from"))
				BUG("FROM inside a stage");
			if (parse_instr(p, rs->nodes[k], &rs->st.instrs[k]) < 0)
				goto out;
		}
		rs->st.ninstrs = rs->nnodes;
	}

	/* phase 2: global ARGs, then FROM lines against them */
	if (resolve_globals(p, globals, nglobals, &g) < 0)
		goto out;
	for (size_t i = 0; i < all.nr; i++) {
		struct raw_stage *rs = &all.v[i];
		int line = rs->st.node->start_line;
		if (expand(p, line, rs->st.base, &g.env, &rs->st.base) < 0)
			goto out;
		if (!*rs->st.base) {
			fail(p, line, "base name (%s) should not be blank",
			     rs->st.node->args[0]);
			goto out;
		}
		if (rs->st.platform && expand(p, line, rs->st.platform, &g.env,
					      &rs->st.platform) < 0)
			goto out;
		rs->st.scratch = !strcmp(rs->st.base, "scratch");
		/* FROM names an earlier stage (BuildKit's addState order) */
		int b = stage_by_name(&all, rs->st.base, i);
		if (b >= 0) {
			rs->st.base_stage = b;
			rs->st.scratch = false;
		}
		if (rs->st.name) {
			int dup = stage_by_name(&all, rs->st.name, i);
			if (dup >= 0) {
				fail(p, line,
				     "duplicate stage name \"%s\", first "
				     "defined on line %d",
				     rs->st.name,
				     all.v[dup].st.node->start_line);
				goto out;
			}
			rs->st.display = rs->st.name;
		} else {
			rs->st.display = arena_strdup(p->a, "");
			char buf[32];
			snprintf(buf, sizeof(buf), "stage-%zu", i);
			rs->st.display = astr(p, buf);
		}
	}

	/* phase 3: stage references, cycles, target, reachability */
	for (size_t i = 0; i < all.nr; i++) {
		struct raw_stage *rs = &all.v[i];
		for (size_t k = 0; k < rs->st.ninstrs; k++) {
			struct dockerfile_instr *in = &rs->st.instrs[k];
			if (in->kind == DOCKERFILE_COPY && in->u.copy.from) {
				const char *f = in->u.copy.from;
				long long idx;
				int s;
				if (go_atoi(f, &idx)) {
					if (idx < 0 ||
					    idx >= (long long)all.nr) {
						fail(p, in->line,
						     "invalid stage index %lld",
						     idx);
						goto out;
					}
					s = (int)idx;
				} else {
					s = stage_by_name(&all, f, all.nr);
				}
				in->u.copy.from_stage = s;
				stage_add_ref(rs, s, f, in->line, true);
			}
			if (in->kind == DOCKERFILE_RUN) {
				for (size_t m = 0; m < in->u.run.nmounts; m++) {
					struct dockerfile_mount *mt =
						&in->u.run.mounts[m];
					if (!mt->from)
						continue;
					int s = stage_by_name(&all, mt->from,
							      all.nr);
					mt->from_stage = s;
					stage_add_ref(rs, s, mt->from, in->line,
						      false);
				}
			}
		}
	}
	{
		char *state = xcalloc(all.nr, 1);
		for (size_t i = 0; i < all.nr; i++) {
			if (has_cycle_from(&all, i, state)) {
				free(state);
				fail(p, 0,
				     "circular dependency detected on stage: "
				     "%s",
				     all.v[i].st.display);
				goto out;
			}
		}
		free(state);
	}
	size_t target = all.nr - 1;
	if (opts && opts->target && *opts->target) {
		int t = stage_by_name(&all, opts->target, all.nr);
		if (t < 0) {
			const char *best = NULL;
			size_t bestd = 3;
			for (size_t i = 0; i < all.nr; i++) {
				if (!all.v[i].st.name)
					continue;
				size_t d = levenshtein(opts->target,
						       all.v[i].st.name);
				if (d < bestd) {
					bestd = d;
					best = all.v[i].st.name;
				}
			}
			if (best)
				fail(p, 0,
				     "target stage \"%s\" could not be found "
				     "(did you mean %s?)",
				     opts->target, best);
			else
				fail(p, 0,
				     "target stage \"%s\" could not be found",
				     opts->target);
			goto out;
		}
		target = (size_t)t;
	}
	mark_reachable(&all, target);

	/* TARGETSTAGE joins the global scope (not seen by FROM lines) */
	{
		const char *ts = all.v[target].st.name ? all.v[target].st.name
						       : "default";
		const char *given = dockerfile_env_get(&p->build_args, "TARGETS"
								       "TAGE");
		global_add(&g, "TARGETSTAGE", given ? given : ts);
	}

	/* phase 4: dispatch the kept stages in file order */
	size_t nkept = 0;
	for (size_t i = 0; i < all.nr; i++) {
		struct raw_stage *rs = &all.v[i];
		if (!rs->reachable) {
			rs->pos = -1;
			continue;
		}
		rs->pos = (int)nkept++;
		for (size_t k = 0; k < rs->nrefs; k++) {
			const struct stage_ref *r = &rs->refs[k];
			if (r->stage >= 0 && (size_t)r->stage > i) {
				if (r->is_copy)
					fail(p, r->line,
					     "cannot copy from stage \"%s\", "
					     "it needs to be defined before "
					     "current stage \"%s\"",
					     r->name, rs->st.display);
				else
					fail(p, r->line,
					     "cannot mount from stage \"%s\", "
					     "it needs to be defined before "
					     "current stage \"%s\"",
					     r->name, rs->st.display);
				goto out;
			}
		}
		struct dockerfile_env env = DOCKERFILE_ENV_INIT;
		if (base_env_for(p, rs, &all, &env) < 0) {
			dockerfile_env_release(&env);
			goto out;
		}
		for (size_t k = 0; k < rs->st.ninstrs; k++) {
			if (dispatch_instr(p, &rs->st.instrs[k], &g, &env) <
			    0) {
				dockerfile_env_release(&env);
				goto out;
			}
		}
		rs->final_env = env;
	}

	/* the kept stages, references as positions */
	plan->nstages = nkept;
	plan->stages =
		arena_alloc(p->a, st_mult(nkept + 1, sizeof(*plan->stages)));
	for (size_t i = 0; i < all.nr; i++) {
		struct raw_stage *rs = &all.v[i];
		if (rs->pos < 0)
			continue;
		struct dockerfile_stage *st = &plan->stages[rs->pos];
		*st = rs->st;
		if (st->base_stage >= 0)
			st->base_stage = all.v[st->base_stage].pos;
		st->deps = arena_alloc(p->a, st_mult(rs->nrefs + 2,
						     sizeof(*st->deps)));
		if (st->base_stage >= 0)
			st->deps[st->ndeps++] = (size_t)st->base_stage;
		for (size_t k = 0; k < rs->nrefs; k++) {
			if (rs->refs[k].stage < 0)
				continue;
			size_t d = (size_t)all.v[rs->refs[k].stage].pos;
			bool dup = false;
			for (size_t j = 0; j < st->ndeps; j++)
				dup |= st->deps[j] == d;
			if (!dup)
				st->deps[st->ndeps++] = d;
		}
		for (size_t k = 0; k < st->ninstrs; k++) {
			struct dockerfile_instr *in = &st->instrs[k];
			if ((in->kind == DOCKERFILE_COPY) &&
			    in->u.copy.from_stage >= 0)
				in->u.copy.from_stage =
					all.v[in->u.copy.from_stage].pos;
			if (in->kind == DOCKERFILE_RUN)
				for (size_t m = 0; m < in->u.run.nmounts; m++)
					if (in->u.run.mounts[m].from_stage >= 0)
						in->u.run.mounts[m].from_stage =
							all.v[in->u.run
								      .mounts[m]
								      .from_stage]
								.pos;
		}
	}
	plan->target = (size_t)all.v[target].pos;

	/* global args, proxies, used / unused build args */
	plan->global_args = strs_from_strvec(p, &g.env.vars);
	{
		struct strvec proxy = STRVEC_INIT, unused = STRVEC_INIT;
		for (size_t i = 0; i < ARRAY_SIZE(proxy_args); i++) {
			const char *v = dockerfile_env_get(&p->build_args,
							   proxy_args[i]);
			if (v)
				strvec_pushf(&proxy, "%s=%s", proxy_args[i], v);
		}
		for (size_t i = 0; i < p->build_args.vars.nr; i++) {
			const char *e = p->build_args.vars.v[i];
			cleanup_free char *name =
				xstrndup(e, (size_t)(strchr(e, '=') - e));
			bool used = is_builtin_arg(name);
			for (size_t k = 0; k < p->used.nr; k++)
				used |= !strcmp(p->used.v[k], name);
			for (size_t k = 0; k < unused.nr; k++)
				used |= !strcmp(unused.v[k], name);
			if (!used)
				strvec_push(&unused, name);
		}
		plan->proxy_env = strs_from_strvec(p, &proxy);
		plan->unused_build_args = strs_from_strvec(p, &unused);
		plan->used_build_args = strs_from_strvec(p, &p->used);
		strvec_clear(&proxy);
		strvec_clear(&unused);
	}
	ok = true;
out:
	free(globals);
	all_stages_release(&all);
	global_scope_release(&g);
	return ok ? plan : NULL;
}

struct dockerfile_plan *
dockerfile_plan_new(const struct dockerfile *df,
		    const struct dockerfile_plan_opts *opts, struct error **err)
{
	struct dockerfile_plan *plan = xcalloc(1, sizeof(*plan));
	struct planner p = {
		.df = df,
		.opts = opts,
		.plan = plan,
		.a = &plan->arena,
		.shell = { .escape = df->escape == '`' ? '`' : '\\' },
		.build_args = DOCKERFILE_ENV_INIT,
		.used = STRVEC_INIT,
		.err = err,
	};

	struct platform build, tgt;
	const char *bp = opts && opts->build_platform ? opts->build_platform
						      : "linux/amd64";
	if (parse_platform(bp, &build) < 0) {
		error_set(err, KILN_EINVAL, "invalid platform \"%s\"", bp);
		free(plan);
		return NULL;
	}
	const char *tp = opts && opts->platform ? opts->platform : bp;
	if (parse_platform(tp, &tgt) < 0) {
		error_set(err, KILN_EINVAL, "invalid platform \"%s\"", tp);
		free(plan);
		return NULL;
	}
	for (size_t i = 0; opts && i < opts->nbuild_args; i++)
		if (strchr(opts->build_args[i], '='))
			dockerfile_env_push_entry(&p.build_args,
						  opts->build_args[i]);

	struct dockerfile_env plat = DOCKERFILE_ENV_INIT;
	platform_args(&plat, "BUILD", &build);
	platform_args(&plat, "TARGET", &tgt);
	struct dockerfile_plan *r = plan_build(&p, &plat);
	dockerfile_env_release(&plat);
	dockerfile_env_release(&p.build_args);
	strvec_clear(&p.used);
	if (!r) {
		arena_release(&plan->arena);
		free(plan);
	}
	return r;
}

void dockerfile_plan_free(struct dockerfile_plan *plan)
{
	if (!plan)
		return;
	arena_release(&plan->arena);
	free(plan);
}
