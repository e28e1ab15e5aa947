import Foundation
import Logging
import SystemIO

/// How a connection runs PPP after `CONNECT` (phonebook `Framing=PPP`).
public struct PPPSettings: Sendable, Equatable {
    /// pppd's usual place.
    public static let defaultPppdPath = "/usr/sbin/pppd"
    /// Options swift-ras sets itself; a phonebook may not give them (`PppdOptions`).
    public static let reservedOptions: Set<String> = [
        "logfd", "logfile", "nolog", "ip-up-script", "ip-down-script", "ipparam", "password", "passwordfd",
        "pty", "notty", "socket", "detach", "updetach", "nodetach", "file", "call", "connect", "disconnect", "init",
    ]

    /// The pppd to run (`PppdPath`).
    public var pppdPath: String
    /// More options (`PppdOptions`), in order.
    public var options: [String]
    /// The PPP user name (`User`).
    public var user: String?
    /// The file whose first line is the password (`PasswordFile`).
    public var passwordFile: String?
    /// Wait for the peer to start LCP (pppd's `passive`): set for answered calls.
    public var passive = false

    /// Settings; by default `/usr/sbin/pppd` with no more options and no credentials.
    public init(pppdPath: String = defaultPppdPath, options: [String] = [], user: String? = nil, passwordFile: String? = nil) {
        self.pppdPath = pppdPath
        self.options = options
        self.user = user
        self.passwordFile = passwordFile
    }

    /// What is wrong with a `PppdOptions` value, or `nil`: it may not set what swift-ras
    /// sets itself (logging, the hook scripts, the device, the password).
    static func optionsProblem(_ value: String) -> String? {
        for word in value.split(whereSeparator: { $0 == " " || $0 == "\t" }) {
            let option = String(word).lowercased()
            if reservedOptions.contains(option) {
                return "'PppdOptions' must not give '\(word)': swift-ras sets it (use User and PasswordFile for credentials)"
            }
        }
        return nil
    }

    /// pppd's command line for the data path `device` at `speed`: the device, `nodetach`,
    /// `local` (the modem's lines are the daemon's), logging to stderr, the hook scripts in
    /// `hooks`, the user and — when `hasPassword` — the password from stdin through the
    /// `passwordfd` plugin; then the entry's own options.
    func arguments(device: String, speed: Int, hooks: String, hasPassword: Bool) -> [String] {
        var arguments = [device, String(speed), "nodetach", "local", "logfd", "2",
                         "ip-up-script", hooks + "/ip-up", "ip-down-script", hooks + "/ip-down"]
        if let user { arguments += ["user", user] }
        if hasPassword { arguments += ["plugin", "passwordfd.so", "passwordfd", "0"] }
        if passive { arguments.append("passive") }
        return arguments + options
    }
}

/// What PPP negotiated (`RasGetProjectionInfo`): the interface and IP addresses, from
/// pppd's `ip-up` hook.
public struct RasProjection: Sendable, Hashable, Codable {
    /// The network interface, e.g. `ppp0`.
    public var interfaceName: String?
    /// Our IP address on the link.
    public var localAddress: String?
    /// The peer's IP address.
    public var remoteAddress: String?
    /// DNS servers the peer gave (pppd's `usepeerdns`).
    public var dnsServers: [String]

    /// A projection record.
    public init(interfaceName: String? = nil, localAddress: String? = nil, remoteAddress: String? = nil, dnsServers: [String] = []) {
        self.interfaceName = interfaceName
        self.localAddress = localAddress
        self.remoteAddress = remoteAddress
        self.dnsServers = dnsServers
    }
}

