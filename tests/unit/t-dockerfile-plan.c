/*
 * Unit tests for the build plan: ARG scoping (global ARGs in FROM,
 * redeclaration, from-its-line, build-arg overrides, predefined ARGs),
 * ENV visibility, which instructions expand, the stage graph (target
 * pruning, indexes, unknown/duplicate/forward/cyclic references), flag
 * validation, --mount parsing, and every error's "Dockerfile:N:" message.
 */
#include "tap.h"
#include "dockerfile/dockerfile.h"

struct built {
	struct dockerfile *df;
	struct dockerfile_plan *plan;
	char *err;
};

static struct built build(const char *text, const char **bargs,
			  const char *target, const char *platform)
{
	struct built b = { 0 };
	struct error *e = NULL;
	b.df = dockerfile_parse("Dockerfile", text, strlen(text), &e);
	if (!b.df) {
		b.err = xstrdup(e->msg);
		error_free(e);
		return b;
	}
	struct dockerfile_plan_opts o = { .target = target,
					  .platform = platform };
	if (bargs) {
		o.build_args = bargs;
		while (bargs[o.nbuild_args])
			o.nbuild_args++;
	}
	b.plan = dockerfile_plan_new(b.df, &o, &e);
	if (!b.plan) {
		b.err = xstrdup(e ? e->msg : "(no error set)");
		error_free(e);
	}
	return b;
}

static void done(struct built *b)
{
	dockerfile_plan_free(b->plan);
	dockerfile_free(b->df);
	free(b->err);
}

/* The value of `key` in the last ENV pair of the plan's target stage. */
static const char *env_value(const struct dockerfile_plan *plan,
			     const char *key)
{
	const char *v = NULL;
	const struct dockerfile_stage *st = &plan->stages[plan->target];
	for (size_t i = 0; i < st->ninstrs; i++) {
		const struct dockerfile_instr *in = &st->instrs[i];
		if (in->kind != DOCKERFILE_ENV)
			continue;
		for (size_t k = 0; k < in->u.kv.npairs; k++)
			if (!strcmp(in->u.kv.pairs[k].key, key))
				v = in->u.kv.pairs[k].value;
	}
	return v;
}

static const struct dockerfile_instr *instr(const struct dockerfile_plan *plan,
					    size_t stage, size_t i)
{
	return &plan->stages[stage].instrs[i];
}

/* Expect success, then ENV key == want in the target stage. */
static void env_is(const char *text, const char **bargs, const char *key,
		   const char *want, const char *name)
{
	struct built b = build(text, bargs, NULL, NULL);
	if (!b.plan) {
		ok(0, "%s", name);
		printf("#   error: %s\n", b.err);
	} else {
		is_str(env_value(b.plan, key), want, "%s", name);
	}
	done(&b);
}

static void fails(const char *text, const char **bargs, const char *target,
		  const char *want, const char *name)
{
	struct built b = build(text, bargs, target, NULL);
	if (b.plan) {
		ok(0, "%s: fails", name);
	} else {
		is_str(b.err, want, "%s", name);
	}
	done(&b);
}

