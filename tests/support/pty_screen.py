#!/usr/bin/env python3
"""Runs a command under a real pseudo-terminal and replays what it wrote as a terminal would show it.

    pty_screen.py run COLUMNS ROWS RAW -- COMMAND...   # exit code of COMMAND; RAW: the bytes it wrote
    pty_screen.py screen RAW                            # the final screen, one line per row

The replay understands what caf's progress block uses (carriage return, newline, cursor up ESC[nA,
erase below ESC[J, erase line ESC[K, colours ESC[...m, which it drops) and refuses any other escape
sequence, so a test notices output it cannot account for."""
import fcntl
import os
import pty
import re
import struct
import subprocess
import sys
import termios


def run(columns, rows, raw_path, command):
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
    child = subprocess.Popen(command, stdin=slave, stdout=slave, stderr=slave, close_fds=True,
                             start_new_session=True)
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:  # EIO: every writer closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    with open(raw_path, "wb") as f:
        f.write(b"".join(chunks))
    return child.wait()


ESCAPE = re.compile(r"\x1b\[([0-9;]*)([A-Za-z])")


def screen(raw):
    lines, row, col = [""], 0, 0
    i = 0
    while i < len(raw):
        ch = raw[i]
        if ch == "\x1b":
            m = ESCAPE.match(raw, i)
            if not m:
                raise ValueError(f"unknown escape at byte {i}: {raw[i:i + 10]!r}")
            arg, op = m.group(1), m.group(2)
            if op == "A":
                row = max(0, row - int(arg or 1))
            elif op == "J":
                lines = lines[:row + 1]
                lines[row] = lines[row][:col]
            elif op == "K":
                lines[row] = lines[row][:col]
            elif op != "m":
                raise ValueError(f"unexpected escape {m.group(0)!r}")
            i = m.end()
            continue
        if ch == "\r":
            col = 0
        elif ch == "\n":
            row += 1
            col = 0
            while len(lines) <= row:
                lines.append("")
        else:
            line = lines[row].ljust(col)
            lines[row] = line[:col] + ch + line[col + 1:]
            col += 1
        i += 1
    while lines and lines[-1] == "":
        lines.pop()
    return lines


if __name__ == "__main__":
    if sys.argv[1] == "run":
        sep = sys.argv.index("--")
        sys.exit(run(int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[sep + 1:]))
    with open(sys.argv[2], encoding="utf-8", errors="replace", newline="") as f:
        print("\n".join(screen(f.read())))
