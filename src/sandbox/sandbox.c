/*
 * The sandbox description and its plan: `struct sandbox` is what the caller
 * wants, `struct sandbox_plan` the ordered list of setup operations an
 * executor carries out (bubblewrap's model).  Building the plan has no side
 * effects; sandbox_run() prepares the scratch dir, runs an executor and
 * removes what it created again (never the caller's upper dir).
 */
#include "sandbox/sandbox-internal.h"

#include <linux/capability.h>
#include <sys/stat.h>

#include "base/banned.h"

#define DEFAULT_PATH \
	"/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

const uint64_t sandbox_default_caps =
	SANDBOX_CAP(CAP_CHOWN) | SANDBOX_CAP(CAP_DAC_OVERRIDE) |
	SANDBOX_CAP(CAP_FSETID) | SANDBOX_CAP(CAP_FOWNER) |
	SANDBOX_CAP(CAP_MKNOD) | SANDBOX_CAP(CAP_NET_RAW) |
	SANDBOX_CAP(CAP_SETGID) | SANDBOX_CAP(CAP_SETUID) |
	SANDBOX_CAP(CAP_SETFCAP) | SANDBOX_CAP(CAP_SETPCAP) |
	SANDBOX_CAP(CAP_NET_BIND_SERVICE) | SANDBOX_CAP(CAP_SYS_CHROOT) |
	SANDBOX_CAP(CAP_KILL) | SANDBOX_CAP(CAP_AUDIT_WRITE);

/* Docker's masked and read-only paths (moby's OCI defaults). */
static const char *const masked_paths[] = {
	"/proc/asound",
	"/proc/acpi",
	"/proc/kcore",
	"/proc/keys",
	"/proc/latency_stats",
	"/proc/timer_list",
	"/proc/timer_stats",
	"/proc/sched_debug",
	"/proc/scsi",
	"/sys/firmware",
	"/sys/devices/virtual/powercap",
};
static const char *const readonly_paths[] = {
	"/proc/bus",	       "/proc/fs", "/proc/irq", "/proc/sys",
	"/proc/sysrq-trigger",
};
static const char *const dev_nodes[] = {
	"null", "zero", "full", "random", "urandom", "tty",
};

const char *const *sandbox_masked_paths(size_t *nr)
{
	*nr = ARRAY_SIZE(masked_paths);
	return masked_paths;
}
const char *const *sandbox_readonly_paths(size_t *nr)
{
	*nr = ARRAY_SIZE(readonly_paths);
	return readonly_paths;
}

/* ---------------------------------------------------------------- struct */

void sandbox_init(struct sandbox *sb)
{
	memset(sb, 0, sizeof(*sb));
	strvec_init(&sb->lower);
	strvec_init(&sb->argv);
	strvec_init(&sb->env);
	strvec_init(&sb->created);
	sb->caps = sandbox_default_caps;
	sb->seccomp = true;
	sb->stdio[0] = -1;
	sb->stdio[1] = 1;
	sb->stdio[2] = 2;
}

void sandbox_release(struct sandbox *sb)
{
	strvec_clear(&sb->lower);
	strvec_clear(&sb->argv);
	strvec_clear(&sb->env);
	strvec_clear(&sb->created);
	free(sb->rootfs);
	free(sb->upper);
	free(sb->work);
	free(sb->scratch);
	for (size_t i = 0; i < sb->binds_nr; i++) {
		free(sb->binds[i].src);
		free(sb->binds[i].dst);
	}
	free(sb->binds);
	for (size_t i = 0; i < sb->tmpfs_nr; i++) {
		free(sb->tmpfs[i].dst);
		free(sb->tmpfs[i].options);
	}
	free(sb->tmpfs);
	for (size_t i = 0; i < sb->files_nr; i++) {
		free(sb->files[i].dst);
		free(sb->files[i].content);
	}
	free(sb->files);
	free(sb->cwd);
	free(sb->user);
	free(sb->groups);
	free(sb->hostname);
	free(sb->runtime);
	memset(sb, 0, sizeof(*sb));
}

