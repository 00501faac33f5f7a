#!/usr/bin/env python3
"""Runs a command in a pseudo-terminal and answers its prompts (OpenClaw's older CLIs read
pasted keys only from a terminal).

    ptyin.py 'PROMPT TEXT=>ANSWER' [...] -- command args...

Each answer is typed, followed by Enter, once PROMPT TEXT has appeared (ANSI codes stripped)
since the previous answer. Exits with the command's status; kills it after 180 s.
PTYIN_VERBOSE=1 prints the (ANSI-stripped) transcript tail to stderr.
"""
import fcntl
import os
import pty
import re
import select
import struct
import sys
import termios
import time

ANSI = re.compile(rb"\x1b\[[0-9;?]*[A-Za-z]")

split = sys.argv.index("--")
answers = [a.split("=>", 1) for a in sys.argv[1:split]]
cmd = sys.argv[split + 1:]
pid, fd = pty.fork()
if pid == 0:
    os.execvp(cmd[0], cmd)
fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 200, 0, 0))
out, sent, mark, start = b"", 0, 0, time.time()
while time.time() - start < 180:
    ready, _, _ = select.select([fd], [], [], 0.2)
    if ready:
        try:
            data = os.read(fd, 65536)
        except OSError:
            break
        if not data:
            break
        out += data
    if sent < len(answers):
        prompt, answer = answers[sent]
        if prompt in ANSI.sub(b"", out[mark:]).decode(errors="replace"):
            time.sleep(0.3)
            os.write(fd, answer.encode() + b"\r")
            sent, mark = sent + 1, len(out)
else:
    os.kill(pid, 9)
_, status = os.waitpid(pid, 0)
if os.environ.get("PTYIN_VERBOSE"):
    sys.stderr.write(ANSI.sub(b"", out).decode(errors="replace")[-3000:])
sys.exit(os.waitstatus_to_exitcode(status))
