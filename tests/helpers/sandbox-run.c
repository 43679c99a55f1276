/*
 * sandbox-run: drive the sandbox library from shell tests and benchmarks
 * until `kiln run` exists.
 *
 *   sandbox-run [options] -- CMD [ARG...]
 *     --lower DIR        a layer dir, bottom first (repeatable)
 *     --rootfs DIR       a plain root directory instead
 *     --scratch DIR      scratch dir (default: a fresh one, removed after)
 *     --upper DIR --work DIR
 *     --keep-upper DIR   move the upper dir to DIR afterwards
 *     --ro               read-only root
 *     --bind SRC:DST[:ro]  --tmpfs DST  --file DST=CONTENT
 *     --hostname NAME    -e K=V   -w DIR   -u USER   --init  -t  -i
 *     --network host|none  --no-seccomp  --userns always|never|auto
 *     --oci  --runtime NAME  --describe  --created FILE
 *     --leak-fd N:DIR    open DIR as fd N without O_CLOEXEC (CVE tests)
 *
 * Exits with the command's status, or 125/126/127 after printing
 * "sandbox-run: error: ..." when it could not be started.
 */
#include "sandbox/sandbox.h"

#include <ftw.h>
#include <sys/stat.h>

static const char *usage_text = "usage: sandbox-run [options] -- CMD [ARG...] "
				"(see the source)\n";

static NORETURN void usage(void)
{
	fputs(usage_text, stderr);
	exit(125);
}

static int rm_one(const char *path, const struct stat *st, int type,
		  struct FTW *ftw)
{
	if (type == FTW_DP)
		return rmdir(path);
	return unlink(path);
}

