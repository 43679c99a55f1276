/*
 * build metadata: the instructions that only change the image config
 * (ENV LABEL USER EXPOSE VOLUME CMD ENTRYPOINT SHELL STOPSIGNAL
 * HEALTHCHECK ONBUILD MAINTAINER ARG) and the history text BuildKit
 * (dockerd 20.10) writes for every instruction, Go formatting included.
 */
#include "build/build-internal.h"

/* Go's strconv.Quote for the ASCII we meet; other bytes go through. */
static void go_quote(struct strbuf *sb, const char *s)
{
	strbuf_addch(sb, '"');
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		switch (*p) {
		case '"':
			strbuf_addstr(sb, "\\\"");
			break;
		case '\\':
			strbuf_addstr(sb, "\\\\");
			break;
		case '\n':
			strbuf_addstr(sb, "\\n");
			break;
		case '\t':
			strbuf_addstr(sb, "\\t");
			break;
		case '\r':
			strbuf_addstr(sb, "\\r");
			break;
		case '\a':
			strbuf_addstr(sb, "\\a");
			break;
		case '\b':
			strbuf_addstr(sb, "\\b");
			break;
		case '\f':
			strbuf_addstr(sb, "\\f");
			break;
		case '\v':
			strbuf_addstr(sb, "\\v");
			break;
		default:
			if (*p < 0x20 || *p == 0x7f)
				strbuf_addf(sb, "\\x%02x", *p);
			else
				strbuf_addch(sb, *p);
		}
	}
	strbuf_addch(sb, '"');
}

/* Go's %q of a []string: ["a" "b"] */
static void go_quote_list(struct strbuf *sb, const char *const *v, size_t n)
{
	strbuf_addch(sb, '[');
	for (size_t i = 0; i < n; i++) {
		if (i)
			strbuf_addch(sb, ' ');
		go_quote(sb, v[i]);
	}
	strbuf_addch(sb, ']');
}

/* Go's %v of a []string: [a b] */
static void go_list(struct strbuf *sb, const char *const *v, size_t n)
{
	strbuf_addch(sb, '[');
	for (size_t i = 0; i < n; i++) {
		if (i)
			strbuf_addch(sb, ' ');
		strbuf_addstr(sb, v[i]);
	}
	strbuf_addch(sb, ']');
}

