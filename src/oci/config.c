/*
 * config.c: the image config (OCI image-spec "Image" plus docker's
 * Healthcheck, OnBuild and Shell).  Lists and maps keep the absent / null /
 * present distinction docker's JSON has; unknown members are kept in
 * `extra` and written back after the known ones.  Where the JSON Schema has
 * no null (Env, ExposedPorts, os.features) a null reads as absent, so the
 * writer never produces a document the schema rejects from parsed input.
 */
#include "oci/oci-internal.h"
#include <ctype.h>

static char *dup_or_null(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

/* ---------------------------------------------------------------- release */

static void healthcheck_free(struct oci_healthcheck *h)
{
	if (!h)
		return;
	oci_strlist_release(&h->test);
	free(h);
}

static void run_config_release(struct oci_run_config *rc)
{
	free(rc->user);
	oci_map_release(&rc->exposed_ports);
	oci_strlist_release(&rc->env);
	oci_strlist_release(&rc->entrypoint);
	oci_strlist_release(&rc->cmd);
	oci_map_release(&rc->volumes);
	free(rc->working_dir);
	oci_map_release(&rc->labels);
	free(rc->stop_signal);
	healthcheck_free(rc->healthcheck);
	oci_strlist_release(&rc->on_build);
	oci_strlist_release(&rc->shell);
	json_decref(rc->extra);
	memset(rc, 0, sizeof(*rc));
}

void oci_image_config_release(struct oci_image_config *c)
{
	free(c->created);
	free(c->author);
	free(c->architecture);
	free(c->variant);
	free(c->os);
	free(c->os_version);
	oci_strlist_release(&c->os_features);
	run_config_release(&c->config);
	free(c->rootfs_type);
	oci_strlist_release(&c->diff_ids);
	for (size_t i = 0; i < c->history_nr; i++) {
		free(c->history[i].created);
		free(c->history[i].created_by);
		free(c->history[i].author);
		free(c->history[i].comment);
	}
	free(c->history);
	json_decref(c->extra);
	memset(c, 0, sizeof(*c));
}

void oci_image_config_free(struct oci_image_config *c)
{
	if (!c)
		return;
	oci_image_config_release(c);
	free(c);
}

void oci_image_config_add_history(struct oci_image_config *c,
				  const char *created, const char *created_by,
				  const char *author, const char *comment,
				  bool empty_layer)
{
	c->history = xrealloc(c->history,
			      st_mult(c->history_nr + 1, sizeof(*c->history)));
	struct oci_history *h = &c->history[c->history_nr++];
	h->created = dup_or_null(created);
	h->created_by = dup_or_null(created_by);
	h->author = dup_or_null(author);
	h->comment = dup_or_null(comment);
	h->empty_layer = empty_layer;
}

struct oci_image_config *oci_image_config_dup(const struct oci_image_config *c)
{
	struct oci_image_config *d = xcalloc(1, sizeof(*d));
	const struct oci_run_config *s = &c->config;
	struct oci_run_config *t = &d->config;

	d->created = dup_or_null(c->created);
	d->author = dup_or_null(c->author);
	d->architecture = dup_or_null(c->architecture);
	d->variant = dup_or_null(c->variant);
	d->os = dup_or_null(c->os);
	d->os_version = dup_or_null(c->os_version);
	oci_strlist_copy(&d->os_features, &c->os_features);
	d->has_config = c->has_config;
	t->user = dup_or_null(s->user);
	oci_map_copy(&t->exposed_ports, &s->exposed_ports);
	oci_strlist_copy(&t->env, &s->env);
	oci_strlist_copy(&t->entrypoint, &s->entrypoint);
	oci_strlist_copy(&t->cmd, &s->cmd);
	oci_map_copy(&t->volumes, &s->volumes);
	t->working_dir = dup_or_null(s->working_dir);
	oci_map_copy(&t->labels, &s->labels);
	t->stop_signal = dup_or_null(s->stop_signal);
	t->args_escaped = s->args_escaped;
	if (s->healthcheck) {
		t->healthcheck =
			xmemdup(s->healthcheck, sizeof(*t->healthcheck));
		memset(&t->healthcheck->test, 0, sizeof(t->healthcheck->test));
		oci_strlist_copy(&t->healthcheck->test, &s->healthcheck->test);
	}
	oci_strlist_copy(&t->on_build, &s->on_build);
	oci_strlist_copy(&t->shell, &s->shell);
	t->extra = s->extra ? json_deep_copy(s->extra) : NULL;
	d->rootfs_type = dup_or_null(c->rootfs_type);
	oci_strlist_copy(&d->diff_ids, &c->diff_ids);
	for (size_t i = 0; i < c->history_nr; i++)
		oci_image_config_add_history(d, c->history[i].created,
					     c->history[i].created_by,
					     c->history[i].author,
					     c->history[i].comment,
					     c->history[i].empty_layer);
	d->extra = c->extra ? json_deep_copy(c->extra) : NULL;
	return d;
}

/* ---------------------------------------------------------------- reading */

/* RFC 3339 as Go's time.Time reads it: 2006-01-02T15:04:05.999Z07:00 */
static bool valid_rfc3339(const char *s)
{
	static const char pat[] = "dddd-dd-ddTdd:dd:dd";
	size_t i;
	for (i = 0; pat[i]; i++) {
		if (pat[i] == 'd' ? !isdigit((unsigned char)s[i])
				  : s[i] != pat[i])
			return false;
	}
	s += i;
	if (*s == '.') {
		s++;
		if (!isdigit((unsigned char)*s))
			return false;
		while (isdigit((unsigned char)*s))
			s++;
	}
	if (*s == 'Z')
		return s[1] == '\0';
	if (*s != '+' && *s != '-')
		return false;
	return isdigit((unsigned char)s[1]) && isdigit((unsigned char)s[2]) &&
	       s[3] == ':' && isdigit((unsigned char)s[4]) &&
	       isdigit((unsigned char)s[5]) && !s[6];
}

static int get_time(const json_t *j, const char *key, char **out,
		    const char *ctx, struct error **err)
{
	if (oj_get_string(j, key, false, out, ctx, err))
		return -1;
	if (*out && !valid_rfc3339(*out)) {
		error_set(err, KILN_EINVAL,
			  "%s: '%s' is not an RFC 3339 time: '%s'", ctx, key,
			  *out);
		return -1;
	}
	return 0;
}

static bool in_list(const char *key, const char *const *known, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(key, known[i]))
			return true;
	return false;
}