static void test_arg_scoping(void)
{
	struct built b = build("ARG BASE=alpine\nFROM ${BASE}:3.19 AS b\n",
			       NULL, NULL, NULL);
	ok(b.plan && !strcmp(b.plan->stages[0].base, "alpine:3.19"), "a global "
								     "ARG is "
								     "usable "
								     "in FROM");
	done(&b);

	const char *deb[] = { "BASE=debian", NULL };
	b = build("ARG BASE=alpine\nFROM ${BASE}:3.19\n", deb, NULL, NULL);
	ok(b.plan && !strcmp(b.plan->stages[0].base, "debian:3.19"),
	   "a build arg overrides the global default in FROM");
	done(&b);

	b = build("ARG A=1\nARG B=${A}2\nFROM img:$B\n", NULL, NULL, NULL);
	ok(b.plan && !strcmp(b.plan->stages[0].base, "img:12"), "a global "
								"default sees "
								"the earlier "
								"global ARGs");
	done(&b);

	env_is("ARG V=1\nFROM scratch\nENV X=$V\n", NULL, "X", "",
	       "a global ARG is not visible in a stage by itself");
	env_is("ARG V=1\nFROM scratch\nARG V\nENV X=$V\n", NULL, "X", "1",
	       "ARG V in a stage imports the global default");
	const char *v2[] = { "V=2", NULL };
	env_is("ARG V=1\nFROM scratch\nARG V\nENV X=$V\n", v2, "X", "2",
	       "...or the build arg");
	env_is("FROM scratch\nENV A=x$X\nARG X=5\nENV B=$X\n", NULL, "A", "x",
	       "an ARG is not visible before its line");
	env_is("FROM scratch\nENV A=x$X\nARG X=5\nENV B=$X\n", NULL, "B", "5",
	       "an ARG takes effect from its line");
	const char *x7[] = { "X=7", NULL };
	env_is("FROM scratch\nARG X=5\nENV B=$X\n", x7, "B", "7",
	       "a build arg overrides a stage default");
	env_is("FROM scratch\nARG X=${NOPE:?must-be-set}\nENV B=$X\n", x7, "B",
	       "7", "a default is not evaluated when a build arg is given");
	fails("FROM scratch\nARG X=${NOPE:?must-be-set}\n", NULL, NULL,
	      "Dockerfile:2: failed to process \"${NOPE:?must-be-set}\": "
	      "NOPE: must-be-set",
	      "...and fails without one");
	env_is("FROM scratch\nENV A=x\nARG B=$A-y\nENV C=$B\n", NULL, "C",
	       "x-y", "an ARG default sees the ENV before it");
	env_is("FROM scratch\nARG Q=\"a b\"\nENV C=$Q\n", NULL, "C", "a b",
	       "an ARG default loses its quotes");
	env_is("FROM scratch AS a\nARG X=1\nENV E=e\nFROM a\nENV Y=$X$E\n",
	       NULL, "Y", "1e", "a child stage inherits ARGs and ENV");
	env_is("FROM scratch\nARG TARGETARCH\nENV A=$TARGETARCH\n", NULL, "A",
	       "amd64", "TARGETARCH defaults to the host linux/amd64");
	env_is("FROM scratch\nENV A=x$TARGETARCH\n", NULL, "A", "x",
	       "platform ARGs need a declaration in a stage");

	b = build("FROM --platform=$BUILDPLATFORM golang AS b\n"
		  "ARG TARGETPLATFORM\nARG TARGETOS\nARG TARGETARCH\n"
		  "ARG TARGETVARIANT\n"
		  "ENV P=$TARGETPLATFORM O=$TARGETOS A=$TARGETARCH "
		  "V=$TARGETVARIANT\n",
		  NULL, NULL, "linux/arm/v7");
	ok(b.plan && !strcmp(b.plan->stages[0].platform, "linux/amd64"),
	   "FROM --platform=$BUILDPLATFORM");
	if (b.plan) {
		is_str(env_value(b.plan, "P"), "linux/arm/v7",
		       "TARGETPLATFORM");
		is_str(env_value(b.plan, "O"), "linux", "TARGETOS");
		is_str(env_value(b.plan, "A"), "arm", "TARGETARCH");
		is_str(env_value(b.plan, "V"), "v7", "TARGETVARIANT");
	}
	done(&b);

	const char *ba[] = { "X=1", "Z=2", "HTTP_PROXY=http://p:3128",
			     "no_proxy=localhost", NULL };
	b = build("ARG G\nFROM scratch AS a\nARG X\nFROM scratch\nARG Z\n", ba,
		  "a", NULL);
	if (b.plan) {
		is_int(b.plan->unused_build_args.nr, 1,
		       "one unused build arg (Z is in a pruned stage)");
		is_str(b.plan->unused_build_args.v[0], "Z", "Z is unused");
		is_int(b.plan->used_build_args.nr, 1, "one used build arg");
		is_str(b.plan->used_build_args.v[0], "X", "X is used");
		is_int(b.plan->proxy_env.nr, 2, "proxy args reach RUN");
		is_str(b.plan->proxy_env.v[0], "HTTP_PROXY=http://p:3128",
		       "HTTP_PROXY");
	} else {
		ok(0, "used/unused build args: %s", b.err);
	}
	done(&b);
}

