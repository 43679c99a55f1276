/*
 * Docker USER specs ("name", "uid", "name:group", "uid:gid") resolved
 * against an image root's /etc/passwd and /etc/group.  The files are opened
 * below the root with RESOLVE_IN_ROOT, so an image whose /etc/passwd is a
 * symlink to "/../../etc/shadow" reads a file of its own, never the host's.
 * Semantics follow Docker: numeric ids need no entry; the supplementary
 * groups are those listing the user by name, unless a group was given.
 */
#include "sandbox/sandbox-internal.h"

#include "base/banned.h"

#define ID_MAX 4294967294ULL

static void read_db(int rootfd, const char *path, struct strbuf *sb)
{
	int fd = sandbox_open_in_root(rootfd, path, O_RDONLY, 0);
	sb->cap = 16 << 20;
	if (fd < 0)
		return; /* a missing file has no entries */
	if (strbuf_read_fd(sb, fd) < 0)
		strbuf_reset(sb);
	close(fd);
}

/* Split one colon-separated line into at most `max` fields (in place). */
static size_t split_fields(char *line, char **f, size_t max)
{
	size_t n = 0;
	f[n++] = line;
	for (char *p = line; *p && n < max; p++)
		if (*p == ':') {
			*p = '\0';
			f[n++] = p + 1;
		}
	return n;
}

static bool parse_id(const char *s, unsigned long long *out)
{
	return *s && parse_uint(s, ID_MAX, out) == 0;
}

/* Iterate over the lines of a file's text; each is a writable copy. */
#define for_each_line(text, line)                                              \
	for (char *line##_p = (text), *line##_e, *line;                        \
	     *line##_p &&                                                      \
	     (line##_e = strchrnul(line##_p, '\n'), line = line##_p,           \
	     line##_p = *line##_e ? line##_e + 1 : line##_e, *line##_e = '\0', \
	     1);)

int sandbox_resolve_user(int rootfd, const char *spec, uid_t *uid, gid_t *gid,
			 gid_t **groups, size_t *groups_nr, struct error **err)
{
	cleanup_free char *copy = xstrdup(spec && *spec ? spec : "0");
	char *colon = strchr(copy, ':');
	const char *user = copy, *group = NULL;
	if (colon) {
		*colon = '\0';
		group = colon + 1;
	}
	unsigned long long num;
	bool user_numeric = parse_id(user, &num);
	uid_t u = user_numeric ? (uid_t)num : 0;
	gid_t g = 0;
	const char *matched_name = NULL;
	cleanup_free char *name_buf = NULL;
	cleanup_strbuf struct strbuf passwd = STRBUF_INIT;
	cleanup_strbuf struct strbuf grp = STRBUF_INIT;

	if (!*user || (group && !*group)) {
		error_set(err, KILN_EINVAL, "invalid user spec '%s'", spec);
		return -1;
	}
	read_db(rootfd, "/etc/passwd", &passwd);
	bool found = false;
	for_each_line(passwd.buf, line)
	{
		char *f[7];
		if (split_fields(line, f, 7) < 4 || !*f[0])
			continue;
		unsigned long long pu, pg;
		if (!parse_id(f[2], &pu) || !parse_id(f[3], &pg))
			continue;
		if (user_numeric ? pu != num : strcmp(f[0], user))
			continue;
		u = pu;
		g = pg;
		name_buf = xstrdup(f[0]);
		matched_name = name_buf;
		found = true;
		break;
	}
	if (!found && !user_numeric) {
		error_set(err, KILN_ENOTFOUND,
			  "unable to find user %s: no matching entries in "
			  "passwd file",
			  user);
		return -1;
	}

	gid_t *sg = NULL;
	size_t sg_nr = 0, sg_alloc = 0;
	if (group || matched_name) {
		read_db(rootfd, "/etc/group", &grp);
		unsigned long long gnum = 0;
		bool group_numeric = group && parse_id(group, &gnum);
		bool group_found = false;
		for_each_line(grp.buf, line)
		{
			char *f[4] = { NULL };
			if (split_fields(line, f, 4) < 3 || !*f[0])
				continue;
			unsigned long long gg;
			if (!parse_id(f[2], &gg))
				continue;
			if (group) {
				if (group_numeric ? gg != gnum
						  : strcmp(f[0], group))
					continue;
				g = gg;
				group_found = true;
				break;
			}
			/* supplementary: groups listing the user by name */
			const char *members = f[3] ? f[3] : "";
			for (const char *p = members; *p;) {
				const char *e = strchrnul(p, ',');
				if ((size_t)(e - p) == strlen(matched_name) &&
				    !memcmp(p, matched_name, e - p)) {
					ALLOC_GROW(sg, sg_nr + 1, sg_alloc);
					sg[sg_nr++] = gg;
					break;
				}
				p = *e ? e + 1 : e;
			}
		}
		if (group && !group_found) {
			if (!group_numeric) {
				free(sg);
				error_set(err, KILN_ENOTFOUND,
					  "unable to find group %s: no "
					  "matching entries in group file",
					  group);
				return -1;
			}
			g = gnum;
		}
	}
	*uid = u;
	*gid = g;
	if (groups) {
		*groups = sg;
		*groups_nr = sg_nr;
	} else {
		free(sg);
	}
	return 0;
}
