import Serial

/// A port a ``DeviceTable`` knows: found by udev, given by the administrator, or both.
public struct KnownDevice: Sendable, Hashable, Codable {
    /// The device name (see ``DeviceNaming``), unique in the table: what a phonebook's
    /// `Device=` gives. A configured port udev does not know is named after its last path
    /// component.
    public var name: String
    /// The device node (`/dev/ttyACM0`), or the path as configured.
    public var path: String
    /// Other paths of the port: udev's links, and a configured path that differs from the node.
    public var links: [String]
    /// Whether the administrator configured this port (`rasmand --device`).
    public var isConfigured: Bool
    /// What discovery found: udev's description, the probe decision and result; `nil` for a
    /// configured port udev does not list.
    public var port: DiscoveredPort?

    /// Creates a record.
    public init(name: String, path: String, links: [String] = [], isConfigured: Bool, port: DiscoveredPort?) {
        self.name = name
        self.path = path
        self.links = links
        self.isConfigured = isConfigured
        self.port = port
    }

    /// Whether a modem answered the probe on this port.
    public var isModem: Bool { port?.isModem ?? false }

    /// Whether `deviceName` designates this port (``DeviceDesignation``).
    public func answers(to deviceName: String) -> Bool {
        DeviceDesignation.matches(deviceName, name: name, path: path, links: links)
    }
}

