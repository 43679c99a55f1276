/*
 * The default seccomp policy: a deny list of what Docker's default profile
 * refuses to a container without extra capabilities (EPERM), clone(2) with
 * namespace flags, clone3 as ENOSYS (its flags live in memory a filter
 * cannot read; libc falls back to clone), and personality(2) restricted.
 * One table feeds both the libseccomp filter (native) and the OCI JSON.
 */
#include "sandbox/sandbox-internal.h"

#include <jansson.h>
#include <sched.h>
#include <seccomp.h>

#include "base/banned.h"

static const char *const denied[] = {
	"_sysctl",
	"acct",
	"add_key",
	"adjtimex",
	"bpf",
	"clock_adjtime",
	"clock_settime",
	"create_module",
	"delete_module",
	"fanotify_init",
	"finit_module",
	"fsconfig",
	"fsmount",
	"fsopen",
	"fspick",
	"get_kernel_syms",
	"init_module",
	"io_uring_enter",
	"io_uring_register",
	"io_uring_setup",
	"ioperm",
	"iopl",
	"kcmp",
	"kexec_file_load",
	"kexec_load",
	"keyctl",
	"lookup_dcookie",
	"mbind",
	"mount",
	"mount_setattr",
	"move_mount",
	"move_pages",
	"name_to_handle_at",
	"nfsservctl",
	"open_by_handle_at",
	"open_tree",
	"perf_event_open",
	"pidfd_getfd",
	"pivot_root",
	"process_madvise",
	"process_vm_readv",
	"process_vm_writev",
	"query_module",
	"quotactl",
	"quotactl_fd",
	"reboot",
	"request_key",
	"set_mempolicy",
	"set_mempolicy_home_node",
	"setns",
	"settimeofday",
	"stime",
	"swapoff",
	"swapon",
	"syslog",
	"sysfs",
	"umount",
	"umount2",
	"unshare",
	"uselib",
	"userfaultfd",
	"ustat",
	"vhangup",
	"vm86",
	"vm86old",
};

/* Namespace flags clone(2) may not carry. */
static const uint64_t clone_ns_flags[] = {
	CLONE_NEWNS,  CLONE_NEWUTS, CLONE_NEWIPC,    CLONE_NEWUSER,
	CLONE_NEWPID, CLONE_NEWNET, CLONE_NEWCGROUP,
};

/*
 * personality(2): Docker allows only PER_LINUX (0), PER_LINUX32 (8),
 * UNAME26 (0x20000), their combination, and the query 0xffffffff.  A
 * filter whose conditions on one argument are ANDed cannot be expressed in
 * OCI JSON (runc ORs them), so every other bit gets its own rule "bit set
 * and bit 31 clear" (for bit 31: "and bit 30 clear"), which keeps the query
 * working.
 */
#define PERSONALITY_ALLOWED_BITS (0x8ULL | 0x20000ULL)

struct deny_rule {
	const char *name;
	int errnum;
	bool has_cond;
	uint64_t mask, value; /* arg0 & mask == value */
};

static size_t build_rules(struct deny_rule *out, size_t max)
{
	size_t n = 0;
#define ADD(nm, e, c, m, v)                                            \
	do {                                                           \
		if (n < max)                                           \
			out[n] = (struct deny_rule){ nm, e, c, m, v }; \
		n++;                                                   \
	} while (0)
	for (size_t i = 0; i < ARRAY_SIZE(denied); i++)
		ADD(denied[i], EPERM, false, 0, 0);
	ADD("clone3", ENOSYS, false, 0, 0);
	for (size_t i = 0; i < ARRAY_SIZE(clone_ns_flags); i++)
		ADD("clone", EPERM, true, clone_ns_flags[i], clone_ns_flags[i]);
	for (int b = 0; b < 32; b++) {
		uint64_t bit = 1ULL << b;
		uint64_t guard = b == 31 ? 1ULL << 30 : 1ULL << 31;
		if (bit & PERSONALITY_ALLOWED_BITS)
			continue;
		ADD("personality", EPERM, true, bit | guard, bit);
	}
#undef ADD
	return n;
}

