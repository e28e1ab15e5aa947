import FakeModem
import Foundation
import Hayes
import Logging
import RAS
@testable import RASService
import SystemIO
import TestSupport
import Testing

/// A `ConnectionManager` served by a `RASServer` on a temporary socket, with fake modems,
/// all in this process.
final class InProcessDaemon: @unchecked Sendable {
    let folder: String
    let socket: String
    let bank: FakeModemBank
    let manager: ConnectionManager
    let server: RASServer
    private let serving: Task<Void, Never>

    private init(folder: String, bank: FakeModemBank, manager: ConnectionManager, server: RASServer, socket: String) {
        self.folder = folder
        self.bank = bank
        self.manager = manager
        self.server = server
        self.socket = socket
        let server = server
        serving = Task { await server.run() }
    }

    /// Runs `body` with a daemon of `modems` fake modems, then tears everything down.
    /// `frameTimeout`: how long the server waits for a client to take a frame.
    static func run(modems: Int = 1, frameTimeout: Duration = .seconds(5), _ body: (InProcessDaemon) async throws -> Void) async throws {
        let folder = try TestSupport.temporaryDirectory("protocol").path
        let lockDir = folder + "/lock"
        try FileManager.default.createDirectory(atPath: lockDir, withIntermediateDirectories: true)
        let bank = try FakeModemBank(scenario: try Scenario(yaml: Bench.scenario, source: "test"), count: modems)
        try await bank.start()
        let timing = TestSupport.fastTiming
        let manager = ConnectionManager(
            configuration: ConnectionManager.Configuration(lockDirectory: lockDir, timing: timing),
            logger: Logger(label: "test") { _ in SwiftLogNoOpLogHandler() })
        let socket = folder + "/rasmand.sock"
        let listener = try UnixSocketListener(path: socket)
        let daemon = InProcessDaemon(
            folder: folder, bank: bank, manager: manager,
            server: RASServer(manager: manager, listener: listener, logger: Logger(label: "test") { _ in SwiftLogNoOpLogHandler() },
                              frameTimeout: frameTimeout),
            socket: socket)
        do {
            try await body(daemon)
        } catch {
            await daemon.tearDown()
            throw error
        }
        await daemon.tearDown()
    }

    /// Stops serving: the socket goes away, clients lose their connection.
    func stopServing() async {
        server.stop()
        serving.cancel()
        await serving.value
    }

    private func tearDown() async {
        await stopServing()
        await manager.shutdown(timeout: .seconds(20))
        await bank.stop()
        TestSupport.remove(URL(fileURLWithPath: folder))
    }

    func client() async throws -> RASClient { try await RASClient.connect(socketPath: socket) }

    func phonebook(_ text: String) throws -> String {
        let path = folder + "/rasphone.pbk"
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        return path
    }
}

@Suite(.timeLimit(.minutes(1)))
struct ProtocolTests {
    @Test func helloDialStatusEnumerateAndHangUp() async throws {
        try await InProcessDaemon.run { daemon in
            let client = try await daemon.client()
            let server = try await client.hello()
            #expect(server.version == WireProtocol.version)
            #expect(server.pid == ProcessIdentity.processID)
            #expect(server.uid == ProcessIdentity.effectiveUserID)

            let path = try daemon.phonebook("[Work]\nPort=\(daemon.bank.modems[0].slavePath)\nPhoneNumber=5551234\n")
            #expect(try await client.enumEntries(phonebookPath: path).map(\.name) == ["Work"])
            #expect(try await client.entryListing(phonebookPath: path).problems.isEmpty)

            let dial = try await client.dial(.entry("Work", phonebookPath: path))
            let states = await collectUntilTerminal(dial.notifications).map(\.state)
            #expect(states == [.openPort, .portOpened, .connectDevice, .deviceConnected, .allDevicesConnected, .connected])
            let status = try await client.connectStatus(dial.handle)
            #expect(status.state == .connected)
            #expect(status.connectRate == 115200)
            #expect(status.entryName == "Work")
            let listed = try await client.enumConnections()
            #expect(listed.map(\.handle) == [dial.handle])
            #expect(listed.first?.phonebookPath == path)
            // The manager sees the same.
            #expect(try await daemon.manager.enumConnections() == listed)

            // Redialing a connected entry hands back the same connection (RAS adds a reference).
            let again = try await client.dial(.entry("Work", phonebookPath: path))
            #expect(again.handle == dial.handle)

            try await client.hangUp(dial.handle)
            #expect(await waitUntilGone(dial.handle, on: client))
            await #expect(throws: RasError.invalidHandle) { try await client.hangUp(dial.handle) }
            await #expect(throws: RasError.invalidHandle) { try await client.connectStatus(dial.handle) }
            #expect(daemon.bank.modems[0].events.contains { $0.hasPrefix("on-hook") })
        }
    }

