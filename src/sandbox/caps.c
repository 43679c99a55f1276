/*
 * Capabilities: Docker's default set kept in the bounding, permitted and
 * effective sets; the inheritable and ambient sets stay empty (a file's
 * inheritable capabilities must not come back after exec, CVE-2022-24769).
 */
#include "sandbox/sandbox-internal.h"

#include <ctype.h>
#include <linux/capability.h>
#include <sys/capability.h>
#include <sys/prctl.h>

#include "base/banned.h"

static const char *const cap_names[] = {
	[CAP_CHOWN] = "CHOWN",
	[CAP_DAC_OVERRIDE] = "DAC_OVERRIDE",
	[CAP_DAC_READ_SEARCH] = "DAC_READ_SEARCH",
	[CAP_FOWNER] = "FOWNER",
	[CAP_FSETID] = "FSETID",
	[CAP_KILL] = "KILL",
	[CAP_SETGID] = "SETGID",
	[CAP_SETUID] = "SETUID",
	[CAP_SETPCAP] = "SETPCAP",
	[CAP_LINUX_IMMUTABLE] = "LINUX_IMMUTABLE",
	[CAP_NET_BIND_SERVICE] = "NET_BIND_SERVICE",
	[CAP_NET_BROADCAST] = "NET_BROADCAST",
	[CAP_NET_ADMIN] = "NET_ADMIN",
	[CAP_NET_RAW] = "NET_RAW",
	[CAP_IPC_LOCK] = "IPC_LOCK",
	[CAP_IPC_OWNER] = "IPC_OWNER",
	[CAP_SYS_MODULE] = "SYS_MODULE",
	[CAP_SYS_RAWIO] = "SYS_RAWIO",
	[CAP_SYS_CHROOT] = "SYS_CHROOT",
	[CAP_SYS_PTRACE] = "SYS_PTRACE",
	[CAP_SYS_PACCT] = "SYS_PACCT",
	[CAP_SYS_ADMIN] = "SYS_ADMIN",
	[CAP_SYS_BOOT] = "SYS_BOOT",
	[CAP_SYS_NICE] = "SYS_NICE",
	[CAP_SYS_RESOURCE] = "SYS_RESOURCE",
	[CAP_SYS_TIME] = "SYS_TIME",
	[CAP_SYS_TTY_CONFIG] = "SYS_TTY_CONFIG",
	[CAP_MKNOD] = "MKNOD",
	[CAP_LEASE] = "LEASE",
	[CAP_AUDIT_WRITE] = "AUDIT_WRITE",
	[CAP_AUDIT_CONTROL] = "AUDIT_CONTROL",
	[CAP_SETFCAP] = "SETFCAP",
	[CAP_MAC_OVERRIDE] = "MAC_OVERRIDE",
	[CAP_MAC_ADMIN] = "MAC_ADMIN",
	[CAP_SYSLOG] = "SYSLOG",
	[CAP_WAKE_ALARM] = "WAKE_ALARM",
	[CAP_BLOCK_SUSPEND] = "BLOCK_SUSPEND",
	[CAP_AUDIT_READ] = "AUDIT_READ",
	[CAP_PERFMON] = "PERFMON",
	[CAP_BPF] = "BPF",
	[CAP_CHECKPOINT_RESTORE] = "CHECKPOINT_RESTORE",
};

const char *sandbox_cap_name(int cap)
{
	if (cap < 0 || (size_t)cap >= ARRAY_SIZE(cap_names))
		return NULL;
	return cap_names[cap];
}

int sandbox_cap_from_name(const char *name)
{
	const char *p = name;
	if (!strncasecmp(p, "CAP_", 4))
		p += 4;
	for (size_t i = 0; i < ARRAY_SIZE(cap_names); i++)
		if (cap_names[i] && !strcasecmp(cap_names[i], p))
			return (int)i;
	return -1;
}

int sandbox_cap_last(void)
{
	static int last = -1;
	if (last < 0) {
		/* The running kernel may know more than our headers. */
		last = CAP_LAST_CAP;
		while (prctl(PR_CAPBSET_READ, last + 1, 0, 0, 0) >= 0)
			last++;
	}
	return last;
}

int sandbox_caps_drop_bounding(uint64_t keep, struct error **err)
{
	int last = sandbox_cap_last();
	for (int cap = 0; cap <= last; cap++) {
		if (cap < 64 && (keep & SANDBOX_CAP(cap)))
			continue;
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 &&
		    errno != EINVAL) {
			error_set_errno(err, "prctl PR_CAPBSET_DROP %d", cap);
			return -1;
		}
	}
	return 0;
}

int sandbox_caps_apply(uint64_t keep, struct error **err)
{
	cap_t caps = cap_init(); /* all clear */
	if (!caps) {
		error_set_errno(err, "cap_init");
		return -1;
	}
	int last = sandbox_cap_last();
	for (int cap = 0; cap <= last && cap < 64; cap++) {
		if (!(keep & SANDBOX_CAP(cap)))
			continue;
		cap_value_t v = cap;
		if (cap_set_flag(caps, CAP_PERMITTED, 1, &v, CAP_SET) < 0 ||
		    cap_set_flag(caps, CAP_EFFECTIVE, 1, &v, CAP_SET) < 0) {
			error_set_errno(err, "cap_set_flag %d", cap);
			cap_free(caps);
			return -1;
		}
	}
	if (cap_set_proc(caps) < 0) {
		error_set_errno(err, "capset");
		cap_free(caps);
		return -1;
	}
	cap_free(caps);
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 &&
	    errno != EINVAL) {
		error_set_errno(err, "prctl PR_CAP_AMBIENT_CLEAR_ALL");
		return -1;
	}
	if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0) {
		error_set_errno(err, "prctl PR_SET_KEEPCAPS");
		return -1;
	}
	return 0;
}
