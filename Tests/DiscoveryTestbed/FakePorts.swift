import FakeModem
import Foundation
import Serial

/// What answers behind a fake device node.
public enum PortBackend: Sendable, Hashable, CustomStringConvertible {
    /// The project's fake modem (module `FakeModem`) with the identity of a profile
    /// from ``ModemProfiles``.
    case modem(String)
    /// A GPS receiver: NMEA sentences ten times a second, never an answer to `AT`.
    case gps
    /// A loopback plug: every byte comes back (the echo of `AT`, but no result).
    case echo
    /// Nothing: umockdev's own pty, which nobody reads (a USB adapter with nothing plugged in).
    case silent

    /// Parses `modem:<profile>`, `gps`, `echo` or `silent`.
    public init?(argument: String) {
        switch argument {
        case "gps": self = .gps
        case "echo": self = .echo
        case "silent": self = .silent
        default:
            guard argument.hasPrefix("modem:"), ModemProfiles.settings(String(argument.dropFirst(6))) != nil else {
                return nil
            }
            self = .modem(String(argument.dropFirst(6)))
        }
    }

    public var description: String {
        switch self {
        case .modem(let profile): "modem:\(profile)"
        case .gps: "gps"
        case .echo: "echo"
        case .silent: "silent"
        }
    }
}

/// Identities of real modems for the fake modem to wear.
public enum ModemProfiles {
    /// The profile names.
    public static var names: [String] { profiles.keys.sorted() }

    /// The fake modem settings of a profile, or `nil` for an unknown name.
    public static func settings(_ name: String, serialNumber: String? = nil) -> ModemSettings? {
        guard var identity = profiles[name] else { return nil }
        if let serialNumber { identity.serialNumber = serialNumber }
        return ModemSettings(identity: identity)
    }

    private static let profiles: [String: ModemIdentity] = [
        // The USB modem of Fixtures/umockdev/usr5637-usb-modem.umockdev.
        "usr5637": ModemIdentity(
            information: [0: "5601", 3: "U.S. Robotics 56K FAX USB V1.2.23"],
            manufacturer: "U.S. Robotics", model: "USR5637", revision: "1.2.23", serialNumber: "0000001",
            capabilities: "+GCAP: +FCLASS, +MS, +ES, +DS"),
        // An external RS-232 modem, e.g. behind the FTDI adapter.
        "sportster": ModemIdentity(
            information: [0: "5601", 3: "USRobotics Sportster 56000 Fax V5.6"],
            manufacturer: "USRobotics", model: "Sportster 56K", revision: "5.6", serialNumber: "",
            capabilities: "+GCAP: +FCLASS, +MS, +ES, +DS"),
        // The AT ports of Fixtures/umockdev/quectel-ec25-cellular.umockdev.
        "ec25": ModemIdentity(
            information: [0: "Quectel\nEC25\nRevision: EC25EFAR06A06M4G"],
            manufacturer: "Quectel", model: "EC25", revision: "EC25EFAR06A06M4G", serialNumber: "867962041234567",
            capabilities: "+GCAP: +CGSM"),
        // The fake modem's own identity.
        "fakemodem": ModemIdentity(),
    ]
}

/// The fake hardware behind a testbed's device nodes: one `FakeModemBank` for all the
/// modems, and a task per GPS or loopback port. Call ``stop()`` when done.
@MainActor
public final class FakePorts {
    /// The bank serving the modems, if any were asked for.
    public let bank: FakeModemBank?
    /// The device node of each modem of the bank, in order.
    public let modemNodes: [String]
    /// Device node → the pty slave that answers there (modems, GPS and loopbacks).
    public let targets: [(devnode: String, slavePath: String)]
    private let ptys: [PseudoTerminal]
    private let tasks: [Task<Void, Never>]

    /// Creates the fake ports and binds each device node to its own.
    ///
    /// - Parameter bindings: device node (`/dev/ttyACM0`) → what answers there.
    public convenience init(testbed: Testbed, bindings: [(devnode: String, backend: PortBackend)]) async throws {
        try await self.init(bindings: bindings)
        try bind(into: testbed)
    }

