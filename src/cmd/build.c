/*
 * kiln build [OPTIONS] CONTEXT|-: parse the options, print the progress
 * (plain "#N [stage i/n] INSTR" lines with the step output, or a compact
 * view on a terminal, or nothing with -q) and the image ID.  All the work
 * is build_run()'s.
 */
#include "cmd/cmd.h"
#include "build/build.h"
#include "registry/registry.h"
#include "store/store.h"

#include <pthread.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/stat.h>

static const char build_usage[] = "kiln build [OPTIONS] PATH | -";

/* ------------------------------------------------------------ printer */

enum progress_mode { PROGRESS_PLAIN, PROGRESS_TTY, PROGRESS_QUIET };

struct partial {
	int id;
	struct strbuf buf;
};

struct running {
	int id;
	char *label; /* "[builder 3/4] RUN go build ..." */
	double start;
};

struct printer {
	enum progress_mode mode;
	FILE *out;
	double start;
	struct partial *parts;
	size_t nparts, alloc;
	int last_id; /* tty: the step whose output was shown last */
	/* tty: the live view below the log, redrawn by a ticker */
	pthread_mutex_t lock;
	struct running *run;
	size_t nrun, run_alloc;
	int drawn; /* status lines on screen */
	int done, total;
	bool stop;
	int cols;
};

static double mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* tty: remove the live view (the cursor ends where it began). */
static void tty_erase(struct printer *p)
{
	if (p->mode != PROGRESS_TTY || !p->drawn)
		return;
	fprintf(p->out, "\033[%dA\r\033[J", p->drawn);
	p->drawn = 0;
}

/* tty: draw "[+] Building 3.1s (4/7)" and one line per running step. */
static void tty_draw(struct printer *p)
{
	if (p->mode != PROGRESS_TTY)
		return;
	double now = mono();
	int w = p->cols > 20 ? p->cols - 1 : 79;
	fprintf(p->out, "[+] Building %.1fs (%d/%d)\n", now - p->start, p->done,
		p->total);
	p->drawn = 1;
	for (size_t i = 0; i < p->nrun; i++) {
		char t[32];
		snprintf(t, sizeof(t), " %.1fs", now - p->run[i].start);
		int room = w - 4 - (int)strlen(t);
		fprintf(p->out, " => %.*s%s\n", room > 0 ? room : 0,
			p->run[i].label, t);
		p->drawn++;
	}
	fflush(p->out);
}

static void *tty_ticker(void *arg)
{
	struct printer *p = arg;
	for (;;) {
		struct timespec ts = { 0, 100 * 1000000 };
		nanosleep(&ts, NULL);
		pthread_mutex_lock(&p->lock);
		bool stop = p->stop;
		if (!stop) {
			tty_erase(p);
			tty_draw(p);
		}
		pthread_mutex_unlock(&p->lock);
		if (stop)
			return NULL;
	}
}

static struct strbuf *partial_for(struct printer *p, int id)
{
	for (size_t i = 0; i < p->nparts; i++)
		if (p->parts[i].id == id)
			return &p->parts[i].buf;
	ALLOC_GROW(p->parts, p->nparts + 1, p->alloc);
	p->parts[p->nparts].id = id;
	strbuf_init(&p->parts[p->nparts].buf, 0);
	return &p->parts[p->nparts++].buf;
}

static void print_line(struct printer *p, const struct build_step_info *st,
		       const char *line, size_t len)
{
	if (p->mode == PROGRESS_PLAIN)
		fprintf(p->out, "#%d %.3f %.*s\n", st->id, mono() - p->start,
			(int)len, line);
	else
		fprintf(p->out, "  %.*s\n", (int)len, line);
}

static void flush_partial(struct printer *p, const struct build_step_info *st)
{
	struct strbuf *sb = partial_for(p, st->id);
	if (sb->len)
		print_line(p, st, sb->buf, sb->len);
	strbuf_reset(sb);
}

/* "[builder 3/4] RUN make", "[internal] pull busybox"; caller frees. */
static char *step_label(const struct build_step_info *st)
{
	if (st->internal)
		return xstrfmt("[internal] %s", st->text);
	return xstrfmt("[%s %d/%d] %s", st->stage, st->index, st->total,
		       st->text);
}

static void on_start(void *data, const struct build_step_info *st)
{
	struct printer *p = data;
	if (p->mode == PROGRESS_QUIET)
		return;
	if (p->mode == PROGRESS_PLAIN) {
		cleanup_free char *label = step_label(st);
		fprintf(p->out, "\n#%d %s\n", st->id, label);
	} else {
		pthread_mutex_lock(&p->lock);
		ALLOC_GROW(p->run, p->nrun + 1, p->run_alloc);
		p->run[p->nrun].id = st->id;
		p->run[p->nrun].label = step_label(st);
		p->run[p->nrun].start = mono();
		p->nrun++;
		p->total++;
		tty_erase(p);
		tty_draw(p);
		pthread_mutex_unlock(&p->lock);
	}
	fflush(p->out);
}

