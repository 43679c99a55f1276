/*
 * Unit tests for sandbox/: the plan built from a description, user spec
 * resolution (including a root whose /etc/passwd points outside it),
 * /etc/subuid parsing, capability names, the OCI seccomp JSON, and the
 * seccomp filter itself (in a forked child: what it denies, what it lets
 * through).  End-to-end runs live in tests/t/t0400-sandbox.sh.
 */
#include "tap.h"

#include "sandbox/sandbox-internal.h"

#include <jansson.h>
#include <linux/capability.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/stat.h>
#include <sys/wait.h>

static char tmpdir[] = "/tmp/kiln-t-sandbox.XXXXXX";

static void write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	if (!f)
		die_errno("fopen '%s'", path);
	fputs(text, f);
	fclose(f);
}

static void test_plan(void)
{
	struct sandbox sb;
	struct strbuf out = STRBUF_INIT;
	struct error *err = NULL;

	sandbox_init(&sb);
	is_int(sb.caps, sandbox_default_caps, "default caps are Docker's");
	ok(sb.seccomp && !sb.no_new_privs, "seccomp on, no_new_privs off");
	ok(sandbox_describe(&sb, &out, &err) < 0 && err &&
		   strstr(err->msg, "no command"),
	   "a description without a command is refused");
	error_clear(&err);

	strvec_push(&sb.argv, "true");
	strvec_push(&sb.lower, "/layers/a");
	strvec_push(&sb.lower, "/layers/b");
	sb.scratch = xstrdup("/scratch");
	sb.network = SANDBOX_NET_NONE;
	sb.hostname = xstrdup("box");
	sb.userns = SANDBOX_USERNS_NEVER;
	sandbox_add_bind(&sb, "/etc/hostname", "/data/x", true);
	sandbox_add_file(&sb, "/etc/hosts", "127.0.0.1 localhost\n", 0644);
	ok(sandbox_describe(&sb, &out, &err) == 0, "describe a full plan");
	ok(strstr(out.buf, "# lower (top first): /layers/b /layers/a\n") !=
		   NULL,
	   "lower dirs are listed top first");
	ok(strstr(out.buf, "root on /scratch/merged\n") != NULL, "the root is "
								 "mounted in "
								 "the scratch "
								 "dir");
	ok(strstr(out.buf, "mount proc on /proc (nosuid,nodev,noexec)\n") !=
		   NULL,
	   "a fresh proc");
	ok(strstr(out.buf, "bind /dev/null on /dev/null\n") != NULL, "host "
								     "device "
								     "nodes "
								     "are "
								     "bound");
	ok(strstr(out.buf, "mount sysfs on /sys (ro,") != NULL, "network=none "
								"gets its own "
								"read-only "
								"sysfs");
	ok(strstr(out.buf, "bind /etc/hostname on /data/x (ro,rec)\n") != NULL,
	   "a :ro bind");
	ok(strstr(out.buf, "bind /scratch/files/0 on /etc/hosts") != NULL,
	   "generated files come from the scratch dir");
	ok(strstr(out.buf, "mask /proc/kcore") &&
		   strstr(out.buf, "mask /sys/devices/virtual/powercap") &&
		   strstr(out.buf, "readonly /proc/sys") &&
		   strstr(out.buf, "readonly /proc/sysrq-trigger"),
	   "Docker's masked and read-only paths");
	const char *pivot = strstr(out.buf, "pivot_root\n");
	const char *mask = strstr(out.buf, "mask /proc/kcore");
	ok(pivot && mask && mask < pivot, "masks are applied before pivot");
	ok(strstr(out.buf, "hostname box\nloopback up\n") != NULL, "hostname "
								   "and "
								   "loopback "
								   "after "
								   "pivot");

	strbuf_reset(&out);
	sb.network = SANDBOX_NET_HOST;
	sb.executor = SANDBOX_OCI;
	ok(sandbox_describe(&sb, &out, &err) == 0, "describe an OCI plan");
	ok(strstr(out.buf, "ensure /etc/hosts\n") &&
		   strstr(out.buf, "ensure /data/x\n") &&
		   !strstr(out.buf, "mount proc"),
	   "the OCI plan only prepares mount targets");

	strbuf_reset(&out);
	sandbox_add_bind(&sb, "/tmp", "relative", false);
	ok(sandbox_describe(&sb, &out, &err) < 0 && err &&
		   strstr(err->msg, "not absolute"),
	   "relative mount destination refused");
	error_clear(&err);
	sandbox_release(&sb);

	sandbox_init(&sb);
	strvec_push(&sb.argv, "true");
	sb.rootfs = xstrdup("/r");
	sb.scratch = xstrdup("/s");
	sandbox_add_tmpfs(&sb, "/a/../../etc", NULL);
	ok(sandbox_describe(&sb, &out, &err) < 0 && err &&
		   strstr(err->msg, "'..'"),
	   "'..' in a mount destination refused");
	error_clear(&err);
	sandbox_release(&sb);
	strbuf_release(&out);
}

