/*
 * kiln login: check credentials against a registry, then store them in
 * the auth file (containers-auth.json(5)) with mode 0600.  The password
 * comes from -p, --password-stdin or a prompt; it is never printed.
 */
#include "cmd/cmd.h"
#include "registry/registry.h"

#include <termios.h>

/* Read one line from fd 0 into sb (no newline); echo off when asked. */
static int read_line(struct strbuf *sb, const char *prompt, bool secret)
{
	struct termios old, quiet;
	bool tty = isatty(STDIN_FILENO);
	if (prompt && tty) {
		fprintf(stderr, "%s", prompt);
		fflush(stderr);
	}
	if (secret && tty && !tcgetattr(STDIN_FILENO, &old)) {
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
	} else {
		secret = false;
	}
	char c;
	ssize_t n;
	int ret = 0;
	while ((n = read(STDIN_FILENO, &c, 1)) == 1 && c != '\n')
		strbuf_addch(sb, c);
	if (n < 0)
		ret = -1;
	if (secret) {
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
		fprintf(stderr, "\n");
	}
	strbuf_rtrim(sb);
	return ret;
}

int cmd_login(int argc, char **argv)
{
	const char *user = NULL, *pass = NULL, *authfile = NULL;
	const char *cert_dir = NULL, *conf = NULL, *tls_verify = NULL;
	bool pass_stdin = false, get_login = false;
	const struct opt opts[] = {
		OPT_STRING_('u', "username", &user, "USER", "Username"),
		OPT_STRING_('p', "password", &pass, "PASSWORD", "Password"),
		OPT_BOOL_(0, "password-stdin", &pass_stdin,
			  "Take the password from stdin"),
		OPT_STRING_(0, "authfile", &authfile, "FILE",
			    "Path of the authentication file"),
		OPT_STRING_(0, "cert-dir", &cert_dir, "DIR",
			    "Certificates for the registry (*.crt, *.cert, "
			    "*.key)"),
		OPT_STRING_(0, "tls-verify", &tls_verify, "BOOL",
			    "Require HTTPS and verify certificates"),
		OPT_STRING_(0, "registries-conf", &conf, "FILE",
			    "Path of registries.conf"),
		OPT_BOOL_(0, "get-login", &get_login,
			  "Print the user logged in to the registry"),
		OPT_END_(),
	};
	argc = parse_options(argc, argv, opts, "kiln login [OPTIONS] [SERVER]",
			     "Log in to a registry.", false);
	if (argc > 1)
		usage_error("login", "\"kiln login\" requires at most 1 "
				     "argument");
	const char *server = argc ? argv[0] : "docker.io";
	cleanup_free char *key = registry_auth_key(server);
	cleanup_free char *path = registry_auth_file_path(authfile);

	if (get_login) {
		struct error *e = NULL;
		char *who = NULL;
		if (registry_auth_lookup_user(authfile, key, &who, &e) <= 0) {
			if (e) {
				error_print(e);
				error_free(e);
			} else {
				error("not logged into %s", key);
			}
			return 125;
		}
		printf("%s\n", who);
		free(who);
		return 0;
	}
	if (pass && pass_stdin)
		usage_error("login", "--password and --password-stdin are "
				     "mutually exclusive");
	if (pass_stdin && !user)
		usage_error("login", "must provide --username with "
				     "--password-stdin");
	if (pass)
		warning("using --password via the CLI is insecure; use "
			"--password-stdin");
	cleanup_strbuf struct strbuf ubuf = STRBUF_INIT;
	cleanup_strbuf struct strbuf pbuf = STRBUF_INIT;
	if (!user) {
		if (!isatty(STDIN_FILENO))
			die("username required: use -u (no terminal to ask "
			    "on)");
		if (read_line(&ubuf, "Username: ", false) < 0 || !ubuf.len)
			die("username required");
		user = ubuf.buf;
	}
	if (!pass) {
		if (!pass_stdin && !isatty(STDIN_FILENO))
			die("password required: use --password-stdin (no "
			    "terminal to ask on)");
		if (read_line(&pbuf, pass_stdin ? NULL : "Password: ", true) <
		    0)
			die_errno("read the password");
		if (!pbuf.len)
			die("password required");
		pass = pbuf.buf;
	}

	struct registry_options o = REGISTRY_OPTIONS_INIT;
	o.registries_conf = conf;
	o.cert_dir = cert_dir;
	o.authfile = authfile;
	if (tls_verify)
		o.tls_verify = strcmp(tls_verify, "false") ? 1 : 0;
	struct error *e = NULL;
	struct registry_client *c = registry_client_new(&o, &e);
	int ret = 0;
	if (!c || registry_check_login(c, key, user, pass, &e) < 0 ||
	    registry_auth_store(path, key, user, pass, &e) < 0) {
		error_print(e);
		error_free(e);
		ret = 125;
	} else {
		printf("Login Succeeded!\n");
	}
	registry_client_free(c);
	if (pbuf.len)
		explicit_bzero(pbuf.buf, pbuf.len);
	return ret;
}
