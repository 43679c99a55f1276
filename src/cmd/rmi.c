/*
 * kiln rmi [-f] IMAGE...: untag, and delete an image's data once no tag
 * refers to it, printing "Untagged: …" and "Deleted: …" as docker does.
 */
#include "cmd/cmd.h"
#include "store/store.h"

#include <sys/file.h>

static int untag(struct store *s, const char *full, struct error **err)
{
	char old[STORE_DIGEST_MAX];
	if (store_ref_delete(s, full, old, err) < 0)
		return -1;
	cleanup_free char *fam = store_ref_familiar(full);
	printf("Untagged: %s\n", fam);
	return 0;
}

static int remove_image(struct store *s, const char *name, bool force,
			struct error **err)
{
	struct store_image *img = store_image_lookup(s, name, err);
	if (!img)
		return -1;
	int ret = 0;
	struct error *ignored = NULL;
	cleanup_free char *full = store_ref_normalize(name, &ignored);
	error_free(ignored);
	bool by_tag = false;
	for (size_t i = 0; full && i < img->names.nr; i++)
		by_tag |= !strcmp(img->names.v[i], full);
	if (by_tag) {
		ret = untag(s, full, err);
	} else if (img->names.nr > 1 && !force) {
		error_set(err, KILN_EINVAL,
			  "conflict: unable to delete %.12s (must be forced) - "
			  "image is referenced in multiple repositories",
			  img->config_digest + 7);
		ret = -1;
	} else {
		for (size_t i = 0; !ret && i < img->names.nr; i++)
			ret = untag(s, img->names.v[i], err);
	}
	if (!ret) {
		/* delete the image once nothing refers to it any more */
		struct store_refs refs = STORE_REFS_INIT;
		bool used = false;
		if (store_refs_read(s, &refs, err) < 0) {
			ret = -1;
		} else {
			for (size_t i = 0; i < refs.nr; i++)
				used |= !strcmp(refs.v[i].digest,
						img->manifest_digest) &&
					refs.v[i].name;
		}
		store_refs_release(&refs);
		if (!ret && !used) {
			struct strvec deleted = STRVEC_INIT;
			ret = store_ref_delete_digest(s, img->manifest_digest,
						      err);
			if (!ret)
				ret = store_gc_image(s, img->manifest_digest,
						     &deleted, err);
			for (size_t i = 0; i < deleted.nr; i++)
				printf("Deleted: %s\n", deleted.v[i]);
			strvec_clear(&deleted);
		}
	}
	store_image_free(img);
	return ret;
}

int cmd_rmi(int argc, char **argv)
{
	bool force = false, no_prune = false;
	const struct opt opts[] = {
		OPT_BOOL_('f', "force", &force, "Force removal of the image"),
		OPT_BOOL_(0, "no-prune", &no_prune,
			  "Do not delete untagged parents (no effect)"),
		OPT_END_(),
	};
	argc = parse_options(argc, argv, opts,
			     "kiln rmi [OPTIONS] IMAGE [IMAGE...]",
			     "Remove one or more images", false);
	if (argc < 1)
		usage_error("rmi", "\"kiln rmi\" requires at least 1 argument");
	struct store *s = cmd_store_open();
	if (!s)
		return 1;
	int ret = 0;
	struct error *e = NULL;
	/* exclusive first: converting a shared lock later could deadlock */
	if (store_lock(s, LOCK_EX, &e) < 0) {
		store_free(s);
		return cmd_fail(e);
	}
	for (int i = 0; i < argc; i++) {
		if (remove_image(s, argv[i], force, &e) < 0) {
			fflush(stdout);
			error_print(e);
			error_clear(&e);
			ret = 1;
		}
	}
	store_free(s);
	return ret;
}
