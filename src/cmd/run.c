/*
 * kiln run [OPTIONS] IMAGE [COMMAND [ARG...]]: create a container from an
 * image and run it in the sandbox, with docker's semantics for the
 * command (Entrypoint + Cmd), the environment, the user, /etc/hosts,
 * /etc/hostname and /etc/resolv.conf, and the exit status (the command's;
 * 125 for kiln's own failures, 126 not executable, 127 not found).
 */
#include "cmd/cmd.h"
#include "container/container.h"
#include "sandbox/sandbox.h"
#include "store/store.h"

#include <linux/openat2.h>
#include <sys/file.h>
#include <sys/syscall.h>
#include <sys/stat.h>

#define DEFAULT_PATH \
	"/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

struct run_opts {
	bool rm, init, interactive, tty, read_only;
	const char *name, *workdir, *user, *entrypoint, *network, *hostname;
	const char *isolation, *runtime;
	struct strvec env, env_files, volumes;
};

/* ------------------------------------------------------------ env */

static size_t key_len(const char *kv)
{
	const char *eq = strchr(kv, '=');
	return eq ? (size_t)(eq - kv) : strlen(kv);
}

/* docker's ReplaceOrAppendEnvValues for one "K=V" */
static void env_set(struct strvec *env, const char *kv)
{
	size_t kl = key_len(kv);
	for (size_t i = 0; i < env->nr; i++) {
		if (key_len(env->v[i]) == kl && !strncmp(env->v[i], kv, kl)) {
			free((char *)env->v[i]);
			env->v[i] = xstrdup(kv);
			return;
		}
	}
	strvec_push(env, kv);
}

static bool env_has(const struct strvec *env, const char *key)
{
	size_t kl = strlen(key);
	for (size_t i = 0; i < env->nr; i++)
		if (key_len(env->v[i]) == kl && !strncmp(env->v[i], key, kl))
			return true;
	return false;
}

/* "-e K=V", or "-e K" taking K from kiln's environment (dropped if unset). */
static void env_set_user(struct strvec *env, const char *e)
{
	if (strchr(e, '=')) {
		env_set(env, e);
		return;
	}
	const char *v = getenv(e);
	if (v) {
		cleanup_free char *kv = xstrfmt("%s=%s", e, v);
		env_set(env, kv);
	}
}

static int read_env_file(const char *path, struct strvec *env)
{
	cleanup_strbuf struct strbuf sb = STRBUF_INIT;
	if (strbuf_read_file(&sb, path) < 0)
		return error("open %s: %s", path, strerror(errno));
	char *line = sb.buf;
	while (line && *line) {
		char *nl = strchr(line, '\n');
		if (nl)
			*nl = '\0';
		size_t len = strlen(line);
		if (len && line[len - 1] == '\r')
			line[--len] = '\0';
		while (*line == ' ' || *line == '\t')
			line++;
		if (*line && *line != '#') {
			size_t kl = key_len(line);
			for (size_t i = 0; i < kl; i++)
				if (line[i] == ' ' || line[i] == '\t')
					return error("variable '%.*s' contains "
						     "whitespaces",
						     (int)kl, line);
			if (!kl)
				return error("invalid environment variable: "
					     "%s",
					     line);
			env_set_user(env, line);
		}
		line = nl ? nl + 1 : NULL;
	}
	return 0;
}

/* ------------------------------------------------------------ files */

static char *host_file(const char *path)
{
	struct strbuf sb = STRBUF_INIT;
	sb.cap = 1 << 20;
	if (strbuf_read_file(&sb, path) < 0)
		strbuf_reset(&sb);
	return strbuf_detach(&sb, NULL);
}

static const char docker_hosts[] = "127.0.0.1\tlocalhost\n"
				   "::1\tlocalhost ip6-localhost ip6-loopback\n"
				   "fe00::0\tip6-localnet\n"
				   "ff00::0\tip6-mcastprefix\n"
				   "ff02::1\tip6-allnodes\n"
				   "ff02::2\tip6-allrouters\n";

/*
 * The host's resolv.conf; without the host's network, nameservers on
 * loopback cannot be reached from the container and are dropped.
 */
