#!/usr/bin/env bash
# make install's products are usable: a program builds against the installed headers and library
# through pkg-config (shared) and through CMake's find_package (static and shared), and runs.
set -euo pipefail
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
prefix="$work/prefix"
cmake --install "$CAF_BUILD_DIR" --prefix "$prefix" >/dev/null
for f in bin/caf include/caf/iov.h include/caf/localdb.h include/caf/version.h lib/pkgconfig/caf.pc \
         lib/cmake/caf/cafConfig.cmake; do
  [ -e "$prefix/$f" ] || { echo "FAIL: make install did not install $f"; exit 1; }
done
ls "$prefix"/lib/libcaf.so* >/dev/null && ls "$prefix"/lib/libcaf.a >/dev/null
# a man page per command, made from the command's own help
for page in caf caf-db caf-process caf-jobs caf-algo caf-collector; do
  grep -q '^\.TH ' "$prefix/share/man/man1/$page.1" || { echo "FAIL: no man page $page.1"; exit 1; }
done
grep -q 'caf db query DB\.\.\. NAME EXP RUN' "$prefix/share/man/man1/caf-db.1" ||
  { echo "FAIL: caf-db.1 does not carry caf db's help"; exit 1; }

mkdir "$work/consumer"
cat >"$work/consumer/main.c" <<'C'
#include <caf/iov.h>
#include <caf/localdb.h>
#include <caf/version.h>
#include <stdio.h>
int main(int argc, char **argv)
{
    caf_iov iov;
    caf_error err = {0};
    if (caf_iov_parse("0,0,0,-1", &iov, &err) != CAF_OK)
        return 1;
    caf_localdb *db;
    if (argc < 2 || caf_localdb_open(argv[1], CAF_LOCALDB_CREATE, &db, &err) != CAF_OK)
        return 2;
    caf_db_commit *c;
    caf_db_commit_begin(db, &c, &err);
    caf_db_commit_add_bytes(c, "Consumer", "txt", "hello", 5, iov, &err);
    if (caf_db_commit_finish(c, &err) != CAF_OK)
        return 3;
    printf("%s %zu\n", CAF_VERSION_STRING, caf_localdb_entry_count(db));
    caf_localdb_close(db);
    return 0;
}
C
# A consumer of the sanitizer build must itself load the sanitizer runtimes first.
cflags=(-std=c17 -Wall -Werror)
cmake_flags=()
if [ "${CAF_SANITIZE:-OFF}" = ON ]; then
  cflags+=(-fsanitize=address,undefined)
  cmake_flags+=(-DCMAKE_C_FLAGS=-fsanitize=address,undefined)
fi
# pkg-config, shared library
export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
cc "${cflags[@]}" -o "$work/with-pkgconfig" "$work/consumer/main.c" $(pkg-config --cflags --libs caf)
LD_LIBRARY_PATH="$prefix/lib" "$work/with-pkgconfig" "$work/db1" | grep -q ' 1$'
# pkg-config, static library
cc "${cflags[@]}" -o "$work/with-pkgconfig-static" "$work/consumer/main.c" \
  $(pkg-config --cflags caf) "$prefix/lib/libcaf.a" $(pkg-config --static --libs caf | sed 's/-lcaf//')
"$work/with-pkgconfig-static" "$work/db2" | grep -q ' 1$'
# CMake package, both libraries
cat >"$work/consumer/CMakeLists.txt" <<'CM'
cmake_minimum_required(VERSION 3.18)
project(consumer C)
find_package(caf 0.1 REQUIRED)
add_executable(consumer_shared main.c)
target_link_libraries(consumer_shared PRIVATE caf::caf)
add_executable(consumer_static main.c)
target_link_libraries(consumer_static PRIVATE caf::caf_static)
CM
cmake -S "$work/consumer" -B "$work/consumer-build" -DCMAKE_PREFIX_PATH="$prefix" "${cmake_flags[@]}" >/dev/null
cmake --build "$work/consumer-build" >/dev/null
"$work/consumer-build/consumer_static" "$work/db3" | grep -q ' 1$'
LD_LIBRARY_PATH="$prefix/lib" "$work/consumer-build/consumer_shared" "$work/db3" | grep -q ' 2$'
"$prefix/bin/caf" db check "$work/db3" >/dev/null
echo "installed headers, libraries, pkg-config file and CMake package all work"
