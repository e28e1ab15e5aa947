import ArgumentParser
import Foundation
import RAS
import RASService
import SystemIO

/// `rasdial`: dial, list, hang up and watch RAS connections served by `rasmand`, in the
/// manner of Windows' `rasdial.exe` with Linux-style flags. README.md has every form.
struct RasDialCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rasdial",
        abstract: "Dial, list, hang up and watch dial-up connections (RAS) served by rasmand.",
        usage: """
            rasdial                                   list connections
            rasdial <entry> [--phonebook <file>] [--phone <number>]
            rasdial --device <path>|<name>|<url> --phone <number>  dial without an entry
            rasdial [<entry>] --disconnect [--handle <handle>]
            rasdial --status <entry>|<handle>         state, data path, PPP projection
            rasdial --stats <entry>|<handle>          bytes, duration, line errors
            rasdial --entries [--phonebook <file>]
            rasdial --devices                         list the modems rasmand knows
            rasdial <entry> --listen [--phonebook <file>]  answer calls on an Answer=1 entry's line
            rasdial <entry> --listen --stop           stop answering
            rasdial --listeners                       list the listening lines
            rasdial --watch
            rasdial --demo
            """,
        discussion: """
            Every form takes --json (a listing is one JSON array, [] when empty; the rest one JSON object per line) and --socket (default: $RAS_SOCKET, \
            else $XDG_RUNTIME_DIR/swift-ras/rasmand.sock, else /run/swift-ras/rasmand.sock). Dialing, \
            --listen, --devices and --watch start rasmand (the one next to rasdial, or $RASMAND) when none answers; \
            $RASMAND_OPTIONS adds options to it. Ctrl-C (SIGINT, SIGTERM, SIGHUP) during a dial hangs it \
            up (error 631); while dialing or hanging up, rasdial then waits at most 5 s and leaves what \
            is unfinished to rasmand (error 631, naming the handle); a second Ctrl-C exits at once. Exit status: \
            0 success, 1 a RAS error (printed as 'error NNN: message'), 2 a usage error.
            """)

    @Argument(help: ArgumentHelp("A phonebook entry to dial, hang up or show (with --status or --stats also a handle such as 0x00000001).", valueName: "entry"))
    var entry: String?

    @Option(help: ArgumentHelp("The phonebook file (default: the user's, then the all-users phonebook).", valueName: "file"))
    var phonebook: String?

    @Option(help: ArgumentHelp("The number to dial (instead of the entry's; required with --device).", valueName: "number"))
    var phone: String?

    @Option(help: ArgumentHelp("Dial without an entry on this port (a path, or rfc2217://HOST:PORT or tcp://HOST:PORT for a modem on a terminal server), or on the modem of this name (as --devices lists it); the connection is named '.' + number.", valueName: "path|name"))
    var device: String?

    @Flag(help: "Hang up the entry's connections, or the --handle, or every connection; wait until each is gone.")
    var disconnect = false

    @Option(help: ArgumentHelp("A connection handle (0x… or decimal) for --disconnect, --status or --stats.", valueName: "handle"))
    var handle: String?

    @Flag(help: "Show the status of the entry's connections or of a handle: state, data path, PPP projection.")
    var status = false

    @Flag(help: "Show the statistics of the entry's connections or of a handle (RasGetConnectionStatistics).")
    var stats = false

    @Flag(help: "List the phonebook entries.")
    var entries = false

    @Flag(help: "List the modems and serial ports rasmand knows (starting it if none runs): name, path, identity, and whether (and how) they were probed.")
    var devices = false

    @Flag(help: "Print connection events (connected, disconnected, reconnecting, removed) and listening lines' events (ring, caller-id, answer, reject) until interrupted.")
    var watch = false

    @Flag(help: "Have rasmand answer calls on the entry's line (an entry with Answer=1); with --stop, stop.")
    var listen = false

    @Flag(help: "With --listen: stop listening (a call in progress goes on).")
    var stop = false

    @Flag(help: "List the listening lines: entry, device, state, calls taken, last caller.")
    var listeners = false

    @Flag(help: "Run a self-contained demo: a fake modem, a private rasmand, a dial, a listing and a hang-up.")
    var demo = false

    @Flag(help: "Print JSON: a listing as one array ([] when empty), anything else one object per line (errors too).")
    var json = false

    @Option(help: ArgumentHelp("The rasmand socket.", valueName: "path"))
    var socket: String?

    /// What the command line asks for.
    enum Mode: Equatable {
        case list, dial, disconnect, status, stats, entries, devices, watch, demo, listen, stopListening, listeners
    }

    var mode: Mode {
        if demo { return .demo }
        if entries { return .entries }
        if devices { return .devices }
        if watch { return .watch }
        if listeners { return .listeners }
        if listen { return stop ? .stopListening : .listen }
        if status { return .status }
        if stats { return .stats }
        if disconnect { return .disconnect }
        if entry != nil || phone != nil || device != nil { return .dial }
        return .list
    }

    func validate() throws {
        let modes = [("--disconnect", disconnect), ("--status", status), ("--stats", stats), ("--entries", entries),
                     ("--devices", devices), ("--watch", watch), ("--demo", demo), ("--listen", listen),
                     ("--listeners", listeners)].filter(\.1).map(\.0)
        if modes.count > 1 { throw ValidationError("\(modes.joined(separator: " and ")) exclude each other") }
        if let handle, RasConnectionHandle(string: handle) == nil {
            throw ValidationError("--handle takes a handle such as 0x00000001 or a decimal number, got '\(handle)'")
        }
        if let socket, socket.isEmpty { throw ValidationError("--socket needs a path") }
        if let device, RasDialSettings.isNetworkPort(device), let problem = RasDialSettings.networkPortProblem(device) {
            throw ValidationError("--device \(device): \(problem)")
        }
        func refuse(_ names: [(String, Bool)], with mode: String) throws {
            if let name = names.first(where: \.1)?.0 { throw ValidationError("\(name) does not go with \(mode)") }
        }
        let dialOptions = [("--phone", phone != nil), ("--device", device != nil)]
        if stop && !listen { throw ValidationError("--stop goes with --listen") }
        switch mode {
        case .listen, .stopListening:
            try refuse([("--handle", handle != nil)] + dialOptions, with: "--listen")
            if mode == .stopListening { try refuse([("--phonebook", phonebook != nil)], with: "--listen --stop") }
            if entry == nil { throw ValidationError("--listen needs an entry (one with Answer=1)") }
        case .listeners:
            try refuse([("an entry", entry != nil), ("--handle", handle != nil), ("--phonebook", phonebook != nil)]
                       + dialOptions, with: "--listeners")
        case .demo:
            try refuse([("an entry", entry != nil), ("--handle", handle != nil), ("--phonebook", phonebook != nil)]
                       + dialOptions, with: "--demo")
        case .entries:
            try refuse([("an entry", entry != nil), ("--handle", handle != nil)] + dialOptions, with: "--entries")
        case .devices:
            try refuse([("an entry", entry != nil), ("--handle", handle != nil), ("--phonebook", phonebook != nil)]
                       + dialOptions, with: "--devices")
        case .watch:
            try refuse([("an entry", entry != nil), ("--handle", handle != nil), ("--phonebook", phonebook != nil)]
                       + dialOptions, with: "--watch")
        case .status, .stats:
            let flag = mode == .status ? "--status" : "--stats"
            try refuse([("--phonebook", phonebook != nil)] + dialOptions, with: flag)
            if (entry == nil) == (handle == nil) { throw ValidationError("\(flag) needs an entry or a handle (one of them)") }
        case .disconnect:
            try refuse([("--phonebook", phonebook != nil)] + dialOptions, with: "--disconnect")
            if entry != nil && handle != nil { throw ValidationError("give an entry or --handle, not both") }
        case .dial:
            try refuse([("--handle", handle != nil)], with: "dialing")
            if entry != nil {
                if device != nil { throw ValidationError("--device is for dials without an entry; the entry names its port") }
            } else {
                try refuse([("--phonebook", phonebook != nil)], with: "a dial without an entry")
                if phone?.isEmpty ?? true { throw ValidationError("a dial without an entry needs --phone") }
            }
        case .list:
            try refuse([("--handle", handle != nil), ("--phonebook", phonebook != nil)], with: "listing connections")
        }
    }

    /// Runs the form the command line picked. - Returns: `false` when the form reported
    /// problems itself and must exit 1 (`--entries` with unreadable entries).
    /// - Throws: the RAS error to report.
    func execute() async throws(RasError) -> Bool {
        let output = Output(json: json)
        let socketPath = socket.map(absolute) ?? SocketLocation.defaultPath()
        let actions = Actions(output: output, socketPath: socketPath)
        switch mode {
        case .list:
            try await actions.list()
        case .dial:
            try await actions.dial(try dialParameters())
        case .disconnect:
            try await actions.disconnect(entry: entry, handle: handle.flatMap(RasConnectionHandle.init(string:)))
        case .status:
            try await actions.status(entry: entry, handle: handle.flatMap(RasConnectionHandle.init(string:)))
        case .stats:
            try await actions.status(entry: entry, handle: handle.flatMap(RasConnectionHandle.init(string:)), statistics: true)
        case .entries:
            return try actions.entries(phonebookPath: phonebook.map(absolute))
        case .devices:
            try await actions.devices()
        case .watch:
            try await actions.watch()
        case .demo:
            try await Demo(output: output).run()
        case .listen:
            try await actions.listen(try listenParameters())
        case .stopListening:
            try await actions.stopListening(entry ?? "")
        case .listeners:
            try await actions.listeners()
        }
        return true
    }

    /// The line to listen on: the entry, with its phonebook resolved here as for a dial.
    private func listenParameters() throws(RasError) -> RasListenParameters {
        let name = entry ?? ""
        let path: String
        if let phonebook {
            path = absolute(phonebook)
        } else {
            path = try PhonebookSearchPath().locateEntry(named: name).phonebookPath
        }
        return RasListenParameters(entryName: name, phonebookPath: path)
    }

    /// The dial: an entry with its phonebook resolved here, with this user's environment,
    /// so that a system daemon reads the caller's phonebook; or an entry-less number.
    private func dialParameters() throws(RasError) -> RasDialParameters {
        guard let entry else {
            // A value with a slash is a path (made absolute); a bare word is a device name
            // that rasmand looks up in its device table.
            return .number(phone ?? "", device: device.map { $0.contains("/") ? absolute($0) : $0 })
        }
        let path: String
        if let phonebook {
            path = absolute(phonebook)
        } else {
            path = try PhonebookSearchPath().locateEntry(named: entry).phonebookPath
        }
        return .entry(entry, phonebookPath: path, phoneNumber: phone)
    }
}

/// Makes `path` absolute against the current directory.
func absolute(_ path: String) -> String {
    if RasDialSettings.isNetworkPort(path) { return path }
    return path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
}

@main
enum RasDialMain {
    static func main() async {
        TerminationSignals.ignoreBrokenPipe()
        let command: RasDialCommand
        do {
            command = try RasDialCommand.parse()
        } catch {
            if RasDialCommand.exitCode(for: error) == .success { RasDialCommand.exit(withError: error) }
            try? FileHandle.standardError.write(contentsOf: Data((RasDialCommand.fullMessage(for: error) + "\n").utf8))
            RasDialCommand.exit(withError: ExitCode(2))
        }
        do {
            if try await !command.execute() { RasDialCommand.exit(withError: ExitCode(1)) }
        } catch {
            Output(json: command.json).report(error)
            RasDialCommand.exit(withError: ExitCode(1))
        }
        RasDialCommand.exit()
    }
}
