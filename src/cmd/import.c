/*
 * kiln import FILE|- [REF]: a root file system tarball (plain, gzip, zstd,
 * xz or bzip2, detected by content) becomes a one-layer image.  The input
 * is decompressed, checked to be a tar, hashed (the diffID),
 * gzip-compressed into the store and extracted into its layer dir in a
 * single streaming pass.
 */
#include "cmd/cmd.h"
#include "store/store.h"

#include <archive.h>
#include <ctype.h>

#define IMPORT_BUF (1 << 20)

/* ------------------------------------------------------------ --change */

/* Split shell-like words with '…' "…" and backslash quoting. */
static int split_words(const char *s, struct strvec *out)
{
	const char *p = s;
	for (;;) {
		while (isspace((unsigned char)*p))
			p++;
		if (!*p)
			return 0;
		struct strbuf w = STRBUF_INIT;
		while (*p && !isspace((unsigned char)*p)) {
			if (*p == '\\' && p[1]) {
				strbuf_addch(&w, p[1]);
				p += 2;
			} else if (*p == '"') {
				for (p++; *p && *p != '"'; p++) {
					if (*p == '\\' && p[1])
						p++;
					strbuf_addch(&w, *p);
				}
				if (!*p) {
					strbuf_release(&w);
					return -1;
				}
				p++;
			} else if (*p == '\'') {
				for (p++; *p && *p != '\''; p++)
					strbuf_addch(&w, *p);
				if (!*p) {
					strbuf_release(&w);
					return -1;
				}
				p++;
			} else {
				strbuf_addch(&w, *p++);
			}
		}
		strvec_push_nodup(out, strbuf_detach(&w, NULL));
	}
}

/* A JSON array of strings, or NULL. */
static json_t *json_form(const char *rest)
{
	if (*rest != '[')
		return NULL;
	json_t *j = json_loads(rest, 0, NULL);
	size_t i;
	json_t *v;
	if (!json_is_array(j)) {
		json_decref(j);
		return NULL;
	}
	json_array_foreach(j, i, v) if (!json_is_string(v))
	{
		json_decref(j);
		return NULL;
	}
	return j;
}

static json_t *cmd_form(const char *rest)
{
	json_t *j = json_form(rest);
	if (j)
		return j;
	j = json_array();
	json_array_append_new(j, json_string("/bin/sh"));
	json_array_append_new(j, json_string("-c"));
	json_array_append_new(j, json_string(rest));
	return j;
}

static json_t *obj(json_t *cfg, const char *key)
{
	json_t *o = json_object_get(cfg, key);
	if (!json_is_object(o)) {
		o = json_object();
		json_object_set_new(cfg, key, o);
	}
	return o;
}

static void set_env(json_t *cfg, const char *k, const char *v)
{
	json_t *env = json_object_get(cfg, "Env");
	if (!json_is_array(env)) {
		env = json_array();
		json_object_set_new(cfg, "Env", env);
	}
	cleanup_free char *kv = xstrfmt("%s=%s", k, v);
	size_t klen = strlen(k), i;
	json_t *e;
	json_array_foreach(env, i, e)
	{
		const char *s = json_string_value(e);
		if (s && !strncmp(s, k, klen) && s[klen] == '=') {
			json_array_set_new(env, i, json_string(kv));
			return;
		}
	}
	json_array_append_new(env, json_string(kv));
}

/* key=value words into fn; "ENV k v" legacy form when allowed. */
static int key_values(const char *rest, bool legacy, json_t *cfg,
		      void (*fn)(json_t *, const char *, const char *),
		      struct error **err)
{
	struct strvec words = STRVEC_INIT;
	if (split_words(rest, &words) < 0 || !words.nr) {
		strvec_clear(&words);
		error_set(err, KILN_EINVAL, "missing or unterminated value");
		return -1;
	}
	if (legacy && !strchr(words.v[0], '=')) {
		const char *p = rest;
		while (isspace((unsigned char)*p))
			p++;
		p += strcspn(p, " \t");
		while (isspace((unsigned char)*p))
			p++;
		if (!*p) {
			strvec_clear(&words);
			error_set(err, KILN_EINVAL, "needs a value");
			return -1;
		}
		fn(cfg, words.v[0], p);
		strvec_clear(&words);
		return 0;
	}
	for (size_t i = 0; i < words.nr; i++) {
		const char *eq = strchr(words.v[i], '=');
		if (!eq || eq == words.v[i]) {
			error_set(err, KILN_EINVAL, "'%s' is not key=value",
				  words.v[i]);
			strvec_clear(&words);
			return -1;
		}
		cleanup_free char *k =
			xstrndup(words.v[i], (size_t)(eq - words.v[i]));
		fn(cfg, k, eq + 1);
	}
	strvec_clear(&words);
	return 0;
}