static void test_resolve_user(void)
{
	char *root = xstrfmt("%s/root", tmpdir);
	char *etc = xstrfmt("%s/etc", root);
	char *outside = xstrfmt("%s/passwd-outside", tmpdir);
	uid_t uid;
	gid_t gid, *groups = NULL;
	size_t ngroups = 0;
	struct error *err = NULL;

	mkdir_p(etc, 0755);
	char *p = xstrfmt("%s/passwd", etc);
	write_text(p, "root:x:0:0:root:/root:/bin/sh\n"
		      "# a comment line\n"
		      "user:x:1000:1000:user:/home/user:/bin/sh\n"
		      "www:x:33:33::/var/www:/bin/false\n");
	free(p);
	p = xstrfmt("%s/group", etc);
	write_text(p, "root:x:0:\nuser:x:1000:\nwheel:x:10:root,user\n"
		      "audio:x:29:user\nstaff:x:50:\n");
	free(p);
	int rootfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);

	ok(sandbox_resolve_user(rootfd, "user", &uid, &gid, &groups, &ngroups,
				&err) == 0 &&
		   uid == 1000 && gid == 1000,
	   "USER by name");
	ok(ngroups == 2 && groups[0] == 10 && groups[1] == 29, "supplementary "
							       "groups listing "
							       "the user");
	free(groups);
	groups = NULL;
	ok(sandbox_resolve_user(rootfd, "www:staff", &uid, &gid, &groups,
				&ngroups, &err) == 0 &&
		   uid == 33 && gid == 50 && ngroups == 0,
	   "name:group");
	free(groups);
	groups = NULL;
	ok(sandbox_resolve_user(rootfd, "1000", &uid, &gid, NULL, NULL, &err) ==
			   0 &&
		   uid == 1000 && gid == 1000,
	   "a numeric uid takes the passwd entry's gid");
	ok(sandbox_resolve_user(rootfd, "4242:77", &uid, &gid, NULL, NULL,
				&err) == 0 &&
		   uid == 4242 && gid == 77,
	   "numeric ids need no entries");
	ok(sandbox_resolve_user(rootfd, "bob", &uid, &gid, NULL, NULL, &err) <
			   0 &&
		   err,
	   "unknown user fails");
	is_str(err ? err->msg : NULL,
	       "unable to find user bob: no matching entries in passwd file",
	       "Docker's message for an unknown user");
	error_clear(&err);
	ok(sandbox_resolve_user(rootfd, "user:nogroup", &uid, &gid, NULL, NULL,
				&err) < 0 &&
		   err && strstr(err->msg, "unable to find group nogroup"),
	   "unknown group fails");
	error_clear(&err);

	/* /etc/passwd pointing out of the root resolves inside it. */
	write_text(outside, "evil:x:0:0::/:/bin/sh\n");
	p = xstrfmt("%s/passwd", etc);
	unlink(p);
	char *target = xstrfmt("../../../../../../..%s", outside);
	if (symlink(target, p) < 0)
		die_errno("symlink");
	free(target);
	free(p);
	ok(sandbox_resolve_user(rootfd, "evil", &uid, &gid, NULL, NULL, &err) <
		   0,
	   "a passwd symlink cannot leave the root");
	error_clear(&err);
	ok(sandbox_resolve_user(rootfd, "0", &uid, &gid, NULL, NULL, &err) ==
			   0 &&
		   uid == 0 && gid == 0,
	   "numeric root works without a passwd file");
	close(rootfd);
	free(root);
	free(etc);
	free(outside);
}

static void test_subid(void)
{
	unsigned long start = 0, count = 0;
	const char *text = "alice:100000:65536\n"
			   "1001:200000:1000\n"
			   "broken line\n"
			   "bob:300000:0\n";
	ok(sandbox_subid_find(text, "alice", 1000, &start, &count) == 0 &&
		   start == 100000 && count == 65536,
	   "subuid by name");
	ok(sandbox_subid_find(text, "carol", 1001, &start, &count) == 0 &&
		   start == 200000 && count == 1000,
	   "subuid by numeric id");
	ok(sandbox_subid_find(text, "bob", 1002, &start, &count) < 0, "an "
								      "empty "
								      "range "
								      "does "
								      "not "
								      "count");
	ok(sandbox_subid_find("", "alice", 1, &start, &count) < 0, "no "
								   "entries");
}

