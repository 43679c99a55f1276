/*
 * The hostile-archive suite: every tests/data/hostile/<case>.expect names a
 * data file extracted into a fresh root inside a temp dir that also holds
 * canary files outside the root.  Each case must either succeed with the
 * expected tree or fail with the expected message, and in every case the
 * canaries stay byte- and mtime-identical and nothing appears outside the
 * root.  Adding a case means editing gen.sh, never this file.
 */
#include "tap.h"
#include "archive/archive.h"

#include <dirent.h>
#include <ftw.h>
#include <sys/stat.h>
#include <sys/xattr.h>

#define DATA_DIR "tests/data/hostile"

static char tmpdir[PATH_MAX];

static int rm_cb(const char *p, const struct stat *sb, int flag,
		 struct FTW *ftw)
{
	return remove(p);
}

/* Recursive removal that never follows symlinks (FTW_PHYS). */
static void rm_rf(const char *p)
{
	nftw(p, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

/* Decode "\xNN" escapes in place. */
static void unescape(char *s)
{
	char *o = s;
	while (*s) {
		if (s[0] == '\\' && s[1] == 'x' && s[2] && s[3]) {
			char hex[3] = { s[2], s[3], 0 };
			*o++ = (char)strtol(hex, NULL, 16);
			s += 4;
		} else {
			*o++ = *s++;
		}
	}
	*o = '\0';
}

/* Everything under dir except `skip`, as "path size mtime" lines. */
static void snapshot(const char *dir, const char *rel, const char *skip,
		     struct strbuf *out)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	struct strvec names = STRVEC_INIT;
	if (!d)
		return;
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			strvec_push(&names, de->d_name);
	closedir(d);
	for (size_t i = 0; i < names.nr; i++)
		for (size_t j = i + 1; j < names.nr; j++)
			if (strcmp(names.v[i], names.v[j]) > 0) {
				const char *t = names.v[i];
				names.v[i] = names.v[j];
				names.v[j] = t;
			}
	for (size_t i = 0; i < names.nr; i++) {
		char *p = xstrfmt("%s/%s", dir, names.v[i]);
		char *r = xstrfmt("%s%s", rel, names.v[i]);
		struct stat st;
		if (!strcmp(r, skip) || lstat(p, &st) < 0) {
			free(p);
			free(r);
			continue;
		}
		strbuf_addf(out, "%s %o %lld %lld.%09ld\n", r, st.st_mode,
			    (long long)st.st_size, (long long)st.st_mtim.tv_sec,
			    st.st_mtim.tv_nsec);
		if (S_ISREG(st.st_mode)) {
			struct strbuf c = STRBUF_INIT;
			strbuf_read_file(&c, p);
			strbuf_addbuf(out, &c);
			strbuf_addch(out, '\n');
			strbuf_release(&c);
		}
		if (S_ISDIR(st.st_mode)) {
			char *rr = xstrfmt("%s/", r);
			snapshot(p, rr, skip, out);
			free(rr);
		}
		free(p);
		free(r);
	}
	strvec_clear(&names);
}

static void write_file(const char *p, const char *content, time_t mtime)
{
	FILE *f = fopen(p, "w");
	if (!f)
		die_errno("create '%s'", p);
	fputs(content, f);
	fclose(f);
	struct timespec ts[2] = { { mtime, 0 }, { mtime, 0 } };
	utimensat(AT_FDCWD, p, ts, 0);
}

static char file_type(mode_t m)
{
	return S_ISREG(m)    ? 'f'
	       : S_ISDIR(m)  ? 'd'
	       : S_ISLNK(m)  ? 'l'
	       : S_ISCHR(m)  ? 'c'
	       : S_ISBLK(m)  ? 'b'
	       : S_ISFIFO(m) ? 'p'
			     : '?';
}

static void run_case(const char *name)
{
	char *expect_path = xstrfmt(DATA_DIR "/%s.expect", name);
	struct strbuf expect = STRBUF_INIT;
	struct strvec lines = STRVEC_INIT;
	char *data = NULL;
	const char *want_error = NULL;
	bool overlay = false, root = geteuid() == 0;

	if (strbuf_read_file(&expect, expect_path) < 0)
		die_errno("read '%s'", expect_path);
	for (char *s = expect.buf, *nl; *s; s = nl + 1) {
		nl = strchr(s, '\n');
		if (!nl)
			nl = s + strlen(s);
		strvec_push_nodup(&lines, xstrndup(s, nl - s));
		if (!*nl)
			break;
	}
	for (const char *ext = ".tar"; ext; ext = *ext == '.' &&
						  !strcmp(ext, ".tar") ?
					      ".tar.gz" :
					      NULL) {
		char *p = xstrfmt(DATA_DIR "/%s%s", name, ext);
		if (!access(p, R_OK)) {
			data = p;
			break;
		}
		free(p);
	}
	if (!data) {
		ok(0, "%s: data file missing", name);
		goto out;
	}

	/* T/root is the root; T/outside and T/canary must never change. */
	char *t = xstrfmt("%s/%s", tmpdir, name);
	char *rootp = xstrfmt("%s/root", t);
	char *outside = xstrfmt("%s/outside", t);
	char *canary1 = xstrfmt("%s/canary", t);
	char *canary2 = xstrfmt("%s/outside/canary", t);
	mkdir(t, 0755);
	mkdir(rootp, 0755);
	mkdir(outside, 0755);
	write_file(canary1, "canary one\n", 1000000000);
	write_file(canary2, "canary two\n", 1000000000);

	for (size_t i = 0; i < lines.nr; i++) {
		char *l = xstrdup(lines.v[i]);
		const char *v;
		unescape(l);
		if (!strcmp(l, "mode: overlay")) {
			overlay = true;
		} else if (skip_prefix(l, "setup-dir: ", &v)) {
			char *p = xstrfmt("%s/%s", rootp, v);
			mkdir(p, 0755);
			free(p);
		} else if (skip_prefix(l, "setup-file: ", &v)) {
			char *p = xstrfmt("%s/%s", rootp, v);
			write_file(p, "lower\n", 1200000000);
			free(p);
		} else if (skip_prefix(l, "setup-symlink: ", &v)) {
			char *sp = strchr(v, ' ');
			char *p = xstrfmt("%s/%.*s", rootp, (int)(sp - v), v);
			char *target = starts_with(sp + 1, "@OUTSIDE@") ?
					       xstrfmt("%s%s", outside,
						       sp + 1 + 9) :
					       xstrdup(sp + 1);
			if (symlink(target, p) < 0)
				die_errno("symlink '%s'", p);
			free(p);
			free(target);
		} else if (!strcmp(l, "ok")) {
			want_error = NULL;
		} else if (skip_prefix(l, "error:", &v)) {
			want_error = lines.v[i] + 6;
		}
		free(l);
	}

	struct strbuf before = STRBUF_INIT, after = STRBUF_INIT;
	snapshot(t, "", "root", &before);

	struct error *err = NULL;
	int fd = open(data, O_RDONLY | O_CLOEXEC);
	int rootfd = open(rootp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct archive_input in = { archive_fd_read, &fd };
	struct archive_extract_opts opts = {
		.whiteouts = overlay ? ARCHIVE_WHITEOUT_OVERLAY
				     : ARCHIVE_WHITEOUT_APPLY,
		.what = name,
	};
	int ret = archive_extract(rootfd, &in, &opts, NULL, &err);
	close(fd);

	if (want_error) {
		bool match = ret < 0 && err && strstr(err->msg, want_error);
		ok(match, "%s: fails with '%s'", name, want_error);
		if (!match)
			printf("#   got: %s\n", err ? err->msg : "success");
		else
			printf("#   %s\n", err->msg);
	} else {
		ok(ret == 0, "%s: extracts", name);
		if (ret)
			printf("#   error: %s\n", err ? err->msg : "?");
	}
	error_free(err);

	snapshot(t, "", "root", &after);
	ok(!strcmp(before.buf, after.buf),
	   "%s: canaries untouched, nothing new outside the root", name);
	if (strcmp(before.buf, after.buf))
		printf("# before:\n%s# after:\n%s", before.buf, after.buf);
	strbuf_release(&before);
	strbuf_release(&after);

	for (size_t i = 0; i < lines.nr; i++) {
		char *l = xstrdup(lines.v[i]);
		const char *v;
		struct stat st;
		unescape(l);
		if (skip_prefix(l, "exists: ", &v)) {
			ok(fstatat(rootfd, v, &st, AT_SYMLINK_NOFOLLOW) == 0,
			   "%s: '%s' exists", name, lines.v[i] + 8);
		} else if (skip_prefix(l, "absent: ", &v)) {
			ok(fstatat(rootfd, v, &st, AT_SYMLINK_NOFOLLOW) < 0 &&
				   errno == ENOENT,
			   "%s: '%s' absent", name, lines.v[i] + 8);
		} else if (skip_prefix(l, "host-absent: ", &v)) {
			ok(lstat(v, &st) < 0, "%s: host '%s' absent", name, v);
		} else if (skip_prefix(l, "type: ", &v)) {
			char *sp = strrchr(v, ' ');
			*sp = '\0';
			if ((sp[1] == 'c' || sp[1] == 'b') && !root) {
				tap_skip("%s: device '%s' needs root", name, v);
			} else {
				int r = fstatat(rootfd, v, &st,
						AT_SYMLINK_NOFOLLOW);
				ok(r == 0 && file_type(st.st_mode) == sp[1],
				   "%s: '%s' is of type %c", name, v, sp[1]);
			}
		} else if (skip_prefix(l, "content: ", &v)) {
			char *sp = strchr(v, ' ');
			*sp = '\0';
			struct strbuf c = STRBUF_INIT;
			int cfd = openat(rootfd, v,
					 O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
			if (cfd >= 0) {
				strbuf_read_fd(&c, cfd);
				close(cfd);
			}
			is_str(c.buf, sp + 1, "%s: content of '%s'", name, v);
			strbuf_release(&c);
		} else if (skip_prefix(l, "xattr: ", &v)) {
			char *p1 = strchr(v, ' ');
			*p1 = '\0';
			char *p2 = strchr(p1 + 1, ' ');
			*p2 = '\0';
			char buf[256] = "";
			if (!root) {
				tap_skip("%s: xattr needs root", name);
			} else {
				char *p = xstrfmt("%s/%s", rootp, v);
				ssize_t n = lgetxattr(p, p1 + 1, buf,
						      sizeof(buf) - 1);
				buf[n > 0 ? n : 0] = '\0';
				is_str(buf, p2 + 1, "%s: xattr %s on '%s'",
				       name, p1 + 1, v);
				free(p);
			}
		}
		free(l);
	}
	/* No overlay xattr may ever come from the archive itself. */
	if (!strcmp(name, "overlay-xattr-smuggle") && root) {
		char buf[64];
		char *p = xstrfmt("%s/d", rootp);
		ok(lgetxattr(p, "trusted.overlay.redirect", buf, sizeof(buf)) <
				   0 &&
			   lgetxattr(p, "user.overlay.opaque", buf,
				     sizeof(buf)) < 0,
		   "%s: overlay xattrs from the archive dropped", name);
		free(p);
	}
	close(rootfd);
	rm_rf(t);
	free(t);
	free(rootp);
	free(outside);
	free(canary1);
	free(canary2);
out:
	free(data);
	free(expect_path);
	strbuf_release(&expect);
	strvec_clear(&lines);
}

int main(int argc, char **argv)
{
	struct strvec cases = STRVEC_INIT;
	DIR *d = opendir(DATA_DIR);
	struct dirent *de;

	if (!d) {
		printf("1..0 # SKIP no %s (run from the source root)\n",
		       DATA_DIR);
		return 0;
	}
	while ((de = readdir(d)))
		if (ends_with(de->d_name, ".expect"))
			strvec_push_nodup(&cases,
					  xstrndup(de->d_name,
						   strlen(de->d_name) - 7));
	closedir(d);
	snprintf(tmpdir, sizeof(tmpdir), "%s/kiln-hostile.XXXXXX",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(tmpdir))
		die_errno("mkdtemp");
	ok(cases.nr >= 30, "found %zu hostile cases", cases.nr);
	for (size_t i = 0; i < cases.nr; i++)
		if (argc < 2 || !strcmp(argv[1], cases.v[i]))
			run_case(cases.v[i]);
	rm_rf(tmpdir);
	strvec_clear(&cases);
	return tap_done();
}