    @Test func dialErrorsThatLeaveNoHandle() async throws {
        try await InProcessDaemon.run(modems: 2) { daemon in
            let client = try await daemon.client()
            let port = daemon.bank.modems[0].slavePath
            let path = try daemon.phonebook("[Slow]\nPort=\(port)\nPhoneNumber=5550200\n")
            await #expect(throws: RasError.cannotFindPhonebookEntry) { try await client.dial(.entry("Nope", phonebookPath: path)) }
            await #expect(throws: RasError.cannotOpenPhonebook) { try await client.dial(.entry("Slow", phonebookPath: "relative.pbk")) }
            await #expect(throws: RasError.cannotOpenPhonebook) { try await client.enumEntries(phonebookPath: "relative.pbk") }
            await #expect(throws: RasError.invalidParameter) { try await client.dial(.number("  ")) }
            #expect(try await client.enumConnections().isEmpty)

            let slow = try await client.dial(.entry("Slow", phonebookPath: path))
            #expect(await daemon.bank.modems[0].waitForEvent("dial", timeout: .seconds(10)) != nil)
            await #expect(throws: RasError.dialAlreadyInProgress) { try await client.dial(.entry("Slow", phonebookPath: path)) }
            await #expect(throws: RasError.portAlreadyOpen) { try await client.dial(.number("5551234", device: port)) }
            // Hanging up while dialing: the notifications end without Connected, the handle goes.
            let hungUp = try await client.hangUp(entryName: "slow")
            #expect(hungUp == [slow.handle])
            #expect(await collectUntilTerminal(slow.notifications).allSatisfy { $0.state != .connected })
            #expect(await waitUntilGone(slow.handle, on: client))
            await #expect(throws: RasError.invalidHandle) { try await client.hangUp(entryName: "Slow") }
        }
    }

    @Test("enumEntries lists the good entries and reports each bad one; the good ones dial")
    func enumEntriesWithACorruptEntry() async throws {
        try await InProcessDaemon.run { daemon in
            let client = try await daemon.client()
            let port = daemon.bank.modems[0].slavePath
            let path = try daemon.phonebook("""
                [Bad]
                Port=\(port)
                RedialAttempts=x
                [Work]
                Port=\(port)
                PhoneNumber=5551234
                [Work2
                """)
            let listing = try await client.entryListing(phonebookPath: path)
            #expect(listing.entries.map(\.name) == ["Work"])
            #expect(listing.problems.map(\.line) == [3, 7])
            #expect(listing.problems.map(\.name) == ["Bad", "Work2"])
            #expect(listing.problems.allSatisfy { $0.error == .corruptPhonebook && $0.phonebookPath == path })
            #expect(listing.problems.first?.error.detail == "\(path), line 3: entry 'Bad': 'RedialAttempts' must be a number, not 'x'")
            #expect(try await client.enumEntries(phonebookPath: path).map(\.name) == ["Work"])
            await #expect(throws: RasError.corruptPhonebook) { try await client.dial(.entry("Bad", phonebookPath: path)) }
            let dial = try await client.dial(.entry("Work", phonebookPath: path))
            #expect(await collectUntilTerminal(dial.notifications).last?.state == .connected)
            try await client.hangUp(dial.handle)
            #expect(await waitUntilGone(dial.handle, on: client))
        }
    }