/// pppd's exit statuses (pppd(8), EXIT STATUS) and the RAS error each ends a connection with.
public enum PPPExit {
    /// The RAS error for pppd's exit status `code`.
    public static func rasError(forExitStatus code: Int32) -> RasError {
        let (error, meaning): (RasError, String) = switch code {
        case 0: (.remoteDisconnection, "the peer ended the link")
        case 1: (.fromDevice, "an immediately fatal error")
        case 2: (.invalidParameter, "an error in its options")
        case 3: (.accessDenied, "it is not setuid-root and the user is not root")
        case 4: (.pppNoProtocolsConfigured, "the kernel does not support PPP (no /dev/ppp)")
        case 5: (.disconnection, "it was sent SIGINT, SIGTERM or SIGHUP")
        case 6: (.portNotAvailable, "the data path could not be locked")
        case 7: (.portNotAvailable, "the data path could not be opened")
        case 8, 9, 18: (.fromDevice, "its connect, pty or init command failed")
        case 10: (.pppNotConverging, "the PPP negotiation failed")
        case 11: (.authenticationFailure, "the peer failed to authenticate itself")
        case 12: (.idleTimeout, "the link was idle")
        case 13: (.disconnection, "the connect time limit was reached")
        case 14: (.disconnection, "callback was negotiated")
        case 15: (.requestTimeout, "the peer does not answer LCP echo requests")
        case 16: (.remoteDisconnection, "the modem hung up")
        case 17: (.pppLoopbackDetected, "serial loopback was detected")
        case 19: (.authenticationFailure, "we failed to authenticate to the peer")
        default: (.disconnection, "an unknown exit status")
        }
        return error.with(detail: "pppd exit status \(code): \(meaning)")
    }

    /// The RAS error for how pppd ended.
    public static func rasError(for termination: ChildProcess.Termination) -> RasError {
        switch termination {
        case .exited(let code): rasError(forExitStatus: code)
        case .signalled(let signal): RasError.disconnection.with(detail: "pppd was killed by signal \(signal)")
        }
    }
}

/// What pppd's log and hooks tell, one line at a time (pure: the tests feed it lines).
public enum PPPReport: Sendable, Equatable {
    /// `… authentication succeeded` in pppd's log.
    case authenticated
    /// The `ip-up` hook ran.
    case projected(RasProjection)

    /// The report in a log line, if any.
    public static func parseLog(_ line: String) -> PPPReport? {
        line.contains("authentication succeeded") ? .authenticated : nil
    }

    /// The report in a hook line: `ip-up IFNAME=ppp0 LOCAL=… REMOTE=… DNS1=… DNS2=…`.
    public static func parseHook(_ line: String) -> PPPReport? {
        let words = line.split(separator: " ")
        guard words.first == "ip-up" else { return nil }
        var fields: [String: String] = [:]
        for word in words.dropFirst() {
            guard let equals = word.firstIndex(of: "=") else { continue }
            let value = String(word[word.index(after: equals)...])
            if !value.isEmpty { fields[String(word[..<equals])] = value }
        }
        return .projected(RasProjection(
            interfaceName: fields["IFNAME"], localAddress: fields["LOCAL"], remoteAddress: fields["REMOTE"],
            dnsServers: [fields["DNS1"], fields["DNS2"]].compactMap { $0 }))
    }
}

/// pppd running on one connection's data path: started after `CONNECT`, its log read for
/// authentication, its `ip-up` hook for the projection, its exit turned into a RAS error.
///
/// The hooks are two small shell scripts in a private folder that write one line into a
/// FIFO there (pppd runs scripts with an empty environment and stdout on `/dev/null`).
final class PPPLink: Sendable {
    /// What the link tells the manager.
    enum Event: Sendable {
        case report(PPPReport)
        case exited(ChildProcess.Termination)
    }

    private let process: ChildProcess
    private let fifo: EventFifo
    private let folder: String