static void on_output(void *data, const struct build_step_info *st,
		      const char *buf, size_t len)
{
	struct printer *p = data;
	if (p->mode == PROGRESS_QUIET)
		return;
	pthread_mutex_lock(&p->lock);
	tty_erase(p);
	if (p->mode == PROGRESS_TTY && p->last_id != st->id) {
		cleanup_free char *label = step_label(st);
		fprintf(p->out, " => %s\n", label);
		p->last_id = st->id;
	}
	struct strbuf *sb = partial_for(p, st->id);
	strbuf_add(sb, buf, len);
	char *nl;
	while ((nl = memchr(sb->buf, '\n', sb->len))) {
		size_t n = (size_t)(nl - sb->buf);
		if (n && sb->buf[n - 1] == '\r')
			print_line(p, st, sb->buf, n - 1);
		else
			print_line(p, st, sb->buf, n);
		memmove(sb->buf, nl + 1, sb->len - n - 1);
		strbuf_setlen(sb, sb->len - n - 1);
	}
	tty_draw(p);
	pthread_mutex_unlock(&p->lock);
	fflush(p->out);
}

static void on_done(void *data, const struct build_step_info *st, bool cached,
		    double seconds, const struct error *err)
{
	struct printer *p = data;
	if (p->mode == PROGRESS_QUIET)
		return;
	pthread_mutex_lock(&p->lock);
	tty_erase(p);
	flush_partial(p, st);
	for (size_t i = 0; i < p->nrun; i++) {
		if (p->run[i].id != st->id)
			continue;
		free(p->run[i].label);
		p->run[i] = p->run[--p->nrun];
		p->done++;
		break;
	}
	if (p->mode == PROGRESS_PLAIN) {
		if (cached)
			fprintf(p->out, "#%d CACHED\n", st->id);
		else if (err)
			fprintf(p->out, "#%d ERROR: %s\n", st->id, err->msg);
		else
			fprintf(p->out, "#%d DONE %.1fs\n", st->id, seconds);
	} else {
		cleanup_free char *label = step_label(st);
		fprintf(p->out, " => %s%s%s", cached ? "CACHED " : "", label,
			err ? "  ERROR" : "");
		if (!cached)
			fprintf(p->out, "  %.1fs", seconds);
		fputc('\n', p->out);
		tty_draw(p);
	}
	pthread_mutex_unlock(&p->lock);
	fflush(p->out);
}

static void on_message(void *data, const char *msg)
{
	struct printer *p = data;
	if (p->mode == PROGRESS_QUIET)
		return;
	pthread_mutex_lock(&p->lock);
	tty_erase(p);
	fflush(p->out);
	fprintf(stderr, "%s\n", msg);
	tty_draw(p);
	pthread_mutex_unlock(&p->lock);
}

/* ------------------------------------------------------------ options */

static void on_signal(int sig)
{
	build_interrupt();
}

static int parse_secret(const char *spec, struct build_secret *s)
{
	memset(s, 0, sizeof(*s));
	char *copy = xstrdup(spec);
	char *save = NULL;
	for (char *f = strtok_r(copy, ",", &save); f;
	     f = strtok_r(NULL, ",", &save)) {
		const char *v;
		if (skip_prefix(f, "id=", &v))
			s->id = xstrdup(v);
		else if (skip_prefix(f, "src=", &v) ||
			 skip_prefix(f, "source=", &v))
			s->src = xstrdup(v);
		else if (skip_prefix(f, "env=", &v))
			s->env = xstrdup(v);
		else if (skip_prefix(f, "type=", &v))
			; /* file or env, told apart by src=/env= */
		else {
			free(copy);
			return -1;
		}
	}
	free(copy);
	if (!s->id)
		return -1;
	if (!s->src && !s->env) {
		if (getenv(s->id))
			s->env = xstrdup(s->id);
		else
			return -1;
	}
	return 0;
}