void sandbox_add_bind(struct sandbox *sb, const char *src, const char *dst,
		      bool ro)
{
	ALLOC_GROW(sb->binds, sb->binds_nr + 1, sb->binds_alloc);
	struct sandbox_bind *b = &sb->binds[sb->binds_nr++];
	b->src = xstrdup(src);
	b->dst = xstrdup(dst);
	b->ro = ro;
}

void sandbox_add_tmpfs(struct sandbox *sb, const char *dst, const char *options)
{
	ALLOC_GROW(sb->tmpfs, sb->tmpfs_nr + 1, sb->tmpfs_alloc);
	struct sandbox_tmpfs *t = &sb->tmpfs[sb->tmpfs_nr++];
	t->dst = xstrdup(dst);
	t->options = options ? xstrdup(options) : NULL;
}

void sandbox_add_file(struct sandbox *sb, const char *dst, const char *content,
		      mode_t mode)
{
	ALLOC_GROW(sb->files, sb->files_nr + 1, sb->files_alloc);
	struct sandbox_file *f = &sb->files[sb->files_nr++];
	f->dst = xstrdup(dst);
	f->content = xstrdup(content);
	f->mode = mode;
}

/* ---------------------------------------------------------------- plan */

static struct sandbox_op *plan_add(struct sandbox_plan *plan,
				   enum sandbox_op_kind kind, const char *dst,
				   unsigned flags)
{
	ALLOC_GROW(plan->ops, plan->nr + 1, plan->alloc);
	struct sandbox_op *op = &plan->ops[plan->nr++];
	memset(op, 0, sizeof(*op));
	op->kind = kind;
	op->dst = dst ? xstrdup(dst) : NULL;
	op->flags = flags;
	return op;
}

static void plan_mount(struct sandbox_plan *plan, const char *fstype,
		       const char *dst, const char *data, unsigned flags)
{
	struct sandbox_op *op = plan_add(plan, OP_MOUNT, dst, flags);
	op->fstype = fstype;
	op->data = data ? xstrdup(data) : NULL;
}

static void plan_bind(struct sandbox_plan *plan, const char *src,
		      const char *dst, unsigned flags)
{
	struct sandbox_op *op = plan_add(plan, OP_BIND, dst, flags);
	op->src = xstrdup(src);
}

static void plan_symlink(struct sandbox_plan *plan, const char *target,
			 const char *dst)
{
	struct sandbox_op *op = plan_add(plan, OP_SYMLINK, dst, 0);
	op->src = xstrdup(target);
}

void sandbox_plan_release(struct sandbox_plan *plan)
{
	for (size_t i = 0; i < plan->nr; i++) {
		free(plan->ops[i].src);
		free(plan->ops[i].dst);
		free(plan->ops[i].data);
	}
	free(plan->ops);
	free(plan->merged);
	free(plan->files);
	free(plan->bundle);
	free(plan->runtime_path);
	free(plan->init_path);
	strvec_clear(&plan->uid_map);
	strvec_clear(&plan->gid_map);
	memset(plan, 0, sizeof(*plan));
}

/* A mount destination: absolute, no "." or ".." components. */
static int check_dst(const char *dst, struct error **err)
{
	if (dst[0] != '/') {
		error_set(err, KILN_EINVAL,
			  "invalid mount destination '%s': not absolute", dst);
		return -1;
	}
	for (const char *p = dst; *p;) {
		while (*p == '/')
			p++;
		const char *e = strchrnul(p, '/');
		size_t n = e - p;
		if ((n == 1 && p[0] == '.') ||
		    (n == 2 && p[0] == '.' && p[1] == '.')) {
			error_set(err, KILN_EINVAL,
				  "invalid mount destination '%s': '.' or '..' "
				  "component",
				  dst);
			return -1;
		}
		p = e;
	}
	return 0;
}

static char *file_src_path(const struct sandbox_plan *plan, size_t i)
{
	return xstrfmt("%s/%zu", plan->files, i);
}