/* A new object of the members of j not named in known, or NULL if none. */
static json_t *collect_extra(const json_t *j, const char *const *known,
			     size_t n)
{
	json_t *extra = NULL;
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)j, k, v)
	{
		if (in_list(k, known, n))
			continue;
		if (!extra && !(extra = json_object()))
			die("out of memory building JSON");
		if (json_object_set(extra, k, v))
			die("out of memory building JSON");
	}
	return extra;
}

static const char *const run_config_keys[] = {
	"User",	       "ExposedPorts", "Env",	 "Entrypoint", "Cmd",
	"Volumes",     "WorkingDir",   "Labels", "StopSignal", "ArgsEscaped",
	"Healthcheck", "OnBuild",      "Shell",
};

static int healthcheck_from_json(const json_t *j, struct oci_run_config *rc,
				 struct error **err)
{
	const char *ctx = "config: config: Healthcheck";
	if (!j || json_is_null(j))
		return 0;
	if (!json_is_object(j)) {
		error_set(err, KILN_EINVAL,
			  "config: config: 'Healthcheck' must be an object, "
			  "not %s",
			  oj_type_name(j));
		return -1;
	}
	struct oci_healthcheck *h = xcalloc(1, sizeof(*h));
	rc->healthcheck = h;
	if (oj_get_strlist(j, "Test", &h->test, ctx, err) ||
	    oj_get_int(j, "Interval", false, &h->interval, ctx, err) ||
	    oj_get_int(j, "Timeout", false, &h->timeout, ctx, err) ||
	    oj_get_int(j, "StartPeriod", false, &h->start_period, ctx, err) ||
	    oj_get_int(j, "StartInterval", false, &h->start_interval, ctx,
		       err) ||
	    oj_get_int(j, "Retries", false, &h->retries, ctx, err))
		return -1;
	if (h->test.state == OCI_NULL)
		h->test.state = OCI_ABSENT;
	return 0;
}