static int parse_output(const char *spec, struct build_opts *o)
{
	char *copy = xstrdup(spec);
	char *save = NULL;
	bool typed = false;
	for (char *f = strtok_r(copy, ",", &save); f;
	     f = strtok_r(NULL, ",", &save)) {
		const char *v;
		if (skip_prefix(f, "type=", &v)) {
			typed = true;
			if (!strcmp(v, "oci"))
				o->output = BUILD_OUTPUT_OCI;
			else if (!strcmp(v, "docker"))
				o->output = BUILD_OUTPUT_DOCKER;
			else if (!strcmp(v, "tar"))
				o->output = BUILD_OUTPUT_TAR;
			else if (!strcmp(v, "local"))
				o->output = BUILD_OUTPUT_LOCAL;
			else if (!strcmp(v, "image"))
				o->output = BUILD_OUTPUT_IMAGE;
			else {
				free(copy);
				return -1;
			}
		} else if (skip_prefix(f, "dest=", &v)) {
			o->output_dest = xstrdup(v);
		} else if (!strchr(f, '=')) {
			/* `-o DIR` is type=local,dest=DIR */
			o->output_dest = xstrdup(f);
		} else {
			free(copy);
			return -1;
		}
	}
	if (!typed && o->output_dest)
		o->output = BUILD_OUTPUT_LOCAL;
	free(copy);
	return o->output == BUILD_OUTPUT_IMAGE || o->output_dest ? 0 : -1;
}

/* ------------------------------------------------------------ push */

static void push_status(void *data, const char *line)
{
	fprintf(data, "%s\n", line);
}

/* --push: every tag built goes to its registry, as `kiln push` does. */
static int push_tags(struct store *s, const struct strvec *tags,
		     const struct registry_options *ro, bool quiet, FILE *out)
{
	struct error *e = NULL;
	struct registry_client *c = registry_client_new(ro, &e);
	if (!c)
		return cmd_fail(e);
	int status = 0;
	for (size_t i = 0; !status && i < tags->nr; i++) {
		struct registry_ref ref = { 0 };
		struct store_image *img = NULL;
		char *digest = NULL;
		size_t len = 0;
		if (registry_ref_parse(&ref, tags->v[i], &e) < 0 ||
		    !(img = store_image_lookup(s, tags->v[i], &e))) {
			status = 1;
		} else {
			cleanup_free char *full = registry_ref_string(&ref);
			if (!quiet) {
				fprintf(out, "\npushing %s\n", full);
				fflush(out);
			}
			if (registry_push_image(c, s, img, &ref, NULL,
						quiet ? NULL : push_status, out,
						&digest, &len, &e) < 0) {
				error_wrap(&e, "push %s", full);
				status = 1;
			} else if (!quiet) {
				fprintf(out, "%s: digest: %s size: %zu\n",
					ref.tag ? ref.tag : "latest", digest,
					len);
			}
		}
		if (status) {
			fflush(out);
			error_print(e);
			error_free(e);
		}
		free(digest);
		store_image_free(img);
		registry_ref_release(&ref);
	}
	registry_client_free(c);
	return status;
}

static char *read_stdin(size_t *len)
{
	struct strbuf sb = STRBUF_INIT;
	if (strbuf_read_fd(&sb, 0) < 0)
		die_errno("read stdin");
	return strbuf_detach(&sb, len);
}

