/*
 * Blob uploads: HEAD to skip what the repository has, a cross-repository
 * mount when the caller knows a source, then a monolithic PUT or PATCH
 * chunks with Content-Range followed by the closing PUT ?digest=.
 */
#include "registry/registry-internal.h"

static char *with_query(const char *location, const char *key,
			const char *value)
{
	return xstrfmt("%s%c%s=%s", location, strchr(location, '?') ? '&' : '?',
		       key, value);
}

static int upload(struct registry_client *c, CURL *h, struct endpoint *ep,
		  const char *scope, struct http_req *req,
		  struct http_resp *resp, long want, struct error **err)
{
	req->ep = ep;
	req->scope = scope;
	if (http_do(c, h, req, resp, err) < 0)
		return -1;
	if (resp->status != want &&
	    !(want == 202 && resp->status == 201 && req->read)) {
		http_status_error(req, resp, err);
		return -1;
	}
	return 0;
}

int blob_push_at(struct registry_client *c, struct endpoint *ep, CURL *h,
		 const char *digest, uint64_t size, registry_read_fn read,
		 void *data, const char *mount_from,
		 enum registry_push_result *result, struct error **err)
{
	bool mount = mount_from && strcmp(mount_from, ep->path);
	cleanup_free char *scope =
		mount ? xstrfmt("repository:%s:pull,push repository:%s:pull",
				ep->path, mount_from)
		      : xstrfmt("repository:%s:pull,push", ep->path);
	cleanup_free char *blob_url =
		xstrfmt("/v2/%s/blobs/%s", ep->path, digest);
	struct http_resp resp = { .err_body = STRBUF_INIT };
	struct http_req head = { .method = "HEAD", .url = blob_url };
	struct error *e = NULL;
	if (upload(c, h, ep, scope, &head, &resp, 200, &e) == 0) {
		http_resp_release(&resp);
		*result = REGISTRY_PUSH_EXISTS;
		return 0;
	}
	/* 404 (or another refusal of HEAD) means: upload it */
	if (resp.curl_rc != CURLE_OK || resp.status == 401 ||
	    resp.status == 403) {
		if (err && !*err)
			*err = steal_pointer(&e);
		error_free(e);
		http_resp_release(&resp);
		return -1;
	}
	error_free(e);

	cleanup_free char *start = xstrfmt("/v2/%s/blobs/uploads/", ep->path);
	cleanup_free char *mount_url = NULL;
	if (mount) {
		cleanup_free char *q = xstrfmt("%s?mount=%s&from=%s", start,
					       digest, mount_from);
		mount_url = steal_pointer(&q);
	}
	struct http_req post = { .method = "POST",
				 .url = mount ? mount_url : start };
	if (upload(c, h, ep, scope, &post, &resp, 202, NULL) < 0 &&
	    !(mount && resp.status == 201)) {
		http_status_error(&post, &resp, err);
		http_resp_release(&resp);
		return -1;
	}
	if (resp.status == 201) {
		http_resp_release(&resp);
		*result = REGISTRY_PUSH_MOUNTED;
		return 0;
	}
	if (!resp.location) {
		error_set(err, REGISTRY_EPROTOCOL,
			  "POST %s%s: no Location for the upload", ep->host,
			  post.url);
		http_resp_release(&resp);
		return -1;
	}
	char *location = steal_pointer(&resp.location);
	uint64_t off = 0;
	size_t chunk = c->o.chunk_size;
	while (chunk && size > chunk && off < size) {
		uint64_t n = size - off < chunk ? size - off : chunk;
		char cr[64];
		snprintf(cr, sizeof(cr), "%llu-%llu", (unsigned long long)off,
			 (unsigned long long)(off + n - 1));
		struct http_req patch = {
			.method = "PATCH",
			.url = location,
			.content_type = "application/octet-stream",
			.content_range = cr,
			.read = read,
			.read_data = data,
			.read_off = off,
			.read_len = n,
			.has_body = true,
		};
		if (upload(c, h, ep, scope, &patch, &resp, 202, err) < 0) {
			free(location);
			http_resp_release(&resp);
			return -1;
		}
		if (resp.location) {
			free(location);
			location = steal_pointer(&resp.location);
		}
		off += n;
	}
	cleanup_free char *put_url = with_query(location, "digest", digest);
	free(location);
	struct http_req put = {
		.method = "PUT",
		.url = put_url,
		.content_type = "application/octet-stream",
		.read = read,
		.read_data = data,
		.read_off = off,
		.read_len = size - off,
		.has_body = true,
	};
	if (upload(c, h, ep, scope, &put, &resp, 201, err) < 0) {
		http_resp_release(&resp);
		return -1;
	}
	if (resp.docker_digest && strcmp(resp.docker_digest, digest)) {
		error_set(err, KILN_ECORRUPT,
			  "push blob %s: the registry stored %s", digest,
			  resp.docker_digest);
		http_resp_release(&resp);
		return -1;
	}
	http_resp_release(&resp);
	*result = REGISTRY_PUSH_UPLOADED;
	return 0;
}
