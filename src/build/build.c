/*
 * build: the driver.  Read and plan the Dockerfile (splicing ONBUILD
 * triggers of base images in), load the context, run one thread per kept
 * stage (each waits for the stages it uses, then takes a job slot), write
 * the target's config and manifest and tag it.  On failure everything this
 * build added to the store that no image reaches is rolled back.
 */
#include "build/build-internal.h"

#include <sys/mount.h>
#include <sys/stat.h>
#include <sched.h>

volatile sig_atomic_t build_interrupted;

void build_interrupt(void)
{
	build_interrupted = 1;
}

/* ------------------------------------------------------------ progress */

void build_progress_start(struct build *b, struct build_step_info *st)
{
	const struct build_progress *p = b->o->progress;
	pthread_mutex_lock(&b->lock);
	st->id = ++b->next_step_id;
	if (p && p->step_start)
		p->step_start(p->data, st);
	pthread_mutex_unlock(&b->lock);
}

void build_progress_output(struct build *b, const struct build_step_info *st,
			   const char *buf, size_t len)
{
	const struct build_progress *p = b->o->progress;
	if (!p || !p->step_output)
		return;
	pthread_mutex_lock(&b->lock);
	p->step_output(p->data, st, buf, len);
	pthread_mutex_unlock(&b->lock);
}

void build_progress_done(struct build *b, const struct build_step_info *st,
			 bool cached, double seconds, const struct error *err)
{
	const struct build_progress *p = b->o->progress;
	pthread_mutex_lock(&b->lock);
	if (st->internal)
		; /* a pull is no step of the Dockerfile */
	else if (cached)
		b->cached++;
	else if (!err)
		b->steps++;
	if (p && p->step_done)
		p->step_done(p->data, st, cached, seconds, err);
	pthread_mutex_unlock(&b->lock);
}

void build_message(struct build *b, const char *fmt, ...)
{
	const struct build_progress *p = b->o->progress;
	if (!p || !p->message)
		return;
	va_list ap;
	va_start(ap, fmt);
	cleanup_free char *msg = xstrvfmt(fmt, ap);
	va_end(ap);
	pthread_mutex_lock(&b->lock);
	p->message(p->data, msg);
	pthread_mutex_unlock(&b->lock);
}

void build_note_created(struct build *b, struct strvec *list, const char *s)
{
	pthread_mutex_lock(&b->lock);
	strvec_push(list, s);
	pthread_mutex_unlock(&b->lock);
}

/*
 * Undo what a failed build added besides blobs (store_rollback() takes
 * those): cache records, layer dirs (moved into tmp/ first, so layers/
 * never holds a partial tree), the context's stat cache, cache mounts.
 */