int sandbox_plan_build(const struct sandbox *sb, struct sandbox_plan *plan,
		       bool oci, struct error **err)
{
	unsigned rec = OPF_RECORD;

	if (!sb->argv.nr) {
		error_set(err, KILN_EINVAL, "sandbox: no command to run");
		return -1;
	}
	if (!sb->lower.nr && !sb->rootfs) {
		error_set(err, KILN_EINVAL,
			  "sandbox: no root (lower dirs or "
			  "rootfs) given");
		return -1;
	}
	if (!sb->scratch) {
		error_set(err, KILN_EINVAL, "sandbox: no scratch directory");
		return -1;
	}
	for (size_t i = 0; i < sb->binds_nr; i++)
		if (check_dst(sb->binds[i].dst, err) < 0)
			return -1;
	for (size_t i = 0; i < sb->tmpfs_nr; i++)
		if (check_dst(sb->tmpfs[i].dst, err) < 0)
			return -1;
	for (size_t i = 0; i < sb->files_nr; i++)
		if (check_dst(sb->files[i].dst, err) < 0)
			return -1;

	if (!plan->merged)
		plan->merged = xstrfmt("%s/merged", sb->scratch);
	if (!plan->files)
		plan->files = xstrfmt("%s/files", sb->scratch);

	plan_add(plan, OP_ROOT, "/", rec);

	if (oci) {
		/*
		 * The runtime mounts everything itself; it would create the
		 * missing targets in the upper dir, so create them here and
		 * record them like the native executor does.
		 */
		plan_add(plan, OP_ENSURE, "/proc", rec);
		plan_add(plan, OP_ENSURE, "/dev", rec);
		plan_add(plan, OP_ENSURE, "/sys", rec);
		for (size_t i = 0; i < sb->binds_nr; i++) {
			struct stat st;
			unsigned f = rec;
			if (!stat(sb->binds[i].src, &st) &&
			    !S_ISDIR(st.st_mode))
				f |= OPF_FILE;
			plan_add(plan, OP_ENSURE, sb->binds[i].dst, f);
		}
		for (size_t i = 0; i < sb->tmpfs_nr; i++)
			plan_add(plan, OP_ENSURE, sb->tmpfs[i].dst, rec);
		for (size_t i = 0; i < sb->files_nr; i++)
			plan_add(plan, OP_ENSURE, sb->files[i].dst,
				 rec | OPF_FILE);
		return 0;
	}

	/* A fresh procfs of the new PID namespace. */
	plan_mount(plan, "proc", "/proc", NULL,
		   rec | OPF_NOSUID | OPF_NODEV | OPF_NOEXEC);

	/* A minimal /dev: host device nodes bound onto files in a tmpfs. */
	plan_mount(plan, "tmpfs", "/dev", "mode=755,size=65536k",
		   rec | OPF_NOSUID | OPF_STRICTATIME);
	for (size_t i = 0; i < ARRAY_SIZE(dev_nodes); i++) {
		char *src = xstrfmt("/dev/%s", dev_nodes[i]);
		plan_bind(plan, src, src, OPF_FILE);
		free(src);
	}
	plan_mount(plan, "devpts", "/dev/pts",
		   plan->gid5_mapped ? "newinstance,ptmxmode=0666,mode=0620,"
				       "gid=5"
				     : "newinstance,ptmxmode=0666,mode=0620",
		   OPF_NOSUID | OPF_NOEXEC);
	plan_symlink(plan, "pts/ptmx", "/dev/ptmx");
	plan_mount(plan, "tmpfs", "/dev/shm", "mode=1777,size=65536k",
		   OPF_NOSUID | OPF_NODEV | OPF_NOEXEC);
	plan_mount(plan, "mqueue", "/dev/mqueue", NULL,
		   OPF_NOSUID | OPF_NODEV | OPF_NOEXEC);
	plan_symlink(plan, "/proc/self/fd", "/dev/fd");
	plan_symlink(plan, "/proc/self/fd/0", "/dev/stdin");
	plan_symlink(plan, "/proc/self/fd/1", "/dev/stdout");
	plan_symlink(plan, "/proc/self/fd/2", "/dev/stderr");

	/*
	 * /sys read-only.  A sysfs instance shows the network devices of
	 * the mounting netns and needs to own it, so with the host's network
	 * the host's /sys is bound instead (read-only, recursively).
	 */
	if (sb->network == SANDBOX_NET_NONE)
		plan_mount(plan, "sysfs", "/sys", NULL,
			   rec | OPF_RO | OPF_NOSUID | OPF_NODEV | OPF_NOEXEC);
	else
		plan_bind(plan, "/sys", "/sys",
			  rec | OPF_RO | OPF_RECURSIVE | OPF_NOSUID |
				  OPF_NODEV | OPF_NOEXEC);

	for (size_t i = 0; i < sb->binds_nr; i++) {
		struct stat st;
		unsigned f = rec | OPF_RECURSIVE;
		if (stat(sb->binds[i].src, &st) < 0) {
			error_set_errno(err, "bind mount source '%s'",
					sb->binds[i].src);
			return -1;
		}
		if (!S_ISDIR(st.st_mode))
			f |= OPF_FILE;
		if (sb->binds[i].ro)
			f |= OPF_RO;
		plan_bind(plan, sb->binds[i].src, sb->binds[i].dst, f);
	}
	for (size_t i = 0; i < sb->tmpfs_nr; i++)
		plan_mount(plan, "tmpfs", sb->tmpfs[i].dst,
			   sb->tmpfs[i].options ? sb->tmpfs[i].options
						: "mode=1777",
			   rec | OPF_NOSUID | OPF_NODEV);
	for (size_t i = 0; i < sb->files_nr; i++) {
		char *src = file_src_path(plan, i);
		plan_bind(plan, src, sb->files[i].dst,
			  rec | OPF_FILE | OPF_NOSUID | OPF_NODEV);
		free(src);
	}

	for (size_t i = 0; i < ARRAY_SIZE(masked_paths); i++)
		plan_add(plan, OP_MASK, masked_paths[i], OPF_OPTIONAL);
	for (size_t i = 0; i < ARRAY_SIZE(readonly_paths); i++)
		plan_add(plan, OP_READONLY, readonly_paths[i], OPF_OPTIONAL);
	if (sb->readonly_root)
		plan_add(plan, OP_ROOT_READONLY, "/", 0);
	plan_add(plan, OP_PIVOT, "/", 0);
	if (sb->hostname)
		plan_add(plan, OP_HOSTNAME, NULL, 0)->data =
			xstrdup(sb->hostname);
	if (sb->network == SANDBOX_NET_NONE)
		plan_add(plan, OP_LOOPBACK, NULL, 0);
	return 0;
}

