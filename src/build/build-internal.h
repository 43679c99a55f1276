/*
 * build internals shared by the build/ files: the build, stage states,
 * layers, cache keys.
 */
#ifndef KILN_BUILD_INTERNAL_H
#define KILN_BUILD_INTERNAL_H

#include "build/build.h"
#include "context/context.h"
#include "dockerfile/dockerfile.h"
#include "oci/oci.h"
#include "store/store.h"

#include <pthread.h>
#include <signal.h>

#define BUILD_KEY_HEX 65 /* 64 hex digits + NUL */

/* One layer of an image being built. */
struct build_layer {
	char *diffid; /* "sha256:..." of the tar */
	char *digest; /* "sha256:..." of the blob */
	char *media_type; /* of the blob */
	int64_t size; /* of the blob */
	uint64_t usize; /* of the tar */
};

void build_layer_copy(struct build_layer *dst, const struct build_layer *src);
void build_layer_release(struct build_layer *l);

/* The state of a stage after some instructions: the image so far. */
struct build_state {
	struct oci_image_config *config;
	struct build_layer *layers;
	size_t nlayers, alloc;
	char key[BUILD_KEY_HEX]; /* cache key of the filesystem */
	/* creation time of the newest layer this build made, or NULL */
	char *last_created;
	bool cmd_set; /* CMD given in this stage (ENTRYPOINT keeps it) */
	/* history entries added by this stage waiting for a time */
	size_t pending_history;
};

void build_state_copy(struct build_state *dst, const struct build_state *src);
void build_state_release(struct build_state *st);
void build_state_add_layer(struct build_state *st, const struct build_layer *l);

struct build;

/* A stage being built. */
struct build_stage {
	struct build *b;
	const struct dockerfile_stage *ds;
	size_t pos; /* in plan->stages */
	int total_steps;
	struct build_state state;
	/* a FROM image: its manifest digest, for keys */
	struct store_image *image;
	enum { STAGE_PENDING, STAGE_RUNNING, STAGE_DONE, STAGE_FAILED } status;
	pthread_t thread;
	bool thread_started;
	pid_t run_pid; /* the helper process of a running RUN, or 0 */
	struct error *err;
	/* declared build args visible in the stage, "K=V" (history) */
	struct strvec args;
};

/* A base image used by COPY --from / RUN --mount from= (not a stage). */
struct build_image {
	char *name;
	struct store_image *img;
	struct build_layer *layers;
	size_t nlayers;
	char key[BUILD_KEY_HEX];
};

struct build {
	struct store *s;
	const struct build_opts *o;
	struct dockerfile *df;
	struct dockerfile_plan *plan;
	struct build_stage *stages;
	size_t nstages;
	/* base images (build/base.c), under images_lock */
	struct build_image **images;
	size_t nimages, images_alloc;
	pthread_mutex_t images_lock;
	struct registry_client *rc; /* made by the first pull */

	/* the context */
	int ctx_fd; /* -1 without a context */
	char *ctx_path;
	struct context_ignore *ignore;
	struct context_walk walk;
	bool walked;
	char *dockerfile_name; /* for messages */

	char *source_date_epoch; /* RFC 3339 time, or NULL */
	int64_t epoch;
	bool have_epoch;
	char *now; /* this build's time */

	/* what this build added outside blobs, undone when it fails */
	struct strvec rb_records; /* cache record names */
	struct strvec rb_layers; /* diffIDs of new layer dirs */
	struct strvec rb_paths; /* files and dirs (cache mounts) */

	pthread_mutex_t lock; /* progress, shared state */
	pthread_cond_t cond;
	int next_step_id;
	int steps, cached;
	int running_jobs;
	bool failed;
};

/* Serialised progress calls. */
void build_progress_start(struct build *b, struct build_step_info *st);
void build_progress_output(struct build *b, const struct build_step_info *st,
			   const char *buf, size_t len);
void build_progress_done(struct build *b, const struct build_step_info *st,
			 bool cached, double seconds, const struct error *err);
PRINTF_LIKE(2, 3) void build_message(struct build *b, const char *fmt, ...);

extern volatile sig_atomic_t build_interrupted;

/* Remember something this build created, for the rollback. */
void build_note_created(struct build *b, struct strvec *list, const char *s);

/* ------------------------------------------------------------ cache */

/* sha256 key building: a chain of fields. */
struct build_keyer {
	struct oci_hasher h;
};
void build_key_init(struct build_keyer *k, const char *parent);
void build_key_add(struct build_keyer *k, const char *field);
PRINTF_LIKE(2, 3)
void build_key_addf(struct build_keyer *k, const char *fmt, ...);
void build_key_final(struct build_keyer *k, char out[BUILD_KEY_HEX]);

