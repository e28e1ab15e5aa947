import DiscoveryTestbed
import Foundation
import Logging
import ModemDiscovery
import RAS
import RASDaemon
import Serial
import Synchronization
import SystemIO
import TestSupport

/// `discovery-test-harness daemon`: rasmand's core (`DaemonCore`, as `rasmand` runs it) in
/// this process, under umockdev, serving on `--socket`; the fixtures are loaded and their
/// nodes bound before it starts. Lines on standard output are `DaemonEvent`s: `ready` once
/// the first listing is probed, then a `device` line per change of the device table.
/// Commands on standard input, one per line, each answered by a line:
///
///     add FIXTURE [/dev/NODE=BACKEND]…       plug a device in: the fake ports are ready
///                                            before the fixture (and its add uevent) goes in → added
///     uevent /dev/NODE ACTION                send a uevent; waits for the table's change → uevent
///                                            (with what the modem there received so far)
///     unplug /dev/NODE [--modem-first] [--expect-disconnect]
///                                            remove uevent (the table drops the port), the
///                                            device leaves the testbed, then the fake modem is
///                                            unplugged (--modem-first: the modem first) → unplugged
///     release /dev/NODE                      drop the lock --hold-lock took (as PID 1) → released
///     quit (or end of input)                 shut down as rasmand does on SIGTERM → stopped
@MainActor
final class DaemonMode {
    let testbed: Testbed
    let arguments: Arguments
    private var fakePorts: [FakePorts] = []
    private var heldLocks: [String: UUCPLock] = [:]
    private let tableLog = TimedLog<DeviceTable.Change>()
    private let connectionLog = TimedLog<RasConnectionEvent>()

    /// How long the harness waits for the daemon to react to something it did.
    static let reactionLimit = Duration.seconds(20)

    init(testbed: Testbed, arguments: Arguments) {
        self.testbed = testbed
        self.arguments = arguments
    }

    func run() async throws {
        guard let socket = arguments.socket else { throw TestbedError("daemon needs --socket PATH") }
        for file in arguments.fixtures { try testbed.add(file: file) }
        fakePorts.append(try await FakePorts(testbed: testbed, bindings: arguments.bindings))
        // PID 1 is always alive: another program holds these ports.
        for node in arguments.holdLock {
            heldLocks[node] = try UUCPLock.acquire(device: node, directory: arguments.lockDirectory, pid: 1)
        }
        let listener: UnixSocketListener
        do {
            listener = try UnixSocketListener(path: socket, permissions: 0o600, group: nil)
        } catch {
            throw TestbedError("cannot listen on \(socket): \(error)")
        }
        var logger = Logger(label: "daemon-harness") { StreamLogHandler.standardError(label: $0) }
        logger.logLevel = .debug
        let settings = DaemonSettings(
            lockDirectory: arguments.lockDirectory, timing: TestSupport.fastTiming, devices: arguments.devices,
            probeScope: arguments.allPorts ? .allPorts : .candidates,
            probeSettings: ProbeSettings(answerTimeout: arguments.answerTimeout))
        let core = DaemonCore(settings: settings, listener: listener, logger: logger)
        let changes = await core.table.changes()
        let connections = try await core.manager.connectionEvents()
        let tableLog = self.tableLog
        let connectionLog = self.connectionLog
        let recorders = [
            Task { @MainActor in
                for await change in changes {
                    tableLog.append(change)
                    try? emit(DaemonEvent(event: "device", change: change))
                }
            },
            Task {
                for await event in connections { connectionLog.append(event) }
            },
        ]
        await core.start()
        await core.table.settled()
        try emit(DaemonEvent(event: "ready", socket: socket))

        for await line in Self.standardInputLines() {
            let words = line.split(separator: " ").map(String.init)
            guard let command = words.first else { continue }
            if command == "quit" { break }
            do {
                try await perform(command, Array(words.dropFirst()))
            } catch {
                try emit(DaemonEvent(event: "failed", message: "\(line): \(error)"))
            }
        }

        let clean = await core.shutdown(timeout: Self.reactionLimit)
        for task in recorders { task.cancel() }
        for lock in heldLocks.values { lock.release() }
        for ports in fakePorts { await ports.stop() }
        try emit(DaemonEvent(event: "stopped", clean: clean))
    }

