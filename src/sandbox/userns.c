/*
 * Rootless operation: a user namespace mapping the caller to root, plus
 * the caller's /etc/subuid and /etc/subgid ranges (through the setuid
 * newuidmap/newgidmap helpers) when present, else a single-id map.  The
 * ids the command needs are checked against the map before anything runs.
 */
#include "sandbox/sandbox-internal.h"

#include <pwd.h>
#include <sched.h>
#include <sys/wait.h>

#include "base/banned.h"

int sandbox_subid_find(const char *text, const char *name, unsigned long id,
		       unsigned long *start, unsigned long *count)
{
	char idstr[32];
	snprintf(idstr, sizeof(idstr), "%lu", id);
	for (const char *p = text; *p;) {
		const char *eol = strchrnul(p, '\n');
		const char *c1 = memchr(p, ':', eol - p);
		const char *c2 = c1 ? memchr(c1 + 1, ':', eol - c1 - 1) : NULL;
		if (c2) {
			size_t klen = c1 - p;
			bool match = (name && strlen(name) == klen &&
				      !memcmp(p, name, klen)) ||
				     (strlen(idstr) == klen &&
				      !memcmp(p, idstr, klen));
			cleanup_free char *s = xstrndup(c1 + 1, c2 - c1 - 1);
			cleanup_free char *c = xstrndup(c2 + 1, eol - c2 - 1);
			unsigned long long vs, vc;
			if (match && parse_uint(s, UINT32_MAX, &vs) == 0 &&
			    parse_uint(c, UINT32_MAX, &vc) == 0 && vc > 0) {
				*start = vs;
				*count = vc;
				return 0;
			}
		}
		p = *eol ? eol + 1 : eol;
	}
	return -1;
}

static int read_range(const char *file, const char *name, unsigned long id,
		      unsigned long *start, unsigned long *count)
{
	struct strbuf sb = STRBUF_INIT;
	sb.cap = 1 << 20;
	int ret = -1;
	if (!strbuf_read_file(&sb, file))
		ret = sandbox_subid_find(sb.buf, name, id, start, count);
	strbuf_release(&sb);
	return ret;
}

/* Is `id` inside the namespace: 0 or 1..count. */
static bool id_mapped(unsigned long id, bool have_range, unsigned long count)
{
	return id == 0 || (have_range && id <= count);
}

int sandbox_userns_plan(const struct sandbox *sb, struct sandbox_plan *plan,
			struct error **err)
{
	plan->host_uid = geteuid();
	plan->host_gid = getegid();
	plan->userns =
		sb->userns == SANDBOX_USERNS_ALWAYS ||
		(sb->userns == SANDBOX_USERNS_AUTO && plan->host_uid != 0);
	plan->gid5_mapped = true;
	if (!plan->userns)
		return 0;

	struct passwd *pw = getpwuid(plan->host_uid);
	const char *name = pw ? pw->pw_name : NULL;
	unsigned long us = 0, uc = 0, gs = 0, gc = 0;
	bool have_u =
		!read_range("/etc/subuid", name, plan->host_uid, &us, &uc);
	bool have_g =
		!read_range("/etc/subgid", name, plan->host_uid, &gs, &gc);
	cleanup_free char *newuidmap = sandbox_which("newuidmap");
	cleanup_free char *newgidmap = sandbox_which("newgidmap");
	bool helpers = newuidmap && newgidmap;
	const char *who = name ? name : "(unknown)";

	if (plan->host_uid == 0 && !(have_u && have_g)) {
		/* root may map anything itself: the identity map. */
		strvec_push(&plan->uid_map, "0 0 4294967295");
		strvec_push(&plan->gid_map, "0 0 4294967295");
		return 0;
	}
	if (!helpers)
		have_u = have_g = false;

