/*
 * registries.conf (containers-registries.conf(5), version 2, plus the v1
 * [registries.search/insecure/block] tables): which registries an
 * unqualified name is searched in, and per prefix the location to use, its
 * mirrors, whether it is insecure or blocked.  Files merge in order; a
 * later [[registry]] with the same prefix replaces an earlier one.
 */
#include "registry/registry-internal.h"

#include <dirent.h>

static void conf_registry_release(struct conf_registry *r)
{
	free(r->prefix);
	free(r->location);
	for (size_t i = 0; i < r->mirrors_nr; i++)
		free(r->mirrors[i].location);
	free(r->mirrors);
	free(r->file);
	memset(r, 0, sizeof(*r));
}

void registries_conf_release(struct registries_conf *conf)
{
	strvec_clear(&conf->search);
	for (size_t i = 0; i < conf->regs_nr; i++)
		conf_registry_release(&conf->regs[i]);
	free(conf->regs);
	memset(conf, 0, sizeof(*conf));
	strvec_init(&conf->search);
}

PRINTF_LIKE(4, 5)
static int cerr(struct error **err, const char *file,
		const struct toml_value *v, const char *fmt, ...)
{
	struct strbuf sb = STRBUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	strbuf_vaddf(&sb, fmt, ap);
	va_end(ap);
	error_set(err, KILN_EINVAL, "%s:%d: %s", file, v ? v->line : 0, sb.buf);
	strbuf_release(&sb);
	return -1;
}

static int want_type(const char *file, const struct toml_value *v,
		     const char *key, enum toml_type type, struct error **err)
{
	static const char *const names[] = { "a table", "an array", "a string",
					     "a boolean", "an integer" };
	if (v->type == type)
		return 0;
	return cerr(err, file, v, "'%s' must be %s", key, names[type]);
}

static int get_string_array(const char *file, const struct toml_value *v,
			    const char *key, struct strvec *out,
			    struct error **err)
{
	if (want_type(file, v, key, TOML_ARRAY, err) < 0)
		return -1;
	for (size_t i = 0; i < v->items_nr; i++) {
		if (v->items[i]->type != TOML_STRING)
			return cerr(err, file, v,
				    "'%s' must be an array of strings", key);
		strvec_push(out, v->items[i]->str);
	}
	return 0;
}

/* A location or prefix must be a registry name, not a URL. */
static int check_location(const char *file, const struct toml_value *v,
			  const char *what, const char *s, struct error **err)
{
	if (strstr(s, "://"))
		return cerr(err, file, v,
			    "%s '%s' must not contain a URL scheme", what, s);
	if (*s && s[strlen(s) - 1] == '/')
		return cerr(err, file, v, "%s '%s' must not end with '/'", what,
			    s);
	return 0;
}

static int parse_mirror(const char *file, const struct toml_value *t,
			bool digest_only, struct conf_mirror *m,
			struct error **err)
{
	m->mode = digest_only ? PULL_DIGEST_ONLY : PULL_ALL;
	for (size_t i = 0; i < t->kv_nr; i++) {
		const char *k = t->kv[i].key;
		const struct toml_value *v = t->kv[i].value;
		if (!strcmp(k, "location")) {
			if (want_type(file, v, k, TOML_STRING, err) < 0 ||
			    check_location(file, v, "mirror location", v->str,
					   err) < 0)
				return -1;
			free(m->location);
			m->location = xstrdup(v->str);
		} else if (!strcmp(k, "insecure")) {
			if (want_type(file, v, k, TOML_BOOL, err) < 0)
				return -1;
			m->insecure = v->b;
		} else if (!strcmp(k, "pull-from-mirror")) {
			if (want_type(file, v, k, TOML_STRING, err) < 0)
				return -1;
			if (!strcmp(v->str, "all") || !*v->str)
				m->mode = PULL_ALL;
			else if (!strcmp(v->str, "digest-only"))
				m->mode = PULL_DIGEST_ONLY;
			else if (!strcmp(v->str, "tag-only"))
				m->mode = PULL_TAG_ONLY;
			else
				return cerr(err, file, v,
					    "pull-from-mirror must be all, "
					    "digest-only or tag-only, not '%s'",
					    v->str);
			if (digest_only && m->mode != PULL_DIGEST_ONLY)
				return cerr(err, file, v,
					    "pull-from-mirror '%s' conflicts "
					    "with mirror-by-digest-only",
					    v->str);
		} else {
			return cerr(err, file, v,
				    "unknown key '%s' in [[registry.mirror]]",
				    k);
		}
	}
	if (!m->location || !*m->location)
		return cerr(err, file, t,
			    "[[registry.mirror]] needs a location");
	return 0;
}