/// The live table of serial ports a daemon dials on.
///
/// ``start()`` lists the ports with udev, probes the candidates (all at once, see
/// ``ModemScanner``) and then follows a ``DeviceMonitor``: a port that is plugged in is
/// inspected and probed after ``Configuration/hotPlugDelay``, a port that is unplugged
/// leaves the table, a `change` event updates what udev says and probes again only when
/// the probe decision changed. Ports given by the administrator
/// (``Configuration/configuredPaths``) are always listed; they are not probed unless
/// udev lists them and the policy picks them.
///
/// Queries (``devices()``, ``resolve(_:)``, ``modemPaths()``) first wait for the probes in
/// flight when they are called (at most ``Configuration/probeWaitLimit``), so a name that
/// comes from a probe answer, or a modem plugged in a moment ago, is known to them.
///
/// A port held by another program — or by a connection of this process — is never
/// disturbed: the probe finds its UUCP lock and reports it in use, and a port the table
/// already knows then keeps its previous probe result. A port that was busy at its first
/// probe is probed again by the next query.
///
/// Names are unique in the table: the ports of the first listing are named in device-node
/// order (`~2`, `~3` for repeats, see ``DeviceNaming/uniqued(_:)``); a port keeps its name
/// while it is present, and a port that comes later gets the first free one.
public actor DeviceTable {
    /// What the table probes and how.
    public struct Configuration: Sendable {
        /// Which ports are probed.
        public var policy: CandidatePolicy
        /// How they are probed (the UUCP lock directory among them).
        public var probeSettings: ProbeSettings
        /// Ports the administrator configured, in order of preference: listed even when udev
        /// does not know them, and offered first to dials that name no device.
        public var configuredPaths: [String]
        /// The pause between a hot-plug `add` and the probe: a freshly enumerated USB modem
        /// may not answer at once, and a `remove` during the pause cancels the probe.
        public var hotPlugDelay: Duration
        /// The longest a query waits for probes in flight before answering with what it has.
        public var probeWaitLimit: Duration
        /// Called by ``DeviceTable/start()`` with the device nodes udev listed, before any of
        /// them is probed (the daemon reclaims their stale locks here).
        public var beforeProbing: (@Sendable ([String]) -> Void)?

        /// A configuration; by default candidates only, standard probe settings, no
        /// configured ports, 500 ms hot-plug delay, 30 s wait limit.
        public init(
            policy: CandidatePolicy = CandidatePolicy(), probeSettings: ProbeSettings = ProbeSettings(),
            configuredPaths: [String] = [], hotPlugDelay: Duration = .milliseconds(500),
            probeWaitLimit: Duration = .seconds(30)
        ) {
            self.policy = policy
            self.probeSettings = probeSettings
            self.configuredPaths = configuredPaths
            self.hotPlugDelay = hotPlugDelay
            self.probeWaitLimit = probeWaitLimit
            beforeProbing = nil
        }
    }

    /// A change of the table.
    public struct Change: Sendable, Hashable, Codable {
        /// What happened.
        public enum Kind: String, Sendable, Hashable, Codable {
            /// A port appeared (its first inspection is complete).
            case added
            /// A port was inspected again (plugged in again, or its probe decision changed —
            /// published even when the outcome is the same), or udev changed what it says
            /// about it.
            case updated
            /// A port was unplugged.
            case removed
        }

        /// What happened.
        public var kind: Kind
        /// The port, as it is now (as it was, for ``Kind/removed``).
        public var device: KnownDevice
    }

    private struct Entry {
        var device: SerialDevice
        /// The last complete inspection; `nil` until the first one finishes.
        var port: DiscoveredPort?
        /// The name ``DeviceNaming`` gives the port, before it was made unique.
        var baseName: String?
        /// Bumped by every `add` and by every new probe: results of older probes are dropped.
        var generation: UInt64
        /// The job probing the port now, if any.
        var job: Int?
    }

    private struct Job {
        let task: Task<Void, Never>
        var keys: Set<String>
        let probesUART: Bool
    }

    private struct Waiter {
        var jobs: Set<Int>
        let continuation: CheckedContinuation<Void, Never>
        var timer: Task<Void, Never>?
    }

    /// The configuration.
    public let configuration: Configuration
    private var entries: [String: Entry] = [:]
    private var jobs: [Int: Job] = [:]
    private var lastJob = 0
    private var lastGeneration: UInt64 = 0
    private var waiters: [Int: Waiter] = [:]
    private var lastWaiter = 0
    private var subscribers: [Int: AsyncStream<Change>.Continuation] = [:]
    private var lastSubscriber = 0
    private var monitor: DeviceMonitor?
    private var follower: Task<Void, Never>?
    private var started = false

    /// Why hot-plug is not followed although the table was started (the udev monitor could
    /// not be created); `nil` otherwise.
    public private(set) var hotPlugError: DiscoveryError?

    /// A table; nothing is discovered until ``start()``. A table that is never started lists
    /// the configured ports only.
    public init(configuration: Configuration = Configuration()) {
        self.configuration = configuration
    }

    /// Whether ``start()`` succeeded and ``stop()`` has not been called.
    public var isDiscovering: Bool { started }

    /// Lists the serial ports, starts probing the candidates (in the background) and starts
    /// following hot-plug. Returns once the ports are listed; the probes go on.
    ///
    /// - Throws: ``DiscoveryError`` if udev cannot list the ports (no `/sys`, as in some
    ///   containers). A monitor that cannot be created is not an error: the table then
    ///   keeps what it listed and reports why in ``hotPlugError``.
    public func start() throws(DiscoveryError) {
        guard !started else { return }
        // The monitor listens from its creation: nothing plugged in during the listing is lost.
        var monitor: DeviceMonitor?
        do {
            monitor = try DeviceMonitor()
            hotPlugError = nil
        } catch {
            hotPlugError = error
        }
        let devices: [SerialDevice]
        do {
            devices = try DeviceEnumerator().serialDevices()
        } catch {
            monitor?.close()
            throw error
        }
        started = true
        configuration.beforeProbing?(devices.map(\.devnode))
        var keys: [String] = []
        for device in devices {
            entries[device.syspath] = Entry(device: device, generation: nextGeneration())
            keys.append(device.syspath)
        }
        schedule(keys, after: .zero)
        if let monitor {
            self.monitor = monitor
            follower = Task {
                for await event in monitor {
                    self.handle(event)
                }
            }
        }
    }

    /// Stops following hot-plug and cancels the probes in flight; the table keeps what it
    /// knows. Change streams finish.
    public func stop() {
        started = false
        follower?.cancel()
        follower = nil
        monitor?.close()
        monitor = nil
        for job in jobs.values { job.task.cancel() }
        for subscriber in subscribers.values { subscriber.finish() }
        subscribers = [:]
    }

    // MARK: Queries

    /// Every port, in device-node order, then the configured ports udev does not list (in
    /// their configured order). Waits for the probes in flight first.
    public func devices() async -> [KnownDevice] {
        retryBusyPorts()
        await settled()
        return records()
    }

    /// The ports as they are known now, in the order of ``devices()``, without waiting for
    /// the probes in flight and without probing busy ports again: a port being probed again
    /// shows its last result, one whose first inspection is still running is not listed yet.
    /// For readers that must not wait, such as a metrics scrape.
    public var currentDevices: [KnownDevice] { records() }

    /// The path of the port `name` designates — its device name (exact, else
    /// case-insensitive), its node, one of its links, or a path that resolves to the same
    /// device — or `nil` if no such port is present. Waits for the probes in flight first.
    public func resolve(_ name: String) async -> String? {
        retryBusyPorts()
        await settled()
        let known = records()
        if let exact = known.first(where: { $0.name == name }) { return exact.path }
        if let match = known.first(where: { $0.answers(to: name) }) { return match.path }
        guard name.hasPrefix("/") else { return nil }
        let canonical = SerialPort.canonicalPath(name)
        return known.first { SerialPort.canonicalPath($0.path) == canonical }?.path
    }

    /// The ports a dial that names no device may use, in order: the configured ports as
    /// given, then the ports where a modem answered (a cellular modem's secondary AT ports
    /// last). Waits for the probes in flight first.
    public func modemPaths() async -> [String] {
        retryBusyPorts()
        await settled()
        let discovered = records().filter { !$0.isConfigured && $0.isModem }
        let primary = discovered.filter { $0.port?.device.hints.portType != .at }
        let secondary = discovered.filter { $0.port?.device.hints.portType == .at }
        return configuration.configuredPaths + (primary + secondary).map(\.path)
    }

    /// Waits until the probes in flight now have finished (at most
    /// ``Configuration/probeWaitLimit``).
    public func settled() async {
        let pending = Set(jobs.keys)
        guard !pending.isEmpty else { return }
        lastWaiter += 1
        let id = lastWaiter
        let limit = configuration.probeWaitLimit
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            waiters[id] = Waiter(jobs: pending, continuation: continuation)
            waiters[id]?.timer = Task {
                do { try await Task.sleep(for: limit) } catch { return }
                self.releaseWaiter(id)
            }
        }
    }

    /// The table's changes from now on. The stream finishes when the table is stopped.
    public func changes() -> AsyncStream<Change> {
        let (stream, continuation) = AsyncStream<Change>.makeStream(bufferingPolicy: .bufferingNewest(1024))
        lastSubscriber += 1
        let id = lastSubscriber
        subscribers[id] = continuation
        continuation.onTermination = { [weak self] _ in
            Task { await self?.dropSubscriber(id) }
        }
        return stream
    }

    /// Probes again the ports that were busy when they were first probed (their probe
    /// knows nothing else): cheap while they are still busy — the lock or the exclusive
    /// open fails at once — and it lists a port freed since (a connection hung up) as what
    /// it is.
    private func retryBusyPorts() {
        let busy = entries.filter { $0.value.job == nil && $0.value.port?.probe?.status == .inUse }.map(\.key)
        if !busy.isEmpty { schedule(busy.sorted(), after: .zero) }
    }

    // MARK: Events

    private func handle(_ event: DeviceEvent) {
        switch event.action {
        case .added:
            let key = event.device.syspath
            entries[key, default: Entry(device: event.device, generation: 0)].device = event.device
            schedule([key], after: configuration.hotPlugDelay)
        case .changed:
            let key = event.device.syspath
            guard let entry = entries[key] else {
                entries[key] = Entry(device: event.device, generation: 0)
                schedule([key], after: configuration.hotPlugDelay)
                return
            }
            let policy = configuration.policy
            entries[key]?.device = event.device
            if policy.decision(for: entry.device) != policy.decision(for: event.device)
                || entry.device.hints.probeSpeed != event.device.hints.probeSpeed {
                schedule([key], after: .zero)
            } else if entry.port != nil {
                refresh(key, probe: entry.port?.probe, decision: entry.port?.decision, inspected: false)
            }
        case .removed:
            let device = event.device
            guard let key = entries[device.syspath] != nil
                ? device.syspath : entries.first(where: { $0.value.device.devnode == device.devnode })?.key,
                let entry = entries.removeValue(forKey: key) else { return }
            if let id = entry.job, var job = jobs[id] {
                job.keys.remove(key)
                jobs[id] = job
                if job.keys.isEmpty { job.task.cancel() }
            }
            if let port = entry.port {
                publish(Change(kind: .removed, device: record(for: port)))
            }
        }
    }

    /// Probes the ports under `keys` (after `delay`), once the probes already running on
    /// them have finished. Built-in UARTs wait for every earlier job that probes one.
    private func schedule(_ keys: [String], after delay: Duration) {
        lastJob += 1
        let id = lastJob
        var items: [(key: String, generation: UInt64, device: SerialDevice)] = []
        var previous: [Task<Void, Never>] = []
        for key in keys {
            guard var entry = entries[key] else { continue }
            if let running = entry.job.flatMap({ jobs[$0] }) { previous.append(running.task) }
            entry.generation = nextGeneration()
            entry.job = id
            entries[key] = entry
            items.append((key, entry.generation, entry.device))
        }
        let probesUART = items.contains { $0.device.uartType != nil }
        if probesUART {
            previous += jobs.filter { $0.key != id && $0.value.probesUART }.map(\.value.task)
        }
        let scanner = ModemScanner(policy: configuration.policy, settings: configuration.probeSettings)
        let devices = items.map(\.device)
        let targets = items.map { ($0.key, $0.generation) }
        let task = Task {
            for task in previous { await task.value }
            if delay > .zero {
                do { try await Task.sleep(for: delay) } catch {
                    self.finish(job: id, results: [], targets: [])
                    return
                }
            }
            let results = Task.isCancelled ? [] : await scanner.inspect(devices)
            self.finish(job: id, results: results, targets: targets)
        }
        jobs[id] = Job(task: task, keys: Set(items.map(\.key)), probesUART: probesUART)
    }

    private func finish(job id: Int, results: [DiscoveredPort], targets: [(String, UInt64)]) {
        for (result, (key, generation)) in zip(results, targets) {
            guard let entry = entries[key], entry.generation == generation else { continue }
            var probe = result.probe
            // A port held by a connection (ours or another program's): keep what we knew.
            if probe?.status == .inUse, let previous = entry.port?.probe {
                probe = previous
            }
            refresh(key, probe: probe, decision: result.decision, inspected: true)
        }
        for (key, entry) in entries where entry.job == id {
            entries[key]?.job = nil
        }
        jobs[id] = nil
        for (waiterID, var waiter) in waiters {
            waiter.jobs.remove(id)
            if waiter.jobs.isEmpty {
                releaseWaiter(waiterID)
            } else {
                waiters[waiterID] = waiter
            }
        }
    }

    /// Recomputes the port's record from its udev description and `probe`, names it, and
    /// publishes the change: always after an inspection (`inspected`), else if there is one.
    private func refresh(_ key: String, probe: ProbeResult?, decision: ProbeDecision?, inspected: Bool) {
        guard var entry = entries[key] else { return }
        let device = entry.device
        let base = DeviceNaming.name(for: device, identity: probe?.identity)
        let name: String
        if let current = entry.port?.name, entry.baseName == base {
            name = current
        } else {
            name = uniqueName(base, excluding: key)
        }
        let port = DiscoveredPort(
            device: device, decision: decision ?? configuration.policy.decision(for: device), probe: probe, name: name)
        let previous = entry.port
        entry.port = port
        entry.baseName = base
        entries[key] = entry
        if previous == nil {
            publish(Change(kind: .added, device: record(for: port)))
        } else if inspected || previous != port {
            publish(Change(kind: .updated, device: record(for: port)))
        }
    }

    private func uniqueName(_ base: String, excluding key: String) -> String {
        let taken = Set(entries.filter { $0.key != key }.compactMap { $0.value.port?.name })
        var candidate = base
        var count = 1
        while taken.contains(candidate) {
            count += 1
            candidate = "\(base)~\(count)"
        }
        return candidate
    }

    // MARK: Records

    private func records() -> [KnownDevice] {
        let ports = entries.values.compactMap(\.port).sorted { naturalOrder($0.device.devnode, $1.device.devnode) }
        var matched = Set<String>()
        var known: [KnownDevice] = ports.map { port in
            let record = record(for: port)
            matched.formUnion(configuration.configuredPaths.filter { isPath($0, of: port) })
            return record
        }
        var names = Set(known.map(\.name))
        for path in configuration.configuredPaths where !matched.contains(path) {
            // A modem on a terminal server is named by its address (rfc2217://HOST:PORT).
            let base = NetworkPortAddress.isNetworkAddress(path) ? path : path.split(separator: "/").last.map(String.init) ?? path
            var name = base
            var count = 1
            while names.contains(name) {
                count += 1
                name = "\(base)~\(count)"
            }
            names.insert(name)
            matched.insert(path)
            known.append(KnownDevice(name: name, path: path, isConfigured: true, port: nil))
        }
        return known
    }

    private func record(for port: DiscoveredPort) -> KnownDevice {
        let configured = configuration.configuredPaths.filter { isPath($0, of: port) }
        let extra = configured.filter { $0 != port.device.devnode && !port.device.links.contains($0) }
        return KnownDevice(
            name: port.name, path: port.device.devnode, links: port.device.links + extra,
            isConfigured: !configured.isEmpty, port: port)
    }

    /// Whether a configured `path` is this port: its node, a link, or the same device.
    private func isPath(_ path: String, of port: DiscoveredPort) -> Bool {
        path == port.device.devnode || port.device.links.contains(path)
            || SerialPort.canonicalPath(path) == SerialPort.canonicalPath(port.device.devnode)
    }

    // MARK: Bookkeeping

    private func nextGeneration() -> UInt64 {
        lastGeneration += 1
        return lastGeneration
    }

    private func releaseWaiter(_ id: Int) {
        guard let waiter = waiters.removeValue(forKey: id) else { return }
        waiter.timer?.cancel()
        waiter.continuation.resume()
    }

    private func publish(_ change: Change) {
        for subscriber in subscribers.values { subscriber.yield(change) }
    }

    private func dropSubscriber(_ id: Int) {
        subscribers[id] = nil
    }
}
