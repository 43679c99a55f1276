/*
 * Container records under <store>/containers/<id>/ (see container.h): create
 * with a unique name under containers/lock, state changes by atomic
 * replacement of config.json, listing, lookup by name or id prefix, and
 * removal.  Liveness of a "running" record is its kiln process's pid plus
 * that process's start time.
 */
#include "container/container.h"
#include "store/store.h"
#include "archive/archive.h"
#include "sandbox/sandbox.h"

#include <dirent.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>

/* ------------------------------------------------------------ helpers */

static const char *state_name(enum container_state st)
{
	switch (st) {
	case CONTAINER_CREATED:
		return "created";
	case CONTAINER_RUNNING:
		return "running";
	case CONTAINER_EXITED:
		return "exited";
	}
	return "created";
}

static enum container_state state_parse(const char *s)
{
	if (s && !strcmp(s, "running"))
		return CONTAINER_RUNNING;
	if (s && !strcmp(s, "exited"))
		return CONTAINER_EXITED;
	return CONTAINER_CREATED;
}

/* Field 22 of /proc/PID/stat: the start time in clock ticks; 0 if gone. */
static unsigned long long proc_start_time(pid_t pid)
{
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	/* the command name may hold spaces and parentheses: skip past it */
	char *p = strrchr(buf, ')');
	if (!p)
		return 0;
	p++;
	/* p is at field 3 (state); field 22 is 19 fields further */
	for (int field = 2; field < 21 && p; field++)
		p = strchr(p + 1, ' ');
	if (!p)
		return 0;
	return strtoull(p + 1, NULL, 10);
}

static char *containers_path(struct store *s)
{
	return xstrfmt("%s/%s", s->root, STORE_CONTAINERS_DIR);
}

static int ensure_dir(const char *path, struct error **err)
{
	if (mkdir(path, 0700) < 0 && errno != EEXIST) {
		error_set_errno(err, "mkdir '%s'", path);
		return -1;
	}
	return 0;
}

static int write_file(const char *dir, const char *name, const char *text,
		      struct error **err)
{
	cleanup_free char *tmp = xstrfmt("%s/.%s.tmp", dir, name);
	cleanup_free char *dst = xstrfmt("%s/%s", dir, name);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		error_set_errno(err, "open '%s'", tmp);
		return -1;
	}
	size_t len = strlen(text), off = 0;
	while (off < len) {
		ssize_t n = write(fd, text + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			error_set_errno(err, "write '%s'", tmp);
			close(fd);
			unlink(tmp);
			return -1;
		}
		off += (size_t)n;
	}
	if (close(fd) < 0 || rename(tmp, dst) < 0) {
		error_set_errno(err, "write '%s'", dst);
		unlink(tmp);
		return -1;
	}
	return 0;
}

/* ------------------------------------------------------------ records */

void container_free(struct container *c)
{
	if (!c)
		return;
	free(c->id);
	free(c->name);
	free(c->image);
	free(c->image_id);
	free(c->manifest);
	strvec_clear(&c->command);
	free(c->hostname);
	free(c->dir);
	free(c);
}

static char *time_string(int64_t t)
{
	struct tm tm;
	time_t tt = (time_t)t;
	char buf[64];
	gmtime_r(&tt, &tm);
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
	return xstrdup(buf);
}

