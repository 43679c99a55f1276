/*
 * The native executor: kiln clones itself into new namespaces and carries
 * out the plan in the child (child_* functions report failures through the
 * message socket and _exit), then sets up the process and execs it as PID 1
 * of the new PID namespace.  Mounts use the fd-based mount API so every
 * target is resolved inside the root (openat2 RESOLVE_IN_ROOT) and never
 * through a path built from image data.
 */
#include "sandbox/sandbox-internal.h"

#include <grp.h>
#include <limits.h>
#include <linux/openat2.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "base/banned.h"

/* ---------------------------------------------------------------- report */

void child_send(struct sandbox_child *c, int type, int code, const char *text)
{
	struct sandbox_msg msg = { .type = type, .code = code };
	size_t n = strlen(text);
	if (n >= sizeof(msg.text))
		n = sizeof(msg.text) - 1;
	memcpy(msg.text, text, n);
	ssize_t ret;
	do
		ret = send(c->sock, &msg,
			   offsetof(struct sandbox_msg, text) + n,
			   MSG_NOSIGNAL);
	while (ret < 0 && errno == EINTR);
}

static NORETURN PRINTF_LIKE(3, 0) void child_vfail(struct sandbox_child *c,
						   int code, const char *fmt,
						   va_list ap, int errnum)
{
	char buf[2048];
	int n = vsnprintf(buf, sizeof(buf), fmt, ap);
	if (errnum && n >= 0 && (size_t)n < sizeof(buf))
		snprintf(buf + n, sizeof(buf) - n, ": %s", strerror(errnum));
	child_send(c, MSG_ERROR, code, buf);
	_exit(127);
}

void child_fail(struct sandbox_child *c, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	child_vfail(c, code, fmt, ap, 0);
}

void child_fail_errno(struct sandbox_child *c, const char *fmt, ...)
{
	int errnum = errno;
	va_list ap;
	va_start(ap, fmt);
	child_vfail(c, 125, fmt, ap, errnum);
}

/* ---------------------------------------------------------------- paths */

int sandbox_open_in_root(int rootfd, const char *path, int flags, mode_t mode)
{
	struct open_how how = {
		.flags = flags | O_CLOEXEC,
		.mode = mode,
		.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
	};
	while (*path == '/')
		path++;
	if (!*path)
		path = ".";
	return syscall(SYS_openat2, rootfd, path, &how, sizeof(how));
}

/* Lexically clean an absolute path: collapse "//", ".", "..". */
static char *clean_path(const char *path)
{
	struct strbuf out = STRBUF_INIT;
	for (const char *p = path; *p;) {
		while (*p == '/')
			p++;
		const char *e = strchrnul(p, '/');
		size_t n = e - p;
		if (n == 0 || (n == 1 && p[0] == '.')) {
			/* nothing */
		} else if (n == 2 && p[0] == '.' && p[1] == '.') {
			char *slash = strrchr(out.buf, '/');
			strbuf_setlen(&out,
				      slash ? (size_t)(slash - out.buf) : 0);
		} else {
			strbuf_addch(&out, '/');
			strbuf_add(&out, p, n);
		}
		p = e;
	}
	if (!out.len)
		strbuf_addch(&out, '/');
	return strbuf_detach(&out, NULL);
}

