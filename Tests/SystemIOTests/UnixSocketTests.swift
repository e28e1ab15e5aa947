import Foundation
import SystemIO
import Testing
import TestSupport

@Suite("Unix sockets and file locks")
struct UnixSocketTests {
    let directory: URL
    init() throws { directory = try TestSupport.temporaryDirectory("sock") }

    @Test("a client and the server exchange bytes; the server knows who the client is")
    func roundTripAndCredentials() async throws {
        let path = directory.appendingPathComponent("s.sock").path
        let listener = try UnixSocketListener(path: path, permissions: 0o600)
        defer { listener.close() }
        let mode = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int
        #expect(mode == 0o600)
        async let accepted = listener.accept(deadline: .now + .seconds(5))
        let client = try await UnixSocketConnection.connect(path: path)
        let server = try #require(try await accepted)
        #expect(server.peer.pid == ProcessIdentity.processID)
        #expect(server.peer.uid == ProcessIdentity.userID)
        // SO_PEERGROUPS: the client's supplementary groups (this process's).
        var groups = [gid_t](repeating: 0, count: Int(max(0, getgroups(0, nil))))
        let groupCount = groups.isEmpty ? 0 : getgroups(Int32(groups.count), &groups)
        #expect(server.peer.groups.map { Set($0) } == Set(groups.prefix(Int(max(0, groupCount)))))
        try await client.write(Array("hello\n".utf8))
        #expect(try await server.read(deadline: .now + .seconds(5)) == Array("hello\n".utf8))
        #expect(try await server.read(deadline: .now + .milliseconds(20)).isEmpty)
        client.close()
        await #expect(throws: SystemError.hangUp(path: path)) { try await server.read(deadline: .now + .seconds(5)) }
        await #expect(throws: SystemError.hangUp(path: path)) {
            for _ in 0..<100 { try await server.write(Array(repeating: 0, count: 4096)) }
        }
        server.close()
    }

    @Test("concurrent writes of frames several times the socket buffer never interleave")
    func concurrentWritesTakeTurns() async throws {
        let path = directory.appendingPathComponent("turns.sock").path
        let listener = try UnixSocketListener(path: path)
        defer { listener.close() }
        async let accepted = listener.accept(deadline: .now + .seconds(5))
        let client = try await UnixSocketConnection.connect(path: path)
        let server = try #require(try await accepted)
        defer { client.close(); server.close() }
        let frames = 16
        let writers = (0..<frames).map { index in
            Task {
                let frame = [UInt8](repeating: UInt8(ascii: "a") + UInt8(index), count: 1_000_000) + [10]
                try await client.write(frame, deadline: .now + .seconds(30))
            }
        }
        var received: [UInt8] = []
        var newlines = 0
        while newlines < frames {
            let bytes = try await server.read(maxCount: 1 << 16, deadline: .now + .seconds(30))
            try #require(!bytes.isEmpty, "timed out with \(received.count) bytes")
            received += bytes
            newlines += bytes.count { $0 == 10 }
        }
        for writer in writers { try await writer.value }
        let lines = received.split(separator: 10)
        #expect(lines.count == frames)
        for line in lines {
            #expect(line.count == 1_000_000 && Set(line).count == 1, "a frame was cut into by another")
        }
        #expect(Set(lines.compactMap(\.first)).count == frames)
    }

    @Test("accept returns nil at its deadline; close wakes a waiting accept and removes the file")
    func acceptDeadlineAndClose() async throws {
        let path = directory.appendingPathComponent("d.sock").path
        let listener = try UnixSocketListener(path: path)
        #expect(try await listener.accept(deadline: .now + .milliseconds(30)) == nil)
        let waiting = Task { try await listener.accept(deadline: .now + .seconds(30)) }
        try await Task.sleep(for: .milliseconds(30))
        listener.close()
        await #expect(throws: SystemError.closed(path: path)) { _ = try await waiting.value }
        #expect(!FileManager.default.fileExists(atPath: path))
    }

    @Test("a stale socket file is replaced; a live one is refused")
    func staleAndLive() async throws {
        let path = directory.appendingPathComponent("x.sock").path
        let first = try UnixSocketListener(path: path)
        #expect(UnixSocketListener.isListening(path: path))
        #expect(throws: SystemError.inUse(path: path)) { try UnixSocketListener(path: path) }
        // Simulate a crash: the socket file stays, nobody listens.
        try FileManager.default.moveItem(atPath: path, toPath: path + ".keep")
        first.close()
        try FileManager.default.moveItem(atPath: path + ".keep", toPath: path)
        #expect(!UnixSocketListener.isListening(path: path))
        let second = try UnixSocketListener(path: path)
        #expect(UnixSocketListener.isListening(path: path))
        second.close()
    }

    @Test("connecting where nobody listens keeps the errno")
    func connectErrors() async throws {
        let path = directory.appendingPathComponent("none.sock").path
        await #expect(throws: SystemError.system(call: "connect", path: path, errno: .noSuchFileOrDirectory)) {
            _ = try await UnixSocketConnection.connect(path: path)
        }
        let long = directory.appendingPathComponent(String(repeating: "x", count: 120)).path
        #expect(throws: SystemError.self) { try UnixSocketListener(path: long) }
    }

    @Test("a file lock admits one holder until released")
    func fileLock() throws {
        let path = directory.appendingPathComponent("d.lock").path
        let lock = try FileLock(path: path)
        #expect(throws: SystemError.inUse(path: path)) { try FileLock(path: path) }
        lock.release()
        let again = try FileLock(path: path)
        again.release()
    }

    @Test("sockets and locks leak no descriptors")
    func noLeaks() async throws {
        let path = directory.appendingPathComponent("leak.sock").path
        for _ in 0..<20 {
            let listener = try UnixSocketListener(path: path)
            async let accepted = listener.accept(deadline: .now + .seconds(5))
            let client = try await UnixSocketConnection.connect(path: path)
            let server = try await accepted
            client.close()
            server?.close()
            listener.close()
        }
        let lockPath = directory.appendingPathComponent("leak.lock").path
        for _ in 0..<20 { try FileLock(path: lockPath).release() }
        #expect(TestSupport.descriptorCount(referringTo: lockPath) == 0)
        // A socket lives while a descriptor holds it: none bound under this test's folder
        // (listeners and the connections they accepted) may remain.
        let unix = (try? String(contentsOfFile: "/proc/net/unix", encoding: .utf8)) ?? ""
        let ours = unix.split(separator: "\n").filter { $0.contains(directory.path) }
        #expect(ours.isEmpty, "\(ours)")
        #expect(!unix.isEmpty)
    }
}