static void rollback(struct build *b)
{
	cleanup_close int cfd = openat(b->s->root_fd, "cache",
				       O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	for (size_t i = 0; cfd >= 0 && i < b->rb_records.nr; i++)
		unlinkat(cfd, b->rb_records.v[i], 0);
	for (size_t i = 0; i < b->rb_layers.nr; i++) {
		cleanup_free char *p =
			store_layer_path(b->s, b->rb_layers.v[i]);
		cleanup_free char *t = xstrfmt("%s/tmp/%d.rollback.%zu",
					       b->s->root, (int)getpid(), i);
		if (!rename(p, t))
			build_rmtree(t);
	}
	for (size_t i = 0; i < b->rb_paths.nr; i++)
		build_rmtree(b->rb_paths.v[i]);
	if (cfd >= 0)
		fsync(cfd);
}

/* ------------------------------------------------------------ layers */

void build_layer_copy(struct build_layer *dst, const struct build_layer *src)
{
	dst->diffid = xstrdup(src->diffid);
	dst->digest = xstrdup(src->digest);
	dst->media_type = xstrdup(src->media_type);
	dst->size = src->size;
	dst->usize = src->usize;
}

void build_layer_release(struct build_layer *l)
{
	free(l->diffid);
	free(l->digest);
	free(l->media_type);
	memset(l, 0, sizeof(*l));
}

void build_state_add_layer(struct build_state *st, const struct build_layer *l)
{
	ALLOC_GROW(st->layers, st->nlayers + 1, st->alloc);
	build_layer_copy(&st->layers[st->nlayers++], l);
}

void build_state_copy(struct build_state *dst, const struct build_state *src)
{
	memset(dst, 0, sizeof(*dst));
	dst->config = oci_image_config_dup(src->config);
	for (size_t i = 0; i < src->nlayers; i++)
		build_state_add_layer(dst, &src->layers[i]);
	memcpy(dst->key, src->key, sizeof(dst->key));
	dst->last_created = src->last_created ? xstrdup(src->last_created)
					      : NULL;
}

void build_state_release(struct build_state *st)
{
	if (st->config)
		oci_image_config_free(st->config);
	for (size_t i = 0; i < st->nlayers; i++)
		build_layer_release(&st->layers[i]);
	free(st->layers);
	free(st->last_created);
	memset(st, 0, sizeof(*st));
}

/* ------------------------------------------------------------ paths */

char *build_clean_path(const char *path)
{
	bool abs = path[0] == '/';
	struct strvec parts = STRVEC_INIT;
	cleanup_free char *copy = xstrdup(path);
	char *save = NULL;
	for (char *p = strtok_r(copy, "/", &save); p;
	     p = strtok_r(NULL, "/", &save)) {
		if (!strcmp(p, "."))
			continue;
		if (!strcmp(p, "..")) {
			if (parts.nr && strcmp(parts.v[parts.nr - 1], ".."))
				strvec_pop(&parts);
			else if (!abs)
				strvec_push(&parts, "..");
			continue;
		}
		strvec_push(&parts, p);
	}
	struct strbuf sb = STRBUF_INIT;
	if (abs)
		strbuf_addch(&sb, '/');
	for (size_t i = 0; i < parts.nr; i++) {
		if (i)
			strbuf_addch(&sb, '/');
		strbuf_addstr(&sb, parts.v[i]);
	}
	if (!sb.len)
		strbuf_addch(&sb, '.');
	strvec_clear(&parts);
	return strbuf_detach(&sb, NULL);
}

char *build_abs_path(const char *workdir, const char *path)
{
	if (path[0] == '/')
		return build_clean_path(path);
	cleanup_free char *j =
		xstrfmt("%s/%s", workdir && *workdir ? workdir : "/", path);
	return build_clean_path(j);
}

/* ------------------------------------------------------------ images */

static int base_env_cb(void *data, const char *image, const char *platform,
		       struct dockerfile_env *env, struct error **err)
{
	struct build *b = data;
	struct build_image *bi = build_get_image_for(b, image, platform, err);
	if (!bi)
		return -1;
	json_t *cfg = json_object_get(bi->img->config, "config");
	json_t *e = cfg ? json_object_get(cfg, "Env") : NULL;
	size_t i;
	json_t *v;
	json_array_foreach(e, i, v)
	{
		if (json_is_string(v))
			dockerfile_env_push_entry(env, json_string_value(v));
	}
	return 0;
}

/* ------------------------------------------------------------ plan */

/*
 * ONBUILD: the triggers stored in a base image's config run as if they
 * were written right after the FROM.  Splice them into the text and plan
 * again.  Returns 1 when the text changed.
 */
static int splice_onbuild(struct build *b, struct strbuf *text)
{
	const struct dockerfile_plan *plan = b->plan;
	struct strvec after_line = STRVEC_INIT; /* "line\ttext" */
	bool any = false;
	for (size_t i = 0; i < plan->nstages; i++) {
		const struct dockerfile_stage *ds = &plan->stages[i];
		if (ds->scratch || ds->base_stage >= 0)
			continue;
		struct build_image *bi = build_get_image(b, ds->base, NULL);
		if (!bi)
			continue;
		json_t *cfg = json_object_get(bi->img->config, "config");
		json_t *ob = cfg ? json_object_get(cfg, "OnBuild") : NULL;
		if (!json_array_size(ob))
			continue;
		struct strbuf t = STRBUF_INIT;
		size_t k;
		json_t *v;
		json_array_foreach(ob, k, v)
		{
			strbuf_addstr(&t, json_string_value(v));
			strbuf_addch(&t, '\n');
		}
		strvec_pushf(&after_line, "%d\t%s", ds->node->end_line, t.buf);
		strbuf_release(&t);
		any = true;
	}
	if (!any) {
		strvec_clear(&after_line);
		return 0;
	}
	struct strbuf out = STRBUF_INIT;
	int line = 1;
	const char *p = text->buf, *end = text->buf + text->len;
	while (p < end) {
		const char *nl = memchr(p, '\n', end - p);
		size_t n = nl ? (size_t)(nl - p + 1) : (size_t)(end - p);
		strbuf_add(&out, p, n);
		if (!nl)
			strbuf_addch(&out, '\n');
		for (size_t i = 0; i < after_line.nr; i++) {
			char *tab;
			long l = strtol(after_line.v[i], &tab, 10);
			if (l == line)
				strbuf_addstr(&out, tab + 1);
		}
		line++;
		p += n;
	}
	strvec_clear(&after_line);
	strbuf_release(text);
	*text = out;
	return 1;
}

static int make_plan(struct build *b, struct strbuf *text, struct error **err)
{
	struct strvec args = STRVEC_INIT;
	for (size_t i = 0; i < b->o->nbuild_args; i++)
		if (strchr(b->o->build_args[i], '='))
			strvec_push(&args, b->o->build_args[i]);
	struct dockerfile_plan_opts po = {
		.build_args = args.v,
		.nbuild_args = args.nr,
		.target = b->o->target,
		.base_env = base_env_cb,
		.base_env_data = b,
	};
	for (int round = 0; round < 2; round++) {
		b->df = dockerfile_parse(b->dockerfile_name, text->buf,
					 text->len, err);
		if (!b->df)
			goto fail;
		b->plan = dockerfile_plan_new(b->df, &po, err);
		if (!b->plan)
			goto fail;
		if (round || !splice_onbuild(b, text))
			break;
		dockerfile_plan_free(b->plan);
		dockerfile_free(b->df);
		b->plan = NULL;
		b->df = NULL;
	}
	for (size_t i = 0; i < b->plan->unused_build_args.nr; i++)
		build_message(b,
			      "[warning]: build-arg %s was not consumed by "
			      "any stage",
			      b->plan->unused_build_args.v[i]);
	strvec_clear(&args);
	return 0;
fail:
	strvec_clear(&args);
	return -1;
}

/* ------------------------------------------------------------ context */

static int open_context(struct build *b, struct error **err)
{
	b->ctx_fd = -1;
	if (!b->o->context_dir)
		return 0;
	b->ctx_path = realpath(b->o->context_dir, NULL);
	if (!b->ctx_path) {
		error_set_errno(err, "context '%s'", b->o->context_dir);
		return -1;
	}
	b->ctx_fd = open(b->ctx_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (b->ctx_fd < 0) {
		error_set_errno(err, "open context '%s'", b->ctx_path);
		return -1;
	}
	b->ignore = context_ignore_load(b->ctx_fd, b->o->dockerfile_path, err);
	if (!b->ignore)
		return -1;
	return 0;
}

/* ------------------------------------------------------------ stages */

static struct oci_image_config *scratch_config(void)
{
	struct oci_image_config *c = xcalloc(1, sizeof(*c));
	c->architecture = xstrdup(store_host_arch());
	c->os = xstrdup("linux");
	c->has_config = true;
	oci_strlist_push(&c->config.env, "PATH=/usr/local/sbin:/usr/local/bin:/"
					 "usr/sbin:"
					 "/usr/bin:/sbin:/bin");
	c->config.working_dir = xstrdup("/");
	c->rootfs_type = xstrdup("layers");
	oci_strlist_set_empty(&c->diff_ids);
	return c;
}

static int stage_init_base(struct build_stage *bs, struct error **err)
{
	struct build *b = bs->b;
	const struct dockerfile_stage *ds = bs->ds;
	struct build_state *st = &bs->state;
	if (ds->base_stage >= 0) {
		struct build_stage *base = &b->stages[ds->base_stage];
		build_state_copy(st, &base->state);
		return 0;
	}
	if (ds->scratch) {
		st->config = scratch_config();
		struct build_keyer k;
		build_key_init(&k, NULL);
		build_key_add(&k, "scratch");
		build_key_final(&k, st->key);
		return 0;
	}
	struct build_step_info si = { .stage = ds->display,
				      .index = 1,
				      .total = bs->total_steps };
	cleanup_free char *text = xstrfmt("FROM %s", ds->base);
	si.text = text;
	build_progress_start(b, &si);
	struct build_image *bi =
		build_get_image_for(b, ds->base, ds->platform, err);
	if (!bi) {
		build_progress_done(b, &si, false, 0, *err);
		return -1;
	}
	cleanup_strbuf struct strbuf raw = STRBUF_INIT;
	if (store_blob_read(b->s, bi->img->config_digest, &raw, 0, err) < 0)
		return -1;
	st->config = oci_image_config_parse(raw.buf, raw.len, err);
	if (!st->config)
		return -1;
	if (!st->config->has_config)
		st->config->has_config = true;
	/* the base's ONBUILD triggers ran (spliced in); they end here */
	oci_strlist_release(&st->config->config.on_build);
	oci_strlist_set_null(&st->config->config.on_build);
	for (size_t i = 0; i < bi->nlayers; i++)
		build_state_add_layer(st, &bi->layers[i]);
	memcpy(st->key, bi->key, sizeof(st->key));
	build_progress_done(b, &si, true, 0, NULL);
	return 0;
}

static void stage_args_update(struct build_stage *bs,
			      const struct dockerfile_instr *in)
{
	for (size_t i = 0; i < in->u.arg.nargs; i++) {
		const struct dockerfile_arg *a = &in->u.arg.args[i];
		size_t nl = strlen(a->name);
		for (size_t j = 0; j < bs->args.nr; j++) {
			if (!strncmp(bs->args.v[j], a->name, nl) &&
			    bs->args.v[j][nl] == '=') {
				free((char *)bs->args.v[j]);
				memmove(&bs->args.v[j], &bs->args.v[j + 1],
					(bs->args.nr - j) *
						sizeof(bs->args.v[0]));
				bs->args.nr--;
				break;
			}
		}
		if (a->value)
			strvec_pushf(&bs->args, "%s=%s", a->name, a->value);
	}
}

static int stage_execute(struct build_stage *bs, struct error **err)
{
	struct build *b = bs->b;
	const struct dockerfile_stage *ds = bs->ds;
	if (stage_init_base(bs, err) < 0)
		return -1;
	int idx = 1;
	for (size_t i = 0; i < ds->ninstrs; i++) {
		const struct dockerfile_instr *in = &ds->instrs[i];
		if (build_interrupted) {
			error_set(err, EINTR, "interrupted");
			return -1;
		}
		if (b->failed) {
			error_set(err, ECANCELED, "canceled");
			return -1;
		}
		struct build_step_info si = { .stage = ds->display,
					      .total = bs->total_steps };
		int ret = 0;
		switch (in->kind) {
		case DOCKERFILE_RUN:
			si.index = ++idx;
			ret = build_step_run(bs, in, &si, err);
			break;
		case DOCKERFILE_COPY:
		case DOCKERFILE_ADD:
			si.index = ++idx;
			ret = build_step_copy(bs, in, &si, err);
			break;
		case DOCKERFILE_WORKDIR:
			si.index = ++idx;
			ret = build_step_workdir(bs, in, &si, err);
			break;
		case DOCKERFILE_ARG:
			stage_args_update(bs, in);
			ret = build_meta_apply(bs, &bs->state, in, err);
			break;
		default:
			ret = build_meta_apply(bs, &bs->state, in, err);
			break;
		}
		if (ret < 0) {
			if (*err && in->kind != DOCKERFILE_RUN)
				error_wrap(err, "%s:%d", b->dockerfile_name,
					   in->line);
			return -1;
		}
	}
	return 0;
}

static bool stage_deps_done(struct build *b, struct build_stage *bs)
{
	for (size_t i = 0; i < bs->ds->ndeps; i++) {
		struct build_stage *d = &b->stages[bs->ds->deps[i]];
		if (d->status != STAGE_DONE)
			return false;
	}
	return true;
}

static void *stage_thread(void *arg)
{
	struct build_stage *bs = arg;
	struct build *b = bs->b;
	int jobs = b->o->jobs;

	pthread_mutex_lock(&b->lock);
	while (!b->failed && !build_interrupted &&
	       (!stage_deps_done(b, bs) || b->running_jobs >= jobs))
		pthread_cond_wait(&b->cond, &b->lock);
	if (b->failed || build_interrupted) {
		bs->status = STAGE_FAILED;
		pthread_cond_broadcast(&b->cond);
		pthread_mutex_unlock(&b->lock);
		return NULL;
	}
	b->running_jobs++;
	bs->status = STAGE_RUNNING;
	pthread_mutex_unlock(&b->lock);

	struct error *e = NULL;
	int ret = stage_execute(bs, &e);

	pthread_mutex_lock(&b->lock);
	b->running_jobs--;
	if (ret < 0) {
		bs->status = STAGE_FAILED;
		bs->err = e;
		b->failed = true;
	} else {
		bs->status = STAGE_DONE;
	}
	pthread_cond_broadcast(&b->cond);
	pthread_mutex_unlock(&b->lock);
	return NULL;
}

struct build_stage *build_wait_stage(struct build *b, size_t pos,
				     struct error **err)
{
	struct build_stage *bs = &b->stages[pos];
	pthread_mutex_lock(&b->lock);
	while (bs->status != STAGE_DONE && bs->status != STAGE_FAILED &&
	       !b->failed)
		pthread_cond_wait(&b->cond, &b->lock);
	bool ok = bs->status == STAGE_DONE;
	pthread_mutex_unlock(&b->lock);
	if (!ok) {
		error_set(err, ECANCELED, "stage %s failed", bs->ds->display);
		return NULL;
	}
	return bs;
}

static int count_steps(const struct dockerfile_stage *ds)
{
	int n = 1;
	for (size_t i = 0; i < ds->ninstrs; i++)
		switch (ds->instrs[i].kind) {
		case DOCKERFILE_RUN:
		case DOCKERFILE_COPY:
		case DOCKERFILE_ADD:
		case DOCKERFILE_WORKDIR:
			n++;
			break;
		default:
			break;
		}
	return n;
}

/* Signal the children of `pid` (a RUN helper: the container's init). */
static void kill_children(pid_t pid, int sig)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)pid,
		 (int)pid);
	struct strbuf sb = STRBUF_INIT;
	if (strbuf_read_file(&sb, path) == 0) {
		char *p = sb.buf, *end;
		for (long c = strtol(p, &end, 10); end != p;
		     p = end, c = strtol(p, &end, 10))
			if (c > 0)
				kill((pid_t)c, sig);
	}
	strbuf_release(&sb);
}

