import Foundation
import Hayes
import Logging
import ModemDiscovery
import RAS
import RASService
import Serial
import Synchronization
import SystemIO

/// What the daemon core runs with: `rasmand`'s options, less the socket.
public struct DaemonSettings: Sendable {
    /// The UUCP lock directory; `nil` picks `/run/lock` or `/var/lock`.
    public var lockDirectory: String?
    /// Modem timings.
    public var timing: ModemTiming
    /// Where phonebooks are looked for.
    public var searchPath: PhonebookSearchPath
    /// Ports given by the administrator (`--device`), in order of preference.
    public var devices: [String]
    /// Whether modems are discovered with udev (and followed as they come and go).
    public var discovery: Bool
    /// Which ports the AT probe may open.
    public var probeScope: CandidatePolicy.Scope
    /// How ports are probed; its lock directory is replaced by ``lockDirectory``.
    public var probeSettings: ProbeSettings
    /// The pause between a hot-plug `add` and the probe.
    public var hotPlugDelay: Duration
    /// The daemon's runtime folder (its socket's): data path links go to `lines/` in it,
    /// pppd's hook folders to `ppp/`. `nil`: no links, hooks in the temporary folder.
    public var runtimeDirectory: String?
    /// Told how dials end, when connections are removed, and their statistics on request
    /// (the manager's ``ConnectionManager/Configuration/observer``): `rasmand`'s metrics.
    public var connectionObserver: (@Sendable (RasConnectionObservation) -> Void)?
    /// The bounds on the socket's clients and their subscriptions (`--max-clients`,
    /// `--max-clients-per-user`).
    public var clientLimits = ClientLimits()

    /// Settings; by default discovery on, candidates only, no configured ports.
    public init(
        lockDirectory: String? = nil, timing: ModemTiming = ModemTiming(),
        searchPath: PhonebookSearchPath = PhonebookSearchPath(), devices: [String] = [], discovery: Bool = true,
        probeScope: CandidatePolicy.Scope = .candidates, probeSettings: ProbeSettings = ProbeSettings(),
        hotPlugDelay: Duration = DeviceTable.Configuration().hotPlugDelay
    ) {
        self.lockDirectory = lockDirectory
        self.timing = timing
        self.searchPath = searchPath
        self.devices = devices
        self.discovery = discovery
        self.probeScope = probeScope
        self.probeSettings = probeSettings
        self.hotPlugDelay = hotPlugDelay
    }
}

/// The heart of `rasmand`: a ``DeviceTable`` of the machine's modems, a
/// `ConnectionManager` that dials on them, and a `RASServer` serving it on a socket the
/// caller has bound.
///
/// The manager asks the table for ports: `Device=` names resolve through it (device names,
/// nodes and links), entry-less dials get its ordered modem ports, and `enumDevices` lists
/// it. `rasmand` runs one after claiming its socket; the discovery tests run one inside an
/// umockdev testbed.
public final class DaemonCore: Sendable {
    /// The settings.
    public let settings: DaemonSettings
    /// The connection manager.
    public let manager: ConnectionManager
    /// The device table.
    public let table: DeviceTable
    private let server: RASServer
    private let logger: Logger
    private let tasks = Mutex<[Task<Void, Never>]>([])

    /// A core serving on `listener`; nothing runs until ``start()``.
    public init(settings: DaemonSettings, listener: UnixSocketListener, logger: Logger) {
        var probeSettings = settings.probeSettings
        probeSettings.lockDirectory = settings.lockDirectory
        var tableConfiguration = DeviceTable.Configuration(
            policy: CandidatePolicy(scope: settings.probeScope), probeSettings: probeSettings,
            configuredPaths: settings.devices, hotPlugDelay: settings.hotPlugDelay)
        tableConfiguration.beforeProbing = { [lockDirectory = settings.lockDirectory] paths in
            Self.reclaimStaleLocks(paths, lockDirectory: lockDirectory, logger: logger)
        }
        let table = DeviceTable(configuration: tableConfiguration)
        var configuration = ConnectionManager.Configuration(
            lockDirectory: settings.lockDirectory, timing: settings.timing, searchPath: settings.searchPath,
            resolveDevice: { name in
                // A path the table does not know is still a path: the open will tell.
                await table.resolve(name) ?? (name.hasPrefix("/") ? name : nil)
            },
            availableDevices: { await table.modemPaths() },
            listDevices: { await table.devices().map(RasDevice.init) })
        configuration.observer = settings.connectionObserver
        if let runtime = settings.runtimeDirectory {
            let (lines, state) = Self.prepareRuntimeFolders(runtime, logger: logger)
            configuration.linesDirectory = lines
            configuration.stateDirectory = state
        }
        let manager = ConnectionManager(configuration: configuration, logger: logger)
        self.settings = settings
        self.table = table
        self.manager = manager
        self.server = RASServer(manager: manager, listener: listener, logger: logger, limits: settings.clientLimits)
        self.logger = logger
    }

