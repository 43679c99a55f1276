/*
 * The OCI executor: the description written as an OCI runtime bundle
 * (config.json) whose root is the overlay kiln mounted, run with
 * `runc run` (or crun).  The overlay lives in a private mount namespace of
 * a helper process that execs the runtime, so it disappears with it.
 * No cgroupsPath and no resources: kiln asks for no limits; rlimits are
 * omitted so the runtime inherits ours.
 */
#include "sandbox/sandbox-internal.h"

#include <jansson.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "base/banned.h"

extern char **environ;

static json_t *str_array(const char *const *v, size_t n)
{
	json_t *a = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, json_string(v[i]));
	return a;
}

static json_t *mount_entry(const char *dst, const char *type, const char *src,
			   const char *opts)
{
	json_t *m = json_pack("{s:s, s:s, s:s}", "destination", dst, "type",
			      type, "source", src);
	json_t *o = json_array();
	cleanup_free char *copy = xstrdup(opts);
	for (char *p = copy; p && *p;) {
		char *next = strchr(p, ',');
		if (next)
			*next++ = '\0';
		if (*p)
			json_array_append_new(o, json_string(p));
		p = next;
	}
	json_object_set_new(m, "options", o);
	return m;
}

static json_t *caps_array(uint64_t caps)
{
	json_t *a = json_array();
	for (int cap = 0; cap < 64; cap++) {
		const char *name = sandbox_cap_name(cap);
		if (!(caps & SANDBOX_CAP(cap)) || !name)
			continue;
		char buf[64];
		snprintf(buf, sizeof(buf), "CAP_%s", name);
		json_array_append_new(a, json_string(buf));
	}
	return a;
}

static void *oci_config(const struct sandbox *sb,
			const struct sandbox_plan *plan, uid_t uid, gid_t gid,
			const gid_t *groups, size_t ngroups)
{
	json_t *gids = json_array();
	for (size_t i = 0; i < ngroups; i++)
		json_array_append_new(gids, json_integer(groups[i]));
	json_t *caps = json_pack("{s:o, s:o, s:o}", "bounding",
				 caps_array(sb->caps), "effective",
				 caps_array(sb->caps), "permitted",
				 caps_array(sb->caps));
	/*
	 * --init as Docker does it: a static tini bound at /dev/init (inside
	 * the /dev tmpfs, so nothing reaches the upper dir) runs the command.
	 */
	json_t *args = json_array();
	if (plan->init_path) {
		json_array_append_new(args, json_string("/dev/init"));
		json_array_append_new(args, json_string("--"));
	}
	json_t *argv = str_array(sb->argv.v, sb->argv.nr);
	json_array_extend(args, argv);
	json_decref(argv);
	json_t *process = json_pack(
		"{s:b, s:{s:I, s:I, s:o}, s:o, s:o, s:s, s:o, s:b}", "terminal",
		sb->tty, "user", "uid", (json_int_t)uid, "gid", (json_int_t)gid,
		"additionalGids", gids, "args", args, "env",
		str_array(sb->env.v, sb->env.nr), "cwd",
		sb->cwd && *sb->cwd ? sb->cwd : "/", "capabilities", caps,
		"noNewPrivileges", sb->no_new_privs);

	json_t *mounts = json_array();
	json_array_append_new(mounts, mount_entry("/proc", "proc", "proc",
						  "nosuid,noexec,nodev"));
	json_array_append_new(mounts, mount_entry("/dev", "tmpfs", "tmpfs",
						  "nosuid,strictatime,mode=755,"
						  "size=65536k"));
	json_array_append_new(mounts,
			      mount_entry("/dev/pts", "devpts", "devpts",
					  plan->gid5_mapped ? "nosuid,noexec,"
							      "newinstance,"
							      "ptmxmode=0666,"
							      "mode=0620,gid=5"
							    : "nosuid,noexec,"
							      "newinstance,"
							      "ptmxmode=0666,"
							      "mode=0620"));
	json_array_append_new(mounts, mount_entry("/dev/shm", "tmpfs", "shm",
						  "nosuid,noexec,nodev,"
						  "mode=1777,size=65536k"));
	json_array_append_new(mounts,
			      mount_entry("/dev/mqueue", "mqueue", "mqueue",
					  "nosuid,noexec,nodev"));
	if (sb->network == SANDBOX_NET_NONE)
		json_array_append_new(mounts,
				      mount_entry("/sys", "sysfs", "sysfs",
						  "nosuid,noexec,nodev,ro"));
	else
		json_array_append_new(mounts,
				      mount_entry("/sys", "bind", "/sys",
						  "rbind,nosuid,noexec,nodev,"
						  "ro"));
	if (plan->init_path)
		json_array_append_new(mounts,
				      mount_entry("/dev/init", "bind",
						  plan->init_path, "bind,ro"));
	for (size_t i = 0; i < sb->binds_nr; i++)
		json_array_append_new(
			mounts,
			mount_entry(sb->binds[i].dst, "bind", sb->binds[i].src,
				    sb->binds[i].ro ? "rbind,ro" : "rbind"));
	for (size_t i = 0; i < sb->tmpfs_nr; i++) {
		cleanup_free char *o = xstrfmt("nosuid,nodev,%s",
					       sb->tmpfs[i].options
						       ? sb->tmpfs[i].options
						       : "mode=1777");
		json_array_append_new(mounts, mount_entry(sb->tmpfs[i].dst,
							  "tmpfs", "tmpfs", o));
	}
	for (size_t i = 0; i < sb->files_nr; i++) {
		cleanup_free char *src = xstrfmt("%s/%zu", plan->files, i);
		json_array_append_new(mounts,
				      mount_entry(sb->files[i].dst, "bind", src,
						  "bind,nosuid,nodev"));
	}

	json_t *ns = json_array();
	static const char *const types[] = { "pid", "ipc", "uts", "mount" };
	for (size_t i = 0; i < ARRAY_SIZE(types); i++)
		json_array_append_new(ns, json_pack("{s:s}", "type", types[i]));
	if (sb->network == SANDBOX_NET_NONE)
		json_array_append_new(ns,
				      json_pack("{s:s}", "type", "network"));

	size_t nm, nr;
	const char *const *masked = sandbox_masked_paths(&nm);
	const char *const *ro = sandbox_readonly_paths(&nr);
	json_t *linux_ = json_pack("{s:o, s:o, s:o}", "namespaces", ns,
				   "maskedPaths", str_array(masked, nm),
				   "readonlyPaths", str_array(ro, nr));
	if (sb->seccomp)
		json_object_set_new(linux_, "seccomp",
				    sandbox_seccomp_oci_json());

	json_t *root = json_pack("{s:s, s:o, s:{s:s, s:b}, s:o, s:o}",
				 "ociVersion", "1.0.2", "process", process,
				 "root", "path", plan->merged, "readonly",
				 sb->readonly_root, "mounts", mounts, "linux",
				 linux_);
	if (sb->hostname)
		json_object_set_new(root, "hostname",
				    json_string(sb->hostname));
	return root;
}

