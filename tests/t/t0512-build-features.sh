#!/bin/bash
# kiln build: what dockerd 20.10's BuildKit cannot record for t0500 —
# heredocs, COPY --link/--parents/--exclude, ADD --checksum, RUN
# --network — and the CLI's outputs, labels, iidfile, ONBUILD triggers,
# SOURCE_DATE_EPOCH reproducibility.
. "$(dirname "$0")/test-lib.sh"
. "$(dirname "$0")/lib-build.sh"

P=ROOT,OVERLAY,BUSYBOX,BUILD

test_expect_success $P 'set up' '
	import_busybox &&
	mkdir -p "$TRASH/ctx/src/a/b" && cd "$TRASH/ctx" &&
	echo x >src/a/b/c.txt && echo y >src/a/keep.md && echo z >src/a/skip.tmp
'

test_expect_success $P 'heredocs: COPY files, RUN scripts with and without #!' '
	cd "$TRASH/ctx" &&
	cat >Dockerfile <<-\DF &&
	FROM busybox
	ENV WHO=world
	COPY <<EOF /etc/greeting
	hello $WHO
	EOF
	COPY <<"A" <<B /multi/
	raw $WHO
	A
	cooked $WHO
	B
	RUN <<EOF
	echo from-heredoc >/h1
	echo second >>/h1
	EOF
	RUN <<EOF
	#!/bin/sh
	echo shebang >/h2
	EOF
	RUN cat <<EOF >/h3
	inline $WHO
	EOF
	DF
	kiln build -q -t hd:1 . &&
	image_fs hd:1 fs &&
	test "$(cat fs/etc/greeting)" = "hello world" &&
	test "$(cat fs/multi/A)" = "raw \$WHO" &&
	test "$(cat fs/multi/B)" = "cooked world" &&
	printf "from-heredoc\nsecond\n" >expect && test_cmp expect fs/h1 &&
	test "$(cat fs/h2)" = shebang &&
	test "$(cat fs/h3)" = "inline world"
'

test_expect_success $P 'COPY --link, --parents, --exclude' '
	cd "$TRASH/ctx" &&
	cat >Dockerfile <<-\DF &&
	FROM busybox
	COPY --link src/a/b/c.txt /linked/
	COPY --parents src/a/b/c.txt src/a/keep.md /par/
	COPY --exclude=*.tmp src/a /ex/
	DF
	kiln build -q -t cp:1 . &&
	image_fs cp:1 fs &&
	test "$(cat fs/linked/c.txt)" = x &&
	test "$(cat fs/par/src/a/b/c.txt)" = x &&
	test "$(cat fs/par/src/a/keep.md)" = y &&
	test "$(cat fs/ex/b/c.txt)" = x &&
	test -f fs/ex/keep.md && ! test -e fs/ex/skip.tmp
'

test_expect_success $P 'COPY --link does not depend on the layers below' '
	cd "$TRASH/ctx" &&
	printf "FROM busybox\nRUN echo 1 >/one\nCOPY --link src/a/keep.md /k\n" >Dockerfile &&
	kiln build --progress=plain -t ln:1 . >log1 &&
	printf "FROM busybox\nRUN echo 2 >/two\nCOPY --link src/a/keep.md /k\n" >Dockerfile &&
	kiln build --progress=plain -t ln:2 . >log2 &&
	grep -A1 "COPY --link" log2 | grep -q CACHED
'

test_expect_success $P 'ADD URL with --checksum; a mismatch fails' '
	mkdir -p "$TRASH/web" && echo served >"$TRASH/web/file.txt" &&
	port=$((20000 + RANDOM % 20000)) &&
	{ python3 -m http.server $port --bind 127.0.0.1 -d "$TRASH/web" >/dev/null 2>&1 & } &&
	srv=$! &&
	for i in $(seq 50); do curl -sf http://127.0.0.1:$port/file.txt >/dev/null && break; sleep 0.1; done &&
	sum=$(sha256sum "$TRASH/web/file.txt" | cut -c1-64) &&
	cd "$TRASH/ctx" &&
	printf "FROM busybox\nADD --checksum=sha256:$sum http://127.0.0.1:$port/file.txt /dl/\n" >Dockerfile &&
	kiln build -q -t add:1 . &&
	image_fs add:1 fs && test "$(cat fs/dl/file.txt)" = served &&
	printf "FROM busybox\nADD --checksum=sha256:%064d http://127.0.0.1:$port/file.txt /dl/\n" 0 >Dockerfile &&
	test_must_fail 1 kiln build -q . 2>err &&
	kill $srv &&
	test_grep "checksum mismatch" err
'

test_expect_success $P 'ADD extracts local archives by content' '
	cd "$TRASH/ctx" &&
	mkdir -p t/in && echo inside >t/in/f &&
	tar -C t -cf - in | gzip >arch.tgz.bin &&
	tar -C t -cf - in | xz >arch.xz.bin &&
	printf "FROM busybox\nADD arch.tgz.bin /g/\nADD arch.xz.bin /x/\n" >Dockerfile &&
	kiln build -q -t ar:1 . &&
	image_fs ar:1 fs &&
	test "$(cat fs/g/in/f)" = inside && test "$(cat fs/x/in/f)" = inside
'

test_expect_success $P 'RUN --network=none has only a loopback' '
	cd "$TRASH/ctx" &&
	printf "FROM busybox\nRUN --network=none grep -c : /proc/net/dev >/n\n" >Dockerfile &&
	kiln build -q -t net:1 . &&
	image_fs net:1 fs && test "$(cat fs/n)" = 1
'

