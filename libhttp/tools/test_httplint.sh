#!/usr/bin/env bash
# CLI tests for httplint: exit status, normalised output, and error offsets for each kind of input.
# Usage: test_httplint.sh PATH_TO_HTTPLINT. Each case checks the exit code and exact or anchored output.
set -u
LINT=${1:?usage: test_httplint.sh PATH_TO_HTTPLINT}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
pass=0
fail=0

ok() { pass=$((pass + 1)); echo "ok   - $1"; }
bad() {
    fail=$((fail + 1))
    echo "FAIL - $1: $2"
    echo "  stdout: $(head -c 400 "$TMP/out" | cat -A | head -20)"
    echo "  stderr: $(head -c 400 "$TMP/err")"
}

# put NAME BYTES: writes a printf-format string (so \r\n are real CRLF) to $TMP/NAME.
put() { printf "$2" >"$TMP/$1"; }

# run ARGS...: runs httplint, storing stdout, stderr and the exit code in $TMP/out, $TMP/err and $rc.
run() {
    "$LINT" "$@" >"$TMP/out" 2>"$TMP/err"
    rc=$?
}

# expect NAME RC: checks the exit code, then each further "out:REGEX", "err:REGEX", "outeq:FILE" condition.
expect() {
    local name=$1 want=$2 cond
    shift 2
    if [ "$rc" -ne "$want" ]; then bad "$name" "exit $rc, want $want"; return; fi
    for cond in "$@"; do
        case $cond in
        out:*) grep -Eq -- "${cond#out:}" "$TMP/out" || { bad "$name" "stdout lacks /${cond#out:}/"; return; } ;;
        err:*) grep -Eq -- "${cond#err:}" "$TMP/err" || { bad "$name" "stderr lacks /${cond#err:}/"; return; } ;;
        outeq:*) cmp -s "${cond#outeq:}" "$TMP/out" || { bad "$name" "stdout differs from ${cond#outeq:}"; return; } ;;
        noerr) [ ! -s "$TMP/err" ] || { bad "$name" "unexpected stderr"; return; } ;;
        noout) [ ! -s "$TMP/out" ] || { bad "$name" "unexpected stdout"; return; } ;;
        esac
    done
    ok "$name"
}

# 1. A valid GET: normalised start line, trimmed field value, summary, nothing on stderr.
put get 'GET /a?b=1 HTTP/1.1\r\nHost:   example.com  \r\nAccept: */*\r\n\r\n'
printf 'GET /a?b=1 HTTP/1.1\nHost: example.com\nAccept: */*\n\nbody: none\n' >"$TMP/get.want"
run "$TMP/get"
expect "valid request" 0 "outeq:$TMP/get.want" noerr

# 2. A valid chunked request, with the decoded body printed.
put chunked 'POST /up HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5;x=y\r\nhello\r\n6\r\n world\r\n0\r\nT: v\r\n\r\n'
printf 'POST /up HTTP/1.1\nHost: a\nTransfer-Encoding: chunked\n\nbody: chunked, 11 bytes decoded\n--- body ---\nhello world' \
    >"$TMP/chunked.want"
run --body "$TMP/chunked"
expect "valid chunked request" 0 "outeq:$TMP/chunked.want" noerr

# 3. Content-Length body, and a pipelined byte after it reported as trailing.
put cl 'PUT /x HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n0123456789G'
run "$TMP/cl"
expect "content-length body" 0 "out:^body: length 10$" "out:^trailing: 1 bytes after the message$"

# 4. CL.TE smuggling shape: rejected, offset inside the framing fields (bytes 26..74), status 400, no stdout.
put clte 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nG'
run "$TMP/clte"
expect "CL.TE rejected" 1 "err:^httplint: $TMP/clte:(2[6-9]|[3-6][0-9]|7[0-4]): .+ \\(status 400\\)$" noout

