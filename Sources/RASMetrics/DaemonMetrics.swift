import ModemDiscovery
import Prometheus
import RAS
import RASDaemon
import Synchronization
import SystemIO

/// `rasmand`'s metrics, in a registry of their own (no global `MetricsSystem`).
///
/// Where each comes from:
/// - counters and histograms of dials, answers, hang-ups and bytes: the connection manager's
///   observer (``connectionObserver``, given to `DaemonSettings.connectionObserver`), called on
///   the manager as things happen;
/// - counters of rings, caller IDs and rejected calls: the manager's `watch()` stream, once
///   ``follow(_:)`` has started reading it;
/// - gauges of connections, listening lines, ports by probe result and the process's memory
///   and descriptors: sampled by ``scrape()``.
///
/// Every name but the process's own starts with `rasman_`; the process gauges keep the
/// names every Prometheus client uses (`process_resident_memory_bytes`, `process_open_fds`,
/// `process_max_fds`), so that existing dashboards find them.
public final class DaemonMetrics: Sendable {
    /// The registry every metric lives in; ``scrape()`` emits it.
    public let registry: PrometheusCollectorRegistry

    private struct State {
        /// Bytes of each live connection already counted, by handle.
        var counted: [RasConnectionHandle: (sent: Int, received: Int)] = [:]
    }

    private let state = Mutex(State())
    private let core = Mutex<DaemonCore?>(nil)
    private let watcher = Mutex<Task<Void, Never>?>(nil)
    private let connections: SampledGauges
    private let listeners: SampledGauges
    private let devices: SampledGauges
    private let rings: Counter
    private let callerIDs: Counter
    private let rejectedCalls: Counter
    private let residentMemory: Gauge
    private let openDescriptors: Gauge
    private let descriptorLimit: Gauge