static int run_config_from_json(const json_t *j, struct oci_run_config *rc,
				struct error **err)
{
	const char *ctx = "config: config";
	if (oj_get_string(j, "User", false, &rc->user, ctx, err) ||
	    oj_get_map(j, "ExposedPorts", true, &rc->exposed_ports, ctx, err) ||
	    oj_get_strlist(j, "Env", &rc->env, ctx, err) ||
	    oj_get_strlist(j, "Entrypoint", &rc->entrypoint, ctx, err) ||
	    oj_get_strlist(j, "Cmd", &rc->cmd, ctx, err) ||
	    oj_get_map(j, "Volumes", true, &rc->volumes, ctx, err) ||
	    oj_get_string(j, "WorkingDir", false, &rc->working_dir, ctx, err) ||
	    oj_get_map(j, "Labels", false, &rc->labels, ctx, err) ||
	    oj_get_string(j, "StopSignal", false, &rc->stop_signal, ctx, err) ||
	    oj_get_bool(j, "ArgsEscaped", &rc->args_escaped, ctx, err) ||
	    healthcheck_from_json(json_object_get(j, "Healthcheck"), rc, err) ||
	    oj_get_strlist(j, "OnBuild", &rc->on_build, ctx, err) ||
	    oj_get_strlist(j, "Shell", &rc->shell, ctx, err))
		return -1;
	for (size_t i = 0; i < rc->env.nr; i++) {
		const char *e = rc->env.v[i];
		if (!*e || *e == '=' || !strchr(e, '=')) {
			error_set(err, KILN_EINVAL,
				  "config: config: Env entry '%s' is not "
				  "KEY=value",
				  e);
			return -1;
		}
	}
	if (rc->env.state == OCI_NULL)
		rc->env.state = OCI_ABSENT;
	if (rc->exposed_ports.state == OCI_NULL)
		rc->exposed_ports.state = OCI_ABSENT;
	rc->extra =
		collect_extra(j, run_config_keys, ARRAY_SIZE(run_config_keys));
	return 0;
}

static int history_from_json(const json_t *j, struct oci_image_config *c,
			     struct error **err)
{
	if (!j || json_is_null(j))
		return 0;
	if (!json_is_array(j)) {
		error_set(err, KILN_EINVAL,
			  "config: 'history' must be an array, not %s",
			  oj_type_name(j));
		return -1;
	}
	size_t n = json_array_size(j);
	c->history = xcalloc(n ? n : 1, sizeof(*c->history));
	for (size_t i = 0; i < n; i++) {
		const json_t *e = json_array_get(j, i);
		struct oci_history *h = &c->history[i];
		cleanup_free char *ctx = xstrfmt("config: history[%zu]", i);
		c->history_nr = i + 1;
		if (!json_is_object(e)) {
			error_set(err, KILN_EINVAL,
				  "%s: must be an object, not %s", ctx,
				  oj_type_name(e));
			return -1;
		}
		if (get_time(e, "created", &h->created, ctx, err) ||
		    oj_get_string(e, "created_by", false, &h->created_by, ctx,
				  err) ||
		    oj_get_string(e, "author", false, &h->author, ctx, err) ||
		    oj_get_string(e, "comment", false, &h->comment, ctx, err) ||
		    oj_get_bool(e, "empty_layer", &h->empty_layer, ctx, err))
			return -1;
	}
	return 0;
}

static int rootfs_from_json(const json_t *j, struct oci_image_config *c,
			    struct error **err)
{
	const char *ctx = "config: rootfs";
	if (!j) {
		error_set(err, KILN_EINVAL,
			  "config: missing required field 'rootfs'");
		return -1;
	}
	if (!json_is_object(j)) {
		error_set(err, KILN_EINVAL,
			  "config: 'rootfs' must be an object, not %s",
			  oj_type_name(j));
		return -1;
	}
	if (oj_get_string(j, "type", true, &c->rootfs_type, ctx, err) ||
	    oj_get_strlist(j, "diff_ids", &c->diff_ids, ctx, err))
		return -1;
	if (strcmp(c->rootfs_type, "layers")) {
		error_set(err, KILN_EINVAL,
			  "config: rootfs: unsupported type '%s' (want "
			  "'layers')",
			  c->rootfs_type);
		return -1;
	}
	if (c->diff_ids.state != OCI_PRESENT) {
		error_set(err, KILN_EINVAL,
			  "config: rootfs: missing required field 'diff_ids'");
		return -1;
	}
	for (size_t i = 0; i < c->diff_ids.nr; i++) {
		if (oci_digest_check_grammar(c->diff_ids.v[i], err)) {
			error_wrap(err, "config: rootfs: diff_ids[%zu]", i);
			return -1;
		}
	}
	return 0;
}

