#!/usr/bin/env bash
# imapdir vs mbsync benchmark against a throwaway local Dovecot.
#
#   bench/run.sh [small|medium|large|huge] [--runs N] [--rtt MS] [--out FILE] [--keep]
#
# Starts one Dovecot (bench/dovecot.sh) in a temporary directory, generates
# the corpus (bench/gen_corpus.py) straight into its Maildir, snapshots it,
# and then for each run and each tool, starting from the pristine server
# and an empty local Maildir, times:
#   (a) first sync into an empty Maildir
#   (b) a second sync with no changes
#   (c) a sync after 10 new messages, 50 flag changes and 20 deletions on the server
#   (d) a sync after 50 local flag changes and 20 local deletions
#   (e) a sync after moving min(1000, half) of INBOX's files to Sent locally
#   (f) a sync after moving min(1000, half) of Sent to INBOX on the server
# and reports medians of wall time, user+sys CPU, peak RSS, the number of
# IMAP commands the client sent and the bytes each way (from Dovecot's rawlog).
# After (b) it also notes each tool's sync state on disk (imapdir's state
# database; mbsync's .mbsyncstate and .uidvalidity files) and times
# `imapdir status --offline`.
#
# Env: IMAPDIR (imapdir binary; default target/release/imapdir in the repo,
# built with cargo when missing), MBSYNC (default mbsync),
# BENCH_TMP (parent of the work dir; default $TMPDIR or /tmp), JOBS (imapdir jobs;
# unset: imapdir's default, as for mbsync).
set -euo pipefail

BENCH=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$BENCH")

usage() { sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-0}"; }
die() { echo "run.sh: $*" >&2; exit 1; }
log() { printf '%s %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

PRESET=small RUNS=3 RTT=0 OUT= KEEP=
while [ $# -gt 0 ]; do
    case "$1" in
        small|medium|large|huge) PRESET=$1 ;;
        --runs) RUNS=${2:?}; shift ;;
        --rtt) RTT=${2:?}; shift ;;
        --out) OUT=${2:?}; shift ;;
        --keep) KEEP=1 ;;
        -h|--help) usage ;;
        *) echo "unknown argument: $1" >&2; usage 2 ;;
    esac
    shift