static void test_env_and_expansion(void)
{
	env_is("FROM scratch\nENV a=1\nENV a=2 b=$a\n", NULL, "b", "1",
	       "ENV a=x b=$a sees the value from before the instruction");
	env_is("FROM scratch\nENV a=1\nENV a=2 b=$a\nENV c=$a\n", NULL, "c",
	       "2", "the next instruction sees the new value");
	env_is("FROM scratch\nENV k v w\n", NULL, "k", "v w",
	       "legacy ENV form");
	env_is("FROM scratch\nENV N=x\nENV ${N}y=z\n", NULL, "xy", "z",
	       "ENV keys are expanded");

	struct built b = build("FROM scratch\nENV D=/data U=app S=TERM P=8080\n"
			       "WORKDIR $D\nUSER ${U}:app\nVOLUME $D "
			       "/logs\nSTOPSIGNAL SIG$S\n"
			       "EXPOSE $P 53/udp 7000-7002\nLABEL \"my "
			       "key\"=\"$U x\"\n"
			       "RUN echo $D\nCMD echo $D\nENTRYPOINT "
			       "[\"/bin/$U\"]\n"
			       "COPY --chown=$U:$U --chmod=0644 src/$U /dst/\n"
			       "COPY <<EOT /etc/motd\nhello $U\nEOT\n"
			       "COPY <<'EOT' /etc/raw\nhello $U\nEOT\n"
			       "HEALTHCHECK CMD curl $D\nMAINTAINER me <$U>\n"
			       "ONBUILD RUN echo $D\nSHELL [\"/bin/bash\", "
			       "\"-c\"]\n",
			       NULL, NULL, NULL);
	if (!b.plan) {
		ok(0, "expansion plan: %s", b.err);
		done(&b);
		return;
	}
	const struct dockerfile_plan *p = b.plan;
	is_str(instr(p, 0, 1)->u.str, "/data", "WORKDIR is expanded");
	is_str(instr(p, 0, 2)->u.str, "app:app", "USER is expanded");
	is_int(instr(p, 0, 3)->u.volumes.nr, 2, "VOLUME items");
	is_str(instr(p, 0, 3)->u.volumes.v[0], "/data", "VOLUME is expanded");
	is_str(instr(p, 0, 4)->u.str, "SIGTERM", "STOPSIGNAL is expanded");
	const struct dockerfile_strs *ports = &instr(p, 0, 5)->u.ports;
	is_int(ports->nr, 5, "EXPOSE ports (a range gives one per port)");
	is_str(ports->v[0], "8080/tcp", "EXPOSE is expanded, tcp default");
	is_str(ports->v[1], "53/udp", "EXPOSE keeps the protocol");
	is_str(ports->v[4], "7002/tcp", "EXPOSE range");
	is_str(instr(p, 0, 6)->u.kv.pairs[0].key, "my key", "LABEL key");
	is_str(instr(p, 0, 6)->u.kv.pairs[0].value, "app x",
	       "LABEL value is expanded");
	const struct dockerfile_instr *run = instr(p, 0, 7);
	is_str(run->u.run.cmd.args.v[0], "echo $D", "RUN is not expanded");
	ok(!run->u.run.cmd.json, "RUN shell form");
	bool has_d = false;
	for (size_t i = 0; i < run->u.run.env.nr; i++)
		has_d |= !strcmp(run->u.run.env.v[i], "D=/data");
	ok(has_d, "RUN gets the environment");
	is_str(instr(p, 0, 8)->u.cmdline.args.v[0], "echo $D",
	       "CMD is not expanded");
	ok(instr(p, 0, 9)->u.cmdline.json &&
		   !strcmp(instr(p, 0, 9)->u.cmdline.args.v[0], "/bin/$U"),
	   "ENTRYPOINT exec form, not expanded");
	const struct dockerfile_copy *c = &instr(p, 0, 10)->u.copy;
	is_str(c->chown, "app:app", "COPY --chown is expanded");
	is_str(c->chmod, "0644", "COPY --chmod");
	is_str(c->sources.v[0], "src/app", "COPY sources are expanded");
	is_str(c->dest, "/dst/", "COPY dest");
	c = &instr(p, 0, 11)->u.copy;
	ok(c->ninline == 1 && c->sources.nr == 0, "COPY heredoc source");
	is_str(c->inline_sources[0].data, "hello app\n",
	       "an unquoted heredoc is expanded");
	is_str(c->inline_sources[0].path, "EOT", "heredoc file name");
	is_str(c->dest, "/etc/motd", "heredoc COPY dest");
	c = &instr(p, 0, 12)->u.copy;
	is_str(c->inline_sources[0].data, "hello $U\n",
	       "a quoted heredoc is not");
	const struct dockerfile_healthcheck *h = &instr(p, 0, 13)->u.health;
	ok(h->type == DOCKERFILE_HEALTH_CMD && h->test.nr == 2 &&
		   !strcmp(h->test.v[0], "CMD-SHELL") &&
		   !strcmp(h->test.v[1], "curl $D"),
	   "HEALTHCHECK shell form is CMD-SHELL, not expanded");
	is_str(instr(p, 0, 14)->u.str, "me <$U>", "MAINTAINER as written");
	is_str(instr(p, 0, 15)->u.str, "RUN echo $D", "ONBUILD trigger text");
	ok(instr(p, 0, 16)->u.shell.nr == 2, "SHELL");
	done(&b);
}