static int parse_registry(const char *file, const struct toml_value *t,
			  struct conf_registry *r, struct error **err)
{
	const struct toml_value *mirrors = NULL;
	bool digest_only = false;
	r->file = xstrdup(file);
	r->line = t->line;
	for (size_t i = 0; i < t->kv_nr; i++) {
		const char *k = t->kv[i].key;
		const struct toml_value *v = t->kv[i].value;
		if (!strcmp(k, "prefix") || !strcmp(k, "location")) {
			if (want_type(file, v, k, TOML_STRING, err) < 0 ||
			    check_location(file, v, k, v->str, err) < 0)
				return -1;
			char **dst = k[0] == 'p' ? &r->prefix : &r->location;
			free(*dst);
			*dst = xstrdup(v->str);
		} else if (!strcmp(k, "insecure") || !strcmp(k, "blocked") ||
			   !strcmp(k, "mirror-by-digest-only")) {
			if (want_type(file, v, k, TOML_BOOL, err) < 0)
				return -1;
			if (k[0] == 'i')
				r->insecure = v->b;
			else if (k[0] == 'b')
				r->blocked = v->b;
			else
				digest_only = v->b;
		} else if (!strcmp(k, "mirror")) {
			if (want_type(file, v, k, TOML_ARRAY, err) < 0)
				return -1;
			mirrors = v;
		} else {
			return cerr(err, file, v,
				    "unknown key '%s' in [[registry]]", k);
		}
	}
	for (size_t i = 0; mirrors && i < mirrors->items_nr; i++) {
		const struct toml_value *m = mirrors->items[i];
		if (m->type != TOML_TABLE)
			return cerr(err, file, m,
				    "'mirror' must be an array of tables");
		ALLOC_GROW(r->mirrors, r->mirrors_nr + 1, r->mirrors_alloc);
		struct conf_mirror *cm = &r->mirrors[r->mirrors_nr++];
		memset(cm, 0, sizeof(*cm));
		if (parse_mirror(file, m, digest_only, cm, err) < 0)
			return -1;
	}
	if ((!r->prefix || !*r->prefix) && (!r->location || !*r->location))
		return cerr(err, file, t,
			    "[[registry]] needs a prefix or a location");
	if (!r->prefix || !*r->prefix) {
		free(r->prefix);
		r->prefix = xstrdup(r->location);
	}
	if (starts_with(r->prefix, "*.")) {
		if (r->location && *r->location)
			return cerr(err, file, t,
				    "[[registry]] with wildcard prefix '%s' "
				    "must not set a location",
				    r->prefix);
		if (strchr(r->prefix, '/'))
			return cerr(err, file, t,
				    "wildcard prefix '%s' must be a host name",
				    r->prefix);
	} else if (strchr(r->prefix, '*')) {
		return cerr(err, file, t,
			    "invalid prefix '%s': '*' may only start it as "
			    "'*.'",
			    r->prefix);
	}
	if (!r->location || !*r->location) {
		free(r->location);
		r->location = NULL;
	}
	return 0;
}

static void conf_put(struct registries_conf *conf, struct conf_registry *r)
{
	for (size_t i = 0; i < conf->regs_nr; i++) {
		if (!strcmp(conf->regs[i].prefix, r->prefix)) {
			conf_registry_release(&conf->regs[i]);
			conf->regs[i] = *r;
			return;
		}
	}
	ALLOC_GROW(conf->regs, conf->regs_nr + 1, conf->regs_alloc);
	conf->regs[conf->regs_nr++] = *r;
}