test_expect_success $P 'RUN --mount=type=bind from the context honours .dockerignore' '
	mkdir -p "$TRASH/bind/d" && cd "$TRASH/bind" &&
	echo keep >keep.txt && echo hidden >secret.key && echo in >d/f &&
	echo "*.key" >.dockerignore &&
	printf "FROM busybox\nRUN --mount=type=bind,target=/ctx ls /ctx >/ls && cat /ctx/d/f >/f\n" >Dockerfile &&
	kiln build -q -t bind:1 . &&
	image_fs bind:1 fs &&
	test_grep keep.txt fs/ls && ! grep -q secret.key fs/ls &&
	test "$(cat fs/f)" = in && test -d fs/ctx
'

test_expect_success $P 'secrets: a file and an env, never in the image' '
	cd "$TRASH/ctx" &&
	echo s3cr3t >"$TRASH/secret" &&
	cat >Dockerfile <<-\DF &&
	FROM busybox
	RUN --mount=type=secret,id=f --mount=type=secret,id=e,env=TOKEN cat /run/secrets/f | wc -c >/flen && echo "$TOKEN" | wc -c >/elen
	DF
	TOKENVAL=envval kiln build -q --secret id=f,src="$TRASH/secret" --secret id=e,env=TOKENVAL -t sec:1 . &&
	kiln save -o img.tar sec:1 && mkdir x && tar -C x -xf img.tar &&
	! grep -r -a -q -e s3cr3t -e envval x &&
	image_fs sec:1 fs && test $(cat fs/flen) = 7 && test $(cat fs/elen) = 7 &&
	test -d fs/run/secrets && ! test -e fs/run/secrets/f
'

test_expect_success $P '--label, --iidfile, --output tar and local' '
	cd "$TRASH/ctx" &&
	printf "FROM busybox\nRUN echo out >/out\n" >Dockerfile &&
	kiln build -q --label team=core --iidfile iid -t lab:1 . >id &&
	test "$(cat iid)" = "$(cat id)" &&
	kiln inspect lab:1 | grep -q "\"team\": \"core\"" &&
	kiln build -q -o type=tar,dest=fs.tar . &&
	tar -xOf fs.tar out >o && test "$(cat o)" = out &&
	kiln build -q -o type=local,dest=dir . &&
	test "$(cat dir/out)" = out && test -x dir/bin/busybox
'

test_expect_success $P 'ONBUILD triggers run in the next build' '
	cd "$TRASH/ctx" &&
	printf "FROM busybox\nONBUILD RUN echo triggered >/t\n" >Dockerfile &&
	kiln build -q -t ob:1 . &&
	printf "FROM ob:1\nRUN cat /t >/seen\n" >Dockerfile &&
	kiln build -q -t ob:2 . &&
	image_fs ob:2 fs && test "$(cat fs/seen)" = triggered
'

test_expect_success $P 'SOURCE_DATE_EPOCH: two builds give the same image ID' '
	cd "$TRASH/ctx" &&
	printf "FROM busybox\nCOPY src /src\nRUN echo hi >/r; mkdir /d; touch /d/x\nCMD [\"sh\"]\n" >Dockerfile &&
	SOURCE_DATE_EPOCH=1700000000 kiln build -q --no-cache . >id1 &&
	sleep 1 && touch src/a/keep.md &&
	SOURCE_DATE_EPOCH=1700000000 kiln build -q --no-cache . >id2 &&
	test_cmp id1 id2 &&
	kiln inspect "$(cat id1)" | grep -q "\"Created\": \"2023-11-14T22:13:20Z\""
'

test_expect_success $P 'Dockerfile from stdin and -f' '
	cd "$TRASH/ctx" &&
	printf "FROM busybox\nRUN echo stdin >/s\n" | kiln build -q -t in:1 - &&
	printf "FROM busybox\nCOPY src/a/keep.md /k\n" >other.Dockerfile &&
	kiln build -q -f other.Dockerfile -t in:2 . &&
	image_fs in:2 fs && test "$(cat fs/k)" = y
'

# dockerd's layers carry only security.capability (the buildah conformance
# case 048 and a dockerd 20.10 build of this archive show it), so ADD of a
# local archive drops the other xattrs it holds.
test_expect_success $P 'ADD of an archive keeps only security.capability' '
	cd "$TRASH/ctx" &&
	python3 - <<-\PY &&
	import io, tarfile
	cap = bytes.fromhex("0100000200200000000000000000000000000000")
	with tarfile.open("xa.tar", "w", format=tarfile.PAX_FORMAT) as t:
	    for n, px in [("ua", {"SCHILY.xattr.user.a": "test"}),
	                  ("cap", {"SCHILY.xattr.security.capability":
	                           cap.decode("latin1")})]:
	        ti = tarfile.TarInfo(n)
	        ti.size, ti.mode, ti.pax_headers = 3, 0o755, px
	        t.addfile(ti, io.BytesIO(b"hi\n"))
	PY
	printf "FROM scratch\nADD xa.tar /\n" >Dockerfile &&
	kiln build -q -t xa:1 . &&
	kiln save -o xa-img.tar xa:1 && mkdir xa-img && tar -xf xa-img.tar -C xa-img &&
	python3 - xa-img >xattrs <<-\PY &&
	import json, os, sys, tarfile
	d = sys.argv[1]
	m = json.load(open(os.path.join(d, "manifest.json")))[0]
	for l in m["Layers"]:
	    for mem in tarfile.open(os.path.join(d, l)):
	        x = sorted(k for k in mem.pax_headers if k.startswith("SCHILY.xattr."))
	        print(mem.name, " ".join(x))
	PY
	printf "cap SCHILY.xattr.security.capability\nua \n" >expect &&
	test_cmp expect xattrs
'

test_done
