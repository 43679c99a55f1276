/*
 * build RUN: the command runs through sandbox/ on an overlay of the
 * stage's layer dirs with a fresh upper dir in the store's tmp/, which
 * becomes the step's layer.  RUN --mount: bind (context, stage, image),
 * cache (persistent dirs under the store's cache/mounts/), tmpfs, secret
 * (file or env; never in a layer, the config or the history).  Like
 * BuildKit, the layer keeps the empty directories mount targets needed,
 * never the generated /etc/hosts, resolv.conf or hostname, nor any
 * mounted content.  Output streams to the printer; the last lines are
 * kept for the error message.
 */
#include "build/build-internal.h"
#include "sandbox/sandbox.h"

#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/xattr.h>

static double mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ------------------------------------------------------------ output */

#define TAIL_MAX 4096

struct reader {
	struct build *b;
	const struct build_step_info *si;
	int fd;
	char tail[TAIL_MAX];
	size_t tail_len;
	pthread_t thread;
};

static void *reader_main(void *arg)
{
	struct reader *r = arg;
	char buf[8192];
	for (;;) {
		ssize_t n = read(r->fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		build_progress_output(r->b, r->si, buf, (size_t)n);
		if ((size_t)n >= TAIL_MAX) {
			memcpy(r->tail, buf + n - TAIL_MAX, TAIL_MAX);
			r->tail_len = TAIL_MAX;
		} else {
			size_t keep = r->tail_len + n > TAIL_MAX
					      ? TAIL_MAX - (size_t)n
					      : r->tail_len;
			memmove(r->tail, r->tail + r->tail_len - keep, keep);
			memcpy(r->tail + keep, buf, (size_t)n);
			r->tail_len = keep + (size_t)n;
		}
	}
	return NULL;
}

/* The last `lines` lines of the output, each prefixed. */
static void tail_lines(const struct reader *r, int lines, struct strbuf *out)
{
	size_t end = r->tail_len;
	while (end && r->tail[end - 1] == '\n')
		end--;
	size_t start = end;
	int seen = 0;
	while (start > 0) {
		if (r->tail[start - 1] == '\n' && ++seen == lines)
			break;
		start--;
	}
	const char *p = r->tail + start, *e = r->tail + end;
	while (p < e) {
		const char *nl = memchr(p, '\n', e - p);
		size_t n = nl ? (size_t)(nl - p) : (size_t)(e - p);
		strbuf_addstr(out, "\n  > ");
		strbuf_add(out, p, n);
		p += n + (nl ? 1 : 0);
	}
}

/* ------------------------------------------------------------ lowers */

/* Does `rel` exist in the merged lower layers (top first)? */
static bool lowers_have(struct build *b, const struct build_state *st,
			const char *rel)
{
	for (size_t i = st->nlayers; i-- > 0;) {
		cleanup_free char *root =
			store_layer_path(b->s, st->layers[i].diffid);
		cleanup_free char *p = xstrfmt("%s/%s", root, rel);
		struct stat s;
		if (lstat(p, &s) == 0)
			return !(S_ISCHR(s.st_mode) && s.st_rdev == 0);
		/* an opaque parent hides everything below */
		cleanup_free char *parent = xstrdup(rel);
		bool opaque = false;
		for (char *sl = strrchr(parent, '/'); sl;
		     sl = strrchr(parent, '/')) {
			*sl = 0;
			cleanup_free char *pp = xstrfmt("%s/%s", root, parent);
			char v[4];
			if (lgetxattr(pp, "trusted.overlay.opaque", v,
				      sizeof(v)) > 0) {
				opaque = true;
				break;
			}
		}
		if (opaque)
			return false;
	}
	return false;
}

/* ------------------------------------------------------------ HOME */

/* Read a file of the merged lower layers (top first); -1 when absent. */
static int lowers_read(struct build *b, const struct build_state *st,
		       const char *rel, struct strbuf *out)
{
	for (size_t i = st->nlayers; i-- > 0;) {
		cleanup_free char *root =
			store_layer_path(b->s, st->layers[i].diffid);
		cleanup_free char *p = xstrfmt("%s/%s", root, rel);
		struct stat s;
		if (lstat(p, &s) < 0)
			continue;
		if (!S_ISREG(s.st_mode))
			return -1;
		return strbuf_read_file(out, p);
	}
	return -1;
}

/*
 * runc's rule, which BuildKit's RUN sees: without HOME in the
 * environment, it is the user's home from /etc/passwd, else "/".
 */
static char *user_home(struct build *b, const struct build_state *st,
		       const char *user)
{
	cleanup_free char *name = xstrdup(user && *user ? user : "0");
	char *colon = strchr(name, ':');
	if (colon)
		*colon = 0;
	struct strbuf pw = STRBUF_INIT;
	char *home = NULL;
	if (lowers_read(b, st, "etc/passwd", &pw) == 0) {
		char *save = NULL;
		for (char *line = strtok_r(pw.buf, "\n", &save); line && !home;
		     line = strtok_r(NULL, "\n", &save)) {
			char *f[7] = { 0 };
			int nf = 0;
			char *p = line;
			while (nf < 7) {
				f[nf++] = p;
				p = strchr(p, ':');
				if (!p)
					break;
				*p++ = 0;
			}
			if (nf < 6)
				continue;
			if (!strcmp(f[0], name) || !strcmp(f[2], name))
				home = xstrdup(f[5]);
		}
	}
	strbuf_release(&pw);
	return home ? home : xstrdup("/");
}

/* ------------------------------------------------------------ mounts */

struct mount_plan {
	struct strvec dirs_missing; /* target dirs to leave in the layer */
	struct strvec cleanup_mnts; /* overlay mounts for rw binds */
	struct strvec cleanup_dirs;
	struct build_view *views;
	size_t nviews;
	int *lock_fds;
	size_t nlocks;
};

static void mount_plan_release(struct build *b, struct mount_plan *mp)
{
	for (size_t i = 0; i < mp->cleanup_mnts.nr; i++)
		umount2(mp->cleanup_mnts.v[i], MNT_DETACH);
	for (size_t i = 0; i < mp->cleanup_dirs.nr; i++)
		store_layer_abort(b->s, mp->cleanup_dirs.v[i]);
	for (size_t i = 0; i < mp->nviews; i++)
		build_view_close(&mp->views[i]);
	free(mp->views);
	for (size_t i = 0; i < mp->nlocks; i++)
		close(mp->lock_fds[i]);
	free(mp->lock_fds);
	strvec_clear(&mp->dirs_missing);
	strvec_clear(&mp->cleanup_mnts);
	strvec_clear(&mp->cleanup_dirs);
}

/* Remember the components of `target` (a dir, or the parent of a file)
 * the image lacks: BuildKit leaves them in the layer. */
static void note_missing(struct build *b, const struct build_state *st,
			 struct mount_plan *mp, const char *target, bool file)
{
	cleanup_free char *clean = build_clean_path(target);
	const char *rel = clean[0] == '/' ? clean + 1 : clean;
	if (!*rel || !strcmp(rel, "."))
		return;
	cleanup_free char *p = xstrdup(rel);
	if (file) {
		char *s = strrchr(p, '/');
		if (!s)
			return;
		*s = 0;
	}
	if (!lowers_have(b, st, p))
		strvec_push(&mp->dirs_missing, p);
}

static const struct build_secret *find_secret(struct build *b, const char *id)
{
	for (size_t i = 0; i < b->o->nsecrets; i++)
		if (!strcmp(b->o->secrets[i].id, id))
			return &b->o->secrets[i];
	return NULL;
}

static int secret_value(const struct build_secret *s, struct strbuf *out,
			struct error **err)
{
	if (s->env) {
		const char *v = getenv(s->env);
		if (!v) {
			error_set(err, KILN_ENOTFOUND,
				  "secret %s: environment variable %s is not "
				  "set",
				  s->id, s->env);
			return -1;
		}
		strbuf_addstr(out, v);
		return 0;
	}
	if (strbuf_read_file(out, s->src) < 0) {
		error_set_errno(err, "secret %s: read '%s'", s->id, s->src);
		return -1;
	}
	return 0;
}

/* A directory for a rw bind: an overlay over `src` thrown away later. */
static char *writable_copy(struct build *b, struct mount_plan *mp,
			   const char *src, struct error **err)
{
	char *dir = build_tmpdir(b, "bind", err);
	if (!dir)
		return NULL;
	strvec_push(&mp->cleanup_dirs, dir);
	cleanup_free char *up = xstrfmt("%s/u", dir);
	cleanup_free char *wk = xstrfmt("%s/w", dir);
	char *mnt = xstrfmt("%s/m", dir);
	mkdir(up, 0755);
	mkdir(wk, 0700);
	mkdir(mnt, 0755);
	cleanup_free char *opt =
		xstrfmt("lowerdir=%s,upperdir=%s,workdir=%s", src, up, wk);
	if (mount("overlay", mnt, "overlay", 0, opt) < 0) {
		error_set_errno(err, "mount overlay on '%s'", mnt);
		free(mnt);
		free(dir);
		return NULL;
	}
	strvec_push(&mp->cleanup_mnts, mnt);
	free(dir);
	return mnt;
}

/*
 * Key contributions and sandbox setup for the mounts.  With sb == NULL
 * only the key is computed.
 */
static int setup_mounts(struct build_stage *bs, const struct dockerfile_run *r,
			struct build_keyer *k, struct sandbox *sb,
			struct mount_plan *mp, struct error **err)
{
	struct build *b = bs->b;
	const struct build_state *st = &bs->state;
	const char *wd = st->config->config.working_dir;
	for (size_t i = 0; i < r->nmounts; i++) {
		const struct dockerfile_mount *m = &r->mounts[i];
		cleanup_free char *target =
			m->target ? build_abs_path(wd, m->target) : NULL;
		switch (m->type) {
		case DOCKERFILE_MOUNT_BIND: {
			if (!target)
				target = build_abs_path(wd, ".");
			cleanup_free char *src = build_clean_path(
				m->source ? (m->source[0] == '/' ? m->source + 1
								 : m->source)
					  : ".");
			const char *fromkey = NULL;
			struct build_layer *layers = NULL;
			size_t nl = 0;
			if (m->from_stage >= 0) {
				struct build_stage *fs =
					build_wait_stage(b, m->from_stage, err);
				if (!fs)
					return -1;
				fromkey = fs->state.key;
				layers = fs->state.layers;
				nl = fs->state.nlayers;
			} else if (m->from) {
				struct build_image *bi =
					build_get_image(b, m->from, err);
				if (!bi)
					return -1;
				fromkey = bi->key;
				layers = bi->layers;
				nl = bi->nlayers;
			}
			if (k) {
				build_key_addf(k, "bind %s src=%s rw=%d",
					       target, src, !m->readonly);
				if (fromkey) {
					build_key_addf(k, "from %s", fromkey);
				} else {
					if (build_context_walk(b, err) < 0)
						return -1;
					char dg[CONTEXT_DIGEST_STRLEN] = "none";
					const char *paths[] = { src, NULL };
					struct error *e = NULL;
					if (context_digest_paths(&b->walk,
								 paths, 1, dg,
								 &e) < 0) {
						error_set(err, KILN_ENOTFOUND,
							  "RUN --mount "
							  "source \"%s\" not "
							  "found in build "
							  "context %s",
							  src, b->ctx_path);
						error_free(e);
						return -1;
					}
					build_key_addf(k, "content %s", dg);
				}
			}
			if (!sb)
				break;
			cleanup_free char *host = NULL;
			if (fromkey) {
				mp->views = xrealloc(
					mp->views,
					(mp->nviews + 1) * sizeof(*mp->views));
				struct build_view *v = &mp->views[mp->nviews];
				if (build_view_open(b, layers, nl, v, err) < 0)
					return -1;
				mp->nviews++;
				host = xstrfmt("%s/%s", v->path, src);
			} else {
				if (b->ctx_fd < 0) {
					error_set(err, KILN_EINVAL,
						  "RUN --mount=type=bind "
						  "needs a build context");
					return -1;
				}
				if (b->ignore &&
				    context_ignore_count(b->ignore)) {
					/* BuildKit mounts the context as it
					 * was sent: .dockerignore applies */
					char *dir;
					if (build_context_snapshot(b, src, &dir,
								   &host,
								   err) < 0) {
						if (dir)
							strvec_push(
								&mp->cleanup_dirs,
								dir);
						free(dir);
						return -1;
					}
					strvec_push(&mp->cleanup_dirs, dir);
					free(dir);
				} else {
					host = xstrfmt("%s/%s", b->ctx_path,
						       src);
				}
			}
			struct stat s;
			if (stat(host, &s) < 0) {
				error_set(err, KILN_ENOTFOUND,
					  "RUN --mount source \"%s\": not "
					  "found",
					  src);
				return -1;
			}
			if (!m->readonly && S_ISDIR(s.st_mode)) {
				char *w = writable_copy(b, mp, host, err);
				if (!w)
					return -1;
				free(host);
				host = w;
			}
			note_missing(b, st, mp, target, !S_ISDIR(s.st_mode));
			sandbox_add_bind(sb, host, target,
					 m->readonly || !S_ISDIR(s.st_mode));
			break;
		}
		case DOCKERFILE_MOUNT_CACHE: {
			if (!target) {
				error_set(err, KILN_EINVAL,
					  "cache mount needs a target");
				return -1;
			}
			const char *id = m->id ? m->id : target;
			/*
			 * BuildKit seeds a cache mount given uid, gid or mode
			 * from its own mkdir, and that source is part of the
			 * cache's identity: `uid=10` and no uid never share.
			 */
			bool owned = m->uid >= 0 || m->gid >= 0 || m->has_mode;
			cleanup_free char *owner =
				owned ? xstrfmt(" owner=%lld:%lld mode=%o",
						m->uid >= 0 ? (long long)m->uid
							    : 0LL,
						m->gid >= 0 ? (long long)m->gid
							    : 0LL,
						m->has_mode ? (unsigned)m->mode
							    : 0755u)
				      : xstrdup("");
			if (k)
				build_key_addf(k, "cache %s%s", target, owner);
			if (!sb)
				break;
			struct build_keyer ck;
			build_key_init(&ck, NULL);
			build_key_addf(&ck, "cache-mount %s%s", id, owner);
			char ckey[BUILD_KEY_HEX];
			build_key_final(&ck, ckey);
			mkdirat(b->s->root_fd, "cache", 0700);
			cleanup_free char *base =
				xstrfmt("%s/cache/mounts", b->s->root);
			if (mkdir(base, 0700) == 0)
				build_note_created(b, &b->rb_paths, base);
			cleanup_free char *dir = xstrfmt("%s/%s", base, ckey);
			if (mkdir(dir, 0755) == 0) {
				build_note_created(b, &b->rb_paths, dir);
				mode_t mode = m->has_mode ? m->mode : 0755;
				if (chown(dir, m->uid >= 0 ? (uid_t)m->uid : 0,
					  m->gid >= 0 ? (gid_t)m->gid : 0) <
					    0 ||
				    chmod(dir, mode) < 0) {
					error_set_errno(err, "cache dir '%s'",
							dir);
					return -1;
				}
			} else if (errno != EEXIST) {
				error_set_errno(err, "mkdir '%s'", dir);
				return -1;
			}
			if (m->sharing == DOCKERFILE_SHARING_LOCKED) {
				cleanup_free char *lp = xstrfmt("%s.lock", dir);
				int fd = open(lp, O_RDWR | O_CREAT | O_CLOEXEC,
					      0600);
				if (fd >= 0) {
					flock(fd, LOCK_EX);
					mp->lock_fds = xrealloc(
						mp->lock_fds,
						(mp->nlocks + 1) * sizeof(int));
					mp->lock_fds[mp->nlocks++] = fd;
				}
			}
			note_missing(b, st, mp, target, false);
			sandbox_add_bind(sb, dir, target, m->readonly);
			break;
		}
		case DOCKERFILE_MOUNT_TMPFS: {
			if (!target) {
				error_set(err, KILN_EINVAL,
					  "tmpfs mount needs a target");
				return -1;
			}
			if (k)
				build_key_addf(k, "tmpfs %s %llu", target,
					       m->size);
			if (!sb)
				break;
			cleanup_free char *opt =
				m->size ? xstrfmt("size=%llu", m->size) : NULL;
			note_missing(b, st, mp, target, false);
			sandbox_add_tmpfs(sb, target, opt);
			break;
		}
		case DOCKERFILE_MOUNT_SECRET: {
			const char *id = m->id;
			if (!id && m->target) {
				const char *s = strrchr(m->target, '/');
				id = s ? s + 1 : m->target;
			}
			if (!id) {
				error_set(err, KILN_EINVAL,
					  "secret mount needs an id");
				return -1;
			}
			const struct build_secret *sec = find_secret(b, id);
			if (!sec) {
				if (m->required) {
					error_set(err, KILN_ENOTFOUND,
						  "secret %s not found (pass "
						  "it with --secret id=%s,"
						  "src=FILE)",
						  id, id);
					return -1;
				}
				break;
			}
			if (!target && !m->env)
				target = xstrfmt("/run/secrets/%s", id);
			if (k)
				build_key_addf(k, "secret %s %s %s", id,
					       target ? target : "",
					       m->env ? m->env : "");
			if (!sb)
				break;
			struct strbuf val = STRBUF_INIT;
			if (secret_value(sec, &val, err) < 0) {
				strbuf_release(&val);
				return -1;
			}
			if (m->env)
				strvec_pushf(&sb->env, "%s=%s", m->env,
					     val.buf);
			if (target) {
				note_missing(b, st, mp, target, true);
				sandbox_add_file(sb, target, val.buf,
						 m->has_mode ? m->mode : 0400);
			}
			strbuf_release(&val);
			break;
		}
		case DOCKERFILE_MOUNT_SSH:
			if (k)
				build_key_add(k, "ssh");
			if (sb && m->required) {
				error_set(err, KILN_EINVAL,
					  "RUN --mount=type=ssh is not "
					  "supported");
				return -1;
			}
			break;
		}
	}
	return 0;
}

/* ------------------------------------------------------------ heredocs */

static void run_argv(const struct build_state *st,
		     const struct dockerfile_run *r, struct strvec *argv,
		     char **script_name, char **script)
{
	*script_name = NULL;
	*script = NULL;
	if (!r->nheredocs || r->cmd.json || r->cmd.args.nr != 1) {
		build_cmdline_argv(st, &r->cmd, argv);
		return;
	}
	const char *cmd = r->cmd.args.v[0];
	const struct dockerfile_heredoc *h = &r->heredocs[0];
	struct dockerfile_cmdline cl = { .json = false };
	const char *one[2] = { NULL, NULL };
	cleanup_free char *data = NULL;
	if (h->chomp) {
		struct strbuf sb = STRBUF_INIT;
		for (const char *p = h->content; *p;) {
			while (*p == '\t')
				p++;
			const char *nl = strchr(p, '\n');
			size_t n = nl ? (size_t)(nl - p + 1) : strlen(p);
			strbuf_add(&sb, p, n);
			p += n;
		}
		data = strbuf_detach(&sb, NULL);
	} else {
		data = xstrdup(h->content);
	}
	/* a lone heredoc: its body is the script */
	const char *c = cmd;
	while (*c == ' ')
		c++;
	bool lone = r->nheredocs == 1 && starts_with(c, "<<");
	if (lone) {
		const char *rest = c + 2;
		if (*rest == '-')
			rest++;
		if (*rest == '"' || *rest == '\'')
			rest++;
		rest += strlen(h->name);
		if (*rest == '"' || *rest == '\'')
			rest++;
		while (*rest == ' ')
			rest++;
		lone = !*rest;
	}
	if (lone && starts_with(data, "#!")) {
		*script_name = xstrfmt("/dev/pipes/%s", h->name);
		*script = xstrdup(data);
		strvec_push(argv, *script_name);
		return;
	}
	struct strbuf full = STRBUF_INIT;
	if (lone) {
		strbuf_addstr(&full, data);
	} else {
		strbuf_addstr(&full, cmd);
		for (size_t i = 0; i < r->nheredocs; i++) {
			strbuf_addch(&full, '\n');
			strbuf_addstr(&full, r->heredocs[i].content);
			strbuf_addstr(&full, r->heredocs[i].name);
		}
	}
	one[0] = full.buf;
	cl.args.v = one;
	cl.args.nr = 1;
	build_cmdline_argv(st, &cl, argv);
	strbuf_release(&full);
}

/* ------------------------------------------------------------ the child */

/*
 * sandbox_run() clones and then calls into libc (setresuid, fork) the way
 * a single-threaded program may; in our threaded process that can
 * deadlock (glibc's setxid waits for threads the clone does not have).
 * So each RUN is started from a fork()ed, single-threaded child, which
 * reports back through a pipe: "<ret> <status>\n<error>\0<created>\0...".
 */
static int run_in_child(struct build_stage *bs, struct sandbox *sb, int out_fd,
			int *status, struct error **err)
{
	struct build *b = bs->b;
	int msg[2];
	if (pipe2(msg, O_CLOEXEC) < 0) {
		error_set_errno(err, "pipe");
		return -1;
	}
	pid_t pid = fork();
	if (pid < 0) {
		error_set_errno(err, "fork");
		close(msg[0]);
		close(msg[1]);
		return -1;
	}
	if (pid == 0) {
		close(msg[0]);
		struct error *e = NULL;
		int st = 0;
		int r = sandbox_run(sb, &st, &e);
		struct strbuf o = STRBUF_INIT;
		strbuf_addf(&o, "%d %d\n%s", r, st, e ? e->msg : "");
		strbuf_addch(&o, 0);
		for (size_t i = 0; i < sb->created.nr; i++) {
			strbuf_addstr(&o, sb->created.v[i]);
			strbuf_addch(&o, 0);
		}
		ssize_t w = write(msg[1], o.buf, o.len);
		_exit(w == (ssize_t)o.len ? 0 : 1);
	}
	close(msg[1]);
	close(out_fd);
	pthread_mutex_lock(&b->lock);
	bs->run_pid = pid;
	pthread_mutex_unlock(&b->lock);
	struct strbuf in = STRBUF_INIT;
	strbuf_read_fd(&in, msg[0]);
	close(msg[0]);
	int ws;
	while (waitpid(pid, &ws, 0) < 0 && errno == EINTR)
		;
	pthread_mutex_lock(&b->lock);
	bs->run_pid = 0;
	pthread_mutex_unlock(&b->lock);
	int r = -1;
	*status = 125;
	const char *nl = memchr(in.buf, '\n', in.len);
	if (!nl || sscanf(in.buf, "%d %d", &r, status) != 2) {
		error_set(err, KILN_EINTERNAL, "RUN helper process failed");
		strbuf_release(&in);
		return -1;
	}
	const char *emsg = nl + 1;
	if (r < 0)
		error_set(err, KILN_EINTERNAL, "%s", emsg);
	strvec_clear(&sb->created);
	const char *end = in.buf + in.len;
	for (const char *p = emsg + strlen(emsg) + 1; p < end;
	     p += strlen(p) + 1)
		strvec_push(&sb->created, p);
	strbuf_release(&in);
	return r;
}

/* ------------------------------------------------------------ the step */

static const char *hosts_text = "127.0.0.1\tlocalhost buildkitsandbox\n"
				"::1\tlocalhost ip6-localhost ip6-loopback\n";

int build_step_run(struct build_stage *bs, const struct dockerfile_instr *in,
		   struct build_step_info *si, struct error **err)
{
	struct build *b = bs->b;
	struct build_state *st = &bs->state;
	const struct dockerfile_run *r = &in->u.run;
	struct oci_run_config *rc = &st->config->config;
	double t0 = mono();
	int ret = -1;
	struct strvec argv = STRVEC_INIT;
	char *script_name = NULL, *script = NULL;
	char *created_by = build_created_by(bs, st, in);
	struct mount_plan mp = { .dirs_missing = STRVEC_INIT,
				 .cleanup_mnts = STRVEC_INIT,
				 .cleanup_dirs = STRVEC_INIT };
	struct sandbox sb;
	bool sb_init = false;
	char *scratch = NULL, *upper = NULL;
	struct reader rd = { .b = b, .si = si, .fd = -1 };
	bool reader_started = false;
	int pipefd[2] = { -1, -1 };
	int ufd = -1;
	bool net_none = r->network == DOCKERFILE_NETWORK_NONE ||
			(r->network == DOCKERFILE_NETWORK_DEFAULT &&
			 b->o->network_none);

	const char *t = in->node->original;
	while (*t == ' ')
		t++;
	si->text = t;
	build_progress_start(b, si);

	run_argv(st, r, &argv, &script_name, &script);
	struct build_keyer k;
	build_key_init(&k, st->key);
	build_key_add(&k, "RUN");
	for (size_t i = 0; i < argv.nr; i++)
		build_key_addf(&k, "arg %s", argv.v[i]);
	if (script)
		build_key_addf(&k, "script %s", script);
	for (size_t i = 0; i < r->env.nr; i++)
		build_key_addf(&k, "env %s", r->env.v[i]);
	for (size_t i = 0; i < b->plan->proxy_env.nr; i++)
		build_key_addf(&k, "proxy %s", b->plan->proxy_env.v[i]);
	build_key_addf(&k, "user=%s wd=%s net=%d sec=%d",
		       rc->user ? rc->user : "",
		       rc->working_dir ? rc->working_dir : "", net_none,
		       r->security);
	if (setup_mounts(bs, r, &k, NULL, NULL, err) < 0) {
		error_wrap(err, "%s:%d", b->dockerfile_name, in->line);
		struct build_keyer dummy = k;
		char tmp[BUILD_KEY_HEX];
		build_key_final(&dummy, tmp);
		goto out;
	}
	char key[BUILD_KEY_HEX];
	build_key_final(&k, key);
	if (build_step_cached(bs, key, created_by)) {
		build_progress_done(b, si, true, mono() - t0, NULL);
		ret = 0;
		goto out_quiet;
	}

	/* execute */
	for (size_t i = 0; i < st->nlayers; i++)
		if (build_layer_ensure(b, &st->layers[i], err) < 0)
			goto out;
	sandbox_init(&sb);
	sb_init = true;
	scratch = build_tmpdir(b, "run", err);
	if (!scratch)
		goto out;
	upper = build_tmpdir(b, "run-upper", err);
	if (!upper)
		goto out;
	sb.scratch = xstrdup(scratch);
	sb.upper = xstrdup(upper);
	if (st->nlayers) {
		/* overlay refuses a dir twice: keep the topmost copy */
		for (size_t i = 0; i < st->nlayers; i++) {
			bool again = false;
			for (size_t j = i + 1; j < st->nlayers; j++)
				if (!strcmp(st->layers[i].diffid,
					    st->layers[j].diffid))
					again = true;
			if (!again)
				strvec_push_nodup(
					&sb.lower,
					store_layer_path(b->s,
							 st->layers[i].diffid));
		}
	} else {
		/* FROM scratch: an empty lower dir */
		cleanup_free char *e = xstrfmt("%s/empty", scratch);
		mkdir(e, 0755);
		strvec_push(&sb.lower, e);
	}
	for (size_t i = 0; i < argv.nr; i++)
		strvec_push(&sb.argv, argv.v[i]);
	for (size_t i = 0; i < b->plan->proxy_env.nr; i++)
		strvec_push(&sb.env, b->plan->proxy_env.v[i]);
	bool has_home = false;
	for (size_t i = 0; i < r->env.nr; i++) {
		strvec_push(&sb.env, r->env.v[i]);
		if (starts_with(r->env.v[i], "HOME="))
			has_home = true;
	}
	if (!has_home) {
		char *home = user_home(b, st, rc->user);
		strvec_pushf(&sb.env, "HOME=%s", home);
		free(home);
	}
	sb.cwd = xstrdup(rc->working_dir && *rc->working_dir ? rc->working_dir
							     : "/");
	if (rc->user && *rc->user)
		sb.user = xstrdup(rc->user);
	sb.hostname = xstrdup("buildkitsandbox");
	sb.network = net_none ? SANDBOX_NET_NONE : SANDBOX_NET_HOST;
	sb.executor = b->o->isolation_oci ? SANDBOX_OCI : SANDBOX_NATIVE;
	sb.init = true;
	if (r->security == DOCKERFILE_SECURITY_INSECURE)
		sb.caps = ~0ULL;
	sandbox_add_file(&sb, "/etc/hosts", hosts_text, 0644);
	sandbox_add_file(&sb, "/etc/hostname", "buildkitsandbox\n", 0644);
	if (!net_none) {
		struct strbuf rv = STRBUF_INIT;
		if (strbuf_read_file(&rv, "/etc/resolv.conf") < 0)
			strbuf_addstr(&rv, "nameserver 127.0.0.1\n");
		sandbox_add_file(&sb, "/etc/resolv.conf", rv.buf, 0644);
		strbuf_release(&rv);
	} else {
		sandbox_add_file(&sb, "/etc/resolv.conf", "", 0644);
	}
	if (script)
		sandbox_add_file(&sb, script_name, script, 0755);
	/* runc's mount points and the /etc of hosts and resolv.conf stay in
	 * BuildKit's layer when the image lacks them */
	static const char *const runc_dirs[] = { "dev", "proc", "sys", "etc" };
	for (size_t i = 0; i < ARRAY_SIZE(runc_dirs); i++)
		if (!lowers_have(b, st, runc_dirs[i]))
			strvec_push(&mp.dirs_missing, runc_dirs[i]);
	if (setup_mounts(bs, r, NULL, &sb, &mp, err) < 0) {
		error_wrap(err, "%s:%d", b->dockerfile_name, in->line);
		goto out;
	}

	if (pipe2(pipefd, O_CLOEXEC) < 0) {
		error_set_errno(err, "pipe");
		goto out;
	}
	sb.stdio[0] = -1;
	sb.stdio[1] = pipefd[1];
	sb.stdio[2] = pipefd[1];
	rd.fd = pipefd[0];
	if (pthread_create(&rd.thread, NULL, reader_main, &rd)) {
		error_set_errno(err, "pthread_create");
		goto out;
	}
	reader_started = true;

	int status = 0;
	struct error *e = NULL;
	int rr = -1;
	if (build_interrupted)
		close(pipefd[1]);
	else
		rr = run_in_child(bs, &sb, pipefd[1], &status, &e);
	pipefd[1] = -1; /* closed by run_in_child */
	pthread_join(rd.thread, NULL);
	reader_started = false;

	struct strbuf cmdtext = STRBUF_INIT;
	for (size_t i = 0; i < argv.nr; i++)
		strbuf_addf(&cmdtext, "%s%s", i ? " " : "", argv.v[i]);
	if (build_interrupted) {
		error_set(err, EINTR, "interrupted");
		error_free(e);
		strbuf_release(&cmdtext);
		goto out;
	}
	if (rr < 0 || status != 0) {
		struct strbuf msg = STRBUF_INIT;
		strbuf_addf(&msg,
			    "process \"%s\" did not complete successfully: "
			    "exit code: %d",
			    cmdtext.buf, status);
		if (e)
			strbuf_addf(&msg, " (%s)", e->msg);
		tail_lines(&rd, 10, &msg);
		error_set(err, KILN_EINVAL, "[%s %d/%d] %s: %s", si->stage,
			  si->index, si->total, si->text, msg.buf);
		strbuf_release(&msg);
		error_free(e);
		strbuf_release(&cmdtext);
		goto out;
	}
	strbuf_release(&cmdtext);

	/* BuildKit keeps the mount points it created, empty */
	ufd = open(upper, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	for (size_t i = 0; i < mp.dirs_missing.nr; i++) {
		const char *rel = mp.dirs_missing.v[i];
		cleanup_free char *copy = xstrdup(rel);
		for (char *p = copy;; p++) {
			if (*p && *p != '/')
				continue;
			char save = *p;
			*p = 0;
			struct stat s;
			if (fstatat(ufd, copy, &s, AT_SYMLINK_NOFOLLOW) < 0 &&
			    !lowers_have(b, st, copy))
				mkdirat(ufd, copy, 0755);
			*p = save;
			if (!save)
				break;
		}
	}
	/* sandbox artefacts that are files never reach the layer */
	struct strvec skip = STRVEC_INIT;
	for (size_t i = 0; i < sb.created.nr; i++) {
		struct stat s;
		if (fstatat(ufd, sb.created.v[i], &s, AT_SYMLINK_NOFOLLOW) ==
			    0 &&
		    !S_ISDIR(s.st_mode))
			strvec_push(&skip, sb.created.v[i]);
	}
	mount_plan_release(b, &mp);
	memset(&mp, 0, sizeof(mp));
	strvec_init(&mp.dirs_missing);
	strvec_init(&mp.cleanup_mnts);
	strvec_init(&mp.cleanup_dirs);
	build_rmtree(scratch);
	/* the layer commit consumes the upper dir */
	char *up = upper;
	upper = NULL;
	ret = build_commit_step(bs, key, created_by, up, true,
				skip.nr ? skip.v : NULL, err);
	free(up);
	strvec_clear(&skip);
out:
	if (reader_started) {
		if (pipefd[1] >= 0)
			close(pipefd[1]);
		pipefd[1] = -1;
		pthread_join(rd.thread, NULL);
	}
	build_progress_done(b, si, false, mono() - t0, ret < 0 ? *err : NULL);
out_quiet:
	if (pipefd[0] >= 0)
		close(pipefd[0]);
	if (pipefd[1] >= 0)
		close(pipefd[1]);
	mount_plan_release(b, &mp);
	if (sb_init)
		sandbox_release(&sb);
	if (upper) {
		store_layer_abort(b->s, upper);
		free(upper);
	}
	if (scratch) {
		build_rmtree(scratch);
		store_layer_abort(b->s, scratch);
		free(scratch);
	}
	if (ufd >= 0)
		close(ufd);
	strvec_clear(&argv);
	free(script_name);
	free(script);
	free(created_by);
	return ret;
}