int cmd_build(int argc, char **argv)
{
	struct strvec tags = STRVEC_INIT, build_args = STRVEC_INIT,
		      labels = STRVEC_INIT, secrets = STRVEC_INIT;
	const char *file = NULL, *target = NULL, *progress = "auto",
		   *iidfile = NULL, *network = NULL, *isolation = NULL,
		   *format = NULL, *output = NULL, *platform = NULL;
	bool no_cache = false, pull = false, quiet = false, push = false;
	struct cmd_registry_flags rf = { 0 };
	int jobs = 0;
	struct opt opts[] = {
		OPT_LIST_('t', "tag", &tags, "NAME",
			  "Name and optionally a tag in the name:tag format"),
		OPT_STRING_('f', "file", &file, "FILE",
			    "Name of the Dockerfile (default: "
			    "PATH/Dockerfile)"),
		OPT_STRING_(0, "target", &target, "STAGE",
			    "Set the target build stage to build"),
		OPT_LIST_(0, "build-arg", &build_args, "K[=V]",
			  "Set build-time variables"),
		OPT_BOOL_(0, "no-cache", &no_cache,
			  "Do not use cache when building the image"),
		OPT_BOOL_(0, "pull", &pull,
			  "Always attempt to pull a newer version of the "
			  "image"),
		OPT_BOOL_(0, "push", &push,
			  "Push the tagged image to its registry after the "
			  "build"),
		OPT_STRING_(0, "progress", &progress, "MODE",
			    "Progress output: auto, plain, tty, quiet"),
		OPT_BOOL_('q', "quiet", &quiet,
			  "Suppress the build output and print the image ID"),
		OPT_STRING_(0, "iidfile", &iidfile, "FILE",
			    "Write the image ID to the file"),
		OPT_LIST_(0, "label", &labels, "K=V",
			  "Set metadata for an image"),
		OPT_LIST_(0, "secret", &secrets, "id=ID,src=PATH|env=VAR",
			  "Secret to expose to the build"),
		OPT_STRING_(0, "network", &network, "MODE",
			    "Networking mode for RUN: host (default), none"),
		OPT_STRING_(0, "isolation", &isolation, "MODE",
			    "RUN isolation: native (default), oci"),
		OPT_STRING_(0, "format", &format, "FORMAT",
			    "Manifest format: oci (default), docker"),
		OPT_STRING_('o', "output", &output, "SPEC",
			    "Output: type=oci|docker|tar|local,dest=PATH"),
		OPT_STRING_(0, "platform", &platform, "PLATFORM",
			    "Target platform (only the host's)"),
		OPT_INT_(0, "jobs", &jobs, "N",
			 "Stages built in parallel (default: cores)"),
		OPT_REGISTRY_FLAGS_(&rf),
		OPT_END_(),
	};
	argc = parse_options(argc, argv, opts, build_usage,
			     "Build an image from a Dockerfile", false);
	if (argc != 1)
		usage_error("build", "\"kiln build\" requires exactly 1 "
				     "argument");

	struct build_opts o = { 0 };
	const char *ctx = argv[0];
	cleanup_free char *stdin_text = NULL;
	cleanup_free char *file_abs = NULL;
	if (!strcmp(ctx, "-")) {
		if (file && strcmp(file, "-"))
			usage_error("build", "-f cannot be used with a context "
					     "from "
					     "stdin");
		stdin_text = read_stdin(&o.dockerfile_len);
		o.dockerfile_text = stdin_text;
	} else {
		o.context_dir = ctx;
		if (file && !strcmp(file, "-")) {
			stdin_text = read_stdin(&o.dockerfile_len);
			o.dockerfile_text = stdin_text;
		} else if (file) {
			if (file[0] == '/') {
				o.dockerfile_path = file;
			} else {
				char cwd[4096];
				if (!getcwd(cwd, sizeof(cwd)))
					die_errno("getcwd");
				file_abs = xstrfmt("%s/%s", cwd, file);
				o.dockerfile_path = file_abs;
			}
		}
	}
	if (platform && strcmp(platform, "linux/amd64") &&
	    strcmp(platform, "linux/x86_64"))
		usage_error("build", "unsupported platform \"%s\"", platform);
	if (platform)
		o.platform = "linux/amd64";
	struct registry_options ro = REGISTRY_OPTIONS_INIT;
	cmd_registry_options(&rf, &ro);
	o.registry = &ro;

	struct strvec args = STRVEC_INIT;
	for (size_t i = 0; i < build_args.nr; i++) {
		const char *a = build_args.v[i];
		if (strchr(a, '=')) {
			strvec_push(&args, a);
		} else {
			const char *v = getenv(a);
			if (v)
				strvec_pushf(&args, "%s=%s", a, v);
		}
	}
	o.build_args = args.v;
	o.nbuild_args = args.nr;
	o.tags = tags.v;
	o.ntags = tags.nr;
	o.labels = labels.v;
	o.nlabels = labels.nr;
	o.target = target;
	o.no_cache = no_cache;
	o.pull = pull;
	o.jobs = jobs;
	struct build_secret *sec = xcalloc(secrets.nr + 1, sizeof(*sec));
	for (size_t i = 0; i < secrets.nr; i++)
		if (parse_secret(secrets.v[i], &sec[i]) < 0)
			usage_error("build", "invalid secret \"%s\"",
				    secrets.v[i]);
	o.secrets = sec;
	o.nsecrets = secrets.nr;
	if (network) {
		if (!strcmp(network, "none"))
			o.network_none = true;
		else if (strcmp(network, "host") && strcmp(network, "default"))
			usage_error("build", "unsupported network \"%s\"",
				    network);
	}
	if (isolation) {
		if (!strcmp(isolation, "oci"))
			o.isolation_oci = true;
		else if (strcmp(isolation, "native") && strcmp(isolation, "defa"
									  "ul"
									  "t"))
			usage_error("build", "unsupported isolation \"%s\"",
				    isolation);
	}
	if (format) {
		if (!strcmp(format, "docker"))
			o.docker_format = true;
		else if (strcmp(format, "oci"))
			usage_error("build", "unsupported format \"%s\"",
				    format);
	}
	if (output && parse_output(output, &o) < 0)
		usage_error("build", "invalid --output \"%s\"", output);
	if (push && !tags.nr)
		usage_error("build", "tag is needed when pushing to registry");
	if (push && o.output != BUILD_OUTPUT_IMAGE)
		usage_error("build", "--push needs the image output, not "
				     "--output");

	struct printer pr = { .out = stdout, .start = mono() };
	pthread_mutex_init(&pr.lock, NULL);
	if (quiet || !strcmp(progress, "quiet"))
		pr.mode = PROGRESS_QUIET;
	else if (!strcmp(progress, "plain"))
		pr.mode = PROGRESS_PLAIN;
	else if (!strcmp(progress, "tty"))
		pr.mode = PROGRESS_TTY;
	else if (!strcmp(progress, "auto"))
		pr.mode = isatty(1) ? PROGRESS_TTY : PROGRESS_PLAIN;
	else
		usage_error("build", "invalid progress mode \"%s\"", progress);
	struct build_progress bp = {
		.step_start = on_start,
		.step_output = on_output,
		.step_done = on_done,
		.message = on_message,
		.data = &pr,
	};
	o.progress = &bp;

	struct store *s = cmd_store_open();
	if (!s)
		return 1;
	struct sigaction sa = { .sa_handler = on_signal };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);

	pthread_t ticker;
	bool ticking = false;
	if (pr.mode == PROGRESS_TTY) {
		struct winsize ws;
		pr.cols = ioctl(1, TIOCGWINSZ, &ws) == 0 ? ws.ws_col : 80;
		ticking = !pthread_create(&ticker, NULL, tty_ticker, &pr);
	}
	struct build_result res;
	struct error *e = NULL;
	int ret = build_run(s, &o, &res, &e);
	if (ticking) {
		pthread_mutex_lock(&pr.lock);
		pr.stop = true;
		tty_erase(&pr);
		pthread_mutex_unlock(&pr.lock);
		pthread_join(ticker, NULL);
		pr.mode = PROGRESS_PLAIN; /* no live view from here on */
		fprintf(pr.out, "[+] Building %.1fs (%d/%d) %s\n",
			mono() - pr.start, pr.done, pr.total,
			ret < 0 ? "FAILED" : "FINISHED");
	}
	int status = 0;
	if (ret < 0) {
		if (pr.mode == PROGRESS_PLAIN || pr.mode == PROGRESS_TTY)
			fflush(pr.out);
		bool intr = e && e->code == EINTR;
		error_print(e);
		error_free(e);
		status = intr ? 130 : 1;
	} else {
		if (pr.mode != PROGRESS_QUIET) {
			fprintf(pr.out, "\nwriting image %s done\n",
				res.image_id);
			for (size_t i = 0; i < tags.nr; i++)
				fprintf(pr.out, "naming to %s done\n",
					tags.v[i]);
			fprintf(pr.out, "%s\n", res.image_id);
		} else if (o.output == BUILD_OUTPUT_IMAGE) {
			printf("%s\n", res.image_id);
		}
		if (push &&
		    push_tags(s, &tags, &ro, pr.mode == PROGRESS_QUIET, pr.out))
			status = 1;
		if (iidfile) {
			FILE *f = fopen(iidfile, "w");
			if (!f || fprintf(f, "%s", res.image_id) < 0 ||
			    fclose(f)) {
				error("write '%s': %s", iidfile,
				      strerror(errno));
				status = 1;
			}
		}
		if (o.output == BUILD_OUTPUT_OCI ||
		    o.output == BUILD_OUTPUT_DOCKER) {
			char *sargv[] = {
				(char *)"save",
				(char *)"--format",
				(char *)(o.output == BUILD_OUTPUT_OCI ? "oci-"
									"archiv"
									"e"
								      : "docker"
									"-archi"
									"ve"),
				(char *)"-o",
				(char *)o.output_dest,
				res.image_id,
				NULL,
			};
			store_free(s);
			s = NULL;
			status = cmd_save(6, sargv);
		}
	}
	if (s)
		store_free(s);
	for (size_t i = 0; i < secrets.nr; i++) {
		free((char *)sec[i].id);
		free((char *)sec[i].src);
		free((char *)sec[i].env);
	}
	free(sec);
	for (size_t i = 0; i < pr.nrun; i++)
		free(pr.run[i].label);
	free(pr.run);
	pthread_mutex_destroy(&pr.lock);
	for (size_t i = 0; i < pr.nparts; i++)
		strbuf_release(&pr.parts[i].buf);
	free(pr.parts);
	strvec_clear(&args);
	strvec_clear(&tags);
	strvec_clear(&build_args);
	strvec_clear(&labels);
	strvec_clear(&secrets);
	return status;
}
