/*
 * A small docker-style option parser shared by every command.  It knows
 * nothing of the commands: each describes its flags in a struct opt table.
 */
#include "cmd/cmd.h"

void usage_error(const char *cmd, const char *fmt, ...)
{
	struct strbuf sb = STRBUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	strbuf_vaddf(&sb, fmt, ap);
	va_end(ap);
	fflush(stdout);
	fprintf(stderr, "error: %s\nSee 'kiln %s --help'.\n", sb.buf, cmd);
	strbuf_release(&sb);
	exit(125);
}

void usage_with_options(FILE *out, const char *usage, const char *summary,
			const struct opt *opts)
{
	fprintf(out, "Usage:  %s\n\n%s\n", usage, summary);
	if (!opts || opts->type == OPT_END)
		return;
	fprintf(out, "\nOptions:\n");
	for (const struct opt *o = opts; o->type != OPT_END; o++) {
		struct strbuf sb = STRBUF_INIT;
		if (o->short_name)
			strbuf_addf(&sb, "  -%c, ", o->short_name);
		else
			strbuf_addstr(&sb, "      ");
		strbuf_addf(&sb, "--%s", o->long_name);
		if (o->type != OPT_BOOL)
			strbuf_addf(&sb, " %s", o->argh ? o->argh : "string");
		fprintf(out, "%-32s %s\n", sb.buf, o->help ? o->help : "");
		strbuf_release(&sb);
	}
}

static const char *cmd_name(const char *usage)
{
	static char name[64];
	const char *p = usage;
	skip_prefix(p, "kiln ", &p);
	size_t n = strcspn(p, " ");
	if (n >= sizeof(name))
		n = sizeof(name) - 1;
	memcpy(name, p, n);
	name[n] = '\0';
	return name;
}

static int parse_bool(const char *v, bool *out)
{
	if (!strcmp(v, "true") || !strcmp(v, "1")) {
		*out = true;
		return 0;
	}
	if (!strcmp(v, "false") || !strcmp(v, "0")) {
		*out = false;
		return 0;
	}
	return -1;
}

static void set_value(const char *cmd, const struct opt *o, const char *flag,
		      const char *v)
{
	unsigned long long n;
	switch (o->type) {
	case OPT_BOOL:
		if (parse_bool(v, o->value) < 0)
			usage_error(cmd,
				    "invalid argument \"%s\" for \"%s\" flag: "
				    "expected true or false",
				    v, flag);
		break;
	case OPT_STRING:
		*(const char **)o->value = v;
		break;
	case OPT_LIST:
		strvec_push(o->value, v);
		break;
	case OPT_INT:
		if (parse_uint(v, 1u << 30, &n) < 0)
			usage_error(cmd,
				    "invalid argument \"%s\" for \"%s\" flag: "
				    "expected a number",
				    v, flag);
		*(int *)o->value = (int)n;
		break;
	case OPT_END:
		BUG("OPT_END has no value");
	}
}

int parse_options(int argc, char **argv, const struct opt *opts,
		  const char *usage, const char *summary, bool stop_at_operand)
{
	const char *cmd = cmd_name(usage);
	int nout = 0;
	int i = 1;
	for (; i < argc; i++) {
		char *arg = argv[i];
		if (!strcmp(arg, "--")) {
			i++;
			break;
		}
		if (arg[0] != '-' || !arg[1]) {
			/* operand ("-" alone means stdin) */
			argv[nout++] = arg;
			if (stop_at_operand) {
				i++;
				break;
			}
			continue;
		}
		if (!strcmp(arg, "-h") || !strcmp(arg, "--help")) {
			usage_with_options(stdout, usage, summary, opts);
			exit(0);
		}
		if (arg[1] == '-') {
			const char *name = arg + 2;
			const char *eq = strchr(name, '=');
			size_t nlen = eq ? (size_t)(eq - name) : strlen(name);
			const struct opt *o = opts;
			for (; o && o->type != OPT_END; o++)
				if (strlen(o->long_name) == nlen &&
				    !strncmp(o->long_name, name, nlen))
					break;
			if (!o || o->type == OPT_END)
				usage_error(cmd, "unknown flag: --%.*s",
					    (int)nlen, name);
			if (o->type == OPT_BOOL) {
				set_value(cmd, o, arg, eq ? eq + 1 : "true");
				continue;
			}
			const char *v = eq ? eq + 1 : NULL;
			if (!v) {
				if (i + 1 >= argc)
					usage_error(cmd,
						    "flag needs an argument: "
						    "--%s",
						    o->long_name);
				v = argv[++i];
			}
			set_value(cmd, o, arg, v);
			continue;
		}
		/* bundle of short flags */
		for (const char *p = arg + 1; *p; p++) {
			const struct opt *o = opts;
			for (; o && o->type != OPT_END; o++)
				if (o->short_name == *p)
					break;
			if (!o || o->type == OPT_END)
				usage_error(cmd,
					    "unknown shorthand flag: '%c' in "
					    "%s",
					    *p, arg);
			if (o->type == OPT_BOOL) {
				*(bool *)o->value = true;
				continue;
			}
			const char *v = p[1] ? p + 1 : NULL;
			if (v && *v == '=')
				v++;
			if (!v) {
				if (i + 1 >= argc)
					usage_error(cmd,
						    "flag needs an argument: "
						    "'%c' in -%c",
						    *p, *p);
				v = argv[++i];
			}
			char flag[3] = { '-', *p, 0 };
			set_value(cmd, o, flag, v);
			break;
		}
	}
	for (; i < argc; i++)
		argv[nout++] = argv[i];
	argv[nout] = NULL;
	return nout;
}