    @Test func subscribeStartsWithTheCurrentStateAndEndsWhenRemoved() async throws {
        try await InProcessDaemon.run { daemon in
            let dialer = try await daemon.client()
            let other = try await daemon.client()
            await #expect(throws: RasError.invalidHandle) { try await other.notifications(for: RasConnectionHandle(rawValue: 99)) }
            let dial = try await dialer.dial(.number("5551234", device: daemon.bank.modems[0].slavePath))
            #expect(await collectUntilTerminal(dial.notifications).last?.state == .connected)

            let stream = try await other.notifications(for: dial.handle)
            let collector = Task { await stream.reduce(into: [RasDialNotification]()) { $0.append($1) } }
            try await Task.sleep(for: .milliseconds(50))
            #expect(try await other.hangUp(entryName: ".5551234") == [dial.handle])
            let seen = await collector.value
            #expect(seen.first?.state == .connected)
            #expect(seen.first?.handle == dial.handle)
            #expect(await waitUntilGone(dial.handle, on: dialer))
        }
    }

    @Test func watchReportsConnectedDisconnectedAndRemoved() async throws {
        try await InProcessDaemon.run { daemon in
            let watcher = try await daemon.client()
            let dialer = try await daemon.client()
            let events = try await watcher.connectionEvents()
            let port = daemon.bank.modems[0].slavePath

            let busy = try await dialer.dial(.number("5550100", device: port))
            #expect(await collectUntilTerminal(busy.notifications).last?.error == .lineBusy)
            try await dialer.hangUp(busy.handle)
            #expect(await waitUntilGone(busy.handle, on: dialer))
            let good = try await dialer.dial(.number("5551234", device: port))
            #expect(await collectUntilTerminal(good.notifications).last?.state == .connected)
            try await dialer.hangUp(good.handle)
            #expect(await waitUntilGone(good.handle, on: dialer))

            var seen: [(RasConnectionEvent.Kind, RasConnectionHandle)] = []
            for await event in events {
                seen.append((event.kind, event.connection.handle))
                if event.kind == .removed && event.connection.handle == good.handle { break }
            }
            // A failed dial is announced once (not again when hung up); a hang-up of a
            // healthy connection is announced as disconnected, then removed.
            #expect(seen.map(\.0) == [.disconnected, .removed, .connected, .disconnected, .removed])
            #expect(seen.map(\.1) == [busy.handle, busy.handle, good.handle, good.handle, good.handle])
        }
    }

    @Test func carrierLossIsReportedToTheDialerAndWatchers() async throws {
        try await InProcessDaemon.run { daemon in
            let client = try await daemon.client()
            let events = try await client.connectionEvents()
            let dial = try await client.dial(.number("5550300", device: daemon.bank.modems[0].slavePath))
            let stream = dial.notifications
            var states: [RasDialNotification] = []
            for await notification in stream {
                states.append(notification)
                if notification.state == .disconnected { break }
            }
            #expect(states.map(\.state).suffix(2) == [.connected, .disconnected])
            #expect(states.last?.error == .remoteDisconnection)
            var kinds: [RasConnectionEvent.Kind] = []
            for await event in events {
                kinds.append(event.kind)
                if event.kind == .disconnected { break }
            }
            #expect(kinds == [.connected, .disconnected])
            // The lost connection keeps its handle until it is hung up.
            #expect(try await client.connectStatus(dial.handle).error == .remoteDisconnection)
            try await client.hangUp(dial.handle)
            #expect(await waitUntilGone(dial.handle, on: client))
        }
    }

    @Test func aLostDaemonAnswers711AndEndsStreams() async throws {
        try await InProcessDaemon.run { daemon in
            let client = try await daemon.client()
            let events = try await client.connectionEvents()
            let ended = Task { for await _ in events {}; return true }
            await daemon.stopServing()
            #expect(await ended.value)
            #expect(!FileManager.default.fileExists(atPath: daemon.socket))
            await #expect(throws: RasError.connectionManagerUnavailable) { try await client.enumConnections() }
            await #expect(throws: RasError.connectionManagerUnavailable) { try await client.dial(.number("1")) }
            await #expect(throws: RasError.connectionManagerUnavailable) { try await RASClient.connect(socketPath: daemon.socket) }
        }
    }

