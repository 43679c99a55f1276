/*
 * build outputs besides the store: --output type=tar (the final
 * filesystem as one tar) and type=local (that filesystem unpacked into a
 * directory).  Image archives (type=oci|docker) are written by cmd/ with
 * `kiln save` from the stored image.
 */
#include "build/build-internal.h"
#include "archive/archive.h"

#include <sys/stat.h>

static int write_tar(struct build *b, int rootfd, int fd, struct error **err)
{
	struct archive_tree_opts to = {
		.clamp_mtime = b->have_epoch,
		.mtime_max = b->epoch,
	};
	return archive_write_tree(rootfd, &to, archive_fd_write, &fd, err);
}

int build_output(struct build *b, struct build_state *st,
		 const struct build_result *res, struct error **err)
{
	const char *dest = b->o->output_dest;
	struct build_view v;
	if (build_view_open(b, st->layers, st->nlayers, &v, err) < 0)
		return -1;
	int ret = -1;
	char *tarpath = NULL;
	int rootfd = open(v.path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0) {
		error_set_errno(err, "open '%s'", v.path);
		goto out;
	}
	if (b->o->output == BUILD_OUTPUT_TAR) {
		int fd = strcmp(dest, "-") ? open(dest,
						  O_WRONLY | O_CREAT | O_TRUNC |
							  O_CLOEXEC,
						  0644)
					   : dup(1);
		if (fd < 0) {
			error_set_errno(err, "create '%s'", dest);
			goto out;
		}
		ret = write_tar(b, rootfd, fd, err);
		if (close(fd) < 0 && !ret) {
			error_set_errno(err, "write '%s'", dest);
			ret = -1;
		}
		goto out;
	}
	/* local: through a tar in tmp/, extracted into dest */
	char *tmpdir = build_tmpdir(b, "output", err);
	if (!tmpdir)
		goto out;
	tarpath = xstrfmt("%s/fs.tar", tmpdir);
	int fd = open(tarpath, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		error_set_errno(err, "create '%s'", tarpath);
	} else if (!write_tar(b, rootfd, fd, err)) {
		lseek(fd, 0, SEEK_SET);
		if (mkdir(dest, 0755) < 0 && errno != EEXIST) {
			error_set_errno(err, "mkdir '%s'", dest);
		} else {
			int dfd =
				open(dest, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			if (dfd < 0) {
				error_set_errno(err, "open '%s'", dest);
			} else {
				struct archive_input in = { archive_fd_read,
							    &fd };
				struct archive_extract_opts eo = {
					.what = "output"
				};
				ret = archive_extract(dfd, &in, &eo, NULL, err);
				close(dfd);
			}
		}
	}
	if (fd >= 0)
		close(fd);
	store_layer_abort(b->s, tmpdir);
	free(tmpdir);
out:
	free(tarpath);
	if (rootfd >= 0)
		close(rootfd);
	build_view_close(&v);
	return ret;
}
