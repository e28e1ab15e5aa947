import Foundation
import RAS
import RASService
import SystemIO
import TestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// A raw client of the daemon: writes bytes, reads frames as JSON objects.
struct RawClient {
    let connection: UnixSocketConnection
    private let pending = Pending()

    final class Pending: @unchecked Sendable {
        var bytes: [UInt8] = []
    }

    static func connect(_ path: String) async throws -> RawClient {
        RawClient(connection: try await UnixSocketConnection.connect(path: path))
    }

    func send(_ text: String) async throws {
        try await connection.write(Array(text.utf8), deadline: .now + .seconds(5))
    }

    /// The next frame, or `nil` when none arrives within `timeout`.
    func frame(timeout: Duration = .seconds(5)) async throws -> [String: Any]? {
        let deadline = ContinuousClock.now + timeout
        while true {
            if let newline = pending.bytes.firstIndex(of: 10) {
                let line = Array(pending.bytes[..<newline])
                pending.bytes.removeFirst(newline + 1)
                return try JSONSerialization.jsonObject(with: Data(line)) as? [String: Any]
            }
            let bytes = try await connection.read(deadline: deadline)
            if bytes.isEmpty { return nil }
            pending.bytes += bytes
        }
    }
}

@Suite(.timeLimit(.minutes(2)))
struct WireRobustnessTests {
    /// The error code of an error frame.
    private func code(_ frame: [String: Any]?) -> Int? {
        (frame?["error"] as? [String: Any])?["code"] as? Int
    }

