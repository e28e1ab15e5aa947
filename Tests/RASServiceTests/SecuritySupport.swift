import Foundation
import RAS
import SystemIO
import TestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Helpers of the security tests: a raw Python client of the wire protocol that runs as
/// another user, and the daemon's memory and descriptors read from /proc.
enum Hostile {
    /// A raw client: connects to SOCKET, sends each REQUEST (a JSON object) and prints every
    /// frame until that request's answer, then keeps printing frames for LINGER seconds.
    /// `--open PATH…` instead tries to open each path for reading and writing and prints
    /// `open PATH ok` or `open PATH errno N`.
    static let client = #"""
        import json, os, socket, sys, time
        args = sys.argv[1:]
        if args[0] == '--open':
            for path in args[1:]:
                try:
                    os.close(os.open(path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK))
                    print('open %s ok' % path)
                except OSError as e:
                    print('open %s errno %d' % (path, e.errno))
            sys.exit(0)
        path, linger, requests = args[0], float(args[1]), args[2:]
        s = socket.socket(socket.AF_UNIX)
        s.connect(path)
        s.settimeout(15)
        buffer = b''
        def frames(deadline=None):
            global buffer
            while True:
                while b'\n' in buffer:
                    line, buffer = buffer.split(b'\n', 1)
                    yield line.decode()
                if deadline is not None:
                    left = deadline - time.time()
                    if left <= 0: return
                    s.settimeout(left)
                try:
                    chunk = s.recv(65536)
                except socket.timeout:
                    return
                if not chunk: return
                buffer += chunk
        for text in requests:
            request = json.loads(text)
            try:
                s.sendall((json.dumps(request) + '\n').encode())
            except (BrokenPipeError, ConnectionResetError):
                # The daemon refused this connection (one frame, then closed) before the
                # request went out: its refusal is still there to read.
                for line in frames():
                    print(line, flush=True)
                break
            for line in frames():
                print(line, flush=True)
                frame = json.loads(line)
                if frame.get('id') == request['id'] and 'event' not in frame: break
        for line in frames(time.time() + linger):
            print(line, flush=True)
        """#

    /// Runs the raw client as uid/gid 65534 (nobody), no supplementary groups.
    static func asNobody(_ bench: Bench, _ arguments: [String], timeout: Duration = .seconds(60)) async throws -> CommandResult {
        let setpriv = try #require(TwoUsers.setpriv)
        let script = bench.folder + "/hostile-client.py"
        if !FileManager.default.fileExists(atPath: script) {
            try client.write(toFile: script, atomically: true, encoding: .utf8)
            try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: script)
        }
        let child = try Spawned(
            URL(fileURLWithPath: setpriv),
            ["--reuid=65534", "--regid=65534", "--clear-groups", "/usr/bin/python3", script] + arguments,
            name: "python-nobody", folder: bench.folder)
        bench.adopt(child)
        let status = try await child.waitForExit(timeout: timeout)
        return CommandResult(status: status, stdout: child.stdout, stderr: child.stderr)
    }

    /// Starts `python3 -c code arguments…` (as root, or as nobody with `asNobody`) without waiting.
    static func start(_ bench: Bench, _ code: String, _ arguments: [String], asNobody: Bool = false, name: String) throws -> Spawned {
        let script = bench.folder + "/\(name).py"
        try code.write(toFile: script, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: script)
        if asNobody, let setpriv = TwoUsers.setpriv {
            let child = try Spawned(
                URL(fileURLWithPath: setpriv),
                ["--reuid=65534", "--regid=65534", "--clear-groups", "/usr/bin/python3", script] + arguments,
                name: name, folder: bench.folder)
            bench.adopt(child)
            return child
        }
        let child = try Spawned(URL(fileURLWithPath: "/usr/bin/python3"), [script] + arguments, name: name, folder: bench.folder)
        bench.adopt(child)
        return child
    }

    /// A process's resident memory in KiB (`VmRSS` of /proc/PID/status).
    static func residentKiB(_ pid: Int32) -> Int? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
        return text.split(separator: "\n").first { $0.hasPrefix("VmRSS:") }
            .flatMap { $0.split(separator: " ").dropFirst().first }.flatMap { Int($0) }
    }

    /// How many descriptors a process holds.
    static func descriptors(_ pid: Int32) -> Int {
        ((try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd")) ?? []).count
    }

    /// Frames printed by the raw client, one JSON object per line.
    static func frames(_ result: CommandResult) -> [[String: Any]] {
        result.lines.compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
    }

    /// The answer to request `id` among `frames`.
    static func answer(_ id: Int, in frames: [[String: Any]]) -> [String: Any]? {
        frames.first { $0["id"] as? Int == id && $0["event"] == nil }
    }

    /// The error code of an answer.
    static func errorCode(_ frame: [String: Any]?) -> Int? {
        (frame?["error"] as? [String: Any])?["code"] as? Int
    }

    /// Why the tests that need another user cannot run here, or `nil`.
    static var otherUserMissing: String? {
        if ProcessIdentity.effectiveUserID != 0 { return "the tests do not run as root, so they cannot act as another user" }
        if TwoUsers.setpriv == nil { return "setpriv (util-linux) is not installed" }
        return nil
    }
}
