# The launcher: a small long-lived python3 process that starts delivery commands for the relay
# (src-relay/spawner-launcher.ts). Node's spawn forks the whole relay process per mail, copying its page tables
# and stalling its event loop until the child has exec'd; os.posix_spawn uses glibc's vfork-style clone, which
# copies nothing (figures: docs/benchmark.md).
#
# The relay reads this file as text and runs `python3 -I -c TEXT SOCKET_PATH` (isolated: no PYTHON* variables,
# no user site), with a pipe on stdin and one on stdout; as text, it works from inside a packaged app archive too.
# Protocol:
# - First the relay writes its environment on stdin: 8 hex digits (length), then "NAME=value" entries separated
#   by NUL. It replaces the launcher's own, which python (C-locale coercion) or a wrapper such as a pyenv shim
#   may have changed; it is also the PATH the command is looked up in.
# - The relay connects to SOCKET_PATH once per command and sends 8 hex digits (payload length), then the payload
#   "ID\0ARGV0\0ARGV1..."; whatever follows on that connection is the command's stdin.
# - The command runs with no shell (PATH lookup like execvp), as the leader of its own process group, with that
#   connection as its stdin, a pipe to the launcher as its stdout and stderr, every signal at its default and none
#   blocked, and the launcher's environment (the relay's, as it was when the launcher started).
# - The launcher reads that pipe itself and keeps its last OUTPUT_TAIL bytes. So the relay handles one socket per
#   mail, and reads msmtp's words only when there are some (msmtp says nothing when it succeeds); and a command that
#   exits before reading its mail cannot take its error message with it when the relay's next write fails (Node
#   drops a socket whose write failed, with what was still unread on it).
# - On stdout: "R" once listening; per command "S ID PID" (running; held back up to START_REPORT_DELAY, see
#   there) or "F ID ERRNO" (could not start), then
#   "X PID CODE SIGNAL OUTPUT" when it exited (exit code, or the number of the signal that killed it; OUTPUT is
#   what it wrote, hex, or "-" for nothing). Everything the command wrote before it exited is in the pipe by then.
# - EOF on stdin (the relay is gone or done) ends the launcher, which removes the socket and its directory;
#   running commands are left alone.
import os, selectors, signal, socket, sys, time
if not hasattr(os, 'posix_spawnp'):
    sys.exit('launcher: python 3.8 or newer is needed')

# What the relay keeps of a command's output is its last 2 KiB; more is kept here for callers that read it all.
OUTPUT_TAIL = 64 * 1024

def read_stdin_exactly(size):
    data = b''
    while len(data) < size:
        chunk = os.read(0, size - len(data))
        if not chunk:
            sys.exit(0)
        data += chunk
    return data

environment = read_stdin_exactly(int(read_stdin_exactly(8), 16)).split(b'\0')
os.environ.clear()
for entry in filter(None, environment):
    name, _, value = entry.partition(b'=')
    os.environ[os.fsdecode(name)] = os.fsdecode(value)
path = sys.argv[1]
server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
server.bind(path)
server.listen(128)
# SIGCHLD writes a byte to this pipe (at C level, so no wake-up is ever lost while the selector waits).
wake_r, wake_w = os.pipe()
os.set_blocking(wake_r, False)
os.set_blocking(wake_w, False)
signal.set_wakeup_fd(wake_w)
signal.signal(signal.SIGCHLD, lambda *_: None)
# python ignores SIGPIPE and SIGXFSZ itself; a command must start with every signal at its default.
DEFAULT_SIGNALS = signal.valid_signals() - {signal.SIGKILL, signal.SIGSTOP}
selector = selectors.DefaultSelector()

# Lines for the relay, written together once per turn of the loop: one read, one wake-up for the relay.
lines = []

def report(line):
    lines.append(line)

def flush_reports():
    if lines:
        os.write(1, ('\n'.join(lines) + '\n').encode())
        lines.clear()

# "S" lines held back a moment (pid -> [due time, line]): a command that exits by then (msmtp, mostly) has its
# start and its exit reported in one write, and the relay wakes once per mail instead of twice. The relay needs
# the pid only to kill a command it gave up on, and until it has it the command keeps its stdin open (no EOF):
# such a kill comes at most START_REPORT_DELAY later.
START_REPORT_DELAY = 0.05
held_starts = {}