static void test_stages(void)
{
	const char *df = "FROM alpine AS base\nRUN a\n"
			 "FROM base AS test\nRUN b\n"
			 "FROM debian AS other\nRUN c\n"
			 "FROM scratch AS final\nCOPY --from=base /a /a\n";
	struct built b = build(df, NULL, "test", NULL);
	if (b.plan) {
		is_int(b.plan->nstages, 2, "target pruning keeps base + test");
		is_str(b.plan->stages[0].name, "base", "first kept stage");
		is_int(b.plan->target, 1, "target position");
		is_int(b.plan->stages[1].base_stage, 0,
		       "FROM base links the stage");
		ok(b.plan->stages[1].ndeps == 1 &&
			   b.plan->stages[1].deps[0] == 0,
		   "deps of test");
		is_int(b.plan->stages[1].index, 2 - 1, "original index kept");
	} else {
		ok(0, "pruning: %s", b.err);
	}
	done(&b);

	b = build(df, NULL, NULL, NULL);
	if (b.plan) {
		is_int(b.plan->nstages, 2, "default target: the last stage");
		is_str(b.plan->stages[1].name, "final", "final kept");
		ok(b.plan->stages[1].scratch, "FROM scratch");
		is_int(instr(b.plan, 1, 0)->u.copy.from_stage, 0,
		       "COPY --from=base resolves to a position");
	} else {
		ok(0, "default target: %s", b.err);
	}
	done(&b);

	b = build("FROM alpine AS A1\nFROM scratch\nCOPY --from=0 /x /x\n"
		  "COPY --from=a1 /y /y\nCOPY --from=nginx:1 /z /z\n",
		  NULL, "STAGE-1", NULL);
	fails("FROM alpine AS A1\nFROM scratch\n", NULL, "stage-1",
	      "target stage \"stage-1\" could not be found",
	      "unnamed stages are no targets");
	done(&b);
	b = build("FROM alpine AS A1\nFROM scratch\nCOPY --from=0 /x /x\n"
		  "COPY --from=a1 /y /y\nCOPY --from=nginx:1 /z /z\n",
		  NULL, NULL, NULL);
	if (b.plan) {
		is_str(b.plan->stages[0].name, "a1",
		       "stage names are lowercased");
		is_int(instr(b.plan, 1, 0)->u.copy.from_stage, 0,
		       "COPY --from=0 by index");
		is_int(instr(b.plan, 1, 1)->u.copy.from_stage, 0,
		       "COPY --from by name, case-insensitive");
		is_int(instr(b.plan, 1, 2)->u.copy.from_stage, -1,
		       "COPY --from=image");
		is_str(instr(b.plan, 1, 2)->u.copy.from, "nginx:1",
		       "the image reference is kept");
		is_str(b.plan->stages[1].display, "stage-1",
		       "unnamed stages display as stage-N");
	} else {
		ok(0, "copy --from forms: %s", b.err);
	}
	done(&b);

	b = build("FROM alpine AS Build\nFROM BUILD\nFROM later\n"
		  "FROM scratch AS later\n",
		  NULL, "later", NULL);
	ok(b.plan && b.plan->nstages == 1, "FROM a later name is an image");
	done(&b);
	b = build("FROM alpine AS build\nFROM BUILD\n", NULL, NULL, NULL);
	ok(b.plan && b.plan->nstages == 2 && b.plan->stages[1].base_stage == 0,
	   "FROM an earlier stage, case-insensitive");
	done(&b);

	b = build("FROM alpine AS a\nFROM scratch AS m\n"
		  "RUN --mount=from=a,target=/a true\n",
		  NULL, NULL, NULL);
	ok(b.plan && b.plan->nstages == 2 &&
		   instr(b.plan, 1, 0)->u.run.mounts[0].from_stage == 0,
	   "RUN --mount from= keeps and links the stage");
	done(&b);

	fails("FROM alpine\nFROM scratch\n", NULL, "nope",
	      "target stage \"nope\" could not be found", "unknown target");
	fails("FROM alpine AS build\nFROM scratch\n", NULL, "biuld",
	      "target stage \"biuld\" could not be found (did you mean "
	      "build?)",
	      "unknown target with a suggestion");
	fails("FROM alpine\nFROM scratch\nCOPY --from=5 /a /b\n", NULL, NULL,
	      "Dockerfile:3: invalid stage index 5", "unknown stage index");
	fails("FROM alpine\nFROM scratch\nCOPY --from=-1 /a /b\n", NULL, NULL,
	      "Dockerfile:3: invalid stage index -1", "negative stage index");
	fails("FROM alpine AS x\nFROM scratch AS X\n", NULL, NULL,
	      "Dockerfile:2: duplicate stage name \"x\", first defined on "
	      "line 1",
	      "duplicate stage name");
	fails("FROM alpine AS a\nCOPY --from=b /x /x\nFROM alpine AS b\n", NULL,
	      "a",
	      "Dockerfile:2: cannot copy from stage \"b\", it needs to be "
	      "defined before current stage \"a\"",
	      "forward reference by name");
	fails("FROM alpine AS a\nCOPY --from=1 /x /x\nFROM alpine AS b\n", NULL,
	      "a",
	      "Dockerfile:2: cannot copy from stage \"1\", it needs to be "
	      "defined before current stage \"a\"",
	      "forward reference by index");
	fails("FROM busybox AS stage0\nCOPY --from=stage0 f1 /sub/\n", NULL,
	      NULL, "circular dependency detected on stage: stage0",
	      "a stage copying from itself");
	fails("FROM busybox AS stage0\nCOPY --from=stage2 f1 /sub/\n"
	      "FROM busybox AS stage1\nCOPY --from=stage0 f2 /sub/\n"
	      "FROM busybox AS stage2\nCOPY --from=stage1 f2 /sub/\n",
	      NULL, NULL, "circular dependency detected on stage: stage0",
	      "a cycle through three stages");
	fails("FROM busybox\nCOPY --from=0 f1 /sub/\n", NULL, NULL,
	      "circular dependency detected on stage: stage-0",
	      "COPY --from=0 in a single stage");
	fails("FROM scratch\nCOPY --from=$X /a /b\n", NULL, NULL,
	      "Dockerfile:2: variable expansion is not supported for --from, "
	      "define a new stage with FROM using ARG from global scope as a "
	      "workaround",
	      "COPY --from refuses variables");
	fails("ARG X\nFROM ${X}\n", NULL, NULL,
	      "Dockerfile:2: base name (${X}) should not be blank",
	      "blank base name");
	fails("ENV A=b\nFROM scratch\n", NULL, NULL,
	      "Dockerfile:1: no build stage in current context",
	      "only ARG before the first FROM");
	fails("ARG A=b\n", NULL, NULL,
	      "Dockerfile: dockerfile contains no stages to build", "no FROM");
	fails("FROM alpine AS 1st\n", NULL, NULL,
	      "Dockerfile:1: invalid name for build stage: \"1st\", name can't "
	      "start with a number or contain symbols",
	      "invalid stage name");
	fails("FROM alpine BS x\n", NULL, NULL,
	      "Dockerfile:1: FROM requires either one or three arguments",
	      "FROM without AS");

	/* unreachable stages: parse errors count, expansion errors don't */
	b = build("FROM alpine AS a\nCOPY ${X:?unset} /x\nFROM scratch\n", NULL,
		  NULL, NULL);
	ok(b.plan != NULL, "an unreachable stage is not expanded");
	done(&b);
	fails("FROM alpine AS a\nCOPY --bad /x /y\nFROM scratch\n", NULL, NULL,
	      "Dockerfile:2: unknown flag: --bad",
	      "an unreachable stage's flags are still checked");
}