void *sandbox_oci_config(const struct sandbox *sb,
			 const struct sandbox_plan *plan)
{
	return oci_config(sb, plan, sb->uid, sb->gid, sb->groups,
			  sb->groups_nr);
}

static char *state_dir(const struct sandbox_plan *plan)
{
	return xstrfmt("%s/state", plan->bundle);
}

static char *log_path(const struct sandbox_plan *plan)
{
	return xstrfmt("%s/log.json", plan->bundle);
}

/* The helper: mount the root, write config.json, exec the runtime. */
static void child_oci(struct sandbox_child *c)
{
	const struct sandbox *sb = c->sb;
	const struct sandbox_plan *plan = c->plan;
	struct error *err = NULL;

	/* the overlay stays in this namespace */
	child_setup(c);

	uid_t uid = sb->uid;
	gid_t gid = sb->gid;
	gid_t *groups = sb->groups;
	size_t ngroups = sb->groups_nr;
	if (sb->user) {
		groups = NULL;
		if (sandbox_resolve_user(c->rootfd, sb->user, &uid, &gid,
					 &groups, &ngroups, &err) < 0)
			child_fail(c, 125, "%s", err->msg);
	}
	close(c->rootfd);
	json_t *cfg = oci_config(sb, plan, uid, gid, groups, ngroups);
	cleanup_free char *path = xstrfmt("%s/config.json", plan->bundle);
	if (json_dump_file(cfg, path, JSON_INDENT(2)) < 0)
		child_fail_errno(c, "write '%s'", path);
	json_decref(cfg);

	cleanup_free char *state = state_dir(plan);
	cleanup_free char *log = log_path(plan);
	cleanup_free char *id =
		xstrfmt("kiln-%d-%ld", (int)getppid(), (long)time(NULL));
	struct strvec argv = STRVEC_INIT;
	strvec_push(&argv, plan->runtime_path);
	strvec_pushv(&argv, (const char *[]){ "--root", state, "--log", log,
					      "--log-format", "json", NULL });
	if (plan->userns)
		strvec_pushv(&argv,
			     (const char *[]){ "--rootless", "true", NULL });
	strvec_pushv(&argv, (const char *[]){ "run", "--bundle", plan->bundle,
					      id, NULL });

	child_setup_stdio(c);
	child_close_fds(c, c->sock);
	child_reset_signals(&c->oldmask);
	child_exec(c, (char *const *)argv.v, environ);
}