static int ensure_rec(struct sandbox_child *c, const char *path, bool file,
		      bool record, int depth)
{
	int fd = sandbox_open_in_root(c->rootfd, path, O_PATH, 0);
	if (fd >= 0)
		return fd;
	if (errno != ENOENT)
		child_fail_errno(c, "openat2 '%s' in the root", path);
	if (depth > 40) {
		errno = ELOOP;
		child_fail_errno(c, "create '%s' in the root", path);
	}
	cleanup_free char *copy = clean_path(path);
	char *slash = strrchr(copy, '/');
	const char *name = slash + 1;
	cleanup_free char *parent =
		slash == copy ? xstrdup("/") : xstrndup(copy, slash - copy);
	int pfd = ensure_rec(c, parent, false, record, depth + 1);

	/* A dangling symlink: create what it points to, inside the root. */
	char target[PATH_MAX];
	ssize_t n = readlinkat(pfd, name, target, sizeof(target) - 1);
	if (n >= 0) {
		target[n] = '\0';
		close(pfd);
		cleanup_free char *next =
			target[0] == '/' ? xstrdup(target)
					 : xstrfmt("%s/%s", parent, target);
		return ensure_rec(c, next, file, record, depth + 1);
	}

	if (file) {
		int f = openat(pfd, name,
			       O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
				       O_CLOEXEC,
			       0644);
		if (f < 0 && errno != EEXIST)
			child_fail_errno(c, "create '%s'", copy);
		if (f >= 0)
			close(f);
	} else if (mkdirat(pfd, name, 0755) < 0 && errno != EEXIST) {
		child_fail_errno(c, "mkdir '%s'", copy);
	}
	if (record)
		child_send(c, MSG_CREATED, 0, copy + 1);
	fd = openat(pfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		child_fail_errno(c, "open '%s'", copy);
	close(pfd);
	return fd;
}

int child_ensure_path(struct sandbox_child *c, const char *path, bool file,
		      bool record)
{
	return ensure_rec(c, path, file, record, 0);
}

/* ---------------------------------------------------------------- mounts */

static unsigned mount_attrs(unsigned flags)
{
	unsigned a = 0;
	if (flags & OPF_RO)
		a |= MOUNT_ATTR_RDONLY;
	if (flags & OPF_NOSUID)
		a |= MOUNT_ATTR_NOSUID;
	if (flags & OPF_NODEV)
		a |= MOUNT_ATTR_NODEV;
	if (flags & OPF_NOEXEC)
		a |= MOUNT_ATTR_NOEXEC;
	if (flags & OPF_STRICTATIME)
		a |= MOUNT_ATTR_STRICTATIME;
	return a;
}

/* The kernel's own explanation of a failed fsconfig, when it left one. */
static void fs_log(int fsfd, char *buf, size_t size)
{
	buf[0] = '\0';
	ssize_t n = read(fsfd, buf, size - 1);
	if (n > 0) {
		buf[n] = '\0';
		buf[strcspn(buf, "\n")] = '\0';
	}
}

static NORETURN void fail_fsconfig(struct sandbox_child *c, int fsfd,
				   const char *what, const char *fstype,
				   const char *dst)
{
	int errnum = errno;
	char log[512];
	fs_log(fsfd, log, sizeof(log));
	errno = errnum;
	if (*log)
		child_fail(c, 125, "%s '%s' on '%s': %s (%s)", what, fstype,
			   dst, strerror(errnum), log);
	child_fail_errno(c, "%s '%s' on '%s'", what, fstype, dst);
}

/* Set "k=v,flag,..." on a filesystem context. */
static void fs_set_options(struct sandbox_child *c, int fsfd,
			   const char *fstype, const char *dst,
			   const char *data)
{
	if (!data)
		return;
	cleanup_free char *copy = xstrdup(data);
	for (char *p = copy; p && *p;) {
		char *next = strchr(p, ',');
		if (next)
			*next++ = '\0';
		char *eq = strchr(p, '=');
		int ret;
		if (eq) {
			*eq = '\0';
			ret = fsconfig(fsfd, FSCONFIG_SET_STRING, p, eq + 1, 0);
		} else {
			ret = fsconfig(fsfd, FSCONFIG_SET_FLAG, p, NULL, 0);
		}
		if (ret < 0)
			fail_fsconfig(c, fsfd, "fsconfig", fstype, dst);
		p = next;
	}
}

/* A new detached mount of `fstype` (fsopen, fsconfig, fsmount). */
static int new_fs(struct sandbox_child *c, const char *fstype, const char *dst,
		  const char *data, unsigned attrs)
{
	int fsfd = fsopen(fstype, FSOPEN_CLOEXEC);
	if (fsfd < 0)
		child_fail_errno(c, "fsopen '%s'", fstype);
	fs_set_options(c, fsfd, fstype, dst, data);
	if (fsconfig(fsfd, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
		fail_fsconfig(c, fsfd, "mount", fstype, dst);
	int mfd = fsmount(fsfd, FSMOUNT_CLOEXEC, attrs);
	if (mfd < 0)
		child_fail_errno(c, "fsmount '%s' on '%s'", fstype, dst);
	close(fsfd);
	return mfd;
}

static void attach(struct sandbox_child *c, int mfd, int tfd, const char *what,
		   const char *dst)
{
	if (move_mount(mfd, "", tfd, "",
		       MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
		child_fail_errno(c, "move_mount '%s' on '%s'", what, dst);
	close(mfd);
	close(tfd);
}

static void set_attrs(struct sandbox_child *c, int mfd, unsigned attrs,
		      bool recursive, const char *what)
{
	if (!attrs)
		return;
	struct mount_attr attr = { .attr_set = attrs };
	if (mount_setattr(mfd, "",
			  AT_EMPTY_PATH | (recursive ? AT_RECURSIVE : 0), &attr,
			  sizeof(attr)) < 0)
		child_fail_errno(c, "mount_setattr '%s'", what);
}

/* Overlay through the legacy mount(2) data string (kernels < 6.8). */
static void overlay_legacy(struct sandbox_child *c)
{
	const struct sandbox *sb = c->sb;
	struct strbuf data = STRBUF_INIT;
	strbuf_addstr(&data, "lowerdir=");
	for (size_t i = sb->lower.nr; i-- > 0;)
		strbuf_addf(&data, "%s%s", sb->lower.v[i], i ? ":" : "");
	strbuf_addf(&data, ",upperdir=%s,workdir=%s", sb->upper, sb->work);
	if (c->plan->userns)
		strbuf_addstr(&data, ",userxattr");
	if (data.len >= 4096)
		child_fail(c, 125,
			   "mount 'overlay' on '%s': %zu layers do not fit "
			   "the mount options of this kernel",
			   c->plan->merged, sb->lower.nr);
	if (mount("overlay", c->plan->merged, "overlay", 0, data.buf) < 0)
		child_fail_errno(c, "mount 'overlay' on '%s'", c->plan->merged);
	strbuf_release(&data);
}

static void mount_root(struct sandbox_child *c)
{
	const struct sandbox *sb = c->sb;
	const char *merged = c->plan->merged;
	int mfd;

	if (!sb->lower.nr) {
		/* A plain directory: bind it (with what is mounted below). */
		mfd = open_tree(AT_FDCWD, sb->rootfs,
				OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC |
					AT_RECURSIVE);
		if (mfd < 0)
			child_fail_errno(c, "open_tree '%s'", sb->rootfs);
	} else {
		int fsfd = fsopen("overlay", FSOPEN_CLOEXEC);
		if (fsfd < 0)
			child_fail_errno(c, "fsopen 'overlay'");
		/* "lowerdir+" takes one layer per call, topmost first. */
		for (size_t i = sb->lower.nr; i-- > 0;) {
			if (fsconfig(fsfd, FSCONFIG_SET_STRING, "lowerdir+",
				     sb->lower.v[i], 0) == 0)
				continue;
			if (errno == EINVAL && i == sb->lower.nr - 1) {
				close(fsfd);
				overlay_legacy(c);
				goto mounted;
			}
			fail_fsconfig(c, fsfd, "fsconfig lowerdir+", "overlay",
				      sb->lower.v[i]);
		}
		if (fsconfig(fsfd, FSCONFIG_SET_STRING, "upperdir", sb->upper,
			     0) < 0)
			fail_fsconfig(c, fsfd, "fsconfig upperdir", "overlay",
				      sb->upper);
		if (fsconfig(fsfd, FSCONFIG_SET_STRING, "workdir", sb->work,
			     0) < 0)
			fail_fsconfig(c, fsfd, "fsconfig workdir", "overlay",
				      sb->work);
		/*
		 * In a user namespace the trusted.* xattrs are out of reach;
		 * without userxattr the mount works but removing a lower
		 * directory fails with EIO.
		 */
		if (c->plan->userns &&
		    fsconfig(fsfd, FSCONFIG_SET_FLAG, "userxattr", NULL, 0) < 0)
			fail_fsconfig(c, fsfd, "fsconfig userxattr", "overlay",
				      merged);
		if (fsconfig(fsfd, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
			fail_fsconfig(c, fsfd, "mount", "overlay", merged);
		mfd = fsmount(fsfd, FSMOUNT_CLOEXEC, 0);
		if (mfd < 0)
			child_fail_errno(c, "fsmount 'overlay' on '%s'",
					 merged);
		close(fsfd);
	}
	if (move_mount(mfd, "", AT_FDCWD, merged, MOVE_MOUNT_F_EMPTY_PATH) < 0)
		child_fail_errno(c, "move_mount root on '%s'", merged);
	close(mfd);
mounted:
	c->rootfd = open(merged, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (c->rootfd < 0)
		child_fail_errno(c, "open '%s'", merged);
}

/*
 * The path a mask or read-only op covers, O_PATH in the root; -1 when it
 * does not exist in this image (nothing to cover).
 */
static int open_masked(struct sandbox_child *c, const struct sandbox_op *op)
{
	int tfd = sandbox_open_in_root(c->rootfd, op->dst, O_PATH | O_NOFOLLOW,
				       0);
	if (tfd < 0 && errno != ENOENT)
		child_fail_errno(c, "openat2 '%s' in the root", op->dst);
	return tfd;
}

static void op_mask(struct sandbox_child *c, const struct sandbox_op *op)
{
	int tfd = open_masked(c, op);
	if (tfd < 0)
		return;
	struct stat st;
	if (fstat(tfd, &st) < 0)
		child_fail_errno(c, "fstat '%s'", op->dst);
	int mfd;
	if (S_ISDIR(st.st_mode)) {
		/* An empty read-only tmpfs hides a directory. */
		mfd = new_fs(c, "tmpfs", op->dst, "size=0,mode=0555",
			     MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID |
				     MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC);
	} else {
		mfd = open_tree(AT_FDCWD, "/dev/null",
				OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
		if (mfd < 0)
			child_fail_errno(c, "open_tree '/dev/null'");
	}
	attach(c, mfd, tfd, "mask", op->dst);
}

static void op_readonly(struct sandbox_child *c, const struct sandbox_op *op)
{
	int tfd = open_masked(c, op);
	if (tfd < 0)
		return;
	int mfd = open_tree(tfd, "",
			    OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC |
				    AT_EMPTY_PATH | AT_RECURSIVE);
	if (mfd < 0)
		child_fail_errno(c, "open_tree '%s'", op->dst);
	set_attrs(c, mfd,
		  MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV |
			  MOUNT_ATTR_NOEXEC,
		  true, op->dst);
	attach(c, mfd, tfd, op->dst, op->dst);
}

static void op_symlink(struct sandbox_child *c, const struct sandbox_op *op)
{
	cleanup_free char *parent = xstrdup(op->dst);
	char *slash = strrchr(parent, '/');
	const char *name = op->dst + (slash - parent) + 1;
	slash[slash == parent ? 1 : 0] = '\0';
	int pfd = child_ensure_path(c, parent, false, false);
	if (symlinkat(op->src, pfd, name) < 0)
		child_fail_errno(c, "symlink '%s'", op->dst);
	close(pfd);
}

static void op_pivot(struct sandbox_child *c)
{
	/*
	 * pivot_root(".", ".") stacks the old root on top of the new one;
	 * detaching it leaves only the new root.  The old root is private
	 * (see child_native), so the detach does not propagate anywhere.
	 */
	if (fchdir(c->rootfd) < 0)
		child_fail_errno(c, "fchdir '%s'", c->plan->merged);
	if (syscall(SYS_pivot_root, ".", ".") < 0)
		child_fail_errno(c, "pivot_root '%s'", c->plan->merged);
	if (umount2(".", MNT_DETACH) < 0)
		child_fail_errno(c, "umount2 old root");
	if (chdir("/") < 0)
		child_fail_errno(c, "chdir '/'");
	close(c->rootfd);
	c->rootfd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (c->rootfd < 0)
		child_fail_errno(c, "open '/'");
}

static void op_loopback(struct sandbox_child *c)
{
	/* A new network namespace has only `lo`, and it is down. */
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		child_fail_errno(c, "socket AF_INET");
	struct ifreq ifr = { 0 };
	memcpy(ifr.ifr_name, "lo", 3);
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0)
		child_fail_errno(c, "ioctl SIOCGIFFLAGS 'lo'");
	ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
	if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)
		child_fail_errno(c, "ioctl SIOCSIFFLAGS 'lo'");
	close(fd);
}

void child_setup(struct sandbox_child *c)
{
	if (setsid() < 0)
		child_fail_errno(c, "setsid");
	umask(022);
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		child_fail_errno(c, "mount make-rprivate '/'");
	child_run_ops(c, 0, c->plan->nr);
}

void child_run_ops(struct sandbox_child *c, size_t from, size_t to)
{
	const struct sandbox_plan *plan = c->plan;
	for (size_t i = from; i < to; i++) {
		const struct sandbox_op *op = &plan->ops[i];
		bool rec = op->flags & OPF_RECORD;
		int mfd, tfd;
		switch (op->kind) {
		case OP_ROOT:
			mount_root(c);
			break;
		case OP_MOUNT:
			mfd = new_fs(c, op->fstype, op->dst, op->data,
				     mount_attrs(op->flags));
			tfd = child_ensure_path(c, op->dst, false, rec);
			attach(c, mfd, tfd, op->fstype, op->dst);
			break;
		case OP_BIND:
			mfd = open_tree(AT_FDCWD, op->src,
					OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC |
						(op->flags & OPF_RECURSIVE
							 ? AT_RECURSIVE
							 : 0));
			if (mfd < 0)
				child_fail_errno(c, "open_tree '%s'", op->src);
			set_attrs(c, mfd, mount_attrs(op->flags),
				  op->flags & OPF_RECURSIVE, op->src);
			tfd = child_ensure_path(c, op->dst,
						op->flags & OPF_FILE, rec);
			attach(c, mfd, tfd, op->src, op->dst);
			break;
		case OP_SYMLINK:
			op_symlink(c, op);
			break;
		case OP_MASK:
			op_mask(c, op);
			break;
		case OP_READONLY:
			op_readonly(c, op);
			break;
		case OP_ENSURE:
			close(child_ensure_path(c, op->dst,
						op->flags & OPF_FILE, rec));
			break;
		case OP_ROOT_READONLY: {
			struct mount_attr attr = { .attr_set =
							   MOUNT_ATTR_RDONLY };
			if (mount_setattr(c->rootfd, "", AT_EMPTY_PATH, &attr,
					  sizeof(attr)) < 0)
				child_fail_errno(c, "mount_setattr ro '/'");
			break;
		}
		case OP_PIVOT:
			op_pivot(c);
			break;
		case OP_HOSTNAME:
			if (sethostname(op->data, strlen(op->data)) < 0)
				child_fail_errno(c, "sethostname '%s'",
						 op->data);
			break;
		case OP_LOOPBACK:
			op_loopback(c);
			break;
		}
	}
}

/* ---------------------------------------------------------------- process */

void child_reset_signals(const sigset_t *mask)
{
	struct sigaction sa = { .sa_handler = SIG_DFL };
	for (int sig = 1; sig < NSIG; sig++)
		sigaction(sig, &sa, NULL);
	sigprocmask(SIG_SETMASK, mask, NULL);
}

void child_setup_stdio(struct sandbox_child *c)
{
	int tmp[3];
	for (int i = 0; i < 3; i++) {
		if (c->stdio[i] >= 0)
			tmp[i] = fcntl(c->stdio[i], F_DUPFD_CLOEXEC, 3);
		else
			tmp[i] = open("/dev/null", O_RDWR | O_CLOEXEC);
		if (tmp[i] < 0)
			child_fail_errno(c, "stdio %d", i);
	}
	for (int i = 0; i < 3; i++) {
		if (dup2(tmp[i], i) < 0)
			child_fail_errno(c, "dup2 stdio %d", i);
		close(tmp[i]);
	}
}

void child_close_fds(struct sandbox_child *c, int keep)
{
	/* No descriptor of kiln's may reach the command (CVE-2024-21626). */
	if (keep > 3 && close_range(3, keep - 1, 0) < 0)
		child_fail_errno(c, "close_range");
	if (close_range(keep + 1, ~0U, 0) < 0)
		child_fail_errno(c, "close_range");
}

NORETURN void child_exec(struct sandbox_child *c, char *const argv[],
			 char *const envp[])
{
	const char *file = argv[0];
	int errnum = ENOENT;

	if (strchr(file, '/')) {
		execve(file, argv, envp);
		errnum = errno;
	} else {
		const char *path = "";
		bool eacces = false;
		for (size_t i = 0; envp[i]; i++)
			if (starts_with(envp[i], "PATH="))
				path = envp[i] + 5;
		for (const char *p = path; *p;) {
			const char *e = strchrnul(p, ':');
			char buf[PATH_MAX];
			snprintf(buf, sizeof(buf), "%.*s/%s", (int)(e - p), p,
				 file);
			execve(e > p ? buf : file, argv, envp);
			if (errno == EACCES)
				eacces = true;
			else if (errno != ENOENT && errno != ENOTDIR) {
				errnum = errno;
				break;
			}
			p = *e ? e + 1 : e;
		}
		if (errnum == ENOENT && eacces)
			errnum = EACCES;
		if (errnum == ENOENT)
			child_fail(c, 127,
				   "exec: \"%s\": executable file not found "
				   "in $PATH",
				   file);
	}
	child_fail(c, errnum == ENOENT || errnum == ENOTDIR ? 127 : 126,
		   "exec: \"%s\": %s", file, strerror(errnum));
}

/* Open the working directory inside the root, creating it (0755). */
static void child_chdir(struct sandbox_child *c)
{
	const char *cwd = c->sb->cwd && *c->sb->cwd ? c->sb->cwd : "/";
	if (cwd[0] != '/')
		child_fail(c, 125, "working directory '%s' is not absolute",
			   cwd);
	/*
	 * Resolved below the new root with RESOLVE_IN_ROOT and without magic
	 * links, after every inherited fd was closed: "/proc/self/fd/N"
	 * cannot lead out of the root.
	 */
	int fd = child_ensure_path(c, cwd, false, false);
	if (fchdir(fd) < 0)
		child_fail_errno(c, "chdir to working directory '%s'", cwd);
	close(fd);
	char buf[PATH_MAX];
	if (!getcwd(buf, sizeof(buf)) || buf[0] != '/')
		child_fail(c, 125,
			   "working directory '%s' is outside the container",
			   cwd);
}

static void child_pty(struct sandbox_child *c)
{
	/* The pty comes from the container's own devpts instance. */
	int master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (master < 0)
		child_fail_errno(c, "open '/dev/ptmx'");
	int unlock = 0;
	if (ioctl(master, TIOCSPTLCK, &unlock) < 0)
		child_fail_errno(c, "ioctl TIOCSPTLCK");
	int slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (slave < 0)
		child_fail_errno(c, "ioctl TIOCGPTPEER");

	struct sandbox_msg msg = { .type = MSG_PTY };
	struct iovec iov = { .iov_base = &msg,
			     .iov_len = offsetof(struct sandbox_msg, text) };
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct msghdr mh = { .msg_iov = &iov,
			     .msg_iovlen = 1,
			     .msg_control = u.buf,
			     .msg_controllen = sizeof(u.buf) };
	struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &master, sizeof(int));
	if (sendmsg(c->sock, &mh, MSG_NOSIGNAL) < 0)
		child_fail_errno(c, "sendmsg pty");
	close(master);
	/* Wait until the parent has set the window size. */
	char ack;
	if (read(c->sock, &ack, 1) != 1)
		child_fail(c, 125, "pty: no answer from the parent");
	c->stdio[0] = c->stdio[1] = c->stdio[2] = slave;
}

/* PID 1 in --init mode: reap everything, forward signals, mirror exit. */
static NORETURN void child_init_loop(pid_t child)
{
	sigset_t all;
	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	for (;;) {
		siginfo_t si;
		int sig = sigwaitinfo(&all, &si);
		if (sig < 0)
			continue;
		if (sig != SIGCHLD) {
			kill(child, sig);
			continue;
		}
		int st;
		pid_t p;
		while ((p = waitpid(-1, &st, WNOHANG)) > 0) {
			if (p != child)
				continue;
			_exit(WIFSIGNALED(st) ? 128 + WTERMSIG(st)
					      : WEXITSTATUS(st));
		}
	}
}

static void child_ids(struct sandbox_child *c, uid_t uid, gid_t gid,
		      const gid_t *groups, size_t ngroups)
{
	/* With a single-id map the kernel denies setgroups(2). */
	if (!c->plan->setgroups_denied && setgroups(ngroups, groups) < 0)
		child_fail_errno(c, "setgroups");
	if (setresgid(gid, gid, gid) < 0) {
		if (errno == EINVAL && c->plan->userns)
			child_fail(c, 125,
				   "setresgid %u: gid not mapped in the user "
				   "namespace (see /etc/subgid)",
				   (unsigned)gid);
		child_fail_errno(c, "setresgid %u", (unsigned)gid);
	}
	/* Keep the permitted set across setresuid; trimmed right after. */
	if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
		child_fail_errno(c, "prctl PR_SET_KEEPCAPS");
	if (setresuid(uid, uid, uid) < 0) {
		if (errno == EINVAL && c->plan->userns)
			child_fail(c, 125,
				   "setresuid %u: uid not mapped in the user "
				   "namespace (see /etc/subuid)",
				   (unsigned)uid);
		child_fail_errno(c, "setresuid %u", (unsigned)uid);
	}
}

static void child_native(struct sandbox_child *c)
{
	const struct sandbox *sb = c->sb;
	struct error *err = NULL;

	child_setup(c);

	if (sb->tty)
		child_pty(c);
	child_setup_stdio(c);
	if (sb->tty && ioctl(0, TIOCSCTTY, 0) < 0)
		child_fail_errno(c, "ioctl TIOCSCTTY");
	if (sb->tty) {
		close(c->stdio[0]);
		c->stdio[0] = c->stdio[1] = c->stdio[2] = -1;
	}
	close(c->rootfd);
	child_close_fds(c, c->sock);
	c->rootfd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (c->rootfd < 0)
		child_fail_errno(c, "open '/'");

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
	child_chdir(c);
	close(c->rootfd);
	c->rootfd = -1;

	/* Docker's capability set: the bounding set first (needs SETPCAP). */
	if (sandbox_caps_drop_bounding(sb->caps, &err) < 0)
		child_fail(c, 125, "%s", err->msg);
	/*
	 * The filter is loaded while CAP_SYS_ADMIN is still effective, as
	 * loading it without no_new_privs requires; it allows what follows
	 * (setgroups, setresuid, capset, execve).
	 */
	if (sb->seccomp && sandbox_seccomp_load(&err) < 0)
		child_fail(c, 125, "%s", err->msg);
	if (sb->no_new_privs && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		child_fail_errno(c, "prctl PR_SET_NO_NEW_PRIVS");
	child_ids(c, uid, gid, groups, ngroups);
	if (sandbox_caps_apply(sb->caps, &err) < 0)
		child_fail(c, 125, "%s", err->msg);

	sigset_t empty;
	sigemptyset(&empty);
	if (sb->init) {
		pid_t pid = fork();
		if (pid < 0)
			child_fail_errno(c, "fork");
		if (pid > 0) {
			close(c->sock);
			child_init_loop(pid);
		}
		/*
		 * The command gets its own process group (the terminal's
		 * foreground one with -t), so ^C reaches it once, not also
		 * through init.
		 */
		setpgid(0, 0);
		if (sb->tty) {
			/* From a background group this would stop us. */
			sigset_t ttou;
			sigemptyset(&ttou);
			sigaddset(&ttou, SIGTTOU);
			sigprocmask(SIG_BLOCK, &ttou, NULL);
			if (tcsetpgrp(0, getpid()) < 0)
				child_fail_errno(c, "tcsetpgrp");
		}
	}
	child_reset_signals(&empty);
	child_exec(c, (char *const *)sb->argv.v, (char *const *)sb->env.v);
}

/* ---------------------------------------------------------------- parent */

void sandbox_signal_set(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGHUP);
	sigaddset(set, SIGQUIT);
	sigaddset(set, SIGUSR1);
	sigaddset(set, SIGUSR2);
	sigaddset(set, SIGCHLD);
	sigaddset(set, SIGWINCH);
}

pid_t sandbox_spawn(const struct sandbox *sb, const struct sandbox_plan *plan,
		    unsigned long flags, const sigset_t *oldmask,
		    void (*fn)(struct sandbox_child *c), int *sock,
		    struct error **err)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		error_set_errno(err, "socketpair");
		return -1;
	}
	if (plan->userns)
		flags |= CLONE_NEWUSER;
	/*
	 * clone(2) without a stack behaves like fork(2) into the new
	 * namespaces; the child becomes PID 1 of the new PID namespace.
	 */
	pid_t pid = syscall(SYS_clone, flags | SIGCHLD, NULL, NULL, NULL, 0);
	if (pid < 0) {
		error_set_errno(err, "clone");
		close(sv[0]);
		close(sv[1]);
		return -1;
	}
	if (pid == 0) {
		/* kiln is the only supervisor: if it dies, so does the run. */
		prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
		close(sv[0]);
		struct sandbox_child c = {
			.sb = sb,
			.plan = plan,
			.sock = sv[1],
			.rootfd = -1,
			.stdio = { sb->stdio[0], sb->stdio[1], sb->stdio[2] },
			.oldmask = *oldmask,
		};
		if (plan->userns) {
			char go;
			if (read(c.sock, &go, 1) != 1)
				_exit(127);
		}
		fn(&c);
		_exit(127);
	}
	close(sv[1]);
	if (plan->userns) {
		if (sandbox_userns_write_maps(plan, pid, err) < 0) {
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
			close(sv[0]);
			return -1;
		}
		if (write(sv[0], "1", 1) != 1) {
			error_set_errno(err, "write to the sandbox");
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
			close(sv[0]);
			return -1;
		}
	}
	*sock = sv[0];
	return pid;
}

int sandbox_wait_exec(struct sandbox *sb, int sock, int *pty_master,
		      int *status, struct error **err)
{
	for (;;) {
		struct sandbox_msg msg;
		union {
			char buf[CMSG_SPACE(sizeof(int))];
			struct cmsghdr align;
		} u;
		struct iovec iov = { .iov_base = &msg,
				     .iov_len = sizeof(msg) - 1 };
		struct msghdr mh = { .msg_iov = &iov,
				     .msg_iovlen = 1,
				     .msg_control = u.buf,
				     .msg_controllen = sizeof(u.buf) };
		ssize_t n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			error_set_errno(err, "read from the sandbox");
			return -1;
		}
		if (n == 0)
			return 0; /* EOF: the command was exec'd */
		if ((size_t)n < offsetof(struct sandbox_msg, text))
			continue;
		msg.text[n - offsetof(struct sandbox_msg, text)] = '\0';
		switch (msg.type) {
		case MSG_ERROR:
			*status = msg.code;
			error_set(err,
				  msg.code == 127   ? ENOENT
				  : msg.code == 126 ? EACCES
						    : KILN_EINTERNAL,
				  "%s", msg.text);
			return -1;
		case MSG_CREATED:
			strvec_push(&sb->created, msg.text);
			break;
		case MSG_PTY: {
			struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
			int fd = -1;
			if (cm && cm->cmsg_type == SCM_RIGHTS)
				memcpy(&fd, CMSG_DATA(cm), sizeof(int));
			if (pty_master)
				*pty_master = fd;
			else if (fd >= 0)
				close(fd);
			int term = isatty(sb->stdio[0]) ? sb->stdio[0]
							: sb->stdio[1];
			if (fd >= 0 && term >= 0)
				sandbox_pty_copy_winsize(term, fd);
			if (write(sock, "1", 1) != 1) {
				error_set_errno(err, "write to the sandbox");
				return -1;
			}
			break;
		}
		}
	}
}

static int wait_code(int st)
{
	return WIFSIGNALED(st) ? 128 + WTERMSIG(st) : WEXITSTATUS(st);
}

static void write_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = write(fd, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		buf += n;
		len -= n;
	}
}

int sandbox_supervise(pid_t pid, int sigfd, int pty_master, int in_fd,
		      int out_fd)
{
	int code = -1;
	bool in_open = pty_master >= 0 && in_fd >= 0;
	bool pty_open = pty_master >= 0;
	int term = isatty(in_fd) ? in_fd : -1;

	while (code < 0 || pty_open) {
		struct pollfd pfd[3] = {
			{ .fd = sigfd, .events = POLLIN },
			{ .fd = pty_open ? pty_master : -1, .events = POLLIN },
			{ .fd = in_open ? in_fd : -1, .events = POLLIN },
		};
		/* After the exit, only drain what is left in the pty. */
		if (code >= 0) {
			pfd[0].fd = -1;
			pfd[2].fd = -1;
		}
		if (poll(pfd, 3, code >= 0 ? 100 : -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (code >= 0 && !(pfd[1].revents & (POLLIN | POLLHUP)))
			break;
		if (pfd[0].revents & POLLIN) {
			struct signalfd_siginfo si;
			if (read(sigfd, &si, sizeof(si)) == sizeof(si)) {
				int sig = si.ssi_signo;
				if (sig == SIGWINCH && pty_master >= 0) {
					if (term >= 0)
						sandbox_pty_copy_winsize(
							term, pty_master);
				} else if (sig != SIGCHLD) {
					/* (an OCI runtime resizes its pty) */
					kill(pid, sig);
				}
			}
			int st;
			if (waitpid(pid, &st, WNOHANG) == pid)
				code = wait_code(st);
		}
		if (pfd[1].revents & (POLLIN | POLLHUP | POLLERR)) {
			char buf[8192];
			ssize_t n = read(pty_master, buf, sizeof(buf));
			if (n > 0)
				write_all(out_fd, buf, n);
			else if (n == 0 || errno != EINTR)
				pty_open = false;
		}
		if (pfd[2].revents & (POLLIN | POLLHUP | POLLERR)) {
			char buf[8192];
			ssize_t n = read(in_fd, buf, sizeof(buf));
			if (n > 0)
				write_all(pty_master, buf, n);
			else if (n == 0 || errno != EINTR)
				in_open = false;
		}
	}
	if (code < 0) {
		int st;
		while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
			;
		code = wait_code(st);
	}
	return code;
}

/* Block the forwarded signals; returns a signalfd for them. */
static int block_signals(sigset_t *old, struct error **err)
{
	sigset_t set;
	sandbox_signal_set(&set);
	sigprocmask(SIG_BLOCK, &set, old);
	int fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (fd < 0) {
		error_set_errno(err, "signalfd");
		sigprocmask(SIG_SETMASK, old, NULL);
	}
	return fd;
}

/*
 * Forwarded signals that arrived after the container exited were meant for
 * it: consume them before unblocking, so they do not kill kiln.
 */
static void unblock_signals(int sigfd, const sigset_t *old)
{
	struct signalfd_siginfo si;
	while (read(sigfd, &si, sizeof(si)) == sizeof(si))
		;
	close(sigfd);
	sigprocmask(SIG_SETMASK, old, NULL);
}

int sandbox_run_native(struct sandbox *sb, struct sandbox_plan *plan,
		       int *status, struct error **err)
{
	sigset_t old;
	int sigfd = block_signals(&old, err);
	if (sigfd < 0)
		return -1;
	unsigned long flags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC |
			      CLONE_NEWUTS;
	if (sb->network == SANDBOX_NET_NONE)
		flags |= CLONE_NEWNET;
	int sock = -1;
	pid_t pid =
		sandbox_spawn(sb, plan, flags, &old, child_native, &sock, err);
	if (pid < 0) {
		unblock_signals(sigfd, &old);
		return -1;
	}
	int master = -1;
	int ret = sandbox_wait_exec(sb, sock, &master, status, err);
	close(sock);
	if (ret < 0) {
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
		if (master >= 0)
			close(master);
		unblock_signals(sigfd, &old);
		return -1;
	}
	char saved[256]; /* struct termios */
	int term = master >= 0 && isatty(sb->stdio[0]) ? sb->stdio[0] : -1;
	if (term >= 0 && sandbox_term_raw(term, saved) < 0)
		term = -1;
	*status = sandbox_supervise(pid, sigfd, master, sb->stdio[0],
				    sb->stdio[1]);
	if (term >= 0)
		sandbox_term_restore(term, saved);
	if (master >= 0)
		close(master);
	unblock_signals(sigfd, &old);
	return 0;
}