static void test_flags(void)
{
	fails("FROM scratch\nCOPY --form=x a b\n", NULL, NULL,
	      "Dockerfile:2: unknown flag: --form (did you mean --from?)",
	      "unknown flag with a suggestion");
	fails("FROM scratch\nENV --x=1 a=b\n", NULL, NULL,
	      "Dockerfile:2: unknown flag: --x", "ENV takes no flags");
	fails("FROM --platform img\n", NULL, NULL,
	      "Dockerfile:1: missing a value on flag: --platform",
	      "a string flag needs a value");
	fails("FROM --platform=a --platform=b img\n", NULL, NULL,
	      "Dockerfile:1: duplicate flag specified: --platform",
	      "duplicate flag");
	fails("FROM scratch\nCOPY --link=maybe a b\n", NULL, NULL,
	      "Dockerfile:2: expecting boolean value for flag --link, not: "
	      "maybe",
	      "boolean flag value");
	fails("FROM scratch\nCOPY --chmod=999 a b\n", NULL, NULL,
	      "Dockerfile:2: invalid chmod parameter: '999'. it should be "
	      "octal string and between 0 and 07777",
	      "bad --chmod");
	fails("FROM scratch\nADD --from=x a b\n", NULL, NULL,
	      "Dockerfile:2: unknown flag: --from", "ADD has no --from");
	fails("FROM scratch\nCOPY --checksum=sha256:x a b\n", NULL, NULL,
	      "Dockerfile:2: unknown flag: --checksum",
	      "COPY has no --checksum");
	fails("FROM scratch\nRUN --network=bridge true\n", NULL, NULL,
	      "Dockerfile:2: unsupported network mode \"bridge\"",
	      "RUN --network value");
	fails("FROM scratch\nRUN --security=root true\n", NULL, NULL,
	      "Dockerfile:2: unsupported security mode \"root\"",
	      "RUN --security value");
	fails("FROM scratch\nSHELL /bin/sh -c\n", NULL, NULL,
	      "Dockerfile:2: SHELL requires the arguments to be in JSON form",
	      "SHELL needs JSON");
	fails("FROM scratch\nSTOPSIGNAL SIGNOPE\n", NULL, NULL,
	      "Dockerfile:2: invalid signal: SIGNOPE", "bad STOPSIGNAL");
	fails("FROM scratch\nEXPOSE 80/tcpx\n", NULL, NULL,
	      "Dockerfile:2: invalid proto: tcpx", "bad EXPOSE protocol");
	fails("FROM scratch\nEXPOSE 99999\n", NULL, NULL,
	      "Dockerfile:2: invalid containerPort: 99999", "bad EXPOSE port");
	fails("FROM scratch\nHEALTHCHECK --interval=1us CMD true\n", NULL, NULL,
	      "Dockerfile:2: Interval \"interval\" cannot be less than 1ms",
	      "HEALTHCHECK interval minimum");
	fails("FROM scratch\nHEALTHCHECK --timeout=5 CMD true\n", NULL, NULL,
	      "Dockerfile:2: time: invalid duration \"5\"",
	      "HEALTHCHECK duration needs a unit");
	fails("FROM scratch\nHEALTHCHECK --retries=-1 CMD true\n", NULL, NULL,
	      "Dockerfile:2: --retries cannot be negative (-1)",
	      "HEALTHCHECK negative retries");
	fails("FROM scratch\nHEALTHCHECK NONE x\n", NULL, NULL,
	      "Dockerfile:2: HEALTHCHECK NONE takes no arguments",
	      "HEALTHCHECK NONE with arguments");
	fails("FROM scratch\nHEALTHCHECK PING x\n", NULL, NULL,
	      "Dockerfile:2: Unknown type \"PING\" in HEALTHCHECK (try CMD)",
	      "HEALTHCHECK unknown type");

	struct built b = build("FROM scratch\nHEALTHCHECK --interval=1m30s "
			       "--timeout=500ms "
			       "--start-period=1.5h --start-interval=2s "
			       "--retries=3 "
			       "CMD [\"curl\", \"-f\", \"http://x\"]\n"
			       "COPY --link --parents --exclude=*.tmp "
			       "--exclude=.git a b /c/\n"
			       "ADD --keep-git-dir --unpack=false "
			       "--checksum=sha256:ab "
			       "https://x/y.tar /z\n",
			       NULL, NULL, NULL);
	if (!b.plan) {
		ok(0, "flag values: %s", b.err);
		done(&b);
		return;
	}
	const struct dockerfile_healthcheck *h = &instr(b.plan, 0, 0)->u.health;
	is_int(h->interval, 90000000000LL, "--interval=1m30s");
	is_int(h->timeout, 500000000LL, "--timeout=500ms");
	is_int(h->start_period, 5400000000000LL, "--start-period=1.5h");
	is_int(h->start_interval, 2000000000LL, "--start-interval=2s");
	is_int(h->retries, 3, "--retries=3");
	ok(h->test.nr == 4 && !strcmp(h->test.v[0], "CMD") &&
		   !strcmp(h->test.v[3], "http://x"),
	   "HEALTHCHECK exec form");
	const struct dockerfile_copy *c = &instr(b.plan, 0, 1)->u.copy;
	ok(c->link && c->parents, "COPY --link --parents");
	ok(c->excludes.nr == 2 && !strcmp(c->excludes.v[1], ".git"), "COPY "
								     "--"
								     "exclude "
								     "repeats");
	ok(c->sources.nr == 2, "COPY with two sources");
	c = &instr(b.plan, 0, 2)->u.copy;
	ok(c->keep_git_dir && c->unpack == 0 &&
		   !strcmp(c->checksum, "sha256:ab"),
	   "ADD --keep-git-dir --unpack=false --checksum");
	done(&b);

	long long ns;
	ok(!dockerfile_parse_duration("1h2m3.5s", &ns) && ns == 3723500000000LL,
	   "duration 1h2m3.5s");
	ok(!dockerfile_parse_duration("0", &ns) && ns == 0, "duration 0");
	ok(dockerfile_parse_duration("1", &ns) < 0, "duration needs a unit");
	ok(dockerfile_parse_duration("1x", &ns) < 0, "unknown unit");
	ok(!dockerfile_parse_duration("2\xc2\xb5s", &ns) && ns == 2000, "durati"
									"on in "
									"µs");
}

