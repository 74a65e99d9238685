# bench/wan/run's parts, sourced by it (bash). Globals it sets: site, cloud
# (namespace names), veth, pids (processes to stop), agent_pid, sshd_pid.
# Every process is started here and stopped by its PID.

MB=1000000
site="wan$$s"
cloud="wan$$c"
veth="wan$$s0"  # the site's end; the cloud's end is wan$$c0
site_ip=10.77.0.1
cloud_ip=10.77.0.2
pids=()
tick=$(getconf CLK_TCK)

now() { echo "$EPOCHREALTIME"; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.4f", b - a }'; }
in_site() { ip netns exec "$site" "$@"; }
in_cloud() { ip netns exec "$cloud" "$@"; }

# ---- processes and namespaces ---------------------------------------------------

# Starts "$@" in namespace $2 in the background with output to $1; remembers
# its PID in $started. `ip netns exec` execs the program, so the PID is the
# program's (a shell function here would put a subshell in between).
start() {
  local log=$1 ns=$2; shift 2
  ip netns exec "$ns" "$@" > "$log" 2>&1 &
  started=$!
  pids+=("$started")
}

# Waits up to $3 seconds for $2 (a grep -E pattern) in log $1.
wait_for_line() {
  local deadline=$((SECONDS + $3))
  until grep -qE "$2" "$1" 2>/dev/null; do
    if [ $SECONDS -ge $deadline ]; then
      echo "bench/wan/run: no \"$2\" in $1 after $3 s:" >&2; tail -20 "$1" >&2; return 1
    fi
    sleep 0.05
  done
}

stop_all() {
  local p deadline
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  deadline=$((SECONDS + 5))
  for p in "${pids[@]}"; do
    while kill -0 "$p" 2>/dev/null && [ $SECONDS -lt $deadline ]; do sleep 0.05; done
    kill -KILL "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
  done
  pids=()
}

net_down() {
  stop_all
  ip netns del "$site" 2>/dev/null || true
  ip netns del "$cloud" 2>/dev/null || true
}

cleanup() {
  net_down
  [ -z "${work:-}" ] || rm -rf "$work"
}

# A namespace wan<PID>s/c whose PID no longer runs is a killed run's: its
# processes (that run's relay, agent, sshd, wan_delay) go with it.
remove_stale_namespaces() {
  local ns pid p
  for ns in $(ip netns list | awk '{print $1}' | grep -E '^wan[0-9]+[sc]$' || true); do
    pid=${ns#wan}; pid=${pid%?}
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "bench/wan/run: removing namespace $ns and its processes, left by a run that is gone (PID $pid)" >&2
      for p in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$p" 2>/dev/null || true; done
      ip netns del "$ns" 2>/dev/null || true
      rm -rf "/tmp/sealrelay-wan-$pid".*
    fi
  done
}

# The two namespaces, the veth between them, the site's uplink at $1 Mbit/s.
net_up() {
  local mbit=$1
  ip netns add "$site"
  ip netns add "$cloud"
  ip link add "$veth" netns "$site" type veth peer name "wan$$c0" netns "$cloud"
  in_site ip addr add "$site_ip/30" dev "$veth"
  in_cloud ip addr add "$cloud_ip/30" dev "wan$$c0"
  for ns in "$site" "$cloud"; do ip -n "$ns" link set lo up; done
  in_site ip link set "$veth" up
  in_cloud ip link set "wan$$c0" up
  # A token bucket at the uplink rate; its queue holds 100 ms of traffic, a
  # modest buffer of the kind a shop's router has.
  in_site tc qdisc add dev "$veth" root tbf rate "${mbit}mbit" burst 32kb latency 100ms
}

veth_tx() { in_site cat "/sys/class/net/$veth/statistics/tx_bytes"; }

# Starts wan_delay forward in the site: $1 listen, $2 target, $3 one-way ms.
start_delay_line() {
  start "$work/delay-$1.log" "$site" "$delay" forward --listen "$1" --connect "$2" --one-way-ms "$3"
  wait_for_line "$work/delay-$1.log" "^listening on" 10
}

# The RTT through the delay line, site → cloud echo server.
measure_rtt() {
  start "$work/echo.log" "$cloud" "$delay" echo --listen "$cloud_ip:7007"
  wait_for_line "$work/echo.log" "^listening on" 10
  start_delay_line "127.0.0.1:7007" "$cloud_ip:7007" "$1"
  rtt_line=$(timeout 60 ip netns exec "$site" "$delay" ping --to 127.0.0.1:7007 --count 20)
  rtt_ms=$(sed -n 's/.*echo rtt median \([0-9.]*\) ms.*/\1/p' <<< "$rtt_line")
}

cpu_ticks() { awk -v f="$2" '{ s = 0; for (i = 14; i <= f; i++) s += $i; print s }' "/proc/$1/stat"; }

# ---- corpora ---------------------------------------------------------------------

# Builds the corpora in $1 once (a .complete file records what was asked for).
make_corpora() {
  # Two runs at once: the second waits for the first's corpora.
  mkdir -p "$(dirname "$1")"
  ( flock 9; build_corpora "$1" ) 9> "$1.lock"
}

build_corpora() {
  local dir=$1 want="v1 csv=$csv_mb log=$log_mb db=$db_mb jpeg=$jpeg_mb"
  [ "$(cat "$dir/.complete" 2>/dev/null)" != "$want" ] || return 0
  echo "bench/wan/run: generating the corpora in $dir (once)" >&2
  rm -rf "$dir" && mkdir -p "$dir/tmp/logs" "$dir/tmp/photos"
  "$corpus" csv $((csv_mb * MB)) 1 > "$dir/sales.csv"
  local i n=10 size=$((log_mb * MB / 10))
  for i in $(seq -w 1 $n); do "$corpus" log "$size" $((100 + 10#$i)) > "$dir/tmp/logs/app-$i.log"; done
  # SQL row text turns into about as many bytes of database.
  "$corpus" sql $((db_mb * MB)) 3 | sqlite3 "$dir/tmp/orders.sqlite"
  mv "$dir/tmp/orders.sqlite" "$dir/orders.sqlite"
  local total=0 seed=1000
  while [ $total -lt $((jpeg_mb * MB)) ]; do
    seed=$((seed + 1))
    "$corpus" ppm 2400 1600 $seed | cjpeg -quality 85 > "$dir/tmp/photos/IMG_$seed.jpg"
    total=$((total + $(stat -c %s "$dir/tmp/photos/IMG_$seed.jpg")))
  done
  # Deterministic tars: names sorted, fixed times and owners.
  local tarflags=(--sort=name --mtime=2026-01-01 --owner=0 --group=0 --numeric-owner)
  tar -C "$dir/tmp" "${tarflags[@]}" -cf "$dir/logs.tar" logs
  tar -C "$dir/tmp" "${tarflags[@]}" -cf "$dir/photos.tar" photos
  "$corpus" csv 1024 9 | head -c 1024 > "$dir/small.csv"
  rm -rf "$dir/tmp"
  echo "$want" > "$dir/.complete"
}

files=(sales.csv logs.tar orders.sqlite photos.tar)

describe_corpora() {
  local f
  echo "Corpora (bench/wan/corpus.h, seeded; in $1):"
  echo
  echo "| file | bytes | what |"
  echo "|---|---|---|"
  for f in "${files[@]}"; do
    case $f in
      sales.csv) what="point-of-sale export: dates, stores, SKUs, descriptions, amounts" ;;
      logs.tar) what="10 application logs (access and service lines), one tar" ;;
      orders.sqlite) what="SQLite database: orders and customers tables, one index (sqlite3)" ;;
      photos.tar) what="$(tar -tf "$1/photos.tar" | grep -c jpg) JPEG photos (cjpeg -quality 85), one tar" ;;
    esac
    echo "| $f | $(stat -c %s "$1/$f") | $what |"
  done
  echo
}