    /// Starts pppd. - Throws: a RAS error when the password cannot be read or pppd cannot start.
    init(
        settings: PPPSettings, device: String, speed: Int, folder: String, password: [UInt8]?, logger: Logger,
        onEvent: @escaping @Sendable (Event) async -> Void
    ) throws(RasError) {
        self.folder = folder
        do {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: false,
                                                    attributes: [.posixPermissions: 0o700])
        } catch {
            throw RasError.pppNoProtocolsConfigured.with(detail: "cannot make pppd's hook folder \(folder): \(error.localizedDescription)")
        }
        let fifoPath = folder + "/events"
        do {
            fifo = try EventFifo(path: fifoPath)
        } catch {
            try? FileManager.default.removeItem(atPath: folder)
            throw RasError.pppNoProtocolsConfigured.with(detail: "\(error)")
        }
        let quoted = "'" + fifoPath.replacingOccurrences(of: "'", with: "'\\''") + "'"
        let scripts = [
            "ip-up": "printf 'ip-up IFNAME=%s LOCAL=%s REMOTE=%s DNS1=%s DNS2=%s\\n' \"$1\" \"$4\" \"$5\" \"$DNS1\" \"$DNS2\" > \(quoted)\n",
            "ip-down": "printf 'ip-down IFNAME=%s\\n' \"$1\" > \(quoted)\n",
        ]
        do {
            for (name, body) in scripts {
                let path = folder + "/" + name
                try Data(("#!/bin/sh\n# swift-ras: pppd's " + name + " hook\n" + body).utf8).write(to: URL(fileURLWithPath: path))
                try FileManager.default.setAttributes([.posixPermissions: 0o700], ofItemAtPath: path)
            }
        } catch {
            fifo.close()
            try? FileManager.default.removeItem(atPath: folder)
            throw RasError.pppNoProtocolsConfigured.with(detail: "cannot write pppd's hook scripts: \(error.localizedDescription)")
        }
        let arguments = settings.arguments(device: device, speed: speed, hooks: folder, hasPassword: password != nil)
        do {
            // The password goes through a pipe on stdin: never on a command line or in a log.
            process = try ChildProcess(
                executable: settings.pppdPath, arguments: arguments, environment: ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"],
                input: password.map { $0 + [10] })
        } catch {
            fifo.close()
            try? FileManager.default.removeItem(atPath: folder)
            throw RasError.pppNoProtocolsConfigured.with(detail: "cannot run \(settings.pppdPath): \(error)")
        }
        logger.info("pppd started", metadata: ["pid": "\(process.pid)", "arguments": "\(arguments.joined(separator: " "))"])
        let process = self.process
        let fifo = self.fifo
        let folder = self.folder
        // Hook lines until the FIFO is closed; the log until pppd (and every script it
        // started) closed its end.
        Self.forEachLine(from: { try? await fifo.read(deadline: nil) }) { line in
            logger.debug("pppd hook", metadata: ["line": "\(line)"])
            if let report = PPPReport.parseHook(line) { await onEvent(.report(report)) }
        }
        Self.forEachLine(from: { try? await process.readOutput(deadline: nil) ?? nil }) { line in
            logger.info("pppd", metadata: ["line": "\(line)"])
            if let report = PPPReport.parseLog(line) { await onEvent(.report(report)) }
        }
        Task {
            let end = await process.waitForExit(deadline: nil) ?? .signalled(9)
            logger.info("pppd exited", metadata: ["status": "\(end)"])
            // A last hook line written just before the exit is read first.
            try? await Task.sleep(for: .milliseconds(20))
            fifo.close()
            try? FileManager.default.removeItem(atPath: folder)
            await onEvent(.exited(end))
        }
    }

    /// The process id.
    var pid: Int32 { process.pid }

    /// Reads `source` until it gives `nil` and hands each text line to `body`, in a task.
    private static func forEachLine(
        from source: @escaping @Sendable () async -> [UInt8]?, _ body: @escaping @Sendable (String) async -> Void
    ) {
        Task {
            var framer = LineSplitter()
            while let bytes = await source() {
                for line in framer.feed(bytes) { await body(line) }
            }
        }
    }

    /// Stops pppd. `graceful`: SIGTERM and up to a second for it to end the link with the
    /// peer (LCP Terminate), then SIGKILL. Otherwise SIGTERM now and SIGKILL after 3 s.
    func stop(graceful: Bool) async {
        if graceful {
            await process.stop(grace: .seconds(1))
        } else {
            process.send(SIGTERM)
            let process = self.process
            Task {
                if await process.waitForExit(deadline: .now + .seconds(3)) == nil { process.send(SIGKILL) }
            }
        }
    }
}

/// Splits a byte stream into text lines.
struct LineSplitter {
    private var partial: [UInt8] = []

    mutating func feed(_ bytes: [UInt8]) -> [String] {
        var lines: [String] = []
        for byte in bytes {
            if byte == 10 || byte == 13 {
                if !partial.isEmpty { lines.append(String(decoding: partial, as: UTF8.self)) }
                partial.removeAll(keepingCapacity: true)
            } else if partial.count < 4096 {
                partial.append(byte)
            }
        }
        return lines
    }
}
