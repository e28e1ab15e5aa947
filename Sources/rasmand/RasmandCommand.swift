import ArgumentParser
import Foundation
import Hayes
import Logging
import ModemDiscovery
import RAS
import RASDaemon
import RASMetrics
import RASService
import Serial
import SystemIO

/// `rasmand`: the swift-ras connection manager daemon. Claims its socket, then runs a
/// ``DaemonCore`` (the modems' device table, the connection manager and the socket server)
/// until SIGTERM, SIGINT or SIGHUP.
struct RasmandCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rasmand",
        abstract: "The swift-ras connection manager: dials modems and serves the RAS API on a Unix socket.",
        discussion: """
            Socket: the one systemd passes (socket activation: LISTEN_FDS, LISTEN_PID), else --socket, \
            else $RAS_SOCKET, else $XDG_RUNTIME_DIR/swift-ras/rasmand.sock, else /run/swift-ras/rasmand.sock. Prints 'ready <socket>' on stdout once it accepts clients, \
            logs to stderr, and on SIGTERM, SIGINT or SIGHUP hangs up every connection, removes the \
            socket and exits 0 (1 if a connection could not be torn down in time). Exits 1 when \
            another rasmand already serves the socket ('already running (pid N)'), the socket \
            cannot be set up or the --metrics-listen port cannot be had, 2 for a bad option, 3 when \
            the socket's place is unsafe: its folder (or one above it) is writable by everyone without \
            the sticky bit or owned by another user than root and the daemon's, or something other \
            than a stale socket of the daemon's user is at the socket path (never removed). The socket \
            is created with --socket-mode (0600; 0660 group dialout for the system socket). Modems are discovered with udev and probed with \
            AT commands at start, and followed as they are plugged in and out, unless \
            --no-discovery is given.
            """)

    @Option(help: ArgumentHelp("The socket path.", valueName: "path"))
    var socket: String?

    @Flag(help: "Stay attached to the terminal (the default; also what systemd runs).")
    var foreground = false

    @Flag(help: "Start a new session so that the terminal's signals do not reach the daemon (rasdial uses this; the starter redirects stdin, stdout and stderr).")
    var detach = false

    @Option(name: .customLong("answer"), help: ArgumentHelp("Answer calls on this entry's line from the start (an entry with Answer=1, found in the default phonebooks or --answer-phonebook); repeatable. A line that cannot be opened stops rasmand with status 1.", valueName: "entry"))
    var answerEntries: [String] = []

    @Option(name: .customLong("answer-phonebook"), help: ArgumentHelp("The phonebook of the --answer entries (default: the all-users phonebook, then the user's).", valueName: "file"))
    var answerPhonebook: String?

    @Option(name: .customLong("lock-dir"), help: ArgumentHelp("The UUCP lock directory (default: /run/lock or /var/lock).", valueName: "dir"))
    var lockDirectory: String?

    @Option(name: .customLong("device"), help: ArgumentHelp("A modem port to use besides the discovered ones, a path or rfc2217://HOST:PORT or tcp://HOST:PORT (a modem on a terminal server): listed (not probed), and tried first, in order, by dials that name no device (repeatable).", valueName: "path|url"))
    var devices: [String] = []

    @Flag(name: .customLong("no-discovery"), help: "Do not look for modems with udev: use only the --device ports.")
    var noDiscovery = false

    @Flag(name: .customLong("probe-all-ports"), help: "Probe every serial port with AT commands, not only the ones marked as modems (plain USB adapters, built-in UARTs).")
    var probeAllPorts = false

    @Option(name: .customLong("system-phonebook"), help: ArgumentHelp("The all-users phonebook (default: /etc/swift-ras/rasphone.pbk).", valueName: "file"))
    var systemPhonebook: String?

    @Option(name: .customLong("socket-mode"), help: ArgumentHelp("The socket's mode in octal (default: 0660 for the system socket run by root, else 0600).", valueName: "mode"))
    var socketMode: String?

    @Option(name: .customLong("socket-group"), help: ArgumentHelp("The group that owns the socket (default: dialout for the system socket run by root).", valueName: "group"))
    var socketGroup: String?

    @Option(name: .customLong("metrics-listen"), help: ArgumentHelp("Serve Prometheus metrics over HTTP at http://HOST:PORT/metrics (e.g. 127.0.0.1:9464, [::1]:9464; port 0 picks a free port, which the log names). Off by default.", valueName: "host:port"))
    var metricsListen: String?

    @Option(name: .customLong("max-clients"), help: ArgumentHelp("The most clients connected to the socket at once; one more is sent error 8 and disconnected. Each costs a descriptor: keep it well under the descriptor limit (ulimit -n).", valueName: "n"))
    var maxClients: Int = ClientLimits().maximumClients

    @Option(name: .customLong("max-clients-per-user"), help: ArgumentHelp("The most clients of one user connected at once (root is limited by --max-clients only).", valueName: "n"))
    var maxClientsPerUser: Int = ClientLimits().maximumClientsPerUser

    @Option(name: .customLong("log-level"), help: ArgumentHelp("trace, debug, info, notice, warning, error or critical.", valueName: "level"))
    var logLevel: String = "info"

    @Option(name: .customLong("shutdown-timeout"), help: ArgumentHelp("Seconds to wait for every connection to be torn down on shutdown.", valueName: "seconds"))
    var shutdownTimeout: Double = 30

    @Option(name: .customLong("command-timeout-ms"), help: ArgumentHelp("Deadline for an ordinary AT command's result.", valueName: "ms"))
    var commandTimeout: Int?

    @Option(name: .customLong("reset-timeout-ms"), help: ArgumentHelp("Deadline for the answer to ATZ and for the modem to be ready after it.", valueName: "ms"))
    var resetTimeout: Int?

    @Option(name: .customLong("reset-settle-ms"), help: ArgumentHelp("Accepted and ignored: there is no fixed pause after ATZ any more; the modem is asked with AT whether it is ready (see --ready-poll-ms).", valueName: "ms", visibility: .hidden))
    var resetSettle: Int?

    @Option(name: .customLong("ready-poll-ms"), help: ArgumentHelp("How long each AT asking whether the modem is ready after ATZ waits.", valueName: "ms"))
    var readyPoll: Int?

    @Option(name: .customLong("wake-ms"), help: ArgumentHelp("Deadline for the first AT of a dial; silence starts the recovery of a modem left online.", valueName: "ms"))
    var wake: Int?

    @Option(name: .customLong("inter-command-ms"), help: ArgumentHelp("Pause between command lines (default none; entries may set InterCommandMilliseconds).", valueName: "ms"))
    var interCommand: Int?

    @Option(name: .customLong("lost-command-ms"), help: ArgumentHelp("Silence after which a command line counts as lost and is sent again.", valueName: "ms"))
    var lostCommand: Int?

    @Option(name: .customLong("dtr-drop-ms"), help: ArgumentHelp("The longest DTR stays dropped waiting for the modem to confirm on-hook.", valueName: "ms"))
    var dtrDrop: Int?

    @Option(name: .customLong("hangup-confirm-ms"), help: ArgumentHelp("How long to wait for each hang-up step to be confirmed.", valueName: "ms"))
    var hangUpConfirm: Int?

    @Option(name: .customLong("escape-guard-ms"), help: ArgumentHelp("The silence before +++ (default: the modem's S12, read at init, plus 50 ms).", valueName: "ms"))
    var escapeGuard: Int?

    @Option(name: .customLong("abort-dial-ms"), help: ArgumentHelp("Deadline for NO CARRIER after aborting a dial.", valueName: "ms"))
    var abortDial: Int?

    @Option(name: .customLong("carrier-poll-ms"), help: ArgumentHelp("How often carrier detect is sampled while online.", valueName: "ms"))
    var carrierPoll: Int?

    func validate() throws {
        if foreground && detach { throw ValidationError("--foreground and --detach exclude each other") }
        if Logger.Level(rawValue: logLevel.lowercased()) == nil {
            throw ValidationError("--log-level must be one of trace, debug, info, notice, warning, error, critical")
        }
        if let socketMode, UInt32(socketMode, radix: 8).map({ $0 <= 0o777 }) != true {
            throw ValidationError("--socket-mode takes an octal mode such as 0600 or 0660, got '\(socketMode)'")
        }
        if !(shutdownTimeout > 0 && shutdownTimeout <= 3600) {
            throw ValidationError("--shutdown-timeout takes seconds from 0 to 3600")
        }
        let timings: [(String, Int?)] = [
            ("--command-timeout-ms", commandTimeout), ("--reset-timeout-ms", resetTimeout),
            ("--ready-poll-ms", readyPoll), ("--wake-ms", wake), ("--inter-command-ms", interCommand),
            ("--lost-command-ms", lostCommand), ("--dtr-drop-ms", dtrDrop),
            ("--hangup-confirm-ms", hangUpConfirm), ("--escape-guard-ms", escapeGuard),
            ("--abort-dial-ms", abortDial), ("--carrier-poll-ms", carrierPoll),
        ]
        for (name, value) in timings {
            if let value, !(0...600_000).contains(value) { throw ValidationError("\(name) takes milliseconds from 0 to 600000") }
        }
        if !(1...1_000_000).contains(maxClients) { throw ValidationError("--max-clients takes a number from 1 to 1000000") }
        if !(1...1_000_000).contains(maxClientsPerUser) {
            throw ValidationError("--max-clients-per-user takes a number from 1 to 1000000")
        }
        if let socket, socket.isEmpty { throw ValidationError("--socket needs a path") }
        if answerPhonebook != nil && answerEntries.isEmpty { throw ValidationError("--answer-phonebook goes with --answer") }
        for entry in answerEntries where entry.trimmingCharacters(in: .whitespaces).isEmpty {
            throw ValidationError("--answer needs an entry name")
        }
        if noDiscovery && probeAllPorts { throw ValidationError("--probe-all-ports does not go with --no-discovery") }
        for device in devices where NetworkPortAddress.isNetworkAddress(device) {
            if let problem = NetworkPortAddress.problem(device) { throw ValidationError("--device \(device): \(problem)") }
        }
        if let metricsListen {
            do throws(MetricsAddressError) {
                _ = try MetricsAddress(parsing: metricsListen)
            } catch {
                throw ValidationError("--metrics-listen: \(error)")
            }
        }
    }

    func run() async throws {
        // First: from here on a termination signal is queued, not fatal.
        let signals = TerminationSignals()
        // The log goes through a writer thread: a stderr nobody reads costs dropped lines
        // (counted, and reported once it moves again), never a daemon stuck in write(2).
        let logWriter = BackgroundLineWriter(fd: 2)
        defer { logWriter.flush() }
        var logger = Logger(label: "rasmand") { StreamLogHandler(label: $0, stream: BackgroundLogStream(writer: logWriter)) }
        logger.logLevel = Logger.Level(rawValue: logLevel.lowercased()) ?? .info
        if resetSettle != nil {
            logger.warning("--reset-settle-ms is ignored: the modem is asked with AT whether it is ready after ATZ (--ready-poll-ms)")
        }
        if detach {
            // Refused when the starter already made us a process-group leader (Foundation's
            // Process does): then we are outside the terminal's foreground group anyway.
            let newSession = ProcessIdentity.detachFromTerminal()
            logger.debug("detached", metadata: ["newSession": "\(newSession)"])
        }

        var socketPath = absolute(socket ?? SocketLocation.defaultPath())
        let lock: FileLock, listener: UnixSocketListener
        let activated = SocketActivation.takeListeningDescriptors()
        if let fd = activated.first {
            // Socket activation: systemd bound the socket (its mode and group are the socket
            // unit's) and keeps it across restarts; rasmand serves it and leaves it in place.
            guard activated.count == 1 else {
                complain("systemd passed \(activated.count) sockets; rasmand serves one (ListenStream= once)")
                throw ExitCode(1)
            }
            (lock, listener) = try await DaemonSocket.adopt(fd, logger: logger)
            if socket != nil, listener.path != socketPath {
                logger.warning("--socket differs from the socket systemd passed; serving systemd's", metadata: [
                    "socket": "\(listener.path)", "--socket": "\(socketPath)",
                ])
            }
            socketPath = listener.path
            logger.notice("socket activation: serving the socket systemd passed", metadata: ["socket": "\(socketPath)", "fd": "\(fd)"])
        } else {
            let isSystemSocket = ProcessIdentity.effectiveUserID == 0 && socketPath == SocketLocation.systemPath
            let setup = DaemonSocket(
                path: socketPath, isSystem: isSystemSocket,
                mode: socketMode.flatMap { UInt32($0, radix: 8) } ?? (isSystemSocket ? 0o660 : 0o600),
                group: socketGroup ?? (isSystemSocket ? "dialout" : nil), logger: logger)
            (lock, listener) = try await setup.open()
        }

        var settings = daemonSettings()
        settings.runtimeDirectory = (socketPath as NSString).deletingLastPathComponent
        settings.clientLimits.maximumClients = maxClients
        settings.clientLimits.maximumClientsPerUser = maxClientsPerUser
        if let descriptors = ProcessResources.descriptorLimit(), maxClients > descriptors / 2 {
            logger.warning("--max-clients is more than half the descriptor limit: idle clients could leave no descriptor for modems", metadata: [
                "max-clients": "\(maxClients)", "descriptor-limit": "\(descriptors)",
            ])
        }
        let metrics = metricsListen != nil ? DaemonMetrics() : nil
        settings.connectionObserver = metrics?.connectionObserver
        let core = DaemonCore(settings: settings, listener: listener, logger: logger)
        // The metrics port before anything starts: a port that cannot be had stops rasmand
        // (status 1) with nothing dialed or probed.
        var endpoint: MetricsEndpoint?
        if let metrics, let text = metricsListen, let address = try? MetricsAddress(parsing: text) {
            await metrics.follow(core)
            do throws(MetricsEndpointError) {
                let started = try await MetricsEndpoint.start(at: address, metrics: metrics, logger: logger)
                endpoint = started
                logger.notice("serving metrics", metadata: ["url": "http://\(started.address)/metrics"])
            } catch {
                complain("cannot serve metrics on \(error)")
                logger.error("cannot serve metrics", metadata: ["error": "\(error)"])
                metrics.stop()
                _ = await core.shutdown(timeout: .seconds(5))
                lock.release()
                throw ExitCode(1)
            }
        }
        await core.start()
        for entry in answerEntries {
            do throws(RasError) {
                let line = try await core.manager.listen(
                    RasListenParameters(entryName: entry, phonebookPath: answerPhonebook.map(absolute)))
                logger.notice("answering calls", metadata: ["entry": "\(line.entryName)", "device": "\(line.deviceName)"])
            } catch {
                complain("cannot answer on '\(entry)': \(error)")
                logger.error("cannot answer calls", metadata: ["entry": "\(entry)", "error": "\(error)"])
                await endpoint?.stop()
                metrics?.stop()
                _ = await core.shutdown(timeout: .seconds(5))
                lock.release()
                throw ExitCode(1)
            }
        }
        let discovering = await core.table.isDiscovering
        logger.notice("listening", metadata: [
            "socket": "\(socketPath)", "pid": "\(ProcessIdentity.processID)",
            "lockDirectory": "\(lockDirectory ?? UUCPLock.defaultDirectory() ?? "none")",
            "discovery": "\(discovering)",
        ])
        try? FileHandle.standardOutput.write(contentsOf: Data("ready \(socketPath)\n".utf8))

        let signal = await signals.next()
        logger.notice("shutting down: hanging up every connection", metadata: ["signal": "\(TerminationSignals.name(signal))"])
        if let endpoint {
            await endpoint.stop()
            logger.notice("metrics endpoint closed", metadata: ["address": "\(endpoint.address)"])
        }
        metrics?.stop()
        let clean = await core.shutdown(timeout: .milliseconds(Int(shutdownTimeout * 1000)))
        lock.release()
        if clean {
            logger.notice("stopped")
        } else {
            logger.error("stopped with connections that were not torn down in time", metadata: [
                "timeout": "\(shutdownTimeout)s",
            ])
            throw ExitCode(1)
        }
    }

    private func daemonSettings() -> DaemonSettings {
        var timing = ModemTiming()
        if let commandTimeout { timing.command = .milliseconds(commandTimeout) }
        if let resetTimeout { timing.reset = .milliseconds(resetTimeout) }
        if let readyPoll { timing.readyPoll = .milliseconds(readyPoll) }
        if let wake { timing.wake = .milliseconds(wake) }
        if let interCommand { timing.interCommand = .milliseconds(interCommand) }
        if let lostCommand { timing.lostCommandWindow = .milliseconds(lostCommand) }
        if let dtrDrop { timing.dtrDrop = .milliseconds(dtrDrop) }
        if let hangUpConfirm { timing.hangUpConfirm = .milliseconds(hangUpConfirm) }
        if let escapeGuard { timing.escapeGuard = .milliseconds(escapeGuard) }
        if let abortDial { timing.abortDial = .milliseconds(abortDial) }
        if let carrierPoll { timing.carrierPoll = .milliseconds(carrierPoll) }
        var searchPath = PhonebookSearchPath()
        if let systemPhonebook { searchPath.systemPhonebookPath = absolute(systemPhonebook) }
        return DaemonSettings(
            lockDirectory: lockDirectory.map(absolute), timing: timing, searchPath: searchPath,
            devices: devices.map(absolute), discovery: !noDiscovery, probeScope: probeAllPorts ? .allPorts : .candidates)
    }

    private func absolute(_ path: String) -> String {
        if NetworkPortAddress.isNetworkAddress(path) { return path }
        return path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
    }
}

@main
enum RasmandMain {
    /// Parses (a bad command line exits 2, as rasdial's does) and runs.
    static func main() async {
        TerminationSignals.ignoreBrokenPipe()
        var command: RasmandCommand
        do {
            command = try RasmandCommand.parse()
        } catch {
            if RasmandCommand.exitCode(for: error) == .success { RasmandCommand.exit(withError: error) }
            complain(RasmandCommand.fullMessage(for: error))
            RasmandCommand.exit(withError: ExitCode(2))
        }
        do {
            try await command.run()
        } catch {
            RasmandCommand.exit(withError: error)
        }
        RasmandCommand.exit()
    }
}

/// Prints a message on stderr as `rasmand: message`.
func complain(_ message: String) {
    try? FileHandle.standardError.write(contentsOf: Data("rasmand: \(message)\n".utf8))
}