static char *resolv_conf(bool host_net)
{
	cleanup_free char *text = host_file("/etc/resolv.conf");
	if (host_net)
		return steal_pointer(&text);
	struct strbuf out = STRBUF_INIT;
	char *line = text;
	while (line && *line) {
		char *nl = strchr(line, '\n');
		if (nl)
			*nl = '\0';
		const char *ns;
		if (!(skip_prefix(line, "nameserver", &ns) &&
		      (ns += strspn(ns, " \t"),
		       starts_with(ns, "127.") || !strcmp(ns, "::1"))))
			strbuf_addf(&out, "%s\n", line);
		line = nl ? nl + 1 : NULL;
	}
	return strbuf_detach(&out, NULL);
}

/*
 * "HOME=..." for a USER spec, as docker sets it: the user's home from the
 * image's /etc/passwd (the topmost layer that has one), "/" when the user
 * has no entry.  Opened with RESOLVE_IN_ROOT: an image symlink cannot lead
 * out of its layer.
 */
static char *user_home(const struct strvec *lowers, const char *spec)
{
	cleanup_free char *user = xstrndup(spec, strcspn(spec, ":"));
	if (!*user)
		return xstrdup("HOME=/");
	for (size_t i = lowers->nr; i-- > 0;) {
		cleanup_close int root =
			open(lowers->v[i], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (root < 0)
			continue;
		struct open_how how = { .flags = O_RDONLY | O_CLOEXEC,
					.resolve = RESOLVE_IN_ROOT };
		int fd = (int)syscall(SYS_openat2, root, "etc/passwd", &how,
				      sizeof(how));
		if (fd < 0)
			continue;
		FILE *f = fdopen(fd, "r");
		if (!f) {
			close(fd);
			continue;
		}
		char line[1024];
		char *home = NULL;
		while (!home && fgets(line, sizeof(line), f)) {
			line[strcspn(line, "\n")] = '\0';
			char *fields[7];
			char *p = line;
			int n = 0;
			for (; n < 7 && p; n++) {
				fields[n] = p;
				p = strchr(p, ':');
				if (p)
					*p++ = '\0';
			}
			if (n < 6)
				continue;
			if (!strcmp(fields[0], user) ||
			    !strcmp(fields[2], user))
				home = xstrfmt("HOME=%s",
					       *fields[5] ? fields[5] : "/");
		}
		fclose(f);
		return home ? home : xstrdup("HOME=/");
	}
	return xstrdup("HOME=/");
}

/* /etc/hosts, /etc/hostname, /etc/resolv.conf, bound in as docker does. */
static void add_etc_files(struct sandbox *sb)
{
	bool host_net = sb->network == SANDBOX_NET_HOST;
	struct strbuf hosts_sb = STRBUF_INIT;
	if (host_net) {
		/* the host's names, and ours when it is not the host's */
		cleanup_free char *text = host_file("/etc/hosts");
		char host[256] = "";
		gethostname(host, sizeof(host) - 1);
		strbuf_addstr(&hosts_sb, text);
		if (hosts_sb.len && hosts_sb.buf[hosts_sb.len - 1] != '\n')
			strbuf_addch(&hosts_sb, '\n');
		if (strcmp(host, sb->hostname))
			strbuf_addf(&hosts_sb, "127.0.0.1\t%s\n", sb->hostname);
	} else {
		strbuf_addstr(&hosts_sb, docker_hosts);
	}
	cleanup_free char *hosts = strbuf_detach(&hosts_sb, NULL);
	cleanup_free char *hostname = xstrfmt("%s\n", sb->hostname);
	cleanup_free char *resolv = resolv_conf(host_net);
	sandbox_add_file(sb, "/etc/hosts", hosts, 0644);
	sandbox_add_file(sb, "/etc/hostname", hostname, 0644);
	sandbox_add_file(sb, "/etc/resolv.conf", resolv, 0644);
}

/* ------------------------------------------------------------ checks */

static bool runtime_installed(const char *name)
{
	if (strchr(name, '/'))
		return access(name, X_OK) == 0;
	const char *path = getenv("PATH");
	if (!path || !*path)
		path = DEFAULT_PATH;
	cleanup_free char *copy = xstrdup(path);
	for (char *dir = copy, *next; dir; dir = next) {
		next = strchr(dir, ':');
		if (next)
			*next++ = '\0';
		cleanup_free char *p = xstrfmt("%s/%s", *dir ? dir : ".", name);
		if (access(p, X_OK) == 0)
			return true;
	}
	return false;
}

/* "-v SRC:DST[:OPTS]" into the sandbox; prints the error. */
static int add_volume(struct sandbox *sb, const char *spec)
{
	cleanup_free char *copy = xstrdup(spec);
	char *dst = strchr(copy, ':');
	if (!dst || dst == copy)
		return error("invalid volume specification: '%s': anonymous "
			     "volumes are not supported, use SRC:DST",
			     spec);
	*dst++ = '\0';
	char *opts = strchr(dst, ':');
	if (opts)
		*opts++ = '\0';
	if (copy[0] != '/')
		return error("invalid volume specification: '%s': named "
			     "volumes are not supported, the source must be "
			     "an absolute path",
			     spec);
	if (dst[0] != '/')
		return error("invalid volume specification: '%s': invalid "
			     "mount config for type \"bind\": invalid mount "
			     "path: '%s' mount path must be absolute",
			     spec, dst);
	bool ro = false;
	for (char *o = opts, *next; o && *o; o = next) {
		next = strchr(o, ',');
		if (next)
			*next++ = '\0';
		if (!strcmp(o, "ro"))
			ro = true;
		else if (!strcmp(o, "rw"))
			ro = false;
		else if (strcmp(o, "z") && strcmp(o, "Z") &&
			 strcmp(o, "rprivate") && strcmp(o, "private"))
			return error("invalid volume specification: '%s': "
				     "invalid mode: %s",
				     spec, o);
	}
	/* as docker: a missing -v source is created as a directory */
	struct stat st;
	if (stat(copy, &st) < 0 && mkdir_p(copy, 0755) < 0)
		return error("error while creating mount source path '%s': "
			     "mkdir %s: %s",
			     copy, copy, strerror(errno));
	sandbox_add_bind(sb, copy, dst, ro);
	return 0;
}

/* ------------------------------------------------------------ run */

static void json_strings(json_t *arr, struct strvec *out)
{
	size_t i;
	json_t *v;
	json_array_foreach(arr, i, v)
	{
		if (json_is_string(v))
			strvec_push(out, json_string_value(v));
	}
}

/* docker's words, then 125 (kiln has no registry to pull from yet) */
static void image_not_found(const char *image, struct error *e)
{
	if (e->code != KILN_ENOTFOUND) {
		cmd_fail(e);
		return;
	}
	struct error *ign = NULL;
	cleanup_free char *full = store_ref_normalize(image, &ign);
	cleanup_free char *fam = full ? store_ref_familiar(full) : NULL;
	error_free(ign);
	fprintf(stderr, "Unable to find image '%s' locally\n",
		fam ? fam : image);
	error_free(e);
}

/* A container that never ran: docker keeps it as "Created"; --rm drops it. */
static int fail_container(struct container *c, bool rm, int status)
{
	if (c && rm)
		container_remove(c, true, NULL);
	container_free(c);
	return status;
}

static const char run_usage[] = "kiln run [OPTIONS] IMAGE [COMMAND] [ARG...]";

int cmd_run(int argc, char **argv)
{
	struct run_opts o = { 0 };
	strvec_init(&o.env);
	strvec_init(&o.env_files);
	strvec_init(&o.volumes);
	const struct opt opts[] = {
		OPT_BOOL_(0, "rm", &o.rm,
			  "Automatically remove the container when it exits"),
		OPT_STRING_(0, "name", &o.name, "string",
			    "Assign a name to the container"),
		OPT_LIST_('e', "env", &o.env, "list",
			  "Set environment variables"),
		OPT_LIST_(0, "env-file", &o.env_files, "list",
			  "Read in a file of environment variables"),
		OPT_STRING_('w', "workdir", &o.workdir, "string",
			    "Working directory inside the container"),
		OPT_STRING_('u', "user", &o.user, "string",
			    "Username or UID (format: "
			    "<name|uid>[:<group|gid>])"),
		OPT_STRING_(0, "entrypoint", &o.entrypoint, "string",
			    "Overwrite the default ENTRYPOINT of the image"),
		OPT_LIST_('v', "volume", &o.volumes, "list",
			  "Bind mount a volume (SRC:DST[:ro])"),
		OPT_STRING_(0, "network", &o.network, "string",
			    "Connect a container to a network (host, none)"),
		OPT_STRING_(0, "hostname", &o.hostname, "string",
			    "Container host name"),
		OPT_BOOL_(0, "read-only", &o.read_only,
			  "Mount the container's root filesystem as read only"),
		OPT_BOOL_(0, "init", &o.init,
			  "Run an init inside the container that forwards "
			  "signals and reaps processes"),
		OPT_BOOL_('i', "interactive", &o.interactive,
			  "Keep STDIN open"),
		OPT_BOOL_('t', "tty", &o.tty, "Allocate a pseudo-TTY"),
		OPT_STRING_(0, "isolation", &o.isolation, "string",
			    "Container isolation technology (native, oci)"),
		OPT_STRING_(0, "runtime", &o.runtime, "string",
			    "OCI runtime to use with --isolation=oci "
			    "(default runc)"),
		OPT_END_(),
	};
	argc = parse_options(argc, argv, opts, run_usage,
			     "Create and run a new container from an image",
			     true);
	if (argc < 1)
		usage_error("run", "\"kiln run\" requires at least 1 "
				   "argument.");

	struct sandbox sb;
	sandbox_init(&sb);
	int status = 125;
	struct container *c = NULL;
	struct store *s = NULL;
	struct store_image *img = NULL;
	struct error *e = NULL;
	struct strvec command = STRVEC_INIT;
	struct strvec env = STRVEC_INIT;

	/* ---- the options that need no image ---- */
	if (o.network && strcmp(o.network, "none") &&
	    strcmp(o.network, "host") && strcmp(o.network, "default")) {
		error("network %s not found (kiln supports host and none)",
		      o.network);
		goto out;
	}
	sb.network = o.network && !strcmp(o.network, "none") ? SANDBOX_NET_NONE
							     : SANDBOX_NET_HOST;
	if (o.isolation && !strcmp(o.isolation, "oci")) {
		sb.executor = SANDBOX_OCI;
	} else if (o.isolation && strcmp(o.isolation, "native") &&
		   strcmp(o.isolation, "default")) {
		error("invalid isolation: %s (native or oci)", o.isolation);
		goto out;
	} else if (o.isolation && o.runtime) {
		error("--runtime needs --isolation=oci");
		goto out;
	}
	if (o.runtime)
		sb.executor = SANDBOX_OCI;
	if (sb.executor == SANDBOX_OCI) {
		const char *rt = o.runtime ? o.runtime : "runc";
		if (!runtime_installed(rt)) {
			error("unknown runtime specified %s: runtime \"%s\" "
			      "not found in $PATH",
			      rt, rt);
			goto out;
		}
		sb.runtime = xstrdup(rt);
	}
	for (size_t i = 0; i < o.volumes.nr; i++)
		if (add_volume(&sb, o.volumes.v[i]) < 0)
			goto out;
	if (o.workdir && *o.workdir && o.workdir[0] != '/') {
		error("the working directory '%s' is invalid, it needs to be "
		      "an absolute path",
		      o.workdir);
		goto out;
	}

	/* ---- the image ---- */
	s = cmd_store_open();
	if (!s)
		goto out;
	/* prune waits while we pick the image and set its layers up */
	if (store_lock(s, LOCK_SH, &e) < 0) {
		cmd_fail(e);
		goto out;
	}
	const char *image = argv[0];
	img = store_image_lookup(s, image, &e);
	if (!img) {
		image_not_found(image, e);
		goto out;
	}
	json_t *cfg = json_object_get(img->config, "config");

	/* Entrypoint + Cmd, docker's rules */
	if (o.entrypoint) {
		if (*o.entrypoint)
			strvec_push(&command, o.entrypoint);
	} else {
		json_strings(json_object_get(cfg, "Entrypoint"), &command);
	}
	if (argc > 1)
		strvec_pushv(&command, (const char **)argv + 1);
	else if (!o.entrypoint)
		json_strings(json_object_get(cfg, "Cmd"), &command);
	if (!command.nr) {
		error("no command specified");
		goto out;
	}

	c = container_create(s, img, image, o.name, command.v, &e);
	if (!c) {
		cmd_fail(e);
		goto out;
	}
	if (container_layers_prepare(s, img, &sb.lower, &e) < 0) {
		cmd_fail(e);
		goto out;
	}

	/* ---- the process ---- */
	const char *user = o.user;
	if (!user)
		user = json_string_value(json_object_get(cfg, "User"));
	if (user && *user)
		sb.user = xstrdup(user);
	if (o.hostname && *o.hostname) {
		sb.hostname = xstrdup(o.hostname);
	} else if (o.network && !strcmp(o.network, "host")) {
		/* docker: --network host shares the host's name too */
		char host[256] = "";
		gethostname(host, sizeof(host) - 1);
		sb.hostname = xstrdup(host);
	} else {
		sb.hostname = xstrdup(c->hostname);
	}
	if (strcmp(c->hostname, sb.hostname)) {
		free(c->hostname);
		c->hostname = xstrdup(sb.hostname);
	}

	strvec_push(&env, "PATH=" DEFAULT_PATH);
	strvec_pushf(&env, "HOSTNAME=%s", sb.hostname);
	if (o.tty)
		strvec_push(&env, "TERM=xterm");
	{
		struct strvec image_env = STRVEC_INIT;
		json_strings(json_object_get(cfg, "Env"), &image_env);
		for (size_t i = 0; i < image_env.nr; i++)
			env_set(&env, image_env.v[i]);
		strvec_clear(&image_env);
	}
	for (size_t i = 0; i < o.env_files.nr; i++)
		if (read_env_file(o.env_files.v[i], &env) < 0)
			goto out;
	for (size_t i = 0; i < o.env.nr; i++)
		env_set_user(&env, o.env.v[i]);
	if (!env_has(&env, "HOME"))
		strvec_push_nodup(&env, user_home(&sb.lower,
						  sb.user ? sb.user : "0"));
	strvec_pushv(&sb.env, env.v);
	strvec_pushv(&sb.argv, command.v);

	const char *wd = o.workdir && *o.workdir
				 ? o.workdir
				 : json_string_value(json_object_get(cfg, "Work"
									  "ingD"
									  "i"
									  "r"));
	if (wd && *wd)
		sb.cwd = xstrdup(wd);

	add_etc_files(&sb);

	sb.readonly_root = o.read_only;
	sb.init = o.init;
	sb.tty = o.tty;
	if (o.interactive)
		sb.stdio[0] = 0;
	/* the sandbox makes upper/ (kept: the container's layer) and work/ */
	sb.scratch = xstrdup(c->dir);

	/* the container no longer needs the store: let prune run */
	store_image_free(img);
	img = NULL;
	store_free(s);
	s = NULL;

	if (container_set_running(c, &e) < 0) {
		cmd_fail(e);
		goto out;
	}
	fflush(stdout);
	bool started = true;
	if (sandbox_run(&sb, &status, &e) < 0) {
		fflush(stdout);
		error_print(e);
		error_clear(&e);
		started = false;
	}
	/* in memory first: remove must not take this process for its runner */
	c->state = started ? CONTAINER_EXITED : CONTAINER_CREATED;
	if (o.rm) {
		if (container_remove(c, true, &e) < 0) {
			error_print(e);
			error_clear(&e);
		}
	} else if (container_set_exited(c, status, started, &e) < 0) {
		error_print(e);
		error_clear(&e);
	}
	container_free(c);
	c = NULL;

out:
	status = fail_container(c, o.rm, status);
	store_image_free(img);
	store_free(s);
	sandbox_release(&sb);
	strvec_clear(&command);
	strvec_clear(&env);
	strvec_clear(&o.env);
	strvec_clear(&o.env_files);
	strvec_clear(&o.volumes);
	return status;
}