    /// Makes `lines/` (0755: users follow their links; each pty is 0600 and theirs) and `ppp/`
    /// (0700) in the runtime folder, and clears what a daemon that died left there (links in
    /// `lines/`, hook folders in `ppp/`): no one else serves this socket. A runtime folder
    /// others may write to (the socket in `/tmp`) gets neither: no links, hooks in a
    /// private temporary folder.
    static func prepareRuntimeFolders(_ runtime: String, logger: Logger) -> (lines: String?, state: String?) {
        guard let status = try? FileStatus.of(runtime), status.kind == .directory,
              status.owner == ProcessIdentity.effectiveUserID, status.permissions & 0o022 == 0 else {
            logger.notice("no data path links: the socket's folder is not the daemon's own", metadata: ["folder": "\(runtime)"])
            return (nil, nil)
        }
        let files = FileManager.default
        func prepare(_ name: String, mode: Int, isStale: (String) -> Bool) -> String? {
            let path = runtime + "/" + name
            if let existing = try? FileStatus.of(path, followLinks: false), existing.kind == .directory {
                for entry in (try? files.contentsOfDirectory(atPath: path)) ?? [] where isStale(path + "/" + entry) {
                    try? files.removeItem(atPath: path + "/" + entry)
                }
            } else {
                try? files.removeItem(atPath: path)
                do {
                    try files.createDirectory(atPath: path, withIntermediateDirectories: false)
                } catch {
                    logger.warning("cannot make a runtime folder", metadata: ["path": "\(path)", "error": "\(error)"])
                    return nil
                }
            }
            try? files.setAttributes([FileAttributeKey.posixPermissions: mode], ofItemAtPath: path)
            return path
        }
        let lines = prepare("lines", mode: 0o755) { (try? FileStatus.of($0, followLinks: false))?.kind == .symbolicLink }
        let state = prepare("ppp", mode: 0o700) { ($0 as NSString).lastPathComponent.hasPrefix("swift-ras-ppp-") }
        return (lines, state)
    }

    /// Starts discovery (unless it is off) and serving clients. Returns at once: probes go
    /// on in the background, and device queries wait for them. When udev cannot list the
    /// ports (no `/sys`), a warning is logged and the daemon runs with the configured ports.
    public func start() async {
        var started: [Task<Void, Never>] = []
        // The configured ports now; the discovered ones once udev has listed them, before
        // they are probed (DeviceTable.Configuration.beforeProbing).
        Self.reclaimStaleLocks(settings.devices, lockDirectory: settings.lockDirectory, logger: logger)
        if settings.discovery {
            let changes = await table.changes()
            do {
                try await table.start()
                started.append(Task { [logger] in
                    for await change in changes { Self.log(change, logger) }
                })
                started.append(Task { [table, logger] in
                    let devices = await table.devices()
                    logger.notice("modem discovery", metadata: [
                        "ports": "\(devices.count)", "modems": "\(devices.filter(\.isModem).map(\.name).joined(separator: ","))",
                    ])
                })
                if let error = await table.hotPlugError {
                    logger.warning("modems plugged in later are not seen: no udev monitor", metadata: ["error": "\(error)"])
                }
            } catch {
                logger.warning("modem discovery is off: udev cannot list the serial ports", metadata: ["error": "\(error)"])
            }
        }
        started.append(Task { [server] in await server.run() })
        tasks.withLock { $0 += started }
    }

