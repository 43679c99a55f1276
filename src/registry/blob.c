/*
 * Blob downloads: bytes stream through the digest into the caller's
 * callback as they arrive.  A transfer that breaks off continues with a
 * Range request from the last byte handed over (bytes are never handed
 * over twice, even when a server ignores Range), transport errors, 429
 * and 5xx are retried with backoff, and the size and digest are checked
 * when the last byte is in (the digest only unless the sink checks it
 * itself, job->sink_verifies).
 */
#include "registry/registry-internal.h"

#include <openssl/evp.h>

static size_t blob_sink(void *data, const char *buf, size_t len)
{
	struct blob_stream *s = data;
	size_t orig = len;
	if (s->first) {
		long status = 0;
		s->first = false;
		curl_easy_getinfo(s->h, CURLINFO_RESPONSE_CODE, &status);
		if (status == 200) {
			/* the whole blob again: drop what we have */
			s->skip = s->delivered;
		} else if (status == 206) {
			unsigned long long start = ~0ULL;
			const char *cr = s->resp->content_range;
			if (!cr || sscanf(cr, "bytes %llu-", &start) != 1 ||
			    start != s->delivered) {
				s->bad_range = true;
				return 0;
			}
		}
	}
	if (s->skip) {
		size_t n = s->skip < len ? (size_t)s->skip : len;
		buf += n;
		len -= n;
		s->skip -= n;
		if (!len)
			return orig;
	}
	const struct registry_blob_job *job = s->job;
	if (job->size >= 0 && s->delivered + len > (uint64_t)job->size) {
		s->too_big = true;
		return 0;
	}
	if (s->md)
		EVP_DigestUpdate(s->md, buf, len);
	if (job->write(job->data, buf, len) < 0) {
		s->cancelled = true;
		return 0;
	}
	s->delivered += len;
	return orig;
}

static int finish(struct blob_stream *s, struct endpoint *ep,
		  struct error **err)
{
	const struct registry_blob_job *job = s->job;
	if (job->size >= 0 && s->delivered != (uint64_t)job->size) {
		error_set(err, KILN_ECORRUPT,
			  "blob %s from '%s': got %llu bytes, want %lld",
			  job->digest, ep->host,
			  (unsigned long long)s->delivered,
			  (long long)job->size);
		return -1;
	}
	if (!s->md)
		return 0; /* job->sink_verifies: the sink checks the digest */
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	EVP_DigestFinal_ex(s->md, md, &n);
	const char *colon = strchr(job->digest, ':');
	struct strbuf got = STRBUF_INIT;
	strbuf_add(&got, job->digest, colon - job->digest + 1);
	for (unsigned int i = 0; i < n; i++)
		strbuf_addf(&got, "%02x", md[i]);
	int ret = 0;
	if (strcmp(got.buf, job->digest)) {
		error_set(err, KILN_ECORRUPT,
			  "blob %s from '%s': digest mismatch (got %s)",
			  job->digest, ep->host, got.buf);
		ret = -1;
	}
	strbuf_release(&got);
	return ret;
}

int blob_fetch_at(struct registry_client *c, struct endpoint *ep,
		  struct blob_stream *s, struct error **err)
{
	const struct registry_blob_job *job = s->job;
	cleanup_free char *url =
		xstrfmt("/v2/%s/blobs/%s", ep->path, job->digest);
	cleanup_free char *scope = xstrfmt("repository:%s:pull", ep->path);
	int retries = c->o.retries;
	for (int attempt = 0;;) {
		char range[64];
		struct http_resp resp = { .err_body = STRBUF_INIT };
		struct http_req req = {
			.method = "GET",
			.ep = ep,
			.url = url,
			.scope = scope,
			.follow = true,
			.sink = blob_sink,
			.sink_data = s,
		};
		if (job->size >= 0 && s->delivered == (uint64_t)job->size &&
		    s->delivered)
			break; /* every byte arrived before the break */
		if (s->delivered) {
			snprintf(range, sizeof(range), "bytes=%llu-",
				 (unsigned long long)s->delivered);
			req.range = range;
			debug("blob %s: resuming at byte %llu", job->digest,
			      (unsigned long long)s->delivered);
		}
		s->first = true;
		s->skip = 0;
		s->resp = &resp;
		uint64_t before = s->delivered;
		struct error *e = NULL;
		int r = http_once(c, s->h, &req, &resp, &e);
		s->resp = NULL;
		if (r < 0) {
			if (s->cancelled) {
				error_free(e);
				http_resp_release(&resp);
				error_set(err, ECANCELED,
					  "blob %s: the consumer stopped the "
					  "download",
					  job->digest);
				return -1;
			}
			if (s->too_big || s->bad_range) {
				error_free(e);
				http_resp_release(&resp);
				error_set(err, KILN_ECORRUPT,
					  s->too_big ? "blob %s from '%s': "
						       "more "
						       "bytes than its size"
						     : "blob %s from '%s': bad "
						       "Content-Range",
					  job->digest, ep->host);
				return -1;
			}
			/* progress buys a fresh set of retries */
			if (s->delivered > before)
				attempt = 0;
			if (attempt < retries && resp.curl_rc != CURLE_OK &&
			    http_retryable_curl(c, ep, resp.curl_rc)) {
				debug("blob %s: %s; retrying", job->digest,
				      e->msg);
				error_free(e);
				http_resp_release(&resp);
				http_backoff(attempt++, NULL);
				continue;
			}
			if (err && !*err)
				*err = e;
			else
				error_free(e);
			http_resp_release(&resp);
			return -1;
		}
		long st = resp.status;
		if (st == 200 || st == 206) {
			http_resp_release(&resp);
			break;
		}
		if (st == 416 && job->size >= 0 &&
		    s->delivered == (uint64_t)job->size) {
			http_resp_release(&resp);
			break;
		}
		if ((st == 429 || st >= 500) && attempt < retries) {
			debug("blob %s: status %ld; retrying", job->digest, st);
			http_backoff(attempt++, resp.retry_after);
			http_resp_release(&resp);
			continue;
		}
		http_status_error(&req, &resp, err);
		http_resp_release(&resp);
		return -1;
	}
	return finish(s, ep, err);
}