static int run_stages(struct build *b, struct error **err)
{
	/*
	 * Worker threads run the stages; this thread supervises, so that a
	 * Ctrl-C (the handler sets build_interrupted) reaches the running
	 * RUN steps: their threads block the signal and forward it to the
	 * container through the sandbox's signalfd.
	 */
	for (size_t i = 0; i < b->nstages; i++) {
		struct build_stage *bs = &b->stages[i];
		if (pthread_create(&bs->thread, NULL, stage_thread, bs)) {
			error_set_errno(err, "pthread_create");
			pthread_mutex_lock(&b->lock);
			b->failed = true;
			pthread_cond_broadcast(&b->cond);
			pthread_mutex_unlock(&b->lock);
			break;
		}
		bs->thread_started = true;
	}
	bool forwarded = false;
	time_t intr_start = 0;
	for (;;) {
		pthread_mutex_lock(&b->lock);
		bool all = true;
		for (size_t i = 0; i < b->nstages; i++)
			if (b->stages[i].thread_started &&
			    b->stages[i].status != STAGE_DONE &&
			    b->stages[i].status != STAGE_FAILED)
				all = false;
		if (build_interrupted) {
			/*
			 * Stop the running RUN steps: SIGTERM to the
			 * containers (their init, or runc, passes it on),
			 * SIGKILL a second later; the helper then cleans up
			 * and reports.  Repeated every tick, so a container
			 * started meanwhile is caught too.
			 */
			if (!forwarded)
				intr_start = time(NULL);
			int sig = time(NULL) - intr_start >= 2 ? SIGKILL
							       : SIGTERM;
			for (size_t i = 0; i < b->nstages; i++)
				if (b->stages[i].run_pid > 0)
					kill_children(b->stages[i].run_pid,
						      sig);
			if (!forwarded)
				pthread_cond_broadcast(&b->cond);
			forwarded = true;
		}
		if (all) {
			pthread_mutex_unlock(&b->lock);
			break;
		}
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 50 * 1000000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&b->cond, &b->lock, &ts);
		pthread_mutex_unlock(&b->lock);
	}
	for (size_t i = 0; i < b->nstages; i++)
		if (b->stages[i].thread_started)
			pthread_join(b->stages[i].thread, NULL);
	if (*err)
		return -1;
	if (build_interrupted) {
		error_set(err, EINTR, "interrupted");
		return -1;
	}
	/* the first real failure (not a "canceled" follower) */
	struct build_stage *failed = NULL;
	for (size_t i = 0; i < b->nstages; i++) {
		struct build_stage *bs = &b->stages[i];
		if (bs->err && (!failed || (failed->err->code == ECANCELED &&
					    bs->err->code != ECANCELED)))
			failed = bs;
	}
	if (failed) {
		*err = failed->err;
		failed->err = NULL;
		return -1;
	}
	if (b->stages[b->plan->target].status != STAGE_DONE) {
		error_set(err, KILN_EINTERNAL, "target stage was not built");
		return -1;
	}
	return 0;
}