# ---- sealrelay --------------------------------------------------------------------

compression_support() {
  cli_compress=0
  agent_compress=0
  "$cli" get --help 2>/dev/null | grep -q -- '--compress' && cli_compress=1
  "$agent" run --help 2>/dev/null | grep -q -- '--compress' && agent_compress=1
  if [ $cli_compress -eq 1 ] && [ $agent_compress -eq 1 ]; then
    modes=(auto off)
    echo "sealrelay: this build has compression (sealrelay get --compress auto|off)."
  else
    modes=(off)
    echo "sealrelay: compression: not in this build (no --compress in sealrelay get --help / sealrelay-agent run --help); the 'off' rows are today's uncompressed transfers."
  fi
  echo
}

# Tokens, keys and trust for one agent (shop-1, share s = the corpora).
prepare_sealrelay() {
  local w=$1
  mkdir -p "$w/relay" "$w/cli"
  "$relay" --state-dir "$w/relay" token add-agent shop-1 2>/dev/null > "$w/agent.token"
  "$relay" --state-dir "$w/relay" token add-requester bench --agents '*' 2>/dev/null > "$w/requester.token"
  chmod 600 "$w"/*.token
  "$agent" init --state-dir "$w/agent" > /dev/null
  SEALRELAY_HOME="$w/cli" "$cli" keygen > /dev/null
  echo "$(sed -n 's/^public=//p' "$w/cli/identity.key") bench" >> "$w/agent/authorized_requesters"
  cli_env=(env SEALRELAY_HOME="$w/cli" SEALRELAY_URL="http://127.0.0.1:8080" SEALRELAY_TOKEN_FILE="$w/requester.token")
}

# The relay in the cloud, the agent in the site behind the delay line.
start_sealrelay() {
  local one_way=$1
  start "$work/relay.log" "$cloud" "$relay" --state-dir "$work/relay" --listen "0.0.0.0:8080"
  wait_for_line "$work/relay.log" "listening on" 30
  start_delay_line "127.0.0.1:8080" "$cloud_ip:8080" "$one_way"
  start "$work/agent.log" "$site" "$agent" run --state-dir "$work/agent" --relay-url http://127.0.0.1:8080 \
    --token-file "$work/agent.token" --share "s=$2"
  agent_pid=$started
  local deadline=$((SECONDS + 30))
  until timeout 10 ip netns exec "$cloud" "${cli_env[@]}" "$cli" --json agents 2>/dev/null | grep -q '"online":true'; do
    [ $SECONDS -lt $deadline ] || { echo "bench/wan/run: the agent did not come online:" >&2; tail "$work/agent.log" >&2; return 1; }
    sleep 0.1
  done
  # First contact pins the agent's key, outside any measurement.
  timeout 60 ip netns exec "$cloud" "${cli_env[@]}" "$cli" --quiet ls shop-1:/s > "$work/pin.log" 2>&1
}

# ---- rsync over a private sshd ---------------------------------------------------------

prepare_ssh() {
  local s=$1/ssh
  mkdir -p "$s" && chmod 700 "$s"
  ssh-keygen -q -t ed25519 -N '' -f "$s/host" -C wan-bench-host
  ssh-keygen -q -t ed25519 -N '' -f "$s/id" -C wan-bench-client
  cp "$s/id.pub" "$s/authorized_keys"
  echo "$site_ip $(cut -d' ' -f1,2 "$s/host.pub")" > "$s/known_hosts"
  cat > "$s/sshd_config" <<CONF
Port 2222
ListenAddress 127.0.0.1
HostKey $s/host
PidFile none
AuthorizedKeysFile $s/authorized_keys
StrictModes no
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
LogLevel INFO
CONF
  ssh_cmd="ssh -F none -p 22 -i $s/id -o UserKnownHostsFile=$s/known_hosts -o GlobalKnownHostsFile=/dev/null"
  ssh_cmd+=" -o StrictHostKeyChecking=yes -o BatchMode=yes -o Compression=no"
  # sshd refuses to start without its privilege separation directory.
  [ -d /run/sshd ] || mkdir -p -m 0755 /run/sshd
}

# sshd on the site's loopback, reached from the cloud through the delay line.
start_sshd() {
  start "$work/sshd.log" "$site" /usr/sbin/sshd -D -e -f "$work/ssh/sshd_config"
  sshd_pid=$started
  wait_for_line "$work/sshd.log" "Server listening on" 10
  start_delay_line "$site_ip:22" "127.0.0.1:2222" "$1"
}

# ---- measurements ---------------------------------------------------------------------

declare -A r_s r_wire r_cpu r_ok

# Records one copy: $1 key, $2 $3 start/end times, $4 wire bytes, $5 CPU ticks,
# $6 exit code, $7 the copy, $8 the original.
record() {
  r_s[$1]=$(elapsed "$2" "$3")
  r_wire[$1]=$4
  r_cpu[$1]=$(awk -v t="$5" -v hz="$tick" 'BEGIN { printf "%.2f", t / hz }')
  if [ "$6" -eq 0 ] && cmp -s "$7" "$8"; then r_ok[$1]=yes; else r_ok[$1]="NO (exit $6)"; fi
  rm -rf "$(dirname "$7")"
}

# Runs "$@" bounded by $2 seconds, stderr appended to $1; sets rc. In the
# background with `wait`, so that a signal to the bench is handled at once
# (bash runs a trap only after a foreground command ends) and the cleanup
# stops it by PID.
measured() {
  local log=$1 seconds=$2; shift 2
  timeout "$seconds" "$@" 2>> "$log" &
  pids+=($!)
  rc=0
  wait $! || { rc=$?; tail -5 "$log" >&2; }
  unset 'pids[-1]'
}

# Generous: four times the file at the link's rate, plus two minutes.
bound_for() { echo $(( $(stat -c %s "$1") * 8 * 4 / ($2 * 1000000) + 120 )); }

get_sealrelay() {
  local file=$1 mode=$2 mbit=$3 out=$work/out
  rm -rf "$out" && mkdir -p "$out"
  local args=(--quiet get "shop-1:/s/$file" -o "$out/")
  [ $cli_compress -eq 0 ] || args+=(--compress "$mode")
  local cpu0 tx0 t0 t1
  cpu0=$(cpu_ticks "$agent_pid" 15); tx0=$(veth_tx); t0=$(now)
  measured "$work/cli.log" "$(bound_for "$cache/$file" "$mbit")" ip netns exec "$cloud" "${cli_env[@]}" "$cli" "${args[@]}"
  t1=$(now)
  record "$file|sealrelay $mode" "$t0" "$t1" $(( $(veth_tx) - tx0 )) $(( $(cpu_ticks "$agent_pid" 15) - cpu0 )) \
    $rc "$out/$file" "$cache/$file"
}

# The sending side's CPU of rsync: everything the private sshd reaped (its
# session processes, ssh's encryption, the rsync sender), once they are gone.
sshd_ticks() {
  local deadline=$((SECONDS + 10))
  while [ -n "$(pgrep -P "$sshd_pid" || true)" ] && [ $SECONDS -lt $deadline ]; do sleep 0.05; done
  cpu_ticks "$sshd_pid" 17
}

get_rsync() {
  local file=$1 mbit=$2 out=$work/out
  rm -rf "$out" && mkdir -p "$out"
  local cpu0 tx0 t0 t1
  cpu0=$(sshd_ticks); tx0=$(veth_tx); t0=$(now)
  measured "$work/rsync.log" "$(bound_for "$cache/$file" "$mbit")" ip netns exec "$cloud" rsync -az -e "$ssh_cmd" \
    "root@$site_ip:$cache/$file" "$out/"
  t1=$(now)
  record "$file|rsync -az" "$t0" "$t1" $(( $(veth_tx) - tx0 )) $(( $(sshd_ticks) - cpu0 )) $rc "$out/$file" \
    "$cache/$file"
}

# Time to the first plaintext byte of a 1 KiB get: exec of the CLI to its
# first {"event":"progress"} line with bytes > 0. Sets ttfb_ms (median of
# $1) and total_ms.
ttfb() {
  local n=$1 i firsts=() totals=() line t0 first t1
  for i in $(seq "$n"); do
    rm -rf "$work/out" && mkdir -p "$work/out"
    first=""
    t0=$(now)
    while IFS= read -r line; do
      if [ -z "$first" ] && [[ $line == *'"event":"progress"'* ]] && [[ $line != *'"bytes":0,'* ]]; then first=$(now); fi
    done < <(timeout 60 ip netns exec "$cloud" "${cli_env[@]}" "$cli" --json get shop-1:/s/small.csv -o "$work/out/" \
               2>> "$work/cli.log")
    t1=$(now)
    cmp -s "$work/out/small.csv" "$cache/small.csv" || { echo "bench/wan/run: the 1 KiB get failed" >&2; return 1; }
    [ -n "$first" ] || first=$t1
    firsts+=("$(elapsed "$t0" "$first")"); totals+=("$(elapsed "$t0" "$t1")")
  done
  ttfb_ms=$(printf '%s\n' "${firsts[@]}" | sort -n | awk '{ a[NR] = $1 * 1000 } END { printf "%.0f", a[int((NR + 1) / 2)] }')
  total_ms=$(printf '%s\n' "${totals[@]}" | sort -n | awk '{ a[NR] = $1 * 1000 } END { printf "%.0f", a[int((NR + 1) / 2)] }')
  ttfb_min=$(printf '%s\n' "${firsts[@]}" | sort -n | awk 'NR == 1 { printf "%.0f", $1 * 1000 }')
  ttfb_all=$(printf '%s\n' "${firsts[@]}" | awk '{ printf "%s%.0f", (NR > 1 ? ", " : ""), $1 * 1000 }')
}

# ---- one profile ---------------------------------------------------------------------

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "×%.2f", a / b; else print "—" }'; }

# One row: $1 file, $2 tool, $3 link Mbit/s.
row() {
  local k="$1|$2" size s wire
  size=$(stat -c %s "$cache/$1")
  s=${r_s[$k]}; wire=${r_wire[$k]}
  local off="${r_s[$1|sealrelay off]:-}" rs="${r_s[$1|rsync -az]:-}"
  awk -v f="$1" -v t="$2" -v size="$size" -v s="$s" -v wire="$wire" -v mbit="$3" -v cpu="${r_cpu[$k]}" \
      -v ok="${r_ok[$k]}" -v off="$off" -v rs="$rs" 'BEGIN {
    vs_off = (off != "" && s > 0) ? sprintf("×%.2f", off / s) : "—"
    vs_rs = (rs != "" && s > 0) ? sprintf("×%.2f", rs / s) : "—"
    printf "| %s | %s | %.2f | %.2f | %.1f | %.0f %% | %.2f | %s | %s | %s |\n", f, t, s, size / s / 1e6, wire / 1e6,
      100 * wire * 8 / s / (mbit * 1e6), cpu, vs_off, vs_rs, ok }'
}

print_profile() {
  local mbit=$1 f t
  echo "| file | tool | s to the last verified byte | MB/s of file | MB on the wire | link use | sender CPU-s | speed vs sealrelay off | speed vs rsync -az | verified |"
  echo "|---|---|---|---|---|---|---|---|---|---|"
  for f in "${files[@]}"; do
    for t in "${modes[@]}"; do row "$f" "sealrelay $t" "$mbit"; done
    [ ${#modes[@]} -gt 1 ] || echo "| $f | sealrelay auto | compression: not in this build | | | | | | | |"
    if [ $have_rsync -eq 1 ]; then row "$f" "rsync -az" "$mbit"; else echo "| $f | rsync -az | skipped: no sshd/rsync (scripts/setup installs them) | | | | | | | |"; fi
  done
}

# Issue 18's targets, each with what this run measured (figures, not tests).
print_targets() {
  local mbit=$1 f on=0 photos_size
  [ ${#modes[@]} -gt 1 ] && on=1
  echo "Against issue 18's targets (${mbit} Mbit/s, ${rtt_ms} ms):"
  echo
  for f in sales.csv logs.tar; do
    if [ $on -eq 1 ]; then
      echo "- $f: auto vs off $(ratio "${r_s[$f|sealrelay off]}" "${r_s[$f|sealrelay auto]}") (target ≥ ×3), auto vs rsync -az $(ratio "${r_s[$f|rsync -az]:-0}" "${r_s[$f|sealrelay auto]}") (target ≥ ×1)"
    else
      echo "- $f: compression not in this build; off vs rsync -az $(ratio "${r_s[$f|rsync -az]:-0}" "${r_s[$f|sealrelay off]}") (the target for auto: ≥ ×3 off and ≥ ×1 rsync)"
    fi
  done
  if [ $on -eq 1 ]; then
    echo "- photos.tar: auto takes $(ratio "${r_s[photos.tar|sealrelay auto]}" "${r_s[photos.tar|sealrelay off]}") the time of off (target ≤ ×1.05)"
  else
    echo "- photos.tar: auto vs off: compression not in this build (target: within 5 %)"
  fi
  photos_size=$(stat -c %s "$cache/photos.tar")
  awk -v size="$photos_size" -v s="${r_s[photos.tar|sealrelay off]}" -v wire="${r_wire[photos.tar|sealrelay off]}" -v mbit="$mbit" 'BEGIN {
    printf "- incompressible (photos.tar, off): %.0f %% of the link on the wire, %.0f %% as file bytes (target ≥ 90 %%)\n",
      100 * wire * 8 / s / (mbit * 1e6), 100 * size * 8 / s / (mbit * 1e6) }'
  echo "- 1 KiB get, first plaintext byte: $(awk -v a="$ttfb_ms" -v b="$rtt_ms" 'BEGIN { printf "%.1f", a / b }') round trips (median), $(awk -v a="$ttfb_min" -v b="$rtt_ms" 'BEGIN { printf "%.1f", a / b }') (fastest) (target ≤ 4 at 40 ms; docs/performance.md counts them)"
  echo
}

run_profile() {
  local mbit=$1 rtt=$2 cache=$3 one_way=$(( $2 / 2 )) f m k
  r_s=() r_wire=() r_cpu=() r_ok=()
  net_up "$mbit"
  measure_rtt "$one_way"
  start_sealrelay "$one_way" "$cache"
  [ $have_rsync -eq 0 ] || start_sshd "$one_way"
  echo "## ${mbit} Mbit/s up, ${rtt} ms round trip"
  echo
  echo "Link: tc tbf ${mbit}mbit (burst 32kb, latency 100ms) on the site's veth; wan_delay ${one_way} ms each way."
  echo "Measured RTT site → cloud through wan_delay: $rtt_line."
  echo
  if [ -z "$only" ]; then
    for f in "${files[@]}"; do
      for m in "${modes[@]}"; do get_sealrelay "$f" "$m" "$mbit"; done
      [ $have_rsync -eq 0 ] || get_rsync "$f" "$mbit"
    done
    print_profile "$mbit"
    echo
  fi
  ttfb 9
  echo "1 KiB get (9 runs, CLI exec → first plaintext byte): median ${ttfb_ms} ms = $(awk -v a="$ttfb_ms" -v b="$rtt_ms" 'BEGIN { printf "%.1f", a / b }') round trips of ${rtt_ms} ms, fastest ${ttfb_min} ms = $(awk -v a="$ttfb_min" -v b="$rtt_ms" 'BEGIN { printf "%.1f", a / b }') [${ttfb_all}]; exit after ${total_ms} ms (median)."
  echo
  [ -n "$only" ] || print_targets "$mbit"
  for k in "${!r_ok[@]}"; do [ "${r_ok[$k]}" = yes ] || failed=1; done
  net_down
}
