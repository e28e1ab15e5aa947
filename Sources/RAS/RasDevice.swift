import Serial

/// A device a connection can use (`RASDEVINFO`: type and name), with what the connection
/// manager knows about it: where it is, and what probing it found.
public struct RasDevice: Sendable, Equatable, Codable {
    /// What probing found.
    public enum ProbeStatus: String, Sendable, Codable {
        /// It answered AT commands: a modem.
        case modem
        /// It was probed and is not a modem (no answer, or not Hayes).
        case notModem = "not-modem"
        /// Another program held it, so it was left alone.
        case inUse = "in-use"
        /// The probe could not open or talk to it.
        case failed
        /// Not probed (not a candidate, or configured by hand).
        case notProbed = "not-probed"
    }

    /// `"modem"`.
    public var deviceType: RasDeviceType
    /// The stable name (RAS's device name) a phonebook's `Device=` can give instead of a path.
    public var deviceName: String
    /// The device node, e.g. `/dev/ttyACM0`.
    public var path: String
    /// Other names of the node (`/dev/serial/by-id/…`, `/dev/modem/…`).
    public var links: [String]
    /// What probing found.
    public var probe: ProbeStatus
    /// Whether it was probed at all.
    public var probed: Bool { probe != .notProbed }
    /// The kernel driver (`cdc_acm`, `ftdi_sio`…), when known.
    public var driver: String?
    /// USB vendor:product (`0baf:0303`), when it is a USB device.
    public var usbID: String?
    /// `AT+GMI`, `AT+GMM`, `AT+GMR`, `AT+GSN` and `AT+GCAP` answers, when probed.
    public var manufacturer: String?, model: String?, revision: String?, serialNumber: String?, capabilities: String?
    /// Why it was or was not probed, or what the probe saw.
    public var detail: String?

    /// A device record.
    public init(
        deviceType: RasDeviceType = .modem, deviceName: String, path: String, links: [String] = [],
        probe: ProbeStatus, driver: String? = nil, usbID: String? = nil, manufacturer: String? = nil,
        model: String? = nil, revision: String? = nil, serialNumber: String? = nil, capabilities: String? = nil,
        detail: String? = nil
    ) {
        self.deviceType = deviceType
        self.deviceName = deviceName
        self.path = path
        self.links = links
        self.probe = probe
        self.driver = driver
        self.usbID = usbID
        self.manufacturer = manufacturer
        self.model = model
        self.revision = revision
        self.serialNumber = serialNumber
        self.capabilities = capabilities
        self.detail = detail
    }

    /// Whether `name` names this device (`Serial.DeviceDesignation`'s rule).
    public func answers(to name: String) -> Bool {
        DeviceDesignation.matches(name, name: deviceName, path: path, links: links)
    }

    private enum CodingKeys: String, CodingKey {
        case deviceType, deviceName, path, links, probe, probed, driver, usbID, manufacturer, model, revision,
             serialNumber, capabilities, detail
    }

    /// Encodes every field, `probed` included.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(deviceType, forKey: .deviceType)
        try container.encode(deviceName, forKey: .deviceName)
        try container.encode(path, forKey: .path)
        try container.encode(links, forKey: .links)
        try container.encode(probe, forKey: .probe)
        try container.encode(probed, forKey: .probed)
        try container.encodeIfPresent(driver, forKey: .driver)
        try container.encodeIfPresent(usbID, forKey: .usbID)
        try container.encodeIfPresent(manufacturer, forKey: .manufacturer)
        try container.encodeIfPresent(model, forKey: .model)
        try container.encodeIfPresent(revision, forKey: .revision)
        try container.encodeIfPresent(serialNumber, forKey: .serialNumber)
        try container.encodeIfPresent(capabilities, forKey: .capabilities)
        try container.encodeIfPresent(detail, forKey: .detail)
    }

    /// Decodes what ``encode(to:)`` writes (`probed` is derived).
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            deviceType: try container.decode(RasDeviceType.self, forKey: .deviceType),
            deviceName: try container.decode(String.self, forKey: .deviceName),
            path: try container.decode(String.self, forKey: .path),
            links: try container.decodeIfPresent([String].self, forKey: .links) ?? [],
            probe: try container.decode(ProbeStatus.self, forKey: .probe),
            driver: try container.decodeIfPresent(String.self, forKey: .driver),
            usbID: try container.decodeIfPresent(String.self, forKey: .usbID),
            manufacturer: try container.decodeIfPresent(String.self, forKey: .manufacturer),
            model: try container.decodeIfPresent(String.self, forKey: .model),
            revision: try container.decodeIfPresent(String.self, forKey: .revision),
            serialNumber: try container.decodeIfPresent(String.self, forKey: .serialNumber),
            capabilities: try container.decodeIfPresent(String.self, forKey: .capabilities),
            detail: try container.decodeIfPresent(String.self, forKey: .detail))
    }
}