    @Test func garbageAndTruncatedFramesGetErrorsAndTheDaemonServesOn() async throws {
        try await Bench.run("garbage") { bench in
            let daemon = try await bench.startDaemon()
            let raw = try await RawClient.connect(bench.socket)

            try await raw.send("this is not json\n")
            let notJSON = try #require(try await raw.frame())
            #expect(notJSON["ok"] as? Bool == false)
            #expect(code(notJSON) == 87)
            #expect(notJSON["id"] == nil)

            try await raw.send("[1,2,3]\n")
            #expect(code(try await raw.frame()) == 87)

            try await raw.send(#"{"v":2,"id":7,"op":"hello"}"# + "\n")
            let version = try #require(try await raw.frame())
            #expect(version["id"] as? Int == 7)
            #expect(code(version) == 87)
            #expect(((version["error"] as? [String: Any])?["detail"] as? String)?.contains("version 2") == true)

            try await raw.send(#"{"v":1,"id":8,"op":"explode"}"# + "\n")
            let unknown = try #require(try await raw.frame())
            #expect(unknown["id"] as? Int == 8 && code(unknown) == 87)

            try await raw.send(#"{"v":1,"op":"hello"}"# + "\n")
            #expect(code(try await raw.frame()) == 87)

            try await raw.send(#"{"v":1,"id":9,"op":"status"}"# + "\n")
            let noHandle = try #require(try await raw.frame())
            #expect(noHandle["id"] as? Int == 9 && code(noHandle) == 87)

            try await raw.send(#"{"v":1,"id":10,"op":"status","handle":"0x00000063"}"# + "\n")
            #expect(code(try await raw.frame()) == 6)

            // More than 64 KiB without a newline: one error, the rest of the line skipped.
            try await raw.send(String(repeating: "x", count: WireProtocol.maximumFrameBytes + 5000) + "\n")
            let oversized = try #require(try await raw.frame())
            #expect(code(oversized) == 87)
            #expect(((oversized["error"] as? [String: Any])?["detail"] as? String)?.contains("longer than") == true)

            // The same connection still works.
            try await raw.send(#"{"v":1,"id":11,"op":"hello"}"# + "\n")
            let hello = try #require(try await raw.frame())
            #expect(hello["id"] as? Int == 11 && hello["ok"] as? Bool == true)
            #expect((hello["server"] as? [String: Any])?["pid"] as? Int == Int(daemon.pid))

            // A client that leaves in the middle of a frame, and one that sends a huge line and leaves.
            let quitter = try await RawClient.connect(bench.socket)
            try await quitter.send(#"{"v":1,"id":1,"op":"hel"#)
            quitter.connection.close()
            let flooder = try await RawClient.connect(bench.socket)
            try? await flooder.send(String(repeating: "y", count: 200_000))
            flooder.connection.close()

            // Everyone else is served.
            let client = try await bench.client()
            #expect(try await client.hello().pid == daemon.pid)
            #expect(try await client.enumConnections().isEmpty)
            try await raw.send(#"{"v":1,"id":12,"op":"enumConnections"}"# + "\n")
            let listed = try #require(try await raw.frame())
            #expect(listed["id"] as? Int == 12 && listed["ok"] as? Bool == true)
            #expect(daemon.isRunning)
            #expect(daemon.stderr.contains("client left in the middle of a frame"))
        }
    }

    @Test func subscriptionsArriveAsEventFramesAndEndWithEnd() async throws {
        try await Bench.run("frames") { bench in
            let modems = try await bench.startFakeModems()
            _ = try await bench.startDaemon()
            let raw = try await RawClient.connect(bench.socket)
            try await raw.send(#"{"v":1,"id":1,"op":"watch"}"# + "\n")
            #expect(try await raw.frame()?["ok"] as? Bool == true)
            let dial = #"{"v":1,"id":2,"op":"dial","dial":{"phoneNumber":"5551234","device":"\#(modems.links[0])"}}"#
            try await raw.send(dial + "\n")
            var states: [Int] = []
            var kinds: [String] = []
            var handle: String?
            while !states.contains(8192) || !kinds.contains("connected") {
                let frame = try #require(try await raw.frame())
                if frame["id"] as? Int == 2 {
                    #expect(frame["ok"] as? Bool == true)
                    handle = frame["handle"] as? String
                } else if frame["subscription"] as? Int == 2 {
                    #expect(frame["event"] as? String == "state")
                    // A notification carries the state as a status does: name and number.
                    let notification = frame["notification"] as? [String: Any]
                    #expect(notification?["state"] is String)
                    #expect(notification?["error"] as? Int == 0)
                    states.append((notification?["stateCode"] as? Int) ?? -1)
                } else if frame["subscription"] as? Int == 1 {
                    #expect(frame["event"] as? String == "connection")
                    kinds.append(frame["kind"] as? String ?? "?")
                }
            }
            #expect(states == [0, 1, 2, 3, 4, 8192])
            let handleText = try #require(handle)
            try await raw.send(#"{"v":1,"id":3,"op":"hangUp","handle":"\#(handleText)"}"# + "\n")
            var ended = false
            var removed = false
            while !(ended && removed) {
                let frame = try #require(try await raw.frame())
                if frame["subscription"] as? Int == 2, frame["event"] as? String == "end" { ended = true }
                if frame["subscription"] as? Int == 1, frame["kind"] as? String == "removed" { removed = true }
                if frame["id"] as? Int == 3 { #expect((frame["handles"] as? [String]) == [handleText]) }
            }
            try await raw.send(#"{"v":1,"id":4,"op":"unsubscribe","subscription":1}"# + "\n")
            #expect(try await raw.frame()?["id"] as? Int == 4)
        }
    }
}

/// Two users against one daemon: root runs the daemon, `nobody` is the other client.
@Suite(.timeLimit(.minutes(2)), .enabled(if: TwoUsers.available, "needs root and setpriv to run a client as nobody"))
struct TwoUsersTests {
    @Test func anotherUserMayListButNotHangUp() async throws {
        try await Bench.run("users") { bench in
            // nobody must reach the socket. (Set the mode explicitly: UnixSocketListener's
            // temporary umask(0177) is process-wide, so a folder made while another test binds
            // a socket can come out 0700.)
            try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: bench.folder)
            let modems = try await bench.startFakeModems(count: 2)
            _ = try await bench.startDaemon(extra: ["--socket-mode", "0666"])
            let client = try await bench.client()
            let dial = try await client.dial(.number("5551111", device: modems.links[0]))
            #expect(await collectUntilTerminal(dial.notifications).last?.state == .connected)

            let list = try await TwoUsers.rasdial(bench, ["--json"])
            #expect(list.status == 0, "stderr: \(list.stderr)")
            #expect(list.objects.first?["handle"] as? String == dial.handle.description)

            let byHandle = try await TwoUsers.rasdial(bench, ["--disconnect", "--handle", dial.handle.description, "--json"])
            #expect(byHandle.status == 1)
            #expect(byHandle.objects.last?["error"] as? Int == 5)
            let byName = try await TwoUsers.rasdial(bench, [".5551111", "--disconnect"])
            #expect(byName.status == 1 && byName.stderr.contains("error 5"))
            #expect(try await client.connectStatus(dial.handle).state == .connected)

            // nobody's own dial, on a port nobody may open (its own): it may hang it up, and so may root.
            try #require(chown(modems.slaves[1], 65534, 65534) == 0)
            let own = try await TwoUsers.rasdial(bench, ["--device", modems.links[1], "--phone", "5552222"])
            #expect(own.status == 0, "stderr: \(own.stderr)")
            #expect(try await TwoUsers.rasdial(bench, [".5552222", "--disconnect"]).status == 0)
            #expect(try await TwoUsers.rasdial(bench, ["--device", modems.links[1], "--phone", "5553333"]).status == 0)
            let theirs = try #require(try await client.enumConnections().first { $0.entryName == ".5553333" })
            try await client.hangUp(theirs.handle)
            #expect(await waitUntilGone(theirs.handle, on: client))

            // The root daemon does not read a phonebook nobody could not read.
            let secret = try bench.phonebook([("Work", modems.links[1], "5554444")], file: "secret.pbk")
            try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: secret)
            let denied = try await TwoUsers.rasdial(bench, ["Work", "--phonebook", secret])
            #expect(denied.status == 1 && denied.stderr.contains("error 621"), "stderr: \(denied.stderr)")

            try await client.hangUp(dial.handle)
            #expect(await waitUntilGone(dial.handle, on: client))
        }
    }
}

extension TwoUsersTests {
    /// Issue 9: root's daemon opened any device a client named and wrote AT commands into it.
    @Test func aUserCannotMakeTheDaemonOpenWhatTheUserCannotOpen() async throws {
        try await Bench.run("devices") { bench in
            try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: bench.folder)
            let modems = try await bench.startFakeModems(count: 3)
            // modem 2 is the administrator's: given to rasmand with --device.
            _ = try await bench.startDaemon(extra: ["--socket-mode", "0666", "--device", modems.links[2]])
            for slave in modems.slaves {
                try FileManager.default.setAttributes([.posixPermissions: 0o620], ofItemAtPath: slave)
                #expect(try FileStatus.of(slave).owner == 0)
            }
            // Root's pty, by its node and by a link nobody made: 5, and the modem hears nothing.
            let link = bench.folder + "/nobodys-link"
            try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: modems.slaves[0])
            for device in [modems.slaves[0], link] {
                let denied = try await TwoUsers.rasdial(bench, ["--device", device, "--phone", "5551234", "--json"])
                #expect(denied.status == 1)
                #expect(denied.objects.last?["error"] as? Int == 5, "\(denied.stdout) \(denied.stderr)")
                #expect((denied.objects.last?["errorDetail"] as? String)?.contains("uid 65534 may not read and write") == true,
                        "\(denied.stdout)")
            }
            // An entry of nobody's own phonebook naming the port: the same.
            let book = try bench.phonebook([("Sneaky", modems.slaves[0], "5551234")], file: "nobody.pbk")
            try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: book)
            let entry = try await TwoUsers.rasdial(bench, ["Sneaky", "--phone", "5551234", "--phonebook", book])
            #expect(entry.status == 1 && entry.stderr.contains("error 5"), "\(entry.stderr)")
            // Devices that are not serial ports at all: 609, never opened.
            for device in ["/dev/null", "/dev/zero", "/dev/tty", "/dev/ptmx"] where access(device, F_OK) == 0 {
                let other = try await TwoUsers.rasdial(bench, ["--device", device, "--phone", "1"])
                #expect(other.status == 1 && other.stderr.contains("error 609"), "\(device): \(other.stderr)")
            }
            #expect(!modems.transcript.contains("modem0 <<"), "root's modem received something")
            #expect(try await TwoUsers.rasdial(bench, ["--json"]).objects.isEmpty, "no refused dial left a handle")

            // The administrator's --device port is for every user of the socket.
            let allowed = try await TwoUsers.rasdial(bench, ["--device", modems.links[2], "--phone", "5552222"])
            #expect(allowed.status == 0, "stderr: \(allowed.stderr)")
            // And a pty nobody owns is nobody's to dial.
            try #require(chown(modems.slaves[1], 65534, 65534) == 0)
            let own = try await TwoUsers.rasdial(bench, ["--device", modems.links[1], "--phone", "5553333"])
            #expect(own.status == 0, "stderr: \(own.stderr)")
            #expect(try await TwoUsers.rasdial(bench, ["--disconnect"]).status == 0)
        }
    }

    /// The daemon reads a phonebook through a group the client has only as a supplementary group.
    @Test func supplementaryGroupsCount() async throws {
        try await Bench.run("groups") { bench in
            try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: bench.folder)
            let modems = try await bench.startFakeModems()
            _ = try await bench.startDaemon(extra: ["--socket-mode", "0666", "--device", modems.links[0]])
            let book = try bench.phonebook([("Team", modems.links[0], "5554444")], file: "team.pbk")
            try #require(chown(book, 0, 4321) == 0)
            try FileManager.default.setAttributes([.posixPermissions: 0o640], ofItemAtPath: book)
            let outsider = try await TwoUsers.rasdial(bench, ["Team", "--phonebook", book])
            #expect(outsider.status == 1 && outsider.stderr.contains("error 621"), "stderr: \(outsider.stderr)")
            let member = try await TwoUsers.rasdial(bench, ["Team", "--phonebook", book], groups: [4321])
            #expect(member.status == 0, "stderr: \(member.stderr)")
            #expect(try await TwoUsers.rasdial(bench, ["--disconnect"], groups: [4321]).status == 0)
        }
    }
}

extension TwoUsersTests {
    @Test func aUserWhoMayNotUseTheSocketIsToldSo() async throws {
        try await Bench.run("denied") { bench in
            try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: bench.folder)
            _ = try await bench.startDaemon()
            for arguments in [[], ["--device", "/dev/null", "--phone", "1"], ["--watch"]] {
                let result = try await TwoUsers.rasdial(bench, arguments)
                #expect(result.status == 1, "\(arguments): \(result.stdout)")
                #expect(result.stderr.contains("error 711") && result.stderr.contains("permission denied"), "\(result.stderr)")
            }
        }
    }
}

enum TwoUsers {
    static let setpriv = ["/usr/bin/setpriv", "/bin/setpriv"].first { FileManager.default.isExecutableFile(atPath: $0) }
    static var available: Bool { ProcessIdentity.effectiveUserID == 0 && setpriv != nil }

    /// Runs rasdial as uid/gid 65534 (nobody) with only `groups` as supplementary groups.
    static func rasdial(_ bench: Bench, _ arguments: [String], groups: [UInt32] = []) async throws -> CommandResult {
        let setpriv = try #require(setpriv)
        let groupOption = groups.isEmpty ? "--clear-groups" : "--groups=" + groups.map(String.init).joined(separator: ",")
        let child = try Spawned(
            URL(fileURLWithPath: setpriv),
            ["--reuid=65534", "--regid=65534", groupOption, try Binaries.url("rasdial").path] + arguments
                + ["--socket", bench.socket],
            name: "rasdial-nobody", folder: bench.folder, environment: ["XDG_CONFIG_HOME": bench.folder + "/config"])
        bench.adopt(child)
        let status = try await child.waitForExit()
        return CommandResult(status: status, stdout: child.stdout, stderr: child.stderr)
    }
}

/// Answers longer than a request may be: `enumConnections` of a daemon with a thousand
/// connections is several hundred KiB. The client used to drop such a frame and wait forever.
@Suite(.timeLimit(.minutes(1)))
struct LargeAnswerTests {
    /// A server that answers every request with one frame of `connections` connections.
    private func serve(_ listener: UnixSocketListener, connections: Int, padding: Int = 0) async throws {
        guard let connection = try await listener.accept(deadline: .now + .seconds(10)) else { return }
        var buffer: [UInt8] = []
        while true {
            let bytes = try await connection.read(deadline: .now + .seconds(10))
            if bytes.isEmpty { return }
            buffer += bytes
            while let newline = buffer.firstIndex(of: 10) {
                let request = try JSONSerialization.jsonObject(with: Data(buffer[..<newline])) as? [String: Any]
                buffer.removeSubrange(...newline)
                let id = request?["id"] as? Int ?? 0
                let record = """
                    {"deviceName":"/dev/pts/1","deviceType":"modem","entryName":".5551234","error":631,\
                    "errorMessage":"The connection was hung up by the user.","errorName":"ERROR_USER_DISCONNECTION",\
                    "handle":"0x00000001","phoneNumber":"5551234\(String(repeating: "0", count: padding))","state":"Disconnected","stateCode":8193}
                    """
                let list = Array(repeating: record, count: connections).joined(separator: ",")
                let line = "{\"connections\":[\(list)],\"id\":\(id),\"ok\":true,\"v\":1}\n"
                try await connection.write(Array(line.utf8), deadline: .now + .seconds(10))
            }
        }
    }

    @Test func aListOfThousandsOfConnectionsArrives() async throws {
        let folder = try TestSupport.temporaryDirectory("large").path
        defer { TestSupport.remove(URL(fileURLWithPath: folder)) }
        let listener = try UnixSocketListener(path: folder + "/s.sock")
        defer { listener.close() }
        let server = Task { try await serve(listener, connections: 2048) }
        let client = try await RASClient.connect(socketPath: folder + "/s.sock")
        let connections = try await client.enumConnections()
        #expect(connections.count == 2048)
        await client.close()
        server.cancel()
    }

    @Test func aFrameBeyondTheLimitFailsWith711InsteadOfHanging() async throws {
        let folder = try TestSupport.temporaryDirectory("huge").path
        defer { TestSupport.remove(URL(fileURLWithPath: folder)) }
        let listener = try UnixSocketListener(path: folder + "/s.sock")
        defer { listener.close() }
        // 20 MiB in one frame: beyond WireProtocol.maximumServerFrameBytes.
        let server = Task { try await serve(listener, connections: 20, padding: 1 << 20) }
        let client = try await RASClient.connect(socketPath: folder + "/s.sock")
        await #expect(throws: RasError.connectionManagerUnavailable) { try await client.enumConnections() }
        server.cancel()
    }
}
