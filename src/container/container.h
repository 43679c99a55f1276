/*
 * container: the records behind `kiln run`, `kiln ps` and `kiln rm`.
 *
 * A container lives in the store, under containers/<id>/:
 *
 *   config.json   the record: id, name, image (as the user typed it),
 *                 image ID, manifest digest, command, hostname, created,
 *                 state (created, running, exited), the pid of the kiln
 *                 process that runs it (with its start time, so a reused
 *                 pid is not mistaken for it), exit code, started/finished
 *   image         the manifest digest, alone: store/ reads it as a gc
 *                 root (prune and rmi keep the image while it exists)
 *   upper/        the container's writable layer (the overlay upper dir)
 *
 * The id is 64 random hex digits; the name is unique among containers
 * (checked and claimed under an flock on containers/lock).  Default names
 * are docker-like "adjective_noun" pairs.  config.json is replaced by
 * rename(2) of a complete file, so readers never see a partial record;
 * records are not fsync'd (a container does not outlive a crash anyway).
 * A record whose kiln process is gone while it says "running" reads as
 * exited with status 255, "dead" in docker's terms.
 *
 * Also here: container_layers_prepare() extracts the image's layers into
 * the store's layer dirs (once) and lists them as overlay lower dirs.
 */
#ifndef KILN_CONTAINER_H
#define KILN_CONTAINER_H

#include "base/base.h"

struct store;
struct store_image;

enum container_state {
	CONTAINER_CREATED = 0,
	CONTAINER_RUNNING,
	CONTAINER_EXITED,
};

struct container {
	char *id; /* 64 hex */
	char *name;
	char *image; /* as the user typed it ("busybox") */
	char *image_id; /* config digest, "sha256:..." */
	char *manifest; /* manifest digest, "sha256:..." */
	struct strvec command; /* entrypoint + cmd as run */
	char *hostname;
	int64_t created; /* unix seconds */
	int64_t created_ns; /* unix nanoseconds (ordering) */
	enum container_state state;
	pid_t pid; /* kiln process running it, while running */
	unsigned long long pid_start; /* its start time (/proc/PID/stat) */
	int exit_code;
	int64_t started, finished; /* unix seconds, 0 = never */
	char *dir; /* <store>/containers/<id>, absolute */
};

/*
 * Create a container record for `img` (a resolved store image; `image` is
 * the name the user typed).  `name` NULL picks a free default name.  The
 * directory containers/<id>/ is created with its `image` file and
 * config.json in state "created".  A name in use fails with docker's
 * KILN_EINVAL "Conflict. The container name "/x" is already in use by
 * container "<id>". You have to remove (or rename) that container to be
 * able to reuse that name."  Caller frees with container_free().
 */
struct container *container_create(struct store *s,
				   const struct store_image *img,
				   const char *image, const char *name,
				   const char *const *command,
				   struct error **err);

/* Rewrite config.json from `c` (after changing its state). */
int container_save(const struct container *c, struct error **err);
/* Mark running as this process (getpid()), started now; saves. */
int container_set_running(struct container *c, struct error **err);
/*
 * Mark exited with `code`, finished now; saves.  A command that could not
 * be started (`started` false) leaves the container "created", as docker.
 */
int container_set_exited(struct container *c, int code, bool started,
			 struct error **err);

/*
 * All containers under the store, newest first.  Records that cannot be
 * read are skipped.  A "running" record whose process is gone reads as
 * exited (255).  Caller frees with container_list_free().
 */
int container_list(struct store *s, struct container ***out, size_t *nr,
		   struct error **err);
void container_list_free(struct container **v, size_t nr);

/*
 * Find a container by full name, full id or unique id prefix (docker's
 * order).  KILN_ENOTFOUND "No such container: x", KILN_EINVAL for an
 * ambiguous prefix.
 */
struct container *container_lookup(struct store *s, const char *what,
				   struct error **err);

/* True when the record is running and its kiln process is alive. */
bool container_is_running(const struct container *c);

/*
 * Remove a container: its directory and everything in it.  A running
 * container is refused (KILN_EINVAL, docker's "You cannot remove a running
 * container ...") unless `force`: then its kiln process gets SIGKILL (the
 * container dies with it) and is waited for (up to 10 s).
 */
int container_remove(struct container *c, bool force, struct error **err);

void container_free(struct container *c);

/*
 * Extract the layers of `img` into the store's layer dirs when they are
 * not there yet, and push their paths, bottom layer first, to `lowers`.
 */
int container_layers_prepare(struct store *s, const struct store_image *img,
			     struct strvec *lowers, struct error **err);

#endif