    /// Creates the fake ports and starts serving them, without binding any device node
    /// yet: for a device that is about to be added, the hardware is ready before the
    /// `add` uevent goes out (see ``bind(into:)``).
    public init(bindings: [(devnode: String, backend: PortBackend)]) async throws {
        var modemNodes: [String] = []
        var modemSettings: [ModemSettings] = []
        var targets: [(devnode: String, slavePath: String)] = []
        var ptys: [PseudoTerminal] = []
        var tasks: [Task<Void, Never>] = []
        for (devnode, backend) in bindings {
            switch backend {
            case .modem(let profile):
                guard let settings = ModemProfiles.settings(profile) else {
                    throw TestbedError("unknown modem profile \(profile) (known: \(ModemProfiles.names.joined(separator: ", ")))")
                }
                modemNodes.append(devnode)
                modemSettings.append(settings)
            case .gps, .echo:
                let pty = try PseudoTerminal()
                targets.append((devnode, pty.slavePath))
                ptys.append(pty)
                tasks.append(backend == .gps ? Self.serveNMEA(pty) : Self.serveEcho(pty))
            case .silent:
                break
            }
        }
        if modemSettings.isEmpty {
            bank = nil
        } else {
            let bank = try FakeModemBank(scenario: Scenario(modems: modemSettings), count: modemSettings.count)
            try await bank.start()
            for (devnode, modem) in zip(modemNodes, bank.modems) {
                targets.append((devnode, modem.slavePath))
            }
            self.bank = bank
        }
        self.modemNodes = modemNodes
        self.targets = targets
        self.ptys = ptys
        self.tasks = tasks
    }

    /// Points each device node (which must exist in the testbed) at its fake port.
    public func bind(into testbed: Testbed) throws(TestbedError) {
        for (devnode, slavePath) in targets {
            try testbed.bind(devnode: devnode, to: slavePath)
        }
    }

    /// Unplugs the fake modem behind `devnode`: its pty master closes, the program on the
    /// slave reads end-of-file and the slave's `/dev/pts/N` disappears. `false` if no modem
    /// sits there.
    public func unplug(_ devnode: String) -> Bool {
        guard let bank, let index = modemNodes.firstIndex(of: devnode) else { return false }
        bank.modems[index].unplug()
        return true
    }

    /// Everything the fake modem behind `devnode` received from the computer, as text;
    /// `nil` if no modem sits there.
    public func received(by devnode: String) -> String? {
        guard let bank, let index = modemNodes.firstIndex(of: devnode) else { return nil }
        let bytes = bank.modems[index].transcript.filter { $0.direction == .fromComputer }.flatMap(\.bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Stops every fake port: the bank's modems and the GPS/loopback tasks; closes the ptys.
    public func stop() async {
        for task in tasks { task.cancel() }
        for task in tasks { await task.value }
        for pty in ptys { pty.close() }
        await bank?.stop()
    }

    /// A u-blox receiver's output: a fix every 100 ms, whatever is written to it.
    private static func serveNMEA(_ pty: PseudoTerminal) -> Task<Void, Never> {
        let burst = Array(NMEA.burst.utf8)
        return Task {
            while !Task.isCancelled {
                _ = try? pty.readNow()
                _ = try? pty.writeNow(burst)
                try? await Task.sleep(for: .milliseconds(100))
            }
        }
    }

    /// A loopback plug.
    private static func serveEcho(_ pty: PseudoTerminal) -> Task<Void, Never> {
        Task {
            while !Task.isCancelled {
                do {
                    if try await pty.waitForActivity(deadline: .now + .milliseconds(100)) == .readable {
                        let bytes = try pty.readNow()
                        _ = try pty.writeNow(bytes)
                    } else {
                        try await Task.sleep(for: .milliseconds(10))
                    }
                } catch {
                    return
                }
            }
        }
    }
}

/// NMEA 0183 sentences as a u-blox 7 sends them, with their checksums.
enum NMEA {
    static let burst = [
        "GPTXT,01,01,02,u-blox ag - www.u-blox.com",
        "GPRMC,123519.00,A,4807.03830,N,01131.00000,E,0.004,,230394,,,A",
        "GPGGA,123519.00,4807.03830,N,01131.00000,E,1,08,0.94,545.4,M,46.9,M,,",
        "GPGSA,A,3,04,05,09,12,24,25,29,31,,,,,1.72,0.94,1.44",
    ].map(sentence).joined()

    /// `$<body>*<checksum>\r\n`; the checksum is the XOR of the body's bytes in hex.
    static func sentence(_ body: String) -> String {
        let checksum = body.utf8.reduce(UInt8(0), ^)
        let hex = String(checksum, radix: 16, uppercase: true)
        return "$" + body + "*" + (hex.count < 2 ? "0" + hex : hex) + "\r\n"
    }
}