static void test_caps(void)
{
	is_int(sandbox_cap_from_name("CAP_NET_BIND_SERVICE"),
	       CAP_NET_BIND_SERVICE, "cap by CAP_ name");
	is_int(sandbox_cap_from_name("sys_admin"), CAP_SYS_ADMIN,
	       "cap by lowercase name");
	is_int(sandbox_cap_from_name("NOPE"), -1, "unknown cap");
	int n = 0;
	for (int c = 0; c < 64; c++)
		if (sandbox_default_caps & SANDBOX_CAP(c))
			n++;
	is_int(n, 14, "Docker's default set has 14 capabilities");
	ok(!(sandbox_default_caps & SANDBOX_CAP(CAP_SYS_ADMIN)), "no "
								 "CAP_SYS_"
								 "ADMIN by "
								 "default");
}

static void test_seccomp_json(void)
{
	json_t *j = sandbox_seccomp_oci_json();
	const char *def = json_string_value(json_object_get(j, "defaultActio"
							       "n"));
	is_str(def, "SCMP_ACT_ALLOW", "deny-list profile");
	char *dump = json_dumps(j, JSON_COMPACT);
	ok(strstr(dump, "\"mount\"") && strstr(dump, "\"kexec_load\"") &&
		   strstr(dump, "\"open_by_handle_at\"") &&
		   !strstr(dump, "\"ptrace\""),
	   "denies mount, kexec_load, open_by_handle_at; allows ptrace");
	ok(strstr(dump, "{\"names\":[\"clone3\"],\"action\":\"SCMP_ACT_ERRNO\","
			"\"errnoRet\":38}") != NULL,
	   "clone3 gets ENOSYS");
	ok(strstr(dump, "\"value\":268435456,\"valueTwo\":268435456") != NULL,
	   "clone with CLONE_NEWUSER is denied");
	free(dump);
	json_decref(j);
}

/* In a child: load the filter, then probe. Returns a bitmask of results. */
static int seccomp_probe(void)
{
	pid_t pid = fork();
	if (pid == 0) {
		struct error *err = NULL;
		int bits = 0;
		if (sandbox_seccomp_load(&err) < 0)
			_exit(255);
		/* root with every capability: only the filter says no */
		if (mount("none", "/nonexistent-kiln", "tmpfs", 0, NULL) < 0 &&
		    errno == EPERM)
			bits |= 1;
		if (unshare(CLONE_NEWUTS) < 0 && errno == EPERM)
			bits |= 2;
		if (syscall(SYS_clone3, NULL, 0) < 0 && errno == ENOSYS)
			bits |= 4;
		if (personality(ADDR_NO_RANDOMIZE) < 0 && errno == EPERM)
			bits |= 8;
		if (personality(0xffffffff) >= 0 && personality(PER_LINUX) >= 0)
			bits |= 16;
		if (getppid() > 0 && access("/", F_OK) == 0)
			bits |= 32;
		if (syscall(SYS_keyctl, 0, 0, 0, 0, 0) < 0 && errno == EPERM)
			bits |= 64;
		_exit(bits);
	}
	int st;
	waitpid(pid, &st, 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void test_seccomp_filter(void)
{
	if (geteuid() != 0) {
		for (int i = 0; i < 7; i++)
			tap_skip("seccomp filter probes need root (ROOT)");
		return;
	}
	int bits = seccomp_probe();
	ok(bits >= 0 && bits != 255, "the filter loads without no_new_privs");
	ok(bits & 1, "mount is denied with EPERM");
	ok(bits & 2, "unshare is denied");
	ok(bits & 4, "clone3 gets ENOSYS");
	ok(bits & 8, "personality(ADDR_NO_RANDOMIZE) is denied");
	ok(bits & 16, "personality query and PER_LINUX are allowed");
	ok((bits & 32) && (bits & 64), "ordinary syscalls pass, keyctl fails");
}

int main(void)
{
	if (!mkdtemp(tmpdir))
		die_errno("mkdtemp");
	test_plan();
	test_resolve_user();
	test_subid();
	test_caps();
	test_seccomp_json();
	test_seccomp_filter();
	rm_rf_at(AT_FDCWD, tmpdir);
	return tap_done();
}