/* ------------------------------------------------------------ the image */

/* Fill in the times of history entries made by this build. */
static void finish_history(struct build *b, struct oci_image_config *c)
{
	const char *fallback = b->have_epoch ? b->source_date_epoch : b->now;
	const char *last = NULL;
	for (size_t i = 0; i < c->history_nr; i++) {
		struct oci_history *h = &c->history[i];
		if (h->created) {
			if (h->comment && !strcmp(h->comment, "buildkit."
							      "dockerfile.v0"))
				last = h->created;
			continue;
		}
		const char *t = last;
		if (!t)
			for (size_t j = i + 1; j < c->history_nr && !t; j++)
				if (c->history[j].created &&
				    !c->history[j].empty_layer)
					t = c->history[j].created;
		h->created = xstrdup(t ? t : fallback);
	}
	free(c->created);
	if (b->have_epoch)
		c->created = xstrdup(b->source_date_epoch);
	else if (last)
		c->created = xstrdup(last);
	else
		c->created = xstrdup(b->now);
}

static int put_blob_if_missing(struct build *b, const char *buf, size_t len,
			       char *digest, struct error **err)
{
	store_digest_buf(buf, len, digest);
	if (store_blob_exists(b->s, digest))
		return 0;
	return store_blob_put(b->s, buf, len, digest, NULL, err);
}