/*
 * A cache record: what a step produced.  `empty` when it changed nothing
 * (no layer).
 */
struct build_cache_rec {
	bool empty;
	struct build_layer layer;
	char *created;
};
/* 1 hit (rec filled), 0 miss, never fails (a bad record is a miss). */
int build_cache_get(struct build *b, const char *key,
		    struct build_cache_rec *rec);
int build_cache_put(struct build *b, const char *key,
		    const struct build_cache_rec *rec, struct error **err);
void build_cache_rec_release(struct build_cache_rec *rec);

/* ------------------------------------------------------------ layers */

/* Make sure layers/<diffid>/ exists (extract the blob if needed). */
int build_layer_ensure(struct build *b, const struct build_layer *l,
		       struct error **err);
/*
 * Turn the directory `dir` (in the store's tmp/) into a layer: tar it
 * (as an overlay upper dir when `upper`), compress into a blob, record
 * layer info, rename it to layers/<diffid>.  `dir` is gone afterwards.
 * *empty is set (and nothing stored) when the tree holds nothing.
 */
int build_layer_commit_dir(struct build *b, const char *dir, bool upper,
			   const char *const *skip, struct build_layer *out,
			   bool *empty, struct error **err);

/*
 * A read-only merged view of a list of layers (bottom first): the one
 * layer directory itself, an overlay mount, or an empty directory.
 */
struct build_view {
	char *path;
	char *mnt; /* mount point to remove, or NULL */
	char *empty; /* empty dir to remove, or NULL */
};
int build_view_open(struct build *b, const struct build_layer *layers, size_t n,
		    struct build_view *v, struct error **err);
void build_view_close(struct build_view *v);

/* A fresh directory in the store's tmp/; caller frees the path. */
char *build_tmpdir(struct build *b, const char *what, struct error **err);
void build_rmtree(const char *path);

/* ------------------------------------------------------------ steps */

/* Apply a metadata instruction to st (config + history). */
int build_meta_apply(struct build_stage *bs, struct build_state *st,
		     const struct dockerfile_instr *in, struct error **err);
/* The history text BuildKit writes for an instruction. */
char *build_created_by(struct build_stage *bs, const struct build_state *st,
		       const struct dockerfile_instr *in);
/* Add a history entry (empty_layer when !layer). */
void build_history_add(struct build *b, struct build_state *st,
		       const char *created_by, bool layer, const char *created);

/* The step runners: compute the key, look up the cache, else execute. */
int build_step_copy(struct build_stage *bs, const struct dockerfile_instr *in,
		    struct build_step_info *si, struct error **err);
int build_step_run(struct build_stage *bs, const struct dockerfile_instr *in,
		   struct build_step_info *si, struct error **err);
int build_step_workdir(struct build_stage *bs,
		       const struct dockerfile_instr *in,
		       struct build_step_info *si, struct error **err);

/* Walk and hash the context once per build (thread-safe). */
int build_context_walk(struct build *b, struct error **err);
/* The context at `src` filtered by .dockerignore, in a tmp/ dir (*dir,
 * to remove); *out is what to mount. */
int build_context_snapshot(struct build *b, const char *src, char **dir,
			   char **out, struct error **err);
/* A cache lookup; on a hit the state is advanced.  1 hit, 0 miss. */
int build_step_cached(struct build_stage *bs, const char *key,
		      const char *created_by);
/*
 * Finish an executed step: commit `dir` (NULL or empty: no layer) as its
 * layer, add history, advance the key, write the cache record.
 */
int build_commit_step(struct build_stage *bs, const char *key,
		      const char *created_by, const char *dir, bool upper,
		      const char *const *skip, struct error **err);
/* argv of a CMD/ENTRYPOINT/RUN command line (SHELL for shell form). */
void build_cmdline_argv(const struct build_state *st,
			const struct dockerfile_cmdline *cl,
			struct strvec *out);
/* Write --output (archive, tar or directory). */
int build_output(struct build *b, struct build_state *st,
		 const struct build_result *res, struct error **err);

/* Wait for a stage to finish; returns it, or NULL with *err. */
struct build_stage *build_wait_stage(struct build *b, size_t pos,
				     struct error **err);
/*
 * A non-stage image by name, resolved once per build: from the store, or
 * pulled (for `platform`, NULL: the build's) when the store lacks it or
 * --pull asks.  The pointer stays valid until the build is released.
 */
struct build_image *build_get_image(struct build *b, const char *name,
				    struct error **err);
struct build_image *build_get_image_for(struct build *b, const char *name,
					const char *platform,
					struct error **err);
void build_images_release(struct build *b);

/* Resolve a path against the working directory (absolute, cleaned). */
char *build_abs_path(const char *workdir, const char *path);
/* Clean a path like Go's path.Clean. */
char *build_clean_path(const char *path);

#endif
