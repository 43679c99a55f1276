/*
 * libFuzzer target: extract arbitrary bytes (any compression, any tar) into
 * a fresh root that already holds a symlink pointing outside it, in applied
 * or overlay mode (first byte), then abort if anything outside the root
 * changed: the canary's content and mtime, or any new name next to it.
 */
#include "archive/archive.h"

#include <dirent.h>
#include <ftw.h>
#include <limits.h>
#include <sys/stat.h>

static char base[PATH_MAX], root[PATH_MAX + 8], outside[PATH_MAX + 16],
	canary[PATH_MAX + 32];
static struct stat canary_st;

static int rm_cb(const char *p, const struct stat *sb, int flag,
		 struct FTW *ftw)
{
	return remove(p);
}

static void count_entries(const char *dir, int *n)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	*n = 0;
	while (d && (de = readdir(d)))
		(*n)++;
	if (d)
		closedir(d);
}

static void setup(void)
{
	snprintf(base, sizeof(base), "/tmp/kiln-fuzz-tar.%d", (int)getpid());
	mkdir(base, 0755);
	snprintf(root, sizeof(root), "%s/root", base);
	snprintf(outside, sizeof(outside), "%s/outside", base);
	snprintf(canary, sizeof(canary), "%s/canary", outside);
	mkdir(outside, 0755);
	FILE *f = fopen(canary, "w");
	fputs("canary\n", f);
	fclose(f);
	stat(canary, &canary_st);
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);
int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	if (!*base)
		setup();
	if (size < 1)
		return 0;
	nftw(root, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
	mkdir(root, 0755);
	/* A lower layer's symlinks pointing outside, absolute and relative. */
	char p[PATH_MAX + 64];
	snprintf(p, sizeof(p), "%s/lower", root);
	symlink(outside, p);
	snprintf(p, sizeof(p), "%s/up", root);
	symlink("../outside", p);

	int fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct archive_mem mem = { data + 1, size - 1, 0 };
	struct archive_input in = { archive_mem_read, &mem };
	struct archive_extract_opts opts = {
		.whiteouts = data[0] & 1 ? ARCHIVE_WHITEOUT_OVERLAY
					 : ARCHIVE_WHITEOUT_APPLY,
		.userxattr = data[0] & 2,
		.force_zlib = data[0] & 4,
		.what = "fuzz",
	};
	struct error *err = NULL;
	archive_extract(fd, &in, &opts, NULL, &err);
	error_free(err);
	close(fd);

	struct stat st;
	int n;
	char buf[16] = "";
	FILE *f = fopen(canary, "r");
	if (!f || !fgets(buf, sizeof(buf), f) || strcmp(buf, "canary\n"))
		abort();
	fclose(f);
	if (stat(canary, &st) ||
	    st.st_mtim.tv_sec != canary_st.st_mtim.tv_sec ||
	    st.st_mtim.tv_nsec != canary_st.st_mtim.tv_nsec ||
	    st.st_ino != canary_st.st_ino)
		abort();
	count_entries(outside, &n);
	if (n != 3) /* ".", "..", "canary" */
		abort();
	count_entries(base, &n);
	if (n != 4) /* ".", "..", "root", "outside" */
		abort();
	return 0;
}