static void describe_flags(struct strbuf *out, unsigned f)
{
	static const struct {
		unsigned flag;
		const char *name;
	} names[] = {
		{ OPF_RO, "ro" },
		{ OPF_NOSUID, "nosuid" },
		{ OPF_NODEV, "nodev" },
		{ OPF_NOEXEC, "noexec" },
		{ OPF_STRICTATIME, "strictatime" },
		{ OPF_RECURSIVE, "rec" },
		{ OPF_OPTIONAL, "optional" },
	};
	const char *sep = " (";
	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		if (!(f & names[i].flag))
			continue;
		strbuf_addf(out, "%s%s", sep, names[i].name);
		sep = ",";
	}
	if (*sep == ',')
		strbuf_addch(out, ')');
}

void sandbox_plan_describe(const struct sandbox_plan *plan, struct strbuf *out)
{
	for (size_t i = 0; i < plan->nr; i++) {
		const struct sandbox_op *op = &plan->ops[i];
		switch (op->kind) {
		case OP_ROOT:
			strbuf_addf(out, "root on %s", plan->merged);
			break;
		case OP_MOUNT:
			strbuf_addf(out, "mount %s on %s", op->fstype, op->dst);
			if (op->data)
				strbuf_addf(out, " [%s]", op->data);
			break;
		case OP_BIND:
			strbuf_addf(out, "bind %s on %s", op->src, op->dst);
			break;
		case OP_SYMLINK:
			strbuf_addf(out, "symlink %s -> %s", op->dst, op->src);
			break;
		case OP_MASK:
			strbuf_addf(out, "mask %s", op->dst);
			break;
		case OP_READONLY:
			strbuf_addf(out, "readonly %s", op->dst);
			break;
		case OP_ENSURE:
			strbuf_addf(out, "ensure %s", op->dst);
			break;
		case OP_ROOT_READONLY:
			strbuf_addstr(out, "readonly /");
			break;
		case OP_PIVOT:
			strbuf_addstr(out, "pivot_root");
			break;
		case OP_HOSTNAME:
			strbuf_addf(out, "hostname %s", op->data);
			break;
		case OP_LOOPBACK:
			strbuf_addstr(out, "loopback up");
			break;
		}
		describe_flags(out, op->flags & ~(OPF_RECORD | OPF_FILE));
		strbuf_addch(out, '\n');
	}
}

