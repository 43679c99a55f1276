/*
 * faultinject.so: an LD_PRELOAD shim that makes I/O fail on demand, to
 * prove the store never keeps partial data.  Configured by environment:
 *
 *   FAULT_WRITE_AFTER=N    the write(2) calls after the first N fail
 *   FAULT_FSYNC_AFTER=N    likewise for fsync(2) / fdatasync(2)
 *   FAULT_RENAME_AFTER=N   likewise for rename(2) / renameat(2) / renameat2
 *   FAULT_ERRNO=ENOSPC|EIO the error to fail with (default EIO)
 *
 * Writes to descriptors 0-2 are never failed (error messages must get out).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

static long limit(const char *name)
{
	const char *v = getenv(name);
	return v && *v ? strtol(v, NULL, 10) : -1;
}

static int fault_errno(void)
{
	const char *v = getenv("FAULT_ERRNO");
	if (v && !strcmp(v, "ENOSPC"))
		return ENOSPC;
	return EIO;
}

/* True when this call of the kind `name` must fail. */
static int should_fail(const char *name, long *count)
{
	long n = limit(name);
	if (n < 0)
		return 0;
	return (*count)++ >= n;
}

ssize_t write(int fd, const void *buf, size_t len)
{
	static ssize_t (*real)(int, const void *, size_t);
	static long count;
	if (!real)
		real = (ssize_t(*)(int, const void *, size_t))dlsym(RTLD_NEXT,
								    "write");
	if (fd > 2 && should_fail("FAULT_WRITE_AFTER", &count)) {
		errno = fault_errno();
		return -1;
	}
	return real(fd, buf, len);
}

static long fsync_count;

int fsync(int fd)
{
	static int (*real)(int);
	if (!real)
		real = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
	if (should_fail("FAULT_FSYNC_AFTER", &fsync_count)) {
		errno = fault_errno();
		return -1;
	}
	return real(fd);
}

int fdatasync(int fd)
{
	static int (*real)(int);
	if (!real)
		real = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
	if (should_fail("FAULT_FSYNC_AFTER", &fsync_count)) {
		errno = fault_errno();
		return -1;
	}
	return real(fd);
}

static long rename_count;

int rename(const char *a, const char *b)
{
	static int (*real)(const char *, const char *);
	if (!real)
		real = (int (*)(const char *, const char *))dlsym(RTLD_NEXT,
								  "rename");
	if (should_fail("FAULT_RENAME_AFTER", &rename_count)) {
		errno = fault_errno();
		return -1;
	}
	return real(a, b);
}

int renameat(int da, const char *a, int db, const char *b)
{
	static int (*real)(int, const char *, int, const char *);
	if (!real)
		real = (int (*)(int, const char *, int, const char *))dlsym(
			RTLD_NEXT, "renameat");
	if (should_fail("FAULT_RENAME_AFTER", &rename_count)) {
		errno = fault_errno();
		return -1;
	}
	return real(da, a, db, b);
}

int renameat2(int da, const char *a, int db, const char *b, unsigned flags)
{
	static int (*real)(int, const char *, int, const char *, unsigned);
	if (!real)
		real = (int (*)(int, const char *, int, const char *,
				unsigned))dlsym(RTLD_NEXT, "renameat2");
	if (should_fail("FAULT_RENAME_AFTER", &rename_count)) {
		errno = fault_errno();
		return -1;
	}
	return real(da, a, db, b, flags);
}