static void set_label(json_t *cfg, const char *k, const char *v)
{
	json_object_set_new(obj(cfg, "Labels"), k, json_string(v));
}

static int add_ports(json_t *cfg, const char *rest, struct error **err)
{
	struct strvec words = STRVEC_INIT;
	split_words(rest, &words);
	if (!words.nr) {
		error_set(err, KILN_EINVAL, "needs at least one port");
		return -1;
	}
	for (size_t i = 0; i < words.nr; i++) {
		const char *w = words.v[i];
		const char *slash = strchr(w, '/');
		cleanup_free char *num =
			xstrndup(w, slash ? (size_t)(slash - w) : strlen(w));
		cleanup_free char *proto = xstrdup(slash ? slash + 1 : "tcp");
		for (char *p = proto; *p; p++)
			*p = (char)tolower((unsigned char)*p);
		unsigned long long lo, hi;
		char *dash = strchr(num, '-');
		if (dash)
			*dash = '\0';
		if (parse_uint(num, 65535, &lo) < 0 ||
		    (dash && parse_uint(dash + 1, 65535, &hi) < 0) ||
		    (strcmp(proto, "tcp") && strcmp(proto, "udp") &&
		     strcmp(proto, "sctp"))) {
			error_set(err, KILN_EINVAL, "invalid port '%s'", w);
			strvec_clear(&words);
			return -1;
		}
		if (!dash)
			hi = lo;
		for (unsigned long long p = lo; p <= hi; p++) {
			cleanup_free char *k = xstrfmt("%llu/%s", p, proto);
			json_object_set_new(obj(cfg, "ExposedPorts"), k,
					    json_object());
		}
	}
	strvec_clear(&words);
	return 0;
}

static int apply_change(json_t *cfg, const char *change, struct error **err)
{
	const char *p = change;
	while (isspace((unsigned char)*p))
		p++;
	size_t n = strcspn(p, " \t\n");
	cleanup_free char *ins = xstrndup(p, n);
	for (char *q = ins; *q; q++)
		*q = (char)toupper((unsigned char)*q);
	p += n;
	while (isspace((unsigned char)*p))
		p++;
	cleanup_free char *rest = xstrdup(p);
	for (size_t l = strlen(rest); l && isspace((unsigned char)rest[l - 1]);)
		rest[--l] = '\0';
	if (!*ins) {
		error_set(err, KILN_EINVAL, "empty change");
		return -1;
	}
	if (!*rest) {
		error_set(err, KILN_EINVAL, "%s requires an argument", ins);
		return -1;
	}
	if (!strcmp(ins, "CMD")) {
		json_object_set_new(cfg, "Cmd", cmd_form(rest));
	} else if (!strcmp(ins, "ENTRYPOINT")) {
		json_object_set_new(cfg, "Entrypoint", cmd_form(rest));
	} else if (!strcmp(ins, "ENV")) {
		return key_values(rest, true, cfg, set_env, err);
	} else if (!strcmp(ins, "LABEL")) {
		return key_values(rest, false, cfg, set_label, err);
	} else if (!strcmp(ins, "EXPOSE")) {
		return add_ports(cfg, rest, err);
	} else if (!strcmp(ins, "VOLUME")) {
		json_t *j = json_form(rest);
		struct strvec words = STRVEC_INIT;
		if (j) {
			size_t i;
			json_t *v;
			json_array_foreach(j, i, v)
				strvec_push(&words, json_string_value(v));
			json_decref(j);
		} else {
			split_words(rest, &words);
		}
		for (size_t i = 0; i < words.nr; i++)
			json_object_set_new(obj(cfg, "Volumes"), words.v[i],
					    json_object());
		strvec_clear(&words);
	} else if (!strcmp(ins, "WORKDIR")) {
		const char *cur = json_string_value(json_object_get(cfg, "Worki"
									 "ngDi"
									 "r"));
		cleanup_free char *wd =
			rest[0] == '/' ? xstrdup(rest)
				       : xstrfmt("%s/%s",
						 cur && *cur ? cur : "", rest);
		json_object_set_new(cfg, "WorkingDir", json_string(wd));
	} else if (!strcmp(ins, "USER")) {
		json_object_set_new(cfg, "User", json_string(rest));
	} else if (!strcmp(ins, "STOPSIGNAL")) {
		json_object_set_new(cfg, "StopSignal", json_string(rest));
	} else if (!strcmp(ins, "ONBUILD")) {
		json_t *a = json_object_get(cfg, "OnBuild");
		if (!json_is_array(a)) {
			a = json_array();
			json_object_set_new(cfg, "OnBuild", a);
		}
		json_array_append_new(a, json_string(rest));
	} else {
		error_set(err, KILN_EINVAL,
			  "%s is not a valid change command (CMD, ENTRYPOINT, "
			  "ENV, EXPOSE, LABEL, ONBUILD, STOPSIGNAL, USER, "
			  "VOLUME, WORKDIR)",
			  ins);
		return -1;
	}
	return 0;
}