static void test_mounts(void)
{
	struct built b = build("FROM alpine AS build\nFROM scratch\nENV "
			       "DIR=/data\n"
			       "RUN "
			       "--mount=type=cache,target=/root/"
			       ".cache,id=gomod,"
			       "sharing=locked,mode=0755,uid=1000,gid=1001 "
			       "--mount=type=secret,id=tok,required,env=TOKEN "
			       "--mount=type=bind,from=build,source=/"
			       "out,target=/in,rw "
			       "--mount=target=$DIR "
			       "--mount=type=tmpfs,target=/t,size=64m "
			       "--mount=type=ssh "
			       "--mount=type=CACHE,dst=/c,ro=true "
			       "go build\n",
			       NULL, NULL, NULL);
	if (!b.plan) {
		ok(0, "mounts: %s", b.err);
		done(&b);
		return;
	}
	const struct dockerfile_run *r = &instr(b.plan, 1, 1)->u.run;
	is_int(r->nmounts, 7, "seven mounts");
	const struct dockerfile_mount *m = &r->mounts[0];
	ok(m->type == DOCKERFILE_MOUNT_CACHE &&
		   !strcmp(m->target, "/root/.cache") &&
		   !strcmp(m->id, "gomod") &&
		   m->sharing == DOCKERFILE_SHARING_LOCKED && m->has_mode &&
		   m->mode == 0755 && m->uid == 1000 && m->gid == 1001 &&
		   !m->readonly,
	   "cache mount fields");
	m = &r->mounts[1];
	ok(m->type == DOCKERFILE_MOUNT_SECRET && !strcmp(m->id, "tok") &&
		   m->required && !strcmp(m->env, "TOKEN") && m->readonly &&
		   !m->target,
	   "secret mount fields");
	m = &r->mounts[2];
	ok(m->type == DOCKERFILE_MOUNT_BIND && !strcmp(m->from, "build") &&
		   m->from_stage == 0 && !strcmp(m->source, "/out") &&
		   !strcmp(m->target, "/in") && !m->readonly,
	   "bind mount from a stage, rw");
	m = &r->mounts[3];
	ok(m->type == DOCKERFILE_MOUNT_BIND && !strcmp(m->target, "/data") &&
		   m->readonly && m->uid == -1,
	   "default bind mount, read-only, target expanded");
	m = &r->mounts[4];
	ok(m->type == DOCKERFILE_MOUNT_TMPFS && m->size == 64ULL << 20 &&
		   !m->readonly,
	   "tmpfs size");
	m = &r->mounts[5];
	ok(m->type == DOCKERFILE_MOUNT_SSH && m->readonly, "ssh mount");
	m = &r->mounts[6];
	ok(m->type == DOCKERFILE_MOUNT_CACHE && m->readonly &&
		   !strcmp(m->target, "/c"),
	   "type is case-insensitive, ro=true");
	is_int(b.plan->stages[1].ndeps, 1, "the mount's stage is a dependency");
	done(&b);

	fails("FROM scratch\nRUN --mount=type=foo,target=/x true\n", NULL, NULL,
	      "Dockerfile:2: unsupported mount type \"foo\"",
	      "unknown mount type");
	fails("FROM scratch\nRUN --mount=target=/x,mode=0755 true\n", NULL,
	      NULL, "Dockerfile:2: mode not allowed for \"bind\" type mounts",
	      "mode on a bind mount");
	fails("FROM scratch\nRUN --mount=target=/x,sharing=locked true\n", NULL,
	      NULL, "Dockerfile:2: invalid cache sharing set for bind mount",
	      "sharing on a bind mount");
	fails("FROM scratch\nRUN --mount=type=cache,target=/x,sharing=no "
	      "true\n",
	      NULL, NULL, "Dockerfile:2: unsupported sharing value \"no\"",
	      "bad sharing value");
	fails("FROM scratch\nRUN --mount=from=$X,target=/x true\n", NULL, NULL,
	      "Dockerfile:2: 'from' doesn't support variable expansion, define "
	      "alias stage instead",
	      "mount from refuses variables");
	b = build("FROM scratch\nWORKDIR /w\nRUN --mount=from=x --mount=ro "
		  "true\n",
		  NULL, NULL, NULL);
	ok(b.plan && !instr(b.plan, 0, 1)->u.run.mounts[0].target &&
		   instr(b.plan, 0, 1)->u.run.mounts[1].readonly,
	   "a mount without target (the working directory)");
	done(&b);
	fails("FROM scratch\nRUN --mount=type=secret true\n", NULL, NULL,
	      "Dockerfile:2: invalid secret mount: one of source, target, id "
	      "or env is required",
	      "a secret mount needs something");
	fails("FROM scratch\nRUN --mount=target=/x,bogus=1 true\n", NULL, NULL,
	      "Dockerfile:2: unexpected key 'bogus' in 'bogus=1'",
	      "unknown mount key");
	fails("FROM scratch\nRUN --mount=target=/x,nothing true\n", NULL, NULL,
	      "Dockerfile:2: invalid field 'nothing' must be a key=value pair",
	      "a mount field without '='");
	fails("FROM scratch\nRUN --mount=target=/x,required true\n", NULL, NULL,
	      "Dockerfile:2: unexpected key 'required' for mount type 'bind'",
	      "required on a bind mount");
	fails("FROM scratch\nRUN --mount=type=cache,target=/x,uid=abc true\n",
	      NULL, NULL, "Dockerfile:2: invalid value abc for uid", "bad uid");
	fails("FROM scratch\nRUN --mount=type=secret,id=a,from=b true\n", NULL,
	      NULL, "Dockerfile:2: secret mount should not have a from",
	      "secret with from");
	fails("FROM scratch\nRUN --mount=target=${T:?no-target} true\n", NULL,
	      NULL,
	      "Dockerfile:2: failed to process \"${T:?no-target}\": T: "
	      "no-target",
	      "mount values are expanded at dispatch");
	fails("FROM scratch\nRUN --mount=target=/ true\n", NULL, NULL,
	      "Dockerfile:2: invalid mount target \"/\"", "target /");
}