def release_due_starts(now):
    for pid, (due, line) in list(held_starts.items()):
        if due <= now:
            del held_starts[pid]
            report(line)

def read_exactly(conn, size):
    data = b''
    while len(data) < size:
        chunk = conn.recv(size - len(data))
        if not chunk:
            raise EOFError
        data += chunk
    return data

class Output:
    """The read end of a command's stdout/stderr pipe and the tail of what came through it."""
    def __init__(self, fd):
        self.fd = fd
        self.data = b''

    def read(self):
        """Reads what is there: 'data', 'empty' (nothing now) or 'eof'."""
        try:
            chunk = os.read(self.fd, 65536)
        except BlockingIOError:
            return 'empty'
        if not chunk:
            return 'eof'
        self.data = (self.data + chunk)[-OUTPUT_TAIL:]
        return 'data'

    def close(self):
        if self.fd is not None:
            selector.unregister(self.fd)
            os.close(self.fd)
            self.fd = None

# Output pipes of running commands, by pid.
outputs = {}

def launch(conn):
    conn.settimeout(5)  # a peer that sends no request cannot hold the launcher
    try:
        payload = read_exactly(conn, int(read_exactly(conn, 8), 16))
    except (OSError, ValueError, EOFError):
        return
    conn.setblocking(True)  # the command gets this socket as stdin: it must block like a pipe
    request_id, *argv = payload.split(b'\0')
    request_id = request_id.decode('ascii', 'replace')
    if not request_id.isdigit() or not argv or not argv[0]:
        return
    out_r, out_w = os.pipe()
    try:
        pid = os.posix_spawnp(
            argv[0], argv, os.environ,
            file_actions=[(os.POSIX_SPAWN_DUP2, conn.fileno(), 0), (os.POSIX_SPAWN_DUP2, out_w, 1), (os.POSIX_SPAWN_DUP2, out_w, 2)],
            setpgroup=0, setsigmask=(), setsigdef=DEFAULT_SIGNALS)
    except OSError as error:
        os.close(out_r)
        report('F %s %d' % (request_id, error.errno))
        return
    finally:
        os.close(out_w)
    os.set_blocking(out_r, False)
    output = Output(out_r)
    outputs[pid] = output
    selector.register(out_r, selectors.EVENT_READ, output)
    held_starts[pid] = [time.monotonic() + START_REPORT_DELAY, 'S %s %d' % (request_id, pid)]

def reap():
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else 0
        signum = os.WTERMSIG(status) if os.WIFSIGNALED(status) else 0
        output = outputs.pop(pid, None)
        data = b''
        if output:
            # All it wrote is in the pipe now. A background grandchild that still holds the pipe is not waited
            # for, and one that floods it is read only so far.
            for _ in range(16):
                if output.fd is None or output.read() != 'data':
                    break
            output.close()
            data = output.data
        held = held_starts.pop(pid, None)
        if held:
            report(held[1])
        report('X %d %d %d %s' % (pid, code, signum, data.hex() or '-'))

def serve():
    selector.register(0, selectors.EVENT_READ, 'relay')
    selector.register(server, selectors.EVENT_READ, 'server')
    selector.register(wake_r, selectors.EVENT_READ, 'wake')
    report('R')
    flush_reports()
    while True:
        timeout = None
        if held_starts:
            timeout = max(0, min(due for due, _ in held_starts.values()) - time.monotonic())
        for key, _ in selector.select(timeout):
            if key.data == 'wake':
                try:
                    os.read(wake_r, 4096)
                except BlockingIOError:
                    pass
                reap()
                flush_reports()  # exits first: a mail's 250 should not wait for other commands' starts
            elif key.data == 'relay':
                if not os.read(0, 4096):
                    return
            elif key.data == 'server':
                conn = server.accept()[0]
                launch(conn)
                conn.close()  # the command holds its own copy
            elif key.data.fd is not None and key.data.read() == 'eof':
                key.data.close()  # the data stays until the exit is reported
        if held_starts:
            release_due_starts(time.monotonic())
        flush_reports()

try:
    serve()
except BrokenPipeError:
    pass  # the relay is gone (SIGPIPE is ignored in python): nobody is left to report to
finally:
    try:
        os.unlink(path)
        os.rmdir(os.path.dirname(path))  # the relay's private directory for the socket
    except OSError:
        pass  # the relay removed them already