int sandbox_describe(const struct sandbox *sb, struct strbuf *out,
		     struct error **err)
{
	struct sandbox_plan plan = { 0 };
	int ret = sandbox_userns_plan(sb, &plan, err);
	if (!ret)
		ret = sandbox_plan_build(sb, &plan, sb->executor == SANDBOX_OCI,
					 err);
	if (!ret) {
		if (sb->lower.nr) {
			strbuf_addstr(out, "# lower (top first):");
			for (size_t i = sb->lower.nr; i-- > 0;)
				strbuf_addf(out, " %s", sb->lower.v[i]);
			strbuf_addch(out, '\n');
		}
		if (plan.userns)
			strbuf_addstr(out, "# user namespace\n");
		sandbox_plan_describe(&plan, out);
	}
	sandbox_plan_release(&plan);
	return ret;
}

/* ---------------------------------------------------------------- helpers */

char *sandbox_which(const char *name)
{
	if (strchr(name, '/'))
		return access(name, X_OK) ? NULL : xstrdup(name);
	const char *path = getenv("PATH");
	if (!path || !*path)
		path = DEFAULT_PATH;
	for (const char *p = path; *p;) {
		const char *e = strchrnul(p, ':');
		char *cand = xstrfmt("%.*s/%s", (int)(e - p), p, name);
		if (e > p && !access(cand, X_OK))
			return cand;
		free(cand);
		p = *e ? e + 1 : e;
	}
	return NULL;
}

/* ---------------------------------------------------------------- run */

