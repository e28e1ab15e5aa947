// discovery-test-harness: runs ModemDiscovery inside an umockdev testbed, for the
// ModemDiscoveryTests (which start it as a child process: the preload library must be in
// place before a process starts). It prints JSON on standard output.
//
//   discovery-test-harness list [--all] FIXTURE.umockdev…
//       the serial ports (with --all: every tty device and why it is left out)
//   discovery-test-harness scan [--all-ports] [--lock-dir DIR] [--answer-timeout-ms N]
//                               [--bind /dev/NODE=BACKEND]… [--hold-lock /dev/NODE]
//                               [--hold-open /dev/NODE] [--table] FIXTURE.umockdev…
//       enumerate, probe and name; BACKEND is modem:<profile>, gps, echo or silent
//   discovery-test-harness hotplug FIXTURE.umockdev…
//       add, change and remove the fixtures' tty devices under a DeviceMonitor
//   discovery-test-harness daemon --socket PATH [--lock-dir DIR] [--answer-timeout-ms N]
//                                 [--all-ports] [--device PATH]… [--bind /dev/NODE=BACKEND]…
//                                 [--hold-lock /dev/NODE]… FIXTURE.umockdev…
//       rasmand's core (DaemonCore: device table, connection manager, socket server) on
//       PATH, driven by commands on standard input; see DaemonMode.swift
//
// It relaunches itself under LD_PRELOAD=libumockdev-preload.so.0 when started without it.

import DiscoveryTestbed
import Foundation
import ModemDiscovery
import Serial
import Synchronization
import TestSupport

struct Arguments {
    var command = ""
    var fixtures: [String] = []
    var all = false
    var allPorts = false
    var table = false
    var lockDirectory: String?
    var answerTimeout: Duration = .seconds(1)
    var bindings: [(devnode: String, backend: PortBackend)] = []
    var holdLock: [String] = []
    var holdOpen: [String] = []
    var socket: String?
    var devices: [String] = []

    init(_ arguments: [String]) throws(TestbedError) {
        var rest = arguments[...]
        guard let command = rest.popFirst() else { throw TestbedError("usage: discovery-test-harness list|scan|hotplug|daemon …") }
        self.command = command
        func value(_ option: String) throws(TestbedError) -> String {
            guard let value = rest.popFirst() else { throw TestbedError("\(option) needs a value") }
            return value
        }
        while let argument = rest.popFirst() {
            switch argument {
            case "--all": all = true
            case "--all-ports": allPorts = true
            case "--table": table = true
            case "--lock-dir": lockDirectory = try value(argument)
            case "--answer-timeout-ms":
                guard let milliseconds = Int(try value(argument)) else { throw TestbedError("\(argument) takes a number") }
                answerTimeout = .milliseconds(milliseconds)
            case "--hold-lock": holdLock.append(try value(argument))
            case "--hold-open": holdOpen.append(try value(argument))
            case "--socket": socket = try value(argument)
            case "--device": devices.append(try value(argument))
            case "--bind":
                let binding = try value(argument)
                bindings.append(try parseBinding(binding))
            default:
                guard !argument.hasPrefix("--") else { throw TestbedError("unknown option \(argument)") }
                fixtures.append(argument)
            }
        }
    }
}

/// `/dev/NODE=BACKEND` → the node and what answers there.
func parseBinding(_ binding: String) throws(TestbedError) -> (devnode: String, backend: PortBackend) {
    guard let equals = binding.firstIndex(of: "="),
          let backend = PortBackend(argument: String(binding[binding.index(after: equals)...])) else {
        throw TestbedError("a binding is /dev/NODE=modem:<profile>|gps|echo|silent, got \(binding)")
    }
    return (String(binding[..<equals]), backend)
}

@MainActor
func emit(_ value: some Encodable) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    FileHandle.standardOutput.write(try encoder.encode(value))
    FileHandle.standardOutput.write(Data("\n".utf8))
}

func socketCount() -> Int {
    TestSupport.openDescriptors().values.filter { $0.hasPrefix("socket:") }.count
}

/// The events an iteration of a monitor has collected so far.
final class EventLog: Sendable {
    private let events = Mutex<[DeviceEvent]>([])

    var count: Int { events.withLock { $0.count } }

    func append(_ event: DeviceEvent) { events.withLock { $0.append(event) } }

    /// The events from `start` on.
    func events(from start: Int) -> [DeviceEvent] { events.withLock { Array($0[start...]) } }

