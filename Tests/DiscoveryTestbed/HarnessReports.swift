import Foundation
import ModemDiscovery

/// One line of `discovery-test-harness list`: a tty device and why it is left out, if it is.
public struct ListedDevice: Sendable, Codable {
    /// The device.
    public var device: SerialDevice
    /// Why ``DeviceEnumerator/serialDevices()`` leaves it out; `nil` if it is listed.
    public var exclusion: Exclusion?

    /// Creates a line.
    public init(device: SerialDevice, exclusion: Exclusion?) {
        self.device = device
        self.exclusion = exclusion
    }
}

/// What `discovery-test-harness scan` found.
public struct ScanReport: Sendable, Codable {
    /// The ports, as ``ModemScanner/scan()`` returned them.
    public var ports: [DiscoveredPort]
    /// For each device node with a fake modem behind it: everything the modem received.
    public var received: [String: String]

    /// Creates a report.
    public init(ports: [DiscoveredPort], received: [String: String]) {
        self.ports = ports
        self.received = received
    }

    /// The port with this device node.
    public func port(_ devnode: String) -> DiscoveredPort? { ports.first { $0.device.devnode == devnode } }
}

/// What `discovery-test-harness hotplug` saw.
public struct HotplugReport: Sendable, Codable {
    /// Events received after the `add` uevents.
    public var added: [DeviceEvent]
    /// Events received after the `change` uevents.
    public var changed: [DeviceEvent]
    /// Events received after the `remove` uevents.
    public var removed: [DeviceEvent]
    /// Whether an iteration ended (returned `nil`) when its task was cancelled.
    public var iterationEndedOnCancel: Bool
    /// Sockets of the process before the monitor was created.
    public var socketsBefore: Int
    /// Sockets while the monitor was open.
    public var socketsWhileOpen: Int
    /// Sockets after ``DeviceMonitor/close()``.
    public var socketsAfterClose: Int

    /// Creates a report.
    public init(
        added: [DeviceEvent], changed: [DeviceEvent], removed: [DeviceEvent], iterationEndedOnCancel: Bool,
        socketsBefore: Int, socketsWhileOpen: Int, socketsAfterClose: Int
    ) {
        self.added = added
        self.changed = changed
        self.removed = removed
        self.iterationEndedOnCancel = iterationEndedOnCancel
        self.socketsBefore = socketsBefore
        self.socketsWhileOpen = socketsWhileOpen
        self.socketsAfterClose = socketsAfterClose
    }
}

/// A discovery listing as a text table.
public enum ListingTable {
    /// One row per port: node, device name, driver, USB id, whether it was probed and why,
    /// and the outcome.
    public static func render(_ ports: [DiscoveredPort]) -> String {
        var rows = [["NODE", "DEVICE NAME", "DRIVER", "USB", "PROBED", "RESULT"]]
        for port in ports {
            let probed = (port.decision.willProbe ? "yes" : "no") + " (\(port.decision.reason.rawValue))"
            var result = "-"
            if let probe = port.probe {
                switch probe.status {
                case .modem:
                    let identity = probe.identity
                    let who = [identity?.manufacturer, identity?.model].compactMap { $0 }.joined(separator: " ")
                    let caps = identity?.capabilities.joined(separator: ",") ?? ""
                    result = "modem: \(who) [\(caps)]"
                default:
                    result = probe.status.rawValue + (probe.detail.map { ": \($0.prefix(60))" } ?? "")
                }
                result += " \(probe.duration.wholeMilliseconds) ms"
            }
            rows.append([
                port.device.devnode, port.name, port.device.driver ?? "-", port.device.usb?.idString ?? "-",
                probed, result,
            ])
        }
        let widths = (0..<rows[0].count - 1).map { column in rows.map { $0[column].count }.max() ?? 0 }
        return rows.map { row in
            row.enumerated().map { column, cell in
                column < widths.count ? cell.padding(toLength: widths[column] + 2, withPad: " ", startingAt: 0) : cell
            }.joined()
        }.joined(separator: "\n")
    }
}

extension Duration {
    /// Whole milliseconds.
    public var wholeMilliseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }
}

/// One line of `discovery-test-harness daemon` on standard output.
///
/// `ready` (serving on `socket`; the first listing's probes are done), `device` (a change
/// of the device table: `change`), `added` (a fixture was added and its `nodes` bound),
/// `uevent` (the table's `change` after a uevent the test asked for, and everything the
/// fake modem behind the node has `received` so far), `unplugged` (a node
/// was unplugged; with a call on it, how long until its connection was Disconnected and
/// with which `error`), `released` (the lock of `node` taken with `--hold-lock` is
/// gone), `stopped` (`clean`: every connection was torn down), `failed`
/// (a command failed: `message`).
public struct DaemonEvent: Sendable, Codable {
    /// The kind of line.
    public var event: String
    /// `ready`: the socket served.
    public var socket: String?
    /// `device`, `uevent`: the change of the device table.
    public var change: DeviceTable.Change?
    /// `uevent`: everything the fake modem behind the node has received, if one sits there.
    public var received: String?
    /// `added`: the device nodes of the fixture.
    public var nodes: [String]?
    /// `unplugged`, `released`: the node.
    public var node: String?
    /// `unplugged`: from the modem's unplug to its connection's `disconnected` event, in
    /// milliseconds, measured in the daemon.
    public var disconnectedAfterMilliseconds: Int?
    /// `unplugged`: the RAS error of that connection.
    public var error: UInt32?
    /// `stopped`: whether every connection was torn down in time.
    public var clean: Bool?
    /// `failed`: what went wrong.
    public var message: String?

    /// Creates a line.
    public init(
        event: String, socket: String? = nil, change: DeviceTable.Change? = nil, received: String? = nil,
        nodes: [String]? = nil,
        node: String? = nil, disconnectedAfterMilliseconds: Int? = nil, error: UInt32? = nil, clean: Bool? = nil,
        message: String? = nil
    ) {
        self.event = event
        self.socket = socket
        self.change = change
        self.received = received
        self.nodes = nodes
        self.node = node
        self.disconnectedAfterMilliseconds = disconnectedAfterMilliseconds
        self.error = error
        self.clean = clean
        self.message = message
    }
}