static int write_image(struct build *b, struct build_state *st,
		       struct build_result *res, struct error **err)
{
	struct oci_image_config *c = oci_image_config_dup(st->config);
	for (size_t i = 0; i < b->o->nlabels; i++) {
		const char *eq = strchr(b->o->labels[i], '=');
		cleanup_free char *k =
			eq ? xstrndup(b->o->labels[i], eq - b->o->labels[i])
			   : xstrdup(b->o->labels[i]);
		oci_map_set(&c->config.labels, k, eq ? eq + 1 : "");
	}
	finish_history(b, c);
	oci_strlist_release(&c->diff_ids);
	oci_strlist_set_empty(&c->diff_ids);
	for (size_t i = 0; i < st->nlayers; i++)
		oci_strlist_push(&c->diff_ids, st->layers[i].diffid);
	cleanup_strbuf struct strbuf cfg = STRBUF_INIT;
	int ret = oci_image_config_serialize(c, &cfg, err);
	oci_image_config_free(c);
	if (ret < 0)
		return -1;
	char cd[STORE_DIGEST_MAX];
	if (put_blob_if_missing(b, cfg.buf, cfg.len, cd, err) < 0)
		return -1;

	bool docker = b->o->docker_format;
	json_t *m = json_object();
	json_object_set_new(m, "schemaVersion", json_integer(2));
	json_object_set_new(m, "mediaType",
			    json_string(docker ? STORE_MT_DOCKER_MANIFEST
					       : STORE_MT_OCI_MANIFEST));
	json_t *cj = json_object();
	json_object_set_new(cj, "mediaType",
			    json_string(docker ? STORE_MT_DOCKER_CONFIG
					       : STORE_MT_OCI_CONFIG));
	json_object_set_new(cj, "digest", json_string(cd));
	json_object_set_new(cj, "size", json_integer((json_int_t)cfg.len));
	json_object_set_new(m, "config", cj);
	json_t *ls = json_array();
	for (size_t i = 0; i < st->nlayers; i++) {
		const struct build_layer *l = &st->layers[i];
		const char *mt = l->media_type;
		if (docker && !strcmp(mt, STORE_MT_OCI_LAYER_GZIP))
			mt = STORE_MT_DOCKER_LAYER_GZIP;
		else if (!docker && !strcmp(mt, STORE_MT_DOCKER_LAYER_GZIP))
			mt = STORE_MT_OCI_LAYER_GZIP;
		json_t *lj = json_object();
		json_object_set_new(lj, "mediaType", json_string(mt));
		json_object_set_new(lj, "digest", json_string(l->digest));
		json_object_set_new(lj, "size", json_integer(l->size));
		json_array_append_new(ls, lj);
	}
	json_object_set_new(m, "layers", ls);
	cleanup_free char *mbuf = json_dumps(m, JSON_COMPACT);
	json_decref(m);
	char md[STORE_DIGEST_MAX];
	if (put_blob_if_missing(b, mbuf, strlen(mbuf), md, err) < 0)
		return -1;
	memcpy(res->image_id, cd, sizeof(res->image_id));
	memcpy(res->manifest_digest, md, sizeof(res->manifest_digest));