# 5. The same with --allow-te-cl: chunked wins and the summary says the connection must close.
run --allow-te-cl "$TMP/clte"
expect "CL.TE allowed" 0 "out:^body: chunked, 0 bytes decoded$" "out:^framing: .*must close$" \
    "out:^trailing: 1 bytes after the message$"

# 6. Bare LF ending the request line: the offset is the LF itself (byte 14).
put barelf 'GET / HTTP/1.1\nHost: a\r\n\r\n'
run "$TMP/barelf"
expect "bare LF offset" 1 "err:^httplint: $TMP/barelf:14: .+ \\(status 400\\)$" noout

# 7. Bad chunk size: the offset is the first non-hex byte (head is 56 bytes, 'z' at 56).
put badchunk 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n'
run "$TMP/badchunk"
expect "chunk size offset" 1 "err:^httplint: $TMP/badchunk:56: .+ \\(status 400\\)$" noout

# 7b. Empty Content-Length value (a fuzzer find): the offset is where the value would start, byte 41.
put emptycl 'GET / HTTP/1.1\r\nHost: a\r\nContent-Length: \r\n\r\n'
run "$TMP/emptycl"
expect "empty Content-Length offset" 1 "err:^httplint: $TMP/emptycl:41: .+ \\(status 400\\)$" noout

# 7c. A malformed status line is a bad gateway at a proxy.
put badstatus 'HTTP/1.1 20 OK\r\n\r\n'
run "$TMP/badstatus"
expect "malformed status line" 1 "err:^httplint: $TMP/badstatus:[0-9]+: .+ \\(status 502\\)$" noout

# 8. Incomplete head and incomplete body.
put short 'GET / HTTP/1.1\r\nHost: a\r\n'
run "$TMP/short"
expect "incomplete head" 1 "err:^httplint: $TMP/short:25: incomplete message at byte 25$" noout
put shortbody 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nab'
run "$TMP/shortbody"
expect "incomplete body" 1 "err:^httplint: $TMP/shortbody:49: incomplete message at byte 49$"

# 9. Response with a close-delimited body (auto-detected from "HTTP/").
put resp 'HTTP/1.1 200 OK\r\nServer: t\r\n\r\nhello\r\nworld'
printf 'HTTP/1.1 200 OK\nServer: t\n\nbody: close-delimited, 12 bytes\n--- body ---\nhello\r\nworld' >"$TMP/resp.want"
run --body "$TMP/resp"
expect "close-delimited response" 0 "outeq:$TMP/resp.want" noerr

# 10. Response to HEAD: Content-Length present but no body.
put headresp 'HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n'
run --head-request "$TMP/headresp"
expect "response to HEAD" 0 "out:^body: none$"
run "$TMP/headresp"
expect "same response, not to HEAD, is incomplete" 1 "err:incomplete message at byte 41$"

# 11. Standard input, for a valid message and for an error (labelled <stdin>).
"$LINT" <"$TMP/get" >"$TMP/out" 2>"$TMP/err"; rc=$?
expect "stdin input" 0 "outeq:$TMP/get.want"
"$LINT" - <"$TMP/barelf" >"$TMP/out" 2>"$TMP/err"; rc=$?
expect "stdin error label" 1 "err:^httplint: <stdin>:14: "

# 12. Usage and I/O errors exit 2; -h prints the manual and exits 0.
run --no-such-option "$TMP/get"
expect "unknown option" 2 "err:unknown option" noout
run "$TMP/get" "$TMP/get"
expect "two files" 2 "err:more than one input file"
run "$TMP/does-not-exist"
expect "missing file" 2 "err:^httplint: $TMP/does-not-exist: No such file"
run -h
expect "help" 0 "out:^SYNOPSIS$" "out:EXIT STATUS" noerr

# 13. Input over 16 MiB is refused before parsing.
head -c $((16 * 1024 * 1024 + 1)) /dev/zero >"$TMP/huge"
run "$TMP/huge"
expect "oversized input" 2 "err:larger than 16777216 bytes"

echo "httplint: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