static int rm_tree(const char *path)
{
	return nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

int main(int argc, char **argv)
{
	struct sandbox sb;
	const char *created_file = NULL, *keep_upper = NULL;
	bool describe = false, own_scratch = false;
	int i;

	progname = "sandbox-run";
	sandbox_init(&sb);
	for (i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
#define ARG()                    \
	do {                     \
		if (!v)          \
			usage(); \
		i++;             \
	} while (0)
		if (!strcmp(a, "--")) {
			i++;
			break;
		} else if (!strcmp(a, "--lower")) {
			ARG();
			strvec_push(&sb.lower, v);
		} else if (!strcmp(a, "--rootfs")) {
			ARG();
			sb.rootfs = xstrdup(v);
		} else if (!strcmp(a, "--scratch")) {
			ARG();
			sb.scratch = xstrdup(v);
		} else if (!strcmp(a, "--upper")) {
			ARG();
			sb.upper = xstrdup(v);
		} else if (!strcmp(a, "--work")) {
			ARG();
			sb.work = xstrdup(v);
		} else if (!strcmp(a, "--keep-upper")) {
			ARG();
			keep_upper = v;
		} else if (!strcmp(a, "--ro")) {
			sb.readonly_root = true;
		} else if (!strcmp(a, "--bind")) {
			ARG();
			char *copy = xstrdup(v);
			char *c1 = strchr(copy, ':');
			if (!c1)
				usage();
			*c1++ = '\0';
			char *c2 = strchr(c1, ':');
			bool ro = false;
			if (c2) {
				*c2++ = '\0';
				ro = !strcmp(c2, "ro");
			}
			sandbox_add_bind(&sb, copy, c1, ro);
			free(copy);
		} else if (!strcmp(a, "--tmpfs")) {
			ARG();
			sandbox_add_tmpfs(&sb, v, NULL);
		} else if (!strcmp(a, "--file")) {
			ARG();
			char *copy = xstrdup(v);
			char *eq = strchr(copy, '=');
			if (!eq)
				usage();
			*eq = '\0';
			sandbox_add_file(&sb, copy, eq + 1, 0644);
			free(copy);
		} else if (!strcmp(a, "--hostname")) {
			ARG();
			sb.hostname = xstrdup(v);
		} else if (!strcmp(a, "-e")) {
			ARG();
			strvec_push(&sb.env, v);
		} else if (!strcmp(a, "-w")) {
			ARG();
			sb.cwd = xstrdup(v);
		} else if (!strcmp(a, "-u")) {
			ARG();
			sb.user = xstrdup(v);
		} else if (!strcmp(a, "--init")) {
			sb.init = true;
		} else if (!strcmp(a, "-t")) {
			sb.tty = true;
		} else if (!strcmp(a, "-i")) {
			sb.stdio[0] = 0;
		} else if (!strcmp(a, "--network")) {
			ARG();
			if (!strcmp(v, "none"))
				sb.network = SANDBOX_NET_NONE;
			else if (!strcmp(v, "host"))
				sb.network = SANDBOX_NET_HOST;
			else
				usage();
		} else if (!strcmp(a, "--no-seccomp")) {
			sb.seccomp = false;
		} else if (!strcmp(a, "--userns")) {
			ARG();
			sb.userns = !strcmp(v, "always") ? SANDBOX_USERNS_ALWAYS
				    : !strcmp(v, "never") ? SANDBOX_USERNS_NEVER
							  : SANDBOX_USERNS_AUTO;
		} else if (!strcmp(a, "--oci")) {
			sb.executor = SANDBOX_OCI;
		} else if (!strcmp(a, "--runtime")) {
			ARG();
			sb.executor = SANDBOX_OCI;
			sb.runtime = xstrdup(v);
		} else if (!strcmp(a, "--describe")) {
			describe = true;
		} else if (!strcmp(a, "--created")) {
			ARG();
			created_file = v;
		} else if (!strcmp(a, "--leak-fd")) {
			ARG();
			unsigned long long n;
			const char *colon = strchr(v, ':');
			char *num = colon ? xstrndup(v, colon - v) : NULL;
			if (!colon || parse_uint(num, 1000, &n) < 0)
				usage();
			free(num);
			/* Deliberately inheritable: the sandbox must close it.
			 */
			int fd = open(colon + 1, O_RDONLY | O_DIRECTORY);
			if (fd < 0 || dup2(fd, (int)n) < 0)
				die_errno("open '%s'", colon + 1);
			if (fd != (int)n)
				close(fd);
		} else {
			usage();
		}
#undef ARG
	}
	for (; i < argc; i++)
		strvec_push(&sb.argv, argv[i]);

	if (!sb.scratch) {
		const char *tmp = getenv("TMPDIR");
		char *templ = xstrfmt("%s/sandbox-run.XXXXXX",
				      tmp && *tmp ? tmp : "/tmp");
		if (!mkdtemp(templ))
			die_errno("mkdtemp '%s'", templ);
		sb.scratch = templ;
		own_scratch = true;
	}

	struct error *err = NULL;
	int status = 125;
	if (describe) {
		struct strbuf out = STRBUF_INIT;
		if (sandbox_describe(&sb, &out, &err) < 0) {
			error_print(err);
			return 125;
		}
		fputs(out.buf, stdout);
		strbuf_release(&out);
		status = 0;
	} else if (sandbox_run(&sb, &status, &err) < 0) {
		fflush(stdout);
		fprintf(stderr, "sandbox-run: error: %s\n", err->msg);
		error_free(err);
	}
	if (created_file) {
		FILE *f = fopen(created_file, "w");
		if (f) {
			for (size_t k = 0; k < sb.created.nr; k++)
				fprintf(f, "%s\n", sb.created.v[k]);
			fclose(f);
		}
	}
	if (keep_upper && sb.upper && rename(sb.upper, keep_upper) < 0)
		die_errno("rename '%s'", sb.upper);
	if (own_scratch && rm_tree(sb.scratch) != 0)
		warning("could not remove '%s'", sb.scratch);
	sandbox_release(&sb);
	return status;
}