/* Go's time.Duration.String(). */
static void go_duration(struct strbuf *sb, long long ns)
{
	if (ns == 0) {
		strbuf_addstr(sb, "0s");
		return;
	}
	if (ns < 0) {
		strbuf_addch(sb, '-');
		ns = -ns;
	}
	if (ns < 1000000000LL) {
		const char *unit;
		long long div;
		if (ns < 1000) {
			strbuf_addf(sb, "%lldns", ns);
			return;
		} else if (ns < 1000000) {
			unit = "µs";
			div = 1000;
		} else {
			unit = "ms";
			div = 1000000;
		}
		strbuf_addf(sb, "%lld", ns / div);
		long long frac = ns % div;
		if (frac) {
			char buf[16];
			int w = div == 1000 ? 3 : 6;
			snprintf(buf, sizeof(buf), "%0*lld", w, frac);
			for (int i = w - 1; i >= 0 && buf[i] == '0'; i--)
				buf[i] = 0;
			strbuf_addf(sb, ".%s", buf);
		}
		strbuf_addstr(sb, unit);
		return;
	}
	long long secs = ns / 1000000000LL, frac = ns % 1000000000LL;
	long long h = secs / 3600, m = (secs / 60) % 60, s = secs % 60;
	if (h)
		strbuf_addf(sb, "%lldh", h);
	if (h || m)
		strbuf_addf(sb, "%lldm", m);
	strbuf_addf(sb, "%lld", s);
	if (frac) {
		char buf[16];
		snprintf(buf, sizeof(buf), "%09lld", frac);
		for (int i = 8; i >= 0 && buf[i] == '0'; i--)
			buf[i] = 0;
		strbuf_addf(sb, ".%s", buf);
	}
	strbuf_addch(sb, 's');
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The shell a shell-form command runs with. */
static void shell_argv(const struct build_state *st, struct strvec *out)
{
	const struct oci_strlist *sh = &st->config->config.shell;
	if (sh->state == OCI_PRESENT && sh->nr) {
		for (size_t i = 0; i < sh->nr; i++)
			strvec_push(out, sh->v[i]);
	} else {
		strvec_push(out, "/bin/sh");
		strvec_push(out, "-c");
	}
}

void build_cmdline_argv(const struct build_state *st,
			const struct dockerfile_cmdline *cl, struct strvec *out)
{
	if (cl->json) {
		for (size_t i = 0; i < cl->args.nr; i++)
			strvec_push(out, cl->args.v[i]);
		return;
	}
	shell_argv(st, out);
	struct strbuf s = STRBUF_INIT;
	for (size_t i = 0; i < cl->args.nr; i++) {
		if (i)
			strbuf_addch(&s, ' ');
		strbuf_addstr(&s, cl->args.v[i]);
	}
	strvec_push_nodup(out, strbuf_detach(&s, NULL));
}

/* "|2 A=1 B=2 " for RUN history and keys: the stage's ARGs. */
static void run_args_prefix(struct build_stage *bs,
			    const struct dockerfile_instr *in,
			    struct strbuf *sb)
{
	if (!bs->args.nr)
		return;
	strbuf_addf(sb, "|%zu", bs->args.nr);
	for (size_t i = 0; i < bs->args.nr; i++) {
		const char *kv = bs->args.v[i];
		const char *eq = strchr(kv, '=');
		cleanup_free char *name = xstrndup(kv, eq - kv);
		/* an ENV of the same name wins, as in BuildKit */
		const char *val = eq + 1;
		size_t nl = strlen(name);
		for (size_t j = 0; j < in->u.run.env.nr; j++) {
			const char *e = in->u.run.env.v[j];
			if (!strncmp(e, name, nl) && e[nl] == '=')
				val = e + nl + 1;
		}
		strbuf_addf(sb, " %s=%s", name, val);
	}
	strbuf_addch(sb, ' ');
}

char *build_created_by(struct build_stage *bs, const struct build_state *st,
		       const struct dockerfile_instr *in)
{
	struct strbuf sb = STRBUF_INIT;
	const char *name = dockerfile_instr_name(in->kind);
	switch (in->kind) {
	case DOCKERFILE_RUN: {
		strbuf_addstr(&sb, "RUN ");
		run_args_prefix(bs, in, &sb);
		struct strvec argv = STRVEC_INIT;
		build_cmdline_argv(st, &in->u.run.cmd, &argv);
		for (size_t i = 0; i < argv.nr; i++) {
			if (i)
				strbuf_addch(&sb, ' ');
			strbuf_addstr(&sb, argv.v[i]);
		}
		strvec_clear(&argv);
		strbuf_addstr(&sb, " # buildkit");
		break;
	}
	case DOCKERFILE_COPY:
	case DOCKERFILE_ADD: {
		const struct dockerfile_copy *c = &in->u.copy;
		strbuf_addstr(&sb, name);
		for (size_t i = 0; i < c->sources.nr; i++)
			strbuf_addf(&sb, " %s", c->sources.v[i]);
		for (size_t i = 0; i < c->ninline; i++)
			strbuf_addf(&sb, " <<%s", c->inline_sources[i].path);
		strbuf_addf(&sb, " %s # buildkit", c->dest);
		break;
	}
	case DOCKERFILE_ENV:
	case DOCKERFILE_LABEL:
		strbuf_addstr(&sb, name);
		for (size_t i = 0; i < in->u.kv.npairs; i++)
			strbuf_addf(&sb, " %s=%s", in->u.kv.pairs[i].key,
				    in->u.kv.pairs[i].value);
		break;
	case DOCKERFILE_ARG:
		strbuf_addstr(&sb, "ARG");
		for (size_t i = 0; i < in->u.arg.nargs; i++) {
			strbuf_addf(&sb, " %s", in->u.arg.args[i].name);
			if (in->u.arg.args[i].def)
				strbuf_addf(&sb, "=%s", in->u.arg.args[i].def);
		}
		break;
	case DOCKERFILE_CMD:
	case DOCKERFILE_ENTRYPOINT: {
		struct strvec argv = STRVEC_INIT;
		build_cmdline_argv(st, &in->u.cmdline, &argv);
		strbuf_addf(&sb, "%s ", name);
		go_quote_list(&sb, argv.v, argv.nr);
		strvec_clear(&argv);
		break;
	}
	case DOCKERFILE_EXPOSE: {
		size_t n = in->u.ports.nr;
		const char **v = xcalloc(n + 1, sizeof(*v));
		memcpy(v, in->u.ports.v, n * sizeof(*v));
		qsort(v, n, sizeof(*v), cmp_str);
		strbuf_addstr(&sb, "EXPOSE map[");
		for (size_t i = 0; i < n; i++) {
			if (i && !strcmp(v[i], v[i - 1]))
				continue;
			strbuf_addf(&sb, "%s%s:{}", i ? " " : "", v[i]);
		}
		strbuf_addch(&sb, ']');
		free(v);
		break;
	}
	case DOCKERFILE_VOLUME:
		strbuf_addstr(&sb, "VOLUME ");
		go_list(&sb, in->u.volumes.v, in->u.volumes.nr);
		break;
	case DOCKERFILE_SHELL:
		strbuf_addstr(&sb, "SHELL ");
		go_list(&sb, in->u.shell.v, in->u.shell.nr);
		break;
	case DOCKERFILE_HEALTHCHECK: {
		const struct dockerfile_healthcheck *h = &in->u.health;
		strbuf_addstr(&sb, "HEALTHCHECK &{");
		go_quote_list(&sb, h->test.v, h->test.nr);
		strbuf_addstr(&sb, " \"");
		go_duration(&sb, h->interval);
		strbuf_addstr(&sb, "\" \"");
		go_duration(&sb, h->timeout);
		strbuf_addstr(&sb, "\" \"");
		go_duration(&sb, h->start_period);
		strbuf_addf(&sb, "\" '\\x%02x'}", h->retries & 0xff);
		break;
	}
	case DOCKERFILE_WORKDIR:
		strbuf_addf(&sb, "WORKDIR %s", st->config->config.working_dir);
		break;
	default:
		strbuf_addf(&sb, "%s %s", name, in->u.str ? in->u.str : "");
		break;
	}
	return strbuf_detach(&sb, NULL);
}

void build_history_add(struct build *b, struct build_state *st,
		       const char *created_by, bool layer, const char *created)
{
	oci_image_config_add_history(
		st->config, b->have_epoch ? b->source_date_epoch : created,
		created_by, NULL, "buildkit.dockerfile.v0", !layer);
	if (layer && created) {
		free(st->last_created);
		st->last_created = xstrdup(created);
	}
}

static void cmdline_set(const struct build_state *st, struct oci_strlist *l,
			const struct dockerfile_cmdline *cl)
{
	struct strvec argv = STRVEC_INIT;
	build_cmdline_argv(st, cl, &argv);
	oci_strlist_set(l, argv.v, argv.nr);
	strvec_clear(&argv);
}

int build_meta_apply(struct build_stage *bs, struct build_state *st,
		     const struct dockerfile_instr *in, struct error **err)
{
	struct oci_run_config *rc = &st->config->config;
	st->config->has_config = true;
	switch (in->kind) {
	case DOCKERFILE_ENV:
		for (size_t i = 0; i < in->u.kv.npairs; i++) {
			const char *k = in->u.kv.pairs[i].key;
			const char *v = in->u.kv.pairs[i].value;
			size_t kl = strlen(k);
			bool found = false;
			for (size_t j = 0; j < rc->env.nr; j++) {
				if (!strncmp(rc->env.v[j], k, kl) &&
				    rc->env.v[j][kl] == '=') {
					free(rc->env.v[j]);
					rc->env.v[j] = xstrfmt("%s=%s", k, v);
					found = true;
					break;
				}
			}
			if (!found) {
				cleanup_free char *e = xstrfmt("%s=%s", k, v);
				oci_strlist_push(&rc->env, e);
			}
		}
		break;
	case DOCKERFILE_LABEL:
		for (size_t i = 0; i < in->u.kv.npairs; i++)
			oci_map_set(&rc->labels, in->u.kv.pairs[i].key,
				    in->u.kv.pairs[i].value);
		break;
	case DOCKERFILE_USER:
		free(rc->user);
		rc->user = xstrdup(in->u.str);
		break;
	case DOCKERFILE_EXPOSE:
		for (size_t i = 0; i < in->u.ports.nr; i++)
			oci_map_set(&rc->exposed_ports, in->u.ports.v[i], NULL);
		break;
	case DOCKERFILE_VOLUME:
		for (size_t i = 0; i < in->u.volumes.nr; i++)
			oci_map_set(&rc->volumes, in->u.volumes.v[i], NULL);
		break;
	case DOCKERFILE_CMD:
		cmdline_set(st, &rc->cmd, &in->u.cmdline);
		if (!in->u.cmdline.json)
			rc->args_escaped = true;
		st->cmd_set = true;
		break;
	case DOCKERFILE_ENTRYPOINT:
		cmdline_set(st, &rc->entrypoint, &in->u.cmdline);
		if (!in->u.cmdline.json)
			rc->args_escaped = true;
		if (!st->cmd_set)
			oci_strlist_set_null(&rc->cmd);
		break;
	case DOCKERFILE_SHELL:
		oci_strlist_set(&rc->shell, in->u.shell.v, in->u.shell.nr);
		break;
	case DOCKERFILE_STOPSIGNAL:
		free(rc->stop_signal);
		rc->stop_signal = xstrdup(in->u.str);
		break;
	case DOCKERFILE_HEALTHCHECK: {
		const struct dockerfile_healthcheck *h = &in->u.health;
		if (!rc->healthcheck)
			rc->healthcheck = xcalloc(1, sizeof(*rc->healthcheck));
		struct oci_healthcheck *oh = rc->healthcheck;
		oci_strlist_set(&oh->test, h->test.v, h->test.nr);
		oh->interval = h->interval;
		oh->timeout = h->timeout;
		oh->start_period = h->start_period;
		oh->start_interval = h->start_interval;
		oh->retries = h->retries;
		break;
	}
	case DOCKERFILE_ONBUILD:
		oci_strlist_push(&rc->on_build, in->u.str);
		return 0; /* BuildKit writes no history for it */
	case DOCKERFILE_MAINTAINER:
		free(st->config->author);
		st->config->author = xstrdup(in->u.str);
		break;
	case DOCKERFILE_ARG:
		break;
	default:
		BUG("not a metadata instruction: %s",
		    dockerfile_instr_name(in->kind));
	}
	cleanup_free char *cb = build_created_by(bs, st, in);
	build_history_add(bs->b, st, cb, false, NULL);
	return 0;
}