/*
 * runc reports its own failures (not the command's) as level "error" in
 * its log; map them like Docker does: not found 127, not executable 126.
 */
static int runtime_error(const struct sandbox_plan *plan, int *status,
			 struct error **err)
{
	cleanup_free char *log = log_path(plan);
	cleanup_strbuf struct strbuf sb = STRBUF_INIT;
	sb.cap = 1 << 20;
	if (strbuf_read_file(&sb, log) < 0)
		return 0;
	cleanup_free char *msg = NULL;
	for (char *p = sb.buf; *p;) {
		char *e = strchrnul(p, '\n');
		json_t *j = json_loadb(p, e - p, 0, NULL);
		const char *level =
			j ? json_string_value(json_object_get(j, "level"))
			  : NULL;
		const char *m = j ? json_string_value(json_object_get(j, "msg"))
				  : NULL;
		if (level && m && !strcmp(level, "error")) {
			free(msg);
			msg = xstrdup(m);
		}
		json_decref(j);
		p = *e ? e + 1 : e;
	}
	if (!msg)
		return 0;
	if (strstr(msg, "executable file not found") || strstr(msg, "no such "
								    "file or "
								    "director"
								    "y"))
		*status = 127;
	else if (strstr(msg, "permission denied"))
		*status = 126;
	else
		*status = 125;
	error_set(err,
		  *status == 125   ? KILN_EINTERNAL
		  : *status == 127 ? ENOENT
				   : EACCES,
		  "%s", msg);
	return -1;
}

int sandbox_run_oci(struct sandbox *sb, struct sandbox_plan *plan, int *status,
		    struct error **err)
{
	const char *runtime = sb->runtime ? sb->runtime : "runc";
	plan->runtime_path = sandbox_which(runtime);
	if (!plan->runtime_path) {
		error_set(err, KILN_ENOTFOUND,
			  "runtime \"%s\" not found in $PATH", runtime);
		return -1;
	}
	if (sb->init) {
		plan->init_path = sandbox_which("docker-init");
		if (!plan->init_path)
			plan->init_path = sandbox_which("tini-static");
		if (!plan->init_path) {
			error_set(err, KILN_ENOTFOUND,
				  "init with the oci executor needs a static "
				  "init: \"tini-static\" (or \"docker-init\") "
				  "not found in $PATH");
			return -1;
		}
	}
	plan->bundle = xstrfmt("%s/bundle", sb->scratch);
	cleanup_free char *state = state_dir(plan);
	if (mkdir(plan->bundle, 0700) < 0 || mkdir(state, 0700) < 0) {
		error_set_errno(err, "mkdir '%s'", state);
		return -1;
	}

	sigset_t set, old;
	sandbox_signal_set(&set);
	sigprocmask(SIG_BLOCK, &set, &old);
	int sigfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sigfd < 0) {
		error_set_errno(err, "signalfd");
		sigprocmask(SIG_SETMASK, &old, NULL);
		return -1;
	}
	int sock = -1;
	pid_t pid = sandbox_spawn(sb, plan, CLONE_NEWNS, &old, child_oci, &sock,
				  err);
	int ret = -1;
	if (pid >= 0) {
		ret = sandbox_wait_exec(sb, sock, NULL, status, err);
		close(sock);
		if (ret < 0) {
			while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
				;
		} else {
			/* runc copies the terminal and forwards signals. */
			*status = sandbox_supervise(pid, sigfd, -1, -1, -1);
			if (*status && runtime_error(plan, status, err) < 0)
				ret = -1;
		}
	}
	struct signalfd_siginfo si;
	while (read(sigfd, &si, sizeof(si)) == sizeof(si))
		;
	close(sigfd);
	sigprocmask(SIG_SETMASK, &old, NULL);
	return ret;
}
