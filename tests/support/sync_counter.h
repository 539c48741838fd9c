/* Counts the sync calls libcaf makes: a test program that includes this header (in one file only) defines
 * fsync, fdatasync and syncfs itself, and its definitions take the place of libc's for every call of the
 * program and the libraries it links. Each adds one to sync_calls and makes the system call. */
#ifndef CAF_TEST_SYNC_COUNTER_H
#define CAF_TEST_SYNC_COUNTER_H

#include <sys/syscall.h>
#include <unistd.h>

static int sync_calls;

int fsync(int fd)
{
    sync_calls++;
    return (int)syscall(SYS_fsync, fd);
}

int fdatasync(int fd)
{
    sync_calls++;
    return (int)syscall(SYS_fdatasync, fd);
}

int syncfs(int fd)
{
    sync_calls++;
    return (int)syscall(SYS_syncfs, fd);
}

#endif