	struct store_desc d = {
		.media_type = docker ? STORE_MT_DOCKER_MANIFEST
				     : STORE_MT_OCI_MANIFEST,
		.digest = md,
		.size = (int64_t)strlen(mbuf),
	};
	struct store_refs refs = STORE_REFS_INIT;
	if (store_refs_read(b->s, &refs, err) < 0)
		return -1;
	ret = 0;
	if (!b->o->ntags) {
		bool present = false;
		for (size_t i = 0; i < refs.nr; i++)
			if (!strcmp(refs.v[i].digest, md))
				present = true;
		if (!present)
			ret = store_ref_set(b->s, NULL, &d, err);
	}
	for (size_t i = 0; !ret && i < b->o->ntags; i++) {
		cleanup_free char *full =
			store_ref_normalize(b->o->tags[i], err);
		if (!full) {
			ret = -1;
			break;
		}
		const struct store_ref *r = store_refs_find(&refs, full);
		if (r && !strcmp(r->digest, md))
			continue;
		ret = store_ref_set(b->s, full, &d, err);
	}
	store_refs_release(&refs);
	return ret;
}

/* ------------------------------------------------------------ entry */

static char *rfc3339(int64_t t)
{
	time_t tt = (time_t)t;
	struct tm tm;
	gmtime_r(&tt, &tm);
	char buf[64];
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
	return xstrdup(buf);
}