int container_save(const struct container *c, struct error **err)
{
	json_t *o = json_object();
	json_t *cmd = json_array();
	for (size_t i = 0; i < c->command.nr; i++)
		json_array_append_new(cmd, json_string(c->command.v[i]));
	cleanup_free char *created = time_string(c->created);
	json_object_set_new(o, "Id", json_string(c->id));
	json_object_set_new(o, "Name", json_string(c->name));
	json_object_set_new(o, "Image", json_string(c->image));
	json_object_set_new(o, "ImageID", json_string(c->image_id));
	json_object_set_new(o, "Manifest", json_string(c->manifest));
	json_object_set_new(o, "Command", cmd);
	json_object_set_new(o, "Hostname", json_string(c->hostname));
	json_object_set_new(o, "Created", json_string(created));
	json_object_set_new(o, "CreatedUnix", json_integer(c->created));
	json_object_set_new(o, "CreatedNano", json_integer(c->created_ns));
	json_t *st = json_object();
	json_object_set_new(st, "Status", json_string(state_name(c->state)));
	json_object_set_new(st, "Pid", json_integer(c->pid));
	json_object_set_new(st, "PidStart",
			    json_integer((json_int_t)c->pid_start));
	json_object_set_new(st, "ExitCode", json_integer(c->exit_code));
	json_object_set_new(st, "StartedUnix", json_integer(c->started));
	json_object_set_new(st, "FinishedUnix", json_integer(c->finished));
	json_object_set_new(o, "State", st);
	char *text = json_dumps(o, JSON_INDENT(2) | JSON_SORT_KEYS);
	json_decref(o);
	cleanup_strbuf struct strbuf sb = STRBUF_INIT;
	strbuf_addstr(&sb, text);
	strbuf_addch(&sb, '\n');
	free(text);
	return write_file(c->dir, "config.json", sb.buf, err);
}

static char *jstr(json_t *o, const char *key)
{
	const char *v = json_string_value(json_object_get(o, key));
	return v ? xstrdup(v) : NULL;
}

static struct container *container_read(const char *dir, const char *id)
{
	cleanup_free char *path = xstrfmt("%s/config.json", dir);
	json_t *o = json_load_file(path, 0, NULL);
	if (!o)
		return NULL;
	struct container *c = xcalloc(1, sizeof(*c));
	strvec_init(&c->command);
	c->id = jstr(o, "Id");
	c->name = jstr(o, "Name");
	c->image = jstr(o, "Image");
	c->image_id = jstr(o, "ImageID");
	c->manifest = jstr(o, "Manifest");
	c->hostname = jstr(o, "Hostname");
	c->created = json_integer_value(json_object_get(o, "CreatedUnix"));
	c->created_ns = json_integer_value(json_object_get(o, "CreatedNano"));
	size_t i;
	json_t *v;
	json_array_foreach(json_object_get(o, "Command"), i, v)
	{
		if (json_is_string(v))
			strvec_push(&c->command, json_string_value(v));
	}
	json_t *st = json_object_get(o, "State");
	c->state = state_parse(json_string_value(json_object_get(st, "Statu"
								     "s")));
	c->pid = (pid_t)json_integer_value(json_object_get(st, "Pid"));
	c->pid_start = (unsigned long long)json_integer_value(
		json_object_get(st, "PidStart"));
	c->exit_code = (int)json_integer_value(json_object_get(st, "ExitCode"));
	c->started = json_integer_value(json_object_get(st, "StartedUnix"));
	c->finished = json_integer_value(json_object_get(st, "FinishedUnix"));
	json_decref(o);
	c->dir = xstrdup(dir);
	if (!c->id || strcmp(c->id, id) || !c->name || !c->image) {
		container_free(c);
		return NULL;
	}
	if (!c->image_id)
		c->image_id = xstrdup("");
	if (!c->manifest)
		c->manifest = xstrdup("");
	if (!c->hostname)
		c->hostname = xstrdup("");
	return c;
}

bool container_is_running(const struct container *c)
{
	return c->state == CONTAINER_RUNNING && c->pid > 0 &&
	       proc_start_time(c->pid) == c->pid_start;
}

int container_set_running(struct container *c, struct error **err)
{
	c->state = CONTAINER_RUNNING;
	c->pid = getpid();
	c->pid_start = proc_start_time(c->pid);
	c->started = time(NULL);
	return container_save(c, err);
}

int container_set_exited(struct container *c, int code, bool started,
			 struct error **err)
{
	c->state = started ? CONTAINER_EXITED : CONTAINER_CREATED;
	c->exit_code = code;
	c->pid = 0;
	c->pid_start = 0;
	c->finished = time(NULL);
	return container_save(c, err);
}

/* ------------------------------------------------------------ listing */