    /// Waits until no event has arrived for `quiet`; returns the events from `start` on.
    func settle(from start: Int, quiet: Duration = .milliseconds(500)) async -> [DeviceEvent] {
        var seen = count
        var stableSince = ContinuousClock.now
        while ContinuousClock.now - stableSince < quiet {
            try? await Task.sleep(for: .milliseconds(20))
            let now = count
            if now != seen {
                seen = now
                stableSince = .now
            }
        }
        return events(from: start)
    }
}

/// Adds the fixtures (umockdev 0.17 sends an `add` uevent for every device it adds), then
/// sends `change` and `remove` for each tty device, while a task iterates a
/// DeviceMonitor; then cancels that task and closes the monitor. Files and uevents go out
/// 20 ms apart: umockdev aborts when a monitor's socket queue (net.unix.max_dgram_qlen,
/// often 10) is full.
@MainActor
func hotplug(_ testbed: Testbed, fixtures: [String]) async throws {
    let socketsBefore = socketCount()
    let monitor = try DeviceMonitor()
    let socketsWhileOpen = socketCount()
    let log = EventLog()
    let iteration = Task {
        for await event in monitor { log.append(event) }
        return true
    }
    var ttys: [FixtureDevice] = []
    for file in fixtures {
        ttys += try testbed.add(file: file).filter { $0.subsystem == "tty" }
        try await Task.sleep(for: .milliseconds(20))
    }
    let added = await log.settle(from: 0)
    func send(_ action: String) async throws {
        for tty in ttys {
            testbed.uevent(tty.syspath, action: action)
            if action == "remove" { testbed.remove(syspath: tty.syspath) }
            try await Task.sleep(for: .milliseconds(20))
        }
    }
    try await send("change")
    let changed = await log.settle(from: added.count)
    try await send("remove")
    let removed = await log.settle(from: added.count + changed.count)

    // The iteration must end when its task is cancelled.
    iteration.cancel()
    let ended = await withTaskGroup(of: Bool.self) { group in
        group.addTask { await iteration.value }
        group.addTask {
            try? await Task.sleep(for: .seconds(3))
            return false
        }
        let first = await group.next() ?? false
        group.cancelAll()
        return first
    }
    monitor.close()
    try emit(HotplugReport(
        added: added, changed: changed, removed: removed, iterationEndedOnCancel: ended,
        socketsBefore: socketsBefore, socketsWhileOpen: socketsWhileOpen, socketsAfterClose: socketCount()))
}

@MainActor
func scan(_ testbed: Testbed, _ arguments: Arguments) async throws {
    for file in arguments.fixtures { try testbed.add(file: file) }
    let ports = try await FakePorts(testbed: testbed, bindings: arguments.bindings)
    // PID 1 is always alive: these locks count as held by another process.
    let locks = try arguments.holdLock.map { devnode throws(SerialError) in
        try UUCPLock.acquire(device: devnode, directory: arguments.lockDirectory, pid: 1)
    }
    let openPorts = try arguments.holdOpen.map { devnode throws(SerialError) in try SerialPort(path: devnode) }
    let settings = ProbeSettings(answerTimeout: arguments.answerTimeout, lockDirectory: arguments.lockDirectory)
    let scanner = ModemScanner(policy: CandidatePolicy(scope: arguments.allPorts ? .allPorts : .candidates), settings: settings)
    let found = try await scanner.scan()
    for lock in locks { lock.release() }
    for port in openPorts { port.close() }
    var received: [String: String] = [:]
    for devnode in ports.modemNodes { received[devnode] = ports.received(by: devnode) }
    await ports.stop()
    if arguments.table {
        print(ListingTable.render(found))
    } else {
        try emit(ScanReport(ports: found, received: received))
    }
}

@MainActor
func run() async throws {
    try Preload.relaunchIfNeeded()
    let arguments = try Arguments(Array(CommandLine.arguments.dropFirst()))
    let testbed = try Testbed()
    switch arguments.command {
    case "list":
        for file in arguments.fixtures { try testbed.add(file: file) }
        let enumerator = DeviceEnumerator()
        let devices = arguments.all ? try enumerator.ttyDevices() : try enumerator.serialDevices()
        try emit(devices.map { ListedDevice(device: $0, exclusion: $0.exclusion) })
    case "scan":
        try await scan(testbed, arguments)
    case "hotplug":
        try await hotplug(testbed, fixtures: arguments.fixtures)
    case "daemon":
        try await DaemonMode(testbed: testbed, arguments: arguments).run()
    default:
        throw TestbedError("unknown command \(arguments.command)")
    }
}

do {
    try await run()
} catch {
    FileHandle.standardError.write(Data("discovery-test-harness: \(error)\n".utf8))
    exit(1)
}
