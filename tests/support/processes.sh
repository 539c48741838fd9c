# Process helpers for e2e scripts (source it): checking that processes ended and cleaning up after a
# test whose assertion failed half-way.

# alive PID: the process exists and is not a zombie waiting for its (new) parent to reap it
alive() { [ -r "/proc/$1/stat" ] && ! sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | grep -q '^[ZX]'; }

# kill_processes_in DIR: kills every process whose working folder is DIR or below (ones the test started)
kill_processes_in() {
    local cwd pid
    for cwd in /proc/[0-9]*/cwd; do
        case "$(readlink "$cwd" 2>/dev/null)" in
        "$1"/*) pid=${cwd#/proc/}; kill -9 "${pid%/cwd}" 2>/dev/null || true ;;
        esac
    done
}