    /// Buckets of dial and answer durations (start to Connected): a modem takes seconds.
    static let dialBuckets: [Duration] = [0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 45, 60, 90, 120].map(DaemonMetrics.seconds)
    /// Buckets of hang-up durations (request to removal): DTR drop, `+++`/`ATH`, close.
    static let hangUpBuckets: [Duration] = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30].map(DaemonMetrics.seconds)

    /// The metrics, all at zero; families with labels appear as their first series does
    /// (from the start: `rasman_dials_total{result="0"}`, `rasman_answers_total{result="0"}`,
    /// `rasman_connections{state="Connected"}` each way, `rasman_listeners{state="idle"}` and
    /// `rasman_devices` of every probe result).
    public init() {
        let registry = PrometheusCollectorRegistry()
        self.registry = registry
        connections = SampledGauges(
            registry, metric: "connections", labelNames: ["state", "direction"],
            help: "Connections by RAS state (Connected, Disconnected, ConnectDevice…) and direction (outgoing: dialed, incoming: answered).")
        listeners = SampledGauges(
            registry, metric: "listeners", labelNames: ["state"],
            help: "Listening lines by state (idle, ringing, in-call, retrying…).")
        devices = SampledGauges(
            registry, metric: "devices", labelNames: ["probe"],
            help: "Serial ports the daemon knows, by what the AT probe found (modem, not-modem, in-use, failed, not-probed).")
        rings = registry.makeCounter(descriptor: Self.name("rings", unit: "total", help: "RINGs heard on listening lines."))
        callerIDs = registry.makeCounter(
            descriptor: Self.name("caller_id", unit: "total", help: "Caller IDs received on listening lines."))
        rejectedCalls = registry.makeCounter(descriptor: Self.name(
            "calls_rejected", unit: "total", help: "Calls not answered because the line's caller policy refused the caller."))
        residentMemory = registry.makeGauge(descriptor: MetricNameDescriptor(
            namespace: "process", metricName: "resident_memory", unitName: "bytes", helpText: "Resident memory size in bytes."))
        openDescriptors = registry.makeGauge(descriptor: MetricNameDescriptor(
            namespace: "process", metricName: "open_fds", unitName: "", helpText: "Number of open file descriptors."))
        descriptorLimit = registry.makeGauge(descriptor: MetricNameDescriptor(
            namespace: "process", metricName: "max_fds", unitName: "", helpText: "Maximum number of open file descriptors."))
        _ = dialCounter(.outgoing, error: nil)
        _ = dialCounter(.incoming, error: nil)
        for status in Self.probeStatuses { devices.touch([status.rawValue]) }
        for direction in [RasConnectionDirection.outgoing, .incoming] { connections.touch([RasConnState.connected.name, direction.rawValue]) }
        listeners.touch(["idle"])
    }

    /// The probe results every scrape reports, at 0 when no port has them.
    static let probeStatuses: [RasDevice.ProbeStatus] = [.modem, .notModem, .inUse, .failed, .notProbed]

    // MARK: Sources

    /// The connection manager's observer: give it to `DaemonSettings.connectionObserver`.
    public var connectionObserver: @Sendable (RasConnectionObservation) -> Void {
        { [self] observation in observe(observation) }
    }

    /// Counts what the connection manager reports (see ``RasConnectionObservation``).
    public func observe(_ observation: RasConnectionObservation) {
        switch observation {
        case .dialEnded(let connection, let error, let duration):
            dialCounter(connection.direction, error: error).increment()
            if error == nil {
                registry.makeDurationHistogram(
                    descriptor: Self.name(
                        "dial_duration", unit: "seconds", help: "Time from the start of a dial (or of answering a call) to Connected."),
                    labels: [("direction", connection.direction.rawValue)], buckets: Self.dialBuckets
                ).record(duration)
            }
        case .statistics(let connection, let statistics):
            count(statistics, of: connection, ended: false)
        case .removed(let connection, let statistics, let hangUpDuration):
            count(statistics, of: connection, ended: true)
            if let hangUpDuration {
                registry.makeDurationHistogram(
                    descriptor: Self.name(
                        "hangup_duration", unit: "seconds",
                        help: "Time from a hang-up request to the connection's removal (modem on-hook, port closed)."),
                    labels: [("direction", connection.direction.rawValue)], buckets: Self.hangUpBuckets
                ).record(hangUpDuration)
            }
        }
    }

    /// Starts reading `core`'s watch stream (rings, caller IDs, rejected calls) and lets
    /// ``scrape()`` sample its manager and device table.
    public func follow(_ core: DaemonCore) async {
        self.core.withLock { $0 = core }
        guard let events = try? await core.manager.watch() else { return }
        let task = Task { [rings, callerIDs, rejectedCalls] in
            for await event in events {
                guard case .listener(let event) = event else { continue }
                switch event.kind {
                case .ring: rings.increment()
                case .callerID: callerIDs.increment()
                case .reject: rejectedCalls.increment()
                case .listening, .answer, .modemProblem, .stopped: break
                }
            }
        }
        watcher.withLock { previous in
            previous?.cancel()
            previous = task
        }
    }

    /// Stops reading the watch stream.
    public func stop() {
        watcher.withLock { task in
            task?.cancel()
            task = nil
        }
    }

    // MARK: Scrape

    /// Samples the gauges (connections, listening lines, ports, the process) and the live
    /// connections' bytes, then emits every metric in the Prometheus text format.
    public func scrape() async -> [UInt8] {
        if let core = core.withLock({ $0 }) {
            await core.manager.reportStatistics()
            let current = (try? await core.manager.enumConnections()) ?? []
            var byState: [[String]: Double] = [:]
            for connection in current { byState[[connection.state.name, connection.direction.rawValue], default: 0] += 1 }
            connections.set(byState)
            var byLine: [[String]: Double] = [:]
            for line in await core.manager.enumListeners() { byLine[[line.state], default: 0] += 1 }
            listeners.set(byLine)
            var byProbe: [[String]: Double] = [:]
            for device in await core.table.currentDevices { byProbe[[RasDevice(device).probe.rawValue], default: 0] += 1 }
            devices.set(byProbe)
        }
        if let bytes = ProcessResources.residentMemoryBytes() { residentMemory.set(Double(bytes)) }
        if let count = ProcessResources.openDescriptorCount() { openDescriptors.set(Double(count)) }
        if let limit = ProcessResources.descriptorLimit() { descriptorLimit.set(Double(limit)) }
        return registry.emitToBuffer()
    }

    // MARK: Helpers

    /// `rasman_dials_total` or `rasman_answers_total` for a result: the RAS error number, "0"
    /// for a connection that reached Connected.
    private func dialCounter(_ direction: RasConnectionDirection, error: RasError?) -> Counter {
        let result = [("result", "\(error?.code ?? 0)")]
        switch direction {
        case .outgoing:
            return registry.makeCounter(descriptor: Self.name(
                "dials", unit: "total",
                help: "Dials that reached Connected (result 0) or ended with a RAS error (result: its number), once per connection."),
                labels: result)
        case .incoming:
            return registry.makeCounter(descriptor: Self.name(
                "answers", unit: "total",
                help: "Answered calls that reached Connected (result 0) or ended with a RAS error (result: its number)."),
                labels: result)
        }
    }

    /// Adds what `statistics` shows beyond what was counted of the connection before;
    /// forgets the connection once it `ended`. The manager reports a connection's statistics
    /// and its removal in order, so nothing is counted twice.
    private func count(_ statistics: RasConnectionStatistics, of connection: RasConnection, ended: Bool) {
        let (sent, received) = state.withLock { state -> (Int, Int) in
            let before = state.counted[connection.handle] ?? (0, 0)
            let now = (sent: max(before.sent, statistics.bytesSent), received: max(before.received, statistics.bytesReceived))
            state.counted[connection.handle] = ended ? nil : now
            return (now.sent - before.sent, now.received - before.received)
        }
        let device = [("device", connection.deviceName)]
        let sentCounter = registry.makeCounter(descriptor: Self.name(
            "bytes_sent", unit: "total", help: "Bytes sent to the modem (from the data path), by device; ended connections included."),
            labels: device)
        let receivedCounter = registry.makeCounter(descriptor: Self.name(
            "bytes_received", unit: "total",
            help: "Bytes received from the modem (to the data path), by device; ended connections included."),
            labels: device)
        if sent > 0 { sentCounter.increment(by: Int64(sent)) }
        if received > 0 { receivedCounter.increment(by: Int64(received)) }
    }

    static func seconds(_ value: Double) -> Duration { .milliseconds(Int64((value * 1000).rounded())) }

    /// `rasman_<metric>_<unit>`.
    static func name(_ metric: String, unit: String = "", help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(namespace: "rasman", metricName: metric, unitName: unit, helpText: help)
    }
}

/// A gauge family set whole at each scrape: a label set seen before and absent now reads 0,
/// so a state that emptied does not keep its last count.
final class SampledGauges: Sendable {
    private let registry: PrometheusCollectorRegistry
    private let metric: String
    private let labelNames: [String]
    private let help: String
    private let seen = Mutex<Set<[String]>>([])

    /// The family `rasman_<metric>`.
    init(_ registry: PrometheusCollectorRegistry, metric: String, labelNames: [String], help: String) {
        self.registry = registry
        self.metric = metric
        self.labelNames = labelNames
        self.help = help
    }

    /// Makes the series of `labels` exist (at 0 until set).
    func touch(_ labels: [String]) {
        seen.withLock { _ = $0.insert(labels) }
        _ = gauge(labels)
    }

    /// Sets each series to its value in `values`, and every other series seen before to 0.
    func set(_ values: [[String]: Double]) {
        let all = seen.withLock { seen in
            seen.formUnion(values.keys)
            return seen
        }
        for labels in all { gauge(labels).set(to: values[labels] ?? 0) }
    }

    private func gauge(_ labels: [String]) -> Gauge {
        registry.makeGauge(descriptor: DaemonMetrics.name(metric, help: help), labels: Array(zip(labelNames, labels)))
    }
}
