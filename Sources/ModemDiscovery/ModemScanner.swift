import Serial

/// A serial port after discovery: what udev says, whether it was probed, what answered,
/// and its device name.
public struct DiscoveredPort: Sendable, Hashable, Codable {
    /// The port.
    public var device: SerialDevice
    /// Whether it was probed, and why.
    public var decision: ProbeDecision
    /// The probe's outcome; `nil` when it was not probed.
    public var probe: ProbeResult?
    /// The stable device name (see ``DeviceNaming``), unique within one listing.
    public var name: String

    /// Creates a record.
    public init(device: SerialDevice, decision: ProbeDecision, probe: ProbeResult?, name: String) {
        self.device = device
        self.decision = decision
        self.probe = probe
        self.name = name
    }

    /// Whether a modem answered on the port.
    public var isModem: Bool { probe?.status == .modem }

    /// Whether a phonebook's `Device=` value designates this port (``DeviceDesignation``).
    public func answers(to deviceName: String) -> Bool {
        DeviceDesignation.matches(deviceName, name: name, path: device.devnode, links: device.links)
    }
}

/// Finds the modems of the machine: lists the serial ports with udev, probes the
/// candidates with AT commands — all at once — and names them.
///
/// ```swift
/// let ports = try await ModemScanner().scan()
/// for port in ports where port.isModem { print(port.name, port.device.devnode) }
/// ```
///
/// Probes run concurrently in a task group, so probing many ports takes about as long
/// as probing the slowest one. Built-in UARTs (ports with a serial-core `type`) are the
/// exception: they are probed one after another, because legacy ports sharing an IRQ
/// misbehave under parallel probing (the reason wvdialconf went sequential).
public struct ModemScanner: Sendable {
    /// Which ports may be probed.
    public var policy: CandidatePolicy
    /// How they are probed.
    public var probe: ModemProbe

    /// A scanner with the given policy and probe settings.
    public init(policy: CandidatePolicy = CandidatePolicy(), settings: ProbeSettings = ProbeSettings()) {
        self.policy = policy
        self.probe = ModemProbe(settings: settings)
    }

    /// Enumerates the serial ports (see ``DeviceEnumerator/serialDevices()``) and inspects them.
    public func scan() async throws(DiscoveryError) -> [DiscoveredPort] {
        await inspect(try DeviceEnumerator().serialDevices())
    }

    /// Decides, probes and names the given ports (e.g. the ones a ``DeviceMonitor`` just
    /// reported, or a table kept by a daemon). The result keeps the order of `devices`.
    public func inspect(_ devices: [SerialDevice]) async -> [DiscoveredPort] {
        let decisions = devices.map(policy.decision(for:))
        var batches: [String: [Int]] = [:]
        for (index, device) in devices.enumerated() where decisions[index].willProbe {
            batches[device.uartType != nil ? "built-in UARTs" : device.devnode, default: []].append(index)
        }
        let probe = self.probe
        let results = await withTaskGroup(of: [(Int, ProbeResult)].self) { group -> [Int: ProbeResult] in
            for batch in batches.values {
                let ports = batch.map { (index: $0, path: devices[$0].devnode, speed: Self.speed(for: devices[$0])) }
                group.addTask {
                    var results: [(Int, ProbeResult)] = []
                    for port in ports {
                        results.append((port.index, await probe.probe(path: port.path, speed: port.speed)))
                    }
                    return results
                }
            }
            var collected: [Int: ProbeResult] = [:]
            for await batch in group {
                for (index, result) in batch { collected[index] = result }
            }
            return collected
        }
        let names = DeviceNaming.uniqued(devices.indices.map { index in
            DeviceNaming.name(for: devices[index], identity: results[index]?.identity)
        })
        return devices.indices.map { index in
            DiscoveredPort(device: devices[index], decision: decisions[index], probe: results[index], name: names[index])
        }
    }

    private static func speed(for device: SerialDevice) -> BaudRate? {
        device.hints.probeSpeed.flatMap(BaudRate.init(rawValue:))
    }
}