    @Test func onlyTheOwnerOrRootMayHangUp() async throws {
        try await InProcessDaemon.run(modems: 2) { daemon in
            let manager = daemon.manager
            let dial = try await manager.dial(.number("5551234", device: daemon.bank.modems[0].slavePath), owner: 4242)
            #expect(await collectUntilTerminal(dial.notifications).last?.state == .connected)
            #expect(await manager.owner(of: dial.handle) == 4242)
            await #expect(throws: RasError.accessDenied) { try await manager.hangUp(dial.handle, caller: 4343) }
            await #expect(throws: RasError.accessDenied) { try await manager.hangUp(entryName: ".5551234", caller: 4343) }
            #expect(try await manager.connectStatus(dial.handle).state == .connected)
            try await manager.hangUp(dial.handle, caller: 4242)
            #expect(await waitUntilGone(dial.handle, on: manager))

            // Over the wire the peer's uid counts: this test's client is root, which may.
            let other = try await manager.dial(.number("5555678", device: daemon.bank.modems[1].slavePath), owner: 4242)
            #expect(await collectUntilTerminal(other.notifications).last?.state == .connected)
            let client = try await daemon.client()
            try await client.hangUp(other.handle)
            #expect(await waitUntilGone(other.handle, on: client))
        }
    }

    @Test func phonebookAccessFollowsThePeersPermissions() throws {
        let folder = try TestSupport.temporaryDirectory("access").path
        defer { TestSupport.remove(URL(fileURLWithPath: folder)) }
        let path = folder + "/rasphone.pbk"
        try Data("[Work]\nPhoneNumber=1\n".utf8).write(to: URL(fileURLWithPath: path))
        let files = FileManager.default
        // Explicit: a socket bound by a concurrent test briefly sets a process-wide umask.
        try files.setAttributes([.posixPermissions: 0o755], ofItemAtPath: folder)
        let status = try FileStatus.of(path)
        let stranger = PeerCredentials(pid: 1, uid: status.owner &+ 4242, gid: 4242)
        let inGroup = PeerCredentials(pid: 1, uid: status.owner &+ 4242, gid: 4242, groups: [status.group])

        try files.setAttributes([.posixPermissions: 0o644], ofItemAtPath: path)
        _ = try Phonebook.load(from: path, requester: stranger)
        try files.setAttributes([.posixPermissions: 0o640], ofItemAtPath: path)
        #expect(throws: RasError.cannotOpenPhonebook) { try Phonebook.load(from: path, requester: stranger) }
        // A supplementary group (SO_PEERGROUPS) counts.
        _ = try Phonebook.load(from: path, requester: inGroup)
        try files.setAttributes([.posixPermissions: 0o600], ofItemAtPath: path)
        #expect(throws: RasError.cannotOpenPhonebook) { try Phonebook.load(from: path, requester: inGroup) }
        // Its owner and root may.
        _ = try Phonebook.load(from: path, requester: PeerCredentials(pid: 1, uid: status.owner, gid: 4242))
        _ = try Phonebook.load(from: path, requester: PeerCredentials(pid: 1, uid: 0, gid: 0))
        // A folder the peer cannot search hides the file.
        try files.setAttributes([.posixPermissions: 0o644], ofItemAtPath: path)
        try files.setAttributes([.posixPermissions: 0o700], ofItemAtPath: folder)
        #expect(throws: RasError.cannotOpenPhonebook) { try Phonebook.load(from: path, requester: stranger) }
        // A link the peer may follow to a file it may not read is no way in.
        try files.setAttributes([.posixPermissions: 0o755], ofItemAtPath: folder)
        try files.setAttributes([.posixPermissions: 0o600], ofItemAtPath: path)
        let link = folder + "/mine.pbk"
        try files.createSymbolicLink(atPath: link, withDestinationPath: path)
        #expect(throws: RasError.cannotOpenPhonebook) { try Phonebook.load(from: link, requester: stranger) }
    }

    @Test func framesRoundTripAndLinesSplit() throws {
        var frame = Frame(op: Frame.Operation.dial.rawValue, dial: .entry("Work", phonebookPath: "/p.pbk"))
        frame.id = 3
        let line = frame.encodedLine()
        #expect(line.last == 10)
        let decoded = try Frame.decode(line.dropLast()[...])
        #expect(decoded.id == 3 && decoded.op == "dial" && decoded.dial == frame.dial && decoded.v == 1)

        var splitter = LineSplitter()
        #expect(splitter.feed(Array("{\"a\":1}\n  \n{\"b\"".utf8)) == [.line(Array("{\"a\":1}".utf8)[...])])
        #expect(splitter.pendingCount == 4)
        let long = splitter.feed([UInt8](repeating: 120, count: WireProtocol.maximumFrameBytes + 10) + [10] + Array("x\n".utf8))
        #expect(long == [.oversized, .line(Array("x".utf8)[...])])
    }
}