static int read_dockerfile(struct build *b, struct strbuf *text,
			   struct error **err)
{
	const struct build_opts *o = b->o;
	if (o->dockerfile_text) {
		strbuf_add(text, o->dockerfile_text, o->dockerfile_len);
		b->dockerfile_name = xstrdup("Dockerfile");
		return 0;
	}
	const char *path = o->dockerfile_path ? o->dockerfile_path
					      : "Dockerfile";
	int fd;
	if (path[0] == '/' || b->ctx_fd < 0)
		fd = open(path, O_RDONLY | O_CLOEXEC);
	else
		fd = openat(b->ctx_fd, path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			error_set(err, KILN_ENOTFOUND,
				  "failed to read dockerfile: open %s: no "
				  "such file or directory",
				  path);
		else
			error_set_errno(err, "failed to read dockerfile '%s'",
					path);
		return -1;
	}
	int r = strbuf_read_fd(text, fd);
	close(fd);
	if (r < 0) {
		error_set_errno(err, "read '%s'", path);
		return -1;
	}
	const char *slash = strrchr(path, '/');
	b->dockerfile_name = xstrdup(slash ? slash + 1 : path);
	return 0;
}

static void build_release(struct build *b)
{
	for (size_t i = 0; i < b->nstages; i++) {
		build_state_release(&b->stages[i].state);
		error_free(b->stages[i].err);
		strvec_clear(&b->stages[i].args);
	}
	free(b->stages);
	build_images_release(b);
	if (b->plan)
		dockerfile_plan_free(b->plan);
	if (b->df)
		dockerfile_free(b->df);
	if (b->ignore)
		context_ignore_free(b->ignore);
	if (b->walked)
		context_walk_release(&b->walk);
	if (b->ctx_fd >= 0)
		close(b->ctx_fd);
	free(b->ctx_path);
	free(b->dockerfile_name);
	free(b->source_date_epoch);
	free(b->now);
	strvec_clear(&b->rb_records);
	strvec_clear(&b->rb_layers);
	strvec_clear(&b->rb_paths);
	pthread_mutex_destroy(&b->lock);
	pthread_cond_destroy(&b->cond);
}

