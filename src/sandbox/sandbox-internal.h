/*
 * sandbox internals shared by the description (sandbox.c), the native
 * executor (native.c), the OCI executor (oci.c) and their helpers.
 */
#ifndef KILN_SANDBOX_INTERNAL_H
#define KILN_SANDBOX_INTERNAL_H

#include "sandbox/sandbox.h"

#include <linux/openat2.h>
#include <signal.h>
#include <sys/syscall.h>

/* ---------------------------------------------------------------- plan */

enum sandbox_op_kind {
	OP_ROOT, /* mount the overlay (or bind the rootfs) on the merged dir */
	OP_MOUNT, /* a new filesystem `fstype` with options `data` on dst */
	OP_BIND, /* host path src on dst */
	OP_SYMLINK, /* dst -> src */
	OP_MASK, /* hide dst: /dev/null on a file, empty ro tmpfs on a dir */
	OP_READONLY, /* rebind dst read-only */
	OP_ENSURE, /* only make sure dst exists (the OCI runtime mounts it) */
	OP_ROOT_READONLY, /* make the root mount read-only */
	OP_PIVOT, /* pivot_root into the merged dir, detach the old root */
	OP_HOSTNAME, /* sethostname(data) */
	OP_LOOPBACK, /* bring `lo` up */
};

enum {
	OPF_RO = 1 << 0, /* read-only */
	OPF_FILE = 1 << 1, /* the target is a file, not a directory */
	OPF_RECORD = 1 << 2, /* record targets created on the root fs */
	OPF_OPTIONAL = 1 << 3, /* skip when dst does not exist */
	OPF_NOSUID = 1 << 4,
	OPF_NODEV = 1 << 5,
	OPF_NOEXEC = 1 << 6,
	OPF_STRICTATIME = 1 << 7,
	OPF_RECURSIVE = 1 << 8,
};

struct sandbox_op {
	enum sandbox_op_kind kind;
	unsigned flags;
	const char *fstype; /* OP_MOUNT */
	char *src; /* OP_BIND host path, OP_SYMLINK target */
	char *dst; /* absolute path inside the root */
	char *data; /* OP_MOUNT options "k=v,flag", OP_HOSTNAME */
};

/* Everything sandbox_run() computes before it forks. */
struct sandbox_plan {
	struct sandbox_op *ops;
	size_t nr, alloc;

	bool userns; /* a user namespace is created */
	bool setgroups_denied; /* single-id map: setgroups(2) is denied */
	bool gid5_mapped; /* gid 5 (tty) exists in the namespace */
	bool owned_upper, owned_work; /* created by sandbox_run */
	char *merged; /* mount point of the root: scratch/merged */
	char *files; /* scratch/files: generated files */
	char *bundle; /* scratch/bundle (oci) */
	char *runtime_path; /* resolved OCI runtime (oci) */
	char *init_path; /* static init bound at /dev/init (oci --init) */
	uid_t host_uid;
	gid_t host_gid;
	/* id maps "inside outside count" lines, for newuidmap or the files */
	struct strvec uid_map, gid_map;
	bool use_newidmap;
};

void sandbox_plan_release(struct sandbox_plan *plan);
/* Build the operation list for `sb` (native: all; oci: ROOT + ENSURE). */
int sandbox_plan_build(const struct sandbox *sb, struct sandbox_plan *plan,
		       bool oci, struct error **err);
void sandbox_plan_describe(const struct sandbox_plan *plan, struct strbuf *out);

/* ---------------------------------------------------------------- child */

/*
 * Messages from the child to the parent on a SOCK_SEQPACKET socket.  The
 * parent reads them until EOF, which means the command was exec'd (the
 * child's end is O_CLOEXEC).
 */
enum sandbox_msg_type {
	MSG_ERROR = 1, /* code = exit status to report, text = message */
	MSG_CREATED, /* text = root-relative path created as a mount target */
	MSG_PTY, /* an SCM_RIGHTS pty master; the parent acks with one byte */
};

struct sandbox_msg {
	int type;
	int code;
	char text[3072];
};

/* State of the child between clone and exec; lives in the child only. */
struct sandbox_child {
	const struct sandbox *sb;
	const struct sandbox_plan *plan;
	int sock; /* child end of the message socket */
	int rootfd; /* O_PATH of the new root, before and after pivot */
	int stdio[3]; /* copies of the caller's stdio (-1: /dev/null) */
	sigset_t oldmask; /* signal mask to restore before exec */
};

/* Report an error to the parent and _exit(127). */
NORETURN PRINTF_LIKE(3, 4) void child_fail(struct sandbox_child *c, int code,
					   const char *fmt, ...);
/* Like child_fail() with ": strerror(errno)" appended, status 125. */
NORETURN PRINTF_LIKE(2, 3) void child_fail_errno(struct sandbox_child *c,
						 const char *fmt, ...);
