/*
 * The registry flags pull, push and build share (--authfile, --creds,
 * --cert-dir, --tls-verify, --registries-conf), turned into the registry
 * client's options.
 */
#include "cmd/cmd.h"
#include "registry/registry.h"

void cmd_registry_options(const struct cmd_registry_flags *f,
			  struct registry_options *o)
{
	o->registries_conf = f->conf;
	o->authfile = f->authfile;
	o->cert_dir = f->cert_dir;
	o->creds = f->creds;
	if (f->tls_verify)
		o->tls_verify = strcmp(f->tls_verify, "false") ? 1 : 0;
}