	/*
	 * A user name is resolved later, inside the root; numeric ids are
	 * checked now so the error can name the missing range.
	 */
	uid_t want_uid = sb->uid;
	gid_t want_gid = sb->gid;
	if (sb->user) {
		cleanup_free char *u = xstrdup(sb->user);
		char *colon = strchr(u, ':');
		unsigned long long v;
		if (colon)
			*colon++ = '\0';
		if (!parse_uint(u, UINT32_MAX - 1, &v))
			want_uid = v;
		if (colon && !parse_uint(colon, UINT32_MAX - 1, &v))
			want_gid = v;
	}
	if (!id_mapped(want_uid, have_u, uc)) {
		cleanup_free char *why = !helpers  ? xstrdup("newuidmap/"
							      "newgidmap not "
							      "installed")
					 : !have_u ? xstrfmt("no range for "
							     "user '%s' in "
							     "/etc/subuid",
							     who)
						   : xstrfmt("user '%s' has "
							     "ids 1-%lu "
							     "(/etc/subuid "
							     "%lu:%lu)",
							     who, uc, us, uc);
		error_set(err, KILN_EINVAL,
			  "user namespace: uid %u is not mapped: %s",
			  (unsigned)want_uid, why);
		return -1;
	}
	for (size_t i = 0; i <= sb->groups_nr; i++) {
		gid_t g = i < sb->groups_nr ? sb->groups[i] : want_gid;
		if (id_mapped(g, have_g, gc))
			continue;
		cleanup_free char *why = !helpers  ? xstrdup("newuidmap/"
							      "newgidmap not "
							      "installed")
					 : !have_g ? xstrfmt("no range for "
							     "user '%s' in "
							     "/etc/subgid",
							     who)
						   : xstrfmt("user '%s' has "
							     "ids 1-%lu "
							     "(/etc/subgid "
							     "%lu:%lu)",
							     who, gc, gs, gc);
		error_set(err, KILN_EINVAL,
			  "user namespace: gid %u is not mapped: %s",
			  (unsigned)g, why);
		return -1;
	}

	strvec_pushf(&plan->uid_map, "0 %u 1", (unsigned)plan->host_uid);
	strvec_pushf(&plan->gid_map, "0 %u 1", (unsigned)plan->host_gid);
	if (have_u && have_g) {
		strvec_pushf(&plan->uid_map, "1 %lu %lu", us, uc);
		strvec_pushf(&plan->gid_map, "1 %lu %lu", gs, gc);
		plan->use_newidmap = true;
		plan->gid5_mapped = gc >= 5;
	} else {
		plan->setgroups_denied = true;
		plan->gid5_mapped = false;
	}
	return 0;
}

static int run_idmap(const char *prog, pid_t pid, const struct strvec *map,
		     struct error **err)
{
	struct strvec argv = STRVEC_INIT;
	strvec_push(&argv, prog);
	strvec_pushf(&argv, "%d", (int)pid);
	for (size_t i = 0; i < map->nr; i++) {
		cleanup_free char *line = xstrdup(map->v[i]);
		char *save = NULL;
		for (char *t = strtok_r(line, " ", &save); t;
		     t = strtok_r(NULL, " ", &save))
			strvec_push(&argv, t);
	}
	pid_t child = fork();
	if (child < 0) {
		error_set_errno(err, "fork");
		strvec_clear(&argv);
		return -1;
	}
	if (child == 0) {
		execvp(prog, (char *const *)argv.v);
		_exit(127);
	}
	strvec_clear(&argv);
	int st;
	while (waitpid(child, &st, 0) < 0)
		if (errno != EINTR) {
			error_set_errno(err, "waitpid %s", prog);
			return -1;
		}
	if (!WIFEXITED(st) || WEXITSTATUS(st)) {
		error_set(err, KILN_EINTERNAL, "%s %d failed (status %d)", prog,
			  (int)pid, WIFEXITED(st) ? WEXITSTATUS(st) : -1);
		return -1;
	}
	return 0;
}

