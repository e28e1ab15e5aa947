/// What a modem said about itself during the probe.
public struct ProbedIdentity: Sendable, Hashable, Codable {
    /// The final result to the bare `AT` (`OK`, sometimes `ERROR`; either proves an AT port).
    public var attentionResult: String
    /// The information lines of `ATI` (product code, firmware banner…).
    public var information: [String]
    /// The capabilities listed by `AT+GCAP`, e.g. `+FCLASS`, `+MS`, `+ES`, `+DS` (a
    /// data/fax modem) or `+CGSM` (a cellular one); empty if it answered `ERROR`.
    public var capabilities: [String]
    /// `AT+GMI`: the manufacturer.
    public var manufacturer: String?
    /// `AT+GMM`: the model.
    public var model: String?
    /// `AT+GMR`: the revision.
    public var revision: String?
    /// `AT+GSN`: the serial number (the IMEI of a cellular modem).
    public var serialNumber: String?

    /// Creates an identity.
    public init(
        attentionResult: String = "OK", information: [String] = [], capabilities: [String] = [],
        manufacturer: String? = nil, model: String? = nil, revision: String? = nil, serialNumber: String? = nil
    ) {
        self.attentionResult = attentionResult
        self.information = information
        self.capabilities = capabilities
        self.manufacturer = manufacturer
        self.model = model
        self.revision = revision
        self.serialNumber = serialNumber
    }

    /// Whether `+GCAP` lists `+MS` (modulation control): a data modem for the telephone line.
    public var isDataModem: Bool { capabilities.contains("+MS") }
    /// Whether `+GCAP` lists `+FCLASS`: it can do fax classes.
    public var supportsFax: Bool { capabilities.contains("+FCLASS") }
}

/// The outcome of probing one port.
public struct ProbeResult: Sendable, Hashable, Codable {
    /// What the probe found.
    public enum Status: String, Sendable, Hashable, Codable {
        /// The port answered `AT` with a final result: a modem (or at least an AT port).
        case modem
        /// The port opened but gave no final result to `AT` within the deadline (silence,
        /// or something else talking: NMEA sentences, a bootloader, an echo).
        case notModem
        /// Another program holds the port (UUCP lock, `TIOCEXCL` or `flock`); it was not touched.
        case inUse
        /// The port could not be opened or configured, or failed during the probe.
        case failed
    }

    /// What the probe found.
    public var status: Status
    /// The modem's identity, when ``status`` is ``Status/modem``.
    public var identity: ProbedIdentity?
    /// A human-readable explanation for the other outcomes (what was received instead of
    /// an answer, who holds the lock, the system error).
    public var detail: String?
    /// The line speed the port was probed at, in bit/s.
    public var speed: Int?
    /// How long the probe of this port took.
    public var duration: Duration

    /// Creates a result.
    public init(
        status: Status, identity: ProbedIdentity? = nil, detail: String? = nil, speed: Int? = nil,
        duration: Duration = .zero
    ) {
        self.status = status
        self.identity = identity
        self.detail = detail
        self.speed = speed
        self.duration = duration
    }
}