static int cmp_created(const void *a, const void *b)
{
	const struct container *x = *(struct container *const *)a;
	const struct container *y = *(struct container *const *)b;
	if (x->created_ns != y->created_ns)
		return x->created_ns > y->created_ns ? -1 : 1;
	return strcmp(x->id, y->id);
}

static bool is_id(const char *s)
{
	size_t n = 0;
	for (; s[n]; n++)
		if (!((s[n] >= '0' && s[n] <= '9') ||
		      (s[n] >= 'a' && s[n] <= 'f')))
			return false;
	return n == 64;
}

int container_list(struct store *s, struct container ***out, size_t *nr,
		   struct error **err)
{
	cleanup_free char *top = containers_path(s);
	*out = NULL;
	*nr = 0;
	DIR *d = opendir(top);
	if (!d) {
		if (errno == ENOENT)
			return 0;
		error_set_errno(err, "open '%s'", top);
		return -1;
	}
	struct container **v = NULL;
	size_t n = 0, alloc = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (!is_id(de->d_name))
			continue;
		cleanup_free char *dir = xstrfmt("%s/%s", top, de->d_name);
		struct container *c = container_read(dir, de->d_name);
		if (!c)
			continue;
		if (c->state == CONTAINER_RUNNING && !container_is_running(c)) {
			/* its kiln process died without recording an exit */
			c->state = CONTAINER_EXITED;
			c->exit_code = 255;
			if (!c->finished)
				c->finished = c->started;
		}
		ALLOC_GROW(v, n + 1, alloc);
		v[n++] = c;
	}
	closedir(d);
	if (n)
		qsort(v, n, sizeof(*v), cmp_created);
	*out = v;
	*nr = n;
	return 0;
}

void container_list_free(struct container **v, size_t nr)
{
	for (size_t i = 0; i < nr; i++)
		container_free(v[i]);
	free(v);
}

struct container *container_lookup(struct store *s, const char *what,
				   struct error **err)
{
	struct container **v;
	size_t nr;
	if (container_list(s, &v, &nr, err) < 0)
		return NULL;
	struct container *found = NULL;
	size_t matches = 0;
	/* docker: full id, then full name, then a unique id prefix */
	for (size_t i = 0; !found && i < nr; i++)
		if (!strcmp(v[i]->id, what))
			found = v[i];
	for (size_t i = 0; !found && i < nr; i++)
		if (!strcmp(v[i]->name, what) ||
		    (what[0] == '/' && !strcmp(v[i]->name, what + 1)))
			found = v[i];
	if (!found && *what) {
		for (size_t i = 0; i < nr; i++) {
			if (starts_with(v[i]->id, what)) {
				found = v[i];
				matches++;
			}
		}
		if (matches > 1) {
			error_set(err, KILN_EINVAL,
				  "multiple IDs found with provided prefix: %s",
				  what);
			container_list_free(v, nr);
			return NULL;
		}
	}
	if (!found) {
		error_set(err, KILN_ENOTFOUND, "No such container: %s", what);
		container_list_free(v, nr);
		return NULL;
	}
	for (size_t i = 0; i < nr; i++)
		if (v[i] != found)
			container_free(v[i]);
	free(v);
	return found;
}

/* ------------------------------------------------------------ create */

static const char *const adjectives[] = {
	"admiring", "agitated", "amazing",  "bold",	"brave",    "busy",
	"clever",   "cool",	"dazzling", "eager",	"ecstatic", "elegant",
	"epic",	    "focused",	"gallant",  "gifted",	"happy",    "hopeful",
	"jolly",    "keen",	"kind",	    "loving",	"lucid",    "modest",
	"nifty",    "quirky",	"relaxed",  "serene",	"sharp",    "stoic",
	"tender",   "upbeat",	"vibrant",  "wizardly", "zealous",
};
static const char *const nouns[] = {
	"babbage",  "bell",    "bohr",	  "curie",   "darwin",	 "dijkstra",
	"einstein", "euler",   "fermat",  "feynman", "gauss",	 "hopper",
	"hypatia",  "kepler",  "knuth",	  "lamport", "lovelace", "maxwell",
	"mccarthy", "noether", "pascal",  "ritchie", "shannon",	 "thompson",
	"torvalds", "turing",  "wozniak", "yalow",   "wu",	 "tesla",
};

