/*
 * Filesystem helpers every module needs.  They work relative to a
 * directory fd and never follow a symlink: a link is removed, not its
 * target.
 */
#include "base/base.h"

#include <dirent.h>
#include <sys/stat.h>

int rm_rf_at(int dirfd, const char *name)
{
	if (!unlinkat(dirfd, name, 0) || errno == ENOENT)
		return 0;
	if (errno != EISDIR && errno != EPERM)
		return -1;
	int fd = openat(dirfd, name,
			O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && errno == EACCES) {
		/* overlay's work/work is mode 000: make it searchable */
		if (fchmodat(dirfd, name, 0700, 0) < 0)
			return -1;
		fd = openat(dirfd, name,
			    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	}
	if (fd < 0)
		return errno == ENOENT ? 0 : -1;
	/* a read-only tree (a layer dir): make it writable to empty it */
	fchmod(fd, 0700);
	DIR *d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -1;
	}
	int ret = 0, saved = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (rm_rf_at(fd, de->d_name) < 0) {
			saved = errno;
			ret = -1;
		}
	}
	closedir(d);
	if (unlinkat(dirfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT) {
		saved = errno;
		ret = -1;
	}
	if (ret)
		errno = saved;
	return ret;
}

int mkdir_p(const char *path, mode_t mode)
{
	cleanup_free char *p = xstrdup(path);
	for (char *q = p + 1; *q; q++) {
		if (*q != '/')
			continue;
		*q = '\0';
		if (mkdir(p, mode) < 0 && errno != EEXIST)
			return -1;
		*q = '/';
	}
	if (mkdir(p, mode) < 0 && errno != EEXIST)
		return -1;
	return 0;
}

DIR *opendir_at(int dirfd, const char *name, int flags)
{
	int fd =
		openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | flags);
	if (fd < 0)
		return NULL;
	DIR *d = fdopendir(fd);
	if (!d) {
		int e = errno;
		close(fd);
		errno = e;
	}
	return d;
}

static bool dot_or_dotdot(const char *n)
{
	return n[0] == '.' && (!n[1] || (n[1] == '.' && !n[2]));
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int read_dir_names(int dirfd, const char *name, int flags, struct strvec *out)
{
	DIR *d = opendir_at(dirfd, name, flags);
	if (!d)
		return -1;
	size_t first = out->nr;
	struct dirent *de;
	errno = 0;
	while ((de = readdir(d)))
		if (!dot_or_dotdot(de->d_name))
			strvec_push(out, de->d_name);
	int e = errno;
	closedir(d);
	if (e) {
		while (out->nr > first)
			strvec_pop(out);
		errno = e;
		return -1;
	}
	qsort(out->v + first, out->nr - first, sizeof(*out->v), cmp_names);
	return 0;
}

bool dir_is_empty_at(int dirfd, const char *name)
{
	DIR *d = opendir_at(dirfd, name, 0);
	if (!d)
		return false;
	bool empty = true;
	struct dirent *de;
	while (empty && (de = readdir(d)))
		empty = dot_or_dotdot(de->d_name);
	closedir(d);
	return empty;
}