/* ------------------------------------------------------------ the layer */

struct raw_src {
	int fd;
	const unsigned char *head;
	size_t head_len;
	unsigned char *buf;
};

static la_ssize_t raw_read(struct archive *a, void *data, const void **out)
{
	struct raw_src *src = data;
	if (src->head_len) {
		*out = src->head;
		la_ssize_t n = (la_ssize_t)src->head_len;
		src->head_len = 0;
		return n;
	}
	ssize_t n;
	do
		n = read(src->fd, src->buf, IMPORT_BUF);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		archive_set_error(a, errno, "read: %s", strerror(errno));
	*out = src->buf;
	return n;
}

/* xz, bzip2: libarchive's filters, starting with the bytes peeked. */
static int feed_libarchive(int fd, const unsigned char *head, size_t hlen,
			   struct store_ingest *in, struct error **err)
{
	struct raw_src src = { fd, head, hlen, xmalloc(IMPORT_BUF) };
	struct archive *a = archive_read_new();
	archive_read_support_filter_all(a);
	archive_read_support_format_raw(a);
	struct archive_entry *e;
	int ret = -1;
	if (archive_read_open(a, &src, NULL, raw_read, NULL) != ARCHIVE_OK ||
	    archive_read_next_header(a, &e) != ARCHIVE_OK) {
		error_set(err, KILN_EINVAL, "%s", archive_error_string(a));
		goto out;
	}
	for (;;) {
		const void *b;
		size_t len;
		la_int64_t off;
		int r = archive_read_data_block(a, &b, &len, &off);
		if (r == ARCHIVE_EOF)
			break;
		if (r != ARCHIVE_OK) {
			error_set(err, KILN_EINVAL, "decompress: %s",
				  archive_error_string(a));
			goto out;
		}
		if (store_ingest_write(in, b, len, err) < 0)
			goto out;
	}
	ret = 0;
out:
	archive_read_free(a);
	free(src.buf);
	return ret;
}

static ssize_t read_some(int fd, unsigned char *buf, size_t len)
{
	ssize_t n;
	do
		n = read(fd, buf, len);
	while (n < 0 && errno == EINTR);
	return n;
}

static int feed_input(int fd, const char *src, struct store_ingest *in,
		      struct error **err)
{
	cleanup_free unsigned char *buf = xmalloc(IMPORT_BUF);
	ssize_t n = read_some(fd, buf, IMPORT_BUF);
	if (n < 0) {
		error_set_errno(err, "read '%s'", src);
		return -1;
	}
	/* xz and bzip2 magic: decompress with libarchive */
	if ((n >= 6 && !memcmp(buf,
			       "\xfd"
			       "7zXZ\0",
			       6)) ||
	    (n >= 3 && !memcmp(buf, "BZh", 3)))
		return feed_libarchive(fd, buf, (size_t)n, in, err);
	while (n > 0) {
		if (store_ingest_write(in, buf, (size_t)n, err) < 0)
			return -1;
		n = read_some(fd, buf, IMPORT_BUF);
		if (n < 0) {
			error_set_errno(err, "read '%s'", src);
			return -1;
		}
	}
	return 0;
}

/* Store the layer blob; fills `layer` (caller frees its strings). */
static int import_layer(struct store *s, int fd, const char *src,
			struct store_layer_desc *layer, struct error **err)
{
	struct store_ingest *in =
		store_ingest_begin(s, STORE_INGEST_LAYER, err);
	if (!in)
		return -1;
	store_ingest_unpack(in, NULL, NULL);
	struct store_ingest_result res;
	if (feed_input(fd, src, in, err) < 0) {
		store_ingest_abort(in);
		error_wrap(err, "import '%s'", src);
		return -1;
	}
	if (store_ingest_commit(in, NULL, &res, err) < 0) {
		error_wrap(err, "import '%s'", src);
		return -1;
	}
	layer->media_type = xstrdup(res.media_type);
	layer->digest = xstrdup(res.digest);
	layer->size = (int64_t)res.size;
	layer->diffid = xstrdup(res.diffid);
	layer->usize = res.usize;
	return 0;
}