/* v1: [registries.search] registries = [...], .insecure, .block */
static int parse_v1(struct registries_conf *conf, const char *file,
		    const struct toml_value *t, struct error **err)
{
	static const char *const tabs[] = { "search", "insecure", "block" };
	if (want_type(file, t, "registries", TOML_TABLE, err) < 0)
		return -1;
	for (size_t i = 0; i < t->kv_nr; i++) {
		const char *k = t->kv[i].key;
		const struct toml_value *v = t->kv[i].value;
		size_t which = 0;
		while (which < ARRAY_SIZE(tabs) && strcmp(tabs[which], k))
			which++;
		if (which == ARRAY_SIZE(tabs))
			return cerr(err, file, v,
				    "unknown table [registries.%s]", k);
		if (want_type(file, v, k, TOML_TABLE, err) < 0)
			return -1;
		cleanup_strvec struct strvec list = STRVEC_INIT;
		for (size_t j = 0; j < v->kv_nr; j++) {
			if (strcmp(v->kv[j].key, "registries"))
				return cerr(err, file, v->kv[j].value,
					    "unknown key '%s' in "
					    "[registries.%s]",
					    v->kv[j].key, k);
			if (get_string_array(file, v->kv[j].value, "registries",
					     &list, err) < 0)
				return -1;
		}
		for (size_t j = 0; j < list.nr; j++) {
			if (which == 0) {
				if (!conf->search_set) {
					strvec_clear(&conf->search);
					conf->search_set = true;
				}
				strvec_push(&conf->search, list.v[j]);
				continue;
			}
			struct conf_registry r = { 0 };
			const struct conf_registry *old = NULL;
			for (size_t n = 0; n < conf->regs_nr; n++)
				if (!strcmp(conf->regs[n].prefix, list.v[j]))
					old = &conf->regs[n];
			if (old) {
				struct conf_registry *o =
					(struct conf_registry *)old;
				if (which == 1)
					o->insecure = true;
				else
					o->blocked = true;
				continue;
			}
			r.prefix = xstrdup(list.v[j]);
			r.file = xstrdup(file);
			r.line = v->line;
			r.insecure = which == 1;
			r.blocked = which == 2;
			conf_put(conf, &r);
		}
	}
	return 0;
}

int registries_conf_add(struct registries_conf *conf, const char *text,
			size_t len, const char *file, struct error **err)
{
	struct toml_value *root = toml_parse(text, len, file, err);
	if (!root)
		return -1;
	int ret = 0;
	const struct toml_value *regs = NULL, *v1 = NULL;
	for (size_t i = 0; i < root->kv_nr && !ret; i++) {
		const char *k = root->kv[i].key;
		const struct toml_value *v = root->kv[i].value;
		if (!strcmp(k, "unqualified-search-registries")) {
			struct strvec list = STRVEC_INIT;
			ret = get_string_array(file, v, k, &list, err);
			if (!ret) {
				strvec_clear(&conf->search);
				conf->search = list;
				conf->search_set = true;
			} else {
				strvec_clear(&list);
			}
		} else if (!strcmp(k, "registry")) {
			if (v->type != TOML_ARRAY || !v->aot)
				ret = cerr(err, file, v,
					   "'registry' must be written as "
					   "[[registry]] tables");
			regs = v;
		} else if (!strcmp(k, "registries")) {
			v1 = v;
		} else if (!strcmp(k, "short-name-mode") ||
			   !strcmp(k, "credential-helpers") ||
			   !strcmp(k, "aliases") ||
			   !strcmp(k, "additional-layer-store-auth-helper")) {
			/* understood, not used by kiln */
		} else {
			ret = cerr(err, file, v, "unknown key '%s'", k);
		}
	}
	if (!ret && regs && v1)
		ret = cerr(err, file, v1,
			   "mixing v1 [registries.*] tables with v2 "
			   "[[registry]] tables is not allowed");
	for (size_t i = 0; !ret && regs && i < regs->items_nr; i++) {
		struct conf_registry r = { 0 };
		if (parse_registry(file, regs->items[i], &r, err) < 0) {
			conf_registry_release(&r);
			ret = -1;
			break;
		}
		for (size_t j = 0; j < i; j++) {
			const struct toml_value *p =
				toml_get(regs->items[j], "prefix");
			if (!p)
				p = toml_get(regs->items[j], "location");
			if (p && p->type == TOML_STRING &&
			    !strcmp(p->str, r.prefix)) {
				ret = cerr(err, file, regs->items[i],
					   "duplicate [[registry]] prefix '%s'",
					   r.prefix);
				break;
			}
		}
		if (ret) {
			conf_registry_release(&r);
			break;
		}
		conf_put(conf, &r);
	}
	if (!ret && v1)
		ret = parse_v1(conf, file, v1, err);
	toml_free(root);
	return ret;
}