    /// Hangs up every connection (see `ConnectionManager.shutdown(timeout:)`), stops
    /// serving and stops discovery. - Returns: whether every connection was torn down in time.
    public func shutdown(timeout: Duration) async -> Bool {
        let clean = await manager.shutdown(timeout: timeout)
        server.stop()
        await table.stop()
        let running = tasks.withLock { tasks in
            defer { tasks = [] }
            return tasks
        }
        for task in running { task.cancel() }
        for task in running { await task.value }
        return clean
    }

    /// Removes the stale UUCP locks of ports this daemon owns — their process is dead, their
    /// content garbage, or they name this very process (a previous life with the same PID) —
    /// so that a daemon killed with SIGKILL leaves no lock behind once it is back. Locks of
    /// live processes and lock files that are not regular files are left alone (and logged).
    static func reclaimStaleLocks(_ paths: [String], lockDirectory: String?, logger: Logger) {
        for path in paths {
            switch UUCPLock.reclaimStale(device: path, directory: lockDirectory) {
            case .none:
                break
            case .removed(let pid):
                logger.notice("removed a stale lock", metadata: ["path": "\(path)", "pid": "\(pid)"])
            case .held(let pid):
                logger.info("port locked by another process", metadata: ["path": "\(path)", "pid": "\(pid)"])
            case .notALockFile(let kind):
                logger.warning("the port's lock file is not a regular file; the port counts as locked until it is removed",
                               metadata: ["path": "\(path)", "lockFile": "\(UUCPLock.lockName(for: path))", "type": "\(kind)"])
            }
        }
    }

    private static func log(_ change: DeviceTable.Change, _ logger: Logger) {
        let device = RasDevice(change.device)
        var metadata: Logger.Metadata = [
            "device": "\(device.deviceName)", "path": "\(device.path)", "probe": "\(device.probe.rawValue)",
        ]
        if let model = device.model { metadata["model"] = "\(model)" }
        if let detail = device.detail { metadata["detail"] = "\(detail)" }
        logger.info("device \(change.kind.rawValue)", metadata: metadata)
    }
}

extension RasDevice {
    /// The RAS record of a port the device table knows: its name, node and links, what the
    /// probe found (or why it was not probed) and the modem's own answers.
    public init(_ known: KnownDevice) {
        let port = known.port
        let identity = port?.probe?.identity
        let status: ProbeStatus
        switch port?.probe?.status {
        case .modem: status = .modem
        case .notModem: status = .notModem
        case .inUse: status = .inUse
        case .failed: status = .failed
        case nil: status = .notProbed
        }
        self.init(
            deviceType: .modem, deviceName: known.name, path: known.path, links: known.links, probe: status,
            driver: port?.device.driver, usbID: port?.device.usb?.idString,
            manufacturer: identity?.manufacturer, model: identity?.model, revision: identity?.revision,
            serialNumber: identity?.serialNumber.flatMap { $0.isEmpty ? nil : $0 },
            capabilities: identity.flatMap { $0.capabilities.isEmpty ? nil : $0.capabilities.joined(separator: ", ") },
            detail: Self.detail(known))
    }

    private static func detail(_ known: KnownDevice) -> String? {
        guard let port = known.port else { return "configured (--device); not probed" }
        if let probe = port.probe { return probe.detail }
        switch port.decision.reason {
        case .ignoredByRule:
            return "a udev rule says never to open it (ID_SWIFT_RAS_IGNORE=1)"
        case .notAnATPort:
            return "a udev rule marks it as a \(port.device.hints.portType?.rawValue ?? "non-AT") port"
        case .notACandidate:
            return known.isConfigured
                ? "configured (--device); not probed"
                : "nothing marks it as a modem (rasmand --probe-all-ports probes it)"
        case .excluded:
            return "not a serial port with hardware behind it"
        case .ruleCandidate, .atCommandInterface, .modemDriver, .allPortsRequested:
            return "not probed yet"
        }
    }
}