    private func perform(_ command: String, _ words: [String]) async throws {
        switch command {
        case "add":
            guard let file = words.first else { throw TestbedError("usage: add FIXTURE [/dev/NODE=BACKEND]…") }
            // The hardware first, so that the probe after the add uevent finds it.
            let ports = try await FakePorts(bindings: try words.dropFirst().map(parseBinding))
            fakePorts.append(ports)
            let added = try testbed.add(file: file)
            try ports.bind(into: testbed)
            try emit(DaemonEvent(event: "added", nodes: added.filter { $0.subsystem == "tty" }.compactMap(\.devnode)))
        case "uevent":
            guard words.count == 2 else { throw TestbedError("usage: uevent /dev/NODE ACTION") }
            let node = words[0]
            let syspath = try ttySyspath(node)
            let mark = tableLog.count
            testbed.uevent(syspath, action: words[1])
            guard let change = await tableLog.first(from: mark, within: Self.reactionLimit, where: { $0.device.path == node }) else {
                throw TestbedError("the device table did not change within \(Self.reactionLimit) of the \(words[1]) uevent of \(node)")
            }
            let received = fakePorts.lazy.compactMap { $0.received(by: node) }.first
            try emit(DaemonEvent(event: "uevent", change: change.item, received: received))
        case "unplug":
            guard let node = words.first else { throw TestbedError("usage: unplug /dev/NODE [--modem-first] [--expect-disconnect]") }
            let syspath = try ttySyspath(node)
            let connectionMark = connectionLog.count
            let start: ContinuousClock.Instant
            if words.contains("--modem-first") {
                start = .now
                try unplugModem(node)
                try await removeDevice(node, syspath: syspath)
            } else {
                try await removeDevice(node, syspath: syspath)
                start = .now
                try unplugModem(node)
            }
            var elapsed: Int?
            var error: UInt32?
            if words.contains("--expect-disconnect") {
                guard let disconnected = await connectionLog.first(
                    from: connectionMark, within: Self.reactionLimit, where: { $0.kind == .disconnected }) else {
                    throw TestbedError("no connection was disconnected within \(Self.reactionLimit) of unplugging \(node)")
                }
                elapsed = Int(start.duration(to: disconnected.at).wholeMilliseconds)
                error = disconnected.item.connection.error?.code
            }
            try emit(DaemonEvent(event: "unplugged", node: node, disconnectedAfterMilliseconds: elapsed, error: error))
        case "release":
            guard let node = words.first, let lock = heldLocks.removeValue(forKey: node) else {
                throw TestbedError("usage: release /dev/NODE (a node of --hold-lock)")
            }
            lock.release()
            try emit(DaemonEvent(event: "released", node: node))
        default:
            throw TestbedError("unknown command \(command)")
        }
    }

    private func ttySyspath(_ node: String) throws(TestbedError) -> String {
        guard let device = testbed.devices.first(where: { $0.subsystem == "tty" && $0.devnode == node }) else {
            throw TestbedError("no tty device \(node) in the testbed")
        }
        return device.syspath
    }

    /// Sends `remove` (umockdev reads the properties from sysfs, so before the removal),
    /// waits for the table to drop the port, then takes the device out of the testbed.
    private func removeDevice(_ node: String, syspath: String) async throws {
        let mark = tableLog.count
        testbed.uevent(syspath, action: "remove")
        guard await tableLog.first(from: mark, within: Self.reactionLimit, where: { $0.kind == .removed && $0.device.path == node }) != nil else {
            throw TestbedError("the device table did not drop \(node) within \(Self.reactionLimit) of its remove uevent")
        }
        testbed.remove(syspath: syspath)
    }

    private func unplugModem(_ node: String) throws(TestbedError) {
        guard fakePorts.contains(where: { $0.unplug(node) }) else { throw TestbedError("no fake modem behind \(node)") }
    }

    /// Standard input, line by line (read on a thread of its own; it ends at end of input).
    nonisolated static func standardInputLines() -> AsyncStream<String> {
        let (stream, continuation) = AsyncStream<String>.makeStream()
        Thread {
            while let line = readLine() { continuation.yield(line) }
            continuation.finish()
        }.start()
        return stream
    }
}

/// Items as they arrive, with their arrival time: one task appends, another waits.
final class TimedLog<Item: Sendable>: Sendable {
    private let items = Mutex<[(item: Item, at: ContinuousClock.Instant)]>([])

    var count: Int { items.withLock { $0.count } }

    func append(_ item: Item) {
        let now = ContinuousClock.now
        items.withLock { $0.append((item, now)) }
    }

    /// The first item from position `start` on that satisfies `predicate`, waiting for it
    /// up to `limit`; `nil` if none came.
    func first(
        from start: Int, within limit: Duration, where predicate: @Sendable (Item) -> Bool
    ) async -> (item: Item, at: ContinuousClock.Instant)? {
        let deadline = ContinuousClock.now + limit
        while true {
            let found = items.withLock { items in items.dropFirst(start).first { predicate($0.item) } }
            if let found { return found }
            if ContinuousClock.now >= deadline { return nil }
            try? await Task.sleep(for: .milliseconds(5))
        }
    }
}