static int add_file(struct registries_conf *conf, const char *path,
		    bool must_exist, struct error **err)
{
	cleanup_strbuf struct strbuf sb = STRBUF_INIT;
	sb.cap = 4 << 20;
	if (strbuf_read_file(&sb, path) < 0) {
		if (errno == ENOENT && !must_exist)
			return 0;
		error_set_errno(err, "read '%s'", path);
		return -1;
	}
	debug("registries.conf: %s", path);
	return registries_conf_add(conf, sb.buf, sb.len, path, err);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int add_dir(struct registries_conf *conf, const char *dir,
		   struct error **err)
{
	DIR *d = opendir(dir);
	if (!d)
		return 0;
	cleanup_strvec struct strvec names = STRVEC_INIT;
	struct dirent *de;
	while ((de = readdir(d)))
		if (ends_with(de->d_name, ".conf") && de->d_name[0] != '.')
			strvec_push(&names, de->d_name);
	closedir(d);
	qsort(names.v, names.nr, sizeof(*names.v), cmp_str);
	for (size_t i = 0; i < names.nr; i++) {
		cleanup_free char *p = xstrfmt("%s/%s", dir, names.v[i]);
		if (add_file(conf, p, false, err) < 0)
			return -1;
	}
	return 0;
}

static char *config_home(void)
{
	const char *x = getenv("XDG_CONFIG_HOME");
	if (x && *x)
		return xstrdup(x);
	const char *home = getenv("HOME");
	return home && *home ? xstrfmt("%s/.config", home) : NULL;
}

int registries_conf_load(struct registries_conf *conf, const char *path,
			 struct error **err)
{
	if (!path || !*path)
		path = getenv("CONTAINERS_REGISTRIES_CONF");
	if (path && *path)
		return add_file(conf, path, true, err);
	cleanup_free char *cfg = config_home();
	cleanup_free char *user =
		cfg ? xstrfmt("%s/containers/registries.conf", cfg) : NULL;
	if (user && !access(user, F_OK)) {
		if (add_file(conf, user, true, err) < 0)
			return -1;
	} else if (add_file(conf, "/etc/containers/registries.conf", false,
			    err) < 0) {
		return -1;
	}
	if (add_dir(conf, "/etc/containers/registries.conf.d", err) < 0)
		return -1;
	if (user) {
		cleanup_free char *d = xstrfmt("%s.d", user);
		if (add_dir(conf, d, err) < 0)
			return -1;
	}
	return 0;
}

const struct conf_registry *
registries_conf_find(const struct registries_conf *c, const char *name)
{
	const struct conf_registry *best = NULL, *wild = NULL;
	size_t best_len = 0, wild_len = 0;
	const char *slash = strchr(name, '/');
	size_t host_len = slash ? (size_t)(slash - name) : strlen(name);
	for (size_t i = 0; i < c->regs_nr; i++) {
		const struct conf_registry *r = &c->regs[i];
		size_t n = strlen(r->prefix);
		if (starts_with(r->prefix, "*.")) {
			/* "*.example.com" matches a.example.com, not
			 * example.com */
			size_t suf = n - 1;
			if (host_len > suf &&
			    !memcmp(name + host_len - suf, r->prefix + 1,
				    suf) &&
			    n > wild_len) {
				wild = r;
				wild_len = n;
			}
			continue;
		}
		if (strncmp(name, r->prefix, n))
			continue;
		/* whole components only; a tag or digest may follow a
		 * prefix that names a repository */
		if (name[n] && name[n] != '/' &&
		    !((name[n] == ':' || name[n] == '@') &&
		      memchr(r->prefix, '/', n)))
			continue;
		if (n > best_len) {
			best = r;
			best_len = n;
		}
	}
	return best ? best : wild;
}
