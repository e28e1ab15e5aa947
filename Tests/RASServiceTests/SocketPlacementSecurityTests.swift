import Foundation
import RAS
import SystemIO
import TestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Issue 15, part 3: `rasmand` refuses (status 3) a socket another user could replace, and
/// never removes a file that is not its own stale socket.
@Suite(.timeLimit(.minutes(2)))
struct SocketPlacementSecurityTests {
    /// Runs `rasmand` on `socket` until it is ready (then stops it) or exits; its status
    /// (`nil` when it became ready) and stderr.
    private func start(_ socket: String, in folder: String, extra: [String] = []) async throws -> (status: Int32?, stderr: String, mode: UInt32?) {
        let daemon = try Spawned(
            try Binaries.url("rasmand"),
            ["--socket", socket, "--lock-dir", folder + "/lock", "--no-discovery"] + extra,
            name: "rasmand", folder: folder)
        do {
            _ = try await daemon.ready(timeout: .seconds(20))
        } catch {
            return (try await daemon.waitForExit(timeout: .seconds(10)), daemon.stderr, nil)
        }
        let mode = try? FileStatus.of(socket, followLinks: false).permissions
        daemon.signal(SIGTERM)
        _ = try await daemon.waitForExit(timeout: .seconds(20))
        return (nil, daemon.stderr, mode)
    }

    private func withFolder(_ label: String, _ body: (String) async throws -> Void) async throws {
        let folder = try TestSupport.temporaryDirectory(label).path
        defer { TestSupport.remove(URL(fileURLWithPath: folder)) }
        try FileManager.default.createDirectory(atPath: folder + "/lock", withIntermediateDirectories: true)
        try await body(folder)
    }

    @Test func aFolderWritableByAllWithoutTheStickyBitIsRefused() async throws {
        try await withFolder("sock-0777") { folder in
            let socketFolder = folder + "/run"
            try FileManager.default.createDirectory(atPath: socketFolder, withIntermediateDirectories: false)
            try #require(chmod(socketFolder, 0o777) == 0)
            let refused = try await start(socketFolder + "/rasmand.sock", in: folder)
            #expect(refused.status == 3, "\(refused.stderr)")
            #expect(refused.stderr.contains("writable by everyone without the sticky bit"), "\(refused.stderr)")
            #expect(!FileManager.default.fileExists(atPath: socketFolder + "/rasmand.sock"), "no socket was made")

            // The same folder with the sticky bit (as /tmp) is accepted, and the socket gets
            // its mode: 0600 by default, --socket-mode when given.
            try #require(chmod(socketFolder, 0o1777) == 0)
            let sticky = try await start(socketFolder + "/rasmand.sock", in: folder)
            #expect(sticky.status == nil, "\(sticky.stderr)")
            #expect(sticky.mode == 0o600)
            let group = try await start(socketFolder + "/rasmand.sock", in: folder, extra: ["--socket-mode", "0660"])
            #expect(group.status == nil && group.mode == 0o660, "\(group.stderr)")
        }
    }

    @Test func aFolderOwnedByAnotherUserIsRefused() async throws {
        guard ProcessIdentity.effectiveUserID == 0 else {
            print("skipped: a folder of another user needs root to chown it (running as uid \(ProcessIdentity.effectiveUserID))")
            return
        }
        try await withFolder("sock-owner") { folder in
            // The socket's own folder, then a folder above it, owned by uid 65534.
            let above = folder + "/theirs"
            let socketFolder = above + "/run"
            try FileManager.default.createDirectory(atPath: socketFolder, withIntermediateDirectories: true)
            try #require(chown(socketFolder, 65534, 65534) == 0)
            let own = try await start(socketFolder + "/rasmand.sock", in: folder)
            #expect(own.status == 3 && own.stderr.contains("owned by uid 65534"), "\(own.stderr)")
            try #require(chown(socketFolder, 0, 0) == 0)
            try #require(chown(above, 65534, 65534) == 0)
            let parent = try await start(socketFolder + "/rasmand.sock", in: folder)
            #expect(parent.status == 3 && parent.stderr.contains("\(above): folder owned by uid 65534"), "\(parent.stderr)")
            try #require(chown(above, 0, 0) == 0)
            let fine = try await start(socketFolder + "/rasmand.sock", in: folder)
            #expect(fine.status == nil, "\(fine.stderr)")
        }
    }

    @Test func whatIsNotItsOwnStaleSocketIsLeftAloneAndRefused() async throws {
        try await withFolder("sock-path") { folder in
            let socket = folder + "/rasmand.sock"
            // A regular file (another user's, when we can make it so), a link, a folder.
            try "precious\n".write(toFile: socket, atomically: true, encoding: .utf8)
            let root = ProcessIdentity.effectiveUserID == 0
            if root { try #require(chown(socket, 65534, 65534) == 0) }
            let file = try await start(socket, in: folder)
            #expect(file.status == 3 && file.stderr.contains("a regular file is there"), "\(file.stderr)")
            #expect(try String(contentsOfFile: socket, encoding: .utf8) == "precious\n", "the file is untouched")
            try FileManager.default.removeItem(atPath: socket)

            try FileManager.default.createSymbolicLink(atPath: socket, withDestinationPath: folder + "/elsewhere.sock")
            let link = try await start(socket, in: folder)
            #expect(link.status == 3 && link.stderr.contains("a symbolic link is there"), "\(link.stderr)")
            #expect((try? FileStatus.of(socket, followLinks: false).kind) == .symbolicLink, "the link is untouched")
            try FileManager.default.removeItem(atPath: socket)

            try FileManager.default.createDirectory(atPath: socket, withIntermediateDirectories: false)
            let directory = try await start(socket, in: folder)
            #expect(directory.status == 3 && directory.stderr.contains("a directory is there"), "\(directory.stderr)")
            try FileManager.default.removeItem(atPath: socket)

            // A stale socket (its process is gone): ours is replaced; another user's is not.
            let stale = Process()
            stale.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
            stale.arguments = ["-c", "import socket,sys; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])", socket]
            try stale.run()
            stale.waitUntilExit()
            try #require((try? FileStatus.of(socket, followLinks: false).kind) == .socket)
            if root {
                try #require(chown(socket, 65534, 65534) == 0)
                let theirs = try await start(socket, in: folder)
                #expect(theirs.status == 3 && theirs.stderr.contains("a socket of uid 65534 is there"), "\(theirs.stderr)")
                #expect((try? FileStatus.of(socket, followLinks: false).owner) == 65534, "their socket is untouched")
                try #require(chown(socket, 0, 0) == 0)
            } else {
                print("skipped the foreign stale socket: chown needs root (running as uid \(ProcessIdentity.effectiveUserID))")
            }
            let ours = try await start(socket, in: folder)
            #expect(ours.status == nil && ours.stderr.contains("replaced a stale socket file"), "\(ours.stderr)")
        }
    }
}