done
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || die "--runs wants a positive integer"
[[ $RTT =~ ^[0-9]+$ ]] || die "--rtt wants milliseconds (integer)"
[ "$(id -u)" = 0 ] || die "run as root (Dovecot mail user, apt-get)"
case "$OUT" in ''|/*) ;; *) OUT=$PWD/$OUT ;; esac

# --- tools -----------------------------------------------------------------
apt_install() {
    log "installing $*"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y "$@" >/dev/null ||
        { apt-get update >/dev/null && apt-get install -y "$@" >/dev/null; } ||
        die "apt-get install $* failed"
}
MBSYNC=${MBSYNC:-mbsync}
command -v "$MBSYNC" >/dev/null || apt_install isync
[ -x /usr/bin/time ] || apt_install time
command -v dovecot >/dev/null || apt_install dovecot-imapd
command -v openssl >/dev/null || apt_install openssl
command -v python3 >/dev/null || die "python3 is required"

IMAPDIR=${IMAPDIR:-target/release/imapdir}
case "$IMAPDIR" in /*) ;; *) IMAPDIR=$ROOT/$IMAPDIR ;; esac
if [ ! -x "$IMAPDIR" ]; then
    log "building imapdir (cargo build --release)"
    (cd "$ROOT" && cargo build --release) >&2 || die "cargo build failed"
    [ -x "$IMAPDIR" ] || die "no binary at $IMAPDIR"
fi
JOBS=${JOBS:-}

# --- work dir, ports, cleanup ----------------------------------------------
WORK=$(mktemp -d "${BENCH_TMP:-${TMPDIR:-/tmp}}/imapdir-bench.XXXXXX")
chmod 755 "$WORK"
DV=$WORK/dovecot
PROXY_PID=
cleanup() {
    set +e
    [ -n "$PROXY_PID" ] && kill "$PROXY_PID" 2>/dev/null && wait "$PROXY_PID" 2>/dev/null
    [ -f "$DV/dovecot.conf" ] && "$BENCH/dovecot.sh" stop "$DV" >/dev/null
    rm -rf "${RAWLOG_ROOT:-/nonexistent}"
    if [ -n "$KEEP" ]; then log "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_ports() {
    python3 -c 'import socket
ss=[socket.socket() for _ in range(2)]
for s in ss: s.bind(("127.0.0.1", 0))
print(*[s.getsockname()[1] for s in ss])'
}
read -r IMAP_PORT IMAPS_PORT < <(free_ports)
export IMAP_PORT IMAPS_PORT
# Dovecot logs a session (both directions, every body included) into
# $RAWLOG only when that directory exists at login.  Logging costs the
# server about as much CPU as serving the mail, so the timed runs go
# without it and the commands are counted in a separate, untimed pass.
# It lives on tmpfs, away from the Maildirs' file system.
RAWLOG_ROOT=$(mktemp -d "${BENCH_RAWLOG_TMP:-/dev/shm}/imapdir-bench-rawlog.XXXXXX")
chmod 755 "$RAWLOG_ROOT"
RAWLOG=$RAWLOG_ROOT/bench
export RAWLOG_DIR=$RAWLOG_ROOT/%u
# Without COMPRESS=DEFLATE: rawlog must see plain text to count commands
# (imapdir does not use COMPRESS; mbsync would, if offered).
export NO_COMPRESS=1

# --- Dovecot + corpus --------------------------------------------------------
"$BENCH/dovecot.sh" conf "$DV" >/dev/null
MAILUSER=$(stat -c %U "$DV/mail")
log "generating the $PRESET corpus"
t0=$SECONDS
python3 "$BENCH/gen_corpus.py" "$PRESET" "$DV/mail/bench" --manifest "$WORK/manifest.json"
chown -R "$MAILUSER:" "$DV/mail"
"$BENCH/dovecot.sh" start "$DV" >/dev/null
# first access: Dovecot scans the Maildirs, assigns UIDs and writes its index
"$BENCH/dovecot.sh" doveadm "$DV" mailbox status -u bench 'messages' '*' >/dev/null
TOTAL=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["messages"])' "$WORK/manifest.json")
MBYTES=$(python3 -c 'import json,sys; print(round(json.load(open(sys.argv[1]))["bytes"]/1e6))' "$WORK/manifest.json")
NFOLDERS=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["folders"])' "$WORK/manifest.json")
mkdir -p "$WORK/pristine"
cp -al "$DV/mail" "$WORK/pristine/mail"
cp -a "$DV/index" "$DV/control" "$WORK/pristine/"
log "corpus ready: $TOTAL messages, $NFOLDERS folders, $MBYTES MB ($((SECONDS - t0)) s)"

# Restore the server to the pristine corpus.  Dovecot stays up: its imap
# processes serve one session each, so no process holds the old index.
restore_server() {
    rm -rf "$DV/mail" "$DV/index" "$DV/control"
    cp -al "$WORK/pristine/mail" "$DV/mail"
    cp -a "$WORK/pristine/index" "$WORK/pristine/control" "$DV/"
}

CONNECT_PORT=$IMAPS_PORT
if [ "$RTT" -gt 0 ]; then
    python3 "$BENCH/delay_proxy.py" --target-port "$IMAPS_PORT" --rtt "$RTT" \
        --port-file "$WORK/proxy.port" --stats "$WORK/proxy.stats" >"$WORK/proxy.log" 2>&1 &
    PROXY_PID=$!
    for _ in $(seq 50); do [ -s "$WORK/proxy.port" ] && break; sleep 0.1; done
    [ -s "$WORK/proxy.port" ] || die "delay proxy did not start"
    CONNECT_PORT=$(cat "$WORK/proxy.port")
    # The proxy stands for a remote server, but listens on loopback, where
    # imapdir would default to one connection per core: give it the
    # default it has for a remote server.
    JOBS=${JOBS:-4}
    log "delay proxy on 127.0.0.1:$CONNECT_PORT (+$RTT ms RTT)"
fi

# --- client configs ----------------------------------------------------------
echo bench > "$WORK/password"
chmod 600 "$WORK/password"
CA=$DV/ssl/cert.pem
I_DIR=$WORK/imapdir M_DIR=$WORK/mbsync-client
mkdir -p "$I_DIR" "$M_DIR"
cat > "$I_DIR/config.toml" <<EOF
[accounts.bench]
host = "127.0.0.1"
port = $CONNECT_PORT
tls = "tls"
ca_file = "$CA"
user = "bench"
password_file = "$WORK/password"
maildir = "$I_DIR/Mail"
state_file = "$I_DIR/state.sqlite"
$([ -n "$JOBS" ] && echo "jobs = $JOBS")
EOF
# mbsync 1.4 matches the certificate against the host name only (not IP
# SANs), so it connects to "localhost"; /etc/hosts maps it to 127.0.0.1.
cat > "$M_DIR/mbsyncrc" <<EOF
IMAPAccount bench
Host localhost
Port $CONNECT_PORT
User bench
Pass bench
SSLType IMAPS
CertificateFile $CA

IMAPStore remote
Account bench

MaildirStore local
SubFolders Verbatim
Path $M_DIR/mbsync/
Inbox $M_DIR/mbsync/INBOX

Channel bench
Far :remote:
Near :local:
Patterns *
Create Both
Expunge Both
SyncState *
EOF

local_root() { case "$1" in imapdir) echo "$I_DIR/Mail" ;; mbsync) echo "$M_DIR/mbsync" ;; esac; }
# The previous run's Maildir is moved aside, not deleted: ext4 skips inodes
# freed in the last 30 seconds when it allocates new ones, and after 20,000
# deletions that search costs seconds of kernel time, in whichever tool
# happens to run next.  The work dir (and this trash) goes at the end.
TRASH=$WORK/trash
reset_client() {
    mkdir -p "$TRASH"
    local aside; aside=$(mktemp -d "$TRASH/$1.XXXXXX")
    case "$1" in
        imapdir)
            [ -d "$I_DIR/Mail" ] && mv "$I_DIR/Mail" "$aside/"
            rm -f "$I_DIR"/state.sqlite*
            mkdir -p "$I_DIR/Mail" ;;
        mbsync)
            [ -d "$M_DIR/mbsync" ] && mv "$M_DIR/mbsync" "$aside/"
            mkdir -p "$M_DIR/mbsync" ;;
    esac
}
sync_cmd() {
    case "$1" in
        imapdir) echo "$IMAPDIR --config $I_DIR/config.toml sync" ;;
        mbsync) echo "$MBSYNC -c $M_DIR/mbsyncrc -a" ;;
    esac
}

RESULTS=$WORK/results.tsv
LOCAL_RESULTS=$WORK/local.tsv
printf 'tool\trun\tstate_bytes\tstatus_wall\tstatus_rss_kb\n' > "$LOCAL_RESULTS"
printf 'tool\tstep\trun\twall\tuser\tsys\trss_kb\tcmds\tsessions\tcheck\tbytes_up\tbytes_down\twaits\tspan_rtts\n' > "$RESULTS"

# The moves of (e) and (f): two folders with more than 1,000 messages in
# the medium preset (7,000 and 2,000), whose names are the same in both
# tools' Maildirs.
MOVE_A=INBOX MOVE_B=Sent MOVE_MAX=1000

# timed TOOL STEP RUN EXPECTED_MESSAGES [EXPECTED_FOLDERS]
# EXPECTED_FOLDERS ("A=n B=m") are message counts both sides must hold
# per folder, as mutate.py count-folders prints them.
# With COUNTING=1 (run "count"): log the session, count its commands into
# $WORK/counts-TOOL-STEP, record nothing else.  Otherwise: time it, without
# the log, and take the command counts from the counting pass.
COUNTING=0
timed() {
    local tool=$1 step=$2 run=$3 expect=$4 efolders=${5:-} tf=$WORK/time.out out=$WORK/$1-$2-$3.log rc=0
    rm -rf "$RAWLOG"
    if [ "$COUNTING" = 1 ]; then
        mkdir -p "$RAWLOG"
        chown "$MAILUSER:" "$RAWLOG"
    fi
    sync   # flush dirty pages now, not inside the timed sync (imapdir calls syncfs)
    : > "$WORK/proxy.stats"
    # shellcheck disable=SC2046
    /usr/bin/time -f '%e %U %S %M' -o "$tf" $(sync_cmd "$tool") >"$out" 2>&1 || rc=$?
    if [ "$rc" != 0 ]; then
        tail -20 "$out" >&2
        die "$tool sync ($step, run $run) exited with $rc; log: $out"
    fi
    local wall user sys rss
    read -r wall user sys rss < <(tail -1 "$tf")
    # Through the proxy: the waits of all connections, and the time from
    # the first connection to the end of the last in round trips (the
    # round trips on the run's critical path, plus any time the client
    # spent on its own work meanwhile).
    local waits=- span=-
    if [ "$RTT" -gt 0 ]; then
        sleep 0.2   # the proxy notes a connection once both ends closed
        read -r waits span < <(python3 -c '
import sys
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
rtt = float(sys.argv[2]) / 1000
if not rows:
    print("0 0")
else:
    span = max(float(r[1]) for r in rows) - min(float(r[0]) for r in rows)
    print(sum(int(r[2]) for r in rows), f"{span / rtt:.1f}")' "$WORK/proxy.stats" "$RTT")
    fi
    if [ "$COUNTING" = 1 ]; then
        local counts; counts=$(python3 "$BENCH/imap_cmds.py" "$RAWLOG" --json)
        if [ -n "$KEEP" ]; then
            mkdir -p "$WORK/rawlogs/$tool-$step"
            cp "$RAWLOG/"* "$WORK/rawlogs/$tool-$step/" 2>/dev/null || true
        fi
        rm -rf "$RAWLOG"
        # report.py lists the per-command breakdown of "run 1"
        echo "$counts" > "$WORK/cmds-$tool-$step-1.json"
        python3 -c 'import json,sys; d=json.loads(sys.argv[1]); print(d["commands"], d["sessions"], d["bytes_up"], d["bytes_down"])' \
            "$counts" > "$WORK/counts-$tool-$step"
    fi
    local ncmd nsess bup bdown
    read -r ncmd nsess bup bdown < "$WORK/counts-$tool-$step"
    # correctness: both sides hold the expected messages, with the same flags
    local l s check=ok
    l=$(python3 "$BENCH/mutate.py" count "$(local_root "$tool")")
    s=$(python3 "$BENCH/mutate.py" server-count --port "$IMAP_PORT")
    if [ "${l%% *}" != "$expect" ] || [ "${s%% *}" != "$expect" ]; then
        die "$tool ($step, run $run): expected $expect messages, local has ${l%% *}, server ${s%% *}; log: $out"
    fi
    if [ -n "$efolders" ]; then
        local names lf sf
        names=$(for kv in $efolders; do echo "${kv%=*}"; done)
        # shellcheck disable=SC2086
        lf=$(python3 "$BENCH/mutate.py" count-folders "$(local_root "$tool")" $names)
        # shellcheck disable=SC2086
        sf=$(python3 "$BENCH/mutate.py" server-count-folders --port "$IMAP_PORT" $names)
        if [ "$lf" != "$efolders" ] || [ "$sf" != "$efolders" ]; then
            die "$tool ($step, run $run): expected $efolders, local has $lf, server $sf; log: $out"
        fi
    fi
    if [ "$l" != "$s" ]; then
        log "WARNING: $tool ($step, run $run): local (messages flagged seen) = $l, server = $s"
        check=flags-differ
    fi
    if [ "$COUNTING" = 1 ]; then
        log "$tool $step (counting pass): $ncmd commands, $nsess connection(s), $bup bytes up, $bdown down [$check]"
        return
    fi
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$tool" "$step" "$run" \
        "$wall" "$user" "$sys" "$rss" "$ncmd" "$nsess" "$check" "$bup" "$bdown" "$waits" "$span" >> "$RESULTS"
    log "$tool $step run $run: ${wall}s wall, ${user}u+${sys}s CPU, ${rss} KB, $ncmd commands, $nsess connection(s), waits $waits, span $span RTT [$check]"
}

# local_costs TOOL RUN: the sync state's size on disk and, for imapdir,
# `status --offline` (wall time and peak RSS) after the no-change sync.
local_costs() {
    local tool=$1 run=$2 bytes wall=- rss=- tf=$WORK/time.out
    case "$tool" in
        imapdir)
            bytes=$(cat "$I_DIR"/state.sqlite* | wc -c)
            /usr/bin/time -f '%e %U %S %M' -o "$tf" "$IMAPDIR" --config "$I_DIR/config.toml" \
                status --offline >"$WORK/status.out" 2>&1 || die "imapdir status --offline failed: $(tail -5 "$WORK/status.out")"
            read -r wall _ _ rss < <(tail -1 "$tf") ;;
        mbsync)
            bytes=$(find "$M_DIR/mbsync" \( -name '.mbsyncstate*' -o -name '.uidvalidity' \) -type f -print0 |
                xargs -0 cat | wc -c) ;;
    esac
    printf '%s\t%s\t%s\t%s\t%s\n' "$tool" "$run" "$bytes" "$wall" "$rss" >> "$LOCAL_RESULTS"
    log "$tool state $bytes bytes ($((bytes / TOTAL)) per message); status --offline ${wall}s, ${rss} KB"
}

# --- the runs ------------------------------------------------------------------
# sequence TOOL RUN SEED: steps (a) to (f) from the pristine corpus.
# mbsync keeps its own UIDs in the file names (",U=n"): a file moved with
# its name stops it ("Maildir error: duplicate UID"), so for mbsync the
# move drops that part, as its manual asks of a mail reader.
MOVES_E= MOVES_F=
sequence() {
    local tool=$1 run=$2 seed=$3 expect msg
    restore_server
    reset_client "$tool"
    timed "$tool" a "$run" "$TOTAL"
    timed "$tool" b "$run" "$TOTAL"
    [ "$COUNTING" = 1 ] || local_costs "$tool" "$run"
    python3 "$BENCH/mutate.py" server --port "$IMAP_PORT" --seed "$seed" >/dev/null
    timed "$tool" c "$run" $((TOTAL + 10 - 20))
    python3 "$BENCH/mutate.py" local "$(local_root "$tool")" --seed "$seed" >/dev/null
    timed "$tool" d "$run" $((TOTAL - 10 - 20))
    expect=$(python3 "$BENCH/mutate.py" local-move "$(local_root "$tool")" \
        $([ "$tool" = mbsync ] && echo --strip-uid) --from "$MOVE_A" --to "$MOVE_B" --max "$MOVE_MAX" --seed "$seed" 2>"$WORK/move.msg") ||
        { cat "$WORK/move.msg" >&2; die "mutate.py local-move failed"; }
    msg=$(cat "$WORK/move.msg"); MOVES_E=${msg#local: }
    timed "$tool" e "$run" $((TOTAL - 10 - 20)) "$expect"
    expect=$(python3 "$BENCH/mutate.py" server-move --port "$IMAP_PORT" \
        --from "$MOVE_B" --to "$MOVE_A" --max "$MOVE_MAX" --seed "$seed" 2>"$WORK/move.msg") ||
        { cat "$WORK/move.msg" >&2; die "mutate.py server-move failed"; }
    msg=$(cat "$WORK/move.msg"); MOVES_F=${msg#server: }
    timed "$tool" f "$run" $((TOTAL - 10 - 20)) "$expect"
}

# The yardstick for (a): stream_client.py, the plainest first sync (LIST,
# then UID FETCH 1:* BODY.PEEK[] per folder into files, over as many
# connections as imapdir uses, one sync() at the end).
stream_first_sync() {
    local run=$1 out=$WORK/stream-client tf=$WORK/time.out rc=0 conns=${JOBS:-4}
    restore_server
    mkdir -p "$TRASH"
    if [ -d "$out" ]; then mv "$out" "$(mktemp -d "$TRASH/stream.XXXXXX")/"; fi
    sync
    /usr/bin/time -f '%e %U %S %M' -o "$tf" python3 "$BENCH/stream_client.py" \
        --port "$CONNECT_PORT" --ca "$CA" --user bench --password bench \
        --out "$out" --connections "$conns" >"$WORK/stream.log" 2>&1 || rc=$?
    [ "$rc" = 0 ] || { cat "$WORK/stream.log" >&2; die "stream_client.py failed"; }
    local got wall user sys rss
    read -r got _ _ < "$WORK/stream.log"
    [ "$got" = "$TOTAL" ] || die "stream_client.py fetched $got of $TOTAL messages"
    read -r wall user sys rss < <(tail -1 "$tf")
    printf 'stream\ta\t%s\t%s\t%s\t%s\t%s\t-\t%s\tok\t-\t-\t-\t-\n' "$run" \
        "$wall" "$user" "$sys" "$rss" "$conns" >> "$RESULTS"
    log "stream_client a run $run: ${wall}s wall, ${user}u+${sys}s CPU, $conns connection(s)"
}

COUNTING=1
for tool in imapdir mbsync; do sequence "$tool" count 1; done
COUNTING=0
for run in $(seq 1 "$RUNS"); do
    for tool in imapdir mbsync; do sequence "$tool" "$run" "$run"; done
    stream_first_sync "$run"
done

# --- report ----------------------------------------------------------------------
CMDLINE="bench/run.sh $PRESET --runs $RUNS"
[ -z "$JOBS" ] || CMDLINE="JOBS=$JOBS $CMDLINE"
[ -z "${BENCH_TMP:-}" ] || CMDLINE="BENCH_TMP=$BENCH_TMP $CMDLINE"
if [ "$RTT" -gt 0 ]; then CMDLINE+=" --rtt $RTT"; fi
IMAPDIR_VER=$("$IMAPDIR" --version 2>/dev/null | head -1 || echo imapdir)
MBSYNC_VER=$("$MBSYNC" --version 2>/dev/null | head -1 || echo mbsync)
python3 "$BENCH/report.py" "$RESULTS" --work "$WORK" --local "$LOCAL_RESULTS" --messages "$TOTAL" \
    --title "$PRESET: $TOTAL messages, $NFOLDERS folders, $MBYTES MB; $RUNS run(s); added RTT ${RTT} ms; imapdir jobs ${JOBS:-default}" \
    --moves "(e) $MOVES_E locally; (f) $MOVES_F on the server" \
    --command "$CMDLINE" --versions "$IMAPDIR_VER; $MBSYNC_VER; dovecot $(dovecot --version | cut -d' ' -f1)" \
    ${OUT:+--md "$OUT"}