static bool name_valid(const char *n)
{
	/* docker: [a-zA-Z0-9][a-zA-Z0-9_.-]+ */
	if (!((n[0] >= 'a' && n[0] <= 'z') || (n[0] >= 'A' && n[0] <= 'Z') ||
	      (n[0] >= '0' && n[0] <= '9')) ||
	    !n[1])
		return false;
	for (const char *p = n + 1; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '_' || *p == '.' ||
		      *p == '-'))
			return false;
	return true;
}

static const struct container *name_owner(struct container *const *v, size_t nr,
					  const char *name)
{
	for (size_t i = 0; i < nr; i++)
		if (!strcmp(v[i]->name, name))
			return v[i];
	return NULL;
}

struct container *container_create(struct store *s,
				   const struct store_image *img,
				   const char *image, const char *name,
				   const char *const *command,
				   struct error **err)
{
	if (name && name[0] == '/')
		name++;
	if (name && !name_valid(name)) {
		error_set(err, KILN_EINVAL,
			  "Invalid container name (%s), only "
			  "[a-zA-Z0-9][a-zA-Z0-9_.-] are allowed",
			  name);
		return NULL;
	}
	cleanup_free char *top = containers_path(s);
	if (ensure_dir(top, err) < 0)
		return NULL;
	unsigned char rnd[32 + 2];
	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
		error_set_errno(err, "getrandom");
		return NULL;
	}
	char id[65];
	for (int i = 0; i < 32; i++)
		snprintf(id + 2 * i, 3, "%02x", rnd[i]);

	cleanup_free char *lockpath = xstrfmt("%s/lock", top);
	cleanup_close int lfd =
		open(lockpath, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (lfd < 0 || flock(lfd, LOCK_EX) < 0) {
		error_set_errno(err, "lock '%s'", lockpath);
		return NULL;
	}
	struct container **v;
	size_t nr;
	if (container_list(s, &v, &nr, err) < 0)
		return NULL;
	cleanup_free char *chosen = NULL;
	if (name) {
		const struct container *o = name_owner(v, nr, name);
		if (o) {
			error_set(err, KILN_EINVAL,
				  "Conflict. The container name \"/%s\" is "
				  "already in use by container \"%s\". You "
				  "have to remove (or rename) that container "
				  "to be able to reuse that name.",
				  name, o->id);
			container_list_free(v, nr);
			return NULL;
		}
		chosen = xstrdup(name);
	} else {
		unsigned r = rnd[32] | (unsigned)rnd[33] << 8;
		for (int tries = 0; tries < 10 && !chosen; tries++, r += 7919) {
			char *n = xstrfmt(
				"%s_%s", adjectives[r % ARRAY_SIZE(adjectives)],
				nouns[(r / ARRAY_SIZE(adjectives)) %
				      ARRAY_SIZE(nouns)]);
			if (name_owner(v, nr, n))
				free(n);
			else
				chosen = n;
		}
		if (!chosen)
			chosen = xstrfmt("kiln_%.12s", id);
	}
	container_list_free(v, nr);

	struct container *c = xcalloc(1, sizeof(*c));
	strvec_init(&c->command);
	c->id = xstrdup(id);
	c->name = steal_pointer(&chosen);
	c->image = xstrdup(image);
	c->image_id = xstrdup(img->config_digest);
	c->manifest = xstrdup(img->manifest_digest);
	strvec_pushv(&c->command, (const char **)command);
	c->hostname = xstrfmt("%.12s", id);
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	c->created = now.tv_sec;
	c->created_ns = (int64_t)now.tv_sec * 1000000000 + now.tv_nsec;
	c->state = CONTAINER_CREATED;
	c->dir = xstrfmt("%s/%s", top, id);
	if (mkdir(c->dir, 0700) < 0) {
		error_set_errno(err, "mkdir '%s'", c->dir);
		container_free(c);
		return NULL;
	}
	cleanup_free char *digest = xstrfmt("%s\n", c->manifest);
	if (write_file(c->dir, "image", digest, err) < 0 ||
	    container_save(c, err) < 0) {
		int dfd = open(top, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dfd >= 0) {
			rm_rf_at(dfd, id);
			close(dfd);
		}
		container_free(c);
		return NULL;
	}
	return c;
}