static int env_cb(void *data, const char *image, const char *platform,
		  struct dockerfile_env *env, struct error **err)
{
	int *calls = data;
	(*calls)++;
	if (!strcmp(image, "broken"))
		return error_set(err, KILN_ENOTFOUND, "pull access denied"), -1;
	dockerfile_env_push(env, "GOPATH", "/go");
	dockerfile_env_push(env, "PATH", "/go/bin:/usr/bin");
	return 0;
}

static void test_base_env(void)
{
	const char *text = "FROM golang AS b\nWORKDIR $GOPATH/src\n"
			   "RUN true\nFROM other\nFROM b\nENV X=$GOPATH\n";
	struct error *e = NULL;
	struct dockerfile *df =
		dockerfile_parse("Dockerfile", text, strlen(text), &e);
	int calls = 0;
	struct dockerfile_plan_opts o = { .base_env = env_cb,
					  .base_env_data = &calls };
	struct dockerfile_plan *p = dockerfile_plan_new(df, &o, &e);
	ok(p != NULL, "plan with a base-env callback");
	if (p) {
		is_int(calls, 1, "asked once, only for reachable image bases");
		is_str(instr(p, 0, 0)->u.str, "/go/src",
		       "the base image's env is used for expansion");
		const struct dockerfile_run *r = &instr(p, 0, 1)->u.run;
		ok(r->env.nr == 2 && !strcmp(r->env.v[1], "PATH=/go/bin:/usr/"
							  "bin"),
		   "RUN env keeps the image PATH");
		is_str(env_value(p, "X"), "/go", "the child stage inherits it");
	}
	dockerfile_plan_free(p);
	dockerfile_free(df);

	text = "FROM broken\n";
	df = dockerfile_parse("Dockerfile", text, strlen(text), &e);
	p = dockerfile_plan_new(df, &o, &e);
	ok(!p && e && !strcmp(e->msg, "Dockerfile:1: pull access denied"),
	   "a callback failure fails the plan");
	error_free(e);
	dockerfile_free(df);

	struct built b = build("FROM scratch\nRUN true\n", NULL, NULL, NULL);
	ok(b.plan && !strcmp(instr(b.plan, 0, 0)->u.run.env.v[0], "PATH=/usr/"
								  "local/sbin:/"
								  "usr/local/"
								  "bin:/usr/"
								  "sbin:"
								  "/usr/bin:/"
								  "sbin:/bin"),
	   "scratch gets the default PATH");
	done(&b);

	b = build("# escape=`\nFROM scratch\nENV A=x B=`$A\n", NULL, NULL,
		  NULL);
	ok(b.plan && !strcmp(env_value(b.plan, "B"), "$A"), "expansion uses "
							    "the escape "
							    "directive");
	done(&b);
}

int main(void)
{
	test_arg_scoping();
	test_env_and_expansion();
	test_stages();
	test_flags();
	test_mounts();
	test_base_env();
	return tap_done();
}