static int write_file(const char *path, const char *content, mode_t mode,
		      struct error **err)
{
	int fd = open(path,
		      O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
		      mode);
	if (fd < 0) {
		error_set_errno(err, "open '%s'", path);
		return -1;
	}
	size_t len = strlen(content);
	const char *p = content;
	while (len) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			error_set_errno(err, "write '%s'", path);
			close(fd);
			return -1;
		}
		p += n;
		len -= n;
	}
	if (fchmod(fd, mode) < 0) {
		error_set_errno(err, "chmod '%s'", path);
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

/*
 * Create what the executors need in the scratch dir: upper and work (when
 * the caller gave none), the mount point, and the generated files.
 */
static int prepare_scratch(struct sandbox *sb, struct sandbox_plan *plan,
			   struct error **err)
{
	if (sb->lower.nr && !sb->upper) {
		sb->upper = xstrfmt("%s/upper", sb->scratch);
		if (mkdir(sb->upper, 0755) < 0) {
			error_set_errno(err, "mkdir '%s'", sb->upper);
			return -1;
		}
		plan->owned_upper = true;
	}
	if (sb->lower.nr && !sb->work) {
		sb->work = xstrfmt("%s/work", sb->scratch);
		if (mkdir(sb->work, 0700) < 0) {
			error_set_errno(err, "mkdir '%s'", sb->work);
			return -1;
		}
		plan->owned_work = true;
	}
	if (mkdir(plan->merged, 0755) < 0) {
		error_set_errno(err, "mkdir '%s'", plan->merged);
		return -1;
	}
	if (mkdir(plan->files, 0755) < 0) {
		error_set_errno(err, "mkdir '%s'", plan->files);
		return -1;
	}
	for (size_t i = 0; i < sb->files_nr; i++) {
		char *path = file_src_path(plan, i);
		int ret = write_file(path, sb->files[i].content,
				     sb->files[i].mode, err);
		free(path);
		if (ret < 0)
			return -1;
	}
	return 0;
}

/*
 * Remove the mount targets the sandbox created from the upper dir when they
 * are still as created (an empty file or directory), deepest first.  The
 * upper dir is walked with RESOLVE_NO_SYMLINKS: the command may have
 * replaced a parent by a symlink to somewhere on the host.
 */
static void prune_created(struct sandbox *sb)
{
	/* A plain rootfs received the targets itself. */
	const char *dir = sb->upper ? sb->upper : sb->rootfs;
	if (!dir || !sb->created.nr)
		return;
	int upfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (upfd < 0)
		return;
	struct strvec keep = STRVEC_INIT;
	for (size_t i = sb->created.nr; i-- > 0;) {
		const char *rel = sb->created.v[i];
		const char *slash = strrchr(rel, '/');
		cleanup_free char *parent = slash ? xstrndup(rel, slash - rel)
						  : xstrdup(".");
		const char *name = slash ? slash + 1 : rel;
		struct open_how how = {
			.flags = O_PATH | O_DIRECTORY | O_CLOEXEC,
			.resolve = RESOLVE_NO_SYMLINKS | RESOLVE_BENEATH |
				   RESOLVE_NO_XDEV,
		};
		int pfd = syscall(SYS_openat2, upfd, parent, &how, sizeof(how));
		struct stat st;
		bool removed = false;
		if (pfd >= 0 && !fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW)) {
			if (S_ISREG(st.st_mode) && st.st_size == 0)
				removed = !unlinkat(pfd, name, 0);
			else if (S_ISDIR(st.st_mode))
				removed = !unlinkat(pfd, name, AT_REMOVEDIR);
		} else if (pfd >= 0 && errno == ENOENT) {
			removed = true; /* the command removed it */
		}
		if (pfd >= 0)
			close(pfd);
		if (!removed)
			strvec_push(&keep, rel);
	}
	close(upfd);
	strvec_clear(&sb->created);
	for (size_t i = keep.nr; i-- > 0;)
		strvec_push(&sb->created, keep.v[i]);
	strvec_clear(&keep);
}

static void cleanup_scratch(struct sandbox *sb, struct sandbox_plan *plan)
{
	prune_created(sb);
	if (plan->merged)
		rmdir(plan->merged);
	if (plan->files)
		rm_rf_at(AT_FDCWD, plan->files);
	if (plan->bundle)
		rm_rf_at(AT_FDCWD, plan->bundle);
	if (plan->owned_work) {
		rm_rf_at(AT_FDCWD, sb->work);
		free(sb->work);
		sb->work = NULL;
	}
}

int sandbox_run(struct sandbox *sb, int *status, struct error **err)
{
	struct sandbox_plan plan = { 0 };
	int ret;

	*status = 125;
	strvec_clear(&sb->created);
	bool has_path = false;
	for (size_t i = 0; i < sb->env.nr; i++)
		if (starts_with(sb->env.v[i], "PATH="))
			has_path = true;
	if (!has_path)
		strvec_push(&sb->env, "PATH=" DEFAULT_PATH);
	ret = sandbox_userns_plan(sb, &plan, err);
	if (!ret)
		ret = sandbox_plan_build(sb, &plan, sb->executor == SANDBOX_OCI,
					 err);
	if (!ret)
		ret = prepare_scratch(sb, &plan, err);
	if (!ret) {
		if (sb->executor == SANDBOX_OCI)
			ret = sandbox_run_oci(sb, &plan, status, err);
		else
			ret = sandbox_run_native(sb, &plan, status, err);
	}
	cleanup_scratch(sb, &plan);
	sandbox_plan_release(&plan);
	return ret;
}