int sandbox_seccomp_load(struct error **err)
{
	struct deny_rule rules[160];
	size_t n = build_rules(rules, ARRAY_SIZE(rules));
	if (n > ARRAY_SIZE(rules))
		BUG("seccomp rule table too small");

	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
	if (!ctx) {
		error_set(err, KILN_EINTERNAL, "seccomp_init failed");
		return -1;
	}
	int ret;
	/* Docker does not set no_new_privs; neither may the filter. */
	ret = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);
	/* Cover the 32-bit ABIs too, or int 0x80 would bypass the filter. */
	if (!ret && seccomp_arch_native() == SCMP_ARCH_X86_64) {
		ret = seccomp_arch_add(ctx, SCMP_ARCH_X86);
		if (!ret || ret == -EEXIST)
			ret = seccomp_arch_add(ctx, SCMP_ARCH_X32);
		if (ret == -EEXIST)
			ret = 0;
	}
	for (size_t i = 0; !ret && i < n; i++) {
		int nr = seccomp_syscall_resolve_name(rules[i].name);
		if (nr == __NR_SCMP_ERROR)
			continue; /* unknown to this libseccomp */
		if (rules[i].has_cond)
			ret = seccomp_rule_add(
				ctx, SCMP_ACT_ERRNO(rules[i].errnum), nr, 1,
				SCMP_A0(SCMP_CMP_MASKED_EQ, rules[i].mask,
					rules[i].value));
		else
			ret = seccomp_rule_add(
				ctx, SCMP_ACT_ERRNO(rules[i].errnum), nr, 0);
		if (ret == -EDOM || ret == -EOPNOTSUPP)
			ret = 0; /* no such syscall on this architecture */
		if (ret)
			error_set(err, KILN_EINTERNAL,
				  "seccomp rule for '%s': %s", rules[i].name,
				  strerror(-ret));
	}
	if (!ret) {
		ret = seccomp_load(ctx);
		if (ret)
			error_set(err, -ret, "seccomp_load: %s",
				  strerror(-ret));
	} else {
		error_set(err, KILN_EINTERNAL, "seccomp setup: %s",
			  strerror(-ret));
	}
	seccomp_release(ctx);
	return ret ? -1 : 0;
}

void *sandbox_seccomp_oci_json(void)
{
	struct deny_rule rules[160];
	size_t n = build_rules(rules, ARRAY_SIZE(rules));
	json_t *root = json_object();
	json_object_set_new(root, "defaultAction",
			    json_string("SCMP_ACT_ALLOW"));
	json_t *arches = json_array();
	json_array_append_new(arches, json_string("SCMP_ARCH_X86_64"));
	json_array_append_new(arches, json_string("SCMP_ARCH_X86"));
	json_array_append_new(arches, json_string("SCMP_ARCH_X32"));
	json_object_set_new(root, "architectures", arches);

	json_t *calls = json_array();
	/* All unconditional EPERM rules share one entry. */
	json_t *names = json_array();
	for (size_t i = 0; i < n; i++)
		if (!rules[i].has_cond && rules[i].errnum == EPERM)
			json_array_append_new(names,
					      json_string(rules[i].name));
	json_array_append_new(
		calls, json_pack("{s:o, s:s, s:i}", "names", names, "action",
				 "SCMP_ACT_ERRNO", "errnoRet", EPERM));
	for (size_t i = 0; i < n; i++) {
		if (!rules[i].has_cond && rules[i].errnum == EPERM)
			continue;
		json_t *call = json_pack("{s:[s], s:s, s:i}", "names",
					 rules[i].name, "action",
					 "SCMP_ACT_ERRNO", "errnoRet",
					 rules[i].errnum);
		if (rules[i].has_cond)
			json_object_set_new(
				call, "args",
				json_pack("[{s:i, s:I, s:I, s:s}]", "index", 0,
					  "value", (json_int_t)rules[i].mask,
					  "valueTwo",
					  (json_int_t)rules[i].value, "op",
					  "SCMP_CMP_MASKED_EQ"));
		json_array_append_new(calls, call);
	}
	json_object_set_new(root, "syscalls", calls);
	return root;
}
