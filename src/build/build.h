/*
 * build: `kiln build` — a Dockerfile turned into an image in the local
 * store, with BuildKit's semantics and cache behaviour.
 *
 * The caller (cmd/build.c) fills a struct build_opts and a progress
 * printer, opens the store and calls build_run().  The library parses the
 * Dockerfile (dockerfile/), plans the stages the target needs, runs
 * independent stages in parallel, looks every step up in the build cache
 * (store's cache/ directory), executes the misses (RUN through sandbox/,
 * COPY/ADD in-process), commits one layer per RUN/COPY/ADD, writes the
 * image config and manifest and tags the result.  Nothing here prints:
 * progress goes through struct build_progress, errors through
 * struct error.
 *
 * A failed or interrupted build leaves the store as it was: nothing is
 * tagged, blobs this build created and no image reaches are removed,
 * scratch directories, mounts and processes are gone.
 */
#ifndef KILN_BUILD_H
#define KILN_BUILD_H

#include "base/base.h"

struct store;
struct registry_options;

/* ------------------------------------------------------------ progress */

/* One step as the printer sees it. */
struct build_step_info {
	int id; /* unique within the build, from 1 */
	const char *stage; /* "builder", "stage-0" */
	int index, total; /* "[stage 3/4]": position in its stage */
	const char *text; /* "RUN go build -o /out/helloworld ." */
	bool internal; /* a base-image resolution, context load */
};

/*
 * The printer.  Calls are serialised by the library (never two at once),
 * but come from several threads.  Every member may be NULL.
 */
struct build_progress {
	void (*step_start)(void *data, const struct build_step_info *st);
	/* Output of a running step, as it comes (not line-aligned). */
	void (*step_output)(void *data, const struct build_step_info *st,
			    const char *buf, size_t len);
	/* A step ended: cached (a cache hit), or ran for `seconds`; `err`
	 * is set when it failed. */
	void (*step_done)(void *data, const struct build_step_info *st,
			  bool cached, double seconds, const struct error *err);
	/* A warning or note ("build arg FOO was not consumed"). */
	void (*message)(void *data, const char *msg);
	void *data;
};

/* ------------------------------------------------------------ options */

struct build_secret {
	const char *id;
	const char *src; /* a file, or NULL */
	const char *env; /* an environment variable, or NULL */
};

enum build_output_type {
	BUILD_OUTPUT_IMAGE = 0, /* the local store (default) */
	BUILD_OUTPUT_OCI, /* an OCI archive at dest */
	BUILD_OUTPUT_DOCKER, /* a docker-archive at dest */
	BUILD_OUTPUT_TAR, /* the final filesystem as a tar */
	BUILD_OUTPUT_LOCAL, /* the final filesystem into a directory */
};

struct build_opts {
	/* The context directory; NULL for no context (`kiln build -`). */
	const char *context_dir;
	/*
	 * The Dockerfile: `dockerfile_text` (len bytes) when given (from
	 * stdin), else the file `dockerfile_path` (NULL: "Dockerfile" in
	 * the context).  `dockerfile_name` names it in messages.
	 */
	const char *dockerfile_path;
	const char *dockerfile_text;
	size_t dockerfile_len;
	const char *const *tags; /* references to tag, may be empty */
	size_t ntags;
	const char *target; /* stage name, NULL = last */
	const char *const *build_args; /* "K=V" */
	size_t nbuild_args;
	const char *const *labels; /* "K=V", set on the final image */
	size_t nlabels;
	const struct build_secret *secrets;
	size_t nsecrets;
	bool no_cache;
	/*
	 * Base images (FROM, COPY --from, RUN --mount from=) missing from the
	 * store are pulled through the registry client with these options
	 * (NULL: the defaults) for `platform` (NULL: this host).  With
	 * `pull` every one is checked against its registry first (a newer
	 * one is pulled); a registry that cannot be reached fails the build.
	 */
	bool pull;
	const struct registry_options *registry;
	const char *platform;
	bool network_none; /* --network=none as the default for RUN */
	bool isolation_oci; /* RUN through an OCI runtime (runc) */
	bool docker_format; /* Docker schema2 media types */
	enum build_output_type output;
	const char *output_dest;
	int jobs; /* stages in parallel; <= 0: number of cores */
	const struct build_progress *progress;
};

struct build_result {
	char image_id[72]; /* "sha256:..." of the config */
	char manifest_digest[72]; /* of the manifest */
	int steps, cached; /* executed steps and cache hits */
};

/*
 * Build.  Returns 0 with *res filled, or -1 with *err set ("step 3/4 RUN
 * make: exit status 2" and such, the step output having gone to the
 * printer).  The store is left as it was on failure.
 */
int build_run(struct store *s, const struct build_opts *opts,
	      struct build_result *res, struct error **err);

/*
 * Ask a running build_run() to stop (from a signal handler): the running
 * RUN step gets SIGTERM, the build fails with "interrupted".
 */
void build_interrupt(void);

#endif