/* ------------------------------------------------------------ remove */

int container_remove(struct container *c, bool force, struct error **err)
{
	if (container_is_running(c)) {
		if (!force) {
			error_set(err, KILN_EINVAL,
				  "You cannot remove a running container %s. "
				  "Stop the container before attempting "
				  "removal or force remove",
				  c->id);
			return -1;
		}
		/* the container dies with its kiln process (PDEATHSIG) */
		kill(c->pid, SIGKILL);
		for (int i = 0; i < 1000 && container_is_running(c); i++)
			usleep(10000);
		if (container_is_running(c)) {
			error_set(err, KILN_EINTERNAL,
				  "could not kill container %s", c->id);
			return -1;
		}
	}
	char *slash = strrchr(c->dir, '/');
	cleanup_free char *top = xstrndup(c->dir, (size_t)(slash - c->dir));
	cleanup_close int dfd = open(top, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		error_set_errno(err, "open '%s'", top);
		return -1;
	}
	/* the record first: a half-removed container is gone for ps */
	cleanup_free char *cfg = xstrfmt("%s/config.json", c->id);
	unlinkat(dfd, cfg, 0);
	/* rootless: a container's other users own files of its layer */
	if (sandbox_remove_tree(dfd, c->id, err) < 0) {
		error_wrap(err, "remove container '%s'", c->id);
		return -1;
	}
	return 0;
}

/* ------------------------------------------------------------ layers */

static int layer_extract(struct store *s, const struct store_layer_desc *l,
			 struct error **err)
{
	cleanup_free char *staging = store_layer_begin(s, err);
	if (!staging)
		return -1;
	cleanup_close int rootfd =
		open(staging, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0) {
		error_set_errno(err, "open '%s'", staging);
		store_layer_abort(s, staging);
		return -1;
	}
	cleanup_close int bfd = store_blob_open(s, l->digest, NULL, err);
	if (bfd < 0) {
		store_layer_abort(s, staging);
		return -1;
	}
	struct archive_input in = { archive_fd_read, &bfd };
	cleanup_free char *what = xstrfmt("layer %s", l->digest);
	struct archive_extract_opts eo = {
		.whiteouts = ARCHIVE_WHITEOUT_OVERLAY,
		.userxattr = geteuid() != 0,
		.what = what,
	};
	struct archive_extract_stats stats;
	if (archive_extract(rootfd, &in, &eo, &stats, err) < 0) {
		store_layer_abort(s, staging);
		return -1;
	}
	if (l->diffid && strcmp(stats.digests.uncompressed, l->diffid)) {
		error_set(err, KILN_ECORRUPT,
			  "layer %s: content is %s, expected diffID %s",
			  l->digest, stats.digests.uncompressed, l->diffid);
		store_layer_abort(s, staging);
		return -1;
	}
	return store_layer_commit(s, staging, l->diffid, err);
}

int container_layers_prepare(struct store *s, const struct store_image *img,
			     struct strvec *lowers, struct error **err)
{
	struct store_layer_desc *layers;
	size_t nr;
	if (store_image_layers(s, img, &layers, &nr, err) < 0)
		return -1;
	int ret = 0;
	for (size_t i = 0; i < nr && !ret; i++) {
		if (!layers[i].diffid) {
			error_set(err, KILN_ECORRUPT,
				  "layer %s: no diffID in the image config",
				  layers[i].digest);
			ret = -1;
		} else if (!store_layer_exists(s, layers[i].diffid)) {
			ret = layer_extract(s, &layers[i], err);
		}
		if (!ret)
			strvec_push_nodup(
				lowers, store_layer_path(s, layers[i].diffid));
	}
	store_layer_descs_free(layers, nr);
	return ret;
}