static const char *const config_keys[] = {
	"created",    "author",	     "architecture", "variant", "os",
	"os.version", "os.features", "config",	     "rootfs",	"history",
};

static int config_from_json(const json_t *j, struct oci_image_config *c,
			    struct error **err)
{
	const char *ctx = "config";
	if (get_time(j, "created", &c->created, ctx, err) ||
	    oj_get_string(j, "author", false, &c->author, ctx, err) ||
	    oj_get_string(j, "architecture", true, &c->architecture, ctx,
			  err) ||
	    oj_get_string(j, "variant", false, &c->variant, ctx, err) ||
	    oj_get_string(j, "os", true, &c->os, ctx, err) ||
	    oj_get_string(j, "os.version", false, &c->os_version, ctx, err) ||
	    oj_get_strlist(j, "os.features", &c->os_features, ctx, err))
		return -1;
	if (c->os_features.state == OCI_NULL)
		c->os_features.state = OCI_ABSENT;

	const json_t *rc = json_object_get(j, "config");
	if (rc && !json_is_null(rc)) {
		if (!json_is_object(rc)) {
			error_set(err, KILN_EINVAL,
				  "config: 'config' must be an object, not %s",
				  oj_type_name(rc));
			return -1;
		}
		c->has_config = true;
		if (run_config_from_json(rc, &c->config, err))
			return -1;
	}
	if (rootfs_from_json(json_object_get(j, "rootfs"), c, err) ||
	    history_from_json(json_object_get(j, "history"), c, err))
		return -1;
	c->extra = collect_extra(j, config_keys, ARRAY_SIZE(config_keys));
	return 0;
}

struct oci_image_config *oci_image_config_parse(const char *buf, size_t len,
						struct error **err)
{
	json_t *j = oj_load_object(buf, len, "config", err);
	if (!j)
		return NULL;
	struct oci_image_config *c = xcalloc(1, sizeof(*c));
	if (config_from_json(j, c, err)) {
		oci_image_config_free(c);
		c = NULL;
	}
	json_decref(j);
	return c;
}

/* ---------------------------------------------------------------- writing */

static void put_extra(json_t *j, const json_t *extra)
{
	const char *k;
	json_t *v;
	if (!json_is_object(extra))
		return;
	json_object_foreach((json_t *)extra, k, v)
	{
		if (json_object_get(j, k))
			continue; /* a known member wins */
		if (json_object_set(j, k, v))
			die("out of memory building JSON");
	}
}

static void put_nonzero(json_t *j, const char *key, int64_t v)
{
	if (v)
		oj_set_new(j, key, json_integer(v));
}

/* Lists and maps the schema does not allow to be null are left out then. */
static void put_strlist_nonnull(json_t *j, const char *key,
				const struct oci_strlist *l)
{
	if (l->state == OCI_PRESENT)
		oj_put_strlist(j, key, l);
}

static json_t *run_config_to_json(const struct oci_run_config *rc)
{
	json_t *j = json_object();
	if (!j)
		die("out of memory building JSON");
	oj_put_string(j, "User", rc->user);
	if (rc->exposed_ports.state == OCI_PRESENT)
		oj_put_map(j, "ExposedPorts", &rc->exposed_ports);
	put_strlist_nonnull(j, "Env", &rc->env);
	oj_put_strlist(j, "Entrypoint", &rc->entrypoint);
	oj_put_strlist(j, "Cmd", &rc->cmd);
	oj_put_map(j, "Volumes", &rc->volumes);
	oj_put_string(j, "WorkingDir", rc->working_dir);
	oj_put_map(j, "Labels", &rc->labels);
	oj_put_string(j, "StopSignal", rc->stop_signal);
	if (rc->args_escaped)
		oj_set_new(j, "ArgsEscaped", json_true());
	if (rc->healthcheck) {
		const struct oci_healthcheck *h = rc->healthcheck;
		json_t *hj = json_object();
		if (!hj)
			die("out of memory building JSON");
		put_strlist_nonnull(hj, "Test", &h->test);
		put_nonzero(hj, "Interval", h->interval);
		put_nonzero(hj, "Timeout", h->timeout);
		put_nonzero(hj, "StartPeriod", h->start_period);
		put_nonzero(hj, "StartInterval", h->start_interval);
		put_nonzero(hj, "Retries", h->retries);
		oj_set_new(j, "Healthcheck", hj);
	}
	oj_put_strlist(j, "OnBuild", &rc->on_build);
	oj_put_strlist(j, "Shell", &rc->shell);
	put_extra(j, rc->extra);
	return j;
}