static json_t *make_config(json_t *cc, const char *diffid, const char *msg)
{
	cleanup_free char *now = store_time_now();
	json_t *c = json_object();
	json_object_set_new(c, "architecture", json_string(store_host_arch()));
	json_object_set_new(c, "comment", json_string(msg));
	json_object_set(c, "config", cc);
	json_object_set_new(c, "created", json_string(now));
	json_t *h = json_object();
	json_object_set_new(h, "created", json_string(now));
	json_object_set_new(h, "comment", json_string(msg));
	json_t *hist = json_array();
	json_array_append_new(hist, h);
	json_object_set_new(c, "history", hist);
	json_object_set_new(c, "os", json_string("linux"));
	json_t *rootfs = json_object();
	json_object_set_new(rootfs, "type", json_string("layers"));
	json_t *ids = json_array();
	json_array_append_new(ids, json_string(diffid));
	json_object_set_new(rootfs, "diff_ids", ids);
	json_object_set_new(c, "rootfs", rootfs);
	return c;
}

int cmd_import(int argc, char **argv)
{
	struct strvec changes = STRVEC_INIT;
	const char *message = NULL;
	const char *platform = NULL;
	const struct opt opts[] = {
		OPT_LIST_('c', "change", &changes, "list",
			  "Apply Dockerfile instruction to the created image"),
		OPT_STRING_('m', "message", &message, "string",
			    "Set commit message for imported image"),
		OPT_STRING_(0, "platform", &platform, "string",
			    "Set platform (only the host's is supported)"),
		OPT_END_(),
	};
	argc = parse_options(argc, argv, opts,
			     "kiln import [OPTIONS] file|- [REPOSITORY[:TAG]]",
			     "Import the contents from a tarball to create a "
			     "filesystem image",
			     false);
	if (argc < 1 || argc > 2)
		usage_error("import", "\"kiln import\" requires at least 1 "
				      "and at most 2 arguments");
	const char *src = argv[0];
	struct error *e = NULL;
	cleanup_free char *ref = NULL;
	if (argc == 2 && !(ref = store_ref_normalize(argv[1], &e))) {
		strvec_clear(&changes);
		return cmd_fail(e);
	}
	if (ref && strchr(ref, '@')) {
		strvec_clear(&changes);
		error("refusing to create a tag with a digest reference");
		return 1;
	}
	json_t *cc = json_object();
	for (size_t i = 0; i < changes.nr; i++) {
		if (apply_change(cc, changes.v[i], &e) < 0) {
			error_wrap(&e, "invalid --change '%s'", changes.v[i]);
			json_decref(cc);
			strvec_clear(&changes);
			return cmd_fail(e);
		}
	}
	strvec_clear(&changes);
	if (starts_with(src, "http://") || starts_with(src, "https://")) {
		json_decref(cc);
		error("import '%s': importing from a URL is not supported",
		      src);
		return 1;
	}
	int fd = !strcmp(src, "-") ? fcntl(STDIN_FILENO, F_DUPFD_CLOEXEC, 3)
				   : open(src, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		error("open '%s': %s", src, strerror(errno));
		json_decref(cc);
		return 1;
	}
	struct store *s = cmd_store_open();
	if (!s) {
		close(fd);
		json_decref(cc);
		return 1;
	}
	struct store_layer_desc layer = { 0 };
	char md[STORE_DIGEST_MAX], cd[STORE_DIGEST_MAX];
	int64_t msize = 0;
	int ret = import_layer(s, fd, src, &layer, &e);
	close(fd);
	if (!ret) {
		json_t *config =
			make_config(cc, layer.diffid,
				    message ? message : "Imported from -");
		char *buf = json_dumps(config, JSON_COMPACT);
		ret = store_image_write(s, buf, strlen(buf), &layer, 1, md,
					&msize, cd, &e);
		free(buf);
		json_decref(config);
	}
	if (!ret) {
		struct store_desc d = { STORE_MT_OCI_MANIFEST, md, msize };
		ret = store_ref_set(s, ref, &d, &e);
	}
	if (ret < 0)
		store_rollback(s);
	json_decref(cc);
	free(layer.media_type);
	free(layer.digest);
	free(layer.diffid);
	store_free(s);
	if (ret < 0)
		return cmd_fail(e);
	printf("%s\n", cd);
	return 0;
}