static int write_proc(pid_t pid, const char *file, const char *text,
		      struct error **err)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, file);
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0) {
		error_set_errno(err, "open '%s'", path);
		return -1;
	}
	ssize_t n = write(fd, text, strlen(text));
	if (n != (ssize_t)strlen(text)) {
		error_set_errno(err, "write '%s'", path);
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

int sandbox_userns_write_maps(const struct sandbox_plan *plan, pid_t pid,
			      struct error **err)
{
	if (plan->use_newidmap)
		return run_idmap("newuidmap", pid, &plan->uid_map, err) ||
				       run_idmap("newgidmap", pid,
						 &plan->gid_map, err)
			       ? -1
			       : 0;
	struct strbuf u = STRBUF_INIT, g = STRBUF_INIT;
	for (size_t i = 0; i < plan->uid_map.nr; i++)
		strbuf_addf(&u, "%s\n", plan->uid_map.v[i]);
	for (size_t i = 0; i < plan->gid_map.nr; i++)
		strbuf_addf(&g, "%s\n", plan->gid_map.v[i]);
	/* An unprivileged gid_map write needs setgroups denied first. */
	int ret = (plan->setgroups_denied &&
		   write_proc(pid, "setgroups", "deny", err)) ||
				  write_proc(pid, "uid_map", u.buf, err) ||
				  write_proc(pid, "gid_map", g.buf, err)
			  ? -1
			  : 0;
	strbuf_release(&u);
	strbuf_release(&g);
	return ret;
}

/*
 * The helper: unshare the user namespace, wait until the parent wrote the
 * maps (we are root in it then, with CAP_DAC_OVERRIDE over every mapped
 * owner), remove.  Reports through its exit status only.
 */
static void child_remove_tree(int dirfd, const char *name, int ready, int go)
{
	char c = 0;
	if (unshare(CLONE_NEWUSER) < 0 || write(ready, &c, 1) != 1)
		_exit(2);
	if (read(go, &c, 1) != 1 || c != 1)
		_exit(2);
	if (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0)
		_exit(2);
	_exit(rm_rf_at(dirfd, name) < 0 ? 1 : 0);
}

int sandbox_remove_tree(int dirfd, const char *name, struct error **err)
{
	if (!rm_rf_at(dirfd, name) || errno == ENOENT)
		return 0;
	int e = errno;
	struct sandbox sb;
	struct sandbox_plan plan = { 0 };
	if (geteuid() == 0 || (e != EACCES && e != EPERM && e != ENOTEMPTY)) {
		errno = e;
		error_set_errno(err, "remove '%s'", name);
		return -1;
	}
	sandbox_init(&sb);
	sb.userns = SANDBOX_USERNS_ALWAYS;
	int ret = sandbox_userns_plan(&sb, &plan, err);
	sandbox_release(&sb);
	if (ret < 0 || !plan.use_newidmap) {
		/* without subordinate ids nobody else could own a file */
		sandbox_plan_release(&plan);
		if (!ret) {
			errno = e;
			error_set_errno(err, "remove '%s'", name);
		}
		return -1;
	}
	int ready[2], go[2];
	if (pipe2(ready, O_CLOEXEC) < 0) {
		error_set_errno(err, "pipe");
		sandbox_plan_release(&plan);
		return -1;
	}
	if (pipe2(go, O_CLOEXEC) < 0) {
		error_set_errno(err, "pipe");
		close(ready[0]);
		close(ready[1]);
		sandbox_plan_release(&plan);
		return -1;
	}
	pid_t pid = fork();
	if (pid == 0) {
		close(ready[0]);
		close(go[1]);
		child_remove_tree(dirfd, name, ready[1], go[0]);
	}
	close(ready[1]);
	close(go[0]);
	char c = 0;
	ret = -1;
	if (pid < 0) {
		error_set_errno(err, "fork");
	} else if (read(ready[0], &c, 1) != 1) {
		error_set(err, KILN_EINTERNAL,
			  "remove '%s': cannot create a user namespace", name);
	} else if (sandbox_userns_write_maps(&plan, pid, err) == 0) {
		c = 1;
		ret = write(go[1], &c, 1) == 1 ? 0 : -1;
	}
	close(ready[0]);
	close(go[1]);
	int st = 0;
	while (pid > 0 && waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (!ret && !(WIFEXITED(st) && WEXITSTATUS(st) == 0)) {
		error_set(err, KILN_EINTERNAL,
			  "remove '%s' in a user namespace: %s", name,
			  WIFEXITED(st) && WEXITSTATUS(st) == 1 ? "some files "
								  "could not "
								  "be removed"
								: "the helper "
								  "failed");
		ret = -1;
	}
	sandbox_plan_release(&plan);
	return ret;
}
