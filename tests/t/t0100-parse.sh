#!/bin/bash
# kiln parse: file, -f, stdin, formats, errors.
. "$(dirname "$0")/test-lib.sh"

write_dockerfile() {
	cat >Dockerfile <<-\EOF
	# syntax=docker/dockerfile:1
	FROM busybox AS build
	COPY --chmod=755 <<script.sh /usr/local/bin/
	#!/bin/sh
	echo "hello"
	script.sh
	RUN echo one \
	    two
	CMD ["/usr/local/bin/script.sh"]
	EOF
}

cat >"$TRASH/expect" <<-\EOF
(from "busybox" "AS" "build")
(copy ["--chmod=755"] "<<script.sh" "/usr/local/bin/")
(run "echo one     two")
(cmd "/usr/local/bin/script.sh")
EOF

test_expect_success 'parse ./Dockerfile by default' '
	write_dockerfile &&
	kiln parse >out &&
	test_cmp "$TRASH/expect" out
'

test_expect_success 'parse FILE and -f FILE' '
	write_dockerfile &&
	mkdir sub && mv Dockerfile sub/Containerfile &&
	kiln parse sub/Containerfile >out1 &&
	kiln parse -f sub/Containerfile >out2 &&
	kiln parse --file=sub/Containerfile --format buildkit >out3 &&
	test_cmp "$TRASH/expect" out1 &&
	test_cmp "$TRASH/expect" out2 &&
	test_cmp "$TRASH/expect" out3
'

test_expect_success 'parse -f - reads standard input' '
	write_dockerfile &&
	kiln parse -f - <Dockerfile >out &&
	test_cmp "$TRASH/expect" out &&
	kiln parse - <Dockerfile >out &&
	test_cmp "$TRASH/expect" out
'

test_expect_success '--format=json is valid JSON with heredocs and lines' '
	write_dockerfile &&
	kiln parse --format=json >out.json &&
	python3 -m json.tool out.json >/dev/null &&
	python3 - out.json <<-\PY
	import json, sys
	d = json.load(open(sys.argv[1]))
	ins = d["instructions"]
	assert d["syntax"] == "docker/dockerfile:1", d["syntax"]
	assert [i["keyword"] for i in ins] == ["from", "copy", "run", "cmd"]
	h = ins[1]["heredocs"][0]
	assert h["name"] == "script.sh" and h["expand"] and not h["chomp"]
	assert h["content"] == "#!/bin/sh\necho \"hello\"\n", h["content"]
	assert (ins[1]["start_line"], ins[1]["end_line"]) == (3, 6)
	assert (ins[2]["start_line"], ins[2]["end_line"]) == (7, 8)
	assert ins[3]["json"] is True and ins[2]["json"] is False
	assert ins[1]["flags"] == ["--chmod=755"]
	PY
'

test_expect_success 'a parse error exits 1 with FILE:LINE' '
	printf "FROM busybox\nRUN true\nCOPPY a b\n" >Dockerfile &&
	test_must_fail 1 kiln parse 2>err &&
	test_grep "^error: Dockerfile:3: unknown instruction: COPPY (did you mean COPY?)$" err
'

test_expect_success 'missing arguments and NUL bytes are errors' '
	printf "FROM busybox\nENV PATH\n" >Dockerfile &&
	test_must_fail 1 kiln parse 2>err &&
	test_grep "^error: Dockerfile:2: ENV must have two arguments" err &&
	printf "FROM busybox\nRUN a\0b\n" >Dockerfile &&
	test_must_fail 1 kiln parse --format=json 2>err &&
	test_grep "^error: Dockerfile:2: NUL byte" err
'

test_expect_success 'unterminated heredoc on stdin names the line' '
	printf "FROM x\n\nRUN <<EOF\necho\n" |
	test_must_fail 1 kiln parse -f - 2>err &&
	test_grep "^error: Dockerfile:3: unterminated heredoc" err
'

test_expect_success 'a missing file is an error' '
	test_must_fail 1 kiln parse nothere 2>err &&
	test_grep "^error: open .nothere.: No such file or directory$" err &&
	mkdir empty && cd empty &&
	test_must_fail 1 kiln parse 2>err &&
	test_grep "^error: open .Dockerfile.: No such file or directory$" err
'

test_expect_success 'an over-long file is refused, not truncated' '
	head -c 70000000 /dev/zero >big &&
	test_must_fail 1 kiln parse big 2>err &&
	rm big &&
	test_grep "larger than 64 MiB" err
'

test_expect_success 'unknown --format exits 125' '
	write_dockerfile &&
	test_must_fail 125 kiln parse --format=yaml 2>err &&
	test_grep "invalid argument \"yaml\" for \"--format\" flag" err
'

test_expect_success 'two files are a usage error' '
	test_must_fail 125 kiln parse a b 2>err &&
	test_grep "accepts at most one FILE" err
'

test_expect_success 'empty continuation lines warn on stderr' '
	printf "FROM x\nRUN a \\\\\n\n  b\n" >Dockerfile &&
	kiln parse >out 2>err &&
	test_grep "^warning: Dockerfile:3: empty continuation line" err &&
	test_grep "^(run \"a   b\")$" out
'

test_expect_success CORPUS 'every BuildKit testfile dumps its result' '
	for d in "$CORPUS"/buildkit-parser/testfiles/*/; do
		kiln parse "$d/Dockerfile" >out &&
		cmp out "$d/result" || { echo "mismatch: $d"; return 1; }
	done
'

test_done
