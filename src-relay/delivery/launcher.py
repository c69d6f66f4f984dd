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
# - The relay connects to SOCKET_PATH twice per command, each time sending 8 hex digits (payload length), then the
#   payload: first "ID" alone (the output connection: the command's stdout and stderr), then "ID\0ARGV0\0ARGV1..."
#   (the input connection: whatever follows on it is the command's stdin). Two connections, because a command that
#   exits before it read its input makes the relay's next write fail (EPIPE, or ECONNRESET for input left unread),
#   and Node then drops the connection with whatever the command had written and was not read yet: its error
#   message. Without an output connection, the input connection is all three.
# - The command runs with no shell (PATH lookup like execvp), as the leader of its own process group, with those
#   connections as its stdin, stdout and stderr, every signal at its default and none blocked, and the launcher's
#   environment (the relay's, as it was when the launcher started).
# - On stdout: "R" once listening; per command "S ID PID" (running) or "F ID ERRNO" (could not start), then
#   "X PID CODE SIGNAL" when it exited (exit code, or the number of the signal that killed it).
# - EOF on stdin (the relay is gone or done) ends the launcher, which removes the socket and its directory;
#   running commands are left alone.
import os, select, signal, socket, sys
if not hasattr(os, 'posix_spawnp'):
    sys.exit('launcher: python 3.8 or newer is needed')

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
# SIGCHLD writes a byte to this pipe (at C level, so no wake-up is ever lost while select() waits).
wake_r, wake_w = os.pipe()
os.set_blocking(wake_r, False)
os.set_blocking(wake_w, False)
signal.set_wakeup_fd(wake_w)
signal.signal(signal.SIGCHLD, lambda *_: None)
# python ignores SIGPIPE and SIGXFSZ itself; a command must start with every signal at its default.
DEFAULT_SIGNALS = signal.valid_signals() - {signal.SIGKILL, signal.SIGSTOP}

def report(line):
    os.write(1, (line + '\n').encode())

def read_exactly(conn, size):
    data = b''
    while len(data) < size:
        chunk = conn.recv(size - len(data))
        if not chunk:
            raise EOFError
        data += chunk
    return data

# Output connections waiting for their command's input connection, by request id; bounded against a relay that
# died between the two.
outputs = {}
MAX_WAITING_OUTPUTS = 1024

def launch(conn):
    """True when the connection is kept (an output connection waiting for its command)."""
    conn.settimeout(5)  # a peer that sends no request cannot hold the launcher
    try:
        payload = read_exactly(conn, int(read_exactly(conn, 8), 16))
    except (OSError, ValueError, EOFError):
        return False
    conn.setblocking(True)  # the command gets this socket as stdin: it must block like a pipe
    request_id, *argv = payload.split(b'\0')
    request_id = request_id.decode('ascii', 'replace')
    if not request_id.isdigit():
        return False
    if not argv:
        if len(outputs) >= MAX_WAITING_OUTPUTS:
            outputs.pop(next(iter(outputs))).close()
        outputs[request_id] = conn
        return True
    output = outputs.pop(request_id, None)
    try:
        if not argv[0]:
            return False
        fd = conn.fileno()
        out_fd = output.fileno() if output else fd
        try:
            pid = os.posix_spawnp(
                argv[0], argv, os.environ,
                file_actions=[(os.POSIX_SPAWN_DUP2, fd, 0), (os.POSIX_SPAWN_DUP2, out_fd, 1), (os.POSIX_SPAWN_DUP2, out_fd, 2)],
                setpgroup=0, setsigmask=(), setsigdef=DEFAULT_SIGNALS)
        except OSError as error:
            report('F %s %d' % (request_id, error.errno))
            return False
        report('S %s %d' % (request_id, pid))
        return False
    finally:
        if output:
            output.close()

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
        report('X %d %d %d' % (pid, code, signum))

def serve():
    report('R')
    while True:
        ready = select.select([0, server, wake_r], [], [])[0]
        if wake_r in ready:
            try:
                os.read(wake_r, 4096)
            except BlockingIOError:
                pass
            reap()
        if 0 in ready and not os.read(0, 4096):
            return
        if server in ready:
            conn = server.accept()[0]
            if not launch(conn):
                conn.close()

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