static int check_for_write(const struct oci_image_config *c, struct error **err)
{
	if (!c->architecture || !c->os) {
		error_set(err, KILN_EINVAL, "config: missing %s",
			  c->architecture ? "os" : "architecture");
		return -1;
	}
	if (c->rootfs_type && strcmp(c->rootfs_type, "layers")) {
		error_set(err, KILN_EINVAL,
			  "config: rootfs: unsupported type '%s'",
			  c->rootfs_type);
		return -1;
	}
	if (c->created && !valid_rfc3339(c->created)) {
		error_set(err, KILN_EINVAL,
			  "config: 'created' is not an RFC 3339 time: '%s'",
			  c->created);
		return -1;
	}
	for (size_t i = 0; i < c->diff_ids.nr; i++) {
		if (oci_digest_check_grammar(c->diff_ids.v[i], err)) {
			error_wrap(err, "config: rootfs: diff_ids[%zu]", i);
			return -1;
		}
	}
	for (size_t i = 0; i < c->config.env.nr; i++) {
		const char *e = c->config.env.v[i];
		if (!*e || *e == '=' || !strchr(e, '=')) {
			error_set(err, KILN_EINVAL,
				  "config: config: Env entry '%s' is not "
				  "KEY=value",
				  e);
			return -1;
		}
	}
	for (size_t i = 0; i < c->history_nr; i++) {
		if (c->history[i].created &&
		    !valid_rfc3339(c->history[i].created)) {
			error_set(err, KILN_EINVAL,
				  "config: history[%zu]: 'created' is not an "
				  "RFC 3339 time: '%s'",
				  i, c->history[i].created);
			return -1;
		}
	}
	return 0;
}

int oci_image_config_serialize(const struct oci_image_config *c,
			       struct strbuf *out, struct error **err)
{
	if (check_for_write(c, err))
		return -1;

	json_t *j = json_object();
	if (!j)
		die("out of memory building JSON");
	oj_put_string(j, "created", c->created);
	oj_put_string(j, "author", c->author);
	oj_put_string(j, "architecture", c->architecture);
	oj_put_string(j, "variant", c->variant);
	oj_put_string(j, "os", c->os);
	oj_put_string(j, "os.version", c->os_version);
	put_strlist_nonnull(j, "os.features", &c->os_features);
	if (c->has_config)
		oj_set_new(j, "config", run_config_to_json(&c->config));

	json_t *rootfs = json_object();
	if (!rootfs)
		die("out of memory building JSON");
	oj_put_string(rootfs, "type",
		      c->rootfs_type ? c->rootfs_type : "layers");
	if (c->diff_ids.state == OCI_PRESENT)
		oj_put_strlist(rootfs, "diff_ids", &c->diff_ids);
	else
		oj_set_new(rootfs, "diff_ids", json_array());
	oj_set_new(j, "rootfs", rootfs);

	if (c->history_nr) {
		json_t *a = json_array();
		if (!a)
			die("out of memory building JSON");
		for (size_t i = 0; i < c->history_nr; i++) {
			const struct oci_history *h = &c->history[i];
			json_t *hj = json_object();
			if (!hj)
				die("out of memory building JSON");
			oj_put_string(hj, "created", h->created);
			oj_put_string(hj, "created_by", h->created_by);
			oj_put_string(hj, "author", h->author);
			oj_put_string(hj, "comment", h->comment);
			if (h->empty_layer)
				oj_set_new(hj, "empty_layer", json_true());
			if (json_array_append_new(a, hj))
				die("out of memory building JSON");
		}
		oj_set_new(j, "history", a);
	}
	put_extra(j, c->extra);
	oj_dump(j, out);
	json_decref(j);
	return 0;
}