/*
 * Mounts this build makes (read-only views of stages for COPY) live in a
 * private mount namespace, so nothing outlives the process.
 */
static int private_mounts(struct error **err)
{
	static bool done;
	if (done)
		return 0;
	if (unshare(CLONE_NEWNS) < 0) {
		error_set_errno(err, "unshare(CLONE_NEWNS)");
		return -1;
	}
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) {
		error_set_errno(err, "make / private");
		return -1;
	}
	done = true;
	return 0;
}

int build_run(struct store *s, const struct build_opts *opts,
	      struct build_result *res, struct error **err)
{
	struct build b = { .s = s,
			   .o = opts,
			   .ctx_fd = -1,
			   .rb_records = STRVEC_INIT,
			   .rb_layers = STRVEC_INIT,
			   .rb_paths = STRVEC_INIT };
	struct build_opts o = *opts;
	int ret = -1;

	memset(res, 0, sizeof(*res));
	if (o.jobs <= 0) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);
		o.jobs = n > 0 ? (int)n : 1;
	}
	b.o = &o;
	pthread_mutex_init(&b.lock, NULL);
	pthread_cond_init(&b.cond, NULL);
	pthread_mutex_init(&b.images_lock, NULL);
	build_interrupted = 0;

	const char *sde = getenv("SOURCE_DATE_EPOCH");
	if (sde && *sde) {
		unsigned long long v;
		if (parse_uint(sde, INT64_MAX, &v) < 0) {
			error_set(err, KILN_EINVAL,
				  "invalid SOURCE_DATE_EPOCH: %s", sde);
			goto out;
		}
		b.epoch = (int64_t)v;
		b.have_epoch = true;
		b.source_date_epoch = rfc3339(b.epoch);
	}
	b.now = store_time_now();

	if (private_mounts(err) < 0)
		goto out;
	if (open_context(&b, err) < 0)
		goto out;
	cleanup_strbuf struct strbuf text = STRBUF_INIT;
	if (read_dockerfile(&b, &text, err) < 0)
		goto out;
	if (make_plan(&b, &text, err) < 0)
		goto out;
	if (store_lock(s, LOCK_SH, err) < 0)
		goto out;

	b.nstages = b.plan->nstages;
	b.stages = xcalloc(b.nstages, sizeof(*b.stages));
	for (size_t i = 0; i < b.nstages; i++) {
		b.stages[i].b = &b;
		b.stages[i].ds = &b.plan->stages[i];
		b.stages[i].pos = i;
		b.stages[i].total_steps = count_steps(&b.plan->stages[i]);
		strvec_init(&b.stages[i].args);
	}
	if (run_stages(&b, err) < 0)
		goto out;
	struct build_state *st = &b.stages[b.plan->target].state;
	if (write_image(&b, st, res, err) < 0)
		goto out;
	if ((o.output == BUILD_OUTPUT_TAR || o.output == BUILD_OUTPUT_LOCAL) &&
	    build_output(&b, st, res, err) < 0)
		goto out;
	res->steps = b.steps;
	res->cached = b.cached;
	ret = 0;
out:
	if (ret < 0) {
		rollback(&b);
		store_rollback(s);
	}
	build_release(&b);
	return ret;
}