void child_send(struct sandbox_child *c, int type, int code, const char *text);

/* Execute plan ops [from, to) in the child.  Never returns on failure. */
void child_run_ops(struct sandbox_child *c, size_t from, size_t to);
/*
 * What both executors' children do first: a session of their own (no
 * TIOCSTI into the user's terminal), umask 022, every mount private (none
 * may propagate back to the host), then all the plan's ops.
 */
void child_setup(struct sandbox_child *c);

/*
 * Open `path` (absolute, inside the root) below `rootfd` without leaving
 * the root: openat2 with RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS.
 */
int sandbox_open_in_root(int rootfd, const char *path, int flags, mode_t mode);

/*
 * Make sure `path` exists inside the root (a file when `file`), creating
 * missing directories (0755) and the file (0644, empty).  Returns an
 * O_PATH fd of it.  Created entries are reported with MSG_CREATED when
 * `record`.  Symlinks are followed inside the root.
 */
int child_ensure_path(struct sandbox_child *c, const char *path, bool file,
		      bool record);

/* Look argv[0] up in PATH and execve; on failure report (126/127). */
NORETURN void child_exec(struct sandbox_child *c, char *const argv[],
			 char *const envp[]);

/* Reset every signal to its default action and restore the mask. */
void child_reset_signals(const sigset_t *mask);

/* Connect 0, 1, 2 to c->stdio (or /dev/null). */
void child_setup_stdio(struct sandbox_child *c);

/* Close every fd above 2 except `keep`. */
void child_close_fds(struct sandbox_child *c, int keep);

/* ---------------------------------------------------------------- parent */

/*
 * Clone a child into new namespaces (`flags` are CLONE_NEW*), write the
 * id maps when CLONE_NEWUSER, and call fn(c) in the child.  Returns the
 * child's pid and the parent end of the message socket in *sock.
 */
pid_t sandbox_spawn(const struct sandbox *sb, const struct sandbox_plan *plan,
		    unsigned long flags, const sigset_t *oldmask,
		    void (*fn)(struct sandbox_child *c), int *sock,
		    struct error **err);

/*
 * Read the child's messages until EOF.  Created paths are appended to
 * sb->created; a pty master is returned in *pty_master (when non-NULL).
 * Returns 0 when the command was exec'd, else -1 with *err and *status.
 */
int sandbox_wait_exec(struct sandbox *sb, int sock, int *pty_master,
		      int *status, struct error **err);

/*
 * Wait for `pid`, forwarding the signals in sandbox_forward_signals() to
 * it and, when pty_master >= 0, copying between the terminal and the pty.
 * `sigfd` is a signalfd for the blocked set.  Returns the wait status as an
 * exit code (128+sig for a signal).
 */
int sandbox_supervise(pid_t pid, int sigfd, int pty_master, int in_fd,
		      int out_fd);
void sandbox_signal_set(sigset_t *set);

/* ---------------------------------------------------------------- parts */

/* seccomp.c: load the default filter in the calling process. */
int sandbox_seccomp_load(struct error **err);

/* userns.c: decide and compute the id maps. */
int sandbox_userns_plan(const struct sandbox *sb, struct sandbox_plan *plan,
			struct error **err);
int sandbox_userns_write_maps(const struct sandbox_plan *plan, pid_t pid,
			      struct error **err);
/* Parse /etc/subuid-style text for `name`/`id`: 0 found, -1 not found. */
int sandbox_subid_find(const char *text, const char *name, unsigned long id,
		       unsigned long *start, unsigned long *count);

/* caps.c: drop the bounding set (needs CAP_SETPCAP), then after the
 * id change set permitted = effective = keep, inheritable and ambient
 * empty. */
int sandbox_caps_drop_bounding(uint64_t keep, struct error **err);
int sandbox_caps_apply(uint64_t keep, struct error **err);
const char *sandbox_cap_name(int cap);
int sandbox_cap_last(void);

/* sandbox.c: Docker's path lists */
const char *const *sandbox_masked_paths(size_t *nr);
const char *const *sandbox_readonly_paths(size_t *nr);
int sandbox_run_native(struct sandbox *sb, struct sandbox_plan *plan,
		       int *status, struct error **err);

/* oci.c */
int sandbox_run_oci(struct sandbox *sb, struct sandbox_plan *plan, int *status,
		    struct error **err);
/* Build config.json for `sb`; rootpath is the mounted root. */
void *sandbox_oci_config(const struct sandbox *sb,
			 const struct sandbox_plan *plan);

/* pty.c */
int sandbox_term_raw(int fd, void *saved); /* saved: struct termios * */
void sandbox_term_restore(int fd, const void *saved);
void sandbox_pty_copy_winsize(int from, int to);

/* misc */
/* PATH search for a host program; NULL when missing. */
char *sandbox_which(const char *name);

#endif
